"""`BodyParams`: every number that defines a body, in SI units, as one frozen dataclass.

A body is a tree of rigid :class:`Segment` s, each hanging from its parent by
one :class:`Joint` (with its :class:`Coordinate` s), plus :class:`Muscle` s
whose paths run through :class:`PathPoint` s fixed on, or moving with, the
segments, foot :class:`ContactSphere` s touching a ground half-space (force
law parameters in :class:`ContactModel`) and named :class:`MarkerSet` s.

Units (SI everywhere): lengths and positions m, masses kg, inertias kg m^2
(about the segment's centre of mass, in the segment frame), angles rad,
forces N, times s. Positions are in the frame of the segment named beside
them. Frames follow OpenSim: X forward, Y up, Z to the right of the body.

The default body (:meth:`BodyParams.default`) is OpenSim's Gait10dof18musc
model (Ajay Seth, after Delp et al. 1990 and Anderson & Pandy 1999/2001;
``opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim``, CC BY 3.0):
its segments, joints (the knee's spline-coupled translations included),
muscle parameters and muscle paths (conditional and moving path points
included) are copied number for number into ``gait10dof18musc.json`` beside
this module. The reference model has no marker set, no contact geometry and
no patella (its quadriceps insertions move with knee angle instead), so:

* markers: see :mod:`twin.model.markers` (``subject01``, ``plug_in_gait``,
  ``opencap``);
* contact: one heel and one forefoot sphere per foot, centres, radii and
  force-law parameters as in Falisse et al. (2019) and OpenSim Moco's
  ``example2DWalking`` model, which is built on this same model.

Every object checks its own values when it is made, and
:meth:`BodyParams.validate` (run at construction) checks that names refer to
things that exist; a bad value raises :class:`~twin.errors.ParameterError`
naming the parameter.

Examples
--------
>>> from twin.model import BodyParams
>>> body = BodyParams.default()
>>> round(body.mass, 4), body.height
(75.1646, 1.8)
>>> body.coordinate_names[:4]
('pelvis_tilt', 'pelvis_tx', 'pelvis_ty', 'hip_flexion_r')
>>> body.muscle("soleus_r").optimal_fiber_length
0.05
>>> import dataclasses
>>> try:
...     dataclasses.replace(body.segment("femur_r"), mass=-1.0)
... except Exception as err:
...     print(err)
segment 'femur_r': mass=-1.0 must be > 0 (kg)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = [
    "Spline",
    "Coordinate",
    "Joint",
    "Segment",
    "PathPoint",
    "Muscle",
    "ContactSphere",
    "ContactModel",
    "Marker",
    "MarkerSet",
    "BodyParams",
    "JOINT_TYPES",
    "REFERENCE_MODEL",
]

Vec3 = tuple[float, float, float]

#: Joint types and the number of coordinates each has.
JOINT_TYPES: dict[str, int] = {"planar": 3, "pin": 1, "weld": 0}

#: The reference model the default body reproduces (path under TWIN_DATA_DIR).
REFERENCE_MODEL = "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim"

_DATA = Path(__file__).with_name("gait10dof18musc.json")


# ----------------------------------------------------------------------------- checks


def _fail(owner: str, message: str) -> None:
    raise ParameterError(f"{owner}: {message}")


def _name(owner: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        _fail(owner, f"{field}={value!r} must be a non-empty string without surrounding spaces")
    return value


def _number(owner: str, field: str, value: Any, units: str, *, positive: bool = False,
            nonnegative: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(owner, f"{field}={value!r} must be a number ({units})")
    if not math.isfinite(x):
        _fail(owner, f"{field}={value!r} must be finite ({units})")
    if positive and not x > 0:
        _fail(owner, f"{field}={value!r} must be > 0 ({units})")
    if nonnegative and not x >= 0:
        _fail(owner, f"{field}={value!r} must be >= 0 ({units})")
    return x


def _vector(owner: str, field: str, value: Any, n: int, units: str) -> tuple[float, ...]:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(owner, f"{field}={value!r} must be {n} numbers ({units})")
    if arr.shape != (n,):
        _fail(owner, f"{field}={value!r} must be {n} numbers ({units})")
    if not np.all(np.isfinite(arr)):
        _fail(owner, f"{field}={value!r} must be finite ({units})")
    return tuple(float(v) for v in arr)


def _range(owner: str, field: str, value: Any, units: str) -> tuple[float, float]:
    lo, hi = _vector(owner, field, value, 2, units)
    if lo > hi:
        _fail(owner, f"{field}={value!r}: min {lo} > max {hi} ({units})")
    return lo, hi


def _set(obj: Any, **values: Any) -> None:
    for k, v in values.items():
        object.__setattr__(obj, k, v)


def _tuple_of(owner: str, field: str, value: Any, cls: type) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        _fail(owner, f"{field} must be a sequence of {cls.__name__}")
    items = tuple(cls.from_dict(v) if isinstance(v, Mapping) else v for v in value)
    for v in items:
        if not isinstance(v, cls):
            _fail(owner, f"{field} must hold {cls.__name__} objects, not {type(v).__name__}")
    return items


def _unique(owner: str, what: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            _fail(owner, f"{what} name {n!r} is used twice")
        seen.add(n)


class _Record:
    """Helpers shared by the parameter records: dict round trip."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists, nested records dicts)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """Inverse of :meth:`to_dict`; unknown keys raise ParameterError."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        extra = set(data) - names
        if extra:
            raise ParameterError(f"{cls.__name__}: unknown field(s) {sorted(extra)}; known: {sorted(names)}")
        return cls(**dict(data))


def _plain(v: Any) -> Any:
    if isinstance(v, _Record):
        return v.to_dict()
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


# ----------------------------------------------------------------------------- spline


