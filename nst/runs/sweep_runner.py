"""Run a sweep's members (in turn, in parallel processes, or on Ray) and write its report.

A sweep directory (`<output.root>/<sweep name>/<timestamp>/`) holds one ordinary run directory
per member, named after the values it varies, plus `sweep.yaml` (the sweep file as given),
`summary.csv` and `contact_sheet.png`. A member whose `metrics.jsonl` ends with its final line
has finished; `--resume` skips those and runs the rest again.
"""

import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from nst.config import is_training_file, load_config
from nst.errors import UserError
from nst.runs import checkpoints, report
from nst.runs.report import MemberResult
from nst.runs.run_dirs import create_run_dir
from nst.runs.sweep import Member, Sweep

EXECUTORS = ("local", "ray")
SWEEP_FILE = "sweep.yaml"


@dataclass(frozen=True)
class SweepOutcome:
    sweep_dir: Path
    results: list[MemberResult]
    skipped: int  # members found finished by --resume
    summary_csv: Path
    contact_sheet: Path

    @property
    def failed(self) -> list[MemberResult]:
        return [result for result in self.results if result.status == "failed"]


@dataclass(frozen=True)
class _Task:
    base: str
    member: Member
    run_dir: str
    cwd: str  # configs name images relative to where the sweep was started
    log_path: str  # a worker process's output goes here, not into the sweep's terminal
    resume: bool = False  # continue the member's stopped run from its checkpoint


def run_sweep(
    sweep: Sweep,
    jobs: int = 1,
    executor: str = "local",
    address: str | None = None,
    resume: bool = False,
    on_member_done: Callable[[MemberResult, int, int], None] = lambda result, done, total: None,
) -> SweepOutcome:
    """Run every member not yet finished, then write summary.csv and contact_sheet.png."""
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if executor not in EXECUTORS:
        raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    base_config = load_config(sweep.base, training=is_training_file(sweep.base))
    root = Path(base_config.output.root)  # Also checks the base config up front.
    sweep_dir = _latest_sweep_dir(root, sweep) if resume else _new_sweep_dir(root, sweep)

    finished: dict[str, MemberResult] = {}
    tasks = []
    for member in sweep.members:
        run_dir = sweep_dir / member.name
        result = finished_result(member, run_dir) if resume else None
        if result is not None:
            finished[member.name] = result
            continue
        resumable = resume and (run_dir / checkpoints.FILE).is_file()
        if run_dir.exists() and not resumable:
            _keep_incomplete(run_dir)
        log_path = sweep_dir / "logs" / f"{member.name}.log"
        task = _Task(sweep.base, member, str(run_dir), os.getcwd(), str(log_path), resumable)
        tasks.append(task)

    results = dict(finished)

    def done(result: MemberResult) -> None:
        results[result.name] = result
        on_member_done(result, len(results), len(sweep.members))

    if executor == "ray":
        _run_on_ray(tasks, jobs, address, done)
    elif jobs == 1:
        for task in tasks:
            done(run_member(task))
    else:
        _run_in_processes(tasks, jobs, done)

    ordered = [results[member.name] for member in sweep.members]
    summary_csv = sweep_dir / "summary.csv"
    contact_sheet = sweep_dir / "contact_sheet.png"
    report.write_summary_csv(summary_csv, ordered, sweep.varied_keys)
    report.write_contact_sheet(contact_sheet, ordered, sweep.varied_keys)
    return SweepOutcome(sweep_dir, ordered, len(finished), summary_csv, contact_sheet)


