"""nst.algorithm.losses against NumPy references, with a stand-in feature model so no VGG is
needed."""

import numpy as np
import pytest
import tensorflow as tf

from nst.algorithm.losses import (
    StyleTransferLoss,
    WithTemporalTerm,
    _second_moment,
    flow_roughness,
    gram_matrix,
    roughness,
    structure_tensor,
    tv_roughness,
)


class ScaledPixels:
    """A 'feature model' whose layers are the pixels times a constant, and their square."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, image, training=False):
        return {"linear": self.scale * image, "square": self.scale * tf.square(image)}


def make_loss(
    content,
    styles,
    blend=None,
    model=None,
    weights=(1.0, 1.0, 1.0),
    style_loss="gram",
    masks=None,
    palette_weight=0.0,
):
    content_weight, style_weight, tv_weight = weights
    return StyleTransferLoss(
        model or ScaledPixels(),
        tf.constant(content),
        [tf.constant(style) for style in styles],
        style_blend=blend or [1.0] * len(styles),
        content_layers={"linear": 1.0},
        style_layers={"linear": 1.0, "square": 3.0},
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_loss=style_loss,
        palette_weight=palette_weight,
        style_masks=masks,
    )


def random_image(seed, height=6, width=5):
    return np.random.default_rng(seed).uniform(size=(height, width, 3)).astype(np.float32)


def test_gram_matrix_matches_numpy_reference():
    features = np.random.default_rng(0).normal(size=(1, 5, 7, 4)).astype(np.float32)
    flat = features.reshape(-1, 4)
    expected = flat.T @ flat / 35
    np.testing.assert_allclose(gram_matrix(tf.constant(features)).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_gram_matrix_gradient_matches_automatic_differentiation(masked):
    # The Gram matrices have a hand-written gradient (one matmul instead of TensorFlow's two).
    rng = np.random.default_rng(4)
    flat = tf.constant(rng.normal(size=(35, 4)).astype(np.float32))
    weights = rng.uniform(size=35).astype(np.float32) if masked else np.full(35, 1 / 35, np.float32)
    upstream = tf.constant(rng.normal(size=(4, 4)).astype(np.float32))  # not symmetric
    gradients = []
    for gram in (
        lambda f: _second_moment(f, tf.constant(weights) if masked else None),
        lambda f: tf.matmul(f * weights[:, None], f, transpose_a=True),  # TensorFlow's own
    ):
        with tf.GradientTape() as tape:
            tape.watch(flat)
            value = tf.reduce_sum(gram(flat) * upstream)
        gradients.append(tape.gradient(value, flat).numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-5, atol=1e-6)


def test_roughness_is_zero_on_a_constant_image_and_positive_on_noise():
    assert float(roughness(tf.fill([1, 8, 8, 3], 0.3))) == 0.0
    assert float(roughness(tf.constant(random_image(1)[None]))) > 0.05


def test_content_term_is_zero_at_the_content_image():
    content = random_image(0)
    _, terms = make_loss(content, [random_image(1)])(tf.constant(content[None]))
    assert float(terms["content"]) == 0.0
    assert float(terms["style"]) > 0.0


def test_style_term_is_zero_at_the_style_image():
    style = random_image(1)
    _, terms = make_loss(random_image(0), [style])(tf.constant(style[None]))
    assert float(terms["style"]) == pytest.approx(0.0, abs=1e-6)


def test_terms_add_up_to_the_total_and_layers_add_up_to_their_term():
    loss = make_loss(random_image(0), [random_image(1)], weights=(2.0, 5.0, 0.5), palette_weight=3)
    total, terms = loss(tf.constant(random_image(2)[None]))
    assert float(terms["palette"]) > 0
    parts = sum(float(terms[name]) for name in ("content", "style", "tv", "palette"))
    assert float(total) == pytest.approx(parts, rel=1e-6)
    layers = float(terms["style/linear"]) + float(terms["style/square"])
    assert float(terms["style"]) == pytest.approx(layers, rel=1e-6)


def test_content_and_style_terms_match_the_documented_formulas():
    content, style, image = random_image(0), random_image(1), random_image(2)
    _, terms = make_loss(content, [style], weights=(1.0, 1.0, 1.0))(tf.constant(image[None]))
    expected_content = np.mean((image - content) ** 2) / np.mean(content**2)
    assert float(terms["content"]) == pytest.approx(expected_content, rel=1e-5)

    def gram(pixels):
        flat = pixels.reshape(-1, 3)
        return flat.T @ flat / flat.shape[0]

    target = gram(style**2)
    expected_square = np.sum((gram(image**2) - target) ** 2) / np.sum(target**2)
    # Layer weights 1 and 3 are normalised to 1/4 and 3/4.
    assert float(terms["style/square"]) == pytest.approx(0.75 * expected_square, rel=1e-4)


def test_terms_do_not_depend_on_the_feature_scale():
    """Dividing by the target's magnitude makes weights mean the same on any network."""
    content, style, image = random_image(0), random_image(1), random_image(2)
    _, unit = make_loss(content, [style], model=ScaledPixels(1.0))(tf.constant(image[None]))
    _, large = make_loss(content, [style], model=ScaledPixels(250.0))(tf.constant(image[None]))
    for name in ("content", "style", "style/linear", "style/square"):
        assert float(large[name]) == pytest.approx(float(unit[name]), rel=1e-4)


