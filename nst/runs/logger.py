"""What a run writes as it goes: TensorBoard scalars, images and HParams, metrics.jsonl,
snapshots, checkpoints, and the progress bar (the layout is nst.runs.run's docstring)."""

import json
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
import tqdm.auto
from tensorboard.plugins.hparams import api as hp

from nst import images
from nst.algorithm import scoring, stylize
from nst.algorithm.optimize import OptimizeResult, Progress, Terms
from nst.config import Config, config_to_dict, dump_config
from nst.runs import checkpoints, eta

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
        self.scale_index = 0
        self.logged_losses: tuple[int, dict] | None = None  # (step, losses) of the last log point
        self._writer = tf.summary.create_file_writer(str(run_dir))
        step, seconds = (resumed["step"], resumed["seconds"]) if resumed else (0, 0.0)
        if resumed:  # Lines after the checkpoint's step are computed again: no duplicates.
            keep_metrics_up_to(run_dir / "metrics.jsonl", step)
        self._metrics = (run_dir / "metrics.jsonl").open("a", encoding="utf-8")
        self._started = time.perf_counter() - seconds
        self._last_image = None
        self._checkpoint_step = step  # the step of the checkpoint on disk, if any
        self._logged_step = step  # the last step whose scalars and images are out
        self._bar = tqdm.auto.tqdm(
            total=self._steps,
            initial=step,
            unit="step",
            disable=not show_progress,
            dynamic_ncols=True,
            # tqdm's own time left assumes every step costs the same; nst.runs.eta weighs the
            # scales.
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
        self.scale_index = index
        self._time_left.start_scale(index, sum(s.steps for s in self._scales[:index]))
        # A tiled loss (nst.algorithm.tiling) under its tf.function: say over how many tiles.
        grid = getattr(getattr(loss_fn, "python_function", None), "grid", None)
        tiles = f", {grid.count} tiles" if grid is not None and grid.tiled else ""
        if len(self._scales) > 1:
            self._bar.set_description_str(
                f"scale {index + 1}/{len(self._scales)} ({scale.size} px{tiles})"
            )
        elif tiles:
            self._bar.set_description_str(f"{scale.size} px{tiles}")

    def on_tile(self, done: int, count: int) -> None:
        """A tiled evaluation's progress (nst.algorithm.tiling): shown once a step has taken a few
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
            losses = self._log_losses(
                progress.step, progress.evaluations, progress.image, progress.terms()
            )
            self.logged_losses = (progress.step, losses)
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
            "random": random_state(),
        }
        checkpoints.save_checkpoint(self.run_dir, progress.optimizer_state(), meta)
        self._checkpoint_step = progress.step

    def log_final(
        self, result: OptimizeResult, quality: Mapping[str, float], failed: bool = False
    ) -> dict[str, float]:
        """The final metrics line and scalars; `quality` is nst.algorithm.scoring's readout."""
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


def keep_metrics_up_to(path: Path, step: int) -> None:
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


def random_state() -> dict:
    """Every random generator a run may draw from, as JSON (none is drawn from while optimising
    today; kept so a resumed run stays identical if one ever is)."""
    _, numpy_keys, *numpy_rest = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_keys.tolist(), *numpy_rest],
        "tensorflow": tf.random.get_global_generator().state.numpy().tolist(),
    }


def restore_random_state(saved: Mapping) -> None:
    version, keys, gauss = saved["python"]
    random.setstate((version, tuple(keys), gauss))
    numpy_keys, *numpy_rest = saved["numpy"]
    np.random.set_state(("MT19937", np.array(numpy_keys, np.uint32), *numpy_rest))
    tf.random.get_global_generator().reset(np.array(saved["tensorflow"], np.int64))
