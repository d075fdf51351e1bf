"""Tests for nst/video.py: tiny clips written in tmp_path, synthetic shifts with a known flow, and
the shipped clip against the exact flow scripts/make_clip.py draws it with."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import video
from nst.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SHIFT = (3.0, -2.0)  # (x, y) in pixels
MARGIN = 12  # interior: away from the border a shift brings in


def load_make_clip():
    """scripts/ is a folder of scripts, not a package: import make_clip.py by its path."""
    spec = importlib.util.spec_from_file_location("make_clip", ROOT / "scripts" / "make_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numbered_frames(count, height=32, width=48):
    """Flat grey frames whose brightness says which frame they are (see frame_number)."""
    return [
        np.full((height, width, 3), (20 + 9 * index) / 255, np.float32) for index in range(count)
    ]


def frame_number(frame) -> int:
    return round((float(frame.mean()) * 255 - 20) / 9)


def texture(height=96, width=128, seed=0):
    """Smooth random texture (blurred noise): detail at every position for the flow to lock on."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 2, width // 4 + 2, 3)).astype(np.float32)
    picture = Image.fromarray((noise * 255).astype(np.uint8)).resize(
        (width + 8, height + 8), Image.Resampling.BICUBIC
    )
    return (np.asarray(picture, dtype=np.float32) / 255)[4:-4, 4:-4]


def shifted(image, dx, dy):
    """image moved by (dx, dy) px: out(p) = image(p - shift), wrapping round at the borders."""
    return np.roll(image, (round(dy), round(dx)), axis=(0, 1))


def interior(array):
    return array[MARGIN:-MARGIN, MARGIN:-MARGIN]


# ---------------------------------------------------------------------------------------------
# Reading and writing


def grey_detail(height, width):
    """Detail in brightness over smooth colour: what yuv420p keeps (it halves colour resolution,
    so colour noise would not come back from any mp4)."""
    grey = texture(height, width).mean(axis=2, keepdims=True)
    ys, xs = np.mgrid[0:height, 0:width]
    tint = np.stack([xs / width, ys / height, np.full(xs.shape, 0.5)], axis=-1)
    return (0.5 * grey + 0.5 * tint).astype(np.float32)


def test_mp4_round_trip_keeps_count_size_rate_and_pixels(tmp_path):
    frames = [shifted(grey_detail(48, 64), 2 * index, 0) for index in range(12)]
    path = tmp_path / "clip.mp4"
    video.write_video(path, frames, fps=12)

    clip = video.read_video(path)
    assert len(clip.frames) == 12 and clip.fps == 12.0 and clip.source == path
    assert clip.notes == ()
    for original, decoded in zip(frames, clip.frames, strict=True):
        assert decoded.dtype == np.float32 and decoded.shape == (48, 64, 3)
        assert np.abs(decoded - original).mean() < 0.01
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left


def test_odd_sizes_are_cropped_to_even_for_yuv420p(tmp_path):
    path = tmp_path / "odd.mp4"
    video.write_video(path, numbered_frames(3, height=33, width=47), fps=10)
    assert video.read_video(path).frames[0].shape == (32, 46, 3)


def test_write_video_refuses_a_suffix_h264_does_not_fit(tmp_path):
    with pytest.raises(UserError, match=r"clip\.webm.*\.mp4"):
        video.write_video(tmp_path / "clip.webm", numbered_frames(2), fps=10)


def test_animated_gif_reads_as_frames_and_a_still_gif_is_an_image(tmp_path):
    animated, still = tmp_path / "animated.gif", tmp_path / "still.gif"
    video.write_gif(animated, numbered_frames(5), fps=10)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(still)

    assert video.is_video_path(animated) and not video.is_video_path(still)
    assert video.is_video_path(tmp_path / "any.MP4") and not video.is_video_path("a.png")
    clip = video.read_video(animated)
    assert clip.fps == 10.0
    assert [frame_number(frame) for frame in clip.frames] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
@pytest.mark.parametrize(
    ("options", "expected_frames", "expected_fps"),
    [
        ({"max_frames": 4}, [0, 1, 2, 3], 10.0),
        ({"start_seconds": 1.5}, [15, 16, 17, 18, 19], 10.0),
        ({"fps": 5}, list(range(0, 20, 2)), 5.0),
        ({"fps": 3, "start_seconds": 0.5, "max_frames": 3}, [5, 8, 12], 3.0),  # nearest frames
        ({"fps": 20, "max_frames": 4}, [0, 0, 1, 1], 20.0),  # faster than the source: repeats
    ],
)
def test_start_max_frames_and_fps_limit_what_is_read(
    tmp_path, suffix, options, expected_frames, expected_fps
):
    path = tmp_path / f"clip{suffix}"
    writer = video.write_gif if suffix == ".gif" else video.write_video
    writer(path, numbered_frames(20), fps=10)

    clip = video.read_video(path, **options)
    assert [frame_number(frame) for frame in clip.frames] == expected_frames
    assert clip.fps == expected_fps


