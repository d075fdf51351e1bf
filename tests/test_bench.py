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
    "--run-size", "32",
    "--run-steps", "4",
    "--set", "model.network=vgg16",
]  # fmt: skip


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_bench_writes_every_section(tmp_path):
    output = tmp_path / "b.json"
    done = bench(*TINY, "--json", str(output))
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

    run_case = report["run_vs_evaluation"]
    assert (run_case["size"], run_case["network"], run_case["steps"]) == (32, "vgg16", 4)
    assert run_case["optim"] == "lbfgs" and run_case["timed_steps"] > 0
    assert run_case["run_seconds_per_step"] > 0 and run_case["evaluation_seconds"] > 0
    assert run_case["run_over_evaluation"] == pytest.approx(
        run_case["run_seconds_per_step"] / run_case["evaluation_seconds"]
    )
    own_work = run_case["lbfgs_own_work_full_history"]
    assert own_work["seconds"] > 0 and 0 < own_work["pairs"] <= run_case["history"]

    for heading in (
        "1. Seconds per loss",
        "2. Loss evaluations per iteration",
        "3. Time to quality",
        "(c) nst defaults",
        "4. A real run's seconds per step",
    ):
        assert heading in done.stdout
    assert f"wrote {output}" in done.stdout
    assert 0 < report["bench_seconds"] < 300


@pytest.mark.slow
def test_the_defaults_case_runs_the_shipped_config_end_to_end(tmp_path):
    output = tmp_path / "d.json"
    settings = ["optim.steps=3", "model.network=vgg16", "model.weights=none"]
    done = bench(
        "--case", "defaults", "--size", "32", "--set", *settings,
        f"output.root={tmp_path / 'runs'}", "--json", str(output),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert "seconds_per_evaluation" not in report and "run_vs_evaluation" not in report
    case = report["defaults_run"]
    assert case["steps"] == 3 and case["wall_seconds"] > 0 and case["run_seconds"] > 0
    assert case["scales"][-1] == {"size": 32, "steps": 3}
    assert case["losses"]["loss/total"] > 0
    assert Path(case["run_dir"]).parent.parent == tmp_path / "runs"
    assert (Path(case["run_dir"]) / "final.png").is_file()
    final = json.loads((Path(case["run_dir"]) / "metrics.jsonl").read_text().splitlines()[-1])
    assert case["quality"] == {key: v for key, v in final.items() if key.startswith("quality/")}
    assert "configs/starry.yaml end to end" in done.stdout
