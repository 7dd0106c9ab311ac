"""Kinematics of a :class:`~twin.model.BodyParams` in plain numpy: frames, points, muscle lengths.

An OpenSim-free evaluation of the same geometry the OpenSim model is built
from (used by :mod:`twin.model.scaling` for the fibre/tendon length rule and
checked against OpenSim in the tests). Poses are dicts ``{coordinate: value}``
(rad or m); values may be arrays (any common shape) to evaluate many poses at
once; missing coordinates take their default value.

Conventions as OpenSim: a joint's child frame in its parent is
``X_PF * X_FM(q) * inv(X_CM)``, with ``X_PF`` / ``X_CM`` the joint frames on
parent and child (location + body-fixed X-Y-Z rotation) and ``X_FM`` a
rotation about Z by the angle, preceded (in the parent joint frame) by the
planar translations or the knee's spline translations.

Examples
--------
>>> import numpy as np
>>> from twin.model import BodyParams, geometry
>>> body = BodyParams.default()
>>> L = geometry.mtu_lengths(body, {"knee_angle_r": np.radians([0.0, -90.0])})
>>> np.round(L["vasti_r"], 4)
array([0.182 , 0.2444])
>>> r = geometry.moment_arms(body, "knee_angle_r", {"knee_angle_r": 0.0})
>>> round(float(r["vasti_r"]), 4)      # knee extensor: positive moment arm about knee_angle
0.0487
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["rotation_xyz", "segment_frames", "point_in_ground", "marker_positions",
           "muscle_path", "mtu_lengths", "moment_arms", "standing_height"]


def rotation_xyz(angles: Sequence[float]) -> np.ndarray:
    """Rotation matrix of body-fixed X-Y-Z angles (rad), as OpenSim frame orientations."""
    a, b, c = angles
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rx @ ry @ rz


def _rz(q: np.ndarray) -> np.ndarray:
    c, s = np.cos(q), np.sin(q)
    out = np.zeros(q.shape + (3, 3))
    out[..., 0, 0] = c
    out[..., 0, 1] = -s
    out[..., 1, 0] = s
    out[..., 1, 1] = c
    out[..., 2, 2] = 1.0
    return out


def _pose(body, pose: Mapping[str, Any] | None) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    pose = dict(pose or {})
    names = set(body.coordinate_names)
    unknown = set(pose) - names
    if unknown:
        raise ParameterError(f"pose has unknown coordinate(s) {sorted(unknown)}; "
                             f"known: {', '.join(body.coordinate_names)}")
    arrays = {k: np.asarray(v, dtype=float) for k, v in pose.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    except ValueError:
        raise ParameterError("pose values must broadcast to one shape") from None
    q = {c.name: np.broadcast_to(arrays.get(c.name, np.asarray(c.default, dtype=float)), shape)
         for c in body.coordinates}
    return q, shape


def segment_frames(body, pose: Mapping[str, Any] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Rotation ``R`` (``shape + (3, 3)``) and origin ``p`` (``shape + (3,)``) of each segment in ground.

    A point ``r`` fixed in a segment is at ``R @ r + p`` in ground.
    """
    q, shape = _pose(body, pose)
    frames: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "ground": (np.broadcast_to(np.eye(3), shape + (3, 3)), np.zeros(shape + (3,)))}
    for seg in body.segments:
        j = seg.joint
        r_pf = rotation_xyz(j.orientation_in_parent)
        p_pf = np.array(j.location_in_parent)
        r_cm = rotation_xyz(j.orientation_in_child)
        p_cm = np.array(j.location_in_child)
        if j.type == "weld":
            r_fm = np.broadcast_to(np.eye(3), shape + (3, 3))
            p_fm = np.zeros(shape + (3,))
        else:
            qs = [q[n] for n in j.coordinate_names]
            r_fm = _rz(qs[0])
            p_fm = np.zeros(shape + (3,))
            if j.type == "planar":
                p_fm[..., 0] = qs[1]
                p_fm[..., 1] = qs[2]
            if j.translation_x is not None:
                p_fm[..., 0] = j.translation_x(qs[0])
            if j.translation_y is not None:
                p_fm[..., 1] = j.translation_y(qs[0])
        # X_PC = X_PF * X_FM * inv(X_CM)
        r_pm = r_pf @ r_fm
        p_pm = p_pf + np.einsum("ij,...j->...i", r_pf, p_fm)
        r_pc = r_pm @ r_cm.T
        p_pc = p_pm - np.einsum("...ij,j->...i", r_pc, p_cm)
        r_gp, p_gp = frames[seg.parent]
        frames[seg.name] = (r_gp @ r_pc, p_gp + np.einsum("...ij,...j->...i", r_gp, p_pc))
    return frames


