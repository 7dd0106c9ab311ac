"""Time integrators for :func:`twin.engine.step.step`.

``semi_implicit_euler`` (default, one dynamics evaluation per step)
    Symplectic Euler for the mechanics (``qdot += dt qddot`` then
    ``q += dt qdot``: no energy drift on conservative systems, error O(dt));
    the exact exponential update of activation dynamics with the rate held
    (:func:`twin.engine.activation.step_exponential`, unconditionally
    stable); and a linearly-implicit Euler step for the compliant tendon
    state, ``F += dt F' / (1 - dt dF'/dF)``, which removes the tendon's
    stiffness limit.

``rk4`` (four evaluations per step)
    Classical explicit Runge--Kutta on all states: O(dt^4), for reference
    accuracy (e.g. comparisons with OpenSim's error-controlled integrator),
    with the explicit stability limit of every state, tendon included.

Stable steps (measured on the Gait10dof18musc body, see ``tests/test_engine*.py``):

* rigid tendons, with contact: ``dt = 1 ms`` with ``semi_implicit_euler``
  (the contact spheres' normal stiffness on the ~1.5 kg foot bounds the
  step at a few ms); 0.5 ms for margin during impacts;
* compliant tendons: ``dt = 0.5 ms`` with ``semi_implicit_euler`` (stable
  thanks to the implicit tendon update; the explicit limit is ~0.1 ms at
  low activation);
* no muscles (pendulum tests): ``semi_implicit_euler`` conserves energy to
  O(dt) on average at any dt well below the period; ``rk4`` at 1 ms keeps
  the double pendulum's energy to ~1e-9 relative over 10 s.

Examples
--------
>>> import torch
>>> from twin.engine.build import EngineParams
>>> from twin.engine.spec import double_pendulum
>>> from twin.engine.step import initial_state
>>> p = EngineParams.from_body(double_pendulum())
>>> s = initial_state(p, q=torch.tensor([[0.3, 0.0]], dtype=torch.float64))
>>> s1, out = advance(p, s, torch.zeros(1, 0, dtype=torch.float64), 1e-3, integrator="rk4")
>>> bool(s1.q[0, 0] < 0.3)
True
"""

from __future__ import annotations

import torch

from . import activation as _activation
from .build import EngineParams
from .step import Outputs, State, dynamics

__all__ = ["INTEGRATORS", "advance"]

INTEGRATORS = ("semi_implicit_euler", "rk4")


def _semi_implicit(params: EngineParams, state: State, excitation: torch.Tensor, dt: float):
    out = dynamics(params, state, excitation)
    qdot = state.qdot + dt * out.qddot
    q = state.q + dt * qdot
    e = torch.clamp(excitation, 0.0, 1.0)
    act = _activation.step_exponential(state.activation, e, params.tau_act, params.tau_deact, dt)
    if params.rigid_tendon:
        tf = out.muscle_force / params.fmax
    else:
        tf = state.tendon_force + dt * out.tendon_force_dot / (1.0 - dt * out.tendon_force_dot_jac)
    return State(q, qdot, act, tf, state.fell, state.failed), out


def _rk4(params: EngineParams, state: State, excitation: torch.Tensor, dt: float):
    def deriv(s: State) -> tuple[tuple[torch.Tensor, ...], Outputs]:
        o = dynamics(params, s, excitation)
        ft_dot = torch.zeros_like(s.tendon_force) if params.rigid_tendon else o.tendon_force_dot
        return (s.qdot, o.qddot, o.activation_dot, ft_dot), o

    def shifted(s: State, k, h: float) -> State:
        return State(s.q + h * k[0], s.qdot + h * k[1], s.activation + h * k[2], s.tendon_force + h * k[3],
                     s.fell, s.failed)

    k1, out = deriv(state)
    k2, _ = deriv(shifted(state, k1, 0.5 * dt))
    k3, _ = deriv(shifted(state, k2, 0.5 * dt))
    k4, _ = deriv(shifted(state, k3, dt))
    comb = [a + 2.0 * b + 2.0 * c + d for a, b, c, d in zip(k1, k2, k3, k4)]
    new = shifted(state, comb, dt / 6.0)
    if params.rigid_tendon:
        new = State(new.q, new.qdot, new.activation, out.muscle_force / params.fmax, new.fell, new.failed)
    return new, out


def advance(params: EngineParams, state: State, excitation: torch.Tensor, dt: float, *,
            integrator: str = "semi_implicit_euler") -> tuple[State, Outputs]:
    """One step: the new State and the Outputs evaluated at the *start* of the step.

    Parameters
    ----------
    params : EngineParams
    state : State
    excitation : Tensor [B, M]
    dt : float
        [s].
    integrator : {"semi_implicit_euler", "rk4"}, keyword-only
    """
    if integrator == "semi_implicit_euler":
        return _semi_implicit(params, state, excitation, dt)
    if integrator == "rk4":
        return _rk4(params, state, excitation, dt)
    from ..errors import ParameterError

    raise ParameterError(f"integrator={integrator!r} is not allowed; choose one of: "
                         + ", ".join(repr(i) for i in INTEGRATORS))
