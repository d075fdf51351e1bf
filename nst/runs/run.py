"""One run end to end: inputs, run directory, TensorBoard, snapshots, metrics, the final image.

Layout of a run directory (`<output.root>/<name>/<timestamp>/`):

    config.yaml       the resolved config, every key, written before the first step
    metrics.jsonl     one JSON object per log point, then one with "final": true
    snapshots/        step_000100.png ... every log.snapshot_every steps
    checkpoint.npz    the optimiser's state every log.checkpoint_every steps and when stopped
                      by Ctrl-C or SIGTERM (then also interrupted.png); gone once the run ends
    final.png         the result; a run whose loss became NaN leaves last_good.png instead
    events.out.tfevents.*   TensorBoard scalars, images and the config as text

`nst resume RUN_DIR` continues a stopped run from its checkpoint in the same directory: the
metrics and TensorBoard curves go on from the checkpoint's step.
"""

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst import images, networks
from nst.algorithm import metrics, scoring, stylize
from nst.algorithm.optimize import Progress
from nst.algorithm.step_stop import StepStop
from nst.config import Config, dump_config, load_config, used_layers
from nst.errors import UserError
from nst.runs import checkpoints, feature_models, preflight
from nst.runs.interrupts import RunInterrupted, StopRequests, call_attentively
from nst.runs.logger import RunLogger, hparams_of, restore_random_state
from nst.runs.run_dirs import create_run_dir


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    final_image: Path
    steps_done: int
    evaluations: int
    stop_reason: str
    final_loss: dict[str, float]
    network: str  # the network and weights used: model.weights=auto resolved
    weights: str


class RunFailed(Exception):
    """The loss became NaN or infinite; the run directory keeps the last good image."""

    def __init__(self, reason: str, last_good_image: Path, step: int):
        super().__init__(
            f"the run failed: {reason}; the last good image (step {step}) is {last_good_image}"
        )


def load_inputs(
    config: Config,
    content: np.ndarray | None = None,
    given: Mapping[str, np.ndarray] | None = None,
) -> stylize.Inputs:
    """Every image the run needs, read and sized before any model or directory is made;
    `content` instead of config.content's image (a clip's first frame, at image.size); `given`
    holds images already in memory (the Python API's arrays) under the names the config uses
    for them instead of paths."""
    size = config.image.size
    if content is None:
        content = _image(config.content, size, "content image", given)
    style_size = max(16, round(size * config.image.style_scale))
    styles = [_image(style.path, style_size, "style image", given) for style in config.style]
    height, width, _ = content.shape
    masks = [_load_mask(style.path, style.mask, height, width, given) for style in config.style]
    smallest = stylize.plan_scales(config)[0].size / size
    _check_large_enough(config, "content image", config.content, content, smallest)
    for style, pixels in zip(config.style, styles, strict=True):
        _check_large_enough(config, "style image", style.path, pixels, smallest)
    init_image = None
    if config.init not in ("content", "noise", "style"):
        init_image = images.load_image(config.init, role="init image")
    return stylize.Inputs(content, styles, masks, init_image)


def _image(
    path: str, max_size: int | None, role: str, given: Mapping[str, np.ndarray] | None
) -> np.ndarray:
    """The image at `path`, or the one `given` under that name, no larger than `max_size`."""
    if given and path in given:
        pixels = given[path]
        if max_size is not None and max(pixels.shape[:2]) > max_size:
            pixels = images.resize_longest_side(pixels, max_size)
        return pixels
    return images.load_image(path, max_size=max_size, role=role)


def _load_mask(
    style_path: str, mask_path: str, height: int, width: int, given=None
) -> np.ndarray | None:
    """A style's mask as (H, W) weights in [0, 1] at the content's size (white = style here)."""
    if not mask_path:
        return None
    role = f"mask of style '{style_path}'"
    mask = images.resize_to(_image(mask_path, None, role, given), height, width).mean(axis=2)
    if float(mask.max()) < 1 / 255:
        raise UserError(f"{role} '{mask_path}' is black everywhere: paint the style's region white")
    return mask


