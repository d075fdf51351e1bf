"""A clip run end to end: a video (or a folder of frames) in, stylized frames and a video out.

Layout of a clip's run directory (`<output.root>/<name>/<timestamp>/`):

    config.yaml         the resolved config, written before the first frame
    clip.json           the directory the run started in (relative paths start there)
    frames/000001.png   each stylized frame as soon as it is done (kept: a resumed run goes on
                        after the last one)
    result.mp4          the stylized clip at the source's frame rate (or video.fps)
    metrics.jsonl       one line per frame (loss terms, steps, seconds, warping error), then one
                        with "final": true for the clip
    previous.npz        the last finished frame's result as optimised (before colour options),
                        its content and temporal weights: what the next frame starts from, so a
                        resumed run continues exactly
    checkpoint.npz      the frame in progress when stopped by Ctrl-C or SIGTERM
    events.out.tfevents.*   TensorBoard: each frame's losses and warping error (step = frame)

The frames are stylized by nst.algorithm.sequence; this module reads, writes, logs and resumes.
"""

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tqdm

from nst import images
from nst.algorithm import flow, sequence, stylize
from nst.algorithm.step_stop import StepStop
from nst.config import Config, dump_config, load_config
from nst.errors import UserError
from nst.runs import checkpoints, clips, feature_models, preflight, run
from nst.runs.interrupts import RunInterrupted, StopRequests, call_attentively
from nst.runs.run_dirs import create_run_dir

FRAMES = "frames"
VIDEO = "result.mp4"
PREVIOUS = "previous.npz"
STARTED = "clip.json"  # where the run started: the config's relative paths start there
_FRAMES_FPS = 24.0  # a folder of frames has no rate of its own


@dataclasses.dataclass(frozen=True)
class Clip:
    """The content frames at image.size (float32 RGB in [0, 1]) and their rate."""

    frames: list[np.ndarray]
    fps: float
    skipped: list[str]  # one line per frame that could not be read (left out)


@dataclasses.dataclass(frozen=True)
class ClipOutcome:
    run_dir: Path
    video: Path
    frames: int
    steps_done: int
    evaluations: int
    # mean over frames 2..n (nst.algorithm.flow.warping_error); nan for one frame
    warping_error: float
    final_loss: dict[str, float]  # mean over frames
    network: str
    weights: str


def read_clip(config: Config) -> Clip:
    """The clip's frames as config.video limits them, each at image.size; frames that can't be
    read are left out with a line saying so (an unreadable video is a UserError)."""
    settings = config.video
    size = config.image.size
    if clips.is_video_path(config.content):
        read = clips.read_video(
            config.content, settings.start, settings.max_frames, settings.fps, max_size=size
        )
        return _said(Clip(list(read.frames), read.fps, list(read.notes)))
    fps = settings.fps or _FRAMES_FPS
    paths = clips.frame_paths(config.content)
    paths = paths[round(settings.start * fps) :]
    frames, skipped = [], []
    for path in paths:
        if settings.max_frames and len(frames) == settings.max_frames:
            break
        try:
            frame = images.load_image(path, max_size=size, role="frame")
        except UserError as error:
            skipped.append(f"{error}; left out of the clip")
            continue
        if frames and frame.shape != frames[0].shape:
            first = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
            skipped.append(
                f"frame {path} is {frame.shape[1]}x{frame.shape[0]} px at image.size={size}, "
                f"the clip's first frame {first}: left out of the clip"
            )
            continue
        frames.append(frame)
    clip = _said(Clip(frames, fps, skipped))
    if not frames:
        raise UserError(f"content: no frame of '{config.content}' could be read: see above")
    return clip


def _said(clip: Clip) -> Clip:
    """The clip, once its left-out frames are on stderr (a run and its resume both say so)."""
    for line in clip.skipped:
        print(f"nst: {line}", file=sys.stderr)
    return clip


