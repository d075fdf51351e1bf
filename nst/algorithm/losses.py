"""Content, style and total-variation losses, pure TensorFlow.

Each term is divided by its target's own magnitude, so a weight means the same thing at any image
size and on either network (unlike Gatys et al., whose raw sums grow with the feature map size):

    content_l = mean((F_l(x) - F_l(c))^2) / mean(F_l(c)^2)
    tv        = roughness(x) / roughness(c)

TV's form (`tv_form`): "isotropic" smooths in every direction (the squared differences of
neighbouring pixels); "flow" smooths only along each pixel's stroke direction, read from the
structure tensor of the image and the photo together and weighted by how coherent the strokes
there already are, so strokes grow long and follow the shapes instead of rippling, and cross
none of the photo's own edges (Weickert's coherence-enhancing diffusion, 1999, as a loss term;
`flow_roughness`). Feed-forward training (`PhotoBatchLoss`) reads the output's directions only.

and layer weights are normalised to sum to 1 within each term. The style term of layer l compares
statistics of the (positions x channels) activations F_l with the style images' (`style_loss`):

    gram         sum((G(x) - A)^2) / sum(A^2)                      G = F^T F / positions
    mean_std     (|mu(x) - mu_t|^2 + |sd(x) - sd_t|^2) / (|mu_t|^2 + |sd_t|^2)      per channel
    wasserstein  W2^2(N(mu(x), S(x)), N(mu_t, S_t)) / (|mu_t|^2 + tr S_t)   mean and covariance
    histogram    gram + sum_c W2^2(F_c(x), F_c,t) / sum_c E[F_c,t^2]   Gram and each channel's
                 histogram (Risser et al. 2017): sorted activations against the style's quantiles

Several style images are blended by weight into one target: the statistics of all their features
pooled together (Gram matrices, means and second moments averaged by weight). A style with a mask
is its own term instead: the output's statistics are taken where the mask is white (positions
weighted by the mask) and compared with that style image's whole-image statistics. Each layer's
style term is the blend-weighted average of these terms. The total is
content_weight * content + style_weight * style + tv_weight * tv.

A video frame adds a temporal term (`WithTemporalTerm`, Ruder et al. 2016): the squared
difference from the previous result warped into this frame, where the flow is reliable (weights
c in [0, 1]: 0 where it isn't), relative to the frame's own roughness, as tv is:

    temporal  mean(c * (x - w)^2) / roughness(frame)
"""

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from nst.algorithm import palette
from nst.algorithm.style_masks import position_weight_map, style_groups

# A flat content image has no roughness to compare against; this floor (an image whose neighbour
# pixels differ by 1% on average) keeps the TV term finite and gentle for it.
_MIN_CONTENT_ROUGHNESS = 1e-4
# Added to the variance before its square root (as AdaIN does), so a flat channel has a finite
# gradient. Absolute, in feature units: negligible for VGG activations (tens to hundreds).
_VARIANCE_FLOOR = 1e-5
# Eigenvalues of the Wasserstein cross term below this fraction of the target's squared mean
# variance count as 0 (rounding noise): sqrt's gradient stays finite where the product is singular
# (a flat channel, a flat image), and the loss stays free of the feature scale.
_RELATIVE_EIGENVALUE_FLOOR = 1e-8
TV_FORMS = ("isotropic", "flow")
# The window (Gaussian sigma, px at 512 px) over which a stroke's direction is read, as
# nst.algorithm.metrics.coherence reads it; scaled with the picture, at least 1 px.
_FLOW_SIGMA_AT_512 = 3.0
_LUMA = (0.299, 0.587, 0.114)


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """(1, H, W, C) activations -> (C, C) channel correlations, averaged over positions."""
    return _second_moment(_flatten(features), None)


