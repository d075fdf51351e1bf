"""Style masks: which styles share a term, and how a mask weighs a layer's positions."""

from collections.abc import Sequence

import tensorflow as tf


def position_weight_map(mask: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """An (H, W) mask at a layer's (H_l, W_l), scaled to sum to 1.

    Area resizing averages the mask over each layer position's share of the image, which is what
    2x2 pooling does; with an odd side VGG's pooling drops the last row, area resizing spreads
    it, a sub-pixel difference at the layer's scale.
    """
    resized = tf.image.resize(mask[None, :, :, None], size, method="area")[0, :, :, 0]
    return resized / tf.reduce_sum(resized)


def style_groups(masks: Sequence) -> list[tuple[list[int], object]]:
    """The style terms for per-style masks (each None or a mask): the unmasked styles together,
    blended into one target, then each masked style alone. [(style indices, mask or None)]."""
    unmasked = [index for index, mask in enumerate(masks) if mask is None]
    groups = [(unmasked, None)] if unmasked else []
    return groups + [([index], mask) for index, mask in enumerate(masks) if mask is not None]
