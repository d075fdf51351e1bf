"""What a finished run leaves behind: the run directory, metrics, TensorBoard events, snapshots.

Runs go through `nst.cli.main` in-process with the fast config from conftest.py (random VGG16 cut
at block2, 32 px images). L-BFGS traces for several seconds, so the full run per optimiser happens
once per module and its tests share the run directory.
"""

import contextlib
import dataclasses
import datetime
import io
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageOps
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from nst import cli
from nst import config as nst_config
from nst.algorithm import scoring
from nst.runs import logger, run_dirs

CONTENT_LAYERS = ["block2_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1"]
IMAGE_SIZE = 32  # image.size in the fast config (conftest.py)
FINAL_SIZE = (32, 24)  # (width, height): the 64x48 content scaled to image.size=32


@dataclasses.dataclass(frozen=True)
class FinishedRun:
    optimizer: str
    config_path: Path
    overrides: list[str]
    stdout: str
    run_dir: Path


def run_cli(config_path, *overrides: str) -> tuple[int, str]:
    """`nst run CONFIG --quiet --set ...` in this process; returns (exit code, stdout)."""
    argv = ["run", str(config_path), "--quiet"]
    if overrides:
        argv += ["--set", *overrides]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = cli.main(argv)
    return exit_code, stdout.getvalue()


def read_metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image, dtype=np.float32) / 255.0


def mean_abs_difference(path: Path, reference: Image.Image) -> float:
    """How far the PNG at `path` is from `reference` (any mode), resized to the PNG's size."""
    pixels = read_png(path)
    height, width, _ = pixels.shape
    expected = reference.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    return float(np.abs(pixels - np.asarray(expected, dtype=np.float32) / 255.0).mean())


@pytest.fixture(scope="module", params=[pytest.param("lbfgs", marks=pytest.mark.slow), "adam"])
def finished_run(request, module_experiment) -> FinishedRun:
    """One 6-step run per optimiser, chosen on the command line over the file's `adam`."""
    name = f"e2e_{request.param}"
    config_path = module_experiment.write_config(
        name, log={"every": 2, "image_every": 2, "snapshot_every": 2}
    )
    overrides = [f"optim.name={request.param}"]
    exit_code, stdout = run_cli(config_path, *overrides)
    assert exit_code == 0, stdout
    (run_dir,) = module_experiment.run_dirs(name)
    return FinishedRun(request.param, config_path, overrides, stdout, run_dir)


# --- The run directory ---------------------------------------------------------------------------


def test_run_directory_is_named_after_the_config(finished_run, module_experiment):
    assert (
        finished_run.run_dir.parent == module_experiment.runs_root / finished_run.config_path.stem
    )
    datetime.datetime.strptime(finished_run.run_dir.name, "%Y%m%d-%H%M%S")  # A plain timestamp.


def test_stdout_names_the_result_and_the_run_directory(finished_run):
    lines = finished_run.stdout.splitlines()
    assert f"result: {finished_run.run_dir / 'final.png'}" in lines
    assert any(line.startswith(f"run directory: {finished_run.run_dir}") for line in lines)


def resolved_config(finished_run) -> nst_config.Config:
    """The run's config as the run resolves it: image.tile auto is off where it fits whole."""
    overrides = [*finished_run.overrides, "image.tile=off"]
    return nst_config.load_config(finished_run.config_path, overrides)


def test_config_yaml_loads_back_to_the_resolved_config(finished_run):
    saved = nst_config.load_config(finished_run.run_dir / "config.yaml")
    assert saved == resolved_config(finished_run)
    assert saved.optim.name == finished_run.optimizer  # The --set override, not the file's adam.


def test_final_png_has_the_content_aspect_at_image_size(finished_run):
    with Image.open(finished_run.run_dir / "final.png") as final:
        assert final.format == "PNG"
        assert final.mode == "RGB"
        assert final.size == FINAL_SIZE
    assert max(FINAL_SIZE) == IMAGE_SIZE


def test_metrics_lines_increase_and_end_with_the_final_record(finished_run):
    records = read_metrics(finished_run.run_dir)
    assert [record["step"] for record in records] == [2, 4, 6]
    evaluations = [record["evaluations"] for record in records]
    assert evaluations == sorted(evaluations) and evaluations[0] >= 2
    assert all("final" not in record for record in records[:-1])
    final = records[-1]
    assert final["final"] is True
    assert final["stop_reason"] == "completed"
    for record in records:
        parts = sum(record[f"loss/{term}"] for term in ("content", "style", "tv", "palette"))
        assert math.isfinite(record["loss/total"]) and record["loss/total"] > 0
        assert record["loss/total"] == pytest.approx(parts, rel=1e-5)
        for layer in CONTENT_LAYERS:
            assert f"loss/content/{layer}" in record
        for layer in STYLE_LAYERS:
            assert f"loss/style/{layer}" in record


