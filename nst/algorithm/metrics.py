"""Quality readout independent of the optimised network: how close a result looks to its style.

The loss cannot tell a painterly result from a grainy one (both can reach the same Gram error), so
these measure what a viewer sees, on images in [0, 1] RGB (H, W, 3), NumPy (and OpenCV's
filters for coherence) only:

    palette   sliced 2-Wasserstein distance between the result's and the style's pixel colours in
              CIELAB (Lab units; lower = closer colours)
    strokes   mean |log difference| of the luminance power spectra in 24 log-spaced radial bands
              (lower = stroke scale and sharpness closer to the painting's)
    contrast  std of the result's luminance / std of the style's
    coherence how long and oriented the strokes are, of the result alone: from the structure
              tensor of the luminance (Sobel gradients, Gaussian window of sigma 3 px), per pixel
              (l1 - l2) / (l1 + l2) of its eigenvalues, averaged with the tensor's trace as
              weight; 1 = parallel strokes everywhere, 0 = isotropic ripple or noise. Higher is
              not better: the painting's own value is the aim (The Starry Night 0.594)

Every metric is computed with both images resized (Lanczos) to `SIDE` px on the longest side, so
figures compare across output sizes and across tools; coherence at `COHERENCE_SIDE` px, where
brush strokes are several pixels wide.
"""

import cv2
import numpy as np

from nst import images

SIDE = 256
COHERENCE_SIDE = 512
_COHERENCE_SIGMA = 3.0  # px at COHERENCE_SIDE: the window over which a stroke's direction holds
_DIRECTIONS = 64
_SEED = 0
_QUANTILES = np.linspace(0.005, 0.995, 200)
_BANDS = 24
_LUMA = np.array([0.299, 0.587, 0.114])
# A band with less than this share of the power counts as this: a flat image (no power at all)
# then scores about 22 strokes rather than ~700 from float64's smallest number.
_POWER_FLOOR = 1e-12
# sRGB (D65) -> CIE XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def quality(result: np.ndarray, style: np.ndarray) -> dict[str, float]:
    """palette, strokes and contrast of `result` against `style` (both RGB in [0, 1])."""
    result, style = at_metric_size(result), at_metric_size(style)
    return {
        "palette": palette_distance(result, style),
        "strokes": stroke_distance(result, style),
        "contrast": contrast_ratio(result, style),
    }


def at_metric_size(image: np.ndarray) -> np.ndarray:
    """The image resized with Lanczos (in float, clipped to [0, 1]) so its longest side is SIDE."""
    return images.resize_longest_side(image, SIDE).astype(np.float64)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> CIELAB under D65 (L in 0..100)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE_D65
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def palette_distance(result: np.ndarray, style: np.ndarray) -> float:
    """Sliced 2-Wasserstein distance between the two images' Lab pixel distributions.

    Per random unit direction: the RMS difference of the projections' quantiles; then the RMS over
    directions. The directions are fixed (seeded), so scores compare across calls.
    """
    directions = np.random.default_rng(_SEED).normal(size=(_DIRECTIONS, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    quantiles = [
        np.quantile(srgb_to_lab(image).reshape(-1, 3) @ directions.T, _QUANTILES, axis=0)
        for image in (result, style)
    ]
    per_direction = np.sqrt(np.mean(np.square(quantiles[0] - quantiles[1]), axis=0))
    return float(np.sqrt(np.mean(np.square(per_direction))))


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _LUMA


def band_spectrum(rgb: np.ndarray) -> np.ndarray:
    """The luminance's power spectrum averaged in log-spaced radial bands, summing to 1.

    The bands run from 2 / longest side to 0.5 cycles per pixel (Nyquist); the mean is removed and
    a 2-D Hann window applied first, so the image's borders add no false edges.
    """
    lum = luminance(rgb)
    lum = lum - lum.mean()
    height, width = lum.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2(lum * window)) ** 2
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    edges = np.geomspace(2 / max(height, width), 0.5, _BANDS + 1)
    # Bands are [edge, next edge), the last one closed so that it holds the Nyquist frequency.
    inside = (radius >= edges[0]) & (radius <= edges[-1])
    band = np.minimum(np.digitize(radius, edges) - 1, _BANDS - 1)
    sums = np.bincount(band[inside], weights=power[inside], minlength=_BANDS)
    counts = np.bincount(band[inside], minlength=_BANDS)
    # A small image's lowest bands can hold no frequency at all: NaN, left out of the comparison.
    spectrum = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return spectrum / max(np.nansum(spectrum), np.finfo(float).tiny)


def stroke_distance(result: np.ndarray, style: np.ndarray) -> float:
    """Mean absolute difference of the log band spectra (see `band_spectrum`)."""
    logs = [np.log(np.maximum(band_spectrum(image), _POWER_FLOOR)) for image in (result, style)]
    both = ~(np.isnan(logs[0]) | np.isnan(logs[1]))
    return float(np.mean(np.abs(logs[0][both] - logs[1][both])))


def contrast_ratio(result: np.ndarray, style: np.ndarray) -> float:
    """std of the result's luminance over std of the style's (1 = the same contrast)."""
    style_std = luminance(style).std()
    return float(luminance(result).std() / max(style_std, 1e-12))


def structure_tensor(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Jxx, Jyy, Jxy) of the RGB image's luminance: products of its Sobel gradients, averaged
    by a Gaussian of the coherence window's sigma (px, at the image's own size)."""
    lum = luminance(image.astype(np.float64))
    gx = cv2.Sobel(lum, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_64F, 0, 1, ksize=3)
    return tuple(
        cv2.GaussianBlur(product, (0, 0), _COHERENCE_SIGMA)
        for product in (gx * gx, gy * gy, gx * gy)
    )


def coherence(image: np.ndarray) -> float:
    """Trace-weighted mean coherence of the luminance's structure tensor (see the module's
    docstring), with the image at COHERENCE_SIDE px on its longest side."""
    jxx, jyy, jxy = structure_tensor(images.resize_longest_side(image, COHERENCE_SIDE))
    # (l1 - l2) weighted by l1 + l2, over the sum of l1 + l2: the per-pixel ratio's weights cancel.
    difference = np.sqrt(np.square(jxx - jyy) + 4 * np.square(jxy))
    return float(difference.sum() / max((jxx + jyy).sum(), np.finfo(float).tiny))
