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
from .multibody import Kinematics, point_kinematics

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
    """

    generalized: torch.Tensor
    sphere: torch.Tensor
    group: torch.Tensor
    indentation: torch.Tensor


def normal_force(indentation: torch.Tensor, v_normal: torch.Tensor, *, radius, stiffness, dissipation, cf, bd,
                 bv) -> torch.Tensor:
    """Smoothed Hunt--Crossley normal force [N] (``v_normal`` positive into the ground)."""
    k = 0.5 * stiffness ** (2.0 / 3.0)
    hertz = (4.0 / 3.0) * k * torch.sqrt(radius * k) * (indentation * indentation + cf) ** 0.75
    hertz = hertz * (0.5 + 0.5 * torch.tanh(bd * indentation))
    hc = hertz * (1.0 + 1.5 * dissipation * v_normal)
    return hc * (0.5 + 0.5 * torch.tanh(bv * (v_normal + 2.0 / (3.0 * dissipation))))


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
    body = params.contact_body
    radius = params.contact_radius
    centre, _, _, rw = point_kinematics(params, kin, body, params.contact_r[..., :2])
    indentation = radius - centre[..., 1]
    # contact point on the sphere's body, midway through the overlap
    cp = torch.stack((centre[..., 0], centre[..., 1] - radius + 0.5 * indentation), dim=-1)
    rel = cp - kin.p[:, body]
    jac = kin.jac[:, body] + torch.stack((-rel[..., 1], rel[..., 0]), dim=-1).unsqueeze(-1) \
        * params.rot[body].unsqueeze(-2)
    vel = torch.einsum("bcxk,bk->bcx", jac, qdot)
    v_n = -vel[..., 1]
    v_t = vel[..., 0]
    fn = normal_force(indentation, v_n, radius=radius, stiffness=params.contact_stiffness,
                      dissipation=params.contact_dissipation, cf=params.contact_cf, bd=params.contact_bd,
                      bv=params.contact_bv)
    v_slip = torch.sqrt(v_t * v_t + params.contact_cf)
    ratio = v_slip / params.v_trans
    ff = fn * (torch.clamp(ratio, max=1.0) * (params.mu_d + 2.0 * (params.mu_s - params.mu_d) / (1.0 + ratio * ratio))
               + params.mu_v * v_slip)
    force = torch.stack((-ff * v_t / v_slip, fn), dim=-1)  # on the sphere's body
    generalized = torch.einsum("bcxk,bcx->bk", jac, force)
    group = torch.einsum("fc,bcx->bfx", params.contact_group, force)
    return ContactForces(generalized, force, group, indentation)
