"""Read a planar OpenSim model file (.osim XML) into a :class:`~twin.engine.spec.ModelSpec`.

A plain XML reader (no OpenSim import): bodies, ``PinJoint``/``WeldJoint``/
planar ``CustomJoint`` (rotation about Z, X/Y translations as ``Constant``,
``LinearFunction`` or ``SimmSpline``), coordinates, muscles of any Hill class
(their common properties: max isometric force, optimal fibre length, tendon
slack length, pennation, max contraction velocity, activation time constants)
with ``PathPoint``, ``ConditionalPathPoint`` and ``MovingPathPoint``, and
``SmoothSphereHalfSpaceForce`` contacts. It lets the engine run the published
Gait10dof18musc files directly, e.g. to compare with OpenSim on the very same
file; anything non-planar is rejected with a ParameterError naming it.

Examples
--------
>>> import io
>>> xml = '''<OpenSimDocument><Model name="m"><gravity>0 -9.81 0</gravity>
... <BodySet><objects><Body name="rod"><mass>2</mass><mass_center>0 -0.5 0</mass_center>
... <inertia>1 1 0.1 0 0 0</inertia></Body></objects></BodySet>
... <JointSet><objects><PinJoint name="pin"><socket_parent_frame>g</socket_parent_frame>
... <socket_child_frame>r</socket_child_frame><coordinates><Coordinate name="q"><range>-1 1</range>
... </Coordinate></coordinates><frames><PhysicalOffsetFrame name="g"><socket_parent>/ground</socket_parent>
... <translation>0 0 0</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
... <PhysicalOffsetFrame name="r"><socket_parent>/bodyset/rod</socket_parent><translation>0 0 0</translation>
... <orientation>0 0 0</orientation></PhysicalOffsetFrame></frames></PinJoint></objects></JointSet>
... </Model></OpenSimDocument>'''
>>> spec = read_osim(io.StringIO(xml))
>>> spec.bodies[0].mass, spec.coordinates[0].range
(2.0, (-1.0, 1.0))
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import ParameterError, ReadError
from .spec import BodySpec, ContactSpec, CoordinateSpec, Func1D, JointSpec, ModelSpec, MuscleSpec, PathPointSpec

__all__ = ["read_osim"]


def _floats(el, tag: str, default=None) -> tuple[float, ...]:
    node = el.find(tag)
    if node is None or node.text is None or not node.text.strip():
        if default is None:
            raise ParameterError(f"<{el.tag} name={el.get('name')!r}> has no <{tag}>")
        return tuple(default)
    return tuple(float(v) for v in node.text.split())


def _float(el, tag: str, default: float | None = None) -> float:
    return _floats(el, tag, None if default is None else (default,))[0]


def _text(el, tag: str, default: str = "") -> str:
    node = el.find(tag)
    return node.text.strip() if node is not None and node.text else default


def _last(path: str) -> str:
    return path.rstrip("/").split("/")[-1]


def _function(parent, coordinate: str | None, where: str) -> Func1D:
    """The function element inside ``parent`` (TransformAxis or x_location ...)."""
    for f in parent:
        tag = f.tag
        if tag == "LinearFunction":
            a, b = _floats(f, "coefficients")
            return Func1D.linear(coordinate, a, b) if coordinate else Func1D.constant(b)
        if tag == "Constant":
            return Func1D.constant(_float(f, "value", 0.0))
        if tag in ("SimmSpline", "NaturalCubicSpline", "GCVSpline"):
            if tag != "SimmSpline":
                raise ParameterError(f"{where}: {tag} is not supported (only SimmSpline)")
            x, y = _floats(f, "x"), _floats(f, "y")
            if coordinate is None:
                return Func1D.constant(y[0])
            return Func1D.spline(coordinate, x, y)
        if tag == "MultiplierFunction":
            scale = _float(f, "scale", 1.0)
            inner = f.find("function")
            base = _function(inner if inner is not None else f, coordinate, where)
            if base.kind == "constant":
                return Func1D.constant(base.value * scale)
            if base.kind == "linear":
                return Func1D.linear(base.coordinate, base.slope * scale, base.intercept * scale)
            return Func1D.spline(base.coordinate, base.x, tuple(v * scale for v in base.y))
    return Func1D.constant(0.0)


def _frames(joint) -> dict[str, tuple[str, tuple, tuple]]:
    out = {}
    frames = joint.find("frames")
    if frames is not None:
        for fr in frames.findall("PhysicalOffsetFrame"):
            out[fr.get("name")] = (_last(_text(fr, "socket_parent")), _floats(fr, "translation", (0, 0, 0)),
                                   _floats(fr, "orientation", (0, 0, 0)))
    return out


def _frame_of(name: str, frames: dict, joint_name: str):
    if name in frames:
        return frames[name]
    return (_last(name), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


def _planar_orientation(o, where: str) -> float:
    if abs(o[0]) > 1e-12 or abs(o[1]) > 1e-12:
        raise ParameterError(f"{where}: orientation {o} is not a rotation about Z; the engine is planar")
    return float(o[2])


def read_osim(source) -> ModelSpec:
    """Parse a planar .osim file (path or file object).

    Raises
    ------
    ReadError
        Unreadable file.
    ParameterError
        A component the planar engine cannot represent (named).
    """
    try:
        tree = ET.parse(source if not isinstance(source, (str, Path)) else str(source))
    except (OSError, ET.ParseError) as err:
        raise ReadError(source if isinstance(source, (str, Path)) else None, f"cannot read OpenSim model: {err}") from None
    model = tree.getroot().find("Model")
    if model is None:
        raise ReadError(None, "no <Model> element: not an OpenSim model file")
    gravity = _floats(model, "gravity", (0.0, -9.80665, 0.0))
    bodies = []
    for b in model.iter("Body"):
        inertia = _floats(b, "inertia", (0, 0, 0, 0, 0, 0))
        bodies.append(BodySpec(b.get("name"), _float(b, "mass"), _floats(b, "mass_center", (0, 0, 0)),
                               float(inertia[2])))
    joints, coords = [], []
    jointset = model.find("JointSet")
    for j in (jointset.find("objects") if jointset is not None else []):
        name = j.get("name")
        frames = _frames(j)
        par, loc_p, ori_p = _frame_of(_text(j, "socket_parent_frame"), frames, name)
        chi, loc_c, ori_c = _frame_of(_text(j, "socket_child_frame"), frames, name)
        jc = []
        cel = j.find("coordinates")
        for c in (cel if cel is not None else []):
            jc.append(c)
        rotation = Func1D.constant(0.0)
        tx = Func1D.constant(0.0)
        ty = Func1D.constant(0.0)
        translational = set()
        z_offset = 0.0
        if j.tag == "PinJoint":
            rotation = Func1D.linear(jc[0].get("name"))
        elif j.tag == "WeldJoint":
            pass
        elif j.tag == "CustomJoint":
            for ax in j.find("SpatialTransform"):
                axis = _floats(ax, "axis")
                cnames = _text(ax, "coordinates").split()
                cname = cnames[0] if cnames else None
                f = _function(ax, cname, f"joints['{name}'].{ax.get('name')}")
                is_rot = ax.get("name").startswith("rotation")
                zero = f.kind == "constant" and abs(f.value) < 1e-15
                if is_rot:
                    if zero:
                        continue
                    if tuple(axis) != (0.0, 0.0, 1.0):
                        raise ParameterError(f"joints['{name}'].{ax.get('name')}: rotation about {axis} is not "
                                             "planar (only Z)")
                    rotation = f
                else:
                    if zero:
                        continue
                    if tuple(axis) == (1.0, 0.0, 0.0):
                        tx = f
                    elif tuple(axis) == (0.0, 1.0, 0.0):
                        ty = f
                    elif tuple(axis) == (0.0, 0.0, 1.0) and f.kind == "constant":
                        z_offset += f.value  # a constant Z shift (scaled models): part of the offset frame
                    else:
                        raise ParameterError(f"joints['{name}'].{ax.get('name')}: translation along {axis} is "
                                             "not planar (only X or Y)")
                    if f.kind == "linear":
                        translational.add(f.coordinate)
        else:
            raise ParameterError(f"joints['{name}']: {j.tag} is not supported (PinJoint, WeldJoint, CustomJoint)")
        loc_p = (loc_p[0], loc_p[1], loc_p[2] + z_offset)
        joints.append(JointSpec(name, "ground" if par == "ground" else par, chi, tuple(loc_p), tuple(loc_c),
                                _planar_orientation(ori_p, f"joints['{name}'] parent frame"),
                                _planar_orientation(ori_c, f"joints['{name}'] child frame"), rotation, tx, ty))
        for c in jc:
            cname = c.get("name")
            rng = _floats(c, "range", (-math.pi, math.pi))
            coords.append(CoordinateSpec(cname, (rng[0], rng[1]), _float(c, "default_value", 0.0),
                                         cname not in translational))
    muscles = []
    contacts_geom = {}
    cg = model.find("ContactGeometrySet")
    for g in (cg.find("objects") if cg is not None else []):
        if g.tag == "ContactSphere":
            contacts_geom[g.get("name")] = (_last(_text(g, "socket_frame")), _floats(g, "location", (0, 0, 0)),
                                            _float(g, "radius"))
    contacts = []
    forceset = model.find("ForceSet")
    for f in (forceset.find("objects") if forceset is not None else []):
        if f.tag.endswith("Muscle"):
            muscles.append(_muscle(f))
        elif f.tag == "SmoothSphereHalfSpaceForce":
            sph = _last(_text(f, "socket_sphere"))
            if sph not in contacts_geom:
                raise ParameterError(f"contacts['{f.get('name')}']: sphere {sph!r} not in ContactGeometrySet")
            body, loc, radius = contacts_geom[sph]
            contacts.append(ContactSpec(
                f.get("name"), body, loc, radius, stiffness=_float(f, "stiffness", 1.0),
                dissipation=_float(f, "dissipation", 0.0), static_friction=_float(f, "static_friction", 0.0),
                dynamic_friction=_float(f, "dynamic_friction", 0.0),
                viscous_friction=_float(f, "viscous_friction", 0.0),
                transition_velocity=_float(f, "transition_velocity", 0.01),
                constant_contact_force=_float(f, "constant_contact_force", 1e-5),
                hertz_smoothing=_float(f, "hertz_smoothing", 300.0),
                hunt_crossley_smoothing=_float(f, "hunt_crossley_smoothing", 50.0)))
    return ModelSpec(model.get("name") or "model", tuple(bodies), tuple(joints), tuple(coords), tuple(muscles),
                     tuple(contacts), tuple(gravity))


def _muscle(m) -> MuscleSpec:
    name = m.get("name")
    path = []
    pps = m.find("GeometryPath/PathPointSet/objects")
    for pt in (pps if pps is not None else []):
        body = _last(_text(pt, "socket_parent_frame"))
        if pt.tag == "PathPoint":
            path.append(PathPointSpec(body, _floats(pt, "location")))
        elif pt.tag == "ConditionalPathPoint":
            rng = _floats(pt, "range")
            path.append(PathPointSpec(body, _floats(pt, "location"), "conditional",
                                      _last(_text(pt, "socket_coordinate")), (rng[0], rng[1])))
        elif pt.tag == "MovingPathPoint":
            fs = []
            for ax in "xyz":
                el = pt.find(f"{ax}_location")
                cname = _last(_text(pt, f"socket_{ax}_coordinate")) or None
                fs.append(_function(el, cname, f"muscles['{name}'].{pt.get('name')}.{ax}") if el is not None
                          else Func1D.constant(0.0))
            path.append(PathPointSpec(body, (0.0, 0.0, 0.0), "moving", x=fs[0], y=fs[1], z=fs[2]))
        else:
            raise ParameterError(f"muscles['{name}']: path point type {pt.tag} is not supported")
    wraps = m.find("GeometryPath/PathWrapSet/objects")
    if wraps is not None and len(list(wraps)):
        raise ParameterError(f"muscles['{name}']: wrapping surfaces are not supported by the engine")
    return MuscleSpec(
        name, _float(m, "max_isometric_force"), _float(m, "optimal_fiber_length"), _float(m, "tendon_slack_length"),
        _float(m, "pennation_angle_at_optimal", 0.0), _float(m, "max_contraction_velocity", 10.0), tuple(path),
        activation_time_constant=_float(m, "activation_time_constant", 0.015),
        deactivation_time_constant=_float(m, "deactivation_time_constant", 0.06),
        fiber_damping=_float(m, "fiber_damping", 0.0))
