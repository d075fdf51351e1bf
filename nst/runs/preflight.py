"""Checks made before the first step, so that a run which can't finish is refused up front.

`check_run` (called by `nst.runs.run.execute` before the images are loaded) checks that the output
directory can be written, that the run's peak memory fits the memory there is, and that the disk
can hold what the run writes. Layer names are checked with the config (`nst.config`), the images
by `nst.runs.run.load_inputs`, right after.

The memory estimate models the peak resident memory (on a GPU, device memory) as

    runtime     Python, TensorFlow and the weights: a constant
    network     every activation up to the deepest layer the loss reads, at the output size
                (kept for the backward pass), plus 4 of the largest layer (its gradient and
                the convolutions' scratch space)
    optimiser   L-BFGS: its 2 x optim.history image-sized vectors, times the copies of them alive
                at the peak, plus a few image vectors; Adam: a few image vectors. One more copy
                of the state if the run saves a checkpoint (log.checkpoint_every)

A tiled run (nst.algorithm.tiling; `image.tile`) holds one tile's activations instead of the
network's,
plus the content's feature maps at the content layers (its targets) and a few image-sized arrays
(_TILED_IMAGE_VECTORS). `fit_memory` resolves `image.tile: auto` with these estimates.

A multi-scale run peaks at its last, full-size scale, plus the earlier scales' optimiser state:
TensorFlow's CPU allocator keeps memory it has freed (a deleted variable's RSS stays), and the
last scale's larger buffers can't reuse those smaller blocks (measured: 256, 512 and 1024 px
scales peak 0.7 GiB above 1024 px alone, about what the two smaller L-BFGS histories take; calling
gc.collect() between scales changes nothing).

Calibration: the peak RSS of short runs of the shipped config on the 2-core development CPU
(AMD EPYC, TensorFlow 2.21; random weights cost what ImageNet ones do), each

    /usr/bin/time -v .venv/bin/nst run configs/starry.yaml --quiet --set model.weights=none \\
        optim.steps=3 log.every=1 output.root=/tmp/pf image.size=SIZE SETTINGS...

reading "Maximum resident set size". VGG19, L-BFGS without a line search, history 100 and the
automatic scales (one scale up to 512 px; 256, 512, 1024 at 1024) unless SETTINGS say otherwise;
3 steps save no checkpoint unless SETTINGS ask for one. "shallow" is
layers.content={"block2_conv2":1} layers.style={"block1_conv1":1,"block2_conv1":1}. The content
(Tübingen) is 4:3, so SIZE runs at SIZE x 3/4 SIZE.

    SIZE  SETTINGS                                        measured MiB  estimate MiB
     256                                                           986    1076  1.09x
     256  optim.name=adam                                          884     963  1.09x
     512                                                          1702    1752  1.03x
     512  model.network=vgg16                                     1660    1734  1.04x
     512  optim.name=adam                                         1225    1302  1.06x
     512  optim.line_search=hager_zhang                           2895    3102  1.07x
     512  optim.name=adam image.style_scale=2                     1853    2160  1.17x
    1024  scales.count=1                                          4414    4459  1.01x
    1024  (scales 256, 512, 1024; scales.steps=2)                 5110    5044  0.99x
    1024  scales.count=1 model.network=vgg16                      4259    4387  1.03x
    1024  scales.count=1 optim.history=10                         2787    2839  1.02x
    1024  scales.count=1 optim.line_search=hager_zhang            9432    9859  1.05x
    1024  scales.count=1 optim.name=adam                          2556    2659  1.04x
    1024  scales.count=1 optim.name=adam model.network=vgg16      2408    2587  1.07x
    1024  scales.count=1 optim.name=adam shallow                  2235    2323  1.04x
    1024  scales.count=1 shallow                                  4162    4123  0.99x
    1024  scales.count=1 optim.name=adam model.precision=mixed_bfloat16  2161  2312  1.07x
    1024  scales.count=1 optim.name=adam model.taps=pre_relu      2996    3180  1.06x
    1024  scales.count=1 log.checkpoint_every=1                   4415    4490  1.02x
    1536  scales.count=1                                          8753    8970  1.02x
    2048  scales.count=1 optim.name=adam                          7537    8086  1.07x
    2048  scales.count=1 optim.history=20                         8904    9526  1.07x
    2048  scales.steps=2 log.checkpoint_every=1 (4 scales)         17810   17867  1.00x

tests/test_preflight.py holds the same figures and checks every estimate is 0.8-1.5x of its
measurement. Redo them after a change to the model, the loss or an optimiser's state. A GPU's
memory has not been measured: there the runtime is a guess (_GPU_RUNTIME_BYTES).
"""

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