def run_member(task: _Task, threads: int | None = None, in_worker: bool = False) -> MemberResult:
    """One member, start to end; any failure becomes a 'failed' result, never an exception."""
    if not in_worker:
        return _run_member(task, threads)
    Path(task.log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(task.log_path, "a") as log, _redirect_output(log.fileno()):
        return _run_member(task, threads)


@contextlib.contextmanager
def _redirect_output(fd: int):
    """Send this process's stdout and stderr (Python's and C++'s) to `fd` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for saved_fd in saved:
            os.close(saved_fd)


def _run_member(task: _Task, threads: int | None) -> MemberResult:
    try:
        os.chdir(task.cwd)
        config = task.member.load_config(task.base)
        from nst.runs import run  # TensorFlow loads here, after the thread limit is in the env.

        _limit_threads(threads)
        if is_training_file(task.base):  # each member trains a network (nst train)
            from nst.runs import training

            if task.resume:
                outcome = training.resume(Path(task.run_dir), show_progress=False)
            else:
                outcome = training.train(
                    config,
                    task.member.name,
                    show_progress=False,
                    run_dir=Path(task.run_dir),
                    hparams=task.member.values,
                )
        elif task.resume:
            outcome = run.resume(Path(task.run_dir), show_progress=False)
        else:
            outcome = run.execute(
                config,
                task.member.name,
                show_progress=False,
                run_dir=Path(task.run_dir),
                hparams=task.member.values,
            )
    except Exception as error:  # A member's failure must not stop the sweep.
        message = str(error) if isinstance(error, UserError) else _describe(error)
        return _failed(task, message)
    result = finished_result(task.member, outcome.run_dir)
    if result is None:  # execute() returned, so its final metrics line is there.
        raise RuntimeError(f"{outcome.run_dir}/metrics.jsonl has no final line")
    return result


def _failed(task: _Task, message: str) -> MemberResult:
    return MemberResult(
        name=task.member.name,
        values=task.member.values,
        status="failed",
        run_dir=task.run_dir,
        final_image=None,
        losses={},
        evaluations=None,
        seconds=None,
        error=message,
    )


def finished_result(member: Member, run_dir: Path) -> MemberResult | None:
    """The result of a member that ran to its end before (metrics.jsonl's final line), or None."""
    metrics = run_dir / "metrics.jsonl"
    final_image = run_dir / "final.png"
    if not metrics.is_file() or not final_image.is_file():
        return None
    lines = metrics.read_text(encoding="utf-8").splitlines()
    try:
        last = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return None
    if not last.get("final"):
        return None
    completed = last.get("stop_reason") == "completed"
    return MemberResult(
        name=member.name,
        values=member.values,
        status="completed" if completed else "stopped early",
        run_dir=str(run_dir),
        final_image=str(final_image),
        losses={key: value for key, value in last.items() if key.startswith("loss/")},
        evaluations=last.get("evaluations"),
        seconds=last.get("seconds"),
        error="" if completed else last.get("stop_reason", ""),
        quality={key: value for key, value in last.items() if key.startswith("quality/")},
    )


def _new_sweep_dir(root: Path, sweep: Sweep) -> Path:
    sweep_dir = create_run_dir(root, sweep.name)
    shutil.copyfile(sweep.source, sweep_dir / SWEEP_FILE)
    return sweep_dir


def _latest_sweep_dir(root: Path, sweep: Sweep) -> Path:
    parent = root / sweep.name
    candidates = sorted(
        (path for path in parent.glob("*") if (path / SWEEP_FILE).is_file()), key=_stamp_order
    )
    if not candidates:
        raise UserError(
            f"--resume: no earlier run of sweep '{sweep.name}' under {parent}: "
            "run it once without --resume"
        )
    return candidates[-1]


def _stamp_order(path: Path) -> tuple[str, int]:
    """'20261124-101500-10' after '20261124-101500-2': the clash suffix sorts as a number."""
    stamp, _, suffix = (
        path.name.rpartition("-") if path.name.count("-") > 1 else (path.name, "", "1")
    )
    return stamp, int(suffix) if suffix.isdigit() else 1


def _keep_incomplete(run_dir: Path) -> None:
    """Move a member's unfinished directory aside, so its rerun starts clean and nothing is lost."""
    aside = run_dir.with_name(run_dir.name + ".incomplete")
    if aside.exists():
        shutil.rmtree(aside)
    run_dir.rename(aside)


def _threads_per_member(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


def _limit_threads(threads: int | None) -> None:
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already started in this (reused) worker; its first setting stays.


def _run_in_processes(tasks: Sequence[_Task], jobs: int, done) -> None:
    """`jobs` fresh processes, one GPU each when several are visible, else a share of the CPUs."""
    context = multiprocessing.get_context("spawn")  # fork would copy a half-started TensorFlow
    gpus = visible_gpus()
    gpu_queue = context.Queue()
    for gpu in gpus[:jobs]:
        gpu_queue.put(gpu)
    threads = None if len(gpus) >= jobs > 1 else _threads_per_member(jobs)
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_claim_gpu,
        initargs=(gpu_queue, len(gpus) >= jobs > 1),
    ) as pool:
        futures = {pool.submit(run_member, task, threads, True): task for task in tasks}
        try:
            for future in as_completed(futures):
                try:
                    done(future.result())
                except Exception as error:  # The worker process died (killed for memory, say).
                    done(_failed(futures[future], f"worker process died: {_describe(error)}"))
        except KeyboardInterrupt:
            # Ctrl-C reaches the workers too: each saves its member's checkpoint and stops.
            # Members not started yet must not start now.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _claim_gpu(gpu_queue, one_gpu_each: bool) -> None:
    if one_gpu_each:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_queue.get()


def visible_gpus() -> list[str]:
    """NVIDIA GPU indices this process may use (without starting TensorFlow)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [gpu for gpu in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if gpu.strip()]
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in enumerate(listing.splitlines()) if line.startswith("GPU")]


def _run_on_ray(tasks: Sequence[_Task], jobs: int, address: str | None, done) -> None:
    """Members as Ray tasks: on the cluster at `address`, or a local Ray started for the sweep."""
    try:
        import ray
    except ImportError:
        raise UserError(
            "--executor ray needs Ray: pip install 'ray[default]' (make install includes it)"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = address or "a local Ray instance"
            raise UserError(f"--executor ray: can't connect to {where} ({error})") from None
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        threads = None if gpus else _threads_per_member(jobs)
        remote = ray.remote(num_cpus=threads or 1, num_gpus=1 if gpus else 0)(run_member)
        pending = {remote.remote(task, threads, True): task for task in tasks}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(ready[0])
            try:
                done(ray.get(ready[0]))
            except Exception as error:  # The Ray worker died (killed for memory, say).
                done(_failed(task, f"Ray worker died: {_describe(error)}"))
    finally:
        if started_here:
            ray.shutdown()


def _describe(error: Exception) -> str:
    text = " ".join(str(error).split()) or "no message"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}"
