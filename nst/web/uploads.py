"""An uploaded file, read only after the checks every nst image gets.

The page takes uploads as plain files (not Gradio's image component, which would decode them
itself): the size is capped before anything is read, then nst.images.load_image refuses a
non-image, a truncated file or a decompression bomb with its one-line message.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst import images
from nst.errors import UserError

MAX_UPLOAD_MB = 25
MAX_SIDE = 4096  # an upload is used at most this large; image.size is what the run makes


def read_upload(path: str | os.PathLike, role: str, max_mb: float = MAX_UPLOAD_MB) -> np.ndarray:
    """The upload's pixels (float32 RGB in [0, 1]); UserError naming the file and what to do."""
    path = Path(path)
    name = path.name
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise UserError(
            f"{role} {name} is {size / 1024 / 1024:.1f} MB, over the page's {max_mb:g} MB limit: "
            "upload a smaller PNG or JPEG"
        )
    pixels = images.load_image(path, role=role)
    if max(pixels.shape[:2]) > MAX_SIDE:
        pixels = images.resize_longest_side(pixels, MAX_SIDE)
    return pixels
