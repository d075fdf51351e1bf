"""Bad input, fuzzed: configs, `--set` overrides, sweep files and images a user might hand to `nst`.

Whatever the input, the command ends in success or in one line on stderr and exit code 2: never a
traceback, never a hang. Hypothesis draws the inputs; the profile in conftest.py bounds how many
and how long each may take, and derandomises them so CI sees the same cases every time
(`HYPOTHESIS_PROFILE=fuzz-long` searches longer). Cases the fuzzer found are kept as `@example`s
or plain tests below.

Most tests call the loaders or `nst.cli.main` in this process with TensorFlow's import replaced
by a stop: a config that passes validation is accepted there, before any model is built.
"""

import contextlib
import dataclasses
import io
import os
import struct
import typing
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import yaml
from conftest import run_nst
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from nst import cli, images, networks
from nst import config as nst_config
from nst.errors import UserError
from nst.runs import sweep as nst_sweep

MAX_MESSAGE = 600  # characters; an error line quotes values shortened, never whole documents

# --- Checks shared by every test ------------------------------------------------------------------


def assert_one_line(message: str) -> str:
    assert message.strip(), "empty error message"
    assert len(message.splitlines()) == 1, message
    assert len(message) <= MAX_MESSAGE, message
    assert "Traceback" not in message
    return message


def load_config_or_error(path: Path, overrides=()) -> str | None:
    """The one-line error for the config, or None when it is valid."""
    try:
        config = nst_config.load_config(path, overrides)
    except UserError as error:
        message = assert_one_line(str(error))
        assert message.startswith((f"{path}", nst_config.OVERRIDE_SOURCE)), message
        return message
    assert isinstance(config, nst_config.Config)
    return None


def load_sweep_or_error(path: Path) -> str | None:
    """The one-line error for the sweep or for its first members' configs; None when all load."""
    try:
        sweep = nst_sweep.load_sweep(path)
    except UserError as error:
        message = assert_one_line(str(error))
        assert message.startswith(f"{path}"), message
        return message
    names = [member.name for member in sweep.members]
    assert len(set(names)) == len(names)
    for member in sweep.members[:3]:
        assert "/" not in member.name and "\n" not in member.name
        try:
            member.load_config(sweep.base)
        except UserError as error:
            assert assert_one_line(str(error)).startswith(f"sweep member {member.name}")
    return None


class _ConfigAccepted(Exception):
    """Raised where the CLI would import TensorFlow: the input passed every check before it."""


def run_cli(argv: list[str]) -> tuple[int | None, str]:
    """`nst.cli.main(argv)` up to the TensorFlow import: (exit code or None if accepted, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        mock.patch.object(cli, "_load_tensorflow_quietly", side_effect=_ConfigAccepted),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = cli.main(argv)
        except _ConfigAccepted:
            return None, stderr.getvalue()
    return code, stderr.getvalue()


def assert_cli_error_or_accepted(argv: list[str], sources: tuple[str, ...]) -> None:
    """The command accepts the input, or exits 2 with one line that starts with one of `sources`."""
    code, stderr = run_cli(argv)
    if code is None:
        assert stderr == ""
        return
    assert code == cli.EXIT_USER_ERROR, stderr
    assert stderr.endswith("\n")
    line = assert_one_line(stderr.removesuffix("\n"))
    assert line.startswith(tuple(f"nst: error: {source}" for source in sources)), line


@contextlib.contextmanager
def no_warnings_shown():
    """Fails if the code inside warns: outside pytest each warning is two more lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert not shown, [f"{w.category.__name__}: {w.message}" for w in shown]