def _check_large_enough(
    config: Config, role: str, path: str, pixels: np.ndarray, smallest_scale: float
) -> None:
    """Every pool halves the image: the deepest layer must still see at least one position."""
    deepest = max(used_layers(config), key=networks.min_input_side)
    needed = networks.min_input_side(deepest)
    height, width, _ = pixels.shape
    if min(height, width) * smallest_scale < needed:
        where = f"image.size={config.image.size}"
        if smallest_scale < 1:
            where += f" (its first scale is {config.scales.min_size} px: see scales.min_size)"
        raise UserError(
            f"{role} '{path}' is {width}x{height} px at {where}, too small for layer {deepest}, "
            f"which needs {needed} px on each side: raise image.size or use shallower layers"
        )


def execute(
    config: Config,
    name: str,
    show_progress: bool = True,
    run_dir: Path | None = None,
    hparams: Mapping[str, object] | None = None,
    on_log: Callable[[int, int, dict, np.ndarray], None] | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Run the config: everything is checked and loaded first, then the directory is made.

    The directory is `<output.root>/<name>/<timestamp>` unless `run_dir` names one (a sweep
    member's), which must not exist yet. `hparams` add to the hyperparameters TensorBoard shows.
    Ctrl-C or SIGTERM ends it with RunInterrupted after saving a checkpoint (see `resume`); a
    NaN loss ends it with RunFailed. `on_log(step, scale index, losses, picture)` hears each
    log point (log.every) with what was logged and the picture as saved; raising
    nst.algorithm.optimize.StopEarly there ends the run with that step's image as its result
    (the Python API's callback). Setting `stop` from another thread stops it as Ctrl-C does.
    """
    # Output directory, memory and disk, before anything is loaded, built or written; tiles
    # and the optimiser's state sized to fit (image.tile: auto), as config.yaml records them.
    config = preflight.check_run(config, None if run_dir is None else run_dir.parent)
    inputs = load_inputs(config)
    config = feature_models.resolve_weights(config)  # What config.yaml and the HParams record.
    feature_model = feature_models.build_model(config)
    if run_dir is None:
        run_dir = create_run_dir(config.output.root, name)
    else:
        run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_config(config))
    logger = RunLogger(run_dir, config, _presenter(inputs, config), show_progress)
    prepared = stylize.prepare_colors(inputs, config)
    logger.log_hparams(hparams_of(config, hparams or {}), trial=name)
    logger.log_inputs(prepared)
    return _optimise(feature_model, prepared, config, logger, on_log=on_log, stop=stop)


def resume(
    run_dir: Path,
    show_progress: bool = True,
    on_log: Callable[[int, int, dict, np.ndarray], None] | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Continue a run stopped by Ctrl-C, SIGTERM or a crash from its checkpoint, in its own
    directory, to the configured number of steps; the same result as if it had not stopped.
    `on_log` and `stop` as for `execute`."""
    run_dir = Path(run_dir)
    if (run_dir / "final.png").is_file():
        raise UserError(f"{run_dir} has finished already (final.png): nothing to resume")
    meta, state = checkpoints.load_checkpoint(run_dir)
    config = paths_from(load_config(str(run_dir / "config.yaml")), Path(meta["cwd"]))
    # The machine may have changed since; config.yaml has image.tile resolved already.
    config = preflight.check_run(config, run_dir.parent)
    inputs = load_inputs(config)
    config = feature_models.resolve_weights(config)  # config.yaml has them resolved: no change.
    feature_model = feature_models.build_model(config)
    logger = RunLogger(run_dir, config, _presenter(inputs, config), show_progress, meta)
    restore_random_state(meta["random"])
    prepared = stylize.prepare_colors(inputs, config)
    return _optimise(feature_model, prepared, config, logger, state, on_log=on_log, stop=stop)


def _presenter(inputs: stylize.Inputs, config: Config):
    def present(image: tf.Tensor) -> np.ndarray:
        """What the user sees of an optimised image: colour options applied, clipped."""
        return stylize.finish_colors(image[0].numpy(), inputs.content, config)

    return present


def _optimise(
    feature_model, inputs, config, logger: RunLogger, state=None, on_log=None, stop=None
) -> RunOutcome:
    """The optimisation with its logging, checkpoints, stop requests and end."""
    run_dir = logger.run_dir
    # Read now, at the size the scores use: the files may change during a long run.
    quality_references = quality_inputs(config)
    with StopRequests(stop) as stop_requests:
        # A tiled step can take minutes: a stop request leaves it at its next tile.
        step_stop = StepStop(lambda: stop_requests.requested)

        def on_tile(done: int, count: int) -> None:
            logger.on_tile(done, count)
            step_stop.check()

        def on_progress(progress: Progress) -> None:
            logger.on_progress(progress)
            if stop_requests.requested:
                logger.save_checkpoint(progress)
                logger.save_interrupted(progress.image)
                raise RunInterrupted(stop_requests.signal_number, run_dir)
            if on_log is not None and logger.logged_losses is not None:
                step, losses = logger.logged_losses
                if step == progress.step:
                    pixels = logger.present(progress.image)
                    on_log(step, logger.scale_index, losses, pixels)

        try:
            result = call_attentively(
                lambda: stylize.stylize(
                    feature_model,
                    inputs,
                    config,
                    logger.report_steps(),
                    on_progress,
                    logger.start_scale,
                    resume_from=state,
                    on_tile=on_tile,
                    step_stop=step_stop,
                )
            )
        except RunInterrupted:
            raise
        except KeyboardInterrupt:  # Before the handlers were in place, or inside a callback.
            logger.save_interrupted()
            raise
        finally:
            logger.close_progress_bar()
        # Still inside StopRequests: a Ctrl-C in these seconds lets the run end normally.
        pixels = logger.present(result.image)
        quality = quality_readout(config, feature_model, pixels, quality_references)
    if result.diverged:
        last_good = run_dir / "last_good.png"
        images.save_image(last_good, pixels)
        logger.log_final(result, quality, failed=True)
        reason = result.stop_reason
        if config.model.precision == "mixed_float16":
            reason += "; float16 overflows easily: try model.precision=mixed_bfloat16"
        raise RunFailed(reason, last_good, result.steps_done)
    final_image = run_dir / "final.png"
    images.save_image(final_image, pixels)
    final_loss = logger.log_final(result, quality)
    checkpoints.remove_checkpoint(run_dir)
    return RunOutcome(
        run_dir,
        final_image,
        result.steps_done,
        result.evaluations,
        result.stop_reason,
        final_loss,
        network=config.model.network,
        weights=config.model.weights,
    )


def quality_inputs(
    config: Config, given: Mapping[str, np.ndarray] | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and style images as the quality readout takes them (nst.algorithm.scoring);
    `given` as in `load_inputs`."""
    content = _image(config.content, metrics.SIDE, "content image", given)
    styles = [_image(style.path, metrics.SIDE, "style image", given) for style in config.style]
    return content, styles


def quality_readout(
    config: Config, feature_model, image: np.ndarray, references
) -> dict[str, float]:
    """The quality readout (nst.algorithm.scoring) of the image as saved, in 8 bits, so that `nst
    score`
    on the saved file gives the same numbers. The run's feature model is reused when it has the
    reference layers at the reference settings; otherwise a small one is built (seconds)."""
    fits = scoring.model_fits(
        config.model.pooling, config.model.taps, config.model.precision, used_layers(config)
    )
    if not fits:
        network, model_weights = config.model.network, config.model.weights
        feature_model = feature_models.reference_model(network, model_weights, config.seed)
    content, styles = references
    blend = [style.weight for style in config.style]
    scorer = scoring.Scorer(feature_model, content, styles, blend)
    return scorer(images.to_uint8(image).astype(np.float32) / 255.0)


def paths_from(config: Config, directory: Path) -> Config:
    """The config with its relative input paths made absolute from `directory` (where the run
    was started), so a run resumes from anywhere."""

    def absolute(path: str) -> str:
        return path if not path or Path(path).is_absolute() else str(directory / path)

    styles = [
        dataclasses.replace(style, path=absolute(style.path), mask=absolute(style.mask))
        for style in config.style
    ]
    init = config.init if config.init in ("content", "noise", "style") else absolute(config.init)
    return dataclasses.replace(config, content=absolute(config.content), style=styles, init=init)
