"""Time integrators for :func:`twin.engine.step.step`.

``semi_implicit_euler`` (default, one dynamics evaluation per step)
    Symplectic Euler for the mechanics (``qdot += dt qddot`` then
    ``q += dt qdot``), made linearly implicit in the stiff damping terms:
    the velocity update solves ``(M + dt D + dt^2 K) dv = dt (f - dt K qdot)``
    with ``D`` the damping of the contact spheres (Hunt--Crossley and
    friction), of rigid-tendon muscles (force--velocity, diagonal part) and
    of the joints, ``K`` the joint-limit and spring stiffness
    (:func:`twin.engine.step.dynamics`); the exact exponential update of
    activation dynamics with the rate held
    (:func:`twin.engine.activation.step_exponential`); and a
    linearly-implicit Euler step for the compliant-tendon state,
    ``F += dt F' / (1 - dt dF'/dF)``. First order.

``rk4`` (four evaluations per step)
    Classical explicit Runge--Kutta on all states: fourth order, for
    reference accuracy (comparisons with OpenSim's error-controlled
    integrator), with the explicit stability limit of every state.

Steps measured on the Gait10dof18musc body (``BodyParams.default(lumbar=False)``,
18 muscles, 4 contact spheres, harness-supported stepping of
``benchmarks/bench_engine.py``), joint-angle RMS against a 0.25 ms run:

==================  =======================  =======================
dt                  rigid tendons            compliant tendons
==================  =======================  =======================
0.5 ms              0.05 deg                 0.05 deg
1 ms                0.15 deg                 0.17 deg
2 ms                0.34-0.39 deg, stable    0.40 deg, stable
==================  =======================  =======================

(also stable at 2 ms with all muscles at 90-100 % activation). ``rk4`` conserves
the double pendulum's energy to 1e-8 over 10 s at 2 ms; semi-implicit
Euler keeps it within a 1 % band at 1 ms.

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
from .step import Outputs, State, _dynamics, _public_outputs

__all__ = ["INTEGRATORS", "advance"]

INTEGRATORS = ("semi_implicit_euler", "rk4")


def _semi_implicit(P, rigid: bool, q, qd, act, ft, e, dt: float):
    out = _dynamics(P, rigid, q, qd, act, ft, e, implicit_dt=dt)
    qd1 = qd + dt * out.qddot
    q1 = q + dt * qd1
    e = torch.clamp(e, 0.0, 1.0)
    act1 = _activation.step_exponential(act, e, P.tau_act, P.tau_deact, dt)
    if rigid:
        ft1 = out.muscle_force / P.fmax
    else:
        ft1 = torch.clamp(ft + dt * out.tendon_force_dot / (1.0 - dt * out.tendon_force_dot_jac), min=0.0)
    return (q1, qd1, act1, ft1), out


def _rk4(P, rigid: bool, q, qd, act, ft, e, dt: float):
    def deriv(y):
        o = _dynamics(P, rigid, y[0], y[1], y[2], y[3], e)
        ft_dot = torch.zeros_like(y[3]) if rigid else o.tendon_force_dot
        return (y[1], o.qddot, o.activation_dot, ft_dot), o

    def shifted(y, k, h):
        return tuple(a + h * b for a, b in zip(y, k))

    y0 = (q, qd, act, ft)
    k1, out = deriv(y0)
    k2, _ = deriv(shifted(y0, k1, 0.5 * dt))
    k3, _ = deriv(shifted(y0, k2, 0.5 * dt))
    k4, _ = deriv(shifted(y0, k3, dt))
    comb = [a + 2.0 * b + 2.0 * c + d for a, b, c, d in zip(k1, k2, k3, k4)]
    y1 = shifted(y0, comb, dt / 6.0)
    y1 = (y1[0], y1[1], y1[2], torch.clamp(y1[3], min=0.0))
    if rigid:
        y1 = (y1[0], y1[1], y1[2], out.muscle_force / P.fmax)
    return y1, out


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
    if integrator not in INTEGRATORS:
        from ..errors import ParameterError

        raise ParameterError(f"integrator={integrator!r} is not allowed; choose one of: "
                             + ", ".join(repr(i) for i in INTEGRATORS))
    fn = _semi_implicit if integrator == "semi_implicit_euler" else _rk4
    (q, qd, act, ft), o = fn(params.bl, params.rigid_tendon, state.q.T.contiguous(), state.qdot.T.contiguous(),
                             state.activation.T.contiguous(), state.tendon_force.T.contiguous(),
                             excitation.T.contiguous(), dt)
    return State(q.T, qd.T, act.T, ft.T, state.fell, state.failed), _public_outputs(o)