def check_image(path: Path, role: str = "content image") -> str | None:
    """The one-line error for the file as an image, or None when it loads under the contract."""
    try:
        with no_warnings_shown():
            pixels = images.load_image(path, max_size=32, role=role)
    except UserError as error:
        message = assert_one_line(str(error))
        shown = f"'{path}'" if str(path).isprintable() else repr(str(path))
        assert message.startswith(f"{role} {shown}"), message
        return message
    assert pixels.dtype == np.float32 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert max(pixels.shape[:2]) == 32
    assert np.all((pixels >= 0) & (pixels <= 1))
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory to chdir into, with a valid base config; relative paths in inputs land here."""
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "base.yaml").write_text("content: content.png\nstyle: style.png\n")
    with contextlib.chdir(directory):
        yield directory


# --- Strategies: the config schema, read from nst.config -----------------------------------------


def _schema(cls: type = nst_config.Config, prefix: str = "") -> dict[str, typing.Any]:
    """{dotted key: type hint} for every section and setting."""
    keys = {}
    for name, hint in typing.get_type_hints(cls).items():
        key = f"{prefix}.{name}" if prefix else name
        keys[key] = hint
        if dataclasses.is_dataclass(hint):
            keys |= _schema(hint, key)
    return keys


SCHEMA = _schema()
LAYERS = networks.layer_names("vgg19")
FIELD_NAMES = sorted({key.rsplit(".", 1)[-1] for key in SCHEMA})
DOTTED_KEYS = sorted(SCHEMA) + [
    f"layers.{part}.{layer}" for part in ("content", "style") for layer in LAYERS[:4]
]
# Every allowed choice (network, optimiser, ...) and a few paths, so that values pass some checks.
CHOICES = sorted({choice for info in nst_config.describe_settings() for choice in info.choices})
WORDS = CHOICES + ["content", "noise", "style", "imagenet", "hed", "missing.png", "style.png", "."]
HUGE_NUMBERS = [2**31, 2**32, 2**63, 2**64, -(2**63), 10**30, 10**400, -(10**400), 1e308, 5e-324]

# Scalars as YAML text, reaching PyYAML's constructors and resolvers rather than safe_dump's output.
SMALL_TOKENS = [
    "2001-02-30",
    "2001-13-01 10:00:00",
    "2024-01-01",
    "!!int x",
    "!!float x",
    "!!bool x",
    "!!timestamp x",
    "!!binary '%%%'",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!pairs [a: 1]",
    "!!str [1]",
    "!!null x",
    "!!python/object:os.system x",
    "!!python/name:os.system ''",
    "!custom x",
    "1:2:3:4:5:6:7:8:9",
    "1e400",
    "-1e400",
    ".nan",
    ".inf",
    "-.inf",
    "NaN",
    "~",
    "null",
    "yes",
    "no",
    "on",
    "off",
    "0",
    "-1",
    "1.5",
    "1e3",
    "1_000",
    "0o17",
    "017",
    "''",
    '""',
    "' '",
    '"\\n"',
    '"\\t"',
    '"\\u2028"',
    '"a\\nb"',
    '"\\x00"',
    "[]",
    "{}",
    "[1, 2]",
    "{a: 1}",
    "&a [*a]",
    "*undefined",
    "&a x",
    "|\n  text",
    ">",
    "- x",
    "? x",
    "@",
    "`",
    "%",
    "'unterminated",
    '"unterminated',
    "\t",
    "a: b: c",
    "!",
    "&",
    "*",
    "{{a}}",
    "[a, b: c]",
    "- - - x",
]
# Long tokens are built when drawn, so that Hypothesis never prints them as part of a strategy.
LONG_TOKENS = st.integers(min_value=300, max_value=6000).flatmap(
    lambda n: st.sampled_from(
        [
            "1" * n,
            "0x" + "f" * n,
            "0b" + "1" * 4 * n,
            "0o" + "7" * n,
            "1" + "0" * n,
            "x" * n,
            "[" * n + "]" * n,
            "{a: " * n + "1" + "}" * n,
            "- " * n + "x",
        ]
    )
)
# YAML's standard tags on scalar-like text: PyYAML's constructors for them fail in odd ways.
TAGGED_TOKENS = st.builds(
    "!!{} {}".format,
    st.sampled_from(["int", "float", "bool", "null", "timestamp", "binary", "set", "omap", "str"]),
    st.text(alphabet="0123456789-:.TZ +_xob eE,[]{}", max_size=20),
)
RAW_TOKENS = st.sampled_from(SMALL_TOKENS) | LONG_TOKENS | TAGGED_TOKENS


def laughs(levels: int = 8) -> str:
    """Billion laughs: an anchored list of nine aliases of the previous one, `levels` deep, as one
    YAML flow value of a few hundred characters that holds 9**(levels + 1) values expanded."""
    text = "&l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"
    for level in range(1, levels + 1):
        text = f"&l{level} [{text}, " + ", ".join([f"*l{level - 1}"] * 8) + "]"
    return text


LAUGHS = laughs()


def _yaml_scalars() -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(HUGE_NUMBERS),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(WORDS + ["", " ", "\n", "a\nb", "\u2028", "\x00", "'", '"', "1e3", ".nan"]),
    )


SCALARS = _yaml_scalars()
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(FIELD_NAMES + LAYERS) | st.text(max_size=8) | st.integers(),
            children,
            max_size=4,
        )
    ),
    max_leaves=10,
)
KEYS = (
    st.sampled_from(FIELD_NAMES) | st.text(max_size=10) | st.sampled_from(["", "a\nb", "x" * 500])
)


def _value_for(hint: typing.Any) -> st.SearchStrategy:
    """Mostly values of the right kind (to reach the range checks), sometimes anything at all."""
    if hint is int:
        plausible = st.integers(min_value=-10, max_value=10_000)
    elif hint is float:
        plausible = st.floats(min_value=-10, max_value=1e4) | st.floats()
    elif hint is bool:
        plausible = st.booleans()
    elif hint is str:
        plausible = st.sampled_from(WORDS)
    elif typing.get_origin(hint) is Mapping:  # layer weights
        plausible = st.dictionaries(
            st.sampled_from(LAYERS) | st.text(max_size=6), st.floats() | SCALARS, max_size=4
        )
    else:  # the style list
        style_item = st.fixed_dictionaries(
            {"path": st.sampled_from(["style.png", "missing.png"]) | SCALARS},
            optional={"weight": st.floats() | SCALARS, "mask": SCALARS, "colour": SCALARS},
        )
        plausible = st.sampled_from(["style.png"]) | st.lists(
            style_item | st.sampled_from(["a.png"]) | VALUES, max_size=3
        )
    return st.one_of(plausible, plausible, VALUES)


def _section(cls: type) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)
    known = st.fixed_dictionaries(
        {}, optional={name: _value_for(hint) for name, hint in hints.items()}
    )
    extra = st.dictionaries(KEYS, VALUES, max_size=1)
    return st.one_of(known, known, known, st.builds(lambda a, b: {**a, **b}, known, extra), VALUES)


def _config_dicts() -> st.SearchStrategy:
    hints = typing.get_type_hints(nst_config.Config)
    fields = {
        name: _section(hint) if dataclasses.is_dataclass(hint) else _value_for(hint)
        for name, hint in hints.items()
    }
    # Mostly valid, as they are read first: an error there would hide every other section.
    valid = st.just("content.png")
    required = {
        name: st.one_of(valid, valid, valid, fields.pop(name)) for name in ("content", "style")
    }
    known = st.fixed_dictionaries(required, optional=fields)
    extra = st.dictionaries(KEYS, VALUES, max_size=1)
    return st.one_of(known, known, known, st.builds(lambda a, b: {**b, **a}, known, extra), VALUES)


def _raw_document(
    keys: list[str], first_lines: str, tokens: st.SearchStrategy, maxsplit: int = -1
) -> st.SearchStrategy:
    """YAML text line by line: real keys, nested at their dots (the first `maxsplit` of them), with
    raw tokens as values, so that tags and dates reach PyYAML's constructors."""

    def render(items) -> str:
        lines = [first_lines]
        for key, token in items:
            *sections, last = key.split(".", maxsplit)
            for depth, section in enumerate(sections):
                lines.append("  " * depth + f"{section}:")
            indent = "  " * len(sections)
            lines.append(indent + f"{last}: " + token.replace("\n", "\n" + indent + "  "))
        return "\n".join(lines) + "\n"

    key = st.sampled_from(keys) | st.text(min_size=1, max_size=8)
    return st.lists(st.tuples(key, tokens), min_size=1, max_size=3).map(render)


