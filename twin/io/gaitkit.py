"""gaitkit example trials (JSON): landmarks, joint angles and annotated gait events.

The `gaitkit <https://pypi.org/project/gaitkit/>`_ package ships example
trials (``example_healthy.json``, ``example_parkinson.json``,
``example_stroke.json``, ``example_kuopio.json``) extracted from public gait
datasets. Each file holds::

    {"name": "fukuchi_healthy", "population": "healthy", "doi": "...", "source": "...",
     "fps": 150.0, "n_frames": 374,
     "angle_frames": [{"frame_index": 0, "left_hip_angle": 97.2, ..., "pelvis_tilt": 0.0,
                       "landmark_positions": {"left_heel": [x, y, z], ...}, "is_valid": 1}, ...],
     "ground_truth": {"hs_frames": {"left": [...], "right": [...]},
                      "to_frames": {"left": [...], "right": [...]}, "event_source": "annotated", ...}}

What :func:`read_gaitkit` does with it:

* ``landmarks(time, landmark, axis)`` in m: positions are mm in the source
  lab frame; an all-zero position means *missing* (NaN here); a landmark that
  is missing in every frame is dropped. The vertical axis is the one along
  which landmarks spread most at each instant (Y in the Fukuchi and
  Parkinson trials, Z in the stroke trial) and is rotated to OpenSim's Y-up
  (a Z-up lab maps X->X, Z->Y, -Y->Z). The lab's forward axis is kept: the
  stroke trial walks along **-X**.
* ``angle(time, coordinate)`` in rad, named like OpenSim coordinates
  (``hip_flexion_l``, ``knee_angle_l``, ``ankle_angle_l``, ``pelvis_tilt``),
  signs as in OpenSim's Gait10dof18musc/gait2392 models: hip flexion +,
  knee **flexion negative** (``knee_angle`` range -120..10 deg), ankle
  dorsiflexion +, pelvis_tilt + = posterior tilt. gaitkit's angles come from
  two different computations depending on the source dataset:

  - ``vancriekinge_*`` (Plug-in Gait model outputs stored in the C3D): hip
    flexion +, knee flexion +, ankle dorsiflexion +, pelvis anterior tilt + ->
    mapped with ``knee_angle = -knee``, ``pelvis_tilt = -tilt``;
  - every other source (``fukuchi_*``, ``figshare_parkinson`` ...): three-point
    landmark angles, knee = 180 deg - angle(hip, knee, ankle) (flexion +),
    ankle = angle(knee, ankle, toe) - 90 deg (**plantarflexion +**, with an
    offset that depends on where the toe landmark is) -> ``knee_angle = -knee``,
    ``ankle_angle = -ankle``. Their hip angle is the unsigned angle between
    the thigh and the lab's -Z axis and their trunk angle an ``atan2`` of lab
    X and Z: in a Y-up lab neither is a joint angle, so both are dropped (and
    said so in ``history``).

  Angle columns that are exactly zero over the whole trial (gaitkit writes 0
  for "not available") are dropped. ``angles="raw"`` keeps gaitkit's own
  names and signs instead (only converted to rad).
* annotated events: ``hs_frames`` -> ``foot_strike``, ``to_frames`` ->
  ``foot_off``, per side, at ``frame / fps`` s (frame 0 is t = 0). Frames
  outside the trial are dropped with a note in ``history``.
* attrs: ``rate`` (fps), ``source`` (the file), ``history``, and the file's
  ``name``, ``population``, ``doi``, ``description``, ``citation`` (gaitkit's
  ``source`` field), ``event_source``, ``reference_cadence`` (steps/min) when
  given.

Examples
--------
>>> import json, os, tempfile
>>> frames = [{"frame_index": i, "left_knee_angle": 10.0, "right_knee_angle": 20.0,
...            "landmark_positions": {"left_heel": [i * 10.0, 50.0, -100.0],
...                                   "left_hip": [i * 10.0, 900.0, -100.0]}}
...           for i in range(5)]
>>> doc = {"name": "demo", "fps": 100.0, "angle_frames": frames,
...        "ground_truth": {"hs_frames": {"left": [1], "right": []}, "to_frames": {"left": [3], "right": []}}}
>>> path = os.path.join(tempfile.mkdtemp(), "trial.json")
>>> with open(path, "w") as fh:
...     json.dump(doc, fh)
>>> ds = read_gaitkit(path)
>>> round(float(ds.landmarks.sel(landmark="left_heel", axis="y")[0]), 3)
0.05
>>> [round(float(v), 3) for v in ds.angle.sel(coordinate="knee_angle_l")[:2]]
[-0.175, -0.175]
>>> ds.event_time.values.tolist(), ds.event_label.values.tolist()
([0.01, 0.03], ['foot_strike', 'foot_off'])
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ReadError, TwinWarning, check_param
from ..schema import events as make_events
from ..schema import AXES, recording, validate
from ._common import check_file, guess_up_axis, resolve_up, to_opensim_axes

__all__ = ["read_gaitkit"]

_SIDES = {"left": "l", "right": "r"}
#: gaitkit angle field -> (OpenSim-like coordinate, joint); side prefixes are handled separately
_JOINTS = {"hip": "hip_flexion", "knee": "knee_angle", "ankle": "ankle_angle"}
#: sources whose angles are Plug-in Gait model outputs (clinical signs)
_PLUG_IN_GAIT_SOURCES = ("vancriekinge",)


def read_gaitkit(path: str | os.PathLike, *, up: str = "auto", angles: str = "auto") -> xr.Dataset:
    """Read a gaitkit example trial (JSON) into a Recording Dataset.

    Parameters
    ----------
    path : str or path-like
        The ``.json`` file.
    up : {"auto", "x", "y", "z"}, default "auto"
        The vertical axis of the landmark positions in the file; ``"auto"``
        takes the axis along which the landmarks spread most at each instant.
    angles : {"auto", "raw"}, default "auto"
        ``"auto"`` maps gaitkit's angles to OpenSim coordinate names and signs
        (see the module docstring); ``"raw"`` keeps gaitkit's names and signs
        (converted to rad only).

    Returns
    -------
    xarray.Dataset
        Recording with ``landmarks`` [m], ``angle`` [rad] and the annotated
        events (``event_time`` with ``event_label``/``event_side``) when
        present.

    Raises
    ------
    ReadError
        Missing/empty file, invalid JSON, or a field of the wrong kind (the
        message names the field and, for frames, the frame index).

    Examples
    --------
    >>> import os
    >>> root = os.environ.get("TWIN_DATA_DIR")
    >>> if root and os.path.exists(f"{root}/pypi-packages/gaitkit-1.5.0/example_parkinson.json"):
    ...     ds = read_gaitkit(f"{root}/pypi-packages/gaitkit-1.5.0/example_parkinson.json")
    ...     assert ds.attrs["population"] == "parkinsons"
    """
    check_param("angles", angles, choices=("auto", "raw"))
    check_param("up", up, choices=("x", "y", "z", "auto"))
    p = check_file(path)
    try:
        with open(p, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReadError(p, f"is not valid JSON ({err}); the file is truncated or not a gaitkit trial") from None
    if not isinstance(doc, dict):
        raise ReadError(p, f"top level is a JSON {type(doc).__name__}, not an object; not a gaitkit trial")

    fps = _number(doc, "fps", p)
    if not fps > 0:
        raise ReadError(p, f"field 'fps'={fps} must be a positive sampling rate in Hz")
    frames = doc.get("angle_frames")
    if not isinstance(frames, list) or not frames:
        raise ReadError(p, "field 'angle_frames' is missing or empty; a gaitkit trial needs a list of frames")
    n = len(frames)
    for k, fr in enumerate(frames):
        if not isinstance(fr, dict):
            raise ReadError(p, f"angle_frames[{k}] is a {type(fr).__name__}, not an object")
    n_declared = doc.get("n_frames")
    history: list[str] = [f"read gaitkit {p.name}: {n} frames at {fps:g} Hz"]
    if isinstance(n_declared, (int, float)) and int(n_declared) != n:
        history.append(f"n_frames={n_declared} in the file but {n} angle_frames given; used the frames")

    index = np.array([_frame_index(fr, k, p) for k, fr in enumerate(frames)], dtype=float)
    if np.any(np.diff(index) <= 0):
        bad = int(np.argmax(np.diff(index) <= 0))
        raise ReadError(
            p, f"angle_frames[{bad + 1}].frame_index={index[bad + 1]:g} does not increase (previous {index[bad]:g})"
        )
    time = index / fps

    # --- landmarks -------------------------------------------------------
    names: list[str] = []
    for fr in frames:
        lp = fr.get("landmark_positions") or {}
        if not isinstance(lp, dict):
            raise ReadError(p, f"angle_frames[{frames.index(fr)}].landmark_positions is not an object")
        for key in lp:
            if key not in names:
                names.append(str(key))
    xyz = np.full((n, len(names), 3), np.nan)
    for k, fr in enumerate(frames):
        lp = fr.get("landmark_positions") or {}
        for j, name in enumerate(names):
            if name in lp and lp[name] is not None:
                xyz[k, j] = _xyz(lp[name], p, f"angle_frames[{k}].landmark_positions.{name}")
    zero = np.all(xyz == 0.0, axis=2)
    xyz[zero] = np.nan
    if zero.any():
        history.append(f"treated {int(zero.sum())} all-zero landmark positions as missing")
    empty = np.all(np.isnan(xyz).any(axis=2), axis=0)
    if empty.any():
        history.append("dropped landmarks with no data: " + ", ".join(n_ for n_, e in zip(names, empty) if e))
        xyz = xyz[:, ~empty]
        names = [n_ for n_, e in zip(names, empty) if not e]
    up_axis = "y"
    if names:
        up_axis = resolve_up(up, xyz, "y") if up != "auto" else guess_up_axis(xyz)
        xyz = to_opensim_axes(xyz, up_axis) * 1e-3
        history.append(
            f"landmarks mm -> m; vertical axis of the file is {up_axis.upper()}"
            + ("" if up_axis == "y" else f", rotated to OpenSim Y-up ({up_axis.upper()}-up lab -> X fwd, Y up, Z right)")
        )

    # --- angles -----------------------------------------------------------
    angle_names, angle_values, angle_notes = _angles(frames, doc, p, angles, up_axis)
    history.extend(angle_notes)

    ds = recording(time, source=str(p), history="", rate=float(fps))
    if names:
        ds["landmarks"] = xr.DataArray(
            xyz, dims=("time", "landmark", "axis"),
            attrs={"units": "m", "long_name": "anatomical landmark position"},
        )
        ds = ds.assign_coords(landmark=names, axis=list(AXES))
    if angle_names:
        ds["angle"] = xr.DataArray(
            np.deg2rad(angle_values), dims=("time", "coordinate"),
            attrs={"units": "rad", "long_name": "joint angle"},
        )
        ds = ds.assign_coords(coordinate=angle_names)
    if not names and not angle_names:
        msg = "holds no landmark or angle data (every value is zero = missing)"
        history.append(msg)
        warnings.warn(f"{p}: {msg}", TwinWarning, stacklevel=2)

    # --- events -----------------------------------------------------------
    ev, ev_notes = _events(doc.get("ground_truth"), p, fps, time)
    history.extend(ev_notes)
    if ev is not None:
        ds = xr.merge([ds, ev], combine_attrs="override")

    valid = np.array([bool(fr.get("is_valid", True)) for fr in frames])
    if not valid.all():
        ds["frame_valid"] = xr.DataArray(valid.astype(float), dims=("time",),
                                          attrs={"units": "1", "long_name": "gaitkit is_valid flag"})
        history.append(f"{int((~valid).sum())} frames flagged is_valid=0 by gaitkit (kept; see frame_valid)")

    attrs: dict[str, Any] = {"kind": "recording", "source": str(p), "rate": float(fps), "history": "\n".join(history)}
    for key in ("name", "population", "doi", "description"):
        if isinstance(doc.get(key), str):
            attrs[key] = doc[key]
    if isinstance(doc.get("source"), str):
        attrs["citation"] = doc["source"]
    gt = doc.get("ground_truth")
    if isinstance(gt, dict):
        if isinstance(gt.get("event_source"), str):
            attrs["event_source"] = gt["event_source"]
        if isinstance(gt.get("cadence"), (int, float)) and gt.get("cadence"):
            attrs["reference_cadence"] = float(gt["cadence"])
    attrs["up_in_file"] = up_axis
    ds.attrs = attrs
    validate(ds)
    return ds


def _number(doc: dict, field: str, p: Path) -> float:
    value = doc.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ReadError(p, f"field {field!r} is {value!r}; it must be a finite number")
    return float(value)


def _frame_index(fr: dict, k: int, p: Path) -> float:
    value = fr.get("frame_index", k)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReadError(p, f"angle_frames[{k}].frame_index is {value!r}; it must be a frame number")
    return float(value)


def _xyz(value: Any, p: Path, field: str) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ReadError(p, f"{field} is {value!r}; a landmark position must be [x, y, z] in mm")
    try:
        out = np.array([float(v) if v is not None else np.nan for v in value])
    except (TypeError, ValueError):
        raise ReadError(p, f"{field} is {value!r}; a landmark position must hold numbers") from None
    return out


def _angles(frames: list[dict], doc: dict, p: Path, mode: str, up_axis: str):
    keys = [k for k, v in frames[0].items()
            if k not in ("frame_index", "landmark_positions", "is_valid") and isinstance(v, (int, float))
            and not isinstance(v, bool)]
    if not keys:
        return [], None, []
    values = np.full((len(frames), len(keys)), np.nan)
    for k, fr in enumerate(frames):
        for j, key in enumerate(keys):
            v = fr.get(key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ReadError(p, f"angle_frames[{k}].{key} is {v!r}; angles must be numbers (degrees)")
            values[k, j] = float(v)
    notes: list[str] = []
    all_zero = np.all((values == 0.0) | np.isnan(values), axis=0)
    if all_zero.any():
        notes.append("dropped angle columns that are zero in every frame (not available): "
                     + ", ".join(k for k, z in zip(keys, all_zero) if z))
    keep = [j for j in range(len(keys)) if not all_zero[j]]
    if mode == "raw":
        names = [keys[j] for j in keep]
        if names:
            notes.append("angles kept with gaitkit names and signs (deg -> rad)")
        return names, values[:, keep], notes

    source_name = str(doc.get("name", "")).lower()
    plug_in_gait = source_name.startswith(_PLUG_IN_GAIT_SOURCES)
    names, cols, dropped = [], [], []
    for j in keep:
        key = keys[j]
        parts = key.split("_")
        if len(parts) == 3 and parts[0] in _SIDES and parts[1] in _JOINTS and parts[2] == "angle":
            side, joint = _SIDES[parts[0]], parts[1]
            if joint == "hip" and not plug_in_gait:
                dropped.append(key)
                continue
            sign = -1.0 if joint == "knee" or (joint == "ankle" and not plug_in_gait) else 1.0
            names.append(f"{_JOINTS[joint]}_{side}")
            cols.append(sign * values[:, j])
        elif key == "pelvis_tilt" and plug_in_gait:
            names.append("pelvis_tilt")
            cols.append(-values[:, j])
        else:
            dropped.append(key)
    if not names:
        pass
    elif plug_in_gait:
        notes.append("angles are Plug-in Gait outputs: knee_angle = -knee flexion, pelvis_tilt = -anterior tilt "
                     "(OpenSim signs), deg -> rad")
    else:
        notes.append("angles are gaitkit three-point landmark angles: knee_angle = -(180 - angle(hip, knee, ankle)), "
                     "ankle_angle = -(angle(knee, ankle, toe) - 90) (OpenSim signs, offset not removed), deg -> rad")
    if dropped:
        notes.append("dropped angles that are not joint coordinates in this source "
                     f"(lab-axis angles, vertical axis is {up_axis.upper()}): " + ", ".join(dropped))
    return names, (np.stack(cols, axis=1) if cols else None), notes


def _events(gt: Any, p: Path, fps: float, time: np.ndarray):
    notes: list[str] = []
    if gt is None or (isinstance(gt, dict) and not gt):
        return None, ["no ground_truth in the file: no annotated events"]
    if not isinstance(gt, dict):
        raise ReadError(p, f"field 'ground_truth' is a {type(gt).__name__}, not an object")
    times, labels, sides = [], [], []
    dropped = 0
    for field, label in (("hs_frames", "foot_strike"), ("to_frames", "foot_off")):
        block = gt.get(field)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise ReadError(p, f"ground_truth.{field} must be an object {{'left': [...], 'right': [...]}}")
        for side, frames in block.items():
            if side not in _SIDES:
                raise ReadError(p, f"ground_truth.{field} has side {side!r}; expected 'left' or 'right'")
            if not isinstance(frames, list):
                raise ReadError(p, f"ground_truth.{field}.{side} must be a list of frame numbers")
            for f in frames:
                if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(float(f)):
                    raise ReadError(p, f"ground_truth.{field}.{side} holds {f!r}; frames must be numbers")
                t = float(f) / fps
                if t < time[0] - 0.5 / fps or t > time[-1] + 0.5 / fps:
                    dropped += 1
                    continue
                times.append(t)
                labels.append(label)
                sides.append(side)
    if dropped:
        notes.append(f"dropped {dropped} annotated event(s) outside the trial's frames")
    if not times:
        notes.append("ground_truth holds no annotated events")
        return None, notes
    notes.append(f"annotated events ({gt.get('event_source', 'annotated')}): "
                 f"{labels.count('foot_strike')} foot_strike (hs_frames), {labels.count('foot_off')} foot_off "
                 "(to_frames), frame/fps -> s")
    return make_events(times, labels, sides, source=str(p)), notes
