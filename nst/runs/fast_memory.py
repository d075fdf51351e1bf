"""Memory checks for the feed-forward network: training (`nst train`) and applying (`nst apply`),
made before anything is built, as nst.runs.preflight does for `nst run`.

Training holds, per crop, the transformer's activations and the feature network's for the
result and the photo (both kept for the backward pass); applying holds a few of the
transformer's largest activations at the output size (no backward pass). The activation counts
are exact; the factors on them were calibrated by peak RSS ("Maximum resident set size" of
/usr/bin/time -v) on the 2-core development CPU, float32:

    nst apply models/starry.keras photo_1920x1080.png --precision float32   1.57 GiB (est. 1.57)
    nst train configs/train/starry.yaml (128 px crops, batch 4)   1.39-1.53 GiB mid-run (est. 1.56)
"""

import dataclasses
import os

from nst import networks
from nst.config import Config
from nst.errors import UserError
from nst.runs import preflight

# Channels of each of the transformer's stages at full width (nst.algorithm.transformer).
_FULL_CHANNELS = {"in": 32, "down1": 64, "down2": 128, "up1": 64, "up2": 32}
_WIDTH_SHARE = {"full": 1.0, "half": 0.5}
# Tensors the backward pass keeps per layer (the conv's output, the norm's, the ReLU's, the
# padded input) and per residual block (two of each).
_TRAIN_TENSORS_PER_STAGE = 4
_RESIDUAL_TENSORS = 5 * 9
# Forward only: the widest layer's input, its output, the padding copy and the convolution's
# scratch are alive at once (measured: about 6 of the largest activation).
_APPLY_LIVE_COPIES = 6
_GRADIENT_SHARE = 2.0  # the backward pass's gradients, as large as what it keeps
_PHOTO_CACHE_BYTES = 256 * 2**20  # nst.runs.training.PHOTO_CACHE_BYTES: decoded photos


def transformer_values(width: str, height: int, side_width: int, live_only: bool) -> int:
    """Activation values of one picture through the transformer: all kept for a backward
    pass, or (`live_only`) the most alive at one time in a forward pass."""
    share = _WIDTH_SHARE[width]
    full = height * side_width
    sizes = {
        "in": full * _FULL_CHANNELS["in"],
        "down1": full / 4 * _FULL_CHANNELS["down1"],
        "down2": full / 16 * _FULL_CHANNELS["down2"],
        "up1": full / 4 * _FULL_CHANNELS["up1"],
        "up2": full * _FULL_CHANNELS["up2"],
    }
    if live_only:
        return int(max(sizes.values()) * share * _APPLY_LIVE_COPIES)
    kept = sum(sizes.values()) * _TRAIN_TENSORS_PER_STAGE + sizes["down2"] * _RESIDUAL_TENSORS
    return int(kept * share)


def training_bytes(config: Config) -> int:
    side, batch = config.train.size, config.train.batch
    features, _ = preflight.activation_values(config, side, side)
    values = batch * (2 * features + transformer_values(config.train.width, side, side, False))
    held = preflight.RUNTIME_BYTES + _PHOTO_CACHE_BYTES
    return held + int(values * 4 * _GRADIENT_SHARE)


def applying_bytes(width: str, height: int, side_width: int) -> int:
    return preflight.RUNTIME_BYTES + transformer_values(width, height, side_width, True) * 4


def _usable() -> tuple[float, str] | None:
    if os.environ.get(preflight.SKIP_MEMORY_CHECK, "").strip() not in ("", "0"):
        return None
    available = preflight.available_memory()
    if available is None:
        return None
    return available.size * preflight.USABLE_SHARE, available.what


def check_training(config: Config) -> None:
    """Refuse training whose crops and batch will not fit, naming a batch or crop that will."""
    room = _usable()
    if room is None:
        return
    usable, what = room
    needed = training_bytes(config)
    if needed <= usable:
        return
    fixes = []
    for batch in range(config.train.batch - 1, 0, -1):
        smaller = _with_train(config, batch=batch)
        if training_bytes(smaller) <= usable:
            fixes.append(f"train.batch={batch}")
            break
    for size in range(config.train.size - 32, 31, -32):
        smaller = _with_train(config, size=size)
        if training_bytes(smaller) <= usable:
            fixes.append(f"train.size={size}")
            break
    advice = " or ".join(fixes) if fixes else f"free some {what}"
    raise UserError(
        f"training crops of {config.train.size} px in batches of {config.train.batch} need "
        f"about {preflight.gib(needed)} GiB but {preflight.gib(usable)} GiB of {what} may be "
        f"used: try {advice}; {preflight.SKIP_MEMORY_CHECK}=1 trains anyway"
    )


def check_applying(width: str, height: int, side_width: int, what_for: str) -> None:
    """Refuse a picture the network cannot stylize in the memory there is, naming the largest
    longest side that fits."""
    room = _usable()
    if room is None:
        return
    usable, what = room
    needed = applying_bytes(width, height, side_width)
    if needed <= usable:
        return
    longest = max(height, side_width)

    def fits(side: int) -> bool:
        scaled = applying_bytes(width, height * side // longest, side_width * side // longest)
        return scaled <= usable

    largest = next((side for side in range(longest, 15, -64) if fits(side)), None)
    advice = f"try --size {largest}" if largest else f"free some {what}"
    raise UserError(
        f"{what_for} at {side_width}x{height} px needs about {preflight.gib(needed)} GiB but "
        f"{preflight.gib(usable)} GiB of {what} may be used: {advice}; "
        f"{preflight.SKIP_MEMORY_CHECK}=1 runs it anyway"
    )


def _with_train(config: Config, **changes) -> Config:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def feature_layers_fit(config: Config) -> None:
    """Crops must be large enough for the deepest layer the loss reads."""
    deepest = max([*config.layers.content, *config.layers.style], key=networks.min_input_side)
    needed = networks.min_input_side(deepest)
    if config.train.size < needed:
        raise UserError(
            f"train.size={config.train.size} is too small for layer {deepest}, which needs "
            f"{needed} px: raise train.size or use shallower layers"
        )
