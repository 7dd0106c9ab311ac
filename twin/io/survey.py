"""Read every recording file under a folder and report what happened to each.

Used by the test that walks the reference data and by ``twin bench io``: every
file must be read, or rejected with a :class:`~twin.errors.TwinError` that
says why; anything else is a crash (a bug in twin).

Examples
--------
>>> from twin.io.survey import survey
>>> rows = survey("/path/to/data")                 # doctest: +SKIP
>>> sum(r["status"] == "crashed" for r in rows)    # doctest: +SKIP
0
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

from ..errors import TwinError

__all__ = ["recording_files", "survey"]

SUFFIXES = (".trc", ".mot", ".sto", ".c3d", ".forces")


def recording_files(root: str | os.PathLike) -> list[Path]:
    """Recording files under ``root``: TRC, MOT/STO, C3D, ``.forces``, gaitkit JSON trials and OpenCap session folders."""
    root = Path(root)
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES]
    files += [p for p in root.rglob("example_*.json") if "gaitkit" in str(p)]
    files += [p.parent for p in root.rglob("sessionMetadata.yaml")]
    return sorted(set(files))


def survey(root: str | os.PathLike) -> list[dict]:
    """Try :func:`twin.read` on every recording file under ``root``.

    Returns
    -------
    list of dict
        ``path`` (relative), ``status`` (``"read"``, ``"rejected"`` or
        ``"crashed"``), ``kind``, ``message`` and ``seconds``.
    """
    from . import read

    rows = []
    root = Path(root)
    for p in recording_files(root):
        t0 = time.perf_counter()
        row = {"path": str(p.relative_to(root)), "kind": "", "message": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read(p)
            row.update(status="read", kind=ds.attrs.get("kind", ""))
        except TwinError as err:
            row.update(status="rejected", message=str(err))
        except Exception as err:  # noqa: BLE001 - a crash is what we are looking for
            row.update(status="crashed", message=f"{type(err).__name__}: {err}")
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows
