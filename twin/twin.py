"""The digital twin: a person's body and nervous system, fitted from their recording, asked "what if".

A :class:`Twin` holds

* ``body`` -- a :class:`twin.model.BodyParams` (scaled to the person by
  OpenSim's scaling when a static trial is given, else by height and mass);
* ``controller`` / ``initial`` -- the reflex controller's parameter vector
  and initial-pose vector (:mod:`twin.control`), fitted so the simulated
  gait tracks the person's gait cycle, stride time and speed, warm-started from the
  shipped controller;
* ``kinematics`` / ``dynamics`` -- the person's inverse kinematics and
  dynamics (OpenSim, :mod:`twin.fit`), ``reference`` -- their mean gait
  cycle (right stride; hip/knee/ankle angles of both legs) and speed;
* ``baseline`` -- the simulated gait of the fitted twin; ``quality`` -- fit
  quality (RMS per joint between simulated and measured cycle, right leg and
  ``_l`` left, speed error);
  ``provenance`` -- source files with sha256, versions and settings.

:meth:`Twin.simulate` runs the baseline and any number of scenarios
(:mod:`twin.scenarios`) as one engine batch and returns a simulation
Dataset with a ``scenario`` dim (baseline first); ``adapt=True`` first
re-optimises the controller for each changed body (the person re-learns),
``adapt=False`` keeps today's nervous system.

A twin is saved as one netCDF (or zarr) file holding an xarray DataTree
(``/body``, ``/controller``, ``/kinematics``, ``/dynamics``, ``/reference``,
``/baseline``), written atomically; :func:`load_twin` reloads it
bit-identically.

Examples
--------
>>> t = Twin.default()
>>> t.body.mass > 50, len(t.controller) == len(t.controller_names)
(True, True)
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import xarray as xr

from .errors import DataError, ParameterError, TwinError, check_param

__all__ = ["Twin", "load_twin", "FORMAT"]

#: File format tag of saved twins.
FORMAT = "twin.Twin/1"

_JOINTS = ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")
_LEFT = tuple(j[:-1] + "l" for j in _JOINTS)
#: Half-width [s] of the band around the person's stride time inside which the controller fit pays
#: nothing (:func:`twin.control.objective.stride_time`): 0.03 s is 2.5 % of a 1.2 s stride, about the
#: stride-to-stride variability of healthy adults' stride time (CV about 2-3 %, e.g. Hausdorff et al.
#: 1996, J Appl Physiol 80:1448-1457).
STRIDE_TOLERANCE_S = 0.03
_CONTROLLERS = Path(__file__).resolve().parent.parent / "data" / "controllers"


def _sha256(path: Path) -> str:
    from .datasets import _sha256 as sha

    return sha(path)


def _versions() -> dict:
    import torch

    from . import __version__

    out = {"twin": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "xarray": xr.__version__}
    try:
        from .fit._osim import opensim_version

        out["opensim"] = opensim_version()
    except Exception:  # noqa: BLE001 -- OpenSim is optional for a kinematics-only twin
        pass
    return out


def _shipped_docs() -> list[dict]:
    """Every shipped controller's document (``path`` and measured speed ``_speed`` added)."""
    from .control.store import load_controller

    files = sorted(_CONTROLLERS.glob("walk_*.json"))
    if not files:
        raise TwinError(f"no shipped controllers in {_CONTROLLERS} (walk_*.json); reinstall twin from its "
                        "repository")
    docs = []
    for f in files:
        d = load_controller(f)
        d["path"] = str(f)
        d["_speed"] = controller_speed(d)
        docs.append(d)
    return docs


def controller_speed(doc: dict) -> float:
    """A controller document's measured speed [m/s]: its 20 s check's, else its recorded metric, else 1.3."""
    m = doc.get("metrics") or {}
    v = (m.get("check") or {}).get("speed_mps", m.get("speed_mps"))  # the measured 20 s walk first
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else 1.3


def warm_start_controller(body: Any, speed: float, *, duration: float = 6.0,
                          log: Callable[[str], None] | None = None) -> dict:
    """The shipped controller to start a person's fit from: the preferred one if it walks their body.

    The preferred controller is :func:`shipped_controller` ``(speed)``; it is
    simulated on ``body`` from its standing start for ``duration`` s, and if
    it falls, the others are tried nearest speed first. The first that walks
    the whole test is returned; if none does, the one that walked longest.
    A shipped controller is optimised for the default body (and a few scaled
    ones): a tall slender person may fall with one and walk with another.

    Returns the document of :func:`shipped_controller` plus ``walk_test_s``
    (seconds walked in the test).
    """
    from .control.objective import walking
    from .control.optimize import evaluate

    obj = walking(None, duration=duration)
    best = None
    for d in controller_order(speed):
        walked = float(evaluate(body, obj, d["vector"], initial=d["initial"], rigid_tendon=d["rigid_tendon"])
                       ["metric.walked_s"])
        d["walk_test_s"] = walked
        if log is not None:
            log(f"warm start: {Path(d['path']).name} walks {walked:.1f} of {duration:g} s on this body")
        if best is None or walked > best["walk_test_s"]:
            best = d
        if walked >= duration - 1e-6:
            return d
    return best


