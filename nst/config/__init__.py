"""The settings of a run (the shared base every layer reads): `schema` declares each setting with
its default and help, `loading` reads YAML files and overrides against it."""

from nst.config.loading import (
    OVERRIDE_SOURCE,
    check_key,
    config_from_dict,
    config_to_dict,
    dump_config,
    is_training_file,
    load_config,
)
from nst.config.schema import (
    ColorConfig,
    Config,
    ImageConfig,
    LayersConfig,
    LogConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    OutputConfig,
    ScalesConfig,
    StyleImage,
    TrainConfig,
    VideoConfig,
    describe_settings,
    used_layers,
)

__all__ = [
    "OVERRIDE_SOURCE",
    "ColorConfig",
    "Config",
    "ImageConfig",
    "LayersConfig",
    "LogConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "OutputConfig",
    "ScalesConfig",
    "StyleImage",
    "TrainConfig",
    "VideoConfig",
    "check_key",
    "config_from_dict",
    "config_to_dict",
    "describe_settings",
    "dump_config",
    "is_training_file",
    "load_config",
    "used_layers",
]
