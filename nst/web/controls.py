"""The page's controls, named for what they do, and the config keys each one sets.

Pure: no Gradio, no TensorFlow. `overrides` turns the controls into dotted config keys for
nst.stylize; `from_config` reads them back from a run's config.yaml ("use these settings
again"). Every key a control sets is shown on the page beside it (KEYS), so an artist who later
writes YAML finds the same names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nst.config import Config, LossConfig, OptimConfig, ScalesConfig
from nst.errors import UserError

# The quality choice is a schedule: a preview to try settings in a fraction of the time, and
# the defaults (coarse to fine: scales.steps L-BFGS steps a scale, optim.steps at the output size).
QUALITY = {
    "preview": {"scales.steps": 40, "optim.steps": 20},
    "final": {"scales.steps": ScalesConfig().steps, "optim.steps": OptimConfig().steps},
}

COLOURS = {
    "painting's colours": "none",
    "photo's colours put back": "transfer",
    "style on brightness only": "luminance",
}

NETWORKS = ("vgg16", "vgg19")
WEIGHTS = ("auto", "hed", "imagenet", "none")

KEYS = {
    "size": "image.size",
    "style_strength": "loss.style_weight",
    "brush_size": "image.style_scale",
    "smoothness": "loss.tv_weight",
    "colours": "color.preserve",
    "quality": "scales.steps, optim.steps",
    "network": "model.network",
    "weights": "model.weights",
}


@dataclasses.dataclass(frozen=True)
class Controls:
    size: int = 512
    style_strength: float = 5.0
    brush_size: float = 1.0
    smoothness: float = LossConfig().tv_weight
    colours: str = "painting's colours"
    quality: str = "preview"
    network: str = "vgg16"
    weights: str = "auto"


def overrides(controls: Controls) -> dict[str, Any]:
    """The dotted config keys the controls set (nst.stylize's `overrides`)."""
    if controls.quality not in QUALITY:
        raise UserError(f"quality must be one of {', '.join(QUALITY)}, got {controls.quality!r}")
    if controls.colours not in COLOURS:
        raise UserError(f"colours must be one of {', '.join(COLOURS)}, got {controls.colours!r}")
    keys = {
        "image.size": int(controls.size),
        "loss.style_weight": float(controls.style_strength),
        "image.style_scale": float(controls.brush_size),
        "loss.tv_weight": float(controls.smoothness),
        "color.preserve": COLOURS[controls.colours],
        "model.network": controls.network,
        "model.weights": controls.weights,
    }
    return keys | QUALITY[controls.quality]


def from_config(config: Config) -> Controls:
    """The controls that give `config`'s settings (quality: the nearer schedule)."""
    colours = {mode: label for label, mode in COLOURS.items()}
    preview = QUALITY["preview"]
    quality = "preview" if config.optim.steps <= preview["optim.steps"] else "final"
    weights = config.model.weights if config.model.weights in WEIGHTS else "auto"
    return Controls(
        size=config.image.size,
        style_strength=config.loss.style_weight,
        brush_size=config.image.style_scale,
        smoothness=config.loss.tv_weight,
        colours=colours[config.color.preserve],
        quality=quality,
        network=config.model.network,
        weights=weights,
    )


def settings_table(config: Config) -> list[list[str]]:
    """[control, value, config key] rows: what a run was made with, as the page names it."""
    controls = dataclasses.asdict(from_config(config))
    rows = [[name.replace("_", " "), _shown(controls[name]), KEYS[name]] for name in KEYS]
    styles = ", ".join(f"{style.path} ×{style.weight:g}" for style in config.style)
    return [["photo", config.content, "content"], ["paintings", styles, "style"], *rows]


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def blend(paintings: list, weights: list[float]) -> list[Mapping[str, Any]]:
    """nst.stylize's style list from the painting slots that hold one (a path or pixels)."""
    chosen = [
        {"path": painting, "weight": float(weight)}
        for painting, weight in zip(paintings, weights, strict=True)
        if painting is not None
    ]
    if not chosen:
        raise UserError("choose a painting (a shipped one or an upload)")
    if all(entry["weight"] <= 0 for entry in chosen):
        raise UserError("give at least one painting a blend weight above 0")
    return [entry for entry in chosen if entry["weight"] > 0]
