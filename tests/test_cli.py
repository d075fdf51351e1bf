"""The `nst` command as a user meets it: overrides, what it prints, and exit code 2 on bad input.

Most tests call `nst.cli.main` in this process (TensorFlow traces once per process); two start a
real process, to see exactly what reaches the terminal's stderr.
"""

import subprocess

import pytest
from conftest import run_nst

from nst import cli
from nst import config as nst_config


def the_only_error_line(stdout: str, stderr: str) -> str:
    """The one line a failed command printed on stderr; it printed nothing on stdout."""
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("nst: error: ")
    return lines[0]


def error_line(capsys) -> str:
    captured = capsys.readouterr()
    return the_only_error_line(captured.out, captured.err)


# --- Overrides and what a successful run prints --------------------------------------------------


def test_set_overrides_change_the_resolved_config(experiment, capsys):
    config_path = experiment.write_config(optim={"steps": 6}, loss={"style_weight": 10})
    exit_code = cli.main(
        ["run", str(config_path), "--quiet", "--set", "optim.steps=3", "loss.style_weight=1e3"]
    )
    assert exit_code == 0
    (run_dir,) = experiment.run_dirs()
    saved = nst_config.load_config(run_dir / "config.yaml")
    assert saved.optim.steps == 3
    assert saved.loss.style_weight == 1000.0
    assert saved.optim.name == "adam"  # Keys not overridden keep the file's value...
    assert saved.loss.tv_weight == nst_config.LossConfig().tv_weight  # ...or the default.
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 steps, ")
    assert f"result: {run_dir / 'final.png'}" in lines
    assert any(line.startswith(f"run directory: {run_dir}") for line in lines)


def test_output_name_replaces_the_config_stem(experiment):
    config_path = experiment.write_config(optim={"steps": 1})
    assert cli.main(["run", str(config_path), "--quiet", "--set", "output.name=sweep_a"]) == 0
    assert experiment.run_dirs("exp") == []
    assert len(experiment.run_dirs("sweep_a")) == 1


# --- Bad input: exit 2, one line on stderr, no run directory -------------------------------------


def _missing_content(experiment):
    return experiment.write_config(content=str(experiment.dir / "missing.png")), []


def _text_file_as_style(experiment):
    notes = experiment.dir / "notes.txt"
    notes.write_text("not a picture\n")
    return experiment.write_config(style=str(notes)), []


def _bad_yaml(experiment):
    path = experiment.dir / "broken.yaml"
    path.write_text(f"content: {experiment.content}\nstyle: [{experiment.style}\n")
    return path, []


def _unknown_key(experiment):
    return experiment.write_config(optim={"step": 3}), []


def _bad_override_syntax(experiment):
    return experiment.write_config(), ["optimsteps3"]


def _unknown_layer(experiment):
    return experiment.write_config(layers={"style": {"block2_conv9": 1.0}}), []


def _missing_weights_file(experiment):
    return experiment.write_config(model={"weights": str(experiment.dir / "vgg16.h5")}), []


def _hed_weights_on_vgg19(experiment):
    return experiment.write_config(model={"network": "vgg19", "weights": "hed"}), []


def _missing_init_image(experiment):
    return experiment.write_config(init=str(experiment.dir / "start.png")), []


@pytest.mark.parametrize(
    ("make_input", "expected"),
    [
        pytest.param(_missing_content, ["content image", "missing.png", "not found"], id="content"),
        pytest.param(_text_file_as_style, ["style image", "notes.txt", "not an image"], id="style"),
        pytest.param(_bad_yaml, ["broken.yaml", "line 3", "invalid YAML"], id="yaml"),
        pytest.param(
            _unknown_key, ["unknown key 'optim.step'", "did you mean 'optim.steps'"], id="key"
        ),
        pytest.param(_bad_override_syntax, ["--set", "'optimsteps3'", "key=value"], id="set"),
        pytest.param(_unknown_layer, ["layers.style", "'block2_conv9'", "vgg16"], id="layer"),
        pytest.param(_missing_weights_file, ["model.weights", "vgg16.h5", "not found"], id="h5"),
        pytest.param(_hed_weights_on_vgg19, ["model.weights=hed", "model.network=vgg16"], id="hed"),
        pytest.param(_missing_init_image, ["init image", "start.png", "not found"], id="init"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_run_directory(
    experiment, capsys, make_input, expected
):
    config_path, overrides = make_input(experiment)
    argv = ["run", str(config_path), "--quiet"] + (["--set", *overrides] if overrides else [])
    assert cli.main(argv) == cli.EXIT_USER_ERROR == 2
    message = error_line(capsys)
    for fragment in expected:
        assert fragment in message
    assert not experiment.runs_root.exists()


def test_unwritable_output_root_exits_2_naming_output_root(experiment, capsys):
    blocker = experiment.dir / "not_a_directory"
    blocker.write_text("a regular file where a directory should be\n")
    config_path = experiment.write_config(output={"root": str(blocker / "runs")})
    assert cli.main(["run", str(config_path), "--quiet"]) == 2
    message = error_line(capsys)
    assert "output.root" in message
    assert str(blocker / "runs") in message
    assert blocker.read_text() == "a regular file where a directory should be\n"


# --- In a real process: exactly what reaches stderr ----------------------------------------------


def assert_one_error_line(process: subprocess.CompletedProcess) -> str:
    assert process.returncode == 2, process.stderr
    return the_only_error_line(process.stdout, process.stderr)


def test_process_rejects_a_config_typo_with_one_line(experiment):
    config_path = experiment.write_config(loss={"style_wieght": 100})
    process = run_nst("run", str(config_path), cwd=experiment.dir)
    line = assert_one_error_line(process)
    assert "did you mean 'loss.style_weight'" in line
    assert not experiment.runs_root.exists()


def test_process_hides_tensorflow_logs_when_an_image_is_missing(experiment):
    # The image is checked after TensorFlow has loaded; none of its C++ log lines may show.
    config_path = experiment.write_config(content=str(experiment.dir / "missing.png"))
    process = run_nst("run", str(config_path), cwd=experiment.dir)
    line = assert_one_error_line(process)
    assert "content image" in line and "missing.png" in line
    assert not experiment.runs_root.exists()


def test_image_too_small_for_the_deepest_layer_exits_2(experiment, capsys):
    # A 3:2 photo at image.size=16 is 16x11; four 2x2 poolings (block5_conv1) leave 11 -> 0 rows.
    defaults = nst_config.LayersConfig()
    config_path = experiment.write_config(
        image={"size": 16},
        layers={"content": dict(defaults.content), "style": dict(defaults.style)},
    )
    assert cli.main(["run", str(config_path), "--quiet"]) == 2
    assert "image.size" in error_line(capsys)
    assert not experiment.runs_root.exists()


def test_train_and_apply_refuse_bad_input_with_one_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text(f"style: s.png\ntrain: {{photos: {tmp_path / 'none'}}}\n")
    assert cli.main(["train", str(config)]) == 2
    assert "train.photos:" in capsys.readouterr().err
    config.write_text("style: s.png\n")
    assert cli.main(["train", str(config)]) == 2
    assert "nst train needs train.photos" in capsys.readouterr().err
    assert cli.main(["apply", str(tmp_path / "no.keras"), "x.jpg"]) == 2
    assert "model" in capsys.readouterr().err
