"""The engine's description of one planar body: segments, joints, muscles, contacts.

A :class:`ModelSpec` is a plain, immutable Python description (floats and
strings, SI units) of a planar musculoskeletal tree. It mirrors the OpenSim
structure of a sagittal-plane gait model (Gait10dof18musc) component by
component, so that ``twin.model.BodyParams`` maps onto it field by field:

* :class:`BodySpec` -- one rigid segment (OpenSim ``Body``): mass, centre of
  mass, inertia about the body's Z axis.
* :class:`JointSpec` -- the joint whose child is that body (OpenSim ``PinJoint``,
  ``WeldJoint``, planar ``CustomJoint``): parent and child offset frames
  (location, rotation about Z), a rotation linear in one coordinate, and X/Y
  translations each a function of one coordinate (``Func1D``: constant, linear
  or OpenSim ``SimmSpline``), expressed in the parent offset frame, as
  OpenSim's ``SpatialTransform`` does.
* :class:`CoordinateSpec` -- one generalized coordinate, with its range, and
  the passive joint torque parameters of :mod:`twin.engine.joints`.
* :class:`PathPointSpec` / :class:`MuscleSpec` -- a DeGrooteFregly2016 muscle
  and its path (fixed, conditional and moving path points).
* :class:`ContactSpec` -- a contact sphere against the ground plane y = 0
  (OpenSim ``SmoothSphereHalfSpaceForce``).

Everything is planar: rotations are about the global Z axis, translations in
the X-Y plane. Z components of locations are kept (path lengths are 3-D) but
do not move.

:func:`twin.engine.build.EngineParams.from_body` turns one spec (or a list of
specs with the same structure, one per batch member) into tensors.

Examples
--------
>>> spec = double_pendulum()
>>> [b.name for b in spec.bodies], [c.name for c in spec.coordinates]
(['link1', 'link2'], ['q1', 'q2'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

__all__ = [
    "Func1D",
    "BodySpec",
    "JointSpec",
    "CoordinateSpec",
    "PathPointSpec",
    "MuscleSpec",
    "ContactSpec",
    "ModelSpec",
    "double_pendulum",
]

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Func1D:
    """A scalar function of one coordinate (or a constant).

    Attributes
    ----------
    kind : {"constant", "linear", "spline"}
        ``constant``: ``value``; ``linear``: ``slope * q + intercept``;
        ``spline``: OpenSim's ``SimmSpline`` through ``(x, y)`` (natural
        Forsythe-Malcolm-Moler cubic, linear extrapolation outside the knots).
    coordinate : str or None
        Name of the coordinate the function depends on (None for constants).
    value, slope, intercept : float
        Parameters of the constant and linear kinds (units of the output, per
        unit of the coordinate for ``slope``).
    x, y : tuple of float
        Spline knots (coordinate units) and values (output units).
    """

    kind: str = "constant"
    coordinate: str | None = None
    value: float = 0.0
    slope: float = 0.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    @classmethod
    def constant(cls, value: float) -> Func1D:
        """A constant function."""
        return cls("constant", None, value=float(value))

    @classmethod
    def linear(cls, coordinate: str, slope: float = 1.0, intercept: float = 0.0) -> Func1D:
        """``slope * q + intercept`` of the named coordinate."""
        return cls("linear", coordinate, slope=float(slope), intercept=float(intercept))

    @classmethod
    def spline(cls, coordinate: str, x, y) -> Func1D:
        """OpenSim ``SimmSpline`` of the named coordinate through the knots ``(x, y)``."""
        return cls("spline", coordinate, x=tuple(float(v) for v in x), y=tuple(float(v) for v in y))

    def knots(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The function as SimmSpline knots (a linear function is a 2-knot SimmSpline)."""
        if self.kind == "spline":
            return self.x, self.y
        if self.kind == "linear":
            return (0.0, 1.0), (self.intercept, self.intercept + self.slope)
        return (0.0, 1.0), (self.value, self.value)


@dataclass(frozen=True)
class BodySpec:
    """One rigid segment.

    Attributes
    ----------
    name : str
    mass : float
        [kg], > 0.
    com : (float, float, float)
        Centre of mass in the body frame [m].
    inertia_zz : float
        Moment of inertia about the body Z axis through the centre of mass
        [kg m^2], >= 0 (the only inertia a planar model uses).
    """

    name: str
    mass: float
    com: Vec3 = (0.0, 0.0, 0.0)
    inertia_zz: float = 0.0


