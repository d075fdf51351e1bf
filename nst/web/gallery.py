"""The still-image runs under the runs folder, as the page's gallery shows them.

Reads run directories only (config.yaml, metrics.jsonl, final.png or the picture so far): no
TensorFlow. Every path the page reads from a request goes through `run_dir_under` or
`file_under`, which refuse anything outside the folders the page may show.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from nst.config import Config, load_config
from nst.errors import UserError
from nst.runs import checkpoints

SCORES = ("palette", "strokes", "contrast", "coherence", "content", "style")
MOST_RECENT = 60  # runs the gallery lists, newest first


@dataclasses.dataclass(frozen=True)
class RunEntry:
    run_dir: Path
    picture: Path | None  # final.png, else interrupted.png, else the latest snapshot
    status: str  # "finished", "stopped: can resume" or "unfinished"
    scores: dict[str, float]  # the quality readout of a finished run, else {}
    seconds: float | None

    @property
    def resumable(self) -> bool:
        return (self.run_dir / checkpoints.FILE).is_file() and self.status != "finished"

    def label(self, root: Path) -> str:
        return self.run_dir.relative_to(root).as_posix()

    def caption(self, root: Path) -> str:
        shown = " ".join(
            f"{name} {self.scores[name]:.2f}" for name in SCORES[:2] if name in self.scores
        )
        return f"{self.label(root)} · {shown or self.status}"

    def config(self) -> Config:
        return load_config(str(self.run_dir / "config.yaml"))


def list_runs(root: str | os.PathLike, limit: int = MOST_RECENT) -> list[RunEntry]:
    """The still-image runs under `root`, newest first (clips and trainings have other pages)."""
    root = Path(root)
    if not root.is_dir():
        return []
    run_dirs = [path.parent for path in root.rglob("config.yaml") if _is_still_run(path.parent)]
    run_dirs.sort(key=lambda path: (path / "config.yaml").stat().st_mtime, reverse=True)
    return [read_run(run_dir) for run_dir in run_dirs[:limit]]


def _is_still_run(run_dir: Path) -> bool:
    not_stills = ("clip.json", "model.keras", "validation", "frames")
    return (run_dir / "metrics.jsonl").is_file() and not any(
        (run_dir / name).exists() for name in not_stills
    )


def read_run(run_dir: Path) -> RunEntry:
    final = _final_line(run_dir / "metrics.jsonl")
    scores = {
        key.removeprefix("quality/"): value
        for key, value in final.items()
        if key.startswith("quality/")
    }
    if (run_dir / "final.png").is_file():
        picture, status = run_dir / "final.png", "finished"
    else:
        picture = _picture_so_far(run_dir)
        resumable = (run_dir / checkpoints.FILE).is_file()
        status = "stopped: can resume" if resumable else "unfinished"
    return RunEntry(run_dir, picture, status, scores, final.get("seconds"))


def _picture_so_far(run_dir: Path) -> Path | None:
    if (run_dir / "interrupted.png").is_file():
        return run_dir / "interrupted.png"
    snapshots = sorted((run_dir / "snapshots").glob("step_*.png"))
    return snapshots[-1] if snapshots else None


def _final_line(metrics: Path) -> dict:
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    finals = [line for line in lines if '"final": true' in line]
    try:
        return json.loads(finals[-1]) if finals else {}
    except json.JSONDecodeError:
        return {}


def run_dir_under(root: str | os.PathLike, value: str) -> Path:
    """The run directory `value` names (relative to `root`, as the page lists runs), refused
    unless it is a run directory inside `root`: a request can send any text."""
    root = Path(root).resolve()
    candidate = (root / value).resolve()
    if not candidate.is_relative_to(root) or not _is_still_run(candidate):
        raise UserError(f"{value!r} is not a run in {root}: pick one from the gallery")
    return candidate


def file_under(path: str | os.PathLike, folders: list[Path]) -> Path:
    """`path` resolved, refused unless it lies inside one of `folders` (the shipped assets and
    the runs folder): the only files a request may make the page read."""
    resolved = Path(path).resolve()
    if not resolved.is_file() or not any(
        resolved.is_relative_to(folder.resolve()) for folder in folders
    ):
        raise UserError(f"{path}: the page reads only files under {', '.join(map(str, folders))}")
    return resolved


def comparison(entries: list[RunEntry]) -> list[list[str]]:
    """Rows of [what, run A, run B...]: the readout, then the settings that differ."""
    from nst.web import controls

    rows = [
        ["seconds", *[_number(entry.seconds) for entry in entries]],
        *[[name, *[_number(entry.scores.get(name)) for entry in entries]] for name in SCORES],
    ]
    tables = [
        {row[0]: row[1] for row in controls.settings_table(entry.config())} for entry in entries
    ]
    for name in tables[0]:
        values = [table.get(name, "") for table in tables]
        if len(set(values)) > 1:
            rows.append([name, *values])
    return rows


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"
