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
from .multibody import Kinematics, _perp

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


def path_geometry(params: EngineParams, kin: Kinematics, q: torch.Tensor) -> PathGeometry:
    """Length and its coordinate derivatives for all muscles.

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
    body = params.point_body
    r = params.point_r
    # moving points: location (and its derivative) from the model splines
    mv = params.moving_point
    if mv.numel():
        spl = params.moving_spline  # [Pm, 3]
        r_mv = kin.spline_f[:, spl]  # [B, Pm, 3]
        dr_mv = kin.spline_df[:, spl].unsqueeze(-1) * params.spline_sel[spl]  # [B, Pm, 3, Q]
        r = r.index_copy(1, mv, r_mv)
    c, s = kin.cos[:, body], kin.sin[:, body]
    rx, ry = r[..., 0], r[..., 1]
    rw = torch.stack((c * rx - s * ry, s * rx + c * ry), dim=-1)
    pos = kin.p[:, body] + rw  # [B, P, 2]
    pz = params.body_z[:, body] + r[..., 2]  # [B, P]
    jac = kin.jac[:, body] + _perp(rw).unsqueeze(-1) * params.rot[body].unsqueeze(-2)  # [B, P, 2, Q]
    jz = torch.zeros_like(jac[:, :, 0])  # [B, P, Q]
    if mv.numel():
        cm, sm = c[:, mv].unsqueeze(-1), s[:, mv].unsqueeze(-1)
        drx, dry = dr_mv[:, :, 0], dr_mv[:, :, 1]
        add = torch.stack((cm * drx - sm * dry, sm * drx + cm * dry), dim=2)
        jac = jac.index_add(1, mv, add)
        jz = jz.index_add(1, mv, dr_mv[:, :, 2])
    # active points and used segments
    qc = q[:, params.cond_coord]
    active = torch.where(params.is_cond, (qc >= params.cond_lo) & (qc <= params.cond_hi),
                         torch.ones_like(qc, dtype=torch.bool)).to(q.dtype)
    i, j = params.seg_i, params.seg_j
    between = active @ params.seg_between.T  # [B, G] number of active points strictly inside
    used = active[:, i] * active[:, j] * (between < 0.5).to(q.dtype)
    d_xy = pos[:, j] - pos[:, i]
    d_z = pz[:, j] - pz[:, i]
    seg_len = torch.sqrt((d_xy * d_xy).sum(-1) + d_z * d_z)
    inv = 1.0 / seg_len
    u_xy = d_xy * inv.unsqueeze(-1)
    u_z = d_z * inv
    dj = jac[:, j] - jac[:, i]  # [B, G, 2, Q]
    dseg = (u_xy.unsqueeze(-1) * dj).sum(2) + u_z.unsqueeze(-1) * (jz[:, j] - jz[:, i])  # [B, G, Q]
    length = (used * seg_len) @ params.seg_muscle.T
    dldq = torch.einsum("mg,bgk->bmk", params.seg_muscle, used.unsqueeze(-1) * dseg)
    return PathGeometry(length, dldq)
