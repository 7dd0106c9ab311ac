"""Self-checks for the teaching labs (``notebooks/teaching/``), and two small muscle helpers.

Each lab exercise has a key ``"labN.name"``. A student writes an answer in a
variable and checks it::

    from twin import teaching
    lab = teaching.Lab("lab2", kin=kin, dyn=dyn, rec=rec)   # the data the lab works on
    peak_ankle_power = None                                  # the student replaces None
    lab.check("peak_ankle_power", peak_ankle_power)

or, without a :class:`Lab`, ``teaching.check("lab2.peak_ankle_power",
answer, kin=kin, dyn=dyn, rec=rec)``. The check prints one line:

* ``correct`` -- within the exercise's tolerance;
* ``not answered yet`` -- the answer is still ``None`` (so a notebook with
  blank exercises runs top to bottom, e.g. under ``pytest --nbval-lax``);
* otherwise ``not yet`` with a diagnosis and a hint: wrong sign, degrees vs
  radians, steps vs strides, percent vs fraction, a neighbouring quantity
  (swing instead of stance, lengthening instead of shortening...), too high
  or too low. The expected value is never printed.

The expected answers are not stored anywhere: each check *computes* its
answer at check time from the data passed in (the recording, kinematics,
dynamics, controller or simulation the student is working on), with twin's
own functions, and compares with a tolerance. So a notebook carries no
solutions, and the checks stay right when the data (a new recording, a
re-optimised controller) change. :func:`evaluate` returns the verdict as a
:class:`CheckResult` instead of printing it.

========  ==========================================================  ===========================
lab       exercises                                                   data
========  ==========================================================  ===========================
lab1      peak_knee_flexion, first_right_strike, strike_offset_ms,    ``kin``, ``rec``
          cadence, stance_pct
lab2      peak_plantarflexion_moment, ankle_power, peak_ankle_power,  ``kin``, ``dyn``, ``rec``
          push_off_pct, positive_work                                 (``mass`` optional)
lab3      optimal_length, concentric_force, eccentric_force,          none
          max_power_velocity, tendon_force_3pct, slack_force_ratio,
          fiber_limb
lab4      soleus_stance_excitation, force_feedback_muscles,           ``controller``, ``sim``
          soleus_force_ratio, dorsiflexion_change
========  ==========================================================  ===========================

:func:`exercises` lists every exercise with its question and units.

Muscle helpers for lab 3 (the engine's De Groote--Fregly 2016 muscle on the
default body): :func:`muscle_tendon_length` (musculotendon length over a
joint angle, from the engine's path geometry) and :func:`isometric_force`
(force of a muscle held at a length, tendon and fibre in equilibrium, with
an optional change of tendon slack length).

Examples
--------
>>> from twin import teaching
>>> teaching.check("lab3.optimal_length", None)
lab3.optimal_length: not answered yet -- replace None with your answer (optimal fibre lengths, l / l_opt)
>>> teaching.evaluate("lab3.optimal_length", 1.0).status
'correct'
>>> r = teaching.evaluate("lab3.concentric_force", 1.4)
>>> r.status, "lengthening" in r.message
('incorrect', True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from .errors import ParameterError, TwinError

__all__ = ["check", "evaluate", "Lab", "CheckResult", "Exercise", "exercises", "muscle_tendon_length",
           "isometric_force", "LABS"]

_DEG = 180.0 / math.pi


# ============================================================================ results
@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer (never holds the expected value).

    Attributes
    ----------
    key : str
        ``"labN.name"``.
    status : {"correct", "incorrect", "not answered", "unavailable"}
        "unavailable": the expected answer could not be computed from the
        data given (the message says why).
    message : str
        The line :func:`check` prints.
    """

    key: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.message


# ============================================================================ exercises
Trap = tuple[Callable[[Any, Mapping[str, Any]], Any], str]


@dataclass(frozen=True)
class Exercise:
    """One exercise: what is asked, how its answer is computed from the data, how answers are judged.

    Attributes
    ----------
    key : str
        ``"labN.name"``.
    question : str
    units : str
    kind : {"number", "series", "set", "choice"}
    needs : tuple of str
        Names of the data the answer is computed from (keyword arguments of
        :func:`check` / :class:`Lab`).
    solve : callable
        ``solve(data) -> expected`` (for "number" a float or a tuple of
        accepted variants, e.g. two equally good differentiation methods).
    tol_abs, tol_rel : float
        A number is correct when ``|answer - expected| <= max(tol_abs,
        tol_rel * |expected|)``; a series when its RMS difference is at most
        ``tol_rel`` of the expected series' peak magnitude.
    hint : str
        Printed with a wrong answer.
    sign_hint : str
        Printed when the answer has the right size and the wrong sign.
    traps : tuple of (callable, str)
        Neighbouring quantities a student may have computed instead
        (``f(expected, data) -> value``) and what to say then.
    choices : tuple of str
        For "choice".
    """

    key: str
    question: str
    units: str
    kind: str
    needs: tuple[str, ...]
    solve: Callable[[Mapping[str, Any]], Any]
    tol_abs: float = 0.0
    tol_rel: float = 0.0
    hint: str = ""
    sign_hint: str = ""
    traps: tuple[Trap, ...] = ()
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def lab(self) -> str:
        return self.key.split(".", 1)[0]


_EXERCISES: dict[str, Exercise] = {}


def _register(ex: Exercise) -> Exercise:
    _EXERCISES[ex.key] = ex
    return ex


