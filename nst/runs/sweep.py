"""Sweep files: a base config and the dotted keys to vary, expanded into named members.

    base: configs/starry.yaml          # every member starts from this config
    name: style_weight                 # optional; default: the sweep file's stem
    set: {image.size: 256}             # optional; applied to every member
    grid:                              # every combination ...
      loss.style_weight: [1, 10, 100]
    zip:                               # ... of these lists, stepped together
      optim.name: [lbfgs, adam]
      optim.steps: [100, 300]
    run_name: "sw{loss.style_weight}_{optim.name}"   # optional; default: the varied values

Expansion is pure: nothing runs and no file is written here. Keys are checked against the
config's schema; values are checked when each member's config is built, so one bad value fails
that member alone.
"""

import dataclasses
import difflib
import itertools
import json
import math
import os
import re
import string
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nst import config as nst_config
from nst.config.yaml_files import read_yaml_file
from nst.errors import UserError, show_value

_TOP_KEYS = ("base", "name", "set", "grid", "zip", "run_name")
# Each member is a whole run; a few YAML aliases can multiply a grid into billions of members.
_MAX_MEMBERS = 10_000
_MAX_LABEL = 100  # characters of a member name after its index


@dataclasses.dataclass(frozen=True)
class Member:
    name: str  # unique, sortable, safe as a directory name: "03_style_weight=10"
    values: dict[str, Any]  # the varied keys and this member's values
    overrides: tuple[str, ...]  # "key=value" strings for nst.config.load_config

    def load_config(self, base: str) -> nst_config.Config:
        training = nst_config.is_training_file(base)  # a sweep over nst train's keys
        source = f"sweep member {self.name}"
        return nst_config.load_config(base, self.overrides, source, training=training)


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    base: str
    source: str
    varied_keys: tuple[str, ...]
    members: tuple[Member, ...]