def shipped_controller(speed: float | None = None) -> dict:
    """The shipped controller for ``speed`` [m/s] (``data/controllers/walk_*.json``).

    ``walk_default.json`` (the one optimised for robustness) unless ``speed``
    is more than 0.3 m/s from its speed and another controller is closer; a
    controller's speed is that of its ``metrics.check`` walk (else its
    optimisation's ``metrics.speed_mps``, else 1.3).

    Returns the document of :func:`twin.control.store.load_controller` plus
    ``path``.
    """
    return _preferred(_shipped_docs(), speed)


def controller_order(speed: float | None = None, docs: list[dict] | None = None) -> list[dict]:
    """The shipped controllers in the order to try them for ``speed`` [m/s]: :func:`shipped_controller`'s
    choice first, then the others nearest speed first (documents as there; ``docs``: from ``_shipped_docs()``)."""
    docs = _shipped_docs() if docs is None else docs
    first = _preferred(docs, speed)
    ref = first["_speed"] if speed is None else float(speed)
    return [first] + sorted((d for d in docs if d is not first), key=lambda d: abs(d["_speed"] - ref))


def _preferred(docs: list[dict], speed: float | None) -> dict:
    """:func:`shipped_controller`'s choice among ``docs`` (see there)."""
    default = next((d for d in docs if Path(d["path"]).name == "walk_default.json"), docs[0])
    if speed is None or abs(default["_speed"] - speed) <= 0.3:
        return default
    return min(docs, key=lambda d: abs(d["_speed"] - speed))


