"""Musculotendon paths: length, lengthening speed and moment arms from the path points.

Points are fixed in bodies (``PathPoint``), fixed but present only while a
coordinate lies in a range (``ConditionalPathPoint``), or move in their body as
spline functions of coordinates (``MovingPathPoint``). The path length is the
sum of the straight segments between consecutive *active* points. All
candidate segments (between two points with only conditional points in
between) are precomputed by :mod:`twin.engine.build`; a segment counts when
its two ends are active and every point between them is not, so the length
is a masked sum with no data-dependent branching.

The moment arm is ``r = -dL/dq``, computed analytically from the point
Jacobians (``dL/dq = sum_segments u . (J_end - J_start)``), so it is exact for
the discretised path and consistent with the path's generalized force
``tau = r F`` (OpenSim computes moment arms the same way, from the forces a
unit path tension applies). The lengthening speed is ``dL/dq . qdot``.

Examples
--------
>>> import torch
>>> from twin.engine.spec import double_pendulum, MuscleSpec, PathPointSpec
>>> from twin.engine.build import EngineParams
>>> from twin.engine.multibody import kinematics
>>> m = MuscleSpec("m", 100.0, 0.1, 0.1, path=(PathPointSpec("link1", (0.1, -0.2, 0.0)),
...                                             PathPointSpec("link2", (0.1, -0.2, 0.0))))
>>> p = EngineParams.from_body(double_pendulum().replace(muscles=(m,)))
>>> z = torch.zeros(1, 2, dtype=torch.float64)
>>> geo = path_geometry(p, kinematics(p, z, z), z)
>>> round(float(geo.length[0, 0]), 6)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .build import EngineParams
from .multibody import Kinematics, _cmm, _Kin, _kin_internal, _points

__all__ = ["PathGeometry", "path_geometry"]


@dataclass(frozen=True)
class PathGeometry:
    """Musculotendon geometry of every muscle.

    Attributes
    ----------
    length : Tensor [B, M] m
        Musculotendon length.
    dldq : Tensor [B, M, Q] m/rad (or 1)
        d length / d q; the moment arm is ``-dldq``.
    """

    length: torch.Tensor
    dldq: torch.Tensor

    @property
    def moment_arm(self) -> torch.Tensor:
        """Moment arms ``-dL/dq`` [B, M, Q] (m, or 1 for translations)."""
        return -self.dldq


def _path(P, k: _Kin, q: torch.Tensor):
    """Batch-last path geometry: ``q`` [Q, B] -> length [M, B], dL/dq [M, Q, B]."""
    body = P.point_body
    r = P.point_r  # [P, 3, B] (or [P, 3, 1]: one body shared by the batch)
    mv = P.moving_point
    n_moving = int(mv.shape[0])
    if n_moving:
        fm = P.moving_fn
        moving = torch.stack((k.fn[fm[:, 0]], k.fn[fm[:, 1]], k.fn[fm[:, 2]]), dim=1)  # [Pm, 3, B]
        r = r.expand(-1, -1, moving.shape[-1]).index_copy(0, mv, moving)
    posx, posy, _, _ = _points(k, body, r[:, 0], r[:, 1])
    pz = P.body_z[body] + r[:, 2]
    i, j = P.seg_i, P.seg_j
    dx, dy, dz = posx[j] - posx[i], posy[j] - posy[i], pz[j] - pz[i]
    seg_len = torch.sqrt(dx * dx + dy * dy + dz * dz)
    inv = 1.0 / seg_len
    ux, uy, uz = dx * inv, dy * inv, dz * inv  # [G, B]
    cross_p = ux * posy[i] - uy * posx[i]
    slope = P.slope.unsqueeze(-1)  # [Q, 1]
    wx = slope * k.oy + k.tx  # [Q, B]
    wy = -slope * k.ox + k.ty
    dseg = (ux.unsqueeze(1) * wx.unsqueeze(0) + uy.unsqueeze(1) * wy.unsqueeze(0)
            - cross_p.unsqueeze(1) * slope.unsqueeze(0)) * P.seg_sign.unsqueeze(-1)  # [G, Q, B]
    if n_moving:
        fm = P.moving_fn
        bm = body[mv]
        c, s = k.cos[bm], k.sin[bm]
        drx, dry, drz = k.dfn[fm[:, 0]], k.dfn[fm[:, 1]], k.dfn[fm[:, 2]]
        mvec = torch.zeros_like(r).index_copy(0, mv, torch.stack((c * drx - s * dry, s * drx + c * dry, drz), 1))
        s_j = ux * mvec[j, 0] + uy * mvec[j, 1] + uz * mvec[j, 2]
        s_i = ux * mvec[i, 0] + uy * mvec[i, 1] + uz * mvec[i, 2]
        dseg = dseg + s_j.unsqueeze(1) * P.seg_moving_j.unsqueeze(-1) - s_i.unsqueeze(1) * P.seg_moving_i.unsqueeze(-1)
    # active points and used segments
    qc = q[P.cond_coord]
    active = torch.where(P.is_cond.unsqueeze(-1), (qc >= P.cond_lo) & (qc <= P.cond_hi),
                         torch.ones_like(qc, dtype=torch.bool)).to(q.dtype)
    between = P.seg_between @ active  # [G, B] active points strictly inside
    used = active[i] * active[j] * (between < 0.5).to(q.dtype)
    length = _cmm(P.muscle_segments, used * seg_len, P.seg_muscle_matrix)
    dldq = _cmm(P.muscle_segments, used.unsqueeze(1) * dseg, P.seg_muscle_matrix)
    return length, dldq


def path_geometry(params: EngineParams, kin: Kinematics, q: torch.Tensor) -> PathGeometry:
    """Length and its coordinate derivatives for all muscles.

    For a straight segment with unit vector ``u`` between points on bodies
    ``b_i`` and ``b_j``, only coordinates between the two bodies change its
    length (``seg_sign = chain[b_j] - chain[b_i]``), and by the joint
    Jacobian formula of :mod:`twin.engine.multibody`

    ``dl/dq_k = seg_sign[k] (slope_k (u x O_k - u x P) + u . T_k)``

    (``x`` the planar cross product; ``u x P`` is the same at both ends),
    plus, for moving points, ``u . R dr/dq`` at their coordinate.

    Parameters
    ----------
    params : EngineParams
    kin : Kinematics
        From :func:`twin.engine.multibody.kinematics` at ``q``.
    q : Tensor [B, Q]

    Returns
    -------
    PathGeometry
    """
    length, dldq = _path(params.bl, _kin_internal(kin), q.T.contiguous())
    return PathGeometry(length.T, dldq.permute(2, 0, 1))