YAMLISH = "abcz019.:-_[]{},&*!|>'\"%@`#?~= \t\n\\"
RANDOM_TEXT = st.text(max_size=200) | st.text(alphabet=YAMLISH, max_size=200)
CONFIG_TEXT = st.one_of(
    _config_dicts().map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    _raw_document(
        DOTTED_KEYS, "content: content.png\nstyle: style.png", RAW_TOKENS | st.text(max_size=8)
    ),
    RANDOM_TEXT,
)


def _override() -> st.SearchStrategy:
    key = (
        st.sampled_from(DOTTED_KEYS)
        | st.text(max_size=12)
        | st.sampled_from(
            [
                "",
                ".",
                "..",
                "optim.",
                ".steps",
                "optim..steps",
                "layers.style.x.y",
                "a\nb",
                " optim.steps",
            ]
        )
    )
    separator = st.sampled_from(["=", "=", "=", "", "==", " = "])
    value = (
        RAW_TOKENS
        | st.text(max_size=12)
        | SCALARS.map(lambda scalar: yaml.safe_dump(scalar, default_flow_style=True).strip())
        | VALUES.map(
            lambda data: yaml.safe_dump(data, default_flow_style=True, width=10**6).strip()
        )
    )
    return st.builds(lambda k, s, v: f"{k}{s}{v}", key, separator, value) | st.text(max_size=30)


