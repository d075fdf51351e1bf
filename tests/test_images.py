"""Tests for nst/images.py: every input is a small image generated with Pillow in tmp_path."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nst import images
from nst.errors import UserError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def assert_contract(image, shape):
    assert image.dtype == np.float32
    assert image.shape == shape
    assert image.min() >= 0.0 and image.max() <= 1.0


def write_png_rgb16(path, pixels):
    """Hand-written 16-bit RGB PNG, since Pillow cannot write one itself."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# Loading: the pixel contract for every kind of input.


def test_load_gives_float32_rgb_in_unit_range(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (5, 3), (10, 200, 255)).save(path)
    assert_contract(images.load_image(path), (3, 5, 3))


def test_rgb_pixel_round_trips_through_save_and_load(tmp_path):
    image = np.full((2, 3, 3), [0.3, 0.6, 0.9], dtype=np.float32)
    images.save_image(tmp_path / "out.png", image)
    loaded = images.load_image(tmp_path / "out.png")
    np.testing.assert_allclose(loaded, image, atol=1 / 255)


def test_jpeg_round_trips_approximately(tmp_path):
    image = np.full((16, 16, 3), [0.2, 0.5, 0.8], dtype=np.float32)
    images.save_image(tmp_path / "out.jpg", image)
    np.testing.assert_allclose(images.load_image(tmp_path / "out.jpg"), image, atol=3 / 255)


def test_grayscale_is_replicated_to_three_channels(tmp_path):
    path = tmp_path / "gray.png"
    Image.new("L", (4, 2), 51).save(path)
    loaded = images.load_image(path)
    assert_contract(loaded, (2, 4, 3))
    np.testing.assert_allclose(loaded, 0.2, atol=1e-6)


def test_bilevel_image_loads(tmp_path):
    path = tmp_path / "bits.png"
    Image.new("1", (3, 3), 1).save(path)
    np.testing.assert_allclose(images.load_image(path), 1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("RGBA", (2, 2), (0, 0, 0, 0)),
        lambda: Image.new("LA", (2, 2), (0, 0)),
        lambda: Image.new("P", (2, 2), 0),  # Palette entry 0 (black) made transparent below.
    ],
    ids=["RGBA", "LA", "P"],
)
def test_transparent_pixels_become_white(tmp_path, make):
    path = tmp_path / "transparent.png"
    image = make()
    image.save(path, **({"transparency": 0} if image.mode == "P" else {}))
    np.testing.assert_allclose(images.load_image(path), 1.0)


def test_half_transparent_pixel_is_blended_over_white(tmp_path):
    path = tmp_path / "half.png"
    Image.new("RGBA", (1, 1), (0, 0, 0, 51)).save(path)  # Black at alpha 0.2.
    np.testing.assert_allclose(images.load_image(path), 0.8, atol=1e-6)


def test_palette_colours_are_looked_up(tmp_path):
    path = tmp_path / "palette.png"
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    image.putpixel((1, 0), 1)
    image.save(path)
    loaded = images.load_image(path)
    np.testing.assert_allclose(loaded[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded[0, 1], [0, 0, 1])


def test_sixteen_bit_grayscale_scales_by_its_full_depth(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[65535, 32768, 0]], dtype=np.uint16)).save(path)
    loaded = images.load_image(path)
    assert_contract(loaded, (1, 3, 3))
    np.testing.assert_allclose(loaded[0, :, 0], [1.0, 32768 / 65535, 0.0], atol=1e-6)


def test_thirty_two_bit_integer_image_with_sixteen_bit_values(tmp_path):
    path = tmp_path / "int.tif"
    Image.new("I", (2, 2), 65535).save(path)
    np.testing.assert_allclose(images.load_image(path), 1.0)


def test_sixteen_bit_rgb_png_keeps_its_colours(tmp_path):
    path = tmp_path / "rgb16.png"
    write_png_rgb16(path, np.array([[[65535, 32768, 0]]], dtype=np.uint16))
    loaded = images.load_image(path)
    assert_contract(loaded, (1, 1, 3))
    np.testing.assert_allclose(loaded[0, 0], [1.0, 0.5, 0.0], atol=1 / 255)


