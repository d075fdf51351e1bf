"""A clip end to end (nst.runs.clip_run): frames in, stylized frames, a video and per-frame metrics
out; flicker lowered by the temporal term; Ctrl-C and resume mid-clip; bad frames."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import cli
from nst.runs import clips

pytestmark = pytest.mark.slow

FRAMES = 5
SHIFT = 2  # px a frame: the camera pans right


def write_frames(folder: Path, count: int = FRAMES) -> list[Path]:
    """A textured scene panning by SHIFT px a frame, 64x48 px, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[0:48, 0 : 64 + SHIFT * count]
    scene = np.stack(
        [
            128 + 90 * np.sin(xs / 5.0) * np.cos(ys / 7.0),
            128 + 90 * np.cos(xs / 9.0 + ys / 4.0),
            np.full(xs.shape, 100.0) + 60 * ((xs // 8 + ys // 8) % 2),
        ],
        axis=-1,
    )
    paths = []
    for index in range(count):
        pixels = scene[:, SHIFT * index : SHIFT * index + 64].round().astype(np.uint8)
        path = folder / f"frame{index + 1}.png"  # frame10 sorts after frame9: natural order
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def clip_config(experiment, name: str = "clip", video: dict | None = None, **sections) -> Path:
    """The fast test config on a folder of FRAMES frames; the first frame runs 6 steps."""
    write_frames(experiment.dir / "frames")
    return experiment.write_config(
        name,
        content=str(experiment.dir / "frames"),
        video={"frames": True, "first_frame_steps": 6, **(video or {})},
        **sections,
    )


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished_clip(module_experiment):
    config = clip_config(module_experiment)
    assert cli.main(["run", str(config), "--quiet"]) == 0
    (run_dir,) = module_experiment.run_dirs("clip")
    return run_dir


def test_a_clip_run_writes_every_frame_and_the_video(finished_clip):
    frames = sorted((finished_clip / "frames").iterdir())
    assert [path.name for path in frames] == [f"{n:06d}.png" for n in range(1, FRAMES + 1)]
    assert Image.open(frames[0]).size == (32, 24)  # image.size 32, the frames' 4:3
    written = clips.read_video(finished_clip / "result.mp4")
    assert len(written.frames) == FRAMES and written.fps == pytest.approx(24.0)
    # The same picture, as H.264 keeps it: brightness at full resolution, colour at half.
    first = np.asarray(Image.open(frames[0]), np.float32).mean(axis=2) / 255
    assert np.abs(written.frames[0].mean(axis=2) - first).mean() < 0.03
    assert not (finished_clip / "checkpoint.npz").exists()


def test_each_frame_has_a_metrics_line_and_the_clip_a_final_one(finished_clip):
    records = read_metrics(finished_clip)
    frames, final = records[:-1], records[-1]
    assert [record["frame"] for record in frames] == list(range(1, FRAMES + 1))
    assert "warping_error" not in frames[0]  # nothing before the first frame
    assert all(record["warping_error"] >= 0 for record in frames[1:])
    assert all(record["loss/temporal"] > 0 for record in frames[1:])
    assert final["final"] and final["frames"] == FRAMES
    errors = [record["warping_error"] for record in frames[1:]]
    assert final["warping_error"] == pytest.approx(np.mean(errors))


def test_the_temporal_term_lowers_the_flicker_of_independent_frames(experiment):
    # From noise, as flicker is born: each independent frame grows its own texture from the
    # same still noise while the scene moves under it.
    settings = {"init": "noise", "optim": {"name": "adam", "steps": 20, "learning_rate": 0.05}}
    warping_errors = {}
    for name, weight in (("tied", 1.0), ("independent", 0.0)):
        config = clip_config(experiment, name, {"temporal_weight": weight}, **settings)
        assert cli.main(["run", str(config), "--quiet"]) == 0
        (run_dir,) = experiment.run_dirs(name)
        records = read_metrics(run_dir)
        assert ("loss/temporal" in records[1]) == (weight > 0)
        warping_errors[name] = records[-1]["warping_error"]
    assert warping_errors["tied"] < warping_errors["independent"] / 3


def test_a_stopped_clip_resumes_at_its_frame_and_ends_as_if_uninterrupted(
    experiment, finished_clip
):
    long_frames = {"name": "adam", "steps": 400}  # about 2 s a frame: time to stop inside one
    config = clip_config(experiment, optim=long_frames)
    reference = clip_config(experiment, "reference", optim=long_frames)
    process = subprocess.Popen(
        [sys.executable, "-m", "nst", "run", str(config), "--quiet"],
        cwd=experiment.dir,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    second_frame = "clip/*/frames/000002.png"
    while time.monotonic() < deadline and not list(experiment.runs_root.glob(second_frame)):
        time.sleep(0.05)
    time.sleep(0.5)  # inside frame 3
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    (run_dir,) = experiment.run_dirs("clip")
    assert "Traceback" not in stderr and f"nst resume {run_dir}" in stderr
    done = sorted(path.name for path in (run_dir / "frames").iterdir())
    assert done == ["000001.png", "000002.png"]
    assert (run_dir / "checkpoint.npz").is_file() and (run_dir / "interrupted.png").is_file()
    kept = (run_dir / "frames" / "000001.png").stat().st_mtime_ns

    assert cli.main(["resume", str(run_dir), "--quiet"]) == 0
    assert (run_dir / "frames" / "000001.png").stat().st_mtime_ns == kept  # never redone
    assert cli.main(["run", str(reference), "--quiet"]) == 0
    (reference_dir,) = experiment.run_dirs("reference")
    for number in range(1, FRAMES + 1):
        name = f"{number:06d}.png"
        resumed = np.asarray(Image.open(run_dir / "frames" / name), np.int16)
        uninterrupted = np.asarray(Image.open(reference_dir / "frames" / name), np.int16)
        assert np.abs(resumed - uninterrupted).max() <= 1, name
    frames = [record["frame"] for record in read_metrics(run_dir)[:-1]]
    assert frames == list(range(1, FRAMES + 1))


def test_an_unreadable_frame_is_left_out_with_a_line_naming_it(experiment, capsys):
    config = clip_config(experiment)
    broken = experiment.dir / "frames" / "frame3.png"
    broken.write_bytes(b"not a png")
    assert cli.main(["run", str(config), "--quiet"]) == 0
    assert "frame3.png" in capsys.readouterr().err
    (run_dir,) = experiment.run_dirs("clip")
    assert len(list((run_dir / "frames").iterdir())) == FRAMES - 1


def test_a_clip_with_no_readable_frame_stops_before_anything_is_made(experiment, capsys):
    config = clip_config(experiment)
    for path in (experiment.dir / "frames").iterdir():
        path.write_bytes(b"")
    assert cli.main(["run", str(config), "--quiet"]) == 2
    assert "no frame" in capsys.readouterr().err
    assert experiment.run_dirs("clip") == []


def test_an_unreadable_video_is_named_in_one_line(experiment, capsys):
    broken = experiment.dir / "clip.mp4"
    broken.write_bytes(np.random.default_rng(0).bytes(2000))
    config = experiment.write_config("broken", content=str(broken))
    assert cli.main(["run", str(config), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "clip.mp4" in error and len(error.strip().splitlines()) == 1
    assert experiment.run_dirs("broken") == []


def test_a_previous_frame_saved_without_its_content_resumes_with_the_frames_own():
    # previous.npz files written before nst kept the frame's content there still resume: the
    # content is the frame's, prepared by the colour options as the run prepared it.
    from nst.algorithm import stylize
    from nst.config import config_from_dict
    from nst.runs import clip_run

    frame = np.random.default_rng(0).uniform(size=(6, 8, 3)).astype(np.float32)
    raw = np.full((6, 8, 3), 0.5, np.float32)
    inputs = stylize.Inputs(frame, [frame], [None])
    for preserve in ("none", "luminance"):
        config = config_from_dict(
            {"content": "c.mp4", "style": "s.png", "color": {"preserve": preserve}}, "t"
        )
        prepared = stylize.prepare_colors(inputs, config).content
        restored = clip_run._restored({"raw": raw, "shown": raw}, frame, inputs, config)
        assert np.array_equal(restored.content, prepared) and restored.weights is None
        assert restored.result is raw