def test_style_images_are_blended_by_weight():
    red = np.zeros((6, 5, 3), np.float32)
    red[..., 0] = 1.0
    blue = np.zeros((4, 4, 3), np.float32)
    blue[..., 2] = 1.0
    loss = make_loss(random_image(0, 4, 4), [red, blue], blend=[1.0, 3.0])
    # An image a quarter red and three quarters blue (by pixel count) has exactly the blended
    # Gram matrix of the linear layer: diag(1/4, 0, 3/4).
    mixed = np.zeros((4, 4, 3), np.float32)
    mixed[:1, :, 0] = 1.0
    mixed[1:, :, 2] = 1.0
    _, terms = loss(tf.constant(mixed[None]))
    assert float(terms["style/linear"]) == pytest.approx(0.0, abs=1e-7)
    _, unblended = make_loss(random_image(0, 4, 4), [red, blue])(tf.constant(mixed[None]))
    assert float(unblended["style/linear"]) > 0.01


def test_tv_term_is_relative_to_the_content_roughness():
    content = random_image(0)
    loss = make_loss(content, [random_image(1)], weights=(1.0, 1.0, 2.0))
    _, at_content = loss(tf.constant(content[None]))
    assert float(at_content["tv"]) == pytest.approx(2.0, rel=1e-5)
    _, flat = loss(tf.fill([1, 6, 5, 3], 0.5))
    assert float(flat["tv"]) == 0.0


def test_zero_weight_layers_are_dropped():
    loss = StyleTransferLoss(
        ScaledPixels(),
        tf.constant(random_image(0)),
        [tf.constant(random_image(1))],
        style_blend=[1.0],
        content_layers={"linear": 1.0},
        style_layers={"linear": 0.0, "square": 2.0},
        content_weight=1.0,
        style_weight=1.0,
        tv_weight=0.0,
    )
    _, terms = loss(tf.constant(random_image(2)[None]))
    assert "style/linear" not in terms
    assert loss.layers == ["linear", "square"]


# The alternative style losses and masks. NumPy references work on (positions, channels) arrays.

STYLE_LOSSES = ("gram", "mean_std", "wasserstein")
ALTERNATIVE_STYLE_LOSSES = ("mean_std", "wasserstein", "histogram")


def mean_std_reference(features, target):
    def statistics(flat):
        return flat.mean(axis=0), np.sqrt(flat.var(axis=0) + 1e-5)

    (mean, std), (target_mean, target_std) = statistics(features), statistics(target)
    error = np.sum((mean - target_mean) ** 2) + np.sum((std - target_std) ** 2)
    return error / (np.sum(target_mean**2) + np.sum(target_std**2))


def wasserstein_reference(features, target):
    def statistics(flat):
        mean = flat.mean(axis=0)
        return mean, (flat - mean).T @ (flat - mean) / len(flat)

    (mean, cov), (target_mean, target_cov) = statistics(features), statistics(target)
    values, vectors = np.linalg.eigh(target_cov)
    root = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov @ root), 0, None)))
    distance = np.sum((mean - target_mean) ** 2) + np.trace(cov) + np.trace(target_cov) - 2 * cross
    return distance / (np.sum(target_mean**2) + np.trace(target_cov))