OVERRIDES = st.lists(_override(), min_size=1, max_size=3)

SWEEP_KEYS = st.sampled_from(DOTTED_KEYS) | st.text(max_size=8) | st.integers()
SWEEP_PATTERNS = st.one_of(
    SCALARS,
    st.sampled_from(DOTTED_KEYS).map(lambda key: f"x{{{key}}}"),
    st.sampled_from(
        [
            "{}",
            "{0}",
            "{",
            "}",
            "{optim.steps:04d}",
            "{optim.steps!r}",
            "{optim.steps:{x}}",
            "{optim.steps.real}",
            "{optim.steps[0]}",
            "{optim}",
            "{seed:>10}",
            "{seed:q}",
            "a/b",
        ]
    ),
    st.text(alphabet="{}:!.[]0dxoptimseed", max_size=15),
)
SWEEP_LISTS = st.lists(VALUES | _value_for(int) | _value_for(float), max_size=3) | VALUES
SWEEP_DICTS = st.fixed_dictionaries(
    {"base": st.sampled_from(["base.yaml", "base.yaml", "missing.yaml", "."]) | SCALARS},
    optional={
        "name": st.sampled_from(["sw", "a/b", "..", ""]) | SCALARS,
        "set": st.dictionaries(SWEEP_KEYS, VALUES, max_size=2) | VALUES,
        "grid": st.dictionaries(SWEEP_KEYS, SWEEP_LISTS, max_size=3) | VALUES,
        "zip": st.dictionaries(SWEEP_KEYS, SWEEP_LISTS, max_size=2) | VALUES,
        "run_name": SWEEP_PATTERNS,
        "gird": VALUES,
    },
)
SWEEP_TEXT = st.one_of(
    SWEEP_DICTS.map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    SWEEP_DICTS.map(lambda data: yaml.safe_dump(data)),
    _raw_document(
        [f"{section}.{key}" for section in ("grid", "zip", "set") for key in DOTTED_KEYS]
        + ["name", "run_name", "base"],
        "base: base.yaml",
        RAW_TOKENS | RAW_TOKENS.map("[{}, 1]".format),  # Grid and zip values are lists.
        maxsplit=1,
    ),
    RANDOM_TEXT,
)

# --- Configs: random documents through the loader and through `nst run` --------------------------


@given(text=CONFIG_TEXT)
@example(text="0: 0000-00-00")  # Found: PyYAML raised ValueError (year 0) from safe_load.
@example(text='"a\\x1eb": 1')  # Found: the key was printed raw, and \x1e splits lines.
def test_config_file_loads_or_fails_with_one_line(workdir, text):
    path = workdir / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    load_config_or_error(path)


@given(data=st.binary(max_size=300))
@example(data=b"\xff\xfe\x00c\x00o")
@example(data=b"content: a.png\x00\n")
def test_config_bytes_load_or_fail_with_one_line(workdir, data):
    path = workdir / "fuzzed.yaml"
    path.write_bytes(data)
    load_config_or_error(path)


@given(text=CONFIG_TEXT, overrides=st.lists(_override(), max_size=2))
def test_nst_run_exits_2_with_one_line_or_accepts_the_config(workdir, text, overrides):
    path = workdir / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    # `--set=...` keeps argparse from reading an override that starts with '-' as an option.
    argv = ["run", str(path), "--quiet", *(f"--set={override}" for override in overrides)]
    assert_cli_error_or_accepted(argv, (str(path), nst_config.OVERRIDE_SOURCE))


