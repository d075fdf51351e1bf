"""nst.runs.weights: model.weights=auto uses ImageNet when it is cached or can be downloaded, else
falls
back to the offline VGG16 weights, records what it used and says so in one line.

No test touches the network: `urllib.request.urlopen` fails as it does offline unless a test
replaces it, and KERAS_HOME points at an empty directory of the test's own.
"""

import contextlib
import io
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import h5py
import keras
import pytest
import yaml
from keras.src.legacy.saving import legacy_h5_format
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from nst import cli
from nst import config as nst_config
from nst.algorithm.features import build_feature_model
from nst.errors import UserError
from nst.runs import feature_models, weights
from nst.runs import sweep as nst_sweep

OFFLINE_REASON = "[Errno -2] Name or service not known"
FAST_RUN = ["image.size=48", "optim.steps=2"]  # Otherwise the defaults: VGG19, every layer


def offline_urlopen(*args, **kwargs):
    """What urllib raises when no name can be looked up (no network, no DNS)."""
    raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty Keras cache, and a process that has tried and said nothing yet."""
    keras_home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setattr(urllib.request, "urlopen", offline_urlopen)
    monkeypatch.setattr(weights, "_fetch_failures", {})
    monkeypatch.setattr(weights, "_notes_shown", set())
    return keras_home


def ssl_error() -> ssl.SSLCertVerificationError:
    """What a firewall that intercepts HTTPS with its own certificate makes urllib raise."""
    return ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )


def count_calls(monkeypatch, replacement=offline_urlopen) -> list:
    """The URLs urlopen is asked for from now on (it still behaves as `replacement`)."""
    calls = []

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        return replacement(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def cache_imagenet_file(keras_home, network: str) -> None:
    """A randomly initialised stand-in for Keras' ImageNet 'notop' file, in its legacy h5 layout
    (which Keras 3 writes only through its private legacy_h5_format)."""
    reference = getattr(keras.applications, network.upper())(include_top=False, weights=None)
    path = keras_home / "models" / f"{network}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, reference)


# --- resolve_weights -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["imagenet", "hed", "none", "/weights/vgg19.weights.h5"])
def test_values_other_than_auto_keep_their_meaning(monkeypatch, value):
    calls = count_calls(monkeypatch)
    assert weights.resolve_weights("vgg19", value) == weights.ResolvedWeights("vgg19", value)
    assert calls == []


def test_auto_uses_cached_imagenet_weights_without_a_download(monkeypatch, offline):
    path = offline / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"cached")
    calls = count_calls(monkeypatch)
    assert weights.resolve_weights("vgg19", "auto") == weights.ResolvedWeights("vgg19", "imagenet")
    assert calls == []


@pytest.mark.parametrize("network", ["vgg19", "vgg16"])
def test_auto_offline_falls_back_to_vgg16_hed_and_says_how_to_get_imagenet(network, offline):
    resolved = weights.resolve_weights(network, "auto")
    assert (resolved.network, resolved.weights) == ("vgg16", "hed")
    assert resolved.reason == OFFLINE_REASON
    assert "\n" not in resolved.note
    assert f"could not download the ImageNet {network.upper()} weights ({OFFLINE_REASON})" in (
        resolved.note
    )
    assert "model.weights=hed" in resolved.note
    assert ("model.network=vgg16" in resolved.note) == (network == "vgg19")
    assert weights.IMAGENET_URLS[network] in resolved.note
    assert f"into {offline}/models/" in resolved.note


def test_without_keras_home_the_note_names_the_default_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setattr(weights, "_cache_dir", lambda: tmp_path / "empty")  # not the real one
    note = weights.resolve_weights("vgg19", "auto").note
    assert note.endswith("into ~/.keras/models/")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        # A firewall that drops packets: the connection times out.
        (urllib.error.URLError(TimeoutError("timed out")), "timed out"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "refused"),
        # A proxy that refuses the address.
        (urllib.error.HTTPError("https://x", 403, "Forbidden", {}, None), "HTTP 403 Forbidden"),
        (urllib.error.URLError(ssl_error()), "CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["timeout", "refused", "http", "intercepted"],
)
def test_any_fetch_failure_falls_back(monkeypatch, failure, reason):
    def failing(*args, **kwargs):
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", failing)
    resolved = weights.resolve_weights("vgg19", "auto")
    assert (resolved.network, resolved.weights) == ("vgg16", "hed")
    assert reason in resolved.reason and reason in resolved.note


def test_the_download_is_tried_once_per_process(monkeypatch):
    calls = count_calls(monkeypatch)
    first = weights.resolve_weights("vgg19", "auto")
    again = weights.resolve_weights("vgg19", "auto")
    assert first == again
    assert calls == [weights.IMAGENET_URLS["vgg19"]]


def test_the_download_asks_for_a_timeout(monkeypatch):
    timeouts = []

    def urlopen(url, timeout=None):
        timeouts.append(timeout)
        return offline_urlopen()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    weights.resolve_weights("vgg16", "auto")
    assert timeouts == [weights.FETCH_TIMEOUT_SECONDS]
    assert 0 < weights.FETCH_TIMEOUT_SECONDS <= 30


class FakeResponse(io.BytesIO):
    """An HTTP response of `data` whose connection breaks after `cut_after` bytes, if given."""

    def __init__(self, data: bytes, cut_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.cut_after = cut_after

    def read(self, size=-1):
        if self.cut_after is not None:
            if self.tell() >= self.cut_after:
                raise ConnectionResetError(104, "Connection reset by peer")
            size = min(size, self.cut_after - self.tell())
        return super().read(size)


def test_a_download_lands_in_the_keras_cache(monkeypatch, offline, capsys):
    data = b"weights" * 1000
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(data))
    resolved = weights.resolve_weights("vgg16", "auto")
    assert resolved == weights.ResolvedWeights("vgg16", "imagenet")
    cached = offline / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert cached.read_bytes() == data
    assert list(cached.parent.iterdir()) == [cached]
    assert "downloading the ImageNet VGG16 weights" in capsys.readouterr().err


def test_a_cut_download_leaves_no_file_and_falls_back(monkeypatch, offline):
    data = b"weights" * 1000
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: FakeResponse(data, cut_after=100)
    )
    resolved = weights.resolve_weights("vgg16", "auto")
    assert (resolved.network, resolved.weights, resolved.reason) == (
        "vgg16",
        "hed",
        "[Errno 104] Connection reset by peer",
    )
    assert list((offline / "models").iterdir()) == []


def test_show_once_prints_a_note_once(capsys):
    weights.show_once("a note")
    weights.show_once("a note")
    weights.show_once("")
    assert capsys.readouterr().err == "nst: a note\n"


# --- explicit imagenet and a broken cache: clear errors, no fallback ---------------------------


def test_explicit_imagenet_offline_is_one_line_saying_where_to_put_the_file(offline):
    with pytest.raises(UserError) as error:
        feature_models.reference_model("vgg19", "imagenet")
    message = str(error.value)
    assert f"could not download the ImageNet vgg19 weights ({OFFLINE_REASON})" in message
    assert weights.IMAGENET_URLS["vgg19"] in message and f"{offline}/models/" in message
    assert "model.weights" in message and "\n" not in message


def test_a_corrupt_cached_file_is_an_error_not_a_fallback(offline):
    path = offline / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    resolved = weights.resolve_weights("vgg16", "auto")
    assert resolved == weights.ResolvedWeights("vgg16", "imagenet")
    with pytest.raises(UserError, match="is not a Keras vgg16 weights file .*delete it"):
        feature_models.reference_model(resolved.network, resolved.weights)


def test_build_feature_model_refuses_unresolved_auto():
    with pytest.raises(ValueError, match="resolve"):
        build_feature_model("vgg16", "auto", "max", ["block1_conv1"])


# --- Whole runs of the defaults ------------------------------------------------------------------


def defaults_config(experiment, **sections):
    """Only what a run needs besides the defaults: images, where runs go, and `sections`."""
    data = {"content": str(experiment.content), "style": str(experiment.style)}
    data |= {"output": {"root": str(experiment.runs_root)}, **sections}
    path = experiment.dir / "defaults.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_quietly(config_path, *overrides) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["run", str(config_path), "--quiet", "--set", *FAST_RUN, *overrides]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_code = cli.main(argv)
    return exit_code, stdout.getvalue(), stderr.getvalue()


def hparams_of_run(run_dir) -> dict:
    events = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    plugin_data = events.Reload().SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG)
    info = hparams_metadata.parse_session_start_info_plugin_data(plugin_data.plugin_data.content)
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in info.hparams.items()}


@pytest.mark.slow
def test_the_defaults_offline_run_on_vgg16_hed_and_record_it(experiment):
    assert nst_config.ModelConfig().weights == "auto"
    exit_code, stdout, stderr = run_quietly(defaults_config(experiment))
    assert exit_code == 0, stderr
    (note,) = [line for line in stderr.splitlines() if line.startswith("nst: ")]
    assert note.startswith("nst: could not download the ImageNet VGG19 weights")
    assert "using VGG16 with the offline weights (model.network=vgg16 model.weights=hed)" in note
    (run_dir,) = experiment.run_dirs("defaults")
    saved = nst_config.load_config(run_dir / "config.yaml")
    assert (saved.model.network, saved.model.weights) == ("vgg16", "hed")
    hparams = hparams_of_run(run_dir)
    assert (hparams["model.network"], hparams["model.weights"]) == ("vgg16", "hed")
    assert stdout.splitlines()[0].endswith("(vgg16, weights hed)")
    # `nst resume` reads config.yaml: the weights it names resolve to themselves, offline too.
    assert weights.resolve_model(saved) == (saved, "")


@pytest.mark.slow
def test_the_defaults_use_cached_imagenet_weights_without_a_download(
    experiment, offline, monkeypatch
):
    cache_imagenet_file(offline, "vgg19")
    calls = count_calls(monkeypatch)
    exit_code, stdout, stderr = run_quietly(defaults_config(experiment))
    assert exit_code == 0, stderr
    assert calls == []
    assert "nst: " not in stderr
    (run_dir,) = experiment.run_dirs("defaults")
    saved = nst_config.load_config(run_dir / "config.yaml")
    assert (saved.model.network, saved.model.weights) == ("vgg19", "imagenet")
    assert stdout.splitlines()[0].endswith("(vgg19, weights imagenet)")


def test_a_vgg19_only_layer_offline_exits_2_naming_it(experiment):
    config_path = defaults_config(experiment, layers={"style": {"block3_conv4": 1.0}})
    exit_code, stdout, stderr = run_quietly(config_path)
    assert exit_code == 2
    assert stdout == ""
    (line,) = stderr.splitlines()
    assert line.startswith("nst: error: 'layers.style' has layer 'block3_conv4', which vgg16 lacks")
    assert "model.weights=auto fell back" in line and OFFLINE_REASON in line
    assert "use 'block3_conv3' instead" in line
    assert weights.IMAGENET_URLS["vgg19"] in line
    assert not experiment.runs_root.exists()


def test_explicit_imagenet_offline_run_exits_2_with_one_line(experiment):
    exit_code, stdout, stderr = run_quietly(defaults_config(experiment), "model.weights=imagenet")
    assert exit_code == 2
    (line,) = stderr.splitlines()
    assert line.startswith("nst: error: could not download the ImageNet vgg19 weights")
    assert not experiment.runs_root.exists()


def test_a_sweep_offline_says_so_once_and_each_member_records_vgg16_hed(experiment):
    base = experiment.write_config("sweep_base", model={"network": "vgg19", "weights": "auto"})
    sweep_path = experiment.dir / "offline_sweep.yaml"
    sweep_path.write_text(yaml.safe_dump({"base": str(base), "grid": {"optim.steps": [1, 2]}}))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert cli.main(["sweep", str(sweep_path)]) == 0, stderr.getvalue()
    notes = [line for line in stderr.getvalue().splitlines() if "could not download" in line]
    assert len(notes) == 1
    (line,) = [line for line in stdout.getvalue().splitlines() if line.startswith("sweep dir")]
    sweep_dir = Path(line.removeprefix("sweep directory: ").split("  (")[0])
    for member in nst_sweep.load_sweep(sweep_path).members:
        saved = nst_config.load_config(sweep_dir / member.name / "config.yaml")
        assert (saved.model.network, saved.model.weights) == ("vgg16", "hed")
