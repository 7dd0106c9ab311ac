"""First-order activation dynamics, De Groote et al. (2016) smooth form (as OpenSim's DeGrooteFregly2016Muscle).

``da/dt = [ (f + 1/2) / (tau_a (1/2 + 3a/2)) + (1/2 - f)(1/2 + 3a/2) / tau_d ] (e - a)``,
``f = 1/2 tanh(b (e - a))``, ``b = 0.1`` (OpenSim's value).

The bracket is a positive rate ``k(a, e)`` [1/s], so over a step with the
excitation held, :func:`step_exponential` advances ``a`` by the exact
solution with ``k`` frozen, ``a' = e + (a - e) exp(-k dt)``: unconditionally
stable and never overshooting ``e``.

Examples
--------
>>> import torch
>>> a = torch.tensor([0.0]); e = torch.tensor([1.0])
>>> float(derivative(a, e, torch.tensor([0.01]), torch.tensor([0.04]))) > 0
True
>>> float(step_exponential(a, e, torch.tensor([0.01]), torch.tensor([0.04]), 10.0))
1.0
"""

from __future__ import annotations

import torch

__all__ = ["TANH_STEEPNESS", "rate", "derivative", "step_exponential"]

#: b of the smooth activation/deactivation switch (OpenSim's DeGrooteFregly2016Muscle uses 0.1)
TANH_STEEPNESS = 0.1


def rate(activation: torch.Tensor, excitation: torch.Tensor, tau_act: torch.Tensor,
         tau_deact: torch.Tensor) -> torch.Tensor:
    """The rate ``k(a, e)`` [1/s] with ``da/dt = k (e - a)``; all tensors ``[B, M]``."""
    f = 0.5 * torch.tanh(TANH_STEEPNESS * (excitation - activation))
    z = 0.5 + 1.5 * activation
    return (f + 0.5) / (tau_act * z) + (0.5 - f) * z / tau_deact


def derivative(activation: torch.Tensor, excitation: torch.Tensor, tau_act: torch.Tensor,
               tau_deact: torch.Tensor) -> torch.Tensor:
    """``da/dt`` [1/s]."""
    return rate(activation, excitation, tau_act, tau_deact) * (excitation - activation)


def step_exponential(activation: torch.Tensor, excitation: torch.Tensor, tau_act: torch.Tensor,
                     tau_deact: torch.Tensor, dt: float) -> torch.Tensor:
    """Activation after ``dt`` [s] with excitation and rate held (exact for frozen ``k``)."""
    k = rate(activation, excitation, tau_act, tau_deact)
    return excitation + (activation - excitation) * torch.exp(-k * dt)
