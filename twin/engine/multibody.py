"""Planar tree kinematics and dynamics: positions, Jacobians, mass matrix, bias forces.

Every body ``b`` of a planar tree has an angle ``theta_b`` (about Z) and an
origin ``p_b`` (X-Y). Rotations are linear in the coordinates, so
``theta = theta0 + rot @ q`` with a constant ``rot``; the origin is the sum,
along the chain of joints from ground, of one vector per joint:

``w_j = R(theta_parent) (a_j + R(phi_j) t_j(q)) - R(theta_j) b_j``

(``a_j``/``b_j`` the parent/child offset frame origins, ``phi_j`` the parent
offset rotation, ``t_j`` the joint translation, e.g. the knee's spline), so
``p = anc @ w``. Differentiating ``w`` gives the Jacobian of every origin
(``[B, N, 2, Q]``) and the velocity-product acceleration ``Jdot qdot``,
analytically and vectorised over all bodies at once.

Dynamics use explicit planar kinematics: with ``J_c`` the Jacobian of each
centre of mass,

``M = sum_b m_b J_c^T J_c + I_b rot_b^T rot_b``,
``M qddot = tau + sum_b m_b J_c^T (g - Jdot_c qdot)``,

solved per batch member by a Cholesky factorisation (``torch.linalg``); the
rotational velocity-product term vanishes in the plane.

Examples
--------
>>> import torch
>>> from twin.engine.build import EngineParams
>>> from twin.engine.spec import double_pendulum
>>> p = EngineParams.from_body(double_pendulum())
>>> kin = kinematics(p, torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
>>> kin.p[0, 1].tolist()     # second link hangs 1 m below the pivot
[0.0, -1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .build import EngineParams
from .spline import evaluate as _spline_eval

__all__ = ["Kinematics", "kinematics", "splines", "point_kinematics", "mass_matrix_and_bias", "solve",
           "forward_dynamics", "energy"]


@dataclass(frozen=True)
class Kinematics:
    """Positions, velocities and Jacobians of all body origins.

    Attributes
    ----------
    theta : Tensor [B, N] rad
        Body angles.
    cos, sin : Tensor [B, N] 1
    omega : Tensor [B, N] rad/s
        Body angular velocities.
    p : Tensor [B, N, 2] m
        Body origins in ground.
    jac : Tensor [B, N, 2, Q] m/rad (or 1)
        d p / d q.
    acc_bias : Tensor [B, N, 2] m/s^2
        Origin acceleration at ``qddot = 0`` (``Jdot qdot``).
    spline_f, spline_df, spline_ddf : Tensor [B, S]
        Values and coordinate derivatives of every spline (joint translations, moving points).
    """

    theta: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor
    omega: torch.Tensor
    p: torch.Tensor
    jac: torch.Tensor
    acc_bias: torch.Tensor
    spline_f: torch.Tensor
    spline_df: torch.Tensor
    spline_ddf: torch.Tensor


def _perp(v: torch.Tensor) -> torch.Tensor:
    """Z x v for planar vectors ``[..., 2]``."""
    return torch.stack((-v[..., 1], v[..., 0]), dim=-1)


def splines(params: EngineParams, q: torch.Tensor):
    """Evaluate every spline of the model at ``q`` [B, Q] -> (f, df, ddf) each [B, S]."""
    t = q[:, params.spline_coord]
    return _spline_eval(t, params.spline_x, params.spline_y, params.spline_b, params.spline_c, params.spline_d,
                        params.spline_x_last, params.spline_y_last, params.spline_b_last)


def kinematics(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor) -> Kinematics:
    """Body-origin kinematics of a batch.

    Parameters
    ----------
    params : EngineParams
    q, qdot : Tensor [B, Q]
        Coordinates [rad or m] and speeds [rad/s or m/s].

    Returns
    -------
    Kinematics
    """
    rot, par_rot = params.rot, params.par_rot
    theta = params.theta0 + q @ rot.T
    theta_p = params.theta0_par + q @ par_rot.T
    cb, sb = torch.cos(theta), torch.sin(theta)
    cp, sp = torch.cos(theta_p), torch.sin(theta_p)
    omega = qdot @ rot.T
    omega_p = qdot @ par_rot.T
    f, df, ddf = splines(params, q)
    tx, ty = f[:, params.joint_tx_spline], f[:, params.joint_ty_spline]
    dtx, dty = df[:, params.joint_tx_spline], df[:, params.joint_ty_spline]
    ddtx, ddty = ddf[:, params.joint_tx_spline], ddf[:, params.joint_ty_spline]
    cphi, sphi = params.joint_cphi, params.joint_sphi
    # u = a + R(phi) t (parent body frame), U = R(theta_p) u (ground)
    ux = params.joint_a[..., 0] + cphi * tx - sphi * ty
    uy = params.joint_a[..., 1] + sphi * tx + cphi * ty
    big_u = torch.stack((cp * ux - sp * uy, sp * ux + cp * uy), dim=-1)
    bx, by = params.joint_b[..., 0], params.joint_b[..., 1]
    big_b = torch.stack((cb * bx - sb * by, sb * bx + cb * by), dim=-1)
    w = big_u - big_b
    p = torch.einsum("nj,bjx->bnx", params.anc, w)
    # Jacobian of w: rotation of the parent, translation functions, rotation of the child
    cpsi = cp * cphi - sp * sphi  # psi = theta_p + phi
    spsi = sp * cphi + cp * sphi
    ex = dtx.unsqueeze(-1) * params.tx_sel  # [B, N, Q]
    ey = dty.unsqueeze(-1) * params.ty_sel
    d_trans = torch.stack((cpsi.unsqueeze(-1) * ex - spsi.unsqueeze(-1) * ey,
                           spsi.unsqueeze(-1) * ex + cpsi.unsqueeze(-1) * ey), dim=2)
    dw = (_perp(big_u).unsqueeze(-1) * par_rot.unsqueeze(-2)
          - _perp(big_b).unsqueeze(-1) * rot.unsqueeze(-2)
          + d_trans)
    jac = torch.einsum("nj,bjxk->bnxk", params.anc, dw)
    # velocity-product acceleration
    qd_tx = qdot @ params.tx_sel.T
    qd_ty = qdot @ params.ty_sel.T
    tdx, tdy = dtx * qd_tx, dty * qd_ty
    tddx, tddy = ddtx * qd_tx * qd_tx, ddty * qd_ty * qd_ty
    t_dot = torch.stack((cpsi * tdx - spsi * tdy, spsi * tdx + cpsi * tdy), dim=-1)
    t_ddot = torch.stack((cpsi * tddx - spsi * tddy, spsi * tddx + cpsi * tddy), dim=-1)
    wp = omega_p.unsqueeze(-1)
    wb = omega.unsqueeze(-1)
    w_dd = -wp * wp * big_u + 2.0 * wp * _perp(t_dot) + t_ddot + wb * wb * big_b
    acc_bias = torch.einsum("nj,bjx->bnx", params.anc, w_dd)
    return Kinematics(theta, cb, sb, omega, p, jac, acc_bias, f, df, ddf)


def point_kinematics(params: EngineParams, kin: Kinematics, body: torch.Tensor, r: torch.Tensor):
    """Position, Jacobian and bias acceleration of points fixed in bodies.

    Parameters
    ----------
    body : Tensor [P] long
        Body of each point.
    r : Tensor [B, P, 2]
        Location in the body frame [m] (x-y).

    Returns
    -------
    pos : Tensor [B, P, 2] m
    jac : Tensor [B, P, 2, Q]
    acc_bias : Tensor [B, P, 2] m/s^2
    rw : Tensor [B, P, 2] m
        ``R(theta_b) r`` (the point relative to its body origin, in ground).
    """
    c, s = kin.cos[:, body], kin.sin[:, body]
    rw = torch.stack((c * r[..., 0] - s * r[..., 1], s * r[..., 0] + c * r[..., 1]), dim=-1)
    pos = kin.p[:, body] + rw
    jac = kin.jac[:, body] + _perp(rw).unsqueeze(-1) * params.rot[body].unsqueeze(-2)
    om = kin.omega[:, body].unsqueeze(-1)
    acc = kin.acc_bias[:, body] - om * om * rw
    return pos, jac, acc, rw


def mass_matrix_and_bias(params: EngineParams, kin: Kinematics):
    """Mass matrix and the generalized gravity-minus-bias force.

    Returns
    -------
    mass_matrix : Tensor [B, Q, Q]
    rhs : Tensor [B, Q]
        ``sum_b m_b J_c^T (g - Jdot_c qdot)`` (N or N m).
    com_pos : Tensor [B, N, 2] m
    com_jac : Tensor [B, N, 2, Q]
    """
    bsz, n_body = params.mass.shape
    body = torch.arange(n_body, device=params.mass.device)
    pos, jac, acc, _ = point_kinematics(params, kin, body, params.com)
    nq = jac.shape[-1]
    mj = (jac * params.mass[..., None, None]).reshape(bsz, n_body * 2, nq)
    jf = jac.reshape(bsz, n_body * 2, nq)
    m_trans = mj.transpose(1, 2) @ jf
    m_rot = (params.rot.T.unsqueeze(0) * params.inertia.unsqueeze(1)) @ params.rot
    mass_matrix = m_trans + m_rot
    rhs = (mj.transpose(1, 2) @ (params.gravity.unsqueeze(1) - acc).reshape(bsz, n_body * 2, 1)).squeeze(-1)
    return mass_matrix, rhs, pos, jac


def solve(mass_matrix: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
    """``M^-1 f`` per batch member (Cholesky; a non-finite member gives NaN, never an exception)."""
    chol, _ = torch.linalg.cholesky_ex(mass_matrix)
    return torch.cholesky_solve(force.unsqueeze(-1), chol).squeeze(-1)


def forward_dynamics(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``qddot`` of the bare multibody system under generalized forces ``tau`` [B, Q] (plus gravity)."""
    kin = kinematics(params, q, qdot)
    mass_matrix, rhs, _, _ = mass_matrix_and_bias(params, kin)
    return solve(mass_matrix, tau + rhs)


def energy(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kinetic and gravitational potential energy [J] of each batch member, ``([B], [B])``."""
    kin = kinematics(params, q, qdot)
    mass_matrix, _, com, _ = mass_matrix_and_bias(params, kin)
    kinetic = 0.5 * torch.einsum("bi,bij,bj->b", qdot, mass_matrix, qdot)
    potential = -(params.mass * (com * params.gravity.unsqueeze(1)).sum(-1)).sum(-1)
    return kinetic, potential
