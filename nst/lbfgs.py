"""L-BFGS without a line search: one loss evaluation per iteration, as Torch's optim.lbfgs.

jcjohnson/neural-style and torch.optim.LBFGS (without line_search_fn) take the step the
two-loop recursion gives, scaled by the usual initial Hessian guess s'y / y'y, with step size 1.
tfp's L-BFGS instead runs a Hager-Zhang line search, which costs about three evaluations per
iteration here. This is the same algorithm as Torch's, compiled, with its state in variables
so it can stop and resume between chunks without changing its path.
"""

import functools
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

# Torch's threshold for keeping a curvature pair (y's must be clearly positive).
_MIN_CURVATURE = 1e-10


class FixedStepLBFGS:
    """Minimise `value_and_gradient(position)` over a flat float32 position."""

    def __init__(
        self,
        value_and_gradient,
        initial_position: tf.Tensor,
        history: int,
        tolerance: float = 0.0,
    ):
        size = int(initial_position.shape[0])
        self._value_and_gradient = value_and_gradient
        self._history = history
        self._tolerance = tolerance  # stop once no gradient entry is larger; 0 never stops
        self.position = tf.Variable(initial_position)
        value, gradient = value_and_gradient(initial_position)
        self.value = tf.Variable(value)
        self._gradient = tf.Variable(gradient)
        self._steps_s = tf.Variable(tf.zeros([history, size]))  # position changes
        self._steps_y = tf.Variable(tf.zeros([history, size]))  # gradient changes
        self._rho = tf.Variable(tf.zeros([history]))
        self._stored = tf.Variable(0)  # curvature pairs kept, at most `history`
        self._newest = tf.Variable(-1)  # index of the newest pair in the ring buffer
        self._hessian_scale = tf.Variable(1.0)
        self.iterations = tf.Variable(0)
        self.evaluations = tf.Variable(1)
        # Set when an evaluation gives a NaN or infinite loss or gradient: that step is not
        # taken, so the position stays at the last good image.
        self.diverged = tf.Variable(not _all_finite(value, gradient))
        self._run = tf.function(self._iterate)

    def run(self, iterations: int) -> None:
        self._run(tf.constant(iterations, dtype=tf.int32))

    def state(self) -> dict:
        """Everything the next iterations depend on, for a checkpoint: arrays, and for the
        history one function a row, which reads that row when the checkpoint writes it (a copy
        of the whole history at once would be gigabytes at print size)."""
        history = ("steps_s", "steps_y")
        variables = self._variables()
        state = {name: v.numpy() for name, v in variables.items() if name not in history}
        for name in history:  # Slots fill from 0; the rest are zeros, not worth saving.
            for row in range(int(self._stored)):
                state[f"{name}/{row}"] = functools.partial(_read_row, variables[name], row)
        return state

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue exactly where `state()` was taken (with the same history length)."""
        for name, variable in self._variables().items():
            if name in ("steps_s", "steps_y"):
                variable.assign(tf.zeros_like(variable))
                for row in range(int(state["stored"])):
                    variable.scatter_update(
                        tf.IndexedSlices(state[f"{name}/{row}"][None], tf.constant([row]))
                    )
            else:
                variable.assign(state[name])

    def _variables(self) -> dict[str, tf.Variable]:
        return {
            "position": self.position,
            "value": self.value,
            "gradient": self._gradient,
            "steps_s": self._steps_s,
            "steps_y": self._steps_y,
            "rho": self._rho,
            "stored": self._stored,
            "newest": self._newest,
            "hessian_scale": self._hessian_scale,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "diverged": self.diverged,
        }

    def _iterate(self, count):
        for _ in tf.range(count):
            if self.diverged or tf.reduce_max(tf.abs(self._gradient)) <= self._tolerance:
                break
            direction = self._direction(-self._gradient)
            # Torch scales the very first step by the gradient's size; later steps are 1.
            first = tf.minimum(1.0, 1.0 / tf.reduce_sum(tf.abs(self._gradient)))
            step = tf.where(self.iterations == 0, first, 1.0)
            new_position = self.position + step * direction
            new_value, new_gradient = self._value_and_gradient(new_position)
            self.evaluations.assign_add(1)
            if not _all_finite(new_value, new_gradient):
                self.diverged.assign(True)
                break
            self._remember(new_position - self.position, new_gradient - self._gradient)
            self.position.assign(new_position)
            self.value.assign(new_value)
            self._gradient.assign(new_gradient)
            self.iterations.assign_add(1)

    def _remember(self, s, y):
        curvature = tf.tensordot(y, s, 1)
        if curvature > _MIN_CURVATURE:
            slot = (self._newest + 1) % self._history
            # A scatter writes the one row; `variable[slot].assign` copied the whole history.
            self._steps_s.scatter_update(tf.IndexedSlices(s[None], slot[None]))
            self._steps_y.scatter_update(tf.IndexedSlices(y[None], slot[None]))
            self._rho[slot].assign(1.0 / curvature)
            self._newest.assign(slot)
            self._stored.assign(tf.minimum(self._stored + 1, self._history))
            self._hessian_scale.assign(curvature / tf.tensordot(y, y, 1))

    def _direction(self, q):
        """The two-loop recursion: approximately -H^-1 g for q = -g."""
        stored = self._stored
        alphas = tf.TensorArray(tf.float32, size=stored)
        for i in tf.range(stored):  # newest to oldest
            slot = (self._newest - i) % self._history
            alpha = self._rho[slot] * tf.tensordot(self._pair(self._steps_s, slot), q, 1)
            q -= alpha * self._pair(self._steps_y, slot)
            alphas = alphas.write(i, alpha)
        r = q * self._hessian_scale
        for i in tf.range(stored - 1, -1, -1):  # oldest to newest
            slot = (self._newest - i) % self._history
            beta = self._rho[slot] * tf.tensordot(self._pair(self._steps_y, slot), r, 1)
            r += self._pair(self._steps_s, slot) * (alphas.read(i) - beta)
        return r

    @staticmethod
    def _pair(history: tf.Variable, slot) -> tf.Tensor:
        # A gather reads one row; indexing would read the whole (history x size) variable first,
        # hundreds of megabytes per step at 512 px.
        return tf.gather(history, slot)


def _read_row(history: tf.Variable, row: int) -> np.ndarray:
    return tf.gather(history, row).numpy()


def _all_finite(value: tf.Tensor, gradient: tf.Tensor) -> tf.Tensor:
    return tf.math.is_finite(value) & tf.reduce_all(tf.math.is_finite(gradient))
