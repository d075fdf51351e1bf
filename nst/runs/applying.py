"""`nst apply MODEL INPUT...`: a trained network (nst train) stylizes photos, folders and clips.

Each call writes a new directory `<root>/apply/<model name>/<timestamp>/`:

    <input stem>.png        each photo's result (a clip's: <stem>.mp4 or .gif, as its source)
    contact_sheet.png       every result with its name and time, when there is more than one
    metrics.jsonl           one line per input: its size, seconds, and a clip's flicker

The picture is the network's output at the photo's size (or `size` on its longest side),
mixed with the photo by `strength` (0 gives the photo back, 1 the model's full look), with
nst run's colour options: `transfer` puts the photo's colours back on the result; `luminance`
stylizes the photo's brightness alone and keeps its colours. A clip's flicker is measured as
for `nst run` clips (nst.algorithm.flow.warping_error, over frames 2..n).
"""

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
import tqdm.auto

from nst import images
from nst.algorithm import color, flow, sequence, transformer
from nst.errors import UserError
from nst.runs import clips, fast_memory, report
from nst.runs.run_dirs import create_run_dir
from nst.runs.training import load_network

PRESERVE = ("none", "transfer", "luminance")
# A clip's frames hold this much of the previous picture along the flow (`hold_strokes`):
# docs/fast.md measures the flicker it leaves.
TEMPORAL = 0.5
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class Applied:
    """One input's result."""

    source: Path
    output: Path
    seconds: float  # the network's time (and the colour options'), not reading or writing
    frames: int = 1
    warping_error: float | None = None  # a clip's flicker


@dataclasses.dataclass(frozen=True)
class ApplyOutcome:
    out_dir: Path
    results: list[Applied]
    contact_sheet: Path | None


class Painter:
    """A trained model ready to stylize arrays: `painter(photo)` -> picture, both (H, W, 3)."""

    def __init__(
        self,
        model_path: str | Path,
        strength: float = 1.0,
        preserve: str = "none",
        space: str = "yiq",
        precision: str = "auto",
    ):
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"--strength {strength}: give a value from 0 (the photo) to 1")
        if preserve not in PRESERVE:
            raise UserError(f"--preserve {preserve!r}: choose one of {', '.join(PRESERVE)}")
        if precision not in PRECISIONS:
            raise UserError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.model_path = Path(model_path)
        self.network = load_network(self.model_path, resolve_precision(precision))
        self.info = self.network.get_layer("picture").info
        self.width = self.info.get("width", "full")
        self.strength, self.preserve, self.space = strength, preserve, space
        self._stylizer = transformer.Stylizer(self.network)

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        source = photo
        if self.preserve == "luminance":
            source = color.luminance_image(photo, self.space)
        result = self._stylizer(source)
        if self.preserve != "none":
            result = color.transfer_chroma(result, photo, self.space)
        if self.strength < 1:
            result = self.strength * result + (1 - self.strength) * photo
        return np.clip(result, 0.0, 1.0).astype(np.float32)

    def check_fits(self, height: int, width: int, what_for: str) -> None:
        fast_memory.check_applying(self.width, height, width, what_for)