@dataclass(frozen=True)
class Spline(_Record):
    """A cubic spline ``y(x)`` through knots, evaluated exactly as OpenSim's ``SimmSpline``.

    OpenSim's SimmSpline is the interpolating cubic of Forsythe, Malcolm &
    Moler (1977) ("Computer Methods for Mathematical Computations",
    routine ``spline``): end conditions match the third derivative of the
    cubic through the first (last) four knots; two knots give a straight
    line; outside the knots it continues along the end tangent.

    Parameters
    ----------
    x : sequence of float
        Knots of the independent variable, strictly increasing (at least 2);
        a coordinate value (rad for an angle).
    y : sequence of float
        Values at the knots (m for the translations and path-point positions
        used here).

    Examples
    --------
    >>> s = Spline((0.0, 1.0, 2.0, 3.0), (0.0, 1.0, 8.0, 27.0))
    >>> float(s(1.5))        # the cubic x**3 is reproduced exactly
    3.375
    >>> float(s.scaled(2.0)(1.5))
    6.75
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        owner = "spline"
        x = np.asarray(self.x, dtype=float).ravel() if self.x is not None else np.zeros(0)
        y = np.asarray(self.y, dtype=float).ravel() if self.y is not None else np.zeros(0)
        if x.size < 2 or x.size != y.size:
            _fail(owner, f"needs at least 2 knots and as many x as y values (got {x.size} x, {y.size} y)")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            _fail(owner, "knots must be finite")
        if not np.all(np.diff(x) > 0):
            _fail(owner, f"x knots must be strictly increasing, got {x.tolist()}")
        _set(self, x=tuple(float(v) for v in x), y=tuple(float(v) for v in y))

    @functools.cached_property
    def _coefficients(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = np.array(self.x)
        y = np.array(self.y)
        n = x.size
        b = np.zeros(n)
        c = np.zeros(n)
        d = np.zeros(n)
        if n == 2:
            b[:] = (y[1] - y[0]) / (x[1] - x[0])
            return x, y, b, c, d
        h = np.diff(x)  # interval widths (off-diagonal of the tridiagonal system)
        slope = np.diff(y) / h
        diag = np.empty(n)
        rhs = np.zeros(n)
        diag[1:-1] = 2.0 * (h[:-1] + h[1:])
        rhs[1:-1] = slope[1:] - slope[:-1]
        diag[0] = -h[0]
        diag[-1] = -h[-1]
        if n > 3:
            # third derivatives at both ends from divided differences of the first/last 4 knots
            r0 = rhs[2] / (x[3] - x[1]) - rhs[1] / (x[2] - x[0])
            r1 = rhs[n - 2] / (x[n - 1] - x[n - 3]) - rhs[n - 3] / (x[n - 2] - x[n - 4])
            rhs[0] = r0 * h[0] ** 2 / (x[3] - x[0])
            rhs[-1] = -r1 * h[-1] ** 2 / (x[n - 1] - x[n - 4])
        for i in range(1, n):  # forward elimination
            t = h[i - 1] / diag[i - 1]
            diag[i] -= t * h[i - 1]
            rhs[i] -= t * rhs[i - 1]
        sigma = np.empty(n)
        sigma[-1] = rhs[-1] / diag[-1]
        for i in range(n - 2, -1, -1):  # back substitution
            sigma[i] = (rhs[i] - h[i] * sigma[i + 1]) / diag[i]
        b[:-1] = slope - h * (sigma[1:] + 2.0 * sigma[:-1])
        b[-1] = slope[-1] + h[-1] * (sigma[-2] + 2.0 * sigma[-1])
        d[:-1] = (sigma[1:] - sigma[:-1]) / h
        d[-1] = d[-2]
        c[:] = 3.0 * sigma
        return x, y, b, c, d

    def __call__(self, q: Any, derivative: int = 0) -> np.ndarray:
        """Value (or first/second derivative) at ``q`` (any shape)."""
        x, y, b, c, d = self._coefficients
        q = np.asarray(q, dtype=float)
        k = np.clip(np.searchsorted(x, q, side="right") - 1, 0, x.size - 2)
        dx = q - x[k]
        if derivative == 0:
            inside = y[k] + dx * (b[k] + dx * (c[k] + dx * d[k]))
            below = y[0] + (q - x[0]) * b[0]
            above = y[-1] + (q - x[-1]) * b[-1]
        elif derivative == 1:
            inside = b[k] + dx * (2.0 * c[k] + 3.0 * dx * d[k])
            below = np.broadcast_to(b[0], q.shape)
            above = np.broadcast_to(b[-1], q.shape)
        elif derivative == 2:
            inside = 2.0 * c[k] + 6.0 * dx * d[k]
            below = above = np.zeros(q.shape)
        else:
            raise ParameterError(f"derivative={derivative!r} must be 0, 1 or 2")
        return np.where(q < x[0], below, np.where(q > x[-1], above, inside))

    def scaled(self, factor: float) -> Spline:
        """The spline with every value multiplied by ``factor`` (knots unchanged)."""
        return Spline(self.x, tuple(v * float(factor) for v in self.y))


def _spline(owner: str, field: str, value: Any) -> Spline | None:
    if value is None or isinstance(value, Spline):
        return value
    if isinstance(value, Mapping):
        try:
            return Spline(value.get("x"), value.get("y"))
        except ParameterError as err:
            _fail(owner, f"{field}: {err}")
    _fail(owner, f"{field} must be a Spline or a {{'x': [...], 'y': [...]}} dict, not {type(value).__name__}")
    return None


# ----------------------------------------------------------------------------- skeleton


@dataclass(frozen=True)
class Coordinate(_Record):
    """One generalised coordinate of a joint.

    Parameters
    ----------
    name : str
        e.g. ``"knee_angle_r"``.
    range : (float, float)
        Range of motion ``(min, max)``: rad for rotational coordinates, m for
        translational ones (the planar joint's 2nd and 3rd coordinates).
    default : float
        Value of the default pose (rad or m).
    """

    name: str
    range: tuple[float, float]
    default: float = 0.0

    def __post_init__(self) -> None:
        _name("coordinate", "name", self.name)
        owner = f"coordinate {self.name!r}"
        _set(self, range=_range(owner, "range", self.range, "rad or m"),
             default=_number(owner, "default", self.default, "rad or m"))


@dataclass(frozen=True)
class Joint(_Record):
    """The joint connecting a segment to its parent.

    The joint frame on the parent sits at ``location_in_parent`` rotated by
    ``orientation_in_parent`` (body-fixed X-Y-Z angles, rad); the one on the
    child likewise. Types:

    * ``"planar"``: rotation about the parent joint frame's Z axis (1st
      coordinate, rad) and translations along its X and Y axes (2nd and 3rd
      coordinates, m); OpenSim's ground--pelvis joint of this model.
    * ``"pin"``: rotation about Z (one coordinate, rad). With
      ``translation_x``/``translation_y`` splines the child frame also
      translates along the parent joint frame's X/Y axes as a function of
      the angle (the Yamaguchi & Zajac 1989 planar knee of the reference,
      built as an OpenSim ``CustomJoint``).
    * ``"weld"``: no motion.

    Parameters
    ----------
    name : str
    type : {"planar", "pin", "weld"}
    parent : str
        Parent segment name, or ``"ground"``.
    location_in_parent, orientation_in_parent : 3 floats
        Joint frame on the parent, m and rad.
    location_in_child, orientation_in_child : 3 floats
        Joint frame on the child, m and rad.
    coordinates : tuple of Coordinate
        3 for planar, 1 for pin, none for weld.
    translation_x, translation_y : Spline or None
        Pin joints only: child translation (m) along the parent joint frame's
        X / Y axis as a function of the joint angle (rad).
    """

    name: str
    type: str
    parent: str
    location_in_parent: Vec3 = (0.0, 0.0, 0.0)
    orientation_in_parent: Vec3 = (0.0, 0.0, 0.0)
    location_in_child: Vec3 = (0.0, 0.0, 0.0)
    orientation_in_child: Vec3 = (0.0, 0.0, 0.0)
    coordinates: tuple[Coordinate, ...] = ()
    translation_x: Spline | None = None
    translation_y: Spline | None = None

    def __post_init__(self) -> None:
        _name("joint", "name", self.name)
        owner = f"joint {self.name!r}"
        if self.type not in JOINT_TYPES:
            _fail(owner, f"type={self.type!r} is not allowed; choose one of: {', '.join(map(repr, JOINT_TYPES))}")
        _name(owner, "parent", self.parent)
        coords = _tuple_of(owner, "coordinates", self.coordinates, Coordinate)
        if len(coords) != JOINT_TYPES[self.type]:
            _fail(owner, f"a {self.type} joint has {JOINT_TYPES[self.type]} coordinate(s), got {len(coords)}")
        tx = _spline(owner, "translation_x", self.translation_x)
        ty = _spline(owner, "translation_y", self.translation_y)
        if (tx is not None or ty is not None) and self.type != "pin":
            _fail(owner, "translation_x/translation_y couplings are only allowed on pin joints")
        _set(self, coordinates=coords, translation_x=tx, translation_y=ty,
             location_in_parent=_vector(owner, "location_in_parent", self.location_in_parent, 3, "m"),
             orientation_in_parent=_vector(owner, "orientation_in_parent", self.orientation_in_parent, 3, "rad"),
             location_in_child=_vector(owner, "location_in_child", self.location_in_child, 3, "m"),
             orientation_in_child=_vector(owner, "orientation_in_child", self.orientation_in_child, 3, "rad"))

    @property
    def coordinate_names(self) -> tuple[str, ...]:
        """Names of this joint's coordinates."""
        return tuple(c.name for c in self.coordinates)

    @property
    def coordinate_types(self) -> tuple[str, ...]:
        """``"rotational"`` or ``"translational"`` for each coordinate."""
        return ("rotational", "translational", "translational") if self.type == "planar" else \
            ("rotational",) * len(self.coordinates)

    @property
    def coupled(self) -> bool:
        """True for a pin joint with spline-coupled translations (built as a CustomJoint)."""
        return self.translation_x is not None or self.translation_y is not None


