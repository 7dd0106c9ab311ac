"""Composable cost terms for controller optimisation (lower is better).

An :class:`Objective` is a rollout duration plus a tuple of :class:`Term`
s; terms add with ``+``. Each term maps a :class:`~twin.control.sim.Rollout`
(per-member arrays) to a cost per member; the total is the weighted sum.

=====================  =========================================================
term                   cost per member
=====================  =========================================================
:func:`no_fall`        fraction of the duration *not* walked (0: never fell)
:func:`distance`       ``-distance / duration`` [m/s] (reward for getting far)
:func:`progress`       ``1 - min(distance, v T) / (v T)``: the share of the
                       target distance (target speed ``v`` x duration ``T``)
                       *not* covered; standing still costs as much as an
                       early fall (SCONE's gait measure idea)
:func:`speed`          ``[|v - target| - tolerance]+`` [m/s]; v = steady speed
:func:`effort`         cost of transport (metabolic energy / m g d) [1]
:func:`joint_limits`   integral of squared excess over physiological ranges
:func:`trunk`          mean squared trunk angular velocity [rad^2/s^2]
:func:`impact`         mean squared vertical GRF per foot above 1.2 body
                       weights [BW^2] (heel-strike impacts, stiff landings)
:func:`tracking`       mean squared joint-angle error to a reference gait
                       cycle [rad^2] (issue 7's fitting)
:func:`stride_time`    ``[|T - target| - tolerance]+^2`` [s^2], T the mean
                       right stride duration (cadence = 120 / T steps/min);
                       angle tracking on a normalised cycle leaves it free
:func:`stance`         ``[|S - target| - tolerance]+^2``, S the mean stance
                       fraction of the right strides (foot loaded above 5 %
                       body weight); tracking angles leaves it free too
=====================  =========================================================

Examples
--------
>>> obj = Objective(duration=5.0, terms=no_fall(10) + distance(1))
>>> [t.name for t in obj.terms]
['no_fall', 'distance']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ParameterError

__all__ = ["Term", "Terms", "Objective", "no_fall", "distance", "progress", "speed", "effort", "joint_limits", "trunk",
           "impact", "tracking", "stride_time", "stance", "walking"]


@dataclass(frozen=True)
class Term:
    """One weighted cost term: ``weight * fn(rollout)`` per member."""

    name: str
    weight: float
    fn: Callable
    needs_record: bool = False
    target: float | None = None
    tolerance: float | None = None

    def __add__(self, other):
        return Terms((self,)) + other

    def cost(self, r) -> np.ndarray:
        """Unweighted cost per member (finite)."""
        c = np.asarray(self.fn(r), dtype=float)
        return np.nan_to_num(c, nan=10.0, posinf=10.0, neginf=-10.0)


class Terms(tuple):
    """A tuple of Terms that adds with ``+``."""

    def __add__(self, other):
        if isinstance(other, Term):
            return Terms(tuple(self) + (other,))
        return Terms(tuple(self) + tuple(other))


def _check_weight(w):
    if not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
        raise ParameterError(f"weight={w!r} must be a finite number >= 0")
    return float(w)


def no_fall(weight: float = 10.0) -> Term:
    """Fraction of the duration not walked (1 - walked_s / duration)."""
    return Term("no_fall", _check_weight(weight), lambda r: 1.0 - r.walked_s / max(r.duration, 1e-9))


def distance(weight: float = 1.0) -> Term:
    """Reward for forward distance: ``-distance / duration`` [m/s]."""
    return Term("distance", _check_weight(weight), lambda r: -r.distance / max(r.duration, 1e-9))


def progress(target: float, weight: float = 10.0) -> Term:
    """Share of the target distance not covered: ``1 - min(d, v T) / (v T)``.

    Unlike :func:`no_fall` + :func:`distance`, this makes standing still as
    bad as falling at the start, so CMA-ES is not trapped by "stand and
    survive" (the usual local optimum of predictive gait); falling late
    costs only the distance lost. Use it with a small :func:`no_fall`.
    """
    if not isinstance(target, (int, float)) or not np.isfinite(target) or not target > 0:
        raise ParameterError(f"target speed {target!r} must be a positive number [m/s]")
    tgt = float(target)

    def f(r):
        goal = tgt * max(r.duration, 1e-9)
        return 1.0 - np.clip(r.distance, 0.0, goal) / goal

    return Term("progress", _check_weight(weight), f, target=tgt)


def speed(target: float, weight: float = 5.0, *, tolerance: float = 0.05) -> Term:
    """``[|steady speed - target| - tolerance]+`` [m/s].

    The steady speed is measured after the objective's ``settle`` time; a
    member that fell before walking 0.5 s past it counts as speed 0, so a
    lunge that falls never earns speed credit.
    """
    if not isinstance(target, (int, float)) or not np.isfinite(target):
        raise ParameterError(f"target speed {target!r} must be a finite number [m/s]")

    def f(r):
        v = np.where(np.isfinite(r.speed), r.speed, 0.0)
        return np.maximum(np.abs(v - target) - tolerance, 0.0)

    return Term("speed", _check_weight(weight), f, target=float(target), tolerance=float(tolerance))


def effort(weight: float = 0.1) -> Term:
    """Cost of transport from the engine's metabolic power (Bhargava 2004 + basal)."""
    return Term("effort", _check_weight(weight), lambda r: np.minimum(r.cot, 10.0))


