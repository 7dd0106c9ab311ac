"""CMA-ES optimisation of the reflex controller, each generation's population as one engine batch.

:func:`optimize` searches the controller's parameter vector (and, with
``optimize_initial=True``, the initial pose and speed of
:data:`twin.control.sim.INIT_PARAMETERS`) in a normalised box: each
parameter is mapped to [0, 1] by its bounds, and CMA-ES (Hansen's ``cma``
package) samples inside it. Every generation is checkpointed atomically
(the CMA state, numpy's random state, the history) and the previous
checkpoint is kept as ``<name>.prev``; ``resume=True`` continues from the
checkpoint, so an interrupted run finishes bit-identically to an
uninterrupted one. A checkpoint that cannot be read is reported
(:class:`~twin.errors.TwinWarning`) and the previous one is used, or a fresh
start if neither is readable.

``objective`` may also be a plain function ``f(X) -> costs`` of a population
``X [popsize, n]`` (then pass ``x0`` and ``bounds``): handy for tests.

Examples
--------
>>> import numpy as np
>>> res = optimize(None, lambda X: ((X - 0.3) ** 2).sum(1), x0=np.zeros(3), bounds=[[-1, 1]] * 3,
...                generations=30, popsize=8, seed=1, sigma0=0.3, progress=False)
>>> bool(np.allclose(res.vector, 0.3, atol=0.05))
True
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError, TwinWarning

__all__ = ["optimize", "OptimizeResult", "evaluate", "adapt_members"]

_CKPT_VERSION = 1


def _cma():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cma
    return cma


@dataclass
class OptimizeResult:
    """Outcome of :func:`optimize`.

    Attributes
    ----------
    vector : ndarray [P]
        Best controller parameter vector (``ReflexController.parameter_names()``
        order), or the best ``x`` of a plain-function objective.
    initial : ndarray or None
        Best initial-pose vector (``INIT_NAMES`` order) when optimised.
    cost : float
        Its cost.
    terms : dict
        Unweighted cost terms and metrics of the best member.
    history : xarray.Dataset
        Per ``generation``: best/median cost, sigma, and each term of the
        generation's best member.
    success : bool
        Whether the objective's target was reached (never fell; speed within
        tolerance when a speed term is present).
    report : str
        What was reached, in words.
    evaluations : int
    seconds : float
        Wall time of the generations run in this call.
    body_factors : dict or None
        With ``optimize(body_factors=...)``: the best member's body factors
        (:func:`twin.scenarios.apply_body_factors`), else None.
    """

    vector: np.ndarray
    initial: np.ndarray | None
    cost: float
    terms: dict
    history: xr.Dataset
    success: bool
    report: str
    evaluations: int
    seconds: float
    body_factors: dict | None = None


class _Problem:
    """Bounds, names and the batched evaluation of the controller problem."""

    def __init__(self, body, objective, *, device, optimize_initial, dtype, x0, init0, compile=False, starts=1,
                 controller_options=None, perturbation=1.0, perturb_time=0.0, gait_state=None, bodies=None,
                 resample=False, rigid_tendon=True, body_factors=None):
        self.compile = compile
        self.rigid_tendon = bool(rigid_tendon)
        self.resample = bool(resample)
        self.draw = 0  # with resample: which set of perturbations (the generation number)
        self.gait_state = gait_state
        self.bodies = None if bodies is None else list(bodies)
        if self.bodies is not None:
            if not self.bodies:
                raise ParameterError("bodies= must hold at least one BodyParams or Subject")
            if starts % len(self.bodies):
                raise ParameterError(f"starts={starts} must be a multiple of len(bodies)={len(self.bodies)} "
                                     "(each body gets the same number of starts)")
            if controller_options:
                raise ParameterError("bodies= carries each body's controller changes (Subjects); "
                                     "do not pass controller_options= too")
        self.perturb_time = float(perturb_time)
        self.perturbation = float(perturbation)
        self.controller_options = dict(controller_options or {})
        self.starts = starts
        from .reflex import ReflexController
        from .sim import INIT_PARAMETERS, INIT_NAMES

        self.objective = objective
        self.body = body
        self.device = device
        self.dtype = dtype
        self.optimize_initial = optimize_initial
        self.n_ctrl = len(ReflexController.parameter_names())
        b = ReflexController.bounds()
        names = list(ReflexController.parameter_names())
        v0 = ReflexController.default_vector() if x0 is None else np.asarray(x0, dtype=float)
        if optimize_initial:
            b = np.vstack([b, [[p[2], p[3]] for p in INIT_PARAMETERS]])
            names += [f"init.{n}" for n in INIT_NAMES]
            i0 = np.array([p[1] for p in INIT_PARAMETERS]) if init0 is None else np.asarray(init0, dtype=float)
            v0 = np.concatenate([v0, i0])
        self.init_fixed = None if optimize_initial else (None if init0 is None else np.asarray(init0, dtype=float))
        self.n_init = len(b) - self.n_ctrl
        self.body_factors = self._check_body_factors(body_factors)
        if self.body_factors:
            from ..scenarios import BODY_FACTOR_BOUNDS

            kinds = [BODY_FACTOR_BOUNDS[f.partition(":")[0]] for f in self.body_factors]
            b = np.vstack([b, [[lo, hi] for lo, hi, _ in kinds]])
            names += [f"body.{f}" for f in self.body_factors]
            v0 = np.concatenate([v0, [neutral for _, _, neutral in kinds]])
        self.bounds = b
        self.names = names
        self.x0 = np.clip(v0, b[:, 0], b[:, 1])
        self._params = {}

    def _check_body_factors(self, body_factors) -> tuple[str, ...]:
        if body_factors is None:
            return ()
        from ..model import BodyParams
        from ..scenarios import BODY_FACTOR_BOUNDS, apply_body_factors

        if not isinstance(self.body, BodyParams):
            raise ParameterError("body_factors= needs the body as a twin.model.BodyParams (the factors change it)")
        if self.bodies is not None:
            raise ParameterError("body_factors= fits one body; do not pass bodies= too")
        if self.controller_options:
            raise ParameterError("body_factors= builds each candidate's body with its own excitation scales; "
                                 "do not pass controller_options= too")
        names = tuple(str(f) for f in body_factors)
        if not names or len(set(names)) != len(names):
            raise ParameterError(f"body_factors={list(body_factors)!r}: give distinct factor names, e.g. "
                                 "twin.scenarios.body_factor_names(body)")
        neutral = {k: v[2] for k, v in BODY_FACTOR_BOUNDS.items()}
        apply_body_factors(self.body, {f: neutral.get(f.partition(":")[0], 0.0) for f in names})  # checks names
        return names

    def factors(self, X) -> list[dict]:
        """The body factors of each row of ``X`` (empty dicts without ``body_factors``)."""
        X = np.atleast_2d(X)
        k = self.n_ctrl + self.n_init
        return [dict(zip(self.body_factors, map(float, row[k:]))) for row in X] if self.body_factors else \
            [{} for _ in X]

    def _offset(self, k: int, n: int) -> np.ndarray:
        """Start perturbation ``k`` (0: none): fixed draws, or with ``resample`` new ones per ``self.draw``."""
        rng = np.random.default_rng([7919, int(self.draw) + 1, k]) if self.resample else None
        return _offset(k, n, self.perturbation, rng=rng)

    def split(self, X):
        X = np.atleast_2d(X)
        ctrl = X[:, :self.n_ctrl]
        init = X[:, self.n_ctrl:self.n_ctrl + self.n_init] if self.optimize_initial else None
        return ctrl, init

    def evaluate(self, X):
        import torch

        from .reflex import ReflexController
        from .sim import DT, initial_walking_state, rollout, walking_params

        X = np.atleast_2d(X)
        pop = X.shape[0]
        factors = self.factors(X)
        ctrl, init = self.split(X)
        if init is None:
            from .sim import INIT_PARAMETERS

            base = np.array([p[1] for p in INIT_PARAMETERS]) if self.init_fixed is None else self.init_fixed
            init = np.repeat(np.asarray(base, dtype=float)[None], pop, 0)
        perturb = None
        offs = None
        if self.gait_state is not None:  # starts on the gait cycle, perturbed at t = 0
            from .sim import INIT_NAMES

            ctrl = np.tile(ctrl, (self.starts, 1))
            init = np.tile(init, (self.starts, 1))
            offs = np.concatenate([np.repeat(self._offset(k, len(INIT_NAMES))[None], pop, 0)
                                   for k in range(self.starts)])
            X = np.concatenate([ctrl, init], 1)
        elif self.starts > 1 and self.perturb_time > 0:  # the same candidates perturbed mid-walk, mean cost
            from .sim import INIT_NAMES

            ctrl = np.tile(ctrl, (self.starts, 1))
            init = np.tile(init, (self.starts, 1))
            offs = np.concatenate([np.repeat(_offset(k, len(INIT_NAMES), self.perturbation)[None], pop, 0)
                                   for k in range(self.starts)])
            X = np.concatenate([ctrl, init], 1)
        elif self.starts > 1:  # the same candidates from perturbed starts, mean cost
            ctrl = np.tile(ctrl, (self.starts, 1))
            init = np.concatenate([init + _offset(k, init.shape[1], self.perturbation) for k in range(self.starts)])
            X = np.concatenate([ctrl, init], 1)
        n = X.shape[0]
        if self.body_factors:  # every candidate its own body: built anew for each batch (~0.1 s for 16)
            from ..scenarios import apply_body_factors, engine_inputs

            members = [apply_body_factors(self.body, factors[i % pop]) for i in range(n)]
            ep, scale, gain = engine_inputs(members, dtype=self.dtype, device=self.device,
                                            rigid_tendon=self.rigid_tendon)
            self._params = {n: (ep, {"excitation_scale": scale, "stretch_gain": gain})}
        elif n not in self._params:
            if self.bodies is None:
                self._params[n] = (walking_params(self.body, batch=n, dtype=self.dtype, device=self.device,
                                                  rigid_tendon=self.rigid_tendon), {})
            else:  # start k runs on body k mod len(bodies); every candidate on every body
                from ..scenarios import engine_inputs

                nb = len(self.bodies)
                members = [self.bodies[k % nb] for k in range(n // pop) for _ in range(pop)]
                ep, scale, gain = engine_inputs(members, dtype=self.dtype, device=self.device,
                                                rigid_tendon=self.rigid_tendon)
                self._params[n] = (ep, {"excitation_scale": scale, "stretch_gain": gain})
        params, body_options = self._params[n]
        c = ReflexController(params, dt=DT, **self.controller_options, **body_options)
        if self.starts > 1 and self.perturb_time > 0:
            perturb = (self.perturb_time, _joint_offsets(params, offs), offs[:, -1])
        with torch.no_grad():
            if self.gait_state is not None:
                from .sim import perturbed_state, start_state

                state = perturbed_state(params, start_state(params, {"initial_state": self.gait_state}),
                                        _joint_offsets(params, offs), offs[:, -1])
            else:
                state = initial_walking_state(params, init)
            cs = c.init(n, ctrl)
            r = rollout(params, c, cs, state, self.objective.duration, settle=self.objective.settle,
                        record_every=10 if self.objective.needs_record else 0, compile=self.compile,
                        perturb=perturb)
        total, parts = self.objective.evaluate(r)
        metrics = {"walked_s": r.walked_s, "distance": r.distance, "speed": r.speed, "cot": r.cot,
                   "fell": r.fell.astype(float)}
        allp = {**parts, **{f"metric.{k}": v for k, v in metrics.items()}}
        if self.starts > 1:
            total = total.reshape(self.starts, pop).mean(0)
            worst = {"metric.walked_s": np.min, "metric.fell": np.max}
            allp = {k: worst.get(k, np.mean)(np.asarray(v, dtype=float).reshape(self.starts, pop), axis=0)
                    for k, v in allp.items()}
        return total, allp


def _joint_offsets(params, offs: np.ndarray) -> np.ndarray:
    """Coordinate offsets [B, Q] from INIT-style offset rows (pelvis tilt, right hip/knee/ankle, left ...)."""
    names = list(params.coordinate_names)
    dq = np.zeros((offs.shape[0], len(names)))
    for col, coord in enumerate(("pelvis_tilt", "hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l",
                                 "knee_angle_l", "ankle_angle_l")):
        if coord in names:
            dq[:, names.index(coord)] = offs[:, col]
    return dq


def _offset(k: int, n: int, scale: float = 1.0, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Start perturbation number ``k`` (0: none): joints +-3 deg, speed +-0.05 m/s, x ``scale``.

    Drawn from ``rng`` (default: the fixed generator of ``k``, ``default_rng(1000 + k)``).
    """
    if k == 0:
        return np.zeros(n)
    rng = np.random.default_rng(1000 + k) if rng is None else rng
    off = np.deg2rad(rng.uniform(-3.0, 3.0, n))
    off[-1] = rng.uniform(-0.05, 0.05)
    return off * scale