# Inputs that crashed, hung or printed more than one line before the fixes in nst/config.py.
FOUND_IN_CONFIGS = {
    # PyYAML's own ValueError, KeyError and AttributeError escaped yaml.safe_load.
    "impossible-date": (
        "seed: 2001-02-30",
        ["line 3, column 7", "'2001-02-30' is not a valid timestamp (day is out of range"],
    ),
    "int-tag": ("seed: !!int x", ["line 3", "'x' is not a valid int"]),
    "bool-tag": ("seed: !!bool x", ["'x' is not a valid bool"]),
    "timestamp-tag": ("seed: !!timestamp x", ["'x' is not a valid timestamp"]),
    "empty-int-tag": ("seed: !!int", ["'' is not a valid int"]),
    # ValueError: Python converts at most 4300 digits, and repr() of a longer hex int failed.
    "5000-digits": ("seed: " + "1" * 5000, ["a number 5,000 characters long"]),
    "5000-hex-digits": ("image: {size: 0x" + "f" * 5000 + "}", ["a number 5,002 characters"]),
    # OverflowError from float(int) for a whole number past float's range.
    "int-past-float": (
        "loss: {style_weight: 1" + "0" * 400 + "}",
        ["'loss.style_weight' must be a finite number, got 1000"],
    ),
    "deep-nesting": ("optim: " + "[" * 2000 + "]" * 2000, ["nested more than 50 levels deep"]),
    # repr() of a billion-laughs value or of an alias inside its own anchor never finished.
    "laughs-as-weight": (
        f"layers: {{style: {{block1_conv1: {LAUGHS}}}}}",
        ["more than 10,000 values once anchors and aliases are expanded"],
    ),
    "alias-in-own-anchor": ("layers: {style: &s {a: *s}}", ["more than 10,000 values"]),
}


@pytest.mark.parametrize(
    ("text", "expected"), FOUND_IN_CONFIGS.values(), ids=FOUND_IN_CONFIGS.keys()
)
def test_config_inputs_the_fuzzer_found_fail_with_a_helpful_line(workdir, text, expected):
    path = workdir / "found.yaml"
    path.write_text(f"content: a.png\nstyle: b.png\n{text}\n")
    message = load_config_or_error(path)
    assert message is not None and message.startswith(str(path))
    for fragment in expected:
        assert fragment in message


