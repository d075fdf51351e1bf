"""Sweep files expanded into members (nst/runs/sweep.py): pure and fast, nothing runs or is written.

Each test writes a sweep file beside a fast base config from conftest.py and checks the members
`load_sweep` makes, or the one-line `UserError` a bad sweep file gets.
"""

import itertools
import re
from pathlib import Path

import pytest
import yaml

from nst import config as nst_config
from nst.errors import UserError
from nst.runs import sweep as nst_sweep

# What a member's name may hold: safe as a directory name on every system.
SAFE_NAME = re.compile(r"[A-Za-z0-9._=,+-]+")


@pytest.fixture
def base(experiment) -> Path:
    return experiment.write_config("base")


def write_sweep(directory: Path, data: dict | str, name: str = "sweep") -> Path:
    """`<directory>/<name>.yaml` from a mapping (keys kept in order) or from raw text."""
    path = directory / f"{name}.yaml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def load(directory: Path, data: dict | str, name: str = "sweep") -> nst_sweep.Sweep:
    return nst_sweep.load_sweep(write_sweep(directory, data, name))


# --- grid, zip and set ---------------------------------------------------------------------------


def test_grid_gives_every_combination_with_the_first_key_varying_slowest(base, tmp_path):
    sweep = load(
        tmp_path,
        {"base": str(base), "grid": {"loss.style_weight": [1, 10], "optim.steps": [2, 3, 4]}},
    )
    assert sweep.varied_keys == ("loss.style_weight", "optim.steps")
    assert [tuple(member.values.values()) for member in sweep.members] == [
        (1, 2),
        (1, 3),
        (1, 4),
        (10, 2),
        (10, 3),
        (10, 4),
    ]
    assert all(list(member.values) == list(sweep.varied_keys) for member in sweep.members)


def test_zip_steps_its_lists_together(base, tmp_path):
    sweep = load(
        tmp_path,
        {
            "base": str(base),
            "zip": {
                "optim.name": ["lbfgs", "adam", "adam"],
                "optim.steps": [100, 300, 300],
                "optim.learning_rate": [0.02, 0.02, 0.05],
            },
        },
    )
    assert sweep.varied_keys == ("optim.name", "optim.steps", "optim.learning_rate")
    assert [member.values for member in sweep.members] == [
        {"optim.name": "lbfgs", "optim.steps": 100, "optim.learning_rate": 0.02},
        {"optim.name": "adam", "optim.steps": 300, "optim.learning_rate": 0.02},
        {"optim.name": "adam", "optim.steps": 300, "optim.learning_rate": 0.05},
    ]


def test_grid_times_zip_takes_every_zip_row_for_each_grid_combination(base, tmp_path):
    grid = {"loss.style_weight": [1, 100], "loss.content_weight": [1, 5]}
    zipped = {"optim.steps": [2, 3, 4], "init": ["content", "noise", "style"]}
    sweep = load(tmp_path, {"base": str(base), "grid": grid, "zip": zipped})
    assert sweep.varied_keys == (*grid, *zipped)
    expected = [
        (*combination, *row)
        for combination in itertools.product(*grid.values())
        for row in zip(*zipped.values(), strict=True)
    ]
    assert len(expected) == 2 * 2 * 3
    assert [tuple(member.values.values()) for member in sweep.members] == expected


def test_set_values_go_to_every_member_but_are_not_varied(base, tmp_path):
    sweep = load(
        tmp_path,
        {
            "base": str(base),
            "set": {"image.size": 48, "optim.name": "adam"},
            "grid": {"loss.style_weight": [1, 10]},
        },
    )
    assert sweep.varied_keys == ("loss.style_weight",)
    for member in sweep.members:
        assert "image.size=48" in member.overrides
        assert 'optim.name="adam"' in member.overrides
        assert list(member.values) == ["loss.style_weight"]
        assert "size" not in member.name and "adam" not in member.name
        config = member.load_config(str(base))
        assert (config.image.size, config.optim.name) == (48, "adam")


