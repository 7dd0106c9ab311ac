"""Gait event detection: foot strike and foot off from forces, kinematics or shank gyroscopes.

Every detector returns an events Dataset (:func:`twin.schema.events`):
``event_time(event)`` [s] with coords ``event_label`` (``"foot_strike"`` /
``"foot_off"``) and ``event_side`` (``"left"`` / ``"right"``), sorted by time,
with ``attrs["method"]`` and ``attrs["history"]`` saying how they were found.

Detectors
---------
:func:`events_from_force`
    Threshold with hysteresis on the vertical ground reaction force (Y) of
    each plate or foot. Per-foot forces (OpenSim GRF ``.mot`` read with its
    ExternalLoads ``.xml``: a ``side`` dim) give the side directly; plate
    forces are assigned to the foot whose heel-toe line is nearest the centre
    of pressure during the contact (or, without a COP, to the foot that moves
    least). A contact already under way at the first sample has no observable
    strike, one still under way at the last sample no observable foot off:
    those events are not reported.
:func:`events_from_kinematics`
    ``method="zeni"`` (Zeni, Richards & Higginson 2008, Gait Posture 27:710):
    foot strike at the maxima of the heel's position ahead of the pelvis along
    the walking direction, foot off at the minima of the toe's position.
    ``method="velocity"`` (foot-velocity thresholds after Ghoussayni et al.
    2004, Gait Posture 20:266, and O'Connor et al. 2007): foot strike when the
    heel's sagittal speed (forward relative to the ground, and vertical) falls
    below a threshold after mid-swing, foot off when the toe's speed rises
    above it before mid-swing. Works with ``markers`` (C3D/TRC), ``landmarks``
    (gaitkit) and 2-D video ``keypoints`` (a sagittal camera). The walking
    direction comes from the pelvis trajectory (overground walking may go
    along -X), or on a treadmill from the heel's motion relative to the pelvis.
:func:`events_from_imu`
    Sagittal angular rate of a shank (or foot) gyroscope (Aminian et al. 2002,
    J Biomech 35:689; Salarian et al. 2004): mid-swing peaks, foot strike at
    the first marked minimum after each peak, foot off at the deepest minimum
    before it.

:func:`detect_events` picks force > kinematics > IMU with what the Dataset
holds; :func:`compare_events` scores detected events against a reference.

Examples
--------
A synthetic vertical force with two known contacts:

>>> import numpy as np
>>> from twin import schema
>>> from twin.gait import events_from_force
>>> t = np.arange(0, 2.0, 0.001)
>>> fy = np.where((t > 0.2) & (t < 0.8), 700.0, 0.0) + np.where((t > 1.1) & (t < 1.7), 700.0, 0.0)
>>> grf = np.zeros((t.size, 1, 3)); grf[:, 0, 1] = fy
>>> ds = schema.recording(t, grf=grf, plates=["left"], plate_dim="side")
>>> ev = events_from_force(ds)
>>> [(str(lab), round(float(tt), 3)) for lab, tt in zip(ev.event_label.values, ev.event_time.values)]
[('foot_strike', 0.2), ('foot_off', 0.8), ('foot_strike', 1.1), ('foot_off', 1.7)]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import schema
from ..errors import DataError, ParameterError, TwinWarning, check_param
from ._util import (
    SIDES,
    Points,
    _split_name,
    crossing_time,
    event_arrays,
    fill_nan,
    get_point,
    lowpass,
    pelvis_trajectory,
    points_from,
    peak_time,
    progression,
    runs,
    stride_period,
)

__all__ = [
    "events_from_force",
    "events_from_kinematics",
    "events_from_imu",
    "detect_events",
    "compare_events",
]

LABELS = ("foot_strike", "foot_off")


def _make(times, labels, sides, *, source: str, method: str, history: list[str]) -> xr.Dataset:
    ev = schema.events(times, labels, sides, source=source)
    ev.attrs["method"] = method
    ev.attrs["history"] = "\n".join(history)
    return ev


def _rate(time: np.ndarray) -> float:
    if time.size < 2:
        raise DataError(f"the recording has {time.size} sample(s); event detection needs a time series")
    return float(1.0 / np.median(np.diff(time)))


# --------------------------------------------------------------------------------------------------
# force plates
# --------------------------------------------------------------------------------------------------
def events_from_force(
    ds: xr.Dataset,
    *,
    threshold: float = 20.0,
    hysteresis: float = 5.0,
    min_duration: float = 0.1,
    min_gap: float = 0.03,
    positions: xr.Dataset | None = None,
    markers: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Foot strike / foot off from the vertical ground reaction force.

    A contact starts when the vertical force (Y) rises above
    ``threshold + hysteresis`` and ends when it falls below
    ``threshold - hysteresis``; the event times are the linearly interpolated
    crossings of ``threshold`` itself, so the hysteresis only rejects noise
    and does not bias the times.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``grf(time|analog_time, plate|side, axis)`` [N]
        (and ``cop`` to assign plate contacts to feet).
    threshold : float, default 20
        Contact threshold on the vertical force [N].
    hysteresis : float, default 5
        Half-width of the hysteresis band [N]; must be below ``threshold``.
    min_duration : float, default 0.1
        Contacts shorter than this [s] are dropped (impacts of a swinging foot,
        noise).
    min_gap : float, default 0.03
        Contacts separated by less than this [s] are merged.
    positions : xarray.Dataset, optional
        Markers/landmarks used to tell which foot is on a plate, when ``ds``
        itself has none (e.g. a TRC read separately from a ``.forces`` file).
    markers : mapping, optional
        Marker names by role, e.g. ``{"left_heel": "LHEE", "right_toe": "RTOE"}``.

    Returns
    -------
    xarray.Dataset
        Events (``event_time``, ``event_label``, ``event_side``).

    Raises
    ------
    DataError
        No ``grf``, no vertical force above the threshold, a force that points
        down (action on the plate instead of the reaction) or a force whose
        largest component is horizontal (the file's vertical axis was not
        converted to Y-up).

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 1.0, 0.001)
    >>> grf = np.zeros((t.size, 1, 3)); grf[:, 0, 1] = np.where(t > 0.3, 600.0, 0.0)
    >>> ev = events_from_force(schema.recording(t, grf=grf, plates=["right"], plate_dim="side"))
    >>> ev.event_label.values.tolist(), round(float(ev.event_time[0]), 3)
    (['foot_strike'], 0.3)
    """
    check_param("threshold", threshold, minimum=0.0, types=(int, float))
    check_param("hysteresis", hysteresis, minimum=0.0, types=(int, float))
    check_param("min_duration", min_duration, minimum=0.0, types=(int, float))
    check_param("min_gap", min_gap, minimum=0.0, types=(int, float))
    if hysteresis >= threshold and threshold > 0:
        raise ParameterError(f"hysteresis={hysteresis} must be smaller than threshold={threshold}")
    if not isinstance(ds, xr.Dataset) or "grf" not in ds.data_vars:
        have = sorted(map(str, ds.data_vars)) if isinstance(ds, xr.Dataset) else type(ds).__name__
        raise DataError(f"no ground reaction force: the Dataset has no 'grf' variable (it holds {have})")
    grf = ds["grf"]
    tdim = schema.time_dim(grf)
    cdim = "side" if "side" in grf.dims else "plate"
    grf = grf.transpose(tdim, cdim, "axis")
    t = np.asarray(ds[tdim].values, float)
    _rate(t)
    f = np.asarray(grf.values, float)
    fy = f[:, :, 1]
    _check_vertical(f, threshold)
    channels = [str(v) for v in grf[cdim].values] if cdim in grf.coords else [str(i) for i in range(f.shape[1])]
    history = [f"events_from_force: vertical GRF threshold {threshold:g} N (hysteresis +/-{hysteresis:g} N), "
               f"contacts >= {min_duration:g} s on {len(channels)} {cdim}(s)"]

    pts = None
    if cdim == "plate":
        src = positions if positions is not None else ds
        try:
            pts = points_from(src)
        except DataError:
            pts = None
        if pts is None:
            history.append("no markers: plate contacts could not be assigned to a foot (event_side '')")
            warnings.warn("events_from_force: no markers to tell which foot is on each plate; events have "
                          "event_side ''. Pass positions=<Dataset with markers>.", TwinWarning, stacklevel=2)
    cop = ds["cop"].transpose(tdim, cdim, "axis").values if "cop" in ds.data_vars else None

    times, labels, sides = [], [], []
    n_edge = 0
    for c, name in enumerate(channels):
        contacts = _contacts(t, fy[:, c], threshold, hysteresis, min_duration, min_gap)
        for t_on, t_off, k0, k1 in contacts:
            if cdim == "side":
                side = name if name in SIDES else ""
            elif pts is None:
                side = ""
            else:
                side = _side_of_contact(pts, t, k0, k1, None if cop is None else cop[:, c], markers)
            if np.isfinite(t_on):
                times.append(t_on), labels.append("foot_strike"), sides.append(side)
            else:
                n_edge += 1
            if np.isfinite(t_off):
                times.append(t_off), labels.append("foot_off"), sides.append(side)
            else:
                n_edge += 1
    if n_edge:
        history.append(f"{n_edge} event(s) not observed (contact under way at the trial's start or end)")
    history.append(f"found {labels.count('foot_strike')} foot_strike, {labels.count('foot_off')} foot_off")
    return _make(times, labels, sides, source=str(ds.attrs.get("source", "")), method="force", history=history)


