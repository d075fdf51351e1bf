"""A sweep's report: summary.csv (one row per member) and contact_sheet.png (every final image).

Only numpy, Pillow and the standard library are imported, so a report can be rebuilt from finished
runs without loading TensorFlow.
"""

import contextlib
import csv
import math
import os
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nst import images
from nst.errors import UserError

LOSS_COLUMNS = ("loss/total", "loss/content", "loss/style", "loss/tv", "loss/palette")
# nst.algorithm.scoring.NAMES as metrics.jsonl names them (that module loads TensorFlow).
QUALITY_COLUMNS = (
    "quality/palette",
    "quality/strokes",
    "quality/contrast",
    "quality/coherence",
    "quality/content",
    "quality/style",
)
_TAIL_COLUMNS = ("evaluations", "seconds", "run_dir", "error")
MARGIN = 8  # Pixels around the sheet and between cells.
CAPTION_PADDING = 4  # Pixels above and below a cell's caption lines.
_LINE_SPACING = 2
_WHITE, _GREY, _BLACK = (255, 255, 255), (160, 160, 160), (0, 0, 0)


@dataclass(frozen=True)
class MemberResult:
    name: str
    values: dict[str, object]  # Varied dotted config keys -> this member's value.
    status: str  # "completed" | "stopped early" | "failed"
    run_dir: str
    final_image: str | None  # None when failed.
    losses: dict[str, float]  # Final "loss/..." values; {} when failed.
    evaluations: int | None
    seconds: float | None
    error: str = ""  # One line when failed; the stop reason when stopped early.
    quality: dict[str, float] = field(default_factory=dict)  # "quality/..." values; {} if none.


def write_summary_csv(path, results: Sequence[MemberResult], varied_keys: Sequence[str]) -> None:
    """One row per member, in order; per-layer losses stay in each run's metrics.jsonl."""
    columns = [*LOSS_COLUMNS, *QUALITY_COLUMNS]
    rows = [["member", *varied_keys, "status", *columns, *_TAIL_COLUMNS]]
    for result in results:
        values = [format_value(result.values.get(key)) for key in varied_keys]
        measured = result.losses | result.quality
        losses = [_format_measurement(measured.get(key)) for key in columns]
        run = [_format_measurement(result.evaluations), _format_measurement(result.seconds)]
        run += [result.run_dir, result.error]
        rows.append([result.name, *values, result.status, *losses, *run])
    _write_csv_atomically(Path(path), rows)


def write_contact_sheet(
    path,
    results: Sequence[MemberResult],
    varied_keys: Sequence[str],
    tile_size: int = 256,
    columns: int | None = None,
) -> tuple[int, int]:
    """Draw every member's final image in a captioned grid; return the sheet's (width, height)."""
    if not results:
        raise ValueError("a contact sheet needs at least one member")
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}")
    columns, rows = grid_shape(len(results), columns)
    font = _load_font()
    line_height = font.getbbox("Ay_|(")[3] + _LINE_SPACING
    captions = [caption_lines(result, varied_keys) for result in results]
    caption_height = max(map(len, captions)) * line_height + 2 * CAPTION_PADDING
    width, height = sheet_size(columns, rows, tile_size, caption_height)
    sheet = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(sheet)
    for index, (result, lines) in enumerate(zip(results, captions, strict=True)):
        x, y = cell_origin(index, columns, tile_size, caption_height)
        _draw_tile(sheet, draw, font, result, (x, y), tile_size, line_height)
        for number, line in enumerate(lines):
            text_y = y + tile_size + CAPTION_PADDING + number * line_height
            draw.text((x, text_y), fit_text(draw, line, font, tile_size), fill=_BLACK, font=font)
    images.save_image(path, np.asarray(sheet, dtype=np.float32) / 255.0)
    return width, height


