"""nst.algorithm.sequence: each frame's schedule, its start from the previous result and its
temporal term."""

import numpy as np

from nst.algorithm import flow, sequence, stylize
from nst.config import config_from_dict


def make_config(**sections):
    return config_from_dict({"content": "clip.mp4", "style": "s.png", **sections}, "test")


def test_the_first_frame_runs_the_schedule_and_later_frames_optim_steps_at_full_size():
    config = make_config(image={"size": 512}, optim={"steps": 30})
    first = sequence.frame_config(config, 0)
    assert [scale.size for scale in stylize.plan_scales(first)] == [128, 256, 512]
    later = sequence.frame_config(config, 5)
    assert [(s.size, s.steps) for s in stylize.plan_scales(later)] == [(512, 30)]
    chosen = make_config(image={"size": 512}, video={"first_frame_steps": 200})
    first = sequence.frame_config(chosen, 0)
    assert [(s.size, s.steps) for s in stylize.plan_scales(first)] == [(512, 200)]


def test_a_frame_starts_from_the_previous_result_warped_where_the_flow_is_reliable():
    rng = np.random.default_rng(0)
    content = rng.uniform(0.2, 0.8, size=(16, 24, 3)).astype(np.float32)
    previous_content = rng.uniform(0.2, 0.8, size=(16, 24, 3)).astype(np.float32)
    previous_result = np.clip(previous_content + 0.1, 0.0, 1.0)  # the style made it lighter
    backward = np.zeros((16, 24, 2), np.float32)
    backward[:, :, 0] = 2.0  # each pixel came from 2 px to its right: the camera panned right
    reliable = np.ones((16, 24), np.float32)
    reliable[:, -2:] = 0  # what entered at the right edge has no past
    link = flow.FrameLink(backward, reliable)
    inputs = stylize.Inputs(content, [content], [None])
    previous = sequence.PreviousFrame(previous_result, previous_content)

    tied, config = sequence.frame_inputs(inputs, make_config(), link, previous)
    assert np.allclose(tied.init_image[:, :-2], previous_result[:, 2:], atol=1e-5)
    assert np.allclose(tied.temporal.warped[:, :-2], previous_result[:, 2:], atol=1e-5)
    # What entered at the edge starts as this frame's content with the style's change beside
    # it (mirrored), not as a copy of the result beside it (those lined up into streaks).
    assert np.allclose(tied.init_image[:, -2:], content[:, -2:] + 0.1, atol=1e-5)
    assert tied.temporal.weight == 1.0
    assert np.array_equal(tied.temporal.weights[:, -2:], np.zeros((16, 2)))  # free there
    assert np.array_equal(tied.temporal.weights[:, :-2], np.ones((16, 22)))
    assert config.init not in ("content", "noise", "style")  # starts from init_image

    alone_config = make_config(video={"temporal_weight": 0})
    alone, config = sequence.frame_inputs(inputs, alone_config, link, previous)
    assert alone is inputs and config is alone_config  # independent frames: as configured


def test_a_revealed_pixel_is_held_fully_only_after_settle_frames():
    # A static camera; the flow can't follow column 0 in the first link only (something
    # moved off it), so column 0 is new in frame 2 and settles over the next frames.
    still = np.zeros((4, 6, 2), np.float32)
    first_link = flow.FrameLink(still, np.ones((4, 6), np.float32))
    first_link.reliable[:, 0] = 0
    steady = flow.FrameLink(still, np.ones((4, 6), np.float32))

    weights = sequence.temporal_weights(first_link, None, settle_frames=4)
    history = [weights[0, 0]]
    for _ in range(4):
        weights = sequence.temporal_weights(steady, weights, settle_frames=4)
        history.append(weights[0, 0])
    assert np.allclose(history, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert np.array_equal(weights[:, 1:], np.ones((4, 5)))  # the rest were held throughout

    # settle_frames 1 is Ruder et al.'s mask: whatever the flow follows is held at once.
    plain = sequence.temporal_weights(first_link, None, settle_frames=1)
    assert np.array_equal(plain, first_link.reliable)
    again = sequence.temporal_weights(steady, plain, settle_frames=1)
    assert np.array_equal(again, steady.reliable)


def test_the_weights_move_with_the_picture():
    # Column 3 was revealed a frame ago (weight 0); the camera pans 1 px: its weight now
    # belongs to column 2, which this frame came from column 3 of the last.
    backward = np.zeros((4, 8, 2), np.float32)
    backward[:, :, 0] = 1.0
    reliable = np.ones((4, 8), np.float32)
    reliable[:, -1] = 0
    previous = np.ones((4, 8), np.float32)
    previous[:, 3] = 0.0
    weights = sequence.temporal_weights(flow.FrameLink(backward, reliable), previous, 2)
    assert np.allclose(weights[0], [1, 1, 0.5, 1, 1, 1, 1, 0])
