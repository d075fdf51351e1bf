"""Run directories that never collide: `<root>/<name>/<timestamp>[-N]`, made atomically."""

from datetime import datetime
from pathlib import Path

from nst.errors import UserError


def create_run_dir(root: str | Path, name: str) -> Path:
    """A new directory `<root>/<name>/<timestamp>`; a clash in the same second adds -2, -3..."""
    parent = Path(root) / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"output.root: can't create '{parent}' ({error.strerror}): choose a writable directory"
        ) from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        run_dir = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            run_dir.mkdir()  # Fails if it exists, so two runs never share a directory.
            return run_dir
        except FileExistsError:
            continue
    raise UserError(f"output.root: too many runs named '{parent / stamp}*': remove some")
