"""TRC marker files (OpenSim / Motion Analysis "PathFileType 4").

Layout of the header::

    PathFileType  4  (X/Y/Z)  name.trc
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    60.00     60.00       151        41          mm     60.00         1                   151
    Frame#  Time  R.ASIS<tab><tab><tab>L.ASIS ...
            X1 Y1 Z1 X2 Y2 Z2 ...
    <blank line, optional>
    1  0.000  617.2  1055.3  170.8 ...

Examples
--------
>>> import numpy as np, tempfile, os
>>> from twin import schema
>>> from twin.io.trc import read_trc, write_trc
>>> ds = schema.recording(np.arange(4) / 100, markers=np.ones((4, 2, 3)),
...                       marker_names=["RHEE", "LHEE"])
>>> path = os.path.join(tempfile.mkdtemp(), "walk.trc")
>>> write_trc(ds, path)
>>> float(read_trc(path).markers.sel(marker="LHEE", axis="y")[0])
1.0
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ReadError, SchemaError, TwinWarning, check_param
from ..schema import recording, validate
from ._common import check_file, check_time, handle_gaps, length_factor, parse_numeric_rows, read_text, resolve_up
from ._common import to_opensim_axes
from .store import atomic_path

__all__ = ["read_trc", "write_trc"]


def read_trc(
    path: str | os.PathLike,
    *,
    up: str = "auto",
    gaps: str = "fill",
    max_gap: float = 0.1,
) -> xr.Dataset:
    """Read a TRC marker file into a Recording Dataset.

    Parameters
    ----------
    path : str or path-like
        The ``.trc`` file.
    up : {"auto", "x", "y", "z"}, default "auto"
        The file's vertical axis. ``"auto"`` takes the axis along which the
        markers spread most at each instant (a standing/walking person is
        taller than wide); OpenSim's own files are Y-up. Data are rotated into
        OpenSim axes (X forward, Y up, Z right).
    gaps : {"fill", "keep", "raise"}, default "fill"
        What to do with missing marker samples (empty cells); see
        :func:`twin.io._common.handle_gaps`.
    max_gap : float, default 0.1
        Longest gap [s] that ``gaps="fill"`` interpolates.

    Returns
    -------
    xarray.Dataset
        ``markers(time, marker, axis)`` [m]; attrs ``rate``, ``source``,
        ``history``, ``units_in_file``.

    Raises
    ------
    ReadError
        Missing/empty/truncated file, bad header, non-numeric data, time not
        increasing; the message names the line.
    """
    p = check_file(path, what="TRC file")
    text = read_text(p)
    lines = text.splitlines()
    if len(lines) < 5:
        raise ReadError(p, f"has {len(lines)} line(s); a TRC file needs 5 header lines then data (truncated?)")
    if not lines[0].startswith("PathFileType"):
        raise ReadError(p, f"line 1 is {lines[0][:40]!r}; a TRC file starts with 'PathFileType' (wrong format?)")
    # Header keys and values hold no spaces; some writers pad with extra tabs.
    keys = lines[1].split()
    vals = lines[2].split()
    if len(vals) < len(keys):
        raise ReadError(p, f"line 3 has {len(vals)} values for the {len(keys)} keys of line 2 (truncated header)")
    header = dict(zip(keys, vals))
    for key in ("DataRate", "NumFrames", "NumMarkers", "Units"):
        if key not in header:
            raise ReadError(p, f"header line 2 lacks {key!r}; found {keys}")
    try:
        rate = float(header["DataRate"])
        n_frames = int(float(header["NumFrames"]))
        n_markers = int(float(header["NumMarkers"]))
    except (ValueError, OverflowError):
        raise ReadError(p, f"header values {vals[:4]} are not numbers (DataRate, NumFrames, NumMarkers)") from None
    if not (np.isfinite(rate) and rate > 0):
        raise ReadError(p, f"DataRate={header['DataRate']!r} must be a positive number")
    factor = length_factor(header["Units"], p)

    label_cells = lines[3].rstrip("\r\n").split("\t")
    if len(label_cells) < 2 or not label_cells[0].strip().lower().startswith("frame"):
        raise ReadError(p, f"line 4 is {lines[3][:40]!r}; expected 'Frame#<tab>Time<tab>marker names'")
    names = [c.strip() for c in label_cells[2:] if c.strip()]
    if n_markers != len(names):
        # Some writers put fewer names than NumMarkers (or more); trust the names.
        if len(names) == 0:
            raise ReadError(p, "line 4 names no markers")
    names = _unique(names)
    n_cols = 2 + 3 * len(names)

    start = 5
    while start < len(lines) and not lines[start].strip():
        start += 1
    data_lines = lines[start:]
    data = _parse_data(data_lines, p, start + 1, n_cols)
    if not text.endswith(("\n", "\r")) and len(data_lines[-1].split("\t")) < n_cols:
        raise ReadError(p, f"the last line ({len(lines)}) is incomplete: the file was cut off mid-row (truncated)")
    if n_frames and data.shape[0] < n_frames:
        raise ReadError(
            p, f"header announces NumFrames={n_frames} but only {data.shape[0]} data rows follow (file truncated)"
        )
    row_note = None
    if n_frames and data.shape[0] > n_frames:
        row_note = f"header announces NumFrames={n_frames} but {data.shape[0]} complete data rows follow; read those"
        warnings.warn(f"{p}: {row_note}", TwinWarning, stacklevel=2)
    time = check_time(data[:, 1], p, column="Time")
    markers = data[:, 2:].reshape(len(time), len(names), 3) * factor
    history = [f"read TRC {p.name}: {len(time)} frames, {len(names)} markers at {rate:g} Hz"]
    if row_note:
        history.append(row_note)
    if factor != 1.0:
        history.append(f"converted marker units {header['Units']} -> m (x{factor:g})")
    up_axis = resolve_up(up, markers, default="y")
    if up_axis != "y":
        markers = to_opensim_axes(markers, up_axis)
        history.append(f"rotated lab frame ({up_axis.upper()} up) into OpenSim axes (X forward, Y up, Z right)")
    markers, names, gap_lines = handle_gaps(markers, names, time, p, gaps=gaps, max_gap=max_gap)
    history += gap_lines
    ds = recording(
        time,
        markers=markers,
        marker_names=names,
        rate=rate,
        source=str(p),
        history="\n".join(history),
        units_in_file=header["Units"],
        up_in_file=up_axis,
    )
    validate(ds)
    return ds


def _parse_data(lines: list[str], path: Path, first_line_no: int, n_cols: int) -> np.ndarray:
    """Fast path with pandas' C parser; on any problem fall back to the line-by-line parser for a precise error."""
    if not lines:
        raise ReadError(path, "has a header but no data rows (truncated file)")
    try:
        import pandas as pd

        frame = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep="\t",
            header=None,
            dtype=float,
            engine="c",
            skip_blank_lines=True,
            na_filter=True,
        )
        data = frame.to_numpy(dtype=float)
        if data.shape[1] > n_cols:
            extra = data[:, n_cols:]
            if np.all(np.isnan(extra)):  # trailing tabs
                data = data[:, :n_cols]
        if data.shape[1] < n_cols:
            data = np.hstack([data, np.full((data.shape[0], n_cols - data.shape[1]), np.nan)])
        if data.shape[1] == n_cols:
            return data
    except Exception:  # noqa: BLE001 - re-parsed below for a precise message
        pass
    sep = "\t" if "\t" in lines[0] else None
    return parse_numeric_rows(lines, path, first_line_no=first_line_no, n_cols=n_cols, sep=sep, allow_short=True)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def write_trc(ds: xr.Dataset, path: str | os.PathLike, *, units: str = "mm", precision: int = 6) -> None:
    """Write the ``markers`` of a Dataset to a TRC file OpenSim reads back unchanged.

    Markers are written in OpenSim axes (Y up). The write is atomic: a
    temporary file is renamed into place only when complete.

    Parameters
    ----------
    ds : xarray.Dataset
        Needs ``markers(time, marker, axis)`` [m].
    path : str or path-like
        Destination ``.trc``.
    units : {"mm", "m"}, default "mm"
        Length unit in the file.
    precision : int, default 6
        Decimal places.
    """
    check_param("units", units, choices=("mm", "m"))
    if "markers" not in ds:
        raise SchemaError("write_trc: the Dataset has no 'markers' variable")
    markers = ds["markers"].transpose("time", "marker", "axis").values / length_factor(units, Path(path))
    time = ds["time"].values
    names = [str(n) for n in ds["marker"].values]
    rate = float(ds.attrs.get("rate") or (1.0 / np.median(np.diff(time)) if len(time) > 1 else 1.0))
    n, m = markers.shape[:2]
    head = [
        f"PathFileType\t4\t(X/Y/Z)\t{Path(path).name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:.6f}\t{rate:.6f}\t{n}\t{m}\t{units}\t{rate:.6f}\t1\t{n}",
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in names),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(m)),
        "",
    ]
    body = np.column_stack([np.arange(1, n + 1), time, markers.reshape(n, 3 * m)])
    fmt = ["%d", f"%.{precision}f"] + [f"%.{precision}f"] * (3 * m)
    buf = io.StringIO()
    np.savetxt(buf, body, fmt=fmt, delimiter="\t")
    text = "\n".join(head) + "\n" + buf.getvalue().replace("nan", "")
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
