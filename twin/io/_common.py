"""Helpers shared by the readers: file checks, numeric parsing, gaps, unit conversion.

Readers call these so that every bad input ends in the same kind of
:class:`~twin.errors.ReadError` that names the file and the problem.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError, ReadError, TwinWarning, check_param

#: length units a file may declare -> factor to metres
LENGTH_TO_M = {"mm": 1e-3, "cm": 1e-2, "dm": 1e-1, "m": 1.0, "millimeters": 1e-3, "meters": 1.0, "in": 0.0254}

#: rotation taking lab frame with the given vertical axis into OpenSim's (X fwd, Y up, Z right)
#: rows are OpenSim axes expressed in the file's axes.
_UP_ROTATIONS = {
    "y": np.eye(3),
    # Z-up lab (X fwd, Y left, Z up): X_os = X, Y_os = Z, Z_os = -Y
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    # X-up lab (rare): Y_os = X, X_os = Y, Z_os = -Z keeps it right-handed
    "x": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]),
}


def check_file(path: str | os.PathLike, *, what: str = "file") -> Path:
    """Return ``Path(path)`` if it is a readable, non-empty file, else raise ReadError."""
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise ReadError(p, f"no such {what}; check the path (relative paths start at {Path.cwd()})")
    if p.is_dir():
        raise ReadError(p, f"is a folder, not a {what}")
    if p.stat().st_size == 0:
        raise ReadError(p, "the file is empty (0 bytes); re-export it from the acquisition software")
    return p


def read_text(path: Path) -> str:
    """Decode a text file (UTF-8, falling back to Latin-1); binary data raises ReadError."""
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ReadError(path, "contains binary data; it is not a text file of the expected format")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_numeric_rows(
    lines: list[str],
    path: Path,
    *,
    first_line_no: int,
    n_cols: int | None = None,
    sep: str | None = None,
    allow_short: bool = False,
) -> np.ndarray:
    """Parse rows of numbers into a 2-D float array.

    Empty cells become NaN. Rows with a wrong column count raise ReadError
    naming the line (``allow_short`` pads short rows with NaN: TRC files omit
    trailing missing markers).
    """
    rows = []
    width = n_cols
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        cells = line.rstrip("\r\n").split(sep) if sep else line.split()
        if sep is not None:
            cells = [c.strip() for c in cells]
            while cells and cells[-1] == "" and (width is None or len(cells) > width):
                cells.pop()
        try:
            values = [float(c) if c not in ("", "nan", "NaN") else np.nan for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            raise ReadError(
                path, f"line {first_line_no + k}: {bad!r} is not a number; the data section must hold numbers only"
            ) from None
        if width is None:
            width = len(values)
        if len(values) != width:
            if allow_short and len(values) < width:
                values = values + [np.nan] * (width - len(values))
            else:
                raise ReadError(
                    path,
                    f"line {first_line_no + k}: {len(values)} values where the header announces {width}; "
                    "the file is truncated or its header does not match its data",
                )
        rows.append(values)
    if not rows:
        raise ReadError(path, "has a header but no data rows; the file is truncated or empty")
    return np.asarray(rows, dtype=float)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_time(time: np.ndarray, path: Path, *, column: str = "time") -> np.ndarray:
    """Time must be finite and strictly increasing."""
    time = np.asarray(time, dtype=float)
    if not np.all(np.isfinite(time)):
        bad = int(np.argmax(~np.isfinite(time)))
        raise ReadError(path, f"{column} column has a missing/NaN value at row {bad + 1}; time must be complete")
    if time.size > 1:
        steps = np.diff(time)
        if np.any(steps <= 0):
            bad = int(np.argmax(steps <= 0))
            raise ReadError(
                path,
                f"{column} is not strictly increasing at row {bad + 2} ({time[bad]} then {time[bad + 1]}); "
                "rows are duplicated or out of order",
            )
    return time


def length_factor(unit: str, path: Path, *, field: str = "Units") -> float:
    """Factor converting the declared length unit to metres."""
    key = unit.strip().lower()
    if key not in LENGTH_TO_M:
        raise ReadError(
            path, f"{field}={unit!r} is not a length unit twin knows ({', '.join(sorted(LENGTH_TO_M))}); fix the header"
        )
    return LENGTH_TO_M[key]


def to_opensim_axes(xyz: np.ndarray, up: str) -> np.ndarray:
    """Rotate vectors (..., 3) from a lab frame whose vertical axis is ``up`` into OpenSim axes.

    The rotations are axis permutations with sign flips, done by indexing (no matrix product).
    """
    xyz = np.asarray(xyz, dtype=float)
    if up == "y":
        return xyz.copy()
    rot = _UP_ROTATIONS[up]
    out = np.empty_like(xyz)
    for i in range(3):
        j = int(np.flatnonzero(rot[i])[0])
        np.multiply(xyz[..., j], rot[i, j], out=out[..., i])
    return out


def guess_up_axis(markers: np.ndarray) -> str:
    """Guess the vertical axis of marker data (n_time, n_marker, 3) in a lab frame.

    A person's markers spread further vertically (feet to head, ~1.5 m) than
    sideways or fore-aft *at one instant*; the axis with the largest median
    per-frame spread (among markers) is taken as vertical.
    """
    step = max(1, markers.shape[0] // 100)  # 100 frames are plenty for a median
    sample = markers[::step]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmedian(np.nanmax(sample, axis=1) - np.nanmin(sample, axis=1), axis=0)
    if not np.any(np.isfinite(spread)):
        return "y"
    return "xyz"[int(np.nanargmax(spread))]


def resolve_up(up: str, markers: np.ndarray | None, default: str) -> str:
    """Validate the ``up`` option (``"x"``, ``"y"``, ``"z"`` or ``"auto"``) and resolve ``"auto"``."""
    check_param("up", up, choices=("x", "y", "z", "auto"))
    if up != "auto":
        return up
    if markers is None or markers.shape[1] < 3:
        return default
    return guess_up_axis(markers)


def handle_gaps(
    markers: np.ndarray,
    names: list[str],
    time: np.ndarray,
    path: Path,
    *,
    gaps: str = "fill",
    max_gap: float = 0.1,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Apply the gap policy to marker data (n_time, n_marker, 3).

    Parameters
    ----------
    gaps : {"fill", "keep", "raise"}
        ``"fill"``: markers with no data at all are dropped; interior gaps no
        longer than ``max_gap`` seconds are filled by cubic Hermite
        interpolation between the samples bounding the gap (positions and
        finite-difference velocities there); longer or edge gaps stay NaN and a
        :class:`~twin.errors.TwinWarning` names them. ``"keep"``: leave every
        gap as NaN (still reported in history). ``"raise"``: any gap raises
        :class:`~twin.errors.DataError` naming the marker and time.
    max_gap : float
        Longest gap [s] that ``"fill"`` interpolates.

    Returns
    -------
    markers, names, history_lines
    """
    check_param("gaps", gaps, choices=("fill", "keep", "raise"))
    check_param("max_gap", max_gap, minimum=0.0)
    history: list[str] = []
    if markers.size == 0:
        return markers, names, history
    missing = ~np.all(np.isfinite(markers), axis=2)  # (time, marker)
    if not missing.any():
        return markers, names, history
    if gaps == "raise":
        i_t, i_m = np.argwhere(missing)[0]
        n_gappy = int(np.any(missing, axis=0).sum())
        raise DataError(
            f"{path}: marker {names[i_m]!r} has no data at t={time[i_t]:.3f} s ({n_gappy} markers have gaps); "
            "pass gaps='fill' to interpolate short gaps or gaps='keep' to keep NaN"
        )
    empty = np.all(missing, axis=0)
    if empty.any() and gaps == "fill":
        dropped = [n for n, e in zip(names, empty) if e]
        history.append(f"dropped {len(dropped)} marker(s) with no data: {', '.join(dropped)}")
        keep = ~empty
        markers, missing = markers[:, keep], missing[:, keep]
        names = [n for n, k in zip(names, keep) if k]
    if gaps == "keep":
        n_gappy = int(np.any(missing, axis=0).sum())
        history.append(f"kept NaN gaps in {n_gappy} marker(s) ({int(missing.sum())} marker-frames)")
        return markers, names, history
    markers = markers.copy()
    filled, left = [], []
    dt = float(np.median(np.diff(time))) if time.size > 1 else 0.0
    n = len(time)
    for m in np.flatnonzero(np.any(missing, axis=0)):
        miss = missing[:, m]
        if (~miss).sum() < 2:
            left.append(f"{names[m]} (almost no data)")
            continue
        for start, stop in _runs(miss):
            duration = (stop - start + 1) * dt
            if start > 0 and stop < n - 1 and duration <= max_gap + 1e-9:
                markers[start : stop + 1, m, :] = _hermite_fill(time, markers[:, m, :], miss, start, stop)
                filled.append((names[m], stop - start + 1))
            else:
                left.append(f"{names[m]} t={time[start]:.3f}-{time[stop]:.3f} s")
    if filled:
        n_frames = sum(n for _, n in filled)
        markers_filled = sorted({n for n, _ in filled})
        history.append(
            f"filled {len(filled)} gap(s) <= {max_gap} s ({n_frames} frames) by cubic Hermite interpolation in: "
            + ", ".join(markers_filled)
        )
    if left:
        history.append("left NaN (gap too long or at an edge): " + "; ".join(left))
        warnings.warn(
            f"{path}: {len(left)} marker gap(s) longer than max_gap={max_gap} s or at the trial's edge stay NaN: "
            + "; ".join(left[:5])
            + (" ..." if len(left) > 5 else ""),
            TwinWarning,
            stacklevel=3,
        )
    return markers, names, history


def _hermite_fill(time: np.ndarray, x: np.ndarray, miss: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Cubic Hermite values for samples start..stop of x (n, 3), from the samples bounding the gap.

    End velocities are one-sided finite differences where the sample beyond the
    bound is valid, else the chord slope across the gap.
    """
    i0, i1 = start - 1, stop + 1
    t0, t1 = time[i0], time[i1]
    chord = (x[i1] - x[i0]) / (t1 - t0)
    m0 = (x[i0] - x[i0 - 1]) / (t0 - time[i0 - 1]) if i0 >= 1 and not miss[i0 - 1] else chord
    m1 = (x[i1 + 1] - x[i1]) / (time[i1 + 1] - t1) if i1 + 1 < len(time) and not miss[i1 + 1] else chord
    h = t1 - t0
    s = ((time[start : stop + 1] - t0) / h)[:, None]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * x[i0] + h10 * h * m0 + h01 * x[i1] + h11 * h * m1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, stop) index pairs of True runs in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    d = np.diff(padded)
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), stops.tolist()))
