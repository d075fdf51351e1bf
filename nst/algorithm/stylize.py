"""The algorithm: style and content targets, the starting image, the optimisation. No file I/O.

Images are float32 RGB arrays in [0, 1] of shape (H, W, 3), as `nst.images` loads them.
"""

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from nst import images
from nst.algorithm import color
from nst.algorithm.losses import StyleTransferLoss, WithTemporalTerm
from nst.algorithm.optimize import LossFn, OptimizeResult, Progress, minimize
from nst.algorithm.step_stop import StepStop
from nst.algorithm.tiling import TiledLoss
from nst.config import Config


def make_loss(
    feature_model,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    config: Config,
    style_masks: Sequence[np.ndarray | None] | None = None,
    on_tile: Callable[[int, int], None] | None = None,
) -> StyleTransferLoss | TiledLoss:
    """The configured loss with its targets taken from `content` and the blended `styles`.

    `style_masks`: per style, None or an (H, W) mask in [0, 1] at the content's size. An image
    larger than `image.tile` px (a number: `auto` is resolved by the run's preflight, and counts
    as off here) is evaluated tile by tile (nst.algorithm.tiling), with `on_tile` hearing of each
    tile.
    """
    settings = dict(
        style_blend=[style.weight for style in config.style],
        content_layers=config.layers.content,
        style_layers=config.layers.style,
        content_weight=config.loss.content_weight,
        style_weight=config.loss.style_weight,
        tv_weight=config.loss.tv_weight,
        tv_form=config.loss.tv_form,
        style_loss=config.loss.style_loss,
        style_masks=style_masks,
        palette_weight=config.loss.palette_weight,
    )
    tile = tile_size(config)
    if tile is not None and max(content.shape[:2]) > tile:
        network = config.model.network
        return TiledLoss(feature_model, network, tile, content, styles, on_tile=on_tile, **settings)
    return StyleTransferLoss(
        feature_model, tf.constant(content), [tf.constant(style) for style in styles], **settings
    )


def tile_size(config: Config) -> int | None:
    """image.tile as a number of px, or None (off, or auto not resolved: untiled)."""
    return int(config.image.tile) if config.image.tile.isdigit() else None


@dataclasses.dataclass(frozen=True)
class TemporalTarget:
    """A video frame's tie to the one before (nst.algorithm.sequence): that frame's result warped
    into
    this one, and the (H, W) weights in [0, 1] of its pixels in the temporal term: 0 where the
    optical flow is unreliable (nst.algorithm.sequence.temporal_weights)."""

    warped: np.ndarray
    weights: np.ndarray
    weight: float


@dataclasses.dataclass(frozen=True)
class Inputs:
    """Every image a run needs, loaded: the content at the output size, the styles at
    size x style_scale, masks (H, W) in [0, 1] at the content's size or None per style; a video
    frame's temporal target, at the content's size."""

    content: np.ndarray
    styles: list[np.ndarray]
    masks: list[np.ndarray | None]
    init_image: np.ndarray | None = None
    temporal: TemporalTarget | None = None


@dataclasses.dataclass(frozen=True)
class Scale:
    size: int  # longest side, px
    steps: int


def plan_scales(config: Config) -> list[Scale]:
    """Coarse to fine: each scale starts from the previous result, upsampled.

    Automatic (scales.count 0): sizes halve from the output size while they stay at least
    scales.min_size (512 px -> 128, 256, 512 with the default 128). Most iterations then run at
    the coarse scales, where they are cheap and where the painting's large strokes form (as in
    crowsonkb/style-transfer-pytorch); the last scale adds the fine texture. A count N gives N
    sizes spaced evenly in scale from min_size to the output size.
    """
    size, plan = config.image.size, config.scales
    if plan.count == 0:
        sizes = [size]
        while sizes[0] / 2 >= plan.min_size:
            sizes.insert(0, round(sizes[0] / 2))
    else:
        smallest = min(plan.min_size, size)
        ratios = np.geomspace(smallest / size, 1.0, plan.count) if plan.count > 1 else [1.0]
        sizes = sorted({max(16, round(size * ratio)) for ratio in ratios})
    return [Scale(s, plan.steps) for s in sizes[:-1]] + [Scale(sizes[-1], config.optim.steps)]


def prepare_colors(inputs: Inputs, config: Config) -> Inputs:
    """Apply the colour options that act before the optimisation (see nst.algorithm.color)."""
    content, styles = inputs.content, inputs.styles
    space = config.color.space
    if config.color.match_style:
        styles = [color.match_color(style, content) for style in styles]
    if config.color.preserve == "luminance":
        styles = [color.match_luminance(style, content, space) for style in styles]
        content = color.luminance_image(content, space)
    return dataclasses.replace(inputs, content=content, styles=styles)


def finish_colors(image: np.ndarray, content: np.ndarray, config: Config) -> np.ndarray:
    """Apply the colour options that act on the result: the content's colours put back."""
    if config.color.preserve in ("transfer", "luminance"):
        return color.transfer_chroma(image, content, config.color.space)
    return np.clip(image, 0.0, 1.0)


