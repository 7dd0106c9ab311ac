"""Inverse dynamics: joint moments from kinematics and ground reaction forces, with OpenSim.

The steps are those of OpenSim's InverseDynamicsTool, done in memory:

1. the coordinates are padded and low-pass filtered (``lowpass`` Hz, OpenSim's
   ``Storage.pad`` + ``Storage.lowpassIIR``) and fitted by degree-5 GCV splines
   (``GCVSplineSet``), which give q, q' and q'' at the kinematics' frames;
2. muscles are switched off (the tool's ``forces_to_exclude = Muscles``);
3. the ground reaction force of each foot (``grf``, ``cop``, ``free_moment``,
   interpolated linearly onto the kinematics' frames) is applied to its
   calcaneus (``calcn_r``/``calcn_l``) at the centre of pressure, as an
   ExternalLoads file with ``force/point_expressed_in_body = ground`` would;
4. ``opensim.InverseDynamicsSolver`` gives the generalized forces
   (M q'' + C - G) and the GRF's generalized force Jᵀ F is subtracted.

Force plates that are not yet assigned to feet (a ``plate`` dim, as C3D and
``.forces`` files give them) are assigned per contact: each period a plate
is loaded goes to the foot whose calcaneus is nearest its centre of pressure.

Examples
--------
>>> import twin, twin.fit
>>> rec = twin.read(["subject01_walk.trc", "subject01_walk_grf.mot"])       # doctest: +SKIP
>>> kin = twin.fit.inverse_kinematics("subject01.osim", rec)                 # doctest: +SKIP
>>> dyn = twin.fit.inverse_dynamics("subject01.osim", kin, grf=rec)          # doctest: +SKIP
>>> dyn.moment.sel(coordinate="knee_angle_r").attrs["units"]                 # doctest: +SKIP
'N m or N (see coordinate_type)'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError, check_param
from ..schema import dynamics as make_dynamics
from . import _osim
from .ik import apply_alignment

__all__ = ["inverse_dynamics", "grf_by_foot"]

DEFAULT_BODIES = {"right": "calcn_r", "left": "calcn_l"}
_CONTACT_N = 20.0


def _check_kinematics(kin: Any, model: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not isinstance(kin, xr.Dataset) or "q" not in kin:
        raise ParameterError("kinematics must be a Kinematics Dataset with q(time, coordinate) "
                             "(twin.fit.inverse_kinematics or twin.read of an IK .mot)")
    names = [c.getName() for c in model.getCoordinateSet()]
    have = [str(c) for c in kin["coordinate"].values]
    missing = [c for c in names if c not in have]
    if missing:
        raise TwinError(f"the kinematics lack the model's coordinates {missing}; they hold {have}")
    q = kin["q"].sel(coordinate=names).transpose("time", "coordinate").values.astype(float)
    if not np.isfinite(q).all():
        bad = [names[j] for j in range(len(names)) if not np.isfinite(q[:, j]).all()]
        raise TwinError(f"the kinematics have NaN in {bad}; fill the gaps (or trim the trial) before inverse dynamics")
    t = kin["time"].values.astype(float)
    if t.size < 6:
        raise TwinError(f"the kinematics have {t.size} frames; inverse dynamics needs at least 6")
    return t, q, names


def _interp(src_t: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    flat = values.reshape(values.shape[0], -1)
    out = np.empty((t.size, flat.shape[1]))
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t, src_t, flat[:, j])
    return out.reshape((t.size,) + values.shape[1:])


def _force_arrays(grf: xr.Dataset, t: np.ndarray) -> tuple[list[str], str, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """GRF variables on the kinematics' frames: names along side/plate, dim, F, P, M (n, k, 3), notes."""
    if not isinstance(grf, xr.Dataset) or "grf" not in grf:
        raise TwinError("grf= needs a Recording with a 'grf' variable (read the force file with the markers: "
                        "twin.read([walk.trc, walk_grf.mot]))")
    da = grf["grf"]
    tdim = next((d for d in da.dims if d in ("time", "analog_time")), None)
    if tdim is None:
        raise TwinError("the 'grf' variable has no time dim")
    who_dim = "side" if "side" in da.dims else "plate"
    names = [str(v) for v in grf[who_dim].values]
    src_t = grf[tdim].values.astype(float)
    step = float(np.median(np.diff(src_t))) if src_t.size > 1 else 0.0
    tol = max(step, 1e-3) + 1e-9
    if src_t.size < 2 or src_t[0] > t[0] + tol or src_t[-1] < t[-1] - tol:
        span = f"{src_t[0]:.3f}-{src_t[-1]:.3f} s" if src_t.size else "no samples"
        raise TwinError(f"the GRF does not cover the trial: force data span {span} but the kinematics span "
                        f"{t[0]:.3f}-{t[-1]:.3f} s; use the force file of this trial, or time_range= the part they share")
    notes = []
    F = da.transpose(tdim, who_dim, "axis").values.astype(float)
    P = grf["cop"].transpose(tdim, who_dim, "axis").values.astype(float) if "cop" in grf else np.zeros_like(F)
    M = (grf["free_moment"].transpose(tdim, who_dim, "axis").values.astype(float)
         if "free_moment" in grf else np.zeros_like(F))
    bad_f = ~np.isfinite(F).all(axis=2)
    bad_p = ~np.isfinite(P).all(axis=2)
    if bad_f.any():
        notes.append(f"{int(bad_f.sum())} force samples NaN set to 0")
    unloaded = bad_p & ~bad_f
    if unloaded.any():
        notes.append(f"{int(unloaded.sum())} samples without a centre of pressure (force below the reader's "
                     "threshold) set to 0")
    zero = bad_f | bad_p
    F[zero] = 0.0
    P[zero] = 0.0
    M[~np.isfinite(M)] = 0.0
    M[zero] = 0.0
    return names, who_dim, _interp(src_t, F, t), _interp(src_t, P, t), _interp(src_t, M, t), notes


