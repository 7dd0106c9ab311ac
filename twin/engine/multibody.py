"""Planar tree kinematics and dynamics: positions, Jacobians, mass matrix, bias forces.

Every body ``b`` of a planar tree has an angle ``theta_b`` (about Z) and an
origin ``p_b`` (X-Y). Rotations are linear in the coordinates, so
``theta = theta0 + rot @ q`` with a constant ``rot``; the origin is the sum,
along the chain of joints from ground, of one vector per joint:

``w_j = R(theta_parent) (a_j + R(phi_j) t_j(q)) - R(theta_j) b_j``

(``a_j``/``b_j`` the parent/child offset frame origins, ``phi_j`` the parent
offset rotation, ``t_j`` the joint translation, e.g. the knee's spline), so
``p = anc @ w``.

Jacobians are explicit: coordinate ``k`` belongs to one joint, whose child
offset frame origin (the joint centre) is ``O_k``; moving ``q_k`` rotates
everything distal by ``slope_k`` about ``O_k`` and translates it by
``T_k = d O_k / d q_k``, so for a point ``P`` on body ``b``

``dP/dq_k = chain[b, k] (slope_k perp(P - O_k) + T_k)``

with ``perp(v) = Z x v``. The velocity-product acceleration ``Jdot qdot`` of
body origins follows by differentiating ``w`` twice at ``qddot = 0``.

Dynamics use explicit planar kinematics: with ``J_c`` the Jacobian of each
centre of mass,

``M = sum_b m_b J_c^T J_c + I_b rot_b^T rot_b``,
``M qddot = tau + sum_b m_b J_c^T (g - Jdot_c qdot)``,

solved per batch member (Cholesky, unrolled, when compiled; LU eager); the rotational
velocity-product term vanishes in the plane.

Layout: the public functions take and return batch-first tensors
(``[B, ...]``). Internally (functions with a leading underscore, used by the
step) every tensor has the batch as its *last* dim and planar vectors are
split into x and y tensors, so that compiled CPU kernels vectorise over the
batch; ``P`` there is the :class:`~twin.engine.build.BatchLast` view
``params.bl``.

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
from .spline import evaluate_bl as _spline_eval

__all__ = ["Kinematics", "kinematics", "point_jacobian", "mass_matrix_and_bias", "solve", "forward_dynamics",
           "energy"]


@dataclass(frozen=True)
class Kinematics:
    """Positions, velocities and Jacobian ingredients of all bodies (batch-first).

    Attributes
    ----------
    theta : Tensor [B, N] rad
        Body angles.
    cos, sin : Tensor [B, N] 1
    omega : Tensor [B, N] rad/s
        Body angular velocities.
    p : Tensor [B, N, 2] m
        Body origins in ground.
    origin : Tensor [B, Q, 2] m
        Centre ``O_k`` of the joint each coordinate belongs to.
    trans : Tensor [B, Q, 2] m/unit
        ``T_k``: velocity of that joint centre per unit ``qdot_k``.
    acc_bias : Tensor [B, N, 2] m/s^2
        Origin acceleration at ``qddot = 0`` (``Jdot qdot``).
    fn, dfn, ddfn : Tensor [B, F]
        Values and coordinate derivatives of every coordinate function
        (joint translations, moving path point components).
    """

    theta: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor
    omega: torch.Tensor
    p: torch.Tensor
    origin: torch.Tensor
    trans: torch.Tensor
    acc_bias: torch.Tensor
    fn: torch.Tensor
    dfn: torch.Tensor
    ddfn: torch.Tensor


@dataclass(frozen=True)
class _Kin:
    """Batch-last kinematics (x/y split): every field ``[..., B]``."""

    cos: torch.Tensor  # [N, B]
    sin: torch.Tensor
    omega: torch.Tensor
    px: torch.Tensor  # [N, B]
    py: torch.Tensor
    ox: torch.Tensor  # [Q, B] joint centres
    oy: torch.Tensor
    tx: torch.Tensor  # [Q, B] joint centre velocity per unit qdot
    ty: torch.Tensor
    ax: torch.Tensor  # [N, B] origin velocity-product acceleration
    ay: torch.Tensor
    fn: torch.Tensor  # [F, B]
    dfn: torch.Tensor
    ddfn: torch.Tensor
    theta: torch.Tensor


def _cmm(rows, x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``matrix @ x`` for a constant 0/1 ``matrix`` (also given as index lists, one per output row).

    Under torch.compile the sum of a few rows is unrolled so it fuses into
    one kernel (a matmul would be an extern call); eager uses the matmul.
    """
    if not torch.compiler.is_compiling():
        return (matrix @ x.reshape(x.shape[0], -1)).reshape((matrix.shape[0],) + x.shape[1:])
    zero = torch.zeros_like(x[0])
    out = []
    for r in rows:
        acc = zero
        for j in r:
            acc = acc + x[j]
        out.append(acc)
    return torch.stack(out) if out else x[:0]


