"""The documentation still matches the repository: README.md and every docs/*.md page.

- every relative link and image (`[..](x)`, `![..](x)`, `<img src="x">`) exists, and an `#anchor`
  into a Markdown page names one of its headings;
- every repository path shown as code (`configs/...`, `assets/...`, `docs/...`, `scripts/...`,
  `examples/...`, `nst/...`, `tests/...`) exists, so a moved module or test shows up here;
- every command shown in a code block still parses: `nst ...` with the CLI's own argparse parser,
  `make ...` against the Makefile (the target exists, and the `nst` command its recipe runs, as
  `make -n` prints it, parses too), `python scripts/X.py` names a script;
- every config key shown (`--set` and `ARGS="..."` overrides, `key=value` and `key: value` in
  inline code, the keys of YAML config and sweep examples) is one the config accepts;
- README.md stays short and links every docs page, and each docs page opens with its command.

Nothing runs: no TensorFlow, no optimisation; the whole module takes well under a second. Every
failure names the file, the line and what is wrong.
"""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from nst.config.schema import section_names

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "Makefile").is_file())
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOC_FILES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200
OPENING_LINES = 12  # a docs page's command comes within this many lines after its title
OPENING_COMMANDS = ("make ", "nst ", "python", ".venv/bin/", "import nst")
# Paths under these folders, shown as code, must exist (runs/ holds results: never checked).
CHECKED_PREFIXES = ("configs/", "assets/", "docs/", "scripts/", "examples/", "nst/", "tests/")
# Config sections: inline code naming `section.key` (with `=value` or `: value` or alone) is
# checked against the config. Other dotted names (`nst.runs.eta`, `final.png`) are not keys.
CONFIG_SECTIONS = section_names()
NOT_CONFIG_KEYS = {"optim.lbfgs"}  # Torch's L-BFGS, named in docs/performance.md
FILE_SUFFIXES = {"py", "png", "jpg", "gif", "mp4", "yaml", "md", "json", "jsonl", "csv", "npz"}
PLACEHOLDER = "x"  # what `<time>`, `<name>` and such become before a command is parsed

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMG = re.compile(r"<img\s[^>]*?src=\"([^\"]+)\"", re.IGNORECASE)
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PATH_SPLIT = re.compile(r"[\s\"'`()\[\]{},;=|]+")
_DOTTED_KEY = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)$")
_KEY_EQUALS = re.compile(r"(?:^|[\s\"'])([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)=")
_PLACEHOLDER = re.compile(r"<[^<>\s]+>")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


