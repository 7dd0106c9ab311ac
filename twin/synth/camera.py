"""Virtual video: pinhole cameras and the 2D body keypoints a pose detector would give.

:class:`Camera` is a pinhole camera with radial distortion, fixed
(:meth:`Camera.fixed`: sagittal, frontal or back view) or panning to follow
the pelvis (:meth:`Camera.panning`); :func:`randomize_camera` draws lens and
placement for domain randomisation. :func:`keypoints_2d` projects 3-D points
(virtual markers from :func:`twin.synth.markers_from_q`, or real markers) to
the keypoints of a detector layout, with pixel noise, occlusions and dropped
frames, as a Recording interchangeable with what
:func:`twin.io.read_keypoints` returns (``keypoints(time, camera, keypoint,
uv)`` [px], u right and v down from the top-left corner;
``keypoint_score(time, camera, keypoint)``).

Camera model
------------
Ground is OpenSim's (X forward, Y up, Z right). The camera frame is OpenCV's:
x to the image's right, y down, z along the optical axis. ``rotation`` holds
the camera axes as rows in ground, so a ground point ``p`` is at
``R (p - position)`` in the camera frame; with normalised coordinates
``(x, y) = (X / Z, Y / Z)``, ``r^2 = x^2 + y^2`` and ``d = 1 + k1 r^2 +
k2 r^4`` (Brown's radial model), ``u = fx x d + cx`` and ``v = fy y d + cy``.

Views (for a walker going along +X): ``"sagittal"`` stands on the walker's
right (+Z) looking towards -Z, so the walker moves to the image's right;
``"frontal"`` stands ahead (+X) looking back at the walker; ``"back"``
stands behind (-X) looking forward.

Keypoints from 3-D points
-------------------------
Keypoints are named as OpenPose BODY_25 internally and renamed for the
layout asked (``coco_17``, ``coco_18``, ``mediapipe_33``: ``left_hip`` is
``LHip``, MediaPipe's ``foot_index`` is ``BigToe``). Each is the first
available of (R side shown; L the same with L names):

===========  ==============================================================================
keypoint     3-D source (mean of the markers listed)
===========  ==============================================================================
RHip         ``RHip`` / ``RHJC_study`` / ``RHJC``; else Harrington et al. (2007) from the
             ASIS and sacrum/PSIS markers (from the mid-ASIS: -0.24 PD - 9.9 mm posterior,
             -0.30 PW - 10.9 mm inferior, 0.33 PW + 7.3 mm lateral; PW the inter-ASIS width,
             PD the mid-ASIS to sacrum/mid-PSIS depth; 1-3 cm errors in vivo)
RKnee        ``RKnee``; epicondyles ``R.Knee.Lat``+``R.Knee.Med``, ``r_knee_study``+
             ``r_mknee_study``; lateral only ``RKNE`` / ``R.Knee.Lat``
RAnkle       ``RAnkle``; malleoli ``R.Ankle.Lat``+``R.Ankle.Med``, ``r_ankle_study``+
             ``r_mankle_study``; lateral only ``RANK`` / ``R.Ankle.Lat``
RHeel        ``RHeel`` / ``R.Heel`` / ``r_calc_study`` / ``RHEE``
RBigToe      ``RBigToe`` / ``R.Toe.Tip`` / ``R.Toe.Med`` / ``r_toe_study`` / ``RTOE``
RSmallToe    ``RSmallToe`` / ``R.Toe.Lat`` / ``r_5meta_study``
RShoulder    ``RShoulder`` / ``R.Acromium`` / ``r_shoulder_study`` / ``RSHO``
RElbow       ``RElbow`` / ``r_lelbow_study``+``r_melbow_study`` / ``RELB``
RWrist       ``RWrist`` / ``r_lwrist_study``+``r_mwrist_study`` / ``RWRA``+``RWRB``
MidHip       ``midHip``; else the mean of the two hip keypoints
Neck         ``Neck`` / ``C7``-free mean of the two shoulder keypoints
===========  ==============================================================================

Face keypoints (nose, eyes, ears) and hands have no source in the planar
model's marker sets: they are NaN with score 0, as a detector's misses.
With the default body, the ``"opencap"`` marker set has every joint
keypoint above (hips, knees, ankles at the joint centres).

Examples
--------
>>> import numpy as np
>>> cam = Camera.fixed("sagittal", distance=5.0, height=1.0, image_size=(1280, 720), fov_deg=60)
>>> cam.project([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]).round(1).tolist()   # 1 m forward: fx / 5 px to the right
[[640.0, 360.0], [861.7, 360.0]]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, check_param
from ..io.keypoints import LAYOUTS
from ..schema import UV, VARIABLES, recording

__all__ = ["Camera", "keypoints_2d", "randomize_camera", "VIEWS", "keypoint_sources"]

VIEWS = ("sagittal", "frontal", "back")

#: horizontal optical-axis direction of each view (towards the walker going along +X)
_FORWARD = {"sagittal": (0.0, 0.0, -1.0), "frontal": (-1.0, 0.0, 0.0), "back": (1.0, 0.0, 0.0)}


def _look_rotation(forward: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Rows x (right), y (down), z (forward) of a camera looking along ``forward`` with image up ~ ground +Y."""
    z = np.asarray(forward, float)
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 1.0, 0.0])
    if np.linalg.norm(x) < 1e-9:
        raise ParameterError("the camera looks straight up or down; its image orientation is undefined "
                             "(use a pitch within +-89 deg)")
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    if roll:
        c, s = math.cos(roll), math.sin(roll)
        x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z])