@dataclass(frozen=True)
class Segment(_Record):
    """A rigid body segment and the joint that attaches it to its parent.

    Parameters
    ----------
    name : str
        e.g. ``"femur_r"``.
    mass : float
        kg, > 0.
    com : 3 floats
        Centre of mass in the segment frame, m.
    inertia : 6 floats
        ``[Ixx, Iyy, Izz, Ixy, Ixz, Iyz]`` about the centre of mass in the
        segment frame, kg m^2 (a physical inertia: principal moments >= 0 and
        each no larger than the sum of the other two).
    joint : Joint
        The joint to the parent; ``joint.parent`` is the parent segment.
    meshes : tuple of str
        Display geometry file names (OpenSim ``Geometry`` folder); visual only.
    """

    name: str
    mass: float
    com: Vec3
    inertia: tuple[float, float, float, float, float, float]
    joint: Joint
    meshes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _name("segment", "name", self.name)
        owner = f"segment {self.name!r}"
        mass = _number(owner, "mass", self.mass, "kg", positive=True)
        com = _vector(owner, "com", self.com, 3, "m")
        inertia = _vector(owner, "inertia", self.inertia, 6, "kg m^2")
        moments = np.linalg.eigvalsh(_inertia_matrix(inertia))
        tol = 1e-9 * max(1.0, float(np.sum(np.abs(moments))))
        if np.any(moments < -tol):
            _fail(owner, f"inertia={inertia} has a negative principal moment ({moments.min():.3g} kg m^2)")
        if moments[2] > moments[0] + moments[1] + tol:
            _fail(owner, f"inertia={inertia} breaks the triangle inequality (largest principal moment "
                         f"{moments[2]:.4g} > sum of the others {moments[0] + moments[1]:.4g} kg m^2)")
        joint = Joint.from_dict(self.joint) if isinstance(self.joint, Mapping) else self.joint
        if not isinstance(joint, Joint):
            _fail(owner, f"joint must be a Joint, not {type(joint).__name__}")
        meshes = tuple(self.meshes)
        if not all(isinstance(m, str) for m in meshes):
            _fail(owner, f"meshes={self.meshes!r} must be file names")
        _set(self, mass=mass, com=com, inertia=inertia, joint=joint, meshes=meshes)

    @property
    def parent(self) -> str:
        """Parent segment name (or ``"ground"``)."""
        return self.joint.parent


