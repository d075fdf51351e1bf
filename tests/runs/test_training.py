"""nst train as a run: photos read and skipped, resume exactness, a NaN stop that keeps the
last good network, the run directory's files. Tiny: 32 px crops, random VGG16 weights."""

import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from nst.config import config_from_dict
from nst.errors import UserError
from nst.runs import training
from nst.runs.interrupts import RunInterrupted
from tests.conftest import gradient_image, stripes_image


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        gradient_image(48 + 8 * index, 40).rotate(90 * index).save(folder / f"p{index}.png")
    stripes_image(64, 64).save(tmp_path / "style.png")
    valid = tmp_path / "validation"
    valid.mkdir()
    gradient_image(40, 32).save(valid / "v.png")
    return tmp_path


def train_config(root, **train):
    data = {
        "style": str(root / "style.png"),
        "model": {"network": "vgg16", "weights": "none"},
        "layers": {"content": {"block2_conv2": 1.0}, "style": {"block1_conv1": 1.0}},
        "image": {"size": 48},
        "train": {
            "photos": str(root / "photos"),
            "validation": str(root / "validation"),
            "size": 32,
            "batch": 1,
            "steps": 4,
            "validate_every": 2,
            **train,
        },
        "log": {"every": 1, "checkpoint_every": 0},
        "output": {"root": str(root / "runs")},
    }
    return config_from_dict(data, "test", training=True)


def test_a_run_writes_its_files_and_a_resumed_run_ends_where_an_unbroken_one_does(
    photos, monkeypatch
):
    config = train_config(photos)
    outcome = training.train(config, "a", show_progress=False)
    run_dir = outcome.run_dir
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [line["step"] for line in lines if "loss/style" in line and not line.get("final")]
    assert logged == [1, 2, 3, 4]
    final = lines[-1]
    assert final["final"] and final["stop_reason"] == "completed"
    assert {"quality/palette", "quality/strokes"} <= set(final)
    assert (run_dir / "validation" / "step_000002" / "v.png").is_file()
    assert (run_dir / "final.png").is_file() and not (run_dir / "checkpoint.npz").exists()
    unbroken = training.load_network(outcome.model_path)
    assert unbroken.get_layer("picture").info["train_size"] == 32

    stepped = training._TrainingLog.step

    def stop_after_two(self, step, *args):
        stepped(self, step, *args)
        if step == 2:  # as Ctrl-C would, between steps
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(training._TrainingLog, "step", stop_after_two)
    with pytest.raises(RunInterrupted) as stopped:
        training.train(config, "b", False)
    monkeypatch.setattr(training._TrainingLog, "step", stepped)
    run_dir = stopped.value.run_dir
    assert (run_dir / "checkpoint.npz").is_file() and (run_dir / "interrupted.keras").is_file()
    resumed = training.load_network(training.resume(run_dir, False).model_path)
    for mine, theirs in zip(resumed.get_weights(), unbroken.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    steps = [json.loads(line).get("step") for line in (run_dir / "metrics.jsonl").open()]
    assert steps[:4] == [1, 2, 3, 4]  # no step logged twice


def test_an_unreadable_photo_is_named_and_skipped(photos, capsys):
    (photos / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    source = training.Photos(train_config(photos), exclude=[])
    assert [path.name for path in source.paths] == ["p0.png", "p1.png", "p2.png"]
    assert "broken.jpg" in capsys.readouterr().err
    assert source.batch(0).shape == (1, 32, 32, 3)


def test_missing_or_empty_photos_are_one_line_errors(photos):
    with pytest.raises(UserError, match="train.photos: .* does not exist"):
        training.train(train_config(photos, photos=str(photos / "nope")), "t", False)
    (photos / "empty").mkdir()
    with pytest.raises(UserError, match="train.photos: folder .* holds no image files"):
        training.train(train_config(photos, photos=str(photos / "empty")), "t", False)
    Image.new("RGB", (4, 4)).save(photos / "validation" / "p.png")
    with pytest.raises(UserError, match="nst train needs train.photos"):
        config_from_dict({"style": "s.png"}, "t.yaml", training=True)


def test_a_nan_loss_stops_and_keeps_the_last_good_network(photos, monkeypatch):
    calls = {"n": 0}
    real_call = training.training.TrainStep.__call__

    def nan_on_third(self, batch):
        calls["n"] += 1
        loss, terms = real_call(self, batch)
        if calls["n"] == 3:
            self.network.set_weights([w * np.nan for w in self.network.get_weights()])
            return float("nan"), terms
        return loss, terms

    monkeypatch.setattr(training.training.TrainStep, "__call__", nan_on_third)
    with pytest.raises(training.RunFailed, match="step 3"):
        training.train(train_config(photos, validate_every=0), "t", False)
    kept = next((photos / "runs" / "t").glob("*/last_good.keras"))
    assert all(np.isfinite(w).all() for w in training.load_network(kept).get_weights())
