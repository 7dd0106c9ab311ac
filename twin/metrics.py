"""Gait metrics of simulated walking, one value per simulation member.

:func:`metrics` reads a Simulation Dataset (:func:`twin.engine.simulate`,
``Twin.simulate``; member dims ``scenario`` and/or ``batch``) and returns a
Dataset (``attrs["kind"] = "metrics"``) with the member dims kept. Only the
steady part is used: from ``settle`` seconds after the first sample to the end.

Gait events come from the simulated vertical ground reaction force per foot
(``grf(..., side, axis="y")``): a **foot strike** is an upward crossing of
``threshold`` x body weight (default 5 %), a **foot off** a downward one, the
time linearly interpolated between samples. Body weight is ``g`` x
``body_mass`` (variable, or ``attrs["subject_mass"]``), else the mean total
vertical GRF over the steady part (equal to body weight in steady walking;
refined over whole strides once the strikes are known).

==============================  =============  ======================================================
variable                        units          definition
==============================  =============  ======================================================
speed                           m/s            pelvis_tx travel over the steady part / its duration
distance                        m              that travel
cadence                         steps/min      60 / mean step time (mean of the sides' means)
step_time                       s (side)       last other-side strike to this side's strike
step_time_asymmetry             %              ``200 |R - L| / (R + L)`` of the step times
                                               (Robinson et al. 1987 symmetry index, absolute)
stride_time                     s              strike to next same-side strike, mean of both sides
stride_length                   m              pelvis_tx travel over a stride, mean of both sides
stance_pct                      % (side)       strike to foot off, % of the stride
n_strides                       1 (side)       complete strides in the steady part
rom                             deg (coord.)   max - min of each rotational coordinate
q_max, q_min                    deg (coord.)   peak values of each rotational coordinate
peak_ankle_plantarflexion_      N m (side)     max of ``-moment(ankle_angle_<s>)`` (OpenSim sign:
moment                                         dorsiflexion positive); only if ``moment`` is present
peak_ankle_power                W (side)       max of ``power(ankle_angle_<s>)`` (push-off); only if
                                               ``power`` is present
cost_of_transport               J/kg/m         metabolic energy over the steady part /
                                               (body mass x distance); needs ``metabolic_power``
gait_deviation                  deg (side)     RMS over 0-100 % of the cycle and over hip_flexion,
                                               knee_angle and ankle_angle of (mean simulated gait
                                               cycle - Schwartz et al. 2008 normative mean at the
                                               member's speed)
gait_deviation_joint            deg (side,     the same per joint
                                joint)
body_mass                       kg             the mass used
fell                            1 (bool)       the member fell or failed (its gait metrics are NaN)
==============================  =============  ======================================================

Variables whose inputs are absent (no ``moment``, ``power``,
``metabolic_power``, ``grf``) are left out, and ``attrs["skipped"]`` says
which and why. Members that fell (or failed) get NaN for every gait metric.
``gait_deviation`` needs the Schwartz 2008 file (``TWIN_DATA_DIR`` or the
download cache; never downloaded here): without it the values are NaN and
``gait_deviation.attrs["note"]`` says why. The leg length that picks the
normative speed group is ``leg_length=``, else ``attrs["leg_length"]``, else
the mean pelvis height (``pelvis_ty``) over the steady part (an
approximation: it only selects the speed group).

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> t = np.arange(0, 6.0, 0.001)
>>> phase = (t % 1.0)                      # 1 s strides, right strike at 0, left at 0.5 s
>>> stance_r = phase < 0.6
>>> stance_l = ((t - 0.5) % 1.0) < 0.6
>>> grf = np.zeros((1, t.size, 2, 3))
>>> grf[0, :, 0, 1], grf[0, :, 1, 1] = 600.0 * stance_r, 600.0 * stance_l
>>> q = np.stack([1.2 * t, 0.3 * np.sin(2 * np.pi * phase)], -1)[None]
>>> sim = schema.simulation(t, q=q, coordinates=["pelvis_tx", "hip_flexion_r"], grf=grf)
>>> m = metrics(sim, settle=1.0)
>>> round(float(m.speed[0]), 3), round(float(m.cadence[0]), 1), round(float(m.stride_length[0]), 3)
(1.2, 120.0, 1.2)
>>> [round(v) for v in m.stance_pct[0].values.tolist()], round(float(m.rom.sel(coordinate="hip_flexion_r")[0]))
([60, 60], 34)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from .errors import SchemaError, TwinError, check_param
from .schema import MEMBER_DIMS, guess_coordinate_type, validate

__all__ = ["metrics", "foot_events", "GDI_JOINTS"]

#: Joints of the gait deviation (normative variable names, OpenSim signs).
GDI_JOINTS = ("hip_flexion", "knee_angle", "ankle_angle")
_G = 9.80665
_RIGHT = ("right", "r", "R", "Right")
_LEFT = ("left", "l", "L", "Left")


def foot_events(time: np.ndarray, fy: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Foot strikes and foot offs [s]: up- and down-crossings of ``threshold`` [N] by ``fy`` [N].

    Crossing times are interpolated linearly between samples.

    Examples
    --------
    >>> t = np.arange(6.0)
    >>> foot_events(t, np.array([0, 0, 100, 100, 0, 0.0]), 50.0)
    (array([1.5]), array([3.5]))
    """
    t = np.asarray(time, dtype=float)
    f = np.nan_to_num(np.asarray(fy, dtype=float), nan=0.0)
    above = f > threshold
    k_up = np.nonzero(above[1:] & ~above[:-1])[0] + 1
    k_down = np.nonzero(~above[1:] & above[:-1])[0] + 1

    def cross(k):
        f0, f1 = f[k - 1], f[k]
        frac = np.where(f1 != f0, (threshold - f0) / np.where(f1 != f0, f1 - f0, 1.0), 0.0)
        return t[k - 1] + np.clip(frac, 0.0, 1.0) * (t[k] - t[k - 1])

    return cross(k_up), cross(k_down)


