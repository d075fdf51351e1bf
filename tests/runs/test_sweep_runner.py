"""Sweeps end to end through `nst sweep` (nst/runs/sweep_runner.py, nst/runs/report.py, nst/cli.py).

Every sweep uses the fast config from conftest.py (random VGG16 cut at block2, 32 px images) with
2-3 Adam steps per member. Each sweep runs once per module and its tests share the result: a
4-member grid x zip sweep, a sweep with a failing member that is then resumed, and a 2-member
sweep run in turn, in two processes and on a local Ray.
"""

import contextlib
import csv
import dataclasses
import datetime
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from nst import cli
from nst import config as nst_config
from nst.algorithm import scoring
from nst.runs import logger, report
from nst.runs import sweep as nst_sweep

TILE = 256  # write_contact_sheet's default tile size
FINAL_SIZE = (32, 24)  # (width, height): conftest's 64x48 content at image.size=32
GREY = (160, 160, 160)  # a failed member's tile
PROGRESS_LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+): ([a-z ]+), (.*)")


@dataclasses.dataclass(frozen=True)
class SweepRun:
    sweep: nst_sweep.Sweep
    exit_code: int
    stdout: str
    stderr: str

    @property
    def sweep_dir(self) -> Path:
        (line,) = [line for line in self.stdout.splitlines() if line.startswith("sweep directory:")]
        return Path(line.removeprefix("sweep directory: ").split("  (")[0])

    def progress(self) -> list[tuple[str, str]]:
        """(member name, status) from the `[k/n] name: status, ...` lines, in printed order."""
        matches = [PROGRESS_LINE.fullmatch(line) for line in self.stdout.splitlines()]
        return [(match[3], match[4]) for match in matches if match]

    def member_dir(self, index: int) -> Path:
        return self.sweep_dir / self.sweep.members[index].name


def write_sweep(experiment, name: str, **sections) -> Path:
    """`<name>.yaml` beside the experiment's images: a fast base config and `sections`."""
    base = experiment.write_config(f"{name}_base")
    path = experiment.dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"base": str(base), **sections}, sort_keys=False))
    return path