@dataclass(frozen=True)
class JointSpec:
    """The joint that attaches ``child`` to ``parent`` ("ground" for the root).

    The child offset frame (at ``location_in_child``, rotated by
    ``orientation_in_child`` about Z, in the child body) moves relative to the
    parent offset frame (``location_in_parent``, ``orientation_in_parent``,
    in the parent body) by a rotation ``rotation`` about Z followed by a
    translation ``(translation_x, translation_y)`` expressed in the parent
    offset frame -- OpenSim's ``CustomJoint`` restricted to the plane. A
    ``PinJoint`` has ``rotation = linear(q)`` only, a ``WeldJoint`` nothing,
    a planar root ``rotation = linear(tilt)``, ``translation_x = linear(tx)``,
    ``translation_y = linear(ty)``.

    Attributes
    ----------
    name, parent, child : str
    location_in_parent, location_in_child : (float, float, float)
        Offset frame origins [m].
    orientation_in_parent, orientation_in_child : float
        Offset frame rotations about Z [rad].
    rotation : Func1D
        Joint rotation about Z [rad]; must be constant or linear.
    translation_x, translation_y : Func1D
        Translation of the child offset frame in the parent offset frame [m].
    """

    name: str
    parent: str
    child: str
    location_in_parent: Vec3 = (0.0, 0.0, 0.0)
    location_in_child: Vec3 = (0.0, 0.0, 0.0)
    orientation_in_parent: float = 0.0
    orientation_in_child: float = 0.0
    rotation: Func1D = field(default_factory=Func1D)
    translation_x: Func1D = field(default_factory=Func1D)
    translation_y: Func1D = field(default_factory=Func1D)


@dataclass(frozen=True)
class CoordinateSpec:
    """One generalized coordinate and its passive joint torque.

    Attributes
    ----------
    name : str
    range : (float, float)
        Lower and upper limit [rad or m].
    default : float
        Default value [rad or m].
    rotational : bool
        True for an angle [rad], False for a translation [m].
    limit_stiffness : float
        Scale of the exponential joint-limit torque [N m] (0: no limit torque),
        see :func:`twin.engine.joints.passive_torque`.
    limit_sharpness : float
        Exponential rate of the limit torque beyond the range [1/rad].
    damping : float
        Linear joint damping [N m s/rad] (or N s/m).
    stiffness : float
        Linear spring towards ``rest`` [N m/rad] (or N/m), as OpenSim's
        ``SpringGeneralizedForce`` (e.g. a body-weight-support harness).
    rest : float
        Rest value of that spring [rad or m].
    """

    name: str
    range: tuple[float, float] = (-math.pi, math.pi)
    default: float = 0.0
    rotational: bool = True
    limit_stiffness: float = 0.0
    limit_sharpness: float = 20.0
    damping: float = 0.0
    stiffness: float = 0.0
    rest: float = 0.0


@dataclass(frozen=True)
class PathPointSpec:
    """One point of a muscle path.

    Attributes
    ----------
    body : str
        Body the point is fixed to.
    location : (float, float, float)
        Location in the body frame [m] (ignored for the moving components of
        a moving point).
    kind : {"fixed", "conditional", "moving"}
        ``conditional``: the point is part of the path only while
        ``coordinate`` lies within ``range`` (OpenSim ``ConditionalPathPoint``);
        ``moving``: its location components are functions of coordinates
        (OpenSim ``MovingPathPoint``).
    coordinate : str or None
        The coordinate of a conditional point.
    range : (float, float)
        Active range of a conditional point [rad or m].
    x, y, z : Func1D or None
        Location functions of a moving point [m].
    """

    body: str
    location: Vec3 = (0.0, 0.0, 0.0)
    kind: str = "fixed"
    coordinate: str | None = None
    range: tuple[float, float] = (-math.inf, math.inf)
    x: Func1D | None = None
    y: Func1D | None = None
    z: Func1D | None = None


@dataclass(frozen=True)
class MuscleSpec:
    """A DeGrooteFregly2016 musculotendon unit.

    Attributes
    ----------
    name : str
    max_isometric_force : float
        [N], > 0.
    optimal_fiber_length : float
        [m], > 0.
    tendon_slack_length : float
        [m], > 0.
    pennation_angle : float
        Pennation at optimal fibre length [rad], in [0, pi/2).
    max_contraction_velocity : float
        [optimal fibre lengths / s], > 0.
    path : tuple of PathPointSpec
        At least two points; the first and last must not be conditional.
    activation_time_constant, deactivation_time_constant : float
        [s] (De Groote 2016 activation dynamics).
    tendon_strain_at_one_norm_force : float
        Tendon strain at max isometric force [1] (0.049 in OpenSim).
    passive_fiber_strain_at_one_norm_force : float
        [1] (0.6 in OpenSim).
    fiber_damping : float
        Normalised fibre damping [1] (0 in OpenSim by default).
    slow_twitch_ratio : float
        Fraction of slow-twitch fibres, for metabolic power [1].
    """

    name: str
    max_isometric_force: float
    optimal_fiber_length: float
    tendon_slack_length: float
    pennation_angle: float = 0.0
    max_contraction_velocity: float = 10.0
    path: tuple[PathPointSpec, ...] = ()
    activation_time_constant: float = 0.015
    deactivation_time_constant: float = 0.060
    tendon_strain_at_one_norm_force: float = 0.049
    passive_fiber_strain_at_one_norm_force: float = 0.6
    fiber_damping: float = 0.0
    slow_twitch_ratio: float = 0.5


