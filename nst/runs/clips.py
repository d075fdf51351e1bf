"""Frame sequences in and out: video files, animated GIFs and folders of frames.

Frames keep nst/images.py's pixel contract: float32 (height, width, 3), RGB, values in [0, 1].
Only numpy, Pillow, OpenCV and imageio are imported (never TensorFlow), so a video can be read and
checked before the network loads. The optical flow between frames is nst.algorithm.flow's.
"""

import dataclasses
import glob
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from nst import errors, images
from nst.errors import UserError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
# Containers that hold H.264, which write_video produces.
_MP4_LIKE_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")

# Visually lossless for H.264; a 60-frame 320x240 clip stays a few hundred kB.
_H264_CRF = 18
# Browsers show GIF frames with a delay of 0 or 10 ms at 100 ms; Pillow reports 0 as missing.
_GIF_DEFAULT_DELAY_MS = 100


@dataclasses.dataclass(frozen=True)
class VideoClip:
    """Decoded frames, in order, all in memory.

    A list rather than a lazy iterator: the per-frame loop needs frames t-1 and t together and the
    flows look back, and a 48-frame clip at 512 px is about 150 MB of float32. `read_video`'s
    max_size keeps a large source from costing more.
    """

    frames: tuple[np.ndarray, ...]
    fps: float  # the rate of `frames`, after any resampling
    source: Path
    notes: tuple[str, ...] = ()  # lines for the caller to print (a truncated file, say)


# ---------------------------------------------------------------------------------------------
# Reading


