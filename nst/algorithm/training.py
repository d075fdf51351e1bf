"""Training a feed-forward network (nst.algorithm.transformer) with the perceptual loss: which
crops of which photos each step sees, and the step itself. No file I/O.

Every batch is a pure function of (seed, step): the photos are visited in a fresh random order
each epoch, and each crop's scale, position and flip are drawn from a generator seeded by the
step. A resumed training run therefore sees exactly the crops it would have seen.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from nst import images


@dataclasses.dataclass(frozen=True)
class Crop:
    """One training example: photo `photo` (an index), resized so its longest side is
    `scale` x the configured size, cut at fractions `top`, `left` of the room there is."""

    photo: int
    scale: float
    top: float
    left: float
    flip: bool


def batch_crops(
    step: int, batch: int, photo_count: int, seed: int, jitter: float, flips: bool
) -> list[Crop]:
    """The crops of the batch trained at `step` (0-based)."""
    crops = []
    for slot in range(step * batch, (step + 1) * batch):
        epoch, position = divmod(slot, photo_count)
        order = np.random.default_rng([seed, epoch]).permutation(photo_count)
        draw = np.random.default_rng([seed, step, slot])
        crops.append(
            Crop(
                photo=int(order[position]),
                scale=float(draw.uniform(1 - jitter, 1 + jitter)),
                top=float(draw.uniform()),
                left=float(draw.uniform()),
                flip=bool(flips and draw.uniform() < 0.5),
            )
        )
    return crops


def cut_crop(photo: np.ndarray, crop: Crop, long_side: int, crop_size: int) -> np.ndarray:
    """The (crop_size, crop_size, 3) example `crop` describes, from an (H, W, 3) photo.

    The photo is resized to `long_side` x crop.scale on its longest side, and up further if
    its shorter side would be smaller than the crop."""
    height, width = photo.shape[:2]
    factor = long_side * crop.scale / max(height, width)
    factor = max(factor, crop_size / min(height, width))
    new_height = max(crop_size, round(height * factor))
    new_width = max(crop_size, round(width * factor))
    resized = images.resize_to(photo, new_height, new_width)
    top = round(crop.top * (new_height - crop_size))
    left = round(crop.left * (new_width - crop_size))
    example = resized[top : top + crop_size, left : left + crop_size]
    return example[:, ::-1] if crop.flip else example


class TrainStep:
    """One optimiser step of `network` on a batch of photos, under `strategy`.

    `loss` is an nst.algorithm.losses.PhotoBatchLoss; the batch is split over the strategy's
    replicas (one on a CPU or a single GPU; MirroredStrategy on several GPUs), each replica's
    sum of per-image losses divided by the global batch, so the gradient is the batch mean's.
    Call with a distributed batch; returns (mean total loss, {term: batch mean}).
    """

    def __init__(self, network, loss, optimizer, strategy, global_batch: int):
        self.network, self._loss, self.optimizer = network, loss, optimizer
        self._strategy, self._global_batch = strategy, global_batch
        with strategy.scope():
            optimizer.build(network.trainable_variables)  # its state exists before a resume
        self._step = tf.function(self._distributed_step)

    def __call__(self, photos):
        return self._step(photos)

    def _replica_step(self, photos):
        with tf.GradientTape() as tape:
            results = self.network(photos, training=True)
            totals, terms = self._loss(results, photos)
            loss = tf.reduce_sum(totals) / self._global_batch
        variables = self.network.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        replicas = self._strategy.num_replicas_in_sync
        return loss, {name: value / replicas for name, value in terms.items()}

    def _distributed_step(self, photos):
        loss, terms = self._strategy.run(self._replica_step, args=(photos,))
        total = tf.distribute.ReduceOp.SUM
        return (
            self._strategy.reduce(total, loss, axis=None),
            {name: self._strategy.reduce(total, value, axis=None) for name, value in terms.items()},
        )
