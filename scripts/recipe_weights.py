"""Map a peer tool's raw loss weights onto nst's normalised ones, for one content/style pair.

The classic tools divide their loss terms by constants (or nothing), so their weights hide the
size of the features; nst divides each term by its target's magnitude (see
nst/algorithm/losses.py). A
peer's term is therefore nst's term times (their weight x a magnitude nst divides out). Which
network's magnitudes depends on what is mapped:

- The balance between content, style and TV is what the tool's authors tuned, on their own
  network, so it takes that network's magnitudes: measured when the run uses it (ImageNet VGG19
  for jcjohnson and the TF tutorial), else the published figures in VGG19_IMAGENET below. The
  offline network's would not do: its block4 features are about 90x weaker than ImageNet
  VGG19's (their squares 8,700x), which made jcjohnson's TV weight 846 times its content weight
  and its result a grey blur.
- The split of the style weight across layers is the tool's own rule (raw Gram sums) applied to
  the network the run uses: each network's feature scale puts that weight on other layers
  (ImageNet VGG19's on block4, 93%; the offline network's on block1-2, 99.6%), and the offline
  network's block4 carries little colour, so VGG19's split gave it false colours.

    .venv/bin/python scripts/recipe_weights.py configs/recipes/jcjohnson.yaml jcjohnson

prints the loss and style-layer weights (and Adam's learning rate and epsilon, where the tool
uses Adam) that make nst's loss the peer's up to one overall factor, scaled so content is 1.
"""

import argparse

import numpy as np
import tensorflow as tf

from nst.algorithm import stylize
from nst.algorithm.features import build_feature_model
from nst.algorithm.losses import gram_matrix
from nst.config import load_config
from nst.runs import weights
from nst.runs.run import load_inputs


def _gram_sum(published_loss: float, channels: int) -> float:
    """sum(A^2) from jcjohnson's printed style loss of a flat start, 100 x sum(A^2) / C^4."""
    return published_loss / 100 * channels**4


# ImageNet VGG19 (caffe's weights, which Keras' are) on Tübingen at 512 px. jcjohnson/neural-style's
# INSTALL.md prints iteration 1 of its default run (`th neural_style.lua -gpu -1 -print_iter 1`:
# tubingen.jpg and seated-nude.jpg at 512 px, starting from randn x 0.001, a flat image): content
# 5 x mean((F - P)^2) = 2091178.59, style 100 x sum((G - A)^2) / C^4 for relu1_1 .. relu5_1. A flat
# start's features are small against the targets' (nst's relative terms of a flat image are 0.98
# and 1.00 on the offline network), so these are 5 x mean(P^2) and 100 x sum(A^2) / C^4. The style
# figures are Seated Nude's, standing in for The Starry Night's.
VGG19_IMAGENET = {
    "content": {  # mean(P^2) of the content image's features at each layer
        "block4_conv2": 2091178.59 / 5,
        # Not published; estimated from block4_conv2 and the block5/block4 drop of each network's
        # sqrt(sum A^2) (quadratic in the features, as mean(P^2) is): the offline network's 39.5
        # x (418236 / 48.3) x (0.00728 for VGG19 / 0.164 for the offline network). An estimate,
        # uncertain by perhaps a factor of 2.
        "block5_conv2": 1.5e4,
    },
    "style": {  # sum(A^2), A = F^T F / positions, of the style image's features at each layer
        "block1_conv1": _gram_sum(30021.292114, 64),
        "block2_conv1": _gram_sum(700349.560547, 128),
        "block3_conv1": _gram_sum(153033.203125, 256),
        "block4_conv1": _gram_sum(12404635.156250, 512),
        "block5_conv1": _gram_sum(656.860304, 512),
    },
}