def exercises(lab: str | None = None) -> list[Exercise]:
    """The exercises (of one lab, e.g. ``"lab2"``), in lab order."""
    if lab is not None and lab not in LABS:
        raise ParameterError(f"lab={lab!r} is not a lab; choose one of: {', '.join(LABS)}")
    return [e for e in _EXERCISES.values() if lab is None or e.lab == lab]


# ============================================================================ judging
def _scalar(answer: Any) -> float | None:
    """A float from a number, 0-d/1-element array or DataArray; None when it is not one number."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, xr.DataArray):
        answer = answer.values
    try:
        arr = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.size != 1:
        return None
    return float(arr.reshape(()))


def _close(a: float, e: float, ex: Exercise, *, slack: float = 1.0) -> bool:
    return abs(a - e) <= slack * max(ex.tol_abs, ex.tol_rel * abs(e), 1e-12)


_FACTORS = (
    (_DEG, "it looks like radians where degrees are asked (or rad/s vs deg/s)"),
    (1 / _DEG, "it looks like degrees where radians are asked (or deg/s vs rad/s)"),
    (1000.0, "it is off by a factor of 1000: check the units (s vs ms, m vs mm, kN vs N)"),
    (0.001, "it is off by a factor of 1000: check the units (ms vs s, mm vs m, N vs kN)"),
    (100.0, "it is off by a factor of 100: percent where a fraction is asked?"),
    (0.01, "it is off by a factor of 100: a fraction where a percent is asked?"),
    (2.0, "it is twice the expected value"),
    (0.5, "it is half the expected value"),
)


def _judge_number(ex: Exercise, answer: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    a = _scalar(answer)
    if a is None:
        return "incorrect", (f"expected one number in {ex.units}, got {type(answer).__name__}"
                             + (f" of {np.size(answer)} values" if hasattr(answer, "__len__") else ""))
    if not math.isfinite(a):
        return "incorrect", "your answer is NaN or infinite -- a NaN in the data (np.nanmax, .dropna) or a 0/0?"
    expected = ex.solve(data)
    variants = [float(v) for v in (expected if isinstance(expected, tuple) else (expected,))]
    if any(_close(a, e, ex) for e in variants):
        return "correct", ""
    e = variants[0]
    for f, say in ex.traps:
        try:
            alt = f(e, data)
        except Exception:  # noqa: BLE001 -- a trap that cannot be computed is skipped
            continue
        if alt is not None and math.isfinite(float(alt)) and not _close(float(alt), e, ex) and _close(a, float(alt), ex):
            return "incorrect", say
    if abs(e) > max(ex.tol_abs, 1e-9) and _close(-a, e, ex):
        return "incorrect", "the size is right but the sign is not" + (f": {ex.sign_hint}" if ex.sign_hint else "")
    if e != 0 and a != 0:
        for factor, say in _FACTORS:  # tolerance scaled with the factor (a unit slip scales the error too)
            if abs(a - e * factor) <= 1.5 * factor * max(ex.tol_abs, ex.tol_rel * abs(e), 1e-12) \
                    and not _close(a, e, ex, slack=3.0):
                return "incorrect", say
    mass = data.get("mass")
    if isinstance(mass, (int, float)) and mass > 0 and _close(a * mass, e, ex):
        return "incorrect", f"it looks normalised by body mass; the question asks for {ex.units}, not per kg"
    return "incorrect", "your value is too " + ("high" if a > e else "low")


def _judge_series(ex: Exercise, answer: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    expected = ex.solve(data)
    variants = expected if isinstance(expected, tuple) else (expected,)
    e0 = np.asarray(variants[0], dtype=float)
    try:
        a = np.asarray(answer.values if isinstance(answer, xr.DataArray) else answer, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return "incorrect", f"expected an array of numbers ({ex.units}), got {type(answer).__name__}"
    if a.size != e0.size:
        return "incorrect", (f"expected one value per frame ({e0.size} values), got {a.size}; compute it on the "
                             "frames of the dynamics (dyn.time)")

    def nrmse(x, e):
        ok = np.isfinite(x) & np.isfinite(e)
        if ok.sum() < max(3, 0.8 * e.size):
            return math.inf
        return float(np.sqrt(np.mean((x[ok] - e[ok]) ** 2)) / max(np.max(np.abs(e[ok])), 1e-12))

    if np.isfinite(a).sum() < 0.8 * a.size:
        return "incorrect", "more than a fifth of your values are NaN"
    if any(nrmse(a, np.asarray(v, dtype=float)) <= ex.tol_rel for v in variants):
        return "correct", ""
    if nrmse(-a, e0) <= ex.tol_rel:
        return "incorrect", "the shape is right but the sign is flipped" + (f": {ex.sign_hint}" if ex.sign_hint else "")
    if nrmse(a / _DEG, e0) <= ex.tol_rel:
        return "incorrect", "it is about 57 times too large: angular velocity in deg/s? Power needs rad/s"
    if nrmse(a * _DEG, e0) <= ex.tol_rel:
        return "incorrect", "it is about 57 times too small: angles in degrees where radians are needed?"
    ok = np.isfinite(a) & np.isfinite(e0)
    r = np.corrcoef(a[ok], e0[ok])[0, 1] if ok.sum() > 2 and np.std(a[ok]) > 0 else float("nan")
    if math.isfinite(r) and r > 0.95:
        return "incorrect", "the shape is right but the size is not: check the units and the formula"
    return "incorrect", "the curve does not match"


def _norm_name(x: str, aliases: Mapping[str, str]) -> str:
    s = str(x).strip().lower()
    for suffix in ("_r", "_l"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    return aliases.get(s, s)


def _judge_set(ex: Exercise, answer: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return "incorrect", "expected a list or set of names, e.g. {'soleus', ...}"
    given = {_norm_name(x, ex.aliases) for x in answer}
    expected = set(ex.solve(data))
    if given == expected:
        return "correct", ""
    unknown = sorted(g for g in given if g not in ex.choices)
    if unknown:
        return "incorrect", f"not muscle names of this model: {', '.join(unknown)} (use e.g. {', '.join(ex.choices[:4])})"
    for f, say in ex.traps:
        try:
            if f(given, data):
                return "incorrect", say
        except Exception:  # noqa: BLE001
            continue
    right = len(given & expected)
    parts = [f"{right} of your {len(given)} are right"]
    if given - expected:
        parts.append(f"{len(given - expected)} do(es) not belong")
    if expected - given:
        parts.append(f"{len(expected - given)} missing")
    return "incorrect", ", ".join(parts)


def _judge_choice(ex: Exercise, answer: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    if not isinstance(answer, str):
        return "incorrect", f"answer one of: {', '.join(repr(c) for c in ex.choices)}"
    a = answer.strip().lower()
    if a not in ex.choices:
        return "incorrect", f"{answer!r} is not one of: {', '.join(repr(c) for c in ex.choices)}"
    return ("correct", "") if a == ex.solve(data) else ("incorrect", "not that one")


_JUDGES = {"number": _judge_number, "series": _judge_series, "set": _judge_set, "choice": _judge_choice}


def evaluate(key: str, answer: Any, **data: Any) -> CheckResult:
    """Judge ``answer`` to exercise ``key`` against the answer computed from ``data``; print nothing.

    Parameters
    ----------
    key : str
        ``"labN.name"`` (see :func:`exercises`).
    answer : any
        ``None`` (or ``...``) means not answered yet.
    **data
        The data the exercise's answer is computed from (``Exercise.needs``).

    Returns
    -------
    CheckResult

    Raises
    ------
    ParameterError
        Unknown key, or data the exercise needs missing (only once the
        exercise is answered).
    """
    ex = _exercise(key)
    if answer is None or answer is Ellipsis:
        return CheckResult(key, "not answered", f"{key}: not answered yet -- replace None with your answer ({ex.units})")
    missing = [n for n in ex.needs if data.get(n) is None]
    if missing:
        raise ParameterError(f"{key} is computed from {', '.join(ex.needs)}; missing: {', '.join(missing)} -- pass "
                             f"them: teaching.Lab({ex.lab!r}, {', '.join(f'{n}=...' for n in ex.needs)})")
    try:
        status, why = _JUDGES[ex.kind](ex, answer, data)
    except (TwinError, ValueError, KeyError, IndexError) as err:
        return CheckResult(key, "unavailable", f"{key}: cannot check -- the expected answer could not be computed "
                                               f"from these data ({type(err).__name__}: {err})")
    if status == "correct":
        return CheckResult(key, "correct", f"{key}: correct")
    hint = f" Hint: {ex.hint}" if ex.hint else ""
    return CheckResult(key, "incorrect", f"{key}: not yet -- {why}.{hint}")


def check(key: str, answer: Any, **data: Any) -> None:
    """Print the verdict on ``answer`` (see :func:`evaluate`): correct, not answered yet, or a hint."""
    print(evaluate(key, answer, **data).message)


def _exercise(key: str) -> Exercise:
    if not isinstance(key, str) or key not in _EXERCISES:
        import difflib

        close = difflib.get_close_matches(str(key), list(_EXERCISES), n=2)
        raise ParameterError(f"no exercise {key!r}" + (f"; did you mean {' or '.join(map(repr, close))}?" if close
                                                         else "; teaching.exercises() lists them"))
    return _EXERCISES[key]


class Lab:
    """One lab's data and checks: ``Lab("lab2", kin=..., dyn=..., rec=...).check("ankle_power", answer)``.

    Parameters
    ----------
    name : {"lab1", "lab2", "lab3", "lab4"}
    **data
        The data its exercises are computed from (see the module table).
    """

    def __init__(self, name: str, **data: Any) -> None:
        if name not in LABS:
            raise ParameterError(f"lab {name!r} does not exist; choose one of: {', '.join(LABS)}")
        self.name = name
        self.data = dict(data)
        self.results: dict[str, CheckResult] = {}

    def update(self, **data: Any) -> Lab:
        """Add or replace data (e.g. a simulation made later in the lab)."""
        self.data.update(data)
        return self

    def evaluate(self, exercise: str, answer: Any) -> CheckResult:
        """The verdict (not printed); ``exercise`` with or without the ``"labN."`` prefix."""
        key = exercise if exercise.startswith(self.name + ".") else f"{self.name}.{exercise}"
        res = evaluate(key, answer, **self.data)
        self.results[key] = res
        return res

    def check(self, exercise: str, answer: Any) -> None:
        """Print the verdict on ``answer``."""
        print(self.evaluate(exercise, answer).message)

    def exercises(self) -> list[Exercise]:
        return exercises(self.name)

    def summary(self) -> str:
        """One line per exercise: correct / not yet / not answered / not checked."""
        lines = []
        for ex in self.exercises():
            r = self.results.get(ex.key)
            state = "not checked" if r is None else {"incorrect": "not yet"}.get(r.status, r.status)
            lines.append(f"{ex.key:<40} {state}")
        done = sum(1 for r in self.results.values() if r)
        return "\n".join(lines + [f"{done} of {len(lines)} correct"])

    def __repr__(self) -> str:
        return f"Lab({self.name!r}, data: {', '.join(self.data) or 'none'})"


# ============================================================================ data helpers
def _q(kin: xr.Dataset, coordinate: str) -> tuple[np.ndarray, np.ndarray]:
    """(time [s], angle [rad]) of one coordinate of a kinematics Dataset (degrees converted)."""
    if not isinstance(kin, xr.Dataset) or "q" not in kin:
        raise ParameterError("kin must be a kinematics Dataset with q(time, coordinate)")
    x = np.asarray(kin.q.sel(coordinate=coordinate).values, dtype=float)
    if "deg" in str(kin.q.attrs.get("units", "")):
        x = np.radians(x)
    return np.asarray(kin.time.values, dtype=float), x


def _qdot_variants(kin: xr.Dataset, coordinate: str) -> list[np.ndarray]:
    """Angular velocity [rad/s]: the kinematics' own qdot (when present) and the finite difference of q."""
    t, q = _q(kin, coordinate)
    out = [np.gradient(q, t)]
    if "qdot" in kin:
        qd = np.asarray(kin.qdot.sel(coordinate=coordinate).values, dtype=float)
        if "deg" in str(kin.qdot.attrs.get("units", "")):
            qd = np.radians(qd)
        out.insert(0, qd)
    return out


