"""Real style transfer with pretrained VGG16 features (the HED weights) at 128 px."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from nst import images, stylize
from nst.config import config_from_dict
from nst.model import build_feature_model

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.mark.slow
def test_lbfgs_transfers_the_style_and_keeps_the_content():
    config = config_from_dict(
        {
            "content": str(ASSETS / "tubingen.jpg"),
            "style": str(ASSETS / "starry_night.jpg"),
            "image": {"size": 128},
            "model": {"network": "vgg16", "weights": "hed"},
            "optim": {"steps": 60},
        },
        source="test",
    )
    content = images.load_image(config.content, max_size=128)
    style = images.load_image(config.style[0].path, max_size=128)
    layers = [*config.layers.content, *config.layers.style]
    model = build_feature_model("vgg16", "hed", "max", layers)
    loss = stylize.make_loss(model, content, [style], config)

    _, before = loss(tf.constant(content[None]))
    result = stylize.stylize(model, stylize.Inputs(content, [style], [None]), config)
    _, after = loss(result.image)

    assert result.stop_reason == "completed"
    assert float(after["style"]) < float(before["style"]) / 10
    # Content stays recognisable: its relative feature error stays well under 100%.
    assert float(after["content"]) / config.loss.content_weight < 0.6
    # ... and the picture has visibly changed (mean change over 5% of the pixel range).
    change = np.mean(np.abs(result.image[0].numpy().clip(0, 1) - content))
    assert change > 0.05
