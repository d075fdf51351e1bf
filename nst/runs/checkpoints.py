"""A run's checkpoint: the optimiser's state and the run's progress, in one file per run.

`checkpoint.npz` in the run directory holds the arrays of `stylize`'s optimizer_state() and a
JSON "meta" entry (the step, seconds and evaluations so far, the directory relative paths start
from). It is written to a temporary name, synced, then renamed over the old one, so a crash or a
second Ctrl-C at any moment leaves either the old checkpoint or the new one, never half of one.
"""

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nst.errors import UserError

FILE = "checkpoint.npz"
_PARTIAL = FILE + ".partial"
_FORMAT = 2  # raised when the layout changes, so an old file is refused, not misread


def save_checkpoint(run_dir: Path, state: Mapping, meta: Mapping) -> Path:
    """Write `state` (name -> array, or a function returning one, called as it is written, so
    that a large state need not be in memory all at once) and `meta` (JSON)."""
    path, partial = run_dir / FILE, run_dir / _PARTIAL
    entries = {"meta": np.array(json.dumps({**meta, "format": _FORMAT})), **state}
    with open(partial, "wb") as file:
        # The layout np.savez writes (np.load reads it back), one entry at a time.
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, value in entries.items():
                array = np.asarray(value() if callable(value) else value)
                with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, array, allow_pickle=False)
                del array  # before the next is read: one large copy at a time
        file.flush()
        os.fsync(file.fileno())  # on disk before the rename makes it the checkpoint
    os.replace(partial, path)
    _sync_directory(run_dir)
    return path


def load_checkpoint(run_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, state) of the run's checkpoint; a UserError naming the file when there is none
    or it cannot be read."""
    path = run_dir / FILE
    if not path.is_file():
        raise UserError(
            f"{run_dir} has no {FILE}: the run stopped before its first checkpoint "
            "(log.checkpoint_every) or finished; start it again with nst run"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(f"{path} cannot be read ({error}): start the run again") from None
    if meta.get("format") != _FORMAT:
        raise UserError(
            f"{path} was written by another version of nst (format {meta.get('format')}, "
            f"this one reads {_FORMAT}): start the run again"
        )
    return meta, arrays


def read_meta(run_dir: Path) -> dict | None:
    """The checkpoint's meta alone (its arrays stay on disk), or None without a readable one."""
    try:
        with np.load(run_dir / FILE, allow_pickle=False) as archive:
            return json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def remove_checkpoint(run_dir: Path) -> None:
    """Once the run has finished: the state can be gigabytes and is of no use any more."""
    for name in (FILE, _PARTIAL):
        (run_dir / name).unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (a power loss right after it keeps the new file)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Some systems can't open a directory; the rename is still atomic.
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
