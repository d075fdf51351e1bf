"""Many still images in one command (nst.runs.batch): a folder or glob as content runs one result
per
image, with a sweep's summary.csv and contact sheet, building the network once."""

import csv
from pathlib import Path

import pytest
from PIL import Image

from nst import cli
from nst.config import config_from_dict
from nst.runs import batch, feature_models

pytestmark = pytest.mark.slow


def write_photos(experiment, names=("b.png", "a.png", "c10.png", "c9.png")) -> Path:
    folder = experiment.dir / "photos"
    folder.mkdir()
    for index, name in enumerate(names):
        picture = experiment.gradient_image(64, 48).rotate(90 * index)
        picture.resize((64, 48)).save(folder / name)
    return folder


def sweep_dir(experiment, name: str) -> Path:
    (directory,) = experiment.run_dirs(name)
    return directory


def test_a_folder_stylizes_every_image_with_a_summary_and_a_contact_sheet(experiment, capsys):
    folder = write_photos(experiment)
    config = experiment.write_config("photos", content=str(folder))
    feature_models._feature_network.cache_clear()
    assert cli.main(["run", str(config), "--quiet"]) == 0
    assert (
        feature_models._feature_network.cache_info().misses == 1
    )  # one network for the four images
    out = capsys.readouterr().out
    assert "4 members, varying content" in out
    directory = sweep_dir(experiment, "photos")
    members = sorted(path.name for path in directory.iterdir() if path.is_dir())
    assert members == ["00_a", "01_b", "02_c9", "03_c10"]  # natural order: c9 before c10
    for member in ("00_a", "01_b", "02_c9", "03_c10"):
        assert Image.open(directory / member / "final.png").size == (32, 24)
    with open(directory / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [Path(row["content"]).name for row in rows] == ["a.png", "b.png", "c9.png", "c10.png"]
    assert all(row["status"] == "completed" for row in rows)
    assert Image.open(directory / "contact_sheet.png").size[0] > 0


def test_a_glob_picks_its_images_and_an_unreadable_one_fails_alone(experiment, capsys):
    folder = write_photos(experiment)
    (folder / "b.png").write_bytes(b"broken")
    config = experiment.write_config("glob", content=str(folder / "*.png"))
    assert cli.main(["run", str(config), "--quiet", "--set", "optim.steps=2"]) == 1
    assert "1 of 4 members failed" in capsys.readouterr().err
    with open(sweep_dir(experiment, "glob") / "summary.csv", newline="") as file:
        rows = {Path(row["content"]).name: row for row in csv.DictReader(file)}
    assert rows["b.png"]["status"] == "failed" and "b.png" in rows["b.png"]["error"]
    assert rows["a.png"]["status"] == "completed"


def test_parallel_flags_are_refused_for_a_single_image(experiment, capsys):
    config = experiment.write_config("single")
    assert cli.main(["run", str(config), "--jobs", "2"]) == 2
    assert "folder or glob" in capsys.readouterr().err


def test_what_content_names(tmp_path):
    (tmp_path / "frames").mkdir()

    def config(content, **video):
        data = {"content": content, "style": "s.png", "video": video}
        return config_from_dict(data, "test")

    assert batch.is_batch(config(str(tmp_path / "frames")))
    assert batch.is_batch(config("photos/*.jpg"))
    assert not batch.is_batch(config(str(tmp_path / "frames"), frames=True))
    assert batch.is_clip(config(str(tmp_path / "frames"), frames=True))
    assert batch.is_clip(config("clip.mp4")) and not batch.is_batch(config("clip.mp4"))
    assert not batch.is_batch(config("photo.jpg")) and not batch.is_clip(config("photo.jpg"))
