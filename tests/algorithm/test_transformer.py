"""The feed-forward network's shape rules: any size in, the same size out, in [0, 1], with
reflection padding (no border of its own) and no transposed convolutions."""

import keras
import numpy as np
import pytest

from nst.algorithm import transformer


@pytest.fixture(scope="module")
def half():
    return transformer.build_transformer("half", seed=1)


@pytest.mark.parametrize("height, width", [(32, 48), (37, 50), (17, 23)])
def test_any_size_comes_back_at_its_size_in_unit_range(half, height, width):
    photo = np.random.default_rng(0).uniform(size=(height, width, 3)).astype(np.float32)
    picture = transformer.Stylizer(half)(photo)
    assert picture.shape == (height, width, 3)
    assert picture.min() >= 0.0 and picture.max() <= 1.0


def test_reflection_padding_leaves_a_flat_photo_flat_to_its_borders(half):
    # Zero padding would make the edges differ from the middle (the dark borders of
    # lengstrom's networks); reflection keeps every position of a flat photo alike.
    picture = transformer.Stylizer(half)(np.full((40, 56, 3), 0.6, np.float32))
    assert np.ptp(picture, axis=(0, 1)).max() < 1e-4


def test_reflection_pad_mirrors_without_repeating_the_edge():
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5, 1).repeat(3, axis=1)
    padded = np.asarray(transformer.ReflectionPad(2)(x))
    assert padded[0, 0, :, 0].tolist() == [2, 1, 0, 1, 2, 3, 4, 3, 2]


def test_upsampling_is_resize_then_convolution_and_half_width_is_a_quarter_of_the_work(half):
    full = transformer.build_transformer("full")
    layers = [type(layer) for layer in full.layers]
    assert keras.layers.Conv2DTranspose not in layers
    assert layers.count(transformer.NearestUpsample) == 2
    assert 1_600_000 < full.count_params() < 1_800_000  # Johnson et al.'s ~1.7 M
    ratio = transformer.multiply_adds(half, 512, 512) / transformer.multiply_adds(full, 512, 512)
    assert 0.25 <= ratio < 0.3
