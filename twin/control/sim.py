"""Closed-loop rollouts of the reflex controller on the engine (one batch, no Python loop over it).

:func:`walking_params` builds the engine parameters of the walking body
(Gait10dof18musc with the lumbar joint welded -- the model has no lumbar
muscles, and Geyer's model has a rigid trunk -- rigid tendons and soft
exponential joint limits); :func:`initial_walking_state` places the body in
a walking pose (named by :data:`INIT_PARAMETERS`) with its lowest contact
sphere just touching the ground; :func:`rollout` runs controller and engine
together and returns per-member summaries (distance, time walked, speed,
metabolic energy, penalties) and, optionally, a coarse recording.

The engine's :func:`twin.engine.simulate` calls its controller with the
State only; the reflexes need muscle forces, fibre lengths and the GRF per
foot (``Outputs``), so :func:`rollout` drives the engine step itself and
feeds the Outputs of each step to the next control step (a one-step lag).

Reproducibility: a rollout is deterministic for a given batch, dtype and
compile setting, but float32 results of one member change in the last
digits (~1e-6 after 1.5 s) with the *other* members of the batch
(vectorised kernels) and with ``compile``; a gait that is not a stable
limit cycle amplifies that into a different outcome. Shipped controllers
therefore record a separate eager batch-1 check (``python -m twin.control
--check``) and are optimised from several perturbed starts (``starts=``).

Examples
--------
>>> INIT_NAMES[:2]
('pelvis_tilt', 'hip_lead')
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ..errors import ParameterError

__all__ = ["walking_params", "initial_walking_state", "rollout", "Rollout", "INIT_PARAMETERS", "INIT_NAMES",
           "DT", "FALL_HEIGHT", "WALKING_LIMITS", "apply_walking_limits", "rollout_dataset", "add_joint_moments", "start_state",
           "capture_gait_state", "perturbed_state", "body_start_state", "fall_heights"]

#: Control and engine step [s] (rigid tendons: stable at 1 ms with contact, see twin.engine.integrate).
DT = 1e-3
#: Pelvis height [m] below which a member counts as fallen.
FALL_HEIGHT = 0.6

_DEG = math.pi / 180.0
#: Initial pose and speed (right leg leading): (name, default, lower, upper, meaning).
INIT_PARAMETERS: tuple[tuple[str, float, float, float, str], ...] = (
    ("pelvis_tilt", -5 * _DEG, -25 * _DEG, 10 * _DEG, "pelvis/trunk tilt [rad] (negative: leaning forward)"),
    ("hip_lead", 20 * _DEG, -10 * _DEG, 45 * _DEG, "leading (right) hip flexion [rad]"),
    ("knee_lead", -5 * _DEG, -60 * _DEG, 0.0, "leading knee angle [rad] (negative: flexed)"),
    ("ankle_lead", 0.0, -30 * _DEG, 20 * _DEG, "leading ankle angle [rad] (positive: dorsiflexion)"),
    ("hip_trail", -10 * _DEG, -30 * _DEG, 30 * _DEG, "trailing (left) hip flexion [rad]"),
    ("knee_trail", -20 * _DEG, -70 * _DEG, 0.0, "trailing knee angle [rad]"),
    ("ankle_trail", -5 * _DEG, -30 * _DEG, 20 * _DEG, "trailing ankle angle [rad]"),
    ("speed", 1.2, 0.0, 2.0, "initial forward speed [m/s]"),
)
INIT_NAMES = tuple(p[0] for p in INIT_PARAMETERS)


#: Soft joint limits of the walking body [rad] (coordinate: (low, high)): where passive
#: structures (ligaments, joint capsule) stop the joint in gait -- tighter than the
#: Gait10dof18musc coordinate ranges (hip and ankle +-90..120 deg, knee to +10 deg, which are
#: OpenSim's clamping ranges, not anatomy). Knee: no hyperextension (0 deg; Geyer & Herr 2010
#: limit the knee at full extension); ankle -40..+30 deg and hip -30..+120 deg bracket the
#: normal ranges of walking (Perry 1992) so they act only on abnormal gaits.
WALKING_LIMITS = {"knee_angle_r": (-2.09, 0.0), "knee_angle_l": (-2.09, 0.0),
                  "ankle_angle_r": (-0.70, 0.52), "ankle_angle_l": (-0.70, 0.52),
                  "hip_flexion_r": (-0.52, 2.09), "hip_flexion_l": (-0.52, 2.09)}


def apply_walking_limits(params, *, limits: dict | None = None, stiffness: float = 5.0, sharpness: float = 25.0):
    """EngineParams with the soft joint limits of :data:`WALKING_LIMITS` on the rotational joints.

    ``tau = k (exp(-s (q - lo)) - exp(s (q - hi)))`` with ``k = stiffness`` [N m] and
    ``s = sharpness`` [1/rad] (:mod:`twin.engine.joints`): 5 N m and 25/rad give 61 N m at
    0.1 rad and 740 N m at 0.2 rad past the limit (stable at :data:`DT`).
    """
    limits = WALKING_LIMITS if limits is None else limits
    names = list(params.coordinate_names)
    q_lo, q_hi = params.q_lo.clone(), params.q_hi.clone()
    k, s = params.limit_k.clone(), params.limit_sharp.clone()
    for name, (lo, hi) in limits.items():
        if name in names:
            i = names.index(name)
            q_lo[:, i], q_hi[:, i] = lo, hi
            k[:, i], s[:, i] = stiffness, sharpness
    return params.replace(q_lo=q_lo, q_hi=q_hi, limit_k=k, limit_sharp=s)


def walking_params(body: Any = None, *, batch: int = 1, dtype: torch.dtype = torch.float32,
                   device: str = "cpu", rigid_tendon: bool = True, limit_stiffness: float = 1.0,
                   limit_sharpness: float = 20.0, damping: float = 0.0):
    """Engine parameters of the walking body.

    Parameters
    ----------
    body : twin.model.BodyParams or EngineParams, optional
        Default ``BodyParams.default(lumbar=False)``. EngineParams are
        repeated to ``batch`` (if they hold one member).
    batch : int, keyword-only
    dtype, device : keyword-only
    rigid_tendon : bool, keyword-only
        Rigid tendons (default: 2x faster, stable at ``DT``).
    limit_stiffness, limit_sharpness, damping : float, keyword-only
        Soft joint limits at each coordinate's range (see
        :mod:`twin.engine.joints`).
    """
    from ..engine.build import EngineParams
    from ..engine.from_model import spec_from_body_params
    from ..model import BodyParams

    if isinstance(body, EngineParams):
        p = body.to(device=device, dtype=dtype)
        if p.batch_size == 1 and batch > 1:
            p = p.repeat(batch)
        elif p.batch_size != batch:
            raise ParameterError(f"EngineParams hold {p.batch_size} members; batch={batch}")
        return p.with_options(rigid_tendon=rigid_tendon)
    if body is None:
        body = BodyParams.default(lumbar=False, marker_sets=())
    if not isinstance(body, BodyParams):
        raise ParameterError(f"body must be a twin.model.BodyParams or EngineParams, not {type(body).__name__}")
    spec = spec_from_body_params(body, limit_stiffness=limit_stiffness, limit_sharpness=limit_sharpness,
                                 damping=damping)
    return apply_walking_limits(EngineParams.from_body(spec, batch=batch, dtype=dtype, device=device,
                                                       rigid_tendon=rigid_tendon))


def initial_walking_state(params, init: Any = None, *, indentation: float = 0.003):
    """A walking start: pose and forward speed from ``init`` [B, len(INIT_NAMES)] (or [n]).

    The pelvis height is set so that the lowest contact sphere is indented
    by ``indentation`` [m]; all joint speeds are zero except the forward
    speed of the pelvis.
    """
    from ..engine.contact import contact_forces
    from ..engine.multibody import kinematics
    from ..engine.step import initial_state

    bsz, dtype, dev = params.batch_size, params.dtype, params.device
    v = np.array([p[1] for p in INIT_PARAMETERS]) if init is None else np.asarray(init, dtype=float)
    v = torch.as_tensor(v, dtype=dtype, device=dev)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    if v.shape[-1] != len(INIT_NAMES) or v.shape[0] not in (1, bsz):
        raise ParameterError(f"init has shape {tuple(v.shape)}; expected [{len(INIT_NAMES)}] or "
                             f"[{bsz}, {len(INIT_NAMES)}] ({', '.join(INIT_NAMES)})")
    v = v.expand(bsz, -1)
    names = list(params.coordinate_names)
    q = params.q_default.expand(bsz, -1).clone()
    qd = torch.zeros_like(q)

    def put(coord, col):
        if coord in names:
            q[:, names.index(coord)] = v[:, col]

    put("pelvis_tilt", 0)
    put("hip_flexion_r", 1)
    put("knee_angle_r", 2)
    put("ankle_angle_r", 3)
    put("hip_flexion_l", 4)
    put("knee_angle_l", 5)
    put("ankle_angle_l", 6)
    qd[:, names.index("pelvis_tx")] = v[:, 7]
    kin = kinematics(params, q, qd)
    ind = contact_forces(params, kin, qd).indentation  # [B, C]
    q[:, params.root_height_coordinate] += ind.max(dim=1).values - indentation  # raising by h lessens it by h
    return initial_state(params, q=q, qdot=qd, activation=0.05)


@dataclass
class Rollout:
    """Per-member results of :func:`rollout` (numpy arrays [B] unless noted).

    Attributes
    ----------
    distance : forward pelvis displacement [m] until the end or the fall
    walked_s : time before falling (or failing) [s]; the duration if neither
    fell : bool
    speed : mean forward speed after ``settle`` s [m/s] (NaN if not reached)
    energy : metabolic energy (muscles + basal 1.2 W/kg) over the walked time [J]
    cot : cost of transport energy / (m g distance) [1] (inf for distance <= 0)
    limit : integral of squared joint-limit excess (knee hyperextension, ...) [rad^2 s]
    trunk : mean squared trunk angular velocity [rad^2/s^2]
    impact : mean squared vertical GRF per foot above :data:`IMPACT_LIMIT` body weights [BW^2]
    record : dict of arrays [B, T, ...] (q, grf, time) when recorded, else None
    mass : body mass [kg]
    """

    distance: np.ndarray
    walked_s: np.ndarray
    fell: np.ndarray
    speed: np.ndarray
    energy: np.ndarray
    cot: np.ndarray
    limit: np.ndarray
    trunk: np.ndarray
    mass: np.ndarray
    record: dict | None = None
    duration: float = 0.0
    impact: np.ndarray | None = None
    state: Any = None


#: Physiological ranges for the joint-limit penalty [rad] (coordinate: (low, high)).
SOFT_RANGES = {"knee_angle_r": (-2.0, 0.0), "knee_angle_l": (-2.0, 0.0), "ankle_angle_r": (-0.6, 0.45),
               "ankle_angle_l": (-0.6, 0.45), "hip_flexion_r": (-0.5, 1.2), "hip_flexion_l": (-0.5, 1.2),
               "pelvis_tilt": (-0.5, 0.3)}


_LOOPS: dict = {}
#: Vertical GRF per foot [body weights] above which :func:`rollout` accumulates the impact cost
#: (walking at 1.3 m/s peaks at about 1.1-1.2 BW; Perry 1992).
IMPACT_LIMIT = 1.2


def _loop_step(params, controller, p, bufs, state, out, dt: float, integrator: str, fall_height: float,
               max_speed: float, lim_idx, lo, hi, basal, it: int, weight):
    """One closed-loop step: reflexes on the last Outputs, engine step, failure guard, running costs.

    Pure tensor code (``torch.compile``-able): returns the new buffers, the
    excitation used, the new State and Outputs, and this step's increments of
    metabolic energy, joint-limit excess and trunk speed (zero for frozen members).
    """
    from ..engine.simulate import _guarded

    bufs, e, _ = controller.step_tensors(p, bufs, state, out)
    alive = ~(state.fell | state.failed)
    new, out = _guarded(params, state, e, dt, integrator, fall_height)
    # a finite but exploding state (engine instability) is frozen and flagged failed, as the
    # engine's guard does for NaN/inf, so it can never look like a long walk
    bad = (new.qdot.abs() > max_speed).any(-1) & ~(new.fell | new.failed)
    k = bad.unsqueeze(-1)
    new = new.replace(q=torch.where(k, state.q, new.q), qdot=torch.where(k, state.qdot, new.qdot),
                      activation=torch.where(k, state.activation, new.activation),
                      tendon_force=torch.where(k, state.tendon_force, new.tendon_force),
                      failed=new.failed | bad)
    a = alive.to(state.q.dtype)
    d_energy = a * torch.nan_to_num(out.metabolic_power + basal, nan=0.0, posinf=0.0) * dt
    exc = torch.relu(state.q[:, lim_idx] - hi) + torch.relu(lo - state.q[:, lim_idx])
    d_limit = a * (exc * exc).sum(-1) * dt
    d_trunk = a * state.qdot[:, it] ** 2
    over = torch.relu(out.grf[:, :2, 1] / weight[:, None] - IMPACT_LIMIT)
    d_impact = a * (over * over).sum(-1)
    return bufs, e, new, out, a, d_energy, d_limit, d_trunk, d_impact


#: Closed-loop steps per call of the compiled loop (``rollout(compile=True)``): one call of a 5-step
#: graph costs far less than five calls of a 1-step one on a CPU at small batch (guards, wrapper and
#: Python overhead; 10 s of a 5-member what-if: about 1.9 s instead of 5.2 s on this 2-core machine when
#: measured; 2.4 s in session 9). Blocks of 10 gave 2.0-2.3 s but took 9.4 min to compile (under load).
COMPILED_BLOCK = 5


def _block(k: int):
    """``k`` closed-loop steps in one function: the state after them, the excitation of the first step,
    and each running cost summed over the k steps."""

    def block(params, controller, p, bufs, state, out, dt: float, integrator: str, fall_height, max_speed: float,
              lim_idx, lo, hi, basal, it: int, weight):
        bufs, e0, state, out, a, de, dl, dtr, dim = _loop_step(params, controller, p, bufs, state, out, dt,
                                                               integrator, fall_height, max_speed, lim_idx, lo, hi,
                                                               basal, it, weight)
        for _ in range(k - 1):
            bufs, _e, state, out, a1, de1, dl1, dtr1, dim1 = _loop_step(params, controller, p, bufs, state, out, dt,
                                                                       integrator, fall_height, max_speed, lim_idx,
                                                                       lo, hi, basal, it, weight)
            a, de, dl, dtr, dim = a + a1, de + de1, dl + dl1, dtr + dtr1, dim + dim1
        return bufs, e0, state, out, a, de, dl, dtr, dim

    return block


def _loop(compile: bool, k: int = 1, device: str = "cpu"):
    """The closed-loop step (``k`` = 1) or block of ``k`` steps, compiled once per process when asked (eager
    fallback on failure; on a CPU with inductor's C++ wrapper, which saves the Python call of every kernel)."""
    key = (bool(compile), int(k), device if compile else "")
    if key not in _LOOPS:
        fn = _loop_step if k == 1 else _block(k)
        if not compile:
            _LOOPS[key] = fn
        else:
            from ..engine.simulate import compile_or_eager

            _LOOPS[key] = compile_or_eager(fn, options={"cpp_wrapper": True} if device == "cpu" else None)
    return _LOOPS[key]


def _standing_height(params):
    """[B] pelvis height [m] at which each body stands in its default pose with its lowest contact touching."""
    q = params.q_default.expand(params.batch_size, -1).clone()
    q[:, params.root_height_coordinate] = 0.0
    return _deepest_indentation(params, q, torch.zeros_like(q))


def fall_heights(params):
    """[B] the fall criterion of each member [m]: ``FALL_HEIGHT`` x its standing pelvis height / the default body's.

    A pelvis 0.6 m above the ground is a fall for the default 1.80 m body but
    ordinary walking for a 1.50 m one; scaling by the standing height keeps
    the criterion at the same fraction of every body's leg length
    (``FALL_HEIGHT`` for the default body, to float precision).
    """
    key = (tuple(params.coordinate_names), tuple(params.muscle_names), "standing")
    if key not in _REFERENCE:
        ref = walking_params(None, batch=1, dtype=torch.float64)
        _REFERENCE[key] = float(_standing_height(ref)[0]) if tuple(ref.coordinate_names) == key[0] else None
    ref_h = _REFERENCE[key]
    if ref_h is None:  # another skeleton: no default to scale from
        return torch.full((params.batch_size,), FALL_HEIGHT, dtype=params.dtype, device=params.device)
    return (FALL_HEIGHT * (_standing_height(params) / ref_h)).to(params.dtype)


def rollout(params, controller, cstate, state, duration: float, *, dt: float = DT,
            fall_height: float | None = None, settle: float = 2.0, record_every: int = 0,
            integrator: str = "semi_implicit_euler", max_speed: float = 60.0,
            compile: bool = False, perturb: tuple | None = None,
            callback: Callable[[int, int], Any] | None = None, callback_every: int = 100) -> Rollout:
    """Run controller + engine for ``duration`` s from ``state``; summaries per member.

    Parameters
    ----------
    params : EngineParams
    controller : ReflexController
    cstate : ControllerState
    state : twin.engine.step.State
    duration : float
        [s]
    dt : float, keyword-only
    fall_height : float, keyword-only
        [m] A member whose pelvis drops below this has fallen. Default
        (None): :func:`fall_heights`, ``FALL_HEIGHT`` scaled by each body's
        standing pelvis height (0.6 m on the default 1.80 m body).
    settle : float, keyword-only
        Speed is measured from this time on [s] (the start is a transient).
    record_every : int, keyword-only
        Record q, qdot, GRF and metabolic power every this many steps (0: never).
    integrator : str, keyword-only
    max_speed : float, keyword-only
        A member with any generalized speed above this [rad/s or m/s] is
        treated as numerically failed (frozen, ``fell`` in the result).
    compile : bool, keyword-only
        ``torch.compile`` the closed loop in blocks of :data:`COMPILED_BLOCK`
        steps (10 s of a 5-member what-if: 2.4 s on this 2-core machine in
        session 9 -- 1.9 s when first measured -- 44 s eager; the first compilation for a batch size takes about
        3 min on a CPU, later processes load it from inductor's cache in
        about 10 s; eager fallback on failure).
    perturb : (time, dq, dv), optional, keyword-only
        A mid-walk perturbation: at ``time`` [s] add ``dq`` [B, Q] (rad or m)
        to the coordinates and ``dv`` [B] [m/s] to the forward speed, then
        shift the body vertically so the deepest contact keeps its
        indentation (no foot driven into the ground). Recovering from it is
        recovering from a perturbed state on the gait cycle.
    callback : callable, optional, keyword-only
        ``callback(step, n_steps)`` after about every ``callback_every``
        steps (between compiled blocks, never inside one); for progress
        reports. An exception it raises (e.g. a cancel) ends the rollout and
        propagates.
    callback_every : int, keyword-only
        [steps] How often ``callback`` is called (default 100 = 0.1 s).
    """
    from ..engine.metabolics import BASAL_COEFFICIENT
    from ..engine.step import dynamics

    if not duration > 0:
        raise ParameterError(f"duration={duration!r} must be positive")
    if callback is not None and not (isinstance(callback_every, int) and callback_every >= 1):
        raise ParameterError(f"callback_every={callback_every!r} must be a whole number of steps >= 1")
    bsz, dev, dtype = params.batch_size, params.device, params.dtype
    if fall_height is None:
        fall_height = fall_heights(params)
    names = list(params.coordinate_names)
    ix = names.index("pelvis_tx")
    it = names.index("pelvis_tilt")
    lim_idx = torch.tensor([names.index(k) for k in SOFT_RANGES if k in names], device=dev)
    lo = torch.tensor([SOFT_RANGES[k][0] for k in SOFT_RANGES if k in names], dtype=dtype, device=dev)
    hi = torch.tensor([SOFT_RANGES[k][1] for k in SOFT_RANGES if k in names], dtype=dtype, device=dev)
    n = int(round(duration / dt))
    n_settle = min(int(round(settle / dt)), n - 1)
    x0 = state.q[:, ix].clone()
    x_settle = x0.clone()
    t_settle = torch.zeros(bsz, dtype=dtype, device=dev)
    energy = torch.zeros(bsz, dtype=dtype, device=dev)
    limit = torch.zeros(bsz, dtype=dtype, device=dev)
    trunk = torch.zeros(bsz, dtype=dtype, device=dev)
    impact = torch.zeros(bsz, dtype=dtype, device=dev)
    weight = params.total_mass * float(torch.linalg.norm(params.gravity[0]))
    alive_steps = torch.zeros(bsz, dtype=dtype, device=dev)
    basal = BASAL_COEFFICIENT * params.total_mass
    e = torch.full((bsz, params.n_muscles), 0.01, dtype=dtype, device=dev)
    rec = ({"q": [], "qdot": [], "grf": [], "metabolic_power": [], "excitation": [], "activation": [],
            "muscle_force": [], "fiber_length": []} if record_every else None)
    block = COMPILED_BLOCK if compile else 1
    # compiled: blocks of steps; the few single steps between blocks run eager
    step = _loop(False) if block > 1 else _loop(compile, 1, dev.type)
    multi = _loop(compile, block, dev.type) if block > 1 else None
    i_perturb = -1
    if perturb is not None:
        t_p, dq, dv = perturb
        i_perturb = int(round(float(t_p) / dt))
        dq = torch.as_tensor(np.asarray(dq, dtype=float), dtype=dtype, device=dev).expand(bsz, len(names))
        dv = torch.as_tensor(np.asarray(dv, dtype=float), dtype=dtype, device=dev).expand(bsz)
    with torch.no_grad(), contextlib.ExitStack() as stance:
        out = dynamics(params, state, e)
        if not cstate.primed:  # fill the delay lines with the first sample (eager, once)
            cstate, _ = controller.step(cstate, state, out, 0.0)
        p, bufs = cstate.params, cstate.buffers
        i, next_check, guards_checked = 0, 0, False
        next_callback = int(callback_every) if callback is not None else n + 1
        while i < n:
            if i >= next_callback:
                next_callback += int(callback_every)
                callback(i, n)
            if i >= next_check:
                next_check += 50
                if bool((state.fell | state.failed).all()):
                    break  # everyone is frozen: nothing changes any more
            if i == i_perturb:
                state = _perturbed(params, state, dq, dv, ix)
            rec_now = rec is not None and i % record_every == 0
            if rec_now:
                rec["q"].append(state.q.clone())
                rec["qdot"].append(state.qdot.clone())
                rec["grf"].append(out.grf.clone())
                rec["metabolic_power"].append(out.metabolic_power + basal)
                rec["activation"].append(state.activation.clone())
                rec["muscle_force"].append(out.muscle_force.clone())
                rec["fiber_length"].append(out.fiber_length.clone())
            # a block of steps must not pass over a recorded sample, the settle snapshot or the perturbation
            k = block if block > 1 and i + block <= n and not (i <= n_settle < i + block - 1) \
                and not (i < i_perturb < i + block) \
                and (rec is None or all(j % record_every for j in range(i + 1, i + block))) else 1
            fn = multi if k > 1 else step
            bufs, e, state, out, a, de, dl, dtr, dim = fn(params, controller, p, bufs, state, out, float(dt),
                                                          integrator, fall_height, float(max_speed), lim_idx,
                                                          lo, hi, basal, it, weight)
            if k > 1 and not guards_checked:
                # the first block ran with all of dynamo's guards and so picked (or compiled) the graph for
                # these inputs; later calls of this loop pass the same objects and tensors of the same
                # shapes, so only the guards that tell cached graphs apart need to run (about 0.1 ms a call)
                guards_checked = True
                stance.enter_context(torch.compiler.set_stance("default", skip_guard_eval_unsafe=True))
            if rec_now:
                rec["excitation"].append(e.clone())
            energy += de
            limit += dl
            trunk += dtr
            impact += dim
            alive_steps += a
            i += k
            if i - 1 == n_settle:
                x_settle = state.q[:, ix].clone()
                t_settle = alive_steps * dt
    walked = alive_steps * dt
    x_end = state.q[:, ix]
    dist = x_end - x0
    span = walked - t_settle
    speed = torch.where(span > 0.5, (x_end - x_settle) / span.clamp(min=1e-9),
                        torch.full_like(span, float("nan")))
    g = float(torch.linalg.norm(params.gravity[0]))
    cot = torch.where(dist > 0.05, energy / (params.total_mass * g * dist.clamp(min=1e-9)),
                      torch.full_like(dist, float("inf")))
    np_ = lambda t: t.detach().cpu().numpy().astype(float)  # noqa: E731
    record = None
    if rec is not None and rec["q"]:
        record = {k: torch.stack(v, 1).cpu().numpy() for k, v in rec.items()}
        record["time"] = np.arange(record["q"].shape[1]) * record_every * dt
        record["coordinate"] = names
        record["muscle"] = list(params.muscle_names)
        record["walked_s"] = np_(walked)
        record["side"] = list(params.contact_group_names)
        record["coordinate_type"] = ["rotational" if r else "translational" for r in params.rotational]
    return Rollout(np_(dist), np_(walked), (state.fell | state.failed).cpu().numpy(), np_(speed), np_(energy),
                   np_(cot), np_(limit), np_(trunk / alive_steps.clamp(min=1)), np_(params.total_mass), record, float(duration),
                   np_(impact / alive_steps.clamp(min=1)), state)


def start_state(params, doc: dict):
    """The start of a controller document: its ``initial_state`` on the gait cycle if it has one, else
    :func:`initial_walking_state` from its ``initial`` pose vector; repeated over the batch."""
    from ..engine.step import initial_state

    st = doc.get("initial_state")
    if not st:
        return initial_walking_state(params, doc.get("initial"))
    bsz, dtype, dev = params.batch_size, params.dtype, params.device
    names, muscles = list(params.coordinate_names), list(params.muscle_names)
    if list(st["coordinates"]) != names or list(st.get("muscles", muscles)) != muscles:
        raise ParameterError("the controller's initial_state belongs to a body with other coordinates or muscles; "
                             "pass a controller made for this body or drop its initial_state")
    t = lambda v: torch.as_tensor(np.asarray(v, dtype=float), dtype=dtype, device=dev).expand(bsz, -1).clone()  # noqa: E731
    act = t(st["activation"]) if st.get("activation") is not None else 0.05
    return initial_state(params, q=t(st["q"]), qdot=t(st["qdot"]), activation=act)


def _deepest_indentation(params, q, qd):
    """[B] the deepest contact-sphere indentation [m] of each member in pose ``q`` with speeds ``qd``."""
    from ..engine.contact import contact_forces
    from ..engine.multibody import kinematics

    return contact_forces(params, kinematics(params, q, qd), qd).indentation.max(dim=1).values


def body_start_state(params, gait_states, *, fallback=None):
    """Start each member on a controller's gait cycle, placed for its own body.

    A controller's ``initial_state`` (see :func:`capture_gait_state`) is a
    state of the body it was made for (the default body). On another body
    the same joint angles put the feet higher or lower, so each member is
    moved vertically until its deepest contact sphere is indented as deep as
    the default body's in that state; ``pelvis_tx`` starts at 0.

    Parameters
    ----------
    params : EngineParams
        The batch of bodies (B members).
    gait_states : dict or list of (dict or None)
        One ``initial_state`` for every member, or one per member (``None``:
        that member starts from ``fallback``).
    fallback : State, keyword-only
        The start of members without a gait state (e.g.
        :func:`initial_walking_state`); required when any is ``None``.

    Returns
    -------
    State

    Raises
    ------
    ParameterError
        A gait state belongs to a body with other coordinates or muscles, the
        list's length is not B, or a ``None`` has no ``fallback``.

    Examples
    --------
    >>> from twin.control.sim import walking_params, body_start_state
    >>> from twin.model import BodyParams
    >>> from twin.twin import shipped_controller
    >>> doc = shipped_controller(1.3)
    >>> params = walking_params(BodyParams.default(lumbar=False).scaled(height=1.9, mass=80.0))
    >>> s = body_start_state(params, doc["initial_state"])
    >>> float(s.q[0, list(params.coordinate_names).index("pelvis_tx")])
    0.0
    """
    bsz, dtype, dev = params.batch_size, params.dtype, params.device
    states = [gait_states] * bsz if isinstance(gait_states, dict) or gait_states is None else list(gait_states)
    if len(states) != bsz:
        raise ParameterError(f"gait_states has {len(states)} entries for a batch of {bsz}; pass one per member or one "
                             "for all")
    if any(st is None for st in states) and fallback is None:
        raise ParameterError("some members have no gait state (None); pass fallback=initial_walking_state(params, ...)")
    names, muscles = list(params.coordinate_names), list(params.muscle_names)
    ref = _reference_indentation(tuple(names), tuple(muscles))
    q = fallback.q.clone() if fallback is not None else params.q_default.expand(bsz, -1).clone()
    qd = fallback.qdot.clone() if fallback is not None else torch.zeros_like(q)
    act = fallback.activation.clone() if fallback is not None else torch.full((bsz, len(muscles)), 0.05, dtype=dtype,
                                                                             device=dev)
    rows, target = [], []
    for i, st in enumerate(states):
        if st is None:
            continue
        if list(st["coordinates"]) != names or list(st.get("muscles", muscles)) != muscles:
            raise ParameterError(f"gait state {i} belongs to a body with other coordinates or muscles; pass a "
                                 "controller made for this body")
        q[i] = torch.as_tensor(np.asarray(st["q"], dtype=float), dtype=dtype, device=dev)
        qd[i] = torch.as_tensor(np.asarray(st["qdot"], dtype=float), dtype=dtype, device=dev)
        if st.get("activation") is not None:
            act[i] = torch.as_tensor(np.asarray(st["activation"], dtype=float), dtype=dtype, device=dev)
        rows.append(i)
        target.append(ref(tuple(st["q"]), tuple(st["qdot"])))
    if rows:
        idx = torch.as_tensor(rows, device=dev)
        q[idx, names.index("pelvis_tx")] = 0.0
        deep = _deepest_indentation(params, q, qd)[idx]
        q[idx, params.root_height_coordinate] += deep - torch.as_tensor(target, dtype=dtype, device=dev)
    from ..engine.step import initial_state

    return initial_state(params, q=q, qdot=qd, activation=act)


def _reference_indentation(names: tuple, muscles: tuple):
    """A function (q, qdot) -> the default body's deepest indentation [m] in that state (body built once)."""
    key = (names, muscles)
    if key not in _REFERENCE:
        params = walking_params(None, batch=1, dtype=torch.float64)
        if tuple(params.coordinate_names) != names:
            raise ParameterError("these bodies' coordinates differ from the default body's; a gait state cannot be "
                                 "placed on them")
        cache: dict = {}

        def ref(q, qd):
            if (q, qd) not in cache:
                t = lambda v: torch.as_tensor(np.asarray(v, dtype=float), dtype=torch.float64).unsqueeze(0)  # noqa: E731
                cache[(q, qd)] = float(_deepest_indentation(params, t(q), t(qd))[0])
            return cache[(q, qd)]

        _REFERENCE[key] = ref
    return _REFERENCE[key]


_REFERENCE: dict = {}


def capture_gait_state(params, controller, vector, initial, *, after: float = 5.0, controller_options=None) -> dict:
    """A state on the controller's own gait cycle: the first right foot strike after ``after`` s.

    Runs the nominal walk (batch 1, eager) and returns ``{"coordinates",
    "q", "qdot", "muscles", "activation", "time"}`` for
    :func:`twin.control.store.save_controller` (``initial_state=``); a start
    there avoids the transient of a standing start, as SCONE's gait state
    files do.

    Raises
    ------
    ParameterError
        The controller falls or takes no right step after ``after`` s.
    """
    from .analysis import strikes

    c = type(controller)(params, dt=DT, **(controller_options or {}))
    r = rollout(params, c, c.init(params.batch_size, vector), initial_walking_state(params, initial), after + 2.5,
                record_every=1)
    if bool(r.fell[0]):
        raise ParameterError(f"the controller fell at {r.walked_s[0]:.2f} s; no gait cycle to start from")
    rec = r.record
    bw = float(r.mass[0]) * float(torch.linalg.norm(params.gravity[0]))
    idx = strikes(rec["grf"][0, :, 0, 1], threshold=0.05 * bw)
    idx = idx[rec["time"][idx] >= after]
    if not len(idx):
        raise ParameterError(f"no right foot strike between {after:g} and {after + 2.5:g} s")
    k = int(idx[0])
    return {"coordinates": list(params.coordinate_names), "q": rec["q"][0, k].tolist(),
            "qdot": rec["qdot"][0, k].tolist(), "muscles": list(params.muscle_names),
            "activation": rec["activation"][0, k].tolist(), "time": float(rec["time"][k])}


def perturbed_state(params, state, dq, dv):
    """``state`` with joint offsets ``dq`` [B, Q] and forward-speed offsets ``dv`` [B] (re-placed vertically)."""
    dtype, dev = params.dtype, params.device
    dq = torch.as_tensor(np.asarray(dq, dtype=float), dtype=dtype, device=dev).expand_as(state.q)
    dv = torch.as_tensor(np.asarray(dv, dtype=float), dtype=dtype, device=dev).expand(state.q.shape[0])
    return _perturbed(params, state, dq, dv, list(params.coordinate_names).index("pelvis_tx"))


def _perturbed(params, state, dq, dv, ix: int):
    """``state`` with ``dq`` added to q and ``dv`` to the forward speed, re-placed vertically (frozen members kept)."""
    from ..engine.contact import contact_forces
    from ..engine.multibody import kinematics

    def deepest(q, qd):
        return contact_forces(params, kinematics(params, q, qd), qd).indentation.max(dim=1).values

    alive = ~(state.fell | state.failed)
    k = alive.unsqueeze(-1)
    q = state.q + dq * k
    qd = state.qdot.clone()
    qd[:, ix] = qd[:, ix] + dv * alive
    q[:, params.root_height_coordinate] += (deepest(q, qd) - deepest(state.q, state.qdot)) * alive
    return state.replace(q=q, qdot=qd)


def rollout_dataset(r: Rollout, *, labels: Any = None, dim: str = "scenario") -> "xr.Dataset":
    """A recorded :class:`Rollout` as a simulation Dataset (``attrs["kind"] = "simulation"``).

    Dims ``dim`` (labelled by ``labels``, default ``0..B-1``), ``time``,
    ``coordinate``, ``muscle``, ``side`` (``right``, ``left``) and ``axis``
    (``x``, ``y``, ``z``; z is 0 in this planar body); variables as :func:`twin.engine.simulate` (q, qdot, grf,
    excitation, activation, muscle_force, fiber_length, metabolic_power incl.
    basal) plus per member ``fell``, ``walked_s``, ``distance``, ``speed``,
    ``body_mass``. Samples after a member fell repeat its frozen state.

    Raises
    ------
    ParameterError
        The rollout was run without ``record_every``.
    """
    import xarray as xr

    if r.record is None:
        raise ParameterError("this rollout has no recording; run rollout(..., record_every=10)")
    rec = r.record
    bsz = rec["q"].shape[0]
    labels = list(range(bsz)) if labels is None else [str(x) for x in labels]
    if len(labels) != bsz:
        raise ParameterError(f"{len(labels)} labels for {bsz} members")
    names = list(rec["coordinate"])
    grf = rec["grf"]
    grf = np.concatenate([grf, np.zeros(grf.shape[:-1] + (1,), dtype=grf.dtype)], -1)  # planar: z = 0
    fell = np.asarray(r.fell, dtype=bool)
    ds = xr.Dataset(
        {"q": ((dim, "time", "coordinate"), rec["q"], {"units": "rad or m (see coordinate_type)",
                                                       "long_name": "generalized coordinate"}),
         "qdot": ((dim, "time", "coordinate"), rec["qdot"], {"units": "rad/s or m/s (see coordinate_type)",
                                                             "long_name": "generalized speed"}),
         "grf": ((dim, "time", "side", "axis"), grf,
                 {"units": "N", "long_name": "ground reaction force (sum of the contact spheres of each side)"}),
         "excitation": ((dim, "time", "muscle"), rec["excitation"], {"units": "1", "long_name": "muscle excitation"}),
         "activation": ((dim, "time", "muscle"), rec["activation"], {"units": "1", "long_name": "muscle activation"}),
         "muscle_force": ((dim, "time", "muscle"), rec["muscle_force"],
                          {"units": "N", "long_name": "musculotendon (tendon) force"}),
         "fiber_length": ((dim, "time", "muscle"), rec["fiber_length"], {"units": "m", "long_name": "muscle fibre length"}),
         "metabolic_power": ((dim, "time"), rec["metabolic_power"],
                             {"units": "W", "long_name": "whole-body metabolic power (Bhargava et al. 2004, "
                                                         "smoothed; muscles + basal 1.2 W/kg)"}),
         "fell": ((dim,), fell, {"units": "1", "long_name": "fell or failed; frozen from then on"}),
         "fell_time": ((dim,), np.where(fell, r.walked_s, np.nan), {"units": "s", "long_name": "time of the fall (NaN: never)"}),
         "walked_s": ((dim,), r.walked_s, {"units": "s", "long_name": "time walked before falling"}),
         "distance": ((dim,), r.distance, {"units": "m", "long_name": "forward pelvis displacement"}),
         "speed": ((dim,), r.speed, {"units": "m/s", "long_name": "mean forward speed after settling"}),
         "body_mass": ((dim,), r.mass, {"units": "kg", "long_name": "body mass"})},
        coords={dim: labels, "time": ("time", rec["time"], {"units": "s", "long_name": "time"}), "coordinate": names,
                "coordinate_type": ("coordinate", rec.get("coordinate_type", ["rotational"] * len(names))),
                "muscle": list(rec["muscle"]), "side": rec.get("side", ["right", "left"]), "axis": ["x", "y", "z"]},
        attrs={"kind": "simulation", "source": "twin.control.sim.rollout", "history": "",
               "duration_s": float(r.duration), "rate": float(1.0 / (rec["time"][1] - rec["time"][0]))
               if len(rec["time"]) > 1 else 0.0})
    return ds


def add_joint_moments(ds: "xr.Dataset", params, *, dim: str = "scenario") -> "xr.Dataset":
    """``ds`` plus ``moment`` [N m] and ``power`` [W] per coordinate: the muscles' net joint moments.

    ``moment = sum_m r_mq(q) F_m`` with the engine's moment arms
    (:func:`twin.engine.path.path_geometry`) at the recorded pose and the
    recorded tendon forces -- the net muscle moment a gait lab's inverse
    dynamics would see, without the passive joint torques (which only act
    near the joint limits here); OpenSim signs (ankle: dorsiflexion
    positive). ``power = moment * qdot``. ``params`` are the EngineParams of
    the simulated members (one per ``dim`` entry).
    """
    import xarray as xr

    from ..engine.multibody import kinematics
    from ..engine.path import path_geometry

    s, t = ds.sizes[dim], ds.sizes["time"]
    if params.batch_size != s:
        raise ParameterError(f"params hold {params.batch_size} members; the dataset has {s} along {dim!r}")
    idx = torch.arange(s, device=params.device).repeat_interleave(t)
    P = params.select(idx)
    q = torch.as_tensor(ds.q.transpose(dim, "time", "coordinate").values.reshape(s * t, -1),
                        dtype=params.dtype, device=params.device)
    with torch.no_grad():
        arms = path_geometry(P, kinematics(P, q, torch.zeros_like(q)), q).moment_arm  # [S*T, M, Q]
        f = torch.as_tensor(ds.muscle_force.transpose(dim, "time", "muscle").values.reshape(s * t, -1),
                            dtype=params.dtype, device=params.device)
        m = torch.einsum("bmq,bm->bq", arms, f).reshape(s, t, -1).cpu().numpy().astype(float)
    out = ds.copy()
    out["moment"] = ((dim, "time", "coordinate"), m,
                     {"units": "N m or N (see coordinate_type)", "long_name": "net muscle moment (OpenSim signs)"})
    qd = ds.qdot.transpose(dim, "time", "coordinate").values.astype(float)
    out["power"] = ((dim, "time", "coordinate"), m * qd, {"units": "W", "long_name": "joint power (muscles)"})
    return out
