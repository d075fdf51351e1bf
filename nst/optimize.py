"""L-BFGS and Adam over the image's pixels, in compiled chunks; progress goes to a callback.

Both loops run a `tf.function` for a chunk of steps and return to Python only between chunks:
at every step the caller asked to see (log points), and often enough (about once a second) for a
live progress bar. L-BFGS keeps its curvature history across chunks, so the path does not depend
on where the chunks end.
"""

import bisect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from nst.lbfgs import FixedStepLBFGS

if TYPE_CHECKING:
    from nst.config import OptimConfig


LossFn = Callable[[tf.Tensor], tuple[tf.Tensor, dict]]


@dataclass(frozen=True)
class Progress:
    """Where the optimisation stands after a chunk of steps."""

    step: int  # iterations (L-BFGS) or updates (Adam) done so far
    steps: int  # the configured total
    loss: float  # total loss of `image` (L-BFGS), or of the image before the last update (Adam)
    evaluations: int  # loss + gradient evaluations so far
    image: tf.Tensor  # (1, H, W, 3), current pixels


@dataclass(frozen=True)
class OptimizeResult:
    image: tf.Tensor
    steps_done: int
    evaluations: int
    stop_reason: str  # "completed", or why the optimiser stopped early
    diverged: bool = False  # the loss became NaN or infinite


def minimize(
    loss_fn: LossFn,
    initial_image: tf.Tensor,
    optim: "OptimConfig",
    report_at: Iterable[int] = (),
    on_progress: Callable[[Progress], None] = lambda progress: None,
    seconds_per_report: float = 1.0,
) -> OptimizeResult:
    """Run `optim.steps` steps from `initial_image` (1, H, W, 3), reporting after every chunk.

    Chunks always end at each step in `report_at` and at the last step; between those they are
    sized to take about `seconds_per_report`.
    """
    if optim.name == "adam":
        runner = _Adam(loss_fn, initial_image, optim)
    elif optim.line_search == "none":
        runner = _FixedStepLBFGSRunner(loss_fn, initial_image, optim)
    else:
        runner = _LBFGS(loss_fn, initial_image, optim)
    boundaries = sorted({step for step in report_at if 0 < step < optim.steps} | {optim.steps})
    step, seconds_per_step = 0, None
    while step < optim.steps:
        next_boundary = boundaries[bisect.bisect_right(boundaries, step)]
        chunk = 1 if seconds_per_step is None else round(seconds_per_report / seconds_per_step)
        target = min(next_boundary, step + max(1, chunk))
        started = time.perf_counter()
        loss, reached = runner.run_to(target)
        seconds_per_step = (time.perf_counter() - started) / max(1, reached - step)
        step = reached
        on_progress(Progress(step, optim.steps, loss, runner.evaluations, runner.image))
        stop_reason = runner.stop_reason(loss, target)
        if stop_reason:
            diverged = not math.isfinite(loss)
            return OptimizeResult(runner.image, step, runner.evaluations, stop_reason, diverged)
    return OptimizeResult(runner.image, step, runner.evaluations, "completed")


def _non_finite_reason(loss: float) -> str:
    if not math.isfinite(loss):
        return f"the loss became {loss}: lower the learning rate or the loss weights"
    return ""


