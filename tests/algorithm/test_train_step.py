"""Training examples are a pure function of (seed, step), and a step of training lowers the
perceptual loss."""

import keras
import numpy as np
import tensorflow as tf

from nst.algorithm import training, transformer
from nst.algorithm.features import build_feature_model
from nst.algorithm.losses import PhotoBatchLoss


def test_each_epoch_visits_every_photo_once_and_a_step_is_reproducible():
    crops = [training.batch_crops(step, 4, 6, seed=3, jitter=0.2, flips=True) for step in range(3)]
    seen = [crop.photo for batch in crops for crop in batch]
    assert sorted(seen[:6]) == list(range(6)) and sorted(seen[6:12]) == list(range(6))
    assert training.batch_crops(1, 4, 6, seed=3, jitter=0.2, flips=True) == crops[1]
    assert training.batch_crops(1, 4, 6, seed=4, jitter=0.2, flips=True) != crops[1]
    assert all(0.8 <= crop.scale <= 1.2 for batch in crops for crop in batch)


def test_a_crop_is_square_at_the_training_size_and_flips_mirror_it():
    photo = np.random.default_rng(0).uniform(size=(60, 90, 3)).astype(np.float32)
    crop = training.Crop(photo=0, scale=1.0, top=0.5, left=0.0, flip=False)
    plain = training.cut_crop(photo, crop, long_side=90, crop_size=32)
    mirrored = training.cut_crop(photo, crop.__class__(0, 1.0, 0.5, 0.0, True), 90, 32)
    assert plain.shape == (32, 32, 3)
    np.testing.assert_array_equal(mirrored, plain[:, ::-1])


def test_training_steps_lower_the_loss_on_tiny_photos():
    features = build_feature_model("vgg16", "none", "max", ["block2_conv2", "block1_conv1"])
    rng = np.random.default_rng(0)
    style = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    loss = PhotoBatchLoss(
        features,
        [style],
        [1.0],
        {"block2_conv2": 1.0},
        {"block1_conv1": 1.0},
        content_weight=1.0,
        style_weight=5.0,
        tv_weight=0.01,
        palette_weight=1.0,
        crop_size=(24, 24),
    )
    network = transformer.build_transformer("half", seed=0)
    photos = tf.constant(rng.uniform(size=(2, 24, 24, 3)).astype(np.float32))
    step = training.TrainStep(
        network, loss, keras.optimizers.Adam(1e-2), tf.distribute.get_strategy(), 2
    )
    first, terms = step(photos)
    assert set(terms) >= {"content", "style", "tv", "palette"}
    for _ in range(30):
        last, _ = step(photos)
    assert float(last) < 0.6 * float(first)  # about halves in 30 steps


def test_a_network_trains_with_the_flow_form_of_tv():
    features = build_feature_model("vgg16", "none", "max", ["block1_conv1"])
    rng = np.random.default_rng(1)
    loss = PhotoBatchLoss(
        features,
        [rng.uniform(size=(32, 32, 3)).astype(np.float32)],
        [1.0],
        {"block1_conv1": 1.0},
        {"block1_conv1": 1.0},
        content_weight=1.0,
        style_weight=1.0,
        tv_weight=1.0,
        crop_size=(24, 24),
        picture_side=512,
        tv_form="flow",
    )
    photos = tf.constant(rng.uniform(size=(2, 24, 24, 3)).astype(np.float32))
    _, at_photos = loss(photos, photos)
    assert float(at_photos["tv"]) == np.float32(1.0)  # each photo against its own roughness
    network = transformer.build_transformer("half", seed=0)
    step = training.TrainStep(
        network, loss, keras.optimizers.Adam(1e-2), tf.distribute.get_strategy(), 2
    )
    first, _ = step(photos)
    for _ in range(10):
        last, _ = step(photos)
    assert np.isfinite(float(last)) and float(last) < float(first)
