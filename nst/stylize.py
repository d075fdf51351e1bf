"""The algorithm: style and content targets, the starting image, the optimisation. No file I/O.

Images are float32 RGB arrays in [0, 1] of shape (H, W, 3), as `nst.images` loads them.
"""

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from nst import images
from nst.config import Config
from nst.losses import StyleTransferLoss
from nst.optimize import OptimizeResult, Progress, minimize


def make_loss(
    feature_model, content: np.ndarray, styles: Sequence[np.ndarray], config: Config
) -> StyleTransferLoss:
    """The configured loss with its targets taken from `content` and the blended `styles`."""
    return StyleTransferLoss(
        feature_model,
        tf.constant(content),
        [tf.constant(style) for style in styles],
        style_blend=[style.weight for style in config.style],
        content_layers=config.layers.content,
        style_layers=config.layers.style,
        content_weight=config.loss.content_weight,
        style_weight=config.loss.style_weight,
        tv_weight=config.loss.tv_weight,
    )


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
    loss: StyleTransferLoss,
    start: np.ndarray,
    config: Config,
    report_at: Iterable[int] = (),
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> OptimizeResult:
    """Optimise the pixels of `start` under `loss` with the configured optimiser."""
    return minimize(
        tf.function(loss), tf.constant(start[None]), config.optim, report_at, on_progress
    )
