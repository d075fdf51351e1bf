"""Every setting of a run: its section, type, default, allowed values and what it does.

This is the one source the rest reads: `nst.config.loading` validates files and overrides against
it, `help(nst.algorithm.stylize)` and docs/config-reference.md list it (`describe_settings`). A
setting is
declared with `setting(default, help, ...)`; its help is what users read, so it says what the
value does to the picture or the run, not how the code uses it.
Imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence

from nst import networks

_NO_RULE = (None, "")


def setting(
    default: typing.Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[str] = (),
    check: Callable[[typing.Any], bool] | None = None,
    allowed: str = "",
    factory: Callable[[], typing.Any] | None = None,
    example: str = "",
    number_or_word: bool = False,
) -> typing.Any:
    """A config field: `choices` or `check` (with `allowed`, the words an error uses) limit its
    values; `example` is the line a missing required key's error suggests; `number_or_word`
    keeps a bare YAML number as text (image.tile: 1024)."""
    metadata = {
        "help": help,
        "choices": tuple(choices),
        "rule": (check, allowed) if check else _NO_RULE,
        "example": example,
        "number_or_word": number_or_word,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _frozen_weights(**weights: float) -> Callable[[], Mapping[str, float]]:
    return lambda: types.MappingProxyType(dict(weights))


def _between(low: float, high: float) -> Callable[[typing.Any], bool]:
    return lambda value: low <= value <= high


def _non_empty(value: str) -> bool:
    return value.strip() != ""


@dataclasses.dataclass(frozen=True)
class StyleImage:
    path: str = setting(
        help="the painting (an image file)",
        check=_non_empty,
        allowed="a non-empty path",
        example="style: [{path: assets/starry_night.jpg}]",
    )
    weight: float = setting(
        1.0,
        "blend weight among the styles; the weights are normalised to sum 1",
        check=lambda v: v > 0,
        allowed="greater than 0",
    )
    mask: str = setting(
        "", "optional image: this style applies where it is white, nowhere where it is black"
    )


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    size: int = setting(
        512,
        "longest side of the result in px",
        check=_between(16, 8192),
        allowed="between 16 and 8192",
    )
    style_scale: float = setting(
        1.0,
        "the style images' longest side relative to size: the brush size (2 = strokes twice "
        "as large)",
        check=_between(0.05, 8),
        allowed="between 0.05 and 8",
    )
    # Print sizes (nst.algorithm.tiling): evaluated over tiles only when the run would not fit.
    tile: str = setting(
        "auto",
        "print sizes: auto evaluates the network over tiles only when the run would not fit in "
        "memory, sizing tiles and optimiser state to fit; a number is the tiles' longest side in "
        "px; off never tiles",
        check=lambda v: v in ("auto", "off") or (v.isdigit() and 16 <= int(v) <= 8192),
        allowed="auto, off or a tile size in px between 16 and 8192",
        number_or_word=True,
    )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    network: str = setting("vgg19", "the frozen feature network", choices=networks.NETWORKS)
    weights: str = setting(
        "auto",
        "auto: ImageNet (Keras' cache or a download), else offline VGG16 'hed' weights; or "
        "imagenet, hed (VGG16 only), none (random) or a weights file",
        check=_non_empty,
        allowed="auto (ImageNet, or offline VGG16 weights without a network), imagenet, hed, "
        "none or a weights file",
    )
    pooling: str = setting("max", "the network's pooling layers", choices=("max", "avg"))
    taps: str = setting(
        "post_relu",
        "read layers after their ReLU, or before it (pre_relu)",
        choices=("post_relu", "pre_relu"),
    )
    precision: str = setting(
        "float32",
        "float32, or convolutions in 16 bits (the loss stays float32): docs/performance.md",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    )


@dataclasses.dataclass(frozen=True)
class LayersConfig:
    content: Mapping[str, float] = setting(
        help="{layer: weight} whose features the result keeps from the photo; a mapping "
        "replaces the default whole, layers.content.<layer>=<weight> changes one",
        factory=_frozen_weights(block4_conv2=1.0),
    )
    style: Mapping[str, float] = setting(
        help="{layer: weight} whose feature statistics the result takes from the painting",
        factory=_frozen_weights(
            block1_conv1=1.0, block2_conv1=1.0, block3_conv1=1.0, block4_conv1=1.0, block5_conv1=1.0
        ),
    )


# The loss defaults were chosen by the quality readout of Tübingen + Starry Night at 512 px
# (offline VGG16 features; docs/default-look.md). The terms are normalised (nst.algorithm.losses),
# so a weight means the same at any size; VGG19 with ImageNet weights could not be checked here.
@dataclasses.dataclass(frozen=True)
class LossConfig:
    content_weight: float = setting(
        1.0,
        "how strongly the photo's shapes are kept",
        check=lambda v: v >= 0,
        allowed="at least 0",
    )
    style_weight: float = setting(
        5.0,
        "how strongly the painting's texture is taken",
        check=lambda v: v >= 0,
        allowed="at least 0",
    )
    # Flow TV smooths along each pixel's strokes only (and the photo's edges), so they grow long
    # and follow the shapes (issue 21's study, docs/default-look.md): coherence 0.48 -> 0.69 on
    # Tübingen + The Starry Night at 512 px. Light, as isotropic TV was (0.01): more lengthens
    # the strokes but costs palette (0.06: the portrait's palette 2.20 -> 2.40).
    tv_weight: float = setting(
        0.04,
        "smoothness (total variation): more removes fine grain and fine strokes (with "
        "tv_form flow: more makes the strokes longer)",
        check=lambda v: v >= 0,
        allowed="at least 0",
    )
    # Isotropic is the classic TV (the default until issue 21, at weight 0.01; the peer recipes
    # and the trained network's config still use it).
    tv_form: str = setting(
        "flow",
        "TV's form: flow (only along each pixel's stroke direction, so strokes grow long and "
        "follow the shapes) or isotropic (every direction: a fine ripple instead of strokes)",
        choices=("isotropic", "flow"),
    )
    # Without it the palette stays halfway between photo and painting.
    palette_weight: float = setting(
        1.0,
        "how closely the pixels' colours follow the painting's colour distribution",
        check=lambda v: v >= 0,
        allowed="at least 0",
    )
    style_loss: str = setting(
        "gram",
        "the style statistics matched: gram, mean_std, wasserstein (mean and covariance) or "
        "histogram (Gram and each channel's histogram; no masks or tiles)",
        choices=("gram", "mean_std", "wasserstein", "histogram"),
    )


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    name: str = setting("lbfgs", "the optimiser", choices=("lbfgs", "adam"))
    # The coarse scales before the last have already formed the picture, so few are needed
    # (45 since flow TV: the 512 px iterations went to the coarse scales, which keep the photo).
    steps: int = setting(
        45,
        "L-BFGS iterations or Adam steps at the output size (the last scale)",
        # Counted in 32-bit integers in the compiled loops; 10 million is days of work.
        check=lambda v: 1 <= v <= 10**7,
        allowed="between 1 and 10000000",
    )
    learning_rate: float = setting(
        0.02,
        "Adam only; pixel values are in [0, 1]",
        check=lambda v: v > 0,
        allowed="greater than 0",
    )
    beta_1: float = setting(0.9, "Adam only", check=lambda v: 0 <= v < 1, allowed="in [0, 1)")
    beta_2: float = setting(0.999, "Adam only", check=lambda v: 0 <= v < 1, allowed="in [0, 1)")
    epsilon: float = setting(1e-7, "Adam only", check=lambda v: v > 0, allowed="greater than 0")
    # Torch's default is 100; past 1000 pairs the history only costs memory.
    history: int = setting(
        100,
        "L-BFGS correction pairs kept",
        check=lambda v: 1 <= v <= 1000,
        allowed="between 1 and 1000",
    )
    # none takes step 1 as Torch's L-BFGS and jcjohnson/neural-style do, one evaluation an
    # iteration; hager_zhang costs ~3 evaluations an iteration for about the same loss per
    # iteration (docs/performance.md).
    line_search: str = setting(
        "none",
        "L-BFGS: none (one evaluation an iteration) or hager_zhang (tfp's line search)",
        choices=("hager_zhang", "none"),
    )
    tolerance: float = setting(
        0.0,
        "L-BFGS: stop when no gradient entry is larger; 0 runs every step",
        check=lambda v: v >= 0,
        allowed="at least 0",
    )


@dataclasses.dataclass(frozen=True)
class ColorConfig:
    preserve: str = setting(
        "none",
        "keep the photo's colours: none, transfer (its colours put back on the result) or "
        "luminance (style transferred on brightness only)",
        choices=("none", "transfer", "luminance"),
    )
    space: str = setting(
        "yiq", "where brightness and colour are separated", choices=("yiq", "ycbcr")
    )
    match_style: bool = setting(
        False, "shift the painting's colours to the photo's before the transfer"
    )


@dataclasses.dataclass(frozen=True)
class ScalesConfig:
    count: int = setting(
        0,
        "0 = automatic: sizes halve from image.size down to min_size; N = N sizes",
        check=lambda v: 0 <= v <= 8,
        allowed="between 0 (automatic) and 8",
    )
    min_size: int = setting(
        128,
        "longest side of the first, coarsest scale",
        check=_between(16, 8192),
        allowed="between 16 and 8192",
    )
    steps: int = setting(
        200,
        "steps at each scale before the last; the last runs optim.steps",
        check=lambda v: 1 <= v <= 10**7,
        allowed="between 1 and 10000000",
    )


@dataclasses.dataclass(frozen=True)
class LogConfig:
    every: int = setting(
        10,
        "steps between loss scalars, metrics.jsonl lines and the bar's loss",
        check=lambda v: v >= 1,
        allowed="at least 1",
    )
    image_every: int = setting(
        50,
        "steps between images in TensorBoard; 0 = only the final image",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = only the final image)",
    )
    snapshot_every: int = setting(
        100,
        "steps between PNG snapshots in the run directory; 0 = off",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = off)",
    )
    checkpoint_every: int = setting(
        100,
        "steps between checkpoints for nst resume; 0 = only on Ctrl-C / SIGTERM",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = only when stopped)",
    )


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    frames: bool = setting(
        False,
        "a folder or glob of images as content is separate stills; true makes them one clip's "
        "frames (a video file as content is always a clip)",
    )
    start: float = setting(
        0.0,
        "seconds into the clip where the work starts",
        check=lambda v: v >= 0,
        allowed="at least 0 (seconds)",
    )
    max_frames: int = setting(
        0,
        "0 = every frame from start",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = every frame)",
    )
    fps: float = setting(
        0.0,
        "frames a second of the result; 0 = the source's (frames: 24)",
        check=lambda v: 0 <= v <= 240,
        allowed="between 0 (the source's rate) and 240",
    )
    # Ruder et al. 2016: each frame starts from the previous result warped by optical flow.
    temporal_weight: float = setting(
        1.0,
        "how strongly each frame keeps the previous result where the optical flow is "
        "reliable; 0 stylizes each frame on its own",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = frames on their own)",
    )
    first_frame_steps: int = setting(
        0,
        "the first frame runs the configured schedule (0) or this many steps at image.size; "
        "later frames run optim.steps",
        check=lambda v: 0 <= v <= 10**7,
        allowed="between 0 (the configured schedule) and 10000000",
    )
    settle_frames: int = setting(
        8,
        "frames over which a pixel the flow can't follow comes under the temporal term "
        "(1 = Ruder et al.'s mask)",
        check=lambda v: 1 <= v <= 1000,
        allowed="between 1 and 1000",
    )
    flow: str = setting(
        "dis",
        "OpenCV's optical flow: dis (fast, accurate) or farneback",
        choices=("dis", "farneback"),
    )


# Feed-forward training (nst train; nst.runs.training). The loss is the run's: the same
# layers, weights and model, so a run config's look carries over.
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    photos: str = setting(
        "",
        "nst train: the folder or glob of photos the network learns from (COCO, your own)",
    )
    validation: str = setting(
        "",
        "nst train: a folder, glob or list file of photos kept out of training, stylized at "
        "image.size every validate_every steps; empty = none",
    )
    width: str = setting(
        "half",
        "the network's filters: full (Johnson et al.) or half (a quarter of the work, as "
        "jcjohnson's released models)",
        choices=("full", "half"),
    )
    size: int = setting(
        256,
        "side of the square random crops trained on, px; the photos are first resized to "
        "image.size on their longest side, so image.size is the size the model is made for",
        check=_between(32, 4096),
        allowed="between 32 and 4096",
    )
    jitter: float = setting(
        0.2,
        "photos are resized by a random factor in [1 - jitter, 1 + jitter] before cropping",
        check=_between(0, 0.9),
        allowed="between 0 and 0.9",
    )
    flip: bool = setting(True, "mirror half the crops left to right")
    batch: int = setting(
        4, "crops per step (split over the GPUs)", check=_between(1, 1024), allowed="1 to 1024"
    )
    steps: int = setting(
        2000,
        "optimiser steps",
        check=lambda v: 1 <= v <= 10**8,
        allowed="between 1 and 100000000",
    )
    learning_rate: float = setting(
        1e-3, "Adam's learning rate", check=lambda v: 0 < v < 1, allowed="between 0 and 1"
    )
    validate_every: int = setting(
        250,
        "steps between the validation photos' results in TensorBoard; 0 = only at the end",
        check=lambda v: v >= 0,
        allowed="at least 0 (0 = only at the end)",
    )


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    root: str = setting(
        "runs",
        "runs go to <root>/<name>/<timestamp>/",
        check=_non_empty,
        allowed="a non-empty directory",
    )
    name: str = setting(
        "",
        "run-group name; empty = the config file's stem",
        check=lambda v: "/" not in v and "\\" not in v and v not in (".", ".."),
        allowed="a name without slashes (not . or ..)",
    )


@dataclasses.dataclass(frozen=True)
class Config:
    content: str = setting(
        help="the photo: an image, a video, or a folder or glob of images",
        check=_non_empty,
        allowed="a non-empty path",
        example="content: photos/your_photo.jpg",
    )
    style: tuple[StyleImage, ...] = setting(
        help="the painting: a path, a list of paths, or {path, weight, mask} mappings to blend",
        example="style: assets/starry_night.jpg",
    )
    image: ImageConfig = dataclasses.field(default_factory=ImageConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    layers: LayersConfig = dataclasses.field(default_factory=LayersConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    color: ColorConfig = dataclasses.field(default_factory=ColorConfig)
    scales: ScalesConfig = dataclasses.field(default_factory=ScalesConfig)
    init: str = setting(
        "content",
        "where the optimisation starts: content, noise, style or an image path",
        check=_non_empty,
        allowed="content, noise, style or an image path",
    )
    # NumPy's and Keras' seeding take 32 bits.
    seed: int = setting(
        0,
        "seeds the noise start and random weights",
        check=lambda v: 0 <= v < 2**32,
        allowed=f"between 0 and {2**32 - 1}",
    )
    log: LogConfig = dataclasses.field(default_factory=LogConfig)
    video: VideoConfig = dataclasses.field(default_factory=VideoConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)


def section_names() -> tuple[str, ...]:
    """The config's sections (image, model, ...): the keys that hold keys."""
    hints = typing.get_type_hints(Config)
    return tuple(name for name, hint in hints.items() if dataclasses.is_dataclass(hint))