def _functions(P, q: torch.Tensor):
    """Every coordinate function at ``q`` [Q, B] -> (f, df, ddf) each [F, B].

    Moving path points are evaluated at their coordinate clamped to its
    range, as OpenSim's ``MovingPathPoint`` does, while their slope is taken
    at the actual value (which is what OpenSim's path-force application
    uses); joint translations are not clamped.
    """
    raw = q[P.fn_coord]
    t = torch.minimum(torch.maximum(raw, P.fn_lo), P.fn_hi)
    f = P.fn_intercept + P.fn_slope * t
    df = P.fn_slope.expand(f.shape)  # a shared body's [F, 1] slopes, viewed at the batch size
    if P.n_splines:
        ts = raw[P.spline_fn]
        sf, sdf, sddf = _spline_eval(ts, P.spline_x, P.spline_y, P.spline_b, P.spline_c, P.spline_d,
                                     P.spline_x_last, P.spline_y_last, P.spline_b_last)
        sf = torch.where(ts < P.fn_lo[P.spline_fn], P.spline_f_lo,
                         torch.where(ts > P.fn_hi[P.spline_fn], P.spline_f_hi, sf))
        f = f + _cmm(P.fn_spline, sf, P.spline_scatter)
        df = df + _cmm(P.fn_spline, sdf, P.spline_scatter)
        ddf = _cmm(P.fn_spline, sddf, P.spline_scatter)
    else:
        ddf = torch.zeros_like(f)
    return f, df, ddf


def _kinematics(P, q: torch.Tensor, qd: torch.Tensor) -> _Kin:
    """Batch-last kinematics: ``q``, ``qd`` [Q, B]."""
    theta = P.theta0 + P.rot @ q
    theta_p = P.theta0_par + P.par_rot @ q
    cb, sb = torch.cos(theta), torch.sin(theta)
    cp, sp = torch.cos(theta_p), torch.sin(theta_p)
    omega = P.rot @ qd
    omega_p = P.par_rot @ qd
    f, df, ddf = _functions(P, q)
    tx, ty = f[P.joint_tx_fn], f[P.joint_ty_fn]
    dtx, dty = df[P.joint_tx_fn], df[P.joint_ty_fn]
    ddtx, ddty = ddf[P.joint_tx_fn], ddf[P.joint_ty_fn]
    cphi, sphi = P.joint_cphi, P.joint_sphi
    ax, ay = P.joint_a[:, 0], P.joint_a[:, 1]
    ux = ax + cphi * tx - sphi * ty
    uy = ay + sphi * tx + cphi * ty
    bux, buy = cp * ux - sp * uy, sp * ux + cp * uy
    bx, by = P.joint_b[:, 0], P.joint_b[:, 1]
    bbx, bby = cb * bx - sb * by, sb * bx + cb * by
    px = _cmm(P.ancestors, bux - bbx, P.anc)
    py = _cmm(P.ancestors, buy - bby, P.anc)
    # joint centres and their translation rates, per coordinate
    cx, cy = px + bbx, py + bby
    ox, oy = P.owner @ cx, P.owner @ cy
    cpsi = cp * cphi - sp * sphi
    spsi = sp * cphi + cp * sphi
    txs, tys = P.tx_sel.T, P.ty_sel.T
    trx = txs @ (cpsi * dtx) - tys @ (spsi * dty)
    try_ = txs @ (spsi * dtx) + tys @ (cpsi * dty)
    # velocity-product acceleration of body origins
    qd_tx = P.tx_sel @ qd
    qd_ty = P.ty_sel @ qd
    tdx, tdy = dtx * qd_tx, dty * qd_ty
    tddx, tddy = ddtx * qd_tx * qd_tx, ddty * qd_ty * qd_ty
    tdot_x, tdot_y = cpsi * tdx - spsi * tdy, spsi * tdx + cpsi * tdy
    tdd_x, tdd_y = cpsi * tddx - spsi * tddy, spsi * tddx + cpsi * tddy
    wp2, wb2 = omega_p * omega_p, omega * omega
    wddx = -wp2 * bux - 2.0 * omega_p * tdot_y + tdd_x + wb2 * bbx
    wddy = -wp2 * buy + 2.0 * omega_p * tdot_x + tdd_y + wb2 * bby
    accx = _cmm(P.ancestors, wddx, P.anc)
    accy = _cmm(P.ancestors, wddy, P.anc)
    return _Kin(cb, sb, omega, px, py, ox, oy, trx, try_, accx, accy, f, df, ddf, theta)


