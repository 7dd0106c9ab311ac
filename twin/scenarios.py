"""Intervention scenarios: "what if" changes to a person's body and control.

A :class:`Subject` is what a scenario changes: the body (``twin.model.BodyParams``)
plus the things the engine and the reflex controller take on top of it
(:class:`JointMod` per coordinate: range of motion, springs, damping; a
per-muscle factor on the neural excitation; a per-muscle extra velocity
stretch-reflex gain) and a note of what was applied. Scenarios are frozen
dataclasses that check their arguments when made and whose
:meth:`~Scenario.apply` returns a new Subject:

=========================  ============================================================
scenario                   what it changes
=========================  ============================================================
:class:`MuscleWeakness`    ``max_isometric_force`` x ``strength``
:class:`Contracture`       ``optimal_fiber_length`` and ``tendon_slack_length`` x (1 - shortening)
:class:`Spasticity`        ``stretch_gain[muscle] += gain``
:class:`TendonLengthening` ``tendon_slack_length += mm / 1000``
:class:`JointReplacement`  range of motion, spring, damping (knee: implant mass, quadriceps inhibition)
:class:`AnkleFootOrthosis` linear spring on ``ankle_angle_*``
:class:`MassChange`        segment mass (and inertia) or whole-body mass
=========================  ============================================================

:func:`apply_scenarios` applies a list in order; :func:`engine_inputs`
turns Subjects into one batched ``EngineParams`` (the walking body of
:func:`twin.control.sim.walking_params`) plus the controller's excitation
scale and stretch-gain tensors.

Muscle names
------------
Scenarios that take muscles accept, for each entry:

* a full muscle name of the body (``"soleus_r"``, ``"hamstrings_l"``): that muscle only;
* a base name (``"soleus"``, ``"gastroc"``, ``"tib_ant"``, ...): both sides;
* a group, on both sides, or on one side with ``_r``/``_l`` (``"plantarflexors_r"``):

  =================  ========================================================
  group              muscles (Gait10dof18musc base names)
  =================  ========================================================
  plantarflexors     soleus, gastroc
  dorsiflexors       tib_ant
  quadriceps         vasti, rect_fem
  hamstrings         hamstrings, bifemsh (``"hamstrings_r"`` is the muscle only)
  hip_flexors        iliopsoas, rect_fem
  hip_extensors      glut_max, hamstrings
  =================  ========================================================

  Groups name every muscle of the model with that action (so
  ``hip_flexors`` includes the biarticular rectus femoris, as
  ``hip_extensors`` includes the biarticular hamstrings; for the
  uniarticular hip flexor alone write ``"iliopsoas"``).

Command-line grammar (:func:`parse_scenario`)
---------------------------------------------
``KIND:ARGS``; names as above; angles in rad, masses in kg::

    weakness:MUSCLES=STRENGTH        weakness:soleus,gastroc=0.4   weakness:plantarflexors_r=0.5
    contracture:MUSCLES=FRACTION     contracture:hamstrings=0.2
    spasticity:MUSCLES=GAIN          spasticity:gastroc=3
    tendon:MUSCLES=MM                tendon:gastroc=20
    tka[:SIDE][,OPTION=VALUE...]     tka   tka:l   tka:both,inhibition=0.3,mass=0.5
    replacement:JOINT[,OPTION=VALUE...]   replacement:hip,side=l   replacement:ankle,range=-0.3:0.15
    afo:STIFFNESS[,OPTION=VALUE...]  afo:300   afo:150,side=r,neutral=0.05
    mass:SEGMENT=KG                  mass:backpack=10   mass:body=-5   mass:femur_r=1.5

``MUSCLES`` is a comma-separated list; ``SIDE`` is ``r``, ``l`` or
``both``; tka/replacement options: ``side``, ``range=LO:HI`` (rad),
``stiffness`` (N m/rad), ``damping`` (N m s/rad), ``mass`` (implant, kg),
``inhibition`` (quadriceps, 0..1); afo options: ``side``, ``neutral`` (rad).

Examples
--------
>>> from twin.model import BodyParams
>>> body = BodyParams.default(lumbar=False, marker_sets=())
>>> s = apply_scenarios(body, ["weakness:plantarflexors=0.5", AnkleFootOrthosis(200.0)])
>>> s.body.muscle("soleus_l").max_isometric_force / body.muscle("soleus_l").max_isometric_force
0.5
>>> s.joints["ankle_angle_r"].spring_k
200.0
>>> s.notes[0]
'plantarflexors strength 50%: max_isometric_force x0.5 (gastroc_r, soleus_r, gastroc_l, soleus_l)'
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import ParameterError
from .model.params import BodyParams

__all__ = [
    "Subject",
    "JointMod",
    "Scenario",
    "MuscleWeakness",
    "Contracture",
    "Spasticity",
    "TendonLengthening",
    "JointReplacement",
    "AnkleFootOrthosis",
    "MassChange",
    "apply_scenarios",
    "parse_scenario",
    "engine_inputs",
    "expand_muscles",
    "add_point_mass",
    "body_factor_names",
    "apply_body_factors",
    "BODY_FACTOR_BOUNDS",
    "MUSCLE_GROUPS",
    "REPLACEMENT_RANGES",
    "GRAMMAR",
]

#: Muscle groups -> base names (expanded to ``<base>_r`` / ``<base>_l``).
MUSCLE_GROUPS: dict[str, tuple[str, ...]] = {
    "plantarflexors": ("gastroc", "soleus"),
    "dorsiflexors": ("tib_ant",),
    "quadriceps": ("rect_fem", "vasti"),
    "hamstrings": ("hamstrings", "bifemsh"),
    "hip_flexors": ("iliopsoas", "rect_fem"),
    "hip_extensors": ("hamstrings", "glut_max"),
}

_DEG = math.pi / 180.0

#: Default range of motion after a joint replacement [rad], per joint: (min, max) of the coordinate.
#:
#: * knee (``knee_angle``, flexion negative): 0 to 110 deg flexion. Active flexion after a
#:   total knee arthroplasty averages ~110-115 deg (e.g. Ritter et al. 2003, J Bone Joint Surg
#:   Am 85:1278-1285, mean ~112 deg), against ~135-140 deg in healthy knees; no hyperextension.
#: * hip (``hip_flexion``): 15 deg extension to 95 deg flexion, typical after a total hip
#:   arthroplasty (flexion ~90-100 deg, extension ~10-20 deg).
#: * ankle (``ankle_angle``, dorsiflexion positive): 20 deg plantarflexion to 10 deg
#:   dorsiflexion, a sagittal arc of ~30 deg as typically reported after a total ankle
#:   arthroplasty.
#:
#: Typical values, not a patient's: pass ``range=`` for a measured one.
REPLACEMENT_RANGES: dict[str, tuple[float, float]] = {
    "knee": (-110.0 * _DEG, 0.0),
    "hip": (-15.0 * _DEG, 95.0 * _DEG),
    "ankle": (-20.0 * _DEG, 10.0 * _DEG),
}
_REPLACEMENT_COORDINATE = {"knee": "knee_angle", "hip": "hip_flexion", "ankle": "ankle_angle"}
_REPLACEMENT_NAME = {"knee": "TKA", "hip": "THA", "ankle": "TAA"}
_SIDES = {"r": ("r",), "l": ("l",), "both": ("r", "l")}

GRAMMAR = """\
KIND:ARGS, one of
  weakness:MUSCLES=STRENGTH        e.g. weakness:soleus,gastroc=0.4
  contracture:MUSCLES=FRACTION     e.g. contracture:hamstrings=0.2
  spasticity:MUSCLES=GAIN          e.g. spasticity:gastroc=3
  tendon:MUSCLES=MM                e.g. tendon:gastroc=20
  tka[:SIDE][,OPTION=VALUE...]     e.g. tka:both,inhibition=0.3,mass=0.5
  replacement:JOINT[,OPTION=VALUE...]  e.g. replacement:hip,side=l
  afo:STIFFNESS[,OPTION=VALUE...]  e.g. afo:150,side=r,neutral=0.05
  mass:SEGMENT=KG                  e.g. mass:backpack=10
