"""nst.losses against NumPy references, with a stand-in feature model so no VGG is needed."""

import numpy as np
import pytest
import tensorflow as tf

from nst.losses import StyleTransferLoss, gram_matrix, roughness


class ScaledPixels:
    """A 'feature model' whose layers are the pixels times a constant, and their square."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, image, training=False):
        return {"linear": self.scale * image, "square": self.scale * tf.square(image)}


def make_loss(content, styles, blend=None, model=None, weights=(1.0, 1.0, 1.0)):
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
    )


def random_image(seed, height=6, width=5):
    return np.random.default_rng(seed).uniform(size=(height, width, 3)).astype(np.float32)


def test_gram_matrix_matches_numpy_reference():
    features = np.random.default_rng(0).normal(size=(1, 5, 7, 4)).astype(np.float32)
    flat = features.reshape(-1, 4)
    expected = flat.T @ flat / 35
    np.testing.assert_allclose(gram_matrix(tf.constant(features)).numpy(), expected, rtol=1e-5)


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
    loss = make_loss(random_image(0), [random_image(1)], weights=(2.0, 5.0, 0.5))
    total, terms = loss(tf.constant(random_image(2)[None]))
    parts = float(terms["content"]) + float(terms["style"]) + float(terms["tv"])
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
