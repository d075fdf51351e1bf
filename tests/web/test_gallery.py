"""The gallery lists still runs with their pictures and scores, and reads nothing outside."""

import json

import pytest

from nst.errors import UserError
from nst.web import gallery


def _run(root, name, final=True, checkpoint=False, quality=None):
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("content: photo.jpg\nstyle: painting.jpg\n")
    lines = [{"step": 10, "loss/total": 1.0}]
    if final:
        lines.append({"step": 20, "final": True, "seconds": 3.5} | (quality or {}))
        (run_dir / "final.png").write_bytes(b"png")
    if checkpoint:
        (run_dir / "checkpoint.npz").write_bytes(b"npz")
        (run_dir / "interrupted.png").write_bytes(b"png")
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return run_dir


def test_lists_finished_and_stopped_runs_but_not_trainings_or_clips(tmp_path):
    finished = _run(tmp_path, "web/1", quality={"quality/palette": 2.0, "quality/strokes": 0.5})
    stopped = _run(tmp_path, "web/2", final=False, checkpoint=True)
    (_run(tmp_path, "train/3") / "model.keras").write_bytes(b"")
    (_run(tmp_path, "clip/4") / "clip.json").write_text("{}")
    entries = {entry.run_dir: entry for entry in gallery.list_runs(tmp_path)}
    assert set(entries) == {finished, stopped}
    assert entries[finished].status == "finished" and entries[finished].scores == {
        "palette": 2.0,
        "strokes": 0.5,
    }
    assert entries[finished].caption(tmp_path) == "web/1 · palette 2.00 strokes 0.50"
    assert entries[stopped].resumable and entries[stopped].picture.name == "interrupted.png"
    assert not entries[finished].resumable


def test_a_request_names_only_runs_inside_the_runs_folder(tmp_path):
    root = tmp_path / "runs"
    _run(root, "web/1")
    (tmp_path / "outside").mkdir()
    assert gallery.run_dir_under(root, "web/1") == (root / "web/1").resolve()
    for escape in ("../outside", str(tmp_path / "outside"), "web", "web/1/../../..", "/etc"):
        with pytest.raises(UserError, match="is not a run in"):
            gallery.run_dir_under(root, escape)


def test_files_are_read_only_from_the_allowed_folders(tmp_path):
    allowed = tmp_path / "assets"
    allowed.mkdir()
    (allowed / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("x")
    assert gallery.file_under(allowed / "a.jpg", [allowed]) == (allowed / "a.jpg").resolve()
    for path in (tmp_path / "secret.txt", allowed / ".." / "secret.txt", "/etc/passwd"):
        with pytest.raises(UserError, match="reads only files under"):
            gallery.file_under(path, [allowed])
