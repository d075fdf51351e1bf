"""The optical flow that video style transfer rests on, and warping frames along it.

Video style transfer after Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos"
(GCPR 2016): frame t starts from the previous stylised frame warped into frame t by optical flow,
and a temporal loss keeps it close to that warped frame where the flow can be trusted.

Frames keep nst/images.py's pixel contract: float32 (height, width, 3), RGB, values in [0, 1].
Only numpy and OpenCV are imported (never TensorFlow).

Flow conventions (OpenCV's):

- A flow field F is float32 (height, width, 2): channel 0 is the x (column) displacement and
  channel 1 the y (row) displacement, in pixels.
- `flow(a, b)` returns F with a(p) ≈ b(p + F(p)): for each pixel p of a, where it is in b.
- `warp(b, F)` is b(p + F(p)): b pulled into a's frame, bilinearly.
- For frame t the backward flow is flow(frame_t, frame_{t-1}), so warp(stylised_{t-1}, backward)
  lines the previous result up with frame t; the forward flow flow(frame_{t-1}, frame_t) only
  checks it (`consistency_mask`, Ruder et al. section 3.3).
"""

import math
import typing

import cv2
import numpy as np

from nst import images

FLOW_METHODS = ("dis", "farneback")

# Ruder et al. (2016), section 3.3: the forward-backward and motion-boundary thresholds.
_ROUND_TRIP_RELATIVE = 0.01
_ROUND_TRIP_ABSOLUTE = 0.5
_MOTION_EDGE_RELATIVE = 0.01
_MOTION_EDGE_ABSOLUTE = 0.002


class FrameLink(typing.NamedTuple):
    """How frame t relates to frame t-1 (see `link_frames`): where each of its pixels came
    from, and which of those the flow can be trusted for."""

    backward_flow: np.ndarray  # flow(frame_t, frame_{t-1}): warp(result_{t-1}, it) lines up
    reliable: np.ndarray  # (height, width) float32 in {0, 1}: 1 where the flow is reliable


def flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> np.ndarray:
    """The flow field F (height, width, 2) with a(p) ≈ b(p + F(p)), estimated on 8-bit grey.

    "dis": OpenCV's DIS (Kroeger et al. 2016), MEDIUM preset: on the shipped test clip (320x240)
    its median error is half FAST's (0.07 px against 0.13) and as low as the finer settings',
    which take 2-4 times longer than its ~8 ms. "farneback": OpenCV's Farneback (2003), as
    accurate in the median but with 3x DIS's large errors, and `consistency_mask` built on its
    flows keeps 30-55% of the background a moving object uncovers (DIS's: under 25%). Ruder et
    al. used DeepFlow and EpicFlow, which OpenCV does not ship.
    """
    first, second = _gray8(a), _gray8(b)
    if first.shape != second.shape:
        raise ValueError(f"flow needs two images of one size, got {a.shape} and {b.shape}")
    if method == "dis":
        field = _dis().calc(first, second, None)
    elif method == "farneback":
        # OpenCV's documented settings; on the test clip more levels, iterations or a wider
        # polynomial (poly_n=7) made it less accurate, not more.
        field = cv2.calcOpticalFlowFarneback(
            first,
            second,
            None,
            pyr_scale=0.5,
            levels=3,
            winsize=15,
            iterations=3,
            poly_n=5,
            poly_sigma=1.2,
            flags=0,
        )
    else:
        raise ValueError(f"unknown optical flow method {method!r}: use one of {FLOW_METHODS}")
    return np.asarray(field, dtype=np.float32)


def _dis():
    # MEDIUM already propagates each patch's estimate to its neighbours (setUseSpatialPropagation
    # is on); turning it off changed nothing measurable on the test clip, so it is left alone.
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def _gray8(image: np.ndarray) -> np.ndarray:
    pixels = images.to_uint8(image)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (height, width, 3), got {pixels.shape}")
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


_INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101}


