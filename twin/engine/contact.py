"""Foot--ground contact: Hunt--Crossley spheres against the plane y = 0, as OpenSim's SmoothSphereHalfSpaceForce.

For a sphere of radius ``R`` whose centre is at height ``y`` (ground normal
+Y), with indentation ``d = R - y`` and ``v_n``, ``v_t`` the normal
(into the ground) and tangential velocities of the contact point
(``(x_c, y - R + d/2)``, midway through the overlap, on the sphere's body),
Simbody's smooth law (Serrancoli, Falisse et al. 2019) is

* Hertz: ``k = 1/2 E^(2/3)``,
  ``f_H = 4/3 k sqrt(R k) (d^2 + c_f)^(3/4) (1/2 + 1/2 tanh(b_d d))``;
* Hunt--Crossley: ``f_n = f_H (1 + 3/2 c v_n) (1/2 + 1/2 tanh(b_v (v_n + 2/(3c))))``;
* friction: ``v_s = sqrt(v_t^2 + c_f)``, ``r = v_s / v_trans``,
  ``f_f = f_n (min(r, 1) (mu_d + 2 (mu_s - mu_d) / (1 + r^2)) + mu_v v_s)``,
  opposing the slip.

The force on the sphere's body is ``(-f_f v_t / v_s, f_n)`` at the contact
point; its generalized force is ``J^T F`` with the point's Jacobian.

Examples
--------
>>> import torch
>>> f = normal_force(torch.tensor([0.01]), torch.tensor([0.0]), radius=torch.tensor([0.03]),
...                  stiffness=torch.tensor([1e6]), dissipation=torch.tensor([2.0]),
...                  cf=torch.tensor([1e-5]), bd=torch.tensor([300.0]), bv=torch.tensor([50.0]))
>>> round(float(f), 1)
87.5
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .build import EngineParams
from .multibody import Kinematics, _Kin, _kin_internal, _point_jacobian, _points

__all__ = ["ContactForces", "normal_force", "contact_forces"]


@dataclass(frozen=True)
class ContactForces:
    """Contact results.

    Attributes
    ----------
    generalized : Tensor [B, Q]
        Generalized force of all contacts (N m or N).
    sphere : Tensor [B, C, 2]
        Force of the ground on each sphere [N] (x, y).
    group : Tensor [B, F, 2]
        Sum per contact group (e.g. per foot) [N]: the ground reaction force.
    indentation : Tensor [B, C]
        [m] (negative when not touching).
    damping : Tensor [B, Q, Q]
        ``-d generalized / d qdot`` (normal Hunt--Crossley damping, secant
        friction), for the linearly-implicit integrator.
    """

    generalized: torch.Tensor
    sphere: torch.Tensor
    group: torch.Tensor
    indentation: torch.Tensor
    damping: torch.Tensor


def normal_force(indentation: torch.Tensor, v_normal: torch.Tensor, *, radius, stiffness, dissipation, cf, bd,
                 bv) -> torch.Tensor:
    """Smoothed Hunt--Crossley normal force [N] (``v_normal`` positive into the ground)."""
    k = 0.5 * stiffness ** (2.0 / 3.0)
    hertz = (4.0 / 3.0) * k * torch.sqrt(radius * k) * (indentation * indentation + cf) ** 0.75
    hertz = hertz * (0.5 + 0.5 * torch.tanh(bd * indentation))
    hc = hertz * (1.0 + 1.5 * dissipation * v_normal)
    return hc * (0.5 + 0.5 * torch.tanh(bv * (v_normal + 2.0 / (3.0 * dissipation))))


def _contact(P, k: _Kin, qd: torch.Tensor, *, with_damping: bool = True):
    """Batch-last contact: ``qd`` [Q, B] -> generalized [Q, B], force (fx, fy) [C, B], indentation [C, B],
    damping [Q, Q, B] (or None)."""
    body = P.contact_body
    radius = P.contact_radius
    cx, cy, _, _ = _points(k, body, P.contact_r[:, 0], P.contact_r[:, 1])
    indentation = radius - cy
    # contact point on the sphere's body, midway through the overlap
    cpy = cy - radius + 0.5 * indentation
    jx, jy = _point_jacobian(P, k, body, cx, cpy)  # [C, Q, B]
    qdu = qd.unsqueeze(0)
    vx = (jx * qdu).sum(1)
    vy = (jy * qdu).sum(1)
    v_n = -vy
    kk = 0.5 * P.contact_stiffness ** (2.0 / 3.0)
    hertz = (4.0 / 3.0) * kk * torch.sqrt(radius * kk) * (indentation * indentation + P.contact_cf) ** 0.75
    hertz = hertz * (0.5 + 0.5 * torch.tanh(P.contact_bd * indentation))
    c = P.contact_dissipation
    gate = 0.5 + 0.5 * torch.tanh(P.contact_bv * (v_n + 2.0 / (3.0 * c)))
    fn = hertz * (1.0 + 1.5 * c * v_n) * gate
    v_slip = torch.sqrt(vx * vx + P.contact_cf)
    ratio = v_slip / P.v_trans
    ff = fn * (torch.clamp(ratio, max=1.0) * (P.mu_d + 2.0 * (P.mu_s - P.mu_d) / (1.0 + ratio * ratio))
               + P.mu_v * v_slip)
    fx = -ff * vx / v_slip  # force of the ground on the sphere's body
    fy = fn
    generalized = (jx * fx.unsqueeze(1) + jy * fy.unsqueeze(1)).sum(0)
    damping = None
    if with_damping:
        # d(force)/d(velocity) per axis (>= 0): normal Hunt-Crossley damping, secant friction
        dn = torch.clamp(1.5 * c * hertz * gate, min=0.0).unsqueeze(1)
        dt = torch.clamp(ff / v_slip, min=0.0).unsqueeze(1)
        djx, djy = dt * jx, dn * jy
        damping = (djx.unsqueeze(2) * jx.unsqueeze(1) + djy.unsqueeze(2) * jy.unsqueeze(1)).sum(0)
    return generalized, fx, fy, indentation, damping


def contact_forces(params: EngineParams, kin: Kinematics, qdot: torch.Tensor) -> ContactForces:
    """Forces of all contact spheres of a batch.

    Parameters
    ----------
    params : EngineParams
    kin : Kinematics
    qdot : Tensor [B, Q]

    Returns
    -------
    ContactForces
    """
    P = params.bl
    gen, fx, fy, ind, damp = _contact(P, _kin_internal(kin), qdot.T.contiguous())
    sphere = torch.stack((fx.T, fy.T), dim=-1)
    group = torch.stack(((P.contact_group @ fx).T, (P.contact_group @ fy).T), dim=-1)
    return ContactForces(gen.T, sphere, group, ind.T, damp.permute(2, 0, 1))
