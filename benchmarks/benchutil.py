"""Helpers shared by the benchmark scripts: timing and the final JSON line."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def data_dir() -> Path:
    """The reference data folder (TWIN_DATA_DIR, else ../shared/data beside the repository)."""
    env = os.environ.get("TWIN_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.is_dir():
        sys.exit(f"benchmark: reference data not found at {root}; set TWIN_DATA_DIR")
    return root


def best_of(fn, *, repeat: int = 7, number: int = 1) -> float:
    """Minimum wall time [s] of ``number`` calls, over ``repeat`` tries (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def emit(figures: dict) -> None:
    """Print the benchmark's figures as the last line, one JSON object."""
    print(json.dumps(figures, sort_keys=True, default=float))