def test_float_image_in_unit_range_is_taken_as_is(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.full((2, 2), 0.25, dtype=np.float32)).save(path)
    np.testing.assert_allclose(images.load_image(path), 0.25)


def test_cmyk_image_is_converted_to_rgb(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path)  # Pure red in print colours.
    np.testing.assert_allclose(images.load_image(path)[4, 4], [1, 0, 0], atol=0.05)


def test_lab_image_is_converted_to_rgb(tmp_path):
    path = tmp_path / "lab.tif"
    Image.new("LAB", (2, 2), (100, 128, 128)).save(path)  # L=39%, a=b=0: a neutral grey.
    pixel = images.load_image(path)[0, 0]
    np.testing.assert_allclose(pixel, pixel.mean(), atol=0.02)
    assert 0.2 < pixel.mean() < 0.6


def test_exif_orientation_turns_the_photo_upright(tmp_path):
    path = tmp_path / "portrait.jpg"
    stored = Image.new("RGB", (16, 8), BLUE)
    stored.paste(RED, (0, 0, 8, 8))  # Left half red as stored.
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: display rotated 90 degrees clockwise.
    stored.save(path, exif=exif, quality=95)
    loaded = images.load_image(path)
    assert loaded.shape == (16, 8, 3)
    # Clockwise, the stored left half becomes the top half.
    np.testing.assert_allclose(loaded[0, -1], [1, 0, 0], atol=0.1)
    np.testing.assert_allclose(loaded[-1, 0], [0, 0, 1], atol=0.1)


def test_animated_gif_gives_its_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (4, 4), colour) for colour in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    np.testing.assert_allclose(images.load_image(path)[0, 0], [1, 0, 0], atol=0.02)


@pytest.mark.parametrize("size", [(1, 1), (3, 2)])
def test_tiny_image_loads_and_upsizes_to_max_size(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size, (0, 128, 255)).save(path)
    width, height = size
    assert images.load_image(path).shape == (height, width, 3)
    upsized = images.load_image(path, max_size=8)
    assert_contract(upsized, (8, 8, 3) if size == (1, 1) else (5, 8, 3))


def test_max_size_shrinks_the_longest_side(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (40, 10)).save(path)
    assert images.load_image(path, max_size=20).shape == (5, 20, 3)


@pytest.mark.parametrize("max_size", [0, -3, 2.5, True])
def test_max_size_must_be_a_positive_integer(tmp_path, max_size):
    with pytest.raises(ValueError, match="max_size"):
        images.load_image(tmp_path / "never_read.png", max_size=max_size)


# Resizing.


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [((100, 200), 50, (25, 50)), ((200, 100), 50, (50, 25)), ((30, 30), 90, (90, 90))],
)
def test_resize_longest_side_keeps_the_aspect_ratio(shape, size, expected):
    image = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    assert_contract(images.resize_longest_side(image, size), (*expected, 3))


def test_resize_never_makes_a_side_zero():
    assert images.resize_longest_side(np.zeros((1, 1000, 3), np.float32), 10).shape == (1, 10, 3)


def test_resize_to_gives_the_exact_shape():
    image = np.zeros((10, 10, 3), np.float32)
    assert_contract(images.resize_to(image, 7, 13), (7, 13, 3))


def test_resize_keeps_float_precision():
    # 0.3001 is not a multiple of 1/255; an 8-bit detour would round it.
    resized = images.resize_to(np.full((9, 9, 3), 0.3001, np.float32), 4, 4)
    np.testing.assert_allclose(resized, 0.3001, atol=1e-5)


def test_resize_clips_lanczos_overshoot_at_sharp_edges():
    image = np.zeros((8, 8, 3), np.float32)
    image[:, 4:] = 1.0
    assert_contract(images.resize_to(image, 8, 21), (8, 21, 3))


# Saving.