(MUSCLES comma-separated names or groups; SIDE r, l or both; tka/replacement options side, range=LO:HI [rad],
stiffness [N m/rad], damping [N m s/rad], mass [kg], inhibition [0-1]; afo options side, neutral [rad])"""


# ----------------------------------------------------------------------------- checks


def _number(owner: str, name: str, value: Any, units: str, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a finite float inside the interval, or ParameterError naming it and the interval."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"
    if isinstance(value, bool):
        raise ParameterError(f"{owner}: {name}={value!r} must be a number in {interval} ({units})")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{owner}: {name}={value!r} must be a number in {interval} ({units})") from None
    bad = not math.isfinite(x)
    if lo is not None:
        bad |= x <= lo if lo_open else x < lo
    if hi is not None:
        bad |= x >= hi if hi_open else x > hi
    if bad:
        raise ParameterError(f"{owner}: {name}={value!r} must be in {interval} ({units})")
    return x


def _names(owner: str, name: str, value: Any) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    try:
        items = tuple(items)
    except TypeError:
        raise ParameterError(f"{owner}: {name}={value!r} must be a muscle name or a sequence of them") from None
    if not items or not all(isinstance(v, str) and v.strip() and v == v.strip() for v in items):
        raise ParameterError(f"{owner}: {name}={value!r} must be one or more non-empty names "
                             "(muscles, base names like 'soleus', or groups like 'plantarflexors')")
    return items


def _side(owner: str, value: Any) -> str:
    if value not in _SIDES:
        raise ParameterError(f"{owner}: side={value!r} is not allowed; choose one of: 'r', 'l', 'both'")
    return value


def expand_muscles(names: str | Sequence[str], body: BodyParams, *, argument: str = "muscles") -> tuple[str, ...]:
    """Muscle names of ``body`` meant by names, base names and groups (see the module docstring).

    Parameters
    ----------
    names : str or sequence of str
    body : twin.model.BodyParams
    argument : str, keyword-only
        The argument's name, for the error message.

    Returns
    -------
    tuple of str
        In the body's muscle order, without repeats.

    Raises
    ------
    ParameterError
        A name that is none of these, listing the valid ones.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> expand_muscles("plantarflexors_r", body)
    ('gastroc_r', 'soleus_r')
    >>> expand_muscles(["hamstrings_l", "tib_ant"], body)
    ('tib_ant_r', 'hamstrings_l', 'tib_ant_l')
    """
    known = body.muscle_names
    wanted: set[str] = set()
    for name in _names("muscles", argument, names):
        if name in known:
            wanted.add(name)
            continue
        base, sides = name, ("r", "l")
        if name[-2:] in ("_r", "_l"):
            base, sides = name[:-2], (name[-1],)
        bases = MUSCLE_GROUPS.get(base, (base,))
        found = [f"{b}_{s}" for b in bases for s in sides]
        missing = [m for m in found if m not in known]
        if missing:
            basenames = sorted({m[:-2] for m in known if m[-2:] in ("_r", "_l")})
            raise ParameterError(
                f"{argument}: unknown muscle {name!r} (no {', '.join(missing)} in the body); valid: muscle names "
                f"{', '.join(known)}; base names (both sides) {', '.join(basenames)}; groups "
                f"{', '.join(MUSCLE_GROUPS)} (optionally with _r/_l)")
        wanted.update(found)
    return tuple(m for m in known if m in wanted)


# ----------------------------------------------------------------------------- subject


@dataclass(frozen=True)
class JointMod:
    """Changes to one coordinate for the engine; every field optional (None: unchanged).

    Parameters
    ----------
    range : (float, float) or None
        New range of motion ``(min, max)`` [rad]: where the engine's soft
        joint-limit torques start.
    spring_k : float or None
        Linear spring added to any existing one [N m/rad], >= 0.
    spring_rest : float or None
        Its rest angle [rad] (default 0 when ``spring_k`` is given).
    damping : float or None
        Viscous damping added [N m s/rad], >= 0.

    Examples
    --------
    >>> a = JointMod(spring_k=100.0, spring_rest=0.1, range=(-1.0, 0.5))
    >>> b = a.combined(JointMod(spring_k=100.0, spring_rest=0.3, damping=2.0, range=(-2.0, 0.2)))
    >>> b.spring_k, round(b.spring_rest, 6), b.damping, b.range
    (200.0, 0.2, 2.0, (-1.0, 0.2))
    """

    range: tuple[float, float] | None = None
    spring_k: float | None = None
    spring_rest: float | None = None
    damping: float | None = None

    def __post_init__(self) -> None:
        owner = "JointMod"
        rng = self.range
        if rng is not None:
            try:
                lo, hi = (float(v) for v in rng)
            except (TypeError, ValueError):
                raise ParameterError(f"{owner}: range={rng!r} must be two numbers (min, max) in rad") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ParameterError(f"{owner}: range={rng!r} must be finite with min < max (rad)")
            rng = (lo, hi)
        k = None if self.spring_k is None else _number(owner, "spring_k", self.spring_k, "N m/rad", lo=0.0)
        rest = None if self.spring_rest is None else _number(owner, "spring_rest", self.spring_rest, "rad",
                                                             lo=-math.pi, hi=math.pi)
        if rest is not None and k is None:
            raise ParameterError(f"{owner}: spring_rest={rest!r} given without spring_k; give the stiffness too")
        if k is not None and rest is None:
            rest = 0.0
        c = None if self.damping is None else _number(owner, "damping", self.damping, "N m s/rad", lo=0.0)
        object.__setattr__(self, "range", rng)
        object.__setattr__(self, "spring_k", k)
        object.__setattr__(self, "spring_rest", rest)
        object.__setattr__(self, "damping", c)

    def combined(self, other: JointMod) -> JointMod:
        """Both changes together: ranges intersected, springs added (stiffness-weighted rest), damping added.

        Raises
        ------
        ParameterError
            When the two ranges do not overlap.
        """
        rng = self.range if other.range is None else other.range
        if self.range is not None and other.range is not None:
            rng = (max(self.range[0], other.range[0]), min(self.range[1], other.range[1]))
            if not rng[0] < rng[1]:
                raise ParameterError(f"ranges {self.range} and {other.range} do not overlap; a coordinate "
                                     "cannot keep both")
        k, rest = _add_springs(self.spring_k, self.spring_rest, other.spring_k, other.spring_rest)
        if self.damping is None and other.damping is None:
            c = None
        else:
            c = (self.damping or 0.0) + (other.damping or 0.0)
        return JointMod(range=rng, spring_k=k, spring_rest=rest, damping=c)


def _add_springs(k0, r0, k1, r1):
    """Two parallel linear springs as one: ``k = k0 + k1``, ``rest = (k0 r0 + k1 r1) / k`` (None: absent)."""
    if k0 is None:
        return k1, r1
    if k1 is None:
        return k0, r0
    k = k0 + k1
    rest = (k0 * r0 + k1 * r1) / k if k > 0 else r1
    return k, rest


def _frozen_map(owner: str, name: str, value: Any, check) -> Mapping:
    if not isinstance(value, Mapping):
        raise ParameterError(f"{owner}: {name} must be a mapping, not {type(value).__name__}")
    out = {}
    for key, v in value.items():
        if not isinstance(key, str):
            raise ParameterError(f"{owner}: {name} keys must be names (str), got {key!r}")
        out[key] = check(key, v)
    return types.MappingProxyType(out)


@dataclass(frozen=True)
class Subject:
    """A body plus the engine and controller changes the scenarios made.

    Parameters
    ----------
    body : twin.model.BodyParams
    joints : mapping of coordinate name -> JointMod, optional
        Engine overrides per coordinate (default none).
    excitation_scale : mapping of muscle name -> float, optional
        Factor in [0, 1] on the neural excitation; absent muscles: 1.
    stretch_gain : mapping of muscle name -> float, optional
        Extra velocity stretch-reflex gain in [0, 20] (the reflex
        controller's range); absent muscles: 0.
    notes : tuple of str
        What was applied, one line each.

    Notes
    -----
    The mappings are stored read-only; the scenarios return new Subjects.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> s = Subject(BodyParams.default(lumbar=False, marker_sets=()))
    >>> dict(s.joints), s.notes
    ({}, ())
    >>> try:
    ...     Subject(s.body, stretch_gain={"soleus": 1.0})
    ... except Exception as err:
    ...     print(str(err)[:70])
    Subject: stretch_gain names muscle 'soleus', which the body does not h
    """

    body: BodyParams
    joints: Mapping[str, JointMod] = field(default_factory=dict)
    excitation_scale: Mapping[str, float] = field(default_factory=dict)
    stretch_gain: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        owner = "Subject"
        if not isinstance(self.body, BodyParams):
            raise ParameterError(f"{owner}: body must be a twin.model.BodyParams, not {type(self.body).__name__}")
        body = self.body
        coords = body.coordinate_names
        muscles = body.muscle_names

        def coordinate(key, mod):
            if key not in coords:
                raise ParameterError(f"{owner}: joints names coordinate {key!r}, which the body does not have; "
                                     f"known: {', '.join(coords)}")
            if not isinstance(mod, JointMod):
                raise ParameterError(f"{owner}: joints[{key!r}] must be a JointMod, not {type(mod).__name__}")
            if mod.range is not None:
                default = body.coordinate(key).default
                if not mod.range[0] <= default <= mod.range[1]:
                    raise ParameterError(f"{owner}: joints[{key!r}].range={mod.range} excludes the default pose "
                                         f"{key}={default:g} rad; widen the range to include it")
            return mod

        def muscle(name, lo, hi):
            def check(key, v):
                if key not in muscles:
                    raise ParameterError(f"{owner}: {name} names muscle {key!r}, which the body does not have; "
                                         f"known: {', '.join(muscles)}")
                return _number(owner, f"{name}[{key!r}]", v, "1", lo=lo, hi=hi)
            return check

        notes = (self.notes,) if isinstance(self.notes, str) else tuple(str(n) for n in self.notes)
        object.__setattr__(self, "joints", _frozen_map(owner, "joints", self.joints, coordinate))
        object.__setattr__(self, "excitation_scale", _frozen_map(owner, "excitation_scale", self.excitation_scale,
                                                                  muscle("excitation_scale", 0.0, 1.0)))
        object.__setattr__(self, "stretch_gain",
                           _frozen_map(owner, "stretch_gain", self.stretch_gain, muscle("stretch_gain", 0.0, 20.0)))
        object.__setattr__(self, "notes", notes)

    def replace(self, **changes: Any) -> Subject:
        """A copy with fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)

    def with_joint(self, coordinate: str, mod: JointMod) -> Subject:
        """A copy with ``mod`` combined into the coordinate's JointMod (:meth:`JointMod.combined`)."""
        old = self.joints.get(coordinate)
        joints = dict(self.joints)
        joints[coordinate] = mod if old is None else old.combined(mod)
        return self.replace(joints=joints)

    def noted(self, line: str) -> Subject:
        """A copy with ``line`` appended to :attr:`notes`."""
        return self.replace(notes=self.notes + (line,))


