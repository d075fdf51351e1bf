"""Time left in a run whose steps cost more at each scale: for the progress bar.

A step's cost grows with its scale's pixel count: with the default 128 -> 256 -> 512 px pyramid,
the 300 coarse steps take less time than the last 60, so a rate of steps per second (tqdm's own
estimate) would promise the end far too early. Here each step weighs (scale size / output
size)^2, and the seconds per unit of weight are measured on the scale running now.
"""

import time
from collections.abc import Sequence


class TimeLeft:
    def __init__(self, scale_sizes: Sequence[int], scale_steps: Sequence[int]):
        largest = max(scale_sizes)
        self._weights = [(size / largest) ** 2 for size in scale_sizes]
        self._steps = list(scale_steps)
        self._seconds_per_unit = None  # from the last scale measured, until this one has a rate
        self._scale = 0
        self._scale_start = (0, time.perf_counter())

    def start_scale(self, index: int, step: int) -> None:
        """The run's scale `index` starts (or resumes) at the run's step `step`, now."""
        self._scale = index
        self._scale_start = (step, time.perf_counter())

    def seconds(self, step: int) -> float | None:
        """Seconds left after the run's step `step`; None until a rate has been measured."""
        start_step, start_time = self._scale_start
        if step > start_step:
            weight = self._weights[self._scale]
            rate = (time.perf_counter() - start_time) / ((step - start_step) * weight)
            self._seconds_per_unit = rate
        if self._seconds_per_unit is None:
            return None
        end_of_scale = sum(self._steps[: self._scale + 1])
        work = (end_of_scale - step) * self._weights[self._scale]
        work += sum(
            steps * weight
            for steps, weight in zip(
                self._steps[self._scale + 1 :], self._weights[self._scale + 1 :], strict=True
            )
        )
        return max(0.0, work) * self._seconds_per_unit

    def text(self, step: int) -> str:
        """'2:31 left', or '' before the first rate."""
        seconds = self.seconds(step)
        if seconds is None:
            return ""
        minutes, seconds = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        shown = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        return f"{shown} left"
