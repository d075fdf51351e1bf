"""L-BFGS and Adam over the image's pixels, in compiled chunks; progress goes to a callback.

Both loops run a `tf.function` for a chunk of steps and return to Python only between chunks:
at every step the caller asked to see (log points), and often enough (about once a second) for a
live progress bar. L-BFGS keeps its curvature history across chunks, so the path does not depend
on where the chunks end.
"""

import bisect
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from nst.algorithm.lbfgs import FixedStepLBFGS
from nst.algorithm.step_stop import StepStop

if TYPE_CHECKING:
    from nst.config import OptimConfig


LossFn = Callable[[tf.Tensor], tuple[tf.Tensor, dict]]
# A loss's value and terms as plain numbers: (total, {term: value}), as LossFn names them.
Terms = tuple[float, dict[str, float]]


@dataclass(frozen=True)
class Progress:
    """Where the optimisation stands after a chunk of steps."""

    step: int  # iterations (L-BFGS) or updates (Adam) done so far
    steps: int  # the configured total
    loss: float  # total loss of `image` (L-BFGS), or of the image before the last update (Adam)
    evaluations: int  # loss + gradient evaluations so far
    image: tf.Tensor  # (1, H, W, 3), current pixels
    # The optimiser's full state for a checkpoint, name -> array or a function returning one
    # (large parts are read only as they are written); `minimize(initial_state=...)` continues
    # from it, as arrays, exactly. Read it before the run goes on: it is the current state.
    optimizer_state: Callable[[], dict] = dict
    # The loss's terms at `image` when the optimiser has them from its own last evaluation
    # (L-BFGS without a line search), else None: then they cost a forward pass to know. Like
    # optimizer_state, it reads the optimiser: call it before the run goes on.
    terms: Callable[[], Terms | None] = lambda: None


class StopEarly(Exception):
    """Raised by an `on_progress` callback to end the optimisation at the step it reports: the
    result is that step's image, with the exception's message as the stop reason."""


@dataclass(frozen=True)
class OptimizeResult:
    image: tf.Tensor  # with `diverged`, the last image whose loss and gradient were finite
    steps_done: int  # with `diverged`, the step of that image
    evaluations: int
    stop_reason: str  # "completed", or why the optimiser stopped early
    diverged: bool = False  # the loss or its gradient became NaN or infinite
    terms: Callable[[], Terms | None] = lambda: None  # at `image`, as Progress.terms
    # a step was left unfinished on request (minimize's `step_stop`), or a callback ended the
    # run early (StopEarly)
    stopped: bool = False


def minimize(
    loss_fn: LossFn,
    initial_image: tf.Tensor,
    optim: "OptimConfig",
    report_at: Iterable[int] = (),
    on_progress: Callable[[Progress], None] = lambda progress: None,
    seconds_per_report: float = 1.0,
    initial_state: Mapping[str, np.ndarray] | None = None,
    step_stop: StepStop | None = None,
) -> OptimizeResult:
    """Run `optim.steps` steps from `initial_image` (1, H, W, 3), reporting after every chunk.

    Chunks always end at each step in `report_at` and at the last step; between those they are
    sized to take about `seconds_per_report`. With `initial_state` (a Progress's
    `optimizer_state()` from a run of the same optimiser and image size) the run continues from
    that step instead, along the path it would have taken.

    A step of minutes (a tiled print-size one) can be left unfinished: `step_stop` is armed
    while steps run (not during the first evaluation, nor a log point's), a callback inside the
    loss calls its `check()`, and the last finished step is then reported and returned
    (`stopped`). The optimisers change their state only after an
    evaluation, so that state is whole.
    """
    if optim.name == "adam":
        runner = _Adam(loss_fn, initial_image, optim)
    elif optim.line_search == "none":
        runner = _FixedStepLBFGSRunner(loss_fn, initial_image, optim)
    else:
        runner = _LBFGS(loss_fn, initial_image, optim)
    if initial_state is not None:
        runner.restore(initial_state)
    step_stop = step_stop or StepStop(lambda: False)
    boundaries = sorted({step for step in report_at if 0 < step < optim.steps} | {optim.steps})
    step, seconds_per_step = runner.steps_done, None
    while step < optim.steps:
        next_boundary = boundaries[bisect.bisect_right(boundaries, step)]
        chunk = 1 if seconds_per_step is None else round(seconds_per_report / seconds_per_step)
        target = min(next_boundary, step + max(1, chunk))
        started = time.perf_counter()
        try:
            with step_stop.armed():  # for the steps only, not a log point's evaluation
                loss, reached = runner.run_to(target)
        except tf.errors.OpError:
            if not step_stop.requested():
                raise
            step, image, evaluations = runner.steps_done, runner.image, runner.evaluations
            on_progress(Progress(step, optim.steps, runner.loss, evaluations, image, runner.state))
            reason = f"stopped on request during step {step + 1}"
            return OptimizeResult(image, step, evaluations, reason, stopped=True)
        seconds_per_step = (time.perf_counter() - started) / max(1, reached - step)
        step = reached
        image, evaluations, terms = runner.image, runner.evaluations, runner.terms
        try:
            on_progress(Progress(step, optim.steps, loss, evaluations, image, runner.state, terms))
        except StopEarly as stop:
            reason = str(stop) or f"stopped early after step {step}"
            return OptimizeResult(image, step, evaluations, reason, terms=terms, stopped=True)
        if runner.diverged:
            reason = f"the loss or its gradient became NaN or infinite after step {step}: "
            reason += _divergence_hint(optim)
            return OptimizeResult(image, step, evaluations, reason, diverged=True, terms=terms)
        if stop_reason := runner.stop_reason(target):
            return OptimizeResult(image, step, evaluations, stop_reason, terms=terms)
    return OptimizeResult(runner.image, step, runner.evaluations, "completed", terms=runner.terms)