def _subject(x: Any) -> Subject:
    if isinstance(x, Subject):
        return x
    if isinstance(x, BodyParams):
        return Subject(x)
    raise ParameterError(f"expected a twin.scenarios.Subject or twin.model.BodyParams, not {type(x).__name__}")


def _edit_muscles(body: BodyParams, names: Iterable[str], line: str, **fns) -> BodyParams:
    """Body with ``field = fn(muscle)`` for every named muscle, and ``line`` in its history."""
    names = set(names)
    muscles = tuple(dataclasses.replace(m, **{f: fn(m) for f, fn in fns.items()}) if m.name in names else m
                    for m in body.muscles)
    return dataclasses.replace(body, muscles=muscles, history=body.history + (line,))


# ----------------------------------------------------------------------------- body factors

#: Bounds and neutral value of the body factors a twin's fit may adjust (:func:`apply_body_factors`):
#:
#: * ``strength``: factor on the muscle's ``max_isometric_force`` (0.5-1.5; 1 = unchanged). Isometric
#:   strength of healthy adults of one sex and age differs by tens of percent at a given body size (e.g.
#:   Harbo et al. 2012, Eur J Appl Physiol 112:267-275), more with age and disease.
#: * ``slack``: change of the ``tendon_slack_length`` in optimal fibre lengths (-0.2..0.2; 0 =
#:   unchanged; positive = longer tendon, a slacker muscle whose fibres reach their optimum at a longer
#:   muscle-tendon length; negative = tighter, as in a contracture). The fibres' operating lengths in
#:   walking depend sensitively on this parameter, which is not measured in a gait lab (Arnold & Delp
#:   2011, Phil Trans R Soc B 366:1530-1539).
#: * ``passive``: factor on the muscle's ``passive_fiber_strain`` (0.7-3.5; 1 = unchanged; larger = more
#:   compliant passive fibres, less passive force at a given stretch). With OpenSim's 0.6 the walking
#:   body's relaxed knee is 2-4x stiffer in deep flexion than Riener & Edrich's (1999) ten subjects; their
#:   curves call for 1.57-1.94 on the quadriceps (:func:`twin.fit.calibrate_passive_knee`), i.e. factors
#:   2.6-3.2; people's passive joint stiffness differs widely. Not among :func:`body_factor_names`'
#:   default kinds: fitted on subject01's vasti and rectus femoris (100 generations, two seeds) CMA-ES left
#:   it at 0.79-1.18 and the knee RMS did not improve (``benchmarks/README.md``).
BODY_FACTOR_BOUNDS: dict[str, tuple[float, float, float]] = {
    "strength": (0.5, 1.5, 1.0),
    "slack": (-0.2, 0.2, 0.0),
    "passive": (0.7, 3.5, 1.0),
}


