"""A picture made in a background thread, which the page polls for the picture as it forms.

The run is an ordinary run directory (nst.stylize with save=True, or nst.resume): config.yaml,
TensorBoard events, metrics.jsonl, checkpoints, final.png. Stop sets the run's stop event: it
ends at its next step with a checkpoint and interrupted.png, as Ctrl-C does, so resuming gives
the same picture as a run never stopped. No Gradio here: the page only reads `Painting.state`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nst import api
from nst.errors import UserError
from nst.runs import eta
from nst.runs.interrupts import RunInterrupted


@dataclasses.dataclass(frozen=True)
class State:
    """What the page shows: `done` once the thread has ended (then `result`, `stopped` or
    `error` says how)."""

    text: str
    picture: np.ndarray | None
    done: bool
    result: api.Result | None = None
    run_dir: Path | None = None
    stopped: bool = False
    error: str = ""


class Painting:
    """One picture in progress: `start` it, poll `state`, `stop` it from any thread."""

    def __init__(self, work: Callable[[Callable, threading.Event], api.Result], what: str):
        self._work = work
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = State(f"{what}: loading the network and the images…", None, False)
        self._time_left: eta.TimeLeft | None = None
        self._scale = -1
        self._step = 0
        self._thread = threading.Thread(target=self._run, name="nst-web-picture", daemon=True)

    def start(self) -> Painting:
        self._thread.start()
        return self

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = self._work(self._on_step, self._stop)
        except RunInterrupted as stopped:
            run_dir = Path(stopped.run_dir)
            self._set(
                State(
                    f"Stopped at step {self._step}: the picture so far is kept in {run_dir}; "
                    "Resume continues it.",
                    self.state.picture,
                    True,
                    run_dir=run_dir,
                    stopped=True,
                )
            )
            return
        except UserError as error:
            self._set(State(f"⚠ {error}", self.state.picture, True, error=str(error)))
            return
        except Exception as error:  # noqa: BLE001 (one line on the page, never a traceback)
            line = f"⚠ the run failed: {type(error).__name__}: {error}".splitlines()[0]
            self._set(State(line, self.state.picture, True, error=line))
            return
        minutes, seconds = divmod(round(result.seconds), 60)
        text = f"Done: {result.steps} steps in {minutes}:{seconds:02d} ({result.stop_reason})."
        self._set(State(text, result.array, True, result=result, run_dir=result.run_dir))

    def _on_step(self, step: api.Step) -> None:
        if self._time_left is None:
            sizes, steps = zip(*step.schedule, strict=True)
            self._time_left = eta.TimeLeft(sizes, steps)
        if step.scale - 1 != self._scale:
            self._scale = step.scale - 1
            self._time_left.start_scale(self._scale, step.step)
        self._step = step.step
        left = self._time_left.text(step.step)
        text = (
            f"scale {step.scale}/{step.scales} ({step.size} px) · step {step.step}/{step.steps}"
            + (f" · {left}" if left else "")
        )
        self._set(State(text, step.array, False))

    def _set(self, state: State) -> None:
        with self._lock:
            self._state = state


def new_picture(
    content: Any, styles: list[Mapping[str, Any]], overrides: Mapping[str, Any], root: str
) -> Painting:
    """A new run directory under <root>/web/ painting `content` with `styles`."""

    def work(on_step, stop) -> api.Result:
        return api.stylize(
            content,
            styles,
            overrides=overrides,
            output={"root": root, "name": "web"},
            log={"every": 5},  # the picture as it forms, every few seconds
            save=True,
            progress=False,
            callback=on_step,
            stop=stop,
        )

    return Painting(work, "Starting")


def resumed_picture(run_dir: Path) -> Painting:
    def work(on_step, stop) -> api.Result:
        return api.resume(run_dir, progress=False, callback=on_step, stop=stop)

    return Painting(work, f"Resuming {run_dir.name}")


def wait_for_change(painting: Painting, last: State | None, every: float) -> State:
    """The painting's state once it differs from `last` (or every `every` seconds)."""
    deadline = time.monotonic() + every
    while time.monotonic() < deadline:
        state = painting.state
        if state is not last and (state.done or last is None or state.picture is not last.picture):
            return state
        time.sleep(0.1)
    return painting.state
