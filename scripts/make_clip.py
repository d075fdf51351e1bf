"""Make assets/clip/pan_zoom.mp4, the video style transfer test clip, whose optical flow is known.

A virtual camera pans right across assets/tubingen.jpg while slowly zooming in, and a round,
soft-edged cut-out of the astronaut's face (assets/astronaut.png) crosses the picture from left
to right on a shallow arc, faster than the pan. Every frame is drawn from the two photos by an
exact mapping, so `true_backward_flow(t)` is the flow itself, not an estimate: tests compare
nst.algorithm.flow.flow against it.

    .venv/bin/python scripts/make_clip.py    # writes assets/clip/pan_zoom.mp4 (60 frames, 2.5 s)

Deterministic: no randomness, so rerunning it rewrites the same frames (the mp4's bytes may
differ with the ffmpeg version).
"""

import argparse
import functools
from pathlib import Path

import cv2
import numpy as np

from nst import images
from nst.runs import clips

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "assets" / "clip" / "pan_zoom.mp4"
WIDTH, HEIGHT = 320, 240
FRAMES = 60
FPS = 24

# The camera, in the pixels of tubingen.jpg scaled to BACKGROUND_WIDTH: the view's centre pans
# right at a constant speed and its scale (background pixels per frame pixel) shrinks
# geometrically, a constant-rate zoom of 1/ZOOM_END_SCALE = 1.18x over the clip. Scales stay <= 1,
# so the background is only ever enlarged and never aliases.
BACKGROUND_WIDTH = 480
PAN_START_X, PAN_END_X = 170.0, 300.0
CAMERA_Y = 195.0
ZOOM_END_SCALE = 0.85

# The object: a disc of the astronaut's face, moving about 4.4 px a frame against the pan's
# 2.2 px the other way, so it uncovers a strip of background ~6.6 px wide each frame.
FACE_CENTRE = (226.0, 110.0)  # in astronaut.png's pixels
FACE_RADIUS = 95.0
OBJECT_RADIUS = 36.0  # in frame pixels
OBJECT_EDGE = 2.0  # width of the soft edge, in frame pixels
OBJECT_START = (30.0, 160.0)
OBJECT_END = (290.0, 160.0)
OBJECT_ARC_HEIGHT = 40.0


def camera(t: float) -> tuple[np.ndarray, float]:
    """(centre (x, y) in background pixels, background pixels per frame pixel) at frame t."""
    progress = t / (FRAMES - 1)
    centre_x = PAN_START_X + (PAN_END_X - PAN_START_X) * progress
    return np.array([centre_x, CAMERA_Y]), ZOOM_END_SCALE**progress


def object_centre(t: float) -> np.ndarray:
    """The disc's centre (x, y) in frame pixels at frame t: left to right on a shallow arc."""
    progress = t / (FRAMES - 1)
    start, end = np.array(OBJECT_START), np.array(OBJECT_END)
    lift = OBJECT_ARC_HEIGHT * np.sin(np.pi * progress)
    return start + (end - start) * progress - np.array([0.0, lift])


def render_frame(t: int) -> np.ndarray:
    """Frame t as float32 RGB in [0, 1]: the camera's view with the disc composited over it."""
    frame_x, frame_y = _frame_grid()
    background = _sample(_background(), *_background_coordinates(t, frame_x, frame_y))
    face, face_scale = _face()
    face_centre = np.array(FACE_CENTRE) * face_scale
    scale = FACE_RADIUS * face_scale / OBJECT_RADIUS  # face pixels per frame pixel, about 1
    # The disc only translates, so its pixel p shows the face at p - centre.
    centre = object_centre(t)
    face = _sample(
        face,
        face_centre[0] + scale * (frame_x - centre[0]),
        face_centre[1] + scale * (frame_y - centre[1]),
    )
    alpha = _object_alpha(t, frame_x, frame_y)[:, :, np.newaxis]
    return np.clip(alpha * face + (1.0 - alpha) * background, 0.0, 1.0).astype(np.float32)


