"""Stopping a real `nst` process with real signals, and resuming it where it stopped.

Each test starts `python -m nst run` on the fast config with L-BFGS for a few hundred steps of
~10 ms, waits for its metrics to reach a step, signals it, then resumes it; the result must be the
uninterrupted run's, byte for byte, with metrics for every log step, once.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nst import cli
from nst.runs.checkpoints import load_checkpoint

STEPS = 400
LOG_EVERY = 10
CHECKPOINT_EVERY = 50
# A run here takes ~10 s to start (TensorFlow, tracing) and ~5 s to step through; a hung
# process fails the test instead of hanging it.
TIMEOUT = 120

pytestmark = pytest.mark.slow


def long_config(experiment) -> Path:
    return experiment.write_config(
        optim={"name": "lbfgs", "steps": STEPS},
        log={"every": LOG_EVERY, "image_every": 0, "checkpoint_every": CHECKPOINT_EVERY},
    )


@pytest.fixture(scope="module")
def reference(module_experiment):
    """The uninterrupted run's final image bytes and metrics steps (run in this process)."""
    assert cli.main(["run", str(long_config(module_experiment)), "--quiet"]) == 0
    (run_dir,) = module_experiment.run_dirs()
    return (run_dir / "final.png").read_bytes(), logged_steps(run_dir)


def logged_steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines]