def caption_lines(result: MemberResult, varied_keys: Sequence[str]) -> list[str]:
    """'style_weight=10' per varied key (the full key if two share a last part), the palette,
    strokes and coherence scores ('pal 9.64 str 0.324 coh 0.52', nst.algorithm.scoring), then
    the status."""
    last_parts = Counter(key.rsplit(".", 1)[-1] for key in varied_keys)
    lines = []
    for key in varied_keys:
        label = key.rsplit(".", 1)[-1]
        label = key if last_parts[label] > 1 else label
        lines.append(f"{label}={format_value(result.values.get(key))}")
    if "quality/palette" in result.quality:
        palette, strokes = result.quality["quality/palette"], result.quality["quality/strokes"]
        coherence = result.quality.get("quality/coherence")  # runs from before it was measured
        shown = "" if coherence is None else f" coh {coherence:.2f}"
        lines.append(f"pal {palette:.3g} str {strokes:.3g}{shown}")
    return lines if result.status == "completed" else [*lines, result.status]


def format_value(value) -> str:
    """A config value as text: '' for None, floats compact (10.0 -> '10') but never rounded."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        compact = format(value, "g")
        return compact if float(compact) == value else repr(float(value))
    return str(value)


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(columns, rows) for `count` cells: ceil(sqrt(count)) columns unless given, at most count."""
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    columns = min(columns, count)
    return columns, math.ceil(count / columns)


def sheet_size(columns: int, rows: int, tile_size: int, caption_height: int) -> tuple[int, int]:
    """(width, height) of a grid of tiles, each with its caption below, MARGIN all around."""
    cell_height = tile_size + caption_height
    return columns * (tile_size + MARGIN) + MARGIN, rows * (cell_height + MARGIN) + MARGIN


def cell_origin(index: int, columns: int, tile_size: int, caption_height: int) -> tuple[int, int]:
    """Top-left (x, y) of the index-th tile, filling rows left to right."""
    row, column = divmod(index, columns)
    cell_height = tile_size + caption_height
    return MARGIN + column * (tile_size + MARGIN), MARGIN + row * (cell_height + MARGIN)


def fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """The text, cut short with an ellipsis where it would be wider than `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    # The bitmap fallback font has no '…' glyph.
    ellipsis = "…" if isinstance(font, ImageFont.FreeTypeFont) else "..."
    if draw.textlength(ellipsis, font=font) > width:
        return ""
    while text and draw.textlength(text + ellipsis, font=font) > width:
        text = text[:-1]
    return text + ellipsis


def _draw_tile(sheet, draw, font, result: MemberResult, origin, tile_size, line_height) -> None:
    """The final image scaled to fit the tile and centred; grey with a word when there is none."""
    x, y = origin
    pixels = None
    # A missing or unreadable final image should not cost the whole sheet.
    with contextlib.suppress(UserError):
        if result.status != "failed" and result.final_image is not None:
            pixels = images.load_image(result.final_image, role="final image")
    if pixels is None:
        word = "failed" if result.status == "failed" else "no image"
        draw.rectangle((x, y, x + tile_size - 1, y + tile_size - 1), fill=_GREY)
        word = fit_text(draw, word, font, tile_size)
        text_x = x + (tile_size - draw.textlength(word, font=font)) / 2
        draw.text((text_x, y + (tile_size - line_height) / 2), word, fill=_BLACK, font=font)
        return
    tile = Image.fromarray(images.to_uint8(images.resize_longest_side(pixels, tile_size)))
    sheet.paste(tile, (x + (tile_size - tile.width) // 2, y + (tile_size - tile.height) // 2))


def _load_font():
    try:
        return ImageFont.load_default(size=14)
    except (TypeError, ValueError, OSError, ImportError):  # Pillow < 10.1 or no FreeType.
        return ImageFont.load_default()


def _format_measurement(value) -> str:
    """Losses and times to 6 significant digits ('g'); metrics.jsonl keeps the full values."""
    if value is None:
        return ""
    return format(value, "g") if isinstance(value, float | np.floating) else str(value)


def _write_csv_atomically(path: Path, rows) -> None:
    """Write a temp file beside `path`, then rename it, so a crash never leaves half a CSV."""
    temp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp_path, "x", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, path)
    except OSError as err:
        temp_path.unlink(missing_ok=True)
        raise UserError(f"can't write '{path}': {' '.join(str(err).split())}") from None
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
