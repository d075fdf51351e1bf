"""The quality readout of a result: nst.algorithm.metrics' palette, strokes, contrast and
coherence, plus the content and style distances on the network at fixed reference layers, so
scores compare across configs:

    content  mean((F(x) - F(c))^2) / mean(F(c)^2) at block4_conv2
    style    sum((G(x) - A)^2) / sum(A^2) at block1_conv1 ... block5_conv1, averaged with equal
             weight, where G is nst.algorithm.losses' Gram matrix and A the style images' Gram
             matrices
             blended by weight (as the loss blends them)

These are the loss's content and style terms with every layer weight 1 and no loss weights, read
with max pooling, taps after the ReLU and float32 whatever layers, style loss, pooling, taps and
precision the run used; only the network and its weights follow the run. Every image is taken at
`metrics.SIDE` px on its longest side, like the other metrics. A result whose aspect differs from
the content's is stretched to the content's shape for the content distance.

With several styles, palette, strokes and contrast are the blend-weighted means of the scores
against each style image; style masks are not used. Arrays in, numbers out: no file I/O.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from nst import images, networks
from nst.algorithm import losses, metrics

CONTENT_LAYER = "block4_conv2"
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
LAYERS = (CONTENT_LAYER, *STYLE_LAYERS)  # in VGG16 and VGG19 alike
NAMES = ("palette", "strokes", "contrast", "coherence", "content", "style")
# The smallest image side (px) at which every reference layer has a position.
_MIN_SIDE = max(networks.min_input_side(layer) for layer in LAYERS)


def model_fits(pooling: str, taps: str, precision: str, outputs: Sequence[str]) -> bool:
    """Whether a feature model built with these settings has the reference layers at the
    reference settings (max pooling, post-ReLU, float32, LAYERS), so it can score."""
    fixed = (pooling, taps, precision) == ("max", "post_relu", "float32")
    return fixed and set(LAYERS) <= set(outputs)


class Scorer:
    """Scores results against one content image and blended style images (RGB in [0, 1]).

    `feature_model` maps (1, H, W, 3) images to {layer: activation} for at least the reference
    layers (nst.runs.feature_models.reference_model builds one); the targets are computed once,
    here. `blend` weighs the styles (default: equally).
    """

    def __init__(
        self,
        feature_model,
        content: np.ndarray,
        styles: Sequence[np.ndarray],
        blend: Sequence[float] | None = None,
    ):
        if not styles:
            raise ValueError("a Scorer needs at least one style image")
        blend = [1.0] * len(styles) if blend is None else list(blend)
        if len(blend) != len(styles) or min(blend) <= 0:
            raise ValueError(f"blend needs one positive weight per style image, got {blend}")
        self._model = feature_model
        self._content = metrics.at_metric_size(content)
        self._styles = [metrics.at_metric_size(style) for style in styles]
        self._blend = [weight / sum(blend) for weight in blend]
        # A network distance is NaN where an image is too thin for block5 (over 16:1 at 256 px).
        self._network_usable = all(_deep_enough(image) for image in [self._content, *self._styles])
        if self._network_usable:
            self._content_target = self._features(self._content)[CONTENT_LAYER]
            style_features = [self._features(style) for style in self._styles]
            self._gram_targets = {
                layer: tf.add_n(
                    [
                        weight * losses.gram_matrix(features[layer])
                        for features, weight in zip(style_features, self._blend, strict=True)
                    ]
                )
                for layer in STYLE_LAYERS
            }

    def __call__(self, result: np.ndarray) -> dict[str, float]:
        """{name: score} for NAMES: palette, strokes, contrast, coherence, content, style;
        `result` at any size (coherence is read at metrics.COHERENCE_SIDE, the rest at SIDE)."""
        coherence = metrics.coherence(result)
        result = metrics.at_metric_size(result)
        per_style = [metrics.quality(result, style) for style in self._styles]
        scores = {
            name: float(
                sum(
                    weight * style_scores[name]
                    for weight, style_scores in zip(self._blend, per_style, strict=True)
                )
            )
            for name in per_style[0]
        }
        return scores | {"coherence": coherence} | self._network_distances(result)

    def _network_distances(self, result: np.ndarray) -> dict[str, float]:
        distances = {"content": float("nan"), "style": float("nan")}
        if not self._network_usable:
            return distances
        as_content = images.resize_to(result, *self._content.shape[:2])  # a copy if the same
        content_features = self._features(as_content)
        distances["content"] = _relative_mse(content_features[CONTENT_LAYER], self._content_target)
        if _deep_enough(result):
            same_shape = result.shape == self._content.shape
            features = content_features if same_shape else self._features(result)
            distances["style"] = float(
                np.mean(
                    [
                        _relative_gram_distance(features[layer], target)
                        for layer, target in self._gram_targets.items()
                    ]
                )
            )
        return distances

    def _features(self, image: np.ndarray) -> Mapping[str, tf.Tensor]:
        return self._model(tf.constant(image[None], tf.float32), training=False)


def _deep_enough(image: np.ndarray) -> bool:
    return min(image.shape[:2]) >= _MIN_SIDE


def _relative_mse(features: tf.Tensor, target: tf.Tensor) -> float:
    error = tf.reduce_mean(tf.square(features - target)) / tf.reduce_mean(tf.square(target))
    return float(error)


def _relative_gram_distance(features: tf.Tensor, target_gram: tf.Tensor) -> float:
    error = tf.reduce_sum(tf.square(losses.gram_matrix(features) - target_gram))
    return float(error / tf.reduce_sum(tf.square(target_gram)))
