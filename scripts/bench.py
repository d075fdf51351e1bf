"""How fast nst is: seconds per loss evaluation, evaluations per iteration, time to quality.

    make bench                   # the default set: under 10 minutes on an idle 2-core CPU
    make bench ARGS=--quick      # sizes 128 and 256, VGG16, short runs: about 2 minutes
    .venv/bin/python scripts/bench.py --sizes 512 --networks vgg19 --json out.json
    .venv/bin/python scripts/bench.py --case run --run-size 512 --set model.network=vgg16
    .venv/bin/python scripts/bench.py --case defaults --size 512 \
        --set model.network=vgg16 model.weights=hed     # configs/starry.yaml end to end

Prints a table and writes every figure to JSON (runs/bench/<timestamp>.json by default):
1. per (size, network), with random weights (the same compute as pretrained ones): the seconds
   of a loss + gradient evaluation as L-BFGS computes it and of the bare feature model's forward
   and backward pass (the fastest of several calls each), and the peak memory; each cell in a
   fresh process (`--cell`);
2. loss evaluations per iteration of each optimiser, counted in the runs of 3;
3. time to quality on Tübingen + Starry Night with VGG16 HED weights: the TensorFlow tutorial's
   Adam (a) and full-size L-BFGS (b) against nst's default settings (c), on the same loss;
4. a real run's seconds per step against the bare evaluation's at the same size (`--case run`
   alone): configs/starry.yaml with its settings, optimised and logged as `nst run` does it (no
   images, snapshots or checkpoints), all steps at one size, random weights unless `--set` says
   otherwise; then, in the same process, the evaluation as section 1 times it.
`--case defaults` instead runs configs/starry.yaml end to end with the current defaults (every
scale, every step, `--set` on top) and reports its wall time, losses and quality scores.
`--case tiled` times evaluations whole and over tiles (nst.algorithm.tiling), each SIZE:TILE cell of
`--tiles` in a fresh process, VGG19 with random weights: seconds per evaluation and peak RSS
(the default cells take about an hour on the 2-core CPU, 8192 px most of it).
"""

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import bench_fast  # scripts/ is on the path when this file runs
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from nst.algorithm import stylize
from nst.algorithm.features import build_feature_model
from nst.algorithm.lbfgs import FixedStepLBFGS
from nst.config import config_from_dict, load_config
from nst.errors import UserError
from nst.runs import preflight, run, weights
from nst.runs.run import load_inputs

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "assets/tubingen.jpg", ROOT / "assets/starry_night.jpg"
SHIPPED = ROOT / "configs/starry.yaml"  # the run case's and `--case defaults`' config
# (default, --quick) for each setting; a flag given explicitly wins over both.
DEFAULTS = {
    "sizes": ([256, 512, 1024], [128, 256]),
    "networks": (["vgg16", "vgg19"], ["vgg16"]),
    "repeats": (1, 1),
    "quality_size": (128, 64),
    "tutorial_steps": (1000, 200),
    "lbfgs_steps": (1000, 100),
    "run_size": (512, 256),
    "run_steps": (20, 10),
}
# Section 1 repeats its timed calls for about this long per (size, network), at least --repeats.
ROUND_SECONDS = 5.0
MAX_ROUNDS = 25
# --case tiled: SIZE:TILE cells; 2240 px is the largest a default run fits whole on 24 GB.
TILED_CELLS = ["1024:off", "1024:512", "2048:off", "2048:1024", "2240:off", "2240:1024"]
TILED_CELLS += ["4096:auto", "8192:auto"]
# The goal for (c): reach each baseline's final loss within this share of its wall time.
TARGETS = {"tutorial": 1 / 10, "lbfgs": 1 / 3}
LABELS = {"tutorial": "(a) TF tutorial Adam", "lbfgs": "(b) L-BFGS", "ours": "(c) nst defaults"}


def bench_config(size: int, network: str, weights: str, **sections):
    """The project's default config for Tübingen + Starry Night, with `sections` on top."""
    data = {"content": str(CONTENT), "style": str(STYLE), "image": {"size": size}}
    data |= {"model": {"network": network, "weights": weights}, **sections}
    return config_from_dict(data, source="bench")


