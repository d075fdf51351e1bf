"""nst.runs.preflight: the memory estimate against measured runs, and the checks that refuse a run
before its first step (one line, exit 2, no run directory)."""

import dataclasses
import os
import re
from pathlib import Path

import pytest

from nst import cli
from nst import config as nst_config
from nst.runs import preflight

STARRY = Path(__file__).resolve().parents[2] / "configs" / "starry.yaml"
GIB = 2**30

# Peak RSS of `nst run configs/starry.yaml --quiet --set model.weights=none optim.steps=3
# log.every=1 image.size=SIZE SETTINGS` (/usr/bin/time -v, "Maximum resident set size") on the
# 2-core development CPU, TensorFlow 2.21: the calibration in nst/runs/preflight.py's docstring.
# (SIZE, SETTINGS, measured MiB); the content is 4:3, so the output is SIZE x 3/4 SIZE.
SHALLOW = 'layers.content={"block2_conv2":1} layers.style={"block1_conv1":1,"block2_conv1":1}'
MEASURED = [
    (256, "", 986),
    (256, "optim.name=adam", 884),
    (512, "", 1702),
    (512, "model.network=vgg16", 1660),
    (512, "optim.name=adam", 1225),
    (512, "optim.line_search=hager_zhang", 2895),
    (512, "optim.name=adam image.style_scale=2", 1853),
    (1024, "scales.count=1", 4414),
    (1024, "scales.steps=2", 5110),  # scales of 256, 512 and 1024 px
    (1024, "scales.count=1 model.network=vgg16", 4259),
    (1024, "scales.count=1 optim.history=10", 2787),
    (1024, "scales.count=1 optim.line_search=hager_zhang", 9432),
    (1024, "scales.count=1 optim.name=adam", 2556),
    (1024, "scales.count=1 optim.name=adam model.network=vgg16", 2408),
    (1024, f"scales.count=1 optim.name=adam {SHALLOW}", 2235),
    (1024, f"scales.count=1 {SHALLOW}", 4162),
    (1024, "scales.count=1 optim.name=adam model.precision=mixed_bfloat16", 2161),
    (1024, "scales.count=1 optim.name=adam model.taps=pre_relu", 2996),
    (1024, "scales.count=1 log.checkpoint_every=1", 4415),
    (1536, "scales.count=1", 8753),
    (2048, "scales.count=1 optim.name=adam", 7537),
    (2048, "scales.count=1 optim.history=20", 8904),
    (2048, "scales.steps=2 log.checkpoint_every=1", 17810),  # scales 256 to 2048: the default
]


def starry(*overrides: str) -> nst_config.Config:
    return nst_config.load_config(STARRY, ["model.weights=none", *overrides])


def shape_at(size: int) -> tuple[int, int]:
    """(height, width) of the 4:3 Tübingen content at image.size=size."""
    return round(size * 3 / 4), size


def estimate(size: int, *overrides: str) -> preflight.MemoryEstimate:
    return preflight.estimate_memory(starry(f"image.size={size}", *overrides), *shape_at(size))


# --- The estimate --------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "settings", "measured_mib"), MEASURED)
def test_estimate_is_close_to_the_measured_peak(size, settings, measured_mib):
    as_measured = ["optim.steps=3", "log.every=1", *settings.split()]
    ratio = estimate(size, *as_measured).total / 2**20 / measured_mib
    assert 0.8 <= ratio <= 1.5, f"estimate / measured = {ratio:.2f}"


def test_estimate_grows_with_the_image_area():
    sizes = [256, 512, 1024, 2048]
    networks = [estimate(size, "scales.count=1").network for size in sizes]
    assert networks == sorted(networks)
    # The activations scale with the pixels (4x per doubling), up to pooling's rounding.
    for smaller, larger in zip(networks, networks[1:], strict=False):
        assert 3.9 < larger / smaller < 4.1


def test_lbfgs_history_costs_the_same_for_each_pair():
    one, two, three = (
        estimate(
            512, f"optim.history={history}", "log.checkpoint_every=0", "scales.count=1"
        ).optimizer
        for history in (10, 20, 30)
    )
    pair_bytes = 2 * 512 * 384 * 3 * 4  # s and y, float32, image-sized
    copies = preflight._LBFGS_HISTORY_COPIES["none"]
    assert two - one == pytest.approx(three - two, abs=2)
    assert two - one == pytest.approx(10 * copies * pair_bytes, abs=2)
    # Adam keeps a few image-sized vectors; L-BFGS 2 x 100 by default.
    assert estimate(512, "optim.name=adam").optimizer < estimate(512).optimizer / 15


