"""nst.algorithm.lbfgs: Torch-style L-BFGS, one evaluation per iteration, resumable without
changing path."""

import numpy as np
import tensorflow as tf

from nst.algorithm.lbfgs import FixedStepLBFGS
from nst.algorithm.optimize import minimize
from nst.config import OptimConfig


def quadratic(scales, target):
    """f(x) = sum(scales * (x - target)^2): unevenly scaled, so curvature pairs matter."""

    @tf.function
    def value_and_gradient(position):
        error = position - target
        return tf.reduce_sum(scales * error**2), 2.0 * scales * error

    return value_and_gradient


def test_converges_on_an_unevenly_scaled_quadratic():
    scales = tf.constant(np.geomspace(1.0, 10.0, 8), tf.float32)
    target = tf.constant(np.linspace(-1, 1, 8), tf.float32)
    lbfgs = FixedStepLBFGS(quadratic(scales, target), tf.zeros([8]), history=10)
    lbfgs.run(40)
    np.testing.assert_allclose(lbfgs.position.numpy(), target.numpy(), atol=1e-4)
    # The start, then one per iteration (it stops early once the gradient is exactly zero).
    assert int(lbfgs.evaluations) == int(lbfgs.iterations) + 1


def test_stopping_and_resuming_keeps_the_path():
    scales = tf.constant(np.geomspace(1.0, 10.0, 8), tf.float32)
    target = tf.constant(np.linspace(-1, 1, 8), tf.float32)
    one_go = FixedStepLBFGS(quadratic(scales, target), tf.zeros([8]), history=3)
    one_go.run(12)
    chunked = FixedStepLBFGS(quadratic(scales, target), tf.zeros([8]), history=3)
    for chunk in (1, 4, 7):  # wraps the 3-pair ring buffer several times
        chunked.run(chunk)
    np.testing.assert_array_equal(one_go.position.numpy(), chunked.position.numpy())


def test_as_an_optimiser_option_it_takes_one_evaluation_per_step():
    target = tf.constant(np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 2, 2, 3))

    def loss(image):
        weights = tf.reshape(tf.range(1.0, 13.0), [1, 2, 2, 3])
        return tf.reduce_sum(tf.square(image - target) * weights), {}

    optim = OptimConfig(steps=30, line_search="none")
    result = minimize(loss, tf.zeros_like(target), optim, report_at=[10, 20])
    assert result.steps_done == 30 and result.evaluations == 31
    np.testing.assert_allclose(result.image.numpy(), target.numpy(), atol=1e-3)


def test_reaching_an_exact_minimum_ends_the_run_with_a_reason_instead_of_spinning():
    target = tf.constant(np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 2, 2, 3))

    def loss(image):
        return tf.reduce_sum(tf.square(image - target)), {}

    result = minimize(loss, tf.zeros_like(target), OptimConfig(steps=500, line_search="none"))
    assert result.steps_done < 500
    assert "converged" in result.stop_reason
