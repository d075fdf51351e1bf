"""Load, resize and save images under the project's one pixel contract.

An image is a float32 numpy array of shape (height, width, 3), RGB, values in [0, 1]. Only numpy
and Pillow are imported here so that inputs can be checked before TensorFlow is loaded.
"""

import contextlib
import os
import re
import uuid
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nst.errors import UserError

# Modes that carry an alpha channel; transparency is composited over white (see _to_rgb8_float).
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_JPEG_QUALITY = 95  # Pillow's default of 75 visibly blurs fine stylised texture.
_CONVERT_CHUNK = 1 << 22  # values converted to 8 bits at a time (16 MB of float32)


def load_image(path, *, max_size: int | None = None, role: str = "image") -> np.ndarray:
    """Read any image Pillow opens, as float32 RGB in [0, 1].

    If max_size is given the image is resized (up or down) so its longest side is max_size.
    `role` ("content image", "style image", ...) names the image in error messages.
    """
    if max_size is not None:
        _check_size("max_size", max_size)
    path = Path(path)
    with _open_for_reading(path, role) as file, _pillow_warnings_handled():
        try:
            image = Image.open(file)
        except UnidentifiedImageError:
            reason = "empty file" if path.stat().st_size == 0 else "unrecognised format"
            raise UserError(
                f"{role} {_show_path(path)} is not an image Pillow can read ({reason}): "
                "use a PNG or JPEG"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _too_large(path, role, err) from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise _corrupt(path, role, err) from None
        try:
            image.seek(0)  # An animated GIF/PNG is read as its first frame.
            image.load()
            image = ImageOps.exif_transpose(image)  # Phones store portraits sideways plus a tag.
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _too_large(path, role, err) from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise _corrupt(path, role, err) from None
    pixels = _to_rgb_float(image, path, role)
    if max_size is not None and max(pixels.shape[:2]) != max_size:
        pixels = resize_longest_side(pixels, max_size)
    return pixels


def read_size(path) -> tuple[int, int] | None:
    """(width, height) from the image file's header alone, or None if it can't be read (then
    `load_image` says why)."""
    try:
        with _pillow_warnings_handled(), Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return None
    except Image.DecompressionBombWarning:
        return None


@contextlib.contextmanager
def _pillow_warnings_handled():
    with warnings.catch_warnings():
        # Pillow warns of damaged metadata (EXIF, TIFF tags) as it reads; the image then loads or
        # fails with an error of its own, and the warning's lines would only bury that one line.
        warnings.simplefilter("ignore", UserWarning)
        # Pillow only warns between 1x and 2x its pixel limit; a huge image is refused either way.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def resize_longest_side(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so the longest side is `size`, keeping the aspect ratio; each side at least 1 px."""
    _check_size("size", size)
    height, width = _check_image(image).shape[:2]
    scale = size / max(height, width)
    return resize_to(image, max(1, round(height * scale)), max(1, round(width * scale)))


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to exactly (height, width) with Lanczos, channel by channel in float."""
    _check_size("height", height)
    _check_size("width", width)
    image = _check_image(image)
    if image.shape[:2] == (height, width):
        return image.copy()
    # Pillow's 'F' mode resamples 32-bit floats, so there is no rounding to 8 bits on the way.
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[:, :, c])).resize(
                (width, height), Image.Resampling.LANCZOS
            )
        )
        for c in range(image.shape[2])
    ]
    # Lanczos overshoots at sharp edges; clip so the result keeps the [0, 1] contract.
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def save_image(path, image: np.ndarray) -> None:
    """Write the image (clipped to [0, 1], 8-bit) in the format named by the path's suffix.

    The file is written to a temporary name in the same directory and then renamed over `path`,
    so a crash never leaves a half-written image; missing parent directories are created.
    """
    path = Path(path)
    pixels = to_uint8(_check_image(image))
    if pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (height, width, 3), got {pixels.shape}")
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format not in Image.SAVE:  # Some suffixes (.psd, ...) Pillow can read but not write.
        raise UserError(
            f"can't save image {_show_path(path)}: unknown image file suffix '{path.suffix}': "
            "use .png or .jpg"
        )
    options = {"quality": _JPEG_QUALITY} if image_format == "JPEG" else {}
    # A unique hidden name, so parallel runs saving to one directory never share a temp file.
    temp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp_path, "xb") as file:
            Image.fromarray(pixels).save(file, format=image_format, **options)
            file.flush()
            os.fsync(file.fileno())  # Without this a power cut can leave the renamed file empty.
        os.replace(temp_path, path)
    except OSError as err:
        temp_path.unlink(missing_ok=True)
        reason = "permission denied" if isinstance(err, PermissionError) else _one_line(err)
        raise UserError(f"can't save image {_show_path(path)}: {reason}") from None
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


def to_uint8(image) -> np.ndarray:
    """Clip to [0, 1] and round to uint8, for files, TensorBoard and contact sheets."""
    pixels = np.ascontiguousarray(image, dtype=np.float32)
    result = np.empty(pixels.shape, np.uint8)
    flat_pixels, flat_result = pixels.reshape(-1), result.reshape(-1)
    # A chunk at a time: at 8192x6144 each whole-image float temporary is 604 MB, and saving
    # the result at the end of a print-size run was its peak (+2.2 GiB; now +0.9, most of it
    # the clipped copy finish_colors hands in).
    for start in range(0, flat_pixels.size, _CONVERT_CHUNK):
        chunk = flat_pixels[start : start + _CONVERT_CHUNK]
        # NaN would cast to an arbitrary byte; black is at least deterministic and visible.
        chunk = np.nan_to_num(chunk, nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(chunk, 0.0, 1.0, out=chunk)
        chunk *= 255.0
        flat_result[start : start + _CONVERT_CHUNK] = np.rint(chunk, out=chunk)
    return result


def _open_for_reading(path: Path, role: str):
    """Open `path` as a binary file, turning the file system's errors into one-line UserErrors."""
    if path.is_dir():  # Checked first: Windows reports opening a directory as access denied.
        raise UserError(f"{role} {_show_path(path)} is a directory: give the path of an image file")
    try:
        return open(path, "rb")  # The caller closes it with `with`.
    except FileNotFoundError:
        hint = (
            ""
            if path.is_absolute()
            else f" (paths are relative to the current directory, {os.getcwd()})"
        )
        raise UserError(f"{role} {_show_path(path)} not found{hint}") from None
    except PermissionError:
        raise UserError(
            f"{role} {_show_path(path)} can't be read: permission denied "
            "(check the file's permissions)"
        ) from None
    except OSError as err:
        raise UserError(f"{role} {_show_path(path)} can't be read: {_one_line(err)}") from None


def _to_rgb_float(image: Image.Image, path: Path, role: str) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to the (height, width, 3) float32 contract."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        gray = np.asarray(image).astype(np.float32) / 65535.0
    elif mode == "I":
        # Pillow reads 16-bit greyscale from some formats as 32-bit 'I'; only true 32-bit data
        # goes past 65535, so scaling by 255 (Pillow's 8-bit view) would wrongly clip it.
        values = np.asarray(image).astype(np.float64)
        depth_max = 65535.0 if values.max(initial=0) <= 65535 else float(2**31 - 1)
        gray = (values / depth_max).astype(np.float32)
    elif mode == "F":
        # Float images have no fixed range: [0, 1] data is taken as is, anything larger as 0..255.
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        gray = values if values.max(initial=0) <= 1.0 else values / 255.0
    else:
        return _to_rgb8_float(image, path, role)
    gray = np.clip(gray, 0.0, 1.0)
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2).astype(np.float32)