def feature_model(config):
    """(the config's feature model, the config); HED weights fall back to random ones."""
    layers, model = [*config.layers.content, *config.layers.style], config.model
    try:
        return build_feature_model(model.network, model.weights, model.pooling, layers), config
    except UserError as error:
        warnings.warn(f"{error}: using random weights instead", stacklevel=2)
        config = dataclasses.replace(config, model=dataclasses.replace(model, weights="none"))
        return build_feature_model(model.network, "none", model.pooling, layers), config


def value_and_gradient_of(scalar_fn, shape):
    """f(flat image) -> (value, gradient), compiled, the way nst.algorithm.optimize hands it to
    L-BFGS."""

    @tf.function
    def value_and_gradient(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            value = scalar_fn(tf.reshape(position, shape))
        return value, tape.gradient(value, position)

    return value_and_gradient


def timed_call(function, position) -> float:
    started = time.perf_counter()
    value, gradient = function(position)
    value.numpy(), gradient.numpy()  # waits for the device to finish
    return time.perf_counter() - started


def first_and_fastest_seconds(functions: dict, position, repeats: int) -> dict:
    """Per function: (seconds of the first call, tracing included; the fastest of the calls
    after it, with the number of them). The calls after the first go in rounds, one call of each
    function a round, so a change in the machine's speed weighs on all of them alike; there are
    at least `repeats` rounds, and more while they take under ROUND_SECONDS in all (small sizes,
    whose times vary more, get more rounds; large ones take seconds a call)."""
    first = {name: timed_call(function, position) for name, function in functions.items()}
    times = {name: [] for name in functions}
    started, rounds = time.perf_counter(), 0
    while rounds < repeats or (
        time.perf_counter() - started < ROUND_SECONDS and rounds < MAX_ROUNDS
    ):
        for name, function in functions.items():
            times[name].append(timed_call(function, position))
        rounds += 1
    # The fastest call, as timeit reports: the machine's noise (other processes, the clock) only
    # ever adds time, and the loss and the bare network get their fastest alike.
    return {name: (first[name], min(times[name]), len(times[name])) for name in functions}


def measure_cell(size: int, network: str, repeats: int) -> dict:
    """Section 1 for one (size, network), alone in its process so the peak memory is its own."""
    model, config = feature_model(bench_config(size, network, "none"))
    inputs = load_inputs(config)
    loss_fn = tf.function(stylize.make_loss(model, inputs.content, inputs.styles, config))
    shape, position = (1, *inputs.content.shape), tf.constant(inputs.content.reshape(-1))

    def features_sum(image):  # the outputs of the layers the loss reads, with no loss on top
        return tf.add_n([tf.reduce_sum(output) for output in model(image).values()])

    functions = {
        "loss": value_and_gradient_of(lambda image: loss_fn(image)[0], shape),
        "features": value_and_gradient_of(features_sum, shape),
    }
    seconds = first_and_fastest_seconds(functions, position, repeats)
    (loss_first, loss_seconds, calls), (_, features_seconds, _) = (
        seconds["loss"],
        seconds["features"],
    )
    gpu_peak_mib = None
    if tf.config.list_physical_devices("GPU"):
        gpu_peak_mib = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return {
        "size": size,
        "network": network,
        "height": shape[1],
        "width": shape[2],
        "loss_seconds": loss_seconds,
        "features_seconds": features_seconds,
        "loss_overhead_percent": 100 * (loss_seconds / features_seconds - 1),
        "loss_first_call_seconds": loss_first,
        "timed_calls": calls,  # of each, after the first
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "gpu_peak_mib": gpu_peak_mib,
    }


def measure_tiled_cell(size: int, tile: str, network: str) -> dict:
    """`--case tiled`, one cell alone in its process: seconds of a loss + gradient evaluation
    at `size` with image.tile `tile` ("off", px, or "auto": what a run on this machine would
    choose, its optimiser's state included), and the process's peak memory. Large evaluations
    take minutes: after the first call (tracing: seconds) one more is timed if the first took
    under a minute, else the first one counts."""
    config = bench_config(size, network, "none")
    height, width = preflight.output_shape(config)
    if tile == "auto":
        available = preflight.available_memory()
        usable = available.size * 0.9
        config, _ = preflight.fit_memory(
            dataclasses.replace(config, image=dataclasses.replace(config.image, tile="auto")),
            height,
            width,
            usable,
        )
    else:
        config = dataclasses.replace(config, image=dataclasses.replace(config.image, tile=tile))
    model, config = feature_model(config)
    inputs = load_inputs(config)
    started = time.perf_counter()
    loss = stylize.make_loss(model, inputs.content, inputs.styles, config)
    setup_seconds = time.perf_counter() - started
    loss_fn = tf.function(loss)
    shape, position = (1, *inputs.content.shape), tf.constant(inputs.content.reshape(-1))
    evaluation = value_and_gradient_of(lambda image: loss_fn(image)[0], shape)
    first = timed_call(evaluation, position)
    seconds = first if first > 60 else min(first, timed_call(evaluation, position))
    grid = getattr(loss, "grid", None)
    return {
        "size": size,
        "network": network,
        "height": shape[1],
        "width": shape[2],
        "tile": config.image.tile,
        "tiles": grid.describe() if grid is not None and grid.tiled else "whole",
        "history": config.optim.history if config.optim.name == "lbfgs" else None,
        "optim": config.optim.name,
        "setup_seconds": setup_seconds,  # the targets: content features and style statistics
        "evaluation_seconds": seconds,
        "first_call_seconds": first,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def tiled_case(cells: list[str], network: str) -> list[dict]:
    """`--case tiled`: each SIZE:TILE cell in a fresh process, so its peak memory is its own."""
    results = []
    for cell in cells:
        size, _, tile = cell.partition(":")
        command = [sys.executable, __file__, "--tiled-cell", size, tile or "auto", network]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench: the tiled cell {cell} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.splitlines()[-1]))
        print(f"  {cell}: {results[-1]['evaluation_seconds']:.1f} s", file=sys.stderr, flush=True)
    return results


