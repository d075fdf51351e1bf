"""Experiment configs: frozen dataclasses with defaults in code; a YAML file holds what differs.

`load_config` reads the YAML file, applies `--set key=value` overrides in order, checks every
key, type and range, and returns a frozen `Config`. Every problem is a one-line `UserError` that
names where the value came from (the file, or `--set`), the dotted key and what to do.
Imports no TensorFlow, so the CLI can reject a bad config before the slow import.
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
from nst.errors import show_value
from nst.yaml_files import describe_yaml_error, load_yaml, read_yaml_file

OVERRIDE_SOURCE = "--set"


@dataclasses.dataclass(frozen=True)
class StyleImage:
    path: str = dataclasses.field(metadata={"example": "style: [{path: assets/starry_night.jpg}]"})
    weight: float = 1.0  # blend weight; the loss code normalises the weights to sum 1
    mask: str = ""  # optional image: this style applies where it is white, nowhere it is black


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    size: int = 512  # longest side of the output in pixels
    style_scale: float = 1.0  # the style images' longest side, relative to size: brush size
    # Print sizes (nst.tiling): "auto" evaluates the network over tiles only when a run would not
    # fit in memory otherwise, and then sizes the tiles and the optimiser's state to fit; a
    # number is the tiles' longest side in px (images no larger run whole); "off" never tiles.
    tile: str = "auto"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    network: str = "vgg19"
    # auto: ImageNet (Keras' cache or a download), else offline VGG16 "hed" weights (nst.weights);
    # or "imagenet" | "hed" | "none" | a weights file, checked when loaded.
    weights: str = "auto"
    pooling: str = "max"
    taps: str = "post_relu"  # read layers after their ReLU, or before it (pre_relu)
    # float32, or convolutions in 16 bits (the loss stays float32): README "Performance".
    precision: str = "float32"


def _frozen_weights(**weights: float) -> typing.Callable[[], Mapping[str, float]]:
    return lambda: types.MappingProxyType(dict(weights))


@dataclasses.dataclass(frozen=True)
class LayersConfig:
    # {layer name: weight}; a mapping given in a file or override replaces the default whole.
    content: Mapping[str, float] = dataclasses.field(
        default_factory=_frozen_weights(block4_conv2=1.0)
    )
    style: Mapping[str, float] = dataclasses.field(
        default_factory=_frozen_weights(
            block1_conv1=1.0, block2_conv1=1.0, block3_conv1=1.0, block4_conv1=1.0, block5_conv1=1.0
        )
    )


@dataclasses.dataclass(frozen=True)
class LossConfig:
    # The defaults were chosen by nst.metrics' readout of Tübingen + Starry Night at 512 px
    # (offline VGG16 features; README "The default look"): the painting's palette and stroke
    # spectrum while the town stays recognisable. The terms are normalised (nst.losses), so a
    # weight means the same at any size; VGG19 with ImageNet weights could not be checked here.
    content_weight: float = 1.0
    style_weight: float = 5.0
    # Light: the coarse-to-fine start already gives smooth large strokes; more blurs the finest
    # brush texture the painting has (the top octave of the stroke spectrum).
    tv_weight: float = 0.01
    # The pixels' colour distribution against the style's (nst.palette): without it the
    # palette stays halfway between photo and painting.
    palette_weight: float = 1.0
    style_loss: str = "gram"  # gram | mean_std | wasserstein (mean and covariance)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    name: str = "lbfgs"
    # L-BFGS iterations or Adam steps at the output size (the last scale): the coarse scales
    # before it have already formed the picture, so few are needed here (README "The default look").
    steps: int = 60
    learning_rate: float = 0.02  # Adam only; pixel values are in [0, 1]
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    history: int = 100  # L-BFGS correction pairs kept
    # L-BFGS: none takes step 1 as Torch's L-BFGS and jcjohnson/neural-style do, one evaluation
    # an iteration; hager_zhang is tfp's line search, ~3 evaluations an iteration for about the
    # same loss per iteration (README "Optimisers"), so none is the default.
    line_search: str = "none"
    tolerance: float = 0.0  # L-BFGS: stop when no gradient entry is larger; 0 runs every step


@dataclasses.dataclass(frozen=True)
class ColorConfig:
    preserve: str = "none"  # none | transfer (the content's colours put back) | luminance
    space: str = "yiq"  # yiq | ycbcr: where luminance and colour are separated
    match_style: bool = False  # shift the style's colours to the content's before transfer


@dataclasses.dataclass(frozen=True)
class ScalesConfig:
    count: int = 0  # 0 = automatic: sizes halve from image.size down to min_size
    min_size: int = 128  # longest side of the first, coarsest scale
    steps: int = 150  # steps at each scale before the last; the last runs optim.steps


@dataclasses.dataclass(frozen=True)
class LogConfig:
    every: int = 10  # scalars, metrics.jsonl and the progress bar's loss
    image_every: int = 50  # image to TensorBoard; 0 = only the final image
    snapshot_every: int = 100  # PNG snapshot in the run directory; 0 = off
    checkpoint_every: int = 100  # optimiser state for `nst resume`; 0 = only on Ctrl-C / SIGTERM


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    # `content` naming a video file (mp4, mov, webm, animated gif...) makes the run a clip; a
    # folder or glob of images is separate stills, or with frames: true one clip's frames.
    frames: bool = False
    start: float = 0.0  # seconds into the clip where the work starts
    max_frames: int = 0  # 0 = every frame from start
    fps: float = 0.0  # frames a second of the result; 0 = the source's (frames: 24)
    # Ruder et al. 2016: each frame starts from the previous result warped by optical flow, and
    # this term keeps it there where the flow is reliable; 0 stylizes each frame on its own.
    temporal_weight: float = 1.0
    # The first frame has no previous one to start from: it runs the configured schedule
    # (coarse to fine, optim.steps at the last scale), or this many steps at image.size; later
    # frames run optim.steps at image.size.
    first_frame_steps: int = 0
    # A pixel the flow can't follow (revealed by motion or entering at the border) is left
    # free of the temporal term, and held fully only after this many frames: time for the
    # frames' steps to restyle it (1 = Ruder et al.'s mask; nst.sequence.temporal_weights).
    settle_frames: int = 8
    flow: str = "dis"  # OpenCV's optical flow: dis (fast, accurate) or farneback


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    root: str = "runs"  # runs go to <root>/<name>/<timestamp>/
    name: str = ""  # run-group name; "" = the config file's stem


@dataclasses.dataclass(frozen=True)
class Config:
    content: str = dataclasses.field(metadata={"example": "content: photos/your_photo.jpg"})
    style: tuple[StyleImage, ...] = dataclasses.field(
        metadata={"example": "style: assets/starry_night.jpg"}
    )
    image: ImageConfig = dataclasses.field(default_factory=ImageConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    layers: LayersConfig = dataclasses.field(default_factory=LayersConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    color: ColorConfig = dataclasses.field(default_factory=ColorConfig)
    scales: ScalesConfig = dataclasses.field(default_factory=ScalesConfig)
    init: str = "content"  # "content" | "noise" | "style" | an image path, checked when loaded
    seed: int = 0
    log: LogConfig = dataclasses.field(default_factory=LogConfig)
    video: VideoConfig = dataclasses.field(default_factory=VideoConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)


# Text settings that may also be written as a whole number (image.tile: 1024), kept as text.
_NUMBER_OR_WORD = ("ImageConfig.tile",)
# Allowed values, keyed "Class.field"; checked as each value is read so errors name its source.
_CHOICES = {
    "ModelConfig.network": networks.NETWORKS,
    "ModelConfig.pooling": ("max", "avg"),
    "ModelConfig.taps": ("post_relu", "pre_relu"),
    "ModelConfig.precision": ("float32", "mixed_bfloat16", "mixed_float16"),
    "OptimConfig.name": ("lbfgs", "adam"),
    "OptimConfig.line_search": ("hager_zhang", "none"),
    "LossConfig.style_loss": ("gram", "mean_std", "wasserstein"),
    "ColorConfig.preserve": ("none", "transfer", "luminance"),
    "ColorConfig.space": ("yiq", "ycbcr"),
    "VideoConfig.flow": ("dis", "farneback"),
}
_RULES: dict[str, tuple[typing.Callable[[typing.Any], bool], str]] = {
    "StyleImage.path": (lambda v: v.strip() != "", "a non-empty path"),
    "StyleImage.weight": (lambda v: v > 0, "greater than 0"),
    "ImageConfig.size": (lambda v: 16 <= v <= 8192, "between 16 and 8192"),
    "ImageConfig.style_scale": (lambda v: 0.05 <= v <= 8, "between 0.05 and 8"),
    "ImageConfig.tile": (
        lambda v: v in ("auto", "off") or (v.isdigit() and 16 <= int(v) <= 8192),
        "auto, off or a tile size in px between 16 and 8192",
    ),
    "ScalesConfig.count": (lambda v: 0 <= v <= 8, "between 0 (automatic) and 8"),
    "ScalesConfig.min_size": (lambda v: 16 <= v <= 8192, "between 16 and 8192"),
    "ScalesConfig.steps": (lambda v: 1 <= v <= 10**7, "between 1 and 10000000"),
    "ModelConfig.weights": (
        lambda v: v.strip() != "",
        "auto (ImageNet, or offline VGG16 weights without a network), imagenet, hed, none "
        "or a weights file",
    ),
    "LossConfig.content_weight": (lambda v: v >= 0, "at least 0"),
    "LossConfig.style_weight": (lambda v: v >= 0, "at least 0"),
    "LossConfig.tv_weight": (lambda v: v >= 0, "at least 0"),
    "LossConfig.palette_weight": (lambda v: v >= 0, "at least 0"),
    # Steps are counted in 32-bit integers in the compiled loops; 10 million is days of work.
    "OptimConfig.steps": (lambda v: 1 <= v <= 10**7, "between 1 and 10000000"),
    "OptimConfig.learning_rate": (lambda v: v > 0, "greater than 0"),
    "OptimConfig.beta_1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "OptimConfig.beta_2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "OptimConfig.epsilon": (lambda v: v > 0, "greater than 0"),
    # Torch's default is 100; past 1000 pairs the history only costs memory.
    "OptimConfig.history": (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    "OptimConfig.tolerance": (lambda v: v >= 0, "at least 0"),
    "LogConfig.every": (lambda v: v >= 1, "at least 1"),
    "LogConfig.image_every": (lambda v: v >= 0, "at least 0 (0 = only the final image)"),
    "LogConfig.snapshot_every": (lambda v: v >= 0, "at least 0 (0 = off)"),
    "LogConfig.checkpoint_every": (lambda v: v >= 0, "at least 0 (0 = only when stopped)"),
    "VideoConfig.start": (lambda v: v >= 0, "at least 0 (seconds)"),
    "VideoConfig.max_frames": (lambda v: v >= 0, "at least 0 (0 = every frame)"),
    "VideoConfig.fps": (lambda v: 0 <= v <= 240, "between 0 (the source's rate) and 240"),
    "VideoConfig.temporal_weight": (lambda v: v >= 0, "at least 0 (0 = frames on their own)"),
    "VideoConfig.first_frame_steps": (
        lambda v: 0 <= v <= 10**7,
        "between 0 (the configured schedule) and 10000000",
    ),
    "VideoConfig.settle_frames": (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    "OutputConfig.root": (lambda v: v.strip() != "", "a non-empty directory"),
    "OutputConfig.name": (
        lambda v: "/" not in v and "\\" not in v and v not in (".", ".."),
        "a name without slashes (not . or ..)",
    ),
    "Config.content": (lambda v: v.strip() != "", "a non-empty path"),
    "Config.init": (lambda v: v.strip() != "", "content, noise, style or an image path"),
    # NumPy's and Keras' seeding take 32 bits.
    "Config.seed": (lambda v: 0 <= v < 2**32, f"between 0 and {2**32 - 1}"),
}


def load_config(
    path: str | os.PathLike,
    overrides: Sequence[str] = (),
    override_source: str = OVERRIDE_SOURCE,
) -> Config:
    """Read a YAML file, apply `key=value` overrides in order, validate, return a frozen Config.

    Errors in an override name `override_source` (`--set`, or a sweep member) as their origin.
    """
    source = os.fspath(path)
    return _resolve(read_yaml_file(source), source, overrides, override_source)


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


def config_from_dict(data: dict, source: str) -> Config:
    """Validate a mapping as read from YAML; `source` is what error messages name."""
    return _resolve(data, source, (), OVERRIDE_SOURCE)


def config_to_dict(config: Config) -> dict:
    """Every key of the config as plain dicts, lists, str, int and float; loads back equal."""
    return _to_plain(config)


def dump_config(config: Config) -> str:
    """YAML text of the full resolved config, defaults included, in field order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def _resolve(
    data: typing.Any, source: str, overrides: Sequence[str], override_source: str
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
    rule_key = f"{cls.__name__}.{name}"
    if rule_key in _NUMBER_OR_WORD and isinstance(value, int):
        # YAML reads a bare off as false.
        value = "off" if value is False else str(value)
    value = _parse_scalar(hint, value, key, source)
    if rule_key in _CHOICES and value not in _CHOICES[rule_key]:
        choices = _CHOICES[rule_key]
        raise errors.UserError(
            f"{source}: '{key}' must be one of {', '.join(choices)}, got {show_value(value)}"
            + _did_you_mean(value.lower(), choices)
        )
    if rule_key in _RULES:
        check, allowed = _RULES[rule_key]
        if not check(value):
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
            example = field.metadata["example"]
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


def used_layers(config: Config) -> list[str]:
    """The layers the loss reads (weight above 0), content first."""
    weighted = {**config.layers.content, **config.layers.style}
    return [layer for layer, weight in weighted.items() if weight > 0]


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
