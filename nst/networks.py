"""The VGG architectures as plain data, so configs can be validated without importing TensorFlow."""

from collections.abc import Sequence

NETWORKS = ("vgg16", "vgg19")

# Conv layers per block; every block has the filter count below and ends in a 2x2 pool.
_CONVS_PER_BLOCK = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_FILTERS = (64, 128, 256, 512, 512)


def layer_names(network: str) -> list[str]:
    """Keras layer names of the feature part, in order (each conv includes its ReLU)."""
    names = []
    for block, convs in enumerate(_CONVS_PER_BLOCK[network], start=1):
        names += [f"block{block}_conv{i}" for i in range(1, convs + 1)]
        names.append(f"block{block}_pool")
    return names


def min_input_side(layer: str) -> int:
    """The smallest image side (px) at which `layer` still has a position: 2 per pool before it."""
    block = int(layer[len("block")])
    pools_before = block if layer.endswith("_pool") else block - 1
    return 2**pools_before


def stride(network: str, layer: str) -> int:
    """How many input pixels one position of `layer` steps over: 2 per pool before it."""
    names = layer_names(network)
    return 2 ** sum(name.endswith("_pool") for name in names[: names.index(layer)])


def channels(layer: str) -> int:
    """The filter count of a conv layer (its block's)."""
    return BLOCK_FILTERS[int(layer[len("block")]) - 1]


def tile_context(network: str, layers: Sequence[str]) -> tuple[int, int]:
    """(margin, grid) in px for features up to the deepest of `layers` (nst.algorithm.tiling).

    grid: the deepest layer's stride (2 per pool before it): tiles start on multiples of it, so
    their pooling windows are the whole image's. margin: how far a cut edge's zero padding
    reaches into the deepest layer (each 3x3 conv one position, each 2x2 pool one more),
    rounded up to the grid.
    """
    names = layer_names(network)
    deepest = max(names.index(layer) for layer in layers)
    stride, reach = 1, 0
    for name in names[: deepest + 1]:
        reach += stride
        if name.endswith("_pool"):
            stride *= 2
    grid = stride
    return -(-reach // grid) * grid, grid


def minimum_tile(network: str, layers: Sequence[str]) -> int:
    """The smallest tile side that still owns one grid step between its two margins."""
    margin, grid = tile_context(network, layers)
    return 2 * margin + grid