def true_backward_flow(t: int) -> np.ndarray:
    """The exact backward flow for t >= 1: frame_t(p) = frame_{t-1}(p + F(p)), (H, W, 2) float32
    (nst.runs.clips's convention). Inside the disc it is the disc's motion, elsewhere the
    camera's."""
    if not 1 <= t < FRAMES:
        raise ValueError(f"the backward flow exists for frames 1..{FRAMES - 1}, got {t}")
    frame_x, frame_y = _frame_grid()
    # Background point X = c_t + s_t (p - p0) was at q = p0 + (X - c_{t-1}) / s_{t-1} before.
    x_now, y_now = _background_coordinates(t, frame_x, frame_y)
    centre_before, scale_before = camera(t - 1)
    middle_x, middle_y = _frame_middle()
    flow_x = middle_x + (x_now - centre_before[0]) / scale_before - frame_x
    flow_y = middle_y + (y_now - centre_before[1]) / scale_before - frame_y
    inside = _object_alpha(t, frame_x, frame_y) >= 0.5
    object_motion = object_centre(t - 1) - object_centre(t)
    flow_x = np.where(inside, object_motion[0], flow_x)
    flow_y = np.where(inside, object_motion[1], flow_y)
    return np.stack([flow_x, flow_y], axis=-1).astype(np.float32)


def true_disocclusion(t: int) -> np.ndarray:
    """(H, W) bool for t >= 1: background pixels of frame t that the disc covered in frame t-1,
    so that frame t-1 holds nothing to warp there. One pixel of margin each side of the disc's
    soft edge."""
    frame_x, frame_y = _frame_grid()
    flow = true_backward_flow(t)
    centre_now, centre_before = object_centre(t), object_centre(t - 1)
    outside_now = np.hypot(frame_x - centre_now[0], frame_y - centre_now[1]) > OBJECT_RADIUS + 1
    source_x, source_y = frame_x + flow[:, :, 0], frame_y + flow[:, :, 1]
    covered_before = (
        np.hypot(source_x - centre_before[0], source_y - centre_before[1]) < OBJECT_RADIUS - 1
    )
    return outside_now & covered_before


def _background_coordinates(t, frame_x, frame_y) -> tuple[np.ndarray, np.ndarray]:
    """Where each frame pixel looks in the background at frame t: X = c_t + s_t (p - p0)."""
    centre, scale = camera(t)
    middle_x, middle_y = _frame_middle()
    return centre[0] + scale * (frame_x - middle_x), centre[1] + scale * (frame_y - middle_y)


def _object_alpha(t, frame_x, frame_y) -> np.ndarray:
    centre = object_centre(t)
    distance = np.hypot(frame_x - centre[0], frame_y - centre[1])
    return np.clip((OBJECT_RADIUS - distance) / OBJECT_EDGE + 0.5, 0.0, 1.0)


def _frame_middle() -> tuple[float, float]:
    return (WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0


@functools.cache
def _frame_grid() -> tuple[np.ndarray, np.ndarray]:
    frame_y, frame_x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    return frame_x, frame_y


@functools.cache
def _background() -> np.ndarray:
    photo = images.load_image(ROOT / "assets" / "tubingen.jpg", role="clip background")
    return _shrink(photo, BACKGROUND_WIDTH / photo.shape[1])


@functools.cache
def _face() -> tuple[np.ndarray, float]:
    """astronaut.png shrunk so one of its pixels is about one frame pixel of the disc, and the
    factor it was shrunk by."""
    photo = images.load_image(ROOT / "assets" / "astronaut.png", role="clip object")
    face = _shrink(photo, OBJECT_RADIUS / FACE_RADIUS)
    return face, face.shape[1] / photo.shape[1]


def _shrink(photo: np.ndarray, factor: float) -> np.ndarray:
    # Area averaging: the detail finer than a frame pixel is filtered out once, here, rather than
    # aliasing into shimmer that no real camera records.
    height, width = photo.shape[:2]
    size = (round(width * factor), round(height * factor))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return cv2.remap(
        image,
        x.astype(np.float32),
        y.astype(np.float32),
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the mp4 to write")
    args = parser.parse_args()
    clips.write_video(args.output, [render_frame(t) for t in range(FRAMES)], FPS)
    size_kb = args.output.stat().st_size / 1000
    print(f"{args.output}: {FRAMES} frames, {WIDTH}x{HEIGHT} px, {FPS} fps, {size_kb:.0f} kB")


if __name__ == "__main__":
    main()
