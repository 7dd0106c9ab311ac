"""Gait labels of synthetic (or real) walking: the targets estimators learn from virtual sensors.

:func:`gait_labels` gives, per trial (or per batch member of a Simulation),
the spatiotemporal parameters a gait lab reports and the mean joint-angle
curves over the gait cycle. Definitions are those of
:func:`twin.gait.spatiotemporal` (which does the computing), so labels of
synthetic gaits and parameters of real recordings are comparable:

* events: from the vertical ground reaction force of each foot
  (:func:`twin.gait.events_from_force`) with a threshold of ``threshold`` x
  body weight (5 %); or the events of the Dataset / ``events=``;
* heel and pelvis trajectories: the recording's markers, or virtual markers
  of the body (:func:`twin.synth.markers_from_q`, marker set
  ``marker_set``) for a Simulation or a Kinematics Dataset;
* ``step_time_asymmetry``: the symmetry index of the step times,
  ``200 (left - right) / (left + right)`` [%] (0 symmetric; positive: the
  left step, ending at a left foot strike, takes longer);
* ``joint_angle``: each rotational coordinate normalised to 0-100 % of the
  strides of its own side (:func:`twin.gait.normalize_cycles`, 101 points)
  and averaged over strides; unsided coordinates (pelvis tilt, lumbar
  extension) are given for the strides of both sides; ``overall`` is the mean
  of the left and right curves.

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> from twin.synth.labels import gait_labels
>>> t = np.arange(0, 4.0, 0.01)
>>> pel = np.stack([1.2 * t, np.full_like(t, 0.9), np.zeros_like(t)], 1)
>>> def heel(t0, z):
...     u = (t - t0) % 1.0
...     x = 1.2 * (np.floor(t - t0) + t0) + 1.2 * np.where(u < 0.6, 0, (1 - np.cos(np.pi * (u - 0.6) / 0.4)) / 2)
...     return np.stack([x, np.full_like(t, 0.05), np.full_like(t, z)], 1)
>>> rec = schema.recording(t, markers=np.stack([pel, heel(0.0, -0.1), heel(0.5, 0.1)], 1),
...                        marker_names=["SACR", "LHEE", "RHEE"])
>>> ev = schema.events([0, 1, 2, 3, 0.5, 1.5, 2.5, 3.5] + [0.6, 1.6, 2.6, 1.1, 2.1, 3.1],
...                    ["foot_strike"] * 8 + ["foot_off"] * 6,
...                    ["left"] * 4 + ["right"] * 4 + ["left"] * 3 + ["right"] * 3)
>>> lab = gait_labels(rec, events=ev)
>>> [round(float(lab[k].sel(side="overall")), 3) for k in ("walking_speed", "cadence", "stride_length", "stance_pct")]
[1.2, 120.0, 1.2, 60.0]
>>> round(float(lab.step_time_asymmetry), 3)
0.0
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, TwinError, check_param
from ..schema import events as make_events
from ..schema import recording

from ..gait.spatiotemporal import PARAMETERS as _SPATIOTEMPORAL

__all__ = ["gait_labels", "LABELS"]

#: label -> (units, long name); per side (left, right, overall): twin.gait.spatiotemporal's parameters
#: without step width (a planar simulation has none)
LABELS = {k: v for k, v in _SPATIOTEMPORAL.items() if k != "step_width"}
_SIDES = ("left", "right", "overall")
_SUFFIX = {"left": "_l", "right": "_r"}


def _is_simulation(ds: xr.Dataset) -> bool:
    return ds.attrs.get("kind") == "simulation" or ("q" in ds.data_vars and "batch" in ds["q"].dims)


def _events_of(ds: xr.Dataset, events: xr.Dataset | None) -> xr.Dataset | None:
    if events is not None:
        if not isinstance(events, xr.Dataset) or "event_time" not in events.data_vars:
            raise ParameterError("events must be an events Dataset (event_time with event_label/event_side coords), "
                                 "e.g. from twin.gait.detect_events")
        return events
    if "event_time" in ds.data_vars:
        ev = ds[["event_time"]]
        for c in ("event_label", "event_side"):
            if c not in ev.coords:
                raise DataError(f"the Dataset's event_time has no {c!r} coord; build events with twin.schema.events")
        return make_events(ev.event_time.values, ev.event_label.values, ev.event_side.values,
                           source=str(ds.attrs.get("source", "")))
    return None


def _force_events(t: np.ndarray, grf: np.ndarray, sides: Sequence[str], weight: float, threshold: float,
                  source: str) -> xr.Dataset:
    from ..gait import events_from_force

    thr = threshold * weight
    rec = recording(t, grf=grf, plates=list(sides), plate_dim="side", source=source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return events_from_force(rec, threshold=thr, hysteresis=0.25 * thr, min_duration=0.1, min_gap=0.03)


def _curves(q: xr.DataArray, ev: xr.Dataset, n: int, joints: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Mean curves (side[l, r, overall], joint, cycle_pct) and strides per side."""
    from ..gait import cycle_mean, normalize_cycles

    names = [str(c) for c in q["coordinate"].values]
    out = np.full((3, len(joints), n), np.nan)
    counts = {}
    for si, side in enumerate(("left", "right")):
        cols = []
        for j in joints:
            sided = j + _SUFFIX[side]
            cols.append(sided if sided in names else j if j in names else None)
        try:
            cyc = normalize_cycles(q, ev, side=side, n=n)
        except DataError:
            counts[side] = 0
            continue
        counts[side] = int(cyc.sizes["cycle"])
        mean = cycle_mean(cyc)
        for ji, c in enumerate(cols):
            if c is not None:
                out[si, ji] = mean.sel(coordinate=c).values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[2] = np.nanmean(out[:2], axis=0)
    return out, counts