class Doc:
    """A Markdown file split into prose lines, code blocks and inline code spans."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.relative_to(ROOT).as_posix()
        self.lines = path.read_text(encoding="utf-8").splitlines()
        self.blocks: list[tuple[str, int, list[tuple[int, str]]]] = []  # (lang, line, lines)
        self.prose: list[tuple[int, str]] = []  # lines outside code blocks, 1-based numbers
        self._split()

    def where(self, lineno: int) -> str:
        return f"{self.name}:{lineno}"

    def _split(self) -> None:
        fence, block, previous_blank = None, None, True
        for number, line in enumerate(self.lines, start=1):
            if fence is not None:  # inside a fenced block
                if line.strip().startswith(fence):
                    fence = None
                else:
                    block[2].append((number, line))
                continue
            opening = _FENCE.match(line)
            if opening:
                fence = opening.group(1)
                block = (opening.group(2).lower(), number + 1, [])
                self.blocks.append(block)
                previous_blank = False
                continue
            indented = line.startswith("    ") and line.strip()
            if indented and (previous_blank or (block is not None and block[0] == "indented")):
                if block is None or block[0] != "indented":
                    block = ("indented", number, [])
                    self.blocks.append(block)
                block[2].append((number, line))
                continue
            if line.strip():
                block = None
                self.prose.append((number, line))
            previous_blank = not line.strip()
            if previous_blank and block is not None and block[0] != "indented":
                block = None

    def prose_text(self) -> str:
        """The file with code blocks blanked out, so offsets still map to line numbers."""
        kept = dict(self.prose)
        return "\n".join(kept.get(n, "") for n in range(1, len(self.lines) + 1))

    def inline_code(self) -> list[tuple[int, str]]:
        """Inline code spans outside code blocks, with the line each starts on."""
        text = self.prose_text()
        spans = []
        for match in _INLINE_CODE.finditer(text):
            if "\n\n" in match.group(2):  # an unclosed backtick: not a span
                continue
            lineno = text.count("\n", 0, match.start()) + 1
            spans.append((lineno, " ".join(match.group(2).split())))
        return spans

    def links(self) -> list[tuple[int, str]]:
        """Link and image targets outside code, with their line numbers."""
        text = _INLINE_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), self.prose_text())
        found = []
        for pattern in (_LINK, _IMG):
            for match in pattern.finditer(text):
                found.append((text.count("\n", 0, match.start(1)) + 1, match.group(1)))
        return sorted(found)

    def headings(self) -> list[str]:
        return [line for _, line in self.prose if re.match(r"^#{1,6}\s", line)]

    def code_lines(self) -> list[tuple[int, str]]:
        """Every line of every code block except YAML and Python ones: where commands are."""
        return [
            (number, line)
            for lang, _, lines in self.blocks
            if lang not in ("yaml", "yml", "python", "py")
            for number, line in lines
        ]


DOCS_BY_NAME = {path.relative_to(ROOT).as_posix(): Doc(path) for path in DOC_FILES}
IDS = list(DOCS_BY_NAME)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"^#+\s*", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    if path.resolve() in {p.resolve() for p in DOC_FILES}:
        doc = DOCS_BY_NAME[path.resolve().relative_to(ROOT).as_posix()]
    else:
        doc = Doc(path)
    anchors, seen = set(), {}
    for heading in doc.headings():
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _check_key(key: str) -> str | None:
    """None if the config accepts the dotted key, else the config's own error message."""
    from nst.config import check_key  # no TensorFlow

    try:
        check_key(key, "docs")
    except Exception as error:  # a UserError naming the nearest valid key
        return str(error)
    return None


def _set_keys(tokens: list[str]) -> list[str]:
    """The KEY=VALUE tokens that follow each `--set`, up to the next flag."""
    found, active = [], False
    for token in tokens:
        if token == "--set":
            active = True
        elif token.startswith("-"):
            active = False
        elif active:
            found.append(token)
    return found


def _override_problems(overrides: list[str], where: str, what: str) -> list[str]:
    problems = []
    for override in overrides:
        key, equals, _ = override.partition("=")
        if not equals:
            problems.append(f"{where}: {what}: {override!r} is not KEY=VALUE")
        elif (error := _check_key(key)) is not None:
            problems.append(f"{where}: {what}: {error}")
    return problems


def _parse_nst(argv: list[str]) -> str | None:
    """None if `nst ARGV` parses with the CLI's own parser, else argparse's complaint."""
    from nst.cli import _parser  # no TensorFlow

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            _parser().parse_args(argv)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            return None
        lines = errors.getvalue().strip().splitlines()
        return lines[-1] if lines else f"exit code {exit_.code}"
    return None


def _makefile() -> tuple[set[str], set[str]]:
    """The Makefile's targets and the variables it reads."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))
    variables = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text))
    variables |= set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[?:]?=", text, re.MULTILINE))
    return targets, variables


MAKE_TARGETS, MAKE_VARIABLES = _makefile()


def _dry_run(make_argv: list[str]) -> tuple[int, str]:
    """What `make -n ARGS` would run, one command a line, without running it."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), *make_argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    return done.returncode, done.stdout + done.stderr


def _command_problems(doc: Doc, lineno: int, line: str) -> list[str]:
    """Problems with one line of a code block, if it is a command nst's docs show."""
    where = doc.where(lineno)
    text = line.strip()
    if text.startswith("$ "):
        text = text[2:]
    text = _PLACEHOLDER.sub(PLACEHOLDER, text)
    try:
        tokens = shlex.split(text, comments=True)
    except ValueError as error:
        if text.split()[:1] in (["nst"], ["make"]):
            return [f"{where}: cannot split the command {line.strip()!r}: {error}"]
        return []
    while tokens and _ENV_ASSIGNMENT.match(tokens[0]):
        tokens = tokens[1:]
    if not tokens:
        return []
    program, args = tokens[0], tokens[1:]
    if program == "nst":
        return _nst_problems(args, where, f"`{text}`")
    if program == "make":
        return _make_problems(args, where, text)
    if program in ("python", "python3") or program.endswith(("/python", "/python3")):
        script = next((a for a in args if not a.startswith("-")), None)
        problems = []
        if args[:1] != ["-m"] and script is not None and not (ROOT / script).is_file():
            problems.append(f"{where}: {line.strip()!r} runs {script}, which does not exist")
        return problems + _override_problems(_set_keys(args), where, "--set")
    if program == "bash" and args and not (ROOT / args[0]).is_file():
        return [f"{where}: {line.strip()!r} runs {args[0]}, which does not exist"]
    return []


