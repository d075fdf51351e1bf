"""`nst train`: a feed-forward network learns one style (or a blend) from a folder of photos, as a
run: run directory, TensorBoard, progress bar, checkpoints, resume.

Layout of a training run directory (`<output.root>/<name>/<timestamp>/`):

    config.yaml       the resolved config, every key
    metrics.jsonl     the loss terms every log.every steps; then one line per validation photo
                      with its quality readout, and one with "final": true
    checkpoint.npz    the network's and Adam's state every log.checkpoint_every steps and when
                      stopped by Ctrl-C or SIGTERM (then also interrupted.keras); gone once done
    model.keras       the trained network: `nst apply model.keras photo.jpg`
    validation/       step_NNNNNN/<photo>.png: the validation photos' results at image.size
                      every train.validate_every steps and at the end
    events.out.tfevents.*   loss scalars, validation images every train.validate_every steps,
                      HParams with the validation photos' mean quality readout

A loss that becomes NaN or infinite stops the run and keeps the last network whose loss was
finite as last_good.keras. `nst resume RUN_DIR` continues a stopped run: the same crops in the
same order from the checkpoint's step, so it ends where an unbroken run would have.
"""

import concurrent.futures
import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import tqdm.auto
from tensorboard.plugins.hparams import api as hp

from nst import images
from nst.algorithm import scoring, training, transformer
from nst.algorithm.losses import PhotoBatchLoss
from nst.config import Config, dump_config, load_config
from nst.errors import UserError
from nst.runs import checkpoints, clips, fast_memory, feature_models, preflight
from nst.runs.interrupts import RunInterrupted, StopRequests
from nst.runs.logger import hparam_value, hparams_of, keep_metrics_up_to
from nst.runs.run import RunFailed, quality_inputs, quality_readout
from nst.runs.run_dirs import create_run_dir

MODEL_FILE = "model.keras"
_TRAIN_HPARAMS = (
    "train.width",
    "train.size",
    "train.batch",
    "train.steps",
    "train.learning_rate",
    "train.jitter",
    "loss.palette_weight",
)
# Decoded photos kept in memory, as 8-bit: a small folder is read from disk once.
PHOTO_CACHE_BYTES = 256 * 2**20


@dataclasses.dataclass(frozen=True)
class TrainOutcome:
    run_dir: Path
    model_path: Path
    steps_done: int
    seconds: float
    final_loss: dict[str, float]
    quality: dict[str, float]  # the validation photos' mean readout (empty without any)