def _side_letter(label: str, index: int) -> str:
    if label in _RIGHT:
        return "r"
    if label in _LEFT:
        return "l"
    return ("r", "l")[index] if index < 2 else ""


def _nan(*shape) -> np.ndarray:
    return np.full(shape, np.nan)


class _Normative:
    """Schwartz 2008 mean curves, loaded once per (variable, category); a note when unavailable."""

    def __init__(self, path: Any) -> None:
        self.note = ""
        self.path = path
        self.cache: dict = {}
        if path is None:
            try:
                from .datasets import path as data_path
                from .gait.normative import RELPATH

                self.path = data_path(RELPATH, fetch=False)
            except TwinError as err:
                self.note = f"normative data unavailable ({err}); set TWIN_DATA_DIR to compute gait_deviation"
        if not self.note:
            try:
                self.curve("knee_angle", "Free")
            except TwinError as err:
                self.note = f"normative data unavailable ({err}); set TWIN_DATA_DIR to compute gait_deviation"

    def curve(self, variable: str, category: str) -> np.ndarray:
        key = (variable, category)
        if key not in self.cache:
            from .gait.normative import normative

            self.cache[key] = normative(variable, category=category, n=101, path=self.path)["mean"].values
        return self.cache[key]


def metrics(sim: xr.Dataset, *, settle: float = 2.0, threshold: float = 0.05, leg_length: float | None = None,
            normative_path: Any = None) -> xr.Dataset:
    """Gait metrics of each member of a simulation (see the module docstring for the definitions).

    Parameters
    ----------
    sim : xarray.Dataset
        Simulation kind (:mod:`twin.schema`): ``q`` with ``pelvis_tx``,
        ``grf`` per side, optional ``metabolic_power``, ``moment``,
        ``power``, ``body_mass``, ``fell``/``failed``.
    settle : float, keyword-only
        Seconds skipped at the start (the transient from the initial pose), >= 0.
    threshold : float, keyword-only
        Contact threshold as a fraction of body weight, in (0, 1).
    leg_length : float, optional, keyword-only
        [m], for the normative speed group.
    normative_path : path-like, optional, keyword-only
        The Schwartz 2008 JSON file (default: ``TWIN_DATA_DIR`` or the cache; no download).

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] == "metrics"``, member dims as in ``sim``, every
        variable with ``units`` and ``long_name``.

    Raises
    ------
    SchemaError
        ``sim`` is not a valid simulation Dataset.
    ParameterError
        Bad options.
    """
    check_param("settle", settle, minimum=0.0, types=(int, float))
    check_param("threshold", threshold, minimum=1e-6, maximum=0.999, types=(int, float))
    if leg_length is not None:
        check_param("leg_length", leg_length, minimum=0.1, maximum=3.0, types=(int, float))
    if not isinstance(sim, xr.Dataset) or sim.attrs.get("kind") != "simulation":
        got = sim.attrs.get("kind") if isinstance(sim, xr.Dataset) else type(sim).__name__
        raise SchemaError(f"metrics() needs a simulation Dataset (attrs['kind']='simulation'), got {got!r}")
    validate(sim)
    if "q" not in sim:
        raise SchemaError("metrics() needs the variable 'q' (generalized coordinates)")
    mdims = [d for d in MEMBER_DIMS if d in sim.q.dims]
    mshape = tuple(sim.sizes[d] for d in mdims)
    n = int(np.prod(mshape))

    def members(name: str, *tail: str) -> np.ndarray:
        da = sim[name].transpose(*mdims, *tail)
        return da.values.reshape((n,) + da.shape[len(mdims):])

    t = np.asarray(sim.time.values, dtype=float)
    coords = [str(c) for c in sim.coordinate.values]
    ctype = ([str(v) for v in sim.coordinate_type.values] if "coordinate_type" in sim.coords
             else [guess_coordinate_type(c) for c in coords])
    q = members("q", "time", "coordinate").astype(float)
    g = float(sim.attrs.get("gravity", _G))
    window = t >= t[0] + float(settle)
    skipped: list[str] = []
    if window.sum() < 2:
        skipped.append(f"settle={settle} s leaves fewer than 2 samples of the {t[-1] - t[0]:.3g} s simulation: "
                       "all gait metrics NaN")
    tw = t[window]

    fell = np.zeros(n, dtype=bool)
    for name in ("fell", "failed"):
        if name in sim:
            fell |= members(name).astype(bool)
    bad = fell | (window.sum() < 2)

    # pelvis travel
    ix = coords.index("pelvis_tx") if "pelvis_tx" in coords else None
    speed, distance = _nan(n), _nan(n)
    if ix is None:
        skipped.append("speed, distance, stride_length, cost_of_transport: no 'pelvis_tx' coordinate")
    elif window.sum() >= 2:
        x = q[:, window, ix]
        distance = x[:, -1] - x[:, 0]
        speed = distance / (tw[-1] - tw[0])

    # body mass and weight
    if "body_mass" in sim:
        mass = members("body_mass").astype(float)
        mass_source = "variable body_mass"
    elif "subject_mass" in sim.attrs:
        mass = np.full(n, float(sim.attrs["subject_mass"]))
        mass_source = "attrs['subject_mass']"
    else:
        mass = _nan(n)
        mass_source = "mean total vertical GRF / g over the steady part"

    sides: list[str] = []
    fy = None
    if "grf" in sim and "side" in sim.dims and sim.sizes["side"] > 0:
        sides = [str(s) for s in sim.side.values]
        fy = members("grf", "time", "side", "axis")[..., list(sim.axis.values).index("y")]
        if mass_source.startswith("mean") and window.sum() >= 2:
            mass = np.nanmean(fy[:, window].sum(-1), axis=1) / g
    else:
        skipped.append("cadence, step and stride metrics, stance_pct, gait_deviation: no 'grf' per side")
    ns = len(sides)
    estimated_mass = mass_source.startswith("mean")
    if estimated_mass:
        mass_source = ("mean total vertical GRF / g over whole strides of the steady part (window mean for the "
                       "contact threshold)")
    letters = [_side_letter(s, i) for i, s in enumerate(sides)]

    cadence, stride_time, stride_length, asym = _nan(n), _nan(n), _nan(n), _nan(n)
    stance, step_time, n_strides = _nan(n, ns), _nan(n, ns), np.zeros((n, ns))
    strikes_of: list[list[np.ndarray]] = [[np.zeros(0)] * ns for _ in range(n)]
    if fy is not None and window.sum() >= 2:
        for b in range(n):
            if bad[b]:
                continue
            bw = mass[b] * g
            if not np.isfinite(bw) or bw <= 0:
                continue
            all_strikes, all_labels, times, lengths = [], [], [], []
            for s in range(ns):
                on, off = foot_events(t, fy[b, :, s], threshold * bw)
                on = on[on >= tw[0]]
                strikes_of[b][s] = on
                all_strikes.extend(on.tolist())
                all_labels.extend([s] * on.size)
                if on.size < 2:
                    continue
                n_strides[b, s] = on.size - 1
                times.extend(np.diff(on).tolist())
                if ix is not None:
                    lengths.extend(np.diff(np.interp(on, t, q[b, :, ix])).tolist())
                pct = []
                for t0, t1 in zip(on[:-1], on[1:]):
                    offs = off[(off > t0) & (off <= t1)]
                    if offs.size:
                        pct.append(100.0 * (offs[0] - t0) / (t1 - t0))
                stance[b, s] = np.mean(pct) if pct else np.nan
            if times:
                stride_time[b] = np.mean(times)
            if lengths:
                stride_length[b] = np.mean(lengths)
            order = np.argsort(all_strikes, kind="stable")
            st = np.asarray(all_strikes)[order]
            lab = np.asarray(all_labels)[order]
            steps = [[] for _ in range(ns)]
            for k in range(1, st.size):
                if lab[k] != lab[k - 1]:
                    steps[lab[k]].append(st[k] - st[k - 1])
            for s in range(ns):
                step_time[b, s] = np.mean(steps[s]) if steps[s] else np.nan
            if np.all(np.isfinite(step_time[b])) and ns:
                cadence[b] = 60.0 / np.mean(step_time[b])
            elif np.isfinite(stride_time[b]):
                cadence[b] = 120.0 / stride_time[b]
            if estimated_mass and strikes_of[b][0].size >= 2:
                # body weight over whole strides (the window mean is biased by a partial stride)
                t0, t1 = strikes_of[b][0][0], strikes_of[b][0][-1]
                inside = (t >= t0) & (t <= t1)
                total = fy[b][inside].sum(-1)
                mass[b] = np.sum(0.5 * (total[1:] + total[:-1]) * np.diff(t[inside])) / (t[inside][-1] -
                                                                                         t[inside][0]) / g
            if "r" in letters and "l" in letters:
                r, l_ = step_time[b, letters.index("r")], step_time[b, letters.index("l")]
                asym[b] = 200.0 * abs(r - l_) / (r + l_)

    # joint angles
    rot = [i for i, c in enumerate(ctype) if c == "rotational"]
    rot_names = [coords[i] for i in rot]
    deg = 180.0 / math.pi
    qmax, qmin = _nan(n, len(rot)), _nan(n, len(rot))
    if window.sum() >= 1 and rot:
        qw = q[:, window][:, :, rot] * deg
        qmax, qmin = qw.max(axis=1), qw.min(axis=1)
    qmax[bad], qmin[bad] = np.nan, np.nan

    data: dict[str, Any] = {}

    def put(name, values, dims, units, long_name, *, gait=True, **attrs):
        values = np.asarray(values)
        if gait:  # a gait metric: NaN for members that fell (or too short a simulation)
            values = values.astype(float)
            values[bad] = np.nan
        data[name] = (tuple(mdims) + dims, values.reshape(mshape + values.shape[1:]),
                      {"units": units, "long_name": long_name, **attrs})

    put("speed", speed, (), "m/s", "mean forward speed (pelvis_tx) over the steady part")
    put("distance", distance, (), "m", "forward pelvis travel over the steady part")
    if fy is not None:
        put("cadence", cadence, (), "steps/min", "cadence: 60 / mean step time (mean of the sides)")
        put("stride_time", stride_time, (), "s", "mean stride time (both sides)")
        put("stride_length", stride_length, (), "m", "mean pelvis travel per stride (both sides)")
        put("step_time", step_time, ("side",), "s", "mean step time (last other-side strike to this strike)")
        put("step_time_asymmetry", asym, (), "%", "step-time symmetry index 200 |R - L| / (R + L) "
            "(Robinson et al. 1987, absolute)")
        put("stance_pct", stance, ("side",), "%", "stance phase, percent of the stride")
        put("n_strides", n_strides, ("side",), "1", "complete strides in the steady part")
    put("rom", qmax - qmin, ("coordinate",), "deg", "range of motion over the steady part")
    put("q_max", qmax, ("coordinate",), "deg", "maximum over the steady part")
    put("q_min", qmin, ("coordinate",), "deg", "minimum over the steady part")

    # ankle kinetics
    ankle = [coords.index(f"ankle_angle_{c}") if f"ankle_angle_{c}" in coords else None for c in letters]
    for var, name, sign, units, long_name in (
            ("moment", "peak_ankle_plantarflexion_moment", -1.0, "N m",
             "peak ankle plantarflexion moment (max of -moment(ankle_angle); dorsiflexion positive)"),
            ("power", "peak_ankle_power", 1.0, "W", "peak ankle power (push-off)")):
        if var not in sim:
            skipped.append(f"{name}: no '{var}' variable in the simulation")
            continue
        if fy is None:
            skipped.append(f"{name}: no 'side' dim to assign the ankles to")
            continue
        v = members(var, "time", "coordinate").astype(float)
        out = _nan(n, ns)
        for s, i in enumerate(ankle):
            if i is not None and window.any():
                out[:, s] = np.max(sign * v[:, window, i], axis=1)
        put(name, out, ("side",), units, long_name)

    # metabolic cost of transport
    if "metabolic_power" not in sim:
        skipped.append("cost_of_transport: no 'metabolic_power' variable")
    else:
        cot = _nan(n)
        if window.sum() >= 2:
            p = members("metabolic_power", "time").astype(float)[:, window]
            energy = np.sum(0.5 * (p[:, 1:] + p[:, :-1]) * np.diff(tw), axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                cot = np.where(distance > 0, energy / (mass * distance), np.nan)
        put("cost_of_transport", cot, (), "J/kg/m", "metabolic energy / (body mass x distance) over the steady part")
    put("body_mass", mass, (), "kg", f"body mass used ({mass_source})", gait=False)

    # gait deviation from normative
    if fy is not None:
        dev, dev_joint, note = _deviation(q, t, coords, letters, strikes_of, speed, bad, sim, window, leg_length,
                                          normative_path)
        extra = {"note": note} if note else {}
        put("gait_deviation", dev, ("side",), "deg",
            "RMS deviation of the mean gait cycle (hip_flexion, knee_angle, ankle_angle) from the Schwartz 2008 "
            "normative mean at the member's speed", reference="Schwartz MH, Rozumalski A, Trost JP (2008) "
            "J Biomech 41:1639-1650", **extra)
        put("gait_deviation_joint", dev_joint, ("side", "joint"), "deg",
            "RMS deviation of each joint's mean gait cycle from the normative mean", **extra)
    put("fell", fell, (), "1", "fell or failed (gait metrics NaN)", gait=False)

    out_coords: dict[str, Any] = {d: sim[d].values for d in mdims if d in sim.coords}
    out_coords["coordinate"] = rot_names
    if fy is not None:
        out_coords["side"] = sides
        out_coords["joint"] = list(GDI_JOINTS)
    attrs = {
        "kind": "metrics",
        "source": "twin.metrics.metrics",
        "history": "",
        "settle": float(settle),
        "threshold": float(threshold),
        "events": f"foot strike/off: vertical GRF crossing {threshold:g} x body weight ({mass_source})",
        "skipped": "; ".join(skipped),
    }
    if "scenarios" in sim.attrs:
        attrs["scenarios"] = sim.attrs["scenarios"]
    return xr.Dataset(data, coords=out_coords, attrs=attrs)


def _deviation(q, t, coords, letters, strikes_of, speed, bad, sim, window, leg_length, path):
    n, ns = q.shape[0], len(letters)
    dev, dev_joint = _nan(n, ns), _nan(n, ns, len(GDI_JOINTS))
    norm = _Normative(path)
    if norm.note:
        return dev, dev_joint, norm.note
    from .gait.normative import speed_category

    note = ""
    if leg_length is None and "leg_length" in sim.attrs:
        leg_length = float(sim.attrs["leg_length"])
    if leg_length is None:
        if "pelvis_ty" in coords and window.any():
            legs = q[:, window, coords.index("pelvis_ty")].mean(axis=1)
            note = "leg length for the normative speed group: mean pelvis height (pelvis_ty)"
        else:
            legs = np.full(n, 0.9)
            note = "leg length for the normative speed group: 0.9 m (no leg_length given, no pelvis_ty)"
    else:
        legs = np.full(n, float(leg_length))
    pct = np.linspace(0.0, 1.0, 101)
    for b in range(n):
        if bad[b] or not np.isfinite(speed[b]) or speed[b] <= 0 or not legs[b] > 0:
            continue
        category = speed_category(float(speed[b]), float(legs[b]))
        for s, letter in enumerate(letters):
            on = strikes_of[b][s]
            names = [f"{j}_{letter}" for j in GDI_JOINTS]
            if on.size < 2 or not all(c in coords for c in names):
                continue
            sq = []
            for j, c in enumerate(names):
                x = q[b, :, coords.index(c)]
                cycles = [np.interp(t0 + pct * (t1 - t0), t, x) for t0, t1 in zip(on[:-1], on[1:])]
                diff = (np.mean(cycles, axis=0) - norm.curve(GDI_JOINTS[j], category)) * (180.0 / math.pi)
                dev_joint[b, s, j] = math.sqrt(float(np.mean(diff ** 2)))
                sq.append(diff ** 2)
            dev[b, s] = math.sqrt(float(np.mean(sq)))
    return dev, dev_joint, note
