"""Write docs/config-reference.md: every config key with its type, default and what it does,
from the settings' one source (nst/config/schema.py), so the page cannot drift from the code.

    python scripts/config_reference.py           # rewrite docs/config-reference.md
    python scripts/config_reference.py --check   # exit 1 if the page is out of date (tested)
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout

from nst.config import schema  # noqa: E402 (after the path)

PAGE = ROOT / "docs" / "config-reference.md"
_HEADER = "| key | type | default | what it does |"


def render() -> str:
    lines = [
        "# Config reference",
        "",
        "    nst run configs/starry.yaml --set loss.style_weight=10 image.size=384",
        "",
        "Every key a config file, `--set`, a sweep or `nst.stylize(...)` accepts, with its",
        "default; a config holds only what differs. Written by",
        "`python scripts/config_reference.py` from `nst/config/schema.py` (a test fails when this",
        "page and the code differ). How configs work: [Configs](configs.md); from Python:",
        "[Python](python.md).",
        "",
    ]
    section = None
    for info in schema.describe_settings():
        name = info.key.split(".")[0] if "." in info.key else ""
        if name != section:
            section = name
            lines += ["", f"## {section or 'Top level'}", "", _HEADER]
            lines.append("|---|---|---|---|")
        lines.append(_row(info))
        if info.key == "style":
            for entry in schema.describe_settings(schema.StyleImage, "style[]"):
                lines.append(_row(entry))
    return "\n".join(lines) + "\n"


def _row(info: schema.SettingInfo) -> str:
    if info.default is None:
        default = "required"
    elif isinstance(info.default, dict):
        default = ", ".join(f"{layer}: {weight:g}" for layer, weight in info.default.items())
    elif isinstance(info.default, str):
        default = f"`{info.default}`" if info.default else '`""`'
    else:
        default = (
            f"`{str(info.default).lower() if isinstance(info.default, bool) else info.default}`"
        )
    help_text = info.help + (f" ({' / '.join(info.choices)})" if info.choices else "")
    return f"| `{info.key}` | {info.kind} | {default} | {help_text.replace('|', '/')} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if different")
    args = parser.parse_args()
    text = render()
    if args.check:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is out of date: run python scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
