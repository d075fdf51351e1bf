"""Reading configs: YAML files and `key=value` overrides checked against `nst.config.schema`.

`load_config` reads the YAML file, applies `--set key=value` overrides in order, checks every
key, type and range, and returns a frozen `Config`. Every problem is a one-line `UserError` that
names where the value came from (the file, `--set`, a sweep member or a Python call), the dotted
key and what to do. Imports no TensorFlow, so a bad config is rejected before the slow import.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence

import yaml

from nst import errors, networks
from nst.config.schema import Config, StyleImage, example_line, field_rules, used_layers
from nst.config.yaml_files import describe_yaml_error, load_yaml, read_yaml_file
from nst.errors import show_value

OVERRIDE_SOURCE = "--set"


def load_config(
    path: str | os.PathLike,
    overrides: Sequence[str] = (),
    override_source: str = OVERRIDE_SOURCE,
    training: bool = False,
) -> Config:
    """Read a YAML file, apply `key=value` overrides in order, validate, return a frozen Config.

    Errors in an override name `override_source` (`--set`, or a sweep member) as their origin.
    `training` reads an `nst train` config: train.photos is required and content, which such a
    config need not have, defaults to it.
    """
    source = os.fspath(path)
    return _resolve(read_yaml_file(source), source, overrides, override_source, training)


def is_training_file(path: str | os.PathLike) -> bool:
    """An `nst train` config: one with train.photos and no content of its own (a sweep over
    it trains a network per member)."""
    data = read_yaml_file(os.fspath(path))
    train = data.get("train") if isinstance(data, dict) else None
    return isinstance(train, dict) and "photos" in train and "content" not in data


def check_key(key: str, source: str) -> None:
    """Raise the error a config file gets if the dotted `key` names no value that can be set.

    A key is a setting (`loss.style_weight`), a whole section (`optim`) or one layer's weight
    (`layers.style.block3_conv1`; the layer name itself is checked when the config is built).
    """
    cls, prefix = Config, ""
    parts = key.split(".")
    for index, name in enumerate(parts):
        hint = _hint(cls, name)
        if hint is None:
            raise _unknown_key(source, _join(prefix, name), cls, prefix, name)
        rest = parts[index + 1 :]
        if not rest:
            return
        if typing.get_origin(hint) is Mapping and len(rest) == 1:
            return
        if not dataclasses.is_dataclass(hint):
            raise errors.UserError(
                f"{source}: unknown key {show_value(key)} ('{_join(prefix, name)}' has no keys)"
            )
        cls, prefix = hint, _join(prefix, name)


def config_from_dict(
    data: dict,
    source: str,
    overrides: Sequence[str] = (),
    override_source: str = OVERRIDE_SOURCE,
    training: bool = False,
) -> Config:
    """Validate a mapping as read from YAML, then `key=value` overrides; `source` and
    `override_source` are what error messages name; `training` as for load_config."""
    return _resolve(data, source, overrides, override_source, training)


def config_to_dict(config: Config) -> dict:
    """Every key of the config as plain dicts, lists, str, int and float; loads back equal."""
    return _to_plain(config)


def dump_config(config: Config) -> str:
    """YAML text of the full resolved config, defaults included, in field order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def _resolve(
    data: typing.Any,
    source: str,
    overrides: Sequence[str],
    override_source: str,
    training: bool = False,
) -> Config:
    if not isinstance(data, dict):
        got = "an empty file" if data is None else show_value(data)
        raise errors.UserError(
            f"{source}: a config must be a mapping with at least content and style, e.g. "
            f"'content: photos/your_photo.jpg' and 'style: assets/starry_night.jpg', got {got}"
        )
    origins: dict[str, str] = {}  # dotted key -> where its value came from
    tree = _parse_section(Config, data, "", source, origins)
    for override in overrides:
        _apply_override(tree, override, origins, override_source)
    if training:
        photos = tree.get("train", {}).get("photos", "")
        if not str(photos).strip():
            raise errors.UserError(
                f"{source}: nst train needs train.photos, the folder or glob of photos to learn "
                "from; add a section like 'train: {photos: assets/kodak/train}'"
            )
        tree.setdefault("content", photos)
    config = _construct(Config, tree, "", source)
    _check_layer_names(config, origins, source)
    return config


def _parse_section(cls: type, data: typing.Any, prefix: str, source: str, origins: dict) -> dict:
    """Check one YAML mapping against a dataclass; returns {field: parsed value} for given keys."""
    if not isinstance(data, dict):
        raise errors.UserError(
            f"{source}: '{prefix}' must be a mapping of keys, got {show_value(data)}"
        )
    hints = typing.get_type_hints(cls)
    tree = {}
    for name, value in data.items():
        key = _join(prefix, name)
        if name not in hints:
            raise _unknown_key(source, key, cls, prefix, name)
        tree[name] = _parse_value(cls, name, hints[name], value, key, source, origins)
    return tree


