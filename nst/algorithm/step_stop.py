"""Leaving a long step unfinished: the algorithm's side of a stop request (the run machinery's
side, signals and checkpoints, is nst.runs.interrupts)."""

import contextlib
from collections.abc import Callable, Iterator


class StepAbandoned(Exception):
    """Raised from inside a loss evaluation to leave the step it belongs to unfinished."""


class StepStop:
    """Leaves a step of minutes (a tiled print-size one) unfinished when a stop is requested.

    A callback inside the loss (nst.algorithm.tiling's per-tile one) calls `check()`;
    nst.algorithm.optimize arms it only while its optimiser has a whole state to go back to (not
    during its first evaluation), and turns the error that comes out of TensorFlow into a report
    of the last finished step."""

    def __init__(self, requested: Callable[[], bool]):
        self.requested = requested
        self._armed = False

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def check(self) -> None:
        if self._armed and self.requested():
            raise StepAbandoned("a stop was requested")
