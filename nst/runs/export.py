"""`nst export MODEL --format savedmodel|tflite`: a trained network for other runtimes.

Both take one photo (1, H, W, 3) float32 RGB in [0, 1] of any size and give the picture at the
same size, in [0, 1]: the padding to a multiple of 4 (nst.algorithm.transformer) is inside the
exported graph. `savedmodel` is a TensorFlow SavedModel (serving signature "serving_default",
input "photo", output "picture": TF Serving, TF.js's converter); `tflite` is a TensorFlow Lite
flat buffer with float16 weights (half the size; phones, browsers through TFLite's web runtime),
run with the interpreter after `resize_tensor_input` to the photo's size.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from nst.algorithm import transformer
from nst.errors import UserError
from nst.runs.training import load_network

FORMATS = ("savedmodel", "tflite")


def _serving_function(network):
    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="photo")])
    def stylize(photo):
        height, width = tf.shape(photo)[1], tf.shape(photo)[2]
        # A fixed reflection of 3 px, then cut to the next multiple of 4: unlike a pad whose
        # size depends on the input, this keeps the channel count known to the TFLite converter.
        extra = transformer.SIDE_MULTIPLE - 1
        padded = tf.pad(photo, [[0, 0], [0, extra], [0, extra], [0, 0]], mode="REFLECT")
        multiple = transformer.SIDE_MULTIPLE
        padded = padded[:, : (height + extra) // multiple * multiple]
        padded = padded[:, :, : (width + extra) // multiple * multiple]
        picture = network(padded, training=False)[:, :height, :width, :]
        return {"picture": picture}

    return stylize


def export(model_path: str | Path, format: str, output: str | Path | None = None) -> Path:
    """Write the model in `format` next to it (or at `output`); returns the path written."""
    if format not in FORMATS:
        raise UserError(f"--format {format!r}: choose one of {', '.join(FORMATS)}")
    model_path = Path(model_path)
    network = load_network(model_path)
    default = model_path.with_suffix(".tflite" if format == "tflite" else "")
    if format == "savedmodel":
        default = model_path.with_name(model_path.stem + "_savedmodel")
    target = Path(output) if output else default
    if target.exists():
        raise UserError(f"{target} exists: remove it or give --output (nothing is overwritten)")
    function = _serving_function(network)
    if format == "savedmodel":
        module = tf.Module()
        module.network = network
        module.stylize = function
        tf.saved_model.save(module, str(target), signatures={"serving_default": function})
        return target
    # Every weight frozen into a constant first: left to the converter, the normalisation's
    # scales stay variables, which TFLite reads uninitialised (NaN pictures).
    frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    flat_buffer = converter.convert()
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(flat_buffer)
    partial.replace(target)
    return target


def run_tflite(path: str | Path, photo: np.ndarray) -> np.ndarray:
    """The exported TFLite model on an (H, W, 3) photo, in the LiteRT interpreter (what
    tf.lite.Interpreter became; it runs the convolutions with XNNPACK)."""
    interpreter = Interpreter(model_path=str(path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], [1, *photo.shape])
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], np.asarray(photo, np.float32)[None])
    interpreter.invoke()
    output = interpreter.get_output_details()[0]
    return interpreter.get_tensor(output["index"])[0]