def _divergence_hint(optim: "OptimConfig") -> str:
    if optim.name == "adam":
        return f"lower optim.learning_rate (now {optim.learning_rate}) or the loss weights"
    if optim.line_search == "none":
        return (
            "try optim.line_search=hager_zhang (it backs off from such steps) "
            "or lower loss.style_weight / loss.content_weight"
        )
    return "lower loss.style_weight / loss.content_weight"


def _flat_value_and_gradient(loss_fn: LossFn, shape, with_terms: bool = False) -> Callable:
    """The loss and its gradient as functions of the flattened image, as L-BFGS wants them;
    `with_terms` adds the loss's terms (a dict of scalars) as a third output."""

    @tf.function
    def value_and_gradient(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            total, terms = loss_fn(tf.reshape(position, shape))
        gradient = tape.gradient(total, position)
        return (total, gradient, terms) if with_terms else (total, gradient)

    return value_and_gradient


class _FixedStepLBFGSRunner:
    """Torch-style L-BFGS (nst.algorithm.lbfgs): one evaluation per iteration, no line search."""

    def __init__(self, loss_fn: LossFn, initial_image: tf.Tensor, optim: "OptimConfig"):
        self._shape = initial_image.shape
        # With the terms, a log point needs no forward pass of its own (half an evaluation).
        value_and_gradient = _flat_value_and_gradient(loss_fn, self._shape, with_terms=True)
        self._lbfgs = FixedStepLBFGS(
            value_and_gradient, tf.reshape(initial_image, [-1]), optim.history, optim.tolerance
        )
        self._tolerance = optim.tolerance
        self._terms_current = True  # the terms kept are the current image's

    def run_to(self, step: int) -> tuple[float, int]:
        start = self.steps_done
        self._lbfgs.run(step - start)
        done = self.steps_done
        self._terms_current |= done > start
        return self.loss, done

    @property
    def loss(self) -> float:
        return float(self._lbfgs.value)

    def terms(self) -> Terms | None:
        if not self._terms_current:
            return None
        return float(self._lbfgs.value), self._lbfgs.extras()

    def state(self) -> dict[str, np.ndarray]:
        return self._lbfgs.state()

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._lbfgs.restore(state)
        # The checkpoint holds no terms: those kept are still the starting image's until the
        # next iteration.
        self._terms_current = False

    @property
    def steps_done(self) -> int:
        return int(self._lbfgs.iterations)

    @property
    def diverged(self) -> bool:
        return bool(self._lbfgs.diverged)

    @property
    def image(self) -> tf.Tensor:
        return tf.reshape(tf.convert_to_tensor(self._lbfgs.position), self._shape)

    @property
    def evaluations(self) -> int:
        return int(self._lbfgs.evaluations)

    def stop_reason(self, target: int) -> str:
        if self.steps_done < target:  # It stops early only when converged.
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
        self.diverged = not _finite(self._results)

    def run_to(self, step: int) -> tuple[float, int]:
        if not self.diverged:
            results = self._resume(self._results, tf.constant(step, dtype=tf.int32))
            # The line search can step onto NaN: keep the last results that were finite.
            self.diverged = not _finite(results)
            if not self.diverged:
                self._results = results
        return self.loss, self.steps_done

    @property
    def loss(self) -> float:
        return float(self._results.objective_value)

    def state(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(value) for name, value in self._results._asdict().items()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        fields = {name: tf.constant(state[name]) for name in self._results._fields}
        self._results = type(self._results)(**fields)

    @property
    def steps_done(self) -> int:
        return int(self._results.num_iterations)

    @property
    def image(self) -> tf.Tensor:
        return tf.reshape(self._results.position, self._shape)

    def terms(self) -> None:  # tfp's line search takes the loss's value and gradient only
        return None

    @property
    def evaluations(self) -> int:
        return int(self._results.num_objective_evaluations)

    def stop_reason(self, target: int) -> str:
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
        if self.steps_done < target:
            return f"L-BFGS stopped after {self.steps_done} iterations"
        return ""


def _finite(results) -> bool:
    return bool(
        tf.math.is_finite(results.objective_value)
        & tf.reduce_all(tf.math.is_finite(results.objective_gradient))
    )


class _Adam:
    """Keras Adam on an image variable, clipped to [0, 1] after each update (as the TF tutorial)."""

    def __init__(self, loss_fn: LossFn, initial_image: tf.Tensor, optim: "OptimConfig"):
        self._loss_fn = loss_fn
        self._image = tf.Variable(initial_image, name="image")
        self._previous = tf.Variable(initial_image)  # before the last update
        self._optimizer = keras.optimizers.Adam(
            learning_rate=optim.learning_rate,
            beta_1=optim.beta_1,
            beta_2=optim.beta_2,
            epsilon=optim.epsilon,
        )
        self._optimizer.build([self._image])
        self._loss = tf.Variable(math.nan)  # of the image before the last update
        self._steps_done = tf.Variable(0)
        self._evaluations = tf.Variable(0)
        self._diverged = tf.Variable(False)  # then the image is the last one before NaN
        # A method, not a closure: AutoGraph refuses a closure whose code it saw converted
        # before with other free variables (a second run in one process, as in a sweep).
        self._run_steps = tf.function(self._steps)

    def _steps(self, count):
        for _ in tf.range(count):
            with tf.GradientTape() as tape:
                loss, _ = self._loss_fn(self._image)
            gradient = tape.gradient(loss, self._image)
            # Updates wait for the evaluation (as in nst.algorithm.lbfgs): one left unfinished on a
            # stop
            # request leaves the last whole step's state.
            with tf.control_dependencies([loss, gradient]):
                self._evaluations.assign_add(1)
                if not (tf.math.is_finite(loss) & tf.reduce_all(tf.math.is_finite(gradient))):
                    # The last update led here: undo it, back to the image `_loss` was taken at.
                    if self._steps_done > 0:
                        self._image.assign(self._previous)
                        self._steps_done.assign_add(-1)
                    self._diverged.assign(True)
                    break
                self._previous.assign(self._image)
                self._optimizer.apply_gradients([(gradient, self._image)])
                self._image.assign(tf.clip_by_value(self._image, 0.0, 1.0))
                self._loss.assign(loss)
                self._steps_done.assign_add(1)

    def run_to(self, step: int) -> tuple[float, int]:
        if not self.diverged:
            self._run_steps(tf.constant(step - self.steps_done, dtype=tf.int32))
        return self.loss, self.steps_done

    @property
    def loss(self) -> float:  # of the image before the last update
        return float(self._loss)

    def state(self) -> dict[str, np.ndarray]:
        # Keras' optimiser variables (step count, moments) in their fixed order; each read as
        # the checkpoint writes it (all at once: four image-sized copies, 2.4 GB at 8192 px).
        state = {f"adam/{index}": v.numpy for index, v in enumerate(self._optimizer.variables)}
        for name, variable in self._own_variables().items():
            state[name] = variable.numpy
        return state

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        for index, variable in enumerate(self._optimizer.variables):
            variable.assign(state[f"adam/{index}"])
        for name, variable in self._own_variables().items():
            variable.assign(state[name])

    def _own_variables(self) -> dict[str, tf.Variable]:
        return {
            "image": self._image,
            "previous": self._previous,
            "loss": self._loss,
            "steps_done": self._steps_done,
            "evaluations": self._evaluations,
            "diverged": self._diverged,
        }

    @property
    def steps_done(self) -> int:
        return int(self._steps_done)

    @property
    def diverged(self) -> bool:
        return bool(self._diverged)

    @property
    def image(self) -> tf.Tensor:
        return tf.convert_to_tensor(self._image)

    def terms(self) -> None:  # its last evaluation was of the image before the update
        return None

    @property
    def evaluations(self) -> int:
        return int(self._evaluations)

    def stop_reason(self, target: int) -> str:
        return ""