def test_a_huge_config_file_is_refused_without_reading_it_all(workdir):
    path = workdir / "huge.yaml"
    path.write_text("content: a.png\nstyle: b.png\n" + "#" * (2 * 2**20) + "\n")
    assert "too large for a config file" in load_config_or_error(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_as_config_or_sweep_is_refused(workdir):
    assert "too large" in load_config_or_error(Path("/dev/zero"))
    with pytest.raises(UserError, match="too large for a sweep file"):
        nst_sweep.load_sweep("/dev/zero")


# --- `--set` overrides --------------------------------------------------------------------------


@given(overrides=OVERRIDES)
@example(overrides=["color=2001-02-30"])  # Found: ValueError from yaml.safe_load.
def test_overrides_apply_or_fail_with_one_line(workdir, overrides):
    load_config_or_error(workdir / "base.yaml", overrides)


FOUND_IN_OVERRIDES = {
    "impossible-date": ("seed=2001-02-30", ["value of 'seed'", "not a valid timestamp"]),
    "float-tag": ("seed=!!float x", ["'x' is not a valid float", "quote it"]),
    "5000-hex-digits": ("image.size=0x" + "f" * 5000, ["a number 5,002 characters long"]),
    "int-past-float": ("loss.tv_weight=1" + "0" * 400, ["'loss.tv_weight' must be a finite"]),
    "deep-nesting": ("optim=" + "[" * 2000, ["nested more than 50 levels deep"]),
    "alias-in-own-anchor": ("style=&s [*s]", ["more than 10,000 values"]),
}


@pytest.mark.parametrize(
    ("override", "expected"), FOUND_IN_OVERRIDES.values(), ids=FOUND_IN_OVERRIDES.keys()
)
def test_overrides_the_fuzzer_found_fail_with_a_helpful_line(workdir, override, expected):
    message = load_config_or_error(workdir / "base.yaml", [override])
    assert message is not None and message.startswith("--set")
    for fragment in expected:
        assert fragment in message


def test_an_override_that_looks_like_an_option_is_taken_as_a_value(workdir):
    # `--set=-x=1` always reaches the override parser (a bare `-x=1` is argparse's to refuse).
    code, stderr = run_cli(["run", "base.yaml", "--set=-x=1"])
    assert code == 2
    assert "unknown key '-x'" in assert_one_line(stderr.strip())


# --- Sweep files --------------------------------------------------------------------------------


@given(text=SWEEP_TEXT)
@example(text='base: "0\\x1E"\n')  # Found: the base path was printed raw.
def test_sweep_file_expands_or_fails_with_one_line(workdir, text):
    path = workdir / "fuzzed_sweep.yaml"
    path.write_text(text, encoding="utf-8")
    load_sweep_or_error(path)


@given(text=SWEEP_TEXT)
def test_nst_sweep_exits_2_with_one_line_or_accepts_the_sweep(workdir, text):
    path = workdir / "fuzzed_sweep.yaml"
    path.write_text(text, encoding="utf-8")
    assert_cli_error_or_accepted(["sweep", str(path)], (str(path),))


# Before the fixes in nst/runs/sweep.py: TypeError or ValueError from json.dumps and str.format, or
# minutes of work, on the way to the members' overrides and names.
FOUND_IN_SWEEPS = {
    "hex-value": ("grid: {seed: [0x" + "f" * 5000 + "]}", ["a number 5,002 characters long"]),
    "alias-in-own-anchor": ("grid: {seed: &s [*s]}", ["more than 10,000 values"]),
    "laughs-as-values": (f"grid: {{seed: {LAUGHS}}}", ["more than 10,000 values"]),
    "laughs-as-name": (f"name: {LAUGHS}\ngrid: {{seed: [1]}}", ["more than 10,000 values"]),
    "ten-to-the-8-members": (
        "grid: {seed: &v [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], optim.steps: *v, log.every: *v, "
        "scales.steps: *v, loss.tv_weight: *v, loss.style_weight: *v, "
        "loss.content_weight: *v, optim.history: *v}",
        ["100,000,000 members is too many (at most 10,000)"],
    ),
    "section-and-its-key-in-run-name": (
        "grid: {optim: [{}], optim.steps: [1, 2]}\nrun_name: '{optim}_{optim.steps}'",
        ["'run_name' uses both 'optim' and 'optim.steps'"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), FOUND_IN_SWEEPS.values(), ids=FOUND_IN_SWEEPS.keys())
def test_sweeps_the_fuzzer_found_fail_with_a_helpful_line(workdir, text, expected):
    path = workdir / "found_sweep.yaml"
    path.write_text(f"base: base.yaml\n{text}\n")
    message = load_sweep_or_error(path)
    assert message is not None
    for fragment in expected:
        assert fragment in message


def test_sweep_values_yaml_reads_as_dates_fail_in_their_member(workdir):
    # json.dumps raised TypeError on the date; now the member's config check refuses it.
    path = workdir / "dates.yaml"
    path.write_text("base: base.yaml\ngrid: {seed: [2024-01-01]}\n")
    (member,) = nst_sweep.load_sweep(path).members
    with pytest.raises(UserError, match=r"'seed' must be a whole number, got '2024-01-01'"):
        member.load_config("base.yaml")


def test_run_name_can_use_a_key_whose_section_is_varied_too(workdir):
    # TypeError in the pattern's namespace when `optim` came before `optim.steps`.
    path = workdir / "section.yaml"
    path.write_text(
        "base: base.yaml\ngrid: {optim: [{}], optim.steps: [1, 2]}\nrun_name: n{optim.steps}\n"
    )
    sweep = nst_sweep.load_sweep(path)
    assert [member.name for member in sweep.members] == ["00_n1", "01_n2"]


def test_member_names_stay_short_whatever_the_values(workdir):
    # A 5000-character value made a 5000-character run directory name (the limit is 255 bytes).
    path = workdir / "long.yaml"
    path.write_text("base: base.yaml\ngrid: {output.name: [" + "x" * 5000 + ", y]}\n")
    names = [member.name for member in nst_sweep.load_sweep(path).members]
    assert len(names) == 2 and all(len(name) <= 110 for name in names)
    assert len(set(names)) == 2


# --- Values with newlines stay on one line --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "overrides", "shown"),
    [
        pytest.param('"optim\\nsteps": 3\n', [], r"'optim\nsteps'", id="file-key"),
        pytest.param("", ["optim.st\neps=3"], r"'optim.st\neps'", id="override-key"),
        pytest.param("", ['model.network="vgg\\n16"'], r"'vgg\n16'", id="override-value"),
        pytest.param("", ["a\nb"], r"'a\nb'", id="override-without-equals"),
        pytest.param(
            'layers: {style: {"block1\\nconv1": 1}}\n', [], r"'block1\nconv1'", id="layer-name"
        ),
        pytest.param(
            'layers: {style: {"block1\\nconv1": x}}\n', [], r"block1\nconv1", id="layer-weight"
        ),
    ],
)
def test_error_line_shows_newlines_escaped(workdir, text, overrides, shown):
    path = workdir / "newline.yaml"
    path.write_text("content: content.png\nstyle: style.png\n" + text)
    code, stderr = run_cli(["run", str(path), *(f"--set={override}" for override in overrides)])
    assert code == 2
    line = assert_one_line(stderr.removesuffix("\n"))
    assert shown in line


def test_image_path_with_a_newline_stays_on_one_line(workdir):
    message = check_image(workdir / "photo\n.png")
    assert message is not None and "photo\\n.png" in message


# --- Images -------------------------------------------------------------------------------------

_FORMATS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "WEBP": ".webp",
    "PPM": ".ppm",
    "ICO": ".ico",
}


