"""examples/quickstart.ipynb runs top to bottom in a fresh kernel (nbclient), at a size that
takes under a minute; a failing cell fails the test, naming the cell."""

import base64
import io
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_the_quickstart_notebook_runs_and_shows_its_pictures(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_QUICKSTART_SIZE", "128")
    monkeypatch.setenv("NST_QUICKSTART_STEPS", "20")
    monkeypatch.setenv("NST_QUICKSTART_RUNS", str(tmp_path / "runs"))
    # The kernel is this interpreter (the project's venv), started in the repository root.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()

    pictures = [
        Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"])))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    # photo | painting | result; three style weights; result | colours kept
    assert len(pictures) == 3
    assert pictures[0].height == 200 and pictures[0].width > 3 * 200
    texts = "".join(
        output.get("text", "")
        + output.get("data", {}).get("text/plain", "")
        + output.get("data", {}).get("text/markdown", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert "| style_weight | palette | strokes | contrast | coherence | content | style |" in texts
    assert "'palette':" in texts  # result.scores shown as a dict
    run_dirs = list((tmp_path / "runs" / "stylize").iterdir())
    run_dirs = [path for path in run_dirs if path.name != "inputs"]
    assert len(run_dirs) == 1 and (run_dirs[0] / "final.png").is_file()
    assert f"make tensorboard LOGDIR={run_dirs[0].parent}" in texts