def test_resampling_keeps_the_clips_length(tmp_path):
    path = tmp_path / "clip.mp4"
    video.write_video(path, numbered_frames(20), fps=10)  # 2 s
    assert len(video.read_video(path, fps=20).frames) == 40
    assert len(video.read_video(path, fps=3).frames) == 6


def test_max_size_shrinks_frames_as_they_are_read(tmp_path):
    path = tmp_path / "clip.mp4"
    video.write_video(path, numbered_frames(3, height=32, width=48), fps=10)
    assert video.read_video(path, max_size=24).frames[0].shape == (16, 24, 3)


def test_frames_folder_and_pattern_are_in_natural_order(tmp_path):
    for name in ["frame10.png", "frame2.png", "frame1.png", ".frame3.png"]:
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a frame")
    expected = [tmp_path / "frame1.png", tmp_path / "frame2.png", tmp_path / "frame10.png"]

    assert video.frame_paths(tmp_path) == expected
    assert video.frame_paths(str(tmp_path / "frame*.png")) == expected
    assert video.frame_paths(str(tmp_path / "*")) == expected  # notes.txt is no frame


def test_empty_folder_and_unmatched_pattern_name_what_was_given(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"content: folder '.*empty' holds no image files"):
        video.frame_paths(tmp_path / "empty")
    with pytest.raises(UserError, match=r"no image files match '.*shot\*\.png'"):
        video.frame_paths(str(tmp_path / "shot*.png"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (np.random.default_rng(1).bytes(4000), "Invalid data found when processing input"),
        (b"", "empty file"),
    ],
)
def test_corrupt_video_is_a_one_line_user_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(UserError) as caught:
        video.read_video(path)
    message = str(caught.value)
    assert message.startswith(f"content video '{path}' could not be read ({reason})")
    assert "\n" not in message and "ffmpeg version" not in message


def test_missing_file_and_start_past_the_end_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"content video '.*nothing\.mp4' not found"):
        video.read_video(tmp_path / "nothing.mp4")
    path = tmp_path / "clip.mp4"
    video.write_video(path, numbered_frames(10), fps=10)
    with pytest.raises(UserError, match=r"no frames after start_seconds=5 \(it is 1\.00 s long\)"):
        video.read_video(path, start_seconds=5)