def _encoded(image_format: str) -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format=image_format)
    return buffer.getvalue()


ENCODED = {image_format: _encoded(image_format) for image_format in _FORMATS}
MAGICS = [data[:16] for data in ENCODED.values()] + [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"P6\n",
    b"P1\n",
    b"\x00\x00\x01\x00",
    b"8BPS",
    b"\x0a\x05",
    b"DDS ",
    b"qoif",
    b"\x00\x00\x00\x0cjP  ",
    b"icns",
    b"FORM",
    b"%!PS",
    b"\x01\xda",
]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR (with a correct CRC) claims the size; the pixel data is one empty chunk."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + idat + _png_chunk(b"IEND", b"")


def bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return (
        b"BM" + struct.pack("<IHHI", 14 + len(info) + 16, 0, 0, 14 + len(info)) + info + bytes(16)
    )


def gif_header(width: int, height: int) -> bytes:
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0, 0, 0)
        + b",\x00\x00\x00\x00"
        + (struct.pack("<HHB", width, height, 0) + b"\x02\x02\x44\x01\x00;")
    )


def jpeg_header(width: int, height: int) -> bytes:
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def tiff_header(width: int, height: int) -> bytes:
    """The noise TIFF with its width and height tags (LONG, one value each) rewritten."""
    data = ENCODED["TIFF"]
    for tag, old, new in ((256, 36, width), (257, 24, height)):
        data = data.replace(
            struct.pack("<HHII", tag, 4, 1, old), struct.pack("<HHII", tag, 4, 1, new)
        )
    return data


@given(image_format=st.sampled_from(sorted(ENCODED)), data=st.data())
def test_truncated_image_loads_or_fails_with_one_line(workdir, image_format, data):
    encoded = ENCODED[image_format]
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1), label="cut")
    path = workdir / f"truncated{_FORMATS[image_format]}"
    path.write_bytes(encoded[:cut])
    check_image(path)


@given(image_format=st.sampled_from(sorted(ENCODED)), data=st.data())
def test_corrupted_image_loads_or_fails_with_one_line(workdir, image_format, data):
    encoded = bytearray(ENCODED[image_format])
    # Half the changes land in the first 64 bytes, where the header's sizes and flags are.
    where = st.integers(0, 63) | st.integers(0, len(encoded) - 1)
    changes = st.lists(st.tuples(where, st.integers(0, 255)), min_size=1, max_size=8)
    for position, byte in data.draw(changes, label="changes"):
        encoded[position] = byte
    path = workdir / f"corrupted{_FORMATS[image_format]}"
    path.write_bytes(bytes(encoded))
    check_image(path)


@given(magic=st.sampled_from(MAGICS) | st.just(b""), rest=st.binary(max_size=300))
def test_random_bytes_load_or_fail_with_one_line(workdir, magic, rest):
    path = workdir / "random.png"
    path.write_bytes(magic + rest)
    check_image(path)


HUGE_HEADERS = {
    "png": png_header(100_000, 100_000),
    "png-zero": png_header(0, 0),
    "png-2**31": png_header(2**31 - 1, 2**31 - 1),
    "png-wide": png_header(2**31 - 1, 1),
    "bmp": bmp_header(100_000, 100_000),
    "bmp-negative": bmp_header(-100_000, -100_000),
    "bmp-top-down-huge": bmp_header(100_000, -(2**31)),
    "gif": gif_header(65_535, 65_535),
    "jpeg": jpeg_header(65_535, 65_535),
    "ppm": b"P6\n100000 100000\n255\n" + bytes(30),
    "ppm-2**64": b"P6\n18446744073709551616 1\n255\n" + bytes(30),
    "tiff": tiff_header(100_000, 100_000),
    # Just under Pillow's limit: allowed, so decoding starts and finds the pixel data missing.
    "png-88M-pixels": png_header(9400, 9400),
    "bmp-88M-pixels": bmp_header(9400, 9400),
}


