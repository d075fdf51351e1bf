"""scripts/flow_tv_isotropy.py's axis share: which way a picture's strokes run (issue 21)."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "flow_tv_isotropy.py"
_spec = importlib.util.spec_from_file_location("flow_tv_isotropy", SCRIPT)
flow_tv_isotropy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flow_tv_isotropy)


def stripes(degrees: float, size: int = 128, period: float = 8.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = np.radians(degrees)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.sin(angle) - y * np.cos(angle)) / period)
    return np.repeat(wave[..., None], 3, axis=-1)


def test_strokes_along_the_axes_count_and_diagonal_ones_do_not():
    assert flow_tv_isotropy.axis_share(stripes(0)) > 0.99
    assert flow_tv_isotropy.axis_share(stripes(90)) > 0.99
    assert flow_tv_isotropy.axis_share(stripes(45)) < 0.01
    assert flow_tv_isotropy.axis_share(stripes(135)) < 0.01
