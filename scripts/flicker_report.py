"""Compare a clip stylized with the temporal term against the same clip stylized frame by frame.

    python scripts/flicker_report.py TIED_RUN INDEPENDENT_RUN [--gif docs/images/video.gif]

TIED_RUN and INDEPENDENT_RUN are run directories of the same config, the second with
`--set video.temporal_weight=0` (docs/video.md "Video"). Prints each run's warping error (the
flicker: nst.algorithm.flow.warping_error, averaged over the frames) and its ratio, and the
per-frame content and style terms of the two runs with their difference; `--gif` writes the two
clips side by side (independent left, temporal right) as an animated GIF.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nst import images
from nst.runs import clips  # noqa: E402 (after the path: runs from a checkout)


def frame_records(run_dir: Path) -> tuple[list[dict], dict]:
    """(one record per frame, the clip's final record) from a clip run's metrics.jsonl."""
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    final = records[-1]
    if not final.get("final"):
        raise SystemExit(f"{run_dir} has not finished (no final line in metrics.jsonl)")
    return records[:-1], final


def mean_term(records: list[dict], term: str, skip_first: bool = True) -> float:
    """A loss term averaged over the frames after the first (the first is the same schedule
    and start in both runs)."""
    chosen = records[1:] if skip_first and len(records) > 1 else records
    return float(np.mean([record[f"loss/{term}"] for record in chosen]))


def side_by_side(left: Path, right: Path) -> list[np.ndarray]:
    frames = []
    for left_frame in sorted((left / "frames").glob("*.png")):
        right_frame = right / "frames" / left_frame.name
        gap = np.ones((images.load_image(left_frame).shape[0], 4, 3), np.float32)
        frames.append(
            np.concatenate(
                [images.load_image(left_frame), gap, images.load_image(right_frame)], axis=1
            )
        )
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tied", type=Path, help="the run with video.temporal_weight > 0")
    parser.add_argument("independent", type=Path, help="the run with video.temporal_weight=0")
    parser.add_argument("--gif", type=Path, help="write the side-by-side GIF here")
    parser.add_argument(
        "--gif-width", type=int, default=400, help="the GIF's width in px (default 400: small)"
    )
    args = parser.parse_args(argv)
    tied_frames, tied = frame_records(args.tied)
    alone_frames, alone = frame_records(args.independent)
    ratio = alone["warping_error"] / tied["warping_error"]
    print(f"frames: {tied['frames']} (tied), {alone['frames']} (independent)")
    print(
        f"warping error: tied {tied['warping_error']:.5f}, independent "
        f"{alone['warping_error']:.5f}: {ratio:.1f}x lower with the temporal term"
    )
    for term in ("content", "style"):
        tied_term, alone_term = mean_term(tied_frames, term), mean_term(alone_frames, term)
        change = 100 * (tied_term - alone_term) / alone_term
        print(
            f"{term} term, frames 2..n: tied {tied_term:.4f}, independent {alone_term:.4f} "
            f"({change:+.1f}%)"
        )
    print(f"seconds: tied {tied['seconds']:.0f}, independent {alone['seconds']:.0f}")
    if args.gif:
        fps = clips.read_video(args.tied / "result.mp4").fps
        frames = [
            images.resize_longest_side(frame, args.gif_width)
            for frame in side_by_side(args.independent, args.tied)
        ]
        clips.write_gif(args.gif, frames, fps)
        print(f"side by side (independent left, temporal right): {args.gif}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
