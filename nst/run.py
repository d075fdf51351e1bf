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
import functools
import json
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import tqdm
from tensorboard.plugins.hparams import api as hp

from nst import checkpoints, eta, images, metrics, networks, preflight, scoring, stylize, weights
from nst.config import Config, config_to_dict, dump_config, load_config, used_layers
from nst.errors import UserError
from nst.interrupts import RunInterrupted, StepStop, StopRequests, call_attentively
from nst.model import build_feature_model
from nst.optimize import OptimizeResult, Progress, Terms
from nst.run_dirs import create_run_dir


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


def load_inputs(config: Config, content: np.ndarray | None = None) -> stylize.Inputs:
    """Every image the run needs, read and sized before any model or directory is made;
    `content` instead of config.content's image (a clip's first frame, at image.size)."""
    size = config.image.size
    if content is None:
        content = images.load_image(config.content, max_size=size, role="content image")
    style_size = max(16, round(size * config.image.style_scale))
    styles = [
        images.load_image(style.path, max_size=style_size, role="style image")
        for style in config.style
    ]
    height, width, _ = content.shape
    masks = [_load_mask(style.path, style.mask, height, width) for style in config.style]
    smallest = stylize.plan_scales(config)[0].size / size
    _check_large_enough(config, "content image", config.content, content, smallest)
    for style, pixels in zip(config.style, styles, strict=True):
        _check_large_enough(config, "style image", style.path, pixels, smallest)
    init_image = None
    if config.init not in ("content", "noise", "style"):
        init_image = images.load_image(config.init, role="init image")
    return stylize.Inputs(content, styles, masks, init_image)


def _load_mask(style_path: str, mask_path: str, height: int, width: int) -> np.ndarray | None:
    """A style's mask as (H, W) weights in [0, 1] at the content's size (white = style here)."""
    if not mask_path:
        return None
    role = f"mask of style '{style_path}'"
    mask = images.resize_to(images.load_image(mask_path, role=role), height, width).mean(axis=2)
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
) -> RunOutcome:
    """Run the config: everything is checked and loaded first, then the directory is made.

    The directory is `<output.root>/<name>/<timestamp>` unless `run_dir` names one (a sweep
    member's), which must not exist yet. `hparams` add to the hyperparameters TensorBoard shows.
    Ctrl-C or SIGTERM ends it with RunInterrupted after saving a checkpoint (see `resume`); a
    NaN loss ends it with RunFailed.
    """
    # Output directory, memory and disk, before anything is loaded, built or written; tiles
    # and the optimiser's state sized to fit (image.tile: auto), as config.yaml records them.
    config = preflight.check_run(config, None if run_dir is None else run_dir.parent)
    inputs = load_inputs(config)
    config = resolve_weights(config)  # What config.yaml and the HParams record.
    feature_model = build_model(config)
    if run_dir is None:
        run_dir = create_run_dir(config.output.root, name)
    else:
        run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_config(config))
    logger = RunLogger(run_dir, config, _presenter(inputs, config), show_progress)
    prepared = stylize.prepare_colors(inputs, config)
    logger.log_hparams(hparams_of(config, hparams or {}), trial=name)
    logger.log_inputs(prepared)
    return _optimise(feature_model, prepared, config, logger)


def resume(run_dir: Path, show_progress: bool = True) -> RunOutcome:
    """Continue a run stopped by Ctrl-C, SIGTERM or a crash from its checkpoint, in its own
    directory, to the configured number of steps; the same result as if it had not stopped."""
    run_dir = Path(run_dir)
    if (run_dir / "final.png").is_file():
        raise UserError(f"{run_dir} has finished already (final.png): nothing to resume")
    meta, state = checkpoints.load_checkpoint(run_dir)
    config = paths_from(load_config(str(run_dir / "config.yaml")), Path(meta["cwd"]))
    # The machine may have changed since; config.yaml has image.tile resolved already.
    config = preflight.check_run(config, run_dir.parent)
    inputs = load_inputs(config)
    config = resolve_weights(config)  # config.yaml has them resolved: no change.
    feature_model = build_model(config)
    logger = RunLogger(run_dir, config, _presenter(inputs, config), show_progress, meta)
    _restore_random_state(meta["random"])
    prepared = stylize.prepare_colors(inputs, config)
    return _optimise(feature_model, prepared, config, logger, state)


def resolve_weights(config: Config) -> Config:
    """The config with model.weights=auto made the weights this run uses (nst.weights); says
    in one line on stderr if it fell back to the offline ones."""
    config, note = weights.resolve_model(config)
    weights.show_once(note)
    return config


