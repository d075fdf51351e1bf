"""Tests for nst/algorithm/metrics.py: the NumPy quality metrics on the sample images in assets/."""

import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from nst import images
from nst.algorithm import metrics

STYLE = "assets/starry_night.jpg"
PHOTO = "assets/tubingen.jpg"
RESULT = "docs/images/starry_vgg16_hed_384.png"  # an nst result of PHOTO in STYLE


def load(path: str, size: int | None = metrics.SIDE) -> np.ndarray:
    return images.load_image(path, max_size=size)


def colour_shifted(image: np.ndarray) -> np.ndarray:
    """Warmer and yellower: the same strokes in other colours."""
    return np.clip(image * [1.0, 0.8, 0.6] + [0.15, 0.05, 0.0], 0.0, 1.0)


def blurred(image: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """The same colours with the strokes smoothed away (Gaussian, `radius` px at 256 px)."""
    pil = Image.fromarray(images.to_uint8(image)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(pil, dtype=np.float32) / 255.0


def flat(value: float, height: int = 100, width: int = 80) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.float32)


def test_the_style_against_itself_is_a_perfect_score():
    style = load(STYLE)
    assert metrics.quality(style, style) == {"palette": 0.0, "strokes": 0.0, "contrast": 1.0}


def test_a_colour_shift_moves_palette_far_more_than_strokes():
    # In units of how far the photo is from the painting: palette 1.83, strokes 0.14 (12.8x).
    style, photo_scores = load(STYLE), metrics.quality(load(PHOTO), load(STYLE))
    shifted = metrics.quality(colour_shifted(style), style)
    palette = shifted["palette"] / photo_scores["palette"]
    strokes = shifted["strokes"] / photo_scores["strokes"]
    assert palette > 1.0
    assert palette > 8 * strokes


def test_a_blur_moves_strokes_far_more_than_palette():
    # In units of how far the photo is from the painting: strokes 8.6, palette 0.41 (21x).
    style, photo_scores = load(STYLE), metrics.quality(load(PHOTO), load(STYLE))
    smoothed = metrics.quality(blurred(style), style)
    palette = smoothed["palette"] / photo_scores["palette"]
    strokes = smoothed["strokes"] / photo_scores["strokes"]
    assert strokes > 3.0
    assert strokes > 10 * palette


def test_stronger_blur_scores_worse_strokes():
    style = load(STYLE)
    scores = [metrics.quality(blurred(style, radius), style)["strokes"] for radius in (1, 2, 4)]
    assert scores == sorted(scores)


@pytest.mark.parametrize("path", [PHOTO, RESULT])
def test_scores_do_not_depend_on_the_input_sizes(path):
    # 256 px files against 512 px and full-size ones (1024 px for the style): measured within
    # 0.05% (palette, contrast) and 0.004 (strokes).
    small = metrics.quality(load(path, 256), load(STYLE, 256))
    large = metrics.quality(load(path, 512), load(STYLE, None))
    assert large["palette"] == pytest.approx(small["palette"], rel=0.01)
    assert large["strokes"] == pytest.approx(small["strokes"], abs=0.02)
    assert large["contrast"] == pytest.approx(small["contrast"], rel=0.01)


def test_the_result_is_closer_to_the_painting_than_the_photo_is_in_colour():
    style = load(STYLE)
    result, photo = metrics.quality(load(RESULT), style), metrics.quality(load(PHOTO), style)
    assert result["palette"] < photo["palette"] / 2
    assert abs(result["contrast"] - 1) < abs(photo["contrast"] - 1)


def test_a_flat_grey_image_scores_finite_numbers():
    style = load(STYLE)
    as_result = metrics.quality(flat(0.5), style)
    assert as_result["contrast"] == 0.0
    assert math.isfinite(as_result["palette"]) and as_result["palette"] > 10
    # Every band at the floor: a fixed, large distance rather than float64's extremes.
    assert 10 < as_result["strokes"] < 40
    as_style = metrics.quality(style, flat(0.5))
    assert all(math.isfinite(value) for value in as_style.values())
    assert metrics.quality(flat(0.5), flat(0.5)) == {
        "palette": 0.0,
        "strokes": 0.0,
        "contrast": pytest.approx(0.0),
    }


def test_palette_is_in_lab_units():
    # Two flat greys differ by dL in lightness only; a random unit direction u sees dL * u_L,
    # whose RMS over directions is dL / sqrt(3).
    dark, light = flat(0.4), flat(0.6)
    difference = metrics.srgb_to_lab(light[0, 0]) - metrics.srgb_to_lab(dark[0, 0])
    assert difference[1:] == pytest.approx([0, 0], abs=1e-3)
    expected = difference[0] / math.sqrt(3)
    assert metrics.palette_distance(dark, light) == pytest.approx(expected, rel=0.15)


def test_srgb_to_lab_matches_reference_values():
    rgb = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    expected = [[100, 0, 0], [53.24, 80.09, 67.20], [32.30, 79.19, -107.86], [0, 0, 0]]
    assert metrics.srgb_to_lab(rgb) == pytest.approx(np.array(expected), abs=0.01)


def test_contrast_is_the_ratio_of_luminance_spreads():
    style = load(STYLE)
    halved = 0.5 + 0.5 * (style - 0.5)  # every deviation from mid-grey halved
    assert metrics.quality(halved, style)["contrast"] == pytest.approx(0.5, rel=0.01)


def test_band_spectrum_sums_to_one_and_keeps_the_nyquist_frequency():
    spectrum = metrics.band_spectrum(load(STYLE))
    assert spectrum.shape == (24,) and spectrum.sum() == pytest.approx(1.0)
    # Columns alternating black and white: all power at 0.5 cycles/px, in the last band.
    stripes = np.zeros((64, 64, 3))
    stripes[:, ::2] = 1.0
    assert int(np.nanargmax(metrics.band_spectrum(stripes))) == 23


def test_strokes_see_the_stroke_size():
    # The same texture drawn twice as large has its power an octave lower.
    rng = np.random.default_rng(0)
    fine = np.repeat(np.repeat(rng.random((64, 64, 1)), 4, axis=0), 4, axis=1).repeat(3, axis=2)
    coarse = np.repeat(np.repeat(fine[:128, :128], 2, axis=0), 2, axis=1)
    assert metrics.quality(coarse, fine)["strokes"] > 0.5
    assert metrics.quality(coarse, fine)["palette"] < 2.0


def test_coherence_of_parallel_stripes_is_near_one_and_of_white_noise_near_zero():
    ys, xs = np.mgrid[0:512, 0:512]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xs + 0.4 * ys) / 12.0)
    noise = np.random.default_rng(0).random((512, 512))
    as_rgb = [
        np.repeat(image[..., None], 3, axis=2).astype(np.float32) for image in (stripes, noise)
    ]
    assert metrics.coherence(as_rgb[0]) > 0.95
    # Noise keeps a little chance alignment inside a sigma-3 window (about 1/sqrt(113 px)).
    assert metrics.coherence(as_rgb[1]) < 0.2


def test_coherence_reads_the_paintings_as_issue_21_measured_them():
    # The Scream's long bands over The Starry Night's swirls (0.747 and 0.593 in the issue,
    # measured independently).
    scream, starry = load("assets/the_scream.jpg", None), load(STYLE, None)
    assert metrics.coherence(scream) == pytest.approx(0.747, abs=0.005)
    assert metrics.coherence(starry) == pytest.approx(0.593, abs=0.005)
    # The README's picture (the defaults, flow TV) scores what the README says: 0.69, where the
    # defaults before flow TV scored 0.480 (the issue's figure).
    default_result = load("docs/images/starry_default_512.png", None)
    assert metrics.coherence(default_result) == pytest.approx(0.692, abs=0.005)


def test_coherence_of_a_flat_image_is_zero_not_nan():
    assert metrics.coherence(flat(0.5)) == 0.0
