"""Finished runs side by side in one captioned contact sheet, as `nst sweep` draws its members'.

For runs of different config files, which one sweep cannot hold (a sweep varies keys of one base
config): the peer recipes' sheet in docs/quality.md "Peer recipes" was made by

    nst run configs/recipes/jcjohnson.yaml --set image.size=256 optim.steps=150   # and the others
    .venv/bin/python scripts/contact_sheet.py docs/images/recipes_contact_sheet.png \\
        runs/jcjohnson/<time> runs/tf_tutorial/<time> runs/tch_rs/<time>

Each tile is a run's final.png, captioned with its run group (runs/<group>/<time>), its final
content and style terms and its palette and strokes scores (docs/quality.md "Quality readout").
"""

import argparse
import dataclasses
from pathlib import Path

from nst.runs import report, sweep_runner
from nst.runs.sweep import Member


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="the PNG to write")
    parser.add_argument("run_dirs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument("--columns", type=int, help="tiles per row (default: all in one row)")
    args = parser.parse_args()
    results = []
    for run_dir in args.run_dirs:
        group = run_dir.resolve().parent.name
        result = sweep_runner.finished_result(Member(group, {}, ()), run_dir)
        if result is None:
            raise SystemExit(f"{run_dir}: not a finished run (no final.png, or no final metrics)")
        values = {
            "run": group,
            "content": f"{result.losses['loss/content']:.3g}",
            "style": f"{result.losses['loss/style']:.3g}",
        }
        results.append(dataclasses.replace(result, values=values))
    columns = args.columns or len(results)
    width, height = report.write_contact_sheet(args.output, results, list(values), columns=columns)
    print(f"{args.output}: {len(results)} runs, {width}x{height} px")


if __name__ == "__main__":
    main()