def body_factor_names(body: BodyParams, *, kinds: Sequence[str] = ("strength", "slack")) -> tuple[str, ...]:
    """The body factors of ``body``'s muscles: ``"KIND:BASE"``, one per base muscle (both sides share it).

    Parameters
    ----------
    body : twin.model.BodyParams
    kinds : sequence of str, keyword-only
        Of :data:`BODY_FACTOR_BOUNDS` (default both).

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> names = body_factor_names(BodyParams.default(lumbar=False, marker_sets=()))
    >>> len(names), names[0], names[-1]
    (18, 'strength:hamstrings', 'slack:tib_ant')
    """
    bad = [k for k in kinds if k not in BODY_FACTOR_BOUNDS]
    if bad or not kinds:
        raise ParameterError(f"body factor kinds {list(kinds)!r}: use some of {', '.join(BODY_FACTOR_BOUNDS)}")
    bases = list(dict.fromkeys(m[:-2] if m[-2:] in ("_r", "_l") else m for m in body.muscle_names))
    return tuple(f"{k}:{b}" for k in kinds for b in bases)


def apply_body_factors(body: BodyParams, factors: Mapping[str, float]) -> BodyParams:
    """``body`` with muscle strength, tendon slack-length and passive-strain factors applied (both sides alike).

    Parameters
    ----------
    body : twin.model.BodyParams
    factors : mapping
        ``{"strength:soleus": 0.8, "slack:hamstrings": -0.05,
        "passive:vasti": 2.5, ...}``; names
        from :func:`body_factor_names`: a base name is that muscle on both
        sides (``hamstrings`` the biarticular muscle, not the group); other
        names and groups as :func:`expand_muscles`. Values within
        :data:`BODY_FACTOR_BOUNDS`.

    Returns
    -------
    twin.model.BodyParams
        A new body; its ``history`` lists the factors that are not neutral.

    Raises
    ------
    ParameterError
        An unknown kind or muscle, or a value out of bounds.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> b = apply_body_factors(body, {"strength:soleus": 0.8, "slack:hamstrings": 0.1})
    >>> round(b.muscle("soleus_l").max_isometric_force / body.muscle("soleus_l").max_isometric_force, 6)
    0.8
    >>> m0, m1 = body.muscle("hamstrings_r"), b.muscle("hamstrings_r")
    >>> round((m1.tendon_slack_length - m0.tendon_slack_length) / m0.optimal_fiber_length, 6)
    0.1
    """
    if not isinstance(factors, Mapping):
        raise ParameterError("body factors must be a mapping {'strength:soleus': 0.8, ...}")
    scale: dict[str, float] = {}
    shift: dict[str, float] = {}
    passive: dict[str, float] = {}
    notes = []
    for key, value in factors.items():
        kind, _, muscles = str(key).partition(":")
        if kind not in BODY_FACTOR_BOUNDS or not muscles:
            raise ParameterError(f"body factor {key!r}: write KIND:MUSCLES with KIND one of "
                                 f"{', '.join(BODY_FACTOR_BOUNDS)} (e.g. 'strength:soleus')")
        lo, hi, neutral = BODY_FACTOR_BOUNDS[kind]
        if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not np.isfinite(value)
                or not lo <= value <= hi):
            raise ParameterError(f"body factor {key!r} = {value!r} must be a number in [{lo:g}, {hi:g}]")
        for name in _factor_muscles(muscles, body, key):
            if kind == "strength":
                scale[name] = scale.get(name, 1.0) * float(value)
            elif kind == "passive":
                passive[name] = passive.get(name, 1.0) * float(value)
            else:
                shift[name] = shift.get(name, 0.0) + float(value)
        if value != neutral:
            notes.append(f"{key}={float(value):.4g}")
    return _edit_muscles(body, set(scale) | set(shift) | set(passive),
                         "body factors: " + (", ".join(notes) if notes else "neutral"),
                         max_isometric_force=lambda m: m.max_isometric_force * scale.get(m.name, 1.0),
                         tendon_slack_length=lambda m: (m.tendon_slack_length
                                                        + shift.get(m.name, 0.0) * m.optimal_fiber_length),
                         passive_fiber_strain=lambda m: m.passive_fiber_strain * passive.get(m.name, 1.0))


def _factor_muscles(text: str, body: BodyParams, key: str) -> tuple[str, ...]:
    """Muscles of a body factor: a base name is that muscle on both sides (``hamstrings``: the muscle, not
    the group, as :func:`body_factor_names` means it); other names as :func:`expand_muscles`."""
    out: list[str] = []
    for name in text.split(","):
        sides = [f"{name}_{s}" for s in ("r", "l") if f"{name}_{s}" in body.muscle_names]
        out += sides or list(expand_muscles(name, body, argument=f"body factor {key!r}"))
    return tuple(dict.fromkeys(out))


# ----------------------------------------------------------------------------- scenarios


class Scenario:
    """Base of the scenarios: :meth:`apply` a Subject -> a new Subject; :attr:`label`; :attr:`spec`."""

    #: Kind name used by :func:`parse_scenario`.
    kind: ClassVar[str] = ""

    def apply(self, subject: Subject | BodyParams) -> Subject:  # pragma: no cover - abstract
        """The changed Subject (a BodyParams is taken as an unchanged Subject)."""
        raise NotImplementedError

    def __call__(self, subject: Subject | BodyParams) -> Subject:
        return self.apply(subject)

    @property
    def label(self) -> str:  # pragma: no cover - abstract
        """A short human description."""
        raise NotImplementedError

    @property
    def spec(self) -> str:  # pragma: no cover - abstract
        """The :func:`parse_scenario` string that makes this scenario."""
        raise NotImplementedError


def _muscle_text(muscles: tuple[str, ...]) -> str:
    return "+".join(muscles)


def _g(x: float) -> str:
    return f"{x:.12g}"


@dataclass(frozen=True)
class MuscleWeakness(Scenario):
    """Weaker (or stronger) muscles: ``max_isometric_force`` times ``strength``.

    Parameters
    ----------
    muscles : str or sequence of str
        Muscles, base names or groups (module docstring).
    strength : float
        Fraction of the current maximum isometric force, in (0, 1.5]
        (0.4: 60 % weaker; > 1: strengthening).

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = MuscleWeakness("gastroc_r", 0.5).apply(body)
    >>> s.body.muscle("gastroc_r").max_isometric_force, body.muscle("gastroc_r").max_isometric_force
    (1250.0, 2500.0)
    >>> try:
    ...     MuscleWeakness("soleus", 1.7)
    ... except Exception as err:
    ...     print(err)
    MuscleWeakness: strength=1.7 must be in (0, 1.5] (fraction of max isometric force)
    """

    muscles: str | tuple[str, ...]
    strength: float
    kind: ClassVar[str] = "weakness"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "muscles", _names(owner, "muscles", self.muscles))
        object.__setattr__(self, "strength", _number(owner, "strength", self.strength,
                                                     "fraction of max isometric force", lo=0.0, hi=1.5, lo_open=True))

    @property
    def label(self) -> str:
        return f"{_muscle_text(self.muscles)} strength {self.strength:.0%}"

    @property
    def spec(self) -> str:
        return f"weakness:{','.join(self.muscles)}={_g(self.strength)}"

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        names = expand_muscles(self.muscles, s.body)
        line = f"{self.label}: max_isometric_force x{self.strength:g} ({', '.join(names)})"
        body = _edit_muscles(s.body, names, line,
                             max_isometric_force=lambda m: m.max_isometric_force * self.strength)
        return s.replace(body=body, notes=s.notes + (line,))


