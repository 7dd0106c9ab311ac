"""Run a batch of bodies under a controller and return the result as an xarray Dataset.

:func:`simulate` steps :func:`twin.engine.step.step` (plus
:func:`~twin.engine.step.guard`, which freezes and flags members that fall
or produce NaN/inf) in a time loop, calls the controller every step, and
records every ``record_every`` steps.

The Dataset (``attrs["kind"] = "simulation"``) has dims ``batch``, ``time``,
``coordinate``, ``muscle``, ``side`` (contact groups) and ``axis``:

================  ==============================  =======
variable          dims                            units
================  ==============================  =======
q                 (batch, time, coordinate)       rad or m
qdot              (batch, time, coordinate)       rad/s or m/s
grf               (batch, time, side, axis)       N
excitation        (batch, time, muscle)           1
activation        (batch, time, muscle)           1
muscle_force      (batch, time, muscle)           N
fiber_length      (batch, time, muscle)           m
metabolic_power   (batch, time)                   W
fell, failed      (batch)                         bool
fell_time         (batch)                         s (NaN: never)
failed_time       (batch)                         s (NaN: never)
================  ==============================  =======

Metabolic power is Bhargava et al. (2004), smoothed as OpenSim's
``Bhargava2004SmoothedMuscleMetabolics``, summed over muscles plus the basal
rate 1.2 W/kg (see :mod:`twin.engine.metabolics`).

Examples
--------
>>> from twin.engine.spec import double_pendulum
>>> ds = simulate(double_pendulum(), None, 0.1, dt=1e-3, record_every=10)
>>> ds.q.dims, ds.sizes["time"]
(('batch', 'time', 'coordinate'), 10)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import ParameterError, TwinError, TwinWarning, check_param
from .build import EngineParams
from .integrate import INTEGRATORS, advance
from .metabolics import BASAL_COEFFICIENT
from .step import State, guard, initial_state

__all__ = ["simulate", "make_stepper"]

Controller = Callable[[State, float], Any]


def _guarded(params: EngineParams, state: State, excitation: torch.Tensor, dt: float, integrator: str,
             fall_height: float | None):
    new, out = advance(params, state, excitation, dt, integrator=integrator)
    return guard(params, state, new, fall_height=fall_height), out


def make_stepper(*, compile: bool | str = False):
    """The guarded step function ``f(params, state, excitation, dt, integrator, fall_height) -> (State, Outputs)``.

    Parameters
    ----------
    compile : bool or str, keyword-only
        False: eager. True or a ``torch.compile`` mode string (e.g.
        ``"max-autotune-no-cudagraphs"``): compiled with ``torch.compile``;
        if compilation fails (no C++ compiler, unsupported platform) the
        eager function is used with a TwinWarning.
    """
    if not compile:
        return _guarded
    return compile_or_eager(_guarded, mode=compile if isinstance(compile, str) else None)


def compile_or_eager(fn: Callable, *, mode: str | None = None, options: dict | None = None) -> Callable:
    """``torch.compile(fn)`` (static shapes) that falls back to ``fn`` with a TwinWarning if compilation fails.

    Used for every compiled step function (one graph per batch size / dtype / tendon model /
    integrator, so dynamo's recompile limit is raised to 64).
    """
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    state = {"fn": torch.compile(fn, dynamic=False, mode=mode, options=options)}

    def run(*args):
        try:
            return state["fn"](*args)
        except Exception as err:  # eager fallback
            if state["fn"] is fn:
                raise
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); running eager",
                          TwinWarning, stacklevel=2)
            state["fn"] = fn
            return fn(*args)

    return run


def _excitation(controller: Controller | None, state: State, t: float, bsz: int, nm: int, dtype, device):
    if controller is None:
        return torch.zeros(bsz, nm, dtype=dtype, device=device)
    e = controller(state, t)
    e = torch.as_tensor(e, dtype=dtype, device=device)
    if e.shape != (bsz, nm):
        try:
            e = e.expand(bsz, nm)
        except RuntimeError:
            raise ParameterError(f"controller returned excitation of shape {tuple(e.shape)}; expected "
                                 f"[batch, muscles] = [{bsz}, {nm}]") from None
    return e


def simulate(params: Any, controller: Controller | None, duration: float, *, dt: float = 1e-3,
             device: str | torch.device | None = None, dtype: torch.dtype | None = None, record_every: int = 10,
             integrator: str = "semi_implicit_euler", initial: State | None = None,
             fall_height: float | None = 0.6, compile: bool | str = False,
             rigid_tendon: bool | None = None, num_threads: int | None = None) -> xr.Dataset:
    """Simulate a batch for ``duration`` seconds.

    Parameters
    ----------
    params : EngineParams, BodyParams, ModelSpec, or a list of bodies
        Bodies are built with :meth:`EngineParams.from_body` (``dtype``,
        ``device``; float64 by default).
    controller : callable or None
        ``controller(state, t) -> excitation`` [batch, muscles] (tensor,
        array or scalar, clamped to [0, 1]); called every step. None: zero
        excitation.
    duration : float
        [s].
    dt : float, keyword-only
        Step [s]; see :mod:`twin.engine.integrate` for stable values.
    device, dtype : keyword-only
        Where and in which precision to run (default: those of ``params``).
    record_every : int, keyword-only
        Record every this many steps.
    integrator : {"semi_implicit_euler", "rk4"}, keyword-only
    initial : State, optional
        Starting state (default :func:`~twin.engine.step.initial_state`:
        default pose, zero speed, activation 0.05, tendons in equilibrium).
    fall_height : float or None, keyword-only
        A member whose root height (pelvis_ty) drops below this [m] is
        frozen and flagged ``fell``. None: never.
    compile : bool or str, keyword-only
        Use ``torch.compile`` (eager fallback on failure).
    rigid_tendon : bool, optional
        Override the tendon model of ``params``.
    num_threads : int, optional
        ``torch.set_num_threads`` for the run (restored afterwards). Small
        batches on CPU run fastest with 1: their tiny per-op work gains
        nothing from threads, and thread hand-off is slow on a busy machine.

    Returns
    -------
    xarray.Dataset
        See the module docstring.

    Raises
    ------
    ParameterError
        Bad arguments.
    """
    check_param("duration", duration, minimum=0.0, types=(int, float))
    check_param("dt", dt, minimum=1e-9, types=(int, float))
    check_param("record_every", record_every, minimum=1, types=int)
    check_param("integrator", integrator, choices=INTEGRATORS)
    if fall_height is not None:
        check_param("fall_height", fall_height, types=(int, float))
    if not isinstance(params, EngineParams):
        params = EngineParams.from_body(params, dtype=dtype or torch.float64, device=device or "cpu")
    elif device is not None or dtype is not None:
        params = params.to(device=device, dtype=dtype)
    if rigid_tendon is not None:
        params = params.with_options(rigid_tendon=rigid_tendon)
    bsz, nq, nm = params.batch_size, params.n_coordinates, params.n_muscles
    dtype, dev = params.dtype, params.device
    state = initial if initial is not None else initial_state(params)
    if state.q.shape != (bsz, nq):
        raise ParameterError(f"initial state has q of shape {tuple(state.q.shape)}; expected [{bsz}, {nq}]")
    n_steps = int(round(duration / dt))
    n_rec = (n_steps + record_every - 1) // record_every
    ngroup = len(params.contact_group_names)
    buf = {
        "q": torch.empty(n_rec, bsz, nq, dtype=dtype, device=dev),
        "qdot": torch.empty(n_rec, bsz, nq, dtype=dtype, device=dev),
        "excitation": torch.empty(n_rec, bsz, nm, dtype=dtype, device=dev),
        "activation": torch.empty(n_rec, bsz, nm, dtype=dtype, device=dev),
        "muscle_force": torch.empty(n_rec, bsz, nm, dtype=dtype, device=dev),
        "fiber_length": torch.empty(n_rec, bsz, nm, dtype=dtype, device=dev),
        "grf": torch.empty(n_rec, bsz, ngroup, 2, dtype=dtype, device=dev),
        "metabolic_power": torch.empty(n_rec, bsz, dtype=dtype, device=dev),
        "fell": torch.empty(n_rec, bsz, dtype=torch.bool, device=dev),
        "failed": torch.empty(n_rec, bsz, dtype=torch.bool, device=dev),
    }
    stepper = make_stepper(compile=compile)
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        check_param("num_threads", num_threads, minimum=1, types=int)
        torch.set_num_threads(num_threads)
    try:
        _run(controller, state, params, stepper, buf, n_steps, record_every, dt, integrator, fall_height, bsz, nm)
    finally:
        torch.set_num_threads(old_threads)
    state = buf.pop("_final")
    return _dataset(params, buf, n_rec, record_every, dt, state, integrator, fall_height, n_steps)


def _run(controller, state, params, stepper, buf, n_steps, record_every, dt, integrator, fall_height, bsz, nm):
    dtype, dev = params.dtype, params.device
    k = 0
    with torch.no_grad():
        for i in range(n_steps):
            t = i * dt
            e = _excitation(controller, state, t, bsz, nm, dtype, dev)
            new, out = stepper(params, state, e, float(dt), integrator, fall_height)
            if i % record_every == 0:
                buf["q"][k] = state.q
                buf["qdot"][k] = state.qdot
                buf["excitation"][k] = torch.clamp(e, 0.0, 1.0)
                buf["activation"][k] = state.activation
                buf["muscle_force"][k] = out.muscle_force
                buf["fiber_length"][k] = out.fiber_length
                buf["grf"][k] = out.grf
                buf["metabolic_power"][k] = out.metabolic_power
                buf["fell"][k] = state.fell
                buf["failed"][k] = state.failed
                k += 1
            state = new
    buf["_final"] = state


def _first_time(flags: np.ndarray, time: np.ndarray, final: np.ndarray, t_end: float) -> np.ndarray:
    """First recorded time a flag is set, per member ([T, B] flags); ``t_end`` if only the final state has it."""
    out = np.full(flags.shape[1], np.nan)
    if flags.shape[0]:
        any_ = flags.any(axis=0)
        first = np.argmax(flags, axis=0)
        out[any_] = time[first[any_]]
    out[np.isnan(out) & final] = t_end
    return out


def _dataset(params: EngineParams, buf: dict, n_rec: int, record_every: int, dt: float, final: State,
             integrator: str, fall_height, n_steps: int) -> xr.Dataset:
    arr = {k: v.detach().cpu().numpy() for k, v in buf.items()}
    time = np.arange(n_rec) * record_every * dt
    grf = np.zeros(arr["grf"].shape[:-1] + (3,))
    grf[..., :2] = arr["grf"]
    basal = BASAL_COEFFICIENT * params.total_mass.detach().cpu().numpy()
    t_end = n_steps * dt
    fell_final = final.fell.cpu().numpy()
    failed_final = final.failed.cpu().numpy()

    def tb(x):  # [T, B, ...] -> [B, T, ...]
        return np.swapaxes(x, 0, 1).astype(float)

    coord_type = ["rotational" if r else "translational" for r in params.rotational]
    data = {
        "q": (("batch", "time", "coordinate"), tb(arr["q"]),
              {"units": "rad or m (see coordinate_type)", "long_name": "generalized coordinate"}),
        "qdot": (("batch", "time", "coordinate"), tb(arr["qdot"]),
                 {"units": "rad/s or m/s (see coordinate_type)", "long_name": "generalized speed"}),
        "grf": (("batch", "time", "side", "axis"), tb(grf),
                {"units": "N", "long_name": "ground reaction force (sum of the contact spheres of each side)"}),
        "excitation": (("batch", "time", "muscle"), tb(arr["excitation"]),
                       {"units": "1", "long_name": "muscle excitation"}),
        "activation": (("batch", "time", "muscle"), tb(arr["activation"]),
                       {"units": "1", "long_name": "muscle activation"}),
        "muscle_force": (("batch", "time", "muscle"), tb(arr["muscle_force"]),
                         {"units": "N", "long_name": "musculotendon (tendon) force"}),
        "fiber_length": (("batch", "time", "muscle"), tb(arr["fiber_length"]),
                         {"units": "m", "long_name": "muscle fibre length"}),
        "metabolic_power": (("batch", "time"), tb(arr["metabolic_power"]) + basal[:, None],
                            {"units": "W", "long_name": "whole-body metabolic power (Bhargava et al. 2004, "
                                                        "smoothed; muscles + basal 1.2 W/kg)"}),
        "fell": (("batch",), arr["fell"].any(axis=0) | fell_final,
                 {"units": "1", "long_name": "fell (root below fall_height); frozen from then on"}),
        "failed": (("batch",), arr["failed"].any(axis=0) | failed_final,
                   {"units": "1", "long_name": "non-finite state detected; frozen at the last finite state"}),
        "fell_time": (("batch",), _first_time(arr["fell"], time, fell_final, t_end),
                      {"units": "s", "long_name": "time the fall was detected (NaN: never)"}),
        "failed_time": (("batch",), _first_time(arr["failed"], time, failed_final, t_end),
                        {"units": "s", "long_name": "time the non-finite state was detected (NaN: never)"}),
    }
    coords = {
        "batch": np.arange(params.batch_size),
        "time": ("time", time, {"units": "s", "long_name": "time"}),
        "coordinate": list(params.coordinate_names),
        "coordinate_type": ("coordinate", coord_type),
        "muscle": list(params.muscle_names),
        "side": list(params.contact_group_names),
        "axis": ["x", "y", "z"],
    }
    attrs = {
        "kind": "simulation",
        "source": "twin.engine.simulate",
        "history": "",
        "rate": 1.0 / (record_every * dt),
        "dt": float(dt),
        "integrator": integrator,
        "tendon": "rigid" if params.rigid_tendon else "compliant (De Groote 2016 explicit, tendon-force state)",
        "muscle_model": "DeGrooteFregly2016",
        "metabolic_model": "Bhargava et al. 2004 (smoothed, as OpenSim Bhargava2004SmoothedMuscleMetabolics) "
                           "+ basal 1.2 W/kg",
        "fall_height": float("nan") if fall_height is None else float(fall_height),
        "device": str(params.device),
        "dtype": str(params.dtype).replace("torch.", ""),
    }
    if not math.isfinite(attrs["rate"]):
        raise TwinError("internal: non-finite record rate")
    return xr.Dataset(data, coords=coords, attrs=attrs)
