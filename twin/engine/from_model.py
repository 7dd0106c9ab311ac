"""``twin.model.BodyParams`` -> the engine's :class:`~twin.engine.spec.ModelSpec`.

The mapping is one to one, so the engine and ``twin.model.to_opensim``
simulate the same body:

=====================================  ==========================================
BodyParams                             ModelSpec
=====================================  ==========================================
``Segment`` (mass, com, inertia[2])    ``BodySpec`` (mass, com, inertia_zz)
``Joint`` planar                       rotation = q0, translation x = q1, y = q2
``Joint`` pin (+ translation splines)  rotation = q, translation x/y = SimmSpline(q)
``Joint`` weld                         constant
``Coordinate``                         ``CoordinateSpec`` (range, default)
``Muscle`` + ``PathPoint`` s           ``MuscleSpec`` + ``PathPointSpec`` s
``ContactSphere`` + ``ContactModel``   ``ContactSpec``
``gravity`` (magnitude along -Y)       ``gravity = (0, -g, 0)``
=====================================  ==========================================

Muscle curve constants not in BodyParams take OpenSim's
``DeGrooteFregly2016Muscle`` defaults (tendon strain 0.049 at max isometric
force, no fibre damping), which is what ``to_opensim`` builds; the passive
fibre strain is the muscle's ``passive_fiber_strain`` (default 0.6, OpenSim's).
BodyParams has no passive joint torques (nor has the OpenSim model), so the
default is none; pass ``limit_stiffness``/``damping``
to add the engine's exponential joint-limit torques (:mod:`twin.engine.joints`).

Examples
--------
>>> from twin.model import BodyParams
>>> spec = spec_from_body_params(BodyParams.default())
>>> len(spec.bodies), len(spec.coordinates), len(spec.muscles), len(spec.contacts)
(12, 10, 18, 4)
"""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError
from .spec import BodySpec, ContactSpec, CoordinateSpec, Func1D, JointSpec, ModelSpec, MuscleSpec, PathPointSpec

__all__ = ["spec_from_body_params"]


def _planar(where: str, orientation) -> float:
    if abs(orientation[0]) > 1e-12 or abs(orientation[1]) > 1e-12:
        raise ParameterError(f"{where}={tuple(orientation)} is not a rotation about Z; the engine is planar")
    return float(orientation[2])


def _spline(coordinate: str, s) -> Func1D:
    return Func1D.spline(coordinate, s.x, s.y)


def spec_from_body_params(body: Any, *, limit_stiffness: float = 0.0, limit_sharpness: float = 20.0,
                          damping: float = 0.0) -> ModelSpec:
    """The engine spec of a ``twin.model.BodyParams``.

    Parameters
    ----------
    body : twin.model.BodyParams
    limit_stiffness, limit_sharpness, damping : float, keyword-only
        Passive joint torque for every rotational coordinate (see
        :class:`~twin.engine.spec.CoordinateSpec`); default none, as in the
        OpenSim model.

    Returns
    -------
    ModelSpec

    Raises
    ------
    ParameterError
        A non-planar orientation.
    """
    bodies, joints, coords = [], [], []
    for seg in body.segments:
        j = seg.joint
        bodies.append(BodySpec(seg.name, seg.mass, tuple(seg.com), float(seg.inertia[2])))
        names = j.coordinate_names
        rot = Func1D.constant(0.0)
        tx = ty = Func1D.constant(0.0)
        if j.type == "planar":
            rot = Func1D.linear(names[0])
            tx, ty = Func1D.linear(names[1]), Func1D.linear(names[2])
        elif j.type == "pin":
            rot = Func1D.linear(names[0])
            if j.translation_x is not None:
                tx = _spline(names[0], j.translation_x)
            if j.translation_y is not None:
                ty = _spline(names[0], j.translation_y)
        joints.append(JointSpec(
            j.name, j.parent, seg.name, tuple(j.location_in_parent), tuple(j.location_in_child),
            _planar(f"joint {j.name!r} orientation_in_parent", j.orientation_in_parent),
            _planar(f"joint {j.name!r} orientation_in_child", j.orientation_in_child), rot, tx, ty))
        for c, kind in zip(j.coordinates, j.coordinate_types):
            rotational = kind == "rotational"
            coords.append(CoordinateSpec(c.name, tuple(c.range), c.default, rotational,
                                         limit_stiffness if rotational else 0.0, limit_sharpness,
                                         damping if rotational else 0.0))
    muscles = []
    for m in body.muscles:
        path = []
        for p in m.path:
            if p.kind == "fixed":
                path.append(PathPointSpec(p.body, tuple(p.location)))
            elif p.kind == "conditional":
                # OpenSim's ConditionalPathPoint is active within its range widened by 1e-5
                path.append(PathPointSpec(p.body, tuple(p.location), "conditional", p.coordinate,
                                          (p.range[0] - 1e-5, p.range[1] + 1e-5)))
            else:
                path.append(PathPointSpec(p.body, tuple(p.location), "moving", p.coordinate,
                                          x=_spline(p.coordinate, p.x), y=_spline(p.coordinate, p.y),
                                          z=_spline(p.coordinate, p.z)))
        muscles.append(MuscleSpec(m.name, m.max_isometric_force, m.optimal_fiber_length, m.tendon_slack_length,
                                  m.pennation_angle_at_optimal, m.max_contraction_velocity, tuple(path),
                                  m.activation_time_constant, m.deactivation_time_constant,
                                  passive_fiber_strain_at_one_norm_force=m.passive_fiber_strain))
    c = body.contact
    contacts = tuple(
        ContactSpec(s.name, s.body, tuple(s.center), s.radius, c.stiffness, c.dissipation, c.static_friction,
                    c.dynamic_friction, c.viscous_friction, c.transition_velocity, c.constant_contact_force,
                    c.hertz_smoothing, c.hunt_crossley_smoothing)
        for s in body.contact_spheres)
    return ModelSpec(body.name, tuple(bodies), tuple(joints), tuple(coords), tuple(muscles), contacts,
                     (0.0, -float(body.gravity), 0.0))
