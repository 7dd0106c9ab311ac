"""Readers and writers: every format becomes the same kind of xarray Dataset.

One entry point, :func:`read`, dispatches on the file's format; the
per-format functions are also public. All readers return Datasets in SI units
and OpenSim axes (X forward, Y up, Z right) and record what they converted in
``attrs["history"]``; bad files raise a :class:`~twin.errors.TwinError` naming
the file and the problem.

=====================  ===================================  ==================
format                 function                             returns kind
=====================  ===================================  ==================
``.trc``               :func:`read_trc`                     recording
``.mot`` / ``.sto``    :func:`read_storage` (``read_mot``)  kinematics, dynamics, recording (GRF, EMG, IMU), table
``.c3d``               :func:`read_c3d`                     recording
``.forces`` (BMClab)   :func:`read_forces`                  recording
OpenCap session        :func:`read_opencap`                 recording (+ q)
keypoints CSV/JSON     :func:`read_keypoints`               recording
IMU CSV                :func:`read_imu_csv`                 recording
gaitkit JSON trial     :func:`read_gaitkit`                 recording
``.nc`` / ``.zarr``    :func:`load`                         any
=====================  ===================================  ==================

Examples
--------
>>> import twin
>>> ds = twin.read("subject01_walk.trc")            # doctest: +SKIP
>>> ds.markers.sel(marker="R.Heel", axis="y")       # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import xarray as xr

from ..errors import FormatError, ParameterError, ReadError
from ._common import check_file
from .combine import combine

__all__ = [
    "read",
    "read_trc",
    "write_trc",
    "read_storage",
    "read_mot",
    "read_sto",
    "write_storage",
    "write_mot",
    "write_sto",
    "read_c3d",
    "read_forces",
    "read_opencap",
    "read_keypoints",
    "read_imu_csv",
    "read_gaitkit",
    "save",
    "load",
    "combine",
]


def read(path: str | os.PathLike, **options: Any) -> xr.Dataset:
    """Read a gait recording (or any twin Dataset) whatever its format.

    Parameters
    ----------
    path : str or path-like, or a list of them
        A file (``.trc``, ``.mot``, ``.sto``, ``.c3d``, ``.forces``, ``.csv``,
        ``.json``, ``.nc``) or a folder (OpenCap session, ``.zarr`` store).
        A list reads each file and merges them with
        :func:`twin.io.combine.combine` (e.g. ``[walk.trc, walk_grf.mot]``).
    **options
        Passed to the format's reader (e.g. ``gaps="keep"`` for markers).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FormatError
        The format is not one twin reads.
    ReadError
        The file is missing, empty, truncated or malformed.
    """
    if isinstance(path, (list, tuple)):
        from .combine import combine

        return combine(*(read(one, **options) for one in path))
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        if suffix == ".zarr" or (p / ".zgroup").exists() or (p / "zarr.json").exists():
            return load(p)
        if any(p.glob("*_keypoints.json")) or (any(p.glob("*.json")) and not any(p.rglob("sessionMetadata.y*ml"))):
            return read_keypoints(p, **options)
        return read_opencap(p, **options)
    if suffix == ".zarr":
        return load(p)
    check_file(p)
    if suffix == ".trc":
        return read_trc(p, **options)
    if suffix in (".mot", ".sto"):
        return read_storage(p, **options)
    if suffix == ".c3d":
        return read_c3d(p, **options)
    if suffix == ".forces":
        return read_forces(p, **options)
    if suffix in (".nc", ".nc4", ".netcdf"):
        return load(p)
    if suffix in (".csv", ".txt"):
        if _looks_like_imu(p):
            return read_imu_csv(p, **options)
        if suffix == ".txt":
            raise FormatError(p, "a .txt file twin reads must be an IMU export with Acc_/Gyr_ columns")
        return read_keypoints(p, **options)
    if suffix == ".json":
        return _read_json(p, **options)
    if suffix in (".yaml", ".yml") and p.name.startswith("sessionMetadata"):
        return read_opencap(p.parent, **options)
    raise FormatError(
        p,
        f"unknown format {suffix or '(no extension)'!r}; twin reads .trc, .mot, .sto, .c3d, .forces, "
        ".csv (keypoints/IMU), .json (keypoints/gaitkit), .nc, .zarr and OpenCap session folders",
    )


_IMU_COLUMN = re.compile(r"(acc|gyr)[a-z]*[\s_.:\-]*[xyz]\b", re.I)


def _looks_like_imu(p: Path) -> bool:
    """True when a header line (one of the first lines) names accelerometer/gyroscope axis channels."""
    head = p.read_bytes()[:8192].decode("utf-8", "replace").splitlines()[:20]
    return any(len(_IMU_COLUMN.findall(line)) >= 2 for line in head)


def _read_json(p: Path, **options: Any) -> xr.Dataset:
    try:
        with open(p, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReadError(p, f"is not valid JSON ({err}); the file is truncated or not a JSON file") from None
    if isinstance(doc, dict) and "angle_frames" in doc:
        return read_gaitkit(p, **options)
    return read_keypoints(p, **options)


# The per-format readers live in their own modules; import them lazily so that
# ``import twin`` stays fast and a missing optional dependency only bites the
# format that needs it.
def read_trc(path, **options):  # noqa: D103 - documented in twin.io.trc
    from .trc import read_trc as f

    return f(path, **options)


def write_trc(ds, path, **options):  # noqa: D103
    from .trc import write_trc as f

    return f(ds, path, **options)


def read_storage(path, **options):  # noqa: D103
    from .storage import read_storage as f

    return f(path, **options)


read_mot = read_sto = read_storage


def write_storage(ds, path, **options):  # noqa: D103
    from .storage import write_storage as f

    return f(ds, path, **options)


write_mot = write_sto = write_storage


def read_c3d(path, **options):  # noqa: D103
    from .c3d import read_c3d as f

    return f(path, **options)


def read_forces(path, **options):  # noqa: D103
    from .forces import read_forces as f

    return f(path, **options)


def read_opencap(path, **options):  # noqa: D103
    from .opencap import read_opencap as f

    return f(path, **options)


def read_keypoints(path, **options):  # noqa: D103
    from .keypoints import read_keypoints as f

    return f(path, **options)


def read_imu_csv(path, **options):  # noqa: D103
    from .imu import read_imu_csv as f

    return f(path, **options)


def read_gaitkit(path, **options):  # noqa: D103
    from .gaitkit import read_gaitkit as f

    return f(path, **options)


def save(ds, path, **options):  # noqa: D103
    from .store import save as f

    return f(ds, path, **options)


def load(path, **options):  # noqa: D103
    from .store import load as f

    return f(path, **options)


for _name in ("read_trc", "write_trc", "read_storage", "write_storage", "read_c3d", "read_forces",
              "read_opencap", "read_keypoints", "read_imu_csv", "read_gaitkit", "save", "load"):
    globals()[_name].__doc__ = f"See the module that implements it (``twin.io``): {_name}."
del _name