def _inertia_matrix(i: Sequence[float]) -> np.ndarray:
    xx, yy, zz, xy, xz, yz = i
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]], dtype=float)


# ----------------------------------------------------------------------------- muscles


@dataclass(frozen=True)
class PathPoint(_Record):
    """One point of a muscle path, fixed in (or moving with) a segment.

    Three kinds, as in OpenSim:

    * fixed (``PathPoint``): at ``location`` always;
    * conditional (``ConditionalPathPoint``): at ``location``, but part of
      the path only while ``coordinate`` lies in ``range`` (rad);
    * moving (``MovingPathPoint``): its position in ``body`` is
      ``(x(q), y(q), z(q))`` with ``q`` the value of ``coordinate``; used by
      the reference for the quadriceps insertions that the patella would
      otherwise carry. ``location`` is ignored.

    Parameters
    ----------
    name : str
    body : str
        Segment the point is fixed in.
    location : 3 floats
        m, in ``body``'s frame.
    coordinate : str or None
        Conditional and moving points: the coordinate they depend on.
    range : (float, float) or None
        Conditional points: active range of ``coordinate`` (rad).
    x, y, z : Spline or None
        Moving points: position components (m) as functions of the coordinate.
    """

    name: str
    body: str
    location: Vec3 = (0.0, 0.0, 0.0)
    coordinate: str | None = None
    range: tuple[float, float] | None = None
    x: Spline | None = None
    y: Spline | None = None
    z: Spline | None = None

    def __post_init__(self) -> None:
        _name("path point", "name", self.name)
        owner = f"path point {self.name!r}"
        _name(owner, "body", self.body)
        loc = _vector(owner, "location", self.location, 3, "m")
        xyz = [_spline(owner, a, getattr(self, a)) for a in "xyz"]
        rng = None if self.range is None else _range(owner, "range", self.range, "rad")
        moving = any(s is not None for s in xyz)
        if moving and not all(s is not None for s in xyz):
            _fail(owner, "a moving point needs all three splines x, y and z")
        if moving and rng is not None:
            _fail(owner, "a point cannot be both moving (x/y/z splines) and conditional (range)")
        if (moving or rng is not None) and self.coordinate is None:
            _fail(owner, "a conditional or moving point needs its coordinate")
        if not (moving or rng is not None) and self.coordinate is not None:
            _fail(owner, f"coordinate={self.coordinate!r} given but the point has neither range nor x/y/z splines")
        if self.coordinate is not None:
            _name(owner, "coordinate", self.coordinate)
        _set(self, location=loc, range=rng, x=xyz[0], y=xyz[1], z=xyz[2])

    @property
    def kind(self) -> str:
        """``"fixed"``, ``"conditional"`` or ``"moving"``."""
        if self.x is not None:
            return "moving"
        return "conditional" if self.range is not None else "fixed"

    def position(self, q: Any = 0.0) -> np.ndarray:
        """Position in ``body`` (m) for coordinate value(s) ``q``: shape ``q.shape + (3,)``."""
        q = np.asarray(q, dtype=float)
        if self.kind == "moving":
            return np.stack([self.x(q), self.y(q), self.z(q)], axis=-1)  # type: ignore[misc]
        return np.broadcast_to(np.array(self.location), q.shape + (3,)).copy()

    def active(self, q: Any = 0.0) -> np.ndarray:
        """Whether the point is part of the path at coordinate value(s) ``q``.

        Conditional points use OpenSim's tolerance of 1e-5 on the range ends.
        """
        q = np.asarray(q, dtype=float)
        if self.kind != "conditional":
            return np.ones(q.shape, dtype=bool)
        lo, hi = self.range  # type: ignore[misc]
        return (q >= lo - 1e-5) & (q <= hi + 1e-5)