def _nst_problems(args: list[str], where: str, shown: str) -> list[str]:
    if any(flag in args for flag in ("-h", "--help", "--version")):
        return []
    if (error := _parse_nst(args)) is not None:
        return [f"{where}: {shown} does not parse: {error}"]
    return _override_problems(_set_keys(args), where, "--set")


def _make_problems(args: list[str], where: str, shown: str) -> list[str]:
    problems = []
    assignments = [a for a in args if "=" in a and not a.startswith("-")]
    targets = [a for a in args if a not in assignments and not a.startswith("-")]
    for target in targets:
        if target not in MAKE_TARGETS:
            problems.append(f"{where}: `{shown}`: the Makefile has no target {target!r}")
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in MAKE_VARIABLES:
            problems.append(f"{where}: `{shown}`: the Makefile reads no variable {name!r}")
        if name == "ARGS" and set(targets) & {"run", "sweep"}:
            overrides = [t for t in value.split() if "=" in t and not t.startswith("-")]
            problems += _override_problems(overrides, where, f"ARGS of `{shown}`")
    if problems or shutil.which("make") is None:
        return problems
    # The command the recipe runs, as make prints it; an `nst` one must parse too.
    code, printed = _dry_run(args)
    if code != 0:
        return [f"{where}: `make -n` rejects `{shown}`: {printed.strip()}"]
    for command in printed.splitlines():
        try:
            tokens = shlex.split(command, comments=True)
        except ValueError:  # a line of a recipe continued with a backslash: not a command
            continue
        if tokens and (tokens[0] == "nst" or tokens[0].endswith("/nst")):
            problems += _nst_problems(tokens[1:], where, f"`{shown}` (runs `{command.strip()}`)")
        elif tokens and tokens[0].endswith(("/python", "/python3")):
            problems += _override_problems(_set_keys(tokens), where, f"`{shown}`")
    return problems


def _yaml_keys(data: object, prefix: str = "") -> list[str]:
    """The dotted keys of a config mapping, down to its leaves."""
    if not isinstance(data, dict) or not data:
        return [prefix] if prefix else []
    keys = []
    for name, value in data.items():
        keys += _yaml_keys(value, f"{prefix}.{name}" if prefix else str(name))
    return keys


@pytest.mark.parametrize("name", IDS)
def test_links_and_images_exist(name):
    doc = DOCS_BY_NAME[name]
    problems = []
    for lineno, target in doc.links():
        if _SCHEME.match(target):  # http(s), mailto: not checked offline
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.path.parent / path_part).resolve() if path_part else doc.path
        if not path.exists():
            problems.append(f"{doc.where(lineno)}: the link {target!r} leads nowhere: no {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            problems.append(
                f"{doc.where(lineno)}: the link {target!r}: {path.name} has no heading "
                f"with the anchor #{anchor}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", IDS)
def test_paths_shown_as_code_exist(name):
    doc = DOCS_BY_NAME[name]
    shown = [(n, line) for _, _, lines in doc.blocks for n, line in lines] + doc.inline_code()
    problems = []
    for lineno, text in shown:
        for token in _PATH_SPLIT.split(text):
            token = token.rstrip(".:")
            if not token.startswith(CHECKED_PREFIXES) or "runs/" in token:
                continue
            if any(c in token for c in "<>*?$"):  # a placeholder or a glob
                continue
            if not (ROOT / token).exists():
                problems.append(f"{doc.where(lineno)}: {token} does not exist in the repository")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", IDS)
def test_commands_still_parse(name):
    doc = DOCS_BY_NAME[name]
    problems = []
    for lineno, line in doc.code_lines():
        problems += _command_problems(doc, lineno, line)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", IDS)