def test_name_defaults_to_the_file_stem_and_base_is_kept(base, tmp_path):
    data = {"base": str(base), "grid": {"seed": [1, 2]}}
    sweep = load(tmp_path, data, name="seeds")
    assert (sweep.name, sweep.base) == ("seeds", str(base))
    assert sweep.source == str(tmp_path / "seeds.yaml")
    assert load(tmp_path, {"name": "by_seed", **data}, name="seeds").name == "by_seed"


def test_base_is_relative_to_the_current_directory(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    sweep = load(sweeps, {"base": base.name, "grid": {"seed": [1, 2]}})
    assert sweep.members[1].load_config(sweep.base).seed == 2


def test_expansion_writes_nothing(base, tmp_path):
    path = write_sweep(tmp_path, {"base": str(base), "grid": {"seed": [1, 2, 3]}})
    before = sorted(tmp_path.rglob("*"))
    assert len(nst_sweep.load_sweep(path).members) == 3
    assert sorted(tmp_path.rglob("*")) == before


# --- Member names --------------------------------------------------------------------------------


def test_member_names_are_unique_sorted_safe_and_show_the_values(base, tmp_path):
    sweep = load(
        tmp_path,
        {
            "base": str(base),
            "grid": {"loss.style_weight": [0.5, 100], "init": ["content", "my photos/a b.png"]},
            "zip": {"optim.steps": [2, 3], "optim.learning_rate": [0.001, 1.5e-3]},
        },
    )
    names = [member.name for member in sweep.members]
    assert len(names) == len(set(names)) == 8
    assert sorted(names) == names
    for index, (name, member) in enumerate(zip(names, sweep.members, strict=True)):
        assert name.startswith(f"{index:02d}_")
        assert SAFE_NAME.fullmatch(name), name
        assert name not in (".", "..") and not name.startswith(".")
        assert f"style_weight={member.values['loss.style_weight']:g}" in name
        assert f"steps={member.values['optim.steps']}" in name
    assert names[0] == "00_style_weight=0.5_init=content_steps=2_learning_rate=0.001"
    assert names[3] == "03_style_weight=0.5_init=my-photos-a-b.png_steps=3_learning_rate=0.0015"


def test_run_name_pattern_uses_dotted_keys(base, tmp_path):
    sweep = load(
        tmp_path,
        {
            "base": str(base),
            "grid": {"loss.style_weight": [1, 10.0, 2.5]},
            "zip": {"optim.name": ["lbfgs", "adam"], "seed": [3, 4]},
            "run_name": "sw{loss.style_weight}_{optim.name}_s{seed}",
        },
    )
    assert [member.name for member in sweep.members] == [
        "00_sw1_lbfgs_s3",
        "01_sw1_adam_s4",
        "02_sw10_lbfgs_s3",
        "03_sw10_adam_s4",
        "04_sw2.5_lbfgs_s3",
        "05_sw2.5_adam_s4",
    ]


def test_run_name_values_are_made_safe_for_directories(base, tmp_path):
    sweep = load(
        tmp_path,
        {"base": str(base), "grid": {"init": ["a/b.png", "../up", " "]}, "run_name": "{init}"},
    )
    names = [member.name for member in sweep.members]
    assert names == ["00_a-b.png", "01_up", "02_run"]
    assert all(SAFE_NAME.fullmatch(name) for name in names)


# --- Members load to configs ---------------------------------------------------------------------


def test_member_overrides_load_to_configs_with_the_members_values(base, tmp_path, experiment):
    other_style = str(experiment.content)
    sweep = load(
        tmp_path,
        {
            "base": str(base),
            "set": {"loss.tv_weight": 0.5},
            "grid": {
                "layers.style": [{"block1_conv1": 1}, {"block1_conv1": 1, "block2_conv1": 2}],
                "style": [[str(experiment.style)], [str(experiment.style), other_style]],
            },
            "zip": {"optim.name": ["adam", "lbfgs"], "loss.style_weight": [1e3, 0.25]},
        },
    )
    assert len(sweep.members) == 2 * 2 * 2
    for member in sweep.members:
        config = member.load_config(str(base))
        assert dict(config.layers.style) == member.values["layers.style"]
        assert [style.path for style in config.style] == member.values["style"]
        assert config.optim.name == member.values["optim.name"]
        assert config.loss.style_weight == member.values["loss.style_weight"]
        assert config.loss.tv_weight == 0.5
        # Everything else comes from the base config.
        assert config.layers.content == {"block2_conv2": 1.0}
        assert config.image.size == nst_config.load_config(base).image.size
    last = sweep.members[-1].load_config(str(base))
    assert dict(last.layers.style) == {"block1_conv1": 1.0, "block2_conv1": 2.0}
    assert [style.path for style in last.style] == [str(experiment.style), other_style]
    assert (last.optim.name, last.loss.style_weight) == ("lbfgs", 0.25)


def test_a_bad_value_fails_only_its_member_when_its_config_is_built(base, tmp_path):
    sweep = load(tmp_path, {"base": str(base), "zip": {"optim.learning_rate": [0.02, -1]}})
    assert sweep.members[0].load_config(str(base)).optim.learning_rate == 0.02
    with pytest.raises(UserError) as error:
        sweep.members[1].load_config(str(base))
    assert sweep.members[1].name in str(error.value)
    assert "optim.learning_rate" in str(error.value)


# --- Bad sweep files: one UserError naming the file and the key ----------------------------------

GRID = "grid: {optim.steps: [1, 2]}\n"

BAD_SWEEPS = {
    "unknown-top-level-key": ("grids: {optim.steps: [1, 2]}\n", ["unknown key 'grids'", "'grid'"]),
    "unknown-key-in-grid": (
        "grid: {loss.style_wieght: [1, 10]}\n",
        ["'grid'", "loss.style_wieght", "did you mean 'loss.style_weight'"],
    ),
    "unknown-key-in-zip": (
        "zip: {optim.step: [1, 2]}\n",
        ["'zip'", "optim.step'", "did you mean 'optim.steps'"],
    ),
    "unknown-key-in-set": (
        "set: {optim.nme: adam}\n" + GRID,
        ["'set'", "optim.nme", "did you mean 'optim.name'"],
    ),
    "key-below-a-setting": ("grid: {optim.steps.x: [1, 2]}\n", ["optim.steps.x"]),
    "zip-lengths-differ": (
        "zip: {optim.steps: [1, 2], seed: [1, 2, 3]}\n",
        ["'zip'", "same length", "optim.steps: 2", "seed: 3"],
    ),
    "empty-list": ("grid: {optim.steps: []}\n", ["grid.optim.steps", "non-empty list"]),
    "not-a-list": ("zip: {optim.steps: 3}\n", ["zip.optim.steps", "list", "got 3"]),
    "grid-not-a-mapping": ("grid: [1, 2]\n", ["'grid'", "mapping"]),
    "nothing-to-vary": ("set: {optim.steps: 3}\n", ["nothing to vary", "grid", "zip"]),
    "run-name-key-not-varied": (GRID + "run_name: 'seed{seed}'\n", ["run_name", "'seed'"]),
    "run-name-not-text": (GRID + "run_name: 3\n", ["run_name"]),
    "run-name-bad-pattern": (GRID + "run_name: 'x{0}'\n", ["run_name", "pattern"]),
    "given-in-grid-and-set": (
        "set: {optim.steps: 3}\n" + GRID,
        ["'optim.steps'", "twice"],
    ),
    "given-in-grid-and-zip": (
        "zip: {optim.steps: [3, 4]}\n" + GRID,
        ["'optim.steps'", "twice"],
    ),
}


@pytest.mark.parametrize(("body", "expected"), BAD_SWEEPS.values(), ids=BAD_SWEEPS.keys())
def test_bad_sweep_raises_a_user_error_naming_the_file_and_key(base, tmp_path, body, expected):
    path = write_sweep(tmp_path, f"base: {base}\n{body}")
    with pytest.raises(UserError) as error:
        nst_sweep.load_sweep(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(GRID, ["'base'", "base: configs/"], id="missing-base"),
        pytest.param("base: ''\n" + GRID, ["'base'"], id="empty-base"),
        pytest.param("base: nope/missing.yaml\n" + GRID, ["nope/missing.yaml", "not found"]),
        pytest.param("- base\n- grid\n", ["mapping"], id="not-a-mapping"),
        pytest.param("", ["mapping"], id="empty-file"),
        pytest.param(
            "base: base.yaml\ngrid:\n  optim.steps: [1, 2]: 3\n",
            ["line 3", "invalid YAML"],
            id="invalid-yaml",
        ),
    ],
)
def test_bad_base_or_file_raises_a_user_error(tmp_path, text, expected):
    path = write_sweep(tmp_path, text)
    with pytest.raises(UserError) as error:
        nst_sweep.load_sweep(path)
    assert str(error.value).startswith(str(path))
    for fragment in expected:
        assert fragment in str(error.value)