def load_sweep(path: str | os.PathLike) -> Sweep:
    source = os.fspath(path)
    data = _read(source)
    unknown = [key for key in data if key not in _TOP_KEYS]
    if unknown:
        guess = difflib.get_close_matches(str(unknown[0]), _TOP_KEYS, n=1)
        hint = f"did you mean '{guess[0]}'?" if guess else f"valid keys: {', '.join(_TOP_KEYS)}"
        raise UserError(f"{source}: unknown key {show_value(unknown[0])} ({hint})")
    base = data.get("base")
    if not isinstance(base, str) or not base.strip():
        raise UserError(
            f"{source}: 'base' must name the config every member starts from, "
            "e.g. 'base: configs/starry.yaml'"
        )
    if not Path(base).is_file():
        raise UserError(
            f"{source}: base config {show_value(base)} not found "
            f"(paths are relative to the current directory, {Path.cwd()})"
        )
    fixed = _mapping(data, "set", source)
    grid = _value_lists(data, "grid", source)
    zipped = _value_lists(data, "zip", source)
    if not grid and not zipped:
        raise UserError(
            f"{source}: nothing to vary: add 'grid:' or 'zip:' with lists of values, "
            "e.g. 'grid: {loss.style_weight: [1, 10, 100]}'"
        )
    for section, keys in (("set", fixed), ("grid", grid), ("zip", zipped)):
        for key in keys:
            nst_config.check_key(key, f"{source}: '{section}'")
    lengths = {len(values) for values in zipped.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{key}: {len(values)}" for key, values in zipped.items())
        raise UserError(f"{source}: the 'zip' lists must have the same length ({sizes})")
    _check_no_repeats(source, fixed, grid, zipped)

    varied_keys = (*grid, *zipped)
    pattern = data.get("run_name")
    if pattern is not None and not isinstance(pattern, str):
        raise UserError(
            f"{source}: 'run_name' must be a text pattern like 'sw{{loss.style_weight}}'"
        )
    used_keys = _check_pattern(pattern, varied_keys, source) if pattern is not None else []
    count = math.prod(len(values) for values in grid.values()) * (min(lengths) if zipped else 1)
    if count > _MAX_MEMBERS:
        raise UserError(
            f"{source}: {count:,} members is too many (at most {_MAX_MEMBERS:,}); "
            "vary fewer keys or fewer values"
        )
    combinations = list(itertools.product(*grid.values())) or [()]
    rows = list(zip(*zipped.values(), strict=True)) or [()]
    digits = max(2, len(str(count - 1)))  # Zero-padded so names sort in member order.
    members = []
    for index, (combination, row) in enumerate(itertools.product(combinations, rows)):
        values = dict(zip(varied_keys, (*combination, *row), strict=True))
        label = _label(values, pattern, used_keys, source)
        overrides = tuple(override(key, value) for key, value in {**fixed, **values}.items())
        members.append(Member(f"{index:0{digits}d}_{label}", values, overrides))
    return Sweep(_name(data, source), base, source, varied_keys, tuple(members))


def _name(data: dict, source: str) -> str:
    name = str(data.get("name") or Path(source).stem)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UserError(
            f"{source}: 'name' must be a name without slashes (not . or ..), got {show_value(name)}"
        )
    return name


def _check_pattern(pattern: str, varied_keys: Sequence[str], source: str) -> list[str]:
    """The varied keys the pattern uses, once each; a UserError if it uses anything else."""
    try:
        fields = [
            field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None
        ]
    except ValueError as error:
        raise UserError(f"{source}: 'run_name' is not a valid pattern ({error})") from None
    for field in fields:
        if field == "" or field.isdigit():
            raise UserError(
                f"{source}: 'run_name' is not a valid pattern: name the varied keys, like "
                f"{{{varied_keys[0]}}}, not {{{field}}}"
            )
        if field not in varied_keys:
            raise UserError(
                f"{source}: 'run_name' uses {show_value(field)}, which the sweep does "
                f"not vary (it varies {', '.join(varied_keys)})"
            )
    # `{optim}` and `{optim.steps}` cannot both be looked up in one namespace.
    for field in fields:
        inside = next((other for other in fields if other.startswith(f"{field}.")), None)
        if inside is not None:
            raise UserError(
                f"{source}: 'run_name' uses both '{field}' and '{inside}', which is part of it: "
                "use one"
            )
    return list(dict.fromkeys(fields))


def _read(source: str) -> dict:
    data = read_yaml_file(source, "sweep")
    if not isinstance(data, dict):
        raise UserError(f"{source}: a sweep must be a mapping with 'base' and 'grid' or 'zip'")
    return data


def _mapping(data: dict, section: str, source: str) -> dict:
    value = data.get(section) or {}
    if not isinstance(value, dict):
        raise UserError(f"{source}: '{section}' must be a mapping of dotted keys to values")
    return {str(key): item for key, item in value.items()}


def _value_lists(data: dict, section: str, source: str) -> dict[str, list]:
    lists = _mapping(data, section, source)
    for key, values in lists.items():
        if not isinstance(values, list) or not values:
            shown_key = show_value(f"{section}.{key}")
            raise UserError(
                f"{source}: {shown_key} must be a non-empty list of values, e.g. [1, 10, 100], "
                f"got {show_value(values)}"
            )
    return lists


def _check_no_repeats(source: str, *sections: dict) -> None:
    seen = set()
    for keys in sections:
        for key in keys:
            if key in seen:
                raise UserError(f"{source}: '{key}' is given twice (in set, grid or zip): keep one")
            seen.add(key)


def override(key: str, value: Any) -> str:
    # JSON is YAML's flow syntax, so the override parser reads the value back exactly. YAML's
    # dates, sets and bytes, which no setting takes, go as text for the member's check to refuse.
    return f"{key}={json.dumps(value, default=str)}"


def _label(values: dict[str, Any], pattern: str | None, used_keys: list[str], source: str) -> str:
    if pattern is None:
        text = "_".join(f"{key.rsplit('.', 1)[-1]}={_show(value)}" for key, value in values.items())
    else:
        try:
            text = pattern.format(**_namespace({key: values[key] for key in used_keys}))
        except (KeyError, AttributeError) as error:
            raise UserError(
                f"{source}: 'run_name' uses {error}, which the sweep does not vary "
                f"(it varies {', '.join(values)})"
            ) from None
        except (IndexError, ValueError) as error:
            raise UserError(f"{source}: 'run_name' is not a valid pattern ({error})") from None
    # Keep names safe as directory names on every system, and short: a long value would make a
    # name past the file system's 255 bytes. The index in front keeps cut names unique.
    return re.sub(r"[^A-Za-z0-9._=,+-]+", "-", text)[:_MAX_LABEL].strip("-.") or "run"


def _namespace(values: dict[str, Any]) -> dict[str, Any]:
    """{"loss.style_weight": 10} -> {"loss": namespace(style_weight=10)}, for str.format."""
    root: dict[str, Any] = {}
    for key, value in values.items():
        *sections, last = key.split(".")
        node = root
        for section in sections:
            node = node.setdefault(section, {})
        node[last] = _Value(value)

    def to_namespace(node):
        if not isinstance(node, dict):
            return node
        return types.SimpleNamespace(**{key: to_namespace(item) for key, item in node.items()})

    return {key: to_namespace(item) for key, item in root.items()}


class _Value:
    """A varied value in a run_name pattern: compact by default ('10', not '10.0'), or as the
    pattern's format spec says ('{optim.steps:04d}')."""

    def __init__(self, value: Any):
        self.value = value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else _show(self.value)


def _show(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)
