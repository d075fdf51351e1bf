"""Map a peer tool's raw loss weights onto nst's normalised ones, for one content/style pair.

The classic tools divide their loss terms by constants (or nothing), so their weights hide the
size of the features; nst divides each term by its target's magnitude (see nst/losses.py). A
peer's term is therefore nst's term times (their weight x a magnitude nst divides out), and that
magnitude is measured here on the config's own images and network:

    .venv/bin/python scripts/recipe_weights.py configs/recipes/jcjohnson.yaml jcjohnson \\
        --set model.network=vgg16 model.weights=hed

prints the content, style and TV weights (and style layer weights) that make nst's loss equal to
the peer's up to one overall factor, which neither optimiser's result depends on.
"""

import argparse

import numpy as np
import tensorflow as tf

from nst import stylize
from nst.config import load_config
from nst.losses import gram_matrix, roughness
from nst.model import build_feature_model
from nst.run import load_inputs

# Each peer's raw weights and how its terms are normalised (from their published code):
#   content: weight x mean((F - P)^2)                   -> nst term x mean(P^2)
#   style:   weight x sum((G - A)^2) / C^k, G = F^T F / (H W) (C^2 entries averaged, and
#            jcjohnson and tch-rs also divide G by C)     -> nst term x sum(A^2) / C^k
#   tv:      jcjohnson: weight x 1/2 sum of squared neighbour differences over the 3 channels of
#            the 0..255 image (its gradient is weight x the differences)
#            tf_tutorial: weight x sum of absolute differences on the 0..1 image (L1: matched
#            at the content image only, as nst's TV is squared)
RECIPES = {
    "jcjohnson": {"content": 5.0, "style": 100.0, "style_power": 4, "tv": 1e-3, "tv_kind": "l2"},
    "tf_tutorial": {
        "content": 1e4,
        "style": 1e-2 / 5,  # the tutorial divides by its 5 style layers
        "style_power": 2,
        "tv": 30.0,
        "tv_kind": "l1",
    },
    "tch_rs": {"content": 1.0, "style": 1e6, "style_power": 4, "tv": 0.0, "tv_kind": "l2"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config = load_config(args.config, args.overrides)
    recipe = RECIPES[args.recipe]

    inputs = stylize.prepare_colors(load_inputs(config), config)
    layers = [*config.layers.content, *config.layers.style]
    model = build_feature_model(
        config.model.network,
        config.model.weights,
        config.model.pooling,
        layers,
        taps=config.model.taps,
    )
    content = tf.constant(inputs.content[None])
    content_features = model(content)
    style_features = model(tf.constant(inputs.styles[0][None]))

    content_weight = sum(
        recipe["content"] * float(tf.reduce_mean(tf.square(content_features[layer])))
        for layer in config.layers.content
    )
    style_layer_weights = {}
    for layer in config.layers.style:
        target = gram_matrix(style_features[layer])
        channels = int(target.shape[0])
        magnitude = float(tf.reduce_sum(tf.square(target))) / channels ** recipe["style_power"]
        style_layer_weights[layer] = recipe["style"] * magnitude
    style_weight = sum(style_layer_weights.values())

    height, width, _ = inputs.content.shape
    if recipe["tv_kind"] == "l2":
        # sum over 3 channels = 3 x pixels x the per-channel mean nst's roughness takes.
        tv_weight = recipe["tv"] / 2 * 255.0**2 * 3 * height * width * float(roughness(content))
    else:
        tv_weight = recipe["tv"] * float(tf.image.total_variation(content[0]))

    # One overall factor is free: scale so the content weight is 1, as nst's default.
    scale = 1.0 / content_weight
    print(
        f"{args.recipe} on {config.content} + {config.style[0].path} at {width}x{height}, "
        f"{config.model.network} ({config.model.weights}):"
    )
    print(
        f"  loss: {{content_weight: 1.0, style_weight: {style_weight * scale:.3g}, "
        f"tv_weight: {tv_weight * scale:.3g}}}"
    )
    total = sum(style_layer_weights.values())
    shares = ", ".join(
        f"{layer}: {weight / total:.3g}" for layer, weight in style_layer_weights.items()
    )
    print(f"  layers.style: {{{shares}}}")
    print(
        f"  (style layer shares span {np.ptp(np.log10(list(style_layer_weights.values()))):.1f}"
        " decades: the peer's weights favour some layers that much)"
    )


if __name__ == "__main__":
    main()