def used_layers(config: Config) -> list[str]:
    """The layers the loss reads (weight above 0), content first."""
    weighted = {**config.layers.content, **config.layers.style}
    return [layer for layer, weight in weighted.items() if weight > 0]


@dataclasses.dataclass(frozen=True)
class SettingInfo:
    """One setting as users read it: dotted key, type, default (None: required) and help."""

    key: str
    kind: str
    default: typing.Any
    help: str
    choices: tuple[str, ...]


def describe_settings(cls: type = Config, prefix: str = "") -> list[SettingInfo]:
    """Every setting in declaration order, sections expanded (what the docs and help list)."""
    hints = typing.get_type_hints(cls)
    described = []
    for field in dataclasses.fields(cls):
        key = f"{prefix}.{field.name}" if prefix else field.name
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            described += describe_settings(hint, key)
            continue
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = dict(field.default_factory())
        else:
            default = None
        described.append(
            SettingInfo(
                key, _kind(hint), default, field.metadata["help"], field.metadata["choices"]
            )
        )
    return described


def _kind(hint: typing.Any) -> str:
    if typing.get_origin(hint) is Mapping:
        return "{layer: weight}"
    if hint == tuple[StyleImage, ...]:
        return "path or list"
    return {str: "text", int: "int", float: "number", bool: "bool"}[hint]


def field_rules(cls: type, name: str) -> tuple[tuple[str, ...], tuple, bool]:
    """(choices, (check, allowed) or (None, ''), number_or_word) of one field."""
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    metadata = field.metadata
    return metadata["choices"], metadata["rule"], metadata["number_or_word"]


def example_line(cls: type, name: str) -> str:
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    return field.metadata["example"]