def _points(k: _Kin, body: torch.Tensor, rx: torch.Tensor, ry: torch.Tensor):
    """Ground positions of points (``rx``, ``ry`` [P, B] in bodies ``body``) and ``R r``."""
    c, s = k.cos[body], k.sin[body]
    rwx, rwy = c * rx - s * ry, s * rx + c * ry
    return k.px[body] + rwx, k.py[body] + rwy, rwx, rwy


def _point_jacobian(P, k: _Kin, body: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """``dP/dq`` of points at (``x``, ``y``) [P, B] on ``body``: (jx, jy) each [P, Q, B]."""
    chain = P.chain[body].unsqueeze(-1)  # [P, Q, 1]
    slope = P.slope.unsqueeze(-1)  # [Q, 1]
    dx = x.unsqueeze(1) - k.ox.unsqueeze(0)
    dy = y.unsqueeze(1) - k.oy.unsqueeze(0)
    jx = chain * (k.tx.unsqueeze(0) - slope * dy)
    jy = chain * (k.ty.unsqueeze(0) + slope * dx)
    return jx, jy


def _mass_matrix_and_bias(P, k: _Kin):
    """Batch-last mass matrix [Q, Q, B] and gravity-minus-bias force [Q, B]."""
    n_body = P.mass.shape[0]
    body = torch.arange(n_body, device=P.mass.device)
    gx, gy, rwx, rwy = _points(k, body, P.com[:, 0], P.com[:, 1])
    jx, jy = _point_jacobian(P, k, body, gx, gy)  # [N, Q, B]
    m = P.mass.unsqueeze(1)  # [N, 1, B]
    mjx, mjy = m * jx, m * jy
    mass_matrix = (mjx.unsqueeze(2) * jx.unsqueeze(1) + mjy.unsqueeze(2) * jy.unsqueeze(1)).sum(0)
    rot = P.rot.unsqueeze(-1)  # [N, Q, 1]
    mass_matrix = mass_matrix + (P.inertia.unsqueeze(1).unsqueeze(1) * rot.unsqueeze(2) * rot.unsqueeze(1)).sum(0)
    w2 = k.omega * k.omega
    accx = k.ax - w2 * rwx
    accy = k.ay - w2 * rwy
    rhs = (mjx * (P.gravity[0] - accx).unsqueeze(1) + mjy * (P.gravity[1] - accy).unsqueeze(1)).sum(0)
    return mass_matrix, rhs, (gx, gy), (jx, jy)


def _cholesky_solve_unrolled(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve ``a x = b`` for SPD ``a`` [Q, Q, B], ``b`` [Q, B] by an unrolled Cholesky (fuses under compile)."""
    n = a.shape[0]
    L = [[None] * n for _ in range(n)]
    inv_diag = [None] * n
    for j in range(n):
        s = a[j, j]
        for k in range(j):
            s = s - L[j][k] * L[j][k]
        d = torch.sqrt(s)
        inv_diag[j] = 1.0 / d
        L[j][j] = d
        for i in range(j + 1, n):
            s = a[i, j]
            for k in range(j):
                s = s - L[i][k] * L[j][k]
            L[i][j] = s * inv_diag[j]
    y = [None] * n
    for i in range(n):
        s = b[i]
        for k in range(i):
            s = s - L[i][k] * y[k]
        y[i] = s * inv_diag[i]
    x = [None] * n
    for i in reversed(range(n)):
        s = y[i]
        for k in range(i + 1, n):
            s = s - L[k][i] * x[k]
        x[i] = s * inv_diag[i]
    return torch.stack(x)


def _solve(a: torch.Tensor, b: torch.Tensor, *, unrolled: bool | None = None) -> torch.Tensor:
    """``a^-1 b`` for batch-last SPD ``a`` [Q, Q, B], ``b`` [Q, B]; a non-finite member gives NaN.

    Unrolled Cholesky when compiling (one fused kernel) or when asked;
    otherwise ``torch.linalg.solve_ex`` on the batch-first copy (LU; the
    batched Cholesky path zeroes a triangle with a multi-threaded ``tril``
    that is very slow for small matrices on busy machines).
    """
    if unrolled is None:
        unrolled = torch.compiler.is_compiling()
    if unrolled:
        return _cholesky_solve_unrolled(a, b)
    return _small_solve(a.permute(2, 0, 1), b.T.unsqueeze(-1)).squeeze(-1).T


def _small_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched ``solve_ex`` [B, Q, Q] x [B, Q, 1] (never raises; a singular member gives inf/NaN).

    Note: LAPACK factorisations of a few 10x10 matrices are split across
    threads; on a busy machine small eager batches run much faster with
    ``torch.set_num_threads(1)`` (see ``simulate(num_threads=...)``).
    """
    return torch.linalg.solve_ex(a, b)[0]


# ---------------------------------------------------------------------------- public, batch-first
def _bf(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(-1, 0)


def _kin_public(k: _Kin) -> Kinematics:
    p = torch.stack((_bf(k.px), _bf(k.py)), dim=-1)
    origin = torch.stack((_bf(k.ox), _bf(k.oy)), dim=-1)
    trans = torch.stack((_bf(k.tx), _bf(k.ty)), dim=-1)
    acc = torch.stack((_bf(k.ax), _bf(k.ay)), dim=-1)
    return Kinematics(_bf(k.theta), _bf(k.cos), _bf(k.sin), _bf(k.omega), p, origin, trans, acc, _bf(k.fn),
                      _bf(k.dfn), _bf(k.ddfn))


def _kin_internal(kin: Kinematics) -> _Kin:
    def bl(x):
        return x.movedim(0, -1).contiguous()

    return _Kin(bl(kin.cos), bl(kin.sin), bl(kin.omega), bl(kin.p[..., 0]), bl(kin.p[..., 1]),
                bl(kin.origin[..., 0]), bl(kin.origin[..., 1]), bl(kin.trans[..., 0]), bl(kin.trans[..., 1]),
                bl(kin.acc_bias[..., 0]), bl(kin.acc_bias[..., 1]), bl(kin.fn), bl(kin.dfn), bl(kin.ddfn),
                bl(kin.theta))


def kinematics(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor) -> Kinematics:
    """Body kinematics of a batch.

    Parameters
    ----------
    params : EngineParams
    q, qdot : Tensor [B, Q]
        Coordinates [rad or m] and speeds [rad/s or m/s].

    Returns
    -------
    Kinematics
    """
    return _kin_public(_kinematics(params.bl, q.T.contiguous(), qdot.T.contiguous()))


def point_jacobian(params: EngineParams, kin: Kinematics, body: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Jacobian ``dP/dq`` [B, P, Q, 2] of points at ``pos`` [B, P, 2] (m) fixed in bodies ``body`` [P]."""
    jx, jy = _point_jacobian(params.bl, _kin_internal(kin), body, pos[..., 0].T, pos[..., 1].T)
    return torch.stack((jx.movedim(-1, 0), jy.movedim(-1, 0)), dim=-1)


def mass_matrix_and_bias(params: EngineParams, kin: Kinematics):
    """Mass matrix and the generalized gravity-minus-bias force.

    Returns
    -------
    mass_matrix : Tensor [B, Q, Q]
    rhs : Tensor [B, Q]
        ``sum_b m_b J_c^T (g - Jdot_c qdot)`` (N or N m).
    com_pos : Tensor [B, N, 2] m
    com_jac : Tensor [B, N, Q, 2]
    """
    m, rhs, (gx, gy), (jx, jy) = _mass_matrix_and_bias(params.bl, _kin_internal(kin))
    return (m.permute(2, 0, 1), rhs.T, torch.stack((gx.T, gy.T), dim=-1),
            torch.stack((jx.movedim(-1, 0), jy.movedim(-1, 0)), dim=-1))


def solve(mass_matrix: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
    """``M^-1 f`` per batch member, batch-first (a non-finite member gives NaN, never an exception)."""
    return _small_solve(mass_matrix, force.unsqueeze(-1)).squeeze(-1)


def forward_dynamics(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``qddot`` [B, Q] of the bare multibody system under generalized forces ``tau`` [B, Q] (plus gravity)."""
    P = params.bl
    k = _kinematics(P, q.T.contiguous(), qdot.T.contiguous())
    m, rhs, _, _ = _mass_matrix_and_bias(P, k)
    return _solve(m, tau.T + rhs).T


def energy(params: EngineParams, q: torch.Tensor, qdot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kinetic and gravitational potential energy [J] of each batch member, ``([B], [B])``."""
    P = params.bl
    qd = qdot.T.contiguous()
    k = _kinematics(P, q.T.contiguous(), qd)
    m, _, (gx, gy), _ = _mass_matrix_and_bias(P, k)
    kinetic = 0.5 * (qd.unsqueeze(1) * m * qd.unsqueeze(0)).sum((0, 1))
    potential = -(P.mass * (gx * P.gravity[0] + gy * P.gravity[1])).sum(0)
    return kinetic, potential

