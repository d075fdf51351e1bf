"""Tests for nst/runs/report.py: members with solid-colour final images written in tmp_path."""

import csv

import numpy as np
import pytest
from PIL import Image

from nst.runs import report

KEYS = ["loss.style_weight", "loss.content_weight"]
COLOURS = [(255, 0, 0), (0, 160, 0), (0, 0, 255), (255, 200, 0), (128, 0, 128)]
SIZES = [(64, 32), (32, 64), (48, 48), (80, 20), (20, 80)]  # (width, height): varied aspects
WHITE, GREY = (255, 255, 255), (160, 160, 160)
TILE = 64


QUALITY = {
    "quality/palette": 9.6401,
    "quality/strokes": 0.32463,
    "quality/contrast": 0.75,
    "quality/coherence": 0.52,
    "quality/content": 0.5,
    "quality/style": 0.25,
}


def member(tmp_path, index, status="completed", error=""):
    """A member whose final image is solid COLOURS[index] of SIZES[index]; no image if failed."""
    run_dir = tmp_path / f"run{index}"
    final_image = None
    if status != "failed":
        run_dir.mkdir()
        final_image = str(run_dir / "final.png")
        Image.new("RGB", SIZES[index], COLOURS[index]).save(final_image)
    losses = {"loss/total": 12.5 * (index + 1), "loss/content": 2.0, "loss/style": 10.5}
    losses |= {"loss/tv": 0.001, "loss/style/block1_conv1": 1.0}
    return report.MemberResult(
        name=f"{index:02d}_style_weight={10**index}",
        values={"loss.style_weight": float(10**index), "loss.content_weight": 2.0},
        status=status,
        run_dir=str(run_dir),
        final_image=final_image,
        losses={} if status == "failed" else losses,
        evaluations=None if status == "failed" else 100 + index,
        seconds=None if status == "failed" else 1.5,
        error=error,
        quality={} if status == "failed" else QUALITY,
    )


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def sheet(tmp_path, results, keys=KEYS, **kwargs):
    """Write a contact sheet; return it as a uint8 array plus (columns, rows, caption_height)."""
    size = report.write_contact_sheet(tmp_path / "sheet.png", results, keys, TILE, **kwargs)
    pixels = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert (pixels.shape[1], pixels.shape[0]) == size
    columns, rows = report.grid_shape(len(results), kwargs.get("columns"))
    caption_height = (size[1] - report.MARGIN) // rows - report.MARGIN - TILE
    return pixels, columns, caption_height


def test_summary_csv_has_the_columns_in_order_and_one_row_per_member(tmp_path):
    results = [member(tmp_path, index) for index in range(3)]
    report.write_summary_csv(tmp_path / "summary.csv", results, KEYS)
    rows = read_csv(tmp_path / "summary.csv")
    assert rows[0] == [
        "member",
        "loss.style_weight",
        "loss.content_weight",
        "status",
        "loss/total",
        "loss/content",
        "loss/style",
        "loss/tv",
        "loss/palette",
        "quality/palette",
        "quality/strokes",
        "quality/contrast",
        "quality/coherence",
        "quality/content",
        "quality/style",
        "evaluations",
        "seconds",
        "run_dir",
        "error",
    ]
    assert [row[0] for row in rows[1:]] == [result.name for result in results]