class _Plain:
    def __init__(self, fn, x0, bounds):
        if x0 is None or bounds is None:
            raise ParameterError("a plain-function objective needs x0= and bounds=")
        self.fn = fn
        self.bounds = np.asarray(bounds, dtype=float)
        if self.bounds.ndim != 2 or self.bounds.shape[1] != 2 or not (self.bounds[:, 1] > self.bounds[:, 0]).all():
            raise ParameterError("bounds must be [[low, high], ...] with low < high")
        self.x0 = np.clip(np.asarray(x0, dtype=float), self.bounds[:, 0], self.bounds[:, 1])
        if self.x0.shape != (self.bounds.shape[0],):
            raise ParameterError(f"x0 has shape {self.x0.shape}; bounds give {self.bounds.shape[0]} parameters")
        self.names = [f"x{i}" for i in range(len(self.x0))]
        self.n_ctrl = len(self.x0)
        self.optimize_initial = False
        self.objective = None

    def split(self, X):
        return np.atleast_2d(X), None

    def evaluate(self, X):
        c = np.asarray(self.fn(np.atleast_2d(X)), dtype=float).reshape(-1)
        return np.nan_to_num(c, nan=1e10, posinf=1e10), {}


def _fingerprint(problem, popsize, seed, sigma0) -> str:
    obj = problem.objective.describe() if problem.objective is not None else getattr(problem.fn, "__name__", "fn")
    body = "" if getattr(problem, "body", None) is None else repr(getattr(problem.body, "name", type(problem.body)))
    text = repr((problem.names, problem.bounds.tolist(), problem.x0.tolist(), popsize, seed, sigma0, obj, body,
                 getattr(problem, "starts", 1)))
    if getattr(problem, "perturbation", 1.0) != 1.0:
        text += f"perturbation={problem.perturbation!r}"
    if getattr(problem, "perturb_time", 0.0):
        text += f"perturb_time={problem.perturb_time!r}"
    if getattr(problem, "resample", False):
        text += "resample"
    if not getattr(problem, "rigid_tendon", True):
        text += "compliant_tendons"
    if getattr(problem, "bodies", None) is not None:
        text += "bodies=" + repr([_body_key(b) for b in problem.bodies])
    if getattr(problem, "gait_state", None) is not None:
        text += "gait_state=" + repr(np.round(np.asarray(problem.gait_state["q"], dtype=float), 6).tolist())
    opts = getattr(problem, "controller_options", None)
    if opts:
        text += repr(sorted((k, sorted(v.items()) if isinstance(v, dict) else repr(v)) for k, v in opts.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _body_key(b) -> str:
    """A short identity of a body or Subject for checkpoint fingerprints."""
    body = getattr(b, "body", b)
    notes = getattr(b, "notes", ())
    try:
        fmax = sum(m.max_isometric_force for m in body.muscles)
        return f"{body.name}:{body.mass:.4f}:{body.height:.4f}:{fmax:.2f}:{notes}"
    except Exception:  # noqa: BLE001 - any body type: fall back to its repr
        return repr(b)[:200]


def _save(path: Path, payload: dict) -> None:
    from ..io.store import atomic_path

    data = pickle.dumps(payload, protocol=4)
    data = hashlib.sha256(data).hexdigest().encode() + b"\n" + data
    prev = path.with_name(path.name + ".prev")
    if path.exists():
        os.replace(path, prev)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _load(path: Path) -> dict:
    raw = path.read_bytes()
    head, _, data = raw.partition(b"\n")
    if hashlib.sha256(data).hexdigest().encode() != head:
        raise TwinError(f"checkpoint {path} is corrupt (checksum mismatch)")
    try:
        payload = pickle.loads(data)
    except Exception as err:  # pragma: no cover - checksum catches nearly all
        raise TwinError(f"checkpoint {path} cannot be read: {err}") from None
    if payload.get("version") != _CKPT_VERSION:
        raise TwinError(f"checkpoint {path} has version {payload.get('version')}; expected {_CKPT_VERSION}")
    return payload


def _resume(path: Path, fingerprint: str) -> dict | None:
    for cand in (path, path.with_name(path.name + ".prev")):
        if not cand.exists():
            continue
        try:
            payload = _load(cand)
        except TwinError as err:
            warnings.warn(f"{err}; trying the previous checkpoint", TwinWarning, stacklevel=3)
            continue
        if payload["fingerprint"] != fingerprint:
            raise TwinError(f"checkpoint {cand} belongs to a different optimisation (other objective, bounds, "
                            f"popsize, seed or sigma0); delete it or pass resume=False")
        if cand != path:
            warnings.warn(f"resuming from the last good checkpoint {cand} (generation {payload['generation']})",
                          TwinWarning, stacklevel=3)
        return payload
    if path.exists():
        warnings.warn(f"no readable checkpoint at {path}; starting afresh", TwinWarning, stacklevel=3)
    return None


def optimize(body: Any, objective: Any, *, generations: int = 50, popsize: int = 16, seed: int = 1,
             sigma0: float = 0.1, checkpoint: str | os.PathLike | None = None, resume: bool = True,
             device: str = "cpu", progress: bool = True, optimize_initial: bool = True,
             x0: Any = None, initial: Any = None, bounds: Any = None, dtype: Any = None,
             log: Callable[[str], None] | None = None, compile: bool = False,
             starts: int = 1, controller_options: dict | None = None,
             perturbation: float = 1.0, perturb_time: float = 0.0, gait_state: dict | None = None,
             bodies: Any = None, resample: bool = False, rigid_tendon: bool = True,
             body_factors: Any = None) -> OptimizeResult:
    """Optimise a reflex controller (or any box-bounded function) with CMA-ES.

    Parameters
    ----------
    body : twin.model.BodyParams, EngineParams or None
        The body (None: ``BodyParams.default(lumbar=False)``); ignored for a
        plain-function objective.
    objective : Objective or callable
        :class:`twin.control.objective.Objective`, or ``f(X [pop, n]) -> [pop]``.
    generations : int, keyword-only
        Total generations (a resumed run continues up to this number).
    popsize : int, keyword-only
        Population = engine batch.
    seed : int, keyword-only
    sigma0 : float, keyword-only
        Initial step as a fraction of each parameter's range.
    checkpoint : path, optional, keyword-only
        Pickle written atomically after every generation (plus ``.prev``).
    resume : bool, keyword-only
        Continue from ``checkpoint`` when it exists.
    device : str, keyword-only
    progress : bool, keyword-only
        A tqdm progress bar.
    optimize_initial : bool, keyword-only
        Also optimise the initial pose/speed (``init.*`` entries).
    x0 : array-like, optional, keyword-only
        Start vector (default: the published reflex parameters).
    initial : array-like, optional, keyword-only
        Start (or fixed) initial-pose vector.
    bounds : array-like [n, 2], optional, keyword-only
        For a plain-function objective.
    dtype : torch dtype, optional (default float32)
    log : callable, optional
        Called with one line per generation.
    compile : bool, keyword-only
        ``torch.compile`` the engine step (see :func:`twin.control.sim.rollout`).
    starts : int, keyword-only
        Evaluate every candidate from this many starts (the first nominal,
        the others with fixed perturbations of +-3 deg and +-0.05 m/s) in the
        same batch; its cost is the mean, its walked time the shortest.
    perturbation : float, keyword-only
        Scale of those start perturbations (2: +-6 deg, +-0.1 m/s).
    perturb_time : float, keyword-only
        > 0: apply those perturbations mid-walk at this time [s] instead of
        at the start (recovery from perturbed states on the gait cycle,
        :func:`twin.control.sim.rollout`'s ``perturb``).
    gait_state : dict, optional, keyword-only
        Start every run from this state on a gait cycle (a controller file's
        ``initial_state``, :func:`twin.control.sim.capture_gait_state`)
        instead of the standing-start pose; with ``starts > 1`` the extra
        starts are that state perturbed at t = 0 (the shipped controller
        check's kind of start; ``initial`` is then unused).
    resample : bool, keyword-only
        Draw new start perturbations every generation (the same for the
        whole population, reproducible from the generation number) instead
        of fixed ones, so the controller cannot fit a few particular
        perturbations. The cost is then noisy: the result is CMA-ES's
        distribution mean of the last generation (not the luckiest
        candidate), evaluated in the same batch as that generation's
        population (its cost and ``terms``; history column ``mean``).
    bodies : sequence of BodyParams or twin.scenarios.Subject, optional, keyword-only
        Evaluate every candidate on each of these bodies (start ``k`` runs on
        body ``k mod len(bodies)``; ``starts`` must be a multiple of their
        number; a Subject brings its joint changes, excitation scales and
        stretch gains): a controller for a population rather than one body.
    rigid_tendon : bool, keyword-only
        Rigid tendons (default; as the shipped controllers were made) or
        compliant tendons (the tendon stretches and returns energy; what
        they gave is in data/controllers/README.md). A controller is for the tendon model
        it was optimised with (:func:`twin.control.store.rigid_tendon`).
    body_factors : sequence of str, optional, keyword-only
        Also fit these body factors of ``body`` (names as
        :func:`twin.scenarios.body_factor_names`: ``"strength:soleus"``,
        ``"slack:hamstrings"``, ...; bounds :data:`twin.scenarios.BODY_FACTOR_BOUNDS`,
        starting neutral): every candidate then runs on its own body. The
        best ones are the result's ``body_factors``.
    controller_options : dict, optional, keyword-only
        Extra keyword arguments of :class:`ReflexController` for every member
        (``excitation_scale``, ``stretch_gain`` as ``{muscle: value}``): how a
        scenario changes the nervous system (see :mod:`twin.scenarios`).

    Returns
    -------
    OptimizeResult

    Raises
    ------
    ParameterError
        Bad arguments.
    TwinError
        A checkpoint from a different problem.
    """
    from .objective import Objective

    for name, v, lo in (("generations", generations, 1), ("popsize", popsize, 2)):
        if not isinstance(v, int) or v < lo:
            raise ParameterError(f"{name}={v!r} must be an int >= {lo}")
    if not isinstance(seed, int) or seed < 1:
        raise ParameterError(f"seed={seed!r} must be a positive int")
    if not isinstance(sigma0, (int, float)) or not 0 < sigma0 <= 1:
        raise ParameterError(f"sigma0={sigma0!r} must be in (0, 1] (a fraction of each range)")
    if isinstance(objective, Objective):
        import torch

        problem: Any = _Problem(body, objective, device=device, optimize_initial=optimize_initial,
                                dtype=dtype or torch.float32, x0=x0, init0=initial, compile=compile,
                                starts=starts, controller_options=controller_options,
                                perturbation=perturbation, perturb_time=perturb_time, gait_state=gait_state,
                                bodies=bodies, resample=resample, rigid_tendon=rigid_tendon,
                                body_factors=body_factors)
    elif callable(objective):
        if body_factors is not None:
            raise ParameterError("body_factors= needs an Objective (a reflex controller problem)")
        problem = _Plain(objective, x0, bounds)
    else:
        raise ParameterError(f"objective must be a twin.control.objective.Objective or a function, "
                             f"not {type(objective).__name__}")
    cma = _cma()
    lo, hi = problem.bounds[:, 0], problem.bounds[:, 1]
    to_z = lambda x: (x - lo) / (hi - lo)  # noqa: E731
    to_x = lambda z: lo + np.clip(z, 0.0, 1.0) * (hi - lo)  # noqa: E731
    fp = _fingerprint(problem, popsize, seed, sigma0)
    path = None if checkpoint is None else Path(checkpoint)
    payload = _resume(path, fp) if (path is not None and resume) else None
    if payload is not None:
        es = payload["es"]
        np.random.set_state(payload["np_random"])
        hist = payload["history"]
        best = payload["best"]
        gen = payload["generation"]
        evaluations = payload["evaluations"]
    else:
        np.random.seed(seed)
        es = cma.CMAEvolutionStrategy(to_z(problem.x0).tolist(), float(sigma0),
                                      {"bounds": [0.0, 1.0], "popsize": popsize, "seed": seed, "verbose": -9,
                                       "tolfun": 0.0, "tolx": 0.0, "tolfunhist": 0.0, "tolstagnation": 10 ** 9,
                                       "maxiter": 10 ** 9})
        es.inject([to_z(problem.x0).tolist()], force=True)  # the start itself is in generation 1
        hist, best, gen, evaluations = [], None, 0, 0
    bar = None
    if progress and gen < generations:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=generations, initial=gen, desc="cma-es", unit="gen")
        except Exception:  # pragma: no cover
            bar = None
    t0 = time.perf_counter()
    while gen < generations:
        Z = np.asarray(es.ask())
        X = to_x(Z)
        tg = time.perf_counter()
        noisy = getattr(problem, "resample", False)
        if noisy:  # the distribution mean rides along in the same batch (same draw, not selected on it)
            problem.draw = gen
            xm = to_x(np.asarray(es.mean))
            costs, parts = problem.evaluate(np.vstack([X, xm[None]]))
            mean_row = {"cost": float(costs[-1]), "x": xm, "terms": {n: float(v[-1]) for n, v in parts.items()}}
            costs, parts = costs[:-1], {n: np.asarray(v)[:-1] for n, v in parts.items()}
        else:
            costs, parts = problem.evaluate(X)
        es.tell(list(Z), costs.tolist())
        evaluations += len(X)
        k = int(np.argmin(costs))
        row = {"best": float(costs[k]), "median": float(np.median(costs)), "sigma": float(es.sigma),
               "seconds": time.perf_counter() - tg}
        row.update({n: float(v[k]) for n, v in parts.items()})
        hist.append(row)
        if noisy:
            best = mean_row
            row["mean"] = mean_row["cost"]
        elif best is None or costs[k] < best["cost"]:
            best = {"cost": float(costs[k]), "x": X[k].copy(), "terms": {n: float(v[k]) for n, v in parts.items()}}
        gen += 1
        if log is not None:
            log(f"gen {gen} best {row['best']:.4f} median {row['median']:.4f} sigma {row['sigma']:.3f} "
                + (f"mean {row['mean']:.4f} " if "mean" in row else "")
                + " ".join(f"{n}={row[n]:.3g}" for n in parts) + f" ({row['seconds']:.1f} s)")
        if path is not None:
            _save(path, {"version": _CKPT_VERSION, "fingerprint": fp, "es": es, "np_random": np.random.get_state(),
                         "history": hist, "best": best, "generation": gen, "evaluations": evaluations,
                         "names": problem.names})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{best['cost']:.3g}")
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    history = _history(hist)
    ctrl, init = problem.split(best["x"])
    success, report = _report(problem, best)
    factors = problem.factors(best["x"])[0] if getattr(problem, "body_factors", ()) else None
    return OptimizeResult(ctrl[0], None if init is None else init[0], best["cost"], best["terms"], history,
                          success, report, evaluations, seconds, factors)


def _history(hist: list[dict]) -> xr.Dataset:
    keys = list(dict.fromkeys(k for row in hist for k in row))
    data = {k.replace(".", "_"): (("generation",), np.array([row.get(k, np.nan) for row in hist], dtype=float),
                                  {"long_name": k}) for k in keys}
    return xr.Dataset(data, coords={"generation": np.arange(1, len(hist) + 1)},
                      attrs={"kind": "table", "source": "twin.control.optimize"})


def _report(problem, best) -> tuple[bool, str]:
    t = best["terms"]
    if problem.objective is None:
        return True, f"best cost {best['cost']:.6g}"
    walked = t.get("metric.walked_s", np.nan)
    fell = bool(t.get("metric.fell", 1.0))
    v = t.get("metric.speed", np.nan)
    dur = problem.objective.duration
    msg = [f"best cost {best['cost']:.4g}: walked {walked:.2f} of {dur:g} s"
           + (" then fell" if fell else " without falling") + f", distance {t.get('metric.distance', np.nan):.2f} m"
           + (f", speed {v:.2f} m/s" if np.isfinite(v) else "")]
    ok = not fell
    target = problem.objective.target_speed
    if target is not None:
        tol = next((x.tolerance for x in problem.objective.terms if x.name == "speed"), None)
        tol = 0.1 if tol is None else tol
        if not (np.isfinite(v) and abs(v - target) <= tol + 1e-9):
            ok = False
            msg.append(f"target speed {target:g} m/s NOT reached (best {v:.2f} m/s)")
    return ok, "; ".join(msg)


def evaluate(body: Any, objective: Any, vector: Any, *, initial: Any = None, device: str = "cpu",
             dtype: Any = None, controller_options: dict | None = None, rigid_tendon: bool = True) -> dict:
    """Cost terms and metrics of one controller vector (and initial pose)."""
    import torch

    problem = _Problem(body, objective, device=device, optimize_initial=initial is not None,
                       dtype=dtype or torch.float32, x0=vector, init0=initial,
                       controller_options=controller_options, rigid_tendon=rigid_tendon)
    x = np.asarray(vector, dtype=float)
    if initial is not None:
        x = np.concatenate([x, np.asarray(initial, dtype=float)])
    total, parts = problem.evaluate(x[None])
    return {"cost": float(total[0]), **{k: float(v[0]) for k, v in parts.items()}}


def adapt_members(params: Any, vectors: Any, initials: Any, *, target_speed: float, duration: float,
                  generations: int, popsize: int, seed: int = 1, rigid_tendon: bool = True,
                  controller_options: dict | None = None, progress: bool = False,
                  on_generation: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Warm-started re-optimisation of the controller of every member of a batch but the first (the baseline).

    What a "what if" with ``adapt`` does: the nervous system re-learns the
    changed body. Member ``i`` (``i >= 1``) gets its own CMA-ES run on its own
    body (``params.select([i])``), from its controller ``vectors[i]`` and
    standing-start pose ``initials[i]`` (``sigma0`` 0.02), on the objective
    ``walking(target_speed, duration=min(duration, 10), stage="speed")``.

    Parameters
    ----------
    params : EngineParams
        The batch (member 0 is the baseline and is not changed).
    vectors, initials : array (batch, P), (batch, 8)
        Start controllers and standing-start poses.
    target_speed, duration, generations, popsize, seed, rigid_tendon : as :func:`optimize`'s
    controller_options : dict, optional
        Per-member controller inputs (``excitation_scale``, ``stretch_gain``: [batch, ...]); member ``i``
        gets rows ``i:i+1``.
    progress : bool
        :func:`optimize`'s progress bar.
    on_generation : callable ``f(member, generation)``, optional
        Called before each member's run (generation 0) and after each of its
        generations (progress and cancel hooks: raise to stop).

    Returns
    -------
    (vectors, initials) : new arrays; each adapted member walks from its
    standing start (its gait-cycle start no longer applies).
    """
    from .objective import walking

    obj = walking(float(target_speed), duration=min(float(duration), 10.0), stage="speed")
    vectors = np.array(vectors, dtype=float)
    initials = np.array(initials, dtype=float)
    for i in range(1, vectors.shape[0]):
        done = [0]

        def log(msg: str, i: int = i, done: list = done) -> None:
            if msg.startswith("gen "):
                done[0] += 1
                if on_generation is not None:
                    on_generation(i, done[0])

        if on_generation is not None:
            on_generation(i, 0)
        opts = {k: v[i:i + 1] for k, v in (controller_options or {}).items()}
        res = optimize(params.select([i]), obj, generations=generations, popsize=popsize, seed=seed, sigma0=0.02,
                       x0=vectors[i], initial=initials[i], progress=progress, rigid_tendon=rigid_tendon,
                       controller_options=opts, log=log)
        vectors[i], initials[i] = res.vector, res.initial
    return vectors, initials