def execute_clip(config: Config, name: str, show_progress: bool = True) -> ClipOutcome:
    """Stylize the clip `config.content` names into a new run directory."""
    clip = read_clip(config)
    config = _checked(config, clip)
    inputs = run.load_inputs(config, content=clip.frames[0])
    config = feature_models.resolve_weights(config)
    feature_model = feature_models.build_model(config)
    run_dir = create_run_dir(config.output.root, name)
    (run_dir / FRAMES).mkdir()
    (run_dir / "config.yaml").write_text(dump_config(config))
    (run_dir / STARTED).write_text(json.dumps({"cwd": os.getcwd()}))
    logger = ClipLogger(run_dir, config, len(clip.frames), show_progress)
    return _stylize_frames(feature_model, clip, inputs, config, logger)


def resume_clip(run_dir: Path, show_progress: bool = True) -> ClipOutcome:
    """Continue a stopped clip run: finished frames are kept, the frame in progress goes on
    from its checkpoint (or starts again if there is none)."""
    if (run_dir / VIDEO).is_file():
        raise UserError(f"{run_dir} has finished already ({VIDEO}): nothing to resume")
    started_in = json.loads((run_dir / STARTED).read_text())["cwd"]
    config = run.paths_from(load_config(str(run_dir / "config.yaml")), Path(started_in))
    clip = read_clip(config)
    config = _checked(config, clip, run_dir.parent)
    inputs = run.load_inputs(config, content=clip.frames[0])
    config = feature_models.resolve_weights(config)
    feature_model = feature_models.build_model(config)
    done, previous = _finished_frames(run_dir, len(clip.frames))
    state = None
    if (run_dir / checkpoints.FILE).is_file():
        checkpoint_meta, arrays = checkpoints.load_checkpoint(run_dir)
        if checkpoint_meta.get("frame") == done:
            state = arrays
    logger = ClipLogger(run_dir, config, len(clip.frames), show_progress, done)
    return _stylize_frames(feature_model, clip, inputs, config, logger, done, previous, state)


def _checked(config: Config, clip: Clip, output_dir: Path | None = None) -> Config:
    """The memory and disk check for a clip: its frames are held in memory and written."""
    height, width, _ = clip.frames[0].shape
    held = sum(frame.nbytes for frame in clip.frames)
    written = len(clip.frames) * height * width * 3 * 2  # each frame's PNG and its part of the mp4
    return preflight.check_run(config, output_dir, (height, width), held, written)


def _finished_frames(run_dir: Path, count: int) -> tuple[int, dict | None]:
    """How many frames are done (frames/000001.png on without a gap, as previous.npz says)
    and the last one's result as optimised."""
    path = run_dir / PREVIOUS
    if not path.is_file():
        return 0, None
    with np.load(path, allow_pickle=False) as saved:
        previous = {key: saved[key] for key in saved.files}
    done = int(previous["frame"])
    missing = [i for i in range(1, done + 1) if not _frame_path(run_dir, i).is_file()]
    if missing or done > count:
        raise UserError(
            f"{run_dir}: {PREVIOUS} says {done} frames are done but "
            + (f"frames/{missing[0]:06d}.png is missing" if missing else f"the clip has {count}")
            + ": start the clip again with nst run"
        )
    return done, previous


def _frame_path(run_dir: Path, number: int) -> Path:
    return run_dir / FRAMES / f"{number:06d}.png"


def _stylize_frames(
    feature_model,
    clip: Clip,
    inputs: stylize.Inputs,
    config: Config,
    logger: "ClipLogger",
    first: int = 0,
    previous: dict | None = None,
    state: dict | None = None,
) -> ClipOutcome:
    """Frames `first`... in order, each saved as it is done; then the video."""
    run_dir = logger.run_dir
    tie = None if previous is None else _restored(previous, clip.frames[first - 1], inputs, config)
    previous_shown = None if previous is None else previous["shown"]
    with StopRequests() as stop_requests, _retracing_expected():
        for index in range(first, len(clip.frames)):
            frame = clip.frames[index]
            link = None
            if index > 0:
                link = flow.link_frames(clip.frames[index - 1], frame, config.video.flow)
            prepared = stylize.prepare_colors(dataclasses.replace(inputs, content=frame), config)
            frame_inputs, frame_config = sequence.frame_inputs(
                prepared, sequence.frame_config(config, index), link, tie
            )
            logger.start_frame(index)
            frame_run = _FrameRun(run_dir, config, frame, index, logger, stop_requests)
            result, loss_fn = frame_run.stylize(feature_model, frame_inputs, frame_config, state)
            raw = result.image[0].numpy()
            shown = images.to_uint8(stylize.finish_colors(raw, frame, config))
            shown = shown.astype(np.float32) / 255.0  # as saved, so a resume measures the same
            images.save_image(_frame_path(run_dir, index + 1), shown)
            error = None if link is None else sequence.warping_error(shown, previous_shown, link)
            terms = result.terms() or _terms(loss_fn, result.image)
            logger.log_frame(index, result, terms, error)
            weights = None if frame_inputs.temporal is None else frame_inputs.temporal.weights
            tie = sequence.PreviousFrame(raw, prepared.content, weights)
            _save_previous(run_dir, index + 1, tie, shown)
            checkpoints.remove_checkpoint(run_dir)
            previous_shown, state = shown, None
    saved = [images.load_image(_frame_path(run_dir, n)) for n in range(1, len(clip.frames) + 1)]
    clips.write_video(run_dir / VIDEO, saved, clip.fps)
    final = logger.log_clip()
    return ClipOutcome(
        run_dir,
        run_dir / VIDEO,
        len(clip.frames),
        logger.steps_done,
        logger.evaluations,
        final["warping_error"],
        final,
        config.model.network,
        config.model.weights,
    )


