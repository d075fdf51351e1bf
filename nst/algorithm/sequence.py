"""A clip stylized frame by frame (Ruder et al., "Artistic style transfer for videos", 2016).

The first frame runs the configured schedule (or video.first_frame_steps at image.size). Each
later frame starts from the previous result warped into it along the optical flow between the
two content frames (nst.runs.clips), and a temporal term (nst.algorithm.losses.WithTemporalTerm)
keeps it close
to that where the flow is reliable, so the texture stays put instead of flickering. What the
flow can't follow (revealed by motion, brought in by a pan) starts from the frame's content in
the style's colours and is held only gradually, over video.settle_frames frames. With
video.temporal_weight 0 every frame starts from `init` with no temporal term, and the same
steps: the frames stylized independently, what the flicker figures compare against.

The algorithm only, as nst.algorithm.stylize is for one image: the run (files, progress, resuming)
is
nst.runs.clip_run's.
"""

import dataclasses

import numpy as np

from nst.algorithm import flow, stylize
from nst.config import Config


@dataclasses.dataclass(frozen=True)
class PreviousFrame:
    """What a frame takes from the one before: its result as optimised, its content as
    optimised against (after colour options) and its temporal weights (None: settled)."""

    result: np.ndarray
    content: np.ndarray
    weights: np.ndarray | None = None


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
    link: flow.FrameLink | None,
    previous: PreviousFrame | None,
) -> tuple[stylize.Inputs, Config]:
    """A frame's inputs (its content in `inputs`) and config: tied to the previous frame by
    the warped start and the temporal term, unless it is the first or frames are independent."""
    if link is None or previous is None or config.video.temporal_weight == 0:
        return inputs, config
    warped = _carried(previous.result, link)
    weights = temporal_weights(link, previous.weights, config.video.settle_frames)
    temporal = stylize.TemporalTarget(warped, weights, config.video.temporal_weight)
    warped_content = _carried(previous.content, link)
    start = revealed_start(inputs.content, warped, warped_content, link.reliable)
    # init names no keyword: initial_image then starts from init_image.
    config = dataclasses.replace(config, init="previous result, warped")
    return dataclasses.replace(inputs, init_image=start, temporal=temporal), config


def _carried(image: np.ndarray, link: flow.FrameLink) -> np.ndarray:
    """The previous frame's image warped into this one: bicubically, as a bilinear warp is a
    slight blur that frame after frame smeared the texture; mirrored past the border."""
    return np.clip(flow.warp(image, link.backward_flow, "cubic", border="reflect"), 0.0, 1.0)


def revealed_start(
    content: np.ndarray,
    warped_result: np.ndarray,
    warped_content: np.ndarray,
    reliable: np.ndarray,
) -> np.ndarray:
    """Where the frame starts: the previous result warped into it where the flow is reliable;
    elsewhere (what the motion revealed, what the pan brought in) the frame's own content plus
    the change the style made to the content next to it, (warped result - warped content).

    The warped result alone there is a copy of neighbouring pixels (the occluder, the mirrored
    border), and a pan made those copies into horizontal streaks that the next frames kept;
    the content alone stayed a photo, as a frame's few steps can't restyle it. Content plus
    the style's change keeps the frame's shapes in the painting's colours and strokes, for
    the next frames' steps to finish (`temporal_weights` leaves them free meanwhile).
    """
    restyled = np.clip(content + (warped_result - warped_content), 0.0, 1.0)
    return np.where(reliable[:, :, None] > 0.5, warped_result, restyled).astype(np.float32)


def temporal_weights(
    link: flow.FrameLink, previous_weights: np.ndarray | None, settle_frames: int
) -> np.ndarray:
    """Each pixel's weight in frame t's temporal term, (H, W) in [0, 1]: 0 where the flow is
    unreliable (what the picture just revealed has no past to keep), then rising by
    1/settle_frames a frame as the flow carries the pixel along, up to 1.

    Held at full weight at once (settle_frames 1: Ruder et al.'s mask), a revealed pixel keeps
    the texture its one frame's few steps gave it, which starts as a copy of its neighbours
    (the warp's border and occluder pixels): over a pan those copies line up into streaks.
    Rising over a few frames gives it their steps to become the style's texture first.
    """
    if previous_weights is None:
        previous_weights = np.ones(link.reliable.shape, np.float32)
    carried = flow.warp(previous_weights[:, :, None], link.backward_flow)[:, :, 0]
    return link.reliable * np.minimum(1.0, carried + 1.0 / settle_frames).astype(np.float32)


def warping_error(result: np.ndarray, previous_result: np.ndarray, link: flow.FrameLink) -> float:
    """The flicker between two stylized frames (nst.algorithm.flow.warping_error)."""
    return flow.warping_error(result, previous_result, link.backward_flow, link.reliable)