def _joints(names: list[str], types: list[str]) -> list[str]:
    out = []
    for c, kind in zip(names, types):
        if kind != "rotational":
            continue
        base = c[:-2] if c.endswith(("_r", "_l")) else c
        if base not in out:
            out.append(base)
    return out


def _one(markers_ds: xr.Dataset, ev: xr.Dataset, q: xr.DataArray | None, joints: list[str], n: int) -> dict:
    from ..gait import spatiotemporal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = spatiotemporal(markers_ds, ev)
    res = {k: st[k].sel(side=list(_SIDES)).values.astype(float) for k in LABELS}
    left, right = res["step_time"][0], res["step_time"][1]
    with np.errstate(invalid="ignore", divide="ignore"):
        res["step_time_asymmetry"] = float(200.0 * (left - right) / (left + right))
    res["n_strides"] = st["n_strides"].sel(side=list(_SIDES)).values.astype(float)
    if q is not None and joints:
        res["joint_angle"], _ = _curves(q, ev, n, joints)
    return res


def gait_labels(
    ds: xr.Dataset,
    *,
    body: Any = None,
    events: xr.Dataset | None = None,
    settle: float | None = None,
    threshold: float = 0.05,
    marker_set: str = "plug_in_gait",
    n: int = 101,
) -> xr.Dataset:
    """Spatiotemporal labels and mean joint-angle curves of a gait (see the module docs for definitions).

    Parameters
    ----------
    ds : xarray.Dataset
        One of

        * a Simulation (:func:`twin.engine.simulate`: ``q``, ``grf`` with a
          ``batch`` dim): events from each side's vertical GRF, heels and
          pelvis from virtual markers of ``body``;
        * a Kinematics Dataset ``q(time, coordinate)`` with events (its own
          ``event_time`` or ``events=``): virtual markers of ``body``;
        * a Recording with ``markers`` and events (``event_time``,
          ``events=``, or ``grf`` plus ``attrs["subject_mass"]``); joint
          curves when it also holds ``q``.
    body : BodyParams or list of BodyParams, optional
        The simulated body (one per batch member, or one for all); default
        :meth:`BodyParams.default`. Gives the virtual markers and the body
        weight of the GRF threshold.
    events : xarray.Dataset, optional
        Foot strikes and foot offs (overrides those in ``ds``).
    settle : float, optional
        Seconds dropped at the start (the transient from the initial pose);
        default 1 s for a Simulation, 0 otherwise.
    threshold : float, default 0.05
        GRF contact threshold as a fraction of body weight.
    marker_set : str, default "plug_in_gait"
        Virtual marker set for heel and pelvis (symmetric Plug-in-Gait).
    n : int, default 101
        Points of the joint-angle curves (``cycle_pct`` 0..100).

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] = "labels"``; variables of :data:`LABELS` on
        ``side`` (left, right, overall), ``step_time_asymmetry`` [%],
        ``n_strides(side)``, ``joint_angle(side, joint, cycle_pct)`` [rad]
        (when ``q`` is available) and ``valid`` (1 when at least one stride
        of each side was found). A Simulation gives a leading ``batch`` dim;
        members that fell early or never completed strides get NaN labels,
        ``valid`` 0, and their reason in ``attrs["invalid"]``.

    Raises
    ------
    DataError
        Missing variables (no ``q``/``markers``, no events and no way to
        detect them), too few strides (single trials), bad units.
    ParameterError
        Bad options.

    Examples
    --------
    See the module docstring.
    """
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"ds must be an xarray.Dataset, not {type(ds).__name__}")
    check_param("threshold", threshold, minimum=0.0, maximum=1.0, types=(int, float))
    check_param("n", n, minimum=2, types=(int, np.integer))
    check_param("marker_set", marker_set, types=str)
    if settle is not None:
        check_param("settle", settle, minimum=0.0, types=(int, float))
    if _is_simulation(ds):
        return _simulation_labels(ds, body, events, 1.0 if settle is None else float(settle), threshold, marker_set,
                                  n)
    settle = 0.0 if settle is None else float(settle)
    if settle:
        ds = ds.sel(time=slice(float(ds["time"].values[0]) + settle, None))
    ev = _events_of(ds, events)
    history = []
    if "markers" in ds.data_vars:
        units = ds["markers"].attrs.get("units")
        if units != "m":
            raise DataError(f"'markers' has units {units!r}; expected 'm' (convert, e.g. mm / 1000, and set "
                            "markers.attrs['units'] = 'm')")
        markers_ds = ds
        history.append("heels and pelvis from the recording's markers")
    elif "q" in ds.data_vars:
        from .sensors import markers_from_q

        markers_ds = markers_from_q(body, ds, marker_set=marker_set)
        history.append(f"heels and pelvis from virtual markers ({marker_set}) of the kinematics")
    else:
        raise DataError(f"the Dataset has neither 'markers' nor 'q' (it holds {sorted(map(str, ds.data_vars))}); "
                        "pass a Recording with markers, a Kinematics Dataset or a Simulation")
    if ev is None:
        if "grf" in ds.data_vars and "subject_mass" in ds.attrs:
            g = 9.80665
            grf = ds["grf"]
            tdim = "analog_time" if "analog_time" in grf.dims else "time"
            cdim = "side" if "side" in grf.dims else "plate"
            if cdim != "side":
                raise DataError("grf is per force plate, not per side: detect events with twin.gait.detect_events "
                                "and pass events=")
            grf = grf.transpose(tdim, cdim, "axis")
            ev = _force_events(ds[tdim].values, grf.values, [str(s) for s in grf[cdim].values],
                               float(ds.attrs["subject_mass"]) * g, threshold, str(ds.attrs.get("source", "")))
            history.append(f"events from the vertical GRF, threshold {threshold:.0%} of body weight")
        else:
            raise DataError("no gait events: the Dataset has no 'event_time' and no 'grf' per side with "
                            "attrs['subject_mass']; pass events= (e.g. twin.gait.detect_events(recording))")
    q = None
    joints: list[str] = []
    if "q" in ds.data_vars and ds["q"].dims == ("time", "coordinate"):
        q = ds["q"]
        types = [str(v) for v in ds["coordinate_type"].values] if "coordinate_type" in ds.coords else \
            ["rotational"] * q.sizes["coordinate"]
        joints = _joints([str(c) for c in q["coordinate"].values], types)
    try:
        res = _one(markers_ds, ev, q, joints, n)
    except TwinError as err:
        raise DataError(f"gait_labels: {err}") from None
    if min(res["n_strides"][:2]) < 1:
        history.append("a side has no complete stride: its labels are NaN")
    return _assemble([res], None, joints, n, history, [""], str(ds.attrs.get("source", "")))