@dataclass(frozen=True)
class Contracture(Scenario):
    """A shortened muscle: fewer sarcomeres in series, so passive force starts at a shorter length.

    Modelled, as in Ong et al. (2019, PLoS Comput Biol 15:e1006993; SCONE
    simulations of plantarflexor contracture on this same planar
    9-DOF/18-muscle model), by shortening the muscle's optimal fibre length
    by ``shortening``; the tendon is unchanged. At a given musculotendon
    length the fibre is then longer relative to its optimum, so its passive
    force (which rises beyond the optimal fibre length) starts earlier and
    is larger; the active force-length curve narrows and the maximum
    shortening velocity [m/s] drops with it. (Before session 9 the tendon
    slack length was shortened by the same fraction too, which for the
    long-tendon hamstrings stretched the fibres by 30 % of their length per
    10 % and gave kilonewton passive forces at foot strike.) The what-if
    explorer's built-in mapping (:mod:`twin.viz.demo_backend`) uses the
    same definition.

    Parameters
    ----------
    muscle : str or sequence of str
        Muscles, base names or groups.
    shortening : float
        Fraction of the optimal fibre length, in [0, 0.5).

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = Contracture("soleus_r", 0.2).apply(body)
    >>> round(s.body.muscle("soleus_r").optimal_fiber_length, 6), body.muscle("soleus_r").optimal_fiber_length
    (0.04, 0.05)
    """

    muscle: str | tuple[str, ...]
    shortening: float
    kind: ClassVar[str] = "contracture"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "muscle", _names(owner, "muscle", self.muscle))
        object.__setattr__(self, "shortening", _number(owner, "shortening", self.shortening,
                                                       "fraction of resting length", lo=0.0, hi=0.5, hi_open=True))

    @property
    def label(self) -> str:
        return f"{_muscle_text(self.muscle)} contracture {self.shortening:.0%}"

    @property
    def spec(self) -> str:
        return f"contracture:{','.join(self.muscle)}={_g(self.shortening)}"

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        names = expand_muscles(self.muscle, s.body, argument="muscle")
        f = 1.0 - self.shortening
        line = (f"{self.label}: optimal_fiber_length x{f:g} ({', '.join(names)})")
        body = _edit_muscles(s.body, names, line, optimal_fiber_length=lambda m: m.optimal_fiber_length * f)
        return s.replace(body=body, notes=s.notes + (line,))


@dataclass(frozen=True)
class Spasticity(Scenario):
    """Velocity-dependent hyper-reflexia: ``stretch_gain[muscle] += gain``.

    The body is unchanged; the reflex controller adds a positive feedback of
    the muscle's lengthening velocity with this gain (see
    :mod:`twin.control`), the hallmark of spasticity (Lance 1980: a
    velocity-dependent increase in tonic stretch reflexes).

    Parameters
    ----------
    muscle : str or sequence of str
        Muscles, base names or groups.
    gain : float
        In [0, 10] (dimensionless, per the controller's normalisation).

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> s = Spasticity("gastroc", 2.0).apply(BodyParams.default(lumbar=False, marker_sets=()))
    >>> dict(s.stretch_gain)
    {'gastroc_r': 2.0, 'gastroc_l': 2.0}
    """

    muscle: str | tuple[str, ...]
    gain: float
    kind: ClassVar[str] = "spasticity"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "muscle", _names(owner, "muscle", self.muscle))
        object.__setattr__(self, "gain", _number(owner, "gain", self.gain, "stretch-reflex velocity gain",
                                                 lo=0.0, hi=10.0))

    @property
    def label(self) -> str:
        return f"{_muscle_text(self.muscle)} spasticity gain {self.gain:g}"

    @property
    def spec(self) -> str:
        return f"spasticity:{','.join(self.muscle)}={_g(self.gain)}"

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        names = expand_muscles(self.muscle, s.body, argument="muscle")
        gains = dict(s.stretch_gain)
        for m in names:
            gains[m] = gains.get(m, 0.0) + self.gain
        line = f"{self.label}: stretch_gain +{self.gain:g} ({', '.join(names)})"
        return s.replace(stretch_gain=gains, notes=s.notes + (line,))


@dataclass(frozen=True)
class TendonLengthening(Scenario):
    """Surgical tendon lengthening (e.g. Achilles): ``tendon_slack_length += mm / 1000``.

    Parameters
    ----------
    muscle : str or sequence of str
        Muscles, base names or groups.
    mm : float
        Lengthening in mm, in (0, 60].

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = TendonLengthening("soleus_l", 20).apply(body)
    >>> round(s.body.muscle("soleus_l").tendon_slack_length - body.muscle("soleus_l").tendon_slack_length, 9)
    0.02
    """

    muscle: str | tuple[str, ...]
    mm: float
    kind: ClassVar[str] = "tendon"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "muscle", _names(owner, "muscle", self.muscle))
        object.__setattr__(self, "mm", _number(owner, "mm", self.mm, "mm", lo=0.0, hi=60.0, lo_open=True))

    @property
    def label(self) -> str:
        return f"{_muscle_text(self.muscle)} tendon +{self.mm:g} mm"

    @property
    def spec(self) -> str:
        return f"tendon:{','.join(self.muscle)}={_g(self.mm)}"

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        names = expand_muscles(self.muscle, s.body, argument="muscle")
        line = f"{self.label}: tendon_slack_length +{self.mm / 1000.0:g} m ({', '.join(names)})"
        body = _edit_muscles(s.body, names, line,
                             tendon_slack_length=lambda m: m.tendon_slack_length + self.mm / 1000.0)
        return s.replace(body=body, notes=s.notes + (line,))


def _inertia_matrix(i: Sequence[float]) -> np.ndarray:
    xx, yy, zz, xy, xz, yz = i
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]], dtype=float)


def _point_inertia(m: float, r: np.ndarray) -> np.ndarray:
    """Inertia matrix of a point mass ``m`` at ``r`` about the origin (parallel-axis term)."""
    return m * (float(r @ r) * np.eye(3) - np.outer(r, r))


def add_point_mass(body: BodyParams, segment: str, mass: float, point: Sequence[float]) -> BodyParams:
    """Body with a point mass [kg] fixed at ``point`` [m, segment frame] added to ``segment``.

    The segment's mass, centre of mass and inertia about the new centre of
    mass are those of the rigid union (parallel-axis theorem).

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> b = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = add_point_mass(b, "tibia_r", 0.5, (0.0, 0.0, 0.0)).segment("tibia_r")
    >>> round(s.mass, 4), round(s.com[1], 5)
    (4.2075, -0.16451)
    """
    seg = body.segment(segment)
    m0, c0 = seg.mass, np.array(seg.com)
    p = np.asarray(point, dtype=float)
    m1 = m0 + mass
    c1 = (m0 * c0 + mass * p) / m1
    inertia = _inertia_matrix(seg.inertia) + _point_inertia(m0, c0 - c1) + _point_inertia(mass, p - c1)
    values = (inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2])
    return body.with_segment(segment, mass=m1, com=tuple(float(v) for v in c1),
                             inertia=tuple(float(v) for v in values))


