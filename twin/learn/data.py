"""Fixed-length, normalised windows of sensor sequences: what the estimators read.

:func:`make_windows` cuts a sensor Recording into windows of
``spec.duration`` seconds resampled to ``spec.rate`` Hz (default 2.56 s at
50 Hz = 128 samples, hop 0.64 s) and normalises each window, so that
synthetic and real recordings, any camera and any body size look alike to a
model:

2-D keypoints (``keypoints(time, camera, keypoint, uv)`` [px], as
:func:`twin.io.read_keypoints` and :func:`twin.synth.keypoints_2d` give)
    one camera; ``v`` flipped so that up is positive; every frame centred on
    the mid-hip (mean of the two hip keypoints), so camera placement,
    panning and treadmill vs overground do not matter; divided by the
    window's leg length in pixels (median over the window of hip-knee plus
    knee-ankle, mean of both legs; ``spec.scale = "image"``: the image
    height instead); mirrored when the walker goes to the image's left (the
    direction of the mid-hip's travel, or when it barely moves, the sign of
    the skewness of the ankles' horizontal velocity relative to the hip:
    swing is fast forward, stance slow backward). Channels ``<keypoint>_x``,
    ``<keypoint>_y`` in ``spec.keypoints`` order (BODY_25 names; COCO and
    MediaPipe names such as ``left_hip`` are recognised). Gaps shorter than
    the window are linearly interpolated; a window with more than
    ``spec.max_missing`` of a keypoint's samples missing is dropped.
IMU (``imu_acc`` [m/s^2] / ``imu_gyro`` [rad/s] (time, sensor, axis), as :func:`twin.io.read_imu_csv`,
:func:`twin.synth.imu_from_q` and :func:`twin.synth.imu_from_markers` give)
    channels ``<sensor>_<acc|gyro>_<axis>`` (``spec.sensors`` x
    ``spec.channels``; default the sagittal ones of pelvis and both shanks:
    ``acc_x``, ``acc_y``, ``gyro_z``), accelerations divided by g
    (9.80665 m/s^2) and angular rates by 4 rad/s; the units are checked
    first (the ``units`` attrs, and the data: an accelerometer whose median
    magnitude is about 1 is in g, not m/s^2).

Every window also carries the walker's ``leg_length`` [m] (thigh + shank,
see :func:`leg_length_from_markers`; :func:`leg_length_from_height` for a
person whose height only is known): with hip-centred, leg-length-scaled
keypoints a model sees speed in leg lengths per second, and the leg length
turns it into m/s.

Bad input raises :class:`~twin.errors.DataError` naming what is wrong: a
missing variable or wrong dims, a rate below ``spec.min_rate`` (20 Hz), units
(acceleration in g or mg, angular rate in deg/s), a recording shorter than
one window, unknown keypoints or sensors.

The result is a plain :class:`xarray.Dataset` (:func:`windows_dataset` builds
one from arrays), so windows of any source (the synthetic population, real
recordings, a colleague's zarr store) concatenate with
:func:`concat_windows`:

* ``x(window, channel, sample)`` float32 -- the normalised signals;
* ``leg_length(window)`` [m];
* ``y(window, target)`` -- labels (NaN when unknown): :data:`TARGETS`;
* coords ``group(window)`` (trial or subject id: windows of one group are
  never split between training and test), ``t0(window)`` [s] (window start
  in its recording), ``channel``, ``target``;
* attrs ``window_spec`` (JSON of the :class:`WindowSpec`), ``kind =
  "windows"``, ``source``, ``history``.

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> t = np.arange(0, 6, 0.01)
>>> imu = schema.recording(t)
>>> acc = np.zeros((t.size, 3, 3)); acc[..., 1] = 9.81
>>> gyro = np.zeros((t.size, 3, 3)); gyro[:, 1:, 2] = np.sin(2 * np.pi * t)[:, None]
>>> imu["imu_acc"] = (("time", "sensor", "axis"), acc, {"units": "m/s^2"})
>>> imu["imu_gyro"] = (("time", "sensor", "axis"), gyro, {"units": "rad/s"})
>>> imu = imu.assign_coords(sensor=["pelvis", "tibia_r", "tibia_l"], axis=["x", "y", "z"])
>>> w = make_windows(imu, WindowSpec("imu"), leg_length=0.9, labels={"cadence": 120.0})
>>> w.x.dims, w.x.shape
(('window', 'channel', 'sample'), (6, 9, 128))
>>> float(w.x.sel(channel="pelvis_acc_y").mean().round(3)), float(w.y.sel(target="cadence")[0])
(1.0, 120.0)
>>> in_g = imu.assign(imu_acc=imu.imu_acc.copy(data=acc / 9.81))     # units still say m/s^2
>>> make_windows(in_g, WindowSpec("imu"))   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
twin.errors.DataError: recording: imu_acc: the median magnitude of sensor 'pelvis' is 1 ... the data look like g...
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, check_param

__all__ = [
    "TARGETS",
    "TARGET_UNITS",
    "KEYPOINTS",
    "IMU_SENSORS",
    "IMU_CHANNELS",
    "WindowSpec",
    "make_windows",
    "windows_dataset",
    "concat_windows",
    "leg_length_from_markers",
    "leg_length_from_height",
    "labels_dict",
    "G",
    "GYRO_SCALE",
]

#: Gait parameters the estimators predict, and their units.
TARGETS = ("walking_speed", "cadence", "stride_length")
TARGET_UNITS = {"walking_speed": "m/s", "cadence": "steps/min", "stride_length": "m"}
#: Default keypoints (BODY_25 names): hips, knees, ankles -- every marker set and detector has them.
KEYPOINTS = ("LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")
#: Default IMU sensors (named after their segments, as twin.synth.imu_from_q names them).
IMU_SENSORS = ("pelvis", "tibia_r", "tibia_l")
#: Default IMU channels per sensor: the sagittal ones (the planar model moves in the x-y plane).
IMU_CHANNELS = ("acc_x", "acc_y", "gyro_z")
#: Standard gravity [m/s^2]: accelerations are divided by it.
G = 9.80665
#: Angular rates are divided by this [rad/s].
GYRO_SCALE = 4.0

_MODALITIES = ("keypoints", "imu")

#: BODY_25 name -> other layouts' names (COCO-17 / MediaPipe / OpenPose), for matching keypoints.
_KP_ALIASES = {
    "LHip": ("left_hip",), "RHip": ("right_hip",), "LKnee": ("left_knee",), "RKnee": ("right_knee",),
    "LAnkle": ("left_ankle",), "RAnkle": ("right_ankle",), "LHeel": ("left_heel",), "RHeel": ("right_heel",),
    "LBigToe": ("left_foot_index", "left_big_toe", "left_toe"), "RBigToe": ("right_foot_index", "right_big_toe",
                                                                            "right_toe"),
    "LSmallToe": ("left_small_toe",), "RSmallToe": ("right_small_toe",), "MidHip": ("mid_hip", "midhip"),
    "LShoulder": ("left_shoulder",), "RShoulder": ("right_shoulder",), "Neck": ("neck",),
}


# ============================================================================================ spec


@dataclass(frozen=True)
class WindowSpec:
    """How recordings become windows (see the module docstring).

    Parameters
    ----------
    modality : {"keypoints", "imu"}
    duration : float, default 2.56
        Window length [s].
    rate : float, default 50
        Sampling rate of the windows [Hz]; recordings are resampled to it.
    hop : float, default 0.64
        Step between window starts [s].
    keypoints : tuple of str, default :data:`KEYPOINTS`
        BODY_25 keypoint names (must include ``LHip``, ``RHip``; ``LKnee``,
        ``RKnee``, ``LAnkle``, ``RAnkle`` for ``scale="leg"``).
    sensors : tuple of str, default :data:`IMU_SENSORS`
    channels : tuple of str, default :data:`IMU_CHANNELS`
        ``acc_x`` ... ``gyro_z``.
    scale : {"leg", "image"}, default "leg"
        Keypoint scale: the leg length in pixels, or the image height.
    min_rate : float, default 20
        Lowest accepted input rate [Hz].
    max_missing : float, default 0.3
        Largest fraction of missing samples of any keypoint or IMU channel in a
        kept window (gaps are filled by linear interpolation).

    Examples
    --------
    >>> s = WindowSpec("keypoints", duration=1.6)
    >>> s.n_samples, s.channel_names[:3]
    (80, ('LHip_x', 'LHip_y', 'RHip_x'))
    >>> WindowSpec.from_dict(s.to_dict()) == s
    True
    """

    modality: str
    duration: float = 2.56
    rate: float = 50.0
    hop: float = 0.64
    keypoints: tuple[str, ...] = KEYPOINTS
    sensors: tuple[str, ...] = IMU_SENSORS
    channels: tuple[str, ...] = IMU_CHANNELS
    scale: str = "leg"
    min_rate: float = 20.0
    max_missing: float = 0.3

    def __post_init__(self) -> None:
        check_param("modality", self.modality, choices=_MODALITIES)
        check_param("duration", self.duration, minimum=0.2, maximum=60.0, types=(int, float))
        check_param("rate", self.rate, minimum=5.0, maximum=1000.0, types=(int, float))
        check_param("hop", self.hop, minimum=1e-3, types=(int, float))
        check_param("scale", self.scale, choices=("leg", "image"))
        check_param("min_rate", self.min_rate, minimum=1.0, types=(int, float))
        check_param("max_missing", self.max_missing, minimum=0.0, maximum=1.0, types=(int, float))
        object.__setattr__(self, "keypoints", tuple(str(k) for k in self.keypoints))
        object.__setattr__(self, "sensors", tuple(str(k) for k in self.sensors))
        object.__setattr__(self, "channels", tuple(str(k) for k in self.channels))
        if self.modality == "keypoints":
            need = {"LHip", "RHip"} | ({"LKnee", "RKnee", "LAnkle", "RAnkle"} if self.scale == "leg" else set())
            missing = sorted(need - set(self.keypoints))
            if missing:
                raise ParameterError(f"WindowSpec.keypoints must include {missing} (hips centre the frames; knees "
                                     "and ankles give the leg-length scale); got " + ", ".join(self.keypoints))
            unknown = [k for k in self.keypoints if k not in _KP_ALIASES]
            if unknown:
                raise ParameterError(f"WindowSpec.keypoints: unknown {unknown}; use BODY_25 names such as "
                                     + ", ".join(_KP_ALIASES))
        else:
            bad = [c for c in self.channels if c.split("_")[0] not in ("acc", "gyro") or
                   c.split("_")[-1] not in ("x", "y", "z") or c.count("_") != 1]
            if bad or not self.channels:
                raise ParameterError(f"WindowSpec.channels {list(self.channels)}: each must be acc_x, acc_y, "
                                     "acc_z, gyro_x, gyro_y or gyro_z")
            if not self.sensors:
                raise ParameterError("WindowSpec.sensors is empty; name at least one sensor (e.g. 'tibia_r')")
        if int(round(self.duration * self.rate)) < 8:
            raise ParameterError(f"a window of {self.duration} s at {self.rate} Hz has fewer than 8 samples")

    @property
    def n_samples(self) -> int:
        """Samples per window."""
        return int(round(self.duration * self.rate))

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names, in order."""
        if self.modality == "keypoints":
            return tuple(f"{k}_{a}" for k in self.keypoints for a in ("x", "y"))
        return tuple(f"{s}_{c}" for s in self.sensors for c in self.channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (:meth:`from_dict` inverts it)."""
        d = asdict(self)
        for k in ("keypoints", "sensors", "channels"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowSpec:
        """The spec of :meth:`to_dict` (or of a saved model's config)."""
        if not isinstance(d, Mapping) or "modality" not in d:
            raise ParameterError(f"not a window spec (a dict with 'modality', 'duration', ...): {d!r}")
        known = {f for f in cls.__dataclass_fields__}
        extra = sorted(set(d) - known)
        if extra:
            raise ParameterError(f"window spec has unknown field(s) {extra}; known: {sorted(known)}")
        kw = dict(d)
        for k in ("keypoints", "sensors", "channels"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def with_(self, **changes: Any) -> WindowSpec:
        """A copy with fields changed."""
        return replace(self, **changes)


# ============================================================================================ helpers


def leg_length_from_height(height: float) -> float:
    """Thigh + shank length [m] of a person of ``height`` [m]: 0.491 x height (Winter 2009, Table 4.1).

    Winter's segment lengths are 0.245 H (thigh: greater trochanter to
    femoral condyles) and 0.246 H (shank: condyles to medial malleolus).

    Examples
    --------
    >>> round(leg_length_from_height(1.75), 3)
    0.859
    """
    check_param("height", height, minimum=0.5, maximum=2.6, types=(int, float))
    return 0.491 * float(height)


def leg_length_from_markers(ds: xr.Dataset) -> float:
    """Thigh + shank length [m] from 3-D markers: median hip-knee plus knee-ankle distance, both legs averaged.

    Hip, knee and ankle are the 3-D points that 2-D keypoints are made from
    (:mod:`twin.synth.camera`: joint centres, epicondyles/malleoli, or
    Harrington hip centres from the pelvis markers), so real and virtual
    markers give the same definition.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m].

    Returns
    -------
    float

    Raises
    ------
    DataError
        No markers, not in m, or no hip/knee/ankle can be made from them.

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(3) * 0.01
    >>> m = np.zeros((3, 6, 3)); m[:, :, 2] = [0.1, 0.1, 0.1, -0.1, -0.1, -0.1]
    >>> m[:, :, 1] = [0.9, 0.5, 0.08, 0.9, 0.5, 0.08]
    >>> rec = schema.recording(t, markers=m, marker_names=["RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle"])
    >>> round(leg_length_from_markers(rec), 3)
    0.82
    """
    from ..synth.camera import _keypoints_3d

    if not isinstance(ds, xr.Dataset) or "markers" not in ds.data_vars:
        raise DataError("leg_length_from_markers needs a Recording with 'markers' (time, marker, axis) [m]")
    da = ds["markers"]
    if da.attrs.get("units", "m") != "m":
        raise DataError(f"'markers' has units {da.attrs.get('units')!r}; convert to m first")
    da = da.transpose(..., "time", "marker", "axis")
    xyz = np.asarray(da.values, float)
    xyz = xyz.reshape((-1,) + xyz.shape[-3:])  # (batch, time, marker, 3), as keypoints_2d passes them
    kp, _ = _keypoints_3d([str(m) for m in da["marker"].values], xyz)
    lengths = []
    for s in "LR":
        pts = [kp.get(f"{s}Hip"), kp.get(f"{s}Knee"), kp.get(f"{s}Ankle")]
        if any(p is None for p in pts):
            continue
        seg = np.linalg.norm(pts[0] - pts[1], axis=-1) + np.linalg.norm(pts[1] - pts[2], axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lengths.append(float(np.nanmedian(seg)))
    lengths = [v for v in lengths if np.isfinite(v)]
    if not lengths:
        raise DataError("no hip, knee and ankle of one leg can be made from the markers "
                        f"({', '.join(map(str, da['marker'].values[:12]))} ...); pass leg_length= yourself")
    return float(np.mean(lengths))


def labels_dict(labels: Any) -> dict[str, float]:
    """``{target: value}`` from a dict, a labels Dataset (:func:`twin.synth.gait_labels`; the ``overall`` side) or None."""
    out = {k: float("nan") for k in TARGETS}
    if labels is None:
        return out
    if isinstance(labels, xr.Dataset):
        for k in TARGETS:
            if k in labels:
                v = labels[k]
                if "side" in v.dims:
                    v = v.sel(side="overall")
                out[k] = float(v)
        return out
    if isinstance(labels, Mapping):
        unknown = [k for k in labels if k not in TARGETS]
        if unknown:
            raise ParameterError(f"labels: unknown target(s) {unknown}; targets are {list(TARGETS)}")
        for k, v in labels.items():
            out[k] = float(v)
        return out
    raise ParameterError(f"labels must be a dict {{target: value}}, a labels Dataset or None, not {type(labels).__name__}")


def _time(ds: xr.Dataset, spec: WindowSpec, what: str) -> tuple[np.ndarray, float]:
    if "time" not in ds.coords:
        raise DataError(f"{what}: no 'time' coordinate")
    t = np.asarray(ds["time"].values, float)
    if t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise DataError(f"{what}: 'time' must have at least 2 finite, strictly increasing samples")
    units = ds["time"].attrs.get("units", "s")
    if units != "s":
        raise DataError(f"{what}: 'time' is in {units!r}; convert it to seconds")
    rate = 1.0 / float(np.median(np.diff(t)))
    if rate < spec.min_rate:
        raise DataError(f"{what}: sampled at {rate:.3g} Hz, below the {spec.min_rate:g} Hz needed for gait "
                        f"(steps last ~0.5 s); record at {spec.min_rate:g} Hz or more")
    span = t[-1] - t[0] + 1.0 / rate
    if span + 1e-9 < spec.duration:
        raise DataError(f"{what}: the recording lasts {span:.2f} s, shorter than one {spec.duration:g} s window; "
                        "record longer or use a shorter WindowSpec(duration=...)")
    return t, rate


def _fill(x: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaN along axis 0 (edges: nearest); all-NaN columns stay NaN."""
    x = np.array(x, float)
    flat = x.reshape(x.shape[0], -1)
    idx = np.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if ok.all() or not ok.any():
            continue
        flat[:, j] = np.interp(idx, idx[ok], col[ok])
    return flat.reshape(x.shape)


def _resample(t: np.ndarray, x: np.ndarray, rate_in: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """x (T, ...) at times t -> uniform ``rate`` grid from t[0]; low-passed first when decimating."""
    from ..synth.sensors import lowpass

    n = int(math.floor((t[-1] - t[0]) * rate + 1e-9)) + 1
    grid = t[0] + np.arange(n) / rate
    flat = x.reshape(x.shape[0], -1)
    finite = np.isfinite(flat)
    if rate_in > 1.25 * rate and flat.shape[0] > 12:
        filled = _fill(flat)
        ok = np.isfinite(filled).all(axis=0)
        if ok.any():
            filled[:, ok] = lowpass(filled[:, ok], rate_in, 0.4 * rate)
        flat = np.where(finite, filled, np.nan)
    out = np.empty((n, flat.shape[1]))
    for j in range(flat.shape[1]):
        ok = finite[:, j]
        if ok.sum() < 2:
            out[:, j] = np.nan
            continue
        out[:, j] = np.interp(grid, t[ok], flat[ok, j])
        # samples farther than 1.5 input frames from any valid sample are missing
        near = np.interp(grid, t, ok.astype(float))
        out[near < 0.5, j] = np.nan
    return grid, out.reshape((n,) + x.shape[1:])


def _starts(n: int, spec: WindowSpec) -> list[int]:
    m = spec.n_samples
    hop = max(1, int(round(spec.hop * spec.rate)))
    return list(range(0, n - m + 1, hop))


# ============================================================================================ keypoints


def _keypoint_index(names: list[str], want: Sequence[str]) -> dict[str, int]:
    lower = {n.lower(): i for i, n in enumerate(names)}
    out = {}
    for k in want:
        for cand in (k,) + _KP_ALIASES.get(k, ()):
            if cand in names:
                out[k] = names.index(cand)
                break
            if cand.lower() in lower:
                out[k] = lower[cand.lower()]
                break
    return out


def _keypoint_array(ds: xr.Dataset, spec: WindowSpec, camera: Any) -> tuple[np.ndarray, float, str]:
    if "keypoints" not in ds.data_vars:
        raise DataError(f"no 'keypoints' variable (the Dataset holds {sorted(map(str, ds.data_vars))}); read a "
                        "detector's output with twin.io.read_keypoints or make them with twin.synth.keypoints_2d")
    da = ds["keypoints"]
    want = {"time", "camera", "keypoint", "uv"}
    if set(da.dims) == {"time", "keypoint", "uv"}:
        da = da.expand_dims(camera=["camera"])
    elif set(da.dims) != want:
        extra = "; select one batch member first (ds.isel(batch=k))" if "batch" in da.dims else ""
        raise DataError(f"'keypoints' has dims {da.dims}; expected (time, camera, keypoint, uv){extra}")
    if da.sizes["uv"] != 2:
        raise DataError(f"'keypoints' has {da.sizes['uv']} entries on 'uv'; expected 2 (u, v)")
    units = da.attrs.get("units", "px")
    if units != "px":
        raise DataError(f"'keypoints' has units {units!r}; expected 'px' (pixel coordinates, v down)")
    cams = [str(c) for c in da["camera"].values] if "camera" in da.coords else list(map(str, range(da.sizes["camera"])))
    if camera is None:
        ci = 0
    elif isinstance(camera, str):
        if camera not in cams:
            raise DataError(f"camera={camera!r} is not in the keypoints; cameras: {cams}")
        ci = cams.index(camera)
    else:
        ci = int(camera)
        if not 0 <= ci < len(cams):
            raise DataError(f"camera={camera!r} out of range; {len(cams)} camera(s): {cams}")
    da = da.isel(camera=ci).transpose("time", "keypoint", "uv")
    names = [str(k) for k in da["keypoint"].values]
    idx = _keypoint_index(names, spec.keypoints)
    missing = [k for k in spec.keypoints if k not in idx]
    if missing:
        raise DataError(f"keypoint(s) {missing} not found among {names[:25]}; the window spec needs "
                        f"{list(spec.keypoints)} (BODY_25, COCO or MediaPipe names)")
    xy = np.asarray(da.values, float)[:, [idx[k] for k in spec.keypoints], :]
    if "keypoint_score" in ds.data_vars and set(ds["keypoint_score"].dims) >= {"time", "keypoint"}:
        sc = ds["keypoint_score"]
        if "camera" in sc.dims:
            sc = sc.isel(camera=ci)
        sc = np.asarray(sc.transpose("time", "keypoint").values, float)[:, [idx[k] for k in spec.keypoints]]
        xy = np.where((sc > 0.05)[..., None] | ~np.isfinite(sc)[..., None], xy, np.nan)
    height = float("nan")
    if "image_height" in ds.coords:
        h = np.asarray(ds["image_height"].values, float).ravel()
        height = float(h[min(ci, h.size - 1)])
    return xy, height, cams[ci]


def _keypoint_windows(ds: xr.Dataset, spec: WindowSpec, camera: Any, what: str):
    xy, image_h, cam = _keypoint_array(ds, spec, camera)
    t, rate_in = _time(ds, spec, what)
    finite = np.isfinite(xy).all(-1)
    if not finite.any(axis=0).all():
        never = [k for k, ok in zip(spec.keypoints, finite.any(axis=0)) if not ok]
        raise DataError(f"{what}: keypoint(s) {never} are never detected (all NaN); use a WindowSpec without them")
    grid, res = _resample(t, xy, rate_in, spec.rate)  # (n, K, 2)
    res[..., 1] = -res[..., 1]  # v down -> y up
    k = {name: i for i, name in enumerate(spec.keypoints)}
    m = spec.n_samples
    wins, starts, dropped = [], [], 0
    for s in _starts(grid.size, spec):
        w = res[s:s + m]
        miss = (~np.isfinite(w).all(-1)).mean(axis=0)
        if miss.max() > spec.max_missing:
            dropped += 1
            continue
        w = _fill(w)
        hip = 0.5 * (w[:, k["LHip"]] + w[:, k["RHip"]])
        rel = w - hip[:, None, :]
        if spec.scale == "leg":
            legs = []
            for side in "LR":
                a = np.linalg.norm(w[:, k[f"{side}Hip"]] - w[:, k[f"{side}Knee"]], axis=-1)
                b = np.linalg.norm(w[:, k[f"{side}Knee"]] - w[:, k[f"{side}Ankle"]], axis=-1)
                legs.append(np.median(a + b))
            scale = float(np.mean(legs))
        else:
            scale = image_h
        if not np.isfinite(scale) or scale <= 1e-6:
            raise DataError(f"{what}: the keypoint scale is {scale!r} px (spec.scale={spec.scale!r}); the legs "
                            "collapse to a point or the image height is unknown -- check the keypoints")
        rel = rel / scale
        # walking direction: the hip's travel, else the skewness of the ankles' velocity relative to the hip
        travel = (hip[-1, 0] - hip[0, 0]) / scale
        if abs(travel) > 0.3:
            sign = 1.0 if travel > 0 else -1.0
        else:
            ank = [rel[:, k[n], 0] for n in ("LAnkle", "RAnkle") if n in k] or [rel[:, k["LKnee"], 0]]
            v = np.concatenate([np.diff(a) for a in ank])
            sign = 1.0 if np.mean(v ** 3) >= 0 else -1.0
        rel[..., 0] *= sign
        wins.append(rel.reshape(m, -1).T)  # (channel = K*2 in (k, xy) order, sample)
        starts.append(grid[s])
    return wins, starts, dropped, f"keypoints of camera {cam!r}"


# ============================================================================================ IMU


def _imu_windows(ds: xr.Dataset, spec: WindowSpec, what: str):
    kinds = sorted({c.split("_")[0] for c in spec.channels})
    arrays = {}
    for kind in kinds:
        var = f"imu_{kind}"
        if var not in ds.data_vars:
            raise DataError(f"{what}: no {var!r} variable (the Dataset holds {sorted(map(str, ds.data_vars))}); "
                            "read an IMU export with twin.io.read_imu_csv or make one with twin.synth.imu_from_q")
        da = ds[var]
        if set(da.dims) != {"time", "sensor", "axis"}:
            extra = "; select one batch member first (ds.isel(batch=k))" if "batch" in da.dims else ""
            raise DataError(f"{what}: {var!r} has dims {da.dims}; expected (time, sensor, axis){extra}")
        units = str(da.attrs.get("units", ""))
        expected = "m/s^2" if kind == "acc" else "rad/s"
        if units != expected:
            fix = ("multiply by 9.80665 (g -> m/s^2)" if units in ("g", "G") else
                   "multiply by 0.00980665 (mg -> m/s^2)" if units == "mg" else
                   "multiply by pi/180 (deg/s -> rad/s)" if "deg" in units or units == "dps" else
                   f"convert to {expected}")
            raise DataError(f"{what}: {var!r} is in {units!r}, expected {expected!r}; {fix} and set "
                            f"{var}.attrs['units'] = {expected!r}")
        sensors = [str(s) for s in da["sensor"].values]
        missing = [s for s in spec.sensors if s not in sensors]
        if missing:
            raise DataError(f"{what}: sensor(s) {missing} not in {var!r} (it has {sensors}); rename them, e.g. "
                            "ds.assign_coords(sensor=[...]), or use a WindowSpec(sensors=...) that matches")
        axes = [str(a) for a in da["axis"].values]
        if sorted(axes) != ["x", "y", "z"]:
            raise DataError(f"{what}: {var!r} axis coordinate is {axes}; expected x, y, z")
        arr = np.asarray(da.transpose("time", "sensor", "axis").sel(sensor=list(spec.sensors),
                                                                     axis=["x", "y", "z"]).values, float)
        mag = np.linalg.norm(arr, axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(mag, axis=0)
            p99 = np.nanpercentile(mag, 99, axis=0)
        for s, m, p in zip(spec.sensors, med, p99):
            if not np.isfinite(m):
                raise DataError(f"{what}: {var!r} of sensor {s!r} is all NaN")
            if kind == "acc":
                if 0.5 <= m <= 2.0:
                    raise DataError(f"{what}: imu_acc: the median magnitude of sensor {s!r} is {m:.3g} but its "
                                    f"units say m/s^2; gravity alone gives 9.81 m/s^2 -- the data look like g "
                                    f"(gravity ~ 1): multiply by 9.80665")
                if 500 <= m <= 2000:
                    raise DataError(f"{what}: imu_acc: the median magnitude of sensor {s!r} is {m:.4g}: the data "
                                    "look like mg (gravity ~ 1000), not m/s^2: multiply by 0.00980665")
                if not 4.0 <= m <= 25.0:
                    raise DataError(f"{what}: imu_acc: the median magnitude of sensor {s!r} is {m:.3g} m/s^2; an "
                                    "accelerometer on a walking person reads about 9.81 (gravity): check units and "
                                    "that gravity was not removed (use raw specific force, not 'free' acceleration)")
            elif p > 25.0:
                raise DataError(f"{what}: imu_gyro: the 99th percentile of sensor {s!r}'s angular rate is {p:.3g} "
                                "rad/s, beyond human segment rates (< 20 rad/s): the data look like deg/s -- "
                                "multiply by pi/180")
        arrays[kind] = arr
    t, rate_in = _time(ds, spec, what)
    cols = []
    for s_i, _s in enumerate(spec.sensors):
        for c in spec.channels:
            kind, ax = c.split("_")
            scale = G if kind == "acc" else GYRO_SCALE
            cols.append(arrays[kind][:, s_i, "xyz".index(ax)] / scale)
    sig = np.stack(cols, axis=1)  # (T, C)
    grid, res = _resample(t, sig, rate_in, spec.rate)
    m = spec.n_samples
    wins, starts, dropped = [], [], 0
    for s in _starts(grid.size, spec):
        w = res[s:s + m]
        if (~np.isfinite(w)).mean(axis=0).max() > spec.max_missing:
            dropped += 1
            continue
        wins.append(_fill(w).T)
        starts.append(grid[s])
    return wins, starts, dropped, "IMU " + ", ".join(spec.sensors)


# ============================================================================================ public


def windows_dataset(x: np.ndarray, spec: WindowSpec, *, leg_length: Any = np.nan, y: Any = None,
                    group: Any = "", t0: Any = 0.0, source: str = "", history: str = "") -> xr.Dataset:
    """A windows Dataset (see the module docstring) from arrays.

    Parameters
    ----------
    x : array (window, channel, sample)
        Normalised signals, channels in ``spec.channel_names`` order.
    spec : WindowSpec
    leg_length : float or array (window,)
    y : array (window, len(TARGETS)), optional
        Labels in :data:`TARGETS` order (NaN: unknown).
    group, t0 : scalar or array (window,)
    source, history : str

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np
    >>> w = windows_dataset(np.zeros((2, 9, 128)), WindowSpec("imu"), leg_length=0.9, group=["a", "b"])
    >>> w.sizes["window"], w.group.values.tolist(), float(w.y.isnull().all())
    (2, ['a', 'b'], 1.0)
    """
    if not isinstance(spec, WindowSpec):
        raise ParameterError(f"spec must be a WindowSpec, not {type(spec).__name__}")
    x = np.asarray(x, np.float32)
    names = spec.channel_names
    if x.ndim != 3 or x.shape[1] != len(names) or x.shape[2] != spec.n_samples:
        raise DataError(f"x has shape {x.shape}; expected (window, {len(names)} channels, {spec.n_samples} samples) "
                        f"for this {spec.modality} window spec")
    n = x.shape[0]
    yy = np.full((n, len(TARGETS)), np.nan) if y is None else np.asarray(y, float).reshape(n, len(TARGETS))
    ll = np.broadcast_to(np.asarray(leg_length, float), (n,)).copy()
    grp = np.broadcast_to(np.asarray(group, dtype=object).astype(str), (n,)).copy()
    tt = np.broadcast_to(np.asarray(t0, float), (n,)).copy()
    ds = xr.Dataset(
        {"x": (("window", "channel", "sample"), x, {"units": "1", "long_name": f"normalised {spec.modality} signals"}),
         "leg_length": ("window", ll, {"units": "m", "long_name": "thigh + shank length"}),
         "y": (("window", "target"), yy, {"units": ", ".join(f"{k}: {TARGET_UNITS[k]}" for k in TARGETS),
                                          "long_name": "gait parameters (labels)"})},
        coords={"channel": list(names), "target": list(TARGETS), "group": ("window", grp),
                "t0": ("window", tt, {"units": "s", "long_name": "window start in its recording"}),
                "sample": ("sample", np.arange(spec.n_samples) / spec.rate, {"units": "s"})},
        attrs={"kind": "windows", "window_spec": json.dumps(spec.to_dict()), "source": source, "history": history},
    )
    return ds


def make_windows(
    ds: xr.Dataset,
    spec: WindowSpec,
    *,
    leg_length: float | None = None,
    labels: Any = None,
    group: str | None = None,
    camera: int | str | None = None,
) -> xr.Dataset:
    """Cut a sensor Recording into normalised windows (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        Keypoints (``spec.modality == "keypoints"``) or IMU recording of one
        trial (no ``batch`` dim).
    spec : WindowSpec
    leg_length : float, optional
        Thigh + shank length [m] (:func:`leg_length_from_markers`,
        :func:`leg_length_from_height`); default ``ds.attrs["leg_length"]``
        if present, else NaN (models need it: they raise at prediction).
    labels : dict or labels Dataset, optional
        The trial's gait parameters (:data:`TARGETS`); every window gets them.
    group : str, optional
        Trial id (default ``ds.attrs["source"]``).
    camera : int or str, optional
        Keypoints: which camera (default the first).

    Returns
    -------
    xarray.Dataset
        Windows (at least one).

    Raises
    ------
    DataError
        Wrong variables/dims/units/rate, too short, or every window dropped
        for missing data.
    ParameterError
        Bad spec or options.
    """
    if not isinstance(ds, xr.Dataset):
        raise ParameterError(f"ds must be an xarray.Dataset, not {type(ds).__name__}")
    if not isinstance(spec, WindowSpec):
        raise ParameterError(f"spec must be a WindowSpec (e.g. WindowSpec('keypoints')), not {type(spec).__name__}")
    src = str(ds.attrs.get("source", ""))
    what = src.rsplit("/", 1)[-1] or "recording"
    if spec.modality == "keypoints":
        wins, starts, dropped, desc = _keypoint_windows(ds, spec, camera, what)
    else:
        if camera is not None:
            raise ParameterError("camera= is for keypoint windows only")
        wins, starts, dropped, desc = _imu_windows(ds, spec, what)
    if not wins:
        raise DataError(f"{what}: every one of the {dropped} window(s) has more than {spec.max_missing:.0%} of a "
                        "channel missing; fill gaps or raise WindowSpec(max_missing=...)")
    if leg_length is None:
        leg_length = float(ds.attrs.get("leg_length", np.nan))
    else:
        check_param("leg_length", leg_length, minimum=0.2, maximum=1.5, types=(int, float, np.floating))
    y = np.array([labels_dict(labels)[k] for k in TARGETS])
    hist = (f"{len(wins)} window(s) of {spec.duration:g} s at {spec.rate:g} Hz (hop {spec.hop:g} s) from {desc}"
            + (f"; {dropped} dropped (missing data)" if dropped else ""))
    return windows_dataset(np.stack(wins), spec, leg_length=float(leg_length), y=np.tile(y, (len(wins), 1)),
                           group=group if group is not None else src, t0=np.asarray(starts), source=src,
                           history=hist)


def concat_windows(items: Sequence[xr.Dataset]) -> xr.Dataset:
    """Concatenate windows Datasets of one spec along ``window``.

    Raises
    ------
    DataError
        Empty list, or different window specs.
    """
    items = [w for w in items if w is not None]
    if not items:
        raise DataError("concat_windows: nothing to concatenate")
    specs = {w.attrs.get("window_spec") for w in items}
    if len(specs) != 1:
        raise DataError("concat_windows: the windows have different window specs; make them with one WindowSpec")
    out = xr.concat(items, dim="window", combine_attrs="drop_conflicts")
    out.attrs.update(kind="windows", window_spec=items[0].attrs["window_spec"],
                     source=";".join(sorted({str(w.attrs.get("source", "")) for w in items}))[:2000])
    return out


def spec_of(windows: xr.Dataset) -> WindowSpec:
    """The :class:`WindowSpec` of a windows Dataset."""
    if not isinstance(windows, xr.Dataset) or windows.attrs.get("kind") != "windows" or "x" not in windows:
        raise DataError("not a windows Dataset (make one with twin.learn.make_windows or windows_dataset)")
    return WindowSpec.from_dict(json.loads(windows.attrs["window_spec"]))
