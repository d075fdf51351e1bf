"""The feed-forward "transformer" network that stylizes a photo in one pass (Johnson et al. 2016).

Photo in [0, 1] (batch, H, W, 3) -> stylized picture in [0, 1] of the same size, any H and W:

    reflect-pad, 9x9 conv 32         instance norm, ReLU
    3x3 conv 64, stride 2            instance norm, ReLU
    3x3 conv 128, stride 2           instance norm, ReLU
    5 residual blocks of two 3x3 convs of 128 (instance norm; ReLU between)
    nearest x2, 3x3 conv 64          instance norm, ReLU
    nearest x2, 3x3 conv 32          instance norm, ReLU
    9x9 conv 3, (tanh + 1) / 2

as jcjohnson/fast-neural-style and pytorch/examples' fast_neural_style build it, with their
fixes: instance normalisation (Ulyanov et al. 2016) instead of batch norm, reflection padding
before every convolution (zero padding darkens the borders), and upsampling by a nearest
resize followed by a convolution (transposed convolutions leave checkerboards, Odena et al.
2016). Width "half" halves every layer's filters, as jcjohnson's released models do: about a
quarter of the multiply-adds.

The last layer (`StyleOutput`) carries what the model was trained for (style, size, settings)
in its config, so a saved .keras file is the whole model: nst apply needs nothing else.
"""

import zlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

WIDTHS = {"full": 1.0, "half": 0.5}
_RESIDUAL_BLOCKS = 5
# Each side must be a multiple of this for the two stride-2 convolutions and the two x2
# upsamplings to give back the input's size; other sizes are padded by reflection, then cropped.
SIDE_MULTIPLE = 4


@keras.saving.register_keras_serializable(package="nst")
class ReflectionPad(keras.layers.Layer):
    """Mirror `pad` pixels on each side of H and W (no edge pixel repeated)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, shape):
        grow = lambda side: None if side is None else side + 2 * self.pad  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="nst")
class InstanceNorm(keras.layers.Layer):
    """Each image's channels normalised over their positions, then a learnt scale and offset.

    The same as keras.layers.GroupNormalization(groups=-1), written with one moments op:
    measured 10% faster at 512 px on the CPU. Statistics in float32 under a 16-bit policy."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        # Scale and offset are read as the float32 they are stored in, not cast to the policy's
        # 16 bits (the statistics are float32 too).
        super().__init__(autocast=False, **kwargs)
        self.epsilon = epsilon

    def build(self, shape):
        channels = shape[-1]
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        self.offset = self.add_weight(shape=(channels,), initializer="zeros", name="offset")

    def call(self, x):
        wide = ops.cast(x, "float32")
        mean, variance = ops.moments(wide, axes=[1, 2], keepdims=True)
        normalised = (wide - mean) * ops.rsqrt(variance + self.epsilon)
        scaled = normalised * self.scale + self.offset
        return ops.cast(scaled, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="nst")
class NearestUpsample(keras.layers.Layer):
    """Each pixel repeated 2 x 2 (keras.layers.UpSampling2D's nearest mode, written as one
    resize: that keeps the channel count known to TensorFlow Lite's converter, which needs it
    for the convolution after, and is one op in TFLite)."""

    def call(self, x):
        size = tf.shape(x)[1:3] * 2
        return tf.image.resize(x, size, method="nearest")

    def compute_output_shape(self, shape):
        grow = lambda side: None if side is None else side * 2  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return super().get_config()


@keras.saving.register_keras_serializable(package="nst")
class StyleOutput(keras.layers.Layer):
    """(tanh + 1) / 2: pixels in [0, 1], in float32. `info` is what the model was trained for
    (JSON-able: style, image size, settings), kept in the saved file."""

    def __init__(self, info: dict | None = None, **kwargs):
        super().__init__(dtype="float32", **{k: v for k, v in kwargs.items() if k != "dtype"})
        self.info = dict(info or {})

    def call(self, x):
        return (ops.tanh(ops.cast(x, "float32")) + 1.0) / 2.0

    def get_config(self):
        return {**super().get_config(), "info": self.info}


def _conv(x, filters: int, kernel: int, stride: int, name: str, policy, seed: int):
    x = ReflectionPad(kernel // 2, name=f"{name}_pad", dtype=policy)(x)
    # Seeded per layer (by its name), not through keras.utils.set_random_seed, which would
    # reseed the caller's Python, NumPy and TensorFlow generators too.
    initializer = keras.initializers.GlorotUniform(seed=seed + zlib.crc32(name.encode()) % 10**6)
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="valid",
        name=name,
        dtype=policy,
        kernel_initializer=initializer,
    )(x)


