"""nst.networks: the layer lists configs are validated against."""

import pytest

from nst import networks


@pytest.mark.parametrize(("network", "convs"), [("vgg16", 13), ("vgg19", 16)])
def test_layer_names_list_every_conv_and_pool_in_order(network, convs):
    names = networks.layer_names(network)
    assert sum(name.endswith(tuple(f"_conv{i}" for i in range(1, 5))) for name in names) == convs
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-1] == "block5_pool"
    assert ("block3_conv4" in names) == (network == "vgg19")


@pytest.mark.parametrize(
    ("layer", "side"),
    [("block1_conv1", 1), ("block1_pool", 2), ("block4_conv2", 8), ("block5_conv1", 16)],
)
def test_min_input_side_doubles_with_every_pool_before_the_layer(layer, side):
    assert networks.min_input_side(layer) == side