def initial_image(
    init: str,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    seed: int,
    init_image: np.ndarray | None = None,
) -> np.ndarray:
    """The image optimisation starts from, the content's shape.

    `init` is "content", "noise" (uniform, seeded), "style" (the first style image, stretched to
    the content's shape) or anything else, meaning `init_image` (already loaded) is used.
    """
    height, width, _ = content.shape
    if init == "content":
        return content.copy()
    if init == "noise":
        return np.random.default_rng(seed).uniform(size=content.shape).astype(np.float32)
    source = styles[0] if init == "style" else init_image
    if source is None:
        raise ValueError(f"init={init!r} needs init_image")
    return images.resize_to(source, height, width)


def stylize(
    feature_model,
    inputs: Inputs,
    config: Config,
    report_at: Iterable[int] = (),
    on_progress: Callable[[Progress], None] = lambda progress: None,
    on_scale: Callable[[int, Scale, LossFn], None] = lambda index, scale, loss_fn: None,
    resume_from: Mapping[str, np.ndarray] | None = None,
    on_tile: Callable[[int, int], None] | None = None,
    step_stop: StepStop | None = None,
) -> OptimizeResult:
    """Optimise an image from `inputs` (already colour-prepared) scale by scale.

    Steps count on across scales (report_at and progress use the run's step numbers);
    `on_scale` hears of each scale before it starts, with the compiled loss it uses; `on_tile`
    of each tile of an evaluation, where a scale is tiled (nst.algorithm.tiling); `step_stop` lets a
    stop request leave a step unfinished (nst.algorithm.optimize.minimize).
    A progress report's `optimizer_state()` here also says which scale it is at: given back as
    `resume_from` (with the same config), the run continues from that step as it would have.
    """
    scales = plan_scales(config)
    total_steps = sum(scale.steps for scale in scales)
    report_at = sorted(report_at)
    offset, evaluations, image, result = 0, 0, None, None
    first_scale, initial_state = 0, None
    if resume_from is not None:
        first_scale = int(resume_from["scale"])
        evaluations = int(resume_from["evaluations_before"])
        offset = sum(scale.steps for scale in scales[:first_scale])
        prefix = "optimizer/"
        initial_state = {
            key.removeprefix(prefix): value
            for key, value in resume_from.items()
            if key.startswith(prefix)
        }
    for index, scale in enumerate(scales[first_scale:], start=first_scale):
        # The last scale's result holds its optimiser (and L-BFGS history, gigabytes at print
        # size) through `result.terms`: let it go before this scale's memory is taken.
        result = None
        content = _at_size(inputs.content, scale.size)
        height, width, _ = content.shape
        styles = [
            _at_size(style, max(16, round(scale.size * config.image.style_scale)))
            for style in inputs.styles
        ]
        masks = [None if mask is None else _mask_at(mask, height, width) for mask in inputs.masks]
        # A resumed scale starts from its saved state instead (the start only gives the shape).
        state = initial_state if index == first_scale else None
        if image is None:
            start = initial_image(config.init, content, styles, config.seed, inputs.init_image)
        else:  # Coarse to fine: the last scale's result, upsampled.
            start = images.resize_to(image, height, width)
        loss = make_loss(feature_model, content, styles, config, masks, on_tile)
        if inputs.temporal is not None:
            loss = _with_temporal_term(loss, content, inputs.temporal)
        loss_fn = tf.function(loss)
        on_scale(index, scale, loss_fn)

        def report(progress: Progress, index=index, offset=offset, evaluations=evaluations):
            def optimizer_state() -> dict[str, np.ndarray]:
                state = {"scale": np.array(index), "evaluations_before": np.array(evaluations)}
                for key, value in progress.optimizer_state().items():
                    state[f"optimizer/{key}"] = value
                return state

            on_progress(
                dataclasses.replace(
                    progress,
                    step=offset + progress.step,
                    steps=total_steps,
                    evaluations=evaluations + progress.evaluations,
                    optimizer_state=optimizer_state,
                )
            )

        local_report_at = [
            step - offset for step in report_at if offset < step < offset + scale.steps
        ]
        optim = dataclasses.replace(config.optim, steps=scale.steps)
        result = minimize(
            loss_fn,
            tf.constant(start[None]),
            optim,
            local_report_at,
            report,
            initial_state=state,
            step_stop=step_stop,
        )
        evaluations += result.evaluations
        image = result.image[0].numpy()
        # A broken image can't be recovered by a later scale; the last scale ends the run anyway.
        if result.diverged or result.stopped or index == len(scales) - 1:
            break
        offset += scale.steps  # An early stop at a coarse scale skips on to the next scale.
    steps_done = offset + result.steps_done
    return dataclasses.replace(result, steps_done=steps_done, evaluations=evaluations)


def _with_temporal_term(loss, content: np.ndarray, temporal: TemporalTarget):
    """The loss plus the temporal term, its target at this scale's size."""
    height, width, _ = content.shape
    warped = images.resize_to(temporal.warped, height, width)
    weights = _mask_at(temporal.weights, height, width)
    return WithTemporalTerm(loss, content[None], warped[None], weights, temporal.weight)


def _at_size(image: np.ndarray, size: int) -> np.ndarray:
    return image if max(image.shape[:2]) == size else images.resize_longest_side(image, size)


def _mask_at(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """An (H, W) mask resized to (height, width), via the 3-channel image resize."""
    as_image = np.repeat(mask[:, :, None], 3, axis=2)
    return images.resize_to(as_image, height, width)[:, :, 0]