def test_the_final_metrics_line_has_the_quality_readout(finished_run):
    *records, final = read_metrics(finished_run.run_dir)
    for name in scoring.NAMES:
        assert math.isfinite(final[f"quality/{name}"])
    assert final["quality/palette"] > 0 and final["quality/contrast"] > 0
    assert not any(key.startswith("quality/") for record in records for key in record)


def test_the_quality_readout_is_what_nst_score_says_of_final_png(finished_run, module_experiment):
    # The 32 px images are scored at 256 px, upscaled, like any other.
    final = read_metrics(finished_run.run_dir)[-1]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = cli.main(
            [
                "score",
                str(module_experiment.content),
                str(module_experiment.style),
                str(finished_run.run_dir / "final.png"),
                "--json",
                *("--network", "vgg16", "--weights", "none"),
            ]
        )
    assert exit_code == 0
    (scores,) = json.loads(stdout.getvalue())["scores"]
    for name in scoring.NAMES:
        assert scores[name] == pytest.approx(final[f"quality/{name}"], rel=1e-6), name


def test_snapshots_every_n_steps_but_not_at_the_final_step(finished_run):
    snapshots = finished_run.run_dir / "snapshots"
    assert sorted(path.name for path in snapshots.iterdir()) == [
        "step_000002.png",
        "step_000004.png",
    ]
    for path in snapshots.iterdir():
        with Image.open(path) as snapshot:
            assert snapshot.size == FINAL_SIZE
    assert (finished_run.run_dir / "final.png").is_file()


def test_no_temporary_files_are_left_behind(finished_run):
    hidden = [path.name for path in finished_run.run_dir.rglob(".*")]
    assert hidden == []


# --- TensorBoard, read back with TensorBoard's own reader ----------------------------------------


@pytest.fixture(scope="module")
def events(finished_run) -> event_accumulator.EventAccumulator:
    (events_file,) = finished_run.run_dir.glob("events.out.tfevents.*")
    accumulator = event_accumulator.EventAccumulator(
        str(events_file), size_guidance={"tensors": 0, "images": 0}
    )
    return accumulator.Reload()


def plugin(events, tag: str) -> str:
    return events.SummaryMetadata(tag).plugin_data.plugin_name


def tensor_values(events, tag: str) -> dict[int, np.ndarray]:
    return {
        event.step: tensor_util.make_ndarray(event.tensor_proto) for event in events.Tensors(tag)
    }


def test_tensorboard_has_every_loss_scalar(events):
    # TF2 summaries are stored as tensors; the plugin name says which tab shows them.
    tags = set(events.Tags()["tensors"])
    scalars = ["loss/total", "loss/content", "loss/style", "loss/tv"]
    scalars += [f"loss/content/{layer}" for layer in CONTENT_LAYERS]
    scalars += [f"loss/style/{layer}" for layer in STYLE_LAYERS]
    for tag in scalars:
        assert tag in tags
        assert plugin(events, tag) == "scalars"
        assert sorted(tensor_values(events, tag)) == [2, 4, 6]


def test_tensorboard_loss_matches_metrics_jsonl(events, finished_run):
    logged = {step: float(value) for step, value in tensor_values(events, "loss/total").items()}
    metrics = {
        record["step"]: record["loss/total"] for record in read_metrics(finished_run.run_dir)
    }
    assert logged.keys() == metrics.keys()
    for step, value in metrics.items():
        assert logged[step] == pytest.approx(value, rel=1e-6)


def test_tensorboard_has_the_final_quality_scalars(events, finished_run):
    final = read_metrics(finished_run.run_dir)[-1]
    for name in scoring.NAMES:
        tag = f"final/quality/{name}"
        assert tag in logger.FINAL_METRICS  # HParams shows the final metrics
        assert plugin(events, tag) == "scalars"
        ((step, value),) = tensor_values(events, tag).items()
        assert step == final["step"]
        assert float(value) == pytest.approx(final[f"quality/{name}"], rel=1e-6)


def test_tensorboard_has_the_input_and_result_images(events):
    def sizes(tag):
        assert plugin(events, tag) == "images"
        # An image summary is [width, height, PNG bytes...] as strings.
        return {
            step: (int(value[0]), int(value[1]))
            for step, value in tensor_values(events, tag).items()
        }

    assert sizes("image/0_content") == {0: FINAL_SIZE}
    assert sizes("image/1_style") == {0: (IMAGE_SIZE, IMAGE_SIZE)}
    assert sizes("image/2_result") == {2: FINAL_SIZE, 4: FINAL_SIZE, 6: FINAL_SIZE}


