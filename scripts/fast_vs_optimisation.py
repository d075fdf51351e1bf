"""A trained network's results beside the optimisation's for the same photos (docs/fast.md).

    nst run configs/starry.yaml --set content=assets/kodak/validation   # runs/starry/<time>
    nst apply models/starry.keras assets/kodak/validation --size 512    # runs/apply/starry/<time>
    python scripts/fast_vs_optimisation.py runs/starry/<time> runs/apply/starry/<time> \\
        --sheet docs/images/fast_vs_optimisation.jpg

Prints each photo's quality readout (nst score's: palette, strokes, ... against the photo and
The Starry Night) for both results and their differences, and draws one row per photo: the
photo, the optimisation's result and the network's, each captioned with the time it took.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst import api, images  # noqa: E402 (after the path: runs from a checkout)

STYLE = "assets/starry_night.jpg"
_TILE = 320
_CAPTION = 22


def _optimisation_runs(batch_dir: Path) -> dict[str, tuple[Path, float, str]]:
    """{photo stem: (final.png, seconds, the photo's path)} of a finished batch."""
    runs = {}
    for run_dir in sorted(path for path in batch_dir.iterdir() if path.is_dir()):
        if not (run_dir / "final.png").is_file():
            continue
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        final = json.loads(lines[-1])
        config = (run_dir / "config.yaml").read_text()
        content = next(
            line.split(":", 1)[1].strip()
            for line in config.splitlines()
            if line.startswith("content:")
        )
        runs[Path(content).stem] = (run_dir / "final.png", final["seconds"], content)
    return runs


def _applied(apply_dir: Path) -> dict[str, tuple[Path, float]]:
    records = [json.loads(line) for line in (apply_dir / "metrics.jsonl").open()]
    return {Path(r["input"]).stem: (Path(r["output"]), r["seconds"]) for r in records}


def _tile(path, caption: str) -> Image.Image:
    picture = Image.fromarray(images.to_uint8(images.load_image(path, max_size=_TILE)))
    tile = Image.new("RGB", (picture.width, picture.height + _CAPTION), "white")
    tile.paste(picture, (0, 0))
    ImageDraw.Draw(tile).text((4, picture.height + 4), caption, fill="black")
    return tile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("batch_dir", type=Path, help="nst run's batch over the photos")
    parser.add_argument("apply_dir", type=Path, help="nst apply's directory for them")
    parser.add_argument("--sheet", type=Path, help="write the side-by-side PNG here")
    args = parser.parse_args()
    optimised, fast = _optimisation_runs(args.batch_dir), _applied(args.apply_dir)
    names = sorted(set(optimised) & set(fast))
    rows, differences = [], []
    for name in names:
        final, seconds, photo = optimised[name]
        result, fast_seconds = fast[name]
        scores, _ = api.quality_readouts(photo, STYLE, [str(final), str(result)], "vgg16", "hed")
        slow_score, fast_score = scores
        print(f"{name}: optimisation {seconds:.0f} s, network {fast_seconds * 1000:.0f} ms")
        for metric in ("palette", "strokes", "contrast", "coherence", "content", "style"):
            change = fast_score[metric] - slow_score[metric]
            print(
                f"  {metric:<9} {slow_score[metric]:8.3f} {fast_score[metric]:8.3f} {change:+8.3f}"
            )
        differences.append([fast_score[m] - slow_score[m] for m in ("palette", "strokes")])
        rows.append(
            [
                _tile(photo, f"{name}: photo"),
                _tile(final, f"optimisation, {seconds / 60:.1f} min"),
                _tile(result, f"trained network, {fast_seconds * 1000:.0f} ms"),
            ]
        )
    mean = np.mean(differences, axis=0)
    print(
        f"mean difference (network - optimisation): palette {mean[0]:+.3f}, strokes {mean[1]:+.3f}"
    )
    if args.sheet:
        width = max(sum(tile.width for tile in row) for row in rows) + 8 * 2
        height = sum(max(tile.height for tile in row) for row in rows) + 8 * (len(rows) - 1)
        sheet = Image.new("RGB", (width, height), "white")
        y = 0
        for row in rows:
            x = 0
            for tile in row:
                sheet.paste(tile, (x, y))
                x += tile.width + 8
            y += max(tile.height for tile in row) + 8
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.sheet)
        print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