def _simulation_labels(ds, body, events, settle, threshold, marker_set, n) -> xr.Dataset:
    from .sensors import _bodies, markers_from_q

    for v in ("q", "grf"):
        if v not in ds.data_vars:
            raise DataError(f"the Simulation has no {v!r} variable (it holds {sorted(map(str, ds.data_vars))}); run "
                            "twin.engine.simulate")
    if set(ds["grf"].dims) != {"batch", "time", "side", "axis"}:
        raise DataError(f"'grf' has dims {ds['grf'].dims}; expected (batch, time, side, axis)")
    if ds["grf"].attrs.get("units", "N") != "N":
        raise DataError(f"'grf' has units {ds['grf'].attrs.get('units')!r}; expected 'N'")
    n_b = ds.sizes["batch"]
    bodies = _bodies(body, n_b)
    t = np.asarray(ds["time"].values, float)
    t0 = t[0] + settle
    if t[-1] - t0 < 0.5:
        raise DataError(f"the simulation lasts {t[-1] - t[0]:.2f} s: labels need at least 0.5 s of walking after "
                        f"settle={settle:g} s; simulate longer or lower settle")
    types = [str(v) for v in ds["coordinate_type"].values] if "coordinate_type" in ds.coords else \
        ["rotational"] * ds.sizes["coordinate"]
    joints = _joints([str(c) for c in ds["coordinate"].values], types)
    results, invalid = [], []
    for b in range(n_b):
        member = ds.isel(batch=b)
        body_b = bodies[b if len(bodies) > 1 else 0]
        end = t[-1]
        fell = ""
        if "fell_time" in member and np.isfinite(float(member["fell_time"])):
            end = float(member["fell_time"])
            fell = f"fell at {end:.2f} s; "
        if end - t0 < 0.5:
            invalid.append(f"{b}: {fell}less than 0.5 s of walking after settle={settle:g} s")
            results.append(None)
            continue
        win = member.sel(time=slice(t0, end))
        try:
            if events is not None:
                ev = events
            else:
                grf = win["grf"].transpose("time", "side", "axis")
                ev = _force_events(win["time"].values, grf.values, [str(s) for s in grf["side"].values],
                                   float(body_b.mass) * float(body_b.gravity), threshold, "simulation")
            kin = win[["q"]]
            kin.attrs = {"kind": "kinematics", "source": "simulation"}
            mk = markers_from_q(body_b, kin, marker_set=marker_set)
            res = _one(mk, ev, win["q"], joints, n)
            if min(res["n_strides"][:2]) < 1:
                raise DataError("fewer than one stride on a side")
            results.append(res)
        except TwinError as err:
            invalid.append(f"{b}: {fell}{err}")
            results.append(None)
    history = [f"simulation labels after settle={settle:g} s: events from each side's vertical GRF (threshold "
               f"{threshold:.0%} of body weight), heels and pelvis from virtual markers ({marker_set})"]
    if invalid:
        history.append(f"{len(invalid)} member(s) without labels (NaN, valid 0)")
    batch = ds["batch"].values if "batch" in ds.coords else np.arange(n_b)
    out = _assemble(results, batch, joints, n, history, invalid, str(ds.attrs.get("source", "")))
    return out


