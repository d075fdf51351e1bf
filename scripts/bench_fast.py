"""`make bench ARGS="--case fast"`: the feed-forward network's speed (docs/fast.md).

For each width (half, full) and precision (float32, mixed_bfloat16): parameters, multiply-adds
and the seconds of one photo through nst apply's code path (nst.algorithm.transformer.Stylizer:
padding, the network, back to NumPy) at 512x512 and 1920x1080, the fastest of --repeats after
two warm-up calls; the exported TFLite file (float16 weights, LiteRT with XNNPACK) at the same
sizes; and a training step (batch 4, the demo config's loss) at 128 and 256 px crops.
"""

import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"512x512": (512, 512), "1920x1080": (1080, 1920)}


def _fastest(function, repeats: int) -> float:
    function()
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def inference(repeats: int) -> list[dict]:
    from nst.algorithm import transformer

    rows = []
    for width in ("half", "full"):
        for precision in ("float32", "mixed_bfloat16"):
            network = transformer.build_transformer(width, precision)
            stylize = transformer.Stylizer(network)
            row = {"width": width, "precision": precision, "parameters": network.count_params()}
            for label, (height, side) in SIZES.items():
                photo = np.random.default_rng(0).uniform(size=(height, side, 3))
                photo = photo.astype(np.float32)
                row[f"gmacs_{label}"] = transformer.multiply_adds(network, height, side) / 1e9
                row[f"seconds_{label}"] = _fastest(lambda s=stylize, p=photo: s(p), repeats)
            rows.append(row)
            print(row, flush=True)
    return rows


def tflite(model: Path, repeats: int) -> dict:
    from nst.runs import export

    with tempfile.TemporaryDirectory() as scratch:
        path = export.export(model, "tflite", Path(scratch) / "model.tflite")
        row = {"model": str(model), "megabytes": path.stat().st_size / 2**20}
        interpreter = export.Interpreter(model_path=str(path))
        entry = interpreter.get_input_details()[0]
        output = interpreter.get_output_details()[0]
        for label, (height, side) in SIZES.items():
            interpreter.resize_tensor_input(entry["index"], [1, height, side, 3])
            interpreter.allocate_tensors()
            random_photo = np.random.default_rng(0).uniform(size=(1, height, side, 3))
            random_photo = random_photo.astype(np.float32)

            def call(photo=random_photo):
                interpreter.set_tensor(entry["index"], photo)
                interpreter.invoke()
                return interpreter.get_tensor(output["index"])

            row[f"seconds_{label}"] = _fastest(call, repeats)
    print(row, flush=True)
    return row


def training_steps(config_path: str, steps: int) -> list[dict]:
    import keras
    import tensorflow as tf

    from nst.algorithm import training, transformer
    from nst.config import load_config
    from nst.images import load_image
    from nst.runs import feature_models
    from nst.runs.training import photo_batch_loss

    rows = []
    for side in (128, 256):
        config = load_config(config_path, [f"train.size={side}"], training=True)
        config = feature_models.resolve_weights(config)
        style = load_image(config.style[0].path, max_size=config.image.size)
        features = feature_models.build_model(config)
        loss = photo_batch_loss(config, features, [style])
        network = transformer.build_transformer(config.train.width)
        step = training.TrainStep(
            network, loss, keras.optimizers.Adam(1e-3), tf.distribute.get_strategy(), 4
        )
        photos = tf.constant(np.random.default_rng(0).uniform(size=(4, side, side, 3)), tf.float32)
        step(photos)
        started = time.perf_counter()
        for _ in range(steps):
            step(photos)
        seconds = (time.perf_counter() - started) / steps
        row = {"crop": side, "batch": 4, "width": config.train.width}
        row |= {"precision": config.model.precision, "seconds_per_step": seconds}
        row["steps_per_hour"] = int(3600 / seconds)
        rows.append(row)
        print(row, flush=True)
    return rows


def fast_case(model: str, config: str, repeats: int, train_steps: int) -> dict:
    return {
        "inference": inference(repeats),
        "tflite": tflite(Path(model), repeats),
        "training": training_steps(config, train_steps),
    }


def print_fast(case: dict) -> None:
    print("\nfeed-forward network, one photo (s; fastest of the repeats)")
    print("width  precision        params   GMACs 512  512x512  1920x1080")
    for row in case["inference"]:
        print(
            f"{row['width']:<6} {row['precision']:<15} {row['parameters']:>8,} "
            f"{row['gmacs_512x512']:>10.1f} {row['seconds_512x512']:>8.3f} "
            f"{row['seconds_1920x1080']:>10.3f}"
        )
    lite = case["tflite"]
    print(
        f"TFLite (float16 weights, {lite['megabytes']:.2f} MB): 512x512 "
        f"{lite['seconds_512x512']:.3f} s, 1920x1080 {lite['seconds_1920x1080']:.3f} s"
    )
    for row in case["training"]:
        print(
            f"training step, batch {row['batch']} of {row['crop']} px ({row['width']}, VGG "
            f"{row['precision']}): {row['seconds_per_step']:.2f} s, {row['steps_per_hour']} an hour"
        )