def run_sweep_cli(sweep_path: Path, *flags: str) -> SweepRun:
    """`nst sweep SWEEP FLAGS...` in this process; what it printed is captured."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_code = cli.main(["sweep", str(sweep_path), *flags])
    sweep = nst_sweep.load_sweep(sweep_path)
    return SweepRun(sweep, exit_code, stdout.getvalue(), stderr.getvalue())


def read_summary(sweep_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(sweep_dir / "summary.csv", newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames), list(reader)


def read_metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def caption_height(sheet_height: int, rows: int) -> int:
    """The caption height a sheet of `rows` rows must have had (see report.sheet_size)."""
    cell_plus_margin, remainder = divmod(sheet_height - report.MARGIN, rows)
    assert remainder == 0, "the sheet is not a whole number of rows"
    return cell_plus_margin - report.MARGIN - TILE


def tile(sheet: np.ndarray, index: int, columns: int, caption: int) -> np.ndarray:
    x, y = report.cell_origin(index, columns, TILE, caption)
    return sheet[y : y + TILE, x : x + TILE]


def final_image_at_tile_size(path: Path) -> np.ndarray:
    """The final image as its tile shows it: longest side TILE, centred on white."""
    with Image.open(path) as image:
        scale = TILE / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        scaled = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (TILE, TILE), (255, 255, 255))
    canvas.paste(scaled, ((TILE - size[0]) // 2, (TILE - size[1]) // 2))
    return np.asarray(canvas, dtype=np.float32) / 255.0


# --- A 4-member sweep: grid 2 x zip 2 ------------------------------------------------------------

GRID_VARIED = ("loss.style_weight", "optim.steps", "init")


@pytest.fixture(scope="module")
def grid_run(module_experiment) -> SweepRun:
    path = write_sweep(
        module_experiment,
        "grid",
        set={"optim.learning_rate": 0.05},
        grid={"loss.style_weight": [1, 100]},
        zip={"optim.steps": [2, 3], "init": ["content", "noise"]},
    )
    return run_sweep_cli(path)


def test_sweep_exits_0_and_prints_each_member_then_the_report_paths(grid_run):
    assert grid_run.exit_code == 0, grid_run.stdout + grid_run.stderr
    assert "failed" not in grid_run.stderr
    assert grid_run.progress() == [(member.name, "completed") for member in grid_run.sweep.members]
    lines = grid_run.stdout.splitlines()
    assert lines[0] == f"sweep grid: 4 members, varying {', '.join(GRID_VARIED)}"
    assert f"summary: {grid_run.sweep_dir / 'summary.csv'}" in lines
    assert f"contact sheet: {grid_run.sweep_dir / 'contact_sheet.png'}" in lines


def test_sweep_directory_holds_the_sweep_file_report_and_member_runs(grid_run, module_experiment):
    sweep_dir = grid_run.sweep_dir
    assert sweep_dir.parent == module_experiment.runs_root / "grid"
    datetime.datetime.strptime(sweep_dir.name, "%Y%m%d-%H%M%S")
    names = [member.name for member in grid_run.sweep.members]
    assert names == [
        "00_style_weight=1_steps=2_init=content",
        "01_style_weight=1_steps=3_init=noise",
        "02_style_weight=100_steps=2_init=content",
        "03_style_weight=100_steps=3_init=noise",
    ]
    entries = {path.name for path in sweep_dir.iterdir()}
    assert entries == {"sweep.yaml", "summary.csv", "contact_sheet.png", *names}
    sweep_file = Path(grid_run.sweep.source)
    assert (sweep_dir / "sweep.yaml").read_bytes() == sweep_file.read_bytes()


def test_each_member_is_an_ordinary_run_with_its_values(grid_run):
    base = grid_run.sweep.base
    for index, member in enumerate(grid_run.sweep.members):
        run_dir = grid_run.member_dir(index)
        saved = nst_config.load_config(run_dir / "config.yaml")
        expected = member.load_config(base)  # with image.tile auto resolved: it fits whole
        image = dataclasses.replace(expected.image, tile="off")
        assert saved == dataclasses.replace(expected, image=image)
        assert saved.loss.style_weight == member.values["loss.style_weight"]
        assert saved.optim.steps == member.values["optim.steps"]
        assert saved.init == member.values["init"]
        assert saved.optim.learning_rate == 0.05  # From `set`.
        with Image.open(run_dir / "final.png") as final:
            assert final.size == FINAL_SIZE
        final_record = read_metrics(run_dir)[-1]
        assert final_record["final"] is True
        assert final_record["stop_reason"] == "completed"
        assert final_record["step"] == member.values["optim.steps"]
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1


def test_summary_csv_has_a_row_per_member_in_order(grid_run):
    columns, rows = read_summary(grid_run.sweep_dir)
    assert columns[: 2 + len(GRID_VARIED)] == ["member", *GRID_VARIED, "status"]
    assert set(report.LOSS_COLUMNS) | {"evaluations", "seconds", "run_dir", "error"} <= set(columns)
    assert [row["member"] for row in rows] == [member.name for member in grid_run.sweep.members]
    assert [(row["loss.style_weight"], row["optim.steps"], row["init"]) for row in rows] == [
        ("1", "2", "content"),
        ("1", "3", "noise"),
        ("100", "2", "content"),
        ("100", "3", "noise"),
    ]
    for index, row in enumerate(rows):
        run_dir = grid_run.member_dir(index)
        final_record = read_metrics(run_dir)[-1]
        assert row["status"] == "completed"
        assert row["error"] == ""
        assert Path(row["run_dir"]) == run_dir
        assert int(row["evaluations"]) == final_record["evaluations"]
        for column in report.LOSS_COLUMNS:
            assert math.isfinite(float(row[column]))
            assert float(row[column]) == pytest.approx(final_record[column], rel=1e-5)
        assert float(row["loss/total"]) > 0
        for column in report.QUALITY_COLUMNS:
            assert float(row[column]) == pytest.approx(final_record[column], rel=1e-5)


def test_summary_quality_columns_are_the_scores_the_runs_write():
    written = tuple(f"quality/{name}" for name in scoring.NAMES)  # nst.runs.run's final line
    assert written == report.QUALITY_COLUMNS


def test_contact_sheet_is_a_2x2_grid_of_the_final_images_in_order(grid_run):
    columns, rows = report.grid_shape(4)
    assert (columns, rows) == (2, 2)
    sheet = read_rgb(grid_run.sweep_dir / "contact_sheet.png")
    height, width, _ = sheet.shape
    caption = caption_height(height, rows)
    assert 0 < caption < TILE  # Three lines of text: one per varied key.
    assert (width, height) == report.sheet_size(columns, rows, TILE, caption)
    finals = [final_image_at_tile_size(grid_run.member_dir(i) / "final.png") for i in range(4)]
    for index in range(4):
        shown = tile(sheet, index, columns, caption)
        distances = [float(np.abs(shown - final).mean()) for final in finals]
        assert int(np.argmin(distances)) == index, distances
        assert distances[index] < 0.01


# --- HParams and final scalars, read with TensorBoard's own reader -------------------------------


def load_events(run_dir: Path) -> event_accumulator.EventAccumulator:
    events = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    return events.Reload()


def hparams_session(events) -> tuple[str, dict[str, object]]:
    """(group name, {key: value}) of the run's HParams session start."""
    plugin_data = events.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data
    assert plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME
    info = hparams_metadata.parse_session_start_info_plugin_data(plugin_data.content)
    values = {key: getattr(value, value.WhichOneof("kind")) for key, value in info.hparams.items()}
    return info.group_name, values