def resolve_precision(precision: str) -> str:
    """auto: bfloat16 convolutions where the CPU computes them natively (AMX or AVX-512 BF16:
    measured 1.6x faster, docs/fast.md), else float32; float32 on a GPU."""
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU"):
        return "float32"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("amx_bf16" in flags or "avx512_bf16" in flags) else "float32"


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files as given; a folder or glob becomes its images (clips are taken one by one)."""
    paths = []
    for given in inputs:
        path = Path(given)
        if path.is_file():
            paths.append(path)
        elif path.is_dir() or any(ch in given for ch in "*?["):
            paths += clips.frame_paths(given, kind="images", key="INPUT")
        else:
            raise UserError(f"INPUT {given!r} does not exist: give photos, folders or clips")
    if not paths:
        raise UserError("INPUT: give at least one photo, folder or clip")
    return paths


def apply(
    painter: Painter,
    inputs: Sequence[str],
    root: str = "runs",
    size: int | None = None,
    output: str | None = None,
    on_result: Callable[[Applied], None] | None = None,
    show_progress: bool = True,
    temporal: float = TEMPORAL,
) -> ApplyOutcome:
    """Stylize every input into a new directory under `root` (or one photo into `output`);
    a clip's frames hold `temporal` of the previous picture where the flow is reliable."""
    if not 0.0 <= temporal < 1.0:
        raise UserError(f"--temporal {temporal}: give a value from 0 (off) to below 1")
    paths = expand_inputs(inputs)
    if size is not None and not 16 <= size <= 16384:
        raise UserError(f"--size {size}: give a longest side between 16 and 16384 px")
    if output is not None:
        if len(paths) != 1 or clips.is_video_path(paths[0]):
            raise UserError("--output names one picture: give one photo, or leave it out")
        if Path(output).exists():
            raise UserError(f"--output {output} exists: choose a new name (nothing is overwritten)")
    for path in paths:  # refused before any work: a size that cannot fit
        dims = images.read_size(path) if not clips.is_video_path(path) else None
        if dims is not None:
            width, height = _target_size(dims[1], dims[0], size)
            painter.check_fits(height, width, str(path))
    out_dir = None if output else create_run_dir(Path(root) / "apply", painter.model_path.stem)
    results = []
    metrics = None if out_dir is None else (out_dir / "metrics.jsonl").open("a", encoding="utf-8")
    try:
        for path in paths:
            if clips.is_video_path(path):
                applied = _apply_clip(painter, path, out_dir, size, temporal, show_progress)
            else:
                target = Path(output) if output else out_dir / f"{path.stem}.png"
                applied = _apply_photo(painter, path, target, size)
            results.append(applied)
            if metrics:
                metrics.write(json.dumps(_record(applied)) + "\n")
                metrics.flush()
            if on_result:
                on_result(applied)
    finally:
        if metrics:
            metrics.close()
    sheet = None
    stills = [result for result in results if result.frames == 1]
    if out_dir is not None and len(stills) > 1:
        sheet = out_dir / "contact_sheet.png"
        members = [
            report.MemberResult(
                name=result.source.stem,
                values={},
                status="completed",
                run_dir=str(out_dir),
                final_image=str(result.output),
                losses={},
                evaluations=None,
                seconds=result.seconds,
            )
            for result in stills
        ]
        report.write_contact_sheet(sheet, members, [])
    return ApplyOutcome(out_dir if out_dir else Path(output).parent, results, sheet)


def _target_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """(width, height) of the result: the photo's own, or `size` on its longest side."""
    if size is None:
        return width, height
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _apply_photo(painter: Painter, path: Path, target: Path, size: int | None) -> Applied:
    photo = images.load_image(path, max_size=size, role="photo")
    started = time.perf_counter()
    result = painter(photo)
    seconds = time.perf_counter() - started
    images.save_image(target, result)
    return Applied(path, target, seconds)


def _apply_clip(
    painter: Painter, path: Path, out_dir: Path, size, temporal: float, show_progress
) -> Applied:
    clip = clips.read_video(path, max_size=size, role="clip")
    height, width = clip.frames[0].shape[:2]
    painter.check_fits(height, width, str(path))
    results, seconds, errors = [], 0.0, []
    frames = tqdm.auto.tqdm(clip.frames, unit="frame", disable=not show_progress, desc=path.name)
    for index, frame in enumerate(frames):
        started = time.perf_counter()
        result = painter(frame)
        link = flow.link_frames(clip.frames[index - 1], frame) if index else None
        if link is not None and temporal > 0:
            result = hold_strokes(result, results[-1], link, temporal)
        seconds += time.perf_counter() - started
        results.append(result)
        if link is not None:
            errors.append(sequence.warping_error(results[-1], results[-2], link))
    suffix = ".gif" if path.suffix.lower() == ".gif" else ".mp4"
    target = out_dir / f"{path.stem}{suffix}"
    write = clips.write_gif if suffix == ".gif" else clips.write_video
    write(target, results, clip.fps)
    error = float(np.nanmean(errors)) if errors else None
    return Applied(path, target, seconds, len(results), error)


def hold_strokes(
    result: np.ndarray, previous: np.ndarray, link: flow.FrameLink, temporal: float
) -> np.ndarray:
    """The frame's picture mixed with the previous frame's, warped along the optical flow into
    this frame, by `temporal` where the flow is reliable (nowhere else): a network sees each
    frame afresh, so its strokes shimmer where the photo barely changed; this holds them on
    what they paint (as Bonneel et al. 2015 smooth a per-frame filter along the flow)."""
    warped = flow.warp(previous, link.backward_flow)
    weight = temporal * link.reliable[..., None]
    return ((1 - weight) * result + weight * warped).astype(np.float32)


def _record(applied: Applied) -> dict:
    record = {
        "input": str(applied.source),
        "output": str(applied.output),
        "seconds": round(applied.seconds, 4),
        "frames": applied.frames,
    }
    if applied.warping_error is not None:
        record["warping_error"] = applied.warping_error
    return record
