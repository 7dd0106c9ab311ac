"""Cortex ``.forces`` files (Motion Analysis; e.g. the BMClab walking trials).

Layout::

    [Force Data]
    NumberOfForcePlates=7
    SampleRate=450.000000
    NumberOfSamples=1092
    #Sample  FX1 FY1 FZ1 X1 Y1 Z1 MZ1  FX2 ...
    1        0.00 ...

Per plate: force ``FX, FY, FZ`` [N] in the lab frame, centre of pressure
``X, Y, Z`` [mm] in the lab frame, and the free moment ``MZ`` [N·mm] about the
vertical axis. The lab frame of these files is Y up (as the matching ``.trc``);
pass ``up=`` otherwise. Plates that never carry load are dropped (listed in
``history``). Time is ``(Sample - 1) / SampleRate``, so it lines up with the
matching ``.trc`` (whose first frame is at t = 0).

Examples
--------
>>> ds = read_forces("walk1.forces")                      # doctest: +SKIP
>>> ds.grf.sel(axis="y").max("time")                      # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from ..errors import ReadError, check_param
from ..schema import recording, validate
from ._common import check_file, check_time, parse_numeric_rows, read_text, to_opensim_axes

__all__ = ["read_forces"]


def read_forces(
    path: str | os.PathLike,
    *,
    up: str = "y",
    keep_unloaded: bool = False,
    threshold: float = 20.0,
) -> xr.Dataset:
    """Read a Cortex ``.forces`` file into a Recording with ``grf``/``cop``/``free_moment`` per plate.

    Parameters
    ----------
    path : str or path-like
        The ``.forces`` file.
    up : {"x", "y", "z"}, default "y"
        Vertical axis of the file's lab frame.
    keep_unloaded : bool, default False
        Keep plates whose vertical force never exceeds ``threshold``.
    threshold : float, default 20.0
        Vertical force [N] below which the centre of pressure is undefined
        (set to NaN, said in the ``cop`` attrs) and a plate counts as unloaded.

    Returns
    -------
    xarray.Dataset
        Recording on ``time`` at the force rate; ``plate`` names "1", "2", ...
    """
    check_param("up", up, choices=("x", "y", "z"))
    check_param("threshold", threshold, minimum=0.0)
    p = check_file(path, what=".forces file")
    lines = read_text(p).splitlines()
    if not lines or lines[0].strip() != "[Force Data]":
        raise ReadError(p, "does not start with '[Force Data]'; not a Cortex .forces file")
    header: dict[str, str] = {}
    k = 1
    while k < len(lines) and "=" in lines[k]:
        key, _, val = lines[k].partition("=")
        header[key.strip()] = val.strip()
        k += 1
    try:
        n_plates = int(header["NumberOfForcePlates"])
        rate = float(header["SampleRate"])
        n_samples = int(header["NumberOfSamples"])
    except KeyError as err:
        raise ReadError(p, f"header lacks {err.args[0]}") from None
    except (ValueError, OverflowError):
        raise ReadError(p, f"header values are not numbers: {header}") from None
    if not (rate > 0 and n_plates > 0):
        raise ReadError(p, f"SampleRate={rate} and NumberOfForcePlates={n_plates} must be positive")
    if k >= len(lines) or not lines[k].startswith("#Sample"):
        raise ReadError(p, f"line {k + 1} should be the '#Sample FX1 FY1 ...' label line")
    labels = lines[k].split()
    n_cols = 1 + 7 * n_plates
    if len(labels) != n_cols:
        raise ReadError(p, f"{len(labels)} column labels for {n_plates} plates (expected {n_cols}); mislabeled file")
    data = parse_numeric_rows(lines[k + 1 :], p, first_line_no=k + 2, n_cols=n_cols)
    if data.shape[0] < n_samples:
        raise ReadError(p, f"NumberOfSamples={n_samples} but {data.shape[0]} rows follow (truncated)")
    if np.isnan(data).any():
        row = int(np.argwhere(np.isnan(data))[0, 0])
        raise ReadError(p, f"data row {row + 1} has an empty cell; force data must be complete")
    time = check_time((data[:, 0] - 1.0) / rate, p, column="#Sample")
    block = data[:, 1:].reshape(len(time), n_plates, 7)
    force = to_opensim_axes(block[..., 0:3], up)
    cop = to_opensim_axes(block[..., 3:6], up) * 1e-3
    vertical = np.zeros_like(force)
    vertical[..., 1] = block[..., 6] * 1e-3
    history = [f"read .forces {p.name}: {n_plates} plates, {len(time)} samples at {rate:g} Hz",
               "converted COP mm -> m and free moment N mm -> N m"]
    if up != "y":
        history.append(f"rotated lab frame ({up.upper()} up) into OpenSim axes")
    loaded = np.nanmax(force[..., 1], axis=0) > threshold
    names = [str(i + 1) for i in range(n_plates)]
    if not keep_unloaded:
        if not loaded.any():
            raise ReadError(p, f"no plate carries more than {threshold} N vertical force; nothing to read")
        dropped = [n for n, ok in zip(names, loaded) if not ok]
        if dropped:
            history.append(f"dropped unloaded plate(s): {', '.join(dropped)}")
        force, cop, vertical = force[:, loaded], cop[:, loaded], vertical[:, loaded]
        names = [n for n, ok in zip(names, loaded) if ok]
    cop = np.where((force[..., 1] > threshold)[..., None], cop, np.nan)
    ds = recording(time, grf=force, cop=cop, free_moment=vertical, plates=names, rate=rate,
                   source=str(p), history="\n".join(history))
    ds["cop"].attrs["note"] = f"NaN where vertical force <= {threshold} N (centre of pressure undefined)"
    validate(ds)
    return ds
