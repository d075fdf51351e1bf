"""The `nst` command: parse arguments, wire the run, turn user errors into one line and exit 2."""

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path

from nst import __version__, networks
from nst.errors import UserError
from nst.runs.interrupts import RunInterrupted  # Fast: no TensorFlow.

EXIT_USER_ERROR = 2
EXIT_MEMBERS_FAILED = 1
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as error:
        print(f"nst: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RunInterrupted as interrupt:  # The run saved a checkpoint first.
        run_dir = interrupt.run_dir
        kept = (
            "interrupted.keras"
            if Path(run_dir, "interrupted.keras").is_file()
            else "interrupted.png"
        )
        print(
            f"nst: {interrupt}; saved {run_dir}/{kept} and a checkpoint. Resume with:\n"
            f"  nst resume {run_dir}\n  (or: make resume RUN={run_dir})",
            file=sys.stderr,
        )
        return interrupt.exit_code
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nst", description="Neural style transfer from YAML configs."
    )
    parser.add_argument("--version", action="version", version=f"nst {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="stylize an image as a config describes",
        description="Stylize an image as CONFIG describes; each run gets its own directory. "
        "A content naming a video (or frames with video.frames: true) stylizes the clip; a "
        "folder or glob of images stylizes each, as a sweep over content.",
    )
    run.add_argument(
        "config", metavar="CONFIG", help="YAML experiment config, e.g. configs/starry.yaml"
    )
    _add_set_and_quiet(run, "optim.steps=200 loss.style_weight=1e3")
    _add_parallel_arguments(run, "images of a folder or glob content")
    run.add_argument(
        "--resume",
        action="store_true",
        help="a folder or glob content: continue the latest batch, skipping finished images",
    )
    run.set_defaults(handler=_run)

    resume = commands.add_parser(
        "resume",
        help="continue a run stopped by Ctrl-C, SIGTERM or a crash",
        description="Continue the run in RUN_DIR from its last checkpoint to the configured "
        "number of steps, in the same directory.",
    )
    resume.add_argument(
        "run_dir", metavar="RUN_DIR", help="the run's directory, e.g. runs/starry/…"
    )
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    resume.set_defaults(handler=_resume)

    sweep = commands.add_parser(
        "sweep",
        help="run every member of a sweep file and compare them",
        description="Run every member of SWEEP (a base config and the keys to vary), then write "
        "summary.csv and contact_sheet.png into the sweep's directory.",
    )
    sweep.add_argument(
        "sweep", metavar="SWEEP", help="YAML sweep file, e.g. configs/sweeps/style_weight.yaml"
    )
    sweep.add_argument(
        "--resume",
        action="store_true",
        help="continue the latest run of this sweep, skipping finished members",
    )
    _add_parallel_arguments(sweep, "members")
    sweep.set_defaults(handler=_sweep)

    score = commands.add_parser(
        "score",
        help="score images against a content and a style image",
        description="Score each IMAGE (nst's or any other tool's result) against CONTENT and "
        "STYLE as every run does (docs/quality.md 'Quality readout'): palette, strokes and "
        "contrast against the style, the coherence of the strokes, and the content and style "
        "distances on the network at fixed layers; lower is better, a contrast of 1 is the "
        "style's, and the style's own coherence is the one to aim at. Every image is taken at "
        "256 px on its longest side, and at 512 px for coherence.",
    )
    score.add_argument("content", metavar="CONTENT", help="the content image, e.g. a photo")
    score.add_argument(
        "style",
        metavar="STYLE",
        help="one style image (a run with several styles scores their blend in metrics.jsonl)",
    )
    score.add_argument("images", metavar="IMAGE", nargs="+", help="the images to score")
    score.add_argument(
        "--network",
        choices=networks.NETWORKS,
        default=None,
        help="default: the configs' default model.network",
    )
    score.add_argument(
        "--weights",
        default=None,
        help="auto, imagenet, hed (VGG16, offline), none or a weights file; "
        "default: the configs' default model.weights",
    )
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.set_defaults(handler=_score)
    _add_fast_commands(commands)
    _add_web_command(commands)
    return parser