def test_tensorboard_text_is_the_resolved_config(events, finished_run):
    assert plugin(events, "config") == "text"
    (text,) = tensor_values(events, "config").values()
    shown = yaml.safe_load(textwrap.dedent(text.item().decode("utf-8")))
    assert shown == nst_config.config_to_dict(resolved_config(finished_run))


# --- Run directories never clash -----------------------------------------------------------------


class FrozenClock(datetime.datetime):
    """`datetime` whose now() is always the same second, to force a name clash."""

    @classmethod
    def now(cls, tz=None):
        return cls(2024, 5, 17, 12, 30, 0)


def test_create_run_dir_twice_quickly_gives_two_directories(tmp_path):
    first = run_dirs.create_run_dir(tmp_path, "exp")
    second = run_dirs.create_run_dir(tmp_path, "exp")
    assert first != second
    assert first.is_dir() and second.is_dir()
    assert first.parent == second.parent == tmp_path / "exp"


def test_create_run_dir_in_the_same_second_adds_a_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dirs, "datetime", FrozenClock)
    made = [run_dirs.create_run_dir(tmp_path, "exp").name for _ in range(3)]
    assert made == ["20240517-123000", "20240517-123000-2", "20240517-123000-3"]


def test_two_runs_in_the_same_second_keep_their_own_files(experiment, monkeypatch):
    monkeypatch.setattr(run_dirs, "datetime", FrozenClock)
    config_path = experiment.write_config()
    assert run_cli(config_path, "optim.steps=3")[0] == 0
    assert run_cli(config_path, "optim.steps=4")[0] == 0
    first, second = experiment.run_dirs()
    assert (first.name, second.name) == ("20240517-123000", "20240517-123000-2")
    for run_dir, steps in [(first, 3), (second, 4)]:
        assert nst_config.load_config(run_dir / "config.yaml").optim.steps == steps
        records = read_metrics(run_dir)
        assert [record.get("final", False) for record in records][-1] is True
        assert sum(record.get("final", False) for record in records) == 1
        assert records[-1]["step"] == steps
        assert (run_dir / "final.png").is_file()
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1


# --- Odd but valid inputs ------------------------------------------------------------------------


def _grayscale(experiment) -> tuple[Path, Image.Image]:
    image = experiment.gradient_image(40, 30, "L")
    image.save(experiment.dir / "gray.png")
    return experiment.dir / "gray.png", image


def _rgba(experiment) -> tuple[Path, Image.Image]:
    # Left half fully transparent: it must come out white (composited), not black.
    image = Image.new("RGBA", (30, 40), (200, 30, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 15, 40))
    image.save(experiment.dir / "rgba.png")
    over_white = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return experiment.dir / "rgba.png", over_white


def _palette(experiment) -> tuple[Path, Image.Image]:
    image = experiment.gradient_image(48, 48).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=16
    )
    image.save(experiment.dir / "palette.png")
    return experiment.dir / "palette.png", image


