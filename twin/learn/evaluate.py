"""Evaluation on real recordings the models never saw: trials, ground truth, virtual real sensors, baselines.

Real trials (:data:`REAL_TRIALS`, files under ``TWIN_DATA_DIR``) are the
walking recordings of the reference data: markers (or 3-D landmarks) with
force plates where the files have them. For each, :func:`load_real_trials`
gives

* the markers, turned about the vertical so that walking goes along +X
  (:func:`twin.gait.align_progression`);
* **ground truth** speed, cadence and stride length: events from the force
  plates (:func:`twin.gait.events_from_force`) when they give a complete
  stride, else from the markers (:func:`twin.gait.detect_events`, hybrid
  kinematic method), then :func:`twin.gait.spatiotemporal` (``overall``);
* the leg length (:func:`twin.learn.data.leg_length_from_markers`).

A trial whose walking markers lack the knee and ankle landmarks (subject01:
only thigh and shank clusters) gets them from its static trial
(:data:`STATIC_CALIBRATION`, :func:`landmarks_from_static`): each landmark
is fixed in the frame of its segment's three-marker cluster in the static
trial and carried by that cluster while walking (calibrated anatomical
systems, Cappozzo et al. 1995, Clin Biomech 10:171).

Real sensors are derived from the real markers, never from a model:

* :func:`real_keypoints` -- 2-D keypoints seen by a fixed sagittal camera
  on the walker's right (:func:`twin.synth.keypoints_2d`, BODY_25), 1.0 m
  high, far enough to see the whole walk with a 60 deg lens; the OpenCap
  trial's markers *are* video keypoints (triangulated from phone videos);
* :func:`real_imu` -- IMUs on the pelvis and both shanks from the markers
  (:func:`twin.synth.imu_from_markers`, 6 Hz low-pass): shank frames with y
  from ankle to knee and z towards the walker's right, pelvis frames from
  the ASIS and sacrum/PSIS markers (else the hips, level). Where a frame's
  marker is missing for more than 0.1 s (several trials lose the ankle
  markers for half their length outside the capture volume) the IMUs read
  NaN, and windows keep only what is data (``WindowSpec.max_missing``).

Scores (:func:`score`) are per trial: the windows' predictions are averaged
over each trial, then the mean absolute error and Pearson correlation over
trials, per target.

Baselines
---------
:func:`heuristic_predict` -- no learning: the stride period is the
autocorrelation period (0.6-2.0 s) of the horizontal distance between the
ankles (keypoints) or of the difference of the two shank angular rates
(IMU); cadence = 120 / period; stride length from Alexander's (1976)
dynamic-similarity relation ``lambda / h = 2.3 (v^2 / (g h))^0.3`` with
``v = lambda f`` solved for ``lambda`` (``h`` hip height = 1.08 x leg length,
Winter's 0.530 H / 0.491 H); speed = stride x cadence / 120.
:func:`leave_one_trial_out` -- the same estimator trained on the real trials
(all but one, in turn). :func:`ssl_experiment` -- fine-tuning on a small
fraction of the real trials, with and without synthetic pretraining.

Examples
--------
>>> round(alexander_stride(0.9, 110.0), 3)       # [m] at 110 steps/min
1.209
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, TwinError, check_param
from .data import TARGETS, WindowSpec, concat_windows, leg_length_from_markers, make_windows, spec_of

__all__ = ["REAL_TRIALS", "STATIC_CALIBRATION", "RealTrial", "load_real_trials", "landmarks_from_static",
           "joint_markers", "real_keypoints", "real_imu", "real_windows",
           "heuristic_predict", "alexander_stride", "score", "leave_one_trial_out", "ssl_experiment", "REAL_SUBJECTS",
           "EVAL_DURATION"]

#: Window length used on the real trials [s] (they last 1.7-5 s).
EVAL_DURATION = 1.6

_G10 = "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/"
_OC = "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/MarkerData/walk.trc"
_GK = "pypi-packages/gaitkit-1.5.0/"
#: trial id -> (files relative to TWIN_DATA_DIR: markers [, forces]), description
REAL_TRIALS: dict[str, tuple[tuple[str, ...], str]] = {
    "subject01_walk": ((_G10 + "subject01_walk.trc", _G10 + "subject01_walk_grf.mot"),
                       "OpenSim Gait10dof18musc subject01, 60 Hz markers + force plates"),
    "bmclab_walk1": (("BMClab-BMC/data/walk1.trc", "BMClab-BMC/data/walk1.forces"), "BMClab overground walk 1"),
    "bmclab_walk2": (("BMClab-BMC/data/walk2.trc", "BMClab-BMC/data/walk2.forces"), "BMClab overground walk 2"),
    "bmclab_gait_c3d": (("BMClab-BMC/data/Gait.c3d",), "BMClab Plug-in-Gait C3D"),
    "kineticstoolkit_walk": (("kineticstoolkit/data/walk.c3d",), "kineticstoolkit Vicon C3D, 4 plates"),
    "opensim_walking2": (("opensim-core/OpenSim/Tests/shared/walking2.c3d",), "OpenSim test C3D walking2"),
    "opensim_walking5": (("opensim-core/OpenSim/Tests/shared/walking5.c3d",), "OpenSim test C3D walking5"),
    "opensim_test_walking": (("opensim-core/OpenSim/Sandbox/MatlabScripts/test_walking.c3d",),
                             "OpenSim sandbox C3D test_walking"),
    "rajagopal_walk": (("opensim-models/Pipelines/Rajagopal/ExpData/motion_capture_walk.trc",
                        "opensim-models/Pipelines/Rajagopal/ExpData/grf_walk.mot"), "Rajagopal 2016 walking"),
    "opencap_walk": ((_OC,), "OpenCap smartphone-video markers (no force plates)"),
    "gaitkit_healthy": ((_GK + "example_healthy.json",), "gaitkit/Fukuchi healthy adult, 3-D landmarks"),
    "gaitkit_parkinson": ((_GK + "example_parkinson.json",), "gaitkit Parkinson's disease, 3-D landmarks"),
    "gaitkit_stroke": ((_GK + "example_stroke.json",), "gaitkit stroke, 3-D landmarks"),
}

#: trial id -> person, for the trials known to share one: :func:`leave_one_trial_out` with
#: ``subjects=REAL_SUBJECTS`` holds a person's trials out together. opensim_walking2, opensim_walking5 and
#: opensim_test_walking have the same segment lengths from their markers to the millimetre (thigh 0.453-0.455
#: / 0.446-0.449 m, shank 0.407-0.409 / 0.407 m, hip-joint distance 0.1882 m in all three) and the same lab;
#: bmclab_walk2 and bmclab_gait_c3d may be one person too (leg 0.802 m both) but their marker sets differ, so
#: they are not grouped. Trials not listed are each their own person.
REAL_SUBJECTS: dict[str, str] = {"opensim_walking2": "opensim_c3d", "opensim_walking5": "opensim_c3d",
                                 "opensim_test_walking": "opensim_c3d"}

_THIGH = {s: (f"{s}.Thigh.Upper", f"{s}.Thigh.Front", f"{s}.Thigh.Rear") for s in "RL"}
_SHANK = {s: (f"{s}.Shank.Upper", f"{s}.Shank.Front", f"{s}.Shank.Rear") for s in "RL"}
#: trial id -> (static trial relative to TWIN_DATA_DIR, {landmark: its segment's three cluster markers}):
#: landmarks the walking trial lacks, carried by the cluster (:func:`landmarks_from_static`)
STATIC_CALIBRATION: dict[str, tuple[str, dict[str, tuple[str, str, str]]]] = {
    "subject01_walk": (_G10 + "subject01_static.trc",
                       {f"{s}.{j}.{m}": (_THIGH if j == "Knee" else _SHANK)[s]
                        for s in "RL" for j in ("Knee", "Ankle") for m in ("Lat", "Med")}),
}

_LANDMARK_NAMES = {"left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee",
                   "left_ankle": "LAnkle", "right_ankle": "RAnkle", "left_heel": "LHeel", "right_heel": "RHeel",
                   "left_toe": "LBigToe", "right_toe": "RBigToe"}


@dataclass
class RealTrial:
    """One real walking trial (see the module docstring).

    Attributes
    ----------
    id : str
    markers : xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m], walking along +X.
    labels : dict
        Ground truth ``walking_speed`` [m/s], ``cadence`` [steps/min], ``stride_length`` [m].
    leg_length : float
        [m]
    events : str
        How the events were found (``force`` or ``kinematics:...``).
    description : str
    n_strides : int
    """

    id: str
    markers: xr.Dataset
    labels: dict
    leg_length: float
    events: str
    description: str = ""
    n_strides: int = 0
    notes: list = field(default_factory=list)


def _data_dir(data_dir: Any) -> Path:
    root = Path(data_dir) if data_dir is not None else (
        Path(os.environ["TWIN_DATA_DIR"]) if os.environ.get("TWIN_DATA_DIR") else None)
    if root is None or not root.is_dir():
        raise DataError(f"no reference data folder (data_dir={data_dir!r}, TWIN_DATA_DIR="
                        f"{os.environ.get('TWIN_DATA_DIR')!r}); point TWIN_DATA_DIR at a copy of the data")
    return root


def _as_markers(ds: xr.Dataset) -> xr.Dataset:
    from .. import schema

    if "markers" in ds.data_vars:
        out = ds[["markers"]].copy()
        out.attrs = dict(ds.attrs)
        return out
    if "landmarks" in ds.data_vars:
        da = ds["landmarks"].transpose("time", "landmark", "axis")
        names = [_LANDMARK_NAMES.get(str(n), str(n)) for n in da["landmark"].values]
        out = schema.recording(np.asarray(ds["time"].values, float), markers=np.asarray(da.values, float),
                               marker_names=names, source=str(ds.attrs.get("source", "")),
                               history="3-D landmarks renamed as BODY_25 keypoint markers")
        return out
    raise DataError(f"no markers or landmarks (the file holds {sorted(map(str, ds.data_vars))})")


def landmarks_from_static(markers: xr.Dataset, static: xr.Dataset,
                          clusters: dict[str, tuple[str, str, str]]) -> xr.Dataset:
    """Add landmarks seen only in a static trial to a moving trial, carried by rigid three-marker clusters.

    Each landmark's position in its cluster's frame (origin at the first
    marker, x towards the second, y towards the third) is averaged over the
    static trial's frames, then placed by the cluster in every frame of
    ``markers`` (NaN where a cluster marker is missing). Landmarks the
    moving trial already has are kept as they are.

    Parameters
    ----------
    markers, static : xarray.Dataset
        Recordings with ``markers(time, marker, axis)`` in the same units.
    clusters : dict
        ``{landmark: (marker, marker, marker)}``, the three markers on the
        landmark's segment.

    Returns
    -------
    xarray.Dataset
        ``markers`` with the landmarks added.

    Raises
    ------
    DataError
        A landmark missing from ``static``, a cluster marker missing from
        either trial, or a static cluster never seen whole.

    Examples
    --------
    >>> from twin import schema
    >>> t = np.arange(3) * 0.1
    >>> tri = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]], float)
    >>> still = schema.recording(t, markers=np.tile(np.vstack([tri, [[0.05, 0.05, 0.2]]]), (3, 1, 1)),
    ...                          marker_names=["A", "B", "C", "KNEE"])
    >>> moving = schema.recording(t, markers=tri[None] + np.array([[[0.0, 0, 0]], [[0.5, 0, 0]], [[1.0, 0, 0]]]),
    ...                           marker_names=["A", "B", "C"])
    >>> out = landmarks_from_static(moving, still, {"KNEE": ("A", "B", "C")})
    >>> out.markers.sel(marker="KNEE", axis="x").values.round(3).tolist()
    [0.05, 0.55, 1.05]
    """
    from ..synth.sensors import _frame  # the sensor frames' Gram-Schmidt: x to the second marker, y towards the third

    dyn = markers["markers"].transpose("time", "marker", "axis")
    sta = static["markers"].transpose("time", "marker", "axis")
    if dyn.attrs.get("units") != sta.attrs.get("units"):
        raise DataError(f"the static trial's markers are in {sta.attrs.get('units')!r}, the moving trial's in "
                        f"{dyn.attrs.get('units')!r}; convert one of them")
    dyn_names = [str(n) for n in dyn["marker"].values]
    sta_names = [str(n) for n in sta["marker"].values]
    added, values = [], []
    for landmark, cluster in clusters.items():
        if landmark in dyn_names:
            continue
        missing = [n for n in (landmark, *cluster) if n not in sta_names] + \
                  [n for n in cluster if n not in dyn_names]
        if missing:
            raise DataError(f"landmark {landmark!r} from the static trial: marker(s) {sorted(set(missing))} missing "
                            "(the landmark must be in the static trial, its cluster in both)")
        frame = {"x": (cluster[0], cluster[1]), "y": (cluster[0], cluster[2]), "origin": cluster[0]}
        r_s, o_s = _frame(frame, lambda n: np.asarray(sta.sel(marker=n).values, float))
        p_s = np.asarray(sta.sel(marker=landmark).values, float)
        local = np.einsum("tji,tj->ti", r_s, p_s - o_s)
        ok = np.isfinite(local).all(axis=1)
        if not ok.any():
            raise DataError(f"landmark {landmark!r}: the static trial never sees it and its cluster "
                            f"{list(cluster)} together")
        r_d, o_d = _frame(frame, lambda n: np.asarray(dyn.sel(marker=n).values, float))
        values.append(o_d + np.einsum("tij,j->ti", r_d, local[ok].mean(axis=0)))
        added.append(landmark)
    if not added:
        return markers
    new = xr.DataArray(np.stack(values, axis=1), dims=("time", "marker", "axis"),
                       coords={"time": dyn["time"], "marker": added, "axis": dyn["axis"]})
    out = markers.drop_dims("marker")  # the marker coordinate grows (other per-marker variables are dropped)
    out["markers"] = xr.concat([dyn, new], dim="marker").assign_attrs(dyn.attrs)
    out.attrs["history"] = (str(out.attrs.get("history", "")) + "\n" if out.attrs.get("history") else "") + \
        f"{', '.join(added)} from the static trial, carried by their segments' marker clusters"
    return out


def _ground_truth(markers: xr.Dataset, forces: xr.Dataset | None) -> tuple[dict, str, int]:
    from ..gait import detect_events, events_from_force, spatiotemporal

    tries = []
    if forces is not None and "grf" in forces.data_vars:
        tries.append(("force", lambda: events_from_force(forces, positions=markers if forces is not markers
                                                         else None)))
    tries.append(("kinematics", lambda: detect_events(markers, method="kinematics")))
    reasons = []
    for name, fn in tries:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ev = fn()
                st = spatiotemporal(markers, ev)
            o = st.sel(side="overall")
            lab = {k: float(o[k]) for k in TARGETS}
            if not all(np.isfinite(v) for v in lab.values()):
                raise DataError(f"non-finite parameters {lab}")
            return lab, (name if name == "force" else str(ev.attrs.get("method", "kinematics"))), \
                int(st["n_strides"].sel(side="overall"))
        except TwinError as err:
            reasons.append(f"{name}: {err}")
    raise DataError("no ground truth: " + "; ".join(reasons))


def load_real_trials(data_dir: str | os.PathLike | None = None, *,
                     trials: Sequence[str] | None = None) -> tuple[list[RealTrial], dict[str, str]]:
    """Read the real trials with ground truth (see the module docstring).

    Parameters
    ----------
    data_dir : path-like, optional
        Default ``$TWIN_DATA_DIR``.
    trials : sequence of str, optional
        Subset of :data:`REAL_TRIALS`.

    Returns
    -------
    trials : list of RealTrial
    skipped : dict
        Trial id -> why it was left out (missing file, no ground truth...).

    Raises
    ------
    DataError
        No data folder.
    ParameterError
        Unknown trial ids.
    """
    from ..gait import align_progression
    from ..io import read

    root = _data_dir(data_dir)
    names = list(REAL_TRIALS) if trials is None else list(trials)
    unknown = [n for n in names if n not in REAL_TRIALS]
    if unknown:
        raise ParameterError(f"unknown real trial(s) {unknown}; choose from {list(REAL_TRIALS)}")
    out, skipped = [], {}
    for tid in names:
        files, desc = REAL_TRIALS[tid]
        paths = [root / f for f in files]
        missing = [str(f) for f, p in zip(files, paths) if not p.is_file()]
        if missing:
            skipped[tid] = f"missing file(s): {', '.join(missing)}"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = [read(p) for p in paths]
            markers = _as_markers(data[0])
            if tid in STATIC_CALIBRATION:
                static_file, clusters = STATIC_CALIBRATION[tid]
                if not (root / static_file).is_file():
                    skipped[tid] = f"missing file(s): {static_file} (the static trial for its knee and ankle landmarks)"
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    static = _as_markers(read(root / static_file))
                markers = landmarks_from_static(markers, static, clusters)
            forces = data[1] if len(data) > 1 else (data[0] if "grf" in data[0].data_vars else None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                aligned = align_progression(markers)
            aligned.attrs["source"] = tid
            rot_forces = forces
            if forces is not None and forces is not data[0]:
                rot_forces = forces  # separate force files: events only need the vertical force and the feet
            labels, how, n_str = _ground_truth(markers, rot_forces)
            leg = leg_length_from_markers(joint_markers(aligned))
            out.append(RealTrial(tid, aligned, labels, leg, how, desc, n_str))
        except TwinError as err:
            skipped[tid] = str(err)[:300]
    return out, skipped


# ============================================================================================ real sensors

_ROLES = {
    "hip_centre": ("hjc", "hipjc", "hip"),
    "asis": ("asis", "asi"),
    "psis": ("psis", "psi"),
    "gtr": ("gtr", "trochanter"),
    "knee_centre": ("kjc", "kneejc"),
    "knee_lat": ("kneelat", "kneelateral", "lfc", "latfemcond", "kne", "knee"),
    "knee_med": ("kneemed", "kneemedial", "mfc", "medfemcond", "mknee"),
    "ankle_centre": ("ajc", "anklejc"),
    "ankle_lat": ("anklelat", "anklelateral", "lmal", "latmal", "ank", "ankle"),
    "ankle_med": ("anklemed", "anklemedial", "mmal", "medmal", "mankle"),
    "heel": ("heel", "hee", "calc", "cal"),
    "toe": ("bigtoe", "toetip", "toe", "mt2", "mt1", "mh1", "2mt", "1mt"),
}
_SACRUM = ("sacr", "sacrum", "vsacral", "vsac", "sacral", "s2")


def _parse(name: str) -> tuple[str, str]:
    """(side 'R'/'L'/'', body) of a marker name: lower case, separators and 'study' removed."""
    import re

    low = re.sub(r"[^a-z0-9]", "", str(name).split(":")[-1].lower()).replace("study", "")
    for prefix, side in (("right", "R"), ("left", "L"), ("r", "R"), ("l", "L")):
        if low.startswith(prefix) and len(low) > len(prefix):
            return side, low[len(prefix):]
    return "", low


def joint_markers(ds: xr.Dataset) -> xr.Dataset:
    """Hip, knee and ankle joint centres, heels and toes of a marker Recording, named as BODY_25 keypoints.

    Per side: hip = a hip-joint-centre marker, else Harrington et al. (2007)
    from the ASIS and PSIS/sacrum markers, else the greater trochanter; knee
    = a knee-joint-centre marker, else the mean of the lateral and medial
    epicondyles, else the lateral one; ankle likewise with the malleoli;
    heel and toe (hallux / first or second metatarsal head) when present.
    Names are recognised in the common conventions (``RKJC``, ``R.Knee``,
    ``R.Knee.Medial``, ``RLFC``/``RMFC``, ``r_knee_study``, ``RANK``...).

    Returns
    -------
    xarray.Dataset
        Recording with ``markers`` named ``RHip``, ``RKnee``, ``RAnkle``,
        ``RHeel``, ``RBigToe`` (and ``L...``) where found; ``attrs["joint_sources"]``.

    Raises
    ------
    DataError
        No hip, knee and ankle on either side.
    """
    from .. import schema

    da = ds["markers"].transpose("time", "marker", "axis")
    names = [str(n) for n in da["marker"].values]
    xyz = np.asarray(da.values, float)
    parsed = [_parse(n) for n in names]

    def find(side: str, role: str) -> np.ndarray | None:
        for alias in _ROLES[role]:
            for k, (s, b) in enumerate(parsed):
                if s == side and b == alias:
                    return xyz[:, k]
        return None

    sacrum = next((xyz[:, k] for alias in _SACRUM for k, (s, b) in enumerate(parsed)
                   if b == alias or (s + b).lower() == alias), None)
    out, how = {}, {}
    for side in ("R", "L"):
        hip = find(side, "hip_centre")
        how_hip = "joint centre"
        if hip is None:
            ra, la = find("R", "asis"), find("L", "asis")
            rp, lp = find("R", "psis"), find("L", "psis")
            back = 0.5 * (rp + lp) if rp is not None and lp is not None else sacrum
            if ra is not None and la is not None and back is not None:
                width = np.linalg.norm(ra - la, axis=-1, keepdims=True)
                z = (ra - la) / width
                mid = 0.5 * (ra + la)
                x = mid - back
                x = x - np.sum(x * z, axis=-1, keepdims=True) * z
                x = x / np.linalg.norm(x, axis=-1, keepdims=True)
                y = np.cross(z, x)
                if np.nanmedian(y[:, 1]) < 0:  # mirrored recording (right markers on the left): keep y up
                    y = -y
                depth = np.linalg.norm(mid - back, axis=-1, keepdims=True)
                lat = 1.0 if side == "R" else -1.0
                hip = mid + (-0.24 * depth - 0.0099) * x + (-0.30 * width - 0.0109) * y + \
                    lat * (0.33 * width + 0.0073) * z
                how_hip = "Harrington 2007"
            else:
                hip, how_hip = find(side, "gtr"), "greater trochanter"
        pts = {"Hip": (hip, how_hip)}
        for joint in ("knee", "ankle"):
            c = find(side, f"{joint}_centre")
            lat, med = find(side, f"{joint}_lat"), find(side, f"{joint}_med")
            if c is not None:
                pts[joint.capitalize()] = (c, "joint centre")
            elif lat is not None and med is not None:
                pts[joint.capitalize()] = (0.5 * (lat + med), "lateral + medial mean")
            elif lat is not None:
                pts[joint.capitalize()] = (lat, "lateral marker")
        for part, role in (("Heel", "heel"), ("BigToe", "toe")):
            p = find(side, role)
            if p is not None:
                pts[part] = (p, role)
        for part, (p, h) in pts.items():
            if p is not None:
                out[f"{side}{part}"] = p
                how[f"{side}{part}"] = h
    if not any(all(f"{s}{p}" in out for p in ("Hip", "Knee", "Ankle")) for s in "RL"):
        raise DataError(f"no hip, knee and ankle of either leg can be found among the markers "
                        f"({', '.join(names[:20])}{' ...' if len(names) > 20 else ''})")
    keys = list(out)
    rec = schema.recording(np.asarray(ds["time"].values, float), markers=np.stack([out[k] for k in keys], 1),
                           marker_names=keys, source=str(ds.attrs.get("source", "")),
                           history="joint centres from markers (twin.learn.evaluate.joint_markers)")
    rec.attrs["joint_sources"] = "; ".join(f"{k}: {v}" for k, v in how.items())
    return rec




def real_keypoints(trial: RealTrial, *, layout: str = "body_25", fov_deg: float = 60.0, height: float = 1.0,
                   noise_px: float = 0.0, rng: Any = 0) -> xr.Dataset:
    """2-D keypoints of a real trial seen by a fixed sagittal camera on the walker's right (see the module docs)."""
    from ..gait._util import pelvis_trajectory, points_from
    from ..synth.camera import Camera, keypoints_2d

    pts = points_from(trial.markers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pel = pelvis_trajectory(pts)
        x = pel[:, 0][np.isfinite(pel[:, 0])]
        z = pel[:, 2][np.isfinite(pel[:, 2])]
    if x.size == 0:
        raise DataError(f"{trial.id}: no pelvis position to aim the camera at")
    x0, x1, zc = float(x.min()), float(x.max()), float(np.median(z))
    half = 0.5 * (x1 - x0) + 0.8
    distance = max(4.0, half / math.tan(math.radians(fov_deg) / 2))
    cam = Camera.fixed("sagittal", distance=distance, height=height, target=(0.5 * (x0 + x1), zc), fov_deg=fov_deg,
                       name="sagittal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kp = keypoints_2d(joint_markers(trial.markers), cam, layout=layout, noise_px=noise_px, rng=rng)
    kp.attrs["source"] = trial.id
    return kp


def _imu_markers(trial: RealTrial) -> tuple[xr.Dataset, dict]:
    """A recording of virtual frame points (knee, ankle, lateral points, pelvis) and the IMU frame specs."""
    from .. import schema

    da = trial.markers["markers"].transpose("time", "marker", "axis")
    names = [str(n) for n in da["marker"].values]
    xyz = np.asarray(da.values, float)
    jm = joint_markers(trial.markers)["markers"]
    kp = {str(n): np.asarray(jm.sel(marker=n).values, float) for n in jm["marker"].values}
    parsed = [_parse(n) for n in names]

    def role(side: str, r: str) -> str | None:
        for alias in _ROLES[r]:
            for n, (s_, b) in zip(names, parsed):
                if s_ == side and b == alias:
                    return n
        return None

    pts, spec = {}, {}
    lateral = np.array([0.0, 0.0, 0.1])  # +Z: the walker's right
    for s, side in (("R", "r"), ("L", "l")):
        if f"{s}Knee" in kp and f"{s}Ankle" in kp:
            pts[f"V_KNEE_{s}"] = kp[f"{s}Knee"]
            pts[f"V_ANKLE_{s}"] = kp[f"{s}Ankle"]
            pts[f"V_LAT_{s}"] = kp[f"{s}Ankle"] + lateral
            spec[f"tibia_{side}"] = {"y": (f"V_ANKLE_{s}", f"V_KNEE_{s}"), "z": (f"V_ANKLE_{s}", f"V_LAT_{s}"),
                                     "origin": (f"V_KNEE_{s}", f"V_ANKLE_{s}")}
    get = {n: i for i, n in enumerate(names)}
    asis = [role("L", "asis"), role("R", "asis")]
    psis = [role("L", "psis"), role("R", "psis")]
    sacrum = next((n for alias in _SACRUM for n, (s_, b) in zip(names, parsed) if (s_ + b).lower() == alias or
                   (not s_ and b == alias)), None)
    if all(asis) and (all(psis) or sacrum):
        pts["V_ASIS_L"], pts["V_ASIS_R"] = xyz[:, get[asis[0]]], xyz[:, get[asis[1]]]
        if np.nanmedian(pts["V_ASIS_R"][:, 2] - pts["V_ASIS_L"][:, 2]) < 0:  # mirrored recording: keep z to +Z
            pts["V_ASIS_L"], pts["V_ASIS_R"] = pts["V_ASIS_R"], pts["V_ASIS_L"]
        back = (0.5 * (xyz[:, get[psis[0]]] + xyz[:, get[psis[1]]])) if all(psis) else xyz[:, get[sacrum]]
        pts["V_BACK"] = back
        spec["pelvis"] = {"z": ("V_ASIS_L", "V_ASIS_R"), "x": ("V_BACK", ("V_ASIS_R", "V_ASIS_L"))}
    elif "LHip" in kp and "RHip" in kp:
        pts["V_HIP_L"], pts["V_HIP_R"] = kp["LHip"], kp["RHip"]
        if np.nanmedian(kp["RHip"][:, 2] - kp["LHip"][:, 2]) < 0:
            pts["V_HIP_L"], pts["V_HIP_R"] = kp["RHip"], kp["LHip"]
        mid = 0.5 * (kp["LHip"] + kp["RHip"])
        pts["V_FWD"] = mid + np.array([0.1, 0.0, 0.0])
        pts["V_MID"] = mid
        spec["pelvis"] = {"z": ("V_HIP_L", "V_HIP_R"), "x": ("V_MID", "V_FWD")}
    if not pts:
        raise DataError(f"{trial.id}: no knee/ankle/pelvis points for virtual IMUs")
    pnames = list(pts)
    rec = schema.recording(np.asarray(trial.markers["time"].values, float),
                           markers=np.stack([pts[n] for n in pnames], 1), marker_names=pnames, source=trial.id)
    return rec, spec


def real_imu(trial: RealTrial, *, cutoff: float = 6.0) -> xr.Dataset:
    """IMUs (pelvis, tibia_r, tibia_l) of a real trial from its markers (see the module docstring)."""
    from ..synth.sensors import imu_from_markers

    rec, spec = _imu_markers(trial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imu = imu_from_markers(rec, segment_markers=spec, cutoff=cutoff)
    imu.attrs["source"] = trial.id
    return imu


def real_windows(trials: Sequence[RealTrial], spec: WindowSpec) -> tuple[xr.Dataset, dict[str, str]]:
    """Windows of every trial's real sensors (group = trial id, labels = ground truth); skipped trials with reasons."""
    out, skipped = [], {}
    for tr in trials:
        try:
            ds = real_keypoints(tr) if spec.modality == "keypoints" else real_imu(tr)
            out.append(make_windows(ds, spec, leg_length=tr.leg_length, labels=tr.labels, group=tr.id))
        except TwinError as err:
            skipped[tr.id] = str(err)[:300]
    if not out:
        raise DataError("no real windows: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    return concat_windows(out), skipped


# ============================================================================================ baseline


def alexander_stride(leg_length: float, cadence: float) -> float:
    """Stride length [m] from leg length [m] and cadence [steps/min] by Alexander's (1976) relation.

    ``lambda / h = 2.3 (v^2 / (g h))^0.3`` with ``v = lambda f`` (``f =
    cadence / 120`` strides/s, ``h = 1.08 x leg_length`` the hip height)
    gives ``lambda = (2.3 h^0.7 f^0.6 g^-0.3)^2.5``. R. McN. Alexander,
    "Estimates of speeds of dinosaurs", Nature 261:129-130 (1976).
    """
    h = 1.08 * float(leg_length)
    f = float(cadence) / 120.0
    return float((2.3 * h ** 0.7 * f ** 0.6 * 9.80665 ** -0.3) ** 2.5)


def heuristic_predict(windows: xr.Dataset) -> xr.Dataset:
    """The no-learning baseline of the module docstring, per window (``y_pred(window, target)``)."""
    from ..gait._util import stride_period

    spec = spec_of(windows)
    ch = list(windows["channel"].values)
    x = np.asarray(windows["x"].values, float)
    if spec.modality == "keypoints":
        sig = x[:, ch.index("RAnkle_x")] - x[:, ch.index("LAnkle_x")]
    else:
        gz = [c for c in ("tibia_r_gyro_z", "tibia_l_gyro_z") if c in ch]
        if not gz:
            raise DataError("the IMU heuristic needs tibia_r/tibia_l gyro_z channels")
        sig = x[:, ch.index(gz[0])] - (x[:, ch.index(gz[1])] if len(gz) > 1 else 0.0)
    leg = np.asarray(windows["leg_length"].values, float)
    y = np.full((x.shape[0], len(TARGETS)), np.nan)
    for i in range(x.shape[0]):
        period = stride_period([sig[i]], spec.rate, lo=0.6, hi=min(2.0, 0.95 * spec.duration))
        if not np.isfinite(period):
            continue
        cad = 120.0 / period
        stride = alexander_stride(leg[i], cad) if np.isfinite(leg[i]) else np.nan
        y[i] = (stride * cad / 120.0, cad, stride)
    out = xr.Dataset({"y_pred": (("window", "target"), y)}, coords={"target": list(TARGETS)})
    if "group" in windows.coords:
        out = out.assign_coords(group=("window", windows["group"].values))
    if "y" in windows:
        out["y"] = (("window", "target"), windows["y"].values)
    return out


# ============================================================================================ scores


def score(pred: xr.Dataset) -> dict:
    """Per-trial MAE and Pearson r of predictions (``y_pred`` and ``y`` on ``window``, ``group`` coord).

    Window predictions are averaged per group (NaN windows ignored) first.

    Returns
    -------
    dict
        ``{target: {"mae": ..., "r": ..., "n": trials}}`` plus ``"per_trial"``:
        ``{group: {target: (predicted, true)}}``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> p = xr.Dataset({"y_pred": (("window", "target"), [[1.0, 100, 1.2], [1.2, 110, 1.3], [1.5, 120, 1.5]]),
    ...                 "y": (("window", "target"), [[1.1, 100, 1.2], [1.1, 100, 1.2], [1.4, 120, 1.4]])},
    ...                coords={"target": ["walking_speed", "cadence", "stride_length"], "group": ("window", ["a", "a", "b"])})
    >>> s = score(p)
    >>> round(s["walking_speed"]["mae"], 3), s["walking_speed"]["n"]
    (0.05, 2)
    """
    if "y_pred" not in pred or "y" not in pred:
        raise DataError("score needs y_pred and y (labels) on the windows")
    groups = [str(g) for g in pred["group"].values] if "group" in pred.coords else ["all"] * pred.sizes["window"]
    targets = [str(t) for t in pred["target"].values]
    yp, yt = np.asarray(pred["y_pred"].values, float), np.asarray(pred["y"].values, float)
    per = {}
    order = list(dict.fromkeys(groups))
    gi = np.array(groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        P = np.array([np.nanmean(yp[gi == g], axis=0) for g in order])
        T = np.array([np.nanmean(yt[gi == g], axis=0) for g in order])
    for k, g in enumerate(order):
        per[g] = {t: (float(P[k, j]), float(T[k, j])) for j, t in enumerate(targets)}
    out: dict[str, Any] = {}
    for j, t in enumerate(targets):
        ok = np.isfinite(P[:, j]) & np.isfinite(T[:, j])
        err = np.abs(P[ok, j] - T[ok, j])
        r = float(np.corrcoef(P[ok, j], T[ok, j])[0, 1]) if ok.sum() > 2 and np.std(P[ok, j]) > 0 else float("nan")
        out[t] = {"mae": float(err.mean()) if ok.any() else float("nan"), "r": r, "n": int(ok.sum()),
                  "n_missing": int((~ok).sum())}
    out["per_trial"] = per
    return out


def leave_one_trial_out(windows: xr.Dataset, *, subjects: dict[str, str] | None = None,
                        **train_options: Any) -> xr.Dataset:
    """Predictions for every trial by an estimator trained on all the other trials (``twin.learn.train`` options).

    With ``subjects`` (``{trial: person}``, e.g. :data:`REAL_SUBJECTS`;
    trials not in it are their own person) the estimator for a trial is
    trained without any trial of the same person: leave one *subject* out.
    """
    from .models import train

    groups = np.asarray([str(g) for g in windows["group"].values])
    names = list(dict.fromkeys(groups.tolist()))
    if subjects is not None and not isinstance(subjects, dict):
        raise ParameterError(f"subjects must be a dict {{trial: person}}, not {type(subjects).__name__}")
    person = {g: str((subjects or {}).get(g, g)) for g in names}
    if len(set(person.values())) < 3:
        raise DataError(f"leave-one-out needs at least 3 trials (subjects), got {len(set(person.values()))}")
    persons = np.asarray([person[g] for g in groups])
    estimators: dict[str, Any] = {}  # one per person: a person's trials share their training set
    parts = []
    for g in names:
        if person[g] not in estimators:
            estimators[person[g]] = train(windows.isel(window=np.flatnonzero(persons != person[g])), **train_options)
        parts.append(estimators[person[g]].predict(windows.isel(window=np.flatnonzero(groups == g))))
    return xr.concat(parts, dim="window")


def ssl_experiment(pretrained: Any, windows: xr.Dataset, *, fraction: float = 0.1, repeats: int = 5, seed: int = 0,
                   epochs: int = 60, **train_options: Any) -> dict:
    """Fine-tune on ``fraction`` of the trials with and without the pretrained encoder; score on the rest.

    Each repeat draws ``max(1, round(fraction x n_trials))`` trials (seeded),
    trains one estimator from random initialisation and one from
    ``pretrained`` (:func:`twin.learn.finetune`) on their windows, and scores
    both on the other trials. Returns the mean MAE per target of each, their
    difference ``gain = scratch - pretrained`` (positive: pretraining helped)
    and the per-repeat values.
    """
    from .models import train
    from .pretrain import finetune

    check_param("fraction", fraction, minimum=0.0, maximum=1.0, types=(int, float))
    check_param("repeats", repeats, minimum=1, types=(int, np.integer))
    groups = np.asarray([str(g) for g in windows["group"].values])
    names = list(dict.fromkeys(groups.tolist()))
    k = max(1, int(round(fraction * len(names))))
    if len(names) - k < 2:
        raise DataError(f"{len(names)} trials: too few to fine-tune on {k} and test on the rest")
    rng = np.random.default_rng(int(seed))
    runs = {"scratch": [], "pretrained": []}
    picks = []
    for r in range(int(repeats)):
        pick = sorted(rng.choice(names, size=k, replace=False).tolist())
        picks.append(pick)
        tr = np.flatnonzero(np.isin(groups, pick))
        te = np.flatnonzero(~np.isin(groups, pick))
        a = train(windows.isel(window=tr), epochs=epochs, seed=int(seed) + r, **train_options)
        b = finetune(pretrained, windows.isel(window=tr), epochs=epochs, seed=int(seed) + r, **train_options)
        runs["scratch"].append({t: score(a.predict(windows.isel(window=te)))[t]["mae"] for t in TARGETS})
        runs["pretrained"].append({t: score(b.predict(windows.isel(window=te)))[t]["mae"] for t in TARGETS})
    mean = {m: {t: float(np.mean([r[t] for r in runs[m]])) for t in TARGETS} for m in runs}
    gain = {t: mean["scratch"][t] - mean["pretrained"][t] for t in TARGETS}
    return {"scratch": mean["scratch"], "pretrained": mean["pretrained"], "gain": gain, "n_finetune_trials": k,
            "n_trials": len(names), "repeats": int(repeats), "picks": picks, "runs": runs}