def test_missing_sweep_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="sweep file not found"):
        nst_sweep.load_sweep(tmp_path / "missing.yaml")


# --- run_name patterns, member and sweep names ------------------------------------------------


@pytest.mark.parametrize(
    "grid",
    [
        pytest.param("grid: {seed: [1, 2]}\n", id="section-not-varied"),
        pytest.param("grid: {loss.content_weight: [1, 2]}\n", id="sibling-varied"),
    ],
)
def test_run_name_with_an_unvaried_dotted_key_names_that_key(base, tmp_path, grid):
    path = write_sweep(tmp_path, f"base: {base}\n{grid}run_name: 'sw{{loss.style_weight}}'\n")
    with pytest.raises(UserError) as error:
        nst_sweep.load_sweep(path)
    assert "'loss.style_weight'" in str(error.value)
    assert "SimpleNamespace" not in str(error.value)


def test_member_names_sort_by_index_past_100_members(base, tmp_path):
    sweep = load(tmp_path, {"base": str(base), "grid": {"seed": list(range(101))}})
    names = [member.name for member in sweep.members]
    assert sorted(names) == names


@pytest.mark.parametrize("name", ["../escape", "a/b"])
def test_sweep_name_with_a_slash_is_a_user_error(base, tmp_path, name):
    path = write_sweep(tmp_path, {"name": name, "base": str(base), "grid": {"seed": [1, 2]}})
    with pytest.raises(UserError, match="'name'"):
        nst_sweep.load_sweep(path)


