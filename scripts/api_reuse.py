"""How much a second nst.stylize call in the same process saves: the feature network, the
quality readout's network and the style's statistics are kept from the first call.

    python scripts/api_reuse.py [--size 256]

Prints three timings of the same call: the first in the process, a second one (reusing), and a
third after dropping what is kept (building everything again, as a new process would, without
TensorFlow's import); then the kept parts on their own, built cold and taken warm.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a checkout

import nst  # noqa: E402 (after the path)
from nst.algorithm import losses  # noqa: E402
from nst.runs import feature_models  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image.size (default 256)")
    args = parser.parse_args()
    photo, painting = ROOT / "assets" / "tubingen.jpg", ROOT / "assets" / "starry_night.jpg"

    def timed() -> float:
        started = time.perf_counter()
        nst.stylize(photo, painting, image={"size": args.size}, progress=False)
        return time.perf_counter() - started

    first = timed()
    second = timed()
    feature_models._feature_network.cache_clear()
    feature_models.reference_model.cache_clear()
    losses._style_statistics_cache.clear()
    rebuilt = timed()
    print(f"image.size {args.size}: first call {first:.1f} s (TensorFlow's import included)")
    print(f"second call, reusing: {second:.1f} s")
    print(f"the same call building everything again: {rebuilt:.1f} s")
    print(f"difference: {rebuilt - second:+.1f} s a call (run-to-run noise is of that order)")
    config = nst.load_config(
        {"content": str(photo), "style": str(painting)}, image={"size": args.size}
    )
    config = feature_models.resolve_weights(config)
    for name, build in (
        ("feature network", lambda: feature_models.build_model(config)),
        (
            "readout network",
            lambda: feature_models.reference_model(config.model.network, config.model.weights),
        ),
    ):
        feature_models._feature_network.cache_clear()
        feature_models.reference_model.cache_clear()
        cold = _seconds(build)
        warm = _seconds(build)
        print(f"{name}: built in {cold:.2f} s, taken from the cache in {warm * 1000:.2f} ms")
    return 0


def _seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