def run_cell(size: int, network: str, repeats: int) -> dict:
    command = [sys.executable, __file__, "--cell", str(size), network, "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: the {size} px {network} cell failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def measure_run(size: int, steps: int, overrides: list[str], repeats: int) -> dict:
    """Section 4, alone in its process: the shipped config optimised and logged as `nst run`
    does it (RunLogger: TensorBoard scalars, metrics.jsonl, the progress reports) with images,
    snapshots and checkpoints off and every step at `size`; then the bare evaluation of the same
    loss in the same process, as section 1 times it, so that both meet the same machine."""
    settings = [f"image.size={size}", "model.weights=none", f"optim.steps={steps}"]
    settings += ["scales.count=1", "log.image_every=0", "log.snapshot_every=0"]
    settings += ["log.checkpoint_every=0", *overrides]
    with tempfile.TemporaryDirectory() as directory:
        config = load_config(str(SHIPPED), [*settings, f"output.root={directory}"])
        config, _ = weights.resolve_model(config)  # for --set model.weights=auto
        weighted = {**config.layers.content, **config.layers.style}
        model = build_feature_model(
            config.model.network,
            config.model.weights,
            config.model.pooling,
            outputs=[layer for layer, weight in weighted.items() if weight > 0],
            seed=config.seed,
            taps=config.model.taps,
            precision=config.model.precision,
        )
        inputs = stylize.prepare_colors(load_inputs(config), config)

        def present(image):
            return stylize.finish_colors(image[0].numpy(), inputs.content, config)

        logger = run.RunLogger(Path(directory), config, present, show_progress=False)
        reports = []  # (arrived, step, seconds in the logger)

        def on_progress(progress):
            arrived = time.perf_counter()
            logger.on_progress(progress)
            reports.append((arrived, progress.step, time.perf_counter() - arrived))

        started = time.perf_counter()
        result = stylize.stylize(
            model, inputs, config, logger.report_steps(), on_progress, logger.start_scale
        )
        logger.close_progress_bar()
    # From the first report (its step traced the compiled step) to the last; the logger's time
    # counts for the reports in between, as in a run.
    (first, first_step, _), (last, last_step, _) = reports[0], reports[-1]
    timed_steps = last_step - first_step
    run_seconds = (last - first) / timed_steps
    logging_seconds = sum(seconds for _, _, seconds in reports[:-1]) / timed_steps
    loss_fn = tf.function(stylize.make_loss(model, inputs.content, inputs.styles, config))
    shape = (1, *inputs.content.shape)
    evaluation = value_and_gradient_of(lambda image: loss_fn(image)[0], shape)
    position = tf.constant(inputs.content.reshape(-1))
    timed_call(evaluation, position)  # traces
    calls = [timed_call(evaluation, position) for _ in range(max(2, repeats))]
    own_work = None
    if config.optim.name == "lbfgs" and config.optim.line_search == "none":
        own_work = lbfgs_own_work(int(position.shape[0]), config.optim.history)
    return {
        "size": size,
        "network": config.model.network,
        "weights": config.model.weights,
        "optim": config.optim.name,
        "history": config.optim.history,
        "log_every": config.log.every,
        "height": shape[1],
        "width": shape[2],
        "steps": result.steps_done,
        "evaluations": result.evaluations,
        "first_step_seconds": first - started,  # tracing included
        "timed_steps": timed_steps,
        "run_seconds_per_step": run_seconds,
        "evaluation_seconds": min(calls),
        "evaluation_seconds_median": float(np.median(calls)),
        "run_over_evaluation": run_seconds / min(calls),
        # On a loaded machine the fastest call is luckier than a run's average step.
        "run_over_evaluation_median": run_seconds / float(np.median(calls)),
        "logging_seconds_per_step": logging_seconds,
        # The optimiser's own work and whatever else a run does besides evaluating and logging;
        # L-BFGS's grows with its stored pairs, at most `steps` here (`history` in a long run).
        "rest_seconds_per_step": run_seconds - logging_seconds - min(calls),
        "lbfgs_own_work_full_history": own_work,  # None for Adam and tfp's L-BFGS
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def lbfgs_own_work(size: int, history: int, iterations: int = 5) -> dict:
    """Seconds of an nst L-BFGS iteration's own work (the two-loop over a full history and the
    updates) at this many pixel values, and the pairs it held: a quadratic stands in for the
    loss (tiny sizes converge before the history fills)."""
    rng = np.random.default_rng(0)
    curvatures = tf.constant(rng.uniform(1.0, 1000.0, size).astype(np.float32))
    minimum = tf.constant(rng.uniform(0.0, 1.0, size).astype(np.float32))

    @tf.function
    def quadratic(position):
        error = position - minimum
        return 0.5 * tf.reduce_sum(curvatures * error * error), curvatures * error

    lbfgs = FixedStepLBFGS(quadratic, tf.zeros([size]), history)
    lbfgs.run(history + 2)  # fills the history (a pair a step while the curvature stays positive)
    started = time.perf_counter()
    lbfgs.run(iterations)
    float(lbfgs.value)
    seconds = (time.perf_counter() - started) / iterations
    return {"seconds": seconds, "pairs": lbfgs.pairs_stored}


def run_run_cell(size: int, steps: int, overrides: list[str], repeats: int) -> dict:
    command = [sys.executable, __file__, "--run-cell", str(size), str(steps)]
    command += ["--repeats", str(repeats), *(["--set", *overrides] if overrides else [])]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: the {size} px run case failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def defaults_run(size: int | None, overrides: list[str]) -> dict:
    """`--case defaults`: configs/starry.yaml end to end as `nst run` runs it, every scale and
    step with the current defaults, `overrides` on top; its run directory is kept."""
    settings = [f"image.size={size}"] if size else []
    settings += [f"output.root={ROOT / 'runs' / 'bench'}", *overrides]
    config = load_config(str(SHIPPED), settings)
    started = time.perf_counter()
    outcome = run.execute(config, "defaults", show_progress=True)
    seconds = time.perf_counter() - started
    lines = (outcome.run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    final = json.loads(lines[-1])
    return {
        "overrides": settings,
        "scales": [dataclasses.asdict(scale) for scale in stylize.plan_scales(config)],
        "network": getattr(outcome, "network", config.model.network),
        "weights": getattr(outcome, "weights", config.model.weights),
        "wall_seconds": seconds,  # model building, tracing, saving and scoring included
        "run_seconds": final.get("seconds"),  # the run's own clock, from its metrics
        "steps": outcome.steps_done,
        "evaluations": outcome.evaluations,
        "stop_reason": outcome.stop_reason,
        "losses": {key: value for key, value in final.items() if key.startswith("loss/")},
        "quality": {key: value for key, value in final.items() if key.startswith("quality/")},
        "run_dir": str(outcome.run_dir),
    }


def evaluations_per_iteration(runs: dict) -> dict:
    """Section 2, from the time-to-quality runs: loss evaluations per iteration (or Adam step),
    the one at the starting image included."""
    return {
        name: {
            "optim": run["optim"]["name"],
            "line_search": run["optim"]["line_search"] if run["optim"]["name"] == "lbfgs" else "",
            "iterations": run["steps_done"],
            "evaluations": run["evaluations"],
            "per_iteration": run["evaluations"] / run["steps_done"],
        }
        for name, run in runs.items()
    }


class _Reached(Exception):
    """Ends a run from its progress callback, keeping the progress it was raised at."""

    def __init__(self, progress):
        super().__init__()
        self.progress = progress


def timed_run(model, inputs, config, reference_loss, stop_at_loss=-math.inf) -> dict:
    """One stylize run recording (seconds since start, step, loss) at each progress report;
    it stops early at the first report whose loss is at most `stop_at_loss`."""
    trace, started = [], time.perf_counter()

    def record(progress):
        trace.append([time.perf_counter() - started, progress.step, progress.loss])
        if progress.loss <= stop_at_loss:
            raise _Reached(progress)

    steps = sum(scale.steps for scale in stylize.plan_scales(config))
    try:
        result = stylize.stylize(model, inputs, config, range(10, steps, 10), record)
        end = result.image, result.steps_done, result.evaluations, result.stop_reason
    except _Reached as reached:
        progress = reached.progress
        end = progress.image, progress.step, progress.evaluations, "reached both baselines"
    seconds = time.perf_counter() - started
    image, steps_done, evaluations, stop_reason = end
    return {
        "optim": dataclasses.asdict(config.optim),
        "scale_sizes": [scale.size for scale in stylize.plan_scales(config)],
        "steps_done": steps_done,
        "evaluations": evaluations,
        "stop_reason": stop_reason,
        "seconds": seconds,
        "final_loss": float(reference_loss(image)[0]),  # the same loss for all runs
        "trace": trace,  # [seconds, step, loss]; L-BFGS's loss is at the current image
    }


def time_to_quality(size: int, tutorial_steps: int, lbfgs_steps: int, ours_steps) -> dict:
    """Section 3: when does (c) reach the final losses of (a) and (b), and how soon is that."""
    full_size = {"scales": {"count": 1}}
    tutorial = {"name": "adam", "learning_rate": 0.02, "beta_1": 0.99, "epsilon": 0.1}
    hager_zhang = {"name": "lbfgs", "line_search": "hager_zhang"}  # tfp's, whatever the default
    configs = {
        "tutorial": {"optim": {**tutorial, "steps": tutorial_steps}, **full_size},
        "lbfgs": {"optim": {**hager_zhang, "steps": lbfgs_steps}, **full_size},
        "ours": {"optim": {"steps": ours_steps}} if ours_steps else {},
    }
    model, base = feature_model(bench_config(size, "vgg16", "hed"))
    inputs = stylize.prepare_colors(load_inputs(base), base)
    # Measures every final image; building it (an eager pass) also warms the model up.
    reference_loss = stylize.make_loss(model, inputs.content, inputs.styles, base)
    runs = {}
    for name, sections in configs.items():
        config = bench_config(size, "vgg16", base.model.weights, **sections)
        baselines = [runs[baseline]["final_loss"] for baseline in TARGETS if baseline in runs]
        stop_at = min(baselines) if name == "ours" else -math.inf  # no use going further
        runs[name] = timed_run(model, inputs, config, reference_loss, stop_at)
    comparisons = {}
    for name, share in TARGETS.items():
        loss = runs[name]["final_loss"]
        reached = [seconds for seconds, _, ours in runs["ours"]["trace"] if ours <= loss]
        ratio = reached[0] / runs[name]["seconds"] if reached else None
        comparisons[name] = {
            "loss": loss,
            "seconds": reached[0] if reached else None,
            "ratio": ratio,
            "target_ratio": share,
            "met": ratio is not None and ratio <= share,
        }
    return {"size": size, "weights": base.model.weights, "runs": runs, "ours_vs": comparisons}


def environment(args) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line]
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "device": {
            "cpu": names[0] if names else platform.processor(),
            "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg()[0],
            "gpus": [tf.config.experimental.get_device_details(g)["device_name"] for g in gpus],
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tensorflow_probability": tfp.__version__,
            "numpy": np.__version__,
        },
        "settings": {
            **{key: getattr(args, key) for key in DEFAULTS},
            "ours_max_steps": args.ours_max_steps,
            "case": args.case,
            "overrides": args.overrides,
            "dtype_policy": keras.mixed_precision.global_policy().name,
            "xla_jit": bool(tf.config.optimizer.get_jit()),
        },
    }


def print_table(header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))


