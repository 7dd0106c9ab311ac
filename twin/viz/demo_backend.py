"""The default what-if backend: the physics engine on the default walking body, shipped controller.

:func:`default_simulate` is the ``simulate`` callable that
:class:`twin.viz.panels.WhatIfExplorer` uses when no fitted twin is given:
it builds the default walking body, changes it for each scenario
(:class:`WhatIf`, the explorer's controls), and runs it closed-loop with
the shipped reflex controller (``data/controllers/walk_default.json``) in
one batch, baseline first. The result is a simulation Dataset with a
leading ``scenario`` dim.

The changes are made by :mod:`twin.scenarios` (:func:`scenario_objects`
turns a WhatIf into its objects; :func:`twin.scenarios.engine_inputs`
builds the batch and the controller's per-muscle excitation scale and
stretch gain):

================  ===========================================================
WhatIf field      twin.scenarios object (both sides)
================  ===========================================================
strength          ``MuscleWeakness(muscles of the group, factor)``, groups as
                  :data:`MUSCLE_GROUPS` (they do not overlap)
contracture       ``Contracture(muscles, shortening)``
spasticity        ``Spasticity(plantarflexors + hamstrings, gain)``
knee_replacement  ``JointReplacement("knee", side="both")`` (0-110 deg)
afo_stiffness     ``AnkleFootOrthosis(stiffness, side="both")``
extra_mass        ``MassChange("backpack", kg)`` when added (on the trunk),
                  ``MassChange("body", kg)`` when removed (weight loss)
================  ===========================================================

Without :mod:`twin.scenarios` (an older installation) a built-in mapping
(:func:`apply_whatif`) changes the engine parameters directly and the knee
replacement is not available (:data:`UNSUPPORTED`).

By default the controller is **not** re-tuned to the changed body (today's
nervous system); a large change can make the body fall, and the result
shows the fall as the physics gives it. Every member starts on the
controller's gait cycle. ``adapt=True`` (the explorer's *adapt controller*
box) first re-tunes the controller to each changed body with a short
warm-started CMA-ES (tens of seconds per scenario, with progress and
Cancel).

Engine mode: the eager engine answers at once (about 3 s per simulated
second for baseline + one scenario on one core); the compiled engine about
1 s for 4 s, once it is compiled for the batch size in the process
(:func:`warm_up`, which the explorer starts in the background; about 3 min
the first time on a machine, about 10 s later). ``TWIN_COMPILE`` chooses
(:func:`compile_setting`). ``TWIN_FAST=1`` in the environment shortens the default
duration to :data:`FAST_DURATION` s (tests, Binder previews).

Examples
--------
>>> w = WhatIf("weak calves", strength={"plantarflexors": 0.5})
>>> w.describe()
'plantarflexors 50 % strength'
>>> [s.label for s in scenario_objects(w)]
['soleus+gastroc strength 50%']
>>> try:
...     WhatIf(strength={"plantarflexors": 0.0}).check()
... except ParameterError as err:
...     print(err)
strength of plantarflexors is 0: a muscle group needs a strength factor between 0.05 and 1.5 (1 = normal)
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError

log = logging.getLogger(__name__)

__all__ = ["WhatIf", "default_simulate", "scenario_objects", "apply_whatif", "fast_mode", "default_duration",
           "Cancelled", "warm_up", "compiled_ready", "compile_setting", "MUSCLE_GROUPS", "CONTRACTURE_GROUPS",
           "SPASTIC_GROUPS", "UNSUPPORTED", "DEFAULT_DURATION",
           "FAST_DURATION"]

#: Strength groups -> muscles of the default body (without side suffix); the groups do not overlap.
MUSCLE_GROUPS: dict[str, tuple[str, ...]] = {
    "plantarflexors": ("soleus", "gastroc"),
    "dorsiflexors": ("tib_ant",),
    "quadriceps": ("vasti", "rect_fem"),
    "hamstrings": ("hamstrings", "bifemsh"),
    "hip_flexors": ("iliopsoas",),
    "hip_extensors": ("glut_max",),
}
#: Groups a contracture can shorten.
CONTRACTURE_GROUPS = ("hamstrings", "plantarflexors")
#: Muscles that get the spastic stretch reflex.
SPASTIC_GROUPS = ("plantarflexors", "hamstrings")


def _have_scenarios() -> bool:
    try:
        from .. import scenarios  # noqa: F401
    except ImportError:
        return False
    return True


_BUILTIN_UNSUPPORTED = ("knee_replacement",)
#: WhatIf fields this backend cannot model (the panel disables their widgets): none with
#: twin.scenarios, the knee replacement without it.
UNSUPPORTED: tuple[str, ...] = () if _have_scenarios() else _BUILTIN_UNSUPPORTED
#: Simulated seconds by default, and with ``TWIN_FAST=1``.
DEFAULT_DURATION = 4.0
FAST_DURATION = 1.5


def fast_mode() -> bool:
    """True when the environment variable ``TWIN_FAST`` is set to something other than ``""``/``0``/``false``.

    Examples
    --------
    >>> import os
    >>> before = os.environ.get("TWIN_FAST")
    >>> os.environ["TWIN_FAST"] = "1"; fast_mode()
    True
    >>> os.environ["TWIN_FAST"] = "0"; fast_mode()
    False
    >>> _ = os.environ.pop("TWIN_FAST") if before is None else os.environ.update(TWIN_FAST=before)
    """
    return os.environ.get("TWIN_FAST", "").strip().lower() not in ("", "0", "false", "no", "off")


def default_duration() -> float:
    """:data:`FAST_DURATION` in fast mode, else :data:`DEFAULT_DURATION` [s]."""
    return FAST_DURATION if fast_mode() else DEFAULT_DURATION


@dataclass
class WhatIf:
    """One what-if scenario as the explorer's controls describe it.

    Parameters
    ----------
    label : str
        Its name in figures and tables.
    strength : mapping group -> factor
        Strength of each group of :data:`MUSCLE_GROUPS` (1 = normal), 0.05-1.5.
    contracture : mapping group -> fraction
        Shortening (0-0.5) of a group of :data:`CONTRACTURE_GROUPS`.
    spasticity : float
        Gain of the spastic stretch reflex (0 = none, at most 10).
    knee_replacement : bool
        Total knee replacement (both knees).
    afo_stiffness : float
        Ankle-foot orthosis stiffness [N m/rad] (0 = none, at most 1000).
    extra_mass : float
        Mass added (negative: removed) [kg], between -30 and 60.
    """

    label: str = "scenario"
    strength: Mapping[str, float] = field(default_factory=dict)
    contracture: Mapping[str, float] = field(default_factory=dict)
    spasticity: float = 0.0
    knee_replacement: bool = False
    afo_stiffness: float = 0.0
    extra_mass: float = 0.0

    def check(self) -> WhatIf:
        """Raise :class:`ParameterError` with a readable message for values no body can have; return self."""
        if not isinstance(self.label, str) or not self.label.strip():
            raise ParameterError("a scenario needs a non-empty label (its name in figures and tables)")
        for name, groups in (("strength", MUSCLE_GROUPS), ("contracture", CONTRACTURE_GROUPS)):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise ParameterError(f"{name} must be a mapping group -> number, not {type(value).__name__}")
            for g in value:
                if g not in groups:
                    raise ParameterError(f"{name}: unknown muscle group {g!r}; choose from {', '.join(groups)}")
        for g, f in self.strength.items():
            f = _number(f"strength of {g}", f)
            if f <= 0:
                raise ParameterError(f"strength of {g} is {f:g}: a muscle group needs a strength factor between "
                                     "0.05 and 1.5 (1 = normal)")
            if not 0.05 <= f <= 1.5:
                raise ParameterError(f"strength of {g} is {f:g}; choose a factor between 0.05 and 1.5 (1 = normal)")
        for g, f in self.contracture.items():
            f = _number(f"contracture of {g}", f)
            if not 0.0 <= f <= 0.5:
                raise ParameterError(f"contracture of {g} is {f:g}; give the shortening as a fraction between 0 and "
                                     "0.5 (0.1 = 10 % shorter)")
        if not 0.0 <= _number("spasticity", self.spasticity) <= 10.0:
            raise ParameterError(f"spasticity gain {self.spasticity:g} must be between 0 (none) and 10")
        if not 0.0 <= _number("afo_stiffness", self.afo_stiffness) <= 1000.0:
            raise ParameterError(f"AFO stiffness {self.afo_stiffness:g} N m/rad must be between 0 (no orthosis) and "
                                 "1000")
        if not -30.0 <= _number("extra_mass", self.extra_mass) <= 60.0:
            raise ParameterError(f"extra mass {self.extra_mass:g} kg must be between -30 and 60 kg")
        if not isinstance(self.knee_replacement, (bool, np.bool_)):
            raise ParameterError(f"knee_replacement must be True or False, not {self.knee_replacement!r}")
        return self

    def is_baseline(self) -> bool:
        """True when nothing is changed."""
        return (all(float(v) == 1.0 for v in self.strength.values())
                and all(float(v) == 0.0 for v in self.contracture.values())
                and float(self.spasticity) == 0.0 and not self.knee_replacement
                and float(self.afo_stiffness) == 0.0 and float(self.extra_mass) == 0.0)

    def describe(self) -> str:
        """The changes in words (``"no change"`` for the baseline)."""
        parts = [f"{g.replace('_', ' ')} {round(float(f) * 100):d} % strength"
                 for g, f in self.strength.items() if float(f) != 1.0]
        parts += [f"{g.replace('_', ' ')} {round(float(f) * 100):d} % shorter"
                  for g, f in self.contracture.items() if float(f) != 0.0]
        if float(self.spasticity):
            parts.append(f"spasticity gain {float(self.spasticity):g}")
        if self.knee_replacement:
            parts.append("knee replacement")
        if float(self.afo_stiffness):
            parts.append(f"AFO {float(self.afo_stiffness):g} N m/rad")
        if float(self.extra_mass):
            parts.append(f"{float(self.extra_mass):+g} kg" + (" backpack" if float(self.extra_mass) > 0 else ""))
        return ", ".join(parts) or "no change"

    def as_dict(self) -> dict:
        """Plain dict (for provenance)."""
        return asdict(self)


def _number(name: str, value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be a number") from None
    if not np.isfinite(f):
        raise ParameterError(f"{name}={value!r} must be a finite number")
    return f


def _as_whatif(s: Any) -> WhatIf:
    if isinstance(s, WhatIf):
        return s
    if isinstance(s, Mapping):
        try:
            return WhatIf(**s)
        except TypeError as err:
            raise ParameterError(f"cannot read scenario {dict(s)!r}: {err}") from None
    raise ParameterError(f"the demo backend takes twin.viz.demo_backend.WhatIf scenarios (or dicts of their fields), "
                         f"not {type(s).__name__}")


def scenario_objects(whatif: WhatIf) -> list:
    """The :mod:`twin.scenarios` objects of a WhatIf, applied in this order (empty for the baseline).

    For a twin (``Twin.simulate`` takes one list per scenario) use
    ``WhatIfExplorer(..., scenario_factory=lambda w: [scenario_objects(w)])``.

    Raises
    ------
    ParameterError
        Invalid values (from :meth:`WhatIf.check` or the scenario classes).
    TwinError
        :mod:`twin.scenarios` is not installed.
    """
    try:
        from .. import scenarios as sc
    except ImportError as err:
        raise TwinError(f"twin.scenarios is not available ({err}); use apply_whatif instead") from None
    w = _as_whatif(whatif).check()
    out: list = []
    for g, f in w.strength.items():
        if float(f) != 1.0:
            out.append(sc.MuscleWeakness(MUSCLE_GROUPS[g], float(f)))
    for g, f in w.contracture.items():
        if float(f) != 0.0:
            out.append(sc.Contracture(MUSCLE_GROUPS[g], float(f)))
    if float(w.spasticity):
        out.append(sc.Spasticity(tuple(m for g in SPASTIC_GROUPS for m in MUSCLE_GROUPS[g]), float(w.spasticity)))
    if w.knee_replacement:
        out.append(sc.JointReplacement("knee", side="both"))
    if float(w.afo_stiffness):
        out.append(sc.AnkleFootOrthosis(float(w.afo_stiffness), side="both"))
    if float(w.extra_mass):
        kg = float(w.extra_mass)
        out.append(sc.MassChange("backpack" if kg > 0 else "body", kg))
    return out


def _muscle_mask(params, groups: Sequence[str]) -> np.ndarray:
    names = [str(m) for m in params.muscle_names]
    wanted = {m for g in groups for m in MUSCLE_GROUPS[g]}
    return np.array([n.rsplit("_", 1)[0] in wanted for n in names])


def apply_whatif(params, scenarios: Sequence[WhatIf]):
    """The built-in mapping (without :mod:`twin.scenarios`): member ``i`` changed by ``scenarios[i]``.

    Strength scales ``fmax``; contracture shortens the optimal fibre length
    (and max shortening velocity and pennation width); the AFO is a linear
    ankle spring; extra mass goes to the pelvis (trunk); spasticity becomes
    the controller's stretch gain; a knee replacement is refused.

    Parameters
    ----------
    params : twin.engine.build.EngineParams
        ``len(scenarios)`` members.
    scenarios : sequence of WhatIf

    Returns
    -------
    (EngineParams, numpy.ndarray)
        The changed parameters and the stretch-reflex gain per member and
        muscle ``[B, M]`` (for the controller's ``stretch_gain``).

    Raises
    ------
    ParameterError
        Invalid scenario values, or a change this backend cannot model.
    """
    import torch

    if len(scenarios) != params.batch_size:
        raise ParameterError(f"{len(scenarios)} scenarios for {params.batch_size} batch members")
    fmax = params.fmax.detach().cpu().numpy().astype(float).copy()
    lopt = params.lopt.detach().cpu().numpy().astype(float).copy()
    vmax = params.vmax.detach().cpu().numpy().astype(float).copy()
    width = params.width.detach().cpu().numpy().astype(float).copy()
    spring_k = params.spring_k.detach().cpu().numpy().astype(float).copy()
    spring_rest = params.spring_rest.detach().cpu().numpy().astype(float).copy()
    mass = params.mass.detach().cpu().numpy().astype(float).copy()
    total = params.total_mass.detach().cpu().numpy().astype(float).copy()
    spastic = np.zeros_like(fmax)
    coords = [str(c) for c in params.coordinate_names]
    ankles = [coords.index(c) for c in ("ankle_angle_r", "ankle_angle_l") if c in coords]
    pelvis = params.body_index("pelvis")
    for i, s in enumerate(scenarios):
        s = _as_whatif(s).check()
        for field_name in _BUILTIN_UNSUPPORTED:
            if getattr(s, field_name):
                raise ParameterError(f"{s.label!r}: {field_name.replace('_', ' ')} is not modelled by the demo "
                                     "physics backend (it needs a twin with twin.scenarios); untick it")
        for g, f in s.strength.items():
            fmax[i, _muscle_mask(params, [g])] *= float(f)
        for g, f in s.contracture.items():
            m = _muscle_mask(params, [g])
            lopt[i, m] *= 1.0 - float(f)
            vmax[i, m] *= 1.0 - float(f)
            width[i, m] *= 1.0 - float(f)
        if float(s.spasticity):
            spastic[i, _muscle_mask(params, SPASTIC_GROUPS)] = float(s.spasticity)
        if float(s.afo_stiffness):
            if not ankles:
                raise ParameterError("an ankle-foot orthosis needs ankle_angle coordinates; the body has none")
            spring_k[i, ankles] += float(s.afo_stiffness)
            spring_rest[i, ankles] = 0.0
        if float(s.extra_mass):
            if mass[i, pelvis] + float(s.extra_mass) <= 5.0:
                raise ParameterError(f"{s.label!r}: removing {-float(s.extra_mass):g} kg leaves the trunk with "
                                     f"{mass[i, pelvis] + float(s.extra_mass):.1f} kg; remove less")
            mass[i, pelvis] += float(s.extra_mass)
            total[i] += float(s.extra_mass)
    new = params.replace(fmax=fmax, lopt=lopt, vmax=vmax, width=width, spring_k=spring_k, spring_rest=spring_rest,
                         mass=mass, total_mass=total)
    return new, spastic.astype(np.float64)


class Cancelled(TwinError):
    """The run was cancelled (raised by a ``progress`` callback)."""


#: Batch sizes whose compiled engine loop is ready in this process ((batch, controller path) keys).
_COMPILED: set = set()
#: Warm-ups started in this process (same keys) -> their thread.
_WARMING: dict = {}
#: One compiled rollout at a time (dynamo's guard stance is process-wide).
_COMPILED_LOCK = threading.Lock()


def compile_setting() -> str:
    """The engine mode :func:`default_simulate` uses by default: ``TWIN_COMPILE`` in the environment.

    ``"auto"`` (unset): the compiled engine once :func:`warm_up` made it ready
    for the batch size in this process, eager until then; ``"1"``: always
    compiled (the first run of a batch size waits for the compilation);
    ``"0"``: always eager.
    """
    v = os.environ.get("TWIN_COMPILE", "auto").strip().lower()
    if v in ("", "auto"):
        return "auto"
    return "0" if v in ("0", "false", "no", "off") else "1"


def compiled_ready(n_scenarios: int = 1, *, controller: str | os.PathLike | None = None) -> bool:
    """True when the compiled engine loop for baseline + ``n_scenarios`` is ready in this process."""
    return (int(n_scenarios) + 1, str(_controller_path(controller))) in _COMPILED


def warm_up(n_scenarios: int = 1, *, controller: str | os.PathLike | None = None,
            background: bool = True) -> threading.Thread | None:
    """Prepare the compiled engine for baseline + ``n_scenarios`` so later answers take about 1 s.

    Compiles (``torch.compile``) the closed loop for this batch size with a
    short run. On this 2-core machine that takes about 3 min the first time
    on a machine and about 10 s in a later process (inductor's disk cache);
    meanwhile :func:`default_simulate` (``compile="auto"``) answers with the
    eager engine (about 3 s per simulated second for baseline + one scenario).

    Parameters
    ----------
    n_scenarios : int
        Scenarios besides the baseline (the explorer runs one).
    controller : path, optional, keyword-only
        As :func:`default_simulate`.
    background : bool, keyword-only
        Compile in a daemon thread and return it (default); else block.

    Returns
    -------
    threading.Thread or None
        The warm-up thread (an earlier one if already started), or None
        when it ran in the foreground or was already done.
    """
    key = (int(n_scenarios) + 1, str(_controller_path(controller)))
    if key in _COMPILED:
        return None
    if key in _WARMING:
        return _WARMING[key]

    def work():
        try:
            default_simulate([WhatIf("warm-up")] * int(n_scenarios), duration=0.05, controller=controller,
                             compile=True, baseline_label="warm-up baseline")
        except Exception as err:  # the eager engine keeps answering
            log.warning("warming up the compiled engine failed (%s: %s); answers stay eager",
                        type(err).__name__, err)

    if not background:
        work()
        return None
    th = threading.Thread(target=work, daemon=True, name="twin-warm-up")
    _WARMING[key] = th
    th.start()
    return th


def _controller_path(controller) -> Path:
    from ..control.store import DEFAULT_CONTROLLER

    if controller is not None:
        return Path(controller)
    return Path(__file__).resolve().parents[2] / "data" / DEFAULT_CONTROLLER


def _labels(scenarios: Sequence[WhatIf], baseline_label: str) -> list[str]:
    out = [baseline_label]
    for s in scenarios:
        lab = s.label.strip()
        k = 2
        base = lab
        while lab in out:
            lab = f"{base} ({k})"
            k += 1
        out.append(lab)
    return out


def default_simulate(scenarios: Sequence[WhatIf], *, duration: float | None = None,
                     progress: Callable[[float, str], Any] | None = None, controller: str | os.PathLike | None = None,
                     record_every: int = 10, num_threads: int | None = 1,
                     baseline_label: str = "baseline", compile: bool | str | None = None, adapt: bool = False,
                     adapt_generations: int = 3, adapt_popsize: int = 8) -> xr.Dataset:
    """Simulate the baseline and each scenario on the default body with the shipped controller.

    Every member starts on the controller's own gait cycle (its stored
    ``initial_state``, a right foot strike, placed for each changed body), so
    the whole run is walking, not a start from standing.

    Parameters
    ----------
    scenarios : sequence of WhatIf (or dicts of its fields)
        The scenarios, without the baseline (it is always simulated first).
    duration : float, optional
        Simulated time [s]; default :func:`default_duration` (1.5 s with
        ``TWIN_FAST=1``, else 4 s).
    progress : callable, optional
        ``progress(fraction, message)``, called about every 0.1 simulated s;
        it may raise (e.g. :class:`Cancelled`) to stop the run.
    controller : path, optional
        Controller JSON (default ``data/controllers/walk_default.json``).
    record_every : int, keyword-only
        Record every this many 1-ms steps.
    num_threads : int or None, keyword-only
        torch threads during the run (restored after; None: unchanged).
    baseline_label : str, keyword-only
    compile : bool or "auto", keyword-only
        True: the compiled engine (``torch.compile``; the first run of a
        batch size in a process compiles, see :func:`warm_up`); False:
        eager; ``"auto"``: compiled when :func:`compiled_ready`, else eager.
        Default (None): :func:`compile_setting` (``TWIN_COMPILE``, ``auto``).
    adapt : bool, keyword-only
        Re-tune the controller to each changed body first (the person
        re-learns): warm-started CMA-ES from the shipped controller,
        ``adapt_generations`` x ``adapt_popsize`` rollouts of up to 10 s
        per scenario (eager; about 10-20 s per generation on one core), the
        target speed the controller's own. Adapted members start from the
        standing pose they were optimised from. ``progress`` is called each
        generation and may cancel.
    adapt_generations, adapt_popsize : int, keyword-only

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] = "simulation"`` with dims ``scenario`` (baseline
        first; coord ``description``), ``time``, ``coordinate``, ``muscle``,
        ``side``, ``axis``: ``q``, ``qdot``, ``grf``, ``excitation``,
        ``metabolic_power``, ``body_mass``, ``fell``, ``fell_time``;
        ``attrs["backend"] = "physics engine"``, ``attrs["engine_mode"]``
        ``"compiled"`` or ``"eager"``, ``attrs["wall_time"]`` [s].

    Raises
    ------
    ParameterError
        Invalid or unsupported scenario values (before anything runs).
    ReadError
        The controller file is missing.
    """
    import torch

    from ..control.reflex import ReflexController
    from ..control.sim import DT, body_start_state, initial_walking_state, rollout
    from ..control.store import load_controller
    from ..errors import check_param

    t0 = time.perf_counter()
    if isinstance(scenarios, (WhatIf, Mapping)):
        scenarios = [scenarios]
    scenarios = [_as_whatif(s).check() for s in scenarios]
    duration = default_duration() if duration is None else duration
    check_param("duration", duration, minimum=0.01, maximum=600.0, types=(int, float))
    check_param("record_every", record_every, minimum=1, types=int)
    check_param("adapt_generations", adapt_generations, minimum=1, maximum=200, types=int)
    check_param("adapt_popsize", adapt_popsize, minimum=2, maximum=64, types=int)
    mode = compile_setting() if compile is None else compile
    if mode not in (True, False, "auto", "0", "1"):
        raise ParameterError(f"compile={compile!r}: use True, False or 'auto'")
    labels = _labels(scenarios, baseline_label)
    members = [WhatIf(baseline_label), *scenarios]
    path = _controller_path(controller)
    doc = load_controller(path)
    n = len(members)
    key = (n, str(path))
    compiled = mode in (True, "1") or (mode == "auto" and key in _COMPILED)
    if progress is not None:
        progress(0.0, "building the bodies")

    adapting = bool(adapt) and n > 1
    sim0 = 0.5 if adapting else 0.05  # the progress bar's share of the adaptation

    def report(i, total):
        if progress is not None:
            progress(sim0 + (0.95 - sim0) * i / max(total, 1), f"simulating {i * DT:.1f} of {total * DT:.1f} s")

    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    lock = _COMPILED_LOCK if compiled else contextlib.nullcontext()
    try:
        params, ctrl_kw, mapping = _bodies(members, rigid_tendon=doc["rigid_tendon"])
        ctrl = ReflexController(params, dt=DT, **ctrl_kw)
        vectors = np.repeat(np.asarray(doc["vector"], float)[None], n, 0)
        initials = np.repeat(np.asarray(doc["initial"], float)[None], n, 0)
        gait = [doc.get("initial_state") or None] * n
        if adapting:
            vectors, initials, gait = _adapt(params, ctrl_kw, doc, members, vectors, initials, gait,
                                             duration=float(duration), generations=adapt_generations,
                                             popsize=adapt_popsize, progress=progress)
        cs = ctrl.init(n, vectors)
        state = initial_walking_state(params, initials)
        if any(g is not None for g in gait):
            state = body_start_state(params, gait, fallback=state)
        if progress is not None:
            progress(sim0, f"simulating {duration:g} s" + ("" if compiled or mode != "auto" else
                                                          " (eager engine; the compiled one is not ready)"))
        with lock, torch.no_grad():
            r = rollout(params, ctrl, cs, state, float(duration), record_every=record_every, compile=compiled,
                        callback=report if progress is not None else None)
        if compiled:
            _COMPILED.add(key)
    finally:
        torch.set_num_threads(old_threads)
    if progress is not None:
        progress(0.97, "collecting the results")
    ds = _dataset(params, r, labels, members, path, duration, time.perf_counter() - t0)
    ds.attrs["scenario_mapping"] = mapping
    ds.attrs["engine_mode"] = "compiled" if compiled else "eager"
    ds.attrs["start"] = "gait state" if doc.get("initial_state") else "standing"
    ds.attrs["adapt"] = int(adapting)
    if adapting:
        ds.attrs["start"] += " (baseline); standing (adapted scenarios)"
    if progress is not None:
        progress(1.0, "done")
    return ds


def _adapt(params, ctrl_kw, doc, members, vectors, initials, gait, *, duration, generations, popsize, progress):
    """Warm-started CMA-ES per scenario member (see :func:`default_simulate`'s ``adapt``), progress each
    generation (the progress callback may raise to cancel)."""
    from ..control.optimize import adapt_members
    from ..twin import controller_speed

    n = len(members)

    def on_generation(i, gen):
        if progress is not None:
            k = (i - 1) * generations + gen
            progress(0.05 + 0.45 * k / ((n - 1) * generations),
                     f"adapting the controller to {members[i].label!r}: generation {gen} of {generations}")

    vectors, initials = adapt_members(params, vectors, initials, target_speed=controller_speed(doc),
                                      duration=duration, generations=generations, popsize=popsize, seed=1,
                                      rigid_tendon=bool(doc["rigid_tendon"]), controller_options=ctrl_kw,
                                      on_generation=on_generation)
    return vectors, initials, [gait[0]] + [None] * (n - 1)  # adapted members: optimised from standing


default_simulate.warm_up = warm_up
default_simulate.compiled_ready = compiled_ready


#: What callers may ask of this backend (the explorer disables the others' widgets).
default_simulate.unsupported = UNSUPPORTED


def _bodies(members: list[WhatIf], *, rigid_tendon: bool = True):
    """``(EngineParams, controller keyword arguments, how the scenarios were applied)`` of the batch."""
    import torch

    from ..control.sim import walking_params

    if _have_scenarios():
        from ..model import BodyParams
        from ..scenarios import Subject, apply_scenarios, engine_inputs

        body = BodyParams.default(lumbar=False, marker_sets=())
        subjects = [apply_scenarios(Subject(body), scenario_objects(m)) for m in members]
        params, scale, gain = engine_inputs(subjects, dtype=torch.float32, rigid_tendon=rigid_tendon)
        return params, {"excitation_scale": scale, "stretch_gain": gain}, "twin.scenarios"
    params, gain = apply_whatif(walking_params(batch=len(members), rigid_tendon=rigid_tendon), members)
    kw = {"stretch_gain": torch.as_tensor(gain, dtype=params.dtype)} if gain.any() else {}
    return params, kw, "built-in (twin.viz.demo_backend.apply_whatif)"


def _dataset(params, r, labels, members, path, duration, seconds) -> xr.Dataset:
    rec = r.record
    if rec is None:
        raise TwinError("internal: the rollout recorded nothing")
    time_ = np.asarray(rec["time"], dtype=float)
    grf = np.zeros(rec["grf"].shape[:-1] + (3,))
    grf[..., :2] = rec["grf"]
    fell = np.asarray(r.fell, dtype=bool)
    fell_time = np.where(fell, np.asarray(r.walked_s, dtype=float), np.nan)
    coord_type = ["rotational" if x else "translational" for x in params.rotational]
    f = lambda a: np.asarray(a, dtype=float)  # noqa: E731
    data = {
        "q": (("scenario", "time", "coordinate"), f(rec["q"]),
              {"units": "rad or m (see coordinate_type)", "long_name": "generalized coordinate"}),
        "qdot": (("scenario", "time", "coordinate"), f(rec["qdot"]),
                 {"units": "rad/s or m/s (see coordinate_type)", "long_name": "generalized speed"}),
        "grf": (("scenario", "time", "side", "axis"), grf,
                {"units": "N", "long_name": "ground reaction force (sum of the contact spheres of each side)"}),
        "excitation": (("scenario", "time", "muscle"), f(rec["excitation"]),
                       {"units": "1", "long_name": "muscle excitation"}),
        **({"activation": (("scenario", "time", "muscle"), f(rec["activation"]),
                           {"units": "1", "long_name": "muscle activation"})} if "activation" in rec else {}),
        "metabolic_power": (("scenario", "time"), f(rec["metabolic_power"]),
                            {"units": "W", "long_name": "whole-body metabolic power (muscles + basal 1.2 W/kg)"}),
        "body_mass": (("scenario",), f(r.mass), {"units": "kg", "long_name": "body mass"}),
        "fell": (("scenario",), fell, {"units": "1", "long_name": "fell (pelvis below the fall height) or failed"}),
        "fell_time": (("scenario",), fell_time, {"units": "s", "long_name": "time the fall was detected (NaN: never)"}),
    }
    coords = {
        "scenario": labels,
        "description": ("scenario", [m.describe() for m in members]),
        "time": ("time", time_, {"units": "s", "long_name": "time"}),
        "coordinate": [str(c) for c in params.coordinate_names],
        "coordinate_type": ("coordinate", coord_type),
        "muscle": [str(m) for m in params.muscle_names],
        "side": [str(s) for s in params.contact_group_names],
        "axis": ["x", "y", "z"],
    }
    attrs = {
        "kind": "simulation",
        "source": "twin.viz.demo_backend.default_simulate",
        "backend": "physics engine",
        "body": "default walking body (Gait10dof18musc, lumbar welded, rigid tendons)",
        "controller": str(path),
        "duration": float(duration),
        "wall_time": float(seconds),
        "fast_mode": int(fast_mode()),
        "history": "scenarios: " + "; ".join(f"{lab} = {m.describe()}" for lab, m in zip(labels, members)),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
