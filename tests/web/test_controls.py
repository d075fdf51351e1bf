"""The page's controls set the config keys they name, and read them back from a run."""

import dataclasses

import pytest

from nst import api
from nst.errors import UserError
from nst.web import controls


def test_each_control_sets_the_key_the_page_shows_beside_it():
    chosen = controls.Controls(
        size=384,
        style_strength=12.5,
        brush_size=1.5,
        smoothness=0.1,
        colours="photo's colours put back",
        quality="final",
        network="vgg19",
        weights="hed",
    )
    keys = controls.overrides(chosen)
    assert keys == {
        "image.size": 384,
        "loss.style_weight": 12.5,
        "image.style_scale": 1.5,
        "loss.tv_weight": 0.1,
        "color.preserve": "transfer",
        "model.network": "vgg19",
        "model.weights": "hed",
        "scales.steps": 200,  # "final": the defaults' schedule
        "optim.steps": 45,
    }
    shown = {key.strip() for value in controls.KEYS.values() for key in value.split(",")}
    assert shown == set(keys)


@pytest.mark.parametrize("quality", ["preview", "final"])
def test_settings_come_back_from_the_config_a_run_wrote(quality):
    chosen = controls.Controls(
        size=256,
        style_strength=3.0,
        smoothness=0.2,
        colours="style on brightness only",
        quality=quality,
    )
    config = api.load_config(
        content="photo.jpg", style="painting.jpg", overrides=controls.overrides(chosen)
    )
    assert controls.from_config(config) == chosen
    table = {row[0]: row[1:] for row in controls.settings_table(config)}
    assert table["smoothness"] == ["0.2", "loss.tv_weight"]
    assert table["paintings"][0] == "painting.jpg ×1"


def test_the_defaults_are_the_configs_defaults_with_a_preview_schedule():
    config = api.load_config(content="photo.jpg", style="painting.jpg")
    page = controls.Controls()
    assert (
        dataclasses.replace(controls.from_config(config), quality="preview", network="vgg16")
        == page
    )
    assert controls.overrides(page)["optim.steps"] < config.optim.steps


def test_blend_keeps_the_slots_that_hold_a_painting_with_their_weights():
    assert controls.blend(["a.jpg", None, "c.jpg"], [1.0, 0.7, 0.25]) == [
        {"path": "a.jpg", "weight": 1.0},
        {"path": "c.jpg", "weight": 0.25},
    ]
    with pytest.raises(UserError, match="choose a painting"):
        controls.blend([None, None], [1.0, 1.0])
    with pytest.raises(UserError, match="above 0"):
        controls.blend(["a.jpg"], [0.0])
