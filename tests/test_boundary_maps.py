"""scripts/boundary_maps.py: the photo's HED boundaries found again in a result (issue 21)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "boundary_maps.py"
_spec = importlib.util.spec_from_file_location("boundary_maps", SCRIPT)
boundary_maps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(boundary_maps)


def vertical_line(column: int, size: int = 40) -> np.ndarray:
    probabilities = np.zeros((size, size), np.float32)
    probabilities[:, column] = 0.9
    return probabilities


def test_a_boundary_drawn_up_to_two_px_aside_still_counts_and_three_does_not():
    photo = vertical_line(20)
    assert boundary_maps.agreement(photo, vertical_line(22)) == (1.0, 1.0)
    assert boundary_maps.agreement(photo, vertical_line(23)) == (0.0, 0.0)


def test_strokes_the_photo_lacks_lower_precision_not_recall():
    photo = vertical_line(20)
    busy = vertical_line(20) + vertical_line(5) + vertical_line(35)
    recall, precision = boundary_maps.agreement(photo, busy)
    assert recall == 1.0 and precision == pytest.approx(1 / 3)


@pytest.mark.slow
def test_the_script_prints_recall_and_draws_the_sheet(tmp_path):
    # A dark square on light grey: its outline is a boundary HED finds; a flat grey has none.
    square = np.full((96, 128, 3), 200, np.uint8)
    square[24:72, 40:88] = 40
    Image.fromarray(square).save(tmp_path / "photo.png")
    Image.fromarray(np.full((96, 128, 3), 200, np.uint8)).save(tmp_path / "flat.png")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path / "photo.png"),
            str(tmp_path / "photo.png"),
            str(tmp_path / "flat.png"),
            "--labels",
            "same",
            "flat",
            "--sheet",
            str(tmp_path / "sheet.png"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = dict(line.split("\t", 1) for line in done.stdout.splitlines()[1:3])
    assert rows["same"] == "1.000\t1.000"
    assert rows["flat"].startswith("0.000")
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size == (3 * 512, 2 * 384 + 22)
