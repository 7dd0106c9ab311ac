"""Spatiotemporal gait parameters from events and heel/pelvis trajectories.

Definitions (per stride of side S, from an S foot strike to the next; O is the
other side; "forward" is the walking direction, estimated from the pelvis
trajectory, "lateral" the horizontal axis to the walker's right):

=====================  ==========  ============================================================
parameter              units       definition
=====================  ==========  ============================================================
walking_speed          m/s         overall: pelvis travel along forward between the first and the
                                   last foot strike / that time (overground); on a treadmill the
                                   ``treadmill_speed`` given, else NaN. Per side: stride length /
                                   stride time.
cadence                steps/min   per side 120 / stride time; overall 60 / mean step time
stride_time            s           S strike to next S strike
stride_length          m           forward displacement of the S heel between the two strikes
                                   (treadmill: ``treadmill_speed`` x stride time)
step_time              s           last O strike to this S strike
step_length            m           forward distance S heel - O heel at the S strike
step_width             m           lateral distance between the heels at the S strike
stance_pct             %           S strike to S foot off, % of stride
swing_pct              %           100 - stance_pct
double_support_pct     %           (S strike to O foot off) + (O strike to S foot off), % of stride
=====================  ==========  ============================================================

Per-side values are means over strides; ``overall`` is the mean of the two
sides (walking_speed and cadence as above). ``symmetry_index`` is the signed
symmetry index of Robinson et al. 1987, ``200 (L - R) / (L + R)`` [%]
(0 = symmetric, positive = left larger).

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> from twin.gait import spatiotemporal
>>> t = np.arange(0, 4.0, 0.01)
>>> pel = np.stack([1.2 * t, np.full_like(t, 0.9), np.zeros_like(t)], 1)
>>> def heel(t0, z):   # 1 s strides of 1.2 m: stance 60 %, then a smooth swing to the next strike
...     u = (t - t0) % 1.0
...     x = 1.2 * (np.floor(t - t0) + t0) + 1.2 * np.where(u < 0.6, 0, (1 - np.cos(np.pi * (u - 0.6) / 0.4)) / 2)
...     return np.stack([x, np.full_like(t, 0.05), np.full_like(t, z)], 1)
>>> m = np.stack([pel, heel(0.0, -0.1), heel(0.5, 0.1)], 1)
>>> ds = schema.recording(t, markers=m, marker_names=["SACR", "LHEE", "RHEE"])
>>> ev = schema.events([0, 1, 2, 3, 0.5, 1.5, 2.5, 3.5] + [0.6, 1.6, 2.6, 1.1, 2.1, 3.1],
...                    ["foot_strike"] * 8 + ["foot_off"] * 6, ["left"] * 4 + ["right"] * 4 + ["left"] * 3 + ["right"] * 3)
>>> st = spatiotemporal(ds, ev)
>>> [round(st[k].sel(side="overall").item(), 3) for k in ("stride_length", "step_length", "cadence", "step_width")]
[1.2, 0.6, 120.0, 0.2]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..errors import DataError, TwinWarning, check_param
from ._util import SIDES, get_point, lowpass, pelvis_trajectory, points_from, progression, times_of

__all__ = ["spatiotemporal", "PARAMETERS"]

#: parameter -> (units, long name)
PARAMETERS = {
    "walking_speed": ("m/s", "walking speed"),
    "cadence": ("steps/min", "cadence"),
    "stride_time": ("s", "stride time"),
    "stride_length": ("m", "stride length"),
    "step_time": ("s", "step time"),
    "step_length": ("m", "step length"),
    "step_width": ("m", "step width"),
    "stance_pct": ("%", "stance phase, % of stride"),
    "swing_pct": ("%", "swing phase, % of stride"),
    "double_support_pct": ("%", "double support, % of stride"),
}


def _at(t: np.ndarray, x: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Positions (k, 3) at times ``when`` by linear interpolation (NaN outside the data)."""
    out = np.full((np.size(when), 3), np.nan)
    for k in range(3):
        ok = np.isfinite(x[:, k])
        if ok.sum() >= 2:
            out[:, k] = np.interp(when, t[ok], x[ok, k], left=np.nan, right=np.nan)
    return out


