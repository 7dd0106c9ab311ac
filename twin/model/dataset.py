"""`BodyParams` <-> :class:`xarray.Dataset` (``attrs["kind"] = "body_params"``), an exact round trip.

Layout (dims in brackets; every variable, coordinates included, has
``units`` and ``long_name``; strings have units ``"1"``; absent values in
padded arrays are NaN, or ``""`` for strings):

==============================================  =========================================  ========
variable                                        dims                                       units
==============================================  =========================================  ========
segment_mass                                    (segment)                                  kg
segment_com                                     (segment, axis)                            m
segment_inertia                                 (segment, inertia_component)               kg m^2
joint_location_in_parent / _in_child            (segment, axis)                            m
joint_orientation_in_parent / _in_child         (segment, axis)                            rad
coupling_knot, coupling_value                   (segment, coupling_axis, knot)             rad, m
coordinate_min, coordinate_max, _default        (coordinate)                               rad or m
max_isometric_force                             (muscle)                                   N
optimal_fiber_length, tendon_slack_length       (muscle)                                   m
pennation_angle_at_optimal                      (muscle)                                   rad
max_contraction_velocity                        (muscle)                                   1/s
activation_/deactivation_time_constant          (muscle)                                   s
passive_fiber_strain                            (muscle)                                   1
point_location                                  (muscle, path_point, axis)                 m
point_range_min, point_range_max                (muscle, path_point)                       rad
point_spline_knot, point_spline_value           (muscle, path_point, axis, knot)           rad, m
sphere_center, sphere_radius                    (contact_sphere[, axis])                   m
contact_<parameter>                             ()                                         see ContactModel
marker_location                                 (marker, axis)                             m
height, gravity                                 ()                                         m, m/s^2
==============================================  =========================================  ========

String coordinates: ``segment_parent``, ``segment_meshes`` (``;``-joined),
``joint_name``, ``joint_type`` (segment); ``coordinate_joint``,
``coordinate_type``, ``coordinate_units`` (coordinate); ``point_name``,
``point_body``, ``point_kind``, ``point_coordinate`` (muscle, path_point);
``sphere_body`` (contact_sphere); ``marker_set``, ``marker_name``,
``marker_body`` (marker, whose labels are ``"set/name"``). Attrs: ``name``,
``history`` (lines), ``marker_sets`` (JSON list of names and descriptions,
so empty sets survive).

Examples
--------
>>> from twin.model import BodyParams
>>> ds = BodyParams.default().to_dataset()
>>> ds.sizes["segment"], ds.sizes["muscle"], ds.sizes["path_point"]
(12, 18, 5)
>>> str(ds.point_kind.sel(muscle="vasti_r").values[3])
'moving'
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..errors import SchemaError
from .params import (
    BodyParams,
    ContactModel,
    ContactSphere,
    Coordinate,
    Joint,
    Marker,
    MarkerSet,
    Muscle,
    PathPoint,
    Segment,
    Spline,
)

__all__ = ["to_dataset", "from_dataset", "KIND"]

KIND = "body_params"
AXES = ("x", "y", "z")
INERTIA = ("xx", "yy", "zz", "xy", "xz", "yz")
_MUSCLE_FIELDS = {
    "max_isometric_force": ("N", "maximum isometric force"),
    "optimal_fiber_length": ("m", "optimal fibre length"),
    "tendon_slack_length": ("m", "tendon slack length"),
    "pennation_angle_at_optimal": ("rad", "pennation angle at optimal fibre length"),
    "max_contraction_velocity": ("1/s", "maximum contraction velocity (optimal fibre lengths per second)"),
    "activation_time_constant": ("s", "activation time constant"),
    "deactivation_time_constant": ("s", "deactivation time constant"),
    "passive_fiber_strain": ("1", "passive fibre strain at one normalised force"),
}
#: Muscle fields added after the format's first version: a Dataset without them gets the Muscle default.
_NEWER_MUSCLE_FIELDS = ("passive_fiber_strain",)


def _var(dims, data, units, long_name):
    return (dims, np.asarray(data), {"units": units, "long_name": long_name})


def _pad_splines(splines: list[Spline | None], width: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.full((len(splines), width), np.nan)
    y = np.full((len(splines), width), np.nan)
    for i, s in enumerate(splines):
        if s is not None:
            x[i, : len(s.x)] = s.x
            y[i, : len(s.y)] = s.y
    return x, y


def to_dataset(body: BodyParams) -> xr.Dataset:
    """All of ``body`` as a Dataset (layout in the module docstring)."""
    segs = body.segments
    muscles = body.muscles
    n_pts = max((len(m.path) for m in muscles), default=0)
    splines = [s for seg in segs for s in (seg.joint.translation_x, seg.joint.translation_y) if s is not None]
    splines += [s for m in muscles for p in m.path if p.kind == "moving" for s in (p.x, p.y, p.z)]
    n_knot = max((len(s.x) for s in splines), default=1)

    cx, cy = _pad_splines([s for seg in segs for s in (seg.joint.translation_x, seg.joint.translation_y)], n_knot)
    coupling_shape = (len(segs), 2, n_knot)

    shape_mp = (len(muscles), n_pts)
    p_name = np.full(shape_mp, "", dtype=object)
    p_body = np.full(shape_mp, "", dtype=object)
    p_kind = np.full(shape_mp, "", dtype=object)
    p_coord = np.full(shape_mp, "", dtype=object)
    p_loc = np.full(shape_mp + (3,), np.nan)
    p_rmin = np.full(shape_mp, np.nan)
    p_rmax = np.full(shape_mp, np.nan)
    p_knot = np.full(shape_mp + (3, n_knot), np.nan)
    p_val = np.full(shape_mp + (3, n_knot), np.nan)
    for i, m in enumerate(muscles):
        for k, p in enumerate(m.path):
            p_name[i, k], p_body[i, k], p_kind[i, k] = p.name, p.body, p.kind
            p_coord[i, k] = p.coordinate or ""
            p_loc[i, k] = p.location
            if p.range is not None:
                p_rmin[i, k], p_rmax[i, k] = p.range
            if p.kind == "moving":
                for a, s in enumerate((p.x, p.y, p.z)):
                    p_knot[i, k, a, : len(s.x)] = s.x
                    p_val[i, k, a, : len(s.y)] = s.y

    coords = body.coordinates
    ctypes = [body.coordinate_type(c.name) for c in coords]
    cjoint = [body.coordinate_joint(c.name).name for c in coords]
    markers = [(ms.name, mk) for ms in body.marker_sets for mk in ms.markers]

    def s1(dims, values, long_name):
        return (dims, np.array(values, dtype=object if len(values) else str),
                {"units": "1", "long_name": long_name})

    ds = xr.Dataset(
        data_vars={
            "segment_mass": _var("segment", [s.mass for s in segs], "kg", "segment mass"),
            "segment_com": _var(("segment", "axis"), np.reshape([s.com for s in segs], (-1, 3)), "m",
                                "centre of mass in the segment frame"),
            "segment_inertia": _var(("segment", "inertia_component"), np.reshape([s.inertia for s in segs], (-1, 6)),
                                    "kg m^2", "inertia about the centre of mass, segment frame"),
            "joint_location_in_parent": _var(("segment", "axis"),
                                             np.reshape([s.joint.location_in_parent for s in segs], (-1, 3)), "m",
                                             "joint frame origin in the parent segment"),
            "joint_orientation_in_parent": _var(("segment", "axis"),
                                                np.reshape([s.joint.orientation_in_parent for s in segs], (-1, 3)),
                                                "rad", "joint frame orientation in the parent (body-fixed XYZ)"),
            "joint_location_in_child": _var(("segment", "axis"),
                                            np.reshape([s.joint.location_in_child for s in segs], (-1, 3)), "m",
                                            "joint frame origin in the segment"),
            "joint_orientation_in_child": _var(("segment", "axis"),
                                               np.reshape([s.joint.orientation_in_child for s in segs], (-1, 3)),
                                               "rad", "joint frame orientation in the segment (body-fixed XYZ)"),
            "coupling_knot": _var(("segment", "coupling_axis", "knot"), cx.reshape(coupling_shape), "rad",
                                  "joint angle knots of the spline-coupled joint translation"),
            "coupling_value": _var(("segment", "coupling_axis", "knot"), cy.reshape(coupling_shape), "m",
                                   "spline-coupled joint translation at the knots"),
            "coordinate_min": _var("coordinate", [c.range[0] for c in coords], "rad or m (coordinate_units)",
                                   "range of motion, minimum"),
            "coordinate_max": _var("coordinate", [c.range[1] for c in coords], "rad or m (coordinate_units)",
                                   "range of motion, maximum"),
            "coordinate_default": _var("coordinate", [c.default for c in coords], "rad or m (coordinate_units)",
                                       "default value"),
            **{f: _var("muscle", [getattr(m, f) for m in muscles], u, ln) for f, (u, ln) in _MUSCLE_FIELDS.items()},
            "point_location": _var(("muscle", "path_point", "axis"), p_loc, "m",
                                   "path point location in its segment (fixed and conditional points)"),
            "point_range_min": _var(("muscle", "path_point"), p_rmin, "rad",
                                    "conditional path point: coordinate range where active, minimum"),
            "point_range_max": _var(("muscle", "path_point"), p_rmax, "rad",
                                    "conditional path point: coordinate range where active, maximum"),
            "point_spline_knot": _var(("muscle", "path_point", "axis", "knot"), p_knot, "rad",
                                      "moving path point: coordinate knots"),
            "point_spline_value": _var(("muscle", "path_point", "axis", "knot"), p_val, "m",
                                       "moving path point: location component at the knots"),
            "sphere_center": _var(("contact_sphere", "axis"),
                                  np.reshape([c.center for c in body.contact_spheres], (-1, 3)), "m",
                                  "contact sphere centre in its segment"),
            "sphere_radius": _var("contact_sphere", [c.radius for c in body.contact_spheres], "m",
                                  "contact sphere radius"),
            **{f"contact_{k}": _var((), getattr(body.contact, k), u, f"contact force law: {k.replace('_', ' ')}")
               for k, u in ContactModel.UNITS.items()},
            "marker_location": _var(("marker", "axis"), np.reshape([mk.location for _, mk in markers], (-1, 3)), "m",
                                    "marker location in its segment"),
            "height": _var((), body.height, "m", "standing height"),
            "gravity": _var((), body.gravity, "m/s^2", "gravitational acceleration (along -Y)"),
        },
        coords={
            "segment": s1("segment", [s.name for s in segs], "segment"),
            "segment_parent": s1("segment", [s.parent for s in segs], "parent segment"),
            "segment_meshes": s1("segment", [";".join(s.meshes) for s in segs], "display meshes (;-joined)"),
            "joint_name": s1("segment", [s.joint.name for s in segs], "joint to the parent"),
            "joint_type": s1("segment", [s.joint.type for s in segs], "joint type"),
            "axis": s1("axis", list(AXES), "axis of the segment frame"),
            "inertia_component": s1("inertia_component", list(INERTIA), "inertia tensor component"),
            "coupling_axis": s1("coupling_axis", ["x", "y"], "axis of a spline-coupled joint translation"),
            "coordinate": s1("coordinate", [c.name for c in coords], "generalised coordinate"),
            "coordinate_joint": s1("coordinate", cjoint, "joint owning the coordinate"),
            "coordinate_type": s1("coordinate", ctypes, "rotational or translational"),
            "coordinate_units": s1("coordinate", ["rad" if t == "rotational" else "m" for t in ctypes],
                                   "units of the coordinate"),
            "muscle": s1("muscle", [m.name for m in muscles], "muscle"),
            "path_point": ("path_point", np.arange(n_pts), {"units": "1", "long_name": "path point index"}),
            "point_name": (("muscle", "path_point"), p_name.astype(str) if p_name.size else p_name.astype(str),
                           {"units": "1", "long_name": "path point name"}),
            "point_body": (("muscle", "path_point"), p_body.astype(str),
                           {"units": "1", "long_name": "path point segment"}),
            "point_kind": (("muscle", "path_point"), p_kind.astype(str),
                           {"units": "1", "long_name": "fixed, conditional or moving ('' = padding)"}),
            "point_coordinate": (("muscle", "path_point"), p_coord.astype(str),
                                 {"units": "1", "long_name": "coordinate a conditional/moving point depends on"}),
            "contact_sphere": s1("contact_sphere", [c.name for c in body.contact_spheres], "contact sphere"),
            "sphere_body": s1("contact_sphere", [c.body for c in body.contact_spheres], "contact sphere segment"),
            "marker": s1("marker", [f"{s}/{mk.name}" for s, mk in markers], "marker (set/name)"),
            "marker_set": s1("marker", [s for s, _ in markers], "marker set"),
            "marker_name": s1("marker", [mk.name for _, mk in markers], "marker name"),
            "marker_body": s1("marker", [mk.body for _, mk in markers], "marker segment"),
        },
        attrs={
            "kind": KIND,
            "name": body.name,
            "history": "\n".join(body.history),
            "marker_sets": json.dumps([{"name": ms.name, "description": ms.description} for ms in body.marker_sets]),
        },
    )
    for name in ds.variables:  # object arrays of str -> fixed-width unicode, netCDF friendly
        if ds[name].dtype == object:
            ds[name] = ds[name].astype(str)
    return ds


def _spline_from(knots: np.ndarray, values: np.ndarray) -> Spline | None:
    ok = ~np.isnan(knots)
    if not ok.any():
        return None
    return Spline(knots[ok], values[ok])


def from_dataset(ds: xr.Dataset) -> BodyParams:
    """Inverse of :func:`to_dataset`.

    Raises
    ------
    SchemaError
        Not a body-parameter Dataset, or a variable is missing.
    ParameterError
        The values do not make a valid body.
    """
    if not isinstance(ds, xr.Dataset) or ds.attrs.get("kind") != KIND:
        raise SchemaError(f"expected a Dataset with attrs['kind']={KIND!r} (from BodyParams.to_dataset())")
    try:
        v = {k: ds[k].values for k in ds.variables}
    except KeyError as err:  # pragma: no cover - ds.variables is exhaustive
        raise SchemaError(f"body-parameter Dataset lacks {err}") from None
    need = ["segment_mass", "segment_com", "joint_type", "coordinate_min", "max_isometric_force", "point_kind",
            "sphere_radius", "marker_location", "height", "gravity"]
    missing = [k for k in need if k not in v]
    if missing:
        raise SchemaError(f"body-parameter Dataset lacks variable(s) {missing}")

    coords_by_joint: dict[str, list[Coordinate]] = {}
    for i, name in enumerate(v["coordinate"]):
        coords_by_joint.setdefault(str(v["coordinate_joint"][i]), []).append(
            Coordinate(str(name), (float(v["coordinate_min"][i]), float(v["coordinate_max"][i])),
                       float(v["coordinate_default"][i])))
    segments = []
    for i, name in enumerate(v["segment"]):
        jname = str(v["joint_name"][i])
        joint = Joint(jname, str(v["joint_type"][i]), str(v["segment_parent"][i]),
                      tuple(v["joint_location_in_parent"][i]), tuple(v["joint_orientation_in_parent"][i]),
                      tuple(v["joint_location_in_child"][i]), tuple(v["joint_orientation_in_child"][i]),
                      tuple(coords_by_joint.get(jname, ())),
                      _spline_from(v["coupling_knot"][i, 0], v["coupling_value"][i, 0]),
                      _spline_from(v["coupling_knot"][i, 1], v["coupling_value"][i, 1]))
        meshes = str(v["segment_meshes"][i])
        segments.append(Segment(str(name), float(v["segment_mass"][i]), tuple(v["segment_com"][i]),
                                tuple(v["segment_inertia"][i]), joint, tuple(meshes.split(";")) if meshes else ()))
    muscles = []
    for i, name in enumerate(v["muscle"]):
        path = []
        for k in range(v["point_kind"].shape[1]):
            kind = str(v["point_kind"][i, k])
            if not kind:
                continue
            kw: dict = {"name": str(v["point_name"][i, k]), "body": str(v["point_body"][i, k]),
                        "location": tuple(v["point_location"][i, k])}
            if kind != "fixed":
                kw["coordinate"] = str(v["point_coordinate"][i, k])
            if kind == "conditional":
                kw["range"] = (float(v["point_range_min"][i, k]), float(v["point_range_max"][i, k]))
            if kind == "moving":
                for a, ax in enumerate(AXES):
                    kw[ax] = _spline_from(v["point_spline_knot"][i, k, a], v["point_spline_value"][i, k, a])
            path.append(PathPoint(**kw))
        muscles.append(Muscle(str(name), path=tuple(path),
                              **{f: float(v[f][i]) for f in _MUSCLE_FIELDS
                                 if f in v or f not in _NEWER_MUSCLE_FIELDS}))
    spheres = tuple(ContactSphere(str(n), str(v["sphere_body"][i]), tuple(v["sphere_center"][i]),
                                  float(v["sphere_radius"][i])) for i, n in enumerate(v["contact_sphere"]))
    contact = ContactModel(**{k: float(v[f"contact_{k}"]) for k in ContactModel.UNITS})
    sets = []
    for info in json.loads(ds.attrs.get("marker_sets", "[]")):
        sel = [i for i, s in enumerate(v["marker_set"]) if str(s) == info["name"]]
        sets.append(MarkerSet(info["name"], tuple(Marker(str(v["marker_name"][i]), str(v["marker_body"][i]),
                                                         tuple(v["marker_location"][i])) for i in sel),
                              info.get("description", "")))
    history = str(ds.attrs.get("history", ""))
    return BodyParams(segments=tuple(segments), muscles=tuple(muscles), contact_spheres=spheres, contact=contact,
                      marker_sets=tuple(sets), height=float(v["height"]), gravity=float(v["gravity"]),
                      name=str(ds.attrs.get("name", "body")), history=tuple(history.split("\n")) if history else ())