def test_each_member_logs_its_values_as_hparams(grid_run):
    for index, member in enumerate(grid_run.sweep.members):
        group, hparams = hparams_session(load_events(grid_run.member_dir(index)))
        assert group == member.name
        assert hparams["loss.style_weight"] == float(member.values["loss.style_weight"])
        assert hparams["optim.steps"] == float(member.values["optim.steps"])
        assert hparams["init"] == member.values["init"]
        # The standard keys come along, so sweeps compare with single runs too.
        assert hparams["model.network"] == "vgg16"
        assert hparams["model.weights"] == "none"
        assert hparams["optim.name"] == "adam"


def test_each_member_logs_the_final_metric_scalars(grid_run):
    for index, member in enumerate(grid_run.sweep.members):
        run_dir = grid_run.member_dir(index)
        events = load_events(run_dir)
        final_record = read_metrics(run_dir)[-1]
        logged = {}
        for tag in logger.FINAL_METRICS:
            assert events.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
            (event,) = events.Tensors(tag)
            assert event.step == member.values["optim.steps"]
            logged[tag] = float(tensor_util.make_ndarray(event.tensor_proto))
        assert logged["final/loss/total"] == pytest.approx(final_record["loss/total"], rel=1e-6)
        assert logged["final/evaluations"] == final_record["evaluations"]
        assert logged["final/seconds"] > 0


# --- A failing member, then --resume -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FailedSweep:
    run: SweepRun
    columns: list[str]
    rows: list[dict[str, str]]
    sheet: np.ndarray  # Read before --resume rewrites it.


FLAKY_RATES = [0.02, -1, 0.05, 0.03]  # -1 fails its member when the member's config is built.


@pytest.fixture(scope="module")
def failed_sweep(module_experiment) -> FailedSweep:
    path = write_sweep(
        module_experiment,
        "flaky",
        set={"optim.steps": 2},
        zip={"optim.learning_rate": FLAKY_RATES},
    )
    run = run_sweep_cli(path)
    columns, rows = read_summary(run.sweep_dir)
    return FailedSweep(run, columns, rows, read_rgb(run.sweep_dir / "contact_sheet.png"))


def test_a_failed_member_makes_exit_code_1_and_stderr_says_how_many(failed_sweep):
    run = failed_sweep.run
    assert run.exit_code == cli.EXIT_MEMBERS_FAILED == 1
    assert "1 of 4 members failed" in run.stderr
    assert "Traceback" not in run.stderr
    statuses = dict(run.progress())
    assert [statuses[member.name] for member in run.sweep.members] == [
        "completed",
        "failed",
        "completed",
        "completed",
    ]
    assert f"summary: {run.sweep_dir / 'summary.csv'}" in run.stdout.splitlines()


def test_the_failed_member_is_in_summary_csv_with_an_error_naming_the_key(failed_sweep):
    rows = failed_sweep.rows
    assert [row["optim.learning_rate"] for row in rows] == ["0.02", "-1", "0.05", "0.03"]
    assert [row["status"] for row in rows] == ["completed", "failed", "completed", "completed"]
    failed = rows[1]
    assert "optim.learning_rate" in failed["error"]
    assert "-1" in failed["error"]
    assert all(failed[column] == "" for column in report.LOSS_COLUMNS)
    for row in (rows[0], rows[2], rows[3]):
        assert row["error"] == ""
        assert float(row["loss/total"]) > 0