def warp(
    image: np.ndarray,
    flow_field: np.ndarray,
    interpolation: str = "linear",
    border: str = "replicate",
) -> np.ndarray:
    """out(p) = image(p + F(p)), bilinear (or bicubic); beyond the border the edge pixels
    repeated (or mirrored); image is (height, width, C) with any C (C=2 warps a flow field)."""
    image = np.asarray(image, dtype=np.float32)
    height, width = flow_field.shape[:2]
    if image.ndim != 3 or image.shape[:2] != (height, width):
        raise ValueError(
            f"warp needs an image of shape ({height}, {width}, channels), got {image.shape}"
        )
    source_x, source_y = _sources(flow_field)
    warped = cv2.remap(
        image,
        source_x,
        source_y,
        interpolation=_INTERPOLATIONS[interpolation],
        borderMode=_BORDERS[border],
    )
    return warped.reshape(image.shape)  # remap drops a single channel's axis


def _sources(flow_field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's source coordinates p + F(p), as x and y arrays."""
    height, width = flow_field.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    return grid_x + flow_field[:, :, 0], grid_y + flow_field[:, :, 1]


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s weights c for frame t: (height, width) float32, 1 where the flow is
    reliable, 0 at disocclusions, motion boundaries and pixels that come from outside frame t-1.

    backward = flow(frame_t, frame_{t-1}); forward = flow(frame_{t-1}, frame_t).
    """
    if forward.shape != backward.shape or backward.ndim != 3 or backward.shape[2] != 2:
        raise ValueError(
            f"expected two flows of one (height, width, 2) shape, got {forward.shape} "
            f"and {backward.shape}"
        )
    disoccluded = _fails_round_trip(forward, backward)
    return (~(disoccluded | _motion_boundary(backward) | _from_outside(backward))).astype(
        np.float32
    )


def _fails_round_trip(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """|f̃ + b|² > 0.01 (|f̃|² + |b|²) + 0.5, with f̃ the forward flow where each pixel came
    from: going back and then forward again should land where it started."""
    forward_at_source = warp(forward, backward)
    round_trip = _squared_norm(forward_at_source + backward)
    scale = _squared_norm(forward_at_source) + _squared_norm(backward)
    return round_trip > _ROUND_TRIP_RELATIVE * scale + _ROUND_TRIP_ABSOLUTE


def _motion_boundary(backward: np.ndarray) -> np.ndarray:
    """|∇u|² + |∇v|² > 0.01 |b|² + 0.002: where the flow changes abruptly, a pixel's
    neighbours move differently and its own estimate is unreliable."""
    du_dy, du_dx = np.gradient(backward[:, :, 0])
    dv_dy, dv_dx = np.gradient(backward[:, :, 1])
    variation = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    return variation > _MOTION_EDGE_RELATIVE * _squared_norm(backward) + _MOTION_EDGE_ABSOLUTE


def _from_outside(backward: np.ndarray) -> np.ndarray:
    """Pixels whose source p + b(p) lies outside the previous frame (the border replicated
    there would be invented)."""
    height, width = backward.shape[:2]
    source_x, source_y = _sources(backward)
    return (source_x < 0) | (source_x > width - 1) | (source_y < 0) | (source_y > height - 1)


def _squared_norm(field: np.ndarray) -> np.ndarray:
    return np.sum(np.square(field), axis=-1)


def link_frames(previous_frame: np.ndarray, frame: np.ndarray, method: str = "dis") -> FrameLink:
    """The flow both ways between two content frames and its consistency mask: what frame t's
    start (the previous result warped) and temporal loss need (Ruder et al. eq. 7)."""
    backward = flow(frame, previous_frame, method)
    forward = flow(previous_frame, frame, method)
    return FrameLink(backward_flow=backward, reliable=consistency_mask(forward, backward))


def warping_error(
    stylised: np.ndarray,
    previous_stylised: np.ndarray,
    backward_flow: np.ndarray,
    mask: np.ndarray,
) -> float:
    """Flicker: the mean squared difference, over the pixels the mask keeps and their channels,
    between stylised frame t and stylised frame t-1 warped into it (pixel values in [0, 1]).

    NaN if the mask keeps no pixel: nothing was compared, which is not the same as no flicker
    (average over frames with np.nanmean).
    """
    warped = warp(previous_stylised, backward_flow)
    kept = np.asarray(mask) > 0.5
    if not kept.any():
        return math.nan
    difference = np.asarray(stylised, dtype=np.float32)[kept] - warped[kept]
    return float(np.mean(np.square(difference)))
