"""Inverse kinematics: joint angles from marker trajectories with OpenSim's IK solver, in memory.

The markers go to OpenSim as a ``TimeSeriesTableVec3`` built from the
Dataset (no file is written) and are tracked frame by frame by
``opensim.InverseKinematicsSolver`` (the solver inside OpenSim's
InverseKinematicsTool: weighted least squares on marker distances, joint
constraints enforced, ``accuracy`` 1e-5 by default). A marker that is NaN in
a frame is skipped in that frame (weight 0; OpenSim's convention) and
counted in ``n_missing(time)``.

A sagittal-plane model (root joint moving the pelvis in X-Y only, as
Gait10dof18musc) can only follow walking along +X near Z = 0. When the
recording walks another way, :func:`inverse_kinematics` first rotates the
markers about Y (:func:`twin.gait.align_progression`) and shifts them
sideways so the pelvis is at Z = 0, and says so in ``history``; the
transform is stored in ``attrs`` (``heading_deg``, ``lateral_shift_m``) so
that :func:`twin.fit.inverse_dynamics` moves the force plates the same way.

Examples
--------
>>> from twin.fit import inverse_kinematics
>>> kin = inverse_kinematics("subject01.osim", twin.read("subject01_walk.trc"))  # doctest: +SKIP
>>> float(kin.attrs["marker_rms_m"]) < 0.02                                         # doctest: +SKIP
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError, check_param
from ..schema import add_history, kinematics as make_kinematics
from . import _osim
from .markersets import SUBJECT01_IK_WEIGHTS, map_markers

__all__ = ["inverse_kinematics", "prepare_markers", "spline_derivative"]

#: fraction of frames a marker must be present in to count as "in the recording"
_PRESENT_FRACTION = 0.5


# ---------------------------------------------------------------------------------------------
# recording preparation (shared with scale)
# ---------------------------------------------------------------------------------------------


def _check_recording(recording: Any, what: str = "recording") -> xr.Dataset:
    if not isinstance(recording, xr.Dataset):
        raise ParameterError(f"{what} must be an xarray.Dataset read by twin.read(), not {type(recording).__name__}")
    if "markers" not in recording:
        raise TwinError(f"the {what} has no 'markers' variable; read a marker file (.trc, .c3d) with twin.read()")
    if recording.sizes.get("time", 0) < 1:
        raise TwinError(f"the {what} has no frames")
    return recording


def _names_of(recording: Any) -> list[str]:
    if isinstance(recording, xr.Dataset) and "marker" in recording.coords:
        return [str(n) for n in recording["marker"].values]
    return []


def _pelvis_markers(names: Sequence[str]) -> list[str]:
    want = ("R.ASIS", "L.ASIS", "V.Sacral", "R.PSIS", "L.PSIS")
    return [n for n in want if n in names]


def prepare_markers(recording: xr.Dataset, model: Any, *, marker_map: Any = "auto", align: Any = "auto",
                    time_range: Sequence[float] | None = None, what: str = "recording") -> xr.Dataset:
    """Rename markers to the model's, select the time range and, for a planar model, align the walking.

    Returns a Recording whose history says what was done; ``attrs`` get
    ``heading_deg`` and ``lateral_shift_m`` (0 when nothing was moved).
    """
    rec = _check_recording(recording, what).copy()
    rec.attrs = dict(recording.attrs)  # never change the caller's Dataset
    if time_range is not None:
        t0, t1 = (float(v) for v in time_range)
        if not t1 >= t0:
            raise ParameterError(f"time_range={tuple(time_range)} must be (start, end) with start <= end")
        tt = rec["time"].values
        if t1 < tt[0] - 1e-9 or t0 > tt[-1] + 1e-9:
            raise TwinError(f"time_range={tuple(time_range)} lies outside the {what} ({tt[0]:.3f}-{tt[-1]:.3f} s)")
        rec = rec.sel(time=slice(t0 - 1e-9, t1 + 1e-9))
        if rec.sizes["time"] == 0:
            raise TwinError(f"time_range={tuple(time_range)} holds no frame of the {what}")
        rec = add_history(rec, f"selected {what} frames {t0:g}-{t1:g} s ({rec.sizes['time']} frames)")
    model_names = list(_osim.model_markers(model))
    rec, _ = map_markers(rec, marker_map, model_markers=model_names)
    heading, shift = 0.0, 0.0
    if align not in ("auto", True, False):
        raise ParameterError(f"align={align!r} must be 'auto', True or False")
    if align is not False and _osim.is_planar(model):
        rec, heading, shift = _align_planar(rec, force=(align is True), what=what)
    rec.attrs["heading_deg"] = heading
    rec.attrs["lateral_shift_m"] = shift
    rec.attrs.setdefault("mirrored_z", 0)
    return rec


def _align_planar(rec: xr.Dataset, *, force: bool, what: str) -> tuple[xr.Dataset, float, float]:
    """Rotate about Y so walking goes along +X (when it is off by > 2 deg) and centre the pelvis on Z = 0
    (when it is off by > 5 cm)."""
    heading = 0.0
    names = [str(n) for n in rec["marker"].values]
    pelvis = _pelvis_markers(names)
    travel = 0.0
    if pelvis:
        c = np.nanmean(rec["markers"].sel(marker=pelvis).values, axis=1)
        c = c[np.isfinite(c).all(axis=1)]
        travel = float(np.linalg.norm(c[-1, [0, 2]] - c[0, [0, 2]])) if len(c) > 1 else 0.0
    if rec.sizes["time"] > 10 and travel > 0.5:  # a standing trial has no walking direction
        try:
            from ..gait import align_progression

            aligned = align_progression(rec)
            h = float(aligned.attrs.get("heading_deg", 0.0))
        except TwinError:
            aligned, h = None, 0.0
        if aligned is not None and (force or abs(h) > 2.0):
            rec, heading = aligned, h
    mirrored = False
    right = [n for n in names if n in ("R.ASIS", "R.Knee.Lat", "R.Heel", "R.Ankle.Lat", "R.Toe.Tip", "R.Toe.Med")]
    left = [n.replace("R.", "L.", 1) for n in right if n.replace("R.", "L.", 1) in names]
    right = [n for n in right if n.replace("R.", "L.", 1) in names]
    if right:
        dz = np.nanmean(rec["markers"].sel(marker=right, axis="z").values - rec["markers"].sel(marker=left, axis="z").values)
        if np.isfinite(dz) and dz < -0.02:
            rec = _mirror_z(rec)
            mirrored = True
            rec = add_history(rec, f"mirrored the {what} (Z -> -Z): its right-side markers lie on the left of the "
                                   "walking direction (a left-handed lab frame or swapped R/L labels)")
    rec.attrs["mirrored_z"] = int(mirrored)
    shift = 0.0
    if pelvis:
        z = np.nanmean(rec["markers"].sel(marker=pelvis, axis="z").values)
        if np.isfinite(z) and (force or abs(z) > 0.05):
            shift = -float(z)
            rec = _shift_z(rec, shift)
            rec = add_history(rec, f"shifted the {what} {shift:+.3f} m along Z so the pelvis is at Z = 0 "
                                   "(the planar model's pelvis cannot move sideways)")
    return rec, heading, shift


def _mirror_z(rec: xr.Dataset) -> xr.Dataset:
    """Reflect positions and forces through the X-Y plane (moments, axial vectors, flip X and Y instead)."""
    out = rec.copy()
    for name, sign in (("markers", (1, 1, -1)), ("grf", (1, 1, -1)), ("cop", (1, 1, -1)), ("free_moment", (-1, -1, 1))):
        if name in out:
            da = out[name]
            out[name] = da.copy(data=da.values * np.array(sign, dtype=float))
    return out


def _shift_z(rec: xr.Dataset, dz: float) -> xr.Dataset:
    out = rec.copy()
    for name in ("markers", "cop"):
        if name in out:
            da = out[name]
            vals = da.values.copy()
            vals[..., 2] += dz  # the schema puts "axis" last
            out[name] = da.copy(data=vals)
    return out


def apply_alignment(rec: xr.Dataset, heading_deg: float, lateral_shift_m: float, mirrored_z: bool = False) -> xr.Dataset:
    """Move force/marker data the way :func:`prepare_markers` moved the trial (rotation about Y, mirror, Z shift)."""
    out = rec
    if heading_deg:
        a = np.radians(heading_deg)
        # align_progression removed a rotation by heading about +Y: apply R_y(-heading)
        c, s = np.cos(a), np.sin(a)
        rot = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
        out = out.copy()
        for name in ("markers", "grf", "cop", "free_moment"):
            if name in out:
                da = out[name]
                out[name] = da.copy(data=da.values @ rot.T)
        out = add_history(out, f"rotated {heading_deg:.1f} deg about Y like the kinematics")
    if mirrored_z:
        out = add_history(_mirror_z(out), "mirrored (Z -> -Z) like the kinematics")
    if lateral_shift_m:
        out = _shift_z(out, lateral_shift_m)
        out = add_history(out, f"shifted {lateral_shift_m:+.3f} m along Z like the kinematics")
    return out


# ---------------------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------------------


def _subtree_markers(model: Any, used: set[str]) -> dict[str, tuple[list[str], list[str]]]:
    """Coordinate -> (markers on its child body and below that the model has, those of them in use)."""
    children: dict[str, list[str]] = {}
    joint_of: dict[str, Any] = {}
    for j in model.getJointSet():
        parent = j.getParentFrame().findBaseFrame().getName()
        child = j.getChildFrame().findBaseFrame().getName()
        children.setdefault(parent, []).append(child)
        joint_of[child] = j
    on_body: dict[str, list[str]] = {}
    for name, body in _osim.model_markers(model).items():
        on_body.setdefault(body, []).append(name)

    def below(body: str) -> list[str]:
        out = list(on_body.get(body, []))
        for c in children.get(body, []):
            out += below(c)
        return out

    result = {}
    for child, j in joint_of.items():
        all_m = below(child)
        for k in range(j.numCoordinates()):
            c = j.get_coordinates(k)
            if c.getDefaultLocked():
                continue
            result[c.getName()] = (all_m, [m for m in all_m if m in used])
    return result


class _IKProblem:
    """OpenSim IK on a model for given marker data, frame by frame."""

    def __init__(self, model: Any, names: list[str], positions: np.ndarray, times: np.ndarray,
                 weights: Mapping[str, float], coordinate_tasks: Mapping[str, tuple[float, float]],
                 accuracy: float):
        o = _osim.osim()
        self.model = model
        self.names = names
        self.positions = positions
        self.times = np.asarray(times, dtype=float)
        table = _osim.markers_table(positions, names, self.times)
        wset = o.SetMarkerWeights()
        for n in names:
            wset.cloneAndAppend(o.MarkerWeight(n, float(weights.get(n, 1.0))))
        self.mref = o.MarkersReference(table, wset)
        crefs = o.SimTKArrayCoordinateReference()
        for cname, (value, weight) in coordinate_tasks.items():
            cref = o.CoordinateReference(cname, o.Constant(float(value)))
            cref.setWeight(float(weight))
            crefs.push_back(cref)
        self.solver = o.InverseKinematicsSolver(model, self.mref, crefs, float("inf"))
        self.solver.setAccuracy(float(accuracy))
        self.coords = list(model.getCoordinateSet())

    def _solve(self, state: Any, i: int, assemble: bool) -> None:
        state.setTime(float(self.times[i]))
        try:
            if assemble:
                self.solver.assemble(state)
            else:
                self.solver.track(state)
        except Exception as exc:
            raise TwinError(f"OpenSim IK failed at t = {self.times[i]:.4f} s ({str(exc).strip()[:300]}); check that the "
                            "markers belong to this model and that enough of them are present in that frame") from None

    def run(self, state: Any) -> tuple[np.ndarray, np.ndarray]:
        """q (n_time, n_coord) in the model's coordinate-set order, and marker error vectors
        model - recorded (n_time, n_marker, 3) [m], NaN where the marker is missing.

        The solve starts (assembles) at the frame with the most markers nearest the middle of the trial and
        tracks forwards to the end, then backwards from it to the start: a trial's first frames are often
        the worst (subject far from the cameras, turning), and an assembly there can settle in a wrong
        local minimum (a knee bent backwards) that tracking keeps for many frames.
        """
        o = _osim.osim()
        n = self.times.size
        q = np.empty((n, len(self.coords)))
        where = np.full((n, len(self.names), 3), np.nan)
        col = {name: i for i, name in enumerate(self.names)}
        locs = o.SimTKArrayVec3()
        counts = np.isfinite(self.positions).all(axis=2).sum(axis=1)
        best = np.flatnonzero(counts == counts.max())
        k0 = int(best[np.argmin(np.abs(best - (n - 1) / 2))])
        order_of_frames = list(range(k0, n)) + list(range(k0 - 1, -1, -1))
        order = None
        for i in order_of_frames:
            if i == k0 - 1:  # start the backward sweep from the first solved frame
                for k, c in enumerate(self.coords):
                    c.setValue(state, float(q[k0, k]), False)
            self._solve(state, i, assemble=(i == k0))
            for k, c in enumerate(self.coords):
                q[i, k] = c.getValue(state)
            self.solver.computeCurrentMarkerLocations(locs)
            if order is None:
                order = [col[self.solver.getMarkerNameForIndex(k)] for k in range(locs.size())]
            for k in range(locs.size()):
                v = locs.getElt(k)
                where[i, order[k]] = (v[0], v[1], v[2])
        err = where - self.positions
        return q, err


def spline_derivative(time: np.ndarray, values: np.ndarray, order: int = 1) -> np.ndarray:
    """Time derivative of each column by a smoothing spline (GCV-chosen smoothing, like OpenSim's GCVSpline).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 1, 101)
    >>> d = spline_derivative(t, np.sin(2 * np.pi * t)[:, None])
    >>> bool(np.allclose(d[10:-10, 0], 2 * np.pi * np.cos(2 * np.pi * t[10:-10]), rtol=0, atol=0.05))
    True
    """
    from scipy.interpolate import make_smoothing_spline

    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    if time.size < 5:
        if time.size >= 2 and order == 1:
            return np.gradient(values, time, axis=0)
        return np.zeros_like(values)
    for k in range(values.shape[1]):
        y = values[:, k]
        ok = np.isfinite(y)
        if ok.sum() < 5:
            continue
        spl = make_smoothing_spline(time[ok], y[ok])
        out[:, k] = spl.derivative(order)(time)
    return out


def _weights_for(names: Sequence[str], marker_weights: Mapping[str, float] | None) -> dict[str, float]:
    w = {n: SUBJECT01_IK_WEIGHTS.get(n, 1.0) for n in names}
    for name, value in (marker_weights or {}).items():
        check_param(f"marker_weights[{name!r}]", float(value), minimum=0.0)
        w[str(name)] = float(value)
    return w


def _coordinate_tasks(model: Any, coordinate_weights: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    """{coordinate: weight} or {coordinate: (value, weight)} -> {coordinate: (value, weight)}; value defaults to
    the coordinate's default value."""
    names = {c.getName(): c for c in model.getCoordinateSet()}
    out = {}
    for cname, spec in (coordinate_weights or {}).items():
        if cname not in names:
            raise ParameterError(f"coordinate_weights names {cname!r}, which the model lacks; it has {sorted(names)}")
        if isinstance(spec, (tuple, list)):
            value, weight = float(spec[0]), float(spec[1])
        else:
            value, weight = float(names[cname].getDefaultValue()), float(spec)
        check_param(f"coordinate_weights[{cname!r}]", weight, minimum=0.0)
        if weight > 0:
            out[cname] = (value, weight)
    return out


def select_markers(model: Any, rec: xr.Dataset, weights: Mapping[str, float],
                   coordinate_tasks: Mapping[str, Any], *, what: str = "recording") -> tuple[list[str], dict[str, Any]]:
    """Markers to track (model and recording share them, weight > 0, present in some frames) and a report.

    Raises TwinError when a coordinate has no tracked marker on its body or below it (and no coordinate task).
    """
    model_names = _osim.model_markers(model)
    rec_names = [str(n) for n in rec["marker"].values]
    vals = rec["markers"].transpose("time", "marker", "axis").values
    present = np.isfinite(vals).all(axis=2).mean(axis=0)
    frac = dict(zip(rec_names, present))
    used = [n for n in rec_names if n in model_names and weights.get(n, 1.0) > 0 and frac[n] > 0]
    report = {
        "n_used": len(used),
        "used": used,
        "not_in_model": [n for n in rec_names if n not in model_names],
        "not_in_recording": [n for n in model_names if n not in rec_names],
        "zero_weight": [n for n in rec_names if n in model_names and weights.get(n, 1.0) <= 0],
        "never_present": [n for n in rec_names if n in model_names and frac[n] == 0],
        "mostly_missing": [n for n in used if frac[n] < _PRESENT_FRACTION],
    }
    need = _subtree_markers(model, set(used))
    blind = {c: allm for c, (allm, inuse) in need.items() if not inuse and c not in coordinate_tasks}
    if blind:
        lines = [f"{c} (needs one of: {', '.join(allm) if allm else 'no marker on that body or below in the model'})"
                 for c, allm in blind.items()]
        raise TwinError(
            f"the {what} lacks the markers the model needs: {len(used)} of the model's {len(model_names)} markers "
            f"are usable ({', '.join(used) or 'none'}), and these coordinates have no tracked marker on their body "
            f"or below it: {'; '.join(lines)}. Give the markers (a marker_map for other names), or hold those "
            "coordinates with coordinate_weights={name: weight}"
        )
    if len(used) < 3:
        raise TwinError(f"the {what} shares only {len(used)} marker(s) with the model ({', '.join(used) or 'none'}); "
                        "IK needs at least 3")
    return used, report


def inverse_kinematics(
    model: Any,
    recording: xr.Dataset,
    *,
    marker_weights: Mapping[str, float] | None = None,
    coordinate_weights: Mapping[str, Any] | None = None,
    accuracy: float = 1e-5,
    time_range: Sequence[float] | None = None,
    marker_map: Any = "auto",
    align: Any = "auto",
) -> xr.Dataset:
    """Joint angles that best fit a recording's markers (OpenSim's IK solver, markers passed in memory).

    Parameters
    ----------
    model : str, path-like, opensim.Model or twin.model.BodyParams
        The (scaled) model with its markers, e.g. the model :func:`twin.fit.scale` returns.
    recording : xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m], OpenSim axes.
    marker_weights : mapping, optional
        Marker name -> weight (0 drops it). Defaults: OpenSim's subject01
        walk_Setup_IK.xml weights for those names, 1 for any other marker.
    coordinate_weights : mapping, optional
        Coordinate -> weight, or -> (value [rad or m], weight): a task holding the
        coordinate near that value (default: its default value). Needed for a
        coordinate no marker can see (e.g. ``lumbar_extension`` without trunk markers).
    accuracy : float, default 1e-5
        Solver accuracy (as OpenSim's IK tool).
    time_range : (float, float), optional
        Start and end time [s]; default the whole recording.
    marker_map : "auto", str, mapping or None
        How the recording's marker names map to the model's
        (:func:`twin.fit.markersets.map_markers`); "auto" recognises the BMClab,
        Plug-in-Gait and OpenCap names.
    align : "auto", bool
        For a sagittal-plane model: rotate/shift the markers so walking goes along
        +X at Z = 0 ("auto": when the heading is off by > 2 deg or the pelvis by > 5 cm).

    Returns
    -------
    xarray.Dataset
        Kinematics: ``q(time, coordinate)`` [rad or m], ``qdot`` (derivative of a
        degree-5 GCV spline, OpenSim's GCVSplineSet), ``marker_error(time, marker)`` [m] (NaN where the marker is
        missing), ``marker_rms(time)``, ``marker_max(time)`` [m], ``n_missing(time)``;
        attrs ``marker_rms_m`` (RMS over frames and markers), ``marker_max_m``,
        ``n_markers``, ``markers_report`` (JSON: markers used, not in the model,
        not in the recording, missing), ``settings`` (JSON), ``opensim_version``,
        ``heading_deg``, ``lateral_shift_m``, ``history``.

    Raises
    ------
    TwinError
        No markers, markers the model needs absent, IK failure.

    Examples
    --------
    >>> import twin, twin.fit
    >>> kin = twin.fit.inverse_kinematics("subject01.osim", twin.read("subject01_walk.trc"))  # doctest: +SKIP
    >>> kin.q.sel(coordinate="knee_angle_r").attrs["units"]                                   # doctest: +SKIP
    'rad or m (see coordinate_type)'
    """
    check_param("accuracy", float(accuracy), minimum=1e-12, maximum=1.0)
    o = _osim.osim()
    m, source = _osim.load_model(model, marker_names=_names_of(recording))
    rec = prepare_markers(recording, m, marker_map=marker_map, align=align, time_range=time_range)
    with _osim.quiet():
        state = m.initSystem()
    weights = _weights_for([str(n) for n in rec["marker"].values], marker_weights)
    tasks = _coordinate_tasks(m, coordinate_weights)
    used, report = select_markers(m, rec, weights, tasks)
    pos = rec["markers"].sel(marker=used).transpose("time", "marker", "axis").values
    times = rec["time"].values
    with _osim.quiet():
        problem = _IKProblem(m, used, pos, times, weights, tasks, accuracy)
        q, err_vec = problem.run(state)
    err = np.linalg.norm(err_vec, axis=2)
    err_sag = np.linalg.norm(err_vec[..., :2], axis=2)
    ctypes = _osim.coordinate_types(m)
    cnames = [c.getName() for c in m.getCoordinateSet()]
    qdot = _osim.spline_fit(times, q)[1] if times.size >= 6 else spline_derivative(times, q)
    present = np.isfinite(pos).all(axis=2)
    with np.errstate(invalid="ignore"):
        rms_t = np.sqrt(np.nanmean(err ** 2, axis=1))
        max_t = np.nanmax(np.where(np.isfinite(err), err, -np.inf), axis=1)
    max_t[~np.isfinite(max_t)] = np.nan
    n_missing = (~present).sum(axis=1)
    report["missing_frames"] = {n: int((~present[:, i]).sum()) for i, n in enumerate(used) if (~present[:, i]).any()}
    settings = {"accuracy": float(accuracy), "constraint_weight": "inf",
                "marker_weights": {n: weights.get(n, 1.0) for n in used},
                "coordinate_tasks": {k: list(v) for k, v in tasks.items()},
                "time_range": [float(times[0]), float(times[-1])], "marker_map": rec.attrs.get("marker_map", "none")}
    history = rec.attrs.get("history", "")
    line = (f"twin.fit.inverse_kinematics: OpenSim {_osim.opensim_version()} InverseKinematicsSolver on {source}, "
            f"{len(used)} markers, {times.size} frames, accuracy {accuracy:g}; qdot by GCV-spline derivative")
    history = f"{history}\n{line}" if history else line
    total_rms = float(np.sqrt(np.nanmean(err ** 2))) if np.isfinite(err).any() else float("nan")
    sag_rms = float(np.sqrt(np.nanmean(err_sag ** 2))) if np.isfinite(err_sag).any() else float("nan")
    ds = make_kinematics(
        times, q, cnames, coordinate_type=[ctypes[c] for c in cnames], source=str(recording.attrs.get("source", "")),
        history=history, marker_rms_m=total_rms, marker_max_m=float(np.nanmax(err)) if np.isfinite(err).any() else float("nan"),
        marker_rms_sagittal_m=sag_rms, n_markers=len(used), markers_report=json.dumps(report), settings=json.dumps(settings),
        opensim_version=_osim.opensim_version(), model=source,
        heading_deg=float(rec.attrs.get("heading_deg", 0.0)), lateral_shift_m=float(rec.attrs.get("lateral_shift_m", 0.0)),
        mirrored_z=int(rec.attrs.get("mirrored_z", 0)),
    )
    ds["qdot"] = (("time", "coordinate"), qdot, {"units": "rad/s or m/s (see coordinate_type)",
                                                 "long_name": "generalized speed (GCV spline derivative of q)"})
    ds = ds.assign_coords(marker=used)
    ds["marker_error"] = (("time", "marker"), err, {"units": "m", "long_name": "distance model marker - recorded marker"})
    ds["marker_error_sagittal"] = (("time", "marker"), err_sag, {
        "units": "m", "long_name": "marker error in the X-Y (sagittal) plane, what a planar model can fit"})
    ds["marker_rms"] = (("time",), rms_t, {"units": "m", "long_name": "RMS marker error over the markers of a frame"})
    ds["marker_max"] = (("time",), max_t, {"units": "m", "long_name": "largest marker error of a frame"})
    ds["n_missing"] = (("time",), n_missing.astype(float), {"units": "1", "long_name": "markers missing (NaN) in the frame"})
    for key in ("subject_mass", "subject_height"):
        if key in recording.attrs:
            ds.attrs[key] = recording.attrs[key]
    del o
    return ds
