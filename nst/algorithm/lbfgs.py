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
    """Minimise `value_and_gradient(position)` over a flat float32 position.

    `value_and_gradient` returns (value, gradient), or (value, gradient, extras) with `extras` a
    dict of scalars (a loss's terms), kept for the current position: see `extras()`.
    """

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
        value, gradient, *extras = value_and_gradient(initial_position)
        self.value = tf.Variable(value)
        self._extras = {name: tf.Variable(x) for name, x in (extras[0] if extras else {}).items()}
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
        # The two-loop as one XLA program reads each history row where it lies, in one pass per
        # dot product and one per update; TensorFlow's ops copied each row out first and made a
        # pass over memory per op: 0.42 s an iteration at 512 px with 100 pairs, now 0.09
        # (docs/performance.md). The path is the same up to rounding: XLA sums the dot products in
        # another order, closer to float64's (relative error 1e-7 against TensorFlow's 1e-5).
        self._two_loop = tf.function(self._direction, jit_compile=True)

    def run(self, iterations: int) -> None:
        self._run(tf.constant(iterations, dtype=tf.int32))

    @property
    def pairs_stored(self) -> int:
        """Curvature pairs in the history now (at most its length)."""
        return int(self._stored)

    def extras(self) -> dict[str, float]:
        """The extras `value_and_gradient` gave at the current position (not in `state()`)."""
        return {name: float(variable) for name, variable in self._extras.items()}

    def state(self) -> dict:
        """Everything the next iterations depend on, for a checkpoint: for each variable, and
        each row of the history, a function that reads it when the checkpoint writes it (read
        all at once, the position, gradient and history were gigabytes at print size: copies
        of 604 MB each at 8192x6144)."""
        history = ("steps_s", "steps_y")
        variables = self._variables()
        state = {name: v.numpy for name, v in variables.items() if name not in history}
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
            direction = self._two_loop(-self._gradient)
            # Torch scales the very first step by the gradient's size; later steps are 1.
            first = tf.minimum(1.0, 1.0 / tf.reduce_sum(tf.abs(self._gradient)))
            step = tf.where(self.iterations == 0, first, 1.0)
            new_position = self.position + step * direction
            new_value, new_gradient, *new_extras = self._value_and_gradient(new_position)
            # The state changes only once the evaluation is done (TensorFlow orders variable
            # updates by data, not by program order): one left unfinished (a stop inside a
            # tiled step, nst.runs.interrupts.StepStop) leaves the last whole step's state.
            with tf.control_dependencies([new_value, new_gradient]):
                self.evaluations.assign_add(1)
                if not _all_finite(new_value, new_gradient):
                    self.diverged.assign(True)
                    break
                self._remember(new_position - self.position, new_gradient - self._gradient)
                self.position.assign(new_position)
                self.value.assign(new_value)
                self._gradient.assign(new_gradient)
                for name, extra in (new_extras[0] if new_extras else {}).items():
                    self._extras[name].assign(extra)
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
        """The two-loop recursion: approximately -H^-1 g for q = -g, compiled by XLA.

        Dot products are sums of products, which XLA fuses with the reads of the rows; a
        tensordot is a matmul, for which it copies each row out first (twice the time).
        """
        stored, newest = self._stored, self._newest
        alphas = tf.TensorArray(tf.float32, size=self._history)  # XLA wants a fixed size
        # `while`, not `for i in tf.range(stored)`: XLA takes a range's length for a constant,
        # and would compile the loop again for each number of stored pairs.
        i = tf.constant(0)
        while i < stored:  # newest to oldest
            s, y, rho = self._pair((newest - i) % self._history)
            alpha = rho * tf.reduce_sum(s * q)
            q -= alpha * y
            alphas = alphas.write(i, alpha)
            i += 1
        r = q * self._hessian_scale
        while i > 0:  # oldest to newest
            i -= 1
            s, y, rho = self._pair((newest - i) % self._history)
            beta = rho * tf.reduce_sum(y * r)
            r += s * (alphas.read(i) - beta)
        return r

    def _pair(self, slot) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(s, y, rho) of one stored pair. Gathers read one row: indexing would read the whole
        (history x size) variable first, and `self._rho[slot]` would have XLA compile again for
        each slot (it takes a slice's bounds for constants)."""
        return (
            tf.gather(self._steps_s, slot),
            tf.gather(self._steps_y, slot),
            tf.gather(self._rho, slot),
        )


def _read_row(history: tf.Variable, row: int) -> np.ndarray:
    return tf.gather(history, row).numpy()


def _all_finite(value: tf.Tensor, gradient: tf.Tensor) -> tf.Tensor:
    return tf.math.is_finite(value) & tf.reduce_all(tf.math.is_finite(gradient))