def _assemble(results: list, batch, joints: list[str], n: int, history: list[str], invalid: list[str],
              source: str) -> xr.Dataset:
    lead = ("batch",) if batch is not None else ()
    nb = len(results)

    def stack(key, shape):
        arr = np.full((nb,) + shape, np.nan)
        for i, r in enumerate(results):
            if r is not None and key in r:
                arr[i] = r[key]
        return arr if batch is not None else arr[0]

    data = {}
    for k, (units, long_name) in LABELS.items():
        data[k] = (lead + ("side",), stack(k, (3,)), {"units": units, "long_name": long_name})
    data["step_time_asymmetry"] = (lead, stack("step_time_asymmetry", ()),
                                   {"units": "%", "long_name": "step time symmetry index 200 (L - R) / (L + R)"})
    data["n_strides"] = (lead + ("side",), stack("n_strides", (3,)),
                         {"units": "1", "long_name": "number of complete strides"})
    has_curves = any(r is not None and "joint_angle" in r for r in results)
    if has_curves:
        data["joint_angle"] = (lead + ("side", "joint", "cycle_pct"), stack("joint_angle", (3, len(joints), n)),
                               {"units": "rad", "long_name": "mean joint angle over the gait cycle"})
    valid = np.array([r is not None and min(r["n_strides"][:2]) >= 1 for r in results], np.int8)
    data["valid"] = (lead, valid if batch is not None else valid[0],
                     {"units": "1", "long_name": "1: labels computed from at least one stride per side"})
    coords: dict[str, Any] = {"side": list(_SIDES)}
    if has_curves:
        coords["joint"] = joints
        coords["cycle_pct"] = ("cycle_pct", np.linspace(0.0, 100.0, n), {"units": "%",
                                                                         "long_name": "percent of gait cycle"})
    if batch is not None:
        coords["batch"] = batch
    out = xr.Dataset(data, coords=coords)
    out.attrs.update(kind="labels", source=source, history="\n".join(history))
    bad = [s for s in invalid if s]
    if bad:
        out.attrs["invalid"] = "\n".join(bad)
    return out
