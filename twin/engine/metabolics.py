"""Muscle metabolic power: Bhargava et al. (2004), smoothed (as OpenSim's Bhargava2004SmoothedMuscleMetabolics).

Per muscle of mass ``m = F_max / sigma * rho * l_opt`` (``sigma`` = 0.25 MPa,
``rho`` = 1059.7 kg/m^3), with slow-twitch fraction ``r_s`` and
excitation ``e``:

* activation heat ``A = m (40 r_s sin(pi e / 2) + 133 (1 - r_s)(1 - cos(pi e / 2)))``;
* maintenance heat ``M = m g(l) (74 r_s sin(pi e / 2) + 111 (1 - r_s)(1 - cos(pi e / 2)))``
  with ``g`` OpenSim's default piecewise-linear length dependence
  (0.5 below ``l = 0.5``, rising to 1 at ``l = 1``, falling to 0 at 1.5;
  ``l`` the normalised fibre length);
* shortening heat ``S = -alpha v`` with ``alpha = 0.25 F_ce`` when
  shortening and 0 when lengthening (``F_ce`` the total fibre force;
  OpenSim's default; optionally the force-dependent constants 0.16 F_iso +
  0.18 F_ce / 0.157 F_ce), blended with ``tanh(b v)``;
* mechanical work rate ``W = -F_active v`` (negative work included, OpenSim's default);
* the total ``A + M + S + W`` is made non-negative (by raising ``S``) and the
  heat ``A + M + S`` kept at least 1 W/kg of muscle, both smoothly.

The model's total adds the basal rate ``1.2 W/kg`` of body mass.

Examples
--------
>>> import torch
>>> z = torch.zeros(1, 1)
>>> p = muscle_power(excitation=z + 0.5, activation=z + 0.5, norm_fiber_length=z + 1.0,
...                  fiber_velocity=z, active_fiber_force=z + 500.0, passive_fiber_force=z,
...                  active_force_length=z + 1.0, fmax=z + 1000.0, muscle_mass=z + 0.5, slow_twitch=z + 0.5)
>>> round(float(p), 2)
38.02
"""

from __future__ import annotations

import math

import torch

__all__ = ["SMOOTHING", "BASAL_COEFFICIENT", "muscle_power", "length_dependence"]

#: tanh sharpness of the smoothed switches [s/m] (OpenSim's default velocity_sliding / power smoothing)
SMOOTHING = 10.0
#: basal metabolic rate [W/kg of body mass]
BASAL_COEFFICIENT = 1.2


def length_dependence(norm_fiber_length: torch.Tensor) -> torch.Tensor:
    """OpenSim's default maintenance-heat length dependence.

    Piecewise linear through (0, 0.5), (0.5, 0.5), (1, 1), (1.5, 0), (2, 0),
    constant outside.
    """
    x = norm_fiber_length
    rising = 0.5 + (torch.clamp(x, 0.5, 1.0) - 0.5)
    falling = -2.0 * (torch.clamp(x, 1.0, 1.5) - 1.0)
    return rising + falling


def muscle_power(*, excitation, activation, norm_fiber_length, fiber_velocity, active_fiber_force,
                 passive_fiber_force, active_force_length, fmax, muscle_mass, slow_twitch,
                 smoothing: float = SMOOTHING, force_dependent_shortening: bool = False,
                 negative_work: bool = True) -> torch.Tensor:
    """Metabolic power of each muscle [W]; all inputs ``[B, M]`` in SI (velocity + lengthening).

    ``force_dependent_shortening`` and ``negative_work`` are OpenSim's
    ``use_force_dependent_shortening_prop_constant`` (default False: ``alpha =
    0.25 F_ce`` shortening, 0 lengthening) and ``include_negative_mechanical_work``
    (default True).
    """
    b = smoothing
    e = torch.clamp(excitation, 0.0, 1.0)
    slow = slow_twitch * torch.sin(0.5 * math.pi * e)
    fast = (1.0 - slow_twitch) * (1.0 - torch.cos(0.5 * math.pi * e))
    adot = muscle_mass * (40.0 * slow + 133.0 * fast)
    mdot = muscle_mass * length_dependence(norm_fiber_length) * (74.0 * slow + 111.0 * fast)
    f_iso = activation * active_force_length * fmax
    f_total = active_fiber_force + passive_fiber_force
    v = fiber_velocity
    lengthening = 0.5 + 0.5 * torch.tanh(b * v)
    if force_dependent_shortening:
        alpha = 0.16 * f_iso + 0.18 * f_total
        alpha = alpha + (-alpha + 0.157 * f_total) * lengthening
    else:
        alpha = 0.25 * f_total * (1.0 - lengthening)
    sdot = -alpha * v
    wdot = -active_fiber_force * v if negative_work else -active_fiber_force * v * (1.0 - lengthening)
    total = adot + mdot + sdot + wdot
    sdot = sdot - total * (0.5 + 0.5 * torch.tanh(b * (-total)))
    heat = (adot + mdot + sdot) / muscle_mass
    heat = heat + (1.0 - heat) * (0.5 + 0.5 * torch.tanh(b * (1.0 - heat)))
    return heat * muscle_mass + wdot
