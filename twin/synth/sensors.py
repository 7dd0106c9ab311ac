"""Virtual sensors from model kinematics: skin markers and IMUs (and IMUs from real markers).

Synthetic gaits (a Simulation from :func:`twin.engine.simulate`) and fitted
motions (a Kinematics Dataset from :func:`twin.fit.inverse_kinematics` or
``twin.read("..._ik.mot")``) become the Recordings a lab or a wearable would
give, so models trained on synthetic data read real data through the same
code.

* :func:`markers_from_q` -- positions of a :class:`~twin.model.BodyParams`
  marker set, by the engine's forward kinematics
  (:func:`twin.engine.multibody.kinematics`) -> ``markers(time, marker,
  axis)`` [m], writable as TRC by :func:`twin.io.write_trc`.
* :func:`imu_from_q` -- 3-axis accelerometer (specific force, gravity
  included) and gyroscope of sensors fixed on segments, with misalignment,
  bias and white noise -> ``imu_acc``/``imu_gyro(time, sensor, axis)`` as
  :func:`twin.io.read_imu_csv` returns them.
* :func:`imu_from_markers` -- the same from real marker trajectories (a
  segment frame from three markers, low-pass filtered, differentiated).
* :func:`mounting_from_markers` -- the segment, offset and orientation on a
  model that match a marker-defined sensor frame, so that :func:`imu_from_q`
  and :func:`imu_from_markers` describe the same sensor.

Frames and conventions
----------------------
Ground is OpenSim's: X forward, Y up, Z right. The engine is planar: every
segment rotates about Z only and keeps its Z (a marker's Z is its segment's
constant lateral offset). A sensor frame is the frame of its segment (X
anterior, Y proximal/up, Z to the right, as OpenSim's segment frames)
rotated by its mounting rotation and then by the misalignment; readings are
expressed in that sensor frame (``attrs["imu_frame"] = "sensor"``, as the
IMU reader). Gyroscope z is then the sagittal angular rate, positive when the
distal end swings forward (what :func:`twin.gait.events_from_imu` expects).

Input Datasets: a Simulation ``q(batch, time, coordinate)`` (with ``qdot``),
or a Kinematics ``q(time, coordinate)`` [rad or m]. Coordinates are matched
by name to the body's; extra ones are ignored (history says so), missing ones
raise. Outputs keep a leading ``batch`` dim for a Simulation (select one
member with ``member=`` or ``ds.isel(batch=k)`` to get a schema-valid
Recording).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from twin import schema
>>> from twin.model import BodyParams
>>> from twin.synth import markers_from_q, imu_from_q
>>> body = BodyParams.default()
>>> t = np.arange(0, 0.5, 0.01)
>>> q = np.zeros((t.size, len(body.coordinate_names)))
>>> q[:, body.coordinate_names.index("pelvis_ty")] = 0.95
>>> kin = schema.kinematics(t, q, body.coordinate_names)
>>> m = markers_from_q(body, kin, marker_set="plug_in_gait")
>>> m.markers.dims, m.attrs["kind"]
(('time', 'marker', 'axis'), 'recording')
>>> imu = imu_from_q(body, kin, locations=("pelvis", "tibia_r"))
>>> imu.imu_acc.sel(sensor="pelvis").mean("time").values.round(3).tolist()   # at rest: +g on the up axis
[0.0, 9.807, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, check_param
from ..schema import AXES, QUATERNION, VARIABLES, recording

__all__ = [
    "markers_from_q",
    "imu_from_q",
    "imu_from_markers",
    "mounting_from_markers",
    "DEFAULT_IMU_LOCATIONS",
    "SEGMENT_MARKERS",
    "lowpass",
    "rotation_xyz_deg",
]

#: Segments that carry a virtual IMU by default (sensor named after its segment).
DEFAULT_IMU_LOCATIONS = ("pelvis", "torso", "femur_r", "tibia_r", "calcn_r", "femur_l", "tibia_l", "calcn_l")

_G = 9.80665
_CHUNK = 1024  # time samples per forward-kinematics call (bounds the memory of the repeated parameters)


def _mid(*names: str) -> tuple[str, ...]:
    return tuple(names)


#: Sensor frames built from three (or more) markers, per segment: each entry lists alternatives
#: (subject01 names, then Plug-in-Gait); see :func:`imu_from_markers` for the format.
SEGMENT_MARKERS: dict[str, tuple[dict[str, Any], ...]] = {
    "pelvis": (
        {"z": ("L.ASIS", "R.ASIS"), "x": ("V.Sacral", _mid("R.ASIS", "L.ASIS"))},
        {"z": ("LASI", "RASI"), "x": ("SACR", _mid("RASI", "LASI"))},
        {"z": ("LASI", "RASI"), "x": (_mid("LPSI", "RPSI"), _mid("RASI", "LASI"))},
    ),
    "torso": (
        {"z": ("L.Acromium", "R.Acromium"), "x": (_mid("R.Acromium", "L.Acromium"), "Sternum")},
    ),
    # thigh and shank: the three-marker clusters of the walking trials first, then epicondyles/malleoli
    "femur_r": (
        {"y": ("R.Thigh.Rear", "R.Thigh.Upper"), "x": (_mid("R.Thigh.Upper", "R.Thigh.Rear"), "R.Thigh.Front")},
        {"y": (_mid("R.Knee.Lat", "R.Knee.Med"), "R.Thigh.Upper"), "z": ("R.Knee.Med", "R.Knee.Lat")},
    ),
    "femur_l": (
        {"y": ("L.Thigh.Rear", "L.Thigh.Upper"), "x": (_mid("L.Thigh.Upper", "L.Thigh.Rear"), "L.Thigh.Front")},
        {"y": (_mid("L.Knee.Lat", "L.Knee.Med"), "L.Thigh.Upper"), "z": ("L.Knee.Lat", "L.Knee.Med")},
    ),
    "tibia_r": (
        {"y": ("R.Shank.Rear", "R.Shank.Upper"), "x": (_mid("R.Shank.Upper", "R.Shank.Rear"), "R.Shank.Front")},
        {"y": (_mid("R.Ankle.Lat", "R.Ankle.Med"), "R.Shank.Upper"), "z": ("R.Ankle.Med", "R.Ankle.Lat")},
    ),
    "tibia_l": (
        {"y": ("L.Shank.Rear", "L.Shank.Upper"), "x": (_mid("L.Shank.Upper", "L.Shank.Rear"), "L.Shank.Front")},
        {"y": (_mid("L.Ankle.Lat", "L.Ankle.Med"), "L.Shank.Upper"), "z": ("L.Ankle.Lat", "L.Ankle.Med")},
    ),
    "calcn_r": (
        {"x": ("R.Heel", "R.Toe.Tip"), "z": ("R.Toe.Med", "R.Toe.Lat")},
        {"x": ("RHEE", "RTOE"), "z": ("RTOE", "RANK")},
    ),
    "calcn_l": (
        {"x": ("L.Heel", "L.Toe.Tip"), "z": ("L.Toe.Lat", "L.Toe.Med")},
        {"x": ("LHEE", "LTOE"), "z": ("LANK", "LTOE")},
    ),
}


# ============================================================================================ helpers


def lowpass(x: np.ndarray, rate: float, cutoff: float | None, *, axis: int = 0, order: int = 2) -> np.ndarray:
    """Zero-lag Butterworth low-pass (``filtfilt``, so the effective order is ``2 * order``).

    Parameters
    ----------
    x : array
        Finite samples along ``axis``.
    rate : float
        Sampling rate [Hz].
    cutoff : float or None
        Cut-off [Hz] (below the Nyquist frequency ``rate / 2``); None returns
        ``x`` unchanged.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 2, 0.01)
    >>> y = lowpass(np.sin(2 * np.pi * t) + np.sin(2 * np.pi * 30 * t), 100.0, 6.0)
    >>> float(np.abs(y - np.sin(2 * np.pi * t))[20:-20].max()) < 0.05
    True
    """
    if cutoff is None:
        return np.asarray(x, float)
    from scipy.signal import butter, filtfilt

    nyq = 0.5 * rate
    if not 0 < cutoff < nyq:
        raise ParameterError(f"cutoff={cutoff!r} Hz must be between 0 and the Nyquist frequency {nyq:g} Hz "
                             f"(half the {rate:g} Hz sampling rate); lower it or pass cutoff=None")
    x = np.asarray(x, float)
    n = x.shape[axis]
    b, a = butter(order, cutoff / nyq)
    pad = min(3 * max(len(a), len(b)), n - 1)
    if n < 4:
        return x
    return filtfilt(b, a, x, axis=axis, padlen=pad)


def rotation_xyz_deg(angles: Sequence[float]) -> np.ndarray:
    """Rotation matrix of body-fixed X-Y-Z angles in degrees (as OpenSim frame orientations).

    Examples
    --------
    >>> rotation_xyz_deg([0, 0, 90]).round(6).tolist()
    [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    a, b, c = np.radians(np.asarray(angles, float).reshape(3))
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rx @ ry @ rz


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _quaternion(r: np.ndarray) -> np.ndarray:
    """(w, x, y, z) with w >= 0 of rotation matrices ``[..., 3, 3]``."""
    r = np.asarray(r, float)
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    w = np.sqrt(np.maximum(0.0, 1 + m00 + m11 + m22)) / 2
    x = np.sqrt(np.maximum(0.0, 1 + m00 - m11 - m22)) / 2
    y = np.sqrt(np.maximum(0.0, 1 - m00 + m11 - m22)) / 2
    z = np.sqrt(np.maximum(0.0, 1 - m00 - m11 + m22)) / 2
    x = np.copysign(x, r[..., 2, 1] - r[..., 1, 2])
    y = np.copysign(y, r[..., 0, 2] - r[..., 2, 0])
    z = np.copysign(z, r[..., 1, 0] - r[..., 0, 1])
    return np.stack([w, x, y, z], axis=-1)


def _rz(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    out = np.zeros(np.shape(theta) + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = c, -s, s, c
    out[..., 2, 2] = 1.0
    return out


def _rng(rng: Any) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        return rng
    raise ParameterError(f"rng={rng!r} must be a numpy Generator (np.random.default_rng(seed)), an int seed or None")


# ============================================================================================ inputs


@dataclass
class _Motion:
    """Generalised coordinates of one Dataset, in a body's coordinate order."""

    time: np.ndarray  # [T]
    q: np.ndarray  # [B, T, Q]
    qdot: np.ndarray | None  # [B, T, Q] (simulations)
    batched: bool
    batch_coord: np.ndarray | None
    source: str
    kind: str
    history: list[str]


def _bodies(body: Any, n_batch: int) -> list:
    from ..model import BodyParams

    if body is None:
        return [BodyParams.default()]
    if isinstance(body, BodyParams):
        return [body]
    if isinstance(body, Sequence) and not isinstance(body, (str, bytes)) and body and \
            all(isinstance(b, BodyParams) for b in body):
        if len(body) not in (1, n_batch):
            raise ParameterError(f"body: {len(body)} BodyParams given for {n_batch} batch member(s); give one "
                                 "body, or one per batch member")
        names = body[0].coordinate_names
        for k, b in enumerate(body):
            if b.coordinate_names != names or b.segment_names != body[0].segment_names:
                raise ParameterError(f"body[{k}] has another structure than body[0] (segments/coordinates); "
                                     "batch members must share one structure")
        return list(body)
    raise ParameterError(f"body must be a twin.model.BodyParams (e.g. BodyParams.default()), a list of them, "
                         f"or None for the default body; got {type(body).__name__}")


def _check_dataset(ds: Any, name: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"{name} must be an xarray.Dataset, not {type(ds).__name__}")
    return ds


def _time(ds: xr.Dataset, name: str, *, minimum: int = 2) -> np.ndarray:
    if "time" not in ds.coords:
        raise DataError(f"{name} has no 'time' coordinate; build it with twin.schema (times in s)")
    t = np.asarray(ds["time"].values, float)
    if t.size < minimum:
        raise DataError(f"{name} has {t.size} time sample(s); at least {minimum} are needed")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise DataError(f"{name}: 'time' must be finite and strictly increasing")
    units = ds["time"].attrs.get("units", "s")
    if units != "s":
        raise DataError(f"{name}: 'time' has units {units!r}; convert it to seconds (units 's')")
    return t


def _motion(q_ds: Any, coordinate_names: Sequence[str], *, name: str = "q_ds", minimum: int = 2) -> _Motion:
    ds = _check_dataset(q_ds, name)
    if "q" not in ds.data_vars:
        raise DataError(f"{name} has no 'q' variable (it holds {sorted(map(str, ds.data_vars))}); pass a "
                        "Kinematics Dataset (twin.read('..._ik.mot'), twin.fit.inverse_kinematics) or a "
                        "Simulation (twin.engine.simulate)")
    q = ds["q"]
    if q.dims == ("time", "coordinate"):
        batched = False
    elif set(q.dims) == {"batch", "time", "coordinate"}:
        batched = True
        q = q.transpose("batch", "time", "coordinate")
    else:
        raise DataError(f"{name}: 'q' has dims {q.dims}; expected (time, coordinate) or (batch, time, coordinate)")
    units = str(q.attrs.get("units", ""))
    if "deg" in units.lower():
        raise DataError(f"{name}: 'q' is in {units!r}; the engine needs rad (and m): convert rotational "
                        "coordinates with np.radians first")
    if units and "rad" not in units and units not in ("m", "1"):
        raise DataError(f"{name}: 'q' has units {units!r}; expected rad (rotational) and m (translational)")
    t = _time(ds, name, minimum=minimum)
    have = [str(c) for c in ds["coordinate"].values]
    missing = [c for c in coordinate_names if c not in have]
    if missing:
        raise DataError(f"{name}: coordinate(s) {missing} of the body are not in 'q' (it has {have}); add them "
                        "(e.g. at their default value) or use a body without them (BodyParams.default(lumbar=False))")
    idx = [have.index(c) for c in coordinate_names]
    values = np.asarray(q.values, float)
    if not batched:
        values = values[None]
    values = values[..., idx]
    history = []
    extra = [c for c in have if c not in coordinate_names]
    if extra:
        history.append(f"ignored coordinate(s) not in the body: {', '.join(extra)}")
    bad = ~np.isfinite(values)
    if bad.any():
        worst = coordinate_names[int(np.argmax(bad.sum(axis=(0, 1))))]
        raise DataError(f"{name}: 'q' has {int(bad.sum())} NaN/inf value(s) (most in {worst!r}); fill the gaps "
                        "(e.g. q.interpolate_na('time')) before making virtual sensors")
    qdot = None
    if "qdot" in ds.data_vars:
        qd = ds["qdot"]
        qd = qd.transpose("batch", "time", "coordinate") if batched else qd.transpose("time", "coordinate")
        qdot = np.asarray(qd.values, float)
        qdot = (qdot if batched else qdot[None])[..., [have.index(c) for c in coordinate_names]]
        if not np.all(np.isfinite(qdot)):
            qdot = None
            history.append("qdot has NaN/inf: speeds taken from q instead")
    return _Motion(t, values, qdot, batched, np.asarray(ds["batch"].values) if batched and "batch" in ds.coords
                   else (np.arange(values.shape[0]) if batched else None),
                   str(ds.attrs.get("source", "")), str(ds.attrs.get("kind", "")), history)


# ============================================================================================ engine


class _Engine:
    """Engine parameters of one body, and where its segments' points live in the engine's merged bodies."""

    def __init__(self, body: Any):
        import torch

        from ..engine.build import EngineParams
        from ..engine.from_model import spec_from_body_params

        self.body = body
        self.spec = spec_from_body_params(body)
        self.params = EngineParams.from_body(self.spec, dtype=torch.float64)
        self.coordinate_names = tuple(self.params.coordinate_names)
        self._joints = {j.child: j for j in self.spec.joints}
        self._repeated: dict[int, Any] = {}

    def attach(self, segment: str, location: Sequence[float]) -> tuple[int, np.ndarray, float, float]:
        """(engine body index, x-y in that body's frame, ground z, extra angle) of a point fixed in ``segment``."""
        if segment not in self.body.segment_names:
            raise ParameterError(f"segment {segment!r} is not in the body; segments are "
                                 f"{', '.join(self.body.segment_names)}")
        r = np.asarray(location, float).reshape(3).copy()
        seg, dth = segment, 0.0
        while seg not in self.params.body_names:
            j = self._joints[seg]
            rot, tx, ty = (f.value for f in (j.rotation, j.translation_x, j.translation_y))
            th = j.orientation_in_parent + rot - j.orientation_in_child
            rp = _rz(np.asarray(j.orientation_in_parent))[:2, :2]
            rt = _rz(np.asarray(th))[:2, :2]
            origin = np.asarray(j.location_in_parent[:2]) + rp @ np.array([tx, ty]) - rt @ np.asarray(
                j.location_in_child[:2])
            r[:2] = origin + rt @ r[:2]
            r[2] = r[2] + j.location_in_parent[2] - j.location_in_child[2]
            dth += th
            seg = j.parent
        k = self.params.body_names.index(seg)
        z = float(self.params.body_z[0, k]) + float(r[2])
        return k, r[:2], z, dth

    def _params(self, n: int):
        if n not in self._repeated:
            self._repeated[n] = self.params.repeat(n)
        return self._repeated[n]

    def kinematics(self, q: np.ndarray, qdot: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Body origins ``p [T, N, 2]``, angles ``theta [T, N]``, ``omega [T, N]`` and ``acc_bias`` of ``q [T, Q]``."""
        import torch

        from ..engine.multibody import kinematics

        out: dict[str, list] = {"p": [], "theta": [], "omega": [], "acc_bias": []}
        qd_all = np.zeros_like(q) if qdot is None else qdot
        for a in range(0, q.shape[0], _CHUNK):
            qc = torch.as_tensor(q[a:a + _CHUNK], dtype=torch.float64)
            qdc = torch.as_tensor(qd_all[a:a + _CHUNK], dtype=torch.float64)
            n = qc.shape[0]
            params = self._params(_CHUNK).select(slice(0, n)) if n != _CHUNK and q.shape[0] > _CHUNK \
                else self._params(n)
            kin = kinematics(params, qc, qdc)
            for key in out:
                out[key].append(getattr(kin, key).detach().cpu().numpy())
        return {k: np.concatenate(v, axis=0) for k, v in out.items()}

    def positions(self, q: np.ndarray, attached: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """Ground x-y [T, P, 2] and engine-body angle [T, P] of points from :meth:`attach` for ``q [T, Q]``."""
        idx = np.array([a[0] for a in attached])
        local = np.array([a[1] for a in attached])
        kin = self.kinematics(q)
        th = kin["theta"][:, idx]
        c, s = np.cos(th), np.sin(th)
        xy = np.stack([kin["p"][:, idx, 0] + c * local[:, 0] - s * local[:, 1],
                       kin["p"][:, idx, 1] + s * local[:, 0] + c * local[:, 1]], axis=-1)
        return xy, th

    def point_kinematics(self, q: np.ndarray, qdot: np.ndarray, qddot: np.ndarray, body: np.ndarray,
                         local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Ground position [T, P, 2], acceleration [T, P, 2], body angle [T, P] and rate [T, P] of points.

        The acceleration is exact for the given ``q, qdot, qddot``:
        ``J qddot + acc_bias(body) - omega^2 R r`` (``J`` the point Jacobian of
        :func:`twin.engine.multibody.point_jacobian`).
        """
        import torch

        from ..engine.multibody import kinematics, point_jacobian

        pos, acc, th, om = [], [], [], []
        bidx = torch.as_tensor(body, dtype=torch.long)
        for a in range(0, q.shape[0], _CHUNK):
            qc = torch.as_tensor(q[a:a + _CHUNK], dtype=torch.float64)
            qdc = torch.as_tensor(qdot[a:a + _CHUNK], dtype=torch.float64)
            qddc = np.asarray(qddot[a:a + _CHUNK])
            n = qc.shape[0]
            params = self._params(_CHUNK).select(slice(0, n)) if n != _CHUNK and q.shape[0] > _CHUNK \
                else self._params(n)
            kin = kinematics(params, qc, qdc)
            theta = kin.theta[:, bidx].numpy()  # [n, P]
            omega = kin.omega[:, bidx].numpy()
            c, s = np.cos(theta), np.sin(theta)
            rw = np.stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]], -1)  # [n, P, 2]
            p = kin.p[:, bidx].numpy() + rw
            jac = point_jacobian(params, kin, bidx, torch.as_tensor(p)).numpy()  # [n, P, Q, 2]
            a_pt = np.einsum("npqk,nq->npk", jac, qddc) + kin.acc_bias[:, bidx].numpy() - (omega ** 2)[..., None] * rw
            pos.append(p), acc.append(a_pt), th.append(theta), om.append(omega)
        return (np.concatenate(pos), np.concatenate(acc), np.concatenate(th), np.concatenate(om))


def _engines(bodies: list) -> list[_Engine]:
    cache: dict[int, _Engine] = {}
    out = []
    for b in bodies:
        if id(b) not in cache:
            cache[id(b)] = _Engine(b)
        out.append(cache[id(b)])
    return out


def _member(ds: xr.Dataset, member: int | None, batched: bool) -> xr.Dataset:
    if member is None or not batched:
        if member is not None:
            raise ParameterError(f"member={member!r}: the input has no batch dim; leave member=None")
        return ds
    check_param("member", member, types=(int, np.integer))
    n = ds.sizes["batch"]
    if not -n <= member < n:
        raise ParameterError(f"member={member} is out of range for a batch of {n}")
    return ds.isel(batch=int(member))


# ============================================================================================ markers


def markers_from_q(
    body: Any,
    q_ds: xr.Dataset,
    *,
    marker_set: str = "plug_in_gait",
    markers: Sequence[str] | None = None,
    member: int | None = None,
) -> xr.Dataset:
    """Virtual marker trajectories of a body's marker set for a motion.

    Each marker is fixed in its segment (:class:`~twin.model.Marker`
    ``location``); its X-Y position comes from the engine's forward
    kinematics (:func:`twin.engine.multibody.kinematics`, welded segments
    such as ``calcn``/``toes`` re-expressed in the engine body they were
    merged into) and its Z is constant: the segment's lateral offset plus the
    marker's (the model is planar).

    Parameters
    ----------
    body : BodyParams, list of BodyParams, or None
        The body (None: :meth:`BodyParams.default`); for a Simulation, one
        body per batch member may be given.
    q_ds : xarray.Dataset
        Kinematics ``q(time, coordinate)`` or Simulation
        ``q(batch, time, coordinate)`` [rad, m].
    marker_set : str, default "plug_in_gait"
        Name of one of ``body.marker_sets`` (default body: ``"subject01"``,
        ``"plug_in_gait"``, ``"opencap"``).
    markers : sequence of str, optional
        Keep only these markers (in this order).
    member : int, optional
        For a Simulation, return only this batch member (a schema-valid
        Recording); by default every member, along a leading ``batch`` dim.

    Returns
    -------
    xarray.Dataset
        Recording (``attrs["kind"] = "recording"``) with ``markers(time,
        marker, axis)`` [m] (``(batch, time, marker, axis)`` for a whole
        Simulation), attrs ``rate``, ``marker_set``, ``subject_mass``,
        ``subject_height``, ``source``, ``history``.

    Raises
    ------
    ParameterError
        Unknown marker set or marker, or a bad ``body``.
    DataError
        ``q_ds`` without ``q``, with the wrong dims, in degrees, with NaN, or
        missing a coordinate of the body.

    Examples
    --------
    >>> import numpy as np, torch
    >>> torch.set_num_threads(1)
    >>> from twin import schema
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default()
    >>> q = np.zeros((3, len(body.coordinate_names)))
    >>> kin = schema.kinematics([0.0, 0.01, 0.02], q, body.coordinate_names)
    >>> m = markers_from_q(body, kin, marker_set="plug_in_gait", markers=["RHEE", "LHEE"])
    >>> m.markers.isel(time=0).values.round(3).tolist()
    [[-0.145, -0.912, 0.085], [-0.145, -0.912, -0.085]]
    """
    ds = _check_dataset(q_ds, "q_ds")
    batched_in = "batch" in ds["q"].dims if "q" in ds.data_vars else False
    ds = _member(ds, member, batched_in)
    bodies = _bodies(body, ds.sizes.get("batch", 1))
    check_param("marker_set", marker_set, types=str)
    if marker_set not in bodies[0].marker_set_names:
        raise ParameterError(f"marker_set={marker_set!r} is not a marker set of the body; it has "
                             f"{', '.join(bodies[0].marker_set_names) or 'none'}")
    motion = _motion(ds, bodies[0].coordinate_names)
    engines = _engines(bodies)
    mset = bodies[0].marker_set(marker_set)
    names = list(mset.names)
    if markers is not None:
        if isinstance(markers, str):
            raise ParameterError("markers must be a sequence of marker names, not one str")
        unknown = [m for m in markers if m not in names]
        if unknown:
            raise ParameterError(f"markers {unknown} are not in marker set {marker_set!r} ({', '.join(names)})")
        names = list(markers)
    n_b, n_t = motion.q.shape[:2]
    out = np.empty((n_b, n_t, len(names), 3))
    for b in range(n_b):
        eng = engines[b if len(engines) > 1 else 0]
        ms = {m.name: m for m in eng.body.marker_set(marker_set).markers}
        att = [eng.attach(ms[n].body, ms[n].location) for n in names]
        out[b, :, :, :2] = eng.positions(motion.q[b], att)[0]
        out[b, :, :, 2] = np.array([a[2] for a in att])
    history = [f"virtual markers ({marker_set}, {len(names)} markers) from {motion.kind or 'q'} "
               f"{motion.source or ''}".rstrip() + " by the engine's forward kinematics; Z = segment's lateral "
               "offset (planar model)"] + motion.history
    attrs = _body_attrs(bodies)
    if not motion.batched:
        ds_out = recording(motion.time, markers=out[0], marker_names=names, source="twin.synth.markers_from_q",
                           history="\n".join(history), **attrs)
    else:
        ds_out = recording(motion.time, source="twin.synth.markers_from_q", history="\n".join(history), **attrs)
        ds_out["markers"] = xr.DataArray(out, dims=("batch", "time", "marker", "axis"),
                                         attrs={"units": "m", "long_name": VARIABLES["markers"][2]})
        ds_out = ds_out.assign_coords(batch=motion.batch_coord, marker=names, axis=list(AXES))
    ds_out.attrs["marker_set"] = marker_set
    return ds_out


def _body_attrs(bodies: list) -> dict[str, Any]:
    if len(bodies) == 1:
        return {"subject_mass": float(bodies[0].mass), "subject_height": float(bodies[0].height)}
    return {}


# ============================================================================================ IMU from q


def _placements(eng: _Engine, locations: Any) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(sensor, segment, offset [3], rotation in segment [3, 3]) per sensor."""
    body = eng.body
    if isinstance(locations, str) or not isinstance(locations, (Sequence, Mapping)):
        raise ParameterError("locations must be a sequence of segment names or a mapping {sensor: segment | "
                             "(segment, offset) | (segment, offset, rotation)}; got "
                             f"{type(locations).__name__}")
    items = locations.items() if isinstance(locations, Mapping) else [(s, s) for s in locations]
    out = []
    for sensor, spec in items:
        if not isinstance(sensor, str) or not sensor:
            raise ParameterError(f"locations: sensor names must be non-empty str, got {sensor!r}")
        rot = np.eye(3)
        if isinstance(spec, str):
            segment, offset = spec, None
        elif isinstance(spec, Sequence) and 2 <= len(spec) <= 3 and isinstance(spec[0], str):
            segment, offset = spec[0], np.asarray(spec[1], float).reshape(-1)
            if offset.shape != (3,) or not np.all(np.isfinite(offset)):
                raise ParameterError(f"locations[{sensor!r}]: offset {spec[1]!r} must be 3 finite numbers (m, in "
                                     "the segment frame)")
            if len(spec) == 3:
                rot = np.asarray(spec[2], float)
                if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) or \
                        np.linalg.det(rot) < 0:
                    raise ParameterError(f"locations[{sensor!r}]: rotation must be a 3x3 rotation matrix (columns: "
                                         "sensor axes in the segment frame)")
        else:
            raise ParameterError(f"locations[{sensor!r}]={spec!r}: give a segment name, (segment, offset) or "
                                 "(segment, offset, rotation)")
        if segment not in body.segment_names:
            raise ParameterError(f"locations: segment {segment!r} (sensor {sensor!r}) is not in the body; segments "
                                 f"are {', '.join(body.segment_names)}")
        if offset is None:
            offset = np.asarray(body.segment(segment).com, float)
        out.append((sensor, segment, offset, rot))
    if not out:
        raise ParameterError("locations is empty; name at least one segment")
    names = [o[0] for o in out]
    if len(set(names)) != len(names):
        raise ParameterError(f"locations: duplicated sensor names {names}")
    return out


def _misalignments(value: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    arr = np.asarray(value, float)
    if arr.ndim == 0:
        check_param("misalignment_deg", float(arr), minimum=0.0, maximum=180.0)
        if arr == 0:
            return np.broadcast_to(np.eye(3), (n, 3, 3)).copy(), "no misalignment"
        axes = rng.normal(size=(n, 3))
        rots = np.stack([_axis_angle(a, math.radians(float(arr))) for a in axes])
        return rots, f"misalignment {float(arr):g} deg about a random axis per sensor"
    if arr.shape == (3,):
        arr = np.broadcast_to(arr, (n, 3))
    if arr.shape != (n, 3) or not np.all(np.isfinite(arr)):
        raise ParameterError(f"misalignment_deg must be an angle (deg, about a random axis), or X-Y-Z angles in deg "
                             f"of shape (3,) or (n_sensor={n}, 3); got shape {arr.shape}")
    return np.stack([rotation_xyz_deg(a) for a in arr]), "misalignment X-Y-Z angles given per sensor"


def _pair(value: Any, name: str) -> tuple[float, float]:
    """(acc, gyro) from a number pair or a mapping {'acc': ..., 'gyro': ...}."""
    if isinstance(value, Mapping):
        bad = set(value) - {"acc", "gyro"}
        if bad:
            raise ParameterError(f"{name}: keys must be 'acc' and/or 'gyro', got {sorted(bad)}")
        acc, gyro = value.get("acc", 0.0), value.get("gyro", 0.0)
    elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        if value != 0:
            raise ParameterError(f"{name}={value!r}: give (acc [m/s^2], gyro [rad/s]) or "
                                 "{'acc': ..., 'gyro': ...}; a single number is only allowed as 0")
        acc = gyro = 0.0
    elif isinstance(value, Sequence) and len(value) == 2:
        acc, gyro = value
    else:
        raise ParameterError(f"{name}={value!r} must be (acc [m/s^2], gyro [rad/s]) or {{'acc': ..., 'gyro': ...}}")
    check_param(f"{name} (acc)", acc, minimum=0.0, types=(int, float, np.floating, np.integer))
    check_param(f"{name} (gyro)", gyro, minimum=0.0, types=(int, float, np.floating, np.integer))
    return float(acc), float(gyro)


def _derivatives(motion: _Motion, b: int, t_out: np.ndarray, cutoff: float | None, rate_in: float):
    """q, qdot, qddot [T_out, Q] of member ``b`` (cubic splines; see imu_from_q)."""
    from scipy.interpolate import CubicSpline

    q = lowpass(motion.q[b], rate_in, cutoff)
    if motion.qdot is not None:
        qd = lowpass(motion.qdot[b], rate_in, cutoff)
        sq, sqd = CubicSpline(motion.time, q), CubicSpline(motion.time, qd)
        return sq(t_out), sqd(t_out), sqd(t_out, 1)
    sq = CubicSpline(motion.time, q)
    return sq(t_out), sq(t_out, 1), sq(t_out, 2)


def imu_from_q(
    body: Any,
    q_ds: xr.Dataset,
    *,
    locations: Sequence[str] | Mapping[str, Any] = DEFAULT_IMU_LOCATIONS,
    misalignment_deg: float | Sequence[float] | np.ndarray = 0.0,
    bias: Any = (0.0, 0.0),
    noise: Any = (0.0, 0.0),
    rng: np.random.Generator | int | None = None,
    rate: float | None = None,
    cutoff: float | None = None,
    member: int | None = None,
) -> xr.Dataset:
    """Virtual IMUs (accelerometer + gyroscope) on segments of a moving body.

    The sensor point's acceleration is computed exactly from ``q``, ``qdot``
    and ``qddot`` with the engine's kinematics: ``a = J qddot + Jdot qdot``
    (point Jacobian of :func:`twin.engine.multibody.point_jacobian`, velocity
    product from the body origins' ``acc_bias`` and ``-omega^2 r``). The
    accelerometer reads the specific force ``R^T (a - g)`` (``g = (0, -9.81,
    0)``; at rest it reads +9.81 along the sensor axis that points up), the
    gyroscope ``R^T (0, 0, omega)``, with ``R`` the sensor orientation.

    Derivatives: ``q`` (and ``qdot`` when the Dataset has it, as a
    Simulation does) are interpolated by cubic splines; ``qdot`` is the
    recorded one (Simulation) or the spline's derivative (Kinematics), and
    ``qddot`` the derivative of the ``qdot`` spline (Simulation) or the
    second derivative of the ``q`` spline (Kinematics). Noisy measured
    kinematics (IK) should be low-passed first (``cutoff``).

    Parameters
    ----------
    body : BodyParams, list of BodyParams, or None
        As :func:`markers_from_q`.
    q_ds : xarray.Dataset
        Kinematics ``q(time, coordinate)`` or Simulation ``q``/``qdot`` (batch,
        time, coordinate); at least 4 samples.
    locations : sequence of str or mapping, default :data:`DEFAULT_IMU_LOCATIONS`
        Segment names (one sensor at each segment's centre of mass, named
        after the segment, axes along the segment's), or ``{sensor: segment
        | (segment, offset) | (segment, offset, rotation)}`` with ``offset``
        [m] in the segment frame and ``rotation`` (3x3, columns = sensor axes
        in the segment frame), e.g. from :func:`mounting_from_markers`.
    misalignment_deg : float or array, default 0
        Mounting error: an angle [deg] of a rotation about a random axis
        (drawn from ``rng``) per sensor, or X-Y-Z angles [deg], shape (3,) or
        (n_sensor, 3). Rotates the readings; their norms are unchanged.
    bias : (acc, gyro) or mapping, default (0, 0)
        Standard deviation of a constant bias per sensor, axis and batch
        member [m/s^2, rad/s] (typical MEMS: 0.1 m/s^2, 0.01 rad/s).
    noise : (acc, gyro) or mapping, default (0, 0)
        Standard deviation of white noise per sample [m/s^2, rad/s]
        (typical: 0.05 m/s^2, 0.005 rad/s at 100 Hz).
    rng : numpy Generator, int seed or None
        Random source of misalignment, bias and noise.
    rate : float, optional
        Output rate [Hz] (default: that of ``q_ds``); the motion is
        resampled by the splines.
    cutoff : float, optional
        Low-pass cut-off [Hz] applied to ``q`` (and ``qdot``) first
        (zero-lag Butterworth, :func:`lowpass`); default none (simulated
        kinematics are smooth).
    member : int, optional
        For a Simulation, only this batch member.

    Returns
    -------
    xarray.Dataset
        Recording with ``imu_acc(time, sensor, axis)`` [m/s^2],
        ``imu_gyro(time, sensor, axis)`` [rad/s] in each sensor's frame,
        ``imu_orientation(time, sensor, quaternion)`` (sensor in ground, the
        ground truth), coords ``sensor_segment(sensor)``, variable
        ``imu_mounting(sensor, quaternion)`` (sensor in its segment, misalignment
        included); a leading ``batch`` dim for a whole Simulation.

    Raises
    ------
    ParameterError
        Unknown segment, bad mounting, noise or rate.
    DataError
        Bad ``q_ds`` (see :func:`markers_from_q`) or fewer than 4 samples.

    Examples
    --------
    >>> import numpy as np, torch
    >>> torch.set_num_threads(1)
    >>> from twin import schema
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default()
    >>> t = np.arange(0, 1, 0.01)
    >>> q = np.zeros((t.size, len(body.coordinate_names)))
    >>> q[:, body.coordinate_names.index("knee_angle_r")] = -0.5 * t      # knee flexes at 0.5 rad/s
    >>> imu = imu_from_q(body, schema.kinematics(t, q, body.coordinate_names), locations=["tibia_r"])
    >>> round(float(imu.imu_gyro.sel(sensor="tibia_r", axis="z").mean()), 6)
    -0.5
    """
    ds = _check_dataset(q_ds, "q_ds")
    batched_in = "batch" in ds["q"].dims if "q" in ds.data_vars else False
    ds = _member(ds, member, batched_in)
    bodies = _bodies(body, ds.sizes.get("batch", 1))
    motion = _motion(ds, bodies[0].coordinate_names, minimum=4)
    gen = _rng(rng)
    acc_bias, gyro_bias = _pair(bias, "bias")
    acc_noise, gyro_noise = _pair(noise, "noise")
    rate_in = 1.0 / float(np.median(np.diff(motion.time)))
    if cutoff is not None:
        check_param("cutoff", cutoff, minimum=0.0, types=(int, float))
    if rate is None:
        t_out = motion.time
        rate_out = rate_in
    else:
        check_param("rate", rate, minimum=1e-6, types=(int, float))
        n = int(math.floor((motion.time[-1] - motion.time[0]) * rate + 1e-9)) + 1
        t_out = motion.time[0] + np.arange(n) / float(rate)
        rate_out = float(rate)
        if n < 2:
            span = motion.time[-1] - motion.time[0]
            raise ParameterError(f"rate={rate!r} Hz gives {n} sample(s) over the {span:g} s of the motion; raise it")
    engines = _engines(bodies)
    place = _placements(engines[0], locations)
    n_s, n_b, n_t = len(place), motion.q.shape[0], t_out.size
    mis, mis_note = _misalignments(misalignment_deg, n_s, gen)
    mount = np.stack([p[3] for p in place]) @ mis  # [S, 3, 3] sensor in segment
    acc = np.empty((n_b, n_t, n_s, 3))
    gyro = np.empty((n_b, n_t, n_s, 3))
    orient = np.empty((n_b, n_t, n_s, 4))
    gravity = np.array([0.0, -float(bodies[0].gravity), 0.0])
    for b in range(n_b):
        eng = engines[b if len(engines) > 1 else 0]
        pl = _placements(eng, locations) if eng is not engines[0] else place
        att = [eng.attach(seg, off) for _, seg, off, _ in pl]
        idx = np.array([a[0] for a in att])
        local = np.array([a[1] for a in att])
        dth = np.array([a[3] for a in att])
        q, qd, qdd = _derivatives(motion, b, t_out, cutoff, rate_in)
        _, a_xy, theta, omega = eng.point_kinematics(q, qd, qdd, idx, local)
        gravity = np.array([0.0, -float(eng.body.gravity), 0.0])
        a3 = np.concatenate([a_xy, np.zeros(a_xy.shape[:-1] + (1,))], axis=-1)  # [T, S, 3]
        rot = _rz(theta + dth) @ mount  # [T, S, 3, 3] sensor -> ground
        f = a3 - gravity
        acc[b] = np.einsum("tsji,tsj->tsi", rot, f)
        w = np.zeros_like(a3)
        w[..., 2] = omega
        gyro[b] = np.einsum("tsji,tsj->tsi", rot, w)
        orient[b] = _quaternion(rot)
    history = [f"virtual IMUs on {', '.join(f'{s}@{seg}' for s, seg, _, _ in place)} from {motion.kind or 'q'}"
               f" {motion.source}".rstrip() + ": specific force R^T (a - g) and angular rate R^T w in the sensor "
               f"frame; a = J qddot + Jdot qdot (engine kinematics), derivatives by cubic splines"
               + (f" of q low-passed at {cutoff:g} Hz" if cutoff is not None else ""), mis_note] + motion.history
    if acc_bias or gyro_bias:
        acc += gen.normal(0.0, acc_bias, size=(n_b, 1, n_s, 3))
        gyro += gen.normal(0.0, gyro_bias, size=(n_b, 1, n_s, 3))
        history.append(f"constant bias per sensor and axis: sd {acc_bias:g} m/s^2, {gyro_bias:g} rad/s")
    if acc_noise or gyro_noise:
        acc += gen.normal(0.0, acc_noise, size=acc.shape)
        gyro += gen.normal(0.0, gyro_noise, size=gyro.shape)
        history.append(f"white noise: sd {acc_noise:g} m/s^2, {gyro_noise:g} rad/s")
    names = [p[0] for p in place]
    segments = [p[1] for p in place]
    return _imu_dataset(t_out, rate_out, acc, gyro, orient, names, segments, _quaternion(mount), motion,
                        history, "twin.synth.imu_from_q", _body_attrs(bodies))


def _imu_dataset(t, rate, acc, gyro, orient, names, segments, mount_q, motion, history, source, attrs):
    frame_note = "sensor frame: x, y, z are each sensor's own axes (not the OpenSim global frame)"
    batched = motion is not None and motion.batched
    lead = ("batch",) if batched else ()
    sl = (slice(None),) if batched else (0,)
    ds = recording(t, source=source, rate=rate, history="\n".join(history), **attrs)
    ds["imu_acc"] = xr.DataArray(acc[sl], dims=lead + ("time", "sensor", "axis"),
                                 attrs={"units": "m/s^2", "long_name": VARIABLES["imu_acc"][2], "frame": frame_note})
    ds["imu_gyro"] = xr.DataArray(gyro[sl], dims=lead + ("time", "sensor", "axis"),
                                  attrs={"units": "rad/s", "long_name": VARIABLES["imu_gyro"][2], "frame": frame_note})
    ds["imu_orientation"] = xr.DataArray(orient[sl], dims=lead + ("time", "sensor", "quaternion"),
                                         attrs={"units": "1", "long_name": "sensor orientation in ground "
                                                                           "(w, x, y, z; ground truth)"})
    if mount_q is not None:
        ds["imu_mounting"] = xr.DataArray(mount_q, dims=("sensor", "quaternion"),
                                          attrs={"units": "1", "long_name": "sensor orientation in its segment "
                                                                            "(w, x, y, z; misalignment included)"})
    coords = {"sensor": names, "axis": list(AXES), "quaternion": list(QUATERNION),
              "sensor_segment": ("sensor", list(segments))}
    if batched:
        coords["batch"] = motion.batch_coord
    ds = ds.assign_coords(coords)
    ds.attrs["imu_frame"] = "sensor"
    return ds


# ============================================================================================ IMU from markers


def _long_runs(mask: np.ndarray, longest: float | None) -> np.ndarray:
    """The samples of ``mask`` in runs of more than ``longest`` samples (None: none)."""
    out = np.zeros(mask.size, bool)
    if longest is None:
        return out
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a > longest:
            out[a:b] = True
    return out


def _spec_markers(spec: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for key, pair in spec.items():
        ends = [pair] if key == "origin" else list(pair)
        for end in ends:
            for n in ((end,) if isinstance(end, str) else tuple(end)):
                if n not in names:
                    names.append(n)
    return names


def _check_spec(sensor: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise ParameterError(f"segment_markers[{sensor!r}] must be a mapping like {{'z': ('L.ASIS', 'R.ASIS'), "
                             f"'x': ('V.Sacral', ('R.ASIS', 'L.ASIS'))}}, not {type(spec).__name__}")
    axes = [k for k in spec if k != "origin"]
    if len(axes) != 2 or any(k not in AXES for k in axes) or axes[0] == axes[1]:
        raise ParameterError(f"segment_markers[{sensor!r}]: give exactly two different axes among 'x', 'y', 'z' "
                             f"(each a (from, to) pair of marker names or tuples of names); got keys {list(spec)}")
    for k in axes:
        pair = spec[k]
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ParameterError(f"segment_markers[{sensor!r}][{k!r}] must be a (from, to) pair; got {pair!r}")
    return dict(spec)


def _frame(spec: Mapping[str, Any], get) -> tuple[np.ndarray, np.ndarray]:
    """Rotation [..., 3, 3] (columns: axes in the markers' frame) and origin [..., 3] from marker positions."""

    def point(end):
        names = (end,) if isinstance(end, str) else tuple(end)
        return np.mean([get(n) for n in names], axis=0)

    axes = [k for k in spec if k != "origin"]
    first, second = axes
    e1 = point(spec[first][1]) - point(spec[first][0])
    e1 = e1 / np.linalg.norm(e1, axis=-1, keepdims=True)
    v2 = point(spec[second][1]) - point(spec[second][0])
    v2 = v2 - np.sum(v2 * e1, axis=-1, keepdims=True) * e1
    e2 = v2 / np.linalg.norm(v2, axis=-1, keepdims=True)
    cols = {first: e1, second: e2}
    third = next(a for a in AXES if a not in cols)
    # right-handed: x = y cross z, y = z cross x, z = x cross y
    nxt = {"x": ("y", "z"), "y": ("z", "x"), "z": ("x", "y")}[third]
    cols[third] = np.cross(cols[nxt[0]], cols[nxt[1]])
    rot = np.stack([cols["x"], cols["y"], cols["z"]], axis=-1)
    origin = point(spec["origin"]) if "origin" in spec else np.mean([get(n) for n in _spec_markers(
        {k: v for k, v in spec.items() if k != "origin"})], axis=0)
    return rot, origin


def mounting_from_markers(
    body: Any,
    frame: Mapping[str, Any],
    *,
    marker_set: str = "subject01",
) -> tuple[str, tuple[float, float, float], np.ndarray]:
    """The model placement of a sensor whose frame is defined by markers (as :func:`imu_from_markers` builds it).

    Parameters
    ----------
    body : BodyParams or None
        The body (None: the default body).
    frame : mapping
        Two axes and an optional origin, as in ``segment_markers`` of
        :func:`imu_from_markers` (e.g. ``SEGMENT_MARKERS["pelvis"][0]``).
    marker_set : str, default "subject01"
        The body's marker set holding those markers.

    Returns
    -------
    (segment, offset, rotation)
        The segment all the markers are on, the frame origin in it [m], and
        the rotation whose columns are the frame's axes in the segment
        frame: a ``locations`` value for :func:`imu_from_q`.

    Raises
    ------
    ParameterError
        Unknown markers, or markers on different segments.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> seg, offset, rot = mounting_from_markers(BodyParams.default(), SEGMENT_MARKERS["pelvis"][0])
    >>> seg, rot.shape
    ('pelvis', (3, 3))
    """
    body = _bodies(body, 1)[0]
    spec = _check_spec("frame", frame)
    if marker_set not in body.marker_set_names:
        raise ParameterError(f"marker_set={marker_set!r} is not a marker set of the body "
                             f"({', '.join(body.marker_set_names)})")
    ms = {m.name: m for m in body.marker_set(marker_set).markers}
    names = _spec_markers(spec)
    unknown = [n for n in names if n not in ms]
    if unknown:
        raise ParameterError(f"markers {unknown} are not in marker set {marker_set!r}")
    segs = {ms[n].body for n in names}
    if len(segs) != 1:
        raise ParameterError(f"the markers {names} are on several segments ({sorted(segs)}); a sensor frame must "
                             "be built from markers of one segment")
    rot, origin = _frame(spec, lambda n: np.asarray(ms[n].location, float))
    return segs.pop(), tuple(float(v) for v in origin), rot


def imu_from_markers(
    recording_ds: xr.Dataset,
    *,
    segment_markers: Mapping[str, Mapping[str, Any]] | None = None,
    cutoff: float | None = 6.0,
    gravity: float = _G,
    max_gap: float | None = 0.1,
) -> xr.Dataset:
    """Virtual IMUs from measured marker trajectories (a frame of three or more markers per sensor).

    Each sensor frame is built from marker positions: ``{"z": (from, to),
    "x": (from, to)}`` -- two axes, each the direction from one marker (or the
    mean of a tuple of markers) to another; the first axis is kept exactly,
    the second is made orthogonal to it and the third completes a
    right-handed frame. The origin (the sensor's position) is the mean of the
    markers used, or ``"origin"``: a name or tuple of names.

    Marker positions are low-pass filtered (zero-lag Butterworth, 2nd order
    run forwards and backwards, ``cutoff`` Hz; 6 Hz is the usual choice for
    walking, Winter 2009), then differentiated by central differences: the
    origin twice (acceleration ``a``), the frame once (angular rate
    ``w = vee(R^T dR/dt)``). Readings are ``R^T (a - g)`` and ``w`` in the
    sensor frame, as :func:`imu_from_q` gives them.

    Missing marker samples are filled by linear interpolation before the
    filter. A gap longer than ``max_gap`` seconds is not data: the readings of
    every sensor whose frame uses that marker are NaN over the gap, widened on
    each side by the filter's and the differences' reach (``0.5 / cutoff`` s
    plus two samples), so that a marker out of the capture volume for half a
    trial does not become half a trial of straight-line, zero-acceleration
    "IMU" signal.

    Parameters
    ----------
    recording_ds : xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m].
    segment_markers : mapping, optional
        ``{sensor: frame}``. Default: every entry of :data:`SEGMENT_MARKERS`
        (subject01 and Plug-in-Gait names) whose markers are all present.
    cutoff : float or None, default 6
        Low-pass cut-off [Hz]; None to skip (noisy).
    gravity : float, default 9.80665
        [m/s^2].
    max_gap : float or None, default 0.1
        Longest marker gap [s] bridged by interpolation (about what gait labs
        gap-fill); None bridges every gap.

    Returns
    -------
    xarray.Dataset
        Recording with ``imu_acc``, ``imu_gyro`` (time, sensor, axis) and
        ``imu_orientation`` (time, sensor, quaternion), as :func:`imu_from_q`;
        NaN where a frame marker was missing for longer than ``max_gap``.

    Raises
    ------
    DataError
        No ``markers``, markers not in m, a needed marker missing or never
        seen, or no default frame matching the marker names.
    ParameterError
        Bad ``segment_markers`` or ``cutoff``.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 1, 0.01)
    >>> m = np.zeros((t.size, 3, 3))
    >>> m[:, 0] = [0, 1, -0.1]; m[:, 1] = [0, 1, 0.1]; m[:, 2] = [-0.15, 1, 0]    # a pelvis at rest
    >>> rec = schema.recording(t, markers=m, marker_names=["L.ASIS", "R.ASIS", "V.Sacral"])
    >>> imu = imu_from_markers(rec)
    >>> (imu.imu_acc.sel(sensor="pelvis").mean("time").values.round(3) + 0.0).tolist()
    [0.0, 9.807, 0.0]
    """
    ds = _check_dataset(recording_ds, "recording_ds")
    if "markers" not in ds.data_vars:
        raise DataError(f"recording_ds has no 'markers' variable (it holds {sorted(map(str, ds.data_vars))}); read "
                        "a TRC or C3D file with twin.read")
    da = ds["markers"]
    if set(da.dims) != {"time", "marker", "axis"}:
        raise DataError(f"'markers' has dims {da.dims}; expected (time, marker, axis) (select one batch member "
                        "with .isel(batch=k))")
    units = da.attrs.get("units")
    if units != "m":
        raise DataError(f"'markers' has units {units!r}; expected 'm' (convert, e.g. mm / 1000, and set "
                        "markers.attrs['units'] = 'm')")
    da = da.transpose("time", "marker", "axis")
    t = _time(ds, "recording_ds", minimum=4)
    rate = 1.0 / float(np.median(np.diff(t)))
    if cutoff is not None:
        check_param("cutoff", cutoff, minimum=0.0, types=(int, float))
    check_param("gravity", gravity, minimum=0.0, types=(int, float))
    if max_gap is not None:
        check_param("max_gap", max_gap, minimum=0.0, types=(int, float))
    names = [str(v) for v in da["marker"].values]
    if segment_markers is None:
        chosen = {}
        for sensor, alternatives in SEGMENT_MARKERS.items():
            for spec in alternatives:
                if all(n in names for n in _spec_markers(spec)):
                    chosen[sensor] = spec
                    break
        if not chosen:
            raise DataError(f"no default sensor frame matches the markers ({', '.join(names[:12])}...); pass "
                            "segment_markers={'pelvis': {'z': ('LASI', 'RASI'), 'x': ('SACR', ('RASI', 'LASI'))}}")
    else:
        if not isinstance(segment_markers, Mapping) or not segment_markers:
            raise ParameterError("segment_markers must be a non-empty mapping {sensor: frame}")
        chosen = {s: _check_spec(s, spec) for s, spec in segment_markers.items()}
    values = np.asarray(da.values, float)
    history = [f"virtual IMUs from markers of {ds.attrs.get('source', '') or 'the recording'}: frames "
               + "; ".join(f"{s}: {dict(spec)}" for s, spec in chosen.items()),
               f"positions low-passed at {cutoff:g} Hz (Butterworth 2nd order, zero lag)" if cutoff is not None
               else "no low-pass filter", "derivatives by central differences"]
    cache: dict[str, np.ndarray] = {}
    long_gaps: dict[str, np.ndarray] = {}  # marker -> samples inside its gaps longer than max_gap
    used: set[str] = set()  # the markers of the sensor being built

    def get(n: str) -> np.ndarray:
        used.add(n)
        if n not in names:
            raise DataError(f"marker {n!r} is not in the recording ({', '.join(names[:15])}...); name the frame's "
                            "markers with segment_markers=")
        if n not in cache:
            x = values[:, names.index(n)]
            ok = np.isfinite(x).all(axis=1)
            if ok.sum() < 4:
                raise DataError(f"marker {n!r} is missing in {int((~ok).sum())} of {t.size} frames; too few to "
                                "build a sensor frame")
            if not ok.all():
                x = np.stack([np.interp(t, t[ok], x[ok, k]) for k in range(3)], axis=1)
                history.append(f"marker {n!r}: {int((~ok).sum())} missing frame(s) filled by linear interpolation")
                long = _long_runs(~ok, None if max_gap is None else max_gap * rate)
                if long.any():
                    long_gaps[n] = long
                    history.append(f"marker {n!r}: {int(long.sum())} frame(s) in gaps longer than {max_gap:g} s: "
                                   "its sensors read NaN there")
            cache[n] = lowpass(x, rate, cutoff)
        return cache[n]

    sensors = list(chosen)
    acc = np.empty((1, t.size, len(sensors), 3))
    gyro = np.empty_like(acc)
    orient = np.empty((1, t.size, len(sensors), 4))
    g = np.array([0.0, -float(gravity), 0.0])
    reach = int(np.ceil(0.5 / cutoff * rate)) + 2 if cutoff else 2  # samples a gap spoils beyond its ends
    for k, s in enumerate(sensors):
        used.clear()
        rot, origin = _frame(chosen[s], get)  # [T, 3, 3], [T, 3]
        a = np.gradient(np.gradient(origin, t, axis=0), t, axis=0)
        acc[0, :, k] = np.einsum("tji,tj->ti", rot, a - g)
        rdot = np.gradient(rot, t, axis=0)
        w = np.einsum("tji,tjk->tik", rot, rdot)  # R^T dR/dt, skew-symmetric
        gyro[0, :, k] = 0.5 * np.stack([w[:, 2, 1] - w[:, 1, 2], w[:, 0, 2] - w[:, 2, 0], w[:, 1, 0] - w[:, 0, 1]], 1)
        orient[0, :, k] = _quaternion(rot)
        spoiled = np.zeros(t.size, bool)
        for n in used & set(long_gaps):
            spoiled |= long_gaps[n]
        if spoiled.any():
            spoiled = np.convolve(spoiled, np.ones(2 * reach + 1), mode="same") > 0
            acc[0, spoiled, k] = gyro[0, spoiled, k] = orient[0, spoiled, k] = np.nan
    attrs = {k: ds.attrs[k] for k in ("subject_mass", "subject_height") if k in ds.attrs}
    return _imu_dataset(t, rate, acc, gyro, orient, sensors, sensors, None, None, history,
                        "twin.synth.imu_from_markers", attrs)
