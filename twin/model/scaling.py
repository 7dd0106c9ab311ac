"""Scaling a :class:`~twin.model.BodyParams`: height and mass (de Leva 1996), per-segment factors (OpenSim ScaleTool).

Rules
-----
Geometry (per segment, factor ``s`` = ``height / body.height`` times the
segment's entry in ``factors``; a number or one per axis), as OpenSim's
ScaleTool does:

* centre of mass, path points (moving points' splines too), markers and
  contact-sphere centres fixed in the segment: multiplied by ``s``
  componentwise; contact-sphere radii by the mean of ``s`` (OpenSim leaves
  contact geometry alone; twin's foot contacts follow the foot);
* joint frames: the location on the parent by the parent's ``s``, the one
  on the child by the child's ``s``; the knee's spline translations by the
  parent's (femur's) ``s`` along their axis;
* inertia: the mass distribution stretched by ``s`` (second moments times
  ``s_i s_j``), i.e. times ``s**2`` for a uniform factor as in OpenSim.

Mass (only when ``mass`` is given), ``mass_distribution``:

* ``"model"`` (default with ``factors`` only): every segment's mass and
  inertia times ``mass / body.mass`` -- OpenSim's "preserve mass
  distribution";
* ``"deleva"`` (default with ``height``): segment masses from de Leva
  (1996, J Biomech 29:1223-1230, Table 4, Zatsiorsky--Seluyanov data
  adjusted to joint centres) for ``sex``: pelvis = "pelvis" (MIDH--MIDA),
  torso = head + "torso" (SUPR--MIDA) + both arms (upper arm, forearm,
  hand), femur = thigh, tibia = shank, talus + calcn + toes = foot (split
  in the model's own proportions). Inertias follow each segment's mass
  ratio (the model's radii of gyration are kept). Lengths are not taken
  from the table: de Leva's segment lengths are proportional to stature,
  so a height change scales every segment by ``height / body.height``.

Muscles (``muscle_lengths=True``): optimal fibre length and tendon slack
length times the ratio of musculotendon length after/before scaling, both
at the default pose -- OpenSim's ``Muscle::postScale``. Maximum isometric
force is not changed (as OpenSim).

Examples
--------
>>> from twin.model import BodyParams
>>> body = BodyParams.default()
>>> big = body.scaled(factors={"tibia_r": 1.1})
>>> body.joint("ankle_r").location_in_parent[1], round(big.joint("ankle_r").location_in_parent[1], 6)
(-0.43, -0.473)
>>> round(big.muscle("soleus_r").tendon_slack_length / 0.25, 4)   # soleus length grew by this ratio
1.0938
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ParameterError
from .params import BodyParams, Joint, PathPoint, Segment, _inertia_matrix

__all__ = ["scale", "DE_LEVA_1996", "segment_groups"]

#: de Leva (1996) Table 4 segment masses, percent of body mass: (male, female).
DE_LEVA_1996: dict[str, tuple[float, float]] = {
    "head": (6.94, 6.68),        # VERT-MIDG (head and neck)
    "torso": (32.29, 30.10),     # SUPR-MIDA: upper + middle trunk
    "pelvis": (11.17, 12.47),    # MIDA-MIDH: lower trunk
    "upper_arm": (2.71, 2.55),
    "forearm": (1.62, 1.38),
    "hand": (0.61, 0.56),
    "thigh": (14.16, 14.78),
    "shank": (4.33, 4.81),
    "foot": (1.37, 1.29),
}


def segment_groups(body: BodyParams) -> dict[str, tuple[str, ...]]:
    """Model segments making up each anthropometric group (de Leva mapping)."""
    names = set(body.segment_names)
    groups = {
        "pelvis": ("pelvis",), "hat": ("torso",),
        "thigh_r": ("femur_r",), "thigh_l": ("femur_l",),
        "shank_r": ("tibia_r",), "shank_l": ("tibia_l",),
        "foot_r": ("talus_r", "calcn_r", "toes_r"), "foot_l": ("talus_l", "calcn_l", "toes_l"),
    }
    covered = {s for g in groups.values() for s in g}
    if covered != names:
        raise ParameterError(
            "mass_distribution='deleva' needs the Gait10dof18musc segments "
            f"{sorted(covered)}; this body has {sorted(names)}; use mass_distribution='model'")
    return groups


def _group_fractions(sex: str) -> dict[str, float]:
    k = 0 if sex == "male" else 1
    t = {name: v[k] for name, v in DE_LEVA_1996.items()}
    frac = {
        "pelvis": t["pelvis"],
        "hat": t["head"] + t["torso"] + 2 * (t["upper_arm"] + t["forearm"] + t["hand"]),
        "thigh_r": t["thigh"], "thigh_l": t["thigh"],
        "shank_r": t["shank"], "shank_l": t["shank"],
        "foot_r": t["foot"], "foot_l": t["foot"],
    }
    total = sum(frac.values())
    return {g: v / total for g, v in frac.items()}


def _factors(body: BodyParams, height: float | None, factors: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    base = 1.0 if height is None else height / body.height
    out = {s: np.full(3, base) for s in body.segment_names}
    out["ground"] = np.ones(3)
    for name, value in (factors or {}).items():
        if name not in body.segment_names:
            raise ParameterError(f"factors[{name!r}]: no such segment; known: {', '.join(body.segment_names)}")
        try:
            f = np.broadcast_to(np.asarray(value, dtype=float), (3,)).copy()
        except (TypeError, ValueError):
            raise ParameterError(f"factors[{name!r}]={value!r} must be a number or 3 numbers") from None
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            raise ParameterError(f"factors[{name!r}]={value!r} must be finite and > 0")
        out[name] = out[name] * f
    return out


def _scale_inertia(inertia: tuple[float, ...], s: np.ndarray) -> tuple[float, ...]:
    i = _inertia_matrix(inertia)
    second = 0.5 * np.trace(i) * np.eye(3) - i          # second moments: int x_i x_j dm
    second = second * np.outer(s, s)
    j = np.trace(second) * np.eye(3) - second
    return (j[0, 0], j[1, 1], j[2, 2], j[0, 1], j[0, 2], j[1, 2])


def _geometry(body: BodyParams, f: dict[str, np.ndarray]) -> BodyParams:
    from .geometry import rotation_xyz

    segments = []
    for seg in body.segments:
        j = seg.joint
        sp, sc = f[seg.parent], f[seg.name]
        changes: dict[str, Any] = {
            "location_in_parent": tuple(np.array(j.location_in_parent) * sp),
            "location_in_child": tuple(np.array(j.location_in_child) * sc),
        }
        rot = rotation_xyz(j.orientation_in_parent)
        for axis, key in ((0, "translation_x"), (1, "translation_y")):
            spline = getattr(j, key)
            if spline is not None:
                changes[key] = spline.scaled(float(np.abs(rot[:, axis]) @ sp))
        joint: Joint = dataclasses.replace(j, **changes)
        segments.append(dataclasses.replace(
            seg, com=tuple(np.array(seg.com) * sc), inertia=_scale_inertia(seg.inertia, sc), joint=joint))

    def point(p: PathPoint) -> PathPoint:
        s = f[p.body]
        if p.kind == "moving":
            return dataclasses.replace(p, x=p.x.scaled(s[0]), y=p.y.scaled(s[1]), z=p.z.scaled(s[2]))
        return dataclasses.replace(p, location=tuple(np.array(p.location) * s))

    muscles = tuple(dataclasses.replace(m, path=tuple(point(p) for p in m.path)) for m in body.muscles)
    spheres = tuple(dataclasses.replace(c, center=tuple(np.array(c.center) * f[c.body]),
                                        radius=c.radius * float(np.mean(f[c.body])))
                    for c in body.contact_spheres)
    sets = tuple(dataclasses.replace(ms, markers=tuple(
        dataclasses.replace(mk, location=tuple(np.array(mk.location) * f[mk.body])) for mk in ms.markers))
        for ms in body.marker_sets)
    return dataclasses.replace(body, segments=tuple(segments), muscles=muscles, contact_spheres=spheres,
                               marker_sets=sets)


def _with_masses(body: BodyParams, new_mass: dict[str, float]) -> BodyParams:
    segs = []
    for seg in body.segments:
        k = new_mass[seg.name] / seg.mass
        segs.append(dataclasses.replace(seg, mass=new_mass[seg.name], inertia=tuple(v * k for v in seg.inertia)))
    return dataclasses.replace(body, segments=tuple(segs))


def scale(body: BodyParams, *, height: float | None = None, mass: float | None = None,
          factors: Mapping[str, Any] | None = None, sex: str = "male", mass_distribution: str | None = None,
          muscle_lengths: bool = True) -> BodyParams:
    """Scaled copy of ``body`` (rules in the module docstring).

    Parameters
    ----------
    body : BodyParams
    height : float, optional
        New standing height, m: every segment scales by ``height / body.height``.
    mass : float, optional
        New total mass, kg.
    factors : mapping, optional
        ``{segment: factor}`` (a number, or 3 numbers for X, Y, Z), applied
        on top of the height ratio.
    sex : {"male", "female"}
        de Leva table column for ``mass_distribution="deleva"``.
    mass_distribution : {"model", "deleva"}, optional
        Default: ``"deleva"`` when ``height`` is given, ``"model"`` otherwise.
    muscle_lengths : bool, default True
        Scale optimal fibre and tendon slack lengths with the musculotendon length.

    Returns
    -------
    BodyParams
        With a line added to ``history``.

    Raises
    ------
    ParameterError
        Non-positive height, mass or factor; unknown segment, sex or distribution.
    """
    from ..errors import check_param
    from .geometry import mtu_lengths, standing_height

    if height is not None:
        height = float(check_param("height", height, minimum=1e-9, types=(int, float)))
        if not 0.3 <= height <= 3.0:
            raise ParameterError(f"height={height!r} m is not a human stature (0.3-3.0 m); give metres")
    if mass is not None:
        mass = float(check_param("mass", mass, minimum=1e-9, types=(int, float)))
        if not 2.0 <= mass <= 500.0:
            raise ParameterError(f"mass={mass!r} kg is not a human body mass (2-500 kg)")
    check_param("sex", sex, choices=("male", "female"))
    if mass_distribution is None:
        mass_distribution = "deleva" if height is not None else "model"
    check_param("mass_distribution", mass_distribution, choices=("model", "deleva"))
    if factors is not None and not isinstance(factors, Mapping):
        raise ParameterError(f"factors must be a mapping {{segment: factor}}, not {type(factors).__name__}")

    f = _factors(body, height, factors)
    out = _geometry(body, f)
    if mass is not None:
        if mass_distribution == "model":
            k = mass / body.mass
            out = _with_masses(out, {s.name: s.mass * k for s in out.segments})
        else:
            groups = segment_groups(body)
            frac = _group_fractions(sex)
            new: dict[str, float] = {}
            for g, segs in groups.items():
                now = sum(out.segment(s).mass for s in segs)
                for s in segs:
                    new[s] = frac[g] * mass * out.segment(s).mass / now
            out = _with_masses(out, new)
    if muscle_lengths and body.muscles:
        pose = body.default_pose()
        before = mtu_lengths(body, pose)
        after = mtu_lengths(out, pose)
        out = dataclasses.replace(out, muscles=tuple(
            dataclasses.replace(m, optimal_fiber_length=m.optimal_fiber_length * float(after[m.name] / before[m.name]),
                                tendon_slack_length=m.tendon_slack_length * float(after[m.name] / before[m.name]))
            for m in out.muscles))
    new_height = height if height is not None else body.height * standing_height(out) / standing_height(body)
    parts = []
    if height is not None:
        parts.append(f"height {body.height:.4g} -> {height:.4g} m")
    if factors:
        parts.append("factors " + ", ".join(f"{k}={np.round(np.asarray(v, dtype=float), 5).tolist()}"
                                            for k, v in factors.items()))
    if mass is not None:
        parts.append(f"mass {body.mass:.4g} -> {mass:.4g} kg ({mass_distribution} distribution"
                     + (f", de Leva 1996 {sex}" if mass_distribution == "deleva" else "") + ")")
    if muscle_lengths:
        parts.append("fibre/tendon lengths by musculotendon length ratio")
    return dataclasses.replace(out, height=float(new_height),
                               history=body.history + ("scaled: " + "; ".join(parts),))