def _parse_value(cls, name, hint, value, key: str, source: str, origins: dict) -> typing.Any:
    if dataclasses.is_dataclass(hint):
        return _parse_section(hint, value, key, source, origins)
    origins[key] = source
    if hint == tuple[StyleImage, ...]:
        return _parse_styles(value, key, source, origins)
    if typing.get_origin(hint) is Mapping:
        return _parse_weights(value, key, source)
    choices, (check, allowed), number_or_word = field_rules(cls, name)
    if number_or_word and isinstance(value, int):
        # YAML reads a bare off as false.
        value = "off" if value is False else str(value)
    value = _parse_scalar(hint, value, key, source)
    if choices and value not in choices:
        raise errors.UserError(
            f"{source}: '{key}' must be one of {', '.join(choices)}, got {show_value(value)}"
            + _did_you_mean(value.lower(), choices)
        )
    if check is not None and not check(value):
        raise errors.UserError(f"{source}: '{key}' must be {allowed}, got {show_value(value)}")
    return value


def _parse_scalar(hint: type, value: typing.Any, key: str, source: str) -> typing.Any:
    if hint is str and isinstance(value, str):
        return value
    # bools are ints in Python but never numbers in a config.
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if hint is float and not isinstance(value, bool):
        # PyYAML reads 1e3 (no dot) as a string, so numeric strings count as floats.
        try:
            number = float(value) if isinstance(value, (int, float, str)) else math.nan
        except (ValueError, OverflowError):  # OverflowError: an int past float's range
            number = math.nan
        if math.isfinite(number):
            return number
    kinds = {
        str: "a string",
        int: "a whole number",
        float: "a finite number",
        bool: "true or false",
    }
    kind = kinds[hint]
    # `key` may end in a layer name as written in the file, so it is shown escaped.
    raise errors.UserError(f"{source}: {show_value(key)} must be {kind}, got {show_value(value)}")


def _parse_styles(value: typing.Any, key: str, source: str, origins: dict) -> tuple:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise errors.UserError(
            f"{source}: '{key}' must be an image path or a list of paths or "
            f"{{path: ..., weight: ...}} mappings, got {show_value(value)}"
        )
    styles = []
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict):
            raise errors.UserError(
                f"{source}: '{item_key}' must be a path or {{path: ..., weight: ...}}, "
                f"got {show_value(item)}"
            )
        tree = _parse_section(StyleImage, item, item_key, source, origins)
        styles.append(_construct(StyleImage, tree, item_key, source))
    return tuple(styles)


def _parse_weights(value: typing.Any, key: str, source: str) -> Mapping[str, float]:
    if not isinstance(value, dict):
        raise errors.UserError(
            f"{source}: '{key}' must be a mapping of layer names to weights, "
            f"e.g. {{block4_conv2: 1}}, got {show_value(value)}"
        )
    weights = {}
    for layer, weight in value.items():
        if not isinstance(layer, str):
            raise errors.UserError(
                f"{source}: '{key}' has a layer name that is not a string: {show_value(layer)}"
            )
        layer_key = f"{key}.{layer}"
        weights[layer] = _parse_scalar(float, weight, layer_key, source)
        if weights[layer] < 0:
            raise errors.UserError(
                f"{source}: {show_value(layer_key)} must be at least 0, got {show_value(weight)}"
            )
    if not any(weight > 0 for weight in weights.values()):
        raise errors.UserError(
            f"{source}: '{key}' needs at least one layer with a weight greater than 0, "
            f"got {show_value(value)}"
        )
    return types.MappingProxyType(weights)


def _apply_override(tree: dict, override: str, origins: dict, source: str) -> None:
    """Set one `dotted.key=value` into the parsed tree, checked like a file value."""
    key, equals, text = override.partition("=")
    key = key.strip()
    if not equals or not key:
        raise errors.UserError(
            f"{source} {show_value(override)}: expected key=value, e.g. optim.steps=200"
        )
    try:
        value = load_yaml(text)
    except yaml.YAMLError as error:
        _, problem = describe_yaml_error(error)
        raise errors.UserError(
            f"{source}: cannot read the value of {show_value(key)} as YAML ({problem}); "
            f"quote it if it is meant as text"
        ) from None
    # Walk down the sections named before the last part, as a file would nest them.
    parts = key.split(".")
    cls, node, depth = Config, tree, 0
    while depth < len(parts) - 1 and dataclasses.is_dataclass(_hint(cls, parts[depth])):
        cls, node = _hint(cls, parts[depth]), node.setdefault(parts[depth], {})
        depth += 1
    prefix, name, rest = ".".join(parts[:depth]), parts[depth], parts[depth + 1 :]
    hint = _hint(cls, name)
    if typing.get_origin(hint) is Mapping and len(rest) == 1:
        # `layers.style.block3_conv1=2` changes one entry of the current mapping.
        current = node[name] if name in node else _default(cls, name)
        mapping_key = _join(prefix, name)
        node[name] = _parse_weights({**current, rest[0]: value}, mapping_key, source)
        origins[key] = source
    elif rest and hint is not None:
        dotted = _join(prefix, name)
        if typing.get_origin(hint) is Mapping:
            fix = f"set one layer as {dotted}.<layer>=<weight>"
        else:
            fix = f"set '{dotted}' as a whole, e.g. {dotted}=..."
        raise errors.UserError(f"{source}: unknown key {show_value(key)}; {fix}")
    elif dataclasses.is_dataclass(hint):
        # Sections hold only leaves, so one level of update keeps the file's other keys.
        section = _parse_section(hint, value, key, source, origins)
        node.setdefault(name, {}).update(section)
    else:
        node.update(_parse_section(cls, {name: value}, prefix, source, origins))


