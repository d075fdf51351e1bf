"""The house's layers: the shared base (settings, errors, images, layer tables), the algorithm
(nst/algorithm: computation only), the run machinery (nst/runs) and the front doors (nst.api,
nst.cli, the page nst/web). A module imports only its own layer and the layers below it, and no
import runs in a circle. Imports inside functions count too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nst"

BASE, ALGORITHM, RUNS, FRONT = 0, 1, 2, 3
LAYER_NAMES = {
    BASE: "the base",
    ALGORITHM: "the algorithm",
    RUNS: "the runs",
    FRONT: "a front door",
}


def layer_of(module: str) -> int:
    if module.startswith("nst.algorithm"):
        return ALGORITHM
    if module.startswith("nst.runs"):
        return RUNS
    if module in ("nst", "nst.__main__", "nst.api", "nst.cli") or module.startswith("nst.web"):
        return FRONT
    return BASE


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            imported |= {c for c in candidates if c in modules and c not in (name, "nst")}
        graph[name] = imported
    return graph


GRAPH = import_graph()


def test_the_layout_has_the_layers_a_newcomer_looks_for():
    assert {"nst.algorithm.stylize", "nst.algorithm.losses", "nst.algorithm.features"} <= set(GRAPH)
    assert {"nst.runs.run", "nst.runs.logger", "nst.runs.checkpoints"} <= set(GRAPH)
    assert {"nst.api", "nst.cli", "nst.config.schema", "nst.config.loading"} <= set(GRAPH)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_its_layer_and_those_below(module):
    upward = [
        f"{target} ({LAYER_NAMES[layer_of(target)]})"
        for target in sorted(GRAPH[module])
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, f"{module} ({LAYER_NAMES[layer_of(module)]}) imports {', '.join(upward)}"


def test_no_import_runs_in_a_circle():
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not circles, f"import circles: {circles}"


def test_the_algorithm_writes_no_files_and_logs_nothing():
    """Run directories, TensorBoard, progress bars and signals belong to the machinery."""
    forbidden = {"tqdm", "tensorboard", "logging", "signal", "shutil", "tempfile", "yaml"}
    for path in (PACKAGE / "algorithm").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