def test_config_keys_exist(name):
    doc = DOCS_BY_NAME[name]
    problems = []
    for lineno, span in doc.inline_code():
        candidates = _KEY_EQUALS.findall(span)
        candidates.append(span.partition(": ")[0])  # `key: value` or a bare `key`
        for key in candidates:
            if not _DOTTED_KEY.match(key) or key in NOT_CONFIG_KEYS:
                continue
            if key.rpartition(".")[2] in FILE_SUFFIXES:  # a file name, `color.py`
                continue
            if key.split(".")[0] in CONFIG_SECTIONS and (error := _check_key(key)):
                problems.append(f"{doc.where(lineno)}: `{span}`: {error}")
    for lang, start, lines in doc.blocks:
        if lang not in ("yaml", "yml"):
            continue
        try:
            data = yaml.safe_load("\n".join(line for _, line in lines))
        except yaml.YAMLError as error:
            problems.append(f"{doc.where(start)}: the YAML block starting here: {error}")
            continue
        if not isinstance(data, dict):
            continue
        if "base" in data:  # a sweep file: what it sets and varies are config keys
            keys = [
                key
                for part in ("set", "grid", "zip")
                for key in (data.get(part) or {})
                if isinstance(key, str)
            ]
        else:
            keys = _yaml_keys(data)
        for key in keys:
            if (error := _check_key(key)) is not None:
                problems.append(f"{doc.where(start)}: the YAML block starting here: {error}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [n for n in IDS if n != "README.md"])
def test_docs_page_opens_with_its_command(name):
    doc = DOCS_BY_NAME[name]
    title = next((n for n, line in enumerate(doc.lines, 1) if line.startswith("# ")), None)
    assert title is not None, f"{doc.name}: no `# Title` line"
    opening = [
        lines[0]
        for _, start, lines in doc.blocks
        if lines and title < start <= title + OPENING_LINES + 1
    ]
    opens = any(line.strip().startswith(OPENING_COMMANDS) for _, line in opening)
    assert opens, (
        f"{doc.where(title)}: the page should open with its command: a code block within "
        f"{OPENING_LINES} lines of the title whose first line starts with one of "
        f"{', '.join(repr(c) for c in OPENING_COMMANDS)}"
    )


def test_readme_is_short():
    lines = len(DOCS_BY_NAME["README.md"].lines)
    assert lines <= README_MAX_LINES, (
        f"README.md: {lines} lines, over {README_MAX_LINES}: move the detail to a docs/ page"
    )


def test_readme_links_every_docs_page():
    linked = {
        (ROOT / target.partition("#")[0]).resolve()
        for _, target in DOCS_BY_NAME["README.md"].links()
        if not _SCHEME.match(target)
    }
    missing = [p.relative_to(ROOT).as_posix() for p in DOC_FILES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md: its Documentation list does not link {', '.join(missing)}"


def test_the_checks_find_what_they_look_for():
    """The parsing above finds links, code and commands (a check that finds nothing passes)."""
    readme = DOCS_BY_NAME["README.md"]
    assert any(t.startswith("docs/") for _, t in readme.links())
    assert any(line.strip().startswith("make run") for _, line in readme.code_lines())
    assert any(lang == "python" for lang, _, _ in readme.blocks)
    configs = DOCS_BY_NAME["docs/configs.md"]
    assert any(lang == "yaml" for lang, _, _ in configs.blocks)
    assert any(line.strip().startswith("nst run") for _, line in configs.code_lines())
    assert _parse_nst(["run"]) is not None  # CONFIG is required: argparse's error comes back
    assert _check_key("loss.style_wieght") is not None
    assert _command_problems(readme, 1, "make no-such-target")
    assert _command_problems(readme, 1, "nst run configs/starry.yaml --set loss.nope=1")


@pytest.mark.parametrize("name", IDS)
def test_python_examples_compile(name):
    """Every ```python block is valid Python (run by the notebook and test_api, not here)."""
    doc = DOCS_BY_NAME[name]
    for lang, first_line, lines in doc.blocks:
        if lang not in ("python", "py"):
            continue
        source = "\n".join(line for _, line in lines)
        try:
            compile(source, doc.where(first_line), "exec")
        except SyntaxError as error:
            pytest.fail(f"{doc.where(first_line + (error.lineno or 1) - 1)}: {error.msg}")
