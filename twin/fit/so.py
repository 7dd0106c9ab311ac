"""Muscle forces by static optimisation, frame by frame, over OpenSim's moment arms and muscle curves.

At each frame the muscles' activations ``a`` (0..1) minimise Σ a² (and the
reserve torques r, weighted by 1/``reserve_optimal_force``) subject to

    Σ_m R[c, m] · (a_m · F_act,m + F_pas,m) + r_c = τ_c   for every muscle-spanned coordinate c

where τ are the inverse-dynamics moments, ``R`` the moment arms
(``Muscle.computeMomentArm``), ``F_act`` the force at full activation with
a rigid tendon at the frame's length and lengthening speed
(``Muscle.calcInextensibleTendonActiveFiberForce``: force-length-velocity,
as OpenSim's StaticOptimization with ``use_muscle_physiology``) and ``F_pas``
the passive fibre force along the tendon (the muscle's passive
force-length curve). This is the problem OpenSim's StaticOptimization analysis
solves; twin solves it in memory with scipy's SLSQP (analytic gradients,
warm-started from the previous frame) instead of running the AnalyzeTool from
files because it takes the twin Dynamics Dataset as it is, reports reserve use
per coordinate and frame, and runs in a fraction of the tool's time.
Coordinates no muscle spans (pelvis, lumbar in Gait10dof18musc) are left to
the residual/joint actuators and listed in ``attrs["unactuated"]``.

Checked against OpenSim's StaticOptimization (AnalyzeTool run from a printed
setup, same kinematics, residuals on the pelvis and lumbar, reserves of
optimal force 1 N m) on the subject01 walk: activations within 0.05 RMS per
muscle, correlation >= 0.98 except rectus femoris (0.83, small activations);
twin's run slightly lower because it counts the rigid-tendon passive fibre
force (``passive=False`` brings them within 0.025).

Examples
--------
>>> import twin.fit
>>> so = twin.fit.muscle_forces("subject01.osim", kin, dyn)         # doctest: +SKIP
>>> so.muscle_force.sel(muscle="soleus_r").attrs["units"]            # doctest: +SKIP
'N'
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError, check_param
from . import _osim

__all__ = ["muscle_forces"]


def _passive_multiplier(o: Any, muscle: Any, norm_length: float) -> float:
    mill = o.Millard2012EquilibriumMuscle.safeDownCast(muscle)
    if mill is not None:
        return float(mill.getFiberForceLengthCurve().calcValue(norm_length))
    dgf = o.DeGrooteFregly2016Muscle.safeDownCast(muscle) if hasattr(o, "DeGrooteFregly2016Muscle") else None
    if dgf is not None:
        return float(dgf.calcPassiveForceMultiplier(norm_length))
    return 0.0


def _rigid_tendon_passive(o: Any, muscle: Any, state: Any) -> float:
    """Passive fibre force along the tendon [N] with a rigid tendon at the muscle's current length."""
    lopt = muscle.getOptimalFiberLength()
    height = lopt * np.sin(muscle.getPennationAngleAtOptimalFiberLength())
    along = max(muscle.getLength(state) - muscle.getTendonSlackLength(), 1e-6)
    lf = float(np.hypot(height, along))
    cos_a = along / lf
    return float(muscle.getMaxIsometricForce() * _passive_multiplier(o, muscle, lf / lopt) * cos_a)


