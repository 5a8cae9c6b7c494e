"""Committed notebooks follow the conventions: no outputs, one parameters cell, python3."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COMMON = {"config", "dataset", "run_dir", "mlflow_run_id", "seed", "smoke"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell.get("outputs") and not cell.get("execution_count") for cell in code)
    tagged = [cell for cell in code if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_declares_the_common_parameters(path):
    declared = papermill.inspect_notebook(str(path))
    assert COMMON <= set(declared), f"missing: {COMMON - set(declared)}"
    for name, spec in declared.items():
        assert spec["inferred_type_name"] != "None", f"{name} has no type annotation"
        assert spec["help"], f"{name} has no trailing comment"


MAX_CELL_LINES = 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_a_short_story_of_library_calls(path):
    """Code cells (the parameters cell aside) hold at most eight lines, define nothing, and loop
    over nothing: models, simulations and names are the library's job."""
    notebook = json.loads(path.read_text())
    for index, cell in enumerate(notebook["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "parameters" in tags:
            continue
        lines = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
        code = [line for line in lines if not line.lstrip().startswith("#")]
        assert len(code) <= MAX_CELL_LINES, f"cell {index} has {len(code)} lines"
        for line in code:
            assert not line.startswith(("def ", "class ", "for ", "while ")), (index, line)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_metadata_is_what_jupyterlab_writes_on_open(path):
    """When the python3 kernel starts, JupyterLab copies its kernelspec and language_info into
    the notebook and marks it modified unless they are already there (tests/test_lab.py opens
    them for real). The Python patch version is the machines' (3.11.7); this checks the minor."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata["kernelspec"] == {
        "name": "python3",
        "display_name": spec.display_name,
        "language": spec.language,
    }
    committed, kernel = dict(metadata["language_info"]), dict(IPythonKernel.language_info)
    minor = committed.pop("version").rsplit(".", 1)[0]
    assert minor == kernel.pop("version").rsplit(".", 1)[0], metadata["language_info"]
    assert committed == kernel
