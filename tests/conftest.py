"""Shared fixtures for end-to-end runs: tiny images and a fast config in a temporary directory.

The fast config keeps a run to about a second on two CPU cores: a random seeded VGG16
(`model.weights=none`, no download) cut at block2, images 32 px on the longest side, 6 steps.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import settings
from PIL import Image

CONTENT_SIZE = (64, 48)  # (width, height) on disk; the fast config's image.size scales it to 32x24
IMAGE_SIZE = 32

# The fuzz tests (test_fuzz.py) in `make test`: bounded (~20 s in all on two cores) and the same
# cases on every run, with no example database to write. HYPOTHESIS_PROFILE=fuzz-long searches
# deeper with fresh random cases, saving failures to .hypothesis/ to replay.
settings.register_profile(
    "ci", max_examples=100, deadline=2000, derandomize=True, database=None, print_blob=True
)
settings.register_profile("fuzz-long", max_examples=5000, deadline=10_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def run_nst(*args: str, cwd) -> subprocess.CompletedProcess:
    """`python -m nst ARGS` in a real process (as a user's shell runs it), output captured."""
    env = {key: value for key, value in os.environ.items() if key != "NST_VERBOSE"}
    return subprocess.run(
        [sys.executable, "-m", "nst", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def gradient_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A smooth colour ramp (not noise), so content, style and noise inits differ clearly."""
    ys, xs = np.mgrid[0:height, 0:width]
    red = 255 * xs / max(1, width - 1)
    green = 255 * ys / max(1, height - 1)
    blue = np.full((height, width), 96.0)
    rgb = np.stack([red, green, blue], axis=-1).round().astype(np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


def stripes_image(width: int, height: int) -> Image.Image:
    """Diagonal stripes: a style with texture at the scales block1 and block2 see."""
    ys, xs = np.mgrid[0:height, 0:width]
    on = ((xs + ys) // 4) % 2 == 1
    rgb = np.where(on[..., None], [230, 200, 40], [30, 40, 120]).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def texture(height=96, width=128, seed=0):
    """Smooth random texture (blurred noise): detail at every position for the flow to lock on."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 2, width // 4 + 2, 3)).astype(np.float32)
    picture = Image.fromarray((noise * 255).astype(np.uint8)).resize(
        (width + 8, height + 8), Image.Resampling.BICUBIC
    )
    return (np.asarray(picture, dtype=np.float32) / 255)[4:-4, 4:-4]


def fast_settings(root: Path) -> dict:
    """Every key a test run needs besides content and style; small and quick to trace."""
    return {
        "image": {"size": IMAGE_SIZE},
        "model": {"network": "vgg16", "weights": "none"},
        "layers": {
            "content": {"block2_conv2": 1.0},
            "style": {"block1_conv1": 1.0, "block2_conv1": 1.0},
        },
        "optim": {"name": "adam", "steps": 6, "learning_rate": 0.02},
        "log": {"every": 2, "image_every": 2, "snapshot_every": 0},
        "output": {"root": str(root / "runs")},
    }


class Experiment:
    """A directory with content.png, style.png and helpers to write configs and find runs."""

    # Tests draw their reference images with it, without importing conftest.
    gradient_image = staticmethod(gradient_image)

    def __init__(self, directory: Path):
        self.dir = directory
        self.runs_root = directory / "runs"
        self.content = directory / "content.png"
        self.style = directory / "style.png"
        gradient_image(*CONTENT_SIZE).save(self.content)
        stripes_image(40, 40).save(self.style)

    def write_config(self, name: str = "exp", **sections) -> Path:
        """Write `<name>.yaml`: the fast settings, with `sections` merged in key by key."""
        data = {"content": str(self.content), "style": str(self.style)}
        data |= fast_settings(self.dir)
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = data[key] | value
            else:
                data[key] = value
        path = self.dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def run_dirs(self, name: str = "exp") -> list[Path]:
        """The run directories under `runs/<name>/`, oldest first."""
        parent = self.runs_root / name
        return sorted(path for path in parent.iterdir()) if parent.is_dir() else []


@pytest.fixture(autouse=True)
def fresh_feature_network():
    """nst.runs.feature_models keeps the last network it built (a batch's images share it);
    each test starts without one, so a test's weights never come from another's."""
    feature_models = sys.modules.get("nst.runs.feature_models")
    if feature_models is not None:
        feature_models._feature_network.cache_clear()


@pytest.fixture
def experiment(tmp_path) -> Experiment:
    return Experiment(tmp_path)


@pytest.fixture(scope="module")
def module_experiment(tmp_path_factory) -> Experiment:
    """One experiment directory shared by a module's tests, for runs too slow to repeat."""
    return Experiment(tmp_path_factory.mktemp("experiment"))


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    """(site, url) of an nst page (tests/web/) on 127.0.0.1 serving a fresh runs folder, one
    picture at a time, uploads capped at 1 MB; closed after the module."""
    from nst.web import server

    runs = tmp_path_factory.mktemp("web") / "runs"
    blocks, site, url = server.launch(runs=runs, jobs=1, max_upload_mb=1, block=False)
    yield site, url
    site.stop_all()
    blocks.close()
