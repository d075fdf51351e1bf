"""nst.runs.eta: the progress bar's time left weighs each scale's steps by its pixel count."""

import pytest

from nst.runs import eta


def test_time_left_weighs_coarse_steps_by_their_pixels(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(eta.time, "perf_counter", lambda: now[0])
    clock = eta.TimeLeft([128, 256, 512], [100, 100, 50])
    clock.start_scale(0, 0)
    assert clock.seconds(0) is None and clock.text(0) == ""
    now[0] += 10.0  # 50 steps at 128 px: 0.2 s a step, 3.2 s per 512 px step-equivalent
    # Left: 50 steps at 1/16, 100 at 1/4, 50 at 1 -> 3.125 + 25 + 50 = 78.125 units of 3.2 s.
    assert clock.seconds(50) == pytest.approx(250.0)
    assert clock.text(50) == "4:10 left"
    clock.start_scale(1, 100)
    assert clock.seconds(100) == pytest.approx((25 + 50) * 3.2)  # the last rate until measured
    now[0] += 40.0  # 100 steps at 256 px: 0.4 s a step, 1.6 s per unit
    assert clock.seconds(200) == pytest.approx(50 * 1.6)


def test_one_scale_is_steps_times_the_measured_rate(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(eta.time, "perf_counter", lambda: now[0])
    clock = eta.TimeLeft([512], [500])
    clock.start_scale(0, 0)
    now[0] += 20.0
    assert clock.seconds(10) == pytest.approx(490 * 2.0)
    assert clock.text(10) == "16:20 left"
    long_run = eta.TimeLeft([512], [10_000])
    long_run.start_scale(0, 0)
    now[0] += 20.0
    assert long_run.text(10) == "5:33:00 left"  # 9990 steps at 2 s
