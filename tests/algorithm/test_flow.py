"""Tests for nst/algorithm/flow.py: synthetic shifts with a known flow, and the shipped clip
against the exact flow scripts/make_clip.py draws it with."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import texture

from nst.algorithm import flow
from nst.runs import clips

ROOT = Path(__file__).resolve().parents[2]
SHIFT = (3.0, -2.0)  # (x, y) in pixels
MARGIN = 12  # interior: away from the border a shift brings in


def load_make_clip():
    """scripts/ is a folder of scripts, not a package: import make_clip.py by its path."""
    spec = importlib.util.spec_from_file_location("make_clip", ROOT / "scripts" / "make_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shifted(image, dx, dy):
    """image moved by (dx, dy) px: out(p) = image(p - shift), wrapping round at the borders."""
    return np.roll(image, (round(dy), round(dx)), axis=(0, 1))


def interior(array):
    return array[MARGIN:-MARGIN, MARGIN:-MARGIN]


# ---------------------------------------------------------------------------------------------
# Flow, warping, consistency


@pytest.mark.parametrize("method", flow.FLOW_METHODS)
def test_a_known_shift_is_recovered_and_warping_undoes_it(method):
    first = texture()
    second = shifted(first, *SHIFT)  # first(p) = second(p + SHIFT)

    field = flow.flow(first, second, method)
    assert field.shape == (96, 128, 2) and field.dtype == np.float32
    median = np.median(interior(field).reshape(-1, 2), axis=0)
    assert np.allclose(median, SHIFT, atol=0.25)
    assert np.abs(interior(flow.warp(second, field) - first)).mean() < 0.01


def test_unknown_flow_method_is_refused():
    with pytest.raises(ValueError, match="unknown optical flow method 'raft'"):
        flow.flow(texture(16, 16), texture(16, 16), method="raft")


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_warp_looks_up_p_plus_flow_for_any_channel_count(channels):
    image = np.random.default_rng(2).random((10, 12, channels)).astype(np.float32)
    field = np.zeros((10, 12, 2), np.float32)
    field[:, :, 0] = 1.0  # each pixel takes its right-hand neighbour
    warped = flow.warp(image, field)
    assert warped.shape == image.shape
    np.testing.assert_allclose(warped[:, :-1], image[:, 1:], atol=1e-6)
    np.testing.assert_allclose(warped[:, -1], image[:, -1], atol=1e-6)  # border replicated


def test_consistency_mask_keeps_a_pure_shift():
    first = texture()
    second = shifted(first, *SHIFT)
    mask = flow.consistency_mask(flow.flow(first, second), flow.flow(second, first))
    assert mask.shape == (96, 128) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert interior(mask).mean() > 0.98


def moving_square_flows(height=40, width=60, step=4):
    """Exact flows for a square (rows and columns 10..19) that moves `step` px right over a
    still background between frame t-1 and frame t."""
    backward = np.zeros((height, width, 2), np.float32)
    forward = np.zeros((height, width, 2), np.float32)
    backward[10:20, 10 + step : 20 + step, 0] = -step  # the square at t came from the left
    forward[10:20, 10:20, 0] = step
    return forward, backward


def test_consistency_mask_drops_disocclusions_motion_edges_and_the_outside():
    forward, backward = moving_square_flows()
    mask = flow.consistency_mask(forward, backward)
    assert (mask[10:20, 10:14] == 0).all()  # background the square uncovered: no source in t-1
    assert (mask[12:18, 16:22] == 1).all()  # the square's inside moves as one
    assert (mask[30:, 30:] == 1).all()  # still background
    assert (mask[10:20, 23:25] == 0).all()  # the square's trailing motion edge

    off_frame = np.zeros_like(backward)
    off_frame[:, :, 0] = 2.5  # a pan: the right-hand 3 columns come from beyond the edge
    pan_mask = flow.consistency_mask(-off_frame, off_frame)
    assert (pan_mask[:, -3:] == 0).all() and (pan_mask[:, :-3] == 1).all()


def test_a_frame_link_warps_the_previous_result_into_the_frame():
    previous_frame = texture()
    frame = shifted(previous_frame, *SHIFT)
    previous_stylised = 1.0 - previous_frame  # any image aligned with the previous frame

    link = flow.link_frames(previous_frame, frame)
    expected = shifted(previous_stylised, *SHIFT)
    warped = flow.warp(previous_stylised, link.backward_flow)
    assert np.abs(interior(warped - expected)).mean() < 0.01
    assert interior(link.reliable).mean() > 0.98


def test_warping_error_is_zero_when_perfectly_warped_and_large_for_noise():
    previous = texture(seed=5)
    field = np.zeros((96, 128, 2), np.float32)
    field[:, :, 0], field[:, :, 1] = -SHIFT[0], -SHIFT[1]  # frame t shows t-1 moved by SHIFT
    stylised = flow.warp(previous, field)
    mask = np.ones((96, 128), np.float32)

    assert flow.warping_error(stylised, previous, field, mask) == 0.0
    noise = np.random.default_rng(6).random((96, 128, 3)).astype(np.float32)
    assert flow.warping_error(noise, previous, field, mask) > 0.05
    assert math.isnan(flow.warping_error(stylised, previous, field, np.zeros_like(mask)))


# ---------------------------------------------------------------------------------------------
# The shipped clip


@pytest.fixture(scope="module")
def make_clip():
    return load_make_clip()


@pytest.fixture(scope="module")
def shipped_clip():
    return clips.read_video(ROOT / "assets" / "clip" / "pan_zoom.mp4")


CLIP_PAIRS = (1, 20, 40, 59)  # frame t of each (t-1, t) pair checked


@pytest.fixture(scope="module")
def clip_targets(shipped_clip):
    """{method: {t: link_frames of frames t-1 and t}} over CLIP_PAIRS."""
    frames = shipped_clip.frames
    return {
        method: {t: flow.link_frames(frames[t - 1], frames[t], method) for t in CLIP_PAIRS}
        for method in flow.FLOW_METHODS
    }


def test_shipped_clip_is_what_make_clip_draws(shipped_clip, make_clip):
    assert len(shipped_clip.frames) == make_clip.FRAMES == 60
    assert shipped_clip.fps == make_clip.FPS == 24
    assert shipped_clip.frames[0].shape == (make_clip.HEIGHT, make_clip.WIDTH, 3) == (240, 320, 3)
    assert (ROOT / "assets" / "clip" / "pan_zoom.mp4").stat().st_size < 1_000_000
    for t in (0, 30, 59):
        assert np.abs(shipped_clip.frames[t] - make_clip.render_frame(t)).mean() < 0.02


@pytest.mark.parametrize("method", flow.FLOW_METHODS)
def test_estimated_flow_matches_the_clips_true_flow(clip_targets, make_clip, method):
    for t, target in clip_targets[method].items():
        kept = target.reliable > 0.5
        error = np.linalg.norm(target.backward_flow - make_clip.true_backward_flow(t), axis=-1)
        assert kept.mean() > 0.85
        assert np.median(error[kept]) < 0.25, (t, np.median(error[kept]))


def test_mask_drops_most_of_what_the_crossing_object_uncovers(clip_targets, make_clip):
    # DIS only: on Farneback's flows the check keeps 30-55% of it (nst.algorithm.flow.flow's
    # docstring).
    uncovered_kept = [
        target.reliable[make_clip.true_disocclusion(t)] for t, target in clip_targets["dis"].items()
    ]
    assert np.concatenate(uncovered_kept).mean() < 0.25
