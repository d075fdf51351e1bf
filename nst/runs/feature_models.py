"""The frozen feature networks a run uses: model.weights resolved (auto, a download, the offline
fallback) and loaded, and the last ones kept, so the runs of one process (a batch of images, a
sweep's members, a notebook's calls) build each network once."""

import functools

import keras

from nst.algorithm import scoring
from nst.algorithm.features import build_feature_model
from nst.config import Config, used_layers
from nst.runs import weights

# What to do when the ImageNet file in Keras' cache is broken (a cut copy, say, not made by nst).
_IMAGENET_FIX = "delete it, and nst downloads it again"


def resolve_weights(config: Config) -> Config:
    """The config with model.weights=auto made the weights this run uses (nst.runs.weights);
    says in one line on stderr if it fell back to the offline ones."""
    config, note = weights.resolve_model(config)
    weights.show_once(note)
    return config


def build_model(config: Config) -> keras.Model:
    """The frozen feature network the config asks for (model.weights resolved first); the last
    one built is kept for the next call with the same settings."""
    keras.utils.set_random_seed(config.seed)
    model = config.model
    return _feature_network(
        model.network,
        model.weights,
        model.pooling,
        tuple(used_layers(config)),
        config.seed,
        model.taps,
        model.precision,
    )


@functools.lru_cache(maxsize=1)
def _feature_network(network, model_weights, pooling, layers, seed, taps, precision):
    source, fix = _weights_source(network, model_weights)
    return build_feature_model(
        network,
        source,
        pooling,
        list(layers),
        seed=seed,
        taps=taps,
        precision=precision,
        broken_file_fix=fix,
    )


@functools.lru_cache(maxsize=2)  # A sweep's members in one process build it once.
def reference_model(network: str, model_weights: str, seed: int = 0) -> keras.Model:
    """The quality readout's feature model (nst.algorithm.scoring): the reference layers only,
    max pooling, post-ReLU, float32; `seed` draws random weights (weights "none")."""
    source, fix = _weights_source(network, model_weights)
    layers = list(scoring.LAYERS)
    return build_feature_model(network, source, "max", layers, seed=seed, broken_file_fix=fix)


def _weights_source(network: str, model_weights: str) -> tuple[str, str]:
    """model.weights as nst.algorithm.features takes it (none, hed or a file), and what to do if
    the file is broken; imagenet is Keras' cached file, downloaded now if missing."""
    if model_weights == weights.AUTO:
        raise ValueError("model.weights=auto: resolve it first with resolve_weights")
    if model_weights == weights.IMAGENET:
        return str(weights.imagenet_file(network)), _IMAGENET_FIX
    return model_weights, ""
