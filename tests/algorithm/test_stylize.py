"""nst.algorithm.stylize: the scale plan, colour options around the optimisation, coarse-to-fine
runs."""

import gc

import numpy as np
import pytest

from nst import config as nst_config
from nst.algorithm import optimize, stylize
from nst.algorithm.features import build_feature_model
from nst.config import config_from_dict

FAST_LAYERS = {
    "content": {"block2_conv2": 1.0},
    "style": {"block1_conv1": 1.0, "block2_conv1": 1.0},
}


def make_config(**sections):
    data = {"content": "c.png", "style": "s.png", "layers": FAST_LAYERS} | sections
    return config_from_dict(data, "test")


def random_image(seed, height, width):
    return np.random.default_rng(seed).uniform(size=(height, width, 3)).astype(np.float32)


@pytest.mark.parametrize(
    ("size", "sizes"),
    [
        (200, [200]),
        (256, [128, 256]),
        (512, [128, 256, 512]),
        (600, [150, 300, 600]),
        (1024, [128, 256, 512, 1024]),
    ],
)
def test_automatic_scales_halve_down_to_min_size(size, sizes):
    plan = stylize.plan_scales(make_config(image={"size": size}, optim={"steps": 50}))
    assert [scale.size for scale in plan] == sizes
    coarse_steps = nst_config.ScalesConfig().steps
    assert [scale.steps for scale in plan] == [coarse_steps] * (len(sizes) - 1) + [50]


def test_a_scale_count_spaces_sizes_evenly_from_min_size():
    config = make_config(image={"size": 400}, scales={"count": 3, "min_size": 100, "steps": 7})
    plan = stylize.plan_scales(config)
    assert [scale.size for scale in plan] == [100, 200, 400]
    assert [scale.steps for scale in plan] == [7, 7, config.optim.steps]


def test_one_scale_when_count_is_one():
    assert len(stylize.plan_scales(make_config(image={"size": 2048}, scales={"count": 1}))) == 1


@pytest.fixture(scope="module")
def tiny_model():
    return build_feature_model(
        "vgg16", "none", "max", ["block2_conv2", "block1_conv1", "block2_conv1"]
    )


def test_coarse_to_fine_runs_every_scale_and_counts_steps_across_them(tiny_model):
    config = make_config(
        image={"size": 48},
        scales={"count": 2, "min_size": 24, "steps": 3},
        optim={"name": "adam", "steps": 4},
    )
    inputs = stylize.Inputs(random_image(0, 36, 48), [random_image(1, 48, 48)], [None])
    scales, reports = [], []
    result = stylize.stylize(
        tiny_model,
        inputs,
        config,
        report_at=[2, 5],
        on_progress=reports.append,
        on_scale=lambda index, scale, loss_fn: scales.append(scale.size),
    )
    assert scales == [24, 48]
    assert result.steps_done == 7 and result.evaluations == 7
    assert result.image.shape == (1, 36, 48, 3)
    steps = [report.step for report in reports]
    assert steps[-1] == 7 and {2, 3, 5} <= set(steps) and steps == sorted(steps)
    assert all(report.steps == 7 for report in reports)


def test_a_scale_lets_the_last_scales_optimiser_state_go_before_it_starts(tiny_model):
    # At print size the last scale's L-BFGS history is gigabytes: held into the next scale, it
    # came on top of that scale's memory (a 4096 px run peaked 2.3 GiB over its estimate).
    config = make_config(image={"size": 64}, scales={"count": 3, "min_size": 16, "steps": 2})
    inputs = stylize.Inputs(random_image(0, 36, 48), [random_image(1, 48, 48)], [None])
    live_optimisers = []

    def on_scale(index, scale, loss_fn):
        gc.collect()
        live = [o for o in gc.get_objects() if isinstance(o, optimize._FixedStepLBFGSRunner)]
        live_optimisers.append(len(live))

    stylize.stylize(tiny_model, inputs, config, on_scale=on_scale)
    assert live_optimisers == [0, 0, 0]


def test_match_style_gives_the_style_the_contents_colour_statistics():
    content = random_image(0, 20, 20) * 0.3 + 0.1  # dark, low-contrast
    style = random_image(1, 20, 20) * 0.2 + 0.7  # bright
    config = make_config(color={"match_style": True})
    prepared = stylize.prepare_colors(stylize.Inputs(content, [style], [None]), config)
    np.testing.assert_allclose(
        prepared.styles[0].mean(axis=(0, 1)), content.mean(axis=(0, 1)), atol=0.02
    )
    assert prepared.content is content


def test_luminance_mode_optimises_grey_images_and_puts_the_contents_colours_back():
    content = random_image(0, 20, 20)
    style = random_image(1, 20, 20)
    config = make_config(color={"preserve": "luminance"})
    prepared = stylize.prepare_colors(stylize.Inputs(content, [style], [None]), config)
    for image in (prepared.content, prepared.styles[0]):
        np.testing.assert_allclose(image[..., 0], image[..., 2])  # grey: equal channels
    grey_result = np.full((20, 20, 3), 0.5, np.float32)
    final = stylize.finish_colors(grey_result, content, config)
    assert not np.allclose(final[..., 0], final[..., 2])  # the content's colours came back


def test_without_colour_options_the_result_is_only_clipped():
    image = random_image(0, 8, 8) * 1.4 - 0.2
    final = stylize.finish_colors(image, random_image(1, 8, 8), make_config())
    np.testing.assert_allclose(final, np.clip(image, 0, 1))


@pytest.mark.parametrize(("style_scale", "longest"), [(0.5, 24), (1.0, 48), (2.0, 96)])
def test_style_scale_sets_the_style_images_size_relative_to_the_output(
    tmp_path, style_scale, longest
):
    from PIL import Image

    from nst.runs import run

    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(tmp_path / "s.png")
    config = config_from_dict(
        {
            "content": str(tmp_path / "c.png"),
            "style": str(tmp_path / "s.png"),
            "image": {"size": 48, "style_scale": style_scale},
            "layers": FAST_LAYERS,
        },
        "test",
    )
    inputs = run.load_inputs(config)
    assert inputs.content.shape == (36, 48, 3)
    assert inputs.styles[0].shape == (longest, longest, 3)


def test_a_black_mask_is_refused_with_its_path(tmp_path):
    from PIL import Image

    from nst.errors import UserError
    from nst.runs import run

    for name in ("c.png", "s.png", "mask.png"):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / name)
    config = config_from_dict(
        {
            "content": str(tmp_path / "c.png"),
            "style": [{"path": str(tmp_path / "s.png"), "mask": str(tmp_path / "mask.png")}],
            "image": {"size": 32},
            "layers": FAST_LAYERS,
        },
        "test",
    )
    with pytest.raises(UserError, match="mask.png' is black everywhere"):
        run.load_inputs(config)