def is_video_path(path) -> bool:
    """True for a video file by its suffix; a GIF only when animated (a still GIF is an image)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _gif_frame_count(path) > 1
    return suffix in VIDEO_SUFFIXES


def frame_paths(pattern, kind: str = "frames", key: str = "content") -> list[Path]:
    """The image files (FRAME_SUFFIXES) of a folder, or those a glob pattern ('frames/*.png')
    matches, in natural name order (frame2 before frame10). `kind` names them in errors:
    "frames" (a clip's) or "images" (a batch of stills, nst.runs.batch); `key` is the setting
    that named them."""
    example = "'frames/*.png'" if kind == "frames" else "'photos/*.jpg'"
    folder = Path(pattern)
    if folder.is_dir():
        paths = [path for path in folder.iterdir() if _is_frame_file(path)]
        if not paths:
            raise UserError(
                f"{key}: folder {images._show_path(folder)} holds no image files "
                f"({', '.join(FRAME_SUFFIXES)}): give a folder of {kind} or a pattern such as "
                f"{example}"
            )
    else:
        paths = [Path(match) for match in glob.glob(str(pattern)) if _is_frame_file(Path(match))]
        if not paths:
            raise UserError(
                f"{key}: no image files match {images._show_path(pattern)}: give a folder of "
                f"{kind} or a pattern such as {example} (relative to the current directory, "
                f"{os.getcwd()})"
            )
    return sorted(paths, key=_natural_key)


def _is_frame_file(path: Path) -> bool:
    # Hidden files include macOS's '._frame1.png' resource forks, which are not images.
    return (
        path.suffix.lower() in FRAME_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )


def read_video(
    path,
    start_seconds: float = 0.0,
    max_frames: int = 0,
    fps: float = 0.0,
    *,
    max_size: int | None = None,
    role: str = "content video",
) -> VideoClip:
    """Decode a video (any format the bundled ffmpeg reads) or an animated GIF.

    start_seconds skips the beginning; max_frames (0: all) caps the frames returned; fps (0: the
    source's rate) resamples by taking, for each output time, the nearest source frame; max_size
    resizes each frame as it is decoded so its longest side is max_size. `role` names the file
    in error messages. Frames are assumed evenly spaced at the rate the file reports (a variable
    frame rate phone video is read as constant rate).

    A file that can't be read, or holds no frames (after start_seconds), is a UserError; a video
    that breaks off part-way gives the frames before the break and says so in `notes`.
    """
    path = Path(path)
    _check_read_options(start_seconds, max_frames, fps, max_size)
    _check_readable(path, role)
    if path.suffix.lower() == ".gif":
        source_fps, duration, timed_frames = _open_gif(path, role, start_seconds)
    else:
        source_fps, duration, timed_frames = _open_with_ffmpeg(path, role, start_seconds)
    output_fps = fps or source_fps
    picked = _nearest_in_time(timed_frames, output_fps, source_fps)
    frames, read_error = _decode(picked, max_frames, max_size)
    if not frames:
        raise _no_frames(path, role, start_seconds, duration, read_error)
    notes = ()
    if read_error is not None:
        notes = (
            f"{role} {images._show_path(path)}: stopped after {len(frames)} frames, the next "
            f"could not be decoded ({read_error}); using those",
        )
    elif _ended_early(len(frames), max_frames, duration, start_seconds, output_fps):
        expected = round((duration - start_seconds) * output_fps)
        notes = (
            f"{role} {images._show_path(path)}: only {len(frames)} frames could be decoded of "
            f"the {expected} its header promises (a truncated file?); using those",
        )
    return VideoClip(frames=tuple(frames), fps=float(output_fps), source=path, notes=notes)


def _check_read_options(start_seconds, max_frames, fps, max_size) -> None:
    if not (isinstance(start_seconds, int | float) and 0 <= start_seconds < math.inf):
        raise ValueError(f"start_seconds must be a number >= 0, got {start_seconds!r}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0:
        raise ValueError(f"max_frames must be an integer >= 0 (0: all), got {max_frames!r}")
    if not (isinstance(fps, int | float) and 0 <= fps < math.inf):
        raise ValueError(f"fps must be a number >= 0 (0: the source's rate), got {fps!r}")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)):
        raise ValueError(f"max_size must be an integer >= 1 or None, got {max_size!r}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be an integer >= 1 or None, got {max_size!r}")


def _check_readable(path: Path, role: str) -> None:
    """The file system's problems as one-line UserErrors, before a decoder sees the file."""
    shown = images._show_path(path)
    if path.is_dir():
        raise UserError(f"{role} {shown} is a directory: give the path of a video file")
    if not path.exists():
        hint = "" if path.is_absolute() else f" (paths are relative to {os.getcwd()})"
        raise UserError(f"{role} {shown} not found{hint}")
    if not os.access(path, os.R_OK):
        raise UserError(f"{role} {shown} can't be read: permission denied (check its permissions)")


TimedFrames = Iterator[tuple[float, np.ndarray]]  # (seconds after the start, uint8 RGB frame)


def _open_with_ffmpeg(path: Path, role: str, start_seconds: float):
    """(source fps, duration in seconds or None, timed frames), through imageio's ffmpeg plugin."""
    try:
        meta = iio.immeta(path, plugin="FFMPEG")
    except (OSError, RuntimeError, ValueError, IndexError) as err:
        raise _unreadable(path, role, err) from None
    source_fps = float(meta.get("fps") or 0)
    if not 0 < source_fps < math.inf:
        raise UserError(
            f"{role} {images._show_path(path)} reports no frame rate: re-encode it, e.g. "
            "ffmpeg -i IN -r 24 OUT.mp4"
        )
    duration = meta.get("duration")
    duration = float(duration) if duration and math.isfinite(duration) else None
    # -ss before the input seeks by timestamp (ffmpeg then decodes from the keyframe before it,
    # dropping frames up to the exact time), far cheaper than decoding the skipped part here.
    input_params = ["-ss", f"{start_seconds:.6f}"] if start_seconds > 0 else []
    frames = iio.imiter(path, plugin="FFMPEG", input_params=input_params)
    timed = ((index / source_fps, frame) for index, frame in enumerate(frames))
    return source_fps, duration, timed


def _open_gif(path: Path, role: str, start_seconds: float):
    """(source fps, duration, timed frames) of an animated GIF, with its own frame delays."""
    try:
        with images._pillow_warnings_handled():
            image = Image.open(path)
            delays = [
                frame.info.get("duration") or _GIF_DEFAULT_DELAY_MS
                for frame in ImageSequence.Iterator(image)
            ]
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        raise _unreadable(path, role, err) from None
    starts = np.concatenate([[0.0], np.cumsum(delays)[:-1]]) / 1000.0
    source_fps = 1000.0 / float(np.median(delays))

    def timed() -> TimedFrames:
        with image:
            frames = ImageSequence.Iterator(image)
            for frame, start, delay in zip(frames, starts, delays, strict=True):
                # The first frame kept is the one on screen at start_seconds.
                if start + delay / 1000.0 > start_seconds:
                    yield max(0.0, start - start_seconds), _gif_frame_rgb8(frame)

    return source_fps, sum(delays) / 1000.0, timed()


def _gif_frame_rgb8(frame: Image.Image) -> np.ndarray:
    """A GIF frame as uint8 RGB, transparency over white as images.load_image does."""
    rgba = np.asarray(frame.convert("RGBA"), dtype=np.float32)
    alpha = rgba[:, :, 3:] / 255.0
    return np.rint(rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def _gif_frame_count(path: Path) -> int:
    try:
        with images._pillow_warnings_handled(), Image.open(path) as image:
            return getattr(image, "n_frames", 1)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
        return 0  # Not readable: load_image reports why when it is treated as an image.


def _nearest_in_time(timed_frames: TimedFrames, fps: float, source_fps: float):
    """Frames at times 0, 1/fps, 2/fps, ... for as long as the clip lasts: for each, the source
    frame nearest in time (on a tie the earlier one). A source frame is used several times when
    fps exceeds its rate."""
    index = 0
    previous = None
    for time, frame in timed_frames:
        while index / fps <= time:
            target = index / fps
            nearer_previous = previous is not None and target - previous[0] <= time - target
            yield previous[1] if nearer_previous else frame
            index += 1
        previous = (time, frame)
    # Targets after the last frame but before the clip ends (the last frame is still on screen
    # then), so that a clip resampled to any rate keeps its length. The epsilon keeps a target
    # at the very end out whichever way the sum rounds.
    while previous is not None and index / fps < previous[0] + 1.0 / source_fps - 1e-9:
        yield previous[1]
        index += 1


def _decode(picked: Iterator[np.ndarray], max_frames: int, max_size: int | None):
    """(float frames, None) or, if decoding failed part-way, (the frames so far, the reason)."""
    frames = []
    try:
        for pixels in picked:
            frame = np.asarray(pixels, dtype=np.float32)[:, :, :3] / 255.0
            if max_size is not None and max(frame.shape[:2]) != max_size:
                frame = images.resize_longest_side(frame, max_size)
            frames.append(frame)
            if len(frames) == max_frames:
                break
    except (OSError, RuntimeError, ValueError, IndexError, EOFError, SyntaxError) as err:
        return frames, _decoder_reason(err)
    return frames, None


def _ended_early(count, max_frames, duration, start_seconds, fps) -> bool:
    """Whether far fewer frames came than the header's duration promises (a cut-off download).
    Two frames and 5% of slack: the container's duration may include a longer audio track."""
    if duration is None or count == max_frames:
        return False
    expected = (duration - start_seconds) * fps
    return count < expected - max(2.0, 0.05 * expected)


def _no_frames(path, role, start_seconds, duration, read_error) -> UserError:
    shown = images._show_path(path)
    if read_error is not None:
        return UserError(f"{role} {shown} could not be decoded ({read_error}): re-encode it")
    if start_seconds > 0:
        length = f"it is {duration:.2f} s long" if duration is not None else "check its length"
        return UserError(
            f"{role} {shown} has no frames after start_seconds={start_seconds:g} ({length})"
        )
    return UserError(f"{role} {shown} has no frames: re-export or re-download it")


def _unreadable(path: Path, role: str, err: Exception) -> UserError:
    reason = "empty file" if path.stat().st_size == 0 else _decoder_reason(err)
    return UserError(
        f"{role} {images._show_path(path)} could not be read ({reason}): "
        "check that it is a video file, or re-export or re-download it"
    )


def _decoder_reason(err: Exception) -> str:
    """ffmpeg's last line ('Invalid data found when processing input') rather than imageio's
    whole dump of ffmpeg's banner and configuration."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    reason = re.sub(r"^\[[^\]]*\]\s*", "", lines[-1])  # '[in#0 @ 0x55...] ' names ffmpeg's part
    reason = reason.removeprefix("Error opening input files: ")
    return errors.shorten(errors.one_line(reason), 120)


def _natural_key(path: Path) -> list:
    # re.split with a group alternates text and digits, so lists always compare str with str.
    parts = re.split(r"(\d+)", str(path))
    return [int(part) if part.isdigit() else part.casefold() for part in parts] + [str(path)]


# ---------------------------------------------------------------------------------------------
# Writing


def write_video(path, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write frames as an H.264 mp4 (yuv420p, crf 18) that plays everywhere, atomically.

    yuv420p stores colour at half resolution, so both sides must be even: an odd last row or
    column is cropped (one invisible edge line, rather than an invented one from padding).
    """
    path = Path(path)
    if path.suffix.lower() not in _MP4_LIKE_SUFFIXES:
        raise UserError(
            f"can't save video {images._show_path(path)}: H.264 needs an .mp4 (or "
            f"{', '.join(_MP4_LIKE_SUFFIXES[1:])}) file name, got '{path.suffix}'"
        )
    pixels = [_even_sized(images.to_uint8(frame)) for frame in _checked_frames(frames, fps)]

    def encode(temp_path: Path) -> None:
        iio.imwrite(
            temp_path,
            pixels,
            plugin="FFMPEG",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            quality=None,  # imageio's quality scale would set its own crf
            # faststart puts the index first: a browser plays it while downloading, and a cut-off
            # copy still decodes up to the cut.
            output_params=["-crf", str(_H264_CRF), "-movflags", "+faststart"],
            macro_block_size=1,  # imageio would otherwise rescale to multiples of 16
        )

    _replace_atomically(path, encode, "video")


def write_gif(path, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write frames as an animated GIF that loops forever (for docs/video.md), atomically.

    GIF delays are whole hundredths of a second, so 24 fps plays at 25 fps.
    """
    path = Path(path)
    pictures = [Image.fromarray(images.to_uint8(frame)) for frame in _checked_frames(frames, fps)]

    def encode(temp_path: Path) -> None:
        with open(temp_path, "wb") as file:
            pictures[0].save(
                file,
                format="GIF",
                save_all=True,
                append_images=pictures[1:],
                duration=round(1000.0 / fps),
                loop=0,
            )

    _replace_atomically(path, encode, "GIF")


def _checked_frames(frames: Sequence[np.ndarray], fps: float) -> Sequence[np.ndarray]:
    if not (isinstance(fps, int | float) and 0 < fps < math.inf):
        raise ValueError(f"fps must be a number > 0, got {fps!r}")
    if len(frames) == 0:
        raise ValueError("no frames to write")
    shapes = {np.shape(frame) for frame in frames}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[2] != 3:
        raise ValueError(f"frames must all be one (height, width, 3) shape, got {sorted(shapes)}")
    return frames


def _even_sized(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    if height < 2 or width < 2:
        raise ValueError(f"frames must be at least 2x2 px for H.264, got {width}x{height}")
    return np.ascontiguousarray(pixels[: height - height % 2, : width - width % 2])


def _replace_atomically(path: Path, encode: Callable[[Path], None], what: str) -> None:
    """encode() into a hidden temporary file beside `path`, then rename it over `path`, so a crash
    never leaves a half-written file; missing parent folders are created."""
    # The real suffix last: ffmpeg picks the container from it.
    temp_path = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created here first so that a folder we can't write to fails with the OS's one-line
        # reason rather than inside ffmpeg.
        temp_path.open("xb").close()
        encode(temp_path)
        with open(temp_path, "rb+") as file:
            os.fsync(file.fileno())  # Without this a power cut can leave the renamed file empty.
        os.replace(temp_path, path)
    except (OSError, RuntimeError) as err:
        temp_path.unlink(missing_ok=True)
        reason = "permission denied" if isinstance(err, PermissionError) else _decoder_reason(err)
        raise UserError(f"can't save {what} {images._show_path(path)}: {reason}") from None
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
