"""The page end to end through gradio_client, as a browser's requests reach it: tiny pictures."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from nst.web import controls
from tests.web.tiny_picture import TINY, paint_arguments

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(site_url):
    return Client(site_url[1], verbose=False)


def _status(outputs) -> str:
    return outputs[0]


def _run_dir(site, outputs) -> Path:
    return site.runs / outputs[4]


def test_upload_start_result_and_download(site_url, client, tmp_path):
    site, _ = site_url
    photo = tmp_path / "my photo.png"
    Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)).save(
        photo
    )
    outputs = client.predict(
        **paint_arguments(photo=None, photo_upload=handle_file(str(photo))), api_name="/paint"
    )
    status, picture, readout, downloads, _ = outputs
    assert status.startswith("Done: 20 steps"), status
    assert Image.open(picture).size == (TINY, round(TINY * 40 / 60))
    scores = {row[0]: float(row[1]) for row in readout["data"]}
    assert set(scores) == {"palette", "strokes", "contrast", "coherence", "content", "style"}
    assert sorted(Path(path).name for path in downloads) == ["config.yaml", "final.png"]
    # An ordinary run directory: resume, score and TensorBoard work on it.
    run_dir = _run_dir(site, outputs)
    assert run_dir.parent == site.runs / "web"
    assert (run_dir / "final.png").is_file() and list(run_dir.glob("events.out.tfevents.*"))
    final = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] and final["quality/palette"] == pytest.approx(scores["palette"], 1e-3)
    config = (run_dir / "config.yaml").read_text()
    assert "size: 32" in config and "weights: none" in config
    assert str(site.runs / "web" / "inputs") in config  # the upload is kept with the runs


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("notes.png", b"not an image at all", "not an image Pillow can read"),
        ("cut.png", None, "truncated or corrupt"),
    ],
)
def test_a_bad_upload_is_one_line_and_nothing_runs(site_url, client, tmp_path, name, data, says):
    site, _ = site_url
    path = tmp_path / name
    if data is None:  # a real PNG cut in half
        Image.new("RGB", (64, 64), "red").save(path)
        data = path.read_bytes()[: len(path.read_bytes()) // 2]
    path.write_bytes(data)
    before = set(site.runs.rglob("config.yaml"))
    outputs = client.predict(
        **paint_arguments(photo=None, photo_upload=handle_file(str(path))), api_name="/paint"
    )
    status = _status(outputs)
    assert status.startswith("⚠ photo") and name in status and says in status, status
    assert "\n" not in status and "Traceback" not in status
    assert set(site.runs.rglob("config.yaml")) == before


def test_stop_keeps_the_picture_and_resume_finishes_it(site_url, client):
    site, _ = site_url
    job = client.submit(**paint_arguments(quality="final"), api_name="/paint")
    deadline = time.monotonic() + 120
    while "step" not in (job.outputs()[-1][0] if job.outputs() else ""):
        assert time.monotonic() < deadline, "no step reported"
        time.sleep(0.2)
    assert client.predict(api_name="/stop").startswith("Stopping")
    stopped = job.result()
    assert _status(stopped).startswith("Stopped at step"), _status(stopped)
    run_dir = _run_dir(site, stopped)
    assert (run_dir / "checkpoint.npz").is_file() and (run_dir / "interrupted.png").is_file()
    assert not (run_dir / "final.png").exists()
    assert stopped[1] is not None  # the picture so far stays on the page

    resumed = client.predict(stopped[4], api_name="/resume")
    assert _status(resumed).startswith("Done"), _status(resumed)
    assert (run_dir / "final.png").is_file() and not (run_dir / "checkpoint.npz").exists()
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").open()]
    assert steps[-1] == controls.QUALITY["final"]["optim.steps"] and steps == sorted(steps)


def test_gallery_lists_runs_and_gives_their_settings_back(site_url, client):
    site, _ = site_url
    client.predict(**paint_arguments(smoothness=0.25), api_name="/paint")
    items, run_a, _ = client.predict(api_name="/gallery")  # the shelf and the compare lists
    labels = [value for value, _ in run_a["choices"]]
    assert labels and all((site.runs / label / "config.yaml").is_file() for label in labels)
    newest = labels[0]
    assert items[0]["caption"].startswith(newest) and "palette" in items[0]["caption"]
    label, _, readout, settings, downloads = client.predict(newest, api_name="/describe")
    assert label == newest and {row[0] for row in readout["data"]} >= {"palette", "strokes"}
    assert ["smoothness", "0.25", "loss.tv_weight"] in settings["data"]
    again = client.predict(newest, api_name="/use_again")
    assert again[0].startswith(f"Settings of {newest} loaded")
    size, strength, brush, smoothness, colours, quality, network, weights = again[1:9]
    assert (size, smoothness, quality, weights) == (TINY, 0.25, "preview", "none")
    assert again[9] == "tubingen.jpg" and again[11] == "starry_night.jpg"


def test_fast_network_strength_zero_gives_the_photo_back(client):
    def paint(strength):
        status, picture = client.predict(
            str(Path("models/starry.keras").resolve()),
            "tubingen.jpg",
            None,
            strength,
            "painting's colours",
            128,
            api_name="/apply",
        )
        assert " ms " in status, status
        return np.asarray(Image.open(picture).convert("RGB"), dtype=np.float32)

    photo = Image.open(Path("assets/tubingen.jpg")).convert("RGB")
    photo = photo.resize((128, round(128 * photo.height / photo.width)), Image.Resampling.LANCZOS)
    untouched, painted = paint(0.0), paint(1.0)
    assert untouched.shape == painted.shape == (*np.asarray(photo).shape[:2], 3)
    assert np.abs(untouched - np.asarray(photo, dtype=np.float32)).mean() < 2.0
    assert np.abs(painted - untouched).mean() > 20.0


def test_requests_cannot_read_outside_the_runs_and_assets(site_url, client):
    site, url = site_url
    for outside in ("/etc/passwd", str(Path("setup.cfg").resolve())):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}gradio_api/file={outside}")
        assert refused.value.code in (403, 404)
    with urllib.request.urlopen(f"{url}gradio_api/file={Path('assets/tubingen.jpg').resolve()}"):
        pass
    for escape in ("../../etc", "/etc", "web/../.."):
        assert client.predict(escape, api_name="/describe")[0].startswith("⚠")
        assert client.predict(escape, api_name="/resume")[0].startswith("⚠")
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio's own check
        client.predict(
            "/etc/passwd", "tubingen.jpg", None, 1.0, "painting's colours", 128, api_name="/apply"
        )


def test_uploads_over_the_cap_are_refused(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(2 * 1024 * 1024))  # 2 MB; the fixture's cap is 1 MB
    with pytest.raises(Exception, match="(?i)size|large|413"):
        client.predict(
            **paint_arguments(photo=None, photo_upload=handle_file(str(big))), api_name="/paint"
        )


def test_one_picture_at_a_time_the_next_waits_in_the_queue(site_url):
    site, url = site_url
    first_client, second_client = Client(url, verbose=False), Client(url, verbose=False)
    first = first_client.submit(**paint_arguments(quality="final"), api_name="/paint")
    while "step" not in (first.outputs()[-1][0] if first.outputs() else ""):
        time.sleep(0.2)
    second = second_client.submit(**paint_arguments(), api_name="/paint")
    waited = False
    for _ in range(20):
        status = second.status()
        waited |= status.code.name == "IN_QUEUE"
        time.sleep(0.1)
    assert waited and not second.outputs()  # nothing of its own ran while the first ran
    first_client.predict(api_name="/stop")
    assert _status(first.result()).startswith(("Stopped", "Done"))  # if it ended first
    assert _status(second.result()).startswith("Done")
