"""nst.sequence: each frame's schedule, its start from the previous result and its temporal term."""

import numpy as np

from nst import sequence, stylize, video
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
    content = rng.uniform(size=(16, 24, 3)).astype(np.float32)
    previous_result = rng.uniform(size=(16, 24, 3)).astype(np.float32)
    backward = np.zeros((16, 24, 2), np.float32)
    backward[:, :, 0] = 2.0  # each pixel came from 2 px to its right: the camera panned right
    reliable = np.ones((16, 24), np.float32)
    reliable[:, -2:] = 0  # what entered at the right edge has no past
    link = video.FrameLink(backward, reliable)
    inputs = stylize.Inputs(content, [content], [None])

    tied, config = sequence.frame_inputs(inputs, make_config(), link, previous_result)
    assert np.allclose(tied.init_image[:, :-2], previous_result[:, 2:], atol=1e-5)
    # What entered at the edge starts as the texture beside it, mirrored, not the edge repeated.
    mirrored = previous_result[:, [-2, -3]]
    assert np.allclose(tied.init_image[:, -2:], mirrored, atol=1e-5)
    assert np.array_equal(tied.temporal.warped, tied.init_image)
    assert tied.temporal.reliable is reliable and tied.temporal.weight == 1.0
    assert config.init not in ("content", "noise", "style")  # starts from init_image

    alone_config = make_config(video={"temporal_weight": 0})
    alone, config = sequence.frame_inputs(inputs, alone_config, link, previous_result)
    assert alone is inputs and config is alone_config  # independent frames: as configured
