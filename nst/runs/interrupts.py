"""Ctrl-C and SIGTERM during a run: the first asks it to stop at the next step (or inside a long
tiled one) and save what it has; a second one ends the process at once. A caller in another
thread (the web page's Stop) asks the same through a threading.Event."""

import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped on a signal (or, with signal_number None, on a caller's request) after
    saving its checkpoint and its current image."""

    def __init__(self, signal_number: int | None, run_dir):
        if signal_number is None:
            super().__init__("stopped on request")
        else:
            super().__init__(f"stopped by {signal.Signals(signal_number).name}")
        self.signal_number = signal_number
        self.run_dir = run_dir

    def __reduce__(self):  # A sweep's worker process sends it back to the sweep.
        return RunInterrupted, (self.signal_number, self.run_dir)

    @property
    def exit_code(self) -> int:
        if self.signal_number is None:
            return 128 + signal.SIGINT
        return 128 + self.signal_number  # as a shell reports a process the signal ended: 130, 143


class StopRequests:
    """While active, the first SIGINT or SIGTERM is recorded in `.signal_number` instead of
    ending the process; the run polls `.requested` between chunks of steps (about once a
    second). `event`, when given, is a second way to ask, from any thread."""

    def __init__(self, event: threading.Event | None = None):
        self.signal_number: int | None = None
        self._event = event
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.signal_number is not None or (self._event is not None and self._event.is_set())

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():  # Only it may set handlers.
            for number in _SIGNALS:
                self._previous[number] = signal.signal(number, self._request_stop)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _request_stop(self, number: int, frame) -> None:
        self.signal_number = number
        # The next signal gets the system's default action: the process ends at once, even in
        # the middle of a long TensorFlow call. Checkpoints and images are written atomically,
        # so that cannot leave a half-written file in the run directory.
        for each in _SIGNALS:
            signal.signal(each, signal.SIG_DFL)
        print(
            f"\nnst: {signal.Signals(number).name}: stopping at the last finished step to save a "
            "checkpoint (press Ctrl-C again to quit at once)",
            file=sys.stderr,
            flush=True,
        )


def call_attentively(function: Callable[[], T]) -> T:
    """`function()`, run in a worker thread while the main thread waits for it, so that a
    signal's handler runs at once: Python runs handlers only in the main thread and only between
    its own instructions, and a tiled step at print size is one TensorFlow call of minutes
    (the first Ctrl-C's message and the second one's quitting would wait for it). Its result,
    or its exception, comes back as if it had been called here."""
    if threading.current_thread() is not threading.main_thread():
        return function()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = function()
        except BaseException as error:  # noqa: BLE001 (handed back to the caller as it was)
            outcome["error"] = error

    worker = threading.Thread(target=work, name="nst-optimise", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)  # returns to Python often, so handlers run
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