def _add_web_command(commands) -> None:
    web = commands.add_parser(
        "web",
        help="a page in the browser: make pictures, look back at runs, apply networks",
        description="Start the nst page (docs/web.md) on this machine and print its address. "
        "Every picture is an ordinary run directory under --runs.",
    )
    web.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; another address "
        "needs --auth)",
    )
    web.add_argument("--port", type=int, default=None, help="default: a free port")
    web.add_argument(
        "--auth",
        default=os.environ.get("NST_WEB_AUTH"),
        metavar="USER:PASSWORD",
        help="ask for this user and password (default: $NST_WEB_AUTH, which keeps the password "
        "out of the process list)",
    )
    web.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="pictures made at once (default 1; the others wait in a queue the page shows)",
    )
    web.add_argument("--runs", default="runs", help="the runs folder (default runs)")
    web.add_argument(
        "--max-upload-mb", type=float, default=None, help="largest upload in MB (default 25)"
    )
    web.set_defaults(handler=_web)


def _web(args: argparse.Namespace) -> int:
    from nst.web import server

    server.check_host(args.host, args.auth)  # refused before anything loads or listens
    server.parse_auth(args.auth)
    _load_tensorflow_quietly()
    server.launch(
        runs=args.runs,
        host=args.host,
        port=args.port,
        auth=args.auth,
        jobs=args.jobs,
        max_upload_mb=args.max_upload_mb,
    )
    return 0


def _add_fast_commands(commands) -> None:
    """train, apply, export: feed-forward networks (docs/fast.md)."""
    train = commands.add_parser(
        "train",
        help="train a network that stylizes any photo in one pass",
        description="Train a feed-forward network for CONFIG's style on train.photos with the "
        "same loss as nst run (Johnson et al. 2016); its run directory holds model.keras for "
        "nst apply.",
    )
    train.add_argument("config", metavar="CONFIG", help="e.g. configs/train/starry.yaml")
    _add_set_and_quiet(train, "train.steps=500")
    train.set_defaults(handler=_train)

    apply = commands.add_parser(
        "apply",
        help="stylize photos, folders and clips with a trained network",
        description="Stylize each INPUT (photos, folders or globs of photos, videos, GIFs) "
        "with MODEL (a .keras file nst train made, e.g. models/starry.keras) into a new "
        "directory under runs/apply/.",
    )
    apply.add_argument("model", metavar="MODEL", help="e.g. models/starry.keras")
    apply.add_argument("inputs", metavar="INPUT", nargs="+", help="photos, folders or clips")
    apply.add_argument(
        "--size", type=int, default=None, help="longest side in px (default: each input's own)"
    )
    apply.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="0 gives the photo back, 1 the model's full look (default 1)",
    )
    apply.add_argument(
        "--preserve",
        choices=("none", "transfer", "luminance"),
        default="none",
        help="keep the photo's colours, as color.preserve in nst run (default none)",
    )
    apply.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
        default="auto",
        help="auto: bfloat16 on CPUs that compute it natively, else float32",
    )
    apply.add_argument(
        "--temporal",
        type=float,
        default=None,
        help="clips: how much of the previous frame's picture each frame keeps where the "
        "optical flow is reliable, 0 to below 1 (default: docs/fast.md)",
    )
    apply.add_argument("--output", default=None, help="one photo's result file instead")
    apply.add_argument("--root", default="runs", help="where runs/apply/ goes (default runs)")
    apply.add_argument("--quiet", action="store_true", help="no progress bar on clips")
    apply.set_defaults(handler=_apply)

    export = commands.add_parser(
        "export",
        help="a trained network as a SavedModel or a TFLite file",
        description="Write MODEL as a TensorFlow SavedModel or a TFLite flat buffer (float16 "
        "weights), taking one photo of any size in [0, 1].",
    )
    export.add_argument("model", metavar="MODEL", help="e.g. models/starry.keras")
    export.add_argument("--format", choices=("savedmodel", "tflite"), default="tflite")
    export.add_argument("--output", default=None, help="default: beside MODEL")
    export.set_defaults(handler=_export)


