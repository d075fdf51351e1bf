"""The palette term: how far the result's pixel colours are from the style's, as distributions.

Gram matrices of VGG features constrain colour only loosely: results keep a muddy palette halfway
between photo and painting (nst.algorithm.metrics' `palette` measured 3.6 Lab units for the old
defaults).
Matching the whole colour histogram fixes that (Risser et al. 2017 add histogram losses for the
same reason). Here the histogram distance is the sliced Wasserstein distance (as Heitz et al. 2021
use it on features): the pixels are projected on fixed directions in RGB, and each sorted
projection is compared with the style's quantiles. Its gradient moves each pixel towards the
style colour of the same rank, so the photo's light areas take the painting's light colours.

The term reads the image average-pooled to at most `_SIDE` px on its longest side: a palette is a
property of areas, and this keeps its cost (a sort per direction) the same at any output size.
Pure TensorFlow and NumPy; no I/O.
"""

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from nst.algorithm import style_masks

_SIDE = 128
_MAX_STYLE_PIXELS = 2**20  # a 1024 px square; larger styles are sampled on a lattice
_DIRECTIONS = 32
_SEED = 0


def pooling_factor(height: int, width: int) -> int:
    """The average pooling that brings the longest side to at most _SIDE px."""
    return max(1, -(-max(height, width) // _SIDE))


def _pool(image: tf.Tensor, factor: int) -> tf.Tensor:
    """(1, H, W, 3) -> (1, H // factor, W // factor, 3), averaged."""
    if factor == 1:
        return image
    return tf.nn.avg_pool2d(image, factor, factor, "VALID")


def _directions() -> np.ndarray:
    """(3, D) unit vectors: the RGB axes, their diagonal, and fixed random ones."""
    random = np.random.default_rng(_SEED).normal(size=(_DIRECTIONS - 4, 3))
    fixed = np.concatenate([np.eye(3), np.ones((1, 3)), random])
    return (fixed / np.linalg.norm(fixed, axis=1, keepdims=True)).T.astype(np.float32)


def _mixture_quantiles(samples: Sequence[tuple[np.ndarray, float]], count: int) -> np.ndarray:
    """The `count` quantiles at (k + 0.5) / count of a weighted mixture of samples, per column.

    `samples`: (values (M_i, D), weight) pairs; each sample set's weight is spread evenly over
    its rows, so styles blend by weight whatever their pixel counts.
    """
    values = np.concatenate([v for v, _ in samples])
    mass = np.concatenate([np.full(len(v), w / len(v)) for v, w in samples])
    mass /= mass.sum()
    levels = (np.arange(count) + 0.5) / count
    columns = []
    for column in values.T:
        order = np.argsort(column)
        cumulative = np.cumsum(mass[order]) - mass[order] / 2
        columns.append(np.interp(levels, cumulative, column[order]))
    return np.stack(columns, axis=1).astype(np.float32)


class PaletteLoss:
    """Sliced Wasserstein distance between the image's and the styles' colour distributions,
    relative to the style colours' spread (1.0 = an error as large as that spread).

    `styles`: (H, W, 3) images in [0, 1] with their blend weights; `masks`: per style None or an
    (H, W) mask at `image_size`. As for the style term, the unmasked styles blend into one target
    over the whole image, and each masked style is matched where its mask is at least half on.
    """

    def __init__(
        self,
        styles: Sequence[tuple[np.ndarray, float]],
        masks: Sequence[np.ndarray | None],
        image_size: tuple[int, int],
        pooling: int | None = None,
    ):
        """`pooling` overrides the averaging `pooling_factor` gives `image_size`: a training
        crop is pooled as the whole picture it stands for will be (nst.algorithm.losses'
        PhotoBatchLoss)."""
        self._factor = pooling or pooling_factor(*image_size)
        pooled_size = (image_size[0] // self._factor, image_size[1] // self._factor)
        self._directions = tf.constant(_directions())
        total = sum(weight for _, weight in styles)
        projected = [(self._project(np.asarray(image)), weight) for image, weight in styles]
        groups = style_masks.style_groups(masks)
        self._groups = []
        for indices, mask in groups:
            positions = self._positions(mask, pooled_size)
            count = pooled_size[0] * pooled_size[1] if positions is None else len(positions)
            members = [projected[index] for index in indices]
            target = _mixture_quantiles(members, count)
            spread = float(np.mean(np.var(target, axis=0)))
            share = sum(weight for _, weight in members) / total
            self._groups.append(
                (share, positions, tf.constant(target), max(spread, 1e-6))  # a flat style
            )

    def _project(self, image: np.ndarray) -> np.ndarray:
        # A print-size style has tens of millions of pixels: every k-th row and column of it
        # keeps the colour distribution and keeps this (and its sort) small.
        step = max(1, math.ceil(math.sqrt(image.shape[0] * image.shape[1] / _MAX_STYLE_PIXELS)))
        pixels = image[::step, ::step].reshape(-1, 3).astype(np.float32)
        return pixels @ self._directions.numpy()

    def _positions(self, mask: np.ndarray | None, pooled_size) -> tf.Tensor | None:
        if mask is None:
            return None
        pooled = _pool(tf.constant(mask, tf.float32)[None, :, :, None], self._factor)
        flat = tf.reshape(pooled, [-1]).numpy()
        threshold = 0.5 if flat.max() >= 0.5 else flat.max() / 2
        return tf.constant(np.flatnonzero(flat >= threshold), tf.int32)

    def __call__(self, image: tf.Tensor) -> tf.Tensor:
        """The distance for a (1, H, W, 3) image of `image_size`."""
        pixels = tf.reshape(_pool(image, self._factor), [-1, 3])
        projections = tf.matmul(pixels, self._directions)
        distance = 0.0
        for share, positions, target, spread in self._groups:
            selected = projections if positions is None else tf.gather(projections, positions)
            ranked = tf.sort(selected, axis=0)
            distance += share * tf.reduce_mean(tf.square(ranked - target)) / spread
        return distance