def _check_vertical(f: np.ndarray, threshold: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        peak = np.nanmax(np.abs(f), axis=(0, 1)) if f.size else np.zeros(3)
        fy_max = float(np.nanmax(f[:, :, 1])) if f.size else np.nan
        fy_min = float(np.nanmin(f[:, :, 1])) if f.size else np.nan
    if not np.all(np.isfinite(peak)):
        raise DataError("the ground reaction force is entirely NaN; nothing to detect contacts on")
    if peak[1] < 0.5 * max(peak[0], peak[2]):
        big = "xz"[int(np.argmax([peak[0], peak[2]]))]
        raise DataError(
            f"no vertical force: the largest GRF component is on axis {big!r} ({max(peak[0], peak[2]):.0f} N) "
            f"while Y (vertical in twin) peaks at {peak[1]:.0f} N; the reader did not rotate the plate frame to "
            "Y-up (read it with up='z')"
        )
    if fy_max < threshold:
        if fy_min < -threshold:
            raise DataError(
                f"the vertical GRF is negative (min {fy_min:.0f} N, max {fy_max:.0f} N): these are the forces on "
                "the plate, not the ground reaction on the foot; negate grf before detecting events"
            )
        raise DataError(f"the vertical GRF never exceeds threshold={threshold:g} N (max {fy_max:.1f} N): no foot "
                        "contact in this recording")


def _contacts(t, fy, threshold, hysteresis, min_duration, min_gap):
    """(t_on, t_off, i_on, i_off) per contact; NaN time for an event not observed (at an edge)."""
    n = fy.size
    y = np.where(np.isfinite(fy), fy, 0.0)
    code = np.full(n, -1, dtype=np.int8)
    code[y > threshold + hysteresis] = 1
    code[y < threshold - hysteresis] = 0
    if code[0] < 0:
        code[0] = 1 if y[0] >= threshold else 0
    idx = np.where(code >= 0, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    contact = code[idx] == 1
    starts, stops = runs(contact)
    if starts.size == 0:
        return []
    if min_gap > 0 and starts.size > 1:
        gap = t[starts[1:]] - t[stops[:-1]]
        keep = np.concatenate([[True], gap >= min_gap])
        stops = np.concatenate([stops[np.flatnonzero(keep[1:])], stops[-1:]])
        starts = starts[keep]
    # widen each contact to the crossings of `threshold` itself (the hysteresis triggers lie inside them)
    below = np.concatenate([[-1], np.flatnonzero(y < threshold)])
    above = np.flatnonzero(y >= threshold)                              # not empty: there is a contact
    first = below[np.searchsorted(below, starts) - 1] + 1              # first sample >= threshold
    last = above[np.maximum(np.searchsorted(above, stops, side="right") - 1, 0)]   # last sample >= threshold
    last = np.maximum(last, first)
    strike_seen = first > 0
    off_seen = (stops < n - 1) & (last < n - 1)
    t_on = np.where(strike_seen, crossing_time(t, y, np.maximum(first - 1, 0), threshold), np.nan)
    t_off = np.where(off_seen, crossing_time(t, y, np.minimum(last, n - 2), threshold), np.nan)
    lo = np.where(strike_seen, t_on, t[first])
    hi = np.where(off_seen, t_off, t[last])
    # a contact cut by the trial's edge may be shorter; keep it unless it is a blip
    keep = (hi - lo) >= np.where(strike_seen & off_seen, min_duration, 0.5 * min_duration)
    return [(float(a), float(b), int(i), int(j)) for a, b, i, j in zip(t_on[keep], t_off[keep], first[keep], last[keep])]


def _interp_rows(t_src: np.ndarray, x: np.ndarray, t_new: np.ndarray) -> np.ndarray:
    """Interpolate (n, 3) positions to new times, per column, NaN-aware."""
    out = np.full((t_new.size, x.shape[1]), np.nan)
    for k in range(x.shape[1]):
        ok = np.isfinite(x[:, k])
        if ok.sum() >= 2:
            out[:, k] = np.interp(t_new, t_src[ok], x[ok, k], left=np.nan, right=np.nan)
    return out


def _side_of_contact(pts: Points, t_force, k0, k1, cop, mapping) -> str:
    """Foot on a plate during samples k0..k1 of the force time base."""
    tm = np.linspace(t_force[k0], t_force[k1], 9)[2:-2]
    score = {}
    for side in SIDES:
        foot = [get_point(pts, role, side, mapping, required=False) for role in ("heel", "toe", "ankle")]
        foot = [p for p in foot if p is not None]
        if not foot:
            continue
        seg = [_interp_rows(pts.time, p, tm) for p in foot]
        if cop is not None:
            c = np.stack([np.interp(tm, t_force, cop[:, k], left=np.nan, right=np.nan) for k in range(3)], axis=1)
            d = _dist_to_foot(c, seg)
        else:
            # without COP: the foot on the ground moves least
            dt = 0.02
            seg2 = [_interp_rows(pts.time, p, tm + dt) for p in foot]
            d = np.nanmean([np.hypot(*(b - a)[:, [0, 2]].T) / dt for a, b in zip(seg, seg2)], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score[side] = float(np.nanmedian(d))
    score = {k: v for k, v in score.items() if np.isfinite(v)}
    if not score:
        return ""
    return min(score, key=score.get)


def _dist_to_foot(c: np.ndarray, seg: list[np.ndarray]) -> np.ndarray:
    """Horizontal distance from points c (n, 3) to the foot: segments between foot markers, or the markers."""
    h = [0, 2]
    best = np.full(c.shape[0], np.inf)
    for a in seg:
        best = np.fmin(best, np.hypot(*(c[:, h] - a[:, h]).T))
    for i in range(len(seg)):
        for j in range(i + 1, len(seg)):
            a, b = seg[i][:, h], seg[j][:, h]
            ab = b - a
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.clip(np.sum((c[:, h] - a) * ab, axis=1) / np.sum(ab * ab, axis=1), 0, 1)
            proj = a + u[:, None] * ab
            best = np.fmin(best, np.hypot(*(c[:, h] - proj).T))
    best[~np.isfinite(best)] = np.nan
    return best


# --------------------------------------------------------------------------------------------------
# kinematics
# --------------------------------------------------------------------------------------------------
def events_from_kinematics(
    ds: xr.Dataset,
    *,
    method: str = "hybrid",
    markers: Mapping[str, str] | None = None,
    cutoff: float | None = 7.0,
    threshold: float | None = None,
    threshold_fraction: float = 0.1,
    camera: int | str | None = None,
) -> xr.Dataset:
    """Foot strike / foot off from heel, toe and pelvis trajectories.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``markers``, ``landmarks`` or ``keypoints``. Heel, toe
        and pelvis points are found by name (``RHEE``/``R.Heel``/``RHeel``/
        ``r_calc``/``right_heel``..., ``RTOE``/``R.Toe.Tip``/``R.MT2``/
        ``right_foot_index``..., sacrum or ASIS/PSIS or hips).
    method : {"hybrid", "zeni", "velocity"}, default "hybrid"
        Zeni et al. 2008 positions relative to the pelvis, or foot-velocity
        thresholds (see the module docstring). ``"hybrid"`` takes foot strikes
        from the velocity method and foot offs from Zeni: on the reference
        trials Zeni's strikes come 20-70 ms early (heel furthest forward
        before it lands) and the velocity method's offs 30-70 ms early (the
        toe marker moves before the toe leaves the ground), while the other
        two are unbiased (see ``twin bench io``). This choice was made on the
        same reference trials it is scored on; no held-out set exists.
    markers : mapping, optional
        Names by role overriding the search: keys ``"left_heel"``,
        ``"right_heel"``, ``"left_toe"``, ``"right_toe"``, ``"pelvis"``
        (or ``"left_asis"``... ``"left_hip"``).
    cutoff : float or None, default 7
        Low-pass cut-off [Hz] (zero-phase Butterworth) applied to the
        positions first; None to skip.
    threshold : float, optional
        ``method="velocity"`` only: speed threshold in the data's units per
        second (m/s for markers). Default: ``threshold_fraction`` of the
        marker's median mid-swing peak speed.
    threshold_fraction : float, default 0.1
        See ``threshold``.
    camera : int or str, optional
        Which camera's keypoints to use (default: the one with most data).

    Returns
    -------
    xarray.Dataset
        Events; ``attrs["progression"]`` gives the walking direction used.

    Raises
    ------
    DataError
        No positions, no heel/toe/pelvis marker, or too short a recording to
        hold a stride.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 4, 0.01)
    >>> ph = 2 * np.pi * t / 1.0                      # 1 s strides, walking along +X at 1.2 m/s
    >>> pelvis = np.stack([1.2 * t, np.full_like(t, 0.9), np.zeros_like(t)], 1)
    >>> def foot(shift):
    ...     x = 1.2 * t + 0.3 * np.sin(ph + shift)
    ...     return np.stack([x, 0.05 + 0.05 * np.clip(np.cos(ph + shift), 0, None), np.zeros_like(t)], 1)
    >>> m = np.stack([pelvis, foot(0), foot(0) + [0.2, 0, 0], foot(np.pi), foot(np.pi) + [0.2, 0, 0]], 1)
    >>> ds = schema.recording(t, markers=m, marker_names=["SACR", "LHEE", "LTOE", "RHEE", "RTOE"])
    >>> ev = events_from_kinematics(ds, method="zeni")
    >>> np.round(ev.event_time.where(ev.event_label == "foot_strike", drop=True).values[:2], 2).tolist()
    [0.25, 0.75]
    """
    check_param("method", method, choices=("hybrid", "zeni", "velocity"))
    if method == "hybrid":
        common = dict(markers=markers, cutoff=cutoff, threshold=threshold, threshold_fraction=threshold_fraction,
                      camera=camera)
        vel = events_from_kinematics(ds, method="velocity", **common)
        zen = events_from_kinematics(ds, method="zeni", **common)
        strikes = vel.where(vel.event_label == "foot_strike", drop=True)
        offs = zen.where(zen.event_label == "foot_off", drop=True)
        ev = schema.events(np.concatenate([strikes.event_time.values, offs.event_time.values]),
                           list(strikes.event_label.values) + list(offs.event_label.values),
                           list(strikes.event_side.values) + list(offs.event_side.values), source=vel.attrs["source"])
        ev.attrs.update({k: v for k, v in zen.attrs.items() if k not in ("kind", "source", "history")})
        ev.attrs["method"] = "kinematics:hybrid"
        ev.attrs["history"] = ("events_from_kinematics(method='hybrid'): foot strikes from the foot-velocity method, "
                               "foot offs from Zeni 2008\n" + vel.attrs.get("history", "") + "\n"
                               + zen.attrs.get("history", ""))
        return ev
    if cutoff is not None:
        check_param("cutoff", cutoff, minimum=0.1, types=(int, float))
    check_param("threshold_fraction", threshold_fraction, minimum=0.0, maximum=1.0, types=(int, float))
    if threshold is not None:
        check_param("threshold", threshold, minimum=0.0, types=(int, float))
    pts = points_from(ds, camera=camera)
    t = pts.time
    rate = _rate(t)
    pelvis = pelvis_trajectory(pts, markers)
    heel = {s: get_point(pts, "heel", s, markers) for s in SIDES}
    toe = {s: get_point(pts, "toe", s, markers) for s in SIDES}
    duration = t[-1] - t[0]
    if duration < 0.6:
        raise DataError(f"the recording lasts {duration:.2f} s: too short to hold a stride (needs > 0.6 s)")
    smooth = {k: lowpass(v, rate, cutoff) for k, v in
              [("pelvis", pelvis)] + [(f"heel_{s}", heel[s]) for s in SIDES] + [(f"toe_{s}", toe[s]) for s in SIDES]}
    fwd, overground, speed = progression(smooth["pelvis"], [smooth["heel_left"], smooth["heel_right"]], t,
                                         planar=pts.planar)
    history = [
        f"events_from_kinematics(method={method!r}) on {pts.variable}"
        + (f" (cutoff {cutoff:g} Hz)" if cutoff else "")
        + f"; walking direction {np.round(fwd, 3).tolist()} "
        + ("(pelvis travel, overground)" if overground else "(heel motion relative to the pelvis: treadmill)")
    ]
    rel_heel = {s: (smooth[f"heel_{s}"] - smooth["pelvis"]) @ fwd for s in SIDES}
    period = stride_period(list(rel_heel.values()), rate)
    if not np.isfinite(period):
        period = 1.1
        history.append("stride period unclear from the data; assumed 1.1 s for peak spacing")
    if duration < 0.8 * period:
        raise DataError(f"the recording lasts {duration:.2f} s, shorter than one stride ({period:.2f} s)")
    times, labels, sides = [], [], []
    for s in SIDES:
        if method == "zeni":
            rel_toe = (smooth[f"toe_{s}"] - smooth["pelvis"]) @ fwd
            hs = _extrema(t, rel_heel[s], period, rate, maxima=True, raw=heel[s])
            to = _extrema(t, rel_toe, period, rate, maxima=False, raw=toe[s])
        else:
            hs, to = _velocity_events(t, smooth[f"heel_{s}"], smooth[f"toe_{s}"], fwd, overground, period, rate,
                                      threshold, threshold_fraction, pts.planar)
        times += list(hs) + list(to)
        labels += ["foot_strike"] * len(hs) + ["foot_off"] * len(to)
        sides += [s] * (len(hs) + len(to))
    history.append(f"stride period ~{period:.2f} s; found {labels.count('foot_strike')} foot_strike, "
                   f"{labels.count('foot_off')} foot_off")
    ev = _make(times, labels, sides, source=str(ds.attrs.get("source", "")), method=f"kinematics:{method}",
               history=history)
    ev.attrs["progression"] = np.round(fwd, 6).tolist()
    ev.attrs["overground"] = int(overground)
    return ev


def _extrema(t, y, period, rate, *, maxima: bool, raw: np.ndarray) -> np.ndarray:
    from scipy.signal import find_peaks

    sig = y if maxima else -y
    ok = np.isfinite(sig)
    if ok.sum() < 5:
        return np.array([])
    f = fill_nan(sig)
    lo, hi = np.nanpercentile(sig, [5, 95])
    idx, _ = find_peaks(f, distance=max(1, int(0.6 * period * rate)), prominence=0.3 * (hi - lo))
    # an extremum next to missing raw data is not trusted
    bad = ~np.all(np.isfinite(raw), axis=1)
    near_gap = np.array([bad[max(0, i - 2): i + 3].any() for i in idx], dtype=bool)
    idx = idx[~near_gap]
    return peak_time(t, f, idx)


def _velocity_events(t, heel, toe, fwd, overground, period, rate, threshold, fraction, planar):
    from scipy.signal import find_peaks

    def sagittal_speed(p):
        vf = np.gradient(p @ fwd, t)
        vy = np.gradient(p[:, 1], t)
        ground = 0.0
        if not overground:
            # treadmill: the foot on the belt moves back at belt speed; take it from the low (stance) samples
            low = p[:, 1] <= np.nanpercentile(p[:, 1], 30)
            ground = float(np.nanmedian(vf[low]))
        return np.hypot(vf - ground, vy), vf - ground

    v_heel, vf_heel = sagittal_speed(heel)
    v_toe, _ = sagittal_speed(toe)
    fv = fill_nan(vf_heel)
    if not np.isfinite(fv).any():
        return np.array([]), np.array([])
    hi = np.nanpercentile(fv, 95)
    swing, props = find_peaks(fv, distance=max(1, int(0.6 * period * rate)), prominence=0.5 * hi, height=0.3 * hi)
    if swing.size == 0:
        return np.array([]), np.array([])
    thr_h = threshold if threshold is not None else fraction * float(np.median(np.interp(swing, np.arange(len(t)), fill_nan(v_heel))))
    thr_t = threshold if threshold is not None else fraction * float(np.median(np.interp(swing, np.arange(len(t)), fill_nan(v_toe))))
    vh, vt = fill_nan(v_heel), fill_nan(v_toe)
    hs, to = [], []
    n = len(t)
    win = int(0.7 * period * rate)
    for k, p in enumerate(swing):
        nxt = swing[k + 1] if k + 1 < swing.size else min(n - 1, p + win)
        seg = vh[p:nxt + 1]
        below = np.flatnonzero(seg < thr_h)
        if below.size and below[0] > 0:
            i = p + below[0] - 1
            hs.append(float(crossing_time(t, vh, np.array([i]), thr_h)[0]))
        prv = swing[k - 1] if k > 0 else max(0, p - win)
        seg = vt[prv:p + 1]
        below = np.flatnonzero(seg < thr_t)
        if below.size and below[-1] < seg.size - 1 and (k > 0 or below[-1] > 0 or prv > 0):
            i = prv + below[-1]
            to.append(float(crossing_time(t, vt, np.array([i]), thr_t)[0]))
    return np.array(hs), np.array(to)


# --------------------------------------------------------------------------------------------------
# IMU
# --------------------------------------------------------------------------------------------------
def events_from_imu(
    ds: xr.Dataset,
    *,
    sensor: str | Mapping[str, str] | None = None,
    axis: str = "auto",
    cutoff: float | None = 10.0,
) -> xr.Dataset:
    """Foot strike / foot off from the sagittal angular rate of shank (or foot) gyroscopes.

    The sagittal rate has one large positive peak per stride at mid-swing;
    foot strike is the first marked local minimum after it, foot off the
    deepest minimum in the 40 % of a stride before it (Aminian et al. 2002;
    Salarian et al. 2004).

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``imu_gyro(time, sensor, axis)`` [rad/s].
    sensor : str or mapping, optional
        A sensor name (its side is read from the name) or
        ``{"left": name, "right": name}``. Default: the sensors named like a
        left/right shank (``shank``, ``tibia``...) or, failing that, foot.
    axis : {"auto", "x", "y", "z"}, default "auto"
        The gyroscope axis that is medio-lateral; ``"auto"`` takes the axis of
        largest variance. The sign is set so that the mid-swing peak is
        positive.
    cutoff : float or None, default 10
        Low-pass cut-off [Hz]; None to skip.

    Returns
    -------
    xarray.Dataset
        Events.

    Raises
    ------
    DataError
        No ``imu_gyro``, no shank/foot sensor with a side, or no swing peaks.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 5, 0.01)
    >>> ph = t % 1.0          # strides of 1 s: strike at 0.0, foot off at 0.6, dips just after/before
    >>> w = (np.where(ph < 0.6, 0.8 * np.sin(np.pi * ph / 0.6), 5 * np.sin(np.pi * (ph - 0.6) / 0.4))
    ...      - 2 * np.exp(-((ph - 0.03) / 0.02) ** 2) - 2 * np.exp(-((ph - 0.57) / 0.02) ** 2))
    >>> ds = schema.recording(t)
    >>> ds["imu_gyro"] = (("time", "sensor", "axis"), np.stack([np.zeros_like(t), np.zeros_like(t), w], 1)[:, None])
    >>> ds["imu_gyro"].attrs["units"] = "rad/s"
    >>> ds = ds.assign_coords(sensor=["shank_r"], axis=["x", "y", "z"])
    >>> ev = events_from_imu(ds, cutoff=None)
    >>> np.round(ev.event_time.values[:3], 2).tolist(), ev.event_label.values[:3].tolist()
    ([0.57, 1.03, 1.57], ['foot_off', 'foot_strike', 'foot_off'])
    """
    check_param("axis", axis, choices=("auto", "x", "y", "z"))
    if cutoff is not None:
        check_param("cutoff", cutoff, minimum=0.1, types=(int, float))
    if not isinstance(ds, xr.Dataset) or "imu_gyro" not in ds.data_vars:
        have = sorted(map(str, ds.data_vars)) if isinstance(ds, xr.Dataset) else type(ds).__name__
        raise DataError(f"no gyroscope: the Dataset has no 'imu_gyro' variable (it holds {have})")
    gyro = ds["imu_gyro"].transpose("time", "sensor", "axis")
    names = [str(v) for v in gyro["sensor"].values] if "sensor" in gyro.coords else \
        [str(i) for i in range(gyro.sizes["sensor"])]
    chosen = _imu_sensors(names, sensor)
    t = np.asarray(ds["time"].values, float)
    rate = _rate(t)
    history = [f"events_from_imu: sagittal gyro rate of {', '.join(f'{s}={n}' for s, n in chosen.items())}"]
    times, labels, sides = [], [], []
    for side, name in chosen.items():
        w3 = np.asarray(gyro.sel(sensor=name).values, float) if "sensor" in gyro.coords else \
            np.asarray(gyro.values[:, names.index(name)], float)
        if axis == "auto":
            k = int(np.nanargmax(np.nanvar(w3, axis=0)))
        else:
            k = "xyz".index(axis)
        w = lowpass(w3[:, k], rate, cutoff)
        lo, hi = np.nanpercentile(w, [1, 99])
        if abs(lo) > abs(hi):
            w = -w
            lo, hi = -hi, -lo
        hs, to = _gyro_events(t, w, rate)
        history.append(f"{side}: axis {'xyz'[k]}, {len(hs)} strikes, {len(to)} foot offs")
        times += list(hs) + list(to)
        labels += ["foot_strike"] * len(hs) + ["foot_off"] * len(to)
        sides += [side] * (len(hs) + len(to))
    return _make(times, labels, sides, source=str(ds.attrs.get("source", "")), method="imu", history=history)


def _imu_sensors(names: list[str], sensor) -> dict[str, str]:
    if isinstance(sensor, Mapping):
        bad = [k for k in sensor if k not in SIDES]
        if bad:
            raise ParameterError(f"sensor mapping keys must be 'left'/'right', got {bad}")
        missing = [v for v in sensor.values() if v not in names]
        if missing:
            raise ParameterError(f"sensor(s) {missing} not in imu_gyro; sensors are {names}")
        return dict(sensor)
    if isinstance(sensor, str):
        if sensor not in names:
            raise ParameterError(f"sensor={sensor!r} not in imu_gyro; sensors are {names}")
        side = _split_name(sensor)[0]
        if not side:
            raise ParameterError(f"cannot tell the side of sensor {sensor!r} from its name; "
                                 f"pass sensor={{'left': ..., 'right': ...}}")
        return {side: sensor}
    if sensor is not None:
        raise ParameterError(f"sensor must be a name or a {{'left': ..., 'right': ...}} mapping, not {sensor!r}")
    from ._util import ALIASES

    parsed = {n: _split_name(n) for n in names}
    for role in ("shank", "foot"):
        found = {}
        for side in SIDES:
            for n, (s, body) in parsed.items():
                if s == side and any(body.startswith(a) or body.endswith(a) for a in ALIASES[role]):
                    found.setdefault(side, n)
        if found:
            return found
    raise DataError(f"no left/right shank or foot gyroscope among sensors {names}; "
                    "name them with sensor={'left': ..., 'right': ...}")


def _gyro_events(t, w, rate):
    from scipy.signal import find_peaks

    period = stride_period([w], rate)
    if not np.isfinite(period):
        period = 1.1
    f = fill_nan(w)
    hi = np.nanpercentile(f, 99)
    peaks, _ = find_peaks(f, height=0.4 * hi, distance=max(1, int(0.6 * period * rate)), prominence=0.4 * hi)
    hs, to = [], []
    mins, _ = find_peaks(-f, prominence=0.05 * hi)
    for p in peaks:
        after = mins[(mins > p) & (mins <= p + int(0.35 * period * rate))]
        if after.size:
            hs.append(after[0])
        a = max(0, p - int(0.4 * period * rate))
        before = mins[(mins >= a) & (mins < p)]
        if before.size and a > 0:
            to.append(before[np.argmin(f[before])])
    hs = peak_time(t, f, np.array(hs, int)) if hs else np.array([])
    to = peak_time(t, f, np.array(to, int)) if to else np.array([])
    return hs, to


# --------------------------------------------------------------------------------------------------
# choice and comparison
# --------------------------------------------------------------------------------------------------
def detect_events(ds: xr.Dataset, *, method: str = "auto", **options: Any) -> xr.Dataset:
    """Detect gait events with the best method the Dataset allows.

    Parameters
    ----------
    ds : xarray.Dataset
        A Recording.
    method : {"auto", "force", "kinematics", "hybrid", "zeni", "velocity", "imu"}, default "auto"
        ``"kinematics"`` is ``"hybrid"``. ``"auto"``: force plates when ``grf`` holds a usable vertical force,
        else kinematics (hybrid) when heel/toe/pelvis positions are found, else
        shank gyroscopes.
    **options
        Passed to the chosen detector.

    Returns
    -------
    xarray.Dataset
        Events, ``attrs["method"]`` says which detector ran.

    Raises
    ------
    DataError
        Nothing usable, with each detector's reason.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 1.0, 0.001)
    >>> grf = np.zeros((t.size, 1, 3)); grf[:, 0, 1] = np.where(t > 0.5, 600.0, 0.0)
    >>> detect_events(schema.recording(t, grf=grf, plates=["left"], plate_dim="side")).attrs["method"]
    'force'
    """
    check_param("method", method, choices=("auto", "force", "kinematics", "hybrid", "zeni", "velocity", "imu"))
    if method == "kinematics":
        method = "hybrid"
    if method == "force":
        return events_from_force(ds, **options)
    if method in ("hybrid", "zeni", "velocity"):
        return events_from_kinematics(ds, method=method, **options)
    if method == "imu":
        return events_from_imu(ds, **options)
    reasons = []
    for name, fn in (("force", lambda: events_from_force(ds, **options)),
                     ("kinematics", lambda: events_from_kinematics(ds, **options)),
                     ("imu", lambda: events_from_imu(ds, **options))):
        try:
            ev = fn()
        except (DataError, TypeError) as err:
            if isinstance(err, TypeError) and "unexpected keyword" not in str(err):
                raise
            reasons.append(f"{name}: {err}")
            continue
        if ev.sizes.get("event", 0) == 0:
            reasons.append(f"{name}: no events found")
            continue
        if name == "force" and np.any(ev["event_side"].values == ""):
            # plate forces without markers: fall back to kinematics when possible, else keep these
            try:
                kin = events_from_kinematics(ds)
                if kin.sizes.get("event", 0):
                    return kin
            except DataError:
                pass
        return ev
    raise DataError("no gait events could be detected: " + "; ".join(reasons))


def compare_events(detected: xr.Dataset, reference: xr.Dataset, *, tolerance: float = 0.1) -> xr.Dataset:
    """Match detected events to reference events and report the timing errors.

    Events are matched one-to-one within each label and side, closest pairs
    first, when they are at most ``tolerance`` apart. Reference events with no
    match are misses; detected events with no match *inside the span of the
    reference events* (± tolerance) are extras (detections outside an
    annotated window are not counted against the detector).

    Parameters
    ----------
    detected, reference : xarray.Dataset
        Events Datasets.
    tolerance : float, default 0.1
        Largest time difference [s] for a match.

    Returns
    -------
    xarray.Dataset
        ``pair`` dim: ``reference_time``, ``detected_time`` [s], ``error``
        [ms] (detected - reference), coords ``pair_label``, ``pair_side``.
        ``label`` dim (``foot_strike``, ``foot_off``): ``median_abs_error``,
        ``mean_error`` (bias), ``max_abs_error`` [ms], ``n_reference``,
        ``n_matched``, ``n_missed``, ``n_extra``.

    Examples
    --------
    >>> from twin import schema
    >>> ref = schema.events([1.0, 1.6], ["foot_strike", "foot_off"], ["left", "left"])
    >>> det = schema.events([1.01, 1.58], ["foot_strike", "foot_off"], ["left", "left"])
    >>> cmp = compare_events(det, ref)
    >>> cmp.median_abs_error.values.round(1).tolist()
    [10.0, 20.0]
    """
    check_param("tolerance", tolerance, minimum=0.0, types=(int, float))
    td, ld, sd = event_arrays(detected)
    tr, lr, sr = event_arrays(reference)
    pairs = []
    summary = {k: [] for k in ("median_abs_error", "mean_error", "max_abs_error", "n_reference", "n_matched",
                               "n_missed", "n_extra")}
    for label in LABELS:
        errs = []
        n_ref = n_match = n_extra = 0
        for side in sorted(set(sr[lr == label]) | set(sd[ld == label])):
            r = np.sort(tr[(lr == label) & (sr == side)])
            d = np.sort(td[(ld == label) & (sd == side)])
            n_ref += r.size
            if r.size == 0:
                continue
            diff = np.abs(d[None, :] - r[:, None])
            order = np.argsort(diff, axis=None)
            used_r, used_d = set(), set()
            for flat in order:
                i, j = divmod(int(flat), d.size)
                if diff[i, j] > tolerance:
                    break
                if i in used_r or j in used_d:
                    continue
                used_r.add(i), used_d.add(j)
                pairs.append((r[i], d[j], label, side))
                errs.append(d[j] - r[i])
            n_match += len(used_r)
            inside = (d >= r.min() - tolerance) & (d <= r.max() + tolerance)
            n_extra += int(sum(1 for j in np.flatnonzero(inside) if j not in used_d))
        e = np.asarray(errs) * 1e3
        summary["median_abs_error"].append(float(np.median(np.abs(e))) if e.size else np.nan)
        summary["mean_error"].append(float(np.mean(e)) if e.size else np.nan)
        summary["max_abs_error"].append(float(np.max(np.abs(e))) if e.size else np.nan)
        summary["n_reference"].append(n_ref)
        summary["n_matched"].append(n_match)
        summary["n_missed"].append(n_ref - n_match)
        summary["n_extra"].append(n_extra)
    pairs.sort(key=lambda p: p[0])
    out = xr.Dataset(
        {
            "reference_time": ("pair", np.array([p[0] for p in pairs], float), {"units": "s", "long_name": "reference event time"}),
            "detected_time": ("pair", np.array([p[1] for p in pairs], float), {"units": "s", "long_name": "detected event time"}),
            "error": ("pair", np.array([(p[1] - p[0]) * 1e3 for p in pairs], float),
                      {"units": "ms", "long_name": "detected - reference"}),
        },
        coords={"pair_label": ("pair", [p[2] for p in pairs]), "pair_side": ("pair", [p[3] for p in pairs]),
                "label": list(LABELS)},
    )
    units = {"median_abs_error": "ms", "mean_error": "ms", "max_abs_error": "ms"}
    for k, v in summary.items():
        out[k] = ("label", np.asarray(v, float if k in units else int),
                  {"units": units.get(k, "1"), "long_name": k.replace("_", " ")})
    out.attrs.update(tolerance=float(tolerance))
    return out