def point_in_ground(frames: Mapping[str, tuple[np.ndarray, np.ndarray]], segment: str, r: Any) -> np.ndarray:
    """Ground position of point(s) ``r`` (m, ``(..., 3)``) fixed in ``segment``."""
    rot, p = frames[segment]
    return np.einsum("...ij,...j->...i", rot, np.asarray(r, dtype=float)) + p


def marker_positions(body, marker_set: str, pose: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Ground positions (m) of the markers of ``marker_set`` at ``pose``."""
    frames = segment_frames(body, pose)
    return {m.name: point_in_ground(frames, m.body, m.location) for m in body.marker_set(marker_set).markers}


def muscle_path(body, muscle: str, pose: Mapping[str, Any] | None = None,
                frames: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ground positions ``(n_points, *shape, 3)`` of a muscle's path points and whether each is active."""
    q, _ = _pose(body, pose)
    frames = segment_frames(body, pose) if frames is None else frames
    pts, act = [], []
    for p in body.muscle(muscle).path:
        qc = q[p.coordinate] if p.coordinate is not None else np.zeros(q[body.coordinate_names[0]].shape)
        pts.append(point_in_ground(frames, p.body, p.position(qc)))
        act.append(p.active(qc))
    return np.stack(pts), np.stack(act)


def mtu_lengths(body, pose: Mapping[str, Any] | None = None,
                muscles: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Musculotendon (path) length of each muscle at ``pose``, m.

    Straight segments between consecutive active path points (the reference
    model has no wrapping surfaces).
    """
    frames = segment_frames(body, pose)
    out = {}
    for name in (body.muscle_names if muscles is None else muscles):
        pts, act = muscle_path(body, name, pose, frames)
        length = np.zeros(pts.shape[1:-1])
        prev = pts[0]
        prev_on = act[0]
        # walk the points; an inactive point is skipped (the previous active one carries on)
        for k in range(1, pts.shape[0]):
            on = act[k]
            seg = np.linalg.norm(pts[k] - prev, axis=-1)
            length = length + np.where(on & prev_on, seg, 0.0)
            prev = np.where(on[..., None], pts[k], prev)
            prev_on = prev_on | on
        out[name] = length
    return out


def moment_arms(body, coordinate: str, pose: Mapping[str, Any] | None = None,
                muscles: Sequence[str] | None = None, step: float = 1e-6) -> dict[str, np.ndarray]:
    """Moment arm ``-dL/dq`` of each muscle about ``coordinate`` (m), by central differences."""
    q, _ = _pose(body, pose)
    up = {**q, coordinate: q[coordinate] + step}
    down = {**q, coordinate: q[coordinate] - step}
    lu = mtu_lengths(body, up, muscles)
    ld = mtu_lengths(body, down, muscles)
    return {k: -(lu[k] - ld[k]) / (2 * step) for k in lu}


def standing_height(body) -> float:
    """Height of the default upright pose, m: lowest foot-sphere point to highest torso point.

    The highest torso point is the highest marker on the torso (``Top.Head``
    in the subject01 set) or, without markers, the top of the torso's
    centre-of-mass height doubled. Used to carry the ``height`` attribute
    through per-segment scaling.
    """
    pose = {c.name: 0.0 for c in body.coordinates if body.coordinate_type(c.name) == "rotational"}
    frames = segment_frames(body, pose)
    lows = [point_in_ground(frames, s.body, s.center)[1] - s.radius for s in body.contact_spheres]
    if not lows:
        lows = [frames[s.name][1][1] for s in body.segments]
    top_seg = body.segments[-1].name if "torso" not in body.segment_names else "torso"
    tops = [point_in_ground(frames, m.body, m.location)[1] for ms in body.marker_sets for m in ms.markers
            if m.body == top_seg]
    if not tops:
        seg = body.segment(top_seg)
        tops = [point_in_ground(frames, top_seg, 2.0 * np.array(seg.com))[1]]
    return float(max(tops) - min(lows))