def _flat_value_and_gradient(loss_fn: LossFn, shape) -> Callable:
    """The loss and its gradient as functions of the flattened image, as L-BFGS wants them."""

    @tf.function
    def value_and_gradient(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            total, _ = loss_fn(tf.reshape(position, shape))
        return total, tape.gradient(total, position)

    return value_and_gradient


class _FixedStepLBFGSRunner:
    """Torch-style L-BFGS (nst.lbfgs): one evaluation per iteration, no line search."""

    def __init__(self, loss_fn: LossFn, initial_image: tf.Tensor, optim: "OptimConfig"):
        self._shape = initial_image.shape
        value_and_gradient = _flat_value_and_gradient(loss_fn, self._shape)
        self._lbfgs = FixedStepLBFGS(
            value_and_gradient, tf.reshape(initial_image, [-1]), optim.history, optim.tolerance
        )
        self._tolerance = optim.tolerance

    def run_to(self, step: int) -> tuple[float, int]:
        self._lbfgs.run(step - int(self._lbfgs.iterations))
        return float(self._lbfgs.value), int(self._lbfgs.iterations)

    @property
    def image(self) -> tf.Tensor:
        return tf.reshape(tf.convert_to_tensor(self._lbfgs.position), self._shape)

    @property
    def evaluations(self) -> int:
        return int(self._lbfgs.evaluations)

    def stop_reason(self, loss: float, target: int) -> str:
        if reason := _non_finite_reason(loss):
            return reason
        if int(self._lbfgs.iterations) < target:  # It stops early only when converged.
            return (
                f"L-BFGS converged after {int(self._lbfgs.iterations)} iterations "
                f"(no gradient entry above optim.tolerance={self._tolerance})"
            )
        return ""


class _LBFGS:
    """tfp's L-BFGS on the flattened image, resumed chunk by chunk from its own results."""

    def __init__(self, loss_fn: LossFn, initial_image: tf.Tensor, optim: "OptimConfig"):
        shape = initial_image.shape
        value_and_gradient = _flat_value_and_gradient(loss_fn, shape)

        settings = dict(num_correction_pairs=optim.history, tolerance=optim.tolerance)
        # The starting state (one evaluation, no iteration) is made eagerly: only the resuming
        # call is compiled, which halves the tracing time of a run.
        self._results = tfp.optimizer.lbfgs_minimize(
            value_and_gradient, tf.reshape(initial_image, [-1]), max_iterations=0, **settings
        )
        # `max_iterations` counts from the very first step, not from this chunk.
        self._resume = tf.function(
            lambda previous, max_iterations: tfp.optimizer.lbfgs_minimize(
                value_and_gradient,
                initial_position=None,
                previous_optimizer_results=previous,
                max_iterations=max_iterations,
                **settings,
            )
        )
        self._shape = shape
        self._tolerance = optim.tolerance

    def run_to(self, step: int) -> tuple[float, int]:
        self._results = self._resume(self._results, tf.constant(step, dtype=tf.int32))
        return float(self._results.objective_value), int(self._results.num_iterations)

    @property
    def image(self) -> tf.Tensor:
        return tf.reshape(self._results.position, self._shape)

    @property
    def evaluations(self) -> int:
        return int(self._results.num_objective_evaluations)

    def stop_reason(self, loss: float, target: int) -> str:
        if reason := _non_finite_reason(loss):
            return reason
        if bool(self._results.converged):
            return (
                f"L-BFGS converged after {int(self._results.num_iterations)} iterations "
                f"(gradient below optim.tolerance={self._tolerance}, or the image stopped changing)"
            )
        if bool(self._results.failed):
            return (
                f"L-BFGS stopped after {int(self._results.num_iterations)} iterations: the line "
                "search found no lower loss (the image is at a minimum to float32 precision)"
            )
        if int(self._results.num_iterations) < target:
            return f"L-BFGS stopped after {int(self._results.num_iterations)} iterations"
        return ""


class _Adam:
    """Keras Adam on an image variable, clipped to [0, 1] after each update (as the TF tutorial)."""

    def __init__(self, loss_fn: LossFn, initial_image: tf.Tensor, optim: "OptimConfig"):
        self._loss_fn = loss_fn
        self._image = tf.Variable(initial_image, name="image")
        self._optimizer = keras.optimizers.Adam(
            learning_rate=optim.learning_rate,
            beta_1=optim.beta_1,
            beta_2=optim.beta_2,
            epsilon=optim.epsilon,
        )
        self._optimizer.build([self._image])
        # A method, not a closure: AutoGraph refuses a closure whose code it saw converted
        # before with other free variables (a second run in one process, as in a sweep).
        self._run_steps = tf.function(self._steps)
        self._step = 0

    def _steps(self, count):
        loss = tf.constant(0.0)
        for _ in tf.range(count):
            with tf.GradientTape() as tape:
                loss, _ = self._loss_fn(self._image)
            gradient = tape.gradient(loss, self._image)
            self._optimizer.apply_gradients([(gradient, self._image)])
            self._image.assign(tf.clip_by_value(self._image, 0.0, 1.0))
        return loss

    def run_to(self, step: int) -> tuple[float, int]:
        loss = float(self._run_steps(tf.constant(step - self._step, dtype=tf.int32)))
        self._step = step
        return loss, step

    @property
    def image(self) -> tf.Tensor:
        return tf.convert_to_tensor(self._image)

    @property
    def evaluations(self) -> int:
        return self._step

    def stop_reason(self, loss: float, target: int) -> str:
        return _non_finite_reason(loss)
