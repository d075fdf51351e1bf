"""Which way do the strokes run, and who decides? (issue 21: the horizontal sky under flow TV)

    python scripts/stroke_directions.py charges            # what flow TV charges a perfect
                                                           # stroke pattern at each angle
    python scripts/stroke_directions.py turn PICTURE DEGREES OUT.png
                                                           # PICTURE turned counter-clockwise,
                                                           # cropped to its inside: no corners
    python scripts/stroke_directions.py directions PICTURE... [--region TOP BOTTOM LEFT RIGHT]
                                                           # the share of each picture's strokes
                                                           # in each 15 degree band

`charges`: flow TV (`loss.tv_form: flow`) should charge nothing for stripes, whatever their angle
(all their change is across the strokes). Printed as a share of the stripes' isotropic roughness,
for periods of 8, 4 and 3 px (the ripple the style loss paints is 3 to 5 px); a TV form that
charges some angles more than others pushes the strokes towards the cheap ones.

`directions`: each picture at 512 px on its long side; the stroke direction of every pixel (at
right angles to the structure tensor's main axis, as the coherence readout reads it) binned in
12 bands of 15 degrees counter-clockwise from horizontal, weighted by how oriented the pixel is
(l1 - l2). The region is in fractions of the picture (0 0.37 0 0.4: the top left). Turn the
photo and see whether a result's strokes turn with it; turn the painting and see whether they
turn with that. Under a second each.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst import images  # noqa: E402 (after the path: runs from a checkout)
from nst.algorithm import metrics  # noqa: E402

BAND_DEGREES = 15
_STRIPE_SIDE = 128
_FLOW_SIGMA = 3.0  # px: flow TV's window at 512 px


def stroke_direction_bands(rgb: np.ndarray) -> np.ndarray:
    """(180 / BAND_DEGREES,) shares of `rgb`'s oriented structure whose strokes run at 0-15,
    15-30, ... degrees counter-clockwise from horizontal; they sum to 1."""
    jxx, jyy, jxy = metrics.structure_tensor(rgb)
    gradient_degrees = np.degrees(0.5 * np.arctan2(2 * jxy, jxx - jyy))  # y points down
    stroke_degrees = (-(gradient_degrees + 90)) % 180  # at right angles, counter-clockwise
    orientedness = np.sqrt(np.square(jxx - jyy) + 4 * np.square(jxy))  # l1 - l2
    shares, _ = np.histogram(
        stroke_degrees, bins=180 // BAND_DEGREES, range=(0, 180), weights=orientedness
    )
    return shares / max(shares.sum(), np.finfo(float).tiny)


def turned(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """`rgb` turned counter-clockwise about its centre and, unless by quarter turns, cropped to
    the largest rectangle of its own shape that lies inside the turned picture (no empty
    corners)."""
    from PIL import Image  # only here: the rest of the script works on arrays

    height, width = rgb.shape[:2]
    picture = Image.fromarray(images.to_uint8(rgb))
    rotated = picture.rotate(degrees, resample=Image.BICUBIC, expand=True)
    if degrees % 90 == 0:
        return np.asarray(rotated, np.float32) / 255  # a quarter turn leaves no corners empty
    angle = np.radians(abs(degrees) % 180)
    cos, sin = abs(np.cos(angle)), abs(np.sin(angle))
    # A w x h rectangle turned by the angle spans (w cos + h sin) x (w sin + h cos); the scaled
    # copy that fits inside the original's turned outline needs both spans within w x h.
    scale = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
    crop_width, crop_height = int(width * scale), int(height * scale)
    left = (rotated.width - crop_width) // 2
    top = (rotated.height - crop_height) // 2
    cropped = rotated.crop((left, top, left + crop_width, top + crop_height))
    return np.asarray(cropped, np.float32) / 255


def stripes(degrees: float, period: float, side: int = _STRIPE_SIDE) -> np.ndarray:
    """(side, side, 3) grey stripes whose strokes run at `degrees` counter-clockwise."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float64)
    angle = np.radians(degrees)
    across = x * np.sin(angle) + y * np.cos(angle)  # y points down
    wave = 0.5 + 0.4 * np.sin(2 * np.pi * across / period)
    return np.repeat(wave[..., None], 3, axis=-1).astype(np.float32)


def flow_tv_charges(periods=(8.0, 4.0, 3.0), angles=range(0, 91, 15)) -> dict:
    """{period: [flow TV / isotropic roughness of stripes at each angle]}."""
    import tensorflow as tf  # only here: `directions` and `turn` need no TensorFlow

    from nst.algorithm import losses

    charges = {}
    for period in periods:
        row = []
        for degrees in angles:
            picture = tf.constant(stripes(degrees, period)[None])
            flow = float(losses.flow_roughness(picture, _FLOW_SIGMA))
            row.append(flow / float(losses.roughness(picture)))
        charges[period] = row
    return charges


def _print_charges() -> None:
    angles = range(0, 91, 15)
    print("period px\t" + "\t".join(f"{degrees} deg" for degrees in angles))
    for period, row in flow_tv_charges(angles=angles).items():
        print(f"{period:g}\t\t" + "\t".join(f"{charge:.4f}" for charge in row))


def _print_directions(paths: list[str], region: list[float]) -> None:
    top, bottom, left, right = region
    bands = range(0, 180, BAND_DEGREES)
    print(
        "\t".join(f"{start}-{start + BAND_DEGREES}" for start in bands) + "\t±15 of horiz.\tpicture"
    )
    for path in paths:
        rgb = images.resize_longest_side(images.load_image(path), 512)
        height, width = rgb.shape[:2]
        rgb = rgb[int(top * height) : int(bottom * height), int(left * width) : int(right * width)]
        shares = stroke_direction_bands(rgb)
        horizontal = shares[0] + shares[-1]
        print("\t".join(f"{share:.2f}" for share in shares) + f"\t{horizontal:.2f}\t\t{path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("charges", help="flow TV's charge for stripes at each angle")
    turn = commands.add_parser("turn", help="write a picture turned counter-clockwise")
    turn.add_argument("picture")
    turn.add_argument("degrees", type=float)
    turn.add_argument("out")
    directions = commands.add_parser("directions", help="which way each picture's strokes run")
    directions.add_argument("pictures", nargs="+")
    directions.add_argument(
        "--region",
        nargs=4,
        type=float,
        default=[0, 1, 0, 1],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
    )
    args = parser.parse_args(argv)
    if args.command == "charges":
        _print_charges()
    elif args.command == "turn":
        images.save_image(args.out, turned(images.load_image(args.picture), args.degrees))
        print(args.out)
    else:
        _print_directions(args.pictures, args.region)
    return 0


if __name__ == "__main__":
    sys.exit(main())
