"""nst.algorithm.palette: the sliced Wasserstein colour term, on small synthetic images."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst.algorithm import metrics, palette


def gradient_image(height, width, colors):
    """A left-to-right blend through `colors` (RGB in [0, 1]): a known colour distribution."""
    positions = np.linspace(0, len(colors) - 1, width)
    rows = np.stack(
        [np.interp(positions, range(len(colors)), [c[k] for c in colors]) for k in range(3)], -1
    )
    return np.broadcast_to(rows, (height, width, 3)).astype(np.float32)


def noise(seed, height=24, width=32):
    return np.random.default_rng(seed).uniform(size=(height, width, 3)).astype(np.float32)


def test_zero_for_the_style_itself_and_for_any_rearrangement_of_its_pixels():
    style = noise(0)
    loss = palette.PaletteLoss([(style, 1.0)], [None], style.shape[:2])
    assert float(loss(tf.constant(style[None]))) == pytest.approx(0.0, abs=1e-6)
    shuffled = np.random.default_rng(1).permutation(style.reshape(-1, 3)).reshape(style.shape)
    assert float(loss(tf.constant(shuffled[None]))) == pytest.approx(0.0, abs=1e-6)


def test_grows_with_the_colour_shift_and_is_relative_to_the_styles_spread():
    style = noise(0)
    loss = palette.PaletteLoss([(style, 1.0)], [None], style.shape[:2])
    small, large = (float(loss(tf.constant((style + shift)[None]))) for shift in (0.05, 0.2))
    # A uniform shift d along every axis moves each sorted projection by d (a . 1).
    assert large / small == pytest.approx(16.0, rel=0.01)
    # Uniform [0, 1] noise has variance 1/12 along each unit direction.
    assert small == pytest.approx(
        np.mean(palette._directions().sum(0) ** 2) * 0.05**2 * 12, rel=0.1
    )


def test_descending_it_moves_the_palette_towards_the_styles():
    """Adam steps on the term alone bring nst.algorithm.metrics' palette distance down 5x."""
    style = gradient_image(48, 64, [(0.05, 0.1, 0.4), (0.2, 0.4, 0.8), (0.95, 0.85, 0.2)])
    image = tf.Variable(gradient_image(48, 64, [(0.4, 0.35, 0.3), (0.7, 0.7, 0.65)])[None])
    before = metrics.palette_distance(image[0].numpy(), style)
    loss = palette.PaletteLoss([(style, 1.0)], [None], (48, 64))
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    for _ in range(150):
        with tf.GradientTape() as tape:
            value = loss(image)
        optimizer.apply_gradients([(tape.gradient(value, image), image)])
    after = metrics.palette_distance(np.clip(image[0].numpy(), 0, 1), style)
    assert after < before / 5


def test_blends_styles_by_weight():
    dark, light = np.full((8, 8, 3), 0.2, np.float32), np.full((8, 8, 3), 0.8, np.float32)
    loss = palette.PaletteLoss([(dark, 3.0), (light, 1.0)], [None, None], (8, 8))
    # The blend's target: three quarters of the pixels dark, one quarter light.
    mixed = np.concatenate([np.full((6, 8, 3), 0.2), np.full((2, 8, 3), 0.8)]).astype(np.float32)
    assert float(loss(tf.constant(mixed[None]))) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(tf.constant(light[None]))) > 0.5


def test_a_masked_style_is_matched_inside_its_mask_only():
    blue, red = np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32)
    blue[..., 2], red[..., 0] = 1.0, 1.0
    top = np.zeros((8, 8), np.float32)
    top[:4] = 1.0
    loss = palette.PaletteLoss([(blue, 1.0), (red, 1.0)], [top, 1.0 - top], (8, 8))
    right = np.concatenate([blue[:4], red[4:]])[None]
    wrong = np.concatenate([red[:4], blue[4:]])[None]
    assert float(loss(tf.constant(right))) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(tf.constant(wrong))) > 1.0


def test_large_images_are_pooled_to_a_fixed_side():
    assert palette.pooling_factor(96, 128) == 1
    assert palette.pooling_factor(384, 512) == 4
    assert palette.pooling_factor(6144, 8192) == 64
    style = noise(0, 96, 128)
    big = np.repeat(np.repeat(style, 4, axis=0), 4, axis=1)  # each pixel a 4x4 block
    loss = palette.PaletteLoss([(style, 1.0)], [None], big.shape[:2])
    assert float(loss(tf.constant(big[None]))) == pytest.approx(0.0, abs=1e-5)