@dataclass(frozen=True)
class JointReplacement(Scenario):
    """A joint replacement: total knee (default), hip or ankle arthroplasty.

    Applied to the coordinate ``knee_angle_<s>``, ``hip_flexion_<s>`` or
    ``ankle_angle_<s>`` as a :class:`JointMod`: the range of motion
    (default :data:`REPLACEMENT_RANGES`: knee 0-110 deg flexion), an added
    linear spring ``stiffness`` towards 0 rad (the neutral pose; for the
    knee full extension) and added viscous ``damping`` (stiff, swollen
    joint). For the knee only:

    * ``implant_mass`` [kg] is added to the shank segment (the segment the
      knee joint moves, ``tibia_<s>``) as a point mass at the knee joint
      centre (the joint's location in that segment's frame), so the mass,
      centre of mass and inertia stay consistent (parallel-axis theorem).
      Femoral plus tibial components weigh ~0.4-0.7 kg; lumped at the knee
      on the shank since the engine's femoral part of the joint is fixed to
      the thigh and the difference is small.
    * ``quadriceps_inhibition`` in [0, 1): arthrogenic muscle inhibition
      after TKA, the voluntary drive of the quadriceps (``vasti``,
      ``rect_fem``) scaled by ``1 - quadriceps_inhibition``
      (``Subject.excitation_scale``).

    Parameters
    ----------
    joint : {"knee", "hip", "ankle"}
    side : {"r", "l", "both"}
    range : (float, float), optional
        Range of motion [rad] of the coordinate (OpenSim signs: knee
        flexion negative, ankle dorsiflexion positive).
    stiffness : float
        [N m/rad], in [0, 500].
    damping : float
        [N m s/rad], in [0, 50].
    implant_mass : float
        [kg], in [0, 3]; knee only.
    quadriceps_inhibition : float
        In [0, 1); knee only.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = JointReplacement(side="l", quadriceps_inhibition=0.3).apply(body)
    >>> [round(v, 4) for v in s.joints["knee_angle_l"].range], dict(s.excitation_scale)
    ([-1.9199, 0.0], {'rect_fem_l': 0.7, 'vasti_l': 0.7})
    """

    joint: str = "knee"
    side: str = "r"
    range: tuple[float, float] | None = None
    stiffness: float = 0.0
    damping: float = 0.0
    implant_mass: float = 0.0
    quadriceps_inhibition: float = 0.0
    kind: ClassVar[str] = "replacement"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.joint not in REPLACEMENT_RANGES:
            raise ParameterError(f"{owner}: joint={self.joint!r} is not allowed; choose one of: "
                                 f"{', '.join(map(repr, REPLACEMENT_RANGES))}")
        _side(owner, self.side)
        rng = REPLACEMENT_RANGES[self.joint]
        if self.range is not None:
            try:
                rng = JointMod(range=self.range).range
            except ParameterError:
                rng = None
            if rng is None or not (-math.pi <= rng[0] and rng[1] <= math.pi):
                raise ParameterError(f"{owner}: range={self.range!r} must be (min, max) with -pi <= min < max <= pi "
                                     "(rad)")
        object.__setattr__(self, "range", rng)
        object.__setattr__(self, "stiffness", _number(owner, "stiffness", self.stiffness, "N m/rad", lo=0.0, hi=500.0))
        object.__setattr__(self, "damping", _number(owner, "damping", self.damping, "N m s/rad", lo=0.0, hi=50.0))
        mass = _number(owner, "implant_mass", self.implant_mass, "kg", lo=0.0, hi=3.0)
        inhibition = _number(owner, "quadriceps_inhibition", self.quadriceps_inhibition, "fraction of drive",
                             lo=0.0, hi=1.0, hi_open=True)
        if self.joint != "knee" and (mass or inhibition):
            raise ParameterError(f"{owner}: implant_mass and quadriceps_inhibition are modelled for joint='knee' "
                                 f"only; set them to 0 for joint={self.joint!r}")
        object.__setattr__(self, "implant_mass", mass)
        object.__setattr__(self, "quadriceps_inhibition", inhibition)

    @property
    def label(self) -> str:
        return f"{_REPLACEMENT_NAME[self.joint]} ({self.side})"

    @property
    def spec(self) -> str:
        out = f"replacement:{self.joint},side={self.side}"
        if self.range != REPLACEMENT_RANGES[self.joint]:
            out += f",range={_g(self.range[0])}:{_g(self.range[1])}"
        for key, value in (("stiffness", self.stiffness), ("damping", self.damping), ("mass", self.implant_mass),
                           ("inhibition", self.quadriceps_inhibition)):
            if value:
                out += f",{key}={_g(value)}"
        return out

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        body = s.body
        lines = []
        for side in _SIDES[self.side]:
            coord = f"{_REPLACEMENT_COORDINATE[self.joint]}_{side}"
            if coord not in body.coordinate_names:
                raise ParameterError(f"{type(self).__name__}: the body has no coordinate {coord!r} "
                                     f"(coordinates: {', '.join(body.coordinate_names)})")
            mod = JointMod(range=self.range, spring_k=self.stiffness or None,
                           spring_rest=0.0 if self.stiffness else None, damping=self.damping or None)
            s = s.with_joint(coord, mod)
            text = f"{coord} range [{self.range[0]:.4g}, {self.range[1]:.4g}] rad"
            if self.stiffness:
                text += f", spring {self.stiffness:g} N m/rad to 0 rad"
            if self.damping:
                text += f", damping +{self.damping:g} N m s/rad"
            if self.implant_mass:
                joint = body.coordinate_joint(coord)
                seg = next(g for g in body.segments if g.joint.name == joint.name)
                body = add_point_mass(body, seg.name, self.implant_mass, joint.location_in_child)
                body = dataclasses.replace(body, history=body.history + (
                    f"{self.label}: implant {self.implant_mass:g} kg on {seg.name} at the knee centre",))
                text += f", implant {self.implant_mass:g} kg on {seg.name} at the knee centre"
            if self.quadriceps_inhibition:
                quads = expand_muscles(f"quadriceps_{side}", body, argument="quadriceps")
                scale = dict(s.excitation_scale)
                for m in quads:
                    scale[m] = scale.get(m, 1.0) * (1.0 - self.quadriceps_inhibition)
                s = s.replace(excitation_scale=scale)
                text += f", excitation x{1.0 - self.quadriceps_inhibition:g} ({', '.join(quads)})"
            lines.append(text)
        return s.replace(body=body, notes=s.notes + (f"{self.label}: " + "; ".join(lines),))


