"""Colour controls from Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer".

Pure NumPy on the project's pixel contract (float32 RGB, (height, width, 3), values in [0, 1]):
luminance/chroma separation, for putting the content's colours back after transfer and for
luminance-only transfer (paper, section 2.2), and matching the style's colour statistics to the
content's (section 2.1). Maths is done in float64 and returned as float32.
"""

import numpy as np

from nst import images

SPACES = ("yiq", "ycbcr")

# Both spaces share the BT.601 luma row, so "luminance" means the same in either.
# YIQ is what Gatys et al. used; its I and Q rows sum to zero, so greys have no chroma.
_YIQ_FROM_RGB = np.array(
    [[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]]
)
# Full-range JPEG YCbCr (ITU-T T.871): chroma centred on 0.5 so it stays in [0, 1].
_YCBCR_FROM_RGB = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_FORWARD = {"yiq": _YIQ_FROM_RGB, "ycbcr": _YCBCR_FROM_RGB}
# Inverses computed rather than copied from a table, so a round trip is exact to float precision.
_INVERSE = {space: np.linalg.inv(matrix) for space, matrix in _FORWARD.items()}
_OFFSET = {"yiq": np.zeros(3), "ycbcr": np.array([0.0, 0.5, 0.5])}


def to_space(image, space: str) -> np.ndarray:
    """RGB (H, W, 3) -> (H, W, 3) channels: luminance Y then the space's two chroma channels."""
    _check_space(space)
    return (_pixels(image) @ _FORWARD[space].T + _OFFSET[space]).astype(np.float32)


def from_space(channels, space: str) -> np.ndarray:
    """Inverse of to_space, not clipped: callers decide whether out-of-gamut values matter."""
    _check_space(space)
    return ((_pixels(channels) - _OFFSET[space]) @ _INVERSE[space].T).astype(np.float32)


def luminance(image, space: str) -> np.ndarray:
    """The Y channel, (H, W) float32."""
    return to_space(image, space)[:, :, 0]


def transfer_chroma(result, content, space: str) -> np.ndarray:
    """The result's luminance with the content's chroma, clipped to [0, 1].

    If shapes differ (H, W), the content is resized to the result's shape with
    nst.images.resize_to.
    """
    result = _pixels(result)
    height, width = result.shape[:2]
    content = images.resize_to(content, height, width)
    channels = to_space(content, space)
    channels[:, :, 0] = luminance(result, space)
    return np.clip(from_space(channels, space), 0.0, 1.0)


def luminance_image(image, space: str) -> np.ndarray:
    """Luminance replicated to (H, W, 3), clipped to [0, 1], so VGG can read it as RGB."""
    return _replicate(luminance(image, space))


def match_luminance(style, content, space: str) -> np.ndarray:
    """Luminance-only style image: the style's luminance shifted and scaled to the content
    luminance's mean and std, replicated to 3 channels, clipped.

    Without this the style's overall brightness and contrast would leak into the result
    (paper, section 2.2).
    """
    style_y = luminance(style, space).astype(np.float64)
    content_y = luminance(content, space).astype(np.float64)
    style_std = style_y.std()
    # A flat style has no contrast to rescale; it becomes the content's mean brightness.
    scale = content_y.std() / style_std if style_std > 0 else 0.0
    return _replicate((style_y - style_y.mean()) * scale + content_y.mean())


def match_color(style, content, eps: float = 1e-5) -> np.ndarray:
    """The style's colours with the content's pixel mean and covariance (before clipping),
    clipped to [0, 1].

    x' = A x + b with A = Σ_c^{1/2} Σ_s^{-1/2} and b = μ_c - A μ_s (paper, section 2.1).
    Of the paper's two choices of A (Cholesky or Image Analogies), the symmetric square roots
    of the Image Analogies form treat R, G and B alike, where a Cholesky factor depends on the
    channel order; a style that already has the content's statistics gets A ≈ I.
    eps keeps Σ_s^{-1/2} finite for flat or single-hue styles; it shrinks each matched variance
    by λ/(λ + eps) for a style eigenvalue λ, negligible unless the style is nearly flat in
    some colour direction.
    """
    style_pixels = _pixels(style).reshape(-1, 3)
    content_pixels = _pixels(content).reshape(-1, 3)
    style_mean, content_mean = style_pixels.mean(axis=0), content_pixels.mean(axis=0)
    style_cov = np.cov(style_pixels, rowvar=False, bias=True)
    content_cov = np.cov(content_pixels, rowvar=False, bias=True)
    content_root = _symmetric_power(content_cov, 0.5)
    transform = content_root @ _symmetric_power(style_cov, -0.5, eps=eps)
    matched = (style_pixels - style_mean) @ transform.T + content_mean
    return np.clip(matched.reshape(np.shape(style)), 0.0, 1.0).astype(np.float32)


def _symmetric_power(covariance: np.ndarray, power: float, eps: float = 0.0) -> np.ndarray:
    """Symmetric matrix power (±1/2) of a covariance via its eigendecomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    # Rounding can make a zero eigenvalue slightly negative; clamp before the power.
    eigenvalues = np.maximum(eigenvalues, 0.0) + eps
    return (eigenvectors * eigenvalues**power) @ eigenvectors.T


def _replicate(luma: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(luma, 0.0, 1.0)[:, :, np.newaxis], 3, axis=2).astype(np.float32)


def _pixels(image) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an image of shape (height, width, 3), got {pixels.shape}")
    return pixels


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"unknown colour space {space!r}: expected one of {SPACES}")