def build_model(config: Config):
    """The frozen feature network the config asks for; the last one built is kept, so runs
    one after another in a process (a batch of images, a sweep's members) build it once."""
    keras.utils.set_random_seed(config.seed)
    model = config.model
    layers = tuple(used_layers(config))
    return _feature_network(
        model.network,
        model.weights,
        model.pooling,
        layers,
        config.seed,
        model.taps,
        model.precision,
    )


@functools.lru_cache(maxsize=1)
def _feature_network(network, model_weights, pooling, layers, seed, taps, precision):
    return build_feature_model(
        network, model_weights, pooling, list(layers), seed=seed, taps=taps, precision=precision
    )


def _presenter(inputs: stylize.Inputs, config: Config):
    def present(image: tf.Tensor) -> np.ndarray:
        """What the user sees of an optimised image: colour options applied, clipped."""
        return stylize.finish_colors(image[0].numpy(), inputs.content, config)

    return present


def _optimise(feature_model, inputs, config, logger: "RunLogger", state=None) -> RunOutcome:
    """The optimisation with its logging, checkpoints, stop requests and end."""
    run_dir = logger.run_dir
    # Read now, at the size the scores use: the files may change during a long run.
    quality_references = _quality_references(config)
    with StopRequests() as stop_requests:
        # A tiled step can take minutes: a stop request leaves it at its next tile.
        step_stop = StepStop(lambda: stop_requests.signal_number is not None)

        def on_tile(done: int, count: int) -> None:
            logger.on_tile(done, count)
            step_stop.check()

        def on_progress(progress: Progress) -> None:
            logger.on_progress(progress)
            if stop_requests.signal_number is not None:
                logger.save_checkpoint(progress)
                logger.save_interrupted(progress.image)
                raise RunInterrupted(stop_requests.signal_number, run_dir)

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
        quality = _quality(config, feature_model, pixels, quality_references)
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


def _quality_references(config: Config) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and style images as the quality readout takes them (nst.scoring)."""
    content = images.load_image(config.content, max_size=metrics.SIDE, role="content image")
    styles = [
        images.load_image(style.path, max_size=metrics.SIDE, role="style image")
        for style in config.style
    ]
    return content, styles


def _quality(config: Config, feature_model, image: np.ndarray, references) -> dict[str, float]:
    """The quality readout (nst.scoring) of the image as saved, in 8 bits, so that `nst score`
    on the saved file gives the same numbers. The run's feature model is reused when it has the
    reference layers at the reference settings; otherwise a small one is built (seconds)."""
    fits = scoring.model_fits(
        config.model.pooling, config.model.taps, config.model.precision, used_layers(config)
    )
    if not fits:
        network, model_weights = config.model.network, config.model.weights
        feature_model = scoring.reference_model(network, model_weights, config.seed)
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


def _random_state() -> dict:
    """Every random generator a run may draw from, as JSON (none is drawn from while optimising
    today; kept so a resumed run stays identical if one ever is)."""
    _, numpy_keys, *numpy_rest = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_keys.tolist(), *numpy_rest],
        "tensorflow": tf.random.get_global_generator().state.numpy().tolist(),
    }


def _restore_random_state(saved: Mapping) -> None:
    version, keys, gauss = saved["python"]
    random.setstate((version, tuple(keys), gauss))
    numpy_keys, *numpy_rest = saved["numpy"]
    np.random.set_state(("MT19937", np.array(numpy_keys, np.uint32), *numpy_rest))
    tf.random.get_global_generator().reset(np.array(saved["tensorflow"], np.int64))


# The settings every run reports to TensorBoard's HParams tab, so any two runs compare there.
_HPARAM_KEYS = (
    "model.network",
    "model.weights",
    "model.pooling",
    "model.taps",
    "image.size",
    "image.style_scale",
    "loss.content_weight",
    "loss.style_weight",
    "loss.tv_weight",
    "loss.style_loss",
    "color.preserve",
    "optim.name",
    "optim.steps",
    "init",
    "seed",
)
FINAL_METRICS = (
    "final/loss/total",
    "final/loss/content",
    "final/loss/style",
    "final/loss/tv",
    "final/loss/palette",
    "final/seconds",
    "final/evaluations",
    *(f"final/quality/{name}" for name in scoring.NAMES),
)


def hparams_of(config: Config, extra: Mapping[str, object]) -> dict[str, bool | int | float | str]:
    """The standard hyperparameters plus `extra` keys, as values TensorBoard accepts."""
    plain = config_to_dict(config)
    hparams = {}
    for key in (*_HPARAM_KEYS, *extra):
        value = plain
        for part in key.split("."):
            value = value[part]
        hparams[key] = hparam_value(value)
    return hparams


def hparam_value(value: object) -> bool | int | float | str:
    """TensorBoard's HParams hold numbers, bools and text; anything else is shown as JSON."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)  # One numeric type, so a sweep's domain is not mixed int and float.
    return json.dumps(value)