class _FrameRun:
    """One frame's optimisation with its progress, stop requests and failure."""

    def __init__(self, run_dir, config, frame, index, logger, stop_requests):
        self._run_dir, self._config, self._frame, self._index = run_dir, config, frame, index
        self._logger, self._stop_requests = logger, stop_requests
        # A tiled frame's step can take minutes: a stop request leaves it at its next tile.
        self._step_stop = StepStop(lambda: stop_requests.signal_number is not None)
        self._loss_fn = None

    def stylize(self, feature_model, inputs, frame_config, state):
        """(result, the compiled loss of its last scale) of the frame, from `state` if given."""

        def optimise():
            return stylize.stylize(
                feature_model,
                inputs,
                frame_config,
                on_progress=self._on_progress,
                on_scale=self._on_scale,
                resume_from=state,
                on_tile=lambda done, count: self._step_stop.check(),
                step_stop=self._step_stop,
            )

        try:
            result = call_attentively(optimise)
        except RunInterrupted:
            raise
        except KeyboardInterrupt:
            self._logger.close()
            raise
        if result.diverged:
            self._logger.close()
            number = self._index + 1
            raise UserError(
                f"frame {number}: {result.stop_reason}; the frames before it are in "
                f"{self._run_dir / FRAMES}, and nst resume {self._run_dir} starts frame "
                f"{number} again"
            )
        return result, self._loss_fn

    def _on_scale(self, index, scale, loss_fn) -> None:
        self._loss_fn = loss_fn

    def _on_progress(self, progress) -> None:
        self._logger.on_progress(progress)
        signal_number = self._stop_requests.signal_number
        if signal_number is None:
            return
        meta = {"frame": self._index, "step": progress.step}
        checkpoints.save_checkpoint(self._run_dir, progress.optimizer_state(), meta)
        pixels = stylize.finish_colors(progress.image[0].numpy(), self._frame, self._config)
        images.save_image(self._run_dir / "interrupted.png", pixels)
        self._logger.close()
        raise RunInterrupted(signal_number, self._run_dir)


@contextlib.contextmanager
def _retracing_expected():
    """Each frame's loss is a new function (its targets are the frame's), so TensorFlow's
    warning about functions traced again and again says nothing a user could act on."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _terms(loss_fn, image: tf.Tensor) -> tuple[float, dict[str, float]]:
    total, terms = loss_fn(image)
    return float(total), {name: float(value) for name, value in terms.items()}


def _save_previous(
    run_dir: Path, frame: int, previous: sequence.PreviousFrame, shown: np.ndarray
) -> None:
    """previous.npz, atomically: the frame number, what the next frame takes from it and its
    result as saved (a first or independent frame has no weights: settled everywhere)."""
    partial = run_dir / (PREVIOUS + ".partial")
    arrays = {"raw": previous.result, "content": previous.content, "shown": shown}
    if previous.weights is not None:
        arrays["weights"] = previous.weights
    with open(partial, "wb") as file:
        np.savez(file, frame=np.array(frame), **arrays)
    os.replace(partial, run_dir / PREVIOUS)


def _restored(saved: dict, frame: np.ndarray, inputs, config) -> sequence.PreviousFrame:
    """The last finished frame as previous.npz holds it; one saved before nst kept the
    frame's content there gets the content as it was prepared (the same arrays)."""
    content = saved.get("content")
    if content is None:
        content = stylize.prepare_colors(dataclasses.replace(inputs, content=frame), config).content
    return sequence.PreviousFrame(saved["raw"], content, saved.get("weights"))


