"""Shared fixtures: the reference data folder (TWIN_DATA_DIR) and a file helper that skips with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def data_root() -> Path | None:
    root = os.environ.get("TWIN_DATA_DIR")
    return Path(root) if root and Path(root).is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("TWIN_DATA_DIR is not set or not a folder: reference data absent (CI sets it to ../shared/data)")
    return root


@pytest.fixture(scope="session")
def data_file(data_dir):
    """Return a function mapping a path relative to TWIN_DATA_DIR to a Path, skipping when absent."""

    def get(rel: str) -> Path:
        p = data_dir / rel
        if not p.exists():
            pytest.skip(f"{rel} not found under TWIN_DATA_DIR={data_dir}")
        return p

    return get


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (small eager batches: thread hand-off dominates tiny ops on a
    busy machine); use as ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


GAIT10 = "opensim-models/Pipelines/Gait10dof18musc"