def test_the_other_members_complete_and_the_failed_one_leaves_no_run(failed_sweep):
    run = failed_sweep.run
    for index in (0, 2, 3):
        assert read_metrics(run.member_dir(index))[-1]["stop_reason"] == "completed"
    # The config is checked before any directory is made.
    assert not run.member_dir(1).exists()


def test_the_failed_member_has_a_grey_tile_in_the_contact_sheet(failed_sweep):
    columns, rows = report.grid_shape(4)
    sheet = failed_sweep.sheet
    caption = caption_height(sheet.shape[0], rows)
    assert sheet.shape[1] == report.sheet_size(columns, rows, TILE, caption)[0]
    grey = np.array(GREY, dtype=np.float32) / 255.0
    for index in range(4):
        corner = tile(sheet, index, columns, caption)[:16, :16]
        is_grey = bool(np.all(np.abs(corner - grey) < 1e-6))
        assert is_grey == (index == 1), index


@dataclasses.dataclass(frozen=True)
class ResumedSweep:
    before: FailedSweep
    run: SweepRun
    untouched_stat: tuple[int, int]  # (inode, mtime_ns) of member 0's final.png before --resume
    interrupted_final: bytes  # member 2's final.png, whose metrics.jsonl lost its final line


@pytest.fixture(scope="module")
def resumed_sweep(failed_sweep) -> ResumedSweep:
    """Member 2 loses its final metrics line and member 3 its final.png, then --resume."""
    before = failed_sweep.run
    stat = (before.member_dir(0) / "final.png").stat()
    metrics = before.member_dir(2) / "metrics.jsonl"
    lines = metrics.read_text(encoding="utf-8").splitlines(keepends=True)
    metrics.write_text("".join(lines[:-1]), encoding="utf-8")
    interrupted_final = (before.member_dir(2) / "final.png").read_bytes()
    (before.member_dir(3) / "final.png").unlink()
    run = run_sweep_cli(Path(before.sweep.source), "--resume")
    return ResumedSweep(failed_sweep, run, (stat.st_ino, stat.st_mtime_ns), interrupted_final)


def test_resume_writes_into_the_same_sweep_directory(resumed_sweep, module_experiment):
    run = resumed_sweep.run
    assert run.sweep_dir == resumed_sweep.before.run.sweep_dir
    assert [path.name for path in (module_experiment.runs_root / "flaky").iterdir()] == [
        run.sweep_dir.name
    ]
    assert f"resumed {run.sweep_dir}: 1 finished members skipped" in run.stdout.splitlines()


def test_resume_reruns_only_the_unfinished_members(resumed_sweep):
    run = resumed_sweep.run
    names = [member.name for member in run.sweep.members]
    assert run.progress() == [
        (names[1], "failed"),
        (names[2], "completed"),
        (names[3], "completed"),
    ]
    untouched = (run.member_dir(0) / "final.png").stat()
    assert (untouched.st_ino, untouched.st_mtime_ns) == resumed_sweep.untouched_stat
    assert run.exit_code == cli.EXIT_MEMBERS_FAILED  # Its value still fails.


def test_resume_moves_partial_member_directories_aside(resumed_sweep):
    run = resumed_sweep.run
    for index in (2, 3):
        rerun, aside = run.member_dir(index), Path(f"{run.member_dir(index)}.incomplete")
        assert aside.is_dir()
        assert (rerun / "final.png").is_file()
        assert read_metrics(rerun)[-1]["final"] is True
    partial = read_metrics(Path(f"{run.member_dir(2)}.incomplete"))
    assert not any(record.get("final") for record in partial)
    assert not (Path(f"{run.member_dir(3)}.incomplete") / "final.png").exists()
    assert not Path(f"{run.member_dir(0)}.incomplete").exists()
    # Same seed, same config: the rerun makes the same image as the interrupted run.
    assert (run.member_dir(2) / "final.png").read_bytes() == resumed_sweep.interrupted_final