def test_summary_csv_values_round_trip_compactly(tmp_path):
    results = [member(tmp_path, index) for index in range(2)]
    report.write_summary_csv(tmp_path / "summary.csv", results, KEYS)
    with open(tmp_path / "summary.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows[1]["loss.style_weight"] == "10" and rows[1]["loss.content_weight"] == "2"
    assert rows[1]["loss/total"] == "25" and rows[1]["loss/tv"] == "0.001"
    assert rows[1]["evaluations"] == "101" and float(rows[1]["seconds"]) == 1.5
    assert rows[1]["run_dir"] == results[1].run_dir and rows[1]["error"] == ""
    assert rows[1]["quality/palette"] == "9.6401" and rows[1]["quality/style"] == "0.25"
    assert [name for name in rows[0] if name.startswith("loss/style/")] == []


def test_failed_member_row_keeps_its_error_and_has_empty_losses(tmp_path):
    error = 'OOM, while allocating "block5" tensor'
    results = [member(tmp_path, 0), member(tmp_path, 1, status="failed", error=error)]
    report.write_summary_csv(tmp_path / "summary.csv", results, KEYS)
    with open(tmp_path / "summary.csv", newline="", encoding="utf-8") as file:
        failed = list(csv.DictReader(file))[1]
    assert failed["status"] == "failed" and failed["error"] == error
    empty = ["loss/total", "loss/content", "loss/style", "loss/tv", "evaluations", "seconds"]
    empty += list(report.QUALITY_COLUMNS)
    assert [failed[column] for column in empty] == [""] * len(empty)
    assert [path.name for path in tmp_path.iterdir() if path.suffix == ".tmp"] == []


@pytest.mark.parametrize(
    ("count", "columns", "grid"),
    [(1, None, (1, 1)), (4, None, (2, 2)), (5, None, (3, 2)), (5, 1, (1, 5)), (2, 9, (2, 1))],
)
def test_contact_sheet_size_follows_the_grid(tmp_path, count, columns, grid):
    results = [member(tmp_path, index) for index in range(count)]
    pixels, _, caption_height = sheet(tmp_path, results, columns=columns)
    assert report.grid_shape(count, columns) == grid
    width = grid[0] * (TILE + report.MARGIN) + report.MARGIN
    height = grid[1] * (TILE + caption_height + report.MARGIN) + report.MARGIN
    assert pixels.shape == (height, width, 3)
    assert caption_height > 2 * report.CAPTION_PADDING  # Room for the two caption lines.


def test_each_tile_shows_its_member_image_centred_with_aspect_kept(tmp_path):
    results = [member(tmp_path, index) for index in range(5)]
    pixels, columns, caption_height = sheet(tmp_path, results)
    for index, colour in enumerate(COLOURS):
        x, y = report.cell_origin(index, columns, TILE, caption_height)
        assert tuple(pixels[y + TILE // 2, x + TILE // 2]) == colour
        # Every image here is non-square, or square and filling the tile: check a letterbox.
        if SIZES[index][0] > SIZES[index][1]:
            assert tuple(pixels[y + 1, x + TILE // 2]) == WHITE
        elif SIZES[index][0] < SIZES[index][1]:
            assert tuple(pixels[y + TILE // 2, x + 1]) == WHITE
        else:
            assert tuple(pixels[y + 1, x + 1]) == colour


def test_failed_member_tile_is_grey(tmp_path):
    results = [member(tmp_path, 0), member(tmp_path, 1, status="failed", error="boom")]
    pixels, columns, caption_height = sheet(tmp_path, results)
    x, y = report.cell_origin(1, columns, TILE, caption_height)
    tile = pixels[y : y + TILE, x : x + TILE]
    assert tuple(tile[2, 2]) == GREY and tuple(tile[-3, -3]) == GREY
    assert (tile != GREY).any(axis=-1).any()  # The word 'failed' is drawn on it.


def test_captions_draw_text_below_each_tile(tmp_path):
    results = [member(tmp_path, index) for index in range(2)]
    pixels, columns, caption_height = sheet(tmp_path, results)
    for index in range(2):
        x, y = report.cell_origin(index, columns, TILE, caption_height)
        caption = pixels[y + TILE : y + TILE + caption_height, x : x + TILE]
        assert (caption != WHITE).any()


def test_long_captions_stay_inside_their_cell(tmp_path):
    keys = ["loss.style_weight", "a_very_long_config.key_name_that_cannot_fit_in_the_tile"]
    results = [member(tmp_path, index) for index in range(4)]
    pixels, columns, caption_height = sheet(tmp_path, results, keys=keys)
    x, _ = report.cell_origin(1, columns, TILE, caption_height)
    assert (pixels[:, x - report.MARGIN : x] == WHITE).all()  # The gap between columns.
    _, y = report.cell_origin(2, columns, TILE, caption_height)
    assert (pixels[y - report.MARGIN : y] == WHITE).all()  # The gap between rows.


def test_caption_names_the_last_key_part_and_the_status_when_not_completed(tmp_path):
    stopped = member(tmp_path, 1, status="stopped early", error="loss stopped improving")
    assert report.caption_lines(stopped, KEYS) == [
        "style_weight=10",
        "content_weight=2",
        "pal 9.64 str 0.325 coh 0.52",
        "stopped early",
    ]
    assert report.caption_lines(member(tmp_path, 2, status="failed"), KEYS)[-1] == "failed"


def test_caption_keeps_full_keys_when_last_parts_clash(tmp_path):
    result = report.MemberResult(
        name="00",
        values={"loss.style_weight": 0.001, "other.style_weight": "x", "optim.steps": 5},
        status="completed",
        run_dir=str(tmp_path),
        final_image=None,
        losses={},
        evaluations=None,
        seconds=None,
    )
    keys = ["loss.style_weight", "other.style_weight", "optim.steps"]
    assert report.caption_lines(result, keys) == [
        "loss.style_weight=0.001",
        "other.style_weight=x",
        "steps=5",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [(10.0, "10"), (0.001, "0.001"), (1e-05, "1e-05"), (0.1234567891, "0.1234567891")],
)
def test_format_value_is_compact_but_never_rounds(value, text):
    assert report.format_value(value) == text
