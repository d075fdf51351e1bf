"""What a user sees from config files and --set overrides: defaults, parsing, and error messages."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from nst import config as nst_config
from nst import errors

MINIMAL = """
content: photos/tuebingen.jpg
style: assets/starry_night.jpg
"""


@pytest.fixture
def write_config(tmp_path):
    def write(text: str = MINIMAL, name: str = "x.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


def load(write_config, text: str = MINIMAL, overrides=()):
    return nst_config.load_config(write_config(text), overrides)


# --- Defaults and file values -------------------------------------------------------------------


def test_minimal_file_loads_with_defaults(write_config):
    config = load(write_config)
    assert config.content == "photos/tuebingen.jpg"
    assert config.style == (nst_config.StyleImage("assets/starry_night.jpg", 1.0),)
    assert config.image == nst_config.ImageConfig()
    assert config.optim == nst_config.OptimConfig()
    assert config.model.network == "vgg19"
    assert dict(config.layers.content) == {"block4_conv2": 1.0}
    assert list(config.layers.style) == [f"block{i}_conv1" for i in range(1, 6)]
    assert config.init == "content"
    assert config.seed == 0


def test_file_sets_some_keys_and_defaults_fill_the_rest(write_config):
    config = load(write_config, MINIMAL + "optim: {name: adam}\nloss: {style_weight: 100}\n")
    assert config.optim.name == "adam"
    assert config.optim.steps == nst_config.OptimConfig().steps
    assert config.loss.style_weight == 100.0
    assert config.loss.content_weight == nst_config.LossConfig().content_weight


def test_float_field_accepts_exponent_without_dot_and_ints(write_config):
    config = load(write_config, MINIMAL + "loss: {style_weight: 1e4, tv_weight: 2}\n")
    assert config.loss.style_weight == 1e4
    assert isinstance(config.loss.tv_weight, float)


def test_style_as_list_of_paths(write_config):
    config = load(write_config, "content: c.jpg\nstyle: [a.jpg, b.jpg]\n")
    assert [style.path for style in config.style] == ["a.jpg", "b.jpg"]
    assert [style.weight for style in config.style] == [1.0, 1.0]


def test_style_as_list_of_mappings_mixed_with_paths(write_config):
    text = "content: c.jpg\nstyle: [{path: a.jpg, weight: 3}, b.jpg]\n"
    config = load(write_config, text)
    assert config.style == (nst_config.StyleImage("a.jpg", 3.0), nst_config.StyleImage("b.jpg"))


def test_file_layers_replace_the_default_mapping(write_config):
    config = load(write_config, MINIMAL + "layers: {style: {block1_conv1: 0.5, block2_conv1: 1}}\n")
    assert dict(config.layers.style) == {"block1_conv1": 0.5, "block2_conv1": 1.0}
    assert dict(config.layers.content) == {"block4_conv2": 1.0}


# --- Overrides ------------------------------------------------------------------------------------


def test_overrides_change_values(write_config):
    config = load(
        write_config,
        overrides=[
            "optim.steps=200",
            "loss.style_weight=1e3",
            "image.size=384",
            "model.network=vgg16",
            "style=assets/the_scream.jpg",
        ],
    )
    assert config.optim.steps == 200
    assert config.loss.style_weight == 1000.0
    assert config.image.size == 384
    assert config.model.network == "vgg16"
    assert config.style == (nst_config.StyleImage("assets/the_scream.jpg"),)


def test_overrides_apply_in_order(write_config):
    config = load(write_config, overrides=["optim.steps=3", "optim.steps=4"])
    assert config.optim.steps == 4


def test_override_section_mapping_keeps_other_file_keys(write_config):
    config = load(write_config, MINIMAL + "optim: {steps: 7}\n", ["optim={name: adam}"])
    assert (config.optim.name, config.optim.steps) == ("adam", 7)


def test_override_flow_mapping_replaces_layer_mapping(write_config):
    config = load(write_config, overrides=["layers.content={block5_conv2: 1}"])
    assert dict(config.layers.content) == {"block5_conv2": 1.0}


def test_override_single_layer_adds_to_default_mapping(write_config):
    config = load(write_config, overrides=["layers.style.block3_conv2=2"])
    assert config.layers.style["block3_conv2"] == 2.0
    assert len(config.layers.style) == 6


def test_override_single_layer_changes_file_mapping(write_config):
    text = MINIMAL + "layers: {style: {block1_conv1: 1, block3_conv1: 1}}\n"
    config = load(write_config, text, ["layers.style.block3_conv1=2"])
    assert dict(config.layers.style) == {"block1_conv1": 1.0, "block3_conv1": 2.0}


def test_override_can_supply_missing_required_key(write_config):
    config = load(write_config, "content: c.jpg\n", ["style=s.jpg"])
    assert config.style[0].path == "s.jpg"


# --- Layers against the network ------------------------------------------------------------------


def test_vgg19_only_layer_is_accepted_on_vgg19(write_config):
    config = load(write_config, MINIMAL + "layers: {style: {block3_conv4: 1}}\n")
    assert dict(config.layers.style) == {"block3_conv4": 1.0}


def test_vgg19_only_layer_is_rejected_when_override_switches_to_vgg16(write_config):
    text = MINIMAL + "layers: {style: {block3_conv4: 1}}\n"
    match = r"x\.yaml: 'layers\.style' has no layer 'block3_conv4' in vgg16"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, text, ["model.network=vgg16"])


def test_layer_typo_suggests_the_nearest_layer(write_config):
    text = MINIMAL + "layers: {style: {block1_conv9: 1}}\n"
    match = r"x\.yaml: 'layers\.style' has no layer 'block1_conv9' in vgg19 \(did you mean 'block1_"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, text)


def test_bad_layer_from_single_override_names_set(write_config):
    with pytest.raises(errors.UserError, match=r"^--set: 'layers\.style' has no layer 'fc1'"):
        load(write_config, overrides=["layers.style.fc1=1"])


def test_all_zero_layer_weights_are_rejected(write_config):
    text = MINIMAL + "layers: {content: {block4_conv2: 0}}\n"
    with pytest.raises(errors.UserError, match=r"x\.yaml: 'layers\.content' needs at least one"):
        load(write_config, text)


def test_single_override_that_zeroes_the_last_layer_is_rejected(write_config):
    with pytest.raises(errors.UserError, match=r"--set: 'layers\.content' needs at least one"):
        load(write_config, overrides=["layers.content.block4_conv2=0"])


# --- Error messages -------------------------------------------------------------------------------


def test_unknown_key_in_file_suggests_nearest_name(write_config):
    match = r"x\.yaml: unknown key 'loss\.style_wieght' \(did you mean 'loss\.style_weight'\?\)"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, MINIMAL + "loss: {style_wieght: 1}\n")


def test_unknown_key_without_close_match_lists_valid_keys(write_config):
    match = r"x\.yaml: unknown key 'optim\.zzz' \(valid keys: optim\.name, optim\.steps"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, MINIMAL + "optim: {zzz: 1}\n")


def test_unknown_key_in_style_item_is_reported(write_config):
    match = r"unknown key 'style\[0\]\.wieght' \(did you mean 'style\[0\]\.weight'\?\)"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, "content: c.jpg\nstyle: [{path: a.jpg, wieght: 2}]\n")


def test_unknown_key_in_override_names_set(write_config):
    match = r"^--set: unknown key 'optim\.stepz' \(did you mean 'optim\.steps'\?\)"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, overrides=["optim.stepz=3"])


def test_override_misses_its_section_and_gets_the_full_key_suggested(write_config):
    with pytest.raises(
        errors.UserError, match=r"unknown key 'steps' \(did you mean 'optim\.steps'"
    ):
        load(write_config, overrides=["steps=3"])


def test_override_below_a_plain_value_is_rejected(write_config):
    match = r"^--set: unknown key 'style\.path'; set 'style' as a whole"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, overrides=["style.path=a.jpg"])


@pytest.mark.parametrize("override", ["optimsteps200", "=3"])
def test_override_without_key_value_form_is_rejected(write_config, override):
    match = rf"^--set '{override}': expected key=value, e\.g\. optim\.steps=200$"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, overrides=[override])


@pytest.mark.parametrize("value", ["abc", "2.5", "true", "1e3"])
def test_int_field_rejects_non_whole_numbers(write_config, value):
    with pytest.raises(errors.UserError, match=r"x\.yaml: 'optim\.steps' must be a whole number"):
        load(write_config, MINIMAL + f"optim: {{steps: {value}}}\n")


def test_wrong_type_message_shows_the_value(write_config):
    match = r"^x\.yaml: 'optim\.steps' must be a whole number, got 'abc'$"
    with pytest.raises(errors.UserError, match=match):
        nst_config.config_from_dict(
            {"content": "c.jpg", "style": "s.jpg", "optim": {"steps": "abc"}}, "x.yaml"
        )


def test_bad_type_in_override_names_set(write_config):
    with pytest.raises(errors.UserError, match=r"^--set: 'image\.size' must be a whole number"):
        load(write_config, overrides=["image.size=big"])


@pytest.mark.parametrize("value", ["true", "abc", ".nan"])
def test_float_field_rejects_bools_and_words(write_config, value):
    with pytest.raises(errors.UserError, match=r"'loss\.tv_weight' must be a finite number"):
        load(write_config, MINIMAL + f"loss: {{tv_weight: {value}}}\n")


def test_string_field_rejects_numbers(write_config):
    with pytest.raises(errors.UserError, match=r"'model\.weights' must be a string, got 5"):
        load(write_config, MINIMAL + "model: {weights: 5}\n")


def test_section_given_as_scalar_must_be_a_mapping(write_config):
    with pytest.raises(errors.UserError, match=r"x\.yaml: 'optim' must be a mapping"):
        load(write_config, MINIMAL + "optim: 5\n")


@pytest.mark.parametrize(
    ("text", "key"),
    [("style: s.jpg\n", "content"), ("content: c.jpg\n", "style")],
)
def test_missing_required_key_says_to_add_it(write_config, text, key):
    match = rf"x\.yaml: missing required key '{key}'; add a line like '{key}: "
    with pytest.raises(errors.UserError, match=match):
        load(write_config, text)


def test_style_mapping_without_path_is_rejected(write_config):
    with pytest.raises(errors.UserError, match=r"missing required key 'style\[0\]\.path'"):
        load(write_config, "content: c.jpg\nstyle: [{weight: 2}]\n")


def test_empty_style_list_is_rejected(write_config):
    with pytest.raises(errors.UserError, match=r"x\.yaml: 'style' must be an image path or a list"):
        load(write_config, "content: c.jpg\nstyle: []\n")


def test_empty_content_path_is_rejected(write_config):
    with pytest.raises(errors.UserError, match=r"'content' must be a non-empty path, got ''"):
        load(write_config, "content: ''\nstyle: s.jpg\n")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.steps=0", r"'optim\.steps' must be between 1 and 10000000, got 0"),
        ("optim.beta_1=1.0", r"'optim\.beta_1' must be in \[0, 1\), got 1\.0"),
        ("image.size=10", r"'image\.size' must be between 16 and 8192, got 10"),
        ("loss.style_weight=-1", r"'loss\.style_weight' must be at least 0, got -1\.0"),
        ("style=[{path: a.jpg, weight: 0}]", r"'style\[0\]\.weight' must be greater than 0"),
        ("output.name=a/b", r"'output\.name' must be a name without slashes"),
    ],
)
def test_out_of_range_value_says_the_allowed_range(write_config, override, message):
    with pytest.raises(errors.UserError, match="^--set: " + message):
        load(write_config, overrides=[override])


def test_out_of_range_value_in_file_names_the_file(write_config):
    with pytest.raises(
        errors.UserError, match=r"x\.yaml: 'seed' must be between 0 and 4294967295, got -1"
    ):
        load(write_config, MINIMAL + "seed: -1\n")


def test_choice_typo_lists_choices_and_suggests_nearest(write_config):
    match = (
        r"x\.yaml: 'model\.network' must be one of vgg16, vgg19, got 'vgg18' \(did you mean 'vgg19"
    )
    with pytest.raises(errors.UserError, match=match):
        load(write_config, MINIMAL + "model: {network: vgg18}\n")


def test_yaml_syntax_error_names_file_and_line(write_config):
    path = write_config(MINIMAL + "optim:\n  steps: [1, 2\n")
    with pytest.raises(
        errors.UserError, match=r"x\.yaml, line \d+, column \d+: invalid YAML: "
    ) as info:
        nst_config.load_config(path)
    assert "\n" not in str(info.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(errors.UserError, match=r"nope\.yaml: config file not found"):
        nst_config.load_config(tmp_path / "nope.yaml")


def test_directory_is_reported(tmp_path):
    with pytest.raises(errors.UserError, match=r"is a directory"):
        nst_config.load_config(tmp_path)


@pytest.mark.parametrize(("text", "got"), [("", "an empty file"), ("- a\n- b\n", r"\['a', 'b'\]")])
def test_top_level_must_be_a_mapping(write_config, text, got):
    match = rf"x\.yaml: a config must be a mapping with at least content and style.*got {got}"
    with pytest.raises(errors.UserError, match=match):
        load(write_config, text)


# --- Dump, round trip, immutability --------------------------------------------------------------


def test_dump_then_load_gives_an_equal_config(write_config):
    text = (
        MINIMAL + "style: [{path: a.jpg, weight: 2}, b.jpg]\nlayers: {style: {block3_conv4: 1}}\n"
    )
    original = load(write_config, text, ["optim.epsilon=1e-8", "output.name=sweep"])
    reloaded = load(write_config, nst_config.dump_config(original))
    assert reloaded == original


def test_dump_lists_every_key_including_defaults():
    config = nst_config.config_from_dict({"content": "c.jpg", "style": "s.jpg"}, "x.yaml")
    dumped = nst_config.dump_config(config)
    for section in ("image:", "model:", "layers:", "loss:", "optim:", "log:", "output:"):
        assert section in dumped
    assert "tolerance: 0.0" in dumped


def test_config_to_dict_is_plain_json_data():
    config = nst_config.config_from_dict({"content": "c.jpg", "style": "s.jpg"}, "x.yaml")
    data = nst_config.config_to_dict(config)
    assert json.loads(json.dumps(data)) == data
    assert data["style"] == [{"path": "s.jpg", "weight": 1.0, "mask": ""}]


def test_config_is_frozen(write_config):
    config = load(write_config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.optim.steps = 1
    with pytest.raises(TypeError):
        config.layers.style["block1_conv1"] = 5.0


def test_config_from_dict_leaves_its_input_alone():
    data = {"content": "c.jpg", "style": ["s.jpg"], "optim": {"steps": 3}}
    before = repr(data)
    nst_config.config_from_dict(data, "x.yaml")
    assert repr(data) == before


def test_importing_config_does_not_import_tensorflow():
    code = "import sys, nst.config; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_image_tile_is_auto_by_default_and_takes_off_or_a_size_in_px(write_config):
    assert load(write_config).image.tile == "auto"
    assert load(write_config, MINIMAL + "image: {tile: 1024}\n").image.tile == "1024"
    assert load(write_config, overrides=["image.tile=off"]).image.tile == "off"
    config = load(write_config, overrides=["image.tile=512"])
    assert nst_config.load_config(write_config(nst_config.dump_config(config))).image.tile == "512"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("big", "'image.tile' must be auto, off or a tile size in px between 16 and 8192"),
        ("8", "'image.tile' must be auto, off or a tile size in px between 16 and 8192"),
        # The default layers reach block5_conv1: 96 px of overlap on each side, a 16 px step.
        ("200", "'image.tile' must be at least 208 px for block5_conv1 on vgg19"),
    ],
)
def test_a_tile_size_that_cannot_work_names_the_key_and_the_minimum(write_config, value, message):
    with pytest.raises(errors.UserError, match=message):
        load(write_config, overrides=[f"image.tile={value}"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["image.tile=512"], "histogram cannot be tiled \\(image.tile 512\\): set image.tile"),
        (["style=[{path: s.jpg, mask: sky.png}]"], "histogram takes no style masks"),
    ],
)
def test_the_histogram_style_loss_refuses_tiles_and_masks_by_name(write_config, overrides, message):
    with pytest.raises(errors.UserError, match=message):
        load(write_config, overrides=["loss.style_loss=histogram", *overrides])
    # auto (the default) stays allowed: the run then never tiles.
    assert load(write_config, overrides=["loss.style_loss=histogram"]).image.tile == "auto"