@dataclass(frozen=True)
class Muscle(_Record):
    """A Hill-type musculotendon unit.

    Parameters
    ----------
    name : str
        e.g. ``"soleus_r"``.
    max_isometric_force : float
        N, > 0.
    optimal_fiber_length : float
        m, > 0.
    tendon_slack_length : float
        m, > 0.
    pennation_angle_at_optimal : float
        rad, in [0, pi/2).
    max_contraction_velocity : float
        Maximum shortening velocity in optimal fibre lengths per second (1/s), > 0.
    path : tuple of PathPoint
        Origin to insertion, at least 2 points.
    activation_time_constant, deactivation_time_constant : float
        s, > 0 (the reference uses 0.01 and 0.04).
    passive_fiber_strain : float
        Fibre strain at which the passive fibre force equals the max
        isometric force (1, > 0; OpenSim's DeGrooteFregly2016 default 0.6);
        larger is a more compliant passive fibre
        (:func:`twin.fit.calibrate_passive_knee`).
    """

    name: str
    max_isometric_force: float
    optimal_fiber_length: float
    tendon_slack_length: float
    pennation_angle_at_optimal: float
    max_contraction_velocity: float
    path: tuple[PathPoint, ...]
    activation_time_constant: float = 0.01
    deactivation_time_constant: float = 0.04
    passive_fiber_strain: float = 0.6

    def __post_init__(self) -> None:
        _name("muscle", "name", self.name)
        owner = f"muscle {self.name!r}"
        pen = _number(owner, "pennation_angle_at_optimal", self.pennation_angle_at_optimal, "rad", nonnegative=True)
        if pen >= math.pi / 2:
            _fail(owner, f"pennation_angle_at_optimal={pen!r} must be < pi/2 (rad)")
        path = _tuple_of(owner, "path", self.path, PathPoint)
        if len(path) < 2:
            _fail(owner, f"path needs at least 2 points, got {len(path)}")
        _unique(owner, "path point", [p.name for p in path])
        _set(self, path=path, pennation_angle_at_optimal=pen,
             max_isometric_force=_number(owner, "max_isometric_force", self.max_isometric_force, "N", positive=True),
             optimal_fiber_length=_number(owner, "optimal_fiber_length", self.optimal_fiber_length, "m",
                                          positive=True),
             tendon_slack_length=_number(owner, "tendon_slack_length", self.tendon_slack_length, "m", positive=True),
             max_contraction_velocity=_number(owner, "max_contraction_velocity", self.max_contraction_velocity,
                                              "optimal fibre lengths/s", positive=True),
             activation_time_constant=_number(owner, "activation_time_constant", self.activation_time_constant,
                                              "s", positive=True),
             deactivation_time_constant=_number(owner, "deactivation_time_constant",
                                                self.deactivation_time_constant, "s", positive=True),
             passive_fiber_strain=_number(owner, "passive_fiber_strain", self.passive_fiber_strain, "1",
                                          positive=True))

    @property
    def bodies(self) -> tuple[str, ...]:
        """Segments the path points are on, in path order (repeats removed)."""
        out: list[str] = []
        for p in self.path:
            if not out or out[-1] != p.body:
                out.append(p.body)
        return tuple(out)


# ----------------------------------------------------------------------------- contact, markers


@dataclass(frozen=True)
class ContactSphere(_Record):
    """A foot contact sphere (against the ground half-space).

    Parameters
    ----------
    name : str
        e.g. ``"heel_r"``, ``"toe_r"``.
    body : str
        Segment carrying it.
    center : 3 floats
        Sphere centre in ``body``'s frame, m.
    radius : float
        m, > 0.
    """

    name: str
    body: str
    center: Vec3
    radius: float

    def __post_init__(self) -> None:
        _name("contact sphere", "name", self.name)
        owner = f"contact sphere {self.name!r}"
        _name(owner, "body", self.body)
        _set(self, center=_vector(owner, "center", self.center, 3, "m"),
             radius=_number(owner, "radius", self.radius, "m", positive=True))


@dataclass(frozen=True)
class ContactModel(_Record):
    """Force-law parameters of OpenSim's ``SmoothSphereHalfSpaceForce`` (all spheres share them).

    Defaults are those of Falisse et al. (2019, J R Soc Interface 16:20190402)
    used with this model in OpenSim Moco's ``example2DWalking``.

    Parameters
    ----------
    stiffness : float
        Hertz plane-strain modulus, N/m^2.
    dissipation : float
        Hunt--Crossley dissipation, s/m.
    static_friction, dynamic_friction : float
        Coulomb coefficients, dimensionless.
    viscous_friction : float
        Viscous friction coefficient, s/m.
    transition_velocity : float
        Slip velocity of the stick--slip transition, m/s.
    constant_contact_force : float
        Small force keeping the smoothed law differentiable, N.
    hertz_smoothing, hunt_crossley_smoothing : float
        Smoothing sharpness of the Hertz and Hunt--Crossley terms, dimensionless.
    """

    stiffness: float = 3067776.0
    dissipation: float = 2.0
    static_friction: float = 0.8
    dynamic_friction: float = 0.8
    viscous_friction: float = 0.5
    transition_velocity: float = 0.2
    constant_contact_force: float = 1e-5
    hertz_smoothing: float = 300.0
    hunt_crossley_smoothing: float = 50.0

    #: units of each field, for datasets and messages
    UNITS = {"stiffness": "N/m^2", "dissipation": "s/m", "static_friction": "1", "dynamic_friction": "1",
             "viscous_friction": "s/m", "transition_velocity": "m/s", "constant_contact_force": "N",
             "hertz_smoothing": "1", "hunt_crossley_smoothing": "1"}

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _number("contact model", f.name, getattr(self, f.name), self.UNITS[f.name], nonnegative=True)
            _set(self, **{f.name: value})
        if self.stiffness <= 0:
            _fail("contact model", f"stiffness={self.stiffness!r} must be > 0 (N/m^2)")
        if self.transition_velocity <= 0:
            _fail("contact model", f"transition_velocity={self.transition_velocity!r} must be > 0 (m/s)")


@dataclass(frozen=True)
class Marker(_Record):
    """A skin (or virtual) marker fixed in a segment: ``location`` in m in ``body``'s frame."""

    name: str
    body: str
    location: Vec3

    def __post_init__(self) -> None:
        _name("marker", "name", self.name)
        owner = f"marker {self.name!r}"
        _name(owner, "body", self.body)
        _set(self, location=_vector(owner, "location", self.location, 3, "m"))


@dataclass(frozen=True)
class MarkerSet(_Record):
    """A named set of markers (e.g. ``"subject01"``, ``"plug_in_gait"``, ``"opencap"``)."""

    name: str
    markers: tuple[Marker, ...]
    description: str = ""

    def __post_init__(self) -> None:
        _name("marker set", "name", self.name)
        owner = f"marker set {self.name!r}"
        markers = _tuple_of(owner, "markers", self.markers, Marker)
        _unique(owner, "marker", [m.name for m in markers])
        if not isinstance(self.description, str):
            _fail(owner, "description must be a string")
        _set(self, markers=markers)

    @property
    def names(self) -> tuple[str, ...]:
        """Marker names in order."""
        return tuple(m.name for m in self.markers)