class Photos:
    """The training photos: the files `train.photos` names, less the validation ones and any
    that can't be read (each named once on stderr and skipped)."""

    def __init__(self, config: Config, exclude: list[Path]):
        pattern = config.train.photos
        if not Path(pattern).exists() and not any(ch in pattern for ch in "*?["):
            raise UserError(
                f"train.photos: {pattern!r} does not exist: give a folder of photos or a glob "
                "such as 'photos/*.jpg'"
            )
        excluded = {path.resolve() for path in exclude}
        found = clips.frame_paths(pattern, kind="photos", key="train.photos")
        candidates = [path for path in found if path.resolve() not in excluded]
        self.skipped = [path for path in candidates if images.read_size(path) is None]
        for path in self.skipped:
            _warn(f"train.photos: skipping {path}: not an image Pillow can read")
        self.paths = [path for path in candidates if path not in self.skipped]
        if not self.paths:
            raise UserError(
                f"train.photos: {pattern!r} holds no readable photos besides the validation "
                "ones: add photos to train on"
            )
        self._long_side = config.image.size
        self._crop = config.train.size
        self._jitter, self._flip = config.train.jitter, config.train.flip
        self._batch, self._seed = config.train.batch, config.seed
        self._longest = round(2 * self._long_side * (1 + self._jitter))  # all a crop needs
        kept = max(8, PHOTO_CACHE_BYTES // (self._longest**2 * 3))
        self._load = functools.lru_cache(maxsize=kept)(self._decode)

    def batch(self, step: int) -> np.ndarray:
        """The (batch, size, size, 3) crops trained on at `step`."""
        crops = training.batch_crops(
            step, self._batch, len(self.paths), self._seed, self._jitter, self._flip
        )
        return np.stack([self._cut(crop) for crop in crops])

    def _cut(self, crop: training.Crop) -> np.ndarray:
        # A photo that fails to decode although its header read (a truncated file) is replaced
        # by the next one in the list: the same one every time, so the order stays reproducible.
        for offset in range(len(self.paths)):
            index = (crop.photo + offset) % len(self.paths)
            pixels = self._load(index)
            if pixels is not None:
                chosen = dataclasses.replace(crop, photo=index)
                photo = pixels.astype(np.float32) / 255.0
                return training.cut_crop(photo, chosen, self._long_side, self._crop)
        raise UserError("train.photos: none of the photos could be decoded")

    def _decode(self, index: int) -> np.ndarray | None:
        """The photo in 8 bits, no larger than any crop needs; None if it can't be decoded."""
        try:
            pixels = images.load_image(self.paths[index], role="training photo")
        except UserError as error:
            _warn(f"skipping it: {error}")
            return None
        if max(pixels.shape[:2]) > self._longest:
            pixels = images.resize_longest_side(pixels, self._longest)
        return images.to_uint8(pixels)


def validation_paths(config: Config) -> list[Path]:
    if not config.train.validation.strip():
        return []
    source = Path(config.train.validation)
    if source.is_file() and source.suffix.lower() == ".txt":  # a list file, one path a line
        lines = [line.strip() for line in source.read_text().splitlines() if line.strip()]
        return [source.parent / line for line in lines]
    return clips.frame_paths(config.train.validation, kind="photos", key="train.validation")


def train(
    config: Config,
    name: str,
    show_progress: bool = True,
    run_dir: Path | None = None,
    hparams: dict | None = None,
) -> TrainOutcome:
    """Train the network `config` describes; returns where the model is."""
    fast_memory.feature_layers_fit(config)
    if any(style.mask for style in config.style):
        raise UserError("style: a style mask belongs to one photo; nst train takes none")
    preflight.check_writable(Path(config.output.root))
    fast_memory.check_training(config)
    session = _Session(config, show_progress)
    if run_dir is None:
        run_dir = create_run_dir(config.output.root, name)
    (run_dir / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    return session.run(run_dir, hparams or {}, resumed=None)


def resume(run_dir: Path, show_progress: bool = True) -> TrainOutcome:
    """Continue a stopped training run in its own directory, from its checkpoint."""
    meta, state = checkpoints.load_checkpoint(run_dir)
    if meta.get("kind") != "training":
        raise UserError(f"{run_dir} is not a training run: resume it with nst resume as usual")
    os.chdir(meta["cwd"])  # the config's relative paths start where the run started
    config = load_config(run_dir / "config.yaml", training=True)
    session = _Session(config, show_progress)
    return session.run(run_dir, json.loads(meta["hparams"]), resumed=(meta, state))


def is_training_run(run_dir: Path) -> bool:
    """A stopped run directory `nst train` made (its checkpoint says so), as opposed to
    `nst run`'s."""
    meta = checkpoints.read_meta(run_dir)
    return meta is not None and meta.get("kind") == "training"


def load_network(path: Path, precision: str = "float32") -> keras.Model:
    """A model `nst train` saved, rebuilt by this version's nst.algorithm.transformer at
    `precision` (its weights are float32 either way)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"model {path} does not exist: give a .keras file nst train made "
            "(runs/<name>/<time>/model.keras, or models/starry.keras)"
        )
    try:
        saved = keras.saving.load_model(path, compile=False)
        info = saved.get_layer("picture").info
    except (OSError, ValueError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"model {path} cannot be read ({first}): give a .keras file nst train made"
        ) from None
    width = info.get("width") or ("full" if saved.get_layer("in").filters == 32 else "half")
    network = transformer.build_transformer(width, precision, info)
    network.set_weights(saved.get_weights())
    return network


class _Session:
    """One training run's state: the photos, the networks, the loss, the optimiser."""

    def __init__(self, config: Config, show_progress: bool):
        self.config = config
        self.show_progress = show_progress
        self.validation = validation_paths(config)
        self.photos = Photos(config, self.validation)
        style_size = max(16, round(config.image.size * config.image.style_scale))
        self.styles = [
            images.load_image(style.path, max_size=style_size, role="style image")
            for style in config.style
        ]
        self.validation_photos = [
            images.load_image(path, max_size=config.image.size, role="validation photo")
            for path in self.validation
        ]
        self.strategy = _strategy()
        with self.strategy.scope():
            self.network = transformer.build_transformer(
                config.train.width, "float32", _info(config), seed=config.seed
            )
            self.optimizer = keras.optimizers.Adam(config.train.learning_rate)
            self.features = feature_models.build_model(config)
            self.loss = photo_batch_loss(config, self.features, self.styles)
        self.step_fn = training.TrainStep(
            self.network, self.loss, self.optimizer, self.strategy, config.train.batch
        )
        self.stylizer = transformer.Stylizer(self.network)

    def run(self, run_dir: Path, hparams: dict, resumed) -> TrainOutcome:
        config = self.config
        steps = config.train.steps
        start, seconds = 0, 0.0
        if resumed:
            meta, state = resumed
            start, seconds = meta["step"], meta["seconds"]
            _restore(self.network, self.optimizer, state)
        full_hparams = {**hparams_of(config, {key: None for key in _TRAIN_HPARAMS}), **hparams}
        log = _TrainingLog(run_dir, config, start, self.show_progress)
        started = time.perf_counter() - seconds
        # The weights of the last step whose loss was finite: what a NaN stop keeps. (The
        # weights a NaN step started from may already be NaN: the step before can have
        # applied a NaN gradient while its own loss was finite.)
        last_good = self.network.get_weights()
        terms: dict[str, float] = {}
        prefetch = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nst-photos")
        upcoming = prefetch.submit(self.photos.batch, start) if start < steps else None
        step = start
        try:
            with StopRequests() as requests:
                while step < steps:
                    batch = upcoming.result()
                    if step + 1 < steps:
                        upcoming = prefetch.submit(self.photos.batch, step + 1)
                    starting = self.network.get_weights()  # copies: ~2 MB, ~1 ms
                    loss, terms_t = self.step_fn(self._distributed(batch))
                    loss = float(loss)
                    if not np.isfinite(loss):
                        self.network.set_weights(last_good)
                        raise self._failed(run_dir, log, step, loss)
                    last_good = starting
                    step += 1
                    terms = {name: float(value) for name, value in terms_t.items()}
                    elapsed = time.perf_counter() - started
                    log.step(step, loss, terms, elapsed)
                    if _due(step, config.train.validate_every) and step < steps:
                        results = self._validation_results()
                        log.validation_images(step, results, self.validation)
                    if _due(step, config.log.checkpoint_every) and step < steps:
                        self._checkpoint(run_dir, step, elapsed, full_hparams)
                    if requests.signal_number is not None:
                        self._checkpoint(run_dir, step, elapsed, full_hparams)
                        self.network.save(run_dir / "interrupted.keras")
                        log.close()
                        raise RunInterrupted(requests.signal_number, run_dir)
        finally:
            prefetch.shutdown(wait=False, cancel_futures=True)
        model_path = run_dir / MODEL_FILE
        self.network.save(model_path)
        results = self._validation_results()
        quality = self._quality(results)
        seconds = time.perf_counter() - started
        log.finish(step, terms, results, self.validation, quality, seconds, full_hparams)
        checkpoints.remove_checkpoint(run_dir)
        return TrainOutcome(run_dir, model_path, step, seconds, terms, quality["mean"])

    def _distributed(self, batch: np.ndarray):
        if self.strategy.num_replicas_in_sync == 1:
            return tf.constant(batch)
        share = len(batch) // self.strategy.num_replicas_in_sync

        def replica_batch(context):
            index = context.replica_id_in_sync_group
            return tf.constant(batch[index * share : (index + 1) * share])

        return self.strategy.experimental_distribute_values_from_function(replica_batch)

    def _validation_results(self) -> list[np.ndarray]:
        return [self.stylizer(photo) for photo in self.validation_photos]

    def _quality(self, results: list[np.ndarray]) -> dict:
        """Each validation photo's quality readout, and their mean under "mean"."""
        per_photo = {}
        for path, result in zip(self.validation, results, strict=True):
            pair = dataclasses.replace(self.config, content=str(path))
            readout = quality_readout(pair, self.features, result, quality_inputs(pair))
            per_photo[path.name] = readout
        mean = (
            {
                name: float(np.mean([readout[name] for readout in per_photo.values()]))
                for name in scoring.NAMES
            }
            if per_photo
            else {}
        )
        return {"mean": mean, "photos": per_photo}

    def _checkpoint(self, run_dir: Path, step: int, seconds: float, hparams: dict) -> None:
        state = {f"network_{i}": w for i, w in enumerate(self.network.get_weights())}
        state |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(self.optimizer.variables)}
        meta = {
            "kind": "training",
            "step": step,
            "seconds": seconds,
            "cwd": os.getcwd(),
            "hparams": json.dumps(hparams),
        }
        checkpoints.save_checkpoint(run_dir, state, meta)

    def _failed(self, run_dir: Path, log, step: int, loss: float) -> RunFailed:
        path = run_dir / "last_good.keras"
        self.network.save(path)
        log.close()
        return RunFailed(f"the loss became {loss} at step {step + 1}", path, step)


def photo_batch_loss(config: Config, features, styles: list[np.ndarray]) -> PhotoBatchLoss:
    """The run's loss terms and weights for batches of train.size crops."""
    side = config.train.size
    return PhotoBatchLoss(
        features,
        styles,
        [style.weight for style in config.style],
        config.layers.content,
        config.layers.style,
        config.loss.content_weight,
        config.loss.style_weight,
        config.loss.tv_weight,
        config.loss.style_loss,
        config.loss.palette_weight,
        crop_size=(side, side),
        picture_side=config.image.size,
        tv_form=config.loss.tv_form,
    )


def _restore(network: keras.Model, optimizer, state: dict) -> None:
    weights = [state[f"network_{i}"] for i in range(len(network.get_weights()))]
    network.set_weights(weights)
    for index, variable in enumerate(optimizer.variables):
        variable.assign(state[f"optimizer_{index}"])


def _info(config: Config) -> dict:
    """What a saved model says it was trained for (nst apply reads it)."""
    return {
        "width": config.train.width,
        "image_size": config.image.size,
        "styles": [style.path for style in config.style],
        "network": config.model.network,
        "weights": config.model.weights,
        "train_size": config.train.size,
        "steps": config.train.steps,
    }


def _strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU where there are several; else the default (one device)."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def _warn(message: str) -> None:
    print(f"nst: {message}", file=sys.stderr, flush=True)


class _TrainingLog:
    """TensorBoard, metrics.jsonl and the progress bar of a training run."""

    def __init__(self, run_dir: Path, config: Config, start: int, show_progress: bool):
        self.run_dir, self.config = run_dir, config
        self.writer = tf.summary.create_file_writer(str(run_dir))
        path = run_dir / "metrics.jsonl"
        if start:  # lines after the checkpoint's step are written again
            keep_metrics_up_to(path, start)
        self.metrics = path.open("a", encoding="utf-8")
        self.bar = tqdm.auto.tqdm(
            total=config.train.steps,
            initial=start,
            unit="step",
            disable=not show_progress,
            dynamic_ncols=True,
            desc="training",
        )
        if not start:
            with self.writer.as_default(step=0):
                text = "\n".join("    " + line for line in dump_config(config).splitlines())
                tf.summary.text("config", text)

    def step(self, step: int, loss: float, terms: dict, seconds: float) -> None:
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
        if not _due(step, self.config.log.every):
            return
        losses = {"loss/total": loss} | {f"loss/{name}": value for name, value in terms.items()}
        with self.writer.as_default(step=step):
            for tag, value in losses.items():
                tf.summary.scalar(tag, value)
        record = {"step": step, "seconds": round(seconds, 3), **losses}
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()

    def validation_images(self, step: int, results: list[np.ndarray], paths) -> None:
        """In TensorBoard and as validation/step_NNNNNN/<photo>.png, to see the look grow."""
        folder = self.run_dir / "validation" / f"step_{step:06d}"
        with self.writer.as_default(step=step):
            for index, (result, path) in enumerate(zip(results, paths, strict=True)):
                tf.summary.image(f"validation/{index}", images.to_uint8(result)[None])
                images.save_image(folder / f"{Path(path).stem}.png", result)

    def finish(self, step, terms, results, paths, quality, seconds, hparams) -> None:
        """The last validation images, final.png (the validation results side by side, what a
        sweep's contact sheet shows), the readout, HParams, and the final metrics line, as a
        run's (nst.runs.sweep_runner reads it)."""
        self.validation_images(step, results, paths)
        if results:
            row = [
                images.resize_to(r, 256, max(1, round(256 * r.shape[1] / r.shape[0])))
                for r in results
            ]
            images.save_image(self.run_dir / "final.png", np.concatenate(row, axis=1))
        for name, readout in quality["photos"].items():
            self.metrics.write(json.dumps({"validation": name, **readout}) + "\n")
        losses = {
            "loss/total": sum(terms.get(t, 0.0) for t in ("content", "style", "tv", "palette"))
        }
        losses |= {f"loss/{name}": value for name, value in terms.items()}
        readout = {f"quality/{name}": value for name, value in quality["mean"].items()}
        final_scalars = {"final/seconds": seconds, "final/loss/total": losses["loss/total"]}
        final_scalars |= {f"final/{key}": value for key, value in readout.items()}
        with self.writer.as_default(step=step):
            for tag, value in final_scalars.items():
                tf.summary.scalar(tag, value)
            plain = {key: hparam_value(value) for key, value in hparams.items()}
            hp.hparams(plain, trial_id=self.run_dir.name)
        record = {"step": step, "final": True, "stop_reason": "completed"}
        record |= {"seconds": round(seconds, 3), **losses, **readout}
        self.metrics.write(json.dumps(record) + "\n")
        self.close()

    def close(self) -> None:
        self.bar.close()
        self.writer.flush()
        self.metrics.close()
