"""The Python API (nst/api.py): nst.stylize and its Result, settings and their errors, the
callback, Ctrl-C, reuse within a process, save=True, nst.run and nst.score. Tiny images and a
random VGG16 (conftest's fast settings)."""

import io
import json

import numpy as np
import pytest
from PIL import Image

import nst
from nst.algorithm import losses, scoring
from nst.config import describe_settings
from nst.runs import feature_models


@pytest.fixture
def fast(experiment):
    """The fast settings as nst.stylize keyword arguments (no output root: nothing is saved)."""
    from conftest import fast_settings

    settings = fast_settings(experiment.dir)
    settings.pop("output")
    return settings


def test_stylize_paints_paths_into_a_result_with_scores_and_writes_nothing(
    experiment, fast, tmp_path, monkeypatch
):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = nst.stylize(str(experiment.content), experiment.style, progress=False, **fast)
    assert result.image.size == (32, 24) and result.image.mode == "RGB"
    assert result.array.dtype == np.float32 and 0 <= result.array.min() <= result.array.max() <= 1
    assert set(result.scores) == set(scoring.NAMES)
    assert all(np.isfinite(value) for value in result.scores.values())
    assert {"loss/total", "loss/content", "loss/style", "loss/tv"} <= set(result.losses)
    assert result.steps == 6 and result.stop_reason == "completed" and result.run_dir is None
    assert result.config.image.size == 32 and result.config.model.weights == "none"
    assert Image.open(io.BytesIO(result._repr_png_())).size == (32, 24)  # a notebook shows it
    assert list(work.iterdir()) == []  # no run directory unless asked
    assert nst.last_result() is result


def test_images_in_memory_blends_and_masks_are_accepted(experiment, fast):
    photo = Image.open(experiment.content)
    stripes = np.asarray(Image.open(experiment.style))  # uint8
    mask = np.zeros((24, 32), np.float32)
    mask[:, :16] = 1.0
    result = nst.stylize(
        photo,
        [stripes, {"image": stripes / 255.0, "weight": 3, "mask": mask}],
        progress=False,
        **fast,
    )
    assert result.array.shape == (24, 32, 3)
    assert [style.weight for style in result.config.style] == [1.0, 3.0]


def test_sections_and_dotted_overrides_set_the_same_keys(experiment, fast):
    by_section = nst.load_config(
        {"content": "a.jpg", "style": "b.jpg"}, loss={"style_weight": 12}, seed=4
    )
    by_key = nst.load_config({"content": "a.jpg", "style": "b.jpg"}, {"loss.style_weight": 12})
    by_line = nst.load_config(
        {"content": "a.jpg", "style": "b.jpg"}, ["loss.style_weight=12", "seed=4"]
    )
    assert by_section.loss.style_weight == by_key.loss.style_weight == 12.0
    assert by_section == by_line
    from_file = nst.load_config("configs/starry.yaml", optim={"steps": 7})
    assert from_file.optim.steps == 7 and from_file.content == "assets/tubingen.jpg"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"loss": {"style_wieght": 3}}, "'loss.style_wieght' (did you mean 'loss.style_weight'?)"),
        (
            {"overrides": {"optim.name": "adm"}},
            "overrides: 'optim.name' must be one of lbfgs, adam",
        ),
        ({"image": {"size": 5}}, "'image.size' must be between 16 and 8192, got 5"),
        ({"colour": {}}, "unknown key 'colour' (did you mean 'color'?)"),
    ],
)
def test_bad_settings_raise_one_line_nst_errors(experiment, settings, message):
    with pytest.raises(nst.UserError) as error:
        nst.stylize(experiment.content, experiment.style, **settings)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_images_raise_nst_errors_naming_them(experiment, fast, tmp_path):
    with pytest.raises(nst.UserError, match=r"style image: expected an \(H, W, 3\) array"):
        nst.stylize(experiment.content, np.zeros((4, 4, 7)), **fast)
    with pytest.raises(nst.UserError, match=r"float array must hold values in \[0, 1\]"):
        nst.stylize(np.full((24, 32, 3), 2.0), experiment.style, **fast)
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    with pytest.raises(nst.UserError, match="broken.jpg"):
        nst.stylize(tmp_path / "broken.jpg", experiment.style, **fast)


def test_the_callback_hears_log_points_and_can_stop_the_run(experiment, fast):
    heard = []

    def callback(step):
        heard.append(step)
        return step.step >= 4  # enough

    result = nst.stylize(
        experiment.content, experiment.style, progress=False, callback=callback, **fast
    )
    assert [step.step for step in heard] == [2, 4]  # log.every 2
    assert heard[0].steps == 6 and heard[0].scale == heard[0].scales == 1 and heard[0].size == 32
    assert heard[0].losses["loss/total"] > heard[1].losses["loss/total"]
    assert heard[1].image.size == (32, 24)
    assert result.steps == 4 and "stopped by the callback after step 4" in result.stop_reason
    assert np.allclose(result.array, heard[1].array, atol=1 / 255)


