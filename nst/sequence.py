"""A clip stylized frame by frame (Ruder et al., "Artistic style transfer for videos", 2016).

The first frame runs the configured schedule (or video.first_frame_steps at image.size). Each
later frame starts from the previous result warped into it along the optical flow between the
two content frames (nst.video), and a temporal term (nst.losses.WithTemporalTerm) keeps it close
to that where the flow is reliable, so the texture stays put instead of flickering. With
video.temporal_weight 0 every frame starts from `init` with no temporal term, and the same
steps: the frames stylized independently, what the flicker figures compare against.

The algorithm only, as nst.stylize is for one image: the run (files, progress, resuming) is
nst.clip_run's.
"""

import dataclasses

import numpy as np

from nst import stylize, video
from nst.config import Config


def frame_config(config: Config, index: int) -> Config:
    """The schedule of frame `index` (from 0): the configured one for the first frame unless
    video.first_frame_steps says otherwise, optim.steps at image.size for the others."""
    if index == 0 and config.video.first_frame_steps == 0:
        return config
    steps = config.video.first_frame_steps if index == 0 else config.optim.steps
    return dataclasses.replace(
        config,
        scales=dataclasses.replace(config.scales, count=1),
        optim=dataclasses.replace(config.optim, steps=steps),
    )


def frame_inputs(
    inputs: stylize.Inputs,
    config: Config,
    link: video.FrameLink | None,
    previous_result: np.ndarray | None,
) -> tuple[stylize.Inputs, Config]:
    """A frame's inputs (its content in `inputs`) and config: tied to the previous result by
    the warped start and the temporal term, unless it is the first or frames are independent."""
    if link is None or previous_result is None or config.video.temporal_weight == 0:
        return inputs, config
    # Bicubic: a bilinear warp is a slight blur, and frame after frame the texture smeared.
    # Mirrored past the border: what enters the picture starts from texture next to it (the
    # edge repeated made streaks that the next frames carried in; the frame's own content
    # there stayed a photo, as a frame's few steps can't restyle it).
    warped = video.warp(previous_result, link.backward_flow, "cubic", border="reflect")
    warped = np.clip(warped, 0.0, 1.0)
    temporal = stylize.TemporalTarget(warped, link.reliable, config.video.temporal_weight)
    # init names no keyword: initial_image then starts from init_image, the warped result.
    config = dataclasses.replace(config, init="previous result, warped")
    return dataclasses.replace(inputs, init_image=warped, temporal=temporal), config


def warping_error(result: np.ndarray, previous_result: np.ndarray, link: video.FrameLink) -> float:
    """The flicker between two stylized frames (nst.video.warping_error)."""
    return video.warping_error(result, previous_result, link.backward_flow, link.reliable)
