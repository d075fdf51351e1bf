"""scripts/bench.py runs on a tiny set and writes every section it promises; no timing asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"
TINY = [
    "--sizes", "32", "48",
    "--networks", "vgg16",
    "--repeats", "1",
    "--quality-size", "32",
    "--tutorial-steps", "5",
    "--lbfgs-steps", "3",
    "--ours-max-steps", "3",
]  # fmt: skip


@pytest.mark.slow
def test_bench_writes_every_section(tmp_path):
    output = tmp_path / "b.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *TINY, "--json", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())

    assert set(report["device"]) >= {"cpu", "cores", "gpus"}
    assert set(report["versions"]) == {
        "python",
        "tensorflow",
        "keras",
        "tensorflow_probability",
        "numpy",
    }
    assert report["settings"]["sizes"] == [32, 48]
    assert report["settings"]["xla_jit"] is False
    assert "--ours-max-steps" in report["command"]

    cells = report["seconds_per_evaluation"]
    assert [(cell["size"], cell["network"]) for cell in cells] == [(32, "vgg16"), (48, "vgg16")]
    for cell in cells:
        assert cell["loss_seconds"] > 0 and cell["features_seconds"] > 0
        assert cell["peak_rss_mib"] > 100  # TensorFlow alone takes more

    per_iteration = report["evaluations_per_iteration"]
    assert per_iteration["lbfgs"]["iterations"] == 3
    assert per_iteration["lbfgs"]["per_iteration"] > 1  # tfp's line search: more than one
    assert per_iteration["tutorial"]["per_iteration"] == 1  # Adam: one per step, by counting

    quality = report["time_to_quality"]
    runs = quality["runs"]
    assert set(runs) == {"tutorial", "lbfgs", "ours"}
    assert runs["tutorial"]["steps_done"] == 5 and runs["tutorial"]["optim"]["name"] == "adam"
    assert runs["lbfgs"]["optim"]["line_search"] == "hager_zhang"
    for run in runs.values():
        assert run["final_loss"] > 0 and run["seconds"] > 0 and run["trace"]
    assert set(quality["ours_vs"]) == {"tutorial", "lbfgs"}

    for heading in (
        "1. Seconds per loss",
        "2. Loss evaluations per iteration",
        "3. Time to quality",
        "(c) nst defaults",
    ):
        assert heading in done.stdout
    assert f"wrote {output}" in done.stdout
    assert 0 < report["bench_seconds"] < 300