import tensorflow as tf

from nst import images, networks
from nst.algorithm import stylize, tiling
from nst.config import Config, used_layers
from nst.errors import UserError

GIB = 2**30
MIB = 2**20
SKIP_MEMORY_CHECK = "NST_SKIP_MEMORY_CHECK"

# Fitted to the calibration runs (module docstring), rounded up so that estimates are at or just
# above their measurements: 0.99-1.17x of each.
RUNTIME_BYTES = 850 * MIB  # TensorFlow, Keras, TFP, NumPy, the VGG weights, the traced graphs
# The backward pass keeps every activation once, and works through the largest layer (block1's,
# at full resolution) with its gradient and the convolutions' scratch space: 4 of those.
_LARGEST_LAYER_COPIES = 4
_ADAM_IMAGE_VECTORS = 8  # image, gradient, two moments, the clipped image and the loss's inputs
_LBFGS_IMAGE_VECTORS = 8  # position, gradient, direction, s, y and the two-loop's temporaries
# Copies of the (s, y) history at the peak, measured: nst.algorithm.lbfgs writes one row in place;
# tfp's L-BFGS rebuilds its history tensors every iteration and returns them from each chunk.
_LBFGS_HISTORY_COPIES = {"none": 1.0, "hager_zhang": 4.0}
# Writing a checkpoint copies the state it is handed out of TensorFlow, and the zip writer
# buffers a little more: measured 1.13x that state at 1024 px (before nst's L-BFGS handed its
# history over a row at a time; now a checkpoint adds nothing measurable to its peak).
_CHECKPOINT_COPY_SHARE = 1.15
# The network's memory relative to float32 post-ReLU taps, measured at 1024 px with Adam:
# mixed_bfloat16 0.77 (gradients and the tapped layers' float32 copies stay 32-bit), pre_relu
# 1.26 (the ReLUs, layers of their own then, keep their inputs too).
_MIXED_PRECISION_SHARE = 0.8
_PRE_RELU_SHARE = 1.3
_GPU_RUNTIME_BYTES = 1 * GIB  # cuDNN workspaces and allocator slack: a guess, not measured
USABLE_SHARE = 0.9  # of the free memory; the rest is left to the system
_ROUND_SIZES_TO = 32  # suggested image sizes are multiples of this
_ROUND_TILES_TO = 64  # and chosen tile sides of this
# A tiled evaluation's image-sized arrays besides the optimiser's: the sum of the tiles'
# gradients, the image, the pixel terms' differences and gradient, the total gradient, and an
# L-BFGS step's temporaries after it; fitted to two 8192 px runs (VGG16, a checkpoint at step
# 1): history 6 over 70 tiles 21.7 GiB measured, history 4 over 63 tiles 21.2 GiB (10 vectors
# estimate 22.7 and 21.1; 8 estimated the second at 20.0, and auto then planned over 21 GiB).
_TILED_IMAGE_VECTORS = 10
# image.tile auto, when the optimiser's state does not fit: tiles of this side keep a tiled
# evaluation under ~1.6x an untiled one's time (docs/print-size.md), and L-BFGS keeps at least
# this many correction pairs before Adam is used instead.
_PREFERRED_TILE = 1024
_MIN_HISTORY = 3


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """The peak memory of a run, in bytes, by what holds it."""

    runtime: int
    network: int
    optimizer: int
    optimizer_label: str  # what `optimizer` holds, for messages: "L-BFGS state", "Adam state"

    @property
    def total(self) -> int:
        return self.runtime + self.network + self.optimizer

    def describe(self) -> str:
        """'about 31.2 GiB (network 18.0, L-BFGS state 12.6, runtime 0.8)'."""
        return (
            f"about {gib(self.total)} GiB (network {gib(self.network)}, "
            f"{self.optimizer_label} {gib(self.optimizer)}, runtime {gib(self.runtime)})"
        )