def print_report(report: dict) -> None:
    device, settings = report["device"], report["settings"]
    print(f"nst benchmark, {report['date']}: {report['command']}")
    print(
        f"device: {device['cpu']}, {device['cores']} cores, {', '.join(device['gpus']) or 'no GPU'}"
    )
    print(f"load average at start: {device['load_average_at_start']:.2f}")
    print("versions: " + ", ".join(f"{name} {value}" for name, value in report["versions"].items()))
    xla = "on" if settings["xla_jit"] else "off (L-BFGS's two-loop alone is compiled with it)"
    print(f"dtype policy {settings['dtype_policy']}, XLA auto-clustering {xla}")
    if "seconds_per_evaluation" in report:
        print_sections(report)
    if "run_vs_evaluation" in report:
        print_run_case(report["run_vs_evaluation"])
    if "defaults_run" in report:
        print_defaults(report["defaults_run"])
    if "tiled" in report:
        print_tiled(report["tiled"])
    if "fast" in report:
        bench_fast.print_fast(report["fast"])


def print_sections(report: dict) -> None:
    """Sections 1 to 3."""
    device, settings = report["device"], report["settings"]
    print("\n1. Seconds per loss + gradient evaluation (the fastest of the calls after the first)")
    header = ["size", "network", "loss s", "features s", "loss extra", "calls", "1st call s"]
    header += ["RSS MiB"]
    rows = []
    for cell in report["seconds_per_evaluation"]:
        rows.append(
            [f"{cell['width']}x{cell['height']}", cell["network"], f"{cell['loss_seconds']:.3f}"]
            + [f"{cell['features_seconds']:.3f}", f"{cell['loss_overhead_percent']:+.1f}%"]
            + [cell["timed_calls"]]
            + [f"{cell['loss_first_call_seconds']:.1f}", f"{cell['peak_rss_mib']:.0f}"]
            + ([f"{cell['gpu_peak_mib']:.0f}"] if device["gpus"] else [])
        )
    print_table(header + (["GPU MiB"] if device["gpus"] else []), rows)

    size = settings["quality_size"]
    print(f"\n2. Loss evaluations per iteration (in the time-to-quality runs, {size} px)")
    rows = [
        [LABELS[name], f"{run['optim']} {run['line_search']}".strip(), run["evaluations"]]
        + [run["iterations"], f"{run['per_iteration']:.2f}"]
        for name, run in report["evaluations_per_iteration"].items()
    ]
    print_table(["run", "optimizer", "evaluations", "iterations", "per iteration"], rows)

    quality, runs = report["time_to_quality"], report["time_to_quality"]["runs"]
    print(f"\n3. Time to quality, {quality['size']} px, VGG16 {quality['weights']} weights")
    rows = [
        [LABELS[name], run["steps_done"], run["evaluations"], f"{run['seconds']:.1f}"]
        + [f"{run['final_loss']:.4g}"]
        for name, run in runs.items()
    ]
    print_table(["run", "steps", "evaluations", "seconds", "final loss"], rows)
    for name, compared in quality["ours_vs"].items():
        letter, goal = LABELS[name][:3], f"target at most {compared['target_ratio']:.2f}"
        if compared["seconds"] is None:
            print(
                f"(c) did not reach {letter}'s loss {compared['loss']:.4g} (its final loss "
                f"{runs['ours']['final_loss']:.4g}); {goal}: missed"
            )
        else:
            print(
                f"(c) reached {letter}'s loss {compared['loss']:.4g} after "
                f"{compared['seconds']:.1f} s = {compared['ratio']:.2f} of {letter}'s "
                f"{runs[name]['seconds']:.1f} s; {goal}: {'met' if compared['met'] else 'missed'}"
            )


