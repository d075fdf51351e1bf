"""Uploads get nst's image checks: a size cap, then one-line errors for what cannot be read."""

import pytest
from PIL import Image

from nst.errors import UserError
from nst.web import uploads


def test_a_good_upload_is_read_as_pixels(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (30, 20), (255, 0, 0)).save(path)
    pixels = uploads.read_upload(path, "photo")
    assert pixels.shape == (20, 30, 3) and pixels[0, 0].tolist() == [1.0, 0.0, 0.0]


def test_an_upload_over_the_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(bytes(3 * 1024 * 1024))
    with pytest.raises(UserError, match=r"photo huge.png is 3.0 MB, over the page's 2 MB limit"):
        uploads.read_upload(path, "photo", max_mb=2)


def test_a_decompression_bomb_is_refused_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (400, 400)).save(path)  # small on disk, "too many pixels" below
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100 // 2)
    with pytest.raises(UserError, match="too large to load safely") as refused:
        uploads.read_upload(path, "painting")
    assert "\n" not in str(refused.value)


def test_an_oversized_picture_is_used_at_most_max_side(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_SIDE", 50)
    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 100)).save(path)
    assert uploads.read_upload(path, "photo").shape == (25, 50, 3)
