"""nst.algorithm.optimize: L-BFGS chunking keeps the path, early stops are explained, Adam
descends."""

import math
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from nst.algorithm.features import build_feature_model
from nst.algorithm.losses import StyleTransferLoss
from nst.algorithm.optimize import minimize
from nst.config import OptimConfig


@pytest.fixture(scope="module")
def style_loss():
    """A real style loss on a random VGG at 16 px: non-quadratic, cheap."""
    rng = np.random.default_rng(0)
    content, style = (rng.uniform(size=(16, 16, 3)).astype(np.float32) for _ in range(2))
    model = build_feature_model("vgg16", "none", "max", ["block2_conv1", "block1_conv1"])
    loss = StyleTransferLoss(
        model,
        tf.constant(content),
        [tf.constant(style)],
        style_blend=[1.0],
        content_layers={"block2_conv1": 1.0},
        style_layers={"block1_conv1": 1.0, "block2_conv1": 1.0},
        content_weight=1.0,
        style_weight=10.0,
        tv_weight=0.1,
    )
    return types.SimpleNamespace(fn=tf.function(loss), start=tf.constant(content[None]))


def test_lbfgs_in_chunks_follows_the_same_path_as_one_call(style_loss):
    steps = 30
    shape = style_loss.start.shape

    def value_and_gradient(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            total, _ = style_loss.fn(tf.reshape(position, shape))
        return total, tape.gradient(total, position)

    one_call = tfp.optimizer.lbfgs_minimize(
        value_and_gradient,
        tf.reshape(style_loss.start, [-1]),
        max_iterations=steps,
        num_correction_pairs=100,
        tolerance=0.0,
    )
    chunked = minimize(
        style_loss.fn,
        style_loss.start,
        OptimConfig(steps=steps, line_search="hager_zhang"),
        report_at=range(0, steps, 10),
        seconds_per_report=0.0,  # as many chunks as possible: one step each
    )
    assert chunked.steps_done == steps
    assert chunked.evaluations == int(one_call.num_objective_evaluations)
    np.testing.assert_allclose(
        chunked.image.numpy().ravel(), one_call.position.numpy(), rtol=0, atol=1e-6
    )


def test_lbfgs_reports_at_every_requested_step_and_cuts_the_loss(style_loss):
    reports = []
    result = minimize(
        style_loss.fn,
        style_loss.start,
        OptimConfig(steps=20),
        report_at=[5, 10, 15],
        on_progress=reports.append,
        seconds_per_report=1e9,  # no extra chunks beyond the requested steps
    )
    assert [report.step for report in reports] == [1, 5, 10, 15, 20]
    assert result.stop_reason == "completed"
    assert result.evaluations >= 20  # each iteration takes one or more line-search evaluations
    initial = float(style_loss.fn(style_loss.start)[0])
    assert reports[-1].loss < initial / 2


def test_adam_descends_and_counts_one_evaluation_per_step(style_loss):
    optim = OptimConfig(name="adam", steps=40, learning_rate=0.05)
    result = minimize(style_loss.fn, style_loss.start, optim, report_at=[20])
    initial = float(style_loss.fn(style_loss.start)[0])
    final = float(style_loss.fn(result.image)[0])
    assert final < initial / 2
    assert result.evaluations == 40
    assert float(tf.reduce_min(result.image)) >= 0.0
    assert float(tf.reduce_max(result.image)) <= 1.0


def test_adam_path_does_not_depend_on_chunking(style_loss):
    optim = OptimConfig(name="adam", steps=12)
    few = minimize(style_loss.fn, style_loss.start, optim, seconds_per_report=1e9)
    many = minimize(style_loss.fn, style_loss.start, optim, seconds_per_report=0.0)
    np.testing.assert_allclose(few.image.numpy(), many.image.numpy(), atol=1e-6)


@pytest.mark.parametrize("line_search", ["none", "hager_zhang"])
def test_lbfgs_stopping_early_says_why(line_search):
    target = tf.constant(np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 2, 2, 3))

    def quadratic(image):
        return tf.reduce_sum(tf.square(image - target)), {}

    optim = OptimConfig(steps=200, tolerance=1e-4, line_search=line_search)
    result = minimize(quadratic, tf.zeros_like(target), optim)
    assert result.steps_done < 200
    assert "converged" in result.stop_reason or "line search" in result.stop_reason
    np.testing.assert_allclose(result.image.numpy(), target.numpy(), atol=1e-4)


@pytest.mark.parametrize(
    ("name", "line_search"), [("lbfgs", "none"), ("lbfgs", "hager_zhang"), ("adam", "none")]
)
def test_a_non_finite_loss_stops_the_run_with_a_hint(name, line_search):
    def broken(image):
        return tf.reduce_sum(image) * float("nan"), {}

    optim = OptimConfig(name=name, steps=10, line_search=line_search)
    result = minimize(broken, tf.ones([1, 2, 2, 3]), optim)
    assert result.steps_done == 0 and result.diverged
    assert "NaN or infinite" in result.stop_reason
    np.testing.assert_array_equal(result.image.numpy(), np.ones([1, 2, 2, 3]))  # the start


@pytest.mark.parametrize(("name", "line_search"), [("lbfgs", "none"), ("adam", "none")])
def test_a_loss_that_turns_nan_midway_keeps_the_last_good_image(name, line_search):
    target = tf.zeros([1, 2, 2, 3])

    def nan_below_a_third(image):  # a bowl around 0 that is undefined below mean 1/3
        loss = tf.reduce_sum(tf.square(image - target))
        return tf.where(tf.reduce_mean(image) < 1 / 3, float("nan"), loss), {}

    optim = OptimConfig(name=name, steps=200, line_search=line_search, learning_rate=0.05)
    reports = []
    result = minimize(nan_below_a_third, tf.ones([1, 2, 2, 3]), optim, on_progress=reports.append)
    assert result.diverged and 0 < result.steps_done < 200
    assert "NaN or infinite" in result.stop_reason
    assert float(tf.reduce_mean(result.image)) >= 1 / 3  # the last good image, not the NaN one
    assert math.isfinite(reports[-1].loss) and reports[-1].step == result.steps_done


@pytest.mark.parametrize(
    ("name", "line_search"), [("lbfgs", "none"), ("lbfgs", "hager_zhang"), ("adam", "none")]
)
def test_continuing_from_a_saved_state_follows_the_uninterrupted_path(
    style_loss, name, line_search
):
    optim = OptimConfig(name=name, steps=12, line_search=line_search)
    saved = {}

    def keep_state_at_step_5(progress):
        if progress.step == 5:  # as a checkpoint does: every array read before the run goes on
            for key, value in progress.optimizer_state().items():
                saved[key] = np.array(value() if callable(value) else value)

    whole = minimize(
        style_loss.fn, style_loss.start, optim, report_at=[5], on_progress=keep_state_at_step_5
    )
    # As a resumed run does: a fresh optimiser, from the saved arrays alone.
    resumed = minimize(style_loss.fn, tf.zeros_like(style_loss.start), optim, initial_state=saved)
    assert resumed.steps_done == whole.steps_done == 12
    assert resumed.evaluations == whole.evaluations
    np.testing.assert_array_equal(resumed.image.numpy(), whole.image.numpy())
