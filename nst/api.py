"""The Python front door: what the command line does, as calls that return results.

    import nst
    result = nst.stylize("assets/tubingen.jpg", "assets/starry_night.jpg", image={"size": 256})
    result              # a notebook shows the picture
    result.scores       # the quality readout

Settings are the config's (nst.config.schema): whole sections as keyword arguments
(`loss={"style_weight": 10}`), dotted keys (`overrides={"loss.style_weight": 10}`, or the CLI's
`["loss.style_weight=10"]`), a YAML file or Config (`config=`), checked with the CLI's one-line
errors, raised as `nst.UserError`. TensorFlow loads on the first call that needs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nst import images
from nst.config import Config, config_from_dict, config_to_dict, describe_settings
from nst.config import load_config as load_config_from_file
from nst.config.schema import section_names
from nst.config.yaml_files import read_yaml_file
from nst.errors import UserError

ImageLike = str | os.PathLike | Image.Image | np.ndarray
SOURCE = "nst.stylize"
_SECTIONS = section_names()


@dataclasses.dataclass(frozen=True)
class Step:
    """What a `callback` hears at each log point (log.every steps) and at the end."""

    step: int  # steps done, counted on across scales
    steps: int  # the run's total
    scale: int  # 1-based index of the current scale (coarse to fine)
    scales: int
    size: int  # the current scale's longest side, px
    losses: dict[str, float]  # loss/total, loss/content, loss/style, loss/tv, loss/palette
    array: np.ndarray  # the current picture, float32 (H, W, 3) in [0, 1], colours finished
    schedule: tuple[tuple[int, int], ...] = ()  # (size, steps) of every scale, coarse to fine

    @property
    def image(self) -> Image.Image:
        return Image.fromarray(images.to_uint8(self.array))


@dataclasses.dataclass(frozen=True)
class Result:
    """A stylized picture with how it was made and how good it is.

    `array` is float32 (H, W, 3) RGB in [0, 1]; `image` the same as an 8-bit PIL image;
    `scores` the quality readout (docs/quality.md: palette, strokes, contrast, coherence,
    content, style; lower is better, contrast 1 is the style's, coherence higher is longer
    strokes); `losses` the final loss terms; `config` every
    setting used (model.weights resolved); `run_dir` the run directory when one was written
    (`save=True`, `nst.run`), else None; `stop_reason` "completed" or why it ended early.
    """

    array: np.ndarray
    scores: dict[str, float]
    losses: dict[str, float]
    config: Config
    run_dir: Path | None
    steps: int
    evaluations: int
    seconds: float
    stop_reason: str

    @property
    def image(self) -> Image.Image:
        return Image.fromarray(images.to_uint8(self.array))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the picture (PNG, JPEG... by the suffix); returns the path."""
        images.save_image(path, self.array)
        return Path(path)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        height, width, _ = self.array.shape
        scores = ", ".join(f"{name} {value:.3g}" for name, value in self.scores.items())
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir else ""
        return f"<nst.Result {width}x{height}, {self.steps} steps, {scores}{where}>"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (a notebook's interrupt) during `stylize`: `.result` holds the picture so far,
    and `nst.last_result()` returns it too."""

    def __init__(self, result: Result | None):
        super().__init__("interrupted: the picture so far is in .result and nst.last_result()")
        self.result = result


_last: list[Result] = []


def last_result() -> Result | None:
    """The last picture `stylize` made or was making when interrupted (None before any)."""
    return _last[-1] if _last else None


def load_config(
    config: str | os.PathLike | Config | Mapping | None = None,
    overrides: Mapping[str, Any] | Sequence[str] = (),
    **settings: Any,
) -> Config:
    """A validated Config from a YAML path, a Config or a mapping, then `settings` (sections or
    top-level keys, e.g. `loss={"style_weight": 10}`, `content="photo.jpg"`), then `overrides`
    (dotted keys). Errors are `nst.UserError`s naming the key and what to do."""
    data, source = _settings_data(config)
    return _resolved(data, source, overrides, settings)


def _settings_data(config: str | os.PathLike | Config | Mapping | None) -> tuple[dict, str]:
    """The settings as a mapping to build on, and what errors name as their source."""
    if config is None:
        return {}, SOURCE
    if isinstance(config, Config):
        return config_to_dict(config), SOURCE
    if isinstance(config, Mapping):
        return dict(config), SOURCE
    source = os.fspath(config)
    data = read_yaml_file(source)
    if not isinstance(data, dict):
        load_config_from_file(source)  # raises the file's own one-line error
    return dict(data), source


def _resolved(
    data: dict, source: str, overrides, settings: Mapping[str, Any], training: bool = False
) -> Config:
    """`settings` merged into `data` (a section key by key, as a file nests it), `overrides`
    applied, everything checked."""
    for key, value in settings.items():
        if key in _SECTIONS and isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    lines = _override_lines(overrides)
    return config_from_dict(data, source, lines, "overrides", training=training)


def _override_lines(overrides: Mapping[str, Any] | Sequence[str]) -> list[str]:
    if isinstance(overrides, str):
        raise UserError(
            f"overrides must be a mapping like {{'loss.style_weight': 10}} or a list of "
            f"'key=value' lines, got the text {overrides!r}"
        )
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(_plain(value))}" for key, value in overrides.items()]
    return list(overrides)


def _plain(value: Any) -> Any:
    """Settings as JSON (which is YAML) for an override line."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike | Mapping[str, Any]],
    *,
    config: str | os.PathLike | Config | None = None,
    overrides: Mapping[str, Any] | Sequence[str] = (),
    progress: bool = True,
    callback: Callable[[Step], bool | None] | None = None,
    save: bool = False,
    stop: threading.Event | None = None,
    **settings: Any,
) -> Result:
    """Paint `content` in the style of `style`; returns a Result (`.image`, `.scores`...).

    content: a path, a PIL image or an (H, W, 3) array (uint8, or float in [0, 1]).
    style: the same, or a list of them to blend, each also a mapping
        {"path" or "image": ..., "weight": 1.0, "mask": image where this style applies}.
    config: a YAML config or Config to start from (its content and style are replaced).
    settings: whole config sections or top-level keys, e.g. image={"size": 384},
        loss={"style_weight": 10}, color={"preserve": "transfer"}, seed=3 (listed below).
    overrides: dotted keys, {"loss.style_weight": 10} or ["loss.style_weight=10"].
    progress: a progress bar (a widget in notebooks, text in terminals); False for none.
    callback: called at log points (log.every steps) and at the end with a `Step`; return True
        to end the run there, with that picture as the result.
    save: write an ordinary run directory (config.yaml, TensorBoard events, metrics.jsonl,
        final.png) under output.root/output.name (default runs/stylize/<time>), so
        `nst resume`, `nst score` and TensorBoard work on it; Result.run_dir names it.
    stop: with save=True, a threading.Event another thread sets to stop the run at its next
        step as Ctrl-C does (a checkpoint for `nst.resume`, nst.runs.interrupts.RunInterrupted).

    A second call with the same network and style reuses the feature network and the style's
    statistics. Ctrl-C raises `nst.Interrupted`, whose `.result` (and `nst.last_result()`)
    holds the picture so far. Bad settings or images raise `nst.UserError`.
    """
    given: dict[str, np.ndarray] = {}
    data, source = _settings_data(config)
    data["content"] = _image_setting(content, "content image", given)
    data["style"] = _style_settings(style, given)
    data.setdefault("output", {}).setdefault("name", "stylize")
    resolved = _resolved(data, source, overrides, settings)
    if save:
        return _save_and_run(resolved, given, progress, callback, stop)
    if stop is not None:
        raise UserError("stop= needs save=True (a stopped run is kept in its run directory)")
    return _stylize_in_memory(resolved, given, progress, callback)


