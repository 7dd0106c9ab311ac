"""The notebooks as files: stored outputs stripped, every notebook collected by the test run.

The notebooks themselves run under ``pytest --nbval-lax`` (``pyproject.toml``'s addopts, in the
fast mode ``TWIN_FAST=1``): every cell must execute without error. ``-lax`` because the
outputs are not stored (this test keeps it so), so there is nothing to compare them with.
"""

import json
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"00_quickstart.ipynb", "03_what_if.ipynb", "04_synthetic_gaits.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_notebook_outputs_are_stripped(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    stored = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not stored, (f"{path.name}: code cells {stored} carry stored outputs or execution counts; "
                        "clear them (Jupyter: Edit > Clear Outputs of All Cells) before committing")


def test_the_test_run_collects_the_notebooks_under_nbval():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "notebooks" in cfg["testpaths"] and "--nbval-lax" in cfg["addopts"]
