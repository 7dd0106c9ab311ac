"""`BodyParams` -> ``opensim.Model``, built component by component with OpenSim's Python API.

What is built (names as in the reference Gait10dof18musc model, so setup
files and motion files written for it apply unchanged):

* one ``Body`` per segment (mass, centre of mass, inertia);
* planar joints as a ``CustomJoint`` (rotation about Z, then translations
  along X and Y: the reference's ``ground_pelvis``), pin joints as
  ``PinJoint``, or as a ``CustomJoint`` with ``SimmSpline`` translations
  when they have couplings (the knees), weld joints as ``WeldJoint``;
  coordinate names, ranges and defaults as given (not clamped, not locked);
* one muscle per :class:`~twin.model.Muscle`: ``DeGrooteFregly2016Muscle``
  (the engine's curves; default) or ``Millard2012EquilibriumMuscle`` (as in
  the reference file, with its settings: active force-length curve minimum
  0, activation/deactivation time constants from the parameters), whose
  ``GeometryPath`` has a ``PathPoint``, ``ConditionalPathPoint`` or
  ``MovingPathPoint`` (``SimmSpline`` x/y/z) per path point;
* with ``contact=True``: a ground ``ContactHalfSpace`` named ``floor``
  (normal +Y), one ``ContactSphere`` per contact sphere and a
  ``SmoothSphereHalfSpaceForce`` ``contact_<sphere>`` for each;
* one marker set's ``Marker`` s.

Examples
--------
>>> from twin.model import BodyParams, to_opensim
>>> model = to_opensim(BodyParams.default(), muscle="Millard2012", markers="plug_in_gait")
>>> state = model.initSystem()
>>> round(model.getTotalMass(state), 4), model.getMuscles().getSize(), model.getMarkerSet().getSize()
(75.1646, 18, 17)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import ParameterError, TwinError
from .params import BodyParams, Joint, PathPoint, Spline

__all__ = ["to_opensim", "write_osim", "MUSCLE_MODELS", "MARKER_SETS"]

#: Muscle classes ``to_opensim`` can build.
MUSCLE_MODELS = ("DeGrooteFregly2016", "Millard2012")

#: Marker sets of the default body (``markers=`` takes any set name the body has, or None).
MARKER_SETS = ("subject01", "plug_in_gait", "opencap")

_CREDITS = ("Built by twin (twin.model.to_opensim) from BodyParams. Default parameters: OpenSim Gait10dof18musc "
            "by Ajay Seth (planar reduced gait model, 10 dof, 18 muscles), closely based on Delp et al. 1990, "
            "Yamaguchi & Zajac 1989 and Anderson & Pandy 1999/2001; CC BY 3.0.")


def _osim():
    try:
        import opensim
    except ImportError as err:  # pragma: no cover - opensim is a dependency
        raise TwinError("twin.model.to_opensim needs the opensim package (conda install -c opensim-org opensim "
                        "or pip install opensim)") from err
    return opensim


def _vec3(osim, v):
    return osim.Vec3(float(v[0]), float(v[1]), float(v[2]))


def _simm_spline(osim, s: Spline):
    f = osim.SimmSpline()
    for x, y in zip(s.x, s.y):
        f.addPoint(float(x), float(y))
    return f


def _custom_joint(osim, model, j: Joint, parent, child):
    """A CustomJoint with rotation about Z first, then X/Y translations (planar or spline-coupled pin)."""
    st = osim.SpatialTransform()
    names = j.coordinate_names

    def axis(i: int, direction, coordinate: str | None, function) -> None:
        ta = st.updTransformAxis(i)
        ta.setAxis(osim.Vec3(*direction))
        if coordinate is not None:
            arr = osim.ArrayStr()
            arr.append(coordinate)
            ta.setCoordinateNames(arr)
        ta.set_function(function)  # copies (setFunction would adopt a Python-owned object)

    axis(0, (0, 0, 1), names[0], osim.LinearFunction(1.0, 0.0))
    axis(1, (1, 0, 0) if j.type == "planar" else (0, 1, 0), None, osim.Constant(0.0))
    axis(2, (0, 1, 0) if j.type == "planar" else (1, 0, 0), None, osim.Constant(0.0))
    if j.type == "planar":
        axis(3, (1, 0, 0), names[1], osim.LinearFunction(1.0, 0.0))
        axis(4, (0, 1, 0), names[2], osim.LinearFunction(1.0, 0.0))
    else:
        for i, (spline, direction) in enumerate(((j.translation_x, (1, 0, 0)), (j.translation_y, (0, 1, 0)))):
            if spline is None:
                axis(3 + i, direction, None, osim.Constant(0.0))
            else:
                axis(3 + i, direction, names[0], _simm_spline(osim, spline))
    axis(5, (0, 0, 1), None, osim.Constant(0.0))
    joint = osim.CustomJoint(j.name, parent, _vec3(osim, j.location_in_parent), _vec3(osim, j.orientation_in_parent),
                             child, _vec3(osim, j.location_in_child), _vec3(osim, j.orientation_in_child), st)
    joint.finalizeFromProperties()  # creates the coordinates named in the transform axes
    return joint


def _joint(osim, model, j: Joint, parent, child):
    args = (j.name, parent, _vec3(osim, j.location_in_parent), _vec3(osim, j.orientation_in_parent),
            child, _vec3(osim, j.location_in_child), _vec3(osim, j.orientation_in_child))
    if j.type == "weld":
        return osim.WeldJoint(*args)
    if j.type == "pin" and not j.coupled:
        return osim.PinJoint(*args)
    return _custom_joint(osim, model, j, parent, child)


def _path_point(osim, model, p: PathPoint):
    body = model.getBodySet().get(p.body)
    if p.kind == "fixed":
        pp = osim.PathPoint()
        pp.setName(p.name)
        pp.setParentFrame(body)
        pp.set_location(_vec3(osim, p.location))
        return pp
    coord = model.getCoordinateSet().get(p.coordinate)
    if p.kind == "conditional":
        pp = osim.ConditionalPathPoint()
        pp.setName(p.name)
        pp.setParentFrame(body)
        pp.set_location(_vec3(osim, p.location))
        pp.setCoordinate(coord)
        pp.setRangeMin(float(p.range[0]))
        pp.setRangeMax(float(p.range[1]))
        return pp
    pp = osim.MovingPathPoint()
    pp.setName(p.name)
    pp.setParentFrame(body)
    pp.set_x_location(_simm_spline(osim, p.x))
    pp.set_y_location(_simm_spline(osim, p.y))
    pp.set_z_location(_simm_spline(osim, p.z))
    pp.setXCoordinate(coord)
    pp.setYCoordinate(coord)
    pp.setZCoordinate(coord)
    return pp


def to_opensim(params: BodyParams, *, muscle: str = "DeGrooteFregly2016", contact: bool = True,
               markers: str | None = "subject01", geometry: bool = False) -> Any:
    """Build an ``opensim.Model`` from body parameters.

    Parameters
    ----------
    params : BodyParams
    muscle : {"DeGrooteFregly2016", "Millard2012"}
        Muscle class. The reference file uses Millard2012; the engine uses the
        De Groote--Fregly 2016 curves. Same parameters and paths either way;
        a muscle's ``passive_fiber_strain`` sets the passive curve's strain
        at one normalised force (Millard2012: only when it is not the
        default 0.6, else Millard's own curve, 0.7).
    contact : bool, default True
        Add the foot contact spheres, the ground half-space and their
        ``SmoothSphereHalfSpaceForce`` s.
    markers : str or None, default "subject01"
        Name of the marker set to add (one of ``params.marker_set_names``:
        ``"subject01"``, ``"plug_in_gait"``, ``"opencap"`` for the default
        body), or None for no markers.
    geometry : bool, default False
        Attach the segments' display meshes (OpenSim looks them up in its
        ``Geometry`` folder and warns when absent; visual only).

    Returns
    -------
    opensim.Model
        Connected (``finalizeConnections``) but not initialised: call
        ``initSystem()`` to get a state.

    Raises
    ------
    ParameterError
        Unknown muscle model or marker set, or ``params`` not a BodyParams.
    TwinError
        OpenSim rejected the model (message says which component).
    """
    osim = _osim()
    if not isinstance(params, BodyParams):
        raise ParameterError(f"params must be a twin.model.BodyParams, not {type(params).__name__}")
    if muscle not in MUSCLE_MODELS:
        raise ParameterError(f"muscle={muscle!r} is not allowed; choose one of: "
                             + ", ".join(repr(m) for m in MUSCLE_MODELS))
    if markers is not None and markers not in params.marker_set_names:
        raise ParameterError(f"markers={markers!r} is not a marker set of this body; choose one of: "
                             + ", ".join(repr(m) for m in params.marker_set_names) + " or None")
    if not isinstance(contact, bool):
        raise ParameterError(f"contact={contact!r} must be True or False")

    try:
        model = osim.Model()
        model.setName(params.name)
        model.set_credits(_CREDITS)
        model.set_publications(
            "Delp S.L. et al. IEEE Trans Biomed Eng 37:757-767, 1990. Yamaguchi G.T., Zajac F.E. J Biomech "
            "22:1-10, 1989. Anderson F.C., Pandy M.G. J Biomech Eng 123:381-390, 2001.")
        model.setGravity(osim.Vec3(0.0, -params.gravity, 0.0))
        for seg in params.segments:
            i = seg.inertia
            body = osim.Body(seg.name, seg.mass, _vec3(osim, seg.com), osim.Inertia(*map(float, i)))
            if geometry:
                for k, mesh in enumerate(seg.meshes):
                    g = osim.Mesh(mesh)
                    g.setName(f"{seg.name}_geom_{k + 1}")
                    body.attachGeometry(g)
            model.addBody(body)
        for seg in params.segments:
            j = seg.joint
            parent = model.getGround() if j.parent == "ground" else model.getBodySet().get(j.parent)
            joint = _joint(osim, model, j, parent, model.getBodySet().get(seg.name))
            for k, c in enumerate(j.coordinates):
                coord = joint.upd_coordinates(k)
                coord.setName(c.name)
                coord.setRangeMin(float(c.range[0]))
                coord.setRangeMax(float(c.range[1]))
                coord.setDefaultValue(float(c.default))
                coord.setDefaultClamped(False)
                coord.setDefaultLocked(False)
            model.addJoint(joint)
        model.finalizeConnections()
        for m in params.muscles:
            if muscle == "Millard2012":
                mus = osim.Millard2012EquilibriumMuscle()
                mus.set_minimum_activation(0.01)
                mus.upd_ActiveForceLengthCurve().set_minimum_value(0.0)
                if m.passive_fiber_strain != 0.6:  # else Millard's own passive curve (strain 0.7 at one force)
                    mus.upd_FiberForceLengthCurve().set_strain_at_one_norm_force(m.passive_fiber_strain)
            else:
                mus = osim.DeGrooteFregly2016Muscle()
                mus.set_passive_fiber_strain_at_one_norm_force(m.passive_fiber_strain)
            mus.setName(m.name)
            mus.set_max_isometric_force(m.max_isometric_force)
            mus.set_optimal_fiber_length(m.optimal_fiber_length)
            mus.set_tendon_slack_length(m.tendon_slack_length)
            mus.set_pennation_angle_at_optimal(m.pennation_angle_at_optimal)
            mus.set_max_contraction_velocity(m.max_contraction_velocity)
            mus.set_activation_time_constant(m.activation_time_constant)
            mus.set_deactivation_time_constant(m.deactivation_time_constant)
            pps = mus.updGeometryPath().updPathPointSet()
            for p in m.path:
                pps.adoptAndAppend(_path_point(osim, model, p))
            model.addForce(mus)
        if contact and params.contact_spheres:
            floor = osim.ContactHalfSpace(osim.Vec3(0, 0, 0), osim.Vec3(0, 0, -math.pi / 2), model.getGround(),
                                          "floor")
            model.addContactGeometry(floor)
            c = params.contact
            for sph in params.contact_spheres:
                geo = osim.ContactSphere(sph.radius, _vec3(osim, sph.center), model.getBodySet().get(sph.body),
                                         sph.name)
                model.addContactGeometry(geo)
                force = osim.SmoothSphereHalfSpaceForce(f"contact_{sph.name}", geo, floor)
                force.set_stiffness(c.stiffness)
                force.set_dissipation(c.dissipation)
                force.set_static_friction(c.static_friction)
                force.set_dynamic_friction(c.dynamic_friction)
                force.set_viscous_friction(c.viscous_friction)
                force.set_transition_velocity(c.transition_velocity)
                force.set_constant_contact_force(c.constant_contact_force)
                force.set_hertz_smoothing(c.hertz_smoothing)
                force.set_hunt_crossley_smoothing(c.hunt_crossley_smoothing)
                model.addForce(force)
        if markers is not None:
            for mk in params.marker_set(markers).markers:
                model.addMarker(osim.Marker(mk.name, model.getBodySet().get(mk.body), _vec3(osim, mk.location)))
        model.finalizeConnections()
    except RuntimeError as err:
        raise TwinError(f"OpenSim rejected the model built from these parameters: {err}") from err
    return model


def write_osim(params: BodyParams, path: str | os.PathLike, **options: Any) -> Path:
    """Build the model (:func:`to_opensim` options) and print it to an ``.osim`` file, atomically.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> from twin.model import BodyParams, write_osim
    >>> out = write_osim(BodyParams.default(), os.path.join(tempfile.mkdtemp(), "body.osim"), contact=False)
    >>> out.name, out.stat().st_size > 10_000
    ('body.osim', True)
    """
    from ..io.store import atomic_path

    path = Path(path)
    if path.suffix.lower() != ".osim":
        raise ParameterError(f"{path}: an OpenSim model file must end in .osim")
    model = to_opensim(params, **options)
    with atomic_path(path) as tmp:
        # OpenSim picks the document format from the extension
        tmp_osim = tmp + ".osim"
        try:
            if not model.printToXML(tmp_osim):
                raise TwinError(f"OpenSim could not write {path}")
            os.replace(tmp_osim, tmp)
        finally:
            if os.path.exists(tmp_osim):
                os.unlink(tmp_osim)
    return path