def joint_limits(weight: float = 10.0) -> Term:
    """Integral of squared excursions beyond physiological ranges (:data:`twin.control.sim.SOFT_RANGES`)."""
    return Term("joint_limits", _check_weight(weight), lambda r: r.limit)


def trunk(weight: float = 0.1) -> Term:
    """Head/trunk stability: mean squared pelvis/trunk angular velocity."""
    return Term("trunk", _check_weight(weight), lambda r: r.trunk)


def impact(weight: float = 10.0) -> Term:
    """Landing impacts: mean squared vertical GRF per foot above :data:`twin.control.sim.IMPACT_LIMIT` BW."""
    return Term("impact", _check_weight(weight),
                lambda r: r.impact if r.impact is not None else np.zeros_like(r.distance))


def tracking(reference: dict, weight: float = 10.0, *, joint_weights: dict | None = None) -> Term:
    """Mean squared error [rad^2] of the mean simulated gait cycle to a reference cycle.

    Parameters
    ----------
    reference : dict
        ``{coordinate: array [101]}`` joint angles [rad] over 0..100 % of the
        right leg's stride (from right foot strike).
    weight : float
    joint_weights : dict, optional, keyword-only
        ``{coordinate: w}`` relative weights (default 1 each); the error is
        the weighted mean over the reference's coordinates.
    """
    from .analysis import mean_cycle

    if not isinstance(reference, dict) or not reference:
        raise ParameterError("tracking(reference): pass {coordinate: array of 101 angles [rad]}")
    ref = {k: np.asarray(v, dtype=float) for k, v in reference.items()}
    for k, v in ref.items():
        if v.ndim != 1 or len(v) < 2 or not np.isfinite(v).all():
            raise ParameterError(f"tracking reference {k!r} must be a finite 1-D array")

    jw = {k: 1.0 for k in ref}
    for k, w in (joint_weights or {}).items():
        if k not in ref:
            raise ParameterError(f"tracking joint_weights: {k!r} is not in the reference ({', '.join(ref)})")
        if not np.isfinite(w) or w < 0:
            raise ParameterError(f"tracking joint_weights[{k!r}]={w!r} must be a finite number >= 0")
        jw[k] = float(w)

    def f(r):
        out = np.full(r.distance.shape[0], 4.0)
        if r.record is None:
            return out
        for b in range(out.shape[0]):
            cyc = mean_cycle(r.record, b)
            if cyc is None:
                continue
            errs, ws = [], []
            for k, v in ref.items():
                if k in cyc:
                    sim = np.interp(np.linspace(0, 100, len(v)), np.linspace(0, 100, len(cyc[k])), cyc[k])
                    errs.append(jw[k] * np.mean((sim - v) ** 2))
                    ws.append(jw[k])
            if errs and sum(ws) > 0:
                out[b] = float(np.sum(errs) / np.sum(ws))
        return out

    return Term("tracking", _check_weight(weight), f, needs_record=True)


def stride_time(target: float, weight: float = 100.0, *, tolerance: float = 0.05) -> Term:
    """Squared excess of the mean right stride duration over ``target +- tolerance`` [s^2].

    A member without a full stride (fell, shuffled) costs 1 s^2.

    Parameters
    ----------
    target : float
        Stride duration [s] (e.g. 1.1 s = 109 steps/min).
    weight : float
    tolerance : float, keyword-only
        Half-width [s] of the band that costs nothing.

    Examples
    --------
    >>> stride_time(1.1).name
    'stride_time'
    """
    if not isinstance(target, (int, float)) or not 0.3 <= target <= 3.0:
        raise ParameterError(f"stride_time(target={target!r}): give a stride duration in seconds, 0.3-3")
    if not isinstance(tolerance, (int, float)) or not 0 <= tolerance < target:
        raise ParameterError(f"stride_time(tolerance={tolerance!r}) must be >= 0 and below the target")

    def f(r):
        return _band_cost(r, lambda c, b: float(np.mean(c["duration"])), target, tolerance)

    return Term("stride_time", _check_weight(weight), f, needs_record=True)


def _band_cost(r, value, target: float, tolerance: float) -> np.ndarray:
    """Per member ``[|value(strides, b) - target| - tolerance]+^2`` over its right strides
    (:func:`twin.control.analysis.cycles`); 1 for a member without a full stride."""
    from .analysis import cycles

    out = np.ones(r.distance.shape[0])
    if r.record is None:
        return out
    for b in range(out.shape[0]):
        c = cycles(r.record, b)
        if c is not None:
            out[b] = max(abs(value(c, b) - target) - tolerance, 0.0) ** 2
    return out


