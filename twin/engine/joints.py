"""Passive joint torques: exponential joint-limit torques and linear damping.

``tau = k (exp(-s (q - q_min)) - exp(s (q - q_max))) - c qdot - k_s (q - q_rest)``

(Anderson & Pandy 1999 style): negligible inside the range of motion when
``s`` is large (``exp(-s d)`` with ``d`` the distance to the limit),
stiffening exponentially beyond it. ``k`` [N m], ``s`` [1/rad] and ``c``
[N m s/rad] are per coordinate (``CoordinateSpec.limit_stiffness``,
``limit_sharpness``, ``damping``); the optional linear spring ``k_s``
[N m/rad] towards ``q_rest`` (``stiffness``, ``rest``) is OpenSim's
``SpringGeneralizedForce`` without viscosity (use ``damping``). The exponents are capped at 40 so a
wildly out-of-range element gives a large finite torque, never inf.

Examples
--------
>>> import torch
>>> q = torch.tensor([[0.0, 1.2]]); z = torch.zeros(1, 2)
>>> lo, hi = torch.full((1, 2), -1.0), torch.full((1, 2), 1.0)
>>> tau = limit_torque(q, z, lo, hi, torch.full((1, 2), 10.0), torch.full((1, 2), 20.0), z)
>>> bool(abs(tau[0, 0]) < 1e-6), bool(tau[0, 1] < -500)
(True, True)
"""

from __future__ import annotations

import torch

__all__ = ["limit_torque", "passive_torque", "limit_stiffness"]

_EXP_CAP = 40.0


def limit_torque(q: torch.Tensor, qdot: torch.Tensor, q_lo: torch.Tensor, q_hi: torch.Tensor, k: torch.Tensor,
                 s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Passive torque [N m] (or force [N]) on every coordinate; all tensors ``[B, Q]``."""
    lower = torch.exp(torch.clamp(-s * (q - q_lo), max=_EXP_CAP))
    upper = torch.exp(torch.clamp(s * (q - q_hi), max=_EXP_CAP))
    return k * (lower - upper) - c * qdot


def passive_torque(params, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
    """:func:`limit_torque` plus the linear springs, with a model's parameters (``EngineParams``)."""
    return limit_torque(q, qdot, params.q_lo, params.q_hi, params.limit_k, params.limit_sharp,
                        params.joint_damping) - params.spring_k * (q - params.spring_rest)


def limit_stiffness(params, q: torch.Tensor) -> torch.Tensor:
    """``-d tau / d q`` of the limit torque [N m/rad], ``[B, Q]`` (>= 0), for the linearly-implicit integrator."""
    s = params.limit_sharp
    lower = torch.exp(torch.clamp(-s * (q - params.q_lo), max=_EXP_CAP))
    upper = torch.exp(torch.clamp(s * (q - params.q_hi), max=_EXP_CAP))
    return params.limit_k * s * (lower + upper) + params.spring_k