@dataclass(frozen=True)
class ContactSpec:
    """A contact sphere against the ground half-space y < 0 (SmoothSphereHalfSpaceForce).

    Attributes
    ----------
    name, body : str
    location : (float, float, float)
        Sphere centre in the body frame [m].
    radius : float
        [m], > 0.
    stiffness : float
        Hertz stiffness parameter [N/m^2 as in OpenSim], > 0.
    dissipation : float
        Hunt-Crossley dissipation [s/m], > 0.
    static_friction, dynamic_friction, viscous_friction : float
        Friction coefficients [1, 1, s/m].
    transition_velocity : float
        Slip velocity of the Stribeck transition [m/s].
    constant_contact_force, hertz_smoothing, hunt_crossley_smoothing : float
        Smoothing constants of SmoothSphereHalfSpaceForce [N or m^2/s^2, 1/m, s/m]
        (OpenSim defaults 1e-5, 300, 50).
    group : str
        Force reported together (e.g. ``"right"``/``"left"`` foot); by default
        the side guessed from the body name (``*_r`` right, ``*_l`` left).
    """

    name: str
    body: str
    location: Vec3
    radius: float
    stiffness: float = 1e6
    dissipation: float = 2.0
    static_friction: float = 0.8
    dynamic_friction: float = 0.8
    viscous_friction: float = 0.5
    transition_velocity: float = 0.2
    constant_contact_force: float = 1e-5
    hertz_smoothing: float = 300.0
    hunt_crossley_smoothing: float = 50.0
    group: str = ""

    def side(self) -> str:
        """``group`` or the side guessed from the body name."""
        if self.group:
            return self.group
        if self.body.endswith("_r"):
            return "right"
        if self.body.endswith("_l"):
            return "left"
        return "body"


@dataclass(frozen=True)
class ModelSpec:
    """A planar musculoskeletal tree.

    Attributes
    ----------
    name : str
    bodies : tuple of BodySpec
    joints : tuple of JointSpec
        Exactly one per body (the joint whose child it is).
    coordinates : tuple of CoordinateSpec
        In the order of the engine's ``q``.
    muscles : tuple of MuscleSpec
    contacts : tuple of ContactSpec
    gravity : (float, float, float)
        [m/s^2].
    """

    name: str
    bodies: tuple[BodySpec, ...]
    joints: tuple[JointSpec, ...]
    coordinates: tuple[CoordinateSpec, ...]
    muscles: tuple[MuscleSpec, ...] = ()
    contacts: tuple[ContactSpec, ...] = ()
    gravity: Vec3 = (0.0, -9.80665, 0.0)

    def replace(self, **changes) -> ModelSpec:
        """A copy with fields replaced (``dataclasses.replace``)."""
        return replace(self, **changes)


def double_pendulum(*, m1: float = 1.0, m2: float = 1.0, l1: float = 1.0, l2: float = 1.0,
                    i1: float | None = None, i2: float | None = None, damping: float = 0.0) -> ModelSpec:
    """Two uniform rods hanging from the ground origin, for tests of the multibody core.

    Body frames sit at the proximal end of each rod, rods point along -Y at
    q = 0; centres of mass at mid-length; inertia about the centre defaults to
    ``m l^2 / 12``.

    Examples
    --------
    >>> double_pendulum(l1=2.0).joints[1].location_in_parent
    (0.0, -2.0, 0.0)
    """
    i1 = m1 * l1 ** 2 / 12 if i1 is None else i1
    i2 = m2 * l2 ** 2 / 12 if i2 is None else i2
    bodies = (BodySpec("link1", m1, (0.0, -l1 / 2, 0.0), i1), BodySpec("link2", m2, (0.0, -l2 / 2, 0.0), i2))
    joints = (
        JointSpec("j1", "ground", "link1", rotation=Func1D.linear("q1")),
        JointSpec("j2", "link1", "link2", location_in_parent=(0.0, -l1, 0.0), rotation=Func1D.linear("q2")),
    )
    coords = (CoordinateSpec("q1", damping=damping), CoordinateSpec("q2", damping=damping))
    return ModelSpec("double_pendulum", bodies, joints, coords)