@dataclass(frozen=True)
class AnkleFootOrthosis(Scenario):
    """A passive ankle-foot orthosis: a linear spring on ``ankle_angle_<side>``.

    ``stiffness`` [N m/rad] in [0, 1000] (passive-dynamic and posterior leaf
    spring AFOs are a few N m/deg, i.e. ~50-300 N m/rad; rigid ones far
    more) towards ``neutral_angle`` [rad] in [-0.5, 0.5] (OpenSim sign:
    dorsiflexion positive). Added to any existing spring.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> s = AnkleFootOrthosis(300.0, side="r").apply(BodyParams.default(lumbar=False, marker_sets=()))
    >>> s.joints["ankle_angle_r"].spring_k, "ankle_angle_l" in s.joints
    (300.0, False)
    """

    stiffness: float
    neutral_angle: float = 0.0
    side: str = "both"
    kind: ClassVar[str] = "afo"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "stiffness", _number(owner, "stiffness", self.stiffness, "N m/rad",
                                                      lo=0.0, hi=1000.0))
        object.__setattr__(self, "neutral_angle", _number(owner, "neutral_angle", self.neutral_angle, "rad",
                                                          lo=-0.5, hi=0.5))
        _side(owner, self.side)

    @property
    def label(self) -> str:
        return f"AFO {self.stiffness:g} N m/rad ({self.side})"

    @property
    def spec(self) -> str:
        out = f"afo:{_g(self.stiffness)},side={self.side}"
        return out + (f",neutral={_g(self.neutral_angle)}" if self.neutral_angle else "")

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        coords = []
        for side in _SIDES[self.side]:
            coord = f"ankle_angle_{side}"
            if coord not in s.body.coordinate_names:
                raise ParameterError(f"{type(self).__name__}: the body has no coordinate {coord!r}")
            s = s.with_joint(coord, JointMod(spring_k=self.stiffness, spring_rest=self.neutral_angle))
            coords.append(coord)
        return s.noted(f"{self.label}: spring {self.stiffness:g} N m/rad to {self.neutral_angle:g} rad on "
                       f"{', '.join(coords)}")


@dataclass(frozen=True)
class MassChange(Scenario):
    """Added (or removed) mass on one segment, a backpack, or the whole body.

    * a segment name of the body (``"torso"``, ``"pelvis"``, ``"femur_r"``,
      ...): ``kg`` added as mass distributed like the segment's own (centre
      of mass unchanged, inertia scaled with the mass);
    * ``"backpack"``: the same on ``"torso"`` (a real backpack's centre of
      mass lies behind the trunk's; that offset is not modelled);
    * ``"body"``: every segment's mass and inertia scaled by
      ``(M + kg) / M`` (weight gain or loss with the same distribution).

    Parameters
    ----------
    segment_or_load : str
    kg : float
        In [-50 % of the segment's (or body's) mass, 100]; checked against
        the body in :meth:`apply`.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> s = MassChange("backpack", 10.0).apply(body)
    >>> round(s.body.segment("torso").mass - body.segment("torso").mass, 9)
    10.0
    >>> round(MassChange("body", -7.5).apply(body).body.mass - body.mass, 9)
    -7.5
    """

    segment_or_load: str
    kg: float
    kind: ClassVar[str] = "mass"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.segment_or_load, str) or not self.segment_or_load:
            raise ParameterError(f"{owner}: segment_or_load={self.segment_or_load!r} must be a segment name, "
                                 "'backpack' or 'body'")
        object.__setattr__(self, "kg", _number(owner, "kg", self.kg, "kg", hi=100.0))

    @property
    def label(self) -> str:
        return f"{self.kg:+g} kg {self.segment_or_load}"

    @property
    def spec(self) -> str:
        return f"mass:{self.segment_or_load}={_g(self.kg)}"

    def apply(self, subject: Subject | BodyParams) -> Subject:
        s = _subject(subject)
        body = s.body
        owner = type(self).__name__
        target = "torso" if self.segment_or_load == "backpack" else self.segment_or_load
        if target == "body":
            m0 = body.mass
        elif target in body.segment_names:
            m0 = body.segment(target).mass
        else:
            raise ParameterError(f"{owner}: segment_or_load={self.segment_or_load!r} is not a segment of the body "
                                 f"nor 'backpack'/'body'; segments: {', '.join(body.segment_names)}")
        if self.kg < -0.5 * m0:
            raise ParameterError(f"{owner}: kg={self.kg!r} must be in [{-0.5 * m0:.4g}, 100] (at most 50 % of "
                                 f"{target}'s {m0:.4g} kg may be removed)")
        f = (m0 + self.kg) / m0
        segs = body.segment_names if target == "body" else (target,)
        line = f"{self.label}: mass and inertia x{f:.6g} ({'all segments' if target == 'body' else target})"
        segments = tuple(dataclasses.replace(g, mass=g.mass * f, inertia=tuple(v * f for v in g.inertia))
                         if g.name in segs else g for g in body.segments)
        body = dataclasses.replace(body, segments=segments, history=body.history + (line,))
        return s.replace(body=body, notes=s.notes + (line,))


_KINDS: dict[str, type] = {cls.kind: cls for cls in (MuscleWeakness, Contracture, Spasticity, TendonLengthening,
                                                      JointReplacement, AnkleFootOrthosis, MassChange)}


# ----------------------------------------------------------------------------- composition, parsing


def apply_scenarios(subject_or_body: Subject | BodyParams,
                    scenarios: Scenario | str | Iterable[Scenario | str] | None) -> Subject:
    """Apply scenarios in order (each to the result of the previous one).

    Parameters
    ----------
    subject_or_body : Subject or twin.model.BodyParams
    scenarios : Scenario, str, or a sequence of them (None or empty: none)
        Strings are read by :func:`parse_scenario`.

    Returns
    -------
    Subject

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> s = apply_scenarios(BodyParams.default(lumbar=False, marker_sets=()), "spasticity:soleus_r=1.5")
    >>> s.notes
    ('soleus_r spasticity gain 1.5: stretch_gain +1.5 (soleus_r)',)
    """
    s = _subject(subject_or_body)
    if scenarios is None:
        return s
    if isinstance(scenarios, (str, Scenario)):
        scenarios = [scenarios]
    for sc in scenarios:
        if isinstance(sc, str):
            sc = parse_scenario(sc)
        if not isinstance(sc, Scenario):
            raise ParameterError(f"scenarios must hold Scenario objects or strings, not {type(sc).__name__}")
        s = sc.apply(s)
    return s


def _bad(text: str, why: str) -> ParameterError:
    return ParameterError(f"cannot read scenario {text!r}: {why}. Grammar: {GRAMMAR}")


