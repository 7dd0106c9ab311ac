"""De Groote--Fregly 2016 musculotendon dynamics, as OpenSim's ``DeGrooteFregly2016Muscle``.

Curves (De Groote et al. 2016, Ann Biomed Eng 44:2922, supplement; constants
as in OpenSim 4's implementation, which adjusts them so the curves pass
through their key points):

* active force--length ``f_L(l)``: sum of three Gaussian-like terms
  ``b1 exp(-0.5 (l - b2)^2 / (b3 + b4 l)^2)``, ``f_L(1) = 1``;
* passive force--length ``f_PE(l) = (exp(kPE (l - 1) / e0) - exp(kPE (0.2 - 1) / e0)) /
  (exp(kPE) - exp(kPE (0.2 - 1) / e0))``, ``kPE = 4``, ``e0 = 0.6`` (zero at
  ``l = 0.2``, one at ``l = 1 + e0``);
* force--velocity ``f_V(v) = d1 log(d2 v + d3 + sqrt((d2 v + d3)^2 + 1)) + d4``
  (``v`` normalised by the max contraction velocity, positive lengthening;
  ``f_V(-1) = 0``, ``f_V(0) = 1``) and its inverse;
* tendon ``f_T(l) = c1 exp(kT (l - c2)) - c3`` with ``c1 = c3 = 0.2``,
  ``c2 = 1`` and ``kT = log(6) / strain`` so ``f_T(1 + 0.049) = 1``.

Pennation: constant fibre width ``w = l_opt sin(alpha_opt)``; fibre length
``l_f = sqrt(l_along^2 + w^2)``, ``cos(alpha) = l_along / l_f``.

Two tendon models:

* :func:`compliant` -- OpenSim's explicit form: the state is the normalised
  tendon force ``F_T``; the fibre length follows from the tendon length
  ``l_T = l_s f_T^-1(F_T)``; the fibre velocity from inverting the
  force--velocity curve, ``f_V = (F_T / cos(alpha) - f_PE) / (a f_L)``; and
  ``dF_T/dt = kT (F_T + c3) (v_MT - v_f / cos(alpha)) / l_s``. Also returned:
  an estimate of ``d(dF_T/dt)/dF_T`` for the linearly-implicit update of
  :mod:`twin.engine.integrate`. Departure from OpenSim, for robustness: the
  argument of the inverse force--velocity curve is clamped so that
  ``|v_f| <= ~2 v_max`` (OpenSim lets it grow without bound as ``a f_L -> 0``,
  which makes the ODE infinitely stiff at zero activation); and the tendon
  force is bounded below by 0 (a slack tendon does not push; the De Groote
  curve would allow -0.2 F_max), as Moco bounds it.
* :func:`rigid` -- inextensible tendon: fibre length and velocity from the
  path, tendon force ``F_max (a f_L f_V + f_PE + beta v) cos(alpha)``.

Examples
--------
>>> import torch
>>> one = torch.tensor(1.0, dtype=torch.float64)
>>> round(float(active_force_length(one)), 12), round(float(force_velocity(0 * one)), 12)
(1.0, 1.0)
>>> round(float(tendon_force_length(1.049 * one, kT_from_strain(0.049))), 12)
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .build import EngineParams

__all__ = [
    "active_force_length",
    "passive_force_length",
    "force_velocity",
    "force_velocity_inverse",
    "tendon_force_length",
    "tendon_length_from_force",
    "kT_from_strain",
    "MuscleState",
    "rigid",
    "compliant",
    "equilibrium_tendon_force",
]

# active force-length (b11 adjusted so f_L(1) = 1)
_B1 = (0.8150671134243542, 0.433004984392647, 0.1)
_B2 = (1.055033428970575, 0.716775413397760, 1.0)
_B3 = (0.162384573599574, -0.029947116970696, 0.353553390593274)
_B4 = (0.063303448465465, 0.200356847296188, 0.0)
# force-velocity (d1, d4 solved so f_V(-1) = 0, f_V(0) = 1)
D1, D2, D3, D4 = -0.3211346127989808, -8.149, -0.374, 0.8825327733249912
# tendon
C1, C2, C3 = 0.2, 1.0, 0.2
# passive fibre
KPE = 4.0
MIN_NORM_FIBER_LENGTH = 0.2
#: clamp of the inverse force-velocity argument (|v_f| <~ 2 v_max); see the module docstring
FV_INVERSE_ARG_LIMIT = 3.5


def active_force_length(norm_length: torch.Tensor) -> torch.Tensor:
    """Active force--length multiplier ``f_L`` of the normalised fibre length [1]."""
    out = torch.zeros_like(norm_length)
    for b1, b2, b3, b4 in zip(_B1, _B2, _B3, _B4):
        den = b3 + b4 * norm_length
        out = out + b1 * torch.exp(-0.5 * (norm_length - b2) ** 2 / (den * den))
    return out


def passive_force_length(norm_length: torch.Tensor, e0=0.6) -> torch.Tensor:
    """Passive fibre force multiplier ``f_PE`` (0 at l = 0.2, 1 at l = 1 + e0) [1]."""
    offset = torch.exp(torch.as_tensor(KPE * (MIN_NORM_FIBER_LENGTH - 1.0), dtype=norm_length.dtype,
                                       device=norm_length.device) / e0)
    return (torch.exp(KPE * (norm_length - 1.0) / e0) - offset) / (math.exp(KPE) - offset)


def force_velocity(norm_velocity: torch.Tensor) -> torch.Tensor:
    """Force--velocity multiplier ``f_V`` of the normalised fibre velocity (+ lengthening) [1]."""
    t = D2 * norm_velocity + D3
    return D1 * torch.log(t + torch.sqrt(t * t + 1.0)) + D4


def force_velocity_inverse(fv: torch.Tensor) -> torch.Tensor:
    """Normalised fibre velocity giving multiplier ``fv`` (exact inverse of :func:`force_velocity`)."""
    return (torch.sinh((fv - D4) / D1) - D3) / D2


def kT_from_strain(strain) -> float | torch.Tensor:
    """Tendon shape factor ``kT`` so that ``f_T(1 + strain) = 1``."""
    if isinstance(strain, torch.Tensor):
        return math.log((1.0 + C3) / C1) / strain
    return math.log((1.0 + C3) / C1) / float(strain)


def tendon_force_length(norm_length: torch.Tensor, kT) -> torch.Tensor:
    """Normalised tendon force ``f_T`` of the normalised tendon length [1]."""
    return C1 * torch.exp(kT * (norm_length - C2)) - C3


def tendon_length_from_force(norm_force: torch.Tensor, kT) -> torch.Tensor:
    """Normalised tendon length of a normalised tendon force (inverse of :func:`tendon_force_length`)."""
    return torch.log((norm_force + C3) / C1) / kT + C2


@dataclass(frozen=True)
class MuscleState:
    """Everything computed for the muscles at one instant; all ``[B, M]``.

    Attributes
    ----------
    tendon_force : N
        Force along the tendon (what the path applies to the skeleton).
    fiber_length : m ; norm_fiber_length : 1 (by optimal fibre length)
    fiber_velocity : m/s (positive lengthening)
    cos_pennation : 1
    active_fiber_force : N
        ``F_max a f_L f_V`` (along the fibre).
    passive_fiber_force : N
        ``F_max f_PE`` (along the fibre).
    active_force_length : 1
        ``f_L``.
    tendon_force_dot : 1/s
        d(normalised tendon force)/dt (0 for rigid tendons).
    tendon_force_dot_jac : 1/s
        Estimate of d(tendon_force_dot)/d(normalised tendon force) (<= 0; 0 for rigid tendons).
    tendon_force_dv : N s/m
        d(tendon force)/d(musculotendon lengthening speed) (>= 0; 0 for compliant tendons, whose
        force is a state), for the linearly-implicit integrator.
    """

    tendon_force: torch.Tensor
    fiber_length: torch.Tensor
    norm_fiber_length: torch.Tensor
    fiber_velocity: torch.Tensor
    cos_pennation: torch.Tensor
    active_fiber_force: torch.Tensor
    passive_fiber_force: torch.Tensor
    active_force_length: torch.Tensor
    tendon_force_dot: torch.Tensor
    tendon_force_dot_jac: torch.Tensor
    tendon_force_dv: torch.Tensor


def _fiber_geometry(params: EngineParams, along: torch.Tensor):
    along = torch.clamp(along, min=1e-3 * params.lopt)
    length = torch.sqrt(along * along + params.width * params.width)
    return along, length, along / length


def rigid(params: EngineParams, length: torch.Tensor, speed: torch.Tensor, activation: torch.Tensor) -> MuscleState:
    """Rigid-tendon musculotendon force.

    Parameters
    ----------
    params : EngineParams
    length, speed : Tensor [B, M]
        Musculotendon length [m] and lengthening speed [m/s].
    activation : Tensor [B, M]
        [1].

    Returns
    -------
    MuscleState
    """
    along, lf, cos = _fiber_geometry(params, length - params.lts)
    lf_norm = lf / params.lopt
    vf = speed * cos
    v_norm = vf / params.vmax
    fl = active_force_length(lf_norm)
    fpe = passive_force_length(lf_norm, params.e0)
    fv = force_velocity(v_norm)
    active = params.fmax * activation * fl * fv
    passive = params.fmax * fpe
    fiber = active + passive + params.fmax * params.fiber_damping * v_norm
    zero = torch.zeros_like(length)
    t = D2 * v_norm + D3
    dfv = D1 * D2 / torch.sqrt(t * t + 1.0)
    dforce_dv = params.fmax * (activation * fl * dfv + params.fiber_damping) * cos * cos / params.vmax
    return MuscleState(fiber * cos, lf, lf_norm, vf, cos, active, passive, fl, zero, zero,
                       torch.clamp(dforce_dv, min=0.0))


def compliant(params: EngineParams, length: torch.Tensor, speed: torch.Tensor, activation: torch.Tensor,
              norm_tendon_force: torch.Tensor) -> MuscleState:
    """Compliant-tendon musculotendon state and tendon force derivative (OpenSim's explicit form).

    Parameters
    ----------
    params : EngineParams
    length, speed : Tensor [B, M]
        Musculotendon length [m] and lengthening speed [m/s].
    activation : Tensor [B, M]
        [1].
    norm_tendon_force : Tensor [B, M]
        State: tendon force / max isometric force [1].

    Returns
    -------
    MuscleState
    """
    ft = torch.clamp(norm_tendon_force, min=0.0)  # a slack tendon carries no (compressive) force
    lt = params.lts * tendon_length_from_force(ft, params.kT)
    along, lf, cos = _fiber_geometry(params, length - lt)
    lf_norm = lf / params.lopt
    fl = active_force_length(lf_norm)
    fpe = passive_force_length(lf_norm, params.e0)
    denom = torch.clamp(activation * fl, min=1e-9)
    fv = (ft / cos - fpe) / denom
    arg = (fv - D4) / D1
    arg_c = torch.clamp(arg, -FV_INVERSE_ARG_LIMIT, FV_INVERSE_ARG_LIMIT)
    v_norm = (torch.sinh(arg_c) - D3) / D2
    vf = v_norm * params.vmax
    fv_used = force_velocity(v_norm)
    v_tendon = speed - vf / cos
    slope = params.kT * (ft + C3)  # d f_T / d l_T (normalised)
    ft_dot = slope * v_tendon / params.lts
    inside = (arg.abs() < FV_INVERSE_ARG_LIMIT).to(ft.dtype)
    dv_dft = inside * torch.cosh(arg_c) / (D1 * D2) / (denom * cos)  # d v_norm / d F_T
    jac = params.kT * v_tendon / params.lts - slope / params.lts * params.vmax / cos * dv_dft
    jac = torch.clamp(jac, max=0.0)
    active = params.fmax * activation * fl * fv_used
    passive = params.fmax * fpe
    return MuscleState(params.fmax * ft, lf, lf_norm, vf, cos, active, passive, fl, ft_dot, jac,
                       torch.zeros_like(ft))


def equilibrium_tendon_force(params: EngineParams, length: torch.Tensor, speed: torch.Tensor,
                             activation: torch.Tensor, *, iterations: int = 60) -> torch.Tensor:
    """Normalised tendon force in equilibrium with the fibre (OpenSim's ``computeInitialFiberEquilibrium``).

    Solves ``F_T = (a f_L f_V + f_PE + beta v) cos(alpha)`` for ``F_T`` in
    ``[0, 5]`` by bisection (fixed iteration count, no branching), with the
    tendon not stretching (``dF_T/dt = 0``: the fibre takes the whole
    musculotendon velocity).

    Returns
    -------
    Tensor [B, M]
    """
    lo = torch.zeros_like(length)
    hi = torch.full_like(length, 5.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lt = params.lts * tendon_length_from_force(mid, params.kT)
        along, lf, cos = _fiber_geometry(params, length - lt)
        lf_norm = lf / params.lopt
        v_norm = speed * cos / params.vmax
        fiber = activation * active_force_length(lf_norm) * force_velocity(v_norm) \
            + passive_force_length(lf_norm, params.e0) + params.fiber_damping * v_norm
        residual = mid - fiber * cos  # increasing in mid
        pos = residual > 0
        hi = torch.where(pos, mid, hi)
        lo = torch.where(pos, lo, mid)
    return 0.5 * (lo + hi)