@dataclass
class Twin:
    """A person's digital twin (see the module docstring).

    Attributes
    ----------
    body : twin.model.BodyParams
    controller : ndarray [P]
        Reflex parameters (``controller_names`` order).
    initial : ndarray [8]
        Initial pose and speed (:data:`twin.control.sim.INIT_NAMES`).
    kinematics, dynamics : xarray.Dataset or None
        The person's inverse kinematics / dynamics.
    reference : xarray.Dataset or None
        ``angle(cycle_pct, coordinate)`` [rad], the person's mean right stride
        (both legs' hip, knee and ankle when recorded), with attrs
        ``speed_mps``, ``stride_s`` (mean stride time) and ``n_strides``.
    baseline : xarray.Dataset or None
        Simulated gait of the fitted twin (simulation kind, one scenario).
    quality : dict
        ``rms_deg_<joint>`` (right leg) and ``rms_deg_<joint>_l`` (left),
        ``speed_err_mps``, ``stride_s``, ``stride_err_s``, ``fit_minutes``,
        ``body_factors`` (with ``fit_body``), ...
    provenance : dict
        ``sources`` (path, sha256), ``versions``, ``settings``, ``created``.
    rigid_tendon : bool
        The engine's tendon model the controller was made for (that of the
        shipped controller it started from; see
        :func:`twin.control.store.rigid_tendon`).
    gait_state : dict or None
        A state on the controller's own gait cycle (a shipped controller's
        ``initial_state``): :meth:`simulate` starts there, placed for the
        body (:func:`twin.control.sim.body_start_state`), instead of from
        the standing pose ``initial``. None once the controller has been
        fitted or adapted (those were optimised from the standing start).
    """

    body: Any
    controller: np.ndarray
    initial: np.ndarray
    kinematics: xr.Dataset | None = None
    dynamics: xr.Dataset | None = None
    reference: xr.Dataset | None = None
    baseline: xr.Dataset | None = None
    quality: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    rigid_tendon: bool = True
    gait_state: dict | None = None

    # ------------------------------------------------------------------ construction
    @property
    def controller_names(self) -> tuple[str, ...]:
        """Names of the controller vector's entries."""
        from .control.reflex import ReflexController

        return ReflexController.parameter_names()

    @classmethod
    def default(cls, *, speed: float | None = None) -> Twin:
        """The default adult body with the shipped controller (no recording)."""
        from .model import BodyParams

        doc = shipped_controller(speed)
        return cls(BodyParams.default(lumbar=False, marker_sets=()), np.asarray(doc["vector"], dtype=float),
                   np.asarray(doc["initial"], dtype=float),
                   provenance={"sources": [{"path": Path(doc["path"]).name, "sha256": _sha256(Path(doc["path"]))}],
                               "versions": _versions(), "settings": {"made_by": "Twin.default"},
                               "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                   rigid_tendon=doc["rigid_tendon"], gait_state=doc.get("initial_state") or None)

    @classmethod
    def from_recording(cls, recording: Any, *, mass: float, height: float, static: Any = None,
                       generations: int = 30, popsize: int = 16, duration: float = 10.0, seed: int = 1,
                       checkpoint: str | os.PathLike | None = None, progress: bool = True,
                       fit_controller: bool = True, fit_body: bool = False, passive_knee: bool = False,
                       log: Callable[[str], None] | None = None, compile: bool | str = "auto") -> Twin:
        """Fit a twin to a person's walking recording.

        Parameters
        ----------
        recording : path, list of paths or xarray.Dataset
            A recording with markers (and optionally force plates) -- a
            C3D/TRC (+ GRF .mot), an OpenCap session's markers -- or a
            kinematics Dataset / IK ``.mot`` (kinematics-only fit; a model's
            lumbar joint is merged into the twin's rigid trunk first, see
            :func:`rigid_trunk_kinematics`).
        mass : float, keyword-only
            Body mass [kg], 20..250.
        height : float, keyword-only
            Standing height [m], 1.0..2.3.
        static : path or xarray.Dataset, optional, keyword-only
            A static trial: scale the body with OpenSim (:func:`twin.fit.scale`);
            without it the default body is scaled by height and mass.
        generations, popsize, duration, seed : keyword-only
            CMA-ES budget of the controller fit (warm-started from the
            shipped controller closest to the person's speed, or, if that
            one falls on the person's body, another that walks it: see
            :func:`warm_start_controller`), rollout
            duration [s], seed. Every reflex parameter is free, the
            feedforward bursts of :mod:`twin.control.reflex` too (from the
            shipped controllers' zero amplitude). The fit tracks both legs'
            hip, knee and ankle angles over the person's mean right stride
            (:func:`reference_cycle`), the stride time and the speed.
            Budget and fit quality on a 2-core CPU (compiled, one thread,
            ``benchmarks/README.md``): 100 generations of 16 take about
            4 min (right knee RMS 5.9-12.4 deg over three recordings and
            two seeds), 300 about 11 min (knee 4.9-8.8 deg).
        checkpoint : path, optional, keyword-only
            Checkpoint of the controller fit (resumable; a later call with
            more ``generations`` and the same settings continues it).
        progress : bool, keyword-only
        fit_controller : bool, keyword-only
            False: keep the shipped controller (fast; the baseline then shows
            how far the generic walker is from this person).
        fit_body : bool, keyword-only
            Also fit the muscles' strength and tendon slack-length factors
            (:func:`twin.scenarios.body_factor_names`, both sides alike,
            bounds :data:`twin.scenarios.BODY_FACTOR_BOUNDS`) in the same
            CMA-ES run as the controller; the twin's body is then the fitted
            one and ``quality["body_factors"]`` holds them. Needs
            ``fit_controller``; ignored without it. Default False: on the
            three benchmark recordings (100 generations) it lowered the RMS
            of all three joints on one, of the ankle only on the two others
            (``benchmarks/README.md``), and it costs a compilation of its own.
        passive_knee : bool, keyword-only
            Calibrate the quadriceps' passive fibres so that the body's
            relaxed knee resists flexion as Riener & Edrich's (1999) subjects'
            did (:func:`twin.fit.calibrate_passive_knee`; OpenSim's passive
            curve makes it 2-4 times stiffer at 60-90 deg of knee flexion);
            ``quality["passive_knee"]`` holds the report. Default False
            (OpenSim's curve): on subject01's markers (100 generations, seeds
            1-3) the calibrated quadriceps (strain 1.94) gave knee RMS 10.1 /
            10.4 / 9.2 deg against 10.3 / 10.2 / 9.6 without, on BMClab walk1
            (seeds 1-2) 6.0 / 5.6 against 6.5 / 5.5 (``benchmarks/README.md``).
        log : callable, optional, keyword-only
        compile : bool or "auto", keyword-only
            Run the controller fit's rollouts on the compiled engine
            (:func:`twin.control.sim.rollout`, ``compile=True``): about 3 min
            to compile the first time on a machine (seconds later, from
            inductor's cache), then several times faster than eager.
            ``"auto"`` (default): compiled when the fit is worth it
            (``generations * popsize >= 160``), else eager.

        Raises
        ------
        ParameterError
            Mass or height out of range, or inconsistent with the recording.
        DataError
            The recording is too short for a gait cycle or has neither
            markers nor joint angles.
        """
        from .control.objective import (Objective, joint_limits, no_fall, progress as progress_term, speed,
                                        stride_time, tracking)
        from .control.optimize import optimize
        from .model import BodyParams

        t0 = time.perf_counter()
        say = log or (lambda m: None)
        check_param("mass", mass, types=(int, float), minimum=20.0, maximum=250.0)
        check_param("height", height, types=(int, float), minimum=1.0, maximum=2.3)
        rec, sources = _as_dataset(recording, "recording")
        rec_mass = rec.attrs.get("subject_mass") or rec.attrs.get("mass_kg")
        if isinstance(rec_mass, (int, float)) and rec_mass > 0 and abs(rec_mass / mass - 1) > 0.15:
            raise ParameterError(f"mass={mass:g} kg is inconsistent with the recording's subject mass "
                                 f"{rec_mass:g} kg (>15 % apart); pass the person's mass")
        if compile not in (True, False, "auto"):
            raise ParameterError(f"compile={compile!r}: use True, False or 'auto'")
        compiled = bool(compile) if compile != "auto" else generations * popsize >= 160
        if not isinstance(fit_body, bool):
            raise ParameterError(f"fit_body={fit_body!r}: True or False")
        if not isinstance(passive_knee, bool):
            raise ParameterError(f"passive_knee={passive_knee!r}: True or False")
        fit_body = fit_body and fit_controller
        settings = {"mass": mass, "height": height, "generations": generations, "popsize": popsize,
                    "duration": duration, "seed": seed, "fit_controller": fit_controller, "fit_body": fit_body,
                    "passive_knee": passive_knee,
                    "compiled_engine": compiled}
        generic = BodyParams.default(lumbar=False)
        dynamics = None
        kind = rec.attrs.get("kind")
        if kind == "kinematics":
            body = generic.scaled(height=height, mass=mass)
            kin = rigid_trunk_kinematics(rec)
            say("kinematics-only recording: body scaled by height and mass"
                + ("; lumbar joint merged into the rigid trunk" if kin is not rec else ""))
        else:
            if "markers" not in rec:
                raise DataError("the recording has neither markers nor joint angles; pass a marker "
                                "recording (C3D/TRC/OpenCap) or a kinematics .mot")
            from . import fit

            if static is not None:
                st, more = _as_dataset(static, "static")
                sources += more
                body, _ = fit.scale(generic, st, mass=mass, height=height)
                say("body scaled to the static trial (OpenSim ScaleTool)")
            else:
                body = generic.scaled(height=height, mass=mass)
                say("no static trial: body scaled by height and mass")
            kin = fit.inverse_kinematics(body, rec)
            say(f"inverse kinematics: {kin.sizes['time']} frames")
            if "grf" in rec:
                try:
                    dynamics = fit.inverse_dynamics(body, kin, grf=rec)
                    say("inverse dynamics done")
                except TwinError as err:  # a twin without joint moments is still useful
                    say(f"inverse dynamics skipped: {err}")
        passive_report = None
        if passive_knee:
            from .fit.passive import calibrate_passive_knee

            body, passive_report = calibrate_passive_knee(body)
            say(f"quadriceps' passive fibre strain {passive_report['strain']:g} (passive knee moment RMS "
                f"{passive_report['rms_before_nm']:.1f} -> {passive_report['rms_after_nm']:.1f} N m against "
                "Riener & Edrich 1999)")
        ref = reference_cycle(kin, body=body)
        v = float(ref.attrs["speed_mps"])
        doc = warm_start_controller(body, v, duration=min(duration, 6.0), log=say)
        vector = np.asarray(doc["vector"], dtype=float)
        initial = np.asarray(doc["initial"], dtype=float).copy()  # the controller's own start (its speed)
        quality: dict = {}
        if passive_report is not None:
            quality["passive_knee"] = passive_report
        twin = cls(body, vector, initial, kin, dynamics, ref, None, quality,
                   {"sources": sources, "versions": _versions(), "settings": settings,
                    "warm_start": Path(doc["path"]).name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
                   rigid_tendon=doc["rigid_tendon"], gait_state=None if fit_controller else
                   (doc.get("initial_state") or None))
        if fit_controller:
            refd = {c: ref.angle.sel(coordinate=c).values for c in ref.coordinate.values}
            # the person's stride time too: the tracking term compares strides normalised in time, and without
            # this term the fit walked subject01's 1.10 m/s with 129 (50 generations) to 151 (120 generations)
            # steps/min against the person's 97 -- short quick steps whose normalised curves fit better
            terms = (progress_term(v, 10.0) + no_fall(2.0) + speed(v, 5.0) + tracking(refd, 20.0) + joint_limits(5.0)
                     + stride_time(min(max(float(ref.attrs["stride_s"]), 0.4), 2.9), 100.0,
                                  tolerance=STRIDE_TOLERANCE_S))
            obj = Objective(duration=duration, terms=terms, name=f"twin fit @{v:.2f}")
            from .scenarios import apply_body_factors, body_factor_names

            res = optimize(body, obj, generations=generations, popsize=popsize, seed=seed, sigma0=0.02,
                           checkpoint=checkpoint, progress=progress, x0=vector, initial=initial,
                           log=say, compile=compiled, rigid_tendon=twin.rigid_tendon,
                           body_factors=body_factor_names(body) if fit_body else None)
            twin.controller, twin.initial = np.asarray(res.vector), np.asarray(res.initial)
            if res.body_factors:
                twin.body = apply_body_factors(body, res.body_factors)
                quality["body_factors"] = dict(res.body_factors)
            settings["objective"] = obj.describe()
            quality["fit_report"] = res.report
            quality["fit_evaluations"] = int(res.evaluations)
        twin.baseline = twin.simulate(duration=duration)
        twin.quality.update(fit_quality(twin.baseline, ref))
        twin.quality["fit_minutes"] = (time.perf_counter() - t0) / 60
        return twin

    # ------------------------------------------------------------------ simulation
    def simulate(self, scenarios: Any = (), *, adapt: bool = False, duration: float = 10.0,
                 record_every: int = 10, generations: int = 15, popsize: int = 12, seed: int = 1,
                 progress: bool = False, compile: bool = False) -> xr.Dataset:
        """Simulate the baseline and each scenario in one engine batch.

        Parameters
        ----------
        scenarios : scenario, str, or a list of them
            Each item is one scenario (a :mod:`twin.scenarios` object, a
            list of them applied in order, or a CLI string such as
            ``"weakness:soleus,gastroc=0.4"``).
        adapt : bool, keyword-only
            Re-optimise the controller for each changed body first
            (warm-started CMA-ES, ``generations`` x ``popsize``).
        duration : float, keyword-only
            [s]
        record_every : int, keyword-only
            Steps between recorded samples (1 ms steps).
        generations, popsize, seed : int, keyword-only
            CMA-ES budget and seed of ``adapt=True``.
        progress : bool, keyword-only
            Progress bar of ``adapt=True``.
        compile : bool, keyword-only
            Run the closed loop on the compiled engine
            (:func:`twin.control.sim.rollout`): baseline + 4 scenarios x 10 s
            in about 2.4 s instead of 44 s on a 2-core CPU at one intra-op
            thread (``torch.set_num_threads(1)``; at 2 threads 3.4 s), after a
            compilation the first time per batch size and thread count
            (4.6-5.5 min measured for this 5-member batch; inductor's cache
            keeps it for later processes, which load it in about 15 s).

        Returns
        -------
        xarray.Dataset
            Simulation kind with dim ``scenario`` (``"baseline"`` first).

        Raises
        ------
        ParameterError
            Bad scenarios or options.
        """
        import torch

        from .control.reflex import ReflexController
        from .control.sim import DT, add_joint_moments, body_start_state, initial_walking_state, rollout, rollout_dataset
        from .scenarios import Subject, apply_scenarios, engine_inputs

        check_param("duration", duration, types=(int, float), minimum=0.05, maximum=600.0)
        items = _scenario_list(scenarios)
        subjects = [Subject(self.body)] + [apply_scenarios(Subject(self.body), s) for s in items]
        labels = ["baseline"] + [_label(s) for s in items]
        params, exc, stretch = engine_inputs(subjects, dtype=torch.float32, rigid_tendon=self.rigid_tendon)
        n = len(subjects)
        vectors = np.repeat(self.controller[None], n, 0)
        initials = np.repeat(self.initial[None], n, 0)
        gait = [self.gait_state] * n
        if adapt and n > 1:
            from .control.optimize import adapt_members

            target = float(self.reference.attrs["speed_mps"]) if self.reference is not None else 1.3
            vectors, initials = adapt_members(params, vectors, initials, target_speed=target, duration=duration,
                                              generations=generations, popsize=popsize, seed=seed,
                                              rigid_tendon=self.rigid_tendon, progress=progress,
                                              controller_options={"excitation_scale": exc, "stretch_gain": stretch})
            gait = [gait[0]] + [None] * (n - 1)  # adapted members were optimised from standing
        c = ReflexController(params, dt=DT, excitation_scale=exc, stretch_gain=stretch)
        with torch.no_grad():
            start = initial_walking_state(params, initials)
            if any(g is not None for g in gait):
                start = body_start_state(params, gait, fallback=start)
            r = rollout(params, c, c.init(n, vectors), start, duration, record_every=record_every, compile=compile)
        ds = add_joint_moments(rollout_dataset(r, labels=labels), params)
        ds.attrs.update({"adapt": int(bool(adapt)), "scenarios": json.dumps(labels)})
        return ds

    # ------------------------------------------------------------------ persistence
    def to_datatree(self) -> xr.DataTree:
        """All of the twin as an xarray DataTree (see the module docstring)."""
        from .control.sim import INIT_NAMES

        ctrl = xr.Dataset({"vector": (("controller_parameter",), np.asarray(self.controller, dtype=float)),
                           "initial": (("initial_parameter",), np.asarray(self.initial, dtype=float))},
                          coords={"controller_parameter": list(self.controller_names),
                                  "initial_parameter": list(INIT_NAMES)},
                          attrs={"rigid_tendon": int(bool(self.rigid_tendon)),
                                 "gait_state": json.dumps(_plain(self.gait_state)) if self.gait_state else ""})
        nodes = {"/body": self.body.to_dataset(), "/controller": ctrl}
        for name in ("kinematics", "dynamics", "reference", "baseline"):
            ds = getattr(self, name)
            if ds is not None:
                nodes[f"/{name}"] = ds
        root = xr.Dataset(attrs={"format": FORMAT, "quality": json.dumps(_plain(self.quality)),
                                 "provenance": json.dumps(_plain(self.provenance))})
        nodes["/"] = root
        return xr.DataTree.from_dict(nodes)

    def to_dataset(self) -> xr.Dataset:
        """The twin's parameters and fit quality as one flat Dataset (controller + body summary)."""
        tree = self.to_datatree()
        ds = tree["/controller"].to_dataset().copy()
        ds["body_mass"] = ((), float(self.body.mass), {"units": "kg"})
        ds["body_height"] = ((), float(self.body.height), {"units": "m"})
        ds.attrs.update(tree.attrs)
        return ds

    def save(self, path: str | os.PathLike) -> Path:
        """Write the twin to ``path`` (``.nc`` netCDF, ``.zarr`` zarr), atomically."""
        from .io.store import atomic_path

        p = Path(path)
        if p.suffix not in (".nc", ".zarr"):
            raise ParameterError(f"twin file {p} must end in .nc (netCDF) or .zarr")
        tree = self.to_datatree()
        with atomic_path(p) as tmp:
            if p.suffix == ".nc":
                tree.to_netcdf(tmp, engine="h5netcdf")
            else:
                tree.to_zarr(tmp, zarr_format=2)
        return p

    def __repr__(self) -> str:
        q = ", ".join(f"{k}={v:.3g}" for k, v in self.quality.items() if isinstance(v, (int, float)))
        return (f"Twin(body={self.body.name!r}, mass={self.body.mass:.1f} kg, height={self.body.height:.2f} m"
                + (f", {q}" if q else "") + ")")


def load_twin(path: str | os.PathLike) -> Twin:
    """Read a twin written by :meth:`Twin.save`.

    Raises
    ------
    ReadError
        The file is missing, unreadable or not a twin.
    """
    from .errors import ReadError
    from .model import BodyParams

    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such twin file")
    try:
        tree = xr.open_datatree(p, engine="h5netcdf") if p.suffix == ".nc" else xr.open_datatree(p, engine="zarr")
        tree = tree.load()
    except Exception as err:  # noqa: BLE001
        raise ReadError(p, f"cannot read the twin file ({type(err).__name__}: {err}); it may be "
                        "truncated -- re-save the twin") from None
    if tree.attrs.get("format") != FORMAT:
        raise ReadError(p, f"not a twin file (format {tree.attrs.get('format')!r}, expected {FORMAT!r})")
    ctrl = tree["/controller"].to_dataset()
    from .control.store import in_parameter_order

    try:  # a twin saved before parameters were added to the controller gets their no-effect defaults
        vector = in_parameter_order(ctrl.controller_parameter.values, ctrl.vector.values)
    except ValueError as err:
        raise ReadError(p, f"the twin's controller {err}; re-create the twin") from None
    parts = {}
    for name in ("kinematics", "dynamics", "reference", "baseline"):
        parts[name] = tree[f"/{name}"].to_dataset() if name in tree.children else None
    return Twin(BodyParams.from_dataset(tree["/body"].to_dataset()), vector,
                ctrl.initial.values.copy(), quality=json.loads(tree.attrs.get("quality", "{}")),
                provenance=json.loads(tree.attrs.get("provenance", "{}")),
                rigid_tendon=bool(ctrl.attrs.get("rigid_tendon", 1)),
                gait_state=json.loads(ctrl.attrs["gait_state"]) if ctrl.attrs.get("gait_state") else None, **parts)


# ---------------------------------------------------------------------- helpers
def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _as_dataset(obj: Any, what: str) -> tuple[xr.Dataset, list]:
    """A Dataset from a Dataset, a path or a list of paths; plus the source records."""
    from . import read

    if isinstance(obj, xr.Dataset):
        src = obj.attrs.get("source_file") or obj.attrs.get("source")
        return obj, ([{"path": str(src), "sha256": None}] if src else [])
    paths = [obj] if isinstance(obj, (str, os.PathLike)) else list(obj) if isinstance(obj, (list, tuple)) else None
    if paths is None:
        raise ParameterError(f"{what} must be an xarray Dataset, a file path or a list of paths, "
                             f"not {type(obj).__name__}")
    ds = read(paths[0] if len(paths) == 1 else paths)
    srcs = [{"path": Path(p).name, "sha256": _sha256(Path(p))} for p in paths if Path(p).is_file()]
    return ds, srcs


def _scenario_list(scenarios: Any) -> list:
    if scenarios is None:
        return []
    if isinstance(scenarios, (str,)) or not isinstance(scenarios, (list, tuple)):
        return [scenarios]
    return list(scenarios)


def _label(s: Any) -> str:
    if isinstance(s, str):
        return s
    if isinstance(s, (list, tuple)):
        return " + ".join(_label(x) for x in s)
    return str(getattr(s, "label", s))


def _heel_forward(body: Any, q: np.ndarray, coords: Sequence[str]) -> dict[str, np.ndarray]:
    """Forward distance heel - pelvis per side over time (engine forward kinematics), for Zeni events."""
    import torch

    from .control.sim import walking_params
    from .engine.multibody import kinematics

    params = walking_params(body, batch=1, dtype=torch.float64)
    names = list(params.coordinate_names)
    qq = np.zeros((q.shape[0], len(names)))
    for j, n in enumerate(names):
        if n in coords:
            qq[:, j] = q[:, list(coords).index(n)]
        else:
            qq[:, j] = float(params.q_default[0, j])
    P = params.repeat(q.shape[0]) if q.shape[0] > 1 else params
    qt = torch.as_tensor(qq)
    kin = kinematics(P, qt, torch.zeros_like(qt))
    out = {}
    pel = kin.p[:, params.body_index("pelvis"), 0].numpy()
    for side in ("r", "l"):
        k = params.body_index(f"calcn_{side}")
        out[side] = kin.p[:, k, 0].numpy() - pel
    return out


#: Mean pelvis speed [m/s] above which a recording is overground (the pelvis's travel gives the speed).
_OVERGROUND_MPS = 0.3


def rigid_trunk_kinematics(kin: xr.Dataset) -> xr.Dataset:
    """Joint angles of a model with a lumbar joint, expressed for the twin's rigid pelvis-trunk body.

    The twin's walking body has no lumbar joint: pelvis and trunk are one rigid
    body (HAT). Given angles of a model with ``lumbar_extension`` (e.g.
    OpenSim's Gait10dof18musc IK), the HAT's tilt is taken as the
    mass-weighted mean of the pelvis's and the trunk's orientation
    (``pelvis_tilt + w lumbar_extension``, ``w`` = the trunk's share of the
    pelvis + trunk mass of the generic model, 0.74) and each hip angle is
    changed so that the thigh keeps its orientation in space
    (``hip_flexion - w lumbar_extension``); ``lumbar_extension`` is dropped.
    Without that the person's hip angles are angles from a pelvis the
    twin's body does not have: on subject01 OpenSim's IK (pelvis tilt +7.7
    deg, lumbar extension -20.8 deg on average) reads 20 deg less hip flexion
    than the twin's own marker IK on the rigid-trunk body.

    The same linear map is applied to ``qdot`` and ``qddot`` when present;
    other variables along ``coordinate`` are dropped. Returns ``kin`` itself
    when it has no ``lumbar_extension`` coordinate.

    >>> import numpy as np, xarray as xr
    >>> q = np.radians([[10.0, 20.0, 5.0, -20.0]])
    >>> kin = xr.Dataset({"q": (("time", "coordinate"), q, {"units": "rad"})}, coords={"time": [0.0],
    ...     "coordinate": ["pelvis_tilt", "hip_flexion_r", "hip_flexion_l", "lumbar_extension"]})
    >>> out = rigid_trunk_kinematics(kin)
    >>> # tilt + hip (the thigh's orientation) is kept
    >>> bool(np.allclose(out.q.sel(coordinate="pelvis_tilt") + out.q.sel(coordinate="hip_flexion_r"), np.radians(30)))
    True
    >>> "lumbar_extension" in out.coordinate.values
    False
    """
    from .model import BodyParams

    coords = [str(c) for c in kin.coordinate.values]
    if "lumbar_extension" not in coords or "q" not in kin:
        return kin
    seg = {s.name: float(s.mass) for s in BodyParams.default(lumbar=True, marker_sets=()).segments}
    w = seg["torso"] / (seg["torso"] + seg["pelvis"])

    def merged(x: xr.DataArray) -> xr.DataArray:
        lumbar = x.sel(coordinate="lumbar_extension")
        out = x.drop_sel(coordinate="lumbar_extension").copy()
        for c, sign in (("pelvis_tilt", 1.0), ("hip_flexion_r", -1.0), ("hip_flexion_l", -1.0)):
            if c in coords:
                out.loc[{"coordinate": c}] = x.sel(coordinate=c) + sign * w * lumbar
        return out

    res = kin.drop_sel(coordinate="lumbar_extension")
    for v in [v for v in kin.data_vars if "coordinate" in kin[v].dims]:
        if v in ("q", "qdot", "qddot"):
            res[v] = merged(kin[v])
        else:
            res = res.drop_vars(v)
    res.attrs = dict(kin.attrs, lumbar_merged=f"pelvis_tilt + {w:.3f} lumbar_extension; hip_flexion - "
                     f"{w:.3f} lumbar_extension (rigid pelvis-trunk body)")
    return res


def reference_cycle(kin: xr.Dataset, *, body: Any = None, n: int = 101) -> xr.Dataset:
    """The person's mean right stride and speed from a kinematics Dataset ``q(time, coordinate)``.

    ``angle`` holds hip flexion, knee and ankle angles over the right stride
    (from right foot strike): the right leg's, and the left leg's when the
    kinematics have them (so the left leg's timing within the right stride
    is part of it). Right foot strikes are the maxima of the heel's forward
    distance from the pelvis (Zeni et al. 2008), the heel placed by the engine's forward
    kinematics of ``body`` (default body if None). The speed is the pelvis's
    mean forward speed from the first to the last strike when it travels
    (overground, at least 0.3 m/s); else (a treadmill) how fast the stance
    heel moves back relative to the pelvis in 5-25 % of the stride.
    ``attrs["speed_method"]`` says which (``pelvis`` / ``stance heel``).

    Raises
    ------
    DataError
        No ``q`` variable, no hip/knee/ankle angles, or fewer than one full
        stride.
    """
    from .model import BodyParams

    if not isinstance(kin, xr.Dataset) or "q" not in kin:
        raise DataError("the kinematics have no variable 'q(time, coordinate)'; run twin.fit.inverse_kinematics "
                        "or read an IK .mot")
    coords = [str(c) for c in kin.coordinate.values]
    missing = [c for c in _JOINTS if c not in coords]
    if missing:
        raise DataError(f"the kinematics lack {', '.join(missing)}; the twin needs hip, knee and ankle angles")
    t = np.asarray(kin.time.values, dtype=float)
    q = np.asarray(kin.q.transpose("time", "coordinate").values, dtype=float)
    units = kin.q.attrs.get("units", "rad")
    rot = np.array([not c.startswith("pelvis_t") for c in coords])
    if "deg" in str(units):
        q = np.where(rot, np.radians(q), q)
    body = body or BodyParams.default(lumbar=False, marker_sets=())
    heel = _heel_forward(body, q, coords)["r"]
    from scipy.signal import find_peaks

    rate = 1.0 / np.median(np.diff(t)) if len(t) > 1 else 0.0
    peaks, _ = find_peaks(heel, distance=max(1, int(0.6 * rate)), prominence=0.05)
    if len(peaks) < 2:
        raise DataError(f"the recording ({t[-1] - t[0]:.2f} s) holds {len(peaks)} right foot strike(s); the twin "
                        "needs at least one full stride (two strikes) -- pass a longer walking trial")
    joints = _JOINTS + (_LEFT if all(c in coords for c in _LEFT) else ())
    cyc = []
    for a, b in zip(peaks[:-1], peaks[1:]):
        x = np.linspace(t[a], t[b], n)
        cyc.append(np.stack([np.interp(x, t[a:b + 1], q[a:b + 1, coords.index(c)]) for c in joints], 1))
    angle = np.mean(cyc, axis=0)
    # speed from the stance foot: in loading response to mid stance (5-25 % of the stride) the heel is at rest
    # on the ground (overground) or on the belt (treadmill), so it moves backwards relative to the
    # pelvis at the walking speed -- one estimate for both
    vel = -np.gradient(heel, t)
    per = [np.median(vel[a + int(0.05 * (b - a)):a + int(0.25 * (b - a)) + 1]) for a, b in zip(peaks[:-1], peaks[1:])]
    v, method = float(np.median(per)), "stance heel"
    # overground the pelvis itself travels: its mean speed over the whole strides is the walking speed (the
    # stance heel's in 5-25 % of the stride read 8 % low on BMClab walk1: the heel rolls and the body slows
    # in loading response); on a treadmill (pelvis nearly still) only the stance heel tells the speed
    if "pelvis_tx" in coords:
        px = q[:, coords.index("pelvis_tx")]
        v_pel = abs(px[peaks[-1]] - px[peaks[0]]) / (t[peaks[-1]] - t[peaks[0]])
        if np.isfinite(v_pel) and v_pel >= _OVERGROUND_MPS:
            v, method = float(v_pel), "pelvis"
    if not np.isfinite(v) or v < 0.1:
        raise DataError(f"the walking speed from the stance foot is {v:.2f} m/s; the trial does not look like "
                        "walking (check the coordinate signs and units)")
    return xr.Dataset({"angle": (("cycle_pct", "coordinate"), angle, {"units": "rad"})},
                      coords={"cycle_pct": np.linspace(0, 100, n), "coordinate": list(joints)},
                      attrs={"speed_mps": v, "speed_method": method, "n_strides": len(cyc),
                             "stride_s": float(np.mean(np.diff(t[peaks])))})


def fit_quality(sim: xr.Dataset, ref: xr.Dataset | None) -> dict:
    """RMS [deg] per joint between the simulated mean right stride and ``ref``, the speed error [m/s]
    and the stride-time error [s].

    ``rms_deg_hip`` / ``_knee`` / ``_ankle`` are the right leg's;
    ``rms_deg_hip_l`` / ``_knee_l`` / ``_ankle_l`` the left leg's over the
    same right stride, when ``ref`` has the left leg (:func:`reference_cycle`).

    ``stride_s`` is the simulation's mean right stride duration, ``stride_err_s``
    its difference from the person's (``ref.attrs["stride_s"]``; NaN when
    ``ref`` has none). NaN where the simulation has no complete stride after
    its start transient (2 s, or a quarter of a shorter simulation): it fell
    or shuffled.
    """
    from .control.analysis import cycles, mean_of

    out: dict = {}
    member = 0
    rec = {"time": sim.time.values, "q": sim.q.values, "grf": sim.grf.values,
           "coordinate": [str(c) for c in sim.coordinate.values], "walked_s": sim.walked_s.values}
    duration = float(sim.time.values[-1]) if sim.sizes.get("time", 0) else 0.0
    strides = cycles(rec, member, skip_s=min(2.0, 0.25 * duration))
    cyc = None if strides is None else mean_of(strides)
    left = ref is not None and all(c in ref.coordinate.values for c in _LEFT)
    for j in _JOINTS + (_LEFT if left else ()):
        key = "rms_deg_" + j.split("_")[0] + ("_l" if j.endswith("_l") else "")
        if cyc is None or ref is None or j not in cyc:
            out[key] = float("nan")
            continue
        out[key] = float(np.degrees(np.sqrt(np.mean((cyc[j] - ref.angle.sel(coordinate=j).values) ** 2))))
    v = float(sim.speed.values[member])
    out["speed_mps"] = v
    out["speed_err_mps"] = abs(v - float(ref.attrs["speed_mps"])) if ref is not None and np.isfinite(v) else float("nan")
    out["stride_s"] = float(np.mean(strides["duration"])) if strides is not None else float("nan")
    ref_stride = float(ref.attrs.get("stride_s", np.nan)) if ref is not None else float("nan")
    out["stride_err_s"] = out["stride_s"] - ref_stride  # NaN when either is unknown
    out["fell"] = bool(sim.fell.values[member])
    return out

