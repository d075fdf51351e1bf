"""nst.algorithm.features: preprocessing, truncation, freezing and every weight source."""

import keras
import numpy as np
import pytest

from nst.algorithm.features import VGGPreprocess, build_feature_model
from nst.errors import UserError


def random_rgb(height=20, width=24, seed=0):
    return np.random.default_rng(seed).uniform(size=(1, height, width, 3)).astype(np.float32)


def test_preprocessing_matches_keras_vgg_preprocess_input():
    rgb = random_rgb()
    expected = keras.applications.vgg19.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(np.asarray(VGGPreprocess()(rgb)), expected, rtol=1e-5, atol=1e-3)


def test_model_stops_at_the_deepest_requested_layer():
    features = build_feature_model("vgg19", "none", "max", ["block2_conv1", "block1_conv2"])
    names = [layer.name for layer in features.layers]
    assert names[-1] == "block2_conv1"
    assert "block2_conv2" not in names
    outputs = features(random_rgb(16, 16))
    assert set(outputs) == {"block2_conv1", "block1_conv2"}
    assert outputs["block2_conv1"].shape == (1, 8, 8, 128)


def test_model_is_frozen():
    features = build_feature_model("vgg16", "none", "max", ["block3_conv1"])
    assert features.trainable_weights == []


def test_average_pooling_replaces_max_pooling():
    features = build_feature_model("vgg16", "none", "avg", ["block2_conv1"])
    pools = [layer for layer in features.layers if layer.name.endswith("_pool")]
    assert pools and all(isinstance(pool, keras.layers.AveragePooling2D) for pool in pools)


def test_random_weights_are_seeded():
    image = random_rgb()
    first = build_feature_model("vgg16", "none", "max", ["block2_conv2"], seed=3)(image)
    again = build_feature_model("vgg16", "none", "max", ["block2_conv2"], seed=3)(image)
    other = build_feature_model("vgg16", "none", "max", ["block2_conv2"], seed=4)(image)
    np.testing.assert_array_equal(
        np.asarray(first["block2_conv2"]), np.asarray(again["block2_conv2"])
    )
    assert not np.allclose(np.asarray(first["block2_conv2"]), np.asarray(other["block2_conv2"]))


def test_weights_file_is_loaded_by_layer_name(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None)
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    features = build_feature_model("vgg16", str(path), "max", ["block3_conv2"])
    for name in ("block1_conv1", "block3_conv2"):
        for ours, theirs in zip(
            features.get_layer(name).get_weights(),
            reference.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)


def test_hed_weights_give_the_same_features_as_keras_vgg16():
    features = build_feature_model("vgg16", "hed", "max", ["block4_conv2"])
    reference = keras.applications.VGG16(include_top=False, weights=None)
    for layer in features.layers:
        if isinstance(layer, keras.layers.Conv2D):
            reference.get_layer(layer.name).set_weights(layer.get_weights())
    truncated = keras.Model(reference.input, reference.get_layer("block4_conv2").output)
    image = random_rgb(32, 32)
    expected = truncated(keras.applications.vgg16.preprocess_input(image * 255.0))
    ours = features(image)["block4_conv2"]
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), rtol=1e-4, atol=1e-3)
    # Pretrained filters respond; a sanity check that real weights, not zeros, were loaded.
    assert float(np.mean(np.asarray(ours) > 0)) > 0.05


def test_hed_weights_on_vgg19_say_to_switch_network():
    with pytest.raises(UserError, match="model.network=vgg16"):
        build_feature_model("vgg19", "hed", "max", ["block1_conv1"])


def test_missing_weights_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="model.weights: file .*missing.h5' not found"):
        build_feature_model("vgg16", str(tmp_path / "missing.h5"), "max", ["block1_conv1"])


def test_a_file_that_is_not_vgg_weights_is_a_user_error(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not hdf5")
    with pytest.raises(UserError, match="is not a Keras vgg16 weights file"):
        build_feature_model("vgg16", str(path), "max", ["block1_conv1"])


def test_pre_relu_taps_read_the_convolution_before_its_relu():
    image = random_rgb()
    post = build_feature_model("vgg16", "none", "max", ["block1_conv2", "block2_conv1"])(image)
    pre = build_feature_model(
        "vgg16", "none", "max", ["block1_conv2", "block2_conv1"], taps="pre_relu"
    )(image)
    for name in ("block1_conv2", "block2_conv1"):
        before, after = np.asarray(pre[name]), np.asarray(post[name])
        assert before.min() < 0  # not rectified
        np.testing.assert_allclose(np.maximum(before, 0), after, rtol=1e-5, atol=1e-5)


def test_mixed_precision_keeps_float32_outputs_close_to_float32_features():
    image = random_rgb(32, 32)
    exact = build_feature_model("vgg16", "none", "max", ["block3_conv1"])(image)["block3_conv1"]
    mixed = build_feature_model(
        "vgg16", "none", "max", ["block3_conv1"], precision="mixed_bfloat16"
    )(image)["block3_conv1"]
    assert mixed.dtype == "float32"
    exact, mixed = np.asarray(exact).ravel(), np.asarray(mixed).ravel()
    assert np.corrcoef(exact, mixed)[0, 1] > 0.999
    assert np.abs(mixed - exact).mean() < 0.02 * np.abs(exact).mean()
