"""A picture in a background thread: its steps as they come, Stop with a checkpoint, resume."""

import threading
import time

import pytest

from nst import api
from nst.errors import UserError
from nst.web import painting
from nst.web.page import Site

pytestmark = pytest.mark.slow


def _tiny(experiment):
    from tests.conftest import fast_settings

    settings = fast_settings(experiment.dir)
    keys = {
        f"{section}.{key}": value
        for section, values in settings.items()
        if isinstance(values, dict)
        for key, value in values.items()
    }
    keys.pop("output.root")
    return keys | {"optim.steps": 200, "log.checkpoint_every": 0}


def test_shutdown_stops_a_picture_with_a_checkpoint_and_resume_finishes_it(experiment):
    site = Site(experiment.runs_root)
    job = painting.new_picture(
        str(experiment.content),
        [{"path": str(experiment.style)}],
        _tiny(experiment),
        str(site.runs),
    )
    site.paintings["session"] = job.start()
    deadline = time.monotonic() + 120
    while job.state.picture is None:  # the first step's picture, as the page polls for it
        assert time.monotonic() < deadline and not job.state.done, job.state.text
        time.sleep(0.05)
    assert job.state.text.startswith("scale 1/1 (32 px) · step ")
    assert job.state.picture.shape == (24, 32, 3)
    site.stop_all()
    state = job.state
    assert state.done and state.stopped and state.text.startswith("Stopped at step")
    assert (state.run_dir / "checkpoint.npz").is_file()
    assert (state.run_dir / "interrupted.png").is_file()

    resumed = painting.resumed_picture(state.run_dir).start()
    assert resumed.wait(120)
    assert resumed.state.result is not None, resumed.state.text
    assert resumed.state.result.steps == 200 and (state.run_dir / "final.png").is_file()


def test_a_bad_setting_ends_the_picture_with_one_line(experiment):
    job = painting.new_picture(
        str(experiment.content),
        [{"path": str(experiment.style)}],
        {"image.size": -3},
        str(experiment.runs_root),
    ).start()
    assert job.wait(60)
    assert job.state.done and job.state.text.startswith("⚠ ") and "image.size" in job.state.text
    assert "\n" not in job.state.text


def test_stop_needs_a_run_directory_to_keep_the_picture_in(experiment):
    with pytest.raises(UserError, match="stop= needs save=True"):
        api.stylize(str(experiment.content), str(experiment.style), stop=threading.Event())