def test_multi_scale_peaks_at_its_last_scale_plus_the_earlier_optimiser_state():
    multi = estimate(1024, "scales.count=3", "scales.min_size=256", "log.checkpoint_every=0")
    single = estimate(1024, "scales.count=1", "log.checkpoint_every=0")
    assert multi.network == single.network
    earlier = sum(
        estimate(size, "scales.count=1", "log.checkpoint_every=0").optimizer for size in (256, 512)
    )
    assert multi.optimizer == single.optimizer + earlier


def test_a_checkpoint_copies_what_the_optimiser_hands_over_at_once():
    pixels = 512 * 384 * 3
    without = estimate(512, "log.checkpoint_every=0").optimizer
    # nst's L-BFGS hands its history over a row at a time: position, gradient and one row.
    with_checkpoints = estimate(512, "log.checkpoint_every=100").optimizer
    assert with_checkpoints == pytest.approx(without + 1.15 * 3 * pixels * 4)  # measured 1.13x
    # tfp's gives its whole state at once: the history, the position and the gradient.
    tfp = ("optim.line_search=hager_zhang",)
    tfp_without = estimate(512, "log.checkpoint_every=0", *tfp).optimizer
    tfp_with = estimate(512, "log.checkpoint_every=100", *tfp).optimizer
    assert tfp_with == pytest.approx(tfp_without + 1.15 * (2 * 100 + 3) * pixels * 4)
    # 500 steps: the 500th is the end, not a checkpoint.
    assert estimate(512, "log.checkpoint_every=500").optimizer == without


# --- check_memory --------------------------------------------------------------------------------


def test_check_memory_passes_a_run_that_fits():
    preflight.check_memory(starry("image.size=512"), *shape_at(512), available_bytes=22 * GIB)


def test_check_memory_refuses_with_the_estimate_and_a_size_that_fits():
    config = starry("image.size=4096")
    with pytest.raises(preflight.UserError) as raised:
        preflight.check_memory(config, *shape_at(4096), available_bytes=22 * GIB)
    message = str(raised.value)
    assert "\n" not in message
    total = preflight.estimate_memory(config, *shape_at(4096)).total
    assert f"image.size=4096 (4096x3072 px) needs about {total / GIB:.1f} GiB" in message
    assert "but 22.0 GiB of RAM is free" in message
    assert "NST_SKIP_MEMORY_CHECK=1" in message
    suggested = int(re.search(r"try image\.size=(\d+)", message).group(1))
    usable = 0.9 * 22 * GIB
    assert 1024 <= suggested < 4096
    assert estimate(suggested).total <= usable < estimate(suggested + 32).total


def test_check_memory_suggests_a_shorter_history_when_that_alone_fits():
    with pytest.raises(preflight.UserError) as raised:
        preflight.check_memory(starry("image.size=2048"), *shape_at(2048), 16 * GIB)
    history = int(re.search(r"optim\.history=(\d+)", str(raised.value)).group(1))
    assert 1 <= history < 100
    assert estimate(2048, f"optim.history={history}").total <= 0.9 * 16 * GIB


def test_check_memory_says_to_free_memory_when_nothing_fits():
    with pytest.raises(preflight.UserError, match="free some RAM"):
        preflight.check_memory(starry("image.size=512"), *shape_at(512), 100 * 2**20)


def test_available_memory_reads_linux_free_memory():
    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc/meminfo (not Linux)")
    available = preflight.available_memory()
    assert available is not None and available.size > 100 * 2**20


# --- The output directory and the disk ----------------------------------------------------------


def test_check_writable_accepts_a_missing_directory_and_creates_nothing(tmp_path):
    preflight.check_writable(tmp_path / "runs" / "deeper")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_check_writable_refuses_a_read_only_directory(tmp_path):
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o500)
    try:
        with pytest.raises(preflight.UserError, match="output.root: can't write in") as raised:
            preflight.check_writable(read_only / "runs")
        assert str(read_only / "runs") in str(raised.value)
    finally:
        read_only.chmod(0o700)


