"""nst.algorithm.color against NumPy references: colour spaces, chroma transfer, statistics
matching."""

import numpy as np
import pytest

from nst.algorithm import color

BT601_LUMA = np.array([0.299, 0.587, 0.114])


def random_image(seed, height=8, width=7, low=0.0, high=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(height, width, 3)).astype(np.float32)


def correlated_image(seed, mixing, centre, height=16, width=12):
    """Low-contrast pixels with correlated channels, so every colour stays well inside [0, 1]."""
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(height, width, 3))
    return (centre + noise @ np.asarray(mixing).T).astype(np.float32)


def mean_and_covariance(image):
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


@pytest.mark.parametrize("space", color.SPACES)
def test_to_space_then_from_space_is_identity(space):
    image = random_image(0)
    np.testing.assert_allclose(
        color.from_space(color.to_space(image, space), space), image, atol=1e-5
    )
    assert color.to_space(image, space).dtype == np.float32
    assert color.from_space(image, space).dtype == np.float32


@pytest.mark.parametrize("space, neutral_chroma", [("yiq", 0.0), ("ycbcr", 0.5)])
def test_white_has_full_luminance_and_neutral_chroma(space, neutral_chroma):
    channels = color.to_space(np.ones((2, 3, 3), np.float32), space)
    np.testing.assert_allclose(channels[:, :, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(channels[:, :, 1:], neutral_chroma, atol=1e-6)


def test_gray_has_zero_i_and_q():
    gray = np.repeat(random_image(1)[:, :, :1], 3, axis=2)
    np.testing.assert_allclose(color.to_space(gray, "yiq")[:, :, 1:], 0.0, atol=1e-6)


@pytest.mark.parametrize("space", color.SPACES)
def test_luminance_is_bt601_weighted_sum(space):
    image = random_image(2)
    np.testing.assert_allclose(color.luminance(image, space), image @ BT601_LUMA, atol=1e-6)


def test_unknown_space_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="yiq.*ycbcr"):
        color.to_space(random_image(3), "lab")


@pytest.mark.parametrize("space", color.SPACES)
def test_transfer_chroma_keeps_result_luminance_and_content_chroma(space):
    # Mid-range inputs: the recombined colours stay in gamut, so clipping changes nothing.
    result, content = random_image(4, low=0.4, high=0.6), random_image(5, low=0.4, high=0.6)
    output = color.transfer_chroma(result, content, space)
    assert output.min() > 0.0 and output.max() < 1.0
    np.testing.assert_allclose(
        color.luminance(output, space), color.luminance(result, space), atol=1e-4
    )
    np.testing.assert_allclose(
        color.to_space(output, space)[:, :, 1:], color.to_space(content, space)[:, :, 1:], atol=1e-4
    )


@pytest.mark.parametrize("space", color.SPACES)
def test_transfer_chroma_from_gray_content_gives_gray_output(space):
    result = random_image(6)
    gray_content = np.repeat(random_image(7)[:, :, :1], 3, axis=2)
    output = color.transfer_chroma(result, gray_content, space)
    np.testing.assert_allclose(
        output, np.repeat(result @ BT601_LUMA, 3).reshape(output.shape), atol=1e-5
    )


def test_transfer_chroma_resizes_content_to_the_result_shape():
    result = random_image(8, height=6, width=10, low=0.4, high=0.6)
    content = np.full((12, 5, 3), [0.6, 0.5, 0.4], np.float32)  # Flat: resizing keeps the colour.
    output = color.transfer_chroma(result, content, "yiq")
    assert output.shape == result.shape
    np.testing.assert_allclose(
        color.to_space(output, "yiq")[:, :, 1:],
        np.broadcast_to(color.to_space(content[:1, :1], "yiq")[:, :, 1:], (6, 10, 2)),
        atol=1e-4,
    )


@pytest.mark.parametrize("space", color.SPACES)
def test_luminance_image_is_luminance_in_three_equal_channels(space):
    image = random_image(9)
    output = color.luminance_image(image, space)
    assert output.shape == image.shape and output.dtype == np.float32
    for channel in range(3):
        np.testing.assert_allclose(output[:, :, channel], color.luminance(image, space), atol=1e-6)


@pytest.mark.parametrize("space", color.SPACES)
def test_match_luminance_gives_the_content_luminance_mean_and_std(space):
    # Both narrow and mid-range, so the rescaled style luminance never needs clipping.
    style = random_image(10, low=0.1, high=0.9)
    content = random_image(11, low=0.45, high=0.65)
    output = color.match_luminance(style, content, space)
    assert np.all(output == output[:, :, :1])
    content_y = color.luminance(content, space)
    np.testing.assert_allclose(output[:, :, 0].mean(), content_y.mean(), atol=1e-3)
    np.testing.assert_allclose(output[:, :, 0].std(), content_y.std(), atol=1e-3)


def test_match_luminance_of_a_flat_style_is_the_content_mean():
    output = color.match_luminance(np.full((4, 4, 3), 0.9, np.float32), random_image(12), "yiq")
    np.testing.assert_allclose(output, color.luminance(random_image(12), "yiq").mean(), atol=1e-6)


@pytest.mark.parametrize("eps, covariance_rtol", [(1e-5, 2e-2), (1e-10, 1e-4)])
def test_match_color_gives_the_content_mean_and_covariance(eps, covariance_rtol):
    style = correlated_image(13, [[0.10, 0.02, 0.0], [0.0, 0.05, 0.03], [0.02, 0.0, 0.08]], 0.3)
    content = correlated_image(14, [[0.06, 0.03, 0.01], [0.02, 0.07, 0.0], [0.0, 0.02, 0.05]], 0.6)
    output = color.match_color(style, content, eps=eps)
    assert output.min() > 0.0 and output.max() < 1.0  # No clipping, so the statistics are exact.
    output_mean, output_cov = mean_and_covariance(output)
    content_mean, content_cov = mean_and_covariance(content)
    np.testing.assert_allclose(output_mean, content_mean, atol=1e-4)
    np.testing.assert_allclose(output_cov, content_cov, atol=1e-4)
    # Covariances here are ~1e-3, so also check relatively; the default eps (against style
    # eigenvalues ~6e-4) shrinks them by about 1%, a vanishing eps matches them exactly.
    np.testing.assert_allclose(output_cov, content_cov, rtol=covariance_rtol)


def test_match_color_leaves_a_style_with_the_content_statistics_nearly_unchanged():
    content = random_image(15, height=16, width=12)
    # The same pixels in another order: identical statistics, a different picture.
    style = np.random.default_rng(16).permutation(content.reshape(-1, 3)).reshape(content.shape)
    np.testing.assert_allclose(color.match_color(style, content), style, atol=1e-3)


def test_match_color_stays_in_range_for_extreme_inputs():
    flat_style = np.full((6, 6, 3), [0.9, 0.1, 0.5], np.float32)
    nearly_flat_style = flat_style + 1e-4 * random_image(17, 6, 6)
    black_and_white = np.zeros((6, 6, 3), np.float32)
    black_and_white[::2] = 1.0
    for style in (flat_style, nearly_flat_style, black_and_white):
        output = color.match_color(style, black_and_white)
        assert np.all(np.isfinite(output)) and output.min() >= 0.0 and output.max() <= 1.0
        assert output.shape == style.shape and output.dtype == np.float32