def test_ctrl_c_keeps_the_picture_so_far(experiment, fast):
    def interrupt(step):
        if step.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(nst.Interrupted) as stopped:
        nst.stylize(
            experiment.content, experiment.style, progress=False, callback=interrupt, **fast
        )
    partial = stopped.value.result
    assert isinstance(stopped.value, KeyboardInterrupt)  # a script still stops
    assert partial.steps == 4 and partial.array.shape == (24, 32, 3)
    assert nst.last_result() is partial


def test_a_second_call_reuses_the_network_and_the_style_targets(experiment, fast):
    feature_models._feature_network.cache_clear()
    nst.stylize(experiment.content, experiment.style, progress=False, **fast)
    cached_styles = len(losses._style_statistics_cache)
    nst.stylize(
        experiment.content, experiment.style, progress=False, loss={"style_weight": 9}, **fast
    )
    assert feature_models._feature_network.cache_info().misses == 1
    assert feature_models._feature_network.cache_info().hits >= 1
    assert len(losses._style_statistics_cache) == cached_styles  # the same style's statistics


def test_a_progress_bar_by_default(experiment, fast, capsys):
    nst.stylize(experiment.content, experiment.style, **fast)
    assert "6/6" in capsys.readouterr().err


def test_save_writes_an_ordinary_run_directory(experiment, fast, tmp_path):
    photo = np.asarray(Image.open(experiment.content))
    result = nst.stylize(
        photo, experiment.style, save=True, progress=False, output={"root": str(tmp_path)}, **fast
    )
    run_dir = result.run_dir
    assert run_dir.parent == tmp_path / "stylize"
    names = {path.name for path in run_dir.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "final.png"} <= names
    assert any(name.startswith("events.out.tfevents") for name in names)
    final = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert result.scores == {name: final[f"quality/{name}"] for name in scoring.NAMES}
    # The photo given as an array is kept as a file the run's config.yaml names (resumable).
    saved_content = nst.load_config(run_dir / "config.yaml").content
    assert saved_content.startswith(str(tmp_path / "stylize" / "inputs"))
    assert np.array_equal(np.asarray(Image.open(saved_content)), photo)


def test_run_and_score_do_what_the_commands_do(experiment):
    config = experiment.write_config("api")
    result = nst.run(config, {"optim.steps": 4}, progress=False)
    assert result.run_dir.parent == experiment.runs_root / "api" and result.steps == 4
    assert (result.run_dir / "final.png").is_file()
    scores = nst.score(
        experiment.content,
        experiment.style,
        result.run_dir / "final.png",
        weights="none",
        network="vgg16",
    )
    assert scores.keys() == result.scores.keys()
    assert scores["palette"] == pytest.approx(result.scores["palette"], rel=1e-4)
    both = nst.score(
        experiment.content,
        experiment.style,
        [result, result.image],
        weights="none",
        network="vgg16",
    )
    assert len(both) == 2 and both[0]["palette"] == pytest.approx(both[1]["palette"], rel=1e-4)


def test_help_lists_every_setting_with_its_default():
    text = nst.stylize.__doc__
    for info in describe_settings():
        assert f"    {info.key} (" in text, info.key
    assert "loss.style_weight (number, default 5.0)" in text


def test_the_callback_stops_a_saved_run_too_with_the_logged_losses(experiment, fast, tmp_path):
    heard = []

    def callback(step):
        heard.append(step)
        return step.step >= 4

    result = nst.stylize(
        experiment.content,
        experiment.style,
        save=True,
        progress=False,
        callback=callback,
        output={"root": str(tmp_path)},
        **fast,
    )
    assert [step.step for step in heard] == [2, 4]
    logged = [
        json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert heard[0].losses == {key: v for key, v in logged[0].items() if key.startswith("loss/")}
    assert result.steps == 4 and "stopped by the callback after step 4" in result.stop_reason
    assert (result.run_dir / "final.png").is_file() and heard[1].image.size == (32, 24)


def test_apply_paints_a_photo_in_memory_and_strength_zero_gives_it_back(tmp_path):
    from nst.algorithm import transformer

    model = tmp_path / "tiny.keras"
    transformer.build_transformer("half", info={"width": "half"}, seed=0).save(model)
    photo = Image.new("RGB", (30, 22), (120, 140, 90))
    painted = nst.apply(model, photo, precision="float32")
    assert isinstance(painted, Image.Image) and painted.size == (30, 22)
    unchanged = nst.apply(model, photo, strength=0.0, precision="float32")
    assert np.array_equal(np.asarray(unchanged), np.asarray(photo))
    with pytest.raises(nst.UserError, match="strength"):
        nst.apply(model, photo, strength=1.5)