def _float(text: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _bad(text, f"{key}={value!r} is not a number") from None


def _options(text: str, items: list[str], allowed: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in allowed:
            raise _bad(text, f"option {item!r} is not one of {', '.join(k + '=...' for k in allowed)}")
        name = allowed[key]
        if key == "side":
            out[name] = value
        elif key == "range":
            lo, colon, hi = value.partition(":")
            if not colon:
                raise _bad(text, f"range={value!r} must be LO:HI in rad")
            out[name] = (_float(text, key, lo), _float(text, key, hi))
        else:
            out[name] = _float(text, key, value)
    return out


def parse_scenario(text: str) -> Scenario:
    """A scenario from its command-line text (grammar in the module docstring and :data:`GRAMMAR`).

    Parameters
    ----------
    text : str
        e.g. ``"weakness:soleus,gastroc=0.4"``, ``"tka:both,inhibition=0.3"``, ``"afo:300,side=r"``.

    Returns
    -------
    Scenario

    Raises
    ------
    ParameterError
        A string that does not follow the grammar (the message repeats it),
        or values out of range (naming the argument).

    Examples
    --------
    >>> parse_scenario("weakness:soleus,gastroc=0.4")
    MuscleWeakness(muscles=('soleus', 'gastroc'), strength=0.4)
    >>> parse_scenario("tka:l,mass=0.5").label
    'TKA (l)'
    >>> parse_scenario("mass:backpack=10").spec
    'mass:backpack=10'
    """
    if not isinstance(text, str):
        raise ParameterError(f"scenario must be a string, not {type(text).__name__}. Grammar: {GRAMMAR}")
    kind, colon, args = (p.strip() for p in text.strip().partition(":"))
    kind = kind.lower()
    if kind not in (*_KINDS, "tka"):
        raise _bad(text, f"unknown kind {kind!r}; kinds: {', '.join(sorted((*_KINDS, 'tka')))}")
    if kind in ("weakness", "contracture", "spasticity", "tendon", "mass"):
        names, eq, value = args.rpartition("=")
        names_list = [n.strip() for n in names.split(",")]
        if not colon or not eq or not names or not all(names_list):
            raise _bad(text, f"{kind} needs NAMES=VALUE after '{kind}:'")
        x = _float(text, names, value.strip())
        if kind == "mass":
            if len(names_list) != 1:
                raise _bad(text, "mass takes one segment (or backpack/body)")
            return MassChange(names_list[0], x)
        return _KINDS[kind](tuple(names_list), x)
    items = [a.strip() for a in args.split(",")] if args else []
    if any(not a for a in items):
        raise _bad(text, "empty item between commas")
    knee_opts = {"side": "side", "range": "range", "stiffness": "stiffness", "damping": "damping",
                 "mass": "implant_mass", "inhibition": "quadriceps_inhibition"}
    if kind == "tka":
        side = "r"
        if items and "=" not in items[0]:
            side = items.pop(0)
        opts = {"side": side} | _options(text, items, knee_opts)
        return JointReplacement("knee", **opts)
    if kind == "replacement":
        if not items or "=" in items[0]:
            raise _bad(text, "replacement needs a joint first: replacement:knee|hip|ankle[,OPTION=VALUE...]")
        joint = items.pop(0)
        return JointReplacement(joint, **_options(text, items, knee_opts))
    # afo
    if not items or "=" in items[0]:
        raise _bad(text, "afo needs a stiffness first: afo:STIFFNESS[,side=..][,neutral=RAD]")
    stiffness = _float(text, "stiffness", items.pop(0))
    return AnkleFootOrthosis(stiffness, **_options(text, items, {"side": "side", "neutral": "neutral_angle"}))


# ----------------------------------------------------------------------------- engine


def engine_inputs(subjects: Subject | BodyParams | Sequence[Subject | BodyParams], *, dtype: Any = None,
                  device: Any = "cpu", rigid_tendon: bool = True):
    """One batched ``EngineParams`` for a list of Subjects, plus the controller's per-muscle tensors.

    The engine body is built exactly as :func:`twin.control.sim.walking_params`
    does (``spec_from_body_params(body, limit_stiffness=1.0,
    limit_sharpness=20.0, damping=0.0)``, ``EngineParams.from_body``, then
    :func:`twin.control.sim.apply_walking_limits`), one batch member per
    Subject, so the reflex controller sees the same body; then each
    Subject's :class:`JointMod` s are applied on top: ``q_lo``/``q_hi`` from ``range``, ``spring_k``/``spring_rest``
    combined with the existing spring (``k = k0 + k``, ``rest = (k0 r0 + k
    r) / (k0 + k)``), ``joint_damping`` increased.

    Parameters
    ----------
    subjects : Subject, BodyParams, or a sequence of them
        All with the same structure (same coordinates and muscles).
    dtype : torch.dtype, keyword-only
        Default ``torch.float32``.
    device : keyword-only
        Default ``"cpu"``.
    rigid_tendon : bool, keyword-only
        Default True (as ``walking_params``).

    Returns
    -------
    params : twin.engine.EngineParams
        Batch size ``len(subjects)``.
    excitation_scale : torch.Tensor [B, M]
        Factor on the neural excitation (1 = unchanged), muscles in ``params.muscle_names`` order.
    stretch_gain : torch.Tensor [B, M]
        Extra velocity stretch-reflex gain (0 = none).

    Raises
    ------
    ParameterError
        Subjects of different structure, or a JointMod naming a coordinate
        the engine does not have.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> p, scale, gain = engine_inputs([body, apply_scenarios(body, "afo:200,side=r")])
    >>> p.batch_size, tuple(scale.shape), p.spring_k[:, p.coordinate_names.index("ankle_angle_r")].tolist()
    (2, (2, 18), [0.0, 200.0])
    """
    import torch

    from .control.sim import apply_walking_limits
    from .engine.build import EngineParams
    from .engine.from_model import spec_from_body_params

    dtype = torch.float32 if dtype is None else dtype
    if isinstance(subjects, (Subject, BodyParams)):
        subjects = [subjects]
    subjects = [_subject(s) for s in subjects]
    if not subjects:
        raise ParameterError("engine_inputs(): no subject given; pass one or a non-empty list")
    specs = [spec_from_body_params(s.body, limit_stiffness=1.0, limit_sharpness=20.0, damping=0.0) for s in subjects]
    params = apply_walking_limits(EngineParams.from_body(specs, dtype=dtype, device=device,
                                                         rigid_tendon=rigid_tendon))
    coords = list(params.coordinate_names)
    muscles = list(params.muscle_names)
    arrays = {k: getattr(params, k).detach().cpu().numpy().astype(float).copy()
              for k in ("q_lo", "q_hi", "spring_k", "spring_rest", "joint_damping")}
    bsz = len(subjects)
    scale = np.ones((bsz, len(muscles)))
    gain = np.zeros((bsz, len(muscles)))
    for b, s in enumerate(subjects):
        for name, mod in s.joints.items():
            if name not in coords:
                raise ParameterError(f"engine_inputs(): subject {b} has a JointMod for {name!r}, which the engine "
                                     f"body does not have; coordinates: {', '.join(coords)}")
            j = coords.index(name)
            if mod.range is not None:
                arrays["q_lo"][b, j], arrays["q_hi"][b, j] = mod.range
            if mod.spring_k is not None:
                k, r = _add_springs(arrays["spring_k"][b, j], arrays["spring_rest"][b, j], mod.spring_k,
                                    mod.spring_rest)
                arrays["spring_k"][b, j], arrays["spring_rest"][b, j] = k, r
            if mod.damping is not None:
                arrays["joint_damping"][b, j] += mod.damping
        for name, v in s.excitation_scale.items():
            scale[b, muscles.index(name)] = v
        for name, v in s.stretch_gain.items():
            gain[b, muscles.index(name)] = v
    params = params.replace(**arrays)
    as_t = dict(dtype=dtype, device=params.device)
    return params, torch.as_tensor(scale, **as_t), torch.as_tensor(gain, **as_t)