class ClipLogger:
    """One progress bar over every frame's steps; a metrics line and scalars per frame."""

    def __init__(
        self, run_dir: Path, config: Config, frames: int, show_progress: bool, done: int = 0
    ):
        self.run_dir = run_dir
        self._frames = frames
        steps = [_frame_steps(config, index) for index in range(frames)]
        self._steps_before = [sum(steps[:index]) for index in range(frames)]
        self._writer = tf.summary.create_file_writer(str(run_dir))
        path = run_dir / "metrics.jsonl"
        self._records = [
            record
            for record in _read_metrics(path)
            if not record.get("final") and record["frame"] <= done
        ]
        _write_metrics(path, self._records)
        self._metrics = path.open("a", encoding="utf-8")
        self._started = time.perf_counter() - sum(r["seconds"] for r in self._records)
        self._frame_started = time.perf_counter()
        self._offset = 0
        self.steps_done = sum(r["steps"] for r in self._records)
        self.evaluations = sum(r["evaluations"] for r in self._records)
        self._bar = tqdm.tqdm(
            total=sum(steps),
            initial=self._steps_before[done] if done < frames else sum(steps),
            unit="step",
            disable=not show_progress,
            dynamic_ncols=True,
        )

    def start_frame(self, index: int) -> None:
        self._offset = self._steps_before[index]
        self._frame_started = time.perf_counter()
        self._bar.set_description_str(f"frame {index + 1}/{self._frames}")

    def on_progress(self, progress) -> None:
        self._bar.update(self._offset + progress.step - self._bar.n)
        self._bar.set_postfix_str(f"loss={progress.loss:.4g}", False)

    def log_frame(self, index: int, result, terms, warping_error: float | None) -> None:
        total, parts = terms
        record = {
            "frame": index + 1,
            "steps": result.steps_done,
            "evaluations": result.evaluations,
            "seconds": round(time.perf_counter() - self._frame_started, 3),
            "loss/total": total,
            **{f"loss/{name}": value for name, value in parts.items() if "/" not in name},
        }
        if warping_error is not None:
            record["warping_error"] = warping_error
        self.steps_done += result.steps_done
        self.evaluations += result.evaluations
        with self._writer.as_default(step=index + 1):
            for key, value in record.items():
                if key.startswith("loss/"):
                    tf.summary.scalar(f"frame/{key}", value)
            if warping_error is not None:
                tf.summary.scalar("video/warping_error", warping_error)
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        self._records.append(record)

    def log_clip(self) -> dict[str, float]:
        """The clip's line: warping error and each loss term averaged over the frames."""
        errors = [r["warping_error"] for r in self._records if "warping_error" in r]
        keys = dict.fromkeys(key for r in self._records for key in r if key.startswith("loss/"))
        final = {
            "final": True,
            "frames": len(self._records),
            # NaN frames (nothing reliable to compare) don't count
            "warping_error": float(np.nanmean(errors)) if errors else float("nan"),
            **{key: float(np.mean([r[key] for r in self._records if key in r])) for key in keys},
            "seconds": round(time.perf_counter() - self._started, 3),
        }
        with self._writer.as_default(step=len(self._records)):
            tf.summary.scalar("final/video/warping_error", final["warping_error"])
        self._metrics.write(json.dumps(final) + "\n")
        self.close()
        return final

    def close(self) -> None:
        self._bar.close()
        self._writer.flush()
        self._metrics.close()


def _frame_steps(config: Config, index: int) -> int:
    return sum(scale.steps for scale in stylize.plan_scales(sequence.frame_config(config, index)))


def _read_metrics(path: Path) -> list[dict]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line a kill cut short
            continue
    return records


def _write_metrics(path: Path, records: list[dict]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    os.replace(partial, path)