def muscle_forces(
    model: Any,
    kinematics: xr.Dataset,
    dynamics_or_grf: xr.Dataset,
    *,
    lowpass: float | None = 6.0,
    reserve_optimal_force: float = 1.0,
    passive: bool = True,
    time_range: tuple[float, float] | None = None,
) -> xr.Dataset:
    """Muscle activations and forces that produce the joint moments (static optimisation).

    Parameters
    ----------
    model : str, path-like, opensim.Model or twin.model.BodyParams
        The model the kinematics were fitted with (muscles included).
    kinematics : xarray.Dataset
        Kinematics ``q(time, coordinate)``.
    dynamics_or_grf : xarray.Dataset
        Dynamics ``moment(time, coordinate)`` on the kinematics' frames (from
        :func:`twin.fit.inverse_dynamics`), or a Recording with ``grf`` from
        which the moments are computed first.
    lowpass : float or None, default 6.0
        Filter of the coordinates, as in :func:`twin.fit.inverse_dynamics`.
    reserve_optimal_force : float, default 1.0
        Optimal force [N m] of the reserve torque on each muscle-spanned
        coordinate; its activation enters the cost like a muscle's, so a small
        value makes reserves expensive (used only where muscles cannot cope).
    passive : bool, default True
        Include the muscles' passive fibre forces.
    time_range : (float, float), optional
        Only these frames.

    Returns
    -------
    xarray.Dataset
        ``activation(time, muscle)`` [1], ``muscle_force(time, muscle)`` [N],
        ``reserve(time, coordinate)`` [N m] on the muscle-spanned coordinates,
        ``moment(time, coordinate)`` (the target); attrs ``method``,
        ``unactuated``, ``max_reserve_nm``, ``settings``, ``history``.

    Raises
    ------
    TwinError
        Model without muscles, moments not on the kinematics' frames.
    """
    check_param("reserve_optimal_force", float(reserve_optimal_force), minimum=1e-6)
    from scipy.optimize import minimize

    from .id import _check_kinematics, inverse_dynamics

    o = _osim.osim()
    if not isinstance(dynamics_or_grf, xr.Dataset):
        raise ParameterError("dynamics_or_grf must be a Dynamics Dataset (moment) or a Recording with grf")
    if time_range is not None:
        kinematics = kinematics.sel(time=slice(float(time_range[0]) - 1e-9, float(time_range[1]) + 1e-9))
    if "moment" in dynamics_or_grf:
        dyn = dynamics_or_grf
    elif "grf" in dynamics_or_grf:
        dyn = inverse_dynamics(model, kinematics, grf=dynamics_or_grf, lowpass=lowpass)
    else:
        raise TwinError("dynamics_or_grf has neither 'moment' (Dynamics) nor 'grf' (Recording with force plates)")
    m, source = _osim.load_model(model, add_markers=None)
    muscles = [mu for mu in m.getMuscles()]
    if not muscles:
        raise TwinError(f"the model ({source}) has no muscles; static optimisation needs a muscle model")
    t, q, names = _check_kinematics(kinematics, m)
    dt = dyn["time"].values.astype(float)
    if dt.size != t.size or not np.allclose(dt, t, atol=1e-6):
        dyn = dyn.interp(time=t)
        if not np.isfinite(dyn["moment"].values).all():
            raise TwinError(f"the moments ({dt[0]:.3f}-{dt[-1]:.3f} s) do not cover the kinematics "
                            f"({t[0]:.3f}-{t[-1]:.3f} s); compute them from these kinematics")
    have = [str(c) for c in dyn["coordinate"].values]
    with _osim.quiet():
        state = m.initSystem()
    qs, us, _ = _osim.spline_fit(t, q, lowpass=lowpass)
    coords = [m.getCoordinateSet().get(c) for c in names]
    # which coordinates muscles span: moment arms at the default pose and a few frames
    probe = sorted({0, t.size // 3, 2 * t.size // 3, t.size - 1})
    spans = np.zeros(len(names), bool)
    for i in probe:
        for k, c in enumerate(coords):
            c.setValue(state, float(qs[i, k]), False)
        m.realizePosition(state)
        for k, c in enumerate(coords):
            if not spans[k]:
                spans[k] = any(abs(mu.computeMomentArm(state, c)) > 1e-5 for mu in muscles)
    act_idx = [k for k in range(len(names)) if spans[k]]
    missing = [names[k] for k in act_idx if names[k] not in have]
    if missing:
        raise TwinError(f"the moments lack the muscle-spanned coordinates {missing}")
    tau = dyn["moment"].sel(coordinate=[names[k] for k in act_idx]).transpose("time", "coordinate").values
    nm, nc = len(muscles), len(act_idx)
    act = np.zeros((t.size, nm))
    force = np.zeros((t.size, nm))
    reserve = np.zeros((t.size, nc))
    fails = 0
    x0 = np.full(nm + nc, 0.05)
    x0[nm:] = 0.0
    bounds = [(0.0, 1.0)] * nm + [(None, None)] * nc
    cost_w = np.ones(nm + nc)
    for i in range(t.size):
        for k, c in enumerate(coords):
            c.setValue(state, float(qs[i, k]), False)
            c.setSpeedValue(state, float(us[i, k]))
        m.realizeVelocity(state)
        R = np.array([[mu.computeMomentArm(state, coords[k]) for mu in muscles] for k in act_idx])
        fmax = np.array([max(mu.calcInextensibleTendonActiveFiberForce(state, 1.0), 0.0) for mu in muscles])
        fpas = np.array([_rigid_tendon_passive(o, mu, state) for mu in muscles]) if passive else np.zeros(nm)
        A = np.hstack([R * fmax[None, :], np.eye(nc) * reserve_optimal_force])
        b = tau[i] - R @ fpas
        res = minimize(lambda x: float(np.sum(cost_w * x * x)), x0, jac=lambda x: 2 * cost_w * x,
                       constraints=[{"type": "eq", "fun": lambda x: A @ x - b, "jac": lambda x: A}],
                       bounds=bounds, method="SLSQP", options={"maxiter": 200, "ftol": 1e-10})
        x = res.x
        if not res.success or np.max(np.abs(A @ x - b)) > 1e-3 * max(1.0, np.max(np.abs(b))):
            fails += 1
        x0 = x
        act[i] = np.clip(x[:nm], 0.0, 1.0)
        force[i] = act[i] * fmax + fpas
        reserve[i] = x[nm:] * reserve_optimal_force
    mnames = [mu.getName() for mu in muscles]
    unact = [names[k] for k in range(len(names)) if not spans[k]]
    settings = {"lowpass_hz": lowpass, "reserve_optimal_force_nm": reserve_optimal_force, "passive": bool(passive),
                "solver": "scipy SLSQP per frame", "cost": "sum of squared activations (reserves included)"}
    line = (f"twin.fit.muscle_forces: static optimisation on {source}: {nm} muscles, {nc} coordinates "
            f"({', '.join(names[k] for k in act_idx)}), min sum a^2 with force-length-velocity (rigid tendon), "
            f"reserves {reserve_optimal_force:g} N m; {fails} frame(s) did not converge")
    history = dyn.attrs.get("history", "")
    ds = xr.Dataset(
        {
            "activation": (("time", "muscle"), act, {"units": "1", "long_name": "muscle activation"}),
            "muscle_force": (("time", "muscle"), force, {"units": "N", "long_name": "muscle-tendon force"}),
            "reserve": (("time", "coordinate"), reserve,
                        {"units": "N m", "long_name": "reserve torque needed besides the muscles"}),
            "moment": (("time", "coordinate"), tau,
                       {"units": "N m", "long_name": "inverse-dynamics moment the muscles were asked for"}),
        },
        coords={"time": ("time", t, {"units": "s", "long_name": "time"}), "muscle": mnames,
                "coordinate": [names[k] for k in act_idx]},
        attrs={"kind": "dynamics", "source": str(kinematics.attrs.get("source", "")),
               "history": f"{history}\n{line}" if history else line,
               "method": "static optimisation (twin, scipy SLSQP over OpenSim moment arms and muscle curves)",
               "unactuated": ", ".join(unact), "max_reserve_nm": float(np.max(np.abs(reserve))) if reserve.size else 0.0,
               "frames_not_converged": int(fails), "settings": json.dumps(settings),
               "opensim_version": _osim.opensim_version(), "model": source,
               "rate": float(1.0 / np.median(np.diff(t))) if t.size > 1 else float("nan")},
    )
    return ds
