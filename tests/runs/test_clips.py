"""Tests for nst/runs/clips.py: tiny clips written in tmp_path and read back."""

import numpy as np
import pytest
from conftest import texture
from PIL import Image

from nst.errors import UserError
from nst.runs import clips


def numbered_frames(count, height=32, width=48):
    """Flat grey frames whose brightness says which frame they are (see frame_number)."""
    return [
        np.full((height, width, 3), (20 + 9 * index) / 255, np.float32) for index in range(count)
    ]


def frame_number(frame) -> int:
    return round((float(frame.mean()) * 255 - 20) / 9)


def shifted(image, dx, dy):
    """image moved by (dx, dy) px: out(p) = image(p - shift), wrapping round at the borders."""
    return np.roll(image, (round(dy), round(dx)), axis=(0, 1))


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
    clips.write_video(path, frames, fps=12)

    clip = clips.read_video(path)
    assert len(clip.frames) == 12 and clip.fps == 12.0 and clip.source == path
    assert clip.notes == ()
    for original, decoded in zip(frames, clip.frames, strict=True):
        assert decoded.dtype == np.float32 and decoded.shape == (48, 64, 3)
        assert np.abs(decoded - original).mean() < 0.01
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left


def test_odd_sizes_are_cropped_to_even_for_yuv420p(tmp_path):
    path = tmp_path / "odd.mp4"
    clips.write_video(path, numbered_frames(3, height=33, width=47), fps=10)
    assert clips.read_video(path).frames[0].shape == (32, 46, 3)


def test_write_video_refuses_a_suffix_h264_does_not_fit(tmp_path):
    with pytest.raises(UserError, match=r"clip\.webm.*\.mp4"):
        clips.write_video(tmp_path / "clip.webm", numbered_frames(2), fps=10)


def test_animated_gif_reads_as_frames_and_a_still_gif_is_an_image(tmp_path):
    animated, still = tmp_path / "animated.gif", tmp_path / "still.gif"
    clips.write_gif(animated, numbered_frames(5), fps=10)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(still)

    assert clips.is_video_path(animated) and not clips.is_video_path(still)
    assert clips.is_video_path(tmp_path / "any.MP4") and not clips.is_video_path("a.png")
    clip = clips.read_video(animated)
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
    writer = clips.write_gif if suffix == ".gif" else clips.write_video
    writer(path, numbered_frames(20), fps=10)

    clip = clips.read_video(path, **options)
    assert [frame_number(frame) for frame in clip.frames] == expected_frames
    assert clip.fps == expected_fps


def test_resampling_keeps_the_clips_length(tmp_path):
    path = tmp_path / "clip.mp4"
    clips.write_video(path, numbered_frames(20), fps=10)  # 2 s
    assert len(clips.read_video(path, fps=20).frames) == 40
    assert len(clips.read_video(path, fps=3).frames) == 6


def test_max_size_shrinks_frames_as_they_are_read(tmp_path):
    path = tmp_path / "clip.mp4"
    clips.write_video(path, numbered_frames(3, height=32, width=48), fps=10)
    assert clips.read_video(path, max_size=24).frames[0].shape == (16, 24, 3)


def test_frames_folder_and_pattern_are_in_natural_order(tmp_path):
    for name in ["frame10.png", "frame2.png", "frame1.png", ".frame3.png"]:
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a frame")
    expected = [tmp_path / "frame1.png", tmp_path / "frame2.png", tmp_path / "frame10.png"]

    assert clips.frame_paths(tmp_path) == expected
    assert clips.frame_paths(str(tmp_path / "frame*.png")) == expected
    assert clips.frame_paths(str(tmp_path / "*")) == expected  # notes.txt is no frame


def test_empty_folder_and_unmatched_pattern_name_what_was_given(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"content: folder '.*empty' holds no image files"):
        clips.frame_paths(tmp_path / "empty")
    with pytest.raises(UserError, match=r"no image files match '.*shot\*\.png'"):
        clips.frame_paths(str(tmp_path / "shot*.png"))


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
        clips.read_video(path)
    message = str(caught.value)
    assert message.startswith(f"content video '{path}' could not be read ({reason})")
    assert "\n" not in message and "ffmpeg version" not in message


def test_missing_file_and_start_past_the_end_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"content video '.*nothing\.mp4' not found"):
        clips.read_video(tmp_path / "nothing.mp4")
    path = tmp_path / "clip.mp4"
    clips.write_video(path, numbered_frames(10), fps=10)
    with pytest.raises(UserError, match=r"no frames after start_seconds=5 \(it is 1\.00 s long\)"):
        clips.read_video(path, start_seconds=5)


def test_a_cut_off_video_gives_the_frames_before_the_cut_and_a_note(tmp_path):
    path = tmp_path / "clip.mp4"
    clips.write_video(path, [texture(32, 48, seed) for seed in range(30)], fps=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    clip = clips.read_video(path)
    assert 0 < len(clip.frames) < 30
    (note,) = clip.notes
    assert "clip.mp4" in note and "truncated" in note
