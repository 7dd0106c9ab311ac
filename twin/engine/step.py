"""The engine's state and the one place where the stages are chained.

:func:`dynamics` evaluates, for a batch, in this order:

1. :mod:`~twin.engine.multibody` -- body kinematics and Jacobians;
2. :mod:`~twin.engine.path` -- musculotendon lengths, speeds, moment arms;
3. :mod:`~twin.engine.muscle` -- tendon forces (compliant or rigid tendon);
4. :mod:`~twin.engine.joints` -- passive joint torques;
5. :mod:`~twin.engine.contact` -- foot--ground forces;
6. :mod:`~twin.engine.multibody` -- mass matrix, bias forces, ``qddot``;
7. :mod:`~twin.engine.activation` -- ``da/dt``;
8. :mod:`~twin.engine.metabolics` -- metabolic power (Bhargava 2004).

:func:`step` advances a :class:`State` by ``dt`` with an integrator of
:mod:`~twin.engine.integrate`; it is pure (returns a new State, never
mutates) and has no Python loop over the batch nor data-dependent
branching, so it can be ``torch.compile`` d and differentiated.
:func:`guard` freezes batch members that produced a non-finite state or
fell, and flags them, so one diverging member never poisons the others.

Examples
--------
>>> import torch
>>> from twin.engine.build import EngineParams
>>> from twin.engine.spec import double_pendulum
>>> p = EngineParams.from_body(double_pendulum(), batch=2)
>>> s = initial_state(p, q=torch.tensor([[0.5, 0.0], [1.0, 0.0]], dtype=torch.float64))
>>> s2 = step(p, s, torch.zeros(2, 0, dtype=torch.float64), 1e-3)
>>> tuple(s2.q.shape), bool((s2.qdot[:, 0] < 0).all())
((2, 2), True)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from . import activation as _activation
from . import joints as _joints
from . import metabolics as _metabolics
from . import muscle as _muscle
from .build import EngineParams
from .contact import _contact
from .multibody import _kinematics, _mass_matrix_and_bias, _solve, kinematics
from .path import _path, path_geometry

__all__ = ["State", "Outputs", "initial_state", "dynamics", "step", "guard"]


def _register_pytree(cls):
    try:
        from torch.utils import _pytree

        _pytree.register_dataclass(cls)
    except Exception:  # pragma: no cover - optional
        pass
    return cls


@_register_pytree
@dataclass(frozen=True)
class State:
    """State of a batch of bodies (immutable).

    Attributes
    ----------
    q : Tensor [B, Q]
        Generalized coordinates [rad or m].
    qdot : Tensor [B, Q]
        Generalized speeds [rad/s or m/s].
    activation : Tensor [B, M]
        Muscle activation [1].
    tendon_force : Tensor [B, M]
        Normalised tendon force (tendon force / max isometric force) [1]; the
        compliant-tendon state (carried unchanged with rigid tendons).
    fell : Tensor [B] bool
        The member fell (root below the fall height) and is frozen.
    failed : Tensor [B] bool
        The member produced a non-finite state and is frozen at its last finite one.
    """

    q: torch.Tensor
    qdot: torch.Tensor
    activation: torch.Tensor
    tendon_force: torch.Tensor
    fell: torch.Tensor
    failed: torch.Tensor

    def replace(self, **changes) -> State:
        """A copy with fields replaced."""
        return replace(self, **changes)


@_register_pytree
@dataclass(frozen=True)
class Outputs:
    """Quantities computed along the way (not state).

    Attributes
    ----------
    qddot : Tensor [B, Q] rad/s^2 or m/s^2
    muscle_force : Tensor [B, M] N
        Tendon force.
    fiber_length : Tensor [B, M] m
    fiber_velocity : Tensor [B, M] m/s
    mtu_length : Tensor [B, M] m
    tendon_force_dot : Tensor [B, M] 1/s
    tendon_force_dot_jac : Tensor [B, M] 1/s
    activation_dot : Tensor [B, M] 1/s
    grf : Tensor [B, F, 2] N
        Ground reaction force per contact group (x, y).
    metabolic_power : Tensor [B] W
        Sum over muscles (Bhargava 2004), without the basal rate.
    """

    qddot: torch.Tensor
    muscle_force: torch.Tensor
    fiber_length: torch.Tensor
    fiber_velocity: torch.Tensor
    mtu_length: torch.Tensor
    tendon_force_dot: torch.Tensor
    tendon_force_dot_jac: torch.Tensor
    activation_dot: torch.Tensor
    grf: torch.Tensor
    metabolic_power: torch.Tensor


def initial_state(params: EngineParams, *, q: torch.Tensor | None = None, qdot: torch.Tensor | None = None,
                  activation: torch.Tensor | float = 0.05, tendon_force: torch.Tensor | None = None) -> State:
    """A starting State; compliant tendons start in fibre--tendon equilibrium.

    Parameters
    ----------
    params : EngineParams
    q, qdot : Tensor [B, Q], optional
        Default: each coordinate's default value, zero speeds.
    activation : float or Tensor [B, M], default 0.05
    tendon_force : Tensor [B, M], optional
        Normalised tendon forces; default: equilibrium
        (:func:`twin.engine.muscle.equilibrium_tendon_force`).
    """
    bsz, dtype, device = params.batch_size, params.dtype, params.device
    nq, nm = params.n_coordinates, params.n_muscles
    if q is None:
        q = params.q_default
    q = torch.as_tensor(q, dtype=dtype, device=device).expand(bsz, nq).clone()
    qdot = torch.zeros_like(q) if qdot is None else torch.as_tensor(qdot, dtype=dtype, device=device).expand(
        bsz, nq).clone()
    act = torch.as_tensor(activation, dtype=dtype, device=device).expand(bsz, nm).clone()
    if tendon_force is None and nm == 0:
        tendon_force = torch.zeros(bsz, 0, dtype=dtype, device=device)
    if tendon_force is None:
        kin = kinematics(params, q, qdot)
        geo = path_geometry(params, kin, q)
        speed = torch.einsum("bmk,bk->bm", geo.dldq, qdot)
        tendon_force = _muscle.equilibrium_tendon_force(params, geo.length, speed, act)
    tf = torch.as_tensor(tendon_force, dtype=dtype, device=device).expand(bsz, nm).clone()
    flags = torch.zeros(bsz, dtype=torch.bool, device=device)
    return State(q, qdot, act, tf, flags, flags.clone())


@dataclass(frozen=True)
class _Out:
    """Batch-last outputs of :func:`_dynamics` (all ``[..., B]``)."""

    qddot: torch.Tensor  # [Q, B]
    muscle_force: torch.Tensor  # [M, B]
    fiber_length: torch.Tensor
    fiber_velocity: torch.Tensor
    mtu_length: torch.Tensor
    tendon_force_dot: torch.Tensor
    tendon_force_dot_jac: torch.Tensor
    activation_dot: torch.Tensor
    grf_x: torch.Tensor  # [H, B]
    grf_y: torch.Tensor
    metabolic_power: torch.Tensor  # [B]


def _dynamics(P, rigid: bool, q, qd, act, ft, excitation, implicit_dt: float = 0.0) -> _Out:
    """The chained stages, batch-last: ``q``, ``qd`` [Q, B]; ``act``, ``ft``, ``excitation`` [M, B]."""
    excitation = torch.clamp(excitation, 0.0, 1.0)
    k = _kinematics(P, q, qd)
    tau = _joints.passive_torque(P, q, qd)
    nb = q.shape[1]
    nm = P.n_muscles
    geo = None
    if nm:  # static structure, not data: a model without muscles skips the muscle stages
        length, dldq = _path(P, k, q)
        speed = (dldq * qd.unsqueeze(0)).sum(1)
        if rigid:
            ms = _muscle.rigid(P, length, speed, act)
        else:
            ms = _muscle.compliant(P, length, speed, act, ft)
        tau = tau - (dldq * ms.tendon_force.unsqueeze(1)).sum(0)
        power = _metabolics.muscle_power(
            excitation=excitation, activation=act, norm_fiber_length=ms.norm_fiber_length,
            fiber_velocity=ms.fiber_velocity, active_fiber_force=ms.active_fiber_force,
            passive_fiber_force=ms.passive_fiber_force, active_force_length=ms.active_force_length,
            fmax=P.fmax, muscle_mass=P.muscle_mass, slow_twitch=P.slow_twitch).sum(0)
        geo = (length, dldq)
    else:
        zero = q.new_zeros(0, nb)
        ms = _muscle.MuscleState(*([zero] * 11))
        power = q.new_zeros(nb)
        length = zero
    damping = None
    if P.n_contacts:
        gen, fx, fy, _, damping = _contact(P, k, qd, with_damping=implicit_dt > 0.0)
        tau = tau + gen
        grf_x, grf_y = P.contact_group @ fx, P.contact_group @ fy
    else:
        grf_x = grf_y = q.new_zeros(0, nb)
    mass_matrix, rhs, _, _ = _mass_matrix_and_bias(P, k)
    force = tau + rhs
    if implicit_dt > 0.0:
        h = float(implicit_dt)
        stiff = _joints.limit_stiffness(P, q)
        diag = h * P.joint_damping + h * h * stiff  # [Q, B]
        eye = torch.eye(q.shape[0], dtype=q.dtype, device=q.device).unsqueeze(-1)
        lhs = mass_matrix + eye * diag.unsqueeze(0)
        if damping is not None:
            lhs = lhs + h * damping
        if geo is not None and rigid:
            dldq = geo[1]
            wd = dldq * ms.tendon_force_dv.unsqueeze(1)
            lhs = lhs + h * eye * (wd * dldq).sum(0).unsqueeze(0)
        qddot = _solve(lhs, force - h * stiff * qd)
    else:
        qddot = _solve(mass_matrix, force)
    adot = _activation.derivative(act, excitation, P.tau_act, P.tau_deact)
    return _Out(qddot, ms.tendon_force, ms.fiber_length, ms.fiber_velocity, length, ms.tendon_force_dot,
                ms.tendon_force_dot_jac, adot, grf_x, grf_y, power)


def _public_outputs(o: _Out) -> Outputs:
    return Outputs(o.qddot.T, o.muscle_force.T, o.fiber_length.T, o.fiber_velocity.T, o.mtu_length.T,
                   o.tendon_force_dot.T, o.tendon_force_dot_jac.T, o.activation_dot.T,
                   torch.stack((o.grf_x.T, o.grf_y.T), dim=-1), o.metabolic_power)


def dynamics(params: EngineParams, state: State, excitation: torch.Tensor, *,
             implicit_dt: float = 0.0) -> Outputs:
    """Time derivatives and outputs of a batch at ``state`` under ``excitation`` [B, M] (in [0, 1]).

    Parameters
    ----------
    params : EngineParams
    state : State
    excitation : Tensor [B, M]
    implicit_dt : float, keyword-only
        0 (default): ``qddot`` is the acceleration. ``h > 0``: ``qddot`` is
        the linearly-implicit velocity increment per second over a step
        ``h``, ``(M + h D + h^2 K)^-1 (f - h K qdot)``, with ``D`` the
        damping of contacts (full), rigid-tendon muscles (force--velocity;
        diagonal part only: the full rank-M update costs as much as the
        rest of the step and bought no stability in tests) and joints, and
        ``K`` the joint-limit and spring stiffness (used by
        :mod:`twin.engine.integrate`).

    Returns
    -------
    Outputs
        ``qddot``, ``activation_dot``, ``tendon_force_dot`` are the state derivatives.
    """
    o = _dynamics(params.bl, params.rigid_tendon, state.q.T.contiguous(), state.qdot.T.contiguous(),
                  state.activation.T.contiguous(), state.tendon_force.T.contiguous(), excitation.T.contiguous(),
                  implicit_dt)
    return _public_outputs(o)


def step(params: EngineParams, state: State, excitation: torch.Tensor, dt: float, *,
         integrator: str = "semi_implicit_euler") -> State:
    """Advance a batch by ``dt`` [s] with the excitation [B, M] held over the step.

    Parameters
    ----------
    params : EngineParams
    state : State
    excitation : Tensor [B, M]
        Muscle excitations in [0, 1] (clamped).
    dt : float
        Step [s]; see :mod:`twin.engine.integrate` for stable values.
    integrator : {"semi_implicit_euler", "rk4"}, keyword-only

    Returns
    -------
    State
    """
    from .integrate import advance

    return advance(params, state, excitation, dt, integrator=integrator)[0]


def _finite_rows(t: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(t).reshape(t.shape[0], -1).all(dim=1)


def guard(params: EngineParams, old: State, new: State, *, fall_height: float | None = None) -> State:
    """Freeze and flag batch members that became non-finite or fell.

    A member already flagged keeps its old state; a member whose new state
    has a NaN/inf is flagged ``failed`` and keeps its old (finite) state; a
    member whose root height (``q[:, root_height_coordinate]``) drops below
    ``fall_height`` is flagged ``fell`` and frozen from the next step on.
    """
    ok = _finite_rows(new.q) & _finite_rows(new.qdot) & _finite_rows(new.activation) \
        & _finite_rows(new.tendon_force)
    frozen = old.fell | old.failed
    failed = old.failed | (~ok & ~frozen)
    keep = frozen | ~ok
    k2 = keep.unsqueeze(-1)
    out = {}
    for f in ("q", "qdot", "activation", "tendon_force"):
        out[f] = torch.where(k2, getattr(old, f), getattr(new, f))
    fell = old.fell
    if fall_height is not None and params.root_height_coordinate >= 0:
        fell = fell | (~keep & (out["q"][:, params.root_height_coordinate] < fall_height))
    return State(out["q"], out["qdot"], out["activation"], out["tendon_force"], fell, failed)


def state_fields() -> tuple[str, ...]:
    """Names of the State fields."""
    return tuple(f.name for f in fields(State))
