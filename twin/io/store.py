"""Save and load any twin Dataset as netCDF (``.nc``) or zarr (``.zarr``), atomically.

A write goes to a temporary sibling first and is renamed into place only when
complete, so an interrupted save never leaves a half-written file: either the
old file or the new one is there.

Examples
--------
>>> import numpy as np, tempfile, os
>>> import twin
>>> from twin import schema
>>> ds = schema.recording(np.arange(3) / 100, markers=np.zeros((3, 1, 3)), marker_names=["RHEE"])
>>> path = os.path.join(tempfile.mkdtemp(), "trial.nc")
>>> twin.save(ds, path)
>>> twin.load(path).identical(ds)
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import xarray as xr

from ..errors import FormatError, ParameterError, ReadError

__all__ = ["save", "load", "atomic_path"]

_NETCDF = (".nc", ".nc4", ".netcdf")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Works for files and folders (zarr stores). On error the temporary is
    removed and ``path`` is untouched.
    """
    final = Path(path)
    if not final.parent.exists():
        raise ParameterError(f"cannot write {final}: folder {final.parent} does not exist")
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield str(tmp)
        if final.is_dir() and not final.is_symlink():
            old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _NETCDF:
        return "netcdf"
    if suffix == ".zarr":
        return "zarr"
    raise FormatError(path, f"unknown Dataset file type {suffix!r}; use .nc (netCDF) or .zarr")


def save(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """Save a Dataset to ``.nc`` (netCDF4 via h5netcdf) or ``.zarr``, atomically.

    Parameters
    ----------
    ds : xarray.Dataset
        Any twin Dataset.
    path : str or path-like
        Destination; the suffix picks the format.
    """
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"save() needs an xarray.Dataset, got {type(ds).__name__}")
    p = Path(path)
    fmt = _format(p)
    with atomic_path(p) as tmp:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)
        else:
            ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)


def load(path: str | os.PathLike) -> xr.Dataset:
    """Load a Dataset saved by :func:`save` (fully into memory; the file is closed).

    Raises
    ------
    ReadError
        Missing or corrupt file.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such file or store")
    fmt = _format(p)
    try:
        if fmt == "netcdf":
            with xr.open_dataset(p, engine="h5netcdf") as ds:
                return ds.load()
        with xr.open_zarr(p, consolidated=None) as ds:
            return ds.load()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ReadError(p, f"cannot be read as a {fmt} Dataset ({type(err).__name__}: {err}); it may be corrupt") from None


def temporary_dir() -> str:
    """A fresh temporary folder (for tests and benchmarks)."""
    return tempfile.mkdtemp(prefix="twin-")