def _force_events(rec: xr.Dataset) -> xr.Dataset:
    from .gait import detect_events

    return detect_events(rec, method="force")


def _times(ev: xr.Dataset, label: str, side: str) -> np.ndarray:
    sel = (ev.event_label.values == label) & (ev.event_side.values == side)
    return np.sort(np.asarray(ev.event_time.values[sel], dtype=float))


def _right_stride(rec: xr.Dataset) -> tuple[float, float, float]:
    """(strike, foot off, next strike) of the first complete right stride on the force plates."""
    ev = _force_events(rec)
    fs = _times(ev, "foot_strike", "right")
    if fs.size < 2:
        raise TwinError(f"the force plates hold {fs.size} right foot strike(s); a stride needs two")
    fo = _times(ev, "foot_off", "right")
    fo = fo[(fo > fs[0]) & (fo < fs[1])]
    if fo.size == 0:
        raise TwinError("no right foot off between the first two right foot strikes")
    return float(fs[0]), float(fo[0]), float(fs[1])


def _on(t_src: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.interp(t, t_src, x)


def _ankle_powers(data: Mapping[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(time of dyn, [power variants]) of the right ankle [W]."""
    dyn, kin = data["dyn"], data["kin"]
    t = np.asarray(dyn.time.values, dtype=float)
    m = np.asarray(dyn.moment.sel(coordinate="ankle_angle_r").values, dtype=float)
    tk = np.asarray(kin.time.values, dtype=float)
    return t, [m * _on(tk, w, t) for w in _qdot_variants(kin, "ankle_angle_r")]


def _stride_window(data: Mapping[str, Any], t: np.ndarray) -> tuple[np.ndarray, float, float]:
    fs0, _, fs1 = _right_stride(data["rec"])
    return (t >= fs0) & (t <= fs1), fs0, fs1


# ---------------------------------------------------------------------------- lab 1
def _peak_knee_flexion(d):
    _, k = _q(d["kin"], "knee_angle_r")
    return float(np.nanmax(-k) * _DEG)


def _knee_extension_peak(e, d):
    _, k = _q(d["kin"], "knee_angle_r")
    return float(np.nanmax(k) * _DEG)


_register(Exercise(
    "lab1.peak_knee_flexion", "Largest right knee flexion over the trial", "deg", "number", ("kin",),
    _peak_knee_flexion, tol_abs=1.0,
    hint="take the knee angle from kin.q, convert to degrees, and find its most flexed value",
    sign_hint="in this model (OpenSim) knee flexion is negative; report flexion as a positive angle",
    traps=((_knee_extension_peak, "that is the knee's most extended angle; flexion is the other extreme"),)))


def _first_right_strike(d):
    fs = _times(_force_events(d["rec"]), "foot_strike", "right")
    if fs.size == 0:
        raise TwinError("no right foot strike on the force plates")
    return float(fs[0])


_register(Exercise(
    "lab1.first_right_strike", "Time of the first right foot strike on the force plate (20 N threshold)", "s",
    "number", ("rec",), _first_right_strike, tol_abs=0.01,
    hint="a foot strike is where the right vertical force rises through the threshold (below it before, above after)",
    traps=((lambda e, d: 0.0, "at t = 0 the right foot is already on the plate; that is not a strike -- look for "
                              "where the force *rises* through the threshold"),
           (lambda e, d: _times(_force_events(d["rec"]), "foot_off", "right")[0],
            "that is where the force *falls* through the threshold: a foot off"),
           (lambda e, d: _times(_force_events(d["rec"]), "foot_strike", "left")[0], "that is the left foot"))))


def _strike_offsets(d) -> np.ndarray:
    from .gait import compare_events, detect_events

    rec = d["rec"]
    cmp = compare_events(detect_events(rec, method="kinematics"), _force_events(rec))
    err = np.asarray(cmp.error.values, dtype=float)
    return err[np.asarray(cmp.pair_label.values) == "foot_strike"]


_register(Exercise(
    "lab1.strike_offset_ms", "Mean time difference kinematic minus force-plate foot strikes (matched pairs)", "ms",
    "number", ("rec",), lambda d: float(np.nanmean(_strike_offsets(d))), tol_abs=2.0,
    hint="gait.compare_events(from_markers, from_force) pairs the events; average the foot-strike errors",
    sign_hint="subtract the force-plate time from the kinematic time (positive: the markers detect later)",
    traps=((lambda e, d: float(np.nanmedian(_strike_offsets(d))), "that is the median; the question asks for the mean"),
           (lambda e, d: float(np.nanmean(np.abs(_strike_offsets(d)))),
            "that is the mean *absolute* difference; keep the sign"))))


def _stride_times(d) -> np.ndarray:
    fs = _times(_force_events(d["rec"]), "foot_strike", "right")
    if fs.size < 2:
        raise TwinError("fewer than two right foot strikes: no stride time")
    return np.diff(fs)


_register(Exercise(
    "lab1.cadence", "Cadence from the right stride time(s) on the force plates", "steps/min", "number", ("rec",),
    lambda d: float(120.0 / np.mean(_stride_times(d))), tol_abs=1.0,
    hint="a stride (right strike to the next right strike) has two steps; cadence counts steps per minute",
    traps=((lambda e, d: 60.0 / np.mean(_stride_times(d)),
            "that counts strides per minute; cadence counts steps, two per stride"),)))


def _stance_pct(d):
    fs0, fo, fs1 = _right_stride(d["rec"])
    return float(100.0 * (fo - fs0) / (fs1 - fs0))


_register(Exercise(
    "lab1.stance_pct", "Right stance phase as a percentage of the right stride", "%", "number", ("rec",),
    _stance_pct, tol_abs=1.0,
    hint="stance lasts from the right foot strike to the right foot off; divide by the stride time",
    traps=((lambda e, d: 100.0 - e, "that is the swing phase; stance is the time the foot is on the ground"),)))


# ---------------------------------------------------------------------------- lab 2
def _peak_pf_moment(d):
    dyn = d["dyn"]
    t = np.asarray(dyn.time.values, dtype=float)
    w, _, _ = _stride_window(d, t)
    m = np.asarray(dyn.moment.sel(coordinate="ankle_angle_r").values, dtype=float)
    return float(np.nanmax(-m[w]))


_register(Exercise(
    "lab2.peak_plantarflexion_moment", "Peak right ankle plantarflexor moment in the right stride", "N m",
    "number", ("dyn", "rec"), _peak_pf_moment, tol_rel=0.03,
    hint="dyn.moment.sel(coordinate='ankle_angle_r') between the first two right foot strikes; which sign is "
         "plantarflexion?",
    sign_hint="OpenSim counts dorsiflexion positive, so a plantarflexor moment is negative: give its size",
    traps=((lambda e, d: float(np.nanmax(d["dyn"].moment.sel(coordinate="ankle_angle_r").values)),
            "that is the largest dorsiflexor (positive) moment"),)))


_register(Exercise(
    "lab2.ankle_power", "Right ankle power over the trial, one value per frame of dyn", "W", "series",
    ("kin", "dyn"), lambda d: tuple(_ankle_powers(d)[1]), tol_rel=0.1,
    hint="power = moment [N m] x angular velocity [rad/s]; differentiate the ankle angle in time (np.gradient) "
         "or use kin.qdot",
    sign_hint="multiply the moment by the angular velocity of the *same* coordinate, both in OpenSim's signs"))


def _peak_power_variants(d):
    t, ps = _ankle_powers(d)
    w, _, _ = _stride_window(d, t)
    return tuple(float(np.nanmax(p[w])) for p in ps)


def _min_power(e, d):
    t, ps = _ankle_powers(d)
    w, _, _ = _stride_window(d, t)
    return float(np.nanmin(ps[0][w]))


_register(Exercise(
    "lab2.peak_ankle_power", "Peak right ankle power generation (push-off) in the right stride", "W", "number",
    ("kin", "dyn", "rec"), _peak_power_variants, tol_rel=0.05,
    hint="the push-off burst is the largest *positive* ankle power, in late stance",
    traps=((_min_power, "that is the largest power *absorption* (negative power)"),
           (lambda e, d: -_min_power(e, d), "that is the size of the largest power absorption, not generation"))))


def _push_off_pct(d):
    t, ps = _ankle_powers(d)
    w, fs0, fs1 = _stride_window(d, t)
    return tuple(float(100.0 * (t[w][np.nanargmax(p[w])] - fs0) / (fs1 - fs0)) for p in ps)


_register(Exercise(
    "lab2.push_off_pct", "When the ankle power peaks, in % of the right stride", "% of the stride", "number",
    ("kin", "dyn", "rec"), _push_off_pct, tol_abs=3.0,
    hint="(time of the peak - time of the right foot strike) / stride time x 100",
    traps=((lambda e, d: _right_stride(d["rec"])[0] + e / 100 * (_right_stride(d["rec"])[2] - _right_stride(d["rec"])[0]),
            "that is a time in seconds; express it as % of the stride from the right foot strike"),)))


def _work(d, positive: bool):
    t, ps = _ankle_powers(d)
    w, _, _ = _stride_window(d, t)
    out = []
    for p in ps:
        y = np.clip(p[w], 0.0, None) if positive else p[w]
        out.append(float(np.trapezoid(y, t[w])))
    return tuple(out)


_register(Exercise(
    "lab2.positive_work", "Positive work of the right ankle over the right stride", "J", "number",
    ("kin", "dyn", "rec"), lambda d: _work(d, True), tol_rel=0.1,
    hint="integrate only the positive part of the power over time (np.clip, then np.trapezoid)",
    traps=((lambda e, d: _work(d, False)[0], "that is the *net* work (positive minus negative)"),)))


# ---------------------------------------------------------------------------- lab 3
def _curve(fn, x):
    import torch

    return fn(torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)).numpy()


def _optimal_length(d):
    from .engine.muscle import active_force_length

    x = np.linspace(0.4, 1.8, 14001)
    return float(x[np.argmax(_curve(active_force_length, x))])


def _fv(v):
    from .engine.muscle import force_velocity

    return float(_curve(force_velocity, [v])[0])


_register(Exercise(
    "lab3.optimal_length", "Normalised fibre length at which the active force is largest", "optimal fibre lengths, "
    "l / l_opt", "number", (), _optimal_length, tol_abs=0.02,
    hint="evaluate active_force_length on a fine grid of lengths and find where it is largest (np.argmax)"))
_register(Exercise(
    "lab3.concentric_force", "Force while shortening at 25 % of the maximum speed, relative to isometric",
    "F / F_isometric", "number", (), lambda d: _fv(-0.25), tol_abs=0.01,
    hint="force_velocity(v) with v normalised by the maximum contraction velocity, positive when lengthening",
    traps=((lambda e, d: _fv(0.25), "that is the force while *lengthening*; in twin.engine.muscle v > 0 is "
                                    "lengthening, so shortening is v < 0"),)))
_register(Exercise(
    "lab3.eccentric_force", "Force while lengthening at 25 % of the maximum speed, relative to isometric",
    "F / F_isometric", "number", (), lambda d: _fv(0.25), tol_abs=0.01,
    hint="force_velocity(v) with v > 0 for lengthening",
    traps=((lambda e, d: _fv(-0.25), "that is the force while *shortening*; lengthening is v > 0"),)))


def _max_power_velocity(d):
    from .engine.muscle import force_velocity

    v = np.linspace(-1.0, 0.0, 100001)
    return float(-v[np.argmax(-v * _curve(force_velocity, v))])


_register(Exercise(
    "lab3.max_power_velocity", "Shortening speed of maximum fibre power, as a fraction of the maximum speed",
    "fraction of v_max (positive)", "number", (), _max_power_velocity, tol_abs=0.02,
    hint="power is force x shortening speed: (-v) x force_velocity(v) for v from -1 to 0; find its maximum",
    sign_hint="give the shortening speed as a positive fraction of v_max"))


def _tendon_force(strain):
    from .engine.muscle import kT_from_strain, tendon_force_length

    return float(_curve(lambda x: tendon_force_length(x, kT_from_strain(0.049)), [1.0 + strain])[0])


_register(Exercise(
    "lab3.tendon_force_3pct", "Tendon force at 3 % strain (tendon strain at F_max = 4.9 %)", "F / F_max", "number",
    (), lambda d: _tendon_force(0.03), tol_abs=0.01,
    hint="tendon_force_length(1 + strain, kT_from_strain(0.049)); the normalised length is 1 + strain",
    traps=((lambda e, d: _tendon_force(0.3), "that is 30 % strain; 3 % is 0.03"),)))


def _slack_ratio(d):
    L = muscle_tendon_length("soleus_r", "ankle_angle_r", [0.0])
    a = isometric_force("soleus_r", L).force.values[0]
    b = isometric_force("soleus_r", L, tendon_slack_scale=1.05).force.values[0]
    return float(b / a)


_register(Exercise(
    "lab3.slack_force_ratio", "Soleus isometric force at the neutral ankle, full activation: 5 % longer tendon "
    "slack length / default", "ratio", "number", (), _slack_ratio, tol_abs=0.02,
    hint="isometric_force('soleus_r', length, tendon_slack_scale=1.05) over isometric_force('soleus_r', length), "
         "length from muscle_tendon_length at ankle angle 0",
    traps=((lambda e, d: 1.0 / e, "that is default / longer; the question asks longer / default"),)))


def _fiber_limb(d):
    L = muscle_tendon_length("soleus_r", "ankle_angle_r", [0.0])
    x = float(isometric_force("soleus_r", L, tendon_slack_scale=1.05).norm_fiber_length.values[0])
    opt = _optimal_length(d)
    return "ascending" if x < opt - 0.05 else "descending" if x > opt + 0.05 else "plateau"


_register(Exercise(
    "lab3.fiber_limb", "With the 5 % longer tendon, on which limb of the force-length curve is the soleus fibre?",
    "'ascending', 'plateau' or 'descending'", "choice", (), _fiber_limb, choices=("ascending", "plateau", "descending"),
    hint="look at norm_fiber_length from isometric_force: shorter than optimal is the ascending limb"))


# ---------------------------------------------------------------------------- lab 4
def _controller(d) -> dict[str, float]:
    c = d["controller"]
    if hasattr(c, "controller") and hasattr(c, "controller_names"):  # a Twin
        return {n: float(v) for n, v in zip(c.controller_names, np.asarray(c.controller, dtype=float))}
    if isinstance(c, Mapping):
        return {str(k): float(v) for k, v in c.items()}
    raise ParameterError("controller must be a Twin or a mapping parameter name -> value")


def _sol_stance(d, force=0.3, clamp=True):
    p = _controller(d)
    e = p["s0_sol"] + p["g_sol"] * force
    return float(np.clip(e, 0.01, 1.0)) if clamp else float(e)


_register(Exercise(
    "lab4.soleus_stance_excitation", "Soleus excitation in stance when its (delayed) force is 30 % of its maximum",
    "excitation, 0..1", "number", ("controller",), _sol_stance, tol_abs=0.005,
    hint="stance law: S0_SOL + G_SOL x F_SOL, with s0_sol and g_sol from the twin's controller, clamped to [0.01, 1]",
    traps=((lambda e, d: _controller(d)["s0_sol"], "that is the swing excitation; in stance the force feedback adds "
                                                   "to it"),
           (lambda e, d: _controller(d)["g_sol"] * 0.3, "don't forget the pre-stimulation S0_SOL"),
           (lambda e, d: _sol_stance(d, clamp=False), "excitations are clamped to [0.01, 1]"))))

_GH = {"sol": "soleus", "gas": "gastroc", "vas": "vasti", "rf": "rect_fem", "ham": "hamstrings", "glu": "glut_max",
       "hfl": "iliopsoas", "ta": "tib_ant", "bfsh": "bifemsh", "gastrocnemius": "gastroc", "vastus": "vasti",
       "rectus_femoris": "rect_fem", "gluteus_maximus": "glut_max", "tibialis_anterior": "tib_ant"}
_MUSCLES = ("soleus", "gastroc", "vasti", "rect_fem", "hamstrings", "glut_max", "iliopsoas", "tib_ant", "bifemsh")


def _stance_force_feedback(d):
    p = _controller(d)
    gains = {"soleus": "g_sol", "gastroc": "g_gas", "vasti": "g_vas", "rect_fem": "g_rf"}
    return {m for m, g in gains.items() if p[g] > 0}


_register(Exercise(
    "lab4.force_feedback_muscles", "Muscles excited by their own force in stance (positive force feedback, gain > 0 "
    "in this controller)", "set of muscle names", "set", ("controller",), _stance_force_feedback,
    choices=_MUSCLES, aliases=_GH,
    hint="read the stance laws (ReflexController docs): which muscles have a G x F term of their *own* force, and "
         "is that gain > 0 in this twin's controller?",
    traps=((lambda g, d: bool(g & {"hamstrings", "glut_max"}),
            "HAM and GLU have force feedback in *swing*; in stance they follow the trunk"),
           (lambda g, d: "tib_ant" in g, "TA has *length* feedback and is inhibited by the soleus force"))))


def _member(sim: xr.Dataset, i: int) -> xr.Dataset:
    dim = "scenario" if "scenario" in sim.dims else "batch" if "batch" in sim.dims else None
    if dim is None or sim.sizes[dim] < 2:
        raise TwinError("the simulation needs two members (baseline first, the weakened soleus last)")
    return sim.isel({dim: i})


def _peak_force(sim, i, muscle="soleus_r"):
    return float(np.nanmax(_member(sim, i).muscle_force.sel(muscle=muscle).values))


_register(Exercise(
    "lab4.soleus_force_ratio", "Peak right soleus force: weakened / baseline", "ratio", "number", ("sim",),
    lambda d: _peak_force(d["sim"], -1) / _peak_force(d["sim"], 0), tol_abs=0.03,
    hint="sim.muscle_force.sel(muscle='soleus_r'): the largest value of each scenario",
    traps=((lambda e, d: 1.0 / e, "that is baseline / weakened; the question asks weakened / baseline"),)))


def _peak_dorsiflexion(sim, i, after=0.5):
    m = _member(sim, i)
    t = np.asarray(m.time.values, dtype=float)
    a = np.asarray(m.q.sel(coordinate="ankle_angle_r").values, dtype=float)
    return float(np.nanmax(a[t >= after]) * _DEG)


_register(Exercise(
    "lab4.dorsiflexion_change", "Change of the peak right ankle dorsiflexion after the first 0.5 s, weakened minus "
    "baseline", "deg", "number", ("sim",),
    lambda d: _peak_dorsiflexion(d["sim"], -1) - _peak_dorsiflexion(d["sim"], 0), tol_abs=1.0,
    hint="ankle_angle_r is dorsiflexion-positive; take its maximum after 0.5 s in each scenario, in degrees",
    sign_hint="weakened minus baseline",
    traps=((lambda e, d: (_peak_dorsiflexion(d["sim"], -1, 0.0) - _peak_dorsiflexion(d["sim"], 0, 0.0)),
            "use only the samples after the first 0.5 s (the start is the same imposed pose)"),)))

#: The labs, in order.
LABS = ("lab1", "lab2", "lab3", "lab4")


# ============================================================================ muscle helpers
@lru_cache(maxsize=1)
def _default_engine():
    from .engine import EngineParams
    from .model import BodyParams

    return EngineParams.from_body(BodyParams.default(lumbar=False, marker_sets=()), batch=1)


def _engine(body):
    if body is None:
        return _default_engine()
    from .engine import EngineParams

    return EngineParams.from_body(body, batch=1)


def _muscle_index(P, muscle: str) -> int:
    names = list(P.muscle_names)
    if muscle not in names and f"{muscle}_r" in names:
        muscle = f"{muscle}_r"
    if muscle not in names:
        raise ParameterError(f"no muscle {muscle!r}; the body has {', '.join(names)}")
    return names.index(muscle)


def muscle_tendon_length(muscle: str, coordinate: str, angles: Any, *, body: Any = None) -> xr.DataArray:
    """Musculotendon length of ``muscle`` over values of one coordinate, the others at their defaults.

    Parameters
    ----------
    muscle : str
        e.g. ``"soleus_r"`` (``"soleus"`` means the right one).
    coordinate : str
        e.g. ``"ankle_angle_r"``.
    angles : array-like
        Coordinate values [rad].
    body : twin.model.BodyParams, optional
        Default: the default body.

    Returns
    -------
    xarray.DataArray
        ``length(angle)`` [m], coordinate ``angle`` [rad]; attrs ``muscle``,
        ``coordinate``.

    Examples
    --------
    >>> L = muscle_tendon_length("soleus_r", "ankle_angle_r", [-0.3, 0.0, 0.3])
    >>> bool(L[0] < L[1] < L[2])          # dorsiflexion stretches the soleus
    True
    """
    import torch

    from .engine.multibody import kinematics
    from .engine.path import path_geometry

    P = _engine(body)
    m = _muscle_index(P, muscle)
    coords = list(P.coordinate_names)
    if coordinate not in coords:
        raise ParameterError(f"no coordinate {coordinate!r}; the body has {', '.join(coords)}")
    x = np.atleast_1d(np.asarray(angles, dtype=float))
    Pn = P.repeat(x.size) if x.size > 1 else P
    q = P.q_default.detach().clone().repeat(x.size, 1)
    q[:, coords.index(coordinate)] = torch.as_tensor(x, dtype=q.dtype)
    with torch.no_grad():
        g = path_geometry(Pn, kinematics(Pn, q, torch.zeros_like(q)), q)
    return xr.DataArray(g.length[:, m].numpy().astype(float), dims=("angle",),
                        coords={"angle": ("angle", x, {"units": "rad", "long_name": coordinate})},
                        attrs={"units": "m", "long_name": f"{P.muscle_names[m]} musculotendon length",
                               "muscle": str(P.muscle_names[m]), "coordinate": coordinate})


def isometric_force(muscle: str, length: Any, *, activation: float = 1.0, tendon_slack_scale: float = 1.0,
                    body: Any = None) -> xr.Dataset:
    """Force of a muscle held still at musculotendon ``length``: tendon and fibre in equilibrium.

    Uses the engine's De Groote--Fregly 2016 curves with a compliant tendon
    (:func:`twin.engine.muscle.equilibrium_tendon_force`).

    Parameters
    ----------
    muscle : str
    length : array-like or DataArray
        Musculotendon length(s) [m] (e.g. :func:`muscle_tendon_length`; its
        dims and coordinates are kept).
    activation : float, keyword-only
        0..1.
    tendon_slack_scale : float, keyword-only
        Factor on the tendon slack length (1.05: 5 % longer tendon).
    body : BodyParams, optional

    Returns
    -------
    xarray.Dataset
        ``force`` [N] (along the tendon), ``norm_force`` [F / F_max],
        ``norm_fiber_length`` [l / l_opt], ``active_force`` and
        ``passive_force`` [N] (along the fibre).

    Examples
    --------
    >>> f = isometric_force("soleus_r", [0.28, 0.30], activation=0.0)
    >>> bool(f.force[1] > f.force[0])      # a stretched passive muscle pulls harder
    True
    """
    import torch

    from .engine.muscle import active_force_length, equilibrium_tendon_force, passive_force_length, \
        tendon_length_from_force

    if not 0.0 <= float(activation) <= 1.0:
        raise ParameterError(f"activation={activation!r} must be in [0, 1]")
    if not 0.2 <= float(tendon_slack_scale) <= 3.0:
        raise ParameterError(f"tendon_slack_scale={tendon_slack_scale!r} must be in [0.2, 3]")
    P = _engine(body)
    m = _muscle_index(P, muscle)
    da = length if isinstance(length, xr.DataArray) else xr.DataArray(np.atleast_1d(np.asarray(length, dtype=float)),
                                                                       dims=("length",))
    L = np.asarray(da.values, dtype=float).reshape(-1)
    n = L.size
    Pn = P.repeat(n) if n > 1 else P
    Pn = Pn.replace(lts=Pn.lts * float(tendon_slack_scale))
    Lt = (Pn.lts + Pn.lopt).detach().clone()
    Lt[:, m] = torch.as_tensor(L, dtype=Lt.dtype)
    a = torch.full_like(Lt, float(activation))
    with torch.no_grad():
        ft = equilibrium_tendon_force(Pn, Lt, torch.zeros_like(Lt), a)[:, m]
        lts, lopt, w = Pn.lts[:, m], Pn.lopt[:, m], Pn.width[:, m]
        along = torch.clamp(Lt[:, m] - lts * tendon_length_from_force(ft, Pn.kT[:, m]), min=1e-3 * lopt)
        lf = torch.sqrt(along * along + w * w) / lopt
        fmax = Pn.fmax[:, m]
        act = fmax * float(activation) * active_force_length(lf)
        pas = fmax * passive_force_length(lf, Pn.e0[:, m])
    shape, dims = da.shape, da.dims

    def var(x, units, long):
        return (dims, x.numpy().astype(float).reshape(shape), {"units": units, "long_name": long})

    return xr.Dataset({"force": var(fmax * ft, "N", "tendon force"),
                       "norm_force": var(ft, "1", "tendon force / max isometric force"),
                       "norm_fiber_length": var(lf, "1", "fibre length / optimal fibre length"),
                       "active_force": var(act, "N", "active fibre force"),
                       "passive_force": var(pas, "N", "passive fibre force")},
                      coords=da.coords, attrs={"muscle": str(P.muscle_names[m]), "activation": float(activation),
                                               "tendon_slack_scale": float(tendon_slack_scale)})