def print_run_case(case: dict) -> None:
    first = case["steps"] - case["timed_steps"]
    print(
        f"\n4. A real run's seconds per step against the bare evaluation's (configs/starry.yaml, "
        f"{case['optim']}, log every {case['log_every']}, steps {first} to {case['steps']}, "
        f"weights {case['weights']})"
    )
    header = ["size", "network", "run s/step", "evaluation s", "run/evaluation", "(/median)"]
    header += ["logging s/step", "rest s/step", "1st step s"]
    row = [f"{case['width']}x{case['height']}", case["network"]]
    row += [f"{case[key]:.3f}" for key in ("run_seconds_per_step", "evaluation_seconds")]
    row += [f"{case['run_over_evaluation']:.2f}", f"{case['run_over_evaluation_median']:.2f}"]
    row += [f"{case[key]:.3f}" for key in ("logging_seconds_per_step", "rest_seconds_per_step")]
    print_table(header, [[*row, f"{case['first_step_seconds']:.1f}"]])
    print(
        "rest: the optimiser's own work and the loop's; L-BFGS's grows with its stored pairs, "
        f"at most {min(case['steps'], case['history'])} here and {case['history']} in a long run"
    )
    if own := case["lbfgs_own_work_full_history"]:
        print(
            f"L-BFGS's own work with {own['pairs']} pairs (a quadratic for the loss): "
            f"{own['seconds']:.3f} s an iteration"
        )


