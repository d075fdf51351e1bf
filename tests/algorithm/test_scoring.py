"""Tests for nst/algorithm/scoring.py and `nst score`: random seeded VGG16 weights, sample images
at 256 px.

The numbers on real features are in docs/quality.md "Quality readout"; here the network is
random, which is enough for the identities (an image against itself scores 0) and the plumbing.
"""

import contextlib
import io
import json
import math

import numpy as np
import pytest

from nst import cli, images, networks
from nst import config as nst_config
from nst.algorithm import metrics, scoring
from nst.runs import feature_models

CONTENT = "assets/tubingen.jpg"
STYLE = "assets/starry_night.jpg"
SECOND_STYLE = "assets/shipwreck.jpg"
RANDOM_VGG16 = ["--network", "vgg16", "--weights", "none"]


@pytest.fixture(scope="module")
def model():
    return feature_models.reference_model("vgg16", "none")


def load(path: str) -> np.ndarray:
    return images.load_image(path, max_size=metrics.SIDE)


def nst_score(*args: str) -> tuple[int, str, str]:
    """`nst score ARGS` in this process: (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_code = cli.main(["score", *args])
    return exit_code, stdout.getvalue(), stderr.getvalue()


def test_reference_layers_exist_in_both_networks():
    for network in networks.NETWORKS:
        assert set(scoring.LAYERS) <= set(networks.layer_names(network))


def test_images_against_themselves_score_zero(model):
    content, style = load(CONTENT), load(STYLE)
    scorer = scoring.Scorer(model, content, [style])
    assert list(scorer(style)) == list(scoring.NAMES)
    assert scorer(content)["content"] == 0.0
    as_style = scorer(style)
    assert (as_style["palette"], as_style["strokes"], as_style["contrast"]) == (0.0, 0.0, 1.0)
    assert as_style["style"] == pytest.approx(0.0, abs=1e-6)
    assert as_style["content"] > 0.1 and scorer(content)["style"] > 0.1


def test_scores_do_not_depend_on_the_input_sizes(model):
    scorer = scoring.Scorer(model, load(CONTENT), [load(STYLE)])
    small = scorer(load(CONTENT) * 0.8)
    large = scorer(images.load_image(CONTENT, max_size=512) * 0.8)
    for name in set(scoring.NAMES) - {"coherence"}:
        assert large[name] == pytest.approx(small[name], rel=0.02, abs=1e-3), name
    # Coherence is read at 512 px: larger pictures agree; a smaller one is upscaled, its
    # finest strokes missing, so it is only comparable with pictures of its own size.
    larger = scorer(images.load_image(CONTENT, max_size=1024) * 0.8)
    assert larger["coherence"] == pytest.approx(large["coherence"], abs=0.01)


def test_several_styles_blend_by_weight(model):
    content, styles = load(CONTENT), [load(STYLE), load(SECOND_STYLE)]
    blended = scoring.Scorer(model, content, styles, [3.0, 1.0])(content)
    alone = [scoring.Scorer(model, content, [style])(content) for style in styles]
    for name in ("palette", "strokes", "contrast"):
        assert blended[name] == pytest.approx(0.75 * alone[0][name] + 0.25 * alone[1][name])
    # The Gram target is the blend, which neither style alone is.
    assert scoring.Scorer(model, content, styles, [3.0, 1.0])(styles[0])["style"] > 0


def test_a_result_of_another_aspect_is_stretched_to_the_content_for_the_content_distance(model):
    content = load(CONTENT)
    scorer = scoring.Scorer(model, content, [load(STYLE)])
    squeezed = images.resize_to(content, 256, 200)
    assert scorer(squeezed)["content"] < 0.2 * scorer(load(STYLE))["content"]


def test_an_image_too_thin_for_block5_has_no_network_distances(model):
    thin = np.full((8, 300, 3), 0.5, np.float32)  # 256 x 7 px at the scoring size
    scores = scoring.Scorer(model, thin, [load(STYLE)])(thin)
    assert math.isnan(scores["content"]) and math.isnan(scores["style"])
    assert scores["contrast"] == 0.0 and math.isfinite(scores["palette"])


def test_a_flat_grey_result_does_not_crash(model):
    scores = scoring.Scorer(model, load(CONTENT), [load(STYLE)])(np.full((60, 80, 3), 0.5))
    assert all(math.isfinite(value) for value in scores.values())


def test_the_run_model_is_reused_only_at_the_reference_settings():
    config = nst_config.load_config("configs/starry.yaml")
    layers = nst_config.used_layers(config)
    assert scoring.model_fits("max", "post_relu", "float32", layers)  # the defaults
    assert not scoring.model_fits("avg", "post_relu", "float32", layers)
    assert not scoring.model_fits("max", "pre_relu", "float32", layers)
    assert not scoring.model_fits("max", "post_relu", "mixed_bfloat16", layers)
    assert not scoring.model_fits("max", "post_relu", "float32", layers[:-1])


# --- nst score -----------------------------------------------------------------------------------


def test_nst_score_prints_a_table_row_per_image():
    exit_code, stdout, _ = nst_score(CONTENT, STYLE, STYLE, CONTENT, *RANDOM_VGG16)
    assert exit_code == 0
    title, header, *rows = stdout.splitlines()
    assert title == "vgg16, weights none; images at 256 px (coherence at 512)"
    assert header.split() == ["image", *scoring.NAMES]
    assert [row.split()[0] for row in rows] == [STYLE, CONTENT]
    style_row = [float(value) for value in rows[0].split()[1:]]
    by_name = dict(zip(scoring.NAMES, style_row, strict=True))
    assert [by_name[name] for name in ("palette", "strokes", "contrast")] == [0.0, 0.0, 1.0]
    assert by_name["style"] == pytest.approx(0, abs=1e-5)
    assert float(rows[1].split()[1 + scoring.NAMES.index("content")]) == 0.0  # the content's


def test_nst_score_json_gives_the_scores_the_scorer_does(model):
    exit_code, stdout, _ = nst_score(CONTENT, STYLE, CONTENT, "--json", *RANDOM_VGG16)
    assert exit_code == 0
    report = json.loads(stdout)
    assert {key: report[key] for key in ("network", "weights", "content", "style", "side")} == {
        "network": "vgg16",
        "weights": "none",
        "content": CONTENT,
        "style": STYLE,
        "side": 256,
    }
    (row,) = report["scores"]
    assert row.pop("image") == CONTENT
    whole = images.load_image(CONTENT)  # scored whole: coherence at 512 px, the rest at 256
    expected = scoring.Scorer(model, load(CONTENT), [load(STYLE)])(whole)
    assert row == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((CONTENT, STYLE, "missing.png"), "image 'missing.png' not found"),
        (("missing.jpg", STYLE, CONTENT), "content image 'missing.jpg' not found"),
        ((CONTENT, "README.md", CONTENT), "style image 'README.md' is not an image"),
        (
            (CONTENT, STYLE, CONTENT, "--network", "vgg19", "--weights", "hed"),
            "--weights hed has VGG16 weights only",
        ),
    ],
)
def test_nst_score_refuses_bad_input_with_one_line_and_exit_2(args, message):
    exit_code, stdout, stderr = nst_score(*args)
    assert exit_code == cli.EXIT_USER_ERROR == 2
    assert stdout == ""
    assert stderr.startswith(f"nst: error: {message}") and len(stderr.splitlines()) == 1
