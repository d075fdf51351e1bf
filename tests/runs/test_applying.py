"""nst apply and nst export with a network: photos, folders, clips, strength, colours, the
memory check, and the TFLite file matching Keras. The network is untrained (random weights):
these are the machinery's tests; docs/fast.md shows the trained look."""

import json

import numpy as np
import pytest
from PIL import Image

from nst import images
from nst.algorithm import transformer
from nst.errors import UserError
from nst.runs import applying, clips, export, preflight
from tests.conftest import gradient_image, texture


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    info = {"width": "half", "image_size": 64, "styles": ["s.png"], "train_size": 32}
    transformer.build_transformer("half", info=info, seed=2).save(path)
    return path


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    gradient_image(40, 30).save(folder / "a.png")
    gradient_image(30, 44).save(folder / "b.jpg")
    frames = [np.roll(texture(48, 64), shift, axis=1) for shift in range(0, 12, 3)]
    clips.write_gif(tmp_path / "clip.gif", frames, 8)
    return tmp_path


def test_a_folder_and_a_clip_land_in_a_new_directory_with_a_sheet_and_flicker(model_path, inputs):
    painter = applying.Painter(model_path, precision="float32")
    folder, clip = str(inputs / "photos"), str(inputs / "clip.gif")
    outcome = applying.apply(
        painter, [folder, clip], root=str(inputs / "runs"), show_progress=False
    )
    names = sorted(path.name for path in outcome.out_dir.iterdir())
    assert names == ["a.png", "b.png", "clip.gif", "contact_sheet.png", "metrics.jsonl"]
    assert images.load_image(outcome.out_dir / "b.png").shape == (44, 30, 3)
    records = [json.loads(line) for line in (outcome.out_dir / "metrics.jsonl").open()]
    assert records[-1]["frames"] == 4 and records[-1]["warping_error"] >= 0
    again = applying.apply(painter, [folder], root=str(inputs / "runs"), show_progress=False)
    assert again.out_dir != outcome.out_dir  # never overwritten


def test_strength_zero_gives_the_photo_back_and_transfer_keeps_its_colours(model_path):
    photo = 0.25 + 0.5 * np.asarray(gradient_image(36, 28), np.float32) / 255  # in gamut
    unchanged = applying.Painter(model_path, strength=0.0, precision="float32")(photo)
    np.testing.assert_allclose(unchanged, photo, atol=1e-6)
    kept = applying.Painter(model_path, preserve="transfer", precision="float32")(photo)
    chroma = lambda image: applying.color.to_space(image, "yiq")[..., 1:]  # noqa: E731
    # Exactly the photo's, but where the result's brightness puts it out of gamut (clipped).
    assert np.percentile(np.abs(chroma(kept) - chroma(photo)), 90) < 1e-4


def test_a_size_that_cannot_fit_is_refused_naming_one_that_does(model_path, monkeypatch):
    monkeypatch.setattr(
        preflight, "available_memory", lambda: preflight.Available(4 * preflight.GIB, "RAM")
    )
    painter = applying.Painter(model_path, precision="float32")
    with pytest.raises(UserError, match=r"at 16000x9000 px needs about .* try --size \d+"):
        painter.check_fits(9000, 16000, "photo.jpg")
    painter.check_fits(1080, 1920, "photo.jpg")


def test_the_tflite_export_matches_the_keras_network(model_path, tmp_path):
    photo = np.random.default_rng(0).uniform(size=(30, 42, 3)).astype(np.float32)
    keras_picture = applying.Painter(model_path, precision="float32")(photo)
    exported = export.export(model_path, "tflite", tmp_path / "tiny.tflite")
    assert exported.stat().st_size < 1_000_000  # float16 weights: ~0.85 MB for 0.42 M
    np.testing.assert_allclose(export.run_tflite(exported, photo), keras_picture, atol=0.01)
    with pytest.raises(UserError, match="exists"):
        export.export(model_path, "tflite", exported)


def test_bad_inputs_are_one_line_errors(model_path, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        applying.Painter(tmp_path / "nope.keras")
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot be read"):
        applying.Painter(tmp_path / "junk.keras")
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    painter = applying.Painter(model_path, precision="float32")
    with pytest.raises(UserError, match="INPUT 'missing.jpg' does not exist"):
        applying.apply(painter, ["missing.jpg"], root=str(tmp_path))


def test_the_shipped_model_loads_and_says_what_it_was_trained_for():
    painter = applying.Painter("models/starry.keras", precision="float32")
    assert painter.info["width"] == "half" and painter.info["image_size"] == 512
    photo = np.asarray(gradient_image(40, 28), np.float32) / 255
    picture = painter(photo)
    assert picture.shape == photo.shape and np.abs(picture - photo).mean() > 0.05  # painted
