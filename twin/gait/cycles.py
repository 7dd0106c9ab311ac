"""Time-normalisation of gait data to the stride (0-100 % from foot strike to the next of the same side).

:func:`normalize_cycles` resamples any variable with a time dim onto
``cycle_pct`` (0, 1, ..., 100 % for ``n=101``) for each stride, stacked along
a ``cycle`` dim whose coords say when each stride starts and ends and, when
the events have it, where the same-side foot off falls (``foot_off_pct``).
:func:`cycle_mean` and :func:`cycle_std` reduce over strides.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from twin import schema
>>> from twin.gait import normalize_cycles, cycle_mean
>>> t = np.arange(0, 3.0, 0.01)
>>> x = xr.DataArray(np.sin(2 * np.pi * t), dims="time", coords={"time": t}, name="x", attrs={"units": "rad"})
>>> ev = schema.events([0.0, 1.0, 2.0, 0.6, 1.6], ["foot_strike"] * 3 + ["foot_off"] * 2, ["right"] * 5)
>>> cyc = normalize_cycles(x, ev, side="right")
>>> dict(cyc.sizes), cyc.foot_off_pct.values.round(6).tolist()
({'cycle': 2, 'cycle_pct': 101}, [60.0, 60.0])
>>> round(float(cycle_mean(cyc).sel(cycle_pct=25)), 3)
1.0
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, check_param
from ..schema import TIME_DIMS
from ._util import SIDES, as_events, times_of

__all__ = ["normalize_cycles", "cycle_mean", "cycle_std", "stride_bounds"]


def stride_bounds(events: xr.Dataset, side: str, *, label: str = "foot_strike") -> tuple[np.ndarray, np.ndarray]:
    """Start and end times [s] of the strides of ``side`` (consecutive ``label`` events)."""
    t = times_of(events, label, side)
    return t[:-1], t[1:]


def normalize_cycles(
    data: xr.DataArray | xr.Dataset,
    events: xr.Dataset,
    *,
    side: str,
    n: int = 101,
    label: str = "foot_strike",
    max_duration: float | None = None,
) -> xr.DataArray | xr.Dataset:
    """Resample data to 0-100 % of each stride of one side.

    Parameters
    ----------
    data : xarray.DataArray or xarray.Dataset
        Variables with a ``time`` (or ``analog_time``) dim. For a Dataset,
        every variable with a time dim is normalised (on its own time base);
        the others are dropped.
    events : xarray.Dataset
        Events (``event_time`` with ``event_label``/``event_side``).
    side : {"left", "right"}
        Whose strides.
    n : int, default 101
        Points per stride (101 gives whole percents).
    label : str, default "foot_strike"
        The event that starts a stride.
    max_duration : float, optional
        Strides longer than this [s] are skipped (e.g. a missed strike in the
        middle); by default every pair of consecutive strikes is a stride.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Same variables with the time dim replaced by ``(cycle, cycle_pct)``;
        coords ``cycle_start``, ``cycle_end`` [s] and ``foot_off_pct`` [%]
        (NaN when no foot off of that side falls inside the stride).

    Raises
    ------
    DataError
        Fewer than two strikes of that side, or strides outside the data's
        time range.
    ParameterError
        Bad ``side`` or ``n``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from twin import schema
    >>> t = np.linspace(0, 2, 201)
    >>> x = xr.DataArray(t, dims="time", coords={"time": t}, attrs={"units": "s"})
    >>> ev = schema.events([0.5, 1.5], ["foot_strike"] * 2, ["left"] * 2)
    >>> normalize_cycles(x, ev, side="left").sel(cycle_pct=50).values.round(2).tolist()
    [1.0]
    """
    check_param("side", side, choices=SIDES)
    check_param("n", n, minimum=2, types=(int, np.integer))
    if max_duration is not None:
        check_param("max_duration", max_duration, minimum=0.0, types=(int, float))
    as_events(events)
    strikes = times_of(events, label, side)
    if strikes.size < 2:
        raise DataError(
            f"normalize_cycles needs at least 2 {label!r} events on the {side} side to make a stride; "
            f"found {strikes.size} (detect them with twin.gait.detect_events, or the trial is too short)"
        )
    start, end = strikes[:-1], strikes[1:]
    if max_duration is not None:
        keep = (end - start) <= max_duration
        if not keep.any():
            raise DataError(f"every {side} stride is longer than max_duration={max_duration} s "
                            f"(durations {np.round(end - start, 3).tolist()})")
        start, end = start[keep], end[keep]
    offs = times_of(events, "foot_off", side)
    fo_pct = np.full(start.size, np.nan)
    for k, (a, b) in enumerate(zip(start, end)):
        inside = offs[(offs > a) & (offs < b)]
        if inside.size:
            fo_pct[k] = 100.0 * (inside[0] - a) / (b - a)
    pct = np.linspace(0.0, 100.0, n)
    coords = {
        "cycle": np.arange(start.size),
        "cycle_pct": xr.DataArray(pct, dims="cycle_pct", attrs={"units": "%", "long_name": "percent of gait cycle"}),
        "cycle_start": xr.DataArray(start, dims="cycle", attrs={"units": "s", "long_name": "stride start"}),
        "cycle_end": xr.DataArray(end, dims="cycle", attrs={"units": "s", "long_name": "stride end"}),
        "foot_off_pct": xr.DataArray(fo_pct, dims="cycle", attrs={"units": "%", "long_name": "foot off"}),
    }

    def one(da: xr.DataArray) -> xr.DataArray:
        tdim = next((d for d in da.dims if d in TIME_DIMS), None)
        if tdim is None:
            raise DataError(f"variable {da.name!r} has no time dim (dims {da.dims}); nothing to normalise")
        t = np.asarray(da[tdim].values, float)
        lo, hi = t[0], t[-1]
        tol = 0.5 * float(np.median(np.diff(t))) if t.size > 1 else 0.0
        bad = (start < lo - tol) | (end > hi + tol)
        if bad.any():
            k = int(np.argmax(bad))
            raise DataError(
                f"{side} stride {start[k]:.3f}-{end[k]:.3f} s lies outside the data of {da.name or 'the variable'!r} "
                f"({lo:.3f}-{hi:.3f} s): the events do not belong to this recording or were cut"
            )
        targets = start[:, None] + (end - start)[:, None] * pct[None, :] / 100.0
        targets = np.clip(targets, lo, hi)
        other = [d for d in da.dims if d != tdim]
        arr = np.asarray(da.transpose(tdim, *other).values, float)
        flat = arr.reshape(t.size, -1)
        out = np.empty((targets.size, flat.shape[1]))
        idx = np.searchsorted(t, targets.ravel(), side="right") - 1
        idx = np.clip(idx, 0, t.size - 2) if t.size > 1 else np.zeros_like(idx)
        if t.size > 1:
            w = ((targets.ravel() - t[idx]) / (t[idx + 1] - t[idx]))[:, None]
            out[:] = flat[idx] * (1 - w) + flat[idx + 1] * w
        else:
            out[:] = flat[idx]
        out = out.reshape(start.size, n, *arr.shape[1:])
        res = xr.DataArray(out, dims=("cycle", "cycle_pct", *other), name=da.name, attrs=dict(da.attrs))
        res = res.assign_coords({k: v for k, v in da.coords.items() if tdim not in v.dims})
        return res.assign_coords(coords)

    if isinstance(data, xr.DataArray):
        return one(data)
    if not isinstance(data, xr.Dataset):
        raise ParameterError(f"data must be an xarray DataArray or Dataset, not {type(data).__name__}")
    variables = {k: one(v) for k, v in data.data_vars.items() if any(d in TIME_DIMS for d in v.dims)}
    if not variables:
        raise DataError(f"no variable with a time dim to normalise (variables: {sorted(map(str, data.data_vars))})")
    out = xr.Dataset(variables)
    out.attrs = {k: v for k, v in data.attrs.items() if k not in ("rate", "analog_rate")}
    out.attrs["kind"] = "cycles"
    out.attrs["side"] = side
    return out


def _reduce(x, fn, name):
    if "cycle" not in x.dims:
        raise DataError(f"{name}: the data has no 'cycle' dim; normalise it with normalize_cycles first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x)


def cycle_mean(x: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    """Mean over strides (``cycle`` dim), NaN-skipping; keeps attrs (units).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.array([[0.0, 1.0], [2.0, 3.0]]), dims=("cycle", "cycle_pct"), attrs={"units": "rad"})
    >>> cycle_mean(x).values.tolist(), cycle_mean(x).attrs["units"]
    ([1.0, 2.0], 'rad')
    """
    return _reduce(x, lambda v: v.mean("cycle", skipna=True, keep_attrs=True), "cycle_mean")


def cycle_std(x: xr.DataArray | xr.Dataset, *, ddof: int = 1) -> xr.DataArray | xr.Dataset:
    """Standard deviation over strides (``cycle`` dim), NaN-skipping; keeps attrs (units).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.array([[0.0, 1.0], [2.0, 3.0]]), dims=("cycle", "cycle_pct"), attrs={"units": "rad"})
    >>> cycle_std(x).values.round(3).tolist()
    [1.414, 1.414]
    """
    return _reduce(x, lambda v: v.std("cycle", skipna=True, ddof=ddof, keep_attrs=True), "cycle_std")