def _conv_norm_relu(x, filters, kernel, stride, name, policy, seed):
    x = _conv(x, filters, kernel, stride, name, policy, seed)
    x = InstanceNorm(name=f"{name}_norm", dtype=policy)(x)
    return keras.layers.ReLU(name=f"{name}_relu", dtype=policy)(x)


def build_transformer(
    width: str = "half", precision: str = "float32", info: dict | None = None, seed: int = 0
) -> keras.Model:
    """The network for (batch, H, W, 3) photos in [0, 1]; H and W multiples of SIDE_MULTIPLE
    (`Stylizer` pads any other size). `precision` as model.precision: "mixed_bfloat16"
    runs the convolutions in bfloat16 (AMX on recent Intel CPUs; 8 bits of mantissa), the
    normalisation statistics and output in float32."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {', '.join(WIDTHS)}, got {width!r}")
    policy = keras.DTypePolicy(precision)
    f = lambda filters: int(filters * WIDTHS[width])  # noqa: E731
    photo = keras.Input(shape=(None, None, 3), name="photo")
    x = _conv_norm_relu(photo, f(32), 9, 1, "in", policy, seed)
    x = _conv_norm_relu(x, f(64), 3, 2, "down1", policy, seed)
    x = _conv_norm_relu(x, f(128), 3, 2, "down2", policy, seed)
    for block in range(1, _RESIDUAL_BLOCKS + 1):
        name = f"res{block}"
        y = _conv_norm_relu(x, f(128), 3, 1, f"{name}_a", policy, seed)
        y = _conv(y, f(128), 3, 1, f"{name}_b", policy, seed)
        y = InstanceNorm(name=f"{name}_b_norm", dtype=policy)(y)
        x = keras.layers.Add(name=name, dtype=policy)([x, y])
    for stage, filters in ((1, 64), (2, 32)):
        x = NearestUpsample(name=f"up{stage}", dtype=policy)(x)
        x = _conv_norm_relu(x, f(filters), 3, 1, f"up{stage}_conv", policy, seed)
    x = _conv(x, 3, 9, 1, "out", policy, seed)
    picture = StyleOutput(info, name="picture")(x)
    return keras.Model(photo, picture, name=f"transformer_{width}")


def multiply_adds(model: keras.Model, height: int, width: int) -> int:
    """Multiply-adds of the model's convolutions for one (height, width) picture."""
    total, scale = 0, 1.0
    for layer in model.layers:
        if isinstance(layer, NearestUpsample):
            scale *= 2
        if isinstance(layer, keras.layers.Conv2D):
            scale /= layer.strides[0]
            kernel = layer.kernel.shape  # (k, k, in, out)
            positions = (height * scale) * (width * scale)
            total += int(positions * np.prod(kernel))
    return total


def padding_for(height: int, width: int) -> tuple[int, int]:
    """Rows and columns to add so both sides are multiples of SIDE_MULTIPLE."""
    return (-height) % SIDE_MULTIPLE, (-width) % SIDE_MULTIPLE


def pad_to_multiple(photos):
    """(batch, H, W, 3) -> reflect-padded at the bottom and right to multiples of SIDE_MULTIPLE."""
    down, right = padding_for(photos.shape[1], photos.shape[2])
    if not down and not right:
        return photos
    return ops.pad(photos, [[0, 0], [0, down], [0, right], [0, 0]], mode="reflect")


class Stylizer:
    """A trained network as a function of photos: any size (padded to SIDE_MULTIPLE by
    reflection, cropped back), compiled once per size, so a clip's frames share one trace."""

    def __init__(self, network: keras.Model):
        self.network = network
        self._forward = tf.function(
            lambda batch: network(batch, training=False), reduce_retracing=True
        )

    def __call__(self, photo: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """An (H, W, 3) photo in [0, 1] -> its stylized (H, W, 3) picture; `strength` in
        [0, 1] mixes the result with the photo (0 gives the photo back)."""
        height, width = photo.shape[:2]
        batch = pad_to_multiple(tf.constant(photo[None], tf.float32))
        result = self._forward(batch)[0, :height, :width].numpy()
        if strength >= 1:
            return result
        return strength * result + (1 - strength) * np.asarray(photo, np.float32)