@pytest.mark.parametrize("data", HUGE_HEADERS.values(), ids=HUGE_HEADERS.keys())
def test_huge_or_impossible_dimensions_in_the_header_fail_with_one_line(workdir, data):
    path = workdir / "huge_header.img"
    path.write_bytes(data)
    assert check_image(path) is not None


def _empty(directory: Path) -> Path:
    path = directory / "empty.png"
    path.write_bytes(b"")
    return path


def _text_named_png(directory: Path) -> Path:
    path = directory / "notes.png"
    path.write_text("this is not a picture\n")
    return path


def _truncated_png(directory: Path) -> Path:
    path = directory / "cut.png"
    path.write_bytes(ENCODED["PNG"][: len(ENCODED["PNG"]) // 2])
    return path


def _huge_png(directory: Path) -> Path:
    path = directory / "huge.png"
    path.write_bytes(png_header(100_000, 100_000))
    return path


def _truncated_tiff(directory: Path) -> Path:
    path = directory / "cut.tif"
    path.write_bytes(ENCODED["TIFF"][:49])  # Pillow warns "Truncated File Read" on the way
    return path


def _between_pillow_limits(directory: Path) -> Path:
    path = directory / "big.png"
    path.write_bytes(png_header(12_000, 12_000))  # 144M pixels: Pillow warns, nst refuses
    return path


def _directory(directory: Path) -> Path:
    path = directory / "folder.png"
    path.mkdir(exist_ok=True)
    return path


def _missing(directory: Path) -> Path:
    return directory / "missing.png"


BAD_IMAGES = {
    "empty": (_empty, "empty file"),
    "text": (_text_named_png, "not an image"),
    "truncated": (_truncated_png, "truncated or corrupt"),
    "huge-header": (_huge_png, "too large"),
    "truncated-tiff": (_truncated_tiff, "not an image"),
    "between-limits": (_between_pillow_limits, "too large"),
    "directory": (_directory, "is a directory"),
    "missing": (_missing, "not found"),
}


@pytest.mark.parametrize(("make", "reason"), BAD_IMAGES.values(), ids=BAD_IMAGES.keys())
def test_bad_image_fails_with_one_line_naming_it(tmp_path, make, reason):
    path = make(tmp_path)
    assert reason in check_image(path, role="style image")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_image_fails_with_one_line(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(ENCODED["PNG"])
    path.chmod(0)
    assert "permission denied" in check_image(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [pytest.param(*value, id=key) for key, value in BAD_IMAGES.items()],
)
def test_nst_run_with_a_bad_content_image_exits_2_with_one_line(experiment, capsys, make, reason):
    # The real command, past the TensorFlow import: images are read before any model is built.
    bad = make(experiment.dir)
    config_path = experiment.write_config(content=str(bad))
    with no_warnings_shown():
        code = cli.main(["run", str(config_path), "--quiet"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = assert_one_line(captured.err.removesuffix("\n"))
    if bad.is_dir():  # A folder is a batch of stills (nst.runs.batch): this one holds none.
        assert line.startswith(f"nst: error: content: folder '{bad}' holds no image files")
    else:
        assert line.startswith(f"nst: error: content image '{bad}'") and reason in line
    assert not experiment.runs_root.exists()


# --- In a real process: no traceback reaches the terminal --------------------------------------


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        pytest.param("run", "content: a.png\nstyle: b.png\nseed: 2001-02-30\n", "line 3", id="run"),
        pytest.param("sweep", "base: base.yaml\ngrid: {seed: &s [*s]}\n", "aliases", id="sweep"),
    ],
)
def test_process_prints_one_line_for_what_the_fuzzer_found(workdir, command, text, expected):
    path = workdir / f"found_{command}.yaml"
    path.write_text(text)
    process = run_nst(command, str(path), cwd=workdir)
    assert process.returncode == 2, process.stderr
    assert process.stdout == "" and "Traceback" not in process.stderr
    line = assert_one_line(process.stderr.removesuffix("\n"))
    assert line.startswith(f"nst: error: {path}") and expected in line


@pytest.mark.slow  # TensorFlow loads before the images are read: ~5 s
def test_process_prints_one_line_for_a_truncated_content_image(experiment):
    bad = _truncated_png(experiment.dir)
    process = run_nst("run", str(experiment.write_config(content=str(bad))), cwd=experiment.dir)
    assert process.returncode == 2, process.stderr
    line = assert_one_line(process.stderr.removesuffix("\n"))
    assert line.startswith(f"nst: error: content image '{bad}' is truncated or corrupt")