def _mean(v) -> float:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def spatiotemporal(
    ds: xr.Dataset,
    events: xr.Dataset,
    *,
    markers: Mapping[str, str] | None = None,
    treadmill_speed: float | None = None,
    cutoff: float | None = 7.0,
) -> xr.Dataset:
    """Spatiotemporal parameters per side and overall.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``markers`` or ``landmarks`` holding both heels and the
        pelvis (sacrum, ASIS/PSIS or hips).
    events : xarray.Dataset
        Foot strikes and foot offs of both sides (e.g. from
        :func:`twin.gait.detect_events`).
    markers : mapping, optional
        Names by role (``"left_heel"``, ``"right_heel"``, ``"pelvis"``...).
    treadmill_speed : float, optional
        Belt speed [m/s]; used for speed and stride length when the pelvis
        does not travel (treadmill). When omitted on a treadmill trial it is
        estimated from the heels' backward velocity in early stance (the heel
        rests on the moving belt), and ``attrs["treadmill_speed_estimated"]``
        says so.
    cutoff : float or None, default 7
        Low-pass cut-off [Hz] for the trajectories; None to skip.

    Returns
    -------
    xarray.Dataset
        Variables of :data:`PARAMETERS` on ``side`` (``left``, ``right``,
        ``overall``), ``n_strides(side)`` and ``symmetry_index(parameter)``
        [%]; every variable has ``units`` and ``long_name``.

    Raises
    ------
    DataError
        No side has two foot strikes (no complete stride), events outside the
        recording, or missing heel/pelvis markers.

    Examples
    --------
    See the module docstring.
    """
    if treadmill_speed is not None:
        check_param("treadmill_speed", treadmill_speed, minimum=0.0, types=(int, float))
    pts = points_from(ds)
    t = pts.time
    rate = float(1.0 / np.median(np.diff(t))) if t.size > 1 else float("nan")
    pelvis = lowpass(pelvis_trajectory(pts, markers), rate, cutoff)
    heel = {s: lowpass(get_point(pts, "heel", s, markers), rate, cutoff) for s in SIDES}
    fwd, overground, _ = progression(pelvis, [heel["left"], heel["right"]], t, planar=pts.planar)
    lat = np.cross(fwd, [0.0, 1.0, 0.0])
    strikes = {s: times_of(events, "foot_strike", s) for s in SIDES}
    offs = {s: times_of(events, "foot_off", s) for s in SIDES}
    all_t = np.concatenate([strikes["left"], strikes["right"], offs["left"], offs["right"]])
    tol = 0.5 / rate if np.isfinite(rate) else 0.0
    if all_t.size and (all_t.min() < t[0] - tol or all_t.max() > t[-1] + tol):
        raise DataError(f"events span {all_t.min():.3f}-{all_t.max():.3f} s but the recording covers "
                        f"{t[0]:.3f}-{t[-1]:.3f} s: the events belong to another trial or were shifted")
    if max(strikes["left"].size, strikes["right"].size) < 2:
        raise DataError("spatiotemporal parameters need a complete stride (two foot strikes of one side); found "
                        f"{strikes['left'].size} left and {strikes['right'].size} right strikes")
    belt_note = ""
    if not overground and treadmill_speed is None:
        treadmill_speed = _belt_speed(t, heel, strikes, offs, fwd)
        if np.isfinite(treadmill_speed):
            belt_note = (f"; treadmill belt speed {treadmill_speed:.3f} m/s estimated from the heels' backward "
                         "velocity in early stance (10-50 % of each stance)")
        else:
            treadmill_speed = None
    values: dict[str, dict[str, float]] = {k: {} for k in PARAMETERS}
    typical_stride = float(np.median(np.concatenate([np.diff(strikes[s]) for s in SIDES])))
    n_strides = {}
    step_times_all = []
    for s in SIDES:
        o = "right" if s == "left" else "left"
        st = strikes[s]
        a, b = st[:-1], st[1:]
        stride_time = b - a
        n_strides[s] = int(stride_time.size)
        if overground:
            stride_length = (_at(t, heel[s], b) - _at(t, heel[s], a)) @ fwd
        elif treadmill_speed is not None:
            stride_length = treadmill_speed * stride_time
        else:
            stride_length = np.full(stride_time.size, np.nan)
        # steps ending at each S strike
        prev_o = np.array([strikes[o][strikes[o] < x].max() if np.any(strikes[o] < x) else np.nan for x in st])
        step_time = st - prev_o
        # a step longer than a stride means the other side's strike in between is missing
        step_time[~(step_time < typical_stride)] = np.nan
        step_times_all.append(step_time)
        diff = _at(t, heel[s], st) - _at(t, heel[o], st)
        step_length = diff @ fwd
        step_width = np.abs(diff @ lat) if not pts.planar else np.full(st.size, np.nan)
        stance = np.full(a.size, np.nan)
        ds_pct = np.full(a.size, np.nan)
        for k, (x0, x1) in enumerate(zip(a, b)):
            fo = offs[s][(offs[s] > x0) & (offs[s] < x1)]
            if not fo.size:
                continue
            stance[k] = 100.0 * (fo[0] - x0) / (x1 - x0)
            o_off = offs[o][(offs[o] > x0) & (offs[o] < fo[0])]
            o_on = strikes[o][(strikes[o] > x0) & (strikes[o] < fo[0])]
            if o_off.size and o_on.size:
                ds_pct[k] = 100.0 * ((o_off[0] - x0) + (fo[0] - o_on[-1])) / (x1 - x0)
        values["stride_time"][s] = _mean(stride_time)
        values["stride_length"][s] = _mean(stride_length)
        values["walking_speed"][s] = _mean(stride_length / stride_time) if stride_time.size else np.nan
        values["cadence"][s] = _mean(120.0 / stride_time) if stride_time.size else np.nan
        values["step_time"][s] = _mean(step_time)
        values["step_length"][s] = _mean(step_length)
        values["step_width"][s] = _mean(step_width)
        values["stance_pct"][s] = _mean(stance)
        values["swing_pct"][s] = _mean(100.0 - stance)
        values["double_support_pct"][s] = _mean(ds_pct)
    for k in PARAMETERS:
        values[k]["overall"] = _mean([values[k]["left"], values[k]["right"]])
    step_all = np.concatenate(step_times_all)
    values["cadence"]["overall"] = 60.0 / _mean(step_all) if np.isfinite(_mean(step_all)) else \
        values["cadence"]["overall"]
    all_strikes = np.sort(np.concatenate([strikes["left"], strikes["right"]]))
    if overground and all_strikes.size >= 2 and all_strikes[-1] > all_strikes[0]:
        p = _at(t, pelvis, all_strikes[[0, -1]])
        values["walking_speed"]["overall"] = float((p[1] - p[0]) @ fwd / (all_strikes[-1] - all_strikes[0]))
    elif not overground:
        values["walking_speed"]["overall"] = float(treadmill_speed) if treadmill_speed is not None else np.nan
    sides = ["left", "right", "overall"]
    out = xr.Dataset(coords={"side": sides, "parameter": list(PARAMETERS)})
    for k, (units, name) in PARAMETERS.items():
        out[k] = ("side", np.array([values[k][s] for s in sides], float), {"units": units, "long_name": name})
    out["n_strides"] = ("side", np.array([n_strides["left"], n_strides["right"],
                                          n_strides["left"] + n_strides["right"]]),
                        {"units": "1", "long_name": "number of complete strides"})
    with np.errstate(invalid="ignore", divide="ignore"):
        si = [200.0 * (values[k]["left"] - values[k]["right"]) / (values[k]["left"] + values[k]["right"])
              for k in PARAMETERS]
    out["symmetry_index"] = ("parameter", np.array(si, float),
                             {"units": "%", "long_name": "symmetry index 200 (L - R) / (L + R)"})
    out.attrs.update(
        source=str(ds.attrs.get("source", "")),
        progression=np.round(fwd, 6).tolist(),
        overground=int(overground),
        history=(f"spatiotemporal from {pts.variable} and {all_t.size} events; walking direction "
                 f"{np.round(fwd, 3).tolist()} ({'overground' if overground else 'treadmill'})" + belt_note),
    )
    if belt_note:
        out.attrs["treadmill_speed_estimated"] = float(treadmill_speed)
    if not overground and treadmill_speed is None:
        warnings.warn("spatiotemporal: the pelvis does not travel (treadmill?) and no stance phase gave the belt "
                      "speed; walking_speed and stride_length are NaN unless treadmill_speed= is given",
                      TwinWarning, stacklevel=2)
    return out


def _belt_speed(t, heel, strikes, offs, fwd) -> float:
    """Treadmill belt speed [m/s]: median backward heel velocity between 10 % and 50 % of each stance.

    In early stance the heel rests on the belt, so it moves backwards at the belt's speed; NaN when no
    complete stance (foot strike then foot off of the same side) is in the trial.
    """
    samples = []
    for s in SIDES:
        v = np.gradient(heel[s], t, axis=0) @ fwd
        for fs in strikes[s]:
            fo = offs[s][offs[s] > fs]
            if not fo.size:
                continue
            d = fo[0] - fs
            window = (t >= fs + 0.1 * d) & (t <= fs + 0.5 * d)
            samples.append(-v[window])
    if not samples:
        return float("nan")
    speed = float(np.nanmedian(np.concatenate(samples)))
    return speed if speed > 0 else float("nan")