# Each peer's raw weights and how its terms are normalised (from their published code):
#   content: weight x mean((F - P)^2)                   -> nst term x mean(P^2)
#   style:   weight x sum((G - A)^2) / C^k, G = F^T F / (H W) (C^2 entries averaged, and
#            jcjohnson and tch-rs also divide G by C)     -> nst term x sum(A^2) / C^k
#   tv:      jcjohnson: its TVLoss adds weight x the neighbour differences of the 0..256 caffe
#            image over its (H-1) x (W-1) grid to the gradient: the gradient of weight x half
#            their summed squares (exact: nst's TV is squared too)
#            tf_tutorial: weight x sum of absolute differences on the 0..1 image (L1: matched
#            at the content image only, as nst's TV is squared)
# `network` is the tool's own; `reference` its magnitudes where nst cannot measure them.
# `adam`: the tool's Adam settings, and its variable's units per nst pixel (0..1).
RECIPES = {
    "jcjohnson": {
        "network": ("vgg19", "imagenet"),
        "reference": VGG19_IMAGENET,
        "content": 5.0,
        "style": 100.0,
        "style_power": 4,
        "tv": 1e-3,
        "tv_kind": "l2",
    },
    "tf_tutorial": {
        "network": ("vgg19", "imagenet"),
        "reference": VGG19_IMAGENET,
        "content": 1e4,
        "style": 1e-2 / 5,  # the tutorial divides by its 5 style layers
        "style_power": 2,
        "tv": 30.0,
        "tv_kind": "l1",
        "adam": {"learning_rate": 0.02, "epsilon": 0.1, "pixel_scale": 1.0},
    },
    "tch_rs": {
        # PyTorch's VGG16, which nst cannot load, and no published loss figures: the balance
        # too comes from the network the run uses (approximate).
        "network": ("vgg16", "torchvision"),
        "reference": None,
        "content": 1.0,
        "style": 1e6,
        "style_power": 4,
        "tv": 0.0,
        "tv_kind": "l2",
        # Its variable is the image normalised by ImageNet's std (0.229, 0.224, 0.225): one of
        # its units is 0.226 of nst's pixel range.
        "adam": {"learning_rate": 0.1, "epsilon": 1e-8, "pixel_scale": 1 / 0.226},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config, note = weights.resolve_model(load_config(args.config, args.overrides))
    weights.show_once(note)  # model.weights=auto without a network: the offline VGG16 weights
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
    here = {
        "content": {
            layer: float(tf.reduce_mean(tf.square(content_features[layer])))
            for layer in config.layers.content
        },
        "style": {
            layer: float(tf.reduce_sum(tf.square(gram_matrix(style_features[layer]))))
            for layer in config.layers.style
        },
    }
    channels = {layer: int(style_features[layer].shape[-1]) for layer in config.layers.style}
    power = recipe["style_power"]

    def raw_terms(magnitudes):
        """The peer's content weight and per-layer style weights times `magnitudes`."""
        content_term = recipe["content"] * sum(
            magnitudes["content"][layer] for layer in config.layers.content
        )
        style_terms = {
            layer: recipe["style"] * magnitudes["style"][layer] / channels[layer] ** power
            for layer in config.layers.style
        }
        return content_term, style_terms

    own_network = (config.model.network, config.model.weights) == recipe["network"]
    if own_network or recipe["reference"] is None:
        balance, source = here, "measured on this network"
    else:
        balance, source = recipe["reference"], "ImageNet VGG19's published magnitudes"
        missing = [
            f"{term} {layer}"
            for term, term_layers in (
                ("content", config.layers.content),
                ("style", config.layers.style),
            )
            for layer in term_layers
            if layer not in balance[term]
        ]
        if missing:
            raise SystemExit(f"no published ImageNet VGG19 magnitude for {', '.join(missing)}")
    content_raw, style_raw = raw_terms(balance)
    _, split = raw_terms(here)
    tv_raw = _tv_at_content(recipe, content)

    # One overall factor is free: scale so the content weight is 1, as nst's default.
    scale = 1.0 / content_raw
    height, width, _ = inputs.content.shape
    print(
        f"{args.recipe} on {config.content} + {config.style[0].path} at {width}x{height}, "
        f"{config.model.network} ({config.model.weights}):"
    )
    print(
        f"  loss: {{content_weight: 1, style_weight: {sum(style_raw.values()) * scale:.3g}, "
        f"tv_weight: {tv_raw * scale:.3g}, tv_form: isotropic}}  (balance: {source})"
    )
    total = sum(split.values())
    shares = ", ".join(f"{layer}: {weight / total:.3g}" for layer, weight in split.items())
    print(f"  layers.style: {{{shares}}}  (split: this network's magnitudes)")
    adam = recipe.get("adam")
    if adam:
        # Adam's steps ignore the loss's scale, but not its epsilon, which adds to the root
        # of the squared gradients: nst's loss is theirs x `scale`, its pixels theirs / units.
        units = adam["pixel_scale"]
        print(
            f"  optim: {{learning_rate: {adam['learning_rate'] / units:.3g}, "
            f"epsilon: {adam['epsilon'] * units * scale:.2g}}}"
        )
    if balance is not here:
        own_content, own_style = raw_terms(here)
        print(
            f"  (this network's magnitudes alone would give style_weight "
            f"{sum(own_style.values()) / own_content:.3g}, tv_weight {tv_raw / own_content:.3g})"
        )
    print(
        f"  (style layer shares span {np.ptp(np.log10(list(split.values()))):.1f} decades: "
        "the peer's raw Gram sums favour some layers that much)"
    )


def _tv_at_content(recipe: dict, content: tf.Tensor) -> float:
    """The peer's weighted TV term at the (1, H, W, 3) content image in [0, 1]."""
    if recipe["tv_kind"] == "l2":
        image = content[0] * 256.0  # jcjohnson's caffe scale (0..256 less the mean)
        down = image[1:, :-1] - image[:-1, :-1]
        right = image[:-1, 1:] - image[:-1, :-1]
        squares = tf.reduce_sum(tf.square(down)) + tf.reduce_sum(tf.square(right))
        return recipe["tv"] / 2 * float(squares)
    return recipe["tv"] * float(tf.image.total_variation(content[0]))


if __name__ == "__main__":
    main()
