"""The Dataset kinds twin passes between stages, and their validation.

Every stage of twin exchanges plain :class:`xarray.Dataset` objects (no
subclassing). ``ds.attrs["kind"]`` says which kind a Dataset is; this module
lists, for each kind, the variables it may hold, their dims and their units,
and :func:`validate` checks a Dataset against that list.

Conventions (see ``design.md``):

* SI units inside: m, s, N, N·m, kg, rad. Every variable has ``units`` and
  ``long_name`` attrs.
* Global frame as OpenSim: **X forward, Y up, Z right**. Readers convert and
  say what they did in ``attrs["history"]`` (one line per step).
* ``time`` is the point (marker/kinematic) time base, in s, with its sampling
  rate in ``attrs["rate"]``. Data sampled at another rate (force plates, EMG,
  analog channels) lives on the ``analog_time`` dim, rate in
  ``attrs["analog_rate"]``. A Dataset holding only one rate uses ``time``.
* Gait events are the variable ``event_time(event)`` [s] with coords
  ``event_label(event)`` (``"foot_strike"`` or ``"foot_off"``, or the file's
  own label otherwise) and ``event_side(event)`` (``"left"``, ``"right"`` or
  ``""``).

Recording variables
-------------------
================  =====================================  ==========
variable          dims                                   units
================  =====================================  ==========
markers           (time, marker, axis)                   m
grf               (time|analog_time, plate|side, axis)   N
cop               (time|analog_time, plate|side, axis)   m
free_moment       (time|analog_time, plate|side, axis)   N m
analog            (time|analog_time, channel)            per channel (``channel_units`` coord)
emg               (time|analog_time, muscle)             V (or 1 when normalised)
imu_acc           (time, sensor, axis)                   m/s^2
imu_gyro          (time, sensor, axis)                   rad/s
imu_orientation   (time, sensor, quaternion)             1 (w, x, y, z)
keypoints         (time, camera, keypoint, uv)           px
keypoint_score    (time, camera, keypoint)               1
landmarks         (time, landmark, axis)                 m
angle             (time, coordinate)                     rad
================  =====================================  ==========

Attrs: ``rate`` [Hz], ``subject_mass`` [kg] and ``subject_height`` [m] when
known, ``source`` (file), ``history`` (what readers and functions did).

Kinematics: ``q(time, coordinate)`` (rad for rotational coordinates, m for
translational ones; coord ``coordinate_type``), optional ``qdot``, ``qddot``.
Dynamics: ``moment(time, coordinate)`` (N·m, or N for translational).
Table: ``table(time, column)`` for a storage file twin does not interpret.

Simulation variables
--------------------
What :func:`twin.engine.simulate` returns (``attrs["kind"] = "simulation"``):
every variable has one or two leading **member** dims, ``batch`` (engine
batch index) and/or ``scenario`` (string labels, e.g. ``"baseline"`` first,
from the twin's scenario runs), in that order when both are present:
``(scenario, batch, ...)``.

================  ==============================  ==========
variable          dims (after the member dims)    units
================  ==============================  ==========
q                 (time, coordinate)              rad or m (see ``coordinate_type``)
qdot              (time, coordinate)              rad/s or m/s
qddot             (time, coordinate)              rad/s^2 or m/s^2
moment            (time, coordinate)              N m or N
power             (time, coordinate)              W
grf               (time, side, axis)              N
excitation        (time, muscle)                  1
activation        (time, muscle)                  1
muscle_force      (time, muscle)                  N
fiber_length      (time, muscle)                  m
metabolic_power   (time,)                         W
body_mass         ()                              kg
fell, failed      ()                              1 (bool)
fell_time         ()                              s (NaN: never)
failed_time       ()                              s (NaN: never)
================  ==============================  ==========

Metrics: what :func:`twin.metrics.metrics` returns (``attrs["kind"] =
"metrics"``): gait measures per member; only the general rules apply
(every variable has ``units``; time, if any, increasing).

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> ds = schema.recording(np.arange(3) / 100.0,
...                       markers=np.zeros((3, 1, 3)), marker_names=["RHEE"])
>>> schema.validate(ds)
>>> ds.markers.attrs["units"]
'm'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .errors import SchemaError

__all__ = [
    "AXES",
    "KINDS",
    "VARIABLES",
    "recording",
    "kinematics",
    "dynamics",
    "table",
    "simulation",
    "add_history",
    "validate",
    "time_dim",
    "events",
]

AXES = ("x", "y", "z")
UV = ("u", "v")
QUATERNION = ("w", "x", "y", "z")
TIME_DIMS = ("time", "analog_time")
KINDS = ("recording", "kinematics", "dynamics", "table", "events", "simulation", "metrics")
#: Leading dims that index the members of a simulation, in their required order.
MEMBER_DIMS = ("scenario", "batch")

#: variable -> (allowed dims pattern, units, long_name). A ``None`` in units
#: means per-channel units, given by a coord named ``<dim>_units``.
VARIABLES: dict[str, tuple[tuple[Any, ...], str | None, str]] = {
    "markers": (("time", "marker", "axis"), "m", "marker position"),
    "grf": ((TIME_DIMS, ("plate", "side"), "axis"), "N", "ground reaction force"),
    "cop": ((TIME_DIMS, ("plate", "side"), "axis"), "m", "centre of pressure"),
    "free_moment": ((TIME_DIMS, ("plate", "side"), "axis"), "N m", "ground reaction free moment"),
    "analog": ((TIME_DIMS, "channel"), None, "analog channel"),
    "emg": ((TIME_DIMS, "muscle"), None, "electromyography (V, or 1 when normalised)"),
    "imu_acc": (("time", "sensor", "axis"), "m/s^2", "IMU acceleration (specific force, gravity included)"),
    "imu_gyro": (("time", "sensor", "axis"), "rad/s", "IMU angular rate"),
    "imu_orientation": (("time", "sensor", "quaternion"), "1", "IMU orientation quaternion (w, x, y, z)"),
    "keypoints": (("time", "camera", "keypoint", "uv"), "px", "2D image keypoint"),
    "keypoint_score": (("time", "camera", "keypoint"), "1", "2D keypoint confidence"),
    "landmarks": (("time", "landmark", "axis"), "m", "anatomical landmark position"),
    "angle": (("time", "coordinate"), "rad", "joint angle"),
    "q": (("time", "coordinate"), None, "generalized coordinate"),
    "qdot": (("time", "coordinate"), None, "generalized speed"),
    "qddot": (("time", "coordinate"), None, "generalized acceleration"),
    "moment": (("time", "coordinate"), None, "generalized force (joint moment)"),
    "table": (("time", "column"), None, "storage table column"),
    "event_time": (("event",), "s", "gait event time"),
}

#: Simulation variable -> (dims after the member dims, units, long_name); units None: any
#: string (the engine writes e.g. ``"rad or m (see coordinate_type)"``).
SIMULATION_VARIABLES: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "q": (("time", "coordinate"), None, "generalized coordinate"),
    "qdot": (("time", "coordinate"), None, "generalized speed"),
    "qddot": (("time", "coordinate"), None, "generalized acceleration"),
    "moment": (("time", "coordinate"), None, "generalized force (joint moment)"),
    "power": (("time", "coordinate"), "W", "joint power"),
    "grf": (("time", "side", "axis"), "N", "ground reaction force"),
    "excitation": (("time", "muscle"), "1", "muscle excitation"),
    "activation": (("time", "muscle"), "1", "muscle activation"),
    "muscle_force": (("time", "muscle"), "N", "musculotendon (tendon) force"),
    "fiber_length": (("time", "muscle"), "m", "muscle fibre length"),
    "metabolic_power": (("time",), "W", "whole-body metabolic power"),
    "body_mass": ((), "kg", "body mass"),
    "fell": ((), "1", "fell"),
    "failed": ((), "1", "non-finite state detected"),
    "fell_time": ((), "s", "time the fall was detected (NaN: never)"),
    "failed_time": ((), "s", "time the non-finite state was detected (NaN: never)"),
}
_SIM_DEFAULT_UNITS = {"q": "rad or m (see coordinate_type)", "qdot": "rad/s or m/s (see coordinate_type)",
                      "qddot": "rad/s^2 or m/s^2 (see coordinate_type)",
                      "moment": "N m or N (see coordinate_type)"}
#: Variables allowed to be entirely NaN (NaN means "never happened").
_MAY_BE_ALL_NAN = ("fell_time", "failed_time")

_FIXED_COORDS = {"axis": AXES, "uv": UV, "quaternion": QUATERNION}


def _var(name: str, values: Any, dims: tuple[str, ...], units: str | None = None) -> tuple:
    spec_units, long_name = VARIABLES[name][1], VARIABLES[name][2]
    return (dims, np.asarray(values, dtype=float),
            {"units": units if units is not None else spec_units, "long_name": long_name})


def _time_var(time: Sequence[float] | np.ndarray, name: str = "time") -> tuple:
    return ((name,), np.asarray(time, dtype=float), {"units": "s", "long_name": "time" if name == "time" else "analog time"})


def recording(
    time: Sequence[float] | np.ndarray,
    *,
    markers: np.ndarray | None = None,
    marker_names: Sequence[str] | None = None,
    analog_time: Sequence[float] | np.ndarray | None = None,
    grf: np.ndarray | None = None,
    cop: np.ndarray | None = None,
    free_moment: np.ndarray | None = None,
    plates: Sequence[str] | None = None,
    plate_dim: str = "plate",
    source: str = "",
    history: str = "",
    rate: float | None = None,
    analog_rate: float | None = None,
    extra_vars: dict[str, Any] | None = None,
    extra_coords: dict[str, Any] | None = None,
    **attrs: Any,
) -> xr.Dataset:
    """Build a Recording Dataset from arrays already in SI units and OpenSim axes.

    Parameters
    ----------
    time : array (n_time,)
        Point time base [s].
    markers : array (n_time, n_marker, 3), optional
        Marker positions [m].
    marker_names : sequence of str, optional
        Labels, required with ``markers``.
    analog_time : array (n_analog,), optional
        Time base of force/analog data when it differs from ``time`` [s].
    grf, cop, free_moment : array (n, n_plate, 3), optional
        Force [N], centre of pressure [m], free moment [N m] per plate/side.
    plates : sequence of str, optional
        Names along ``plate_dim`` (e.g. ``["1", "2"]`` or ``["left", "right"]``).
    plate_dim : {"plate", "side"}
        Dim name for the force variables.
    source, history : str
        Provenance; ``history`` lines describe conversions done.
    rate, analog_rate : float, optional
        Sampling rates [Hz]; estimated from the time bases when omitted.
    extra_vars, extra_coords : dict, optional
        More variables / coords, as ``(dims, values, attrs)`` tuples or
        DataArrays, added in the same construction (building a Dataset once
        is much cheaper than adding variables one by one).
    **attrs
        Extra attrs (e.g. ``subject_mass``).

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] == "recording"``.
    """
    coords: dict[str, Any] = {"time": _time_var(time)}
    data: dict[str, Any] = {}
    if markers is not None:
        if marker_names is None:
            raise SchemaError("recording(): markers given without marker_names")
        data["markers"] = _var("markers", markers, ("time", "marker", "axis"))
        coords.update(marker=list(marker_names), axis=list(AXES))
    force_time = "time"
    if analog_time is not None:
        force_time = "analog_time"
        coords["analog_time"] = _time_var(analog_time, "analog_time")
    for name, values in (("grf", grf), ("cop", cop), ("free_moment", free_moment)):
        if values is not None:
            data[name] = _var(name, values, (force_time, plate_dim, "axis"))
    if plates is not None:
        coords.update({plate_dim: list(plates), "axis": list(AXES)})
    out_attrs: dict[str, Any] = {"kind": "recording", "source": str(source), "history": history}
    out_attrs["rate"] = float(rate) if rate is not None else estimate_rate(coords["time"][1])
    if force_time == "analog_time":
        out_attrs["analog_rate"] = float(analog_rate) if analog_rate is not None else estimate_rate(analog_time)
    out_attrs.update(attrs)
    data.update(extra_vars or {})
    coords.update(extra_coords or {})
    return xr.Dataset(data, coords=coords, attrs=out_attrs)


def _generalized(kind: str, var: str, units: str, time, values, coordinates, coordinate_type, source, history,
                 attrs) -> xr.Dataset:
    coordinates = list(coordinates)
    if coordinate_type is None:
        coordinate_type = [guess_coordinate_type(c) for c in coordinates]
    coords = {"time": _time_var(time), "coordinate": coordinates,
              "coordinate_type": ("coordinate", list(coordinate_type))}
    out_attrs = {"kind": kind, "source": str(source), "history": history, "rate": estimate_rate(time)}
    out_attrs.update(attrs)
    return xr.Dataset({var: _var(var, values, ("time", "coordinate"), units=units)}, coords=coords, attrs=out_attrs)


def kinematics(
    time: Sequence[float] | np.ndarray,
    q: np.ndarray,
    coordinates: Sequence[str],
    *,
    coordinate_type: Sequence[str] | None = None,
    source: str = "",
    history: str = "",
    **attrs: Any,
) -> xr.Dataset:
    """Build a Kinematics Dataset: ``q(time, coordinate)`` in rad (rotational) or m.

    ``coordinate_type`` is ``"rotational"`` or ``"translational"`` per
    coordinate; when omitted, names ending in ``_tx``, ``_ty``, ``_tz`` are
    translational (OpenSim's convention) and the rest rotational.
    """
    return _generalized("kinematics", "q", "rad or m (see coordinate_type)", time, q, coordinates,
                        coordinate_type, source, history, attrs)


def dynamics(
    time: Sequence[float] | np.ndarray,
    moment: np.ndarray,
    coordinates: Sequence[str],
    *,
    coordinate_type: Sequence[str] | None = None,
    source: str = "",
    history: str = "",
    **attrs: Any,
) -> xr.Dataset:
    """Build a Dynamics Dataset: ``moment(time, coordinate)`` in N·m (or N)."""
    return _generalized("dynamics", "moment", "N m or N (see coordinate_type)", time, moment, coordinates,
                        coordinate_type, source, history, attrs)


def table(
    time: Sequence[float] | np.ndarray,
    values: np.ndarray,
    columns: Sequence[str],
    *,
    units: str = "unknown",
    source: str = "",
    history: str = "",
    **attrs: Any,
) -> xr.Dataset:
    """Build a Table Dataset ``table(time, column)`` for storage files twin does not interpret."""
    out_attrs = {"kind": "table", "source": str(source), "history": history, "rate": estimate_rate(time)}
    out_attrs.update(attrs)
    return xr.Dataset({"table": _var("table", values, ("time", "column"), units=units)},
                      coords={"time": _time_var(time), "column": list(columns)}, attrs=out_attrs)


def simulation(
    time: Sequence[float] | np.ndarray,
    *,
    q: np.ndarray,
    coordinates: Sequence[str],
    coordinate_type: Sequence[str] | None = None,
    qdot: np.ndarray | None = None,
    grf: np.ndarray | None = None,
    sides: Sequence[str] = ("right", "left"),
    excitation: np.ndarray | None = None,
    activation: np.ndarray | None = None,
    muscle_force: np.ndarray | None = None,
    fiber_length: np.ndarray | None = None,
    muscles: Sequence[str] | None = None,
    metabolic_power: np.ndarray | None = None,
    body_mass: Any = None,
    fell: Any = None,
    failed: Any = None,
    fell_time: Any = None,
    failed_time: Any = None,
    member_dims: str | Sequence[str] = "batch",
    members: Any = None,
    source: str = "",
    history: str = "",
    rate: float | None = None,
    extra_vars: dict[str, Any] | None = None,
    extra_coords: dict[str, Any] | None = None,
    **attrs: Any,
) -> xr.Dataset:
    """Build a Simulation Dataset (what :func:`twin.engine.simulate` returns) from arrays.

    Every array has the member dims first (``member_dims``), then the dims of
    the table in the module docstring: ``q`` is ``(*members, time,
    coordinate)``, ``grf`` ``(*members, time, side, axis)``, ``fell``
    ``(*members)``...

    Parameters
    ----------
    time : array (n_time,)
        [s], strictly increasing.
    q : array (*members, n_time, n_coordinate)
        Generalized coordinates, rad or m.
    coordinates : sequence of str
        Coordinate names.
    coordinate_type : sequence of str, optional
        ``"rotational"``/``"translational"`` per coordinate (default from
        the names, see :func:`guess_coordinate_type`).
    qdot : array like ``q``, optional
    grf : array (*members, n_time, n_side, 3), optional
        Ground reaction force per foot [N] (X forward, Y up, Z right).
    sides : sequence of str, default ("right", "left")
        Labels of the ``side`` dim (the engine's contact groups).
    excitation, activation, muscle_force, fiber_length : array (*members, n_time, n_muscle), optional
        1, 1, N, m.
    muscles : sequence of str, optional
        Muscle names; required with any muscle variable.
    metabolic_power : array (*members, n_time), optional
        [W].
    body_mass : array (*members), optional
        [kg]; :func:`twin.metrics.metrics` uses it for the cost of transport.
    fell, failed : bool array (*members), optional
        Default all False.
    fell_time, failed_time : array (*members), optional
        [s]; default NaN (never).
    member_dims : {"batch", "scenario"} or ("scenario", "batch"), keyword-only
        The leading dims.
    members : sequence, or dict of dim -> sequence, optional
        Labels of the member dims: a sequence for one member dim (default
        ``0..n-1`` for ``batch``; required, as strings, for ``scenario``),
        a dict for two.
    source, history : str
        Provenance.
    rate : float, optional
        Record rate [Hz]; estimated from ``time`` when omitted.
    extra_vars, extra_coords : dict, optional
        More variables / coords (``(dims, values, attrs)`` tuples or DataArrays).
    **attrs
        Extra attrs (e.g. ``dt``, ``subject_mass``).

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] == "simulation"``.

    Raises
    ------
    SchemaError
        Inconsistent shapes or labels, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(5) / 100.0
    >>> ds = schema.simulation(t, q=np.zeros((2, 3, 5, 1)), coordinates=["knee_angle_r"],
    ...                        member_dims=("scenario", "batch"),
    ...                        members={"scenario": ["baseline", "weak"], "batch": [0, 1, 2]})
    >>> schema.validate(ds)
    >>> ds.q.dims, ds.fell.dims, bool(ds.fell.any())
    (('scenario', 'batch', 'time', 'coordinate'), ('scenario', 'batch'), False)
    """
    mdims = (member_dims,) if isinstance(member_dims, str) else tuple(member_dims)
    if not mdims or len(set(mdims)) != len(mdims) or any(d not in MEMBER_DIMS for d in mdims) \
            or list(mdims) != [d for d in MEMBER_DIMS if d in mdims]:
        raise SchemaError(f"simulation(): member_dims={member_dims!r} must be 'batch', 'scenario' or "
                          "('scenario', 'batch')")
    t = np.asarray(time, dtype=float).reshape(-1)
    coordinates = [str(c) for c in coordinates]
    q = np.asarray(q, dtype=float)
    if q.ndim != len(mdims) + 2 or q.shape[-2:] != (t.size, len(coordinates)):
        raise SchemaError(f"simulation(): q has shape {q.shape}; expected (*{mdims}, time={t.size}, "
                          f"coordinate={len(coordinates)})")
    mshape = q.shape[:len(mdims)]
    coords: dict[str, Any] = {"time": _time_var(t), "coordinate": coordinates,
                              "coordinate_type": ("coordinate", list(coordinate_type) if coordinate_type is not None
                                                  else [guess_coordinate_type(c) for c in coordinates])}
    if isinstance(members, dict):
        labels = dict(members)
    elif members is None:
        labels = {}
    elif len(mdims) == 1:
        labels = {mdims[0]: members}
    else:
        raise SchemaError("simulation(): with two member dims, members must be a dict of dim -> labels")
    for d, n in zip(mdims, mshape):
        lab = labels.get(d)
        if lab is None:
            if d == "scenario":
                raise SchemaError("simulation(): member dim 'scenario' needs its labels: members=[...] (strings)")
            lab = np.arange(n)
        lab = [str(v) for v in lab] if d == "scenario" else list(lab)
        if len(lab) != n:
            raise SchemaError(f"simulation(): {len(lab)} labels for member dim {d!r} of size {n}")
        coords[d] = lab
    unknown = set(labels) - set(mdims)
    if unknown:
        raise SchemaError(f"simulation(): members given for {sorted(unknown)}, which are not in member_dims={mdims}")

    def var(name, values, tail, shape_tail, units=None, dtype=float):
        arr = np.asarray(values, dtype=dtype)
        if arr.ndim == 0 and not tail:
            arr = np.full(mshape, arr, dtype=dtype)
        want = mshape + tuple(shape_tail)
        if arr.shape != want:
            raise SchemaError(f"simulation(): {name} has shape {arr.shape}; expected {want} "
                              f"({', '.join(mdims + tail)})")
        spec_units, long_name = SIMULATION_VARIABLES[name][1], SIMULATION_VARIABLES[name][2]
        u = units or spec_units or _SIM_DEFAULT_UNITS[name]
        return (mdims + tail, arr, {"units": u, "long_name": long_name})

    nt, nq = t.size, len(coordinates)
    data: dict[str, Any] = {"q": var("q", q, ("time", "coordinate"), (nt, nq))}
    if qdot is not None:
        data["qdot"] = var("qdot", qdot, ("time", "coordinate"), (nt, nq))
    if grf is not None:
        sides = [str(v) for v in sides]
        data["grf"] = var("grf", grf, ("time", "side", "axis"), (nt, len(sides), 3))
        coords.update(side=sides, axis=list(AXES))
    muscle_vars = {"excitation": excitation, "activation": activation, "muscle_force": muscle_force,
                   "fiber_length": fiber_length}
    if any(v is not None for v in muscle_vars.values()):
        if muscles is None:
            raise SchemaError("simulation(): muscle variables given without muscles=[names]")
        coords["muscle"] = [str(m) for m in muscles]
        for name, values in muscle_vars.items():
            if values is not None:
                data[name] = var(name, values, ("time", "muscle"), (nt, len(coords["muscle"])))
    if metabolic_power is not None:
        data["metabolic_power"] = var("metabolic_power", metabolic_power, ("time",), (nt,))
    if body_mass is not None:
        data["body_mass"] = var("body_mass", body_mass, (), ())
    data["fell"] = var("fell", False if fell is None else fell, (), (), dtype=bool)
    data["failed"] = var("failed", False if failed is None else failed, (), (), dtype=bool)
    data["fell_time"] = var("fell_time", np.nan if fell_time is None else fell_time, (), ())
    data["failed_time"] = var("failed_time", np.nan if failed_time is None else failed_time, (), ())
    out_attrs: dict[str, Any] = {"kind": "simulation", "source": str(source), "history": history,
                                 "rate": float(rate) if rate is not None else estimate_rate(t)}
    out_attrs.update(attrs)
    data.update(extra_vars or {})
    coords.update(extra_coords or {})
    return xr.Dataset(data, coords=coords, attrs=out_attrs)


def events(
    times: Sequence[float],
    labels: Sequence[str],
    sides: Sequence[str],
    *,
    source: str = "",
) -> xr.Dataset:
    """Build an events Dataset (``event_time(event)`` with ``event_label``/``event_side`` coords), sorted by time."""
    t = np.asarray(times, dtype=float).reshape(-1)
    labels = [str(v) for v in labels]
    sides = [str(v) for v in sides]
    if not (len(t) == len(labels) == len(sides)):
        raise SchemaError("events(): times, labels and sides must have the same length")
    order = np.argsort(t, kind="stable")
    ds = xr.Dataset(
        {"event_time": _var("event_time", t[order], ("event",))},
        coords={
            "event_label": ("event", [labels[i] for i in order]),
            "event_side": ("event", [sides[i] for i in order]),
        },
    )
    ds.attrs.update(kind="events", source=str(source))
    return ds


def guess_coordinate_type(name: str) -> str:
    """``"translational"`` for OpenSim-style ``*_tx/_ty/_tz`` names, else ``"rotational"``."""
    return "translational" if name.rsplit("_", 1)[-1] in ("tx", "ty", "tz") else "rotational"


def estimate_rate(time: Sequence[float] | np.ndarray) -> float:
    """Sampling rate [Hz] from a time base (median step); NaN when fewer than 2 samples."""
    t = np.asarray(time, dtype=float)
    if t.size < 2:
        return float("nan")
    step = float(np.median(np.diff(t)))
    return float(1.0 / step) if step > 0 else float("nan")


def add_history(ds: xr.Dataset, line: str) -> xr.Dataset:
    """Return a shallow copy of ``ds`` with ``line`` appended to ``attrs["history"]``."""
    out = ds.copy()
    out.attrs = dict(ds.attrs)
    previous = out.attrs.get("history", "")
    out.attrs["history"] = f"{previous}\n{line}" if previous else line
    return out


def time_dim(da: xr.DataArray) -> str:
    """The time dim (``time`` or ``analog_time``) of a variable.

    Raises
    ------
    SchemaError
        When the variable has no time dim.
    """
    for d in da.dims:
        if d in TIME_DIMS:
            return str(d)
    raise SchemaError(f"variable {da.name!r} has no time dim (expected one of {TIME_DIMS}); dims are {da.dims}")


def _dims_match(dims: tuple[str, ...], pattern: tuple[Any, ...]) -> bool:
    if len(dims) != len(pattern):
        return False
    for d, p in zip(dims, pattern):
        allowed = p if isinstance(p, tuple) else (p,)
        if d not in allowed:
            return False
    return True


def _pattern_text(pattern: tuple[Any, ...]) -> str:
    return "(" + ", ".join("|".join(p) if isinstance(p, tuple) else p for p in pattern) + ")"


def validate(ds: xr.Dataset) -> None:
    """Check a Dataset against the twin schema.

    Checks the kind, that every known variable has the documented dims and a
    ``units`` attr, that coordinates of fixed dims (``axis``, ``uv``,
    ``quaternion``) are right, that time bases are finite and strictly
    increasing, and that no known variable is entirely NaN. Simulations are
    checked against their own table (member dims ``scenario``/``batch``
    first, bool ``fell``/``failed``, ``fell_time``/``failed_time`` may be all
    NaN, unique string ``scenario`` labels).

    Parameters
    ----------
    ds : xarray.Dataset

    Raises
    ------
    SchemaError
        Naming the variable and the problem.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from twin.schema import validate
    >>> try:
    ...     validate(xr.Dataset(attrs={"kind": "spaceship"}))
    ... except Exception as err:
    ...     print(err)
    attrs['kind']='spaceship' is not a twin Dataset kind; expected one of ('recording', 'kinematics', 'dynamics', 'table', 'events', 'simulation', 'metrics')
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    kind = ds.attrs.get("kind")
    if kind not in KINDS:
        raise SchemaError(f"attrs['kind']={kind!r} is not a twin Dataset kind; expected one of {KINDS}")
    for tname in TIME_DIMS:
        if tname in ds.coords:
            t = np.asarray(ds[tname].values, dtype=float)
            if not np.all(np.isfinite(t)):
                raise SchemaError(f"coordinate {tname!r} has non-finite values")
            if t.size > 1 and not np.all(np.diff(t) > 0):
                bad = int(np.argmax(np.diff(t) <= 0))
                raise SchemaError(
                    f"coordinate {tname!r} is not strictly increasing (at index {bad}: {t[bad]} then {t[bad + 1]})"
                )
            if ds[tname].attrs.get("units") != "s":
                raise SchemaError(f"coordinate {tname!r} must have units 's'")
    for dim, labels in _FIXED_COORDS.items():
        if dim in ds.dims:
            got = tuple(str(v) for v in ds[dim].values) if dim in ds.coords else None
            if got != labels:
                raise SchemaError(f"dim {dim!r} must have coordinate {labels}, got {got}")
    if kind == "simulation":
        _validate_simulation(ds)
        return
    for name, da in ds.data_vars.items():
        if name not in VARIABLES:
            if "units" not in da.attrs:
                raise SchemaError(f"variable {name!r} has no 'units' attr; every variable needs one")
            continue
        pattern, units, _ = VARIABLES[name]
        if not _dims_match(tuple(str(d) for d in da.dims), pattern):
            raise SchemaError(f"variable {name!r} has dims {da.dims}; expected {_pattern_text(pattern)}")
        if "units" not in da.attrs:
            raise SchemaError(f"variable {name!r} has no 'units' attr (expected {units!r})")
        if units is not None and da.attrs["units"] != units:
            raise SchemaError(f"variable {name!r} has units {da.attrs['units']!r}; the schema needs {units!r}")
        if units is None and name == "analog" and "channel_units" not in ds.coords:
            raise SchemaError("variable 'analog' needs a 'channel_units' coord giving each channel's units")
        if da.size and np.issubdtype(da.dtype, np.number) and not np.any(np.isfinite(da.values)):
            raise SchemaError(f"variable {name!r} is entirely NaN/inf; drop it or fix the source")
    if kind == "recording" and "time" in ds.dims and "rate" not in ds.attrs:
        raise SchemaError("a recording needs attrs['rate'] (Hz) for its 'time' dim")
    if "analog_time" in ds.dims and "analog_rate" not in ds.attrs:
        raise SchemaError("a Dataset with an 'analog_time' dim needs attrs['analog_rate'] (Hz)")


def _validate_simulation(ds: xr.Dataset) -> None:
    """The simulation-specific checks of :func:`validate` (member dims, variable table, bool flags)."""
    present = [d for d in MEMBER_DIMS if d in ds.dims]
    if not present:
        raise SchemaError(f"a simulation needs a member dim ({' and/or '.join(MEMBER_DIMS)}); dims are "
                          f"{tuple(ds.dims)}")
    if "time" not in ds.dims:
        raise SchemaError("a simulation needs a 'time' dim")
    if "time" not in ds.coords:
        raise SchemaError("a simulation needs a 'time' coordinate [s]")
    if "scenario" in ds.dims:
        if "scenario" not in ds.coords:
            raise SchemaError("dim 'scenario' needs a coordinate of string labels (e.g. 'baseline', ...)")
        labels = [str(v) for v in ds["scenario"].values]
        if not all(isinstance(v, str) for v in ds["scenario"].values.tolist()):
            raise SchemaError(f"coordinate 'scenario' must hold strings, got {ds['scenario'].values.tolist()!r}")
        if len(set(labels)) != len(labels):
            raise SchemaError(f"coordinate 'scenario' has repeated labels: {labels}")
    for name, da in ds.data_vars.items():
        dims = tuple(str(d) for d in da.dims)
        if "units" not in da.attrs:
            raise SchemaError(f"variable {name!r} has no 'units' attr; every variable needs one")
        if name not in SIMULATION_VARIABLES:
            continue
        tail, units, _ = SIMULATION_VARIABLES[name]
        lead = tuple(d for d in dims if d in MEMBER_DIMS)
        if dims != lead + tail or list(lead) != [d for d in MEMBER_DIMS if d in lead] or not lead:
            want = "(" + ", ".join(["scenario|batch ..."] + list(tail)) + ")"
            raise SchemaError(f"variable {name!r} has dims {da.dims}; expected {want} (member dims "
                              f"{MEMBER_DIMS} first, in that order)")
        if units is not None and da.attrs["units"] != units:
            raise SchemaError(f"variable {name!r} has units {da.attrs['units']!r}; the schema needs {units!r}")
        if name in ("fell", "failed"):
            if da.dtype != bool:
                raise SchemaError(f"variable {name!r} must be bool, not {da.dtype}")
            continue
        if name not in _MAY_BE_ALL_NAN and da.size and np.issubdtype(da.dtype, np.number) \
                and not np.any(np.isfinite(da.values)):
            raise SchemaError(f"variable {name!r} is entirely NaN/inf; drop it or fix the source")