def test_resume_rewrites_summary_csv_with_every_member(resumed_sweep):
    columns, rows = read_summary(resumed_sweep.run.sweep_dir)
    assert columns == resumed_sweep.before.columns
    assert [row["member"] for row in rows] == [row["member"] for row in resumed_sweep.before.rows]
    assert [row["status"] for row in rows] == ["completed", "failed", "completed", "completed"]
    skipped, earlier = rows[0], resumed_sweep.before.rows[0]
    assert (skipped["loss/total"], skipped["evaluations"]) == (
        earlier["loss/total"],
        earlier["evaluations"],
    )
    assert "optim.learning_rate" in rows[1]["error"]


def test_resume_with_no_earlier_sweep_exits_2_with_one_line(experiment, capsys):
    path = write_sweep(experiment, "never_run", grid={"optim.steps": [2, 3]})
    assert cli.main(["sweep", str(path), "--resume"]) == cli.EXIT_USER_ERROR
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("nst: error: --resume: no earlier run of sweep 'never_run'")
    assert not (experiment.runs_root / "never_run").exists()


# --- Bad flags and bad sweep files ---------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["0", "-2"])
def test_jobs_below_1_exits_2_with_one_line_and_makes_no_directory(experiment, capsys, jobs):
    path = write_sweep(experiment, "jobs", grid={"optim.steps": [2, 3]})
    assert cli.main(["sweep", str(path), "--jobs", jobs]) == cli.EXIT_USER_ERROR
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"nst: error: --jobs must be at least 1, got {jobs}"
    assert not experiment.runs_root.exists()


def test_a_bad_sweep_file_exits_2_with_one_line(experiment, capsys):
    path = write_sweep(experiment, "typo", grid={"loss.style_wieght": [1, 10]})
    assert cli.main(["sweep", str(path)]) == cli.EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"nst: error: {path}: ")
    assert "did you mean 'loss.style_weight'" in line
    assert not experiment.runs_root.exists()


# --- In parallel processes and on Ray: the same results ------------------------------------------


@pytest.fixture(scope="module")
def pair_sweep(module_experiment) -> Path:
    return write_sweep(
        module_experiment, "pair", zip={"optim.steps": [2, 3], "init": ["content", "noise"]}
    )


@pytest.fixture(scope="module")
def pair_in_turn(pair_sweep) -> SweepRun:
    run = run_sweep_cli(pair_sweep)
    assert run.exit_code == 0, run.stderr
    return run


def assert_same_results(run: SweepRun, reference: SweepRun) -> None:
    """Completed, the same layout, and byte-identical final images (deterministic per seed)."""
    assert run.exit_code == 0, run.stderr
    assert run.sweep_dir != reference.sweep_dir
    assert run.sweep_dir.parent == reference.sweep_dir.parent
    assert sorted(status for _, status in run.progress()) == ["completed", "completed"]
    _, rows = read_summary(run.sweep_dir)
    assert [(row["member"], row["status"]) for row in rows] == [
        (member.name, "completed") for member in run.sweep.members
    ]
    for index in range(len(run.sweep.members)):
        for name in ("final.png", "config.yaml"):
            ours = (run.member_dir(index) / name).read_bytes()
            assert ours == (reference.member_dir(index) / name).read_bytes(), name
        assert read_metrics(run.member_dir(index))[-1]["final"] is True
    assert (run.sweep_dir / "contact_sheet.png").is_file()


@pytest.mark.slow
def test_jobs_2_in_processes_gives_the_same_images_and_writes_member_logs(pair_sweep, pair_in_turn):
    run = run_sweep_cli(pair_sweep, "--jobs", "2")
    assert_same_results(run, pair_in_turn)
    logs = run.sweep_dir / "logs"
    assert sorted(path.name for path in logs.iterdir()) == [
        f"{member.name}.log" for member in run.sweep.members
    ]
    assert not (pair_in_turn.sweep_dir / "logs").exists()  # In turn, output stays on the terminal.


@pytest.mark.slow
def test_ray_executor_runs_both_members_into_the_same_layout(pair_sweep, pair_in_turn):
    run = run_sweep_cli(pair_sweep, "--executor", "ray", "--jobs", "2")
    assert_same_results(run, pair_in_turn)
    assert {path.name for path in (run.sweep_dir / "logs").iterdir()} == {
        f"{member.name}.log" for member in run.sweep.members
    }