def _image_setting(image: ImageLike, role: str, given: dict[str, np.ndarray]) -> str:
    """A path as the config's text, or an image in memory under a name the config uses."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    pixels = as_pixels(image, role)
    name = f"<{role} {len(given) + 1}>"
    given[name] = pixels
    return name


def _style_settings(style, given: dict[str, np.ndarray]) -> list[dict]:
    items = list(style) if isinstance(style, (list, tuple)) else [style]
    if not items:
        raise UserError("style: give at least one painting (a path, a PIL image or an array)")
    styles = []
    for index, item in enumerate(items):
        role = "style image" if len(items) == 1 else f"style image {index + 1}"
        if isinstance(item, Mapping):
            entry = dict(item)
            if "image" in entry:
                entry["path"] = entry.pop("image")
            if "path" not in entry:
                raise UserError(f"style[{index}]: a mapping needs 'path' or 'image'")
            entry["path"] = _image_setting(entry["path"], role, given)
            if entry.get("mask") is not None and not isinstance(entry["mask"], str):
                entry["mask"] = _image_setting(entry["mask"], f"mask of {role}", given)
            styles.append(entry)
        else:
            styles.append({"path": _image_setting(item, role, given)})
    return styles


def as_pixels(image: Image.Image | np.ndarray, role: str = "image") -> np.ndarray:
    """A PIL image or an array as float32 (H, W, 3) RGB in [0, 1] (nst.images' contract)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if not isinstance(image, np.ndarray):
        raise UserError(
            f"{role}: expected a path, a PIL image or a NumPy array, got {type(image).__name__}"
        )
    pixels = image
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or min(pixels.shape[:2]) < 1:
        raise UserError(f"{role}: expected an (H, W, 3) array, got shape {image.shape}")
    pixels = pixels[:, :, :3]
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    pixels = pixels.astype(np.float32)
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
        raise UserError(
            f"{role}: a float array must hold values in [0, 1] (got {pixels.min():.3g} to "
            f"{pixels.max():.3g}); pass uint8 for 0..255"
        )
    return pixels


def _stylize_in_memory(config: Config, given, show_progress: bool, callback) -> Result:
    """The algorithm on the images, with a progress bar and the readout; writes no files."""
    _quiet_tensorflow()
    from nst.algorithm import stylize as algorithm
    from nst.runs import feature_models, preflight, run

    started = time.perf_counter()
    inputs = run.load_inputs(config, given=given)
    shape = inputs.content.shape[:2]
    config = preflight.check_run(config, shape=shape, writes=False)
    config = feature_models.resolve_weights(config)
    feature_model = feature_models.build_model(config)
    prepared = algorithm.prepare_colors(inputs, config)
    references = run.quality_inputs(config, given)
    progress = _Progress(config, inputs.content, show_progress, callback)
    try:
        outcome = algorithm.stylize(
            feature_model,
            prepared,
            config,
            progress.report_steps(),
            progress.on_progress,
            progress.start_scale,
        )
    except KeyboardInterrupt:
        partial = progress.partial_result(config, time.perf_counter() - started)
        if partial is not None:
            _last.append(partial)
            del _last[:-1]
        raise Interrupted(partial) from None
    finally:
        progress.close()
    if outcome.diverged:
        raise UserError(f"the run failed: {outcome.stop_reason}")
    pixels = progress.present(outcome.image)
    scores = run.quality_readout(config, feature_model, pixels, references)
    losses = progress.final_losses(outcome)
    if callback is not None and not outcome.stopped:
        progress.tell(outcome.steps_done, losses, pixels, final=True)
    result = Result(
        pixels,
        scores,
        losses,
        config,
        None,
        outcome.steps_done,
        outcome.evaluations,
        time.perf_counter() - started,
        outcome.stop_reason,
    )
    _last.append(result)
    del _last[:-1]
    return result


class _Progress:
    """The in-memory run's bar (tqdm.auto: a widget in notebooks) and callback."""

    def __init__(self, config: Config, content: np.ndarray, show: bool, callback):
        import tqdm.auto

        from nst.algorithm import stylize as algorithm
        from nst.runs import eta

        self._config = config
        self._content = content
        self._scales = algorithm.plan_scales(config)
        self._steps = sum(scale.steps for scale in self._scales)
        self._callback = callback
        self._scale = 0
        self._loss_fn = None
        self._last_image = None
        self._last_step = 0
        self._time_left = eta.TimeLeft(
            [scale.size for scale in self._scales], [scale.steps for scale in self._scales]
        )
        self._bar = tqdm.auto.tqdm(
            total=self._steps, unit="step", disable=not show, dynamic_ncols=True, file=sys.stderr
        )

    def report_steps(self) -> list[int]:
        every = self._config.log.every if self._callback is not None else 0
        return list(range(every, self._steps, every)) if every else []

    def start_scale(self, index: int, scale, loss_fn) -> None:
        self._scale, self._loss_fn = index, loss_fn
        self._time_left.start_scale(index, sum(s.steps for s in self._scales[:index]))
        if len(self._scales) > 1:
            self._bar.set_description_str(
                f"scale {index + 1}/{len(self._scales)} ({scale.size} px)"
            )

    def on_progress(self, progress) -> None:
        self._last_image, self._last_step = progress.image, progress.step
        self._bar.update(progress.step - self._bar.n)
        status = f"loss={progress.loss:.4g}"
        if left := self._time_left.text(progress.step):
            status = f"{left}, {status}"
        self._bar.set_postfix_str(status, False)
        every = self._config.log.every
        if self._callback is None or progress.step % every or progress.step >= self._steps:
            return
        terms = progress.terms()
        losses = _losses(*(terms if terms is not None else self._loss_fn(progress.image)))
        self.tell(progress.step, losses, self.present(progress.image))

    def tell(self, step: int, losses: dict, pixels: np.ndarray, final: bool = False) -> None:
        _tell(self._callback, self._scales, step, self._scale, losses, pixels, final)

    def present(self, image) -> np.ndarray:
        from nst.algorithm import stylize as algorithm

        return algorithm.finish_colors(np.asarray(image)[0], self._content, self._config)

    def final_losses(self, outcome) -> dict[str, float]:
        terms = outcome.terms()
        return _losses(*(terms if terms is not None else self._loss_fn(outcome.image)))

    def partial_result(self, config: Config, seconds: float) -> Result | None:
        if self._last_image is None:
            return None
        reason = f"interrupted after step {self._last_step}"
        pixels = self.present(self._last_image)
        return Result(pixels, {}, {}, config, None, self._last_step, 0, seconds, reason)

    def close(self) -> None:
        self._bar.close()


def _losses(total, terms: Mapping) -> dict[str, float]:
    return {"loss/total": float(total)} | {f"loss/{name}": float(v) for name, v in terms.items()}


def _save_and_run(config: Config, given, show_progress: bool, callback, stop) -> Result:
    """Images in memory are written once under <output.root>/<name>/inputs/ (named by their
    content), so the run directory's config.yaml names real files and resumes."""
    if given:
        folder = Path(config.output.root) / config.output.name / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, pixels in given.items():
            digest = hashlib.sha256(images.to_uint8(pixels).tobytes()).hexdigest()[:16]
            path = folder / f"{digest}.png"
            if not path.is_file():
                images.save_image(path, pixels)
            paths[name] = str(path)
        config = _with_paths(config, paths)
    return run(config, progress=show_progress, callback=callback, stop=stop)


def _with_paths(config: Config, paths: Mapping[str, str]) -> Config:
    styles = tuple(
        dataclasses.replace(
            style, path=paths.get(style.path, style.path), mask=paths.get(style.mask, style.mask)
        )
        for style in config.style
    )
    return dataclasses.replace(
        config, content=paths.get(config.content, config.content), style=styles
    )


def run(
    config: str | os.PathLike | Config,
    overrides: Mapping[str, Any] | Sequence[str] = (),
    *,
    progress: bool = True,
    callback: Callable[[Step], bool | None] | None = None,
    stop: threading.Event | None = None,
    **settings: Any,
):
    """What `nst run CONFIG --set ...` does: a run directory with config.yaml, TensorBoard
    events, metrics.jsonl, snapshots, checkpoints and final.png. A still image gives a Result
    (run_dir set); a clip (video content) its nst.runs.clip_run.ClipOutcome; a folder or glob of
    images (a batch) the nst.runs.sweep_runner.SweepOutcome. Ctrl-C saves a checkpoint and raises
    nst.runs.interrupts.RunInterrupted (a KeyboardInterrupt) naming the run directory for
    `nst.resume`; so does setting `stop` (a threading.Event) from another thread, for a still.
    A NaN loss raises nst.runs.run.RunFailed."""
    from nst.runs import batch

    if isinstance(config, (str, os.PathLike)) and not settings:
        name_default = Path(config).stem
        resolved = load_config_from_file(config, _override_lines(overrides))
    else:
        name_default = Path(config).stem if isinstance(config, (str, os.PathLike)) else "api"
        resolved = load_config(config, overrides, **settings)
    name = resolved.output.name or name_default
    if batch.is_batch(resolved):
        if not isinstance(config, (str, os.PathLike)):
            raise UserError("a folder or glob as content runs from a YAML config: nst.run(path)")
        return sweep(
            batch.stills_sweep(os.fspath(config), _override_lines(overrides), resolved, name)
        )
    _quiet_tensorflow()
    from nst.runs import clip_run
    from nst.runs import run as runs

    if batch.is_clip(resolved):
        return clip_run.execute_clip(resolved, name, show_progress=progress)
    started = time.perf_counter()
    hook = None if callback is None else _RunCallback(resolved, callback)
    outcome = runs.execute(resolved, name, show_progress=progress, on_log=hook, stop=stop)
    return _from_run_dir(outcome, time.perf_counter() - started)


class _RunCallback:
    """nst.run's log points (nst.runs.run.execute's on_log) as the callback's Steps."""

    def __init__(self, config: Config, callback):
        from nst.algorithm import stylize as algorithm

        self._callback = callback
        self._scales = algorithm.plan_scales(config)

    def __call__(self, step: int, scale_index: int, losses: dict, pixels: np.ndarray) -> None:
        _tell(self._callback, self._scales, step, scale_index, losses, pixels)


def _tell(callback, scales, step: int, index: int, losses, pixels, final: bool = False) -> None:
    """Give the callback a Step; its True ends the run at this step (unless it is the end)."""
    from nst.algorithm.optimize import StopEarly

    steps = sum(scale.steps for scale in scales)
    schedule = tuple((scale.size, scale.steps) for scale in scales)
    info = Step(
        step, steps, index + 1, len(scales), scales[index].size, dict(losses), pixels, schedule
    )
    if callback(info) and not final:
        raise StopEarly(f"stopped by the callback after step {step}")


def _from_run_dir(outcome, seconds: float) -> Result:
    """A finished run directory as a Result: final.png, metrics.jsonl's last line, config.yaml."""
    run_dir = Path(outcome.run_dir)
    final = _final_metrics(run_dir)
    scores = {
        key.removeprefix("quality/"): v for key, v in final.items() if key.startswith("quality/")
    }
    losses = {key: v for key, v in final.items() if key.startswith("loss/")}
    return Result(
        images.load_image(outcome.final_image),
        scores,
        losses,
        load_config_from_file(run_dir / "config.yaml"),
        run_dir,
        outcome.steps_done,
        outcome.evaluations,
        seconds,
        outcome.stop_reason,
    )


def _final_metrics(run_dir: Path) -> dict:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    finals = [json.loads(line) for line in lines if '"final": true' in line]
    return finals[-1] if finals else {}


def resume(
    run_dir: str | os.PathLike,
    *,
    progress: bool = True,
    callback: Callable[[Step], bool | None] | None = None,
    stop: threading.Event | None = None,
):
    """What `nst resume RUN_DIR` does: continue a stopped run (or clip) in its own directory.
    `callback` and `stop` as for `run` (a still's run only)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory (resume takes runs/<name>/<time>)")
    _quiet_tensorflow()
    from nst.runs import clip_run, training
    from nst.runs import run as runs

    if (run_dir / clip_run.STARTED).is_file():
        return clip_run.resume_clip(run_dir, show_progress=progress)
    if training.is_training_run(run_dir):
        return training.resume(run_dir, show_progress=progress)
    started = time.perf_counter()
    hook = None
    if callback is not None:
        hook = _RunCallback(load_config_from_file(run_dir / "config.yaml"), callback)
    outcome = runs.resume(run_dir, show_progress=progress, on_log=hook, stop=stop)
    return _from_run_dir(outcome, time.perf_counter() - started)


def sweep(
    sweep_file,
    *,
    jobs: int = 1,
    executor: str = "local",
    address: str | None = None,
    resume: bool = False,
    on_member_done=None,
):
    """What `nst sweep SWEEP` does: every member, then summary.csv and contact_sheet.png.
    `sweep_file` is a YAML sweep path or an nst.runs.sweep.Sweep; returns its SweepOutcome."""
    from nst.runs import sweep as sweeps

    loaded = sweep_file if isinstance(sweep_file, sweeps.Sweep) else sweeps.load_sweep(sweep_file)
    _quiet_tensorflow()
    from nst.runs import sweep_runner

    kwargs = {} if on_member_done is None else {"on_member_done": on_member_done}
    return sweep_runner.run_sweep(loaded, jobs, executor, address, resume, **kwargs)


def score(
    content: ImageLike,
    style: ImageLike,
    results: ImageLike | Sequence[ImageLike],
    *,
    network: str | None = None,
    weights: str | None = None,
) -> dict[str, float] | list[dict[str, float]]:
    """What `nst score` does: the quality readout of each result (a path, image, array or
    Result) against content and style (docs/quality.md); network and weights default to the
    configs' (model.network, model.weights). One result gives one {name: score}; a list, a list."""
    single = not isinstance(results, (list, tuple))
    readouts, _ = quality_readouts(
        content, style, [results] if single else list(results), network, weights
    )
    return readouts[0] if single else readouts


def quality_readouts(content, style, results, network=None, weights=None, load_tensorflow=None):
    """([{name: score}] per result, (network, weights) used: auto resolved); the images are
    read before `load_tensorflow()` (the CLI's quiet import) runs, so a bad path fails at once."""
    from nst.algorithm import metrics
    from nst.config import ModelConfig

    defaults = ModelConfig()
    network = network or defaults.network
    model_weights = weights or defaults.weights
    if model_weights == "hed" and network != "vgg16":
        raise UserError(f"weights hed has VGG16 weights only: use network vgg16 (not {network})")
    # Every image is read before TensorFlow loads, so a bad path fails at once.
    content_pixels = _scored(content, "content image", metrics.SIDE)
    style_pixels = _scored(style, "style image", metrics.SIDE)
    # Results whole: the scorer reads coherence at 512 px and the rest at 256.
    scored = [_scored(picture, "image", None) for picture in results]
    (load_tensorflow or _quiet_tensorflow)()
    from nst.algorithm import scoring
    from nst.runs import feature_models
    from nst.runs import weights as weight_sources

    resolved = weight_sources.resolve_weights(network, model_weights)
    weight_sources.show_once(resolved.note)
    feature_model = feature_models.reference_model(resolved.network, resolved.weights)
    scorer = scoring.Scorer(feature_model, content_pixels, [style_pixels])
    return [scorer(pixels) for pixels in scored], (resolved.network, resolved.weights)


def train(
    config: str | os.PathLike | Config | Mapping,
    overrides: Mapping[str, Any] | Sequence[str] = (),
    *,
    progress: bool = True,
    **settings: Any,
):
    """What `nst train CONFIG` does: train a feed-forward network for the config's style on
    train.photos (nst.runs.training); returns its TrainOutcome (.model_path, .run_dir,
    .quality: the validation photos' mean readout). Ctrl-C saves a checkpoint for nst.resume."""
    data, source = _settings_data(config)
    resolved = _resolved(data, source, overrides, settings, training=True)
    name = resolved.output.name or (
        Path(config).stem if isinstance(config, (str, os.PathLike)) else "train"
    )
    _quiet_tensorflow()
    from nst.runs import training

    return training.train(resolved, name, show_progress=progress)


_painters: dict[tuple, Any] = {}  # the last model loaded, kept for the next call


def apply(
    model: str | os.PathLike,
    image: ImageLike | Sequence[str | os.PathLike],
    *,
    strength: float = 1.0,
    preserve: str = "none",
    size: int | None = None,
    precision: str = "auto",
    root: str = "runs",
    progress: bool = True,
    temporal: float | None = None,
):
    """What `nst apply MODEL INPUT` does, with a network `nst train` made.

    A photo (path, PIL image or array) gives the stylized PIL image, in memory, in
    milliseconds once the model is loaded (the model stays loaded for the next call). A
    folder, glob, clip or list of paths is written as the command writes it (a new directory
    under `root`) and gives nst.runs.applying.ApplyOutcome. `strength` 0..1 mixes with the
    photo; `preserve` "transfer" or "luminance" keeps the photo's colours; `size` is the
    longest side (default: the photo's own); `temporal` is a clip's `--temporal`.
    """
    _quiet_tensorflow()
    from nst.runs import applying, clips

    key = (os.fspath(model), strength, preserve, precision)
    if key not in _painters:
        _painters.clear()
        _painters[key] = applying.Painter(model, strength, preserve, precision=precision)
    painter = _painters[key]
    many = not isinstance(image, (str, os.PathLike, Image.Image, np.ndarray))
    path_like = isinstance(image, (str, os.PathLike))
    if (
        many
        or path_like
        and (Path(image).is_dir() or clips.is_video_path(image) or "*" in os.fspath(image))
    ):
        paths = [os.fspath(path) for path in image] if many else [os.fspath(image)]
        hold = applying.TEMPORAL if temporal is None else temporal
        return applying.apply(
            painter, paths, root=root, size=size, show_progress=progress, temporal=hold
        )
    if isinstance(image, (str, os.PathLike)):
        pixels = images.load_image(image, max_size=size, role="photo")
    else:
        pixels = as_pixels(image, "photo")
        if size is not None:
            pixels = images.resize_longest_side(pixels, size)
    painter.check_fits(*pixels.shape[:2], "the photo")
    return Image.fromarray(images.to_uint8(painter(pixels)))


def export(model: str | os.PathLike, format: str = "tflite", output=None) -> Path:
    """What `nst export MODEL --format F` does: a SavedModel or a TFLite file (float16
    weights) beside the model, or at `output`; returns its path."""
    _quiet_tensorflow()
    from nst.runs import export as exporting

    return exporting.export(model, format, output)


def _scored(image: ImageLike, role: str, side: int | None) -> np.ndarray:
    """The image as pixels, at `side` px on its longest side (None: as it is)."""
    if isinstance(image, Result):
        image = image.array
    if isinstance(image, (str, os.PathLike)):
        return images.load_image(image, max_size=side, role=role)
    pixels = as_pixels(image, role)
    if side is None or max(pixels.shape[:2]) <= side:
        return pixels
    return images.resize_longest_side(pixels, side)


def _quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up lines are noise in a notebook (NST_VERBOSE=1 shows them)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def settings_help() -> str:
    """Every setting with its default and what it does, from nst.config.schema."""
    lines = []
    for info in describe_settings():
        default = "required" if info.default is None else f"default {info.default!r}"
        choices = f"; one of {', '.join(info.choices)}" if info.choices else ""
        lines.append(f"    {info.key} ({info.kind}, {default}{choices}): {info.help}")
    return "\n".join(lines)


stylize.__doc__ = (
    (stylize.__doc__ or "") + "\n    Settings (section.key):\n" + settings_help() + "\n"
)