def print_tiled(cells: list[dict]) -> None:
    print(
        "\nTiled evaluation (nst.algorithm.tiling): seconds per loss + gradient evaluation, "
        "peak RSS"
    )
    whole = {cell["size"]: cell["evaluation_seconds"] for cell in cells if cell["tiles"] == "whole"}
    header = ["size", "network", "image.tile", "tiles", "evaluation s", "vs whole"]
    header += ["targets s", "RSS MiB"]
    rows = []
    for cell in cells:
        ratio = ""
        if cell["tiles"] != "whole" and cell["size"] in whole:
            ratio = f"{cell['evaluation_seconds'] / whole[cell['size']]:.2f}x"
        rows.append(
            [f"{cell['width']}x{cell['height']}", cell["network"], cell["tile"], cell["tiles"]]
            + [f"{cell['evaluation_seconds']:.1f}", ratio, f"{cell['setup_seconds']:.1f}"]
            + [f"{cell['peak_rss_mib']:.0f}"]
        )
    print_table(header, rows)


def print_defaults(case: dict) -> None:
    scales = " + ".join(f"{scale['steps']} at {scale['size']} px" for scale in case["scales"])
    print(f"\nconfigs/starry.yaml end to end, {case['network']} {case['weights']}: {scales}")
    print(f"settings: {' '.join(case['overrides'])}")
    print(
        f"{case['wall_seconds']:.1f} s wall ({case['run_seconds']} s by the run's clock), "
        f"{case['steps']} steps, {case['evaluations']} evaluations: {case['stop_reason']}"
    )
    for key, value in {**case["losses"], **case["quality"]}.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, int | float) else f"  {key}: {value}")
    print(f"run directory: {case['run_dir']}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="longest sides, px (256 512 1024)")
    parser.add_argument("--networks", nargs="+", choices=["vgg16", "vgg19"], help="(vgg16 vgg19)")
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"timed calls per figure at least; more up to {ROUND_SECONDS:.0f} s (1)",
    )
    parser.add_argument("--quality-size", type=int, help="size of the time-to-quality runs (128)")
    parser.add_argument("--tutorial-steps", type=int, help="Adam steps of run (a) (1000)")
    parser.add_argument("--lbfgs-steps", type=int, help="L-BFGS iterations of run (b) (1000)")
    parser.add_argument("--ours-max-steps", type=int, help="optim.steps of run (c) (its default)")
    parser.add_argument(
        "--quick", action="store_true", help="128 256 px, vgg16, 64 px quality runs"
    )
    parser.add_argument(
        "--case",
        choices=["standard", "run", "defaults", "tiled", "fast"],
        default="standard",
        help="standard: sections 1 to 4 (the default); run: section 4 alone; defaults: "
        "configs/starry.yaml end to end with the current defaults; tiled: evaluations whole "
        "and tiled (--tiles); fast: the feed-forward network (scripts/bench_fast.py)",
    )
    parser.add_argument(
        "--model", default="models/starry.keras", help="--case fast: the model to export"
    )
    parser.add_argument(
        "--train-config",
        default="configs/train/starry.yaml",
        help="--case fast: the config whose training step is timed",
    )
    parser.add_argument(
        "--train-steps", type=int, default=10, help="--case fast: training steps timed (10)"
    )
    parser.add_argument(
        "--tiles",
        nargs="+",
        default=TILED_CELLS,
        metavar="SIZE:TILE",
        help="cells of --case tiled: image.size and image.tile (off, px or auto) "
        f"({' '.join(TILED_CELLS)})",
    )
    parser.add_argument(
        "--tiled-network", default="vgg19", choices=["vgg16", "vgg19"], help="(vgg19)"
    )
    parser.add_argument("--run-size", type=int, help="size of the run case, section 4 (512)")
    parser.add_argument("--run-steps", type=int, help="steps of the run case (20)")
    parser.add_argument("--size", type=int, help="image.size of --case defaults (the config's)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides for the run case and --case defaults, as nst run --set",
    )
    parser.add_argument("--json", type=Path, help="where to write (runs/bench/<timestamp>.json)")
    parser.add_argument("--cell", nargs=2, metavar=("SIZE", "NETWORK"), help="internal: section 1")
    parser.add_argument(
        "--run-cell", nargs=2, type=int, metavar=("SIZE", "STEPS"), help="internal: section 4"
    )
    parser.add_argument(
        "--tiled-cell", nargs=3, metavar=("SIZE", "TILE", "NETWORK"), help="internal: tiled"
    )
    args = parser.parse_args(argv)
    for key, (default, quick) in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else default)
    return args


