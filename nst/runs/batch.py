"""Many still images in one command: `content` naming a folder or a glob of images.

Each image is one member of a sweep over `content` (nst.runs.sweep_runner), so a batch has what a
sweep has: one ordinary run directory per image inside the batch's directory, `summary.csv` and
`contact_sheet.png`, `--jobs N` or Ray, and `--resume` after a stop (finished images are kept).
Members that run in one process share the feature network and the style's statistics
(nst.runs.feature_models and nst.algorithm.losses' style cache), so they are computed once per
process.
"""

import glob
import os
import re
from pathlib import Path

from nst.config import Config
from nst.runs import clips
from nst.runs.sweep import Member, Sweep, override

_MAX_LABEL = 60  # characters of an image's name in its member's directory name


def is_clip(config: Config) -> bool:
    """`content` is a clip: a video file, or a folder/glob of its frames (video.frames)."""
    return config.video.frames or clips.is_video_path(config.content)


def is_batch(config: Config) -> bool:
    """`content` is a folder, or a glob pattern, of still images (not a clip's frames)."""
    content = config.content
    return not is_clip(config) and (Path(content).is_dir() or glob.has_magic(content))


def stills_sweep(
    config_path: str | os.PathLike, overrides: list[str], config: Config, name: str
) -> Sweep:
    """The sweep with one member per image `config.content` names, in natural name order;
    each member is the config with its `--set` overrides and its own content image."""
    paths = clips.frame_paths(config.content, kind="images")
    digits = max(2, len(str(len(paths) - 1)))
    members = []
    for index, path in enumerate(paths):
        label = re.sub(r"[^A-Za-z0-9._+-]+", "-", path.stem)[:_MAX_LABEL].strip("-.") or "image"
        member_overrides = (*overrides, override("content", str(path)))
        members.append(
            Member(f"{index:0{digits}d}_{label}", {"content": str(path)}, member_overrides)
        )
    source = os.fspath(config_path)
    return Sweep(name, source, source, ("content",), tuple(members))
