"""scripts/stroke_directions.py: which way a picture's strokes run; turned pictures (issue 21)."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "stroke_directions.py"
_spec = importlib.util.spec_from_file_location("stroke_directions", SCRIPT)
stroke_directions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stroke_directions)


def test_stripes_fall_in_the_band_of_their_direction():
    horizontal = stroke_directions.stroke_direction_bands(stroke_directions.stripes(0, 8.0))
    assert horizontal[0] + horizontal[-1] > 0.99
    vertical = stroke_directions.stroke_direction_bands(stroke_directions.stripes(90, 8.0))
    assert vertical[5] + vertical[6] > 0.99
    rising = stroke_directions.stroke_direction_bands(stroke_directions.stripes(37.5, 8.0))
    assert rising[2] > 0.9  # 30-45 degrees counter-clockwise
    assert abs(rising.sum() - 1) < 1e-9


def test_a_turned_picture_turns_its_strokes_and_has_no_empty_corners():
    horizontal = stroke_directions.stripes(0, 8.0, side=256)
    turned = stroke_directions.turned(horizontal, 37.5)
    assert stroke_directions.stroke_direction_bands(turned)[2] > 0.8
    white = stroke_directions.turned(np.ones((120, 200, 3), np.float32), 30)
    assert white.min() > 0.95  # the crop lies inside the turned picture
    assert abs(white.shape[1] / white.shape[0] - 200 / 120) < 0.05  # and keeps its shape
    assert stroke_directions.turned(np.ones((120, 200, 3), np.float32), 90).shape == (200, 120, 3)


def test_the_directions_command_prints_a_row_per_picture(tmp_path, capsys):
    path = tmp_path / "stripes.png"
    stroke_directions.images.save_image(path, stroke_directions.stripes(90, 8.0, side=64))
    assert stroke_directions.main(["directions", str(path), "--region", "0", "1", "0", "0.5"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split("\t")
    assert float(row[5]) + float(row[6]) > 0.99 and row[-1] == str(path)