def main(argv=None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    if args.cell:
        print(json.dumps(measure_cell(int(args.cell[0]), args.cell[1], args.repeats)))
        return
    if args.run_cell:
        size, steps = args.run_cell
        print(json.dumps(measure_run(size, steps, args.overrides, args.repeats)))
        return
    if args.tiled_cell:
        size, tile, network = args.tiled_cell
        print(json.dumps(measure_tiled_cell(int(size), tile, network)))
        return
    report = environment(args)
    if args.case == "fast":
        report["fast"] = bench_fast.fast_case(
            args.model, args.train_config, args.repeats, args.train_steps
        )
    elif args.case == "tiled":
        report["tiled"] = tiled_case(args.tiles, args.tiled_network)
    elif args.case == "defaults":
        report["defaults_run"] = defaults_run(args.size, args.overrides)
    else:
        if args.case == "standard":
            report["seconds_per_evaluation"] = [
                run_cell(size, network, args.repeats)
                for size in args.sizes
                for network in args.networks
            ]
        run_case = run_run_cell(args.run_size, args.run_steps, args.overrides, args.repeats)
        report["run_vs_evaluation"] = run_case
        if args.case == "standard":
            report["time_to_quality"] = time_to_quality(
                args.quality_size, args.tutorial_steps, args.lbfgs_steps, args.ours_max_steps
            )
            report["evaluations_per_iteration"] = evaluations_per_iteration(
                report["time_to_quality"]["runs"]
            )
    report["bench_seconds"] = time.perf_counter() - started
    print_report(report)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or ROOT / "runs" / "bench" / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nthe benchmark took {report['bench_seconds'] / 60:.1f} minutes; wrote {path}")


if __name__ == "__main__":
    main()
