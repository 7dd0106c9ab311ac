"""A few gait measures per simulated member, for the what-if table (until :mod:`twin.metrics` is there).

:func:`simulation_summary` reads a simulation Dataset (``q``, ``grf``, and
``metabolic_power``, ``fell_time`` when present) and returns a metrics
Dataset (``attrs["kind"] = "metrics"``) with the member dims of the input
and one scalar per measure, each with ``units`` and ``long_name``. Strides
are right-foot strike to right-foot strike (vertical GRF crossing 5 % body
weight, as in :mod:`twin.viz.figures`); measures that need a stride are NaN
when there is none.

Examples
--------
>>> from twin.viz.figures import demo_simulation
>>> m = simulation_summary(demo_simulation())
>>> round(float(m.stride_time.sel(scenario="baseline")), 2), m.stride_time.attrs["units"]
(1.1, 's')
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import _sim
from ._sim import G

__all__ = ["simulation_summary", "MEASURES"]

#: name -> (units, long_name)
MEASURES = {
    "walked_time": ("s", "time walked before a fall"),
    "fell": ("1", "fell"),
    "distance": ("m", "distance walked"),
    "speed": ("m/s", "mean walking speed"),
    "n_strides": ("1", "complete right strides"),
    "stride_time": ("s", "stride time"),
    "cadence": ("steps/min", "cadence"),
    "stance": ("% cycle", "right stance phase"),
    "peak_knee_flexion": ("deg", "peak knee flexion (right)"),
    "peak_plantarflexion": ("deg", "peak ankle plantarflexion (right)"),
    "peak_dorsiflexion": ("deg", "peak ankle dorsiflexion (right)"),
    "peak_vertical_grf": ("BW", "peak vertical GRF (right)"),
    "cost_of_transport": ("J/(kg m)", "metabolic cost of transport"),
}
_DTYPES = {"fell": bool, "n_strides": int}


def _one(ds: xr.Dataset, threshold: float) -> dict[str, float]:
    t = ds["time"].values
    end = _sim.valid_time(ds)
    keep = t <= end + 1e-12
    out = dict.fromkeys(MEASURES, float("nan"))
    out["walked_time"] = float(end - t[0]) if t.size else 0.0
    out["fell"] = float(any(bool(np.asarray(ds[v]).reshape(-1)[0]) for v in ("fell", "failed") if v in ds))
    names = [str(c) for c in ds["coordinate"].values] if "coordinate" in ds.coords else []
    q = ds["q"].values if "q" in ds else None
    if q is not None and "pelvis_tx" in names:
        x = q[keep, names.index("pelvis_tx")]
        out["distance"] = float(x[-1] - x[0]) if x.size else float("nan")
        out["speed"] = _sim.forward_speed(ds)
    bounds = []
    if "grf" in ds:
        bounds = _sim.cycles_of(ds, threshold=threshold)
        out["n_strides"] = float(len(bounds))
        bw = _sim.body_weight(ds)
        load = ds["grf"].sel(side=_sim.side_name(ds, "right"), axis="y").values / bw
        out["peak_vertical_grf"] = float(np.nanmax(load[keep])) if keep.any() else float("nan")
        if bounds:
            st = np.array([b - a for a, b in bounds])
            out["stride_time"] = float(st.mean())
            out["cadence"] = float(120.0 / st.mean())
            cyc = _sim.normalise(t, load, bounds)
            out["stance"] = float(np.mean((cyc > threshold).mean(1) * 100.0))
    if q is not None:
        def window(c):
            v = q[:, names.index(c)]
            if bounds:
                return np.rad2deg(_sim.normalise(t, v, bounds).mean(0))
            return np.rad2deg(v[keep])

        if "knee_angle_r" in names:
            out["peak_knee_flexion"] = float(np.max(-window("knee_angle_r")))
        if "ankle_angle_r" in names:
            a = window("ankle_angle_r")
            out["peak_plantarflexion"] = float(np.max(-a))
            out["peak_dorsiflexion"] = float(np.max(a))
    if "metabolic_power" in ds and out["distance"] == out["distance"] and out["distance"] > 0.05:
        p = ds["metabolic_power"].values[keep]
        mass = _sim.body_weight(ds) / G
        energy = float(np.trapezoid(p, t[keep])) if p.size > 1 else 0.0
        out["cost_of_transport"] = energy / (mass * out["distance"])
    return out


def simulation_summary(sim: xr.Dataset, *, threshold: float = 0.05) -> xr.Dataset:
    """Gait measures per member of a simulation (see :data:`MEASURES`).

    Parameters
    ----------
    sim : xarray.Dataset
        A simulation; its ``scenario``/``batch`` dims are kept.
    threshold : float, keyword-only
        Foot-strike threshold [body weights].

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] = "metrics"``.
    """
    dims = [d for d in _sim.MEMBER_DIMS if d in sim.dims]
    if dims:
        stacked = sim.stack(_member=dims) if len(dims) > 1 else sim
        key = "_member" if len(dims) > 1 else dims[0]
        vals = [_one(stacked.isel({key: i}), threshold) for i in range(stacked.sizes[key])]
        data = {k: ((key,), np.array([v[k] for v in vals], dtype=_DTYPES.get(k, float)),
                    {"units": u, "long_name": ln}) for k, (u, ln) in MEASURES.items()}
        out = xr.Dataset(data, coords={key: stacked[key]})
        if len(dims) > 1:
            out = out.unstack("_member")
    else:
        v = _one(sim, threshold)
        out = xr.Dataset({k: ((), np.asarray(v[k], dtype=_DTYPES.get(k, float)), {"units": u, "long_name": ln})
                          for k, (u, ln) in MEASURES.items()})
    out.attrs.update(kind="metrics", source="twin.viz.summary.simulation_summary",
                     history=f"right strides from vertical GRF > {threshold * 100:g} % body weight")
    return out