def test_save_leaves_no_temp_files_and_replaces_an_existing_file(tmp_path):
    path = tmp_path / "result.png"
    images.save_image(path, np.zeros((2, 2, 3), np.float32))
    images.save_image(path, np.ones((2, 2, 3), np.float32))
    assert os.listdir(tmp_path) == ["result.png"]
    np.testing.assert_allclose(images.load_image(path), 1.0)


def test_failed_save_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "result.png"
    images.save_image(path, np.zeros((2, 2, 3), np.float32))

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(UserError, match="No space left"):
        images.save_image(path, np.ones((2, 2, 3), np.float32))
    assert os.listdir(tmp_path) == ["result.png"]
    monkeypatch.undo()
    np.testing.assert_allclose(images.load_image(path), 0.0)


def test_save_clips_out_of_range_values(tmp_path):
    path = tmp_path / "clipped.png"
    images.save_image(path, np.array([[[-0.5, 0.5, 1.7]]], np.float32))
    np.testing.assert_allclose(images.load_image(path), [[[0.0, 0.5, 1.0]]], atol=1 / 255)


def test_save_creates_missing_directories(tmp_path):
    path = tmp_path / "run" / "snapshots" / "0001.png"
    images.save_image(path, np.zeros((2, 2, 3), np.float32))
    assert path.is_file()


def test_save_with_unknown_suffix_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"\.xyz"):
        images.save_image(tmp_path / "out.xyz", np.zeros((2, 2, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_to_uint8_clips_and_rounds():
    pixels = images.to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan], np.float32))
    assert pixels.dtype == np.uint8
    assert pixels.tolist() == [0, 0, 128, 255, 255, 0]


def test_to_uint8_converts_an_image_larger_than_its_chunk_whole():
    # More values than images._CONVERT_CHUNK, the last chunk a partial one, NaN at both ends.
    image = np.random.default_rng(0).uniform(-0.2, 1.2, (1201, 1203, 3)).astype(np.float32)
    image[0, 0, 0] = image[-1, -1, -1] = np.nan
    assert image.size > images._CONVERT_CHUNK
    expected = np.rint(np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0).astype(np.uint8)
    converted = images.to_uint8(image[None])  # a batch of one, as TensorBoard's are
    assert converted.shape == (1, 1201, 1203, 3)
    assert np.array_equal(converted[0], expected)


# Bad input: one-line UserError naming the role and the path.


def load_error(path, role="style image"):
    with pytest.raises(UserError) as caught:
        images.load_image(path, role=role)
    message = str(caught.value)
    assert role in message and str(path) in message and "\n" not in message
    return message


def test_missing_file_names_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("x.jpg", role="content image")
    assert message.startswith("content image 'x.jpg' not found")
    assert str(tmp_path) in message


def test_missing_absolute_path(tmp_path):
    assert "not found" in load_error(tmp_path / "gone.png")


def test_directory_is_refused(tmp_path):
    assert "is a directory" in load_error(tmp_path)


@pytest.mark.parametrize(("content", "reason"), [(b"hello", "unrecognised"), (b"", "empty")])
def test_non_image_file_is_refused(tmp_path, content, reason):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    message = load_error(path)
    assert "is not an image Pillow can read" in message and reason in message
    assert "use a PNG or JPEG" in message


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_file_is_refused(tmp_path, suffix):
    path = tmp_path / f"cut.{suffix}"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "truncated or corrupt" in load_error(path)


@pytest.mark.parametrize("side", [15, 12], ids=["error", "warning"])
def test_decompression_bomb_is_refused(tmp_path, monkeypatch, side):
    # Pillow warns above its limit and raises above twice the limit; both are refused.
    path = tmp_path / "huge.png"
    Image.new("RGB", (side, side)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    message = load_error(path)
    assert f"{side * side} pixels" in message and "too large" in message
    assert "resize it first" in message


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Shadows the builtin inside nst.images only; chmod cannot lock out root, which CI may be.
    monkeypatch.setattr(images, "open", deny, raising=False)
    assert "permission denied" in load_error(path)