def test_run_name_format_specs_apply_to_the_values(base, tmp_path):
    sweep = load(
        tmp_path,
        {"base": str(base), "grid": {"optim.steps": [5, 100]}, "run_name": "s{optim.steps:04d}"},
    )
    assert [member.name for member in sweep.members] == ["00_s0005", "01_s0100"]


def test_a_sweep_over_a_training_config_varies_training_keys(tmp_path):
    base = tmp_path / "train.yaml"
    base.write_text("style: s.png\ntrain: {photos: photos}\n")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"base": str(base), "grid": {"train.learning_rate": [0.001, 0.0003]}})
    )
    sweep = nst_sweep.load_sweep(sweep_file)
    configs = [member.load_config(sweep.base) for member in sweep.members]
    assert [config.train.learning_rate for config in configs] == [0.001, 0.0003]
    assert all(config.content == "photos" for config in configs)  # nst train's config


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "sweeps").glob("*.yaml")), ids=str)
def test_every_shipped_sweep_loads_with_every_member(path, monkeypatch):
    monkeypatch.chdir(REPO)  # bases and assets are relative to the checkout
    sweep = nst_sweep.load_sweep(path.relative_to(REPO))
    configs = [member.load_config(sweep.base) for member in sweep.members]
    assert len(configs) >= 2
    if path.name == "flow_guided.yaml":  # its members are the defaults before and after
        assert (configs[0].loss.tv_form, configs[1].loss.tv_form) == ("isotropic", "flow")
        assert configs[1].loss == nst_config.LossConfig()
        assert configs[1].scales.steps == nst_config.ScalesConfig().steps