# ----------------------------------------------------------------------------- the body


@dataclass(frozen=True)
class BodyParams(_Record):
    """Everything that defines a body, in SI units (see the module docstring).

    Parameters
    ----------
    segments : tuple of Segment
        Parents before children; the first hangs from ``"ground"``.
    muscles : tuple of Muscle
    contact_spheres : tuple of ContactSphere
    contact : ContactModel
        Force-law parameters shared by the contact spheres.
    marker_sets : tuple of MarkerSet
    height : float
        Standing height the parameters represent, m (1.80 for the default,
        the stature OpenSim documents for its unscaled gait2392 family).
    gravity : float
        Magnitude of gravity along -Y, m/s^2.
    name : str
    history : tuple of str
        What made these parameters (one line per step), e.g. scaling.

    Notes
    -----
    Frozen: change values with :func:`dataclasses.replace` or the
    ``with_*`` helpers, which return new, re-validated objects.
    """

    segments: tuple[Segment, ...]
    muscles: tuple[Muscle, ...] = ()
    contact_spheres: tuple[ContactSphere, ...] = ()
    contact: ContactModel = ContactModel()
    marker_sets: tuple[MarkerSet, ...] = ()
    height: float = 1.8
    gravity: float = 9.80665
    name: str = "twin_gait10dof18musc"
    history: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        owner = "body"
        contact = ContactModel.from_dict(self.contact) if isinstance(self.contact, Mapping) else self.contact
        if not isinstance(contact, ContactModel):
            _fail(owner, f"contact must be a ContactModel, not {type(contact).__name__}")
        history = (self.history,) if isinstance(self.history, str) else tuple(self.history)
        _set(self, segments=_tuple_of(owner, "segments", self.segments, Segment),
             muscles=_tuple_of(owner, "muscles", self.muscles, Muscle),
             contact_spheres=_tuple_of(owner, "contact_spheres", self.contact_spheres, ContactSphere),
             marker_sets=_tuple_of(owner, "marker_sets", self.marker_sets, MarkerSet),
             contact=contact, history=tuple(str(h) for h in history),
             height=_number(owner, "height", self.height, "m", positive=True),
             gravity=_number(owner, "gravity", self.gravity, "m/s^2", nonnegative=True),
             name=_name(owner, "name", self.name))
        self.validate()

    # ------------------------------------------------------------------ checks

    def validate(self) -> None:
        """Check the whole body; raise :class:`~twin.errors.ParameterError` naming the first problem.

        Each record already checked its own values when it was made; this
        checks what they refer to: unique names, a tree of segments rooted at
        ground, joints, path points, spheres and markers on existing
        segments, path-point coordinates that exist, default poses inside the
        ranges of motion.

        Examples
        --------
        >>> import dataclasses
        >>> from twin.model import BodyParams
        >>> body = BodyParams.default()
        >>> body.validate()
        >>> bad = dataclasses.replace(body.muscles[0].path[0], body="femur_x")
        >>> muscles = (dataclasses.replace(body.muscles[0], path=(bad,) + body.muscles[0].path[1:]),)
        >>> try:
        ...     dataclasses.replace(body, muscles=muscles + body.muscles[1:])
        ... except Exception as err:
        ...     print(err)
        muscle 'hamstrings_r': path point 'bifemlh_r-P1' is on segment 'femur_x', which does not exist
        """
        for seg in self.segments:  # re-run the records' own checks (cheap)
            seg.__post_init__()
        if not self.segments:
            _fail("body", "needs at least one segment")
        _unique("body", "segment", [s.name for s in self.segments])
        _unique("body", "joint", [s.joint.name for s in self.segments])
        _unique("body", "coordinate", self.coordinate_names)
        _unique("body", "muscle", [m.name for m in self.muscles])
        _unique("body", "contact sphere", [c.name for c in self.contact_spheres])
        _unique("body", "marker set", [m.name for m in self.marker_sets])
        known = {"ground"}
        for seg in self.segments:
            if seg.name == "ground":
                _fail(f"segment {seg.name!r}", "'ground' is reserved for the fixed world frame")
            if seg.parent not in known:
                _fail(f"segment {seg.name!r}",
                      f"parent {seg.parent!r} must be 'ground' or a segment listed before it")
            known.add(seg.name)
        coords = {c.name: c for c in self.coordinates}
        for c in coords.values():
            lo, hi = c.range
            if not lo <= c.default <= hi:
                _fail(f"coordinate {c.name!r}", f"default={c.default!r} lies outside range={c.range!r}")
        segs = {s.name for s in self.segments}
        for m in self.muscles:
            for p in m.path:
                if p.body not in segs:
                    _fail(f"muscle {m.name!r}", f"path point {p.name!r} is on segment {p.body!r}, which does not exist")
                if p.coordinate is not None and p.coordinate not in coords:
                    _fail(f"muscle {m.name!r}",
                          f"path point {p.name!r} depends on coordinate {p.coordinate!r}, which does not exist")
        for c in self.contact_spheres:
            if c.body not in segs:
                _fail(f"contact sphere {c.name!r}", f"body {c.body!r} does not exist")
        for ms in self.marker_sets:
            for mk in ms.markers:
                if mk.body not in segs:
                    _fail(f"marker set {ms.name!r}",
                          f"marker {mk.name!r} is on segment {mk.body!r}, which does not exist")

    # ------------------------------------------------------------------ lookups

    @property
    def mass(self) -> float:
        """Total mass, kg."""
        return float(sum(s.mass for s in self.segments))

    @property
    def joints(self) -> tuple[Joint, ...]:
        """The joints, one per segment, in segment order."""
        return tuple(s.joint for s in self.segments)

    @property
    def coordinates(self) -> tuple[Coordinate, ...]:
        """All coordinates in model order (joint by joint)."""
        return tuple(c for s in self.segments for c in s.joint.coordinates)

    @property
    def coordinate_names(self) -> tuple[str, ...]:
        """Names of :attr:`coordinates`."""
        return tuple(c.name for c in self.coordinates)

    @property
    def segment_names(self) -> tuple[str, ...]:
        """Segment names in order."""
        return tuple(s.name for s in self.segments)

    @property
    def muscle_names(self) -> tuple[str, ...]:
        """Muscle names in order."""
        return tuple(m.name for m in self.muscles)

    @property
    def marker_set_names(self) -> tuple[str, ...]:
        """Names of the marker sets."""
        return tuple(m.name for m in self.marker_sets)

    def segment(self, name: str) -> Segment:
        """The segment called ``name`` (ParameterError if none)."""
        return self._find(self.segments, name, "segment")

    def joint(self, name: str) -> Joint:
        """The joint called ``name``."""
        return self._find(self.joints, name, "joint")

    def coordinate(self, name: str) -> Coordinate:
        """The coordinate called ``name``."""
        return self._find(self.coordinates, name, "coordinate")

    def muscle(self, name: str) -> Muscle:
        """The muscle called ``name``."""
        return self._find(self.muscles, name, "muscle")

    def marker_set(self, name: str) -> MarkerSet:
        """The marker set called ``name``."""
        return self._find(self.marker_sets, name, "marker set")

    def coordinate_joint(self, name: str) -> Joint:
        """The joint owning coordinate ``name``."""
        for j in self.joints:
            if name in j.coordinate_names:
                return j
        raise ParameterError(f"coordinate {name!r} does not exist; known: {', '.join(self.coordinate_names)}")

    def coordinate_type(self, name: str) -> str:
        """``"rotational"`` (rad) or ``"translational"`` (m)."""
        j = self.coordinate_joint(name)
        return j.coordinate_types[j.coordinate_names.index(name)]

    def segment_length(self, name: str) -> float:
        """Distance (m) from a segment's origin to its farthest child joint at the default pose.

        The femur's is hip to knee centre, the tibia's knee to ankle; a
        segment without children has length 0.

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> b = BodyParams.default()
        >>> round(b.segment_length("femur_r"), 4), b.segment_length("tibia_r"), b.segment_length("toes_r")
        (0.3958, 0.43, 0.0)
        """
        self.segment(name)
        out = 0.0
        for j in self.joints:
            if j.parent != name:
                continue
            loc = np.array(j.location_in_parent)
            if j.coupled:
                from .geometry import rotation_xyz

                q = j.coordinates[0].default
                shift = np.array([0.0 if j.translation_x is None else float(j.translation_x(q)),
                                  0.0 if j.translation_y is None else float(j.translation_y(q)), 0.0])
                loc = loc + rotation_xyz(j.orientation_in_parent) @ shift
            out = max(out, float(np.linalg.norm(loc)))
        return out

    def default_pose(self) -> dict[str, float]:
        """Default value of every coordinate (rad or m)."""
        return {c.name: c.default for c in self.coordinates}

    def crossed_coordinates(self, muscle: str) -> tuple[str, ...]:
        """Coordinates whose joints lie between the first and last segment of a muscle's path.

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> BodyParams.default().crossed_coordinates("gastroc_r")
        ('knee_angle_r', 'ankle_angle_r')
        """
        m = self.muscle(muscle)
        parents = {s.name: s.parent for s in self.segments}

        def chain(body: str) -> list[str]:
            out = [body]
            while parents.get(out[-1], "ground") != "ground":
                out.append(parents[out[-1]])
            return out

        bodies = set(m.bodies)
        crossed: set[str] = set()
        for a in bodies:
            for b in bodies:
                ca, cb = chain(a), chain(b)
                common = next(x for x in ca if x in cb) if set(ca) & set(cb) else None
                for c in (ca, cb):
                    for seg in c:
                        if seg == common:
                            break
                        crossed.add(seg)
        return tuple(c.name for s in self.segments if s.name in crossed for c in s.joint.coordinates)

    @staticmethod
    def _find(items: Iterable[Any], name: str, what: str) -> Any:
        items = tuple(items)
        for it in items:
            if it.name == name:
                return it
        raise ParameterError(f"{what} {name!r} does not exist; known: {', '.join(i.name for i in items)}")

    # ------------------------------------------------------------------ edits

    def with_segment(self, name: str, **changes: Any) -> BodyParams:
        """Copy with segment ``name``'s fields changed (e.g. ``mass=10.0``)."""
        self.segment(name)
        return dataclasses.replace(self, segments=tuple(
            dataclasses.replace(s, **changes) if s.name == name else s for s in self.segments))

    def with_muscle(self, name: str, **changes: Any) -> BodyParams:
        """Copy with muscle ``name``'s fields changed (e.g. ``max_isometric_force=500.0``).

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> weak = BodyParams.default().with_muscle("soleus_r", max_isometric_force=2000.0)
        >>> weak.muscle("soleus_r").max_isometric_force
        2000.0
        """
        self.muscle(name)
        return dataclasses.replace(self, muscles=tuple(
            dataclasses.replace(m, **changes) if m.name == name else m for m in self.muscles))

    def with_coordinate(self, name: str, **changes: Any) -> BodyParams:
        """Copy with coordinate ``name``'s fields changed (e.g. ``range=(-1.0, 0.0)``)."""
        joint = self.coordinate_joint(name)
        segs = []
        for s in self.segments:
            if s.joint is joint:
                coords = tuple(dataclasses.replace(c, **changes) if c.name == name else c
                               for c in s.joint.coordinates)
                s = dataclasses.replace(s, joint=dataclasses.replace(s.joint, coordinates=coords))
            segs.append(s)
        return dataclasses.replace(self, segments=tuple(segs))

    # ------------------------------------------------------------------ construction

    @classmethod
    def default(cls, *, lumbar: bool = True, marker_sets: Sequence[str] | None = None) -> BodyParams:
        """The sagittal-plane gait body of OpenSim's Gait10dof18musc, value for value.

        Parameters
        ----------
        lumbar : bool, default True
            Keep the ``lumbar_extension`` coordinate (pin joint ``back``);
            with False the torso is welded to the pelvis at the reference's
            default (upright) pose.
        marker_sets : sequence of str, optional
            Which of ``"subject01"``, ``"plug_in_gait"``, ``"opencap"`` to
            include (default: all three).

        Returns
        -------
        BodyParams
            Total mass 75.1646 kg, height 1.80 m; 12 segments, 9 muscles per
            leg, heel and toe contact spheres on each foot.

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> b = BodyParams.default(lumbar=False)
        >>> "lumbar_extension" in b.coordinate_names, len(b.muscles)
        (False, 18)
        >>> b.marker_set_names
        ('subject01', 'plug_in_gait', 'opencap')
        """
        from . import markers as _markers

        data = _reference_data()
        segments = [Segment.from_dict(s) for s in data["segments"]]
        if not lumbar:
            segments = [dataclasses.replace(s, joint=dataclasses.replace(s.joint, type="weld", coordinates=()))
                        if s.name == "torso" else s for s in segments]
        body = cls(segments=tuple(segments),
                   muscles=tuple(Muscle.from_dict(m) for m in data["muscles"]),
                   contact_spheres=_default_contact_spheres(), contact=ContactModel(),
                   marker_sets=(), height=data["height"], gravity=data["gravity"],
                   history=(f"default: {REFERENCE_MODEL} (values copied into twin/model/gait10dof18musc.json)",))
        wanted = ("subject01", "plug_in_gait", "opencap") if marker_sets is None else tuple(marker_sets)
        sets = []
        for name in wanted:
            if name == "subject01":
                sets.append(MarkerSet.from_dict(data["marker_sets"]["subject01"]))
            elif name in _markers.BUILDERS:
                sets.append(_markers.BUILDERS[name](body, MarkerSet.from_dict(data["marker_sets"]["subject01"])))
            else:
                raise ParameterError(f"marker set {name!r} is not known; choose from 'subject01', "
                                     f"'plug_in_gait', 'opencap'")
        return dataclasses.replace(body, marker_sets=tuple(sets))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BodyParams:
        """Inverse of :meth:`to_dict` (as read from JSON)."""
        data = dict(data)
        if isinstance(data.get("contact"), Mapping):
            data["contact"] = ContactModel.from_dict(data["contact"])
        return super().from_dict(data)

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON, atomically."""
        from ..io.store import atomic_path

        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_json(cls, path: str | Path) -> BodyParams:
        """Read parameters written by :meth:`to_json`."""
        from ..errors import ReadError

        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise ReadError(path, f"cannot read body parameters: {err}") from None
        return cls.from_dict(data)

    # ------------------------------------------------------------------ scaling / datasets

    def scaled(self, *, height: float | None = None, mass: float | None = None,
               factors: Mapping[str, Any] | None = None, sex: str = "male",
               mass_distribution: str | None = None, muscle_lengths: bool = True) -> BodyParams:
        """A scaled copy: anthropometric (height, mass) and/or per-segment factors.

        See :func:`twin.model.scaling.scale` for the rules (OpenSim ScaleTool
        geometry, de Leva 1996 or preserved mass distribution, fibre and
        tendon lengths by musculotendon-length ratio).

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> b = BodyParams.default().scaled(height=1.62, mass=60.0)
        >>> round(b.mass, 6), round(b.height, 3)
        (60.0, 1.62)
        >>> b2 = BodyParams.default().scaled(factors={"femur_r": 1.1, "femur_l": 1.1}, mass=80.0)
        >>> round(b2.segment("femur_r").com[1], 4), round(b2.mass, 6)
        (-0.187, 80.0)
        """
        from .scaling import scale

        return scale(self, height=height, mass=mass, factors=factors, sex=sex,
                     mass_distribution=mass_distribution, muscle_lengths=muscle_lengths)

    def to_dataset(self):
        """All parameters as an :class:`xarray.Dataset` (every variable with ``units``).

        See :func:`twin.model.dataset.to_dataset`; :meth:`from_dataset` inverts it exactly.

        Examples
        --------
        >>> from twin.model import BodyParams
        >>> b = BodyParams.default()
        >>> ds = b.to_dataset()
        >>> ds.max_isometric_force.sel(muscle="vasti_r").item(), ds.max_isometric_force.attrs["units"]
        (5000.0, 'N')
        >>> BodyParams.from_dataset(ds) == b
        True
        """
        from .dataset import to_dataset

        return to_dataset(self)

    @classmethod
    def from_dataset(cls, ds) -> BodyParams:
        """Parameters from a Dataset made by :meth:`to_dataset`."""
        from .dataset import from_dataset

        return from_dataset(ds)


# ----------------------------------------------------------------------------- defaults


@functools.lru_cache(maxsize=1)
def _reference_data() -> dict[str, Any]:
    return json.loads(_DATA.read_text())


def _default_contact_spheres() -> tuple[ContactSphere, ...]:
    # Falisse et al. 2019 / OpenSim Moco example2DWalking (2D_gait.osim, a Gait10dof18musc derivative):
    # heel sphere r = 35 mm and forefoot sphere r = 15 mm in the calcaneus frame.
    heel = (0.031307527581931796, 0.010435842527310599, 0.0)
    toe = (0.1774093229642802, -0.015653763790965898, 0.005217921263655299)
    out = []
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out.append(ContactSphere(f"heel_{side}", f"calcn_{side}", (heel[0], heel[1], sign * heel[2]), 0.035))
        out.append(ContactSphere(f"toe_{side}", f"calcn_{side}", (toe[0], toe[1], sign * toe[2]), 0.015))
    return tuple(out)