def gram_reference(features, target):
    gram, target_gram = features.T @ features / len(features), target.T @ target / len(target)
    return np.sum((gram - target_gram) ** 2) / np.sum(target_gram**2)


def histogram_reference(features, target):
    """Gram plus each channel's sorted values against the style's (same position count)."""
    ranked, target_ranked = np.sort(features, axis=0), np.sort(target, axis=0)
    histogram = np.sum(np.mean((ranked - target_ranked) ** 2, axis=0))
    return gram_reference(features, target) + histogram / np.sum(np.mean(target**2, axis=0))


def flat_pixels(image):
    return image.reshape(-1, 3).astype(np.float64)


def left_half_mask(height, width):
    mask = np.zeros((height, width), np.float32)
    mask[:, : width // 2] = 1.0
    return mask


@pytest.mark.parametrize("style_loss", ALTERNATIVE_STYLE_LOSSES)
def test_alternative_style_terms_are_zero_at_the_style_image_and_positive_elsewhere(style_loss):
    style = random_image(1)
    loss = make_loss(random_image(0), [style], style_loss=style_loss)
    _, at_style = loss(tf.constant(style[None]))
    assert float(at_style["style"]) == pytest.approx(0.0, abs=1e-5)
    _, elsewhere = loss(tf.constant(random_image(2)[None]))
    assert float(elsewhere["style/linear"]) > 1e-3
    assert float(elsewhere["style/square"]) > 1e-3


@pytest.mark.parametrize(
    "style_loss, reference",
    [
        ("mean_std", mean_std_reference),
        ("wasserstein", wasserstein_reference),
        ("histogram", histogram_reference),
    ],
)
def test_alternative_style_terms_match_numpy_references(style_loss, reference):
    # The histogram reference pairs ranks one to one: the image has the style's position count.
    style, image = random_image(1), random_image(2, 5, 6)
    _, terms = make_loss(random_image(0, 5, 6), [style], style_loss=style_loss)(
        tf.constant(image[None])
    )
    # Layer weights 1 and 3 are normalised to 1/4 and 3/4.
    expected_linear = 0.25 * reference(flat_pixels(image), flat_pixels(style))
    expected_square = 0.75 * reference(flat_pixels(image) ** 2, flat_pixels(style) ** 2)
    assert float(terms["style/linear"]) == pytest.approx(expected_linear, rel=1e-4)
    assert float(terms["style/square"]) == pytest.approx(expected_square, rel=1e-4)


@pytest.mark.parametrize("style_loss", ALTERNATIVE_STYLE_LOSSES)
def test_alternative_style_terms_do_not_depend_on_the_feature_scale(style_loss):
    content, style, image = random_image(0), random_image(1), random_image(2)
    _, unit = make_loss(content, [style], model=ScaledPixels(1.0), style_loss=style_loss)(
        tf.constant(image[None])
    )
    _, large = make_loss(content, [style], model=ScaledPixels(250.0), style_loss=style_loss)(
        tf.constant(image[None])
    )
    # mean_std's variance floor (1e-5) is absolute, so pixel-sized features move it slightly.
    for name in ("style/linear", "style/square"):
        assert float(large[name]) == pytest.approx(float(unit[name]), rel=1e-3)


def two_colour_image():
    """Half red, half blue: the green channel is flat, so the covariance is singular."""
    image = np.zeros((6, 4, 3), np.float32)
    image[:3, :, 0] = 1.0
    image[3:, :, 2] = 1.0
    return image


@pytest.mark.parametrize(
    "style, image",
    [
        (random_image(1), random_image(1)),  # at the minimum, where W2 is 0
        (two_colour_image(), two_colour_image()),  # singular covariances, eigenvalues at 0
        (random_image(1), np.full((6, 5, 3), 0.5, np.float32)),  # a flat image: zero covariance
    ],
)
def test_wasserstein_gradient_is_finite_where_the_square_root_is_degenerate(style, image):
    loss = make_loss(random_image(0, *image.shape[:2]), [style], style_loss="wasserstein")
    pixels = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        _, terms = loss(pixels)
    gradient = tape.gradient(terms["style"], pixels)
    assert np.all(np.isfinite(gradient.numpy()))
    assert np.isfinite(float(terms["style"]))


@pytest.mark.parametrize("style_loss", ALTERNATIVE_STYLE_LOSSES)
def test_alternative_style_targets_blend_the_styles_moments(style_loss):
    red = np.zeros((6, 5, 3), np.float32)
    red[..., 0] = 1.0
    blue = np.zeros((4, 4, 3), np.float32)
    blue[..., 2] = 1.0
    # A quarter red and three quarters blue pools the styles' features in the blend's proportions:
    # its mean and (co)variance are the blended moments', mean (1/4, 0, 3/4), variances 3/16.
    mixed = np.zeros((4, 4, 3), np.float32)
    mixed[:1, :, 0] = 1.0
    mixed[1:, :, 2] = 1.0
    content = random_image(0, 4, 4)
    loss = make_loss(content, [red, blue], blend=[1.0, 3.0], style_loss=style_loss)
    _, terms = loss(tf.constant(mixed[None]))
    assert float(terms["style/linear"]) == pytest.approx(0.0, abs=1e-6)
    unblended = make_loss(content, [red, blue], style_loss=style_loss)
    _, terms = unblended(tf.constant(mixed[None]))
    assert float(terms["style/linear"]) > 0.01


def test_the_histogram_term_sees_what_the_gram_matrix_cannot():
    # A channel of +-0.5 and a flat 0.5 have the same second moment (Gram matrix 0.25) but not
    # the same histogram: the 1-D distance is 1/2 (half the ranks off by 1), over E[f^2] = 1/4.
    style = np.full((4, 4, 3), 0.5, np.float32)
    style[::2, :, :] = -0.5
    flat = np.full((4, 4, 3), 0.5, np.float32)
    _, gram = make_loss(random_image(0, 4, 4), [style])(tf.constant(flat[None]))
    _, histogram = make_loss(random_image(0, 4, 4), [style], style_loss="histogram")(
        tf.constant(flat[None])
    )
    assert float(gram["style/linear"]) == pytest.approx(0.0, abs=1e-6)
    assert float(histogram["style/linear"]) == pytest.approx(0.25 * 3 * 0.5 / (3 * 0.25), rel=1e-5)


def test_the_histogram_term_gives_every_position_a_gradient_and_descends():
    style, image = random_image(1, 8, 8), tf.Variable(random_image(2, 8, 8)[None] ** 3)
    loss = make_loss(random_image(0, 8, 8), [style], style_loss="histogram", weights=(0, 1, 0))
    with tf.GradientTape() as tape:
        _, terms = loss(image)
    gradient = tape.gradient(terms["style"], image).numpy()
    assert np.all(np.abs(gradient).sum(axis=-1) > 0)
    first = float(terms["style"])
    optimizer = tf.keras.optimizers.Adam(0.02)
    for _ in range(100):
        with tf.GradientTape() as tape:
            _, terms = loss(image)
        optimizer.apply_gradients([(tape.gradient(terms["style"], image), image)])
    assert float(terms["style"]) < first / 10


def test_the_histogram_style_loss_refuses_masks():
    with pytest.raises(ValueError, match="no style masks"):
        make_loss(
            random_image(0), [random_image(1)], style_loss="histogram", masks=[np.ones((6, 5))]
        )


def test_a_masked_gram_matrix_weights_positions_by_the_mask():
    style, image = random_image(1), random_image(2)
    mask = np.random.default_rng(3).uniform(size=(6, 5)).astype(np.float32)
    loss = make_loss(random_image(0), [style], masks=[mask])
    _, terms = loss(tf.constant(image[None]))

    def gram(flat, weights):
        return (flat * weights[:, None]).T @ flat / np.sum(weights)

    target = gram(flat_pixels(style), np.ones(30))
    masked = gram(flat_pixels(image), mask.reshape(-1).astype(np.float64))
    expected = 0.25 * np.sum((masked - target) ** 2) / np.sum(target**2)
    assert float(terms["style/linear"]) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("style_loss", STYLE_LOSSES)
def test_a_masked_style_ignores_what_lies_outside_its_mask(style_loss):
    style = random_image(1, 6, 3)
    mask = left_half_mask(6, 6)
    loss = make_loss(random_image(0, 6, 6), [style], style_loss=style_loss, masks=[mask])
    for seed in (2, 3):
        image = np.concatenate([style, random_image(seed, 6, 3)], axis=1)
        _, terms = loss(tf.constant(image[None]))
        assert float(terms["style"]) == pytest.approx(0.0, abs=1e-5)
    # The left half is what counts.
    image = np.concatenate([random_image(4, 6, 3), style], axis=1)
    _, terms = loss(tf.constant(image[None]))
    assert float(terms["style"]) > 1e-3


@pytest.mark.parametrize("style_loss", STYLE_LOSSES)
def test_an_all_ones_mask_is_the_same_as_no_mask(style_loss):
    content, styles, image = random_image(0), [random_image(1)], random_image(2)
    _, unmasked = make_loss(content, styles, style_loss=style_loss)(tf.constant(image[None]))
    ones = [np.ones((6, 5), np.float32)]
    _, masked = make_loss(content, styles, style_loss=style_loss, masks=ones)(
        tf.constant(image[None])
    )
    for name in ("style/linear", "style/square"):
        assert float(masked[name]) == pytest.approx(float(unmasked[name]), rel=1e-5)


@pytest.mark.parametrize("style_loss", STYLE_LOSSES)
def test_two_masked_styles_each_apply_to_their_own_half(style_loss):
    style_a, style_b = random_image(1, 6, 3), random_image(2, 6, 3) ** 3  # darker than A
    left = left_half_mask(6, 6)
    loss = make_loss(
        random_image(0, 6, 6), [style_a, style_b], style_loss=style_loss, masks=[left, 1 - left]
    )
    _, in_place = loss(tf.constant(np.concatenate([style_a, style_b], axis=1)[None]))
    assert float(in_place["style"]) == pytest.approx(0.0, abs=1e-5)
    _, swapped = loss(tf.constant(np.concatenate([style_b, style_a], axis=1)[None]))
    assert float(swapped["style"]) > 0.05


def test_masked_and_unmasked_styles_weigh_by_their_share_of_the_blend():
    content, image = random_image(0), random_image(3)
    style_a, style_b, style_c = random_image(1), random_image(2), random_image(4)
    mask = np.random.default_rng(5).uniform(size=(6, 5)).astype(np.float32)
    _, mixed = make_loss(
        content, [style_a, style_b, style_c], blend=[1.0, 2.0, 1.0], masks=[None, mask, None]
    )(tf.constant(image[None]))
    # A and C blend into one unmasked term (half the weight), B's masked term has the other half.
    _, unmasked = make_loss(content, [style_a, style_c])(tf.constant(image[None]))
    _, masked = make_loss(content, [style_b], masks=[mask])(tf.constant(image[None]))
    expected = 0.5 * float(unmasked["style"]) + 0.5 * float(masked["style"])
    assert float(mixed["style"]) == pytest.approx(expected, rel=1e-5)


def test_bad_masks_are_refused():
    content, styles = random_image(0), [random_image(1)]
    with pytest.raises(ValueError, match="all zero"):
        make_loss(content, styles, masks=[np.zeros((6, 5), np.float32)])
    with pytest.raises(ValueError, match="content image's size"):
        make_loss(content, styles, masks=[np.ones((5, 6), np.float32)])
    with pytest.raises(ValueError, match="one entry"):
        make_loss(content, styles, masks=[None, None])
    with pytest.raises(ValueError, match="style_loss"):
        make_loss(content, styles, style_loss="gatys")
    # Masks are resized once, for images of the content's size.
    loss = make_loss(content, styles, masks=[np.ones((6, 5), np.float32)])
    with pytest.raises(ValueError, match="style masks are at"):
        loss(tf.constant(random_image(2, 8, 8)[None]))


def test_the_temporal_term_counts_only_reliable_pixels_relative_to_the_frames_roughness():
    rng = np.random.default_rng(0)
    frame = tf.constant(rng.uniform(size=(1, 8, 8, 3)).astype(np.float32))
    warped = tf.constant(rng.uniform(size=(1, 8, 8, 3)).astype(np.float32))
    reliable = np.zeros((8, 8), np.float32)
    reliable[:, :4] = 1  # the left half's flow is trusted

    def base(image):
        return tf.constant(1.5), {"content": tf.constant(1.5)}

    loss = WithTemporalTerm(base, frame, warped, reliable, weight=2.0)
    total, terms = loss(warped)
    assert float(terms["temporal"]) == 0.0 and float(total) == 1.5  # at the target: nothing

    image = warped + tf.constant(np.where(reliable[None, :, :, None] > 0, 0.0, 0.3), tf.float32)
    assert float(loss(image)[1]["temporal"]) == 0.0  # changes where the flow is unreliable: free
    image = warped + 0.1
    expected = 2.0 * np.mean(reliable[None, :, :, None] * 0.1**2) / float(roughness(frame))
    total, terms = loss(image)
    assert float(terms["temporal"]) == pytest.approx(expected, rel=1e-4)
    assert float(total) == pytest.approx(1.5 + expected, rel=1e-5)
    assert set(terms) == {"content", "temporal"}


def _stripes(angle_degrees: float, size: int = 64, period: float = 8.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = np.deg2rad(angle_degrees)
    wave = 0.5 + 0.4 * np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
    return np.repeat(wave[..., None], 3, axis=2)[None].astype(np.float32)


def test_flow_roughness_ignores_change_across_strokes_and_counts_change_along_them():
    for angle in (0, 30, 90):  # stripes: all change is across the strokes
        stripes = tf.constant(_stripes(angle))
        assert float(flow_roughness(stripes, 3.0)) < 0.02 * float(roughness(stripes))
    noise = tf.constant(np.random.default_rng(0).random((1, 64, 64, 3)), tf.float32)
    # Noise has no direction: its change along the (weak) local direction counts.
    assert float(flow_roughness(noise, 3.0)) > 0.01 * float(roughness(noise))
    assert float(flow_roughness(tf.fill([1, 16, 16, 3], 0.3), 3.0)) < 1e-12


def test_flow_roughness_has_no_favourite_direction_for_fine_strokes():
    # Sobel directions and central differences charged 4 px strokes at 15-30 degrees about 2.7%
    # of their roughness (and the axes nothing), which wove the sky into a maze of horizontal and
    # vertical lines; Scharr's filters read every angle alike.
    for angle in (0, 15, 30, 45, 60, 75):
        stripes = tf.constant(_stripes(angle, size=128, period=4.0))
        assert float(flow_roughness(stripes, 3.0)) < 0.001 * float(roughness(stripes)), angle


def test_flow_roughness_has_a_finite_gradient_that_smooths_along_the_strokes():
    ripple = _stripes(0) + 0.05 * np.random.default_rng(1).standard_normal((1, 64, 64, 3))
    image = tf.Variable(ripple.astype(np.float32))
    with tf.GradientTape() as tape:
        value = flow_roughness(image, 3.0)
    gradient = tape.gradient(value, image)
    assert np.isfinite(gradient.numpy()).all()
    stepped = image - 0.01 * gradient / tf.reduce_max(tf.abs(gradient))  # a small descent step
    assert float(flow_roughness(stepped, 3.0)) < float(value)


def test_the_photo_steers_flow_tv_where_it_has_edges():
    # Vertical strokes alone: no change along them, nothing to pay. Beside a photo whose edges
    # run horizontally (and are stronger), flow TV smooths along the photo's edges instead: the
    # strokes that cross them pay, so a face's eyes and mouth are not smeared by strokes across.
    vertical = tf.constant(_stripes(0, size=64))
    photo_edges = structure_tensor(tf.constant(_stripes(90, size=64) * 3), 3.0)
    alone = float(flow_roughness(vertical, 3.0))
    guided = float(flow_roughness(vertical, 3.0, photo_edges))
    assert alone < 0.02 * float(roughness(vertical)) < guided
    flat_photo = structure_tensor(tf.fill([1, 64, 64, 3], 0.5), 3.0)  # no edges: no say
    assert float(flow_roughness(vertical, 3.0, flat_photo)) == pytest.approx(alone, abs=1e-7)


def test_the_flow_form_is_chosen_by_name_and_scaled_to_the_content():
    content = random_image(0, 12, 10)
    loss = StyleTransferLoss(
        ScaledPixels(),
        tf.constant(content),
        [tf.constant(random_image(1))],
        style_blend=[1.0],
        content_layers={"linear": 1.0},
        style_layers={"square": 1.0},
        content_weight=1.0,
        style_weight=1.0,
        tv_weight=2.0,
        tv_form="flow",
    )
    _, at_content = loss(tf.constant(content[None]))
    assert float(at_content["tv"]) == pytest.approx(2.0, rel=1e-5)
    with pytest.raises(ValueError, match="tv_form must be one of isotropic, flow"):
        tv_roughness("swirl", 512)