def roughness(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between vertically and horizontally adjacent pixels."""
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))


def flow_roughness(
    image: tf.Tensor, sigma: float, guide: tuple[tf.Tensor, ...] | None = None
) -> tf.Tensor:
    """Mean squared derivative of `image` (B, H, W, 3) along each pixel's stroke direction,
    weighted by the coherence there (0 for isotropic texture, 1 for parallel strokes).

    The direction and coherence come from the luminance's structure tensor (gradients smoothed
    by a Gaussian of `sigma` px), plus `guide`'s (the photo's, from `structure_tensor`) where
    given, and are held fixed (no gradient flows through them): the loss smooths along the
    strokes the image has, and along the photo's own edges where it has them, without choosing
    them. Doubled, so a picture whose strokes all run one way scores as `roughness` does along
    them.

    Both the tensor's gradients and the derivative along the stroke are Scharr's rotation-
    optimised 3x3 filters (Weickert & Scharr 2002), not Sobel and central differences: those
    misread a 4 px stroke at 15-30 degrees by several degrees towards the axes and penalise it,
    which turned the sky's strokes into a maze of horizontal and vertical lines.
    """
    jxx, jyy, jxy = (tf.stop_gradient(part) for part in structure_tensor(image, sigma))
    if guide is not None:
        jxx, jyy, jxy = jxx + guide[0], jyy + guide[1], jxy + guide[2]
    gradient_angle = 0.5 * tf.atan2(2 * jxy, jxx - jyy)
    along_x, along_y = -tf.sin(gradient_angle), tf.cos(gradient_angle)  # across the gradient
    coherence = tf.sqrt(tf.square(jxx - jyy) + 4 * tf.square(jxy)) / (jxx + jyy + 1e-8)
    inner = (slice(None), slice(1, -1), slice(1, -1))
    batch, height, width = tf.unstack(tf.shape(image)[:3])
    # Each colour its own one-channel picture: (B * 3, H, W, 1), and back to (B, H-2, W-2, 3).
    channels = tf.reshape(tf.transpose(image, [0, 3, 1, 2]), [-1, height, width, 1])
    derivatives = tf.reshape(_scharr_derivatives(channels), [batch, 3, height - 2, width - 2, 2])
    d_dx, d_dy = tf.unstack(tf.transpose(derivatives, [0, 2, 3, 1, 4]), axis=-1)
    along = along_x[inner][..., None] * d_dx + along_y[inner][..., None] * d_dy
    return 2 * tf.reduce_mean(coherence[inner][..., None] * tf.square(along))


def structure_tensor(image: tf.Tensor, sigma: float) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(Jxx, Jyy, Jxy), each (B, H, W): products of the luminance's Scharr gradients, smoothed
    by a Gaussian of `sigma` px."""
    luminance = tf.tensordot(image, tf.constant(_LUMA), axes=[[3], [0]])[..., None]
    padded = tf.pad(luminance, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    gx, gy = tf.unstack(_scharr_derivatives(padded), axis=-1)  # (B, H, W) each
    return tuple(_gaussian_blur(product, sigma) for product in (gx * gx, gy * gy, gx * gy))


def _scharr_derivatives(values: tf.Tensor) -> tf.Tensor:
    """(N, H, W, 1) -> (N, H - 2, W - 2, 2): d/dx and d/dy by Scharr's optimised 3x3 filters,
    scaled so a ramp of slope 1 reads 1."""
    smooth = np.array([3.0, 10.0, 3.0]) / 16
    central = np.array([-1.0, 0.0, 1.0]) / 2
    d_dx = np.outer(smooth, central)  # rows are y, columns x
    kernel = np.stack([d_dx, d_dx.T], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)
    return tf.nn.conv2d(values, tf.constant(kernel, tf.float32), 1, "VALID")


def _gaussian_blur(values: tf.Tensor, sigma: float) -> tf.Tensor:
    """(B, H, W) values blurred by a separable Gaussian, zero beyond the borders."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = tf.constant(taps / taps.sum(), tf.float32)
    blurred = tf.nn.conv2d(values[..., None], tf.reshape(kernel, (-1, 1, 1, 1)), 1, "SAME")
    return tf.nn.conv2d(blurred, tf.reshape(kernel, (1, -1, 1, 1)), 1, "SAME")[..., 0]


def tv_roughness(form: str, picture_side: int, guide: np.ndarray | tf.Tensor | None = None):
    """The roughness TV measures, for pictures `picture_side` px on their longest side. Flow TV
    reads directions from the picture and, if given, from `guide` (H, W, 3: the photo)."""
    if form == "isotropic":
        return roughness
    if form != "flow":
        raise ValueError(f"tv_form must be one of {', '.join(TV_FORMS)}, got {form!r}")
    sigma = max(1.0, _FLOW_SIGMA_AT_512 * picture_side / 512)
    guide_tensor = None
    if guide is not None:
        guide_tensor = structure_tensor(tf.convert_to_tensor(guide, tf.float32)[None], sigma)
    return lambda image: flow_roughness(image, sigma, guide_tensor)


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """Drop zero-weight layers and scale the rest to sum to 1."""
    total = sum(weights.values())
    return {layer: weight / total for layer, weight in weights.items() if weight > 0}


# Statistics over positions. `position_weights` is None (every position counts the same) or an
# (N,) tensor summing to 1: a mask at the layer's resolution.


def _flatten(features: tf.Tensor) -> tf.Tensor:
    """(1, H, W, C) -> (H * W, C)."""
    return tf.reshape(features, [-1, tf.shape(features)[-1]])


def _mean(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tf.Tensor:
    if position_weights is None:
        return tf.reduce_mean(flat, axis=0)
    return tf.tensordot(position_weights, flat, axes=1)


def _second_moment(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tf.Tensor:
    """E[f f^T] over positions: the Gram matrix."""
    if position_weights is None:
        return _mean_outer_product(flat)
    return _weighted_outer_product(flat, position_weights)


# TensorFlow differentiates matmul(F, F) as a product of two different tensors: two (N x C)(C x C)
# matmuls, one per operand. The Gram matrix's own gradient, F (dG + dG^T), is one: the Gram
# matrices' backward pass then costs what their forward pass does, which is most of the loss's
# overhead over the network's own forward and backward pass.


@tf.custom_gradient
def _mean_outer_product(flat: tf.Tensor) -> tf.Tensor:
    """F^T F / N for (N, C) features F."""
    positions = tf.cast(tf.shape(flat)[0], flat.dtype)
    gram = tf.matmul(flat, flat, transpose_a=True) / positions

    def gradient(upstream):
        return tf.matmul(flat, (upstream + tf.transpose(upstream)) / positions)

    return gram, gradient


@tf.custom_gradient
def _weighted_outer_product(flat: tf.Tensor, position_weights: tf.Tensor) -> tf.Tensor:
    """F^T diag(w) F for (N, C) features F and (N,) position weights w (constants: a mask)."""
    weighted = flat * position_weights[:, None]
    gram = tf.matmul(weighted, flat, transpose_a=True)

    def gradient(upstream):
        return tf.matmul(weighted, upstream + tf.transpose(upstream)), None

    return gram, gradient


def _mean_and_variance(flat, position_weights) -> tuple[tf.Tensor, tf.Tensor]:
    mean = _mean(flat, position_weights)
    return mean, _mean(tf.square(flat - mean), position_weights)


def _mean_and_covariance(flat, position_weights) -> tuple[tf.Tensor, tf.Tensor]:
    mean = _mean(flat, position_weights)
    return mean, _second_moment(flat - mean, position_weights)


def _psd_sqrt(matrix: tf.Tensor) -> tf.Tensor:
    """The square root of a symmetric positive semi-definite matrix; rounding's negatives -> 0."""
    values, vectors = tf.linalg.eigh(matrix)
    return (vectors * tf.sqrt(tf.maximum(values, 0.0))) @ tf.transpose(vectors)


# One style statistic per class: `statistics(flat, position_weights)` reads them from (N, C)
# features; the class is built from each style image's statistics and blend weight (summing to
# 1), and `distance` gives the normalised distance of the output's statistics to the blend.
# `moments` says which moments they are, so nst.algorithm.tiling can accumulate them tile by tile.
# Blends are taken as the statistics of the pooled features, i.e. the weighted mixture: means and
# second moments average by weight, and the variance / covariance follow from those moments, so
# the spread between the styles' means counts as variance, as the Gram blend does implicitly.


class _GramStyle:
    """Gatys et al.: uncentred channel correlations."""

    moments = "uncentred"  # what nst.algorithm.tiling accumulates over tiles for it

    @staticmethod
    def statistics(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tuple[tf.Tensor]:
        return (_second_moment(flat, position_weights),)

    def __init__(self, styles: Sequence[tuple[tuple[tf.Tensor, ...], float]]):
        self.gram = tf.add_n([weight * gram for (gram,), weight in styles])
        self.scale = tf.reduce_sum(tf.square(self.gram))

    def distance(self, statistics: tuple[tf.Tensor]) -> tf.Tensor:
        (gram,) = statistics
        return tf.reduce_sum(tf.square(gram - self.gram)) / self.scale


class _MeanStdStyle:
    """Per-channel mean and standard deviation (the statistics AdaIN matches)."""

    moments = "variance"

    @staticmethod
    def statistics(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tuple[tf.Tensor, ...]:
        return _mean_and_variance(flat, position_weights)

    def __init__(self, styles: Sequence[tuple[tuple[tf.Tensor, ...], float]]):
        moments = styles
        self.mean = tf.add_n([weight * mean for (mean, _), weight in moments])
        # The mixture's variance: the blended second moment minus the blended mean squared,
        # written as a sum of non-negative parts to avoid cancellation.
        variance = 0.0
        for (mean, style_variance), weight in moments:
            variance += weight * (style_variance + tf.square(mean - self.mean))
        self.std = tf.sqrt(variance + _VARIANCE_FLOOR)
        self.scale = tf.reduce_sum(tf.square(self.mean)) + tf.reduce_sum(tf.square(self.std))

    def distance(self, statistics: tuple[tf.Tensor, ...]) -> tf.Tensor:
        mean, variance = statistics
        std = tf.sqrt(variance + _VARIANCE_FLOOR)
        mean_error = tf.reduce_sum(tf.square(mean - self.mean))
        std_error = tf.reduce_sum(tf.square(std - self.std))
        return (mean_error + std_error) / self.scale


class _WassersteinStyle:
    """The 2-Wasserstein distance between Gaussians fitted to the features (as crowsonkb's
    style-transfer-pytorch): |mu_x - mu_t|^2 + tr S_x + tr S_t - 2 tr sqrt(S_t^1/2 S_x S_t^1/2).

    S_t^1/2 is fixed, so it is computed once; the cross term's square root is the sum of the
    square roots of the symmetric product's eigenvalues.
    """

    moments = "covariance"

    @staticmethod
    def statistics(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tuple[tf.Tensor, ...]:
        return _mean_and_covariance(flat, position_weights)

    def __init__(self, styles: Sequence[tuple[tuple[tf.Tensor, ...], float]]):
        moments = styles
        self.mean = tf.add_n([weight * mean for (mean, _), weight in moments])
        # The mixture's covariance, as for _MeanStdStyle's variance.
        covariance = 0.0
        for (mean, style_covariance), weight in moments:
            spread = mean - self.mean
            covariance += weight * (style_covariance + spread[:, None] * spread[None, :])
        self.covariance_sqrt = _psd_sqrt(covariance)
        self.trace = tf.linalg.trace(covariance)
        channels = tf.cast(tf.shape(covariance)[0], covariance.dtype)
        self.eigenvalue_floor = _RELATIVE_EIGENVALUE_FLOOR * tf.square(self.trace / channels)
        self.scale = tf.reduce_sum(tf.square(self.mean)) + self.trace

    def distance(self, statistics: tuple[tf.Tensor, ...]) -> tf.Tensor:
        mean, covariance = statistics
        # In float64 (C x C: cheap): the cross term's gradient weighs the small eigenvalues'
        # directions by 1 / sqrt(eigenvalue), which float32 gets wrong by ~1e-4.
        root = tf.cast(self.covariance_sqrt, tf.float64)
        product = root @ tf.cast(covariance, tf.float64) @ root
        # Symmetrised because rounding makes the product slightly asymmetric, and eigvalsh
        # reads only one triangle.
        product = (product + tf.transpose(product)) / 2
        eigenvalues = tf.cast(tf.linalg.eigvalsh(product), tf.float32)
        # The inner maximum keeps sqrt's gradient finite even on the branch `where` discards;
        # counting floored eigenvalues as 0 keeps W2 from going negative at a singular target.
        above_floor = eigenvalues > self.eigenvalue_floor
        roots = tf.sqrt(tf.maximum(eigenvalues, self.eigenvalue_floor))
        cross = tf.reduce_sum(tf.where(above_floor, roots, 0.0))
        distance = (
            tf.reduce_sum(tf.square(mean - self.mean))
            + tf.linalg.trace(covariance)
            + self.trace
            - 2.0 * cross
        )
        return distance / self.scale


class _HistogramStyle:
    """Risser et al. 2017: the Gram matrix plus each channel's whole histogram, which Gram
    matrices alone leave free (their optimisation drifts to values the style never has).

    The histogram term is the 1-D Wasserstein distance per channel: the output's activations
    sorted, against the style's quantiles at the same ranks. It equals Risser's ||F - H(F)||^2
    with H the exact histogram matching, and every position gets a gradient. Whole images only:
    sorted columns neither tile nor take a mask's weights.
    """

    moments = None  # whole images only: not mergeable tile by tile, no masks

    @staticmethod
    def statistics(flat: tf.Tensor, position_weights: tf.Tensor | None) -> tuple[tf.Tensor, ...]:
        if position_weights is not None:
            raise ValueError("the histogram style loss takes no style masks")
        return _mean_outer_product(flat), tf.sort(flat, axis=0)

    def __init__(self, styles: Sequence[tuple[tuple[tf.Tensor, ...], float]]):
        self.gram = tf.add_n([weight * gram for (gram, _), weight in styles])
        self.gram_scale = tf.reduce_sum(tf.square(self.gram))
        self.quantiles = tf.constant(
            _mixture_quantiles([(np.asarray(ranked), weight) for (_, ranked), weight in styles])
        )
        self.histogram_scale = tf.linalg.trace(self.gram)  # sum_c E[F_c^2] of the blend

    def distance(self, statistics: tuple[tf.Tensor, ...]) -> tf.Tensor:
        gram, ranked = statistics
        gram_distance = tf.reduce_sum(tf.square(gram - self.gram)) / self.gram_scale
        targets = _quantiles_at_ranks(self.quantiles, tf.shape(ranked)[0])
        squared = tf.reduce_sum(tf.reduce_mean(tf.square(ranked - targets), axis=0))
        return gram_distance + squared / self.histogram_scale


# How finely a style's histogram is kept: quantiles per channel (the 1,024 positions of
# block5 at 512 px are the fewest a layer has there).
_QUANTILES = 1024


def _mixture_quantiles(styles: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """(_QUANTILES, C) quantiles of the blend: each style's sorted (N, C) activations are a
    mixture component weighing its blend weight; the quantiles sit at ranks (k + 0.5) / K."""
    levels = (np.arange(_QUANTILES) + 0.5) / _QUANTILES
    samples, masses = [], []
    for ranked, weight in styles:
        rows = np.minimum((levels * len(ranked)).astype(int), len(ranked) - 1)
        samples.append(ranked[rows])
        masses.append(np.full(_QUANTILES, weight / _QUANTILES))
    samples, masses = np.concatenate(samples), np.concatenate(masses)
    quantiles = np.empty((_QUANTILES, samples.shape[1]), np.float32)
    for channel in range(samples.shape[1]):
        order = np.argsort(samples[:, channel], kind="stable")
        cumulative = np.cumsum(masses[order])
        picked = np.searchsorted(cumulative, levels * cumulative[-1])
        quantiles[:, channel] = samples[order[np.minimum(picked, len(order) - 1)], channel]
    return quantiles


def _quantiles_at_ranks(quantiles: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """(count, C) values of the quantile function at ranks (j + 0.5) / count, interpolated
    linearly between the stored quantiles."""
    kept = tf.shape(quantiles)[0]
    levels = (tf.range(count, dtype=tf.float32) + 0.5) / tf.cast(count, tf.float32)
    position = tf.clip_by_value(
        levels * tf.cast(kept, tf.float32) - 0.5, 0.0, float(_QUANTILES - 1)
    )
    below = tf.cast(tf.floor(position), tf.int32)
    above = tf.minimum(below + 1, kept - 1)
    fraction = (position - tf.cast(below, tf.float32))[:, None]
    return (1 - fraction) * tf.gather(quantiles, below) + fraction * tf.gather(quantiles, above)


_STYLE_STATISTICS = {
    "gram": _GramStyle,
    "mean_std": _MeanStdStyle,
    "wasserstein": _WassersteinStyle,
    "histogram": _HistogramStyle,
}


def _statistic_class(style_loss: str):
    if style_loss not in _STYLE_STATISTICS:
        choices = ", ".join(_STYLE_STATISTICS)
        raise ValueError(f"style_loss must be one of {choices}, got {style_loss!r}")
    return _STYLE_STATISTICS[style_loss]


def _position_weights(mask: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """position_weight_map, flattened as _flatten flattens the layer's positions."""
    return tf.reshape(position_weight_map(mask, size), [-1])


# The last few style images' statistics, per network and layer set: a batch of photos run in
# one process (nst.runs.batch) shares one style, whose features then take one forward pass. Only the
# statistics are kept (C x C at most): the feature maps of a large style are gigabytes.
_STYLE_STATISTICS_KEPT = 4
_style_statistics_cache: dict[tuple, dict[str, tuple[tf.Tensor, ...]]] = {}


def _style_statistics(feature_model, image: tf.Tensor, layers, statistic) -> dict[str, tuple]:
    """{layer: statistic.statistics of the style image's features at that layer}."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.sha1(pixels.tobytes()).hexdigest()
    key = (feature_model, pixels.shape, digest, tuple(layers), statistic)
    if key not in _style_statistics_cache:
        if len(_style_statistics_cache) >= _STYLE_STATISTICS_KEPT:
            _style_statistics_cache.pop(next(iter(_style_statistics_cache)))  # the oldest
        features = feature_model(image[None], training=False)
        _style_statistics_cache[key] = {
            layer: statistic.statistics(_flatten(features[layer]), None) for layer in layers
        }
    return _style_statistics_cache[key]


class StyleTransferLoss:
    """The Gatys loss with its targets computed once; call it on a (1, H, W, 3) image in [0, 1].

    Returns (total, terms): `terms` holds each weighted contribution under "content", "style",
    "tv", "palette" (nst.algorithm.palette: the pixels' colours against the style's), and per layer
    under
    "content/<layer>" and "style/<layer>"; the parts add up to the total.

    `style_loss` is "gram", "mean_std", "wasserstein" or "histogram" (the module docstring).
    `style_masks` has one entry per style image: None, or an (H, W) float mask in [0, 1] at the
    content image's size, where the style applies where the mask is 1. Masks are resized to each
    style layer once, here, so the loss must be called on images of the content image's size.
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
        style_loss: str = "gram",
        style_masks: Sequence[tf.Tensor | np.ndarray | None] | None = None,
        palette_weight: float = 0.0,
        tv_form: str = "isotropic",
    ):
        statistic = _statistic_class(style_loss)
        # Flow TV reads stroke directions from the photo's edges too (see flow_roughness).
        self._roughness = tv_roughness(tv_form, max(content_image.shape[:2]), content_image)
        if style_masks is None:
            style_masks = [None] * len(style_images)
        if len(style_masks) != len(style_images):
            raise ValueError(
                f"style_masks needs one entry (a mask or None) per style image: "
                f"got {len(style_masks)} for {len(style_images)} images"
            )
        self._model = feature_model
        self._content_layers = _normalised(content_layers)
        self._style_layers = _normalised(style_layers)
        self._content_weight = content_weight
        self._style_weight = style_weight
        self._tv_weight = tv_weight
        self._image_size = tuple(content_image.shape[:2])

        content_features = feature_model(content_image[None], training=False)
        self._content_targets = {layer: content_features[layer] for layer in self._content_layers}
        self._content_scales = {
            layer: tf.reduce_mean(tf.square(target))
            for layer, target in self._content_targets.items()
        }

        # Style terms: the unmasked styles blended into one, then each masked style on its own;
        # each term weighs by its share of the blend weights.
        masks = [None if mask is None else self._checked_mask(mask) for mask in style_masks]
        blend_total = sum(style_blend)
        groups = style_groups(masks)
        self._masked = any(mask is not None for mask in masks)
        if self._masked and statistic.moments is None:
            raise ValueError(f"the {style_loss} style loss takes no style masks")

        style_statistics = [
            _style_statistics(feature_model, image, self._style_layers, statistic)
            for image in style_images
        ]
        self._style_terms = {layer: [] for layer in self._style_layers}
        for indices, mask in groups:
            group_blend = sum(style_blend[index] for index in indices)
            for layer, terms in self._style_terms.items():
                styles = [
                    (style_statistics[index][layer], style_blend[index] / group_blend)
                    for index in indices
                ]
                position_weights = None
                if mask is not None:  # at the output's resolution at this layer
                    size = content_features[layer].shape[1:3]
                    position_weights = _position_weights(mask, size)
                terms.append((group_blend / blend_total, statistic(styles), position_weights))
        self._tv_scale = tf.maximum(self._roughness(content_image[None]), _MIN_CONTENT_ROUGHNESS)
        self._palette_weight = palette_weight
        self._palette = None
        if palette_weight > 0:
            blended = zip(style_images, style_blend, strict=True)
            self._palette = palette.PaletteLoss(
                [(np.asarray(image), weight) for image, weight in blended],
                [None if mask is None else np.asarray(mask) for mask in masks],
                self._image_size,
            )

    def _checked_mask(self, mask) -> tf.Tensor:
        mask = tf.convert_to_tensor(mask, tf.float32)
        if tuple(mask.shape) != self._image_size:
            raise ValueError(
                f"a style mask must be (H, W) at the content image's size {self._image_size}, "
                f"got shape {tuple(mask.shape)}"
            )
        if not bool(tf.reduce_any(mask > 0)):
            raise ValueError("a style mask is all zero: its style would apply nowhere")
        return mask

    def __call__(self, image: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        if self._masked and not tf.TensorShape(image.shape[1:3]).is_compatible_with(
            self._image_size
        ):
            raise ValueError(
                f"this loss's style masks are at {self._image_size}, "
                f"got an image of {tuple(image.shape[1:3])}"
            )
        features = self._model(image, training=False)
        terms = {}
        for layer, layer_weight in self._content_layers.items():
            error = tf.reduce_mean(tf.square(features[layer] - self._content_targets[layer]))
            terms[f"content/{layer}"] = (
                self._content_weight * layer_weight * error / self._content_scales[layer]
            )
        for layer, layer_weight in self._style_layers.items():
            flat = _flatten(features[layer])
            distance = tf.add_n(
                [
                    share * statistic.distance(statistic.statistics(flat, position_weights))
                    for share, statistic, position_weights in self._style_terms[layer]
                ]
            )
            terms[f"style/{layer}"] = self._style_weight * layer_weight * distance
        terms["content"] = tf.add_n([terms[f"content/{layer}"] for layer in self._content_layers])
        terms["style"] = tf.add_n([terms[f"style/{layer}"] for layer in self._style_layers])
        terms["tv"] = self._tv_weight * self._roughness(image) / self._tv_scale
        terms["palette"] = (
            self._palette_weight * self._palette(image) if self._palette else tf.constant(0.0)
        )
        total = terms["content"] + terms["style"] + terms["tv"] + terms["palette"]
        return total, terms

    @property
    def layers(self) -> list[str]:
        """Every layer the loss reads, content first."""
        return [*self._content_layers, *self._style_layers]


class WithTemporalTerm:
    """`loss` plus Ruder et al.'s temporal term, called as `loss` is; its terms gain "temporal".

    `frame` is this frame's content (1, H, W, 3), `warped` the previous frame's result warped
    into this frame (1, H, W, 3) and `weights` each pixel's weight (H, W) in [0, 1]: 0 where
    the flow isn't trusted (occluded, motion boundaries; nst.algorithm.sequence.temporal_weights).
    Divided by the frame's roughness, like tv, so the weight means the same for a busy frame
    and a calm one and at any size: 1 weighs a flicker as large as the frame's own
    pixel-to-pixel variation as 1.
    """

    def __init__(self, loss, frame: tf.Tensor, warped: tf.Tensor, weights: tf.Tensor, weight):
        self._loss = loss
        self._warped = tf.convert_to_tensor(warped, tf.float32)
        self._pixel_weights = tf.convert_to_tensor(weights, tf.float32)[None, :, :, None]
        self._weight = weight
        scale = tf.maximum(
            roughness(tf.convert_to_tensor(frame, tf.float32)), _MIN_CONTENT_ROUGHNESS
        )
        self._scale = scale

    def __call__(self, image: tf.Tensor) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        total, terms = self._loss(image)
        difference = tf.square(image - self._warped) * self._pixel_weights
        temporal = self._weight * tf.reduce_mean(difference) / self._scale
        return total + temporal, {**terms, "temporal": temporal}

    def __getattr__(self, name):  # grid, layers...: what callers read of the wrapped loss
        if name.startswith("_"):  # not set yet (while copied or built): no wrapped loss to ask
            raise AttributeError(name)
        return getattr(self._loss, name)


class PhotoBatchLoss:
    """The same normalised terms as StyleTransferLoss for a batch of results, each against its
    own photo: what trains a feed-forward network (nst.algorithm.training).

    The style targets (the blended styles' statistics) and the palette are fixed; the content
    targets are the photos' features, taken in the same forward pass as the results'. Each
    term is computed per image, as for one image in `nst run` (content relative to that photo's
    features, tv to its roughness), then averaged: so a weight means what it means in a run's
    config. Style masks have no place here (a mask belongs to one photo).

    The palette is compared at the pooling of a `picture_side` px picture (the size the
    network is trained for): colours averaged over the areas the palette of such a picture
    reads, not pixel by pixel, which would teach a fine hatching of the painting's colours.

    Call with `results` and `photos` (B, H, W, 3) in [0, 1]; returns (per-image totals (B,),
    terms): `terms` holds each term's batch mean as StyleTransferLoss names them.
    """

    def __init__(
        self,
        feature_model,
        style_images: Sequence[tf.Tensor],
        style_blend: Sequence[float],
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        style_loss: str = "gram",
        palette_weight: float = 0.0,
        crop_size: tuple[int, int] = (256, 256),
        picture_side: int | None = None,
        tv_form: str = "isotropic",
    ):
        statistic = _statistic_class(style_loss)
        self._roughness = tv_roughness(tv_form, picture_side or max(crop_size))
        self._model = feature_model
        self._content_layers = _normalised(content_layers)
        self._style_layers = _normalised(style_layers)
        self._content_weight = content_weight
        self._style_weight = style_weight
        self._tv_weight = tv_weight
        style_images = [tf.convert_to_tensor(image, tf.float32) for image in style_images]
        per_style = [
            _style_statistics(feature_model, image, self._style_layers, statistic)
            for image in style_images
        ]
        total = sum(style_blend)
        self._style_targets = {
            layer: statistic(
                [
                    (stats[layer], weight / total)
                    for stats, weight in zip(per_style, style_blend, strict=True)
                ]
            )
            for layer in self._style_layers
        }
        self._palette_weight = palette_weight
        self._palette = None
        if palette_weight > 0:
            blended = [
                (np.asarray(image), weight)
                for image, weight in zip(style_images, style_blend, strict=True)
            ]
            # A crop's colours are averaged as those of the picture it is a part of (of longest
            # side `picture_side`), so the colour areas come out the size the optimisation's do.
            factor = palette.pooling_factor(picture_side, picture_side) if picture_side else 1
            factor = min(factor, *crop_size)
            self._palette = palette.PaletteLoss(
                blended, [None] * len(blended), crop_size, pooling=factor
            )

    def __call__(self, results: tf.Tensor, photos: tf.Tensor):
        batch = results.shape[0]
        features = self._model(tf.concat([results, photos], axis=0), training=False)
        per_image = {name: [] for name in ("content", "style", "tv", "palette")}
        layer_terms = {f"content/{layer}": [] for layer in self._content_layers}
        layer_terms |= {f"style/{layer}": [] for layer in self._style_layers}
        for index in range(batch):
            result, photo = results[index : index + 1], photos[index : index + 1]
            content = []
            for layer, layer_weight in self._content_layers.items():
                target = tf.stop_gradient(features[layer][batch + index])
                output = features[layer][index]
                error = tf.reduce_mean(tf.square(output - target))
                scale = tf.maximum(tf.reduce_mean(tf.square(target)), _VARIANCE_FLOOR)
                term = self._content_weight * layer_weight * error / scale
                layer_terms[f"content/{layer}"].append(term)
                content.append(term)
            style = []
            for layer, layer_weight in self._style_layers.items():
                target = self._style_targets[layer]
                flat = _flatten(features[layer][index : index + 1])
                term = (
                    self._style_weight
                    * layer_weight
                    * target.distance(target.statistics(flat, None))
                )
                layer_terms[f"style/{layer}"].append(term)
                style.append(term)
            per_image["content"].append(tf.add_n(content))
            per_image["style"].append(tf.add_n(style))
            smoothness = tf.maximum(self._roughness(photo), _MIN_CONTENT_ROUGHNESS)
            per_image["tv"].append(self._tv_weight * self._roughness(result) / smoothness)
            per_image["palette"].append(
                self._palette_weight * self._palette(result) if self._palette else tf.constant(0.0)
            )
        stacked = {name: tf.stack(values) for name, values in per_image.items()}
        totals = tf.add_n(list(stacked.values()))
        terms = {name: tf.reduce_mean(values) for name, values in stacked.items()}
        terms |= {name: tf.reduce_mean(tf.stack(values)) for name, values in layer_terms.items()}
        return totals, terms