def _construct(cls: type, tree: dict, prefix: str, source: str) -> typing.Any:
    """Build the dataclass from parsed values; what the tree lacks takes the default."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        key = _join(prefix, field.name)
        if dataclasses.is_dataclass(hints[field.name]):
            kwargs[field.name] = _construct(
                hints[field.name], tree.get(field.name, {}), key, source
            )
        elif field.name in tree:
            kwargs[field.name] = tree[field.name]
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            example = example_line(cls, field.name)
            raise errors.UserError(
                f"{source}: missing required key '{key}'; add a line like '{example}'"
            )
    return cls(**kwargs)


def _check_layer_names(config: Config, origins: dict, source: str) -> None:
    # Checked last because an override may change the network after the layers were read.
    network = config.model.network
    valid = networks.layer_names(network)
    for section in ("content", "style"):
        key = f"layers.{section}"
        for layer in getattr(config.layers, section):
            if layer not in valid:
                where = origins.get(f"{key}.{layer}", origins.get(key, source))
                hint = _did_you_mean(layer, valid) or f" (layers: {', '.join(valid)})"
                raise errors.UserError(
                    f"{where}: '{key}' has no layer {show_value(layer)} in {network}{hint}"
                )
    _check_tile(config, origins, source)
    _check_histogram(config, origins, source)


def _check_histogram(config: Config, origins: dict, source: str) -> None:
    """The histogram style loss compares whole images' sorted activations: no masks, no tiles."""
    if config.loss.style_loss != "histogram":
        return
    where = origins.get("loss.style_loss", source)
    if any(style.mask for style in config.style):
        raise errors.UserError(
            f"{where}: loss.style_loss histogram takes no style masks: remove the masks or use "
            "gram, mean_std or wasserstein"
        )
    if config.image.tile.isdigit():
        raise errors.UserError(
            f"{where}: loss.style_loss histogram cannot be tiled (image.tile "
            f"{config.image.tile}): set image.tile to auto or off, or use another style loss"
        )


def _check_tile(config: Config, origins: dict, source: str) -> None:
    """A tile size must leave each tile an interior beyond the deepest layer's reach."""
    if not config.image.tile.isdigit():
        return
    used = used_layers(config)
    smallest = networks.minimum_tile(config.model.network, used)
    if int(config.image.tile) < smallest:
        deepest = max(used, key=networks.layer_names(config.model.network).index)
        where = origins.get("image.tile", source)
        raise errors.UserError(
            f"{where}: 'image.tile' must be at least {smallest} px for {deepest} on "
            f"{config.model.network} (tiles overlap by its reach on each side), got "
            f"{config.image.tile}: raise it or use auto"
        )


def _unknown_key(source: str, key: str, cls: type, prefix: str, name) -> errors.UserError:
    # Deeper keys count too, so a key written one level too high (`steps`) finds `optim.steps`.
    candidates = {dotted: dotted.rsplit(".", 1)[-1] for dotted in _all_keys(cls, prefix)}
    matches = difflib.get_close_matches(str(name), list(candidates.values()), n=1)
    if matches:
        suggestion = next(dotted for dotted, last in candidates.items() if last == matches[0])
        return errors.UserError(
            f"{source}: unknown key {show_value(key)} (did you mean '{suggestion}'?)"
        )
    siblings = ", ".join(_join(prefix, field.name) for field in dataclasses.fields(cls))
    return errors.UserError(f"{source}: unknown key {show_value(key)} (valid keys: {siblings})")


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    matches = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    for name, hint in typing.get_type_hints(cls).items():
        keys.append(_join(prefix, name))
        if dataclasses.is_dataclass(hint):
            keys += _all_keys(hint, _join(prefix, name))
    return keys


def _hint(cls: type, name: str) -> typing.Any:
    return typing.get_type_hints(cls).get(name)


def _default(cls: type, name: str) -> typing.Any:
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


def _to_plain(value: typing.Any) -> typing.Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {name: _to_plain(item) for name, item in value.items()}
    if isinstance(value, tuple):
        return [_to_plain(item) for item in value]
    return value


def _join(prefix: str, name: typing.Any) -> str:
    return f"{prefix}.{name}" if prefix else str(name)
