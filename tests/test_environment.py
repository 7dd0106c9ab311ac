"""environment.yml, binder/ and pyproject.toml describe the same environment; the README starts with the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def _pip_section(path: Path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str)), path
    return [p for p in pip if not p.startswith("-e")]


def _norm(reqs):
    return sorted(re.sub(r"\s+", "", r).lower() for r in reqs)


def test_environment_yml_matches_pyproject():
    assert _norm(_pip_section(ROOT / "environment.yml")) == _norm(_pyproject_deps())


def test_binder_matches_pyproject():
    assert _norm(_pip_section(ROOT / "binder" / "environment.yml")) == _norm(_pyproject_deps())
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_torch_is_pinned_everywhere():
    assert "torch==2.13.0" in _pyproject_deps()
    assert 'torch==2.13.0' in (ROOT / "Makefile").read_text()


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no command block"
    first = [line.strip() for line in blocks[0].splitlines() if line.strip() and not line.startswith("#")]
    assert first[:2] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)


def test_ci_script_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "TWIN_DATA_DIR" in ci and "rm -rf .venv" in ci