# TensorBoard's result images are at most this long a side: a print-size PNG in every event
# would make the event file gigabytes and TensorBoard slow (the snapshots are full size).
_TENSORBOARD_IMAGE_SIDE = 2048
# A tiled step's bar shows its tiles once the evaluation has taken this long.
_TILE_PROGRESS_AFTER_SECONDS = 3.0


class RunLogger:
    """Turns progress reports into TensorBoard summaries, metrics lines, snapshots and a bar."""

    def __init__(
        self,
        run_dir: Path,
        config: Config,
        present,
        show_progress: bool,
        resumed: Mapping | None = None,
    ):
        """`resumed`: a checkpoint's meta, to go on from its step in an existing directory."""
        self.run_dir = run_dir
        self.present = present
        self._log = config.log
        self._scales = stylize.plan_scales(config)
        self._steps = sum(scale.steps for scale in self._scales)
        self._loss_terms = None  # The current scale's compiled loss, from start_scale.
        self._writer = tf.summary.create_file_writer(str(run_dir))
        step, seconds = (resumed["step"], resumed["seconds"]) if resumed else (0, 0.0)
        if resumed:  # Lines after the checkpoint's step are computed again: no duplicates.
            _keep_metrics_up_to(run_dir / "metrics.jsonl", step)
        self._metrics = (run_dir / "metrics.jsonl").open("a", encoding="utf-8")
        self._started = time.perf_counter() - seconds
        self._last_image = None
        self._checkpoint_step = step  # the step of the checkpoint on disk, if any
        self._logged_step = step  # the last step whose scalars and images are out
        self._bar = tqdm.tqdm(
            total=self._steps,
            initial=step,
            unit="step",
            disable=not show_progress,
            dynamic_ncols=True,
            # tqdm's own time left assumes every step costs the same; nst.eta weighs the scales.
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]",
        )
        self._status = ""  # the bar's postfix after the last step: loss, time left
        self._evaluation_started = time.perf_counter()
        self._time_left = eta.TimeLeft(
            [scale.size for scale in self._scales], [scale.steps for scale in self._scales]
        )
        if not resumed:
            with self._writer.as_default(step=0):
                # Indented so TensorBoard's markdown shows the YAML as a code block.
                text = "\n".join("    " + line for line in dump_config(config).splitlines())
                tf.summary.text("config", text)

    def log_hparams(self, hparams: Mapping[str, object], trial: str) -> None:
        with self._writer.as_default(step=0):
            hp.hparams(hparams, trial_id=trial)

    def start_scale(self, index: int, scale: stylize.Scale, loss_fn) -> None:
        self._loss_terms = loss_fn
        self._time_left.start_scale(index, sum(s.steps for s in self._scales[:index]))
        # A tiled loss (nst.tiling) under its tf.function: say over how many tiles.
        grid = getattr(getattr(loss_fn, "python_function", None), "grid", None)
        tiles = f", {grid.count} tiles" if grid is not None and grid.tiled else ""
        if len(self._scales) > 1:
            self._bar.set_description_str(
                f"scale {index + 1}/{len(self._scales)} ({scale.size} px{tiles})"
            )
        elif tiles:
            self._bar.set_description_str(f"{scale.size} px{tiles}")

    def on_tile(self, done: int, count: int) -> None:
        """A tiled evaluation's progress (nst.tiling): shown once a step has taken a few
        seconds, so short steps keep a quiet bar."""
        now = time.perf_counter()
        if done == 1:
            self._evaluation_started = now
        if now - self._evaluation_started >= _TILE_PROGRESS_AFTER_SECONDS:
            tiles = f"tile {done}/{count}"
            self._bar.set_postfix_str(f"{self._status}, {tiles}" if self._status else tiles)

    def report_steps(self) -> list[int]:
        """Steps at which the optimiser must stop and report (log, image, snapshot)."""
        log = self._log
        intervals = [log.every, log.image_every, log.snapshot_every, log.checkpoint_every]
        return sorted(
            {step for every in intervals if every for step in range(every, self._steps, every)}
        )

    def log_inputs(self, inputs: stylize.Inputs) -> None:
        with self._writer.as_default(step=0):
            tf.summary.image("image/0_content", _for_tensorboard(inputs.content))
            for index, style in enumerate(inputs.styles, start=1):
                suffix = "" if len(inputs.styles) == 1 else f"_{index}"
                tf.summary.image(f"image/1_style{suffix}", _for_tensorboard(style))

    def on_progress(self, progress: Progress) -> None:
        self._last_image = progress.image
        self._bar.update(progress.step - self._bar.n)
        status = f"loss={progress.loss:.4g} evals={progress.evaluations}"
        if left := self._time_left.text(progress.step):
            status = f"{left}, {status}"
        self._bar.set_postfix_str(status, False)
        self._status = status
        if progress.step >= self._steps:
            return  # The last step is logged by log_final, with the stop reason.
        if progress.step == self._logged_step:
            return  # Reported again to be saved: a stop left the next step unfinished.
        self._logged_step = progress.step
        if _due(progress.step, self._log.every):
            self._log_losses(progress.step, progress.evaluations, progress.image, progress.terms())
        if _due(progress.step, self._log.image_every):
            self._log_image(progress.step, progress.image)
        if _due(progress.step, self._log.snapshot_every):
            snapshot = self.run_dir / "snapshots" / f"step_{progress.step:06d}.png"
            images.save_image(snapshot, self.present(progress.image))
        if _due(progress.step, self._log.checkpoint_every):
            self.save_checkpoint(progress)

    def save_checkpoint(self, progress: Progress) -> None:
        if progress.step == self._checkpoint_step:
            return  # A stop request at a checkpoint step: it is on disk already (gigabytes).
        meta = {
            "step": progress.step,
            "evaluations": progress.evaluations,
            "seconds": time.perf_counter() - self._started,
            "cwd": os.getcwd(),  # the config's relative paths start here
            "random": _random_state(),
        }
        checkpoints.save_checkpoint(self.run_dir, progress.optimizer_state(), meta)
        self._checkpoint_step = progress.step

    def log_final(
        self, result: OptimizeResult, quality: Mapping[str, float], failed: bool = False
    ) -> dict[str, float]:
        """The final metrics line and scalars; `quality` is nst.scoring's readout."""
        extra = {"failed": True} if failed else {}
        extra |= {f"quality/{name}": quality[name] for name in scoring.NAMES}
        losses = self._log_losses(
            result.steps_done,
            result.evaluations,
            result.image,
            result.terms(),
            final=True,
            stop_reason=result.stop_reason,
            **extra,
        )
        self._log_image(result.steps_done, result.image)
        final = [
            *(losses[f"loss/{term}"] for term in ("total", "content", "style", "tv", "palette")),
            time.perf_counter() - self._started,
            result.evaluations,
            *(quality[name] for name in scoring.NAMES),
        ]
        with self._writer.as_default(step=result.steps_done):
            for tag, value in zip(FINAL_METRICS, final, strict=True):
                tf.summary.scalar(tag, value)
        self._writer.flush()
        self._metrics.close()
        return losses

    def save_interrupted(self, image: tf.Tensor | None = None) -> None:
        """Keep what was computed when the run is stopped."""
        image = self._last_image if image is None else image
        if image is not None:
            images.save_image(self.run_dir / "interrupted.png", self.present(image))
        self._writer.flush()
        self._metrics.close()

    def close_progress_bar(self) -> None:
        self._bar.close()

    def _log_losses(
        self, step: int, evaluations: int, image: tf.Tensor, terms: Terms | None, **extra
    ) -> dict:
        """`terms`: the loss's at `image` if the optimiser has them; None costs a forward pass."""
        total, terms = self._loss_terms(image) if terms is None else terms
        losses = {"loss/total": float(total)} | {
            f"loss/{name}": float(value) for name, value in terms.items()
        }
        with self._writer.as_default(step=step):
            for tag, value in losses.items():
                tf.summary.scalar(tag, value)
            tf.summary.scalar("optim/evaluations", evaluations)
        record = {
            "step": step,
            "evaluations": evaluations,
            "seconds": round(time.perf_counter() - self._started, 3),
            **losses,
            **extra,
        }
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        return losses

    def _log_image(self, step: int, image: tf.Tensor) -> None:
        with self._writer.as_default(step=step):
            tf.summary.image("image/2_result", _for_tensorboard(self.present(image)))


def _for_tensorboard(pixels: np.ndarray) -> np.ndarray:
    """(1, H, W, 3) uint8 at most _TENSORBOARD_IMAGE_SIDE px a side (snapshots stay full size)."""
    if max(pixels.shape[:2]) > _TENSORBOARD_IMAGE_SIDE:
        pixels = images.resize_longest_side(pixels, _TENSORBOARD_IMAGE_SIDE)
    return images.to_uint8(pixels)[None]


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def _keep_metrics_up_to(path: Path, step: int) -> None:
    """Drop metrics.jsonl's lines after `step` (and a line a kill cut short), atomically."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) <= step and not record.get("final"):
            kept.append(line + "\n")
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(kept), encoding="utf-8")
    os.replace(partial, path)