def test_a_cut_off_video_gives_the_frames_before_the_cut_and_a_note(tmp_path):
    path = tmp_path / "clip.mp4"
    video.write_video(path, [texture(32, 48, seed) for seed in range(30)], fps=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    clip = video.read_video(path)
    assert 0 < len(clip.frames) < 30
    (note,) = clip.notes
    assert "clip.mp4" in note and "truncated" in note


# ---------------------------------------------------------------------------------------------
# Flow, warping, consistency


@pytest.mark.parametrize("method", video.FLOW_METHODS)
def test_a_known_shift_is_recovered_and_warping_undoes_it(method):
    first = texture()
    second = shifted(first, *SHIFT)  # first(p) = second(p + SHIFT)

    field = video.flow(first, second, method)
    assert field.shape == (96, 128, 2) and field.dtype == np.float32
    median = np.median(interior(field).reshape(-1, 2), axis=0)
    assert np.allclose(median, SHIFT, atol=0.25)
    assert np.abs(interior(video.warp(second, field) - first)).mean() < 0.01


def test_unknown_flow_method_is_refused():
    with pytest.raises(ValueError, match="unknown optical flow method 'raft'"):
        video.flow(texture(16, 16), texture(16, 16), method="raft")


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_warp_looks_up_p_plus_flow_for_any_channel_count(channels):
    image = np.random.default_rng(2).random((10, 12, channels)).astype(np.float32)
    field = np.zeros((10, 12, 2), np.float32)
    field[:, :, 0] = 1.0  # each pixel takes its right-hand neighbour
    warped = video.warp(image, field)
    assert warped.shape == image.shape
    np.testing.assert_allclose(warped[:, :-1], image[:, 1:], atol=1e-6)
    np.testing.assert_allclose(warped[:, -1], image[:, -1], atol=1e-6)  # border replicated


def test_consistency_mask_keeps_a_pure_shift():
    first = texture()
    second = shifted(first, *SHIFT)
    mask = video.consistency_mask(video.flow(first, second), video.flow(second, first))
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
    mask = video.consistency_mask(forward, backward)
    assert (mask[10:20, 10:14] == 0).all()  # background the square uncovered: no source in t-1
    assert (mask[12:18, 16:22] == 1).all()  # the square's inside moves as one
    assert (mask[30:, 30:] == 1).all()  # still background
    assert (mask[10:20, 23:25] == 0).all()  # the square's trailing motion edge

    off_frame = np.zeros_like(backward)
    off_frame[:, :, 0] = 2.5  # a pan: the right-hand 3 columns come from beyond the edge
    pan_mask = video.consistency_mask(-off_frame, off_frame)
    assert (pan_mask[:, -3:] == 0).all() and (pan_mask[:, :-3] == 1).all()


def test_a_frame_link_warps_the_previous_result_into_the_frame():
    previous_frame = texture()
    frame = shifted(previous_frame, *SHIFT)
    previous_stylised = 1.0 - previous_frame  # any image aligned with the previous frame

    link = video.link_frames(previous_frame, frame)
    expected = shifted(previous_stylised, *SHIFT)
    warped = video.warp(previous_stylised, link.backward_flow)
    assert np.abs(interior(warped - expected)).mean() < 0.01
    assert interior(link.reliable).mean() > 0.98


def test_warping_error_is_zero_when_perfectly_warped_and_large_for_noise():
    previous = texture(seed=5)
    field = np.zeros((96, 128, 2), np.float32)
    field[:, :, 0], field[:, :, 1] = -SHIFT[0], -SHIFT[1]  # frame t shows t-1 moved by SHIFT
    stylised = video.warp(previous, field)
    mask = np.ones((96, 128), np.float32)

    assert video.warping_error(stylised, previous, field, mask) == 0.0
    noise = np.random.default_rng(6).random((96, 128, 3)).astype(np.float32)
    assert video.warping_error(noise, previous, field, mask) > 0.05
    assert math.isnan(video.warping_error(stylised, previous, field, np.zeros_like(mask)))


# ---------------------------------------------------------------------------------------------
# The shipped clip


@pytest.fixture(scope="module")
def make_clip():
    return load_make_clip()


@pytest.fixture(scope="module")
def shipped_clip():
    return video.read_video(ROOT / "assets" / "clip" / "pan_zoom.mp4")


CLIP_PAIRS = (1, 20, 40, 59)  # frame t of each (t-1, t) pair checked


@pytest.fixture(scope="module")
def clip_targets(shipped_clip):
    """{method: {t: link_frames of frames t-1 and t}} over CLIP_PAIRS."""
    frames = shipped_clip.frames
    return {
        method: {t: video.link_frames(frames[t - 1], frames[t], method) for t in CLIP_PAIRS}
        for method in video.FLOW_METHODS
    }


def test_shipped_clip_is_what_make_clip_draws(shipped_clip, make_clip):
    assert len(shipped_clip.frames) == make_clip.FRAMES == 60
    assert shipped_clip.fps == make_clip.FPS == 24
    assert shipped_clip.frames[0].shape == (make_clip.HEIGHT, make_clip.WIDTH, 3) == (240, 320, 3)
    assert (ROOT / "assets" / "clip" / "pan_zoom.mp4").stat().st_size < 1_000_000
    for t in (0, 30, 59):
        assert np.abs(shipped_clip.frames[t] - make_clip.render_frame(t)).mean() < 0.02


@pytest.mark.parametrize("method", video.FLOW_METHODS)
def test_estimated_flow_matches_the_clips_true_flow(clip_targets, make_clip, method):
    for t, target in clip_targets[method].items():
        kept = target.reliable > 0.5
        error = np.linalg.norm(target.backward_flow - make_clip.true_backward_flow(t), axis=-1)
        assert kept.mean() > 0.85
        assert np.median(error[kept]) < 0.25, (t, np.median(error[kept]))


def test_mask_drops_most_of_what_the_crossing_object_uncovers(clip_targets, make_clip):
    # DIS only: on Farneback's flows the check keeps 30-55% of it (nst.video.flow's docstring).
    uncovered_kept = [
        target.reliable[make_clip.true_disocclusion(t)] for t, target in clip_targets["dis"].items()
    ]
    assert np.concatenate(uncovered_kept).mean() < 0.25