def start_run(experiment, config: Path) -> subprocess.Popen:
    stderr = open(experiment.dir / "stderr.txt", "w")  # noqa: SIM115 (the process owns it)
    return subprocess.Popen(
        [sys.executable, "-m", "nst", "run", str(config), "--quiet"],
        cwd=experiment.dir,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def wait_for_step(experiment, process: subprocess.Popen, step: int, name: str = "exp") -> Path:
    """Block until the run's metrics.jsonl has reached `step`; its run directory."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended early: {stderr_of(experiment)}"
        for run_dir in experiment.run_dirs(name):
            steps = logged_steps(run_dir) if (run_dir / "metrics.jsonl").is_file() else []
            if steps and steps[-1] >= step:
                return run_dir
        time.sleep(0.02)
    pytest.fail(f"no metrics for step {step} within {TIMEOUT} s")


def stderr_of(experiment) -> str:
    return (experiment.dir / "stderr.txt").read_text()


def resume(run_dir: Path) -> subprocess.CompletedProcess:
    # From another directory: the run's relative paths must still be found.
    return subprocess.run(
        [sys.executable, "-m", "nst", "resume", str(run_dir), "--quiet"],
        cwd=run_dir.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def assert_finished_like_the_uninterrupted_run(run_dir: Path, reference) -> None:
    final_bytes, steps = reference
    assert (run_dir / "final.png").read_bytes() == final_bytes
    assert logged_steps(run_dir) == steps  # every log step once: no gap, no repeat
    assert not (run_dir / "checkpoint.npz").exists()  # removed once the run has ended


@pytest.mark.parametrize(("sent", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_the_run_and_resume_finishes_it_as_if_uninterrupted(
    experiment, reference, sent, exit_code
):
    process = start_run(experiment, long_config(experiment))
    run_dir = wait_for_step(experiment, process, 2 * LOG_EVERY)
    process.send_signal(sent)
    assert process.wait(TIMEOUT) == exit_code

    message = stderr_of(experiment)
    assert f"nst resume {run_dir}" in message and f"make resume RUN={run_dir}" in message
    assert "Traceback" not in message
    meta, _ = load_checkpoint(run_dir)
    assert 2 * LOG_EVERY <= meta["step"] < STEPS
    assert (run_dir / "interrupted.png").is_file() and not (run_dir / "final.png").exists()

    resumed = resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{STEPS} steps" in resumed.stdout
    assert_finished_like_the_uninterrupted_run(run_dir, reference)


def tiled_config(experiment) -> Path:
    """long_config with the 32x24 px image evaluated over 20 px tiles (nst.algorithm.tiling)."""
    return experiment.write_config(
        "tiled",
        image={"size": 32, "tile": 20},
        optim={"name": "lbfgs", "steps": STEPS},
        log={"every": LOG_EVERY, "image_every": 0, "checkpoint_every": CHECKPOINT_EVERY},
    )


@pytest.fixture(scope="module")
def tiled_reference(module_experiment):
    assert cli.main(["run", str(tiled_config(module_experiment)), "--quiet"]) == 0
    (run_dir,) = module_experiment.run_dirs("tiled")
    return (run_dir / "final.png").read_bytes(), logged_steps(run_dir)


def test_a_tiled_run_stops_on_a_signal_and_resumes_as_if_uninterrupted(experiment, tiled_reference):
    process = start_run(experiment, tiled_config(experiment))
    run_dir = wait_for_step(experiment, process, 2 * LOG_EVERY, "tiled")
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 130
    assert "Traceback" not in stderr_of(experiment)
    assert "tile: '20'" in (run_dir / "config.yaml").read_text()
    resumed = resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_finished_like_the_uninterrupted_run(run_dir, tiled_reference)


def test_a_killed_run_loses_at_most_the_checkpoint_interval(experiment, reference):
    process = start_run(experiment, long_config(experiment))
    run_dir = wait_for_step(experiment, process, 2 * CHECKPOINT_EVERY + LOG_EVERY)
    process.kill()  # SIGKILL: no handler runs, as with a power loss or the OOM killer
    process.wait(TIMEOUT)
    last_logged = logged_steps(run_dir)[-1]

    meta, _ = load_checkpoint(run_dir)
    assert last_logged - meta["step"] < CHECKPOINT_EVERY
    resumed = resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_finished_like_the_uninterrupted_run(run_dir, reference)


def test_a_second_ctrl_c_quits_at_once_and_leaves_a_usable_run_directory(experiment, reference):
    process = start_run(experiment, long_config(experiment))
    run_dir = wait_for_step(experiment, process, CHECKPOINT_EVERY + LOG_EVERY)
    process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + TIMEOUT
    while "to save a checkpoint" not in stderr_of(experiment) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code = process.wait(TIMEOUT)
    # Killed by the second signal, or done saving just before it arrived.
    assert code in (-signal.SIGINT, 130)
    assert time.monotonic() - started < 5

    # Whatever moment it died at, the checkpoint is a whole one (the periodic one at least).
    meta, state = load_checkpoint(run_dir)
    assert meta["step"] >= CHECKPOINT_EVERY
    assert np.all(np.isfinite(state["optimizer/position"]))
    resumed = resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_finished_like_the_uninterrupted_run(run_dir, reference)


def test_resume_refuses_a_finished_run_and_a_directory_without_checkpoint(
    experiment, reference, capsys
):
    assert cli.main(["run", str(experiment.write_config()), "--quiet"]) == 0
    (finished,) = experiment.run_dirs()
    assert cli.main(["resume", str(finished)]) == 2
    assert "finished already" in capsys.readouterr().err

    (finished / "final.png").unlink()
    assert cli.main(["resume", str(finished)]) == 2
    error = capsys.readouterr().err.strip()
    assert "has no checkpoint.npz" in error and len(error.splitlines()) == 1

    assert cli.main(["resume", str(experiment.dir / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    from nst.runs import checkpoints

    checkpoints.save_checkpoint(tmp_path, {"x": np.arange(3)}, {"step": 1})

    def crash_while_writing(file, array, **options):
        file.write(b"half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", crash_while_writing)
    with pytest.raises(OSError):
        checkpoints.save_checkpoint(tmp_path, {"x": np.arange(5)}, {"step": 2})
    meta, state = load_checkpoint(tmp_path)  # the old one, whole
    assert meta["step"] == 1 and state["x"].tolist() == [0, 1, 2]
    assert set(os.listdir(tmp_path)) == {"checkpoint.npz", "checkpoint.npz.partial"}


def test_an_interrupted_sweep_resumes_its_stopped_member_from_the_checkpoint(experiment):
    base = long_config(experiment)
    sweep = experiment.dir / "sweep.yaml"
    sweep.write_text(f"base: {base}\ngrid:\n  seed: [1, 2]\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "nst", "sweep", str(sweep)],
        cwd=experiment.dir,
        stdout=subprocess.DEVNULL,
        stderr=open(experiment.dir / "stderr.txt", "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + TIMEOUT
    metrics = []
    while not metrics and time.monotonic() < deadline:
        assert process.poll() is None, stderr_of(experiment)
        metrics = [
            m for m in experiment.runs_root.glob("sweep/*/*/metrics.jsonl") if m.stat().st_size
        ]
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 130
    assert f"nst sweep {sweep} --resume" in stderr_of(experiment)
    (member_dir,) = [path.parent for path in metrics]
    stopped_at, _ = load_checkpoint(member_dir)

    resumed = subprocess.run(
        [sys.executable, "-m", "nst", "sweep", str(sweep), "--resume"],
        cwd=experiment.dir,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert resumed.returncode == 0, resumed.stderr
    # The stopped member went on in its own directory from its checkpoint (not from scratch,
    # which would have moved it aside); the other member ran in full.
    assert not list(member_dir.parent.glob("*.incomplete"))
    assert logged_steps(member_dir) == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    assert stopped_at["step"] > 0
    finals = sorted(member_dir.parent.glob("*/final.png"))
    assert len(finals) == 2


def test_the_random_generators_continue_where_the_checkpoint_left_them():
    import json
    import random

    import tensorflow as tf

    from nst.runs import logger

    def draw():
        generator = tf.random.get_global_generator()
        return random.random(), np.random.random(), float(generator.uniform([]))

    saved = json.loads(json.dumps(logger.random_state()))  # as the checkpoint's meta stores it
    expected = draw()
    for _ in range(3):  # the run draws on
        draw()
    logger.restore_random_state(saved)
    assert draw() == expected