def stance(target: float = 0.60, weight: float = 300.0, *, tolerance: float = 0.02) -> Term:
    """Squared excess of the mean stance fraction of the right strides over ``target +- tolerance``.

    The stance fraction of a stride is the share of its time with the right
    foot's vertical GRF above 5 % body weight (the threshold of
    :func:`twin.control.analysis.cycles`, where strides start). A member
    without a full stride costs 1. Healthy adults walking at their preferred
    speed are in stance about 60 % of the stride (Perry & Burnfield 2010,
    Gait Analysis, ch. 1): the default target.

    Parameters
    ----------
    target : float
        Stance fraction in (0.3, 0.9).
    weight : float
    tolerance : float, keyword-only
        Half-width of the band that costs nothing.

    Examples
    --------
    >>> stance(0.6).name
    'stance'
    """
    from .analysis import contact_threshold

    if not isinstance(target, (int, float)) or not 0.3 < target < 0.9:
        raise ParameterError(f"stance(target={target!r}): give a stance fraction of the stride, 0.3-0.9")
    if not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 0.3:
        raise ParameterError(f"stance(tolerance={tolerance!r}) must be >= 0 and below 0.3")

    def f(r):
        return _band_cost(r, lambda c, b: float(np.mean(c["grf_y_r"] > contact_threshold(r.record, b))), target,
                          tolerance)

    return Term("stance", _check_weight(weight), f, needs_record=True)


@dataclass(frozen=True)
class Objective:
    """What to optimise: rollout ``duration`` [s] and the cost ``terms``.

    Attributes
    ----------
    duration : float
        Simulated time per evaluation [s].
    terms : tuple of Term
    settle : float
        Speed is measured from this time on [s].
    name : str
        Free text recorded in checkpoints and shipped controllers.
    """

    duration: float = 10.0
    terms: tuple = field(default_factory=lambda: Terms((no_fall(), distance())))
    settle: float = 2.0
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.duration, (int, float)) or not self.duration > 0:
            raise ParameterError(f"Objective duration={self.duration!r} must be a positive number of seconds")
        if isinstance(self.terms, Term):
            object.__setattr__(self, "terms", Terms((self.terms,)))
        if not self.terms or not all(isinstance(t, Term) for t in self.terms):
            raise ParameterError("Objective terms must be a non-empty sequence of twin.control.objective.Term")

    @property
    def needs_record(self) -> bool:
        """Whether any term needs the recorded trajectories."""
        return any(t.needs_record for t in self.terms)

    @property
    def target_speed(self) -> float | None:
        """The speed term's target, if any [m/s]."""
        for t in self.terms:
            if t.name == "speed":
                return t.target
        for t in self.terms:
            if t.name == "progress":
                return t.target
        return None

    def evaluate(self, r) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Total cost per member and the unweighted value of each term."""
        r.duration = self.duration
        parts = {t.name: t.cost(r) for t in self.terms}
        total = sum(t.weight * parts[t.name] for t in self.terms)
        return np.asarray(total, dtype=float), parts

    def describe(self) -> str:
        """A one-line description."""
        inner = ", ".join(f"{t.name}(w={t.weight:g}" + (f", target={t.target:g}" if t.target is not None else "")
                          + ")" for t in self.terms)
        return f"{self.duration:g} s: {inner}"


def walking(target_speed: float | None = 1.3, *, duration: float = 10.0, stage: str = "speed",
            speed_weight: float = 2.0, impact_weight: float = 10.0) -> Objective:
    """The staged walking objectives.

    Parameters
    ----------
    target_speed : float or None
    duration : float, keyword-only
    stage : {"survive", "speed", "effort"}, keyword-only
        survive: progress towards the target distance (w=10) + no fall (w=2)
        (no fall (w=10) + distance (w=2) without a target); speed: no fall + distance (w=1) + target
        speed (w=2) + joint limits (w=5);
        effort: + cost of transport + trunk stability + landing impacts.
    speed_weight : float, keyword-only
        Weight of the target-speed term (speed and effort stages).
    impact_weight : float, keyword-only
        Weight of the landing-impact term (effort stage): the mean over time
        of the squared vertical GRF above 1.2 BW, so a heel-strike spike of
        25 ms counts little at the default 10.
    """
    if stage not in ("survive", "speed", "effort"):
        raise ParameterError(f"stage={stage!r}; choose 'survive', 'speed' or 'effort'")
    _check_weight(impact_weight)
    terms = no_fall(10.0) + distance(2.0)
    if stage == "survive" and target_speed is not None:
        terms = progress(target_speed, 10.0) + no_fall(2.0)
    if stage in ("speed", "effort") and target_speed is not None:
        terms = no_fall(10.0) + distance(1.0) + speed(target_speed, speed_weight) + joint_limits(5.0)
    if stage == "effort":
        terms = terms + effort(0.5) + trunk(0.05) + impact(impact_weight)
    return Objective(duration=duration, terms=terms, name=f"walking/{stage}"
                     + (f"@{target_speed:g}" if target_speed is not None else ""))
