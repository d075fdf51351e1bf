"""Content, style and total-variation losses, pure TensorFlow.

Each term is divided by its target's own magnitude, so a weight means the same thing at any image
size and on either network (unlike Gatys et al., whose raw sums grow with the feature map size):

    content_l = mean((F_l(x) - F_l(c))^2) / mean(F_l(c)^2)
    style_l   = sum((G_l(x) - A_l)^2) / sum(A_l^2)
    tv        = roughness(x) / roughness(c)

where G_l = F_l^T F_l / (H_l W_l) is the Gram matrix, A_l the style images' Gram matrices blended
by their weights, and roughness the mean squared difference of neighbouring pixels.

and layer weights are normalised to sum to 1 within each term. The total is
content_weight * content + style_weight * style + tv_weight * tv.
"""

from collections.abc import Mapping, Sequence

import tensorflow as tf

# A flat content image has no roughness to compare against; this floor (an image whose neighbour
# pixels differ by 1% on average) keeps the TV term finite and gentle for it.
_MIN_CONTENT_ROUGHNESS = 1e-4


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """(1, H, W, C) activations -> (C, C) channel correlations, averaged over positions."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, [-1, channels])
    positions = tf.cast(tf.shape(flat)[0], flat.dtype)
    return tf.matmul(flat, flat, transpose_a=True) / positions


def roughness(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between vertically and horizontally adjacent pixels."""
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """Drop zero-weight layers and scale the rest to sum to 1."""
    total = sum(weights.values())
    return {layer: weight / total for layer, weight in weights.items() if weight > 0}


class StyleTransferLoss:
    """The Gatys loss with its targets computed once; call it on a (1, H, W, 3) image in [0, 1].

    Returns (total, terms): `terms` holds each weighted contribution under "content", "style",
    "tv", and per layer under "content/<layer>" and "style/<layer>"; the parts add up to the total.
    """

    def __init__(
        self,
        feature_model,
        content_image: tf.Tensor,
        style_images: Sequence[tf.Tensor],
        style_blend: Sequence[float],
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
    ):
        self._model = feature_model
        self._content_layers = _normalised(content_layers)
        self._style_layers = _normalised(style_layers)
        self._content_weight = content_weight
        self._style_weight = style_weight
        self._tv_weight = tv_weight

        content_features = feature_model(content_image[None], training=False)
        self._content_targets = {layer: content_features[layer] for layer in self._content_layers}
        self._content_scales = {
            layer: tf.reduce_mean(tf.square(target))
            for layer, target in self._content_targets.items()
        }

        blend_total = sum(style_blend)
        self._style_targets = {layer: 0.0 for layer in self._style_layers}
        for style_image, blend in zip(style_images, style_blend, strict=True):
            style_features = feature_model(style_image[None], training=False)
            for layer in self._style_layers:
                gram = gram_matrix(style_features[layer])
                self._style_targets[layer] += (blend / blend_total) * gram
        self._style_scales = {
            layer: tf.reduce_sum(tf.square(target)) for layer, target in self._style_targets.items()
        }
        self._tv_scale = tf.maximum(roughness(content_image[None]), _MIN_CONTENT_ROUGHNESS)

    def __call__(self, image: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        features = self._model(image, training=False)
        terms = {}
        for layer, layer_weight in self._content_layers.items():
            error = tf.reduce_mean(tf.square(features[layer] - self._content_targets[layer]))
            terms[f"content/{layer}"] = (
                self._content_weight * layer_weight * error / self._content_scales[layer]
            )
        for layer, layer_weight in self._style_layers.items():
            gram = gram_matrix(features[layer])
            error = tf.reduce_sum(tf.square(gram - self._style_targets[layer]))
            terms[f"style/{layer}"] = (
                self._style_weight * layer_weight * error / self._style_scales[layer]
            )
        terms["content"] = tf.add_n([terms[f"content/{layer}"] for layer in self._content_layers])
        terms["style"] = tf.add_n([terms[f"style/{layer}"] for layer in self._style_layers])
        terms["tv"] = self._tv_weight * roughness(image) / self._tv_scale
        total = terms["content"] + terms["style"] + terms["tv"]
        return total, terms

    @property
    def layers(self) -> list[str]:
        """Every layer the loss reads, content first."""
        return [*self._content_layers, *self._style_layers]
