"""Inverse dynamics: the generalized forces that produce a given motion under given external loads.

``tau = M(q) qddot - sum_b m_b J_c^T (g - Jdot_c qdot) - sum_loads (J_P^T F + rot_b^T T_z)``

with the mass matrix and bias of :mod:`twin.engine.multibody`, each external
load a force ``F`` (x, y) applied at a ground point ``P`` moving with a body
plus a free torque ``T_z``, as OpenSim's ``ExternalForce`` with force, point
and torque expressed in ground. Muscles, contact and passive joint torques
are *not* included (OpenSim's InverseDynamicsTool with muscles excluded).
The time samples are the batch: one call handles a whole trial.

Examples
--------
>>> import torch
>>> from twin.engine.build import EngineParams
>>> from twin.engine.spec import double_pendulum
>>> p = EngineParams.from_body(double_pendulum())
>>> q = torch.tensor([[0.0, 0.0], [0.5, 0.0]], dtype=torch.float64)
>>> tau = inverse_dynamics(p, q, torch.zeros_like(q), torch.zeros_like(q))
>>> [round(v, 3) for v in tau[1].tolist()]    # holding both rods 0.5 rad from vertical
[9.403, 2.351]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ParameterError
from .build import EngineParams
from .multibody import _kinematics, _mass_matrix_and_bias, _point_jacobian

__all__ = ["ExternalLoad", "inverse_dynamics", "smooth_derivatives", "loads_from_recording"]


@dataclass(frozen=True)
class ExternalLoad:
    """A load applied to a body, all in ground (OpenSim ``ExternalForce``).

    Attributes
    ----------
    body : str
        Body it acts on (e.g. ``calcn_r``; bodies welded to a parent are
        merged into it by the engine, which is the same rigid body).
    force : Tensor [T, 2 or 3]
        Force on the body [N] (x, y[, z]; z is ignored in the plane).
    point : Tensor [T, 2 or 3]
        Point of application in ground [m].
    torque : Tensor [T, 3] or None
        Free torque [N m]; only its z component acts in the plane.
    """

    body: str
    force: torch.Tensor
    point: torch.Tensor
    torque: torch.Tensor | None = None


def inverse_dynamics(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor, qddot: torch.Tensor, *,
                     loads: list[ExternalLoad] | tuple = ()) -> torch.Tensor:
    """Generalized forces [T, Q] (N m or N) of a motion.

    Parameters
    ----------
    params : EngineParams
        One body (batch 1; repeated over the time samples) or ``T`` members.
    q, qdot, qddot : Tensor [T, Q]
        Coordinates, speeds and accelerations (rad or m, per s, per s^2).
    loads : sequence of ExternalLoad, keyword-only

    Raises
    ------
    ParameterError
        Shapes that do not match, or an unknown body.
    """
    n = q.shape[0]
    if q.shape != qdot.shape or q.shape != qddot.shape or q.shape[1] != params.n_coordinates:
        raise ParameterError(f"q, qdot, qddot must all be [T, {params.n_coordinates}]; got {tuple(q.shape)}, "
                             f"{tuple(qdot.shape)}, {tuple(qddot.shape)}")
    if params.batch_size == 1 and n != 1:
        params = params.repeat(n)
    elif params.batch_size != n:
        raise ParameterError(f"params hold {params.batch_size} members; q has {n} samples")
    P = params.bl
    qt, qdt, qddt = (x.to(params.dtype).T.contiguous() for x in (q, qdot, qddot))
    k = _kinematics(P, qt, qdt)
    mass_matrix, rhs, _, _ = _mass_matrix_and_bias(P, k)
    tau = (mass_matrix * qddt.unsqueeze(0)).sum(1) - rhs
    for load in loads:
        b = params.body_index(load.body)
        force = torch.as_tensor(load.force, dtype=params.dtype, device=params.device)
        point = torch.as_tensor(load.point, dtype=params.dtype, device=params.device)
        if force.shape[0] != n or point.shape[0] != n:
            raise ParameterError(f"external load on {load.body!r}: force and point need {n} samples")
        body = torch.tensor([b], device=params.device)
        jx, jy = _point_jacobian(P, k, body, point[:, 0].unsqueeze(0), point[:, 1].unsqueeze(0))  # [1, Q, T]
        tau = tau - (jx[0] * force[:, 0] + jy[0] * force[:, 1])
        if load.torque is not None:
            tz = torch.as_tensor(load.torque, dtype=params.dtype, device=params.device)[:, 2]
            tau = tau - P.rot[b].unsqueeze(-1) * tz
    return tau.T


def smooth_derivatives(time, q, *, cutoff: float | None = 6.0):
    """Coordinates, speeds and accelerations from sampled coordinates, as OpenSim's InverseDynamicsTool.

    Low-pass filter (3rd-order Butterworth, forward and backward: zero lag,
    odd padding of half the record) at ``cutoff`` Hz, then a quintic
    interpolating spline differentiated twice.

    Parameters
    ----------
    time : array [T]
        [s], increasing.
    q : array [T, Q]
    cutoff : float or None, keyword-only
        [Hz]; None: no filtering.

    Returns
    -------
    q, qdot, qddot : numpy.ndarray [T, Q]
    """
    import numpy as np
    from scipy.interpolate import make_interp_spline
    from scipy.signal import butter, filtfilt

    t = np.asarray(time, dtype=float)
    x = np.asarray(q, dtype=float)
    if x.ndim != 2 or x.shape[0] != t.shape[0] or t.shape[0] < 6:
        raise ParameterError(f"q must be [T, Q] with T = len(time) >= 6; got {x.shape} for {t.shape[0]} samples")
    if cutoff is not None:
        fs = 1.0 / float(np.median(np.diff(t)))
        if not 0 < cutoff < fs / 2:
            raise ParameterError(f"cutoff={cutoff!r} Hz must be in (0, {fs / 2:g}) for data sampled at {fs:g} Hz")
        b, a = butter(3, cutoff / (fs / 2))
        x = filtfilt(b, a, x, axis=0, padtype="odd", padlen=min(len(t) // 2, len(t) - 1))
    spline = make_interp_spline(t, x, k=5)
    return spline(t), spline.derivative(1)(t), spline.derivative(2)(t)


def loads_from_recording(recording, time, bodies: dict[str, str]) -> list[ExternalLoad]:
    """External loads from a Recording's ``grf``, ``cop`` and ``free_moment`` (per ``side`` or ``plate``).

    Parameters
    ----------
    recording : xarray.Dataset
        With ``grf`` [N], ``cop`` [m] (and optionally ``free_moment`` [N m]) on dims
        (time, side|plate, axis), in ground (OpenSim axes).
    time : array [T]
        Times to interpolate the loads at [s] (linear).
    bodies : dict
        ``{side or plate label: body}``, e.g. ``{"right": "calcn_r", "left": "calcn_l"}``
        (OpenSim's ExternalLoads ``applied_to_body``).
    """
    import numpy as np

    dim = "side" if "side" in recording.dims else "plate"
    tsrc = recording[recording.grf.dims[0]].values
    out = []
    for label, body in bodies.items():
        g = recording.sel({dim: label})

        def interp(var):
            return torch.tensor(np.stack([np.interp(time, tsrc, g[var].sel(axis=a).values) for a in "xyz"], 1))

        torque = interp("free_moment") if "free_moment" in recording else None
        out.append(ExternalLoad(body, interp("grf"), interp("cop"), torque))
    return out