def _sixteen_bit(experiment) -> tuple[Path, Image.Image]:
    ramp = np.tile(np.linspace(0, 65535, 48).round().astype(np.uint16), (24, 1))
    Image.fromarray(ramp).save(experiment.dir / "deep.png")
    with Image.open(experiment.dir / "deep.png") as saved:
        assert saved.mode in ("I;16", "I")  # Pillow really wrote 16 bits per pixel.
    return experiment.dir / "deep.png", Image.fromarray((ramp // 257).astype(np.uint8))


def _exif_rotated(experiment) -> tuple[Path, Image.Image]:
    # Stored 40 wide x 20 high, tagged "rotate 90 degrees clockwise to display": 20 x 40 upright.
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    experiment.gradient_image(40, 20).save(experiment.dir / "phone.jpg", exif=exif, quality=95)
    with Image.open(experiment.dir / "phone.jpg") as stored:
        return experiment.dir / "phone.jpg", ImageOps.exif_transpose(stored)


def _tiny(experiment) -> tuple[Path, Image.Image]:
    image = experiment.gradient_image(5, 3)
    image.save(experiment.dir / "tiny.png")
    return experiment.dir / "tiny.png", image


@pytest.mark.parametrize(
    ("make_content", "final_size"),
    [
        pytest.param(_grayscale, (32, 24), id="grayscale-L"),
        pytest.param(_rgba, (24, 32), id="RGBA"),
        pytest.param(_palette, (32, 32), id="palette-P"),
        pytest.param(_sixteen_bit, (32, 16), id="16-bit-I;16"),
        pytest.param(_exif_rotated, (16, 32), id="exif-orientation-6"),
        pytest.param(_tiny, (32, 19), id="tiny-5x3"),
    ],
)
def test_odd_content_images_run_end_to_end(experiment, make_content, final_size):
    content, upright_rgb = make_content(experiment)
    config_path = experiment.write_config(
        content=str(content), optim={"steps": 2, "learning_rate": 0.01}
    )
    exit_code, _ = run_cli(config_path)
    assert exit_code == 0
    (run_dir,) = experiment.run_dirs()
    final = run_dir / "final.png"
    with Image.open(final) as image:
        assert image.size == final_size
    # Two small Adam steps barely move the pixels, so the result still shows the content as the
    # user sees it: upright, transparency over white, full 16-bit range.
    assert mean_abs_difference(final, upright_rgb) < 0.05
    assert read_metrics(run_dir)[-1]["stop_reason"] == "completed"


# --- Initial images ------------------------------------------------------------------------------


def test_noise_init_with_the_same_seed_is_reproducible(experiment):
    config_path = experiment.write_config(init="noise", seed=7, optim={"steps": 3})
    finals = []
    for overrides in [(), (), ("seed=8",)]:
        assert run_cli(config_path, *overrides)[0] == 0
        finals.append((experiment.run_dirs()[-1] / "final.png").read_bytes())
    assert finals[0] == finals[1]
    assert finals[0] != finals[2]
    # It really started from noise: three small steps leave it far from the smooth content.
    noisy_run = experiment.run_dirs()[0]
    assert mean_abs_difference(noisy_run / "final.png", experiment.gradient_image(64, 48)) > 0.15


def test_style_init_starts_from_the_style_image(experiment):
    config_path = experiment.write_config(init="style", optim={"steps": 2, "learning_rate": 0.01})
    assert run_cli(config_path)[0] == 0
    final = experiment.run_dirs()[0] / "final.png"
    with Image.open(final) as image:
        assert image.size == FINAL_SIZE  # Stretched to the content's shape.
    with Image.open(experiment.style) as style:
        from_style = mean_abs_difference(final, style)
    assert from_style < 0.08
    assert from_style < mean_abs_difference(final, experiment.gradient_image(64, 48)) / 2


def test_image_path_init_starts_from_that_image(experiment):
    init_path = experiment.dir / "init.png"
    Image.new("RGB", (10, 30), (20, 60, 220)).save(init_path)  # Another aspect: it is stretched.
    config_path = experiment.write_config(
        init=str(init_path), optim={"steps": 2, "learning_rate": 0.01}
    )
    assert run_cli(config_path)[0] == 0
    (run_dir,) = experiment.run_dirs()
    with Image.open(run_dir / "final.png") as image:
        assert image.size == FINAL_SIZE
    with Image.open(init_path) as init:
        assert mean_abs_difference(run_dir / "final.png", init) < 0.05
    assert nst_config.load_config(run_dir / "config.yaml").init == str(init_path)


def test_the_same_config_and_seed_give_the_same_image_byte_for_byte(experiment):
    # L-BFGS (the default) over two scales: every step of the run, not just the start.
    config_path = experiment.write_config(
        optim={"name": "lbfgs", "steps": 30}, scales={"count": 2, "min_size": 16, "steps": 10}
    )
    assert run_cli(config_path)[0] == 0 and run_cli(config_path)[0] == 0
    first, second = experiment.run_dirs()
    assert (first / "final.png").read_bytes() == (second / "final.png").read_bytes()


# whole, and over 20 px tiles (nst.algorithm.tiling)
@pytest.mark.parametrize("tile", ["off", "20"])
def test_a_loss_that_becomes_infinite_fails_the_run_and_keeps_the_last_good_image(
    experiment, capsys, tile
):
    config_path = experiment.write_config(optim={"name": "lbfgs", "steps": 50})
    exit_code, _ = run_cli(config_path, "loss.style_weight=1e38", f"image.tile={tile}")
    assert exit_code == 1
    (run_dir,) = experiment.run_dirs()
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert "NaN or infinite" in error and "loss.style_weight" in error  # a hint
    assert str(run_dir / "last_good.png") in error
    assert read_png(run_dir / "last_good.png").shape == (24, 32, 3)
    assert not (run_dir / "final.png").exists()
    final = read_metrics(run_dir)[-1]
    assert final["final"] and final["failed"] and "NaN" in final["stop_reason"]
    assert all(math.isfinite(value) for key, value in final.items() if key.startswith("loss/"))
