"""Helpers shared by the figures: members of a simulation, body weight, foot strikes, cycles.

A simulation Dataset (``attrs["kind"] == "simulation"``) has one or two
leading member dims, ``scenario`` and/or ``batch`` (see :mod:`twin.schema`).
The figures treat every member as one labelled curve set.

Examples
--------
>>> import numpy as np
>>> t = np.arange(0, 3, 0.01)
>>> fz = np.where((t % 1.0) < 0.6, 700.0, 0.0)   # stance 60 % of a 1 s stride
>>> strikes(t, fz / 700.0, threshold=0.05).round(2)     # interpolated between samples
array([0.99, 1.99])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..errors import ParameterError

G = 9.81
MEMBER_DIMS = ("scenario", "batch")
#: Leg length [m] of the default body (Gait10dof18musc), for the normative speed group.
DEFAULT_LEG_LENGTH = 0.93
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
BASELINE_COLOUR = "#222222"


def members(data, *, baseline_label: str = "baseline") -> list[tuple[str, xr.Dataset]]:
    """``[(label, member Dataset)]`` of a Dataset with member dims, or of a ``{label: Dataset}`` mapping."""
    if isinstance(data, xr.Dataset):
        items = [("", data)]
    elif isinstance(data, Mapping):
        items = list(data.items())
        if not items:
            raise ParameterError("no datasets given (the mapping is empty)")
    elif isinstance(data, (list, tuple)):
        items = [(f"#{i}", d) for i, d in enumerate(data)]
        if not items:
            raise ParameterError("no datasets given (the list is empty)")
    else:
        raise ParameterError(f"expected an xarray.Dataset or a mapping label -> Dataset, not {type(data).__name__}")
    out = []
    for label, ds in items:
        if not isinstance(ds, xr.Dataset):
            raise ParameterError(f"{label!r}: expected an xarray.Dataset, not {type(ds).__name__}")
        dims = [d for d in MEMBER_DIMS if d in ds.dims]
        if not dims:
            out.append((str(label) or str(ds.attrs.get("label", "")) or "data", ds))
            continue
        stacked = ds.stack(_member=dims) if len(dims) > 1 else ds.rename({dims[0]: "_member"})
        for i in range(stacked.sizes["_member"]):
            sub = stacked.isel(_member=i)
            key = sub["_member"].values.item() if "_member" in sub.coords else i
            if isinstance(key, tuple):
                name = " #".join(str(k) for k in key)
            elif dims[0] == "batch":
                name = f"member {key}"
            else:
                name = str(key)
            name = f"{label}: {name}" if label else name
            out.append((name, sub.drop_vars([v for v in ("_member", *dims) if v in sub.coords])))
    return out


def is_baseline(label: str, baseline_label: str = "baseline") -> bool:
    return label == baseline_label or label.endswith(f": {baseline_label}")


def colours(labels: list[str], baseline_label: str = "baseline") -> dict[str, str]:
    """Baseline dark grey, the others from the palette in order."""
    out, k = {}, 0
    for lab in labels:
        if is_baseline(lab, baseline_label):
            out[lab] = BASELINE_COLOUR
        else:
            out[lab] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


def body_weight(ds: xr.Dataset) -> float:
    """Body weight [N] of one member: ``body_mass`` variable or attr, else the mean total vertical GRF."""
    for src in (ds.get("body_mass"), ds.attrs.get("body_mass"), ds.attrs.get("subject_mass")):
        if src is not None:
            m = float(np.asarray(src).reshape(-1)[0])
            if np.isfinite(m) and m > 0:
                return m * G
    if "grf" in ds:
        fy = ds["grf"].sel(axis="y").sum("side").values
        fy = fy[np.isfinite(fy)]
        if fy.size and fy.mean() > 0:
            return float(fy.mean())
    raise ParameterError("cannot tell the body weight: the Dataset has no body_mass and no vertical GRF")


def valid_time(ds: xr.Dataset) -> float:
    """The last time [s] of real motion (the fall or failure time, else the end)."""
    t = ds["time"].values
    end = float(t[-1]) if t.size else 0.0
    for v in ("fell_time", "failed_time"):
        if v in ds:
            x = float(np.asarray(ds[v]).reshape(-1)[0])
            if np.isfinite(x):
                end = min(end, x)
    return end


def strikes(time: np.ndarray, load: np.ndarray, *, threshold: float = 0.05, min_swing: float = 0.05) -> np.ndarray:
    """Foot-strike times [s]: upward crossings of ``threshold`` by ``load`` (in body weights).

    A crossing counts only after the load stayed below the threshold for at
    least ``min_swing`` s (no chatter at contact); the time is interpolated
    between samples. A foot loaded from the first sample has no strike there.
    """
    time = np.asarray(time, dtype=float)
    load = np.nan_to_num(np.asarray(load, dtype=float), nan=0.0)
    on = load > threshold
    out = []
    last_off = None  # time the foot became unloaded
    for i in range(1, len(time)):
        if on[i - 1] and not on[i]:
            last_off = time[i]
        elif not on[i - 1] and on[i]:
            if last_off is None:
                last_off = time[0] if not on[0] else None
            if last_off is not None and time[i] - last_off >= min_swing - 1e-12:
                a, b = load[i - 1], load[i]
                f = (threshold - a) / (b - a) if b != a else 0.0
                out.append(time[i - 1] + f * (time[i] - time[i - 1]))
    return np.asarray(out, dtype=float)


def side_name(ds: xr.Dataset, side: str) -> str:
    """The label of ``side`` ("right"/"left") in ``ds.side`` (also when labelled "r"/"l")."""
    sides = [str(s) for s in ds["side"].values]
    if side not in sides and side[:1] in sides:
        return side[:1]
    if side not in sides:
        raise ParameterError(f"side={side!r} is not in the GRF sides {sides}")
    return side


def right_strikes(ds: xr.Dataset, *, side: str = "right", threshold: float = 0.05) -> np.ndarray:
    """Foot strikes of ``side`` [s] from the simulated vertical GRF (before a fall)."""
    if "grf" not in ds:
        raise ParameterError("the Dataset has no grf variable: cannot find foot strikes")
    side = side_name(ds, side)
    load = ds["grf"].sel(side=side, axis="y").values / body_weight(ds)
    t = ds["time"].values
    s = strikes(t, load, threshold=threshold)
    return s[s <= valid_time(ds)]


def cycles_of(ds: xr.Dataset, *, side: str = "right", threshold: float = 0.05, min_stride: float = 0.3,
              max_stride: float = 3.0) -> list[tuple[float, float]]:
    """``[(start, end)]`` of the strides of ``side`` (consecutive strikes) with a plausible duration [s]."""
    s = right_strikes(ds, side=side, threshold=threshold)
    return [(a, b) for a, b in zip(s[:-1], s[1:]) if min_stride <= b - a <= max_stride]


def normalise(time: np.ndarray, values: np.ndarray, bounds: list[tuple[float, float]], n: int = 101) -> np.ndarray:
    """``values`` (time first) resampled on 0..100 % of each stride: ``[cycle, n, ...]``."""
    pct = np.linspace(0.0, 1.0, n)
    values = np.asarray(values, dtype=float)
    flat = values.reshape(len(time), -1)
    out = np.empty((len(bounds), n, flat.shape[1]))
    for k, (a, b) in enumerate(bounds):
        tt = a + pct * (b - a)
        for j in range(flat.shape[1]):
            out[k, :, j] = np.interp(tt, time, flat[:, j])
    return out.reshape((len(bounds), n) + values.shape[1:])


def forward_speed(ds: xr.Dataset) -> float:
    """Mean forward speed [m/s] of the pelvis until the fall (NaN when unknown)."""
    if "q" not in ds or "pelvis_tx" not in [str(c) for c in ds["coordinate"].values]:
        return float("nan")
    t = ds["time"].values
    x = ds["q"].sel(coordinate="pelvis_tx").values
    end = valid_time(ds)
    keep = t <= end + 1e-12
    if keep.sum() < 2 or t[keep][-1] - t[0] <= 0:
        return float("nan")
    return float((x[keep][-1] - x[0]) / (t[keep][-1] - t[0]))