def _to_rgb8_float(image: Image.Image, path: Path, role: str) -> np.ndarray:
    """8-bit modes: composite any transparency over white, convert the rest to RGB."""
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    try:
        image = image.convert("RGBA" if has_alpha else "RGB")
    except (ValueError, OSError) as err:
        raise UserError(
            f"{role} {_show_path(path)} uses colour mode {image.mode}, which can't be converted "
            f"to RGB ({_one_line(err)}): save it as PNG or JPEG"
        ) from None
    pixels = np.asarray(image)
    # 16-bit RGB data keeps its depth if Pillow ever hands it over; 8-bit is the usual case.
    pixels = pixels.astype(np.float32) / float(np.iinfo(pixels.dtype).max)
    if not has_alpha:
        return pixels
    # Over white rather than black: a transparent logo or cut-out should not become a dark blob.
    alpha = pixels[:, :, 3:]
    return (pixels[:, :, :3] * alpha + (1.0 - alpha)).astype(np.float32)


def _check_size(name: str, size) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {size!r}")


def _check_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"expected an image of shape (height, width, channels), got {image.shape}")
    return image


def _too_large(path: Path, role: str, err: Exception) -> UserError:
    # Pillow's message is the only place the pixel count is known before decoding.
    match = re.search(r"\((\d+) pixels\)", str(err))
    size = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
    return UserError(
        f"{role} {_show_path(path)} has {size}, too large to load safely (Pillow's limit is "
        f"{Image.MAX_IMAGE_PIXELS:,}): resize it first, e.g. to 4000 px on the longest side"
    )


def _corrupt(path: Path, role: str, err: Exception) -> UserError:
    return UserError(
        f"{role} {_show_path(path)} is truncated or corrupt ({_one_line(err)}): "
        "re-export or re-download it"
    )


def _show_path(path) -> str:
    """The path quoted for an error line; repr-escaped if it holds a newline or the like, so the
    message stays one line."""
    text = str(path)
    return f"'{text}'" if text.isprintable() else repr(text)


def _one_line(err: Exception) -> str:
    """Pillow's and the OS's messages, squeezed onto one line for the CLI."""
    return " ".join(str(err).split()) or type(err).__name__