@dataclasses.dataclass(frozen=True)
class Available:
    """The memory a run may grow to: `size` bytes of `what` ("RAM" or "GPU memory")."""

    size: int
    what: str
    on_gpu: bool = False


def check_run(
    config: Config,
    output_dir: Path | None = None,
    shape: tuple[int, int] | None = None,
    held_bytes: int = 0,
    written_bytes: int = 0,
    writes: bool = True,
) -> Config:
    """Refuse a run that can't finish, before anything is loaded, built or written.

    `output_dir` is where the run directory will be made: `output.root` unless a sweep names one.
    Returns the config with `image.tile: auto` resolved (see `fit_memory`; a note on stderr says
    what it chose when it tiles). Set NST_SKIP_MEMORY_CHECK=1 to skip the memory check (auto is
    then off). A clip (nst.runs.clip_run) gives its frames' `shape` (height, width) at image.size,
    the bytes its frames hold in memory and the bytes its frames and video write. `writes`
    False (the Python API's in-memory stylize) checks the memory only.
    """
    output_dir = Path(config.output.root) if output_dir is None else output_dir
    if writes:
        check_writable(output_dir)
    shape = shape or output_shape(config)
    if shape is None:
        return _untiled(config)  # The content can't be read: load_inputs says why, next.
    height, width = shape
    available = None
    if os.environ.get(SKIP_MEMORY_CHECK, "").strip() in ("", "0"):
        available = available_memory()
    if available is not None and held_bytes:
        available = dataclasses.replace(available, size=max(0, available.size - held_bytes))
    if available is None:
        config = _untiled(config)
    else:
        usable = available.size * USABLE_SHARE
        config, note = fit_memory(config, height, width, usable, available.what, available.on_gpu)
        if note:
            print(f"nst: {note}", file=sys.stderr, flush=True)
        check_memory(config, height, width, available.size, available.what, available.on_gpu)
    if writes:
        check_disk(config, height, width, output_dir, written_bytes)
    return config