def _combine(F: np.ndarray, P: np.ndarray, M: np.ndarray, groups: np.ndarray, n_groups: int):
    """Sum wrenches of several plates per group, as force at a force-weighted COP plus a free moment."""
    n = F.shape[0]
    Fo = np.zeros((n, n_groups, 3))
    Po = np.zeros((n, n_groups, 3))
    Mo = np.zeros((n, n_groups, 3))
    for g in range(n_groups):
        mask = groups == g  # (n, k)
        w = np.where(mask, np.abs(F[:, :, 1]), 0.0)
        Fg = (F * mask[..., None]).sum(axis=1)
        T = ((np.cross(P, F) + M) * mask[..., None]).sum(axis=1)
        wsum = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(wsum[:, None] > 0, (P * w[..., None]).sum(axis=1) / wsum[:, None], 0.0)
        Fo[:, g] = Fg
        Po[:, g] = p
        Mo[:, g] = T - np.cross(p, Fg)
    return Fo, Po, Mo


def grf_by_foot(names: list[str], who_dim: str, F: np.ndarray, P: np.ndarray, M: np.ndarray,
                feet: Mapping[str, np.ndarray], t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Wrench per foot (right, left) on the kinematics' frames.

    ``feet`` maps "right"/"left" to the foot's position in ground per frame
    (n, 3); used to give each contact period of a plate to the nearer foot.
    """
    sides = ["right", "left"]
    n, k = F.shape[:2]
    groups = np.full((n, k), -1)
    assignment: dict[str, Any] = {}
    if who_dim == "side":
        for j, name in enumerate(names):
            if name in sides:
                groups[:, j] = sides.index(name)
            else:
                raise TwinError(f"GRF side {name!r} is neither 'right' nor 'left'")
        assignment = {name: name for name in names}
    else:
        for j, name in enumerate(names):
            loaded = F[:, j, 1] > _CONTACT_N
            edges = np.flatnonzero(np.diff(np.r_[0, loaded.astype(int), 0]))
            periods = []
            for a, b in zip(edges[::2], edges[1::2]):
                cop = P[a:b, j, :][:, [0, 2]]
                dist = [np.nanmean(np.linalg.norm(cop - feet[s][a:b][:, [0, 2]], axis=1)) for s in sides]
                g = int(np.nanargmin(dist))
                groups[a:b, j] = g
                periods.append({"from_s": round(float(t[a]), 4), "to_s": round(float(t[b - 1]), 4), "foot": sides[g],
                                "cop_to_foot_m": round(float(dist[g]), 3)})
            assignment[name] = periods
    Fo, Po, Mo = _combine(F, P, M, groups, 2)
    return Fo, Po, Mo, assignment


def inverse_dynamics(
    model: Any,
    kinematics: xr.Dataset,
    *,
    grf: xr.Dataset | None = None,
    lowpass: float | None = 6.0,
    bodies: Mapping[str, str] | None = None,
    time_range: tuple[float, float] | None = None,
) -> xr.Dataset:
    """Joint moments (generalized forces) from kinematics and ground reaction forces.

    Parameters
    ----------
    model : str, path-like, opensim.Model or twin.model.BodyParams
        The model the kinematics were fitted with.
    kinematics : xarray.Dataset
        Kinematics with ``q(time, coordinate)`` for every model coordinate
        (e.g. from :func:`twin.fit.inverse_kinematics`); its ``heading_deg`` and
        ``lateral_shift_m`` attrs, when set, are applied to the forces too.
    grf : xarray.Dataset, optional
        Recording with ``grf`` (and ``cop``, ``free_moment``) per ``side``
        (right/left, from an ExternalLoads file) or per ``plate`` (assigned to
        feet by proximity). Without it the body hangs free of the ground
        (the pelvis residuals then carry the body weight).
    lowpass : float or None, default 6.0
        Cut-off [Hz] of the low-pass filter on the coordinates (OpenSim's
        ``lowpass_cutoff_frequency_for_coordinates``); None: no filter.
    bodies : mapping, optional
        Side -> body the side's force acts on (default right: calcn_r, left: calcn_l).
    time_range : (float, float), optional
        Only these frames of the kinematics.

    Returns
    -------
    xarray.Dataset
        Dynamics: ``moment(time, coordinate)`` [N m, or N for translations],
        attrs ``settings`` (JSON), ``grf_assignment`` (JSON), ``opensim_version``,
        ``history``.

    Raises
    ------
    TwinError
        Kinematics not matching the model, GRF not covering the trial, bad GRF.

    Examples
    --------
    >>> import twin.fit
    >>> dyn = twin.fit.inverse_dynamics("subject01.osim", kin, grf=rec)  # doctest: +SKIP
    """
    if lowpass is not None:
        check_param("lowpass", float(lowpass), minimum=0.0)
    o = _osim.osim()
    m, source = _osim.load_model(model, add_markers=None)
    if time_range is not None:
        kinematics = kinematics.sel(time=slice(float(time_range[0]) - 1e-9, float(time_range[1]) + 1e-9))
    t, q, names = _check_kinematics(kinematics, m)
    ctypes = _osim.coordinate_types(m)
    bodies = dict(DEFAULT_BODIES if bodies is None else bodies)
    body_objs = {}
    for side, body in bodies.items():
        if not m.getBodySet().contains(body):
            raise TwinError(f"the model has no body {body!r} to apply the {side} ground reaction force to; "
                            f"pass bodies={{'{side}': <body>}}")
        body_objs[side] = m.getBodySet().get(body)
    with _osim.quiet():
        for f in m.getForceSet():
            if o.Muscle.safeDownCast(f) is not None:
                f.set_appliesForce(False)
        state = m.initSystem()
    # coordinates in multibody-tree order are the order of the state's Q and U (no quaternions here)
    arr = m.getCoordinateNamesInMultibodyTreeOrder()
    tree = [str(arr.getElt(i)) for i in range(arr.size())]
    if state.getNQ() != len(tree) or state.getNU() != len(tree):
        raise TwinError("inverse_dynamics supports models without quaternion (ball/free) joints")
    col = [names.index(c) for c in tree]
    qs, us, udots = _osim.spline_fit(t, q, lowpass=lowpass)
    qs, us, udots = qs[:, col], us[:, col], udots[:, col]

    notes: list[str] = []
    assignment: dict[str, Any] = {}
    Fs = Ps = Ms = None
    mbi = {side: int(b.getMobilizedBodyIndex()) for side, b in body_objs.items()}
    if grf is not None:
        grf = apply_alignment(grf, float(kinematics.attrs.get("heading_deg", 0.0) or 0.0),
                              float(kinematics.attrs.get("lateral_shift_m", 0.0) or 0.0),
                              bool(kinematics.attrs.get("mirrored_z", 0)))
        fnames, who_dim, F, P, M, notes = _force_arrays(grf, t)
        feet = {s: np.zeros((t.size, 3)) for s in ("right", "left")}
        if who_dim == "plate":
            for i in range(t.size):
                state.setQ(o.Vector.createFromMat(qs[i]))
                m.realizePosition(state)
                for s in ("right", "left"):
                    if s in body_objs:
                        b = body_objs[s]
                        p = b.findStationLocationInGround(state, b.getMassCenter())
                        feet[s][i] = [p[0], p[1], p[2]]
        Fs, Ps, Ms, assignment = grf_by_foot(fnames, who_dim, F, P, M, feet, t)

    solver = o.InverseDynamicsSolver(m)
    matter = m.getMatterSubsystem()
    nb = m.getBodySet().getSize() + 1
    zero = o.SpatialVec(o.Vec3(0, 0, 0), o.Vec3(0, 0, 0))
    nu = len(tree)
    jtf = o.Vector(nu, 0.0)
    tau = np.empty((t.size, nu))
    sides = ("right", "left")
    for i in range(t.size):
        state.setTime(float(t[i]))
        state.setQ(o.Vector.createFromMat(qs[i]))
        state.setU(o.Vector.createFromMat(us[i]))
        udot = o.Vector.createFromMat(udots[i])
        res = solver.solve(state, udot)
        r = np.array([res.get(k) for k in range(nu)])
        if Fs is not None:
            forces = o.VectorOfSpatialVec(nb, zero)
            any_load = False
            for g, side in enumerate(sides):
                if side not in body_objs:
                    continue
                f = Fs[i, g]
                if not np.any(f) and not np.any(Ms[i, g]):
                    continue
                origin = body_objs[side].getPositionInGround(state)
                arm = Ps[i, g] - np.array([origin[0], origin[1], origin[2]])
                torque = np.cross(arm, f) + Ms[i, g]
                forces.set(mbi[side], o.SpatialVec(o.Vec3(*torque), o.Vec3(*f)))
                any_load = True
            if any_load:
                matter.multiplyBySystemJacobianTranspose(state, forces, jtf)
                r -= np.array([jtf.get(k) for k in range(nu)])
        tau[i] = r
    out = np.empty_like(tau)
    out[:, col] = tau
    settings = {"lowpass_hz": lowpass, "bodies": bodies, "excluded_forces": "Muscles",
                "spline": "GCVSplineSet degree 5", "time_range": [float(t[0]), float(t[-1])]}
    line = (f"twin.fit.inverse_dynamics: OpenSim {_osim.opensim_version()} InverseDynamicsSolver on {source}; "
            f"coordinates low-pass {lowpass} Hz + GCV splines; "
            + ("GRF applied to " + ", ".join(f"{s}->{b}" for s, b in bodies.items()) if grf is not None else "no GRF")
            + ("; " + "; ".join(notes) if notes else ""))
    history = kinematics.attrs.get("history", "")
    ds = make_dynamics(t, out, names, coordinate_type=[ctypes[c] for c in names],
                       source=str(kinematics.attrs.get("source", "")), history=f"{history}\n{line}" if history else line,
                       settings=json.dumps(settings), grf_assignment=json.dumps(assignment),
                       opensim_version=_osim.opensim_version(), model=source)
    for key in ("subject_mass", "subject_height", "heading_deg", "lateral_shift_m", "mirrored_z"):
        if key in kinematics.attrs:
            ds.attrs[key] = kinematics.attrs[key]
    return ds