def _train(args: argparse.Namespace) -> int:
    from nst.config import load_config

    load_config(args.config, args.overrides, training=True)  # checked before TensorFlow loads
    _load_tensorflow_quietly()
    from nst import api
    from nst.runs import run

    try:
        outcome = api.train(args.config, args.overrides, progress=not args.quiet)
    except run.RunFailed as failure:
        print(f"nst: {failure}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return _report_training(outcome)


def _report_training(outcome) -> int:
    minutes = outcome.seconds / 60
    quality = outcome.quality
    readout = (
        f"; validation palette {quality['palette']:.3g}, strokes {quality['strokes']:.3g}"
        if quality
        else ""
    )
    print(f"{outcome.steps_done} steps in {minutes:.1f} min{readout}")
    print(f"model: {outcome.model_path}")
    print(f"  try: nst apply {outcome.model_path} assets/kodak/validation")
    print(f"run directory: {outcome.run_dir}  (make tensorboard to see the curves)")
    return 0


def _apply(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():  # said before TensorFlow's seconds of loading
        raise UserError(
            f"model {args.model} does not exist: give a .keras file nst train made "
            "(runs/<name>/<time>/model.keras, or models/starry.keras)"
        )
    _load_tensorflow_quietly()
    from nst.runs import applying

    painter = applying.Painter(args.model, args.strength, args.preserve, precision=args.precision)
    made_for = painter.info.get("image_size")
    if made_for and args.size and args.size > 2 * made_for:
        print(
            f"nst: {args.model} was trained for {made_for} px: at {args.size} px its strokes are "
            f"{args.size / made_for:.1f}x smaller relative to the picture (docs/fast.md "
            "'Stroke size')",
            file=sys.stderr,
        )

    def report(applied) -> None:
        what = f"{applied.frames} frames, " if applied.frames > 1 else ""
        flicker = (
            f", warping error {applied.warping_error:.4g}"
            if applied.warping_error is not None
            else ""
        )
        print(f"{applied.output}: {what}{applied.seconds:.2f} s{flicker}", flush=True)

    outcome = applying.apply(
        painter,
        args.inputs,
        root=args.root,
        size=args.size,
        output=args.output,
        on_result=report,
        show_progress=not args.quiet,
        temporal=applying.TEMPORAL if args.temporal is None else args.temporal,
    )
    if outcome.contact_sheet:
        print(f"contact sheet: {outcome.contact_sheet}")
    return 0


def _export(args: argparse.Namespace) -> int:
    _load_tensorflow_quietly()
    from nst import api

    print(f"wrote {api.export(args.model, args.format, args.output)}")
    return 0


def _add_set_and_quiet(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help=f"override config values, e.g. --set {example}",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_parallel_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help=f"{what} to run at once (default 1)"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"where {what} run (default local)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster address for --executor ray (default: start a local Ray)",
    )


def _run(args: argparse.Namespace) -> int:
    from nst.config import load_config  # Fast: validates before TensorFlow loads.
    from nst.runs import batch

    config = load_config(args.config, args.overrides)
    name = config.output.name or Path(args.config).stem
    if batch.is_batch(config):
        sweep = batch.stills_sweep(args.config, args.overrides, config, name)
        return _run_sweep(sweep, args, f"nst run {args.config} --resume")
    if args.jobs != 1 or args.executor != "local" or args.resume:
        raise UserError(
            "--jobs, --executor and --resume are for a content naming a folder or glob of "
            f"images; {args.config} stylizes one {'clip' if batch.is_clip(config) else 'image'}"
        )
    _load_tensorflow_quietly()
    from nst import api

    # Images are checked before the model is built or any directory is made.
    return _finish(api.run, args.config, args.overrides, progress=not args.quiet)


def _resume(args: argparse.Namespace) -> int:
    if not Path(args.run_dir).is_dir():
        raise UserError(
            f"{args.run_dir}: no such run directory (nst resume takes runs/<name>/<time>)"
        )
    _load_tensorflow_quietly()
    from nst import api

    return _finish(api.resume, args.run_dir, progress=not args.quiet)


def _finish(run_function, *args, **kwargs) -> int:
    """Call `nst.api.run` or `nst.api.resume` and report how the run or clip ended."""
    from nst import api
    from nst.runs import run

    try:
        outcome = run_function(*args, **kwargs)
    except run.RunFailed as failure:
        print(f"nst: {failure}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if hasattr(outcome, "model_path"):  # a training run (nst train), resumed
        return _report_training(outcome)
    if not isinstance(outcome, api.Result):
        return _report_clip(outcome)
    if outcome.stop_reason != "completed":
        print(f"stopped early: {outcome.stop_reason}", file=sys.stderr)
    total = outcome.losses["loss/total"]
    model = outcome.config.model  # auto resolved: what was used
    print(
        f"{outcome.steps} steps, {outcome.evaluations} loss evaluations, final loss {total:.4g} "
        f"({model.network}, weights {model.weights})"
    )
    print(f"result: {outcome.run_dir / 'final.png'}")
    print(f"run directory: {outcome.run_dir}  (make tensorboard to compare runs)")
    return 0


def _report_clip(outcome) -> int:
    model = f"{outcome.network}, weights {outcome.weights}"
    print(
        f"{outcome.frames} frames, {outcome.steps_done} steps, warping error "
        f"{outcome.warping_error:.4g}, mean loss {outcome.final_loss['loss/total']:.4g} ({model})"
    )
    print(f"result: {outcome.video}  (frames in {outcome.run_dir / 'frames'})")
    print(f"run directory: {outcome.run_dir}  (make tensorboard to compare runs)")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from nst.runs.sweep import load_sweep

    return _run_sweep(load_sweep(args.sweep), args, f"nst sweep {args.sweep} --resume")


def _run_sweep(sweep, args: argparse.Namespace, resume_command: str) -> int:
    """Run a sweep (or a batch of images, nst.runs.batch) and report it."""
    _load_tensorflow_quietly()  # Once, here, for the members that run in this process.
    from nst import api

    total = len(sweep.members)
    print(f"sweep {sweep.name}: {total} members, varying {', '.join(sweep.varied_keys)}")

    def report(result, done: int, total: int) -> None:
        loss = result.losses.get("loss/total")
        detail = f"final loss {loss:.4g}" if loss is not None else result.error
        print(f"[{done}/{total}] {result.name}: {result.status}, {detail}", flush=True)

    try:
        outcome = api.sweep(
            sweep,
            jobs=args.jobs,
            executor=args.executor,
            address=args.address,
            resume=args.resume,
            on_member_done=report,
        )
    except KeyboardInterrupt as interrupt:
        print(
            f"nst: sweep interrupted; members stopped mid-run saved a checkpoint. Continue with:\n"
            f"  {resume_command}",
            file=sys.stderr,
        )
        return getattr(interrupt, "exit_code", EXIT_INTERRUPTED)
    if outcome.skipped:
        print(f"resumed {outcome.sweep_dir}: {outcome.skipped} finished members skipped")
    print(f"summary: {outcome.summary_csv}")
    print(f"contact sheet: {outcome.contact_sheet}")
    print(f"sweep directory: {outcome.sweep_dir}  (make tensorboard LOGDIR={outcome.sweep_dir})")
    if outcome.failed:
        print(f"{len(outcome.failed)} of {total} members failed: see summary.csv", file=sys.stderr)
        return EXIT_MEMBERS_FAILED
    return 0


def _score(args: argparse.Namespace) -> int:
    from nst.config import ModelConfig

    defaults = ModelConfig()  # Read now: scores use the model a config would by default.
    network = args.network or defaults.network
    model_weights = args.weights or defaults.weights
    if model_weights == "hed" and network != "vgg16":
        raise UserError(
            f"--weights hed has VGG16 weights only: add --network vgg16 (not {network})"
        )
    from nst import api

    scores, (network, model_weights) = api.quality_readouts(
        args.content, args.style, args.images, network, model_weights, _load_tensorflow_quietly
    )
    model = {"network": network, "weights": model_weights}
    print(_scores_json(args, model, scores) if args.json else _scores_table(args, model, scores))
    return 0


def _scores_table(args: argparse.Namespace, model: dict, scores: list[dict]) -> str:
    from nst.algorithm import metrics, scoring

    width = max(len("image"), *map(len, args.images))
    lines = [
        f"{model['network']}, weights {model['weights']}; images at {metrics.SIDE} px "
        f"(coherence at {metrics.COHERENCE_SIDE})",
        f"{'image':<{width}}" + "".join(f"{name:>10}" for name in scoring.NAMES),
    ]
    for path, row in zip(args.images, scores, strict=True):
        lines.append(f"{path:<{width}}" + "".join(f"{row[name]:>10.4g}" for name in scoring.NAMES))
    return "\n".join(lines)


def _scores_json(args: argparse.Namespace, model: dict, scores: list[dict]) -> str:
    """Strict JSON: a score that could not be computed (NaN) is null."""
    from nst.algorithm import metrics

    rows = [
        {"image": path}
        | {name: None if math.isnan(value) else value for name, value in row.items()}
        for path, row in zip(args.images, scores, strict=True)
    ]
    inputs = {
        "content": args.content,
        "style": args.style,
        "side": metrics.SIDE,
        "coherence_side": metrics.COHERENCE_SIDE,
    }
    return json.dumps(model | inputs | {"scores": rows}, indent=2)


def _load_tensorflow_quietly() -> None:
    """Import TensorFlow and nst's TensorFlow modules, and find the devices, without the C++ log
    lines they print on the way (set NST_VERBOSE=1 to see them)."""
    with _quiet_stderr():
        import tensorflow as tf

        import nst.runs.run  # noqa: F401 (TensorFlow Probability and Keras load here)

        tf.config.list_physical_devices()  # Device discovery logs too.


@contextlib.contextmanager
def _quiet_stderr():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("NST_VERBOSE"):
        yield
        return
    # Those lines are written by C++ straight to file descriptor 2, past Python's sys.stderr.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