def fit_memory(
    config: Config, height: int, width: int, usable: float, what: str = "RAM", on_gpu=False
) -> tuple[Config, str]:
    """`image.tile: auto` made concrete for a (height, width) output and `usable` bytes, with a
    note saying what was chosen ("" when the run fits whole, as configured).

    In order: the run whole ("off"); the largest tile with which the run fits as configured;
    then, the optimiser's own state being too large, a shorter L-BFGS history (at least
    _MIN_HISTORY pairs, with tiles of _PREFERRED_TILE px where they fit, then the largest tiles
    that still do); then Adam (a few image-sized vectors) with the largest tiles that fit.
    Where nothing fits the config comes back unchanged apart from tiling, for check_memory to
    refuse with its advice.
    """
    if config.image.tile != "auto":
        return config, ""
    if config.loss.style_loss == "histogram":  # whole images only: check_memory says if not
        return _with_tile(config, "off"), ""

    def total(candidate: Config) -> int:
        return estimate_memory(candidate, height, width, on_gpu).total

    whole = _with_tile(config, "off")
    if total(whole) <= usable:
        return whole, ""
    longest = max(height, width)
    smallest = networks.minimum_tile(config.model.network, used_layers(config))
    if smallest >= longest:
        return whole, ""  # too small to tile: check_memory says what else to try

    def largest_tile(candidate: Config) -> int | None:
        """The largest tile side, a multiple of _ROUND_TILES_TO, with which `candidate` fits."""
        steps = _largest(
            -(-smallest // _ROUND_TILES_TO),
            (longest - 1) // _ROUND_TILES_TO,
            lambda n: total(_with_tile(candidate, str(n * _ROUND_TILES_TO))) <= usable,
        )
        return None if steps is None else steps * _ROUND_TILES_TO

    shape = f"{width}x{height} px"
    tile = largest_tile(config)
    if tile is not None:
        tiled = _with_tile(config, str(tile))
        return (
            tiled,
            f"{shape} does not fit {gib(usable)} GiB of {what} whole: " + _tiled(tiled),
        )
    optim = config.optim
    preferred = max(smallest, min(_PREFERRED_TILE, longest - 1))
    if optim.name == "lbfgs" and optim.history > _MIN_HISTORY:
        history = _largest(
            _MIN_HISTORY,
            optim.history - 1,
            lambda h: total(_with_tile(_with_optim(config, history=h), str(preferred))) <= usable,
        )
        if history is not None:
            configured = total(_with_tile(config, str(preferred)))
            shorter = _with_optim(config, history=history)
            tiled = _with_tile(shorter, str(largest_tile(shorter)))
            return tiled, (
                f"{shape} does not fit {gib(usable)} GiB of {what} as configured: "
                f"{_tiled(tiled)}, and L-BFGS keeps {history} correction pairs "
                f"(optim.history={optim.history} would need about {gib(configured)} GiB)"
            )
    if optim.name == "lbfgs":
        adam = _with_optim(config, name="adam")
        tile = largest_tile(adam)
        if tile is not None:
            tiled = _with_tile(adam, str(tile))
            return tiled, (
                f"{shape} does not fit {gib(usable)} GiB of {what} with L-BFGS: "
                f"{_tiled(tiled)}, optimised with Adam (optim.name=adam, "
                f"optim.learning_rate={optim.learning_rate}): its state is a few image-sized "
                "arrays"
            )
    return _with_tile(config, str(smallest)), ""


def _tiled(config: Config) -> str:
    # The tiles' count and shape follow the network the run resolves to (model.weights auto may
    # fall back to VGG16), so the progress bar gives those.
    return (
        f"the network runs over tiles of at most {config.image.tile} px (image.tile="
        f"{config.image.tile}; exact, docs/print-size.md)"
    )


def _untiled(config: Config) -> Config:
    return _with_tile(config, "off") if config.image.tile == "auto" else config


def _with_tile(config: Config, tile: str) -> Config:
    return dataclasses.replace(config, image=dataclasses.replace(config.image, tile=tile))


def output_shape(config: Config) -> tuple[int, int] | None:
    """(height, width) of the output at image.size, from the content image's header alone.

    None if the header can't be read. An EXIF rotation would swap the two, which changes no size.
    """
    size = images.read_size(config.content)
    if size is None:
        return None
    width, height = size
    return _resized(height, width, config.image.size)


# --- Memory --------------------------------------------------------------------------------------


def estimate_memory(
    config: Config, height: int, width: int, on_gpu: bool = False
) -> MemoryEstimate:
    """The peak memory of `config` with a (height, width) output, i.e. at its last scale."""
    network = _network_bytes(config, height, width)
    scales = stylize.plan_scales(config)
    tile = stylize.tile_size(config)
    if tile is not None and max(height, width) > tile and len(scales) > 1:
        # A tiled last scale needs less for its network than an earlier scale run whole did,
        # and TensorFlow keeps that memory without being able to use it for the larger arrays
        # (measured: a 4096 px run over scales 128 to 4096 peaked 2.3 GiB above its estimate
        # without this, about the 1024 px scale's network).
        network += max(
            _network_bytes(config, *_resized(height, width, scale.size)) for scale in scales[:-1]
        )
    # The earlier scales' optimiser state is still held at the last scale (module docstring).
    optimizer = sum(
        _optimizer_bytes(config, *_resized(height, width, scale.size)) for scale in scales
    )
    every, steps = config.log.checkpoint_every, sum(scale.steps for scale in scales)
    if 0 < every < steps:
        # A checkpoint copies the state out of TensorFlow to write it (nst.runs.checkpoints).
        copied = _checkpoint_copy_vectors(config)
        optimizer += round(_CHECKPOINT_COPY_SHARE * copied * height * width * 12)
    label = "Adam state" if config.optim.name == "adam" else "L-BFGS state"
    runtime = _GPU_RUNTIME_BYTES if on_gpu else RUNTIME_BYTES
    return MemoryEstimate(runtime, network, optimizer, label)


def _network_bytes(config: Config, height: int, width: int) -> int:
    """The network's share of the peak: its activations, whole or for one tile."""
    tile = stylize.tile_size(config)
    if tile is not None and max(height, width) > tile:
        return _tiled_network_bytes(config, height, width, tile)
    total, largest = activation_values(config, height, width)
    train = total + _LARGEST_LAYER_COPIES * largest
    # The style images go forward once, without a gradient, before the optimisation; their
    # shape is not read, so they count as squares (at most the same longest side).
    style_side = max(16, round(max(height, width) * config.image.style_scale))
    style, _ = activation_values(config, style_side, style_side)
    return round(max(train, style) * _activation_bytes(config))


def _tiled_network_bytes(config: Config, height: int, width: int, tile: int) -> int:
    """nst.algorithm.tiling: one tile's activations (forward and backward), the content's feature
    maps
    at the content layers (the targets) and a few image-sized arrays (the gradient's sum, the
    pixel terms and their gradient)."""
    grid = tiling.plan_grid(height, width, tile, config.model.network, used_layers(config))
    total, largest = activation_values(config, grid.rows.tile, grid.cols.tile)
    activations = (total + _LARGEST_LAYER_COPIES * largest) * _activation_bytes(config)
    targets = 0
    for layer, weight in config.layers.content.items():
        if weight > 0:
            stride = networks.stride(config.model.network, layer)
            targets += (height // stride) * (width // stride) * networks.channels(layer)
    image = height * width * 3
    return round(activations + 4 * (targets + _TILED_IMAGE_VECTORS * image))


def _optimizer_bytes(config: Config, height: int, width: int) -> int:
    pixels = height * width * 3
    optim = config.optim
    if optim.name == "adam":
        return _ADAM_IMAGE_VECTORS * pixels * 4
    vectors = _LBFGS_HISTORY_COPIES[optim.line_search] * 2 * optim.history + _LBFGS_IMAGE_VECTORS
    return round(vectors * pixels * 4)


def _checkpoint_copy_vectors(config: Config) -> int:
    """Image-sized vectors a checkpoint copies out of TensorFlow at once: nst's L-BFGS hands its
    history over a row at a time (nst.algorithm.lbfgs), tfp's and Adam's state goes whole."""
    if config.optim.name == "lbfgs" and config.optim.line_search == "none":
        return 3  # the position, the gradient, one history row
    return _state_vectors(config)


def _state_vectors(config: Config) -> int:
    """Image-sized vectors in a checkpoint: L-BFGS's history, position and gradient; Adam's
    image and moments."""
    return 2 * config.optim.history + 3 if config.optim.name == "lbfgs" else 3


def activation_values(config: Config, height: int, width: int) -> tuple[int, int]:
    """Values one forward pass produces up to the deepest layer the loss reads: (all, the
    largest layer's)."""
    weighted = {**config.layers.content, **config.layers.style}
    layers = networks.layer_names(config.model.network)
    deepest = max(layers.index(layer) for layer, weight in weighted.items() if weight > 0)
    total = largest = height * width * 3  # the preprocessed input
    channels = 3
    for name in layers[: deepest + 1]:
        if name.endswith("_pool"):
            height, width = height // 2, width // 2
        else:
            channels = networks.BLOCK_FILTERS[int(name[len("block")]) - 1]
        total += height * width * channels
        largest = max(largest, height * width * channels)
    return total, largest


def _activation_bytes(config: Config) -> float:
    """Bytes per activation value, with the measured effect of the model's options folded in."""
    size = 4.0
    if config.model.precision != "float32":
        size *= _MIXED_PRECISION_SHARE
    if config.model.taps == "pre_relu":
        size *= _PRE_RELU_SHARE
    return size


def check_memory(
    config: Config,
    height: int,
    width: int,
    available_bytes: int,
    what: str = "RAM",
    on_gpu: bool = False,
) -> None:
    """Raise a UserError if the estimated peak exceeds what may be used of `available_bytes`.

    The one-line message gives the estimate and its parts, the memory there is, and the settings
    that would fit, each with its estimate.
    """
    estimate = estimate_memory(config, height, width, on_gpu)
    usable = available_bytes * USABLE_SHARE
    if estimate.total <= usable:
        return
    fixes = _fixes(config, height, width, usable, on_gpu)
    if fixes:
        advice = "try " + (", ".join(fixes[:-1]) + " or " if len(fixes) > 1 else "") + fixes[-1]
    else:
        advice = f"free some {what}"
    raise UserError(
        f"image.size={config.image.size} ({width}x{height} px) needs {estimate.describe()} "
        f"but {gib(available_bytes)} GiB of {what} is free: {advice}; "
        f"{SKIP_MEMORY_CHECK}=1 runs it anyway"
    )


def _fixes(config: Config, height: int, width: int, usable: float, on_gpu: bool) -> list[str]:
    """Single changes to the config that bring the estimate under `usable`, with their totals."""

    def total(candidate: Config, size: int | None = None) -> int:
        shape = (height, width) if size is None else _resized(height, width, size)
        return estimate_memory(candidate, *shape, on_gpu).total

    fixes = []
    if config.image.tile == "off":
        tiled, note = fit_memory(_with_tile(config, "auto"), height, width, usable, "", on_gpu)
        if note:  # tiles (and perhaps a shorter history or Adam) that fit
            grid = tiling.plan_grid(
                height, width, int(tiled.image.tile), config.model.network, used_layers(config)
            )
            changes = [grid.describe()]
            if tiled.optim != config.optim:
                changes.append(
                    f"optim.history={tiled.optim.history}"
                    if tiled.optim.name == config.optim.name
                    else f"optim.name={tiled.optim.name}"
                )
            fixes.append(f"image.tile=auto ({', '.join(changes)}; about {gib(total(tiled))} GiB)")
    size = _largest(16, config.image.size - 1, lambda s: total(_with_size(config, s), s) <= usable)
    if size is not None:
        if size >= 2 * _ROUND_SIZES_TO:
            size -= size % _ROUND_SIZES_TO
        fixes.append(f"image.size={size} (about {gib(total(_with_size(config, size), size))} GiB)")
    if config.optim.name == "lbfgs":
        history = _largest(
            1, config.optim.history - 1, lambda h: total(_with_optim(config, history=h)) <= usable
        )
        if history is not None:
            cost = total(_with_optim(config, history=history))
            fixes.append(f"optim.history={history} (about {gib(cost)} GiB)")
        adam = total(_with_optim(config, name="adam"))
        if adam <= usable:
            fixes.append(f"optim.name=adam (about {gib(adam)} GiB)")
    return fixes


def _largest(low: int, high: int, fits) -> int | None:
    """The largest n in [low, high] for which fits(n) holds, fits being monotone; None if none."""
    if high < low or not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def _with_size(config: Config, size: int) -> Config:
    return dataclasses.replace(config, image=dataclasses.replace(config.image, size=size))


def _with_optim(config: Config, **changes) -> Config:
    return dataclasses.replace(config, optim=dataclasses.replace(config.optim, **changes))


def available_memory() -> Available | None:
    """The memory this process may grow to: the GPU's if TensorFlow sees one, else RAM.

    RAM is what Linux reports free (MemAvailable), capped by a cgroup (container) limit, plus
    what this process already holds, since the estimate counts the whole process. None where
    neither can be read (not Linux).
    """
    gpu = _gpu_memory()
    if gpu is not None:
        return Available(gpu, "GPU memory", on_gpu=True)
    free = [size for size in (_meminfo_available(), _cgroup_available()) if size is not None]
    if not free:
        return None
    return Available(min(free) + _own_resident(), "RAM")


def _gpu_memory() -> int | None:
    """The memory TensorFlow's allocator may use on the first GPU (the one a run uses)."""
    if not tf.config.list_physical_devices("GPU"):
        return None
    # Not public API, but the only place TensorFlow reports the memory it will use (its
    # get_memory_info gives only what is in use); this initialises the GPU, as the run will.
    from tensorflow.python.client import device_lib

    limits = [d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    return int(limits[0]) if limits else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """A container's memory limit less its usage (page cache it can drop counts as free)."""
    # cgroup v2, then v1: (limit, usage, the memory.stat key of reclaimable file cache).
    for directory, limit_file, usage_file, cache_key in (
        ("/sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"),
        (
            "/sys/fs/cgroup/memory",
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            "total_inactive_file",
        ),
    ):
        try:
            limit_text = (Path(directory) / limit_file).read_text().strip()
            if limit_text == "max" or int(limit_text) >= 2**60:  # no limit
                return None
            usage = int((Path(directory) / usage_file).read_text())
            lines = (Path(directory) / "memory.stat").read_text().splitlines()
            stats = dict(line.split(maxsplit=1) for line in lines if " " in line)
            return max(0, int(limit_text) - usage + int(stats.get(cache_key, "0")))
        except (OSError, ValueError):
            continue
    return None


def _own_resident() -> int:
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


# --- Output directory and disk -------------------------------------------------------------------


def check_writable(output_dir: Path) -> None:
    """`output_dir` must be a directory this process can write in, or one it can create.

    Nothing is created: where `output_dir` doesn't exist yet, its nearest existing parent is
    tried instead, with a temporary file that is removed again.
    """
    existing = _nearest_existing(output_dir)
    if not existing.is_dir():
        raise UserError(
            f"output.root: can't create '{output_dir}': '{existing}' is a file, not a "
            "directory; choose another output.root"
        )
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".nst-write-test-"):
            pass
    except OSError as error:
        where = "" if existing == output_dir.absolute() else f" ('{existing}' exists)"
        raise UserError(
            f"output.root: can't write in '{output_dir}'{where} ({error.strerror}): "
            "choose a writable directory"
        ) from None


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def estimate_disk(config: Config, height: int, width: int) -> int:
    """An upper bound on the bytes a run writes: PNGs as if uncompressed, and two checkpoints
    of the optimiser's state (the old one is replaced only once the new one is written)."""
    image = height * width * 3  # 8-bit RGB
    steps = sum(scale.steps for scale in stylize.plan_scales(config))
    log = config.log
    snapshots = (steps - 1) // log.snapshot_every if log.snapshot_every else 0
    tensorboard_images = (
        (steps // log.image_every if log.image_every else 0) + 2 + len(config.style)
    )
    checkpoints = 2 * _state_vectors(config) * image * 4
    return (snapshots + 1 + tensorboard_images) * image + checkpoints


def check_disk(
    config: Config, height: int, width: int, output_dir: Path, extra_bytes: int = 0
) -> None:
    """Refuse a run whose files (and `extra_bytes`: a clip's frames) can't fit on the disk of
    `output_dir` even so."""
    try:
        free = shutil.disk_usage(_nearest_existing(output_dir)).free
    except OSError:
        return  # Can't tell: let the run try.
    needed = estimate_disk(config, height, width) + extra_bytes
    if needed > free:
        raise UserError(
            f"output.root: '{output_dir}' has {gib(free)} GiB free on its disk but the run "
            f"writes up to about {gib(needed)} GiB (image.size={config.image.size}, snapshots "
            f"every log.snapshot_every={config.log.snapshot_every} steps, TensorBoard images "
            f"every log.image_every={config.log.image_every}, checkpoints): free some space, "
            "choose another output.root or raise those intervals (0 = off)"
        )


def _resized(height: int, width: int, size: int) -> tuple[int, int]:
    """The shape images.resize_longest_side gives an image of this shape."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def gib(size: float) -> str:
    return f"{size / GIB:.1f}"