def test_check_writable_refuses_a_path_under_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    with pytest.raises(preflight.UserError, match="is a file") as raised:
        preflight.check_writable(blocker / "runs")
    assert "output.root" in str(raised.value) and str(blocker / "runs") in str(raised.value)


def test_check_disk_refuses_a_run_that_writes_more_than_the_disk_holds(tmp_path, monkeypatch):
    config = starry("image.size=1024")
    needed = preflight.estimate_disk(config, *shape_at(1024))
    usage = type("Usage", (), {"free": needed - 1})
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: usage)
    with pytest.raises(preflight.UserError, match="output.root: .* GiB free on its disk"):
        preflight.check_disk(config, *shape_at(1024), tmp_path)
    usage.free = needed
    preflight.check_disk(config, *shape_at(1024), tmp_path)


def test_disk_estimate_counts_snapshots():
    one_scale = ("scales.count=1", "optim.steps=500")
    rarely = preflight.estimate_disk(starry("log.snapshot_every=100", *one_scale), 384, 512)
    often = preflight.estimate_disk(starry("log.snapshot_every=10", *one_scale), 384, 512)
    assert often - rarely == (499 // 10 - 499 // 100) * 384 * 512 * 3


# --- From the command line -----------------------------------------------------------------------


def test_output_shape_reads_only_the_content_header(experiment):
    config = nst_config.load_config(experiment.write_config())
    assert preflight.output_shape(config) == (24, 32)  # 64x48 content at image.size=32
    missing = dataclasses.replace(config, content=str(experiment.dir / "missing.png"))
    assert preflight.output_shape(missing) is None


def pretend_free(monkeypatch, size: int) -> None:
    monkeypatch.setattr(preflight, "available_memory", lambda: preflight.Available(size, "RAM"))


def test_run_too_large_for_memory_exits_2_before_any_work(experiment, capsys, monkeypatch):
    pretend_free(monkeypatch, 16 * GIB)  # The same answer on any machine.
    monkeypatch.delenv(preflight.SKIP_MEMORY_CHECK, raising=False)
    config_path = experiment.write_config()
    overrides = ["image.size=8192", "image.tile=off"]
    assert cli.main(["run", str(config_path), "--quiet", "--set", *overrides]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (line,) = captured.err.splitlines()
    assert line.startswith("nst: error: image.size=8192 (8192x6144 px) needs about ")
    assert "16.0 GiB of RAM is free: try image.size=" in line
    assert not experiment.runs_root.exists()


def test_skip_memory_check_runs_anyway(experiment, capsys, monkeypatch):
    pretend_free(monkeypatch, 2**20)  # Far too little for anything.
    config_path = experiment.write_config()
    assert cli.main(["run", str(config_path), "--quiet"]) == 2
    assert "NST_SKIP_MEMORY_CHECK=1" in capsys.readouterr().err
    monkeypatch.setenv(preflight.SKIP_MEMORY_CHECK, "1")
    assert cli.main(["run", str(config_path), "--quiet"]) == 0
    assert len(experiment.run_dirs()) == 1


# --- image.tile: auto ---------------------------------------------------------------------------


def fit(size: int, usable_gib: float, *overrides: str):
    config = starry(f"image.size={size}", *overrides)
    return preflight.fit_memory(config, *shape_at(size), usable_gib * GIB)


def test_auto_runs_whole_what_fits_whole():
    config, note = fit(1024, 21)
    assert config.image.tile == "off" and config.optim == starry().optim and note == ""


def test_auto_tiles_a_run_whose_network_does_not_fit_and_says_so():
    config, note = fit(2560, 21)  # whole: about 26.8 GiB, the L-BFGS state alone 15.4
    tile = int(config.image.tile)
    assert config.optim == starry().optim  # the optimiser as configured
    assert tile % 64 == 0 and preflight.estimate_memory(config, *shape_at(2560)).total <= 21 * GIB
    bigger = dataclasses.replace(
        config, image=dataclasses.replace(config.image, tile=str(tile + 64))
    )
    assert preflight.estimate_memory(bigger, *shape_at(2560)).total > 21 * GIB  # the largest
    assert "2560x1920 px does not fit 21.0 GiB of RAM whole" in note
    assert f"tiles of at most {tile} px (image.tile={tile}; exact" in note


def test_auto_never_tiles_the_histogram_style_loss_so_check_memory_judges_it_whole():
    config, note = fit(2560, 21, "loss.style_loss=histogram")
    assert config.image.tile == "off" and note == ""
    with pytest.raises(preflight.UserError, match="needs about") as raised:
        preflight.check_memory(config, *shape_at(2560), 21 * GIB)
    assert "image.tile" not in str(raised.value)  # tiles would not help it


def test_auto_shortens_the_lbfgs_history_when_its_state_does_not_fit_and_says_so():
    config, note = fit(4096, 21)
    assert 3 <= config.optim.history < 100 and config.optim.name == "lbfgs"
    assert preflight.estimate_memory(config, *shape_at(4096)).total <= 21 * GIB
    assert f"L-BFGS keeps {config.optim.history} correction pairs" in note
    assert "optim.history=100 would need about" in note


def test_auto_turns_to_adam_when_no_lbfgs_history_fits():
    config, note = fit(4096, 6)  # with 3 pairs, L-BFGS would need about 6.5 GiB
    assert config.optim.name == "adam" and config.image.tile.isdigit()
    assert preflight.estimate_memory(config, *shape_at(4096)).total <= 6 * GIB
    assert "optimised with Adam" in note


def test_a_tiled_estimate_counts_one_tile_of_network_and_image_sized_buffers():
    whole = estimate(2048, "image.tile=off", "scales.count=1")
    tiled = estimate(2048, "image.tile=1024", "scales.count=1")
    assert tiled.optimizer == whole.optimizer
    assert tiled.network < whole.network / 2
    one_tile = estimate(1024, "image.tile=off", "scales.count=1")  # 1024x768, a bit smaller
    assert tiled.network > one_tile.network  # plus the content targets and gradient sums


def test_nothing_fits_leaves_the_refusal_to_check_memory(monkeypatch, experiment, capsys):
    pretend_free(monkeypatch, 1 * GIB)
    monkeypatch.delenv(preflight.SKIP_MEMORY_CHECK, raising=False)
    config_path = experiment.write_config()
    assert cli.main(["run", str(config_path), "--quiet", "--set", "image.size=8192"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("nst: error: image.size=8192 (8192x6144 px) needs about ")
    assert not experiment.runs_root.exists()


def test_a_refusal_with_tiling_off_suggests_what_auto_would_do():
    config = starry("image.size=4096", "image.tile=off")
    with pytest.raises(preflight.UserError) as raised:
        preflight.check_memory(config, *shape_at(4096), available_bytes=22 * GIB)
    suggestion = re.search(
        r"image\.tile=auto \((\d+) tiles of (\d+)x(\d+) px, optim\.history=(\d+); ",
        str(raised.value),
    )
    assert suggestion, str(raised.value)
    _, width, height, history = suggestion.groups()
    tile = max(int(width), int(height))
    fitted = starry("image.size=4096", f"image.tile={tile}", f"optim.history={history}")
    assert preflight.estimate_memory(fitted, *shape_at(4096)).total <= 0.9 * 22 * GIB


# Tiled runs (nst.algorithm.tiling), measured as MEASURED but stopped after the first step's
# checkpoint.
MEASURED_TILED = [
    # 70 tiles of 976x1024 px, L-BFGS history 6 as image.tile auto chose (6 before the tiled
    # image vectors were fitted to this run), a checkpoint every step.
    (
        8192,
        "scales.count=1 model.network=vgg16 image.tile=1024 optim.history=6 log.checkpoint_every=1",
        22236,
    ),
    # 63 tiles of at most 1152 px, history 4, as auto chose with 20.3 GiB usable (8 vectors).
    (
        8192,
        "scales.count=1 model.network=vgg16 image.tile=1152 optim.history=4 log.checkpoint_every=1",
        21704,
    ),
    # Coarse to fine over 128 to 4096 px (20 steps a scale, 5 at 4096: 1024 px and below run
    # whole, 2048 and 4096 over tiles) with L-BFGS keeping 39 pairs, as auto then chose.
    (
        4096,
        "scales.steps=20 optim.steps=5 model.network=vgg16 image.tile=1088 optim.history=39",
        23765,
    ),
]


@pytest.mark.parametrize(("size", "settings", "measured_mib"), MEASURED_TILED)
def test_tiled_estimates_stay_close_to_measured_peaks(size, settings, measured_mib):
    total = estimate(size, *settings.split()).total / 2**20
    assert 0.95 <= total / measured_mib <= 1.5  # and not below: auto fills memory with it