def _ry(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 0, 0], out[..., 0, 2], out[..., 1, 1], out[..., 2, 0], out[..., 2, 2] = c, s, 1.0, -s, c
    return out


def _direction(view: str, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    d = np.asarray(_FORWARD[view], float)
    d = _ry(np.radians(yaw_deg)) @ d
    p = math.radians(pitch_deg)
    return math.cos(p) * d + math.sin(p) * np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with radial distortion (see the module docs for the model).

    Parameters
    ----------
    fx, fy : float
        Focal lengths [px].
    cx, cy : float
        Principal point [px] (from the image's top-left corner).
    width, height : int
        Image size [px].
    position : (float, float, float)
        Optical centre in ground [m].
    rotation : 3x3
        Rows: the camera's x (image right), y (image down) and z (optical
        axis) in ground.
    k1, k2 : float
        Radial distortion coefficients (negative: barrel, as wide lenses).
    name : str
        The ``camera`` coord of the keypoints.
    follow : {None, "pelvis"}
        ``"pelvis"``: a panning camera, yawed every frame about the vertical
        so that its optical axis points at the pelvis (``rotation`` is then
        the orientation when looking along its initial direction).

    Examples
    --------
    >>> cam = Camera(fx=1000, fy=1000, cx=640, cy=360, width=1280, height=720, position=(0, 1, 4),
    ...              rotation=((1, 0, 0), (0, -1, 0), (0, 0, -1)))
    >>> cam.project([[1.0, 1.0, 0.0]]).tolist()          # 1 m to the right at 4 m: fx / 4 = 250 px
    [[890.0, 360.0]]
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    position: tuple[float, float, float] = (0.0, 1.0, 4.0)
    rotation: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))
    k1: float = 0.0
    k2: float = 0.0
    name: str = "cam0"
    follow: str | None = None

    def __post_init__(self) -> None:
        for f in ("fx", "fy"):
            v = getattr(self, f)
            check_param(f, v, minimum=1e-9, types=(int, float, np.integer, np.floating))
            object.__setattr__(self, f, float(v))
        for f in ("cx", "cy", "k1", "k2"):
            v = getattr(self, f)
            check_param(f, v, types=(int, float, np.integer, np.floating))
            object.__setattr__(self, f, float(v))
        for f in ("width", "height"):
            v = getattr(self, f)
            check_param(f, v, minimum=1, types=(int, np.integer))
            object.__setattr__(self, f, int(v))
        pos = np.asarray(self.position, float).reshape(-1)
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise ParameterError(f"position={self.position!r} must be 3 finite numbers (m, ground frame)")
        rot = np.asarray(self.rotation, float)
        if rot.shape != (3, 3) or not np.all(np.isfinite(rot)) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) \
                or np.linalg.det(rot) < 0:
            raise ParameterError("rotation must be a 3x3 rotation matrix (rows: camera x right, y down, z optical "
                                 "axis, in ground); build one with Camera.fixed")
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"name={self.name!r} must be a non-empty str")
        check_param("follow", self.follow, choices=(None, "pelvis"))
        object.__setattr__(self, "position", tuple(float(v) for v in pos))
        object.__setattr__(self, "rotation", tuple(tuple(float(v) for v in row) for row in rot))

    # ------------------------------------------------------------------ construction

    @classmethod
    def fixed(
        cls,
        view: str = "sagittal",
        *,
        distance: float = 4.0,
        height: float = 1.0,
        target: tuple[float, float] = (0.0, 0.0),
        image_size: tuple[int, int] = (1920, 1080),
        fov_deg: float = 60.0,
        yaw_deg: float = 0.0,
        pitch_deg: float = 0.0,
        roll_deg: float = 0.0,
        k1: float = 0.0,
        k2: float = 0.0,
        name: str | None = None,
    ) -> Camera:
        """A still camera aimed horizontally at a point of the walkway, then turned by yaw/pitch/roll.

        Parameters
        ----------
        view : {"sagittal", "frontal", "back"}
            Where it stands relative to a walker going along +X.
        distance : float, default 4
            Horizontal distance from ``target`` [m].
        height : float, default 1
            Height of the optical centre [m].
        target : (x, z), default (0, 0)
            Ground point (forward, lateral) the camera faces [m].
        image_size : (width, height), default (1920, 1080)
            [px]; the principal point is the image centre.
        fov_deg : float, default 60
            Horizontal field of view [deg]: ``fx = fy = (width / 2) / tan(fov / 2)``.
        yaw_deg, pitch_deg, roll_deg : float, default 0
            Turn left (+yaw, about ground +Y), tilt down (+pitch), roll
            about the optical axis [deg].
        k1, k2 : float, default 0
            Radial distortion.
        name : str, optional
            Default: the view.

        Returns
        -------
        Camera

        Examples
        --------
        >>> cam = Camera.fixed("frontal", distance=6.0, height=1.2)
        >>> cam.position, cam.name
        ((6.0, 1.2, 0.0), 'frontal')
        """
        check_param("view", view, choices=VIEWS)
        check_param("distance", distance, minimum=1e-6, types=(int, float))
        check_param("height", height, types=(int, float))
        fx, w, h = _focal(image_size, fov_deg)
        for n, v in (("yaw_deg", yaw_deg), ("roll_deg", roll_deg)):
            check_param(n, v, types=(int, float))
        check_param("pitch_deg", pitch_deg, minimum=-89.0, maximum=89.0, types=(int, float))
        tx, tz = _target(target)
        horiz = np.asarray(_FORWARD[view], float)
        position = np.array([tx, float(height), tz]) - float(distance) * horiz
        rot = _look_rotation(_direction(view, yaw_deg, pitch_deg), math.radians(roll_deg))
        return cls(fx, fx, w / 2.0, h / 2.0, w, h, tuple(position), tuple(map(tuple, rot)), k1, k2,
                   name if name is not None else view)

    @classmethod
    def panning(
        cls,
        *,
        distance: float = 4.0,
        height: float = 1.0,
        x: float = 0.0,
        side: str = "right",
        image_size: tuple[int, int] = (1920, 1080),
        fov_deg: float = 50.0,
        pitch_deg: float = 0.0,
        k1: float = 0.0,
        k2: float = 0.0,
        name: str = "panning",
    ) -> Camera:
        """A sagittal camera on a tripod that yaws to keep the pelvis on its optical axis.

        Parameters
        ----------
        distance : float, default 4
            Distance of the tripod from the line of progression (Z = 0) [m].
        height : float, default 1
            [m].
        x : float, default 0
            Tripod position along the walkway [m].
        side : {"right", "left"}
            The walker's side the camera stands on.
        image_size, fov_deg, pitch_deg, k1, k2, name
            As :meth:`fixed`.

        Returns
        -------
        Camera
            With ``follow="pelvis"``.

        Examples
        --------
        >>> Camera.panning(distance=3.0).follow
        'pelvis'
        """
        check_param("side", side, choices=("right", "left"))
        cam = cls.fixed("sagittal", distance=distance, height=height, target=(x, 0.0), image_size=image_size,
                        fov_deg=fov_deg, pitch_deg=pitch_deg, k1=k1, k2=k2, name=name,
                        yaw_deg=0.0 if side == "right" else 180.0)
        if side == "left":
            cam = replace(cam, position=(float(x), float(height), -float(distance)))
        return replace(cam, follow="pelvis")

    # ------------------------------------------------------------------ geometry

    @property
    def rotation_matrix(self) -> np.ndarray:
        """``rotation`` as a (3, 3) array (rows: camera axes in ground)."""
        return np.asarray(self.rotation, float)

    @property
    def intrinsics(self) -> np.ndarray:
        """The 3x3 intrinsic matrix ``K`` [px]."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def rotations(self, target: np.ndarray | None = None) -> np.ndarray:
        """World-to-camera rotation(s): (3, 3), or (..., 3, 3) towards ``target`` (..., 3) for a panning camera.

        The panning camera turns about ground Y by the angle between its
        initial horizontal direction and the horizontal direction to the
        target; pitch and roll are kept.
        """
        r0 = self.rotation_matrix
        if self.follow is None:
            return r0
        if target is None:
            raise ParameterError(f"camera {self.name!r} follows the pelvis: pass target= (the pelvis position, m)")
        target = np.asarray(target, float)
        d = target - np.asarray(self.position)
        f0 = r0[2]
        psi = np.arctan2(-d[..., 2], d[..., 0]) - math.atan2(-f0[2], f0[0])
        return r0 @ np.swapaxes(_ry(psi), -1, -2)

    def to_camera(self, points: Any, *, target: Any = None) -> np.ndarray:
        """Points (..., 3) [m, ground] in the camera frame (x right, y down, z optical axis)."""
        p = np.asarray(points, float)
        if p.shape[-1:] != (3,):
            raise DataError(f"points must have 3 coordinates on their last axis (m, ground); got shape {p.shape}")
        r = self.rotations(None if target is None else np.asarray(target, float))
        rel = p - np.asarray(self.position)
        if r.ndim == 2:
            return rel @ r.T
        # one rotation per frame: r (..., 3, 3) broadcast against the points' leading dims
        extra = rel.ndim - 1 - (r.ndim - 2)
        r = r.reshape(r.shape[:-2] + (1,) * extra + (3, 3))
        return np.einsum("...ij,...j->...i", r, rel)

    def project(self, points: Any, *, target: Any = None) -> np.ndarray:
        """Pixel coordinates (..., 2) ``(u, v)`` of ground points (..., 3) [m]; NaN points give NaN.

        Parameters
        ----------
        points : array (..., 3)
            Ground positions [m].
        target : array, optional
            The followed point per frame, for a panning camera (its leading
            dims must broadcast against those of ``points`` from the left).

        Raises
        ------
        DataError
            A point is behind the camera (or in its optical centre's plane).

        Examples
        --------
        >>> cam = Camera.fixed("sagittal", distance=4.0, height=1.0)
        >>> try:
        ...     cam.project([[0.0, 1.0, 5.0]])      # 1 m behind the camera
        ... except Exception as err:
        ...     print(type(err).__name__)
        DataError
        """
        pc = self.to_camera(points, target=target)
        z = pc[..., 2]
        finite = np.isfinite(pc).all(axis=-1)
        behind = finite & (z <= 1e-9)
        if behind.any():
            raise DataError(f"{int(behind.sum())} point(s) lie behind camera {self.name!r} (depth <= 0; nearest "
                            f"{float(np.min(z[behind])):.3f} m): move the camera further from the walker or turn it "
                            "towards them")
        with np.errstate(invalid="ignore", divide="ignore"):
            xn, yn = pc[..., 0] / z, pc[..., 1] / z
        r2 = xn * xn + yn * yn
        d = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        return np.stack([self.fx * xn * d + self.cx, self.fy * yn * d + self.cy], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON / netCDF attrs)."""
        d = asdict(self)
        d["position"] = list(self.position)
        d["rotation"] = [list(r) for r in self.rotation]
        return d


def _focal(image_size: Any, fov_deg: Any) -> tuple[float, int, int]:
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ParameterError(f"image_size={image_size!r} must be (width, height) in px") from None
    if w < 1 or h < 1:
        raise ParameterError(f"image_size={image_size!r} must be positive")
    check_param("fov_deg", fov_deg, minimum=1.0, maximum=179.0, types=(int, float))
    return (w / 2.0) / math.tan(math.radians(fov_deg) / 2.0), w, h


def _target(target: Any) -> tuple[float, float]:
    try:
        tx, tz = (float(v) for v in target)
    except (TypeError, ValueError):
        raise ParameterError(f"target={target!r} must be (x, z): forward and lateral position in m") from None
    if not (np.isfinite(tx) and np.isfinite(tz)):
        raise ParameterError(f"target={target!r} must be finite")
    return tx, tz


# ============================================================================================ randomisation


#: ranges used by :func:`randomize_camera`
RANDOM_RANGES: dict[str, Any] = {
    "distance": {"sagittal": (3.0, 7.0), "panning": (2.5, 6.0), "frontal": (4.0, 10.0), "back": (4.0, 10.0)},
    "height": (0.6, 1.6),
    "fov_deg": (40.0, 80.0),
    "yaw_deg": (-10.0, 10.0),
    "pitch_deg": (-5.0, 15.0),
    "roll_deg": (-3.0, 3.0),
    "k1": (-0.25, 0.05),
    "k2": (-0.02, 0.05),
    "principal_point_sd": 0.01,
    "image_sizes": ((1920, 1080), (1280, 720), (3840, 2160), (1080, 1920), (720, 1280)),
}


def randomize_camera(
    rng: np.random.Generator | int | None = None,
    view: str = "sagittal",
    *,
    target: tuple[float, float] = (0.0, 0.0),
    name: str | None = None,
) -> Camera:
    """A camera with random lens and placement, for training models that must work with any video.

    Draws (uniformly; see :data:`RANDOM_RANGES`) the distance (3-7 m
    sagittal, 2.5-6 m panning, 4-10 m frontal/back), height 0.6-1.6 m,
    horizontal field of view 40-80 deg, yaw -10..10, pitch -5..15 (looking
    down), roll -3..3 deg, radial distortion k1 -0.25..0.05 and k2
    -0.02..0.05, an image size among landscape and portrait (phone) HD/4K,
    and a principal point off the image centre by 1 % of the size (sd).

    Parameters
    ----------
    rng : numpy Generator, int seed or None
    view : {"sagittal", "frontal", "back", "panning", "any"}, default "sagittal"
        ``"any"`` picks one of the four.
    target : (x, z), default (0, 0)
        Walkway point the camera faces [m] (a panning camera's tripod X).
    name : str, optional
        Default: the view.

    Returns
    -------
    Camera

    Examples
    --------
    >>> cam = randomize_camera(0, "sagittal")
    >>> 3.0 <= cam.position[2] <= 7.5 and cam.follow is None
    True
    """
    from .sensors import _rng

    gen = _rng(rng)
    check_param("view", view, choices=(*VIEWS, "panning", "any"))
    if view == "any":
        view = str(gen.choice([*VIEWS, "panning"]))
    rr = RANDOM_RANGES

    def u(key):
        lo, hi = rr[key]
        return float(gen.uniform(lo, hi))

    distance = float(gen.uniform(*rr["distance"][view]))
    height, fov = u("height"), u("fov_deg")
    size = rr["image_sizes"][int(gen.integers(len(rr["image_sizes"])))]
    k1, k2 = u("k1"), u("k2")
    pitch = u("pitch_deg")
    if view == "panning":
        cam = Camera.panning(distance=distance, height=height, x=_target(target)[0], image_size=size, fov_deg=fov,
                             pitch_deg=pitch, k1=k1, k2=k2, name=name or "panning")
    else:
        cam = Camera.fixed(view, distance=distance, height=height, target=target, image_size=size, fov_deg=fov,
                           yaw_deg=u("yaw_deg"), pitch_deg=pitch, roll_deg=u("roll_deg"), k1=k1, k2=k2,
                           name=name or view)
    sd = rr["principal_point_sd"]
    return replace(cam, cx=cam.cx + float(gen.normal(0, sd * cam.width)),
                   cy=cam.cy + float(gen.normal(0, sd * cam.height)))


# ============================================================================================ keypoint sources

_BODY25 = LAYOUTS["body_25"]
_PARTS = {"shoulder": "Shoulder", "elbow": "Elbow", "wrist": "Wrist", "hip": "Hip", "knee": "Knee", "ankle": "Ankle",
          "heel": "Heel", "foot_index": "BigToe", "eye": "Eye", "ear": "Ear", "big_toe": "BigToe",
          "small_toe": "SmallToe"}


def _canonical(name: str) -> str | None:
    """BODY_25 name of a layout's keypoint name (``left_hip`` -> ``LHip``), None when it has no counterpart."""
    if name in _BODY25:
        return name
    low = name.lower()
    if low == "nose":
        return "Nose"
    for prefix, s in (("left_", "L"), ("right_", "R")):
        if low.startswith(prefix) and low[len(prefix):] in _PARTS:
            return s + _PARTS[low[len(prefix):]]
    return None


def _sided(templates: Sequence[Any], side: str) -> list[Any]:
    s_up, s_oc = ("R", "r") if side == "R" else ("L", "L")
    out = []
    for t in templates:
        if callable(t):
            out.append(t)
        else:
            out.append(tuple(n.replace("{S}", s_up).replace("{s}", s_oc) for n in t))
    return out


_PELVIS_SETS = ((("R.ASIS",), ("L.ASIS",), ("V.Sacral",)),
                (("RASI",), ("LASI",), ("SACR",)),
                (("RASI",), ("LASI",), ("RPSI", "LPSI")),
                (("r.ASIS_study",), ("L.ASIS_study",), ("r.PSIS_study", "L.PSIS_study")))


def _pelvis_hip(side: str):
    """Hip centre from pelvis markers (Harrington et al. 2007), for side 'R' or 'L'."""

    def rule(get: Callable[[str], np.ndarray | None]) -> np.ndarray | None:
        for ra, la, back in _PELVIS_SETS:
            pts = [[get(n) for n in grp] for grp in (ra, la, back)]
            if any(p is None for grp in pts for p in grp):
                continue
            r, l_, b = (np.mean(grp, axis=0) for grp in pts)
            width = np.linalg.norm(r - l_, axis=-1, keepdims=True)
            z = (r - l_) / width
            mid = (r + l_) / 2
            x = mid - b
            x = x - np.sum(x * z, axis=-1, keepdims=True) * z
            x = x / np.linalg.norm(x, axis=-1, keepdims=True)
            y = np.cross(z, x)
            depth = np.linalg.norm(mid - b, axis=-1, keepdims=True)
            lat = 1.0 if side == "R" else -1.0
            # Harrington et al. 2007 (mm): x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = 0.33 PW + 7.3
            return mid + (-0.24 * depth - 0.0099) * x + (-0.30 * width - 0.0109) * y + lat * (0.33 * width + 0.0073) * z
        return None

    rule.__name__ = f"harrington_hip_{side}"
    rule.alternatives = [sum(grp, ()) for grp in _PELVIS_SETS]  # type: ignore[attr-defined]
    return rule


def _sources() -> dict[str, list[Any]]:
    src: dict[str, list[Any]] = {}
    for side in ("R", "L"):
        src[f"{side}Hip"] = _sided([("{S}Hip",), ("{S}HJC_study",), ("{S}HJC",)], side) + [_pelvis_hip(side)]
        src[f"{side}Knee"] = _sided([("{S}Knee",), ("{S}.Knee.Lat", "{S}.Knee.Med"),
                                     ("{s}_knee_study", "{s}_mknee_study"), ("{S}KNE",), ("{S}.Knee.Lat",)], side)
        src[f"{side}Ankle"] = _sided([("{S}Ankle",), ("{S}.Ankle.Lat", "{S}.Ankle.Med"),
                                      ("{s}_ankle_study", "{s}_mankle_study"), ("{S}ANK",), ("{S}.Ankle.Lat",)], side)
        src[f"{side}Heel"] = _sided([("{S}Heel",), ("{S}.Heel",), ("{s}_calc_study",), ("{S}HEE",)], side)
        src[f"{side}BigToe"] = _sided([("{S}BigToe",), ("{S}.Toe.Tip",), ("{S}.Toe.Med",), ("{s}_toe_study",),
                                       ("{S}TOE",)], side)
        src[f"{side}SmallToe"] = _sided([("{S}SmallToe",), ("{S}.Toe.Lat",), ("{s}_5meta_study",)], side)
        src[f"{side}Shoulder"] = _sided([("{S}Shoulder",), ("{S}.Acromium",), ("{s}_shoulder_study",), ("{S}SHO",)],
                                        side)
        src[f"{side}Elbow"] = _sided([("{S}Elbow",), ("{s}_lelbow_study", "{s}_melbow_study"), ("{S}ELB",)], side)
        src[f"{side}Wrist"] = _sided([("{S}Wrist",), ("{s}_lwrist_study", "{s}_mwrist_study"),
                                      ("{S}WRA", "{S}WRB")], side)
    src["MidHip"] = [("midHip",), ("MidHip",)]
    src["Neck"] = [("Neck",)]
    return src


_SOURCES = _sources()
_DERIVED = {"MidHip": ("RHip", "LHip"), "Neck": ("RShoulder", "LShoulder")}


def keypoint_sources(names: Sequence[str]) -> dict[str, str]:
    """Which 3-D points give each BODY_25 keypoint, for points named ``names`` (keypoint -> description).

    Examples
    --------
    >>> keypoint_sources(["R.Knee.Lat", "R.Knee.Med", "RHEE"])
    {'RKnee': 'mean of R.Knee.Lat, R.Knee.Med', 'RHeel': 'RHEE'}
    """
    have = set(names)
    out: dict[str, str] = {}
    for kp, rules in _SOURCES.items():
        for rule in rules:
            if callable(rule):
                alt = next((a for a in rule.alternatives if all(n in have for n in a)), None)
                if alt is not None:
                    out[kp] = "Harrington et al. 2007 from " + ", ".join(alt)
                    break
            elif all(n in have for n in rule):
                out[kp] = rule[0] if len(rule) == 1 else "mean of " + ", ".join(rule)
                break
    for kp, (a, b) in _DERIVED.items():
        if kp not in out and a in out and b in out:
            out[kp] = f"mean of the {a} and {b} keypoints"
    return out


def _keypoints_3d(names: list[str], xyz: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """BODY_25 keypoint -> (..., 3) positions from points ``xyz`` (..., point, 3) named ``names``."""
    index = {n: i for i, n in enumerate(names)}

    def get(n: str) -> np.ndarray | None:
        return xyz[..., index[n], :] if n in index else None

    out: dict[str, np.ndarray] = {}
    how = keypoint_sources(names)
    for kp, rules in _SOURCES.items():
        for rule in rules:
            if callable(rule):
                p = rule(get)
                if p is not None:
                    out[kp] = p
                    break
            elif all(n in index for n in rule):
                out[kp] = np.mean([get(n) for n in rule], axis=0)
                break
    for kp, (a, b) in _DERIVED.items():
        if kp not in out and a in out and b in out:
            out[kp] = (out[a] + out[b]) / 2
    return out, how


# ============================================================================================ keypoints_2d


def _fraction(name: str, value: Any) -> float:
    check_param(name, value, minimum=0.0, maximum=1.0, types=(int, float))
    return float(value)


def _runs(gen: np.random.Generator, shape: tuple[int, ...], fraction: float, mean_len: float) -> np.ndarray:
    """Boolean (time, ...) mask with ~``fraction`` True, in runs of geometric length with mean ``mean_len``."""
    if fraction <= 0:
        return np.zeros(shape, bool)
    if fraction >= 1:
        return np.ones(shape, bool)
    p_end = 1.0 / max(mean_len, 1.0)
    p_start = min(1.0, fraction * p_end / (1.0 - fraction))
    out = np.empty(shape, bool)
    state = gen.random(shape[1:]) < fraction
    draws = gen.random(shape)
    for k in range(shape[0]):
        state = np.where(state, draws[k] >= p_end, draws[k] < p_start)
        out[k] = state
    return out


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (...,) from points p (..., 2) to segments a-b (..., 2)."""
    ab = b - a
    denom = np.sum(ab * ab, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.clip(np.sum((p - a) * ab, axis=-1) / np.where(denom > 0, denom, np.nan), 0.0, 1.0)
    s = np.where(np.isfinite(s), s, 0.0)
    return np.linalg.norm(p - (a + s[..., None] * ab), axis=-1)


_LIMB = {"Hip": "Knee", "Knee": "Ankle", "Ankle": "Heel", "Heel": "BigToe"}
_LEG_PARTS = ("Hip", "Knee", "Ankle", "Heel", "BigToe", "SmallToe")


def _self_occlusion(uv: np.ndarray, depth: np.ndarray, kp: list[str], fx: float, radius: float) -> np.ndarray:
    """Far-side leg keypoints hidden behind the near-side leg: bool (..., K)."""
    out = np.zeros(uv.shape[:-1], bool)
    idx = {n: i for i, n in enumerate(kp)}
    if not all(f"{s}Hip" in idx for s in "RL"):
        return out
    near_r = depth[..., idx["RHip"]] <= depth[..., idx["LHip"]]  # (...,)
    for far, near in (("L", "R"), ("R", "L")):
        is_far = near_r if far == "L" else ~near_r
        segs = [(idx[near + a], idx[near + b]) for a, b in _LIMB.items() if near + a in idx and near + b in idx]
        for part in _LEG_PARTS:
            k = idx.get(far + part)
            if k is None:
                continue
            hidden = np.zeros(uv.shape[:-2], bool)
            for i, j in segs:
                d = _segment_distance(uv[..., k, :], uv[..., i, :], uv[..., j, :])
                seg_depth = np.minimum(depth[..., i], depth[..., j])
                with np.errstate(invalid="ignore", divide="ignore"):
                    r_px = radius * fx / seg_depth
                hidden |= (d < r_px) & (depth[..., k] > seg_depth)
            out[..., k] = hidden & is_far
    return out


def keypoints_2d(
    points_ds: xr.Dataset,
    camera: Camera | Sequence[Camera],
    *,
    layout: str = "body_25",
    noise_px: float = 0.0,
    occlusion: float = 0.0,
    occlusion_frames: float = 5.0,
    self_occlusion: bool = False,
    limb_radius: float = 0.06,
    drop_frames: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """2D body keypoints of 3-D points seen by one or more cameras, as a pose detector would report them.

    Parameters
    ----------
    points_ds : xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m] (real markers,
        or virtual ones from :func:`twin.synth.markers_from_q`, optionally
        with a leading ``batch`` dim); keypoints come from the markers as
        listed in the module docs.
    camera : Camera or sequence of Camera
        One camera per view (unique names).
    layout : {"body_25", "coco_18", "coco_17", "mediapipe_33"}, default "body_25"
        Keypoint names and order (as :data:`twin.io.keypoints.LAYOUTS`).
    noise_px : float, default 0
        Standard deviation of Gaussian pixel noise on u and v [px].
    occlusion : float, default 0
        Fraction of keypoint samples randomly occluded (detector misses), in
        runs of ``occlusion_frames`` frames on average (per camera and
        keypoint): NaN, score 0, ``keypoint_occluded`` 1.
    occlusion_frames : float, default 5
        Mean length of an occlusion run [frames].
    self_occlusion : bool, default False
        Also hide far-side leg keypoints that fall behind a near-side leg
        segment (a cylinder of radius ``limb_radius`` m).
    limb_radius : float, default 0.06
        [m].
    drop_frames : float, default 0
        Fraction of frames lost entirely (every keypoint NaN, score 0,
        ``frame_dropped`` 1), independently per camera.
    rng : numpy Generator, int seed or None

    Returns
    -------
    xarray.Dataset
        Recording with ``keypoints(time, camera, keypoint, uv)`` [px] and
        ``keypoint_score(time, camera, keypoint)`` [1] (as
        :func:`twin.io.read_keypoints`), plus ``keypoints_true`` (noise-free
        projections, NaN only outside the image or without a source),
        ``keypoint_occluded(time, camera, keypoint)`` and
        ``frame_dropped(time, camera)`` (1/0), ``keypoint_depth`` [m]
        (distance along each optical axis); coords ``image_width`` /
        ``image_height(camera)``; attrs ``keypoint_layout``, ``cameras``
        (JSON of each :class:`Camera`), ``keypoint_sources``. A leading
        ``batch`` dim is kept.

        Scores: 1 for a visible keypoint without noise; with noise,
        ``exp(-|e|^2 / (8 noise_px^2))`` for a pixel error ``e`` (so the
        score falls as the error grows, as detectors' confidences do),
        at least 0.05; 0 for occluded, dropped, outside the image, or
        keypoints without a 3-D source.

    Raises
    ------
    DataError
        No ``markers``, markers not in m, no keypoint source among the
        markers, a point behind a camera, or a panning camera without hip
        keypoints to follow.
    ParameterError
        Bad options.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 0.1, 0.01)
    >>> m = np.zeros((t.size, 2, 3)); m[:, 0] = [0.0, 0.5, 0.1]; m[:, 1] = [0.0, 0.05, 0.1]
    >>> rec = schema.recording(t, markers=m, marker_names=["RKNE", "RHEE"])
    >>> kp = keypoints_2d(rec, Camera.fixed("sagittal", distance=4.0, height=0.5), layout="coco_17")
    >>> kp.keypoints.sel(keypoint="right_knee").isel(time=0, camera=0).values.round(1).tolist()
    [960.0, 540.0]
    >>> bool(kp.keypoints.sel(keypoint="nose").isnull().all()), float(kp.keypoint_score.sel(keypoint="nose").max())
    (True, 0.0)
    """
    from .sensors import _check_dataset, _rng, _time

    ds = _check_dataset(points_ds, "points_ds")
    if "markers" not in ds.data_vars:
        raise DataError(f"points_ds has no 'markers' variable (it holds {sorted(map(str, ds.data_vars))}); pass a "
                        "Recording of markers (twin.read('walk.trc')) or virtual markers "
                        "(twin.synth.markers_from_q(body, q, marker_set='opencap'))")
    da = ds["markers"]
    batched = "batch" in da.dims
    want = ("batch", "time", "marker", "axis") if batched else ("time", "marker", "axis")
    if set(da.dims) != set(want):
        raise DataError(f"'markers' has dims {da.dims}; expected {want}")
    if da.attrs.get("units") != "m":
        raise DataError(f"'markers' has units {da.attrs.get('units')!r}; expected 'm' (convert, e.g. mm / 1000, "
                        "and set markers.attrs['units'] = 'm')")
    t = _time(ds, "points_ds", minimum=1)
    cams = [camera] if isinstance(camera, Camera) else list(camera) if isinstance(camera, Sequence) else None
    if not cams or not all(isinstance(c, Camera) for c in cams):
        raise ParameterError("camera must be a twin.synth.Camera or a non-empty sequence of them "
                             "(e.g. Camera.fixed('sagittal'))")
    cam_names = [c.name for c in cams]
    if len(set(cam_names)) != len(cam_names):
        raise ParameterError(f"camera names must be unique, got {cam_names}; give each a name= ")
    check_param("layout", layout, choices=tuple(LAYOUTS))
    check_param("noise_px", noise_px, minimum=0.0, types=(int, float))
    occlusion = _fraction("occlusion", occlusion)
    drop_frames = _fraction("drop_frames", drop_frames)
    check_param("occlusion_frames", occlusion_frames, minimum=1.0, types=(int, float))
    check_param("self_occlusion", self_occlusion, types=bool)
    check_param("limb_radius", limb_radius, minimum=0.0, types=(int, float))
    gen = _rng(rng)

    xyz = np.asarray(da.transpose(*want).values, float)
    if not batched:
        xyz = xyz[None]
    names = [str(v) for v in da["marker"].values]
    kp3, how = _keypoints_3d(names, xyz)
    if not kp3:
        raise DataError(f"none of the markers ({', '.join(names[:12])}{' ...' if len(names) > 12 else ''}) gives a "
                        "body keypoint (hips, knees, ankles, heels, toes, shoulders); see twin.synth.camera for the "
                        "names it knows, or use virtual markers with marker_set='opencap'")
    layout_names = list(LAYOUTS[layout])
    canon = [_canonical(n) for n in layout_names]
    n_b, n_t, n_c, n_k = xyz.shape[0], t.size, len(cams), len(layout_names)
    internal = [c for c in _BODY25]  # project every BODY_25 keypoint we have (self-occlusion needs legs)
    pts = np.full((n_b, n_t, len(internal), 3), np.nan)
    for i, c in enumerate(internal):
        if c in kp3:
            pts[:, :, i] = kp3[c]
    uv_all = np.full((n_b, n_t, n_c, len(internal), 2), np.nan)
    depth_all = np.full((n_b, n_t, n_c, len(internal)), np.nan)
    history = [f"2D keypoints ({layout}) of {ds.attrs.get('source', '') or 'the markers'} seen by "
               + ", ".join(f"{c.name} ({'panning' if c.follow else 'fixed'}, {c.width}x{c.height} px)" for c in cams)]
    for ci, cam in enumerate(cams):
        target = None
        if cam.follow == "pelvis":
            hips = [kp3[k] for k in ("MidHip", "RHip", "LHip") if k in kp3]
            if not hips:
                raise DataError(f"camera {cam.name!r} follows the pelvis but no hip keypoint can be made from the "
                                "markers; use a fixed camera or markers with hips/ASIS")
            target = hips[0]
            target = np.where(np.isfinite(target), target, np.nanmean(target, axis=1, keepdims=True))
            target = target[:, :, None, :]  # (B, T, 1, 3) against points (B, T, K, 3)
        pc = cam.to_camera(pts, target=None if target is None else np.broadcast_to(target, pts.shape))
        depth_all[:, :, ci] = pc[..., 2]
        try:
            uv_all[:, :, ci] = cam.project(pts, target=None if target is None else
                                           np.broadcast_to(target, pts.shape))
        except DataError as err:
            raise DataError(f"{err} (keypoints_2d, camera {cam.name!r})") from None
    inside = (uv_all[..., 0] >= 0) & (uv_all[..., 0] < np.array([c.width for c in cams])[:, None]) & \
             (uv_all[..., 1] >= 0) & (uv_all[..., 1] < np.array([c.height for c in cams])[:, None])
    has = np.isfinite(uv_all).all(axis=-1)
    outside = has & ~inside
    if outside.any():
        history.append(f"{int(outside.sum())} keypoint sample(s) outside the image: NaN, score 0")
    true_uv = np.where((has & inside)[..., None], uv_all, np.nan)
    occluded = np.zeros(true_uv.shape[:-1], bool)
    if self_occlusion:
        for ci, cam in enumerate(cams):
            occluded[:, :, ci] |= _self_occlusion(uv_all[:, :, ci], depth_all[:, :, ci], internal, cam.fx,
                                                  float(limb_radius))
        history.append(f"self-occlusion: {int(occluded.sum())} far-side leg keypoint sample(s) behind the near "
                       f"leg (limb radius {limb_radius:g} m)")
    # select the layout's keypoints
    sel = [internal.index(c) if c is not None else None for c in canon]

    def pick(arr, fill):
        out = np.full(arr.shape[:3] + (n_k,) + arr.shape[4:], fill, dtype=arr.dtype)
        for k, s in enumerate(sel):
            if s is not None:
                out[:, :, :, k] = arr[:, :, :, s]
        return out

    true_k = pick(true_uv, np.nan)
    depth_k = pick(depth_all, np.nan)
    occ_k = pick(occluded, False)
    if occlusion:
        occ_k |= np.moveaxis(_runs(gen, (n_t, n_b, n_c, n_k), occlusion, float(occlusion_frames)), 0, 1)
        history.append(f"random occlusions: {occlusion:.1%} of keypoint samples in runs of ~{occlusion_frames:g} "
                       "frames")
    dropped = gen.random((n_b, n_t, n_c)) < drop_frames if drop_frames else np.zeros((n_b, n_t, n_c), bool)
    if drop_frames:
        history.append(f"dropped frames: {int(dropped.sum())} of {dropped.size} (camera-frames)")
    obs = true_k.copy()
    score = np.where(np.isfinite(true_k).all(-1), 1.0, 0.0)
    if noise_px:
        err = gen.normal(0.0, float(noise_px), size=obs.shape)
        obs = obs + err
        score = np.where(score > 0, np.maximum(0.05, np.exp(-np.sum(err ** 2, -1) / (8.0 * noise_px ** 2))), 0.0)
        history.append(f"pixel noise: sd {noise_px:g} px; score = exp(-|e|^2 / (8 sd^2))")
    hidden = occ_k | dropped[..., None]
    obs[hidden] = np.nan
    score[hidden] = 0.0
    missing = [n for n, c in zip(layout_names, canon) if c is None or c not in kp3]
    if missing:
        history.append(f"no 3-D source (NaN, score 0): {', '.join(missing)}")
    sl = (slice(None),) if batched else (0,)
    lead = ("batch",) if batched else ()
    out = recording(t, source="twin.synth.keypoints_2d", history="\n".join(history),
                    rate=ds.attrs.get("rate"), **{k: ds.attrs[k] for k in ("subject_mass", "subject_height")
                                                   if k in ds.attrs})
    kp_attrs = {"units": "px", "long_name": VARIABLES["keypoints"][2],
                "description": "image coordinates: u right, v down, origin top-left"}
    out["keypoints"] = xr.DataArray(obs[sl], dims=lead + ("time", "camera", "keypoint", "uv"), attrs=kp_attrs)
    out["keypoint_score"] = xr.DataArray(score[sl], dims=lead + ("time", "camera", "keypoint"),
                                         attrs={"units": "1", "long_name": VARIABLES["keypoint_score"][2]})
    out["keypoints_true"] = xr.DataArray(true_k[sl], dims=lead + ("time", "camera", "keypoint", "uv"),
                                         attrs={**kp_attrs, "long_name": "noise-free projected keypoint"})
    out["keypoint_occluded"] = xr.DataArray(occ_k[sl].astype(np.int8), dims=lead + ("time", "camera", "keypoint"),
                                            attrs={"units": "1", "long_name": "keypoint occluded (1) or not (0)"})
    out["frame_dropped"] = xr.DataArray(dropped[sl].astype(np.int8), dims=lead + ("time", "camera"),
                                        attrs={"units": "1", "long_name": "frame lost (1) or not (0)"})
    out["keypoint_depth"] = xr.DataArray(depth_k[sl], dims=lead + ("time", "camera", "keypoint"),
                                         attrs={"units": "m", "long_name": "depth along the optical axis"})
    coords: dict[str, Any] = {"camera": cam_names, "keypoint": layout_names, "uv": list(UV),
                              "image_width": ("camera", [c.width for c in cams]),
                              "image_height": ("camera", [c.height for c in cams])}
    if batched:
        coords["batch"] = da["batch"].values if "batch" in da.coords else np.arange(n_b)
    out = out.assign_coords(coords)
    out.attrs.update(keypoint_layout=layout, cameras=json.dumps([c.to_dict() for c in cams]),
                     keypoint_sources=json.dumps(how))
    return out
