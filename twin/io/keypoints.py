"""2D video keypoints: OpenPose JSON, MediaPipe-style wide CSV, and long CSV.

All three become a Recording with

* ``keypoints(time, camera, keypoint, uv)`` [px]: image coordinates, ``u``
  to the right and ``v`` down from the top-left corner (as the detectors
  write them; no axis conversion is done);
* ``keypoint_score(time, camera, keypoint)`` [1]: the detector's confidence
  (OpenPose ``c``, MediaPipe ``visibility``), when the file has one.

A keypoint whose score is 0 (OpenPose writes ``0, 0, 0`` for "not detected")
or below ``min_score`` has NaN coordinates; its score is kept; history counts
them.

Accepted inputs
---------------
OpenPose JSON
    One frame per file (``{"people": [{"pose_keypoints_2d": [x0, y0, c0,
    x1, ...]}]}``), a folder of such files or a list of them (frame number
    from the last digit group of each file name, e.g.
    ``walk_000000000012_keypoints.json``; file order otherwise), or one file
    holding a list of such frames. With several people in a frame the one with
    the highest summed confidence is kept (``person="best"``) or the one at a
    given index (``person=0``).
Wide CSV (MediaPipe style)
    One row per frame; a ``time``/``t``/``timestamp`` [s] or ``time_ms``/
    ``timestamp_ms`` [ms] column and/or ``frame``; then ``<name>_x``,
    ``<name>_y`` (also ``_u``/``_v``; separators ``_``, ``.`` or space) and
    optionally ``<name>_score`` / ``_confidence`` / ``_likelihood`` /
    ``_visibility`` / ``_presence`` / ``_c``; ``<name>_z`` is ignored (said in
    history). An optional ``camera`` column holds the view name.
Long CSV
    One row per keypoint sample: ``frame`` and/or ``time``, ``keypoint`` (or
    ``name``/``landmark``/``joint``/``bodypart``), ``u``/``v`` (or ``x``/``y``),
    optional ``score`` (or ``confidence``/``likelihood``/``visibility``) and
    ``camera`` (or ``cam``/``view``).

CSV delimiters ``,``, ``;`` or tab. A ``timestamp`` column whose steps are
1 or more is taken as milliseconds (a video is faster than 1 Hz); history says
so. Without a time column the frame number (or row) divided by ``rate``
gives the time, so ``rate=`` is then required. MediaPipe writes coordinates
normalised to [0, 1]: pass ``image_size=(width, height)`` to get pixels.

Keypoint layouts (picked from the number of keypoints in JSON, or from
numbered CSV columns ``0_x``...; ``layout=`` forces one)
---------------------------------------------------------------------------------
``body_25`` (OpenPose BODY_25)
    Nose, Neck, RShoulder, RElbow, RWrist, LShoulder, LElbow, LWrist, MidHip,
    RHip, RKnee, RAnkle, LHip, LKnee, LAnkle, REye, LEye, REar, LEar, LBigToe,
    LSmallToe, LHeel, RBigToe, RSmallToe, RHeel
``coco_18`` (OpenPose COCO)
    Nose, Neck, RShoulder, RElbow, RWrist, LShoulder, LElbow, LWrist, RHip,
    RKnee, RAnkle, LHip, LKnee, LAnkle, REye, LEye, REar, LEar
``coco_17`` (MS-COCO, e.g. MMPose/YOLO/ViTPose)
    nose, left_eye, right_eye, left_ear, right_ear, left_shoulder,
    right_shoulder, left_elbow, right_elbow, left_wrist, right_wrist,
    left_hip, right_hip, left_knee, right_knee, left_ankle, right_ankle
``mediapipe_33`` (MediaPipe Pose / BlazePose)
    nose, left_eye_inner, left_eye, left_eye_outer, right_eye_inner,
    right_eye, right_eye_outer, left_ear, right_ear, mouth_left, mouth_right,
    left_shoulder, right_shoulder, left_elbow, right_elbow, left_wrist,
    right_wrist, left_pinky, right_pinky, left_index, right_index, left_thumb,
    right_thumb, left_hip, right_hip, left_knee, right_knee, left_ankle,
    right_ankle, left_heel, right_heel, left_foot_index, right_foot_index

Examples
--------
>>> import json, tempfile, pathlib
>>> from twin.io import read_keypoints
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> for f in range(3):
...     kp = [0.0] * 75
...     kp[3 * 11: 3 * 11 + 3] = [100.0 + f, 400.0, 0.9]      # RAnkle
...     doc = {"version": 1.3, "people": [{"pose_keypoints_2d": kp}]}
...     _ = (folder / f"walk_{f:012d}_keypoints.json").write_text(json.dumps(doc))
>>> ds = read_keypoints(folder, rate=30)
>>> ds.keypoints.sel(keypoint="RAnkle", uv="u").values.ravel().tolist()
[100.0, 101.0, 102.0]
>>> bool(ds.keypoints.sel(keypoint="Nose").isnull().all())    # score 0 -> NaN
True
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, FormatError, ParameterError, ReadError, SchemaError, check_param
from ..schema import UV, VARIABLES, estimate_rate, recording, validate
from ._common import check_file, read_text

__all__ = ["read_keypoints", "LAYOUTS"]

LAYOUTS: dict[str, tuple[str, ...]] = {
    "body_25": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
        "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
        "LHeel", "RBigToe", "RSmallToe", "RHeel",
    ),
    "coco_18": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee",
        "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    "coco_17": (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle",
    ),
    "mediapipe_33": (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
}
_BY_COUNT = {len(v): k for k, v in LAYOUTS.items()}

_TIME_S = ("time", "t", "time_s", "times", "seconds", "timestamp_s", "time (s)", "time[s]")
_TIME_MS = ("time_ms", "timestamp_ms", "ms", "time (ms)", "time[ms]")
_TIMESTAMP = ("timestamp",)
_FRAME = ("frame", "frame_id", "frame_idx", "frame_index", "frame_number", "frameno", "frame#", "image_id")
_CAMERA = ("camera", "cam", "view", "camera_id", "cam_id")
_NAME = ("keypoint", "name", "landmark", "joint", "bodypart", "keypoint_name", "part")
_U = ("u", "x", "x_px", "u_px")
_V = ("v", "y", "y_px", "v_px")
_SCORE = ("score", "confidence", "conf", "likelihood", "visibility", "c", "probability", "presence")
_AXIS_RE = re.compile(r"^(?P<name>.+?)[_. ](?P<field>x|y|u|v|z|score|confidence|conf|likelihood|visibility|presence|c)$",
                      re.IGNORECASE)


def read_keypoints(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    rate: float | None = None,
    camera: str | None = None,
    person: int | str = "best",
    layout: str = "auto",
    keypoint_names: Sequence[str] | None = None,
    min_score: float = 0.0,
    image_size: tuple[float, float] | None = None,
    normalized: bool | str = "auto",
) -> xr.Dataset:
    """Read 2D keypoints (OpenPose JSON, MediaPipe-style or long CSV) into a Recording.

    Parameters
    ----------
    path : str, path-like, or sequence of them
        A ``.json`` frame file, a folder of them, a list of them, or a
        ``.csv`` file (wide or long layout; see the module docs).
    rate : float, optional
        Video frame rate [Hz]. Required when the file has no time column
        (OpenPose JSON, CSV with only frame numbers); with a time column it
        sets ``attrs["rate"]`` (else estimated from the times).
    camera : str, optional
        Camera name for single-view input (default ``"cam0"``); for CSV with
        a camera column, keep only that camera.
    person : int or "best", default "best"
        OpenPose frames with several people: keep the one with the highest
        summed confidence, or the one at this index in ``people``.
    layout : {"auto", "body_25", "coco_18", "coco_17", "mediapipe_33"}
        Keypoint names for unnamed keypoints (JSON, numbered CSV columns);
        ``"auto"`` picks by count and falls back to ``kp00``, ``kp01``, ...
    keypoint_names : sequence of str, optional
        Explicit names, overriding ``layout`` (must match the count).
    min_score : float, default 0
        Samples with a score below this (and every score of 0) get NaN
        coordinates.
    image_size : (width, height), optional
        Image size [px] to scale normalised coordinates into pixels.
    normalized : bool or "auto", default "auto"
        Whether coordinates are normalised to [0, 1]. ``"auto"``: yes when
        every coordinate lies in [0, 1] (then ``image_size`` is required).

    Returns
    -------
    xarray.Dataset
        Recording with ``keypoints(time, camera, keypoint, uv)`` [px] and,
        when the file has scores, ``keypoint_score(time, camera, keypoint)``;
        attrs ``rate``, ``source``, ``history``, ``keypoint_layout``.

    Raises
    ------
    ReadError
        Missing, empty, truncated or malformed file; wrong columns; NaN or
        non-increasing time.
    ParameterError
        ``rate`` needed but not given, or an option out of range.
    DataError
        No keypoint detected anywhere.
    """
    opts = _options(rate, camera, person, layout, keypoint_names, min_score, image_size, normalized)
    files, label = _inputs(path)
    if files[0].suffix.lower() == ".json" or len(files) > 1:
        parsed = _read_openpose(files, label, opts)
    else:
        parsed = _read_csv(files[0], opts)
    return _assemble(parsed, label, opts)


# ------------------------------------------------------------------------------------ options/inputs


def _options(rate, camera, person, layout, keypoint_names, min_score, image_size, normalized) -> dict[str, Any]:
    if rate is not None:
        check_param("rate", rate, types=(int, float), minimum=0.0)
        if not rate > 0:
            raise ParameterError(f"rate={rate!r} must be > 0 (the video frame rate in Hz)")
        rate = float(rate)
    if camera is not None and (not isinstance(camera, str) or not camera.strip()):
        raise ParameterError(f"camera={camera!r} must be a non-empty str")
    if isinstance(person, bool) or not (person == "best" or isinstance(person, (int, np.integer))):
        raise ParameterError(f"person={person!r} must be 'best' or an index (int >= 0)")
    if not isinstance(person, str) and person < 0:
        raise ParameterError(f"person={person!r} must be >= 0")
    check_param("layout", layout, choices=("auto", *LAYOUTS))
    if keypoint_names is not None:
        if isinstance(keypoint_names, str) or not all(isinstance(n, str) and n for n in keypoint_names):
            raise ParameterError("keypoint_names must be a sequence of non-empty str")
        if len(set(keypoint_names)) != len(keypoint_names):
            raise ParameterError("keypoint_names has duplicates")
        keypoint_names = list(keypoint_names)
    check_param("min_score", min_score, types=(int, float), minimum=0.0)
    if image_size is not None:
        try:
            w, h = (float(v) for v in image_size)
        except (TypeError, ValueError):
            raise ParameterError(f"image_size={image_size!r} must be (width, height) in px") from None
        if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
            raise ParameterError(f"image_size={image_size!r} must be two positive sizes in px")
        image_size = (w, h)
    check_param("normalized", normalized, choices=("auto", True, False))
    return dict(rate=rate, camera=camera, person=person, layout=layout, keypoint_names=keypoint_names,
                min_score=float(min_score), image_size=image_size, normalized=normalized)


def _inputs(path: Any) -> tuple[list[Path], str]:
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() == ".json")
            if not files:
                raise ReadError(p, "folder holds no .json keypoint files (OpenPose writes one *_keypoints.json "
                                   "per frame)")
            return [check_file(f, what="keypoint file") for f in files], str(p)
        f = check_file(p, what="keypoint file")
        if f.suffix.lower() not in (".json", ".csv", ".txt", ".tsv"):
            raise FormatError(f, f"{f.suffix or '(no extension)'} is not a keypoint format twin reads "
                                 "(.json OpenPose frames, .csv)")
        return [f], str(f)
    if isinstance(path, Sequence) and not isinstance(path, (bytes, bytearray)):
        if not path:
            raise ParameterError("path is an empty list; give at least one keypoint file")
        files = []
        for item in path:
            if not isinstance(item, (str, os.PathLike)):
                raise ParameterError(f"path list items must be str or os.PathLike, not {type(item).__name__}")
            f = check_file(item, what="keypoint file")
            if f.suffix.lower() != ".json":
                raise FormatError(f, "a list of files must be OpenPose .json frames; read CSV files one at a time")
            files.append(f)
        return files, str(Path(files[0]).parent)
    raise ParameterError(f"path must be a str, os.PathLike or a list of them, not {type(path).__name__}")


# ------------------------------------------------------------------------------------ OpenPose JSON


def _frame_number(p: Path) -> int | None:
    digits = re.findall(r"\d+", p.stem)
    return int(digits[-1]) if digits else None


def _load_json(f: Path) -> Any:
    text = read_text(f)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ReadError(f, f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
                           "the file is truncated or not a JSON file") from None
    except RecursionError:
        raise ReadError(f, "JSON nesting is too deep; not an OpenPose keypoint file") from None


def _read_openpose(files: list[Path], label: str, opts: dict[str, Any]) -> dict[str, Any]:
    frames: list[Any] = []
    owners: list[Path] = []
    numbers: list[int | None] = []
    for f in files:
        doc = _load_json(f)
        if isinstance(doc, list):
            if len(files) > 1:
                raise FormatError(f, "holds a list of frames; give such a file on its own, not in a list/folder")
            frames.extend(doc)
            owners.extend([f] * len(doc))
            numbers.extend([None] * len(doc))
        else:
            frames.append(doc)
            owners.append(f)
            numbers.append(_frame_number(f) if len(files) > 1 else None)
    if not frames:
        raise ReadError(files[0], "holds an empty list of frames")
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        order = np.argsort(np.asarray(numbers, dtype=np.int64), kind="stable")
        frame_no = np.asarray(numbers, dtype=float)[order]
        how = "frame numbers from the file names"
    else:
        order = np.arange(len(frames))
        frame_no = order.astype(float)
        how = "file order" if len(files) > 1 else "position in the file"
    per_frame: list[np.ndarray | None] = []
    n_kp: int | None = None
    multi = 0
    for i in order:
        doc, f = frames[i], owners[i]
        arr = _people(doc, f)
        if arr is None or arr.shape[0] == 0:
            per_frame.append(None)
            continue
        if arr.shape[1] % 3:
            raise ReadError(f, f"pose_keypoints_2d has {arr.shape[1]} values, not a multiple of 3 (x, y, c)")
        k = arr.shape[1] // 3
        if n_kp is None:
            n_kp = k
        elif k != n_kp:
            raise ReadError(f, f"{k} keypoints where earlier frames have {n_kp}; mixed pose models")
        if arr.shape[0] > 1:
            multi += 1
        pick = opts["person"]
        if pick == "best":
            scores = np.nansum(np.where(np.isfinite(arr[:, 2::3]), arr[:, 2::3], 0.0), axis=1)
            row = int(np.argmax(scores))
        elif pick < arr.shape[0]:
            row = int(pick)
        else:
            per_frame.append(None)
            continue
        per_frame.append(arr[row])
    if n_kp is None or n_kp == 0:
        raise DataError(f"{label}: no person detected in any of the {len(frames)} frame(s); nothing to read")
    data = np.full((len(per_frame), n_kp * 3), np.nan)
    present = np.array([a is not None for a in per_frame])
    if present.any():
        data[present] = np.stack([a for a in per_frame if a is not None])
    xy = np.stack([data[:, 0::3], data[:, 1::3]], axis=-1)  # (time, kp, 2)
    history = [f"read {len(frames)} OpenPose frame(s) from {Path(label).name} ({n_kp} keypoints; time from {how})"]
    if (~present).any():
        history.append(f"{int((~present).sum())} frame(s) without a (selected) person: NaN")
    if multi:
        rule = "highest summed confidence" if opts["person"] == "best" else f"index {opts['person']}"
        history.append(f"{multi} frame(s) with several people: kept the one with {rule}")
    return dict(frame=frame_no, time=None, xy=xy[:, None], score=data[:, 2::3][:, None],
                cameras=[opts["camera"] or "cam0"], names=None, n_kp=n_kp, history=history, path=Path(label))


def _people(doc: Any, f: Path) -> np.ndarray | None:
    if not isinstance(doc, dict) or "people" not in doc:
        raise FormatError(f, "is not an OpenPose keypoint frame: no top-level 'people' list "
                             "(expected {\"people\": [{\"pose_keypoints_2d\": [x, y, c, ...]}]})")
    people = doc["people"]
    if not isinstance(people, list):
        raise ReadError(f, "'people' is not a list")
    rows = []
    for person in people:
        if not isinstance(person, dict):
            raise ReadError(f, "an entry of 'people' is not an object")
        kp = person.get("pose_keypoints_2d", person.get("keypoints", []))
        if not isinstance(kp, list) or any(isinstance(v, (list, dict, str, bool)) for v in kp):
            raise ReadError(f, "pose_keypoints_2d must be a flat list of numbers [x0, y0, c0, x1, ...]")
        if kp:
            rows.append(kp)
    if not rows:
        return None
    if len({len(r) for r in rows}) > 1:
        raise ReadError(f, "people in one frame have different numbers of keypoints")
    try:
        return np.asarray(rows, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ReadError(f, "pose_keypoints_2d holds values that are not numbers") from None


# ------------------------------------------------------------------------------------ CSV


def _csv_table(f: Path, *, comments: tuple[str, ...] = ("#",), expect: str = "columns") -> tuple[list[str], np.ndarray]:
    """Header and cells (str array, rows x columns) of a delimited text file; shared with :mod:`twin.io.imu`.

    The delimiter (``,``, ``;`` or tab) is the one the header line holds most;
    blank lines and lines starting with one of ``comments`` are skipped.
    """
    text = read_text(f)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(comments)]
    if not lines:
        raise ReadError(f, "holds no header or data (only blank/comment lines)")
    delim = max((",", ";", "\t"), key=lambda d: lines[0].count(d))
    if lines[0].count(delim) == 0:
        raise ReadError(f, f"header has a single column; expected comma-, semicolon- or tab-separated {expect}")
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
    except csv.Error as err:
        raise ReadError(f, f"is not a readable CSV ({err})") from None
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise ReadError(f, "has a header but no data rows; the file is truncated or empty")
    width = len(header)
    if any(len(r) == width + 1 and r[-1].strip() == "" for r in body):  # trailing delimiter on data rows
        body = [r[:width] if len(r) == width + 1 and r[-1].strip() == "" else r for r in body]
    bad = next((i for i, r in enumerate(body) if len(r) != width), None)
    if bad is not None:
        raise ReadError(f, f"data row {bad + 1}: {len(body[bad])} values where the header has {width} columns; "
                           "the file is truncated or its header does not match its data")
    lower = [h.lower() for h in header]
    if len(set(lower)) != len(lower):
        dup = next(h for h, lo in zip(header, lower) if lower.count(lo) > 1)
        raise ReadError(f, f"column {dup!r} appears twice in the header")
    return header, np.array(body, dtype=object).astype(str).reshape(len(body), width)


def _read_csv(f: Path, opts: dict[str, Any]) -> dict[str, Any]:
    header, cells = _csv_table(f, expect="columns (frame/time, keypoint columns)")
    lower = [h.lower() for h in header]
    col = {h: i for i, h in enumerate(lower)}
    name_col = next((col[n] for n in _NAME if n in col), None)
    if name_col is not None:
        return _long_csv(f, header, lower, col, cells, name_col, opts)
    return _wide_csv(f, header, lower, col, cells, opts)


def _numbers(values: np.ndarray, f: Path, column: str) -> np.ndarray:
    cleaned = np.char.strip(values.astype(str))
    cleaned = np.where(np.isin(np.char.lower(cleaned), ("", "nan", "na", "null", "none")), "nan", cleaned)
    try:
        return cleaned.astype(float)
    except ValueError:
        for i, v in enumerate(cleaned):
            try:
                float(v)
            except ValueError:
                raise ReadError(f, f"column {column!r}, data row {i + 1}: {str(v)!r} is not a number") from None
        raise  # pragma: no cover


def _time_columns(f: Path, header: list[str], lower: list[str], col: dict[str, int], cells: np.ndarray,
                  history: list[str]) -> tuple[np.ndarray | None, np.ndarray | None, set[int]]:
    used: set[int] = set()
    time = frame = None
    for names, scale, unit in ((_TIME_S, 1.0, "s"), (_TIME_MS, 1e-3, "ms"), (_TIMESTAMP, None, "?")):
        idx = next((col[n] for n in names if n in col), None)
        if idx is None:
            continue
        used.add(idx)
        values = _numbers(cells[:, idx], f, header[idx])
        if scale is None:  # bare "timestamp": s or ms?
            steps = np.diff(values[np.isfinite(values)])
            if steps.size and np.median(np.abs(steps)) >= 1.0:
                scale = 1e-3
                history.append(f"column {header[idx]!r} steps by >= 1: taken as milliseconds")
            else:
                scale = 1.0
        if time is None:
            time = values * scale
            if not np.all(np.isfinite(time)):
                bad = int(np.argmax(~np.isfinite(time)))
                raise ReadError(f, f"column {header[idx]!r} has a missing/NaN value at data row {bad + 1}; "
                                   "time must be complete")
            history.append(f"time from column {header[idx]!r} [{unit if unit != '?' else ('ms' if scale < 1 else 's')}]")
    idx = next((col[n] for n in _FRAME if n in col), None)
    if idx is not None:
        used.add(idx)
        frame = _numbers(cells[:, idx], f, header[idx])
        if not np.all(np.isfinite(frame)):
            bad = int(np.argmax(~np.isfinite(frame)))
            raise ReadError(f, f"column {header[idx]!r} has a missing/NaN value at data row {bad + 1}")
    return time, frame, used


def _camera_column(f: Path, header: list[str], col: dict[str, int], cells: np.ndarray,
                   used: set[int]) -> np.ndarray | None:
    idx = next((col[n] for n in _CAMERA if n in col), None)
    if idx is None:
        return None
    used.add(idx)
    cams = np.char.strip(cells[:, idx].astype(str))
    if np.any(cams == ""):
        raise ReadError(f, f"column {header[idx]!r} has an empty camera name at data row "
                           f"{int(np.argmax(cams == '')) + 1}")
    return cams


def _long_csv(f, header, lower, col, cells, name_col, opts) -> dict[str, Any]:
    history = [f"read long keypoint CSV {f.name}: {cells.shape[0]} rows"]
    time, frame, used = _time_columns(f, header, lower, col, cells, history)
    used.add(name_col)
    cams = _camera_column(f, header, col, cells, used)
    u_idx = next((col[n] for n in _U if n in col), None)
    v_idx = next((col[n] for n in _V if n in col), None)
    if u_idx is None or v_idx is None:
        raise ReadError(f, f"long keypoint CSV needs coordinate columns u and v (or x and y); header is {header}")
    s_idx = next((col[n] for n in _SCORE if n in col), None)
    names_raw = np.char.strip(cells[:, name_col].astype(str))
    if np.any(names_raw == ""):
        raise ReadError(f, f"column {header[name_col]!r} has an empty keypoint name at data row "
                           f"{int(np.argmax(names_raw == '')) + 1}")
    uv = np.stack([_numbers(cells[:, u_idx], f, header[u_idx]), _numbers(cells[:, v_idx], f, header[v_idx])], -1)
    score = _numbers(cells[:, s_idx], f, header[s_idx]) if s_idx is not None else None
    key = _row_key(f, time, frame, opts, history)
    names, k_idx = _ordered_unique(names_raw)
    cam_names, c_idx = _ordered_unique(cams) if cams is not None else ([opts["camera"] or "cam0"], None)
    t_vals, t_idx = np.unique(key, return_inverse=True)
    c_idx = np.zeros_like(t_idx) if c_idx is None else c_idx
    flat = (t_idx * len(cam_names) + c_idx) * len(names) + k_idx
    if np.unique(flat).size != flat.size:
        first = int(np.argmax(np.bincount(flat) > 1))
        raise ReadError(f, "the same (time/frame, camera, keypoint) appears on several rows "
                           f"(e.g. keypoint {names[first % len(names)]!r}); rows are duplicated")
    shape = (t_vals.size, len(cam_names), len(names))
    xy = np.full(shape + (2,), np.nan)
    xy.reshape(-1, 2)[flat] = uv
    sc = None
    if score is not None:
        sc = np.full(shape, np.nan)
        sc.reshape(-1)[flat] = score
    missing = int(xy.shape[0] * xy.shape[1] * xy.shape[2] - flat.size)
    if missing:
        history.append(f"{missing} (time, camera, keypoint) combination(s) absent from the file: NaN")
    return _parsed_csv(f, t_vals, time is not None, xy, sc, cam_names, names, history, opts, cams is not None)


def _row_key(f, time, frame, opts, history) -> np.ndarray:
    if time is not None:
        return time
    if frame is not None:
        if opts["rate"] is None:
            raise ParameterError(f"{f}: the file has frame numbers but no time column; pass rate= (the video's "
                                 "frame rate in Hz) to read_keypoints")
        return frame
    raise ReadError(f, "no time or frame column (expected one of: time, timestamp, time_ms, frame)")


def _ordered_unique(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return [str(u) for u in uniq[order]], rank[inverse]


def _wide_csv(f, header, lower, col, cells, opts) -> dict[str, Any]:
    history = [f"read wide keypoint CSV {f.name}: {cells.shape[0]} rows"]
    time, frame, used = _time_columns(f, header, lower, col, cells, history)
    cams = _camera_column(f, header, col, cells, used)
    groups: dict[str, dict[str, int]] = {}
    order: list[str] = []
    ignored_z = 0
    for i, h in enumerate(header):
        if i in used:
            continue
        m = _AXIS_RE.match(h)
        if m is None:
            raise ReadError(f, f"column {h!r} is neither time/frame/camera nor <keypoint>_x/_y/_score; "
                               "rename or remove it (see twin.io.keypoints for the accepted columns)")
        name, field = m.group("name"), m.group("field").lower()
        field = {"u": "x", "v": "y"}.get(field, field)
        if field == "z":
            ignored_z += 1
            continue
        g = groups.setdefault(name, {})
        if name not in order:
            order.append(name)
        if field in ("x", "y") and field in g:
            raise ReadError(f, f"keypoint {name!r} has two {field} columns")
        if field not in ("x", "y"):
            field = "score" if "score" not in g else f"_extra_{field}"
        g[field] = i
    names = [n for n in order if not n.startswith("_")]
    if not names:
        raise ReadError(f, f"no keypoint columns (<name>_x, <name>_y) in the header {header}")
    for n in names:
        if "x" not in groups[n] or "y" not in groups[n]:
            have = "x" if "x" in groups[n] else "y"
            raise ReadError(f, f"keypoint {n!r} has a {n}_{have} column but no matching "
                               f"{n}_{'y' if have == 'x' else 'x'}")
    if ignored_z:
        history.append(f"ignored {ignored_z} z column(s) (depth estimates; twin reads 2D keypoints)")
    xi = [groups[n]["x"] for n in names]
    yi = [groups[n]["y"] for n in names]
    xy = np.stack([_numbers_block(cells, xi, header, f), _numbers_block(cells, yi, header, f)], axis=-1)
    with_score = [n for n in names if "score" in groups[n]]
    sc = None
    if with_score:
        sc = np.full(xy.shape[:2], np.nan)
        si = [groups[n]["score"] for n in with_score]
        sc[:, [names.index(n) for n in with_score]] = _numbers_block(cells, si, header, f)
        if len(with_score) < len(names):
            history.append(f"{len(names) - len(with_score)} keypoint(s) without a score column: score NaN")
        fields = sorted({_AXIS_RE.match(header[groups[n]["score"]]).group("field").lower() for n in with_score})
        history.append(f"keypoint score from the {'/'.join(fields)} column(s)")
    if time is None and frame is None:
        if opts["rate"] is None:
            raise ParameterError(f"{f}: no time or frame column; pass rate= (the video's frame rate in Hz) "
                                 "to read_keypoints")
        frame = np.arange(cells.shape[0], dtype=float)
        history.append("no time/frame column: frame = row number")
    key = _row_key(f, time, frame, opts, history)
    numbered = all(re.fullmatch(r"\d+", n) for n in names)
    if cams is None:
        cam_names = [opts["camera"] or "cam0"]
        t_vals, t_idx = np.unique(key, return_inverse=True)
        if t_vals.size != key.size:
            raise ReadError(f, "the same time/frame appears on several rows; rows are duplicated "
                               "(add a camera column for several views)")
        xy4 = np.full((t_vals.size, 1) + xy.shape[1:], np.nan)
        xy4[t_idx, 0] = xy
        sc3 = None
        if sc is not None:
            sc3 = np.full((t_vals.size, 1, sc.shape[1]), np.nan)
            sc3[t_idx, 0] = sc
    else:
        cam_names, c_idx = _ordered_unique(cams)
        t_vals, t_idx = np.unique(key, return_inverse=True)
        flat = t_idx * len(cam_names) + c_idx
        if np.unique(flat).size != flat.size:
            raise ReadError(f, "the same (time/frame, camera) appears on several rows; rows are duplicated")
        xy4 = np.full((t_vals.size, len(cam_names)) + xy.shape[1:], np.nan)
        xy4[t_idx, c_idx] = xy
        sc3 = None
        if sc is not None:
            sc3 = np.full((t_vals.size, len(cam_names), sc.shape[1]), np.nan)
            sc3[t_idx, c_idx] = sc
    parsed = _parsed_csv(f, t_vals, time is not None, xy4, sc3, cam_names, names, history, opts,
                         cams is not None)
    if numbered:
        parsed["names"] = None  # numbered columns: names from the layout
        idx = np.asarray([int(n) for n in names])
        if not np.array_equal(idx, np.arange(idx.size)):
            raise ReadError(f, "numbered keypoint columns must be 0, 1, 2, ... in order")
    return parsed


def _numbers_block(cells: np.ndarray, idx: list[int], header: list[str], f: Path) -> np.ndarray:
    block = cells[:, idx]
    try:
        return _numbers(block.ravel(), f, "keypoint columns").reshape(block.shape)
    except ReadError:
        for j, i in enumerate(idx):
            _numbers(block[:, j], f, header[i])
        raise


def _parsed_csv(f, t_vals, has_time, xy, sc, cam_names, names, history, opts, cams_in_file) -> dict[str, Any]:
    if cams_in_file and opts["camera"] is not None:
        if opts["camera"] not in cam_names:
            raise ReadError(f, f"no camera {opts['camera']!r} in the file; its cameras are: {', '.join(cam_names)}")
        j = cam_names.index(opts["camera"])
        xy, sc, cam_names = xy[:, j:j + 1], (sc[:, j:j + 1] if sc is not None else None), [opts["camera"]]
        history.append(f"kept camera {opts['camera']!r}")
    return dict(frame=None if has_time else t_vals, time=t_vals if has_time else None, xy=xy, score=sc,
                cameras=cam_names, names=names, n_kp=xy.shape[2], history=history, path=f)


# ------------------------------------------------------------------------------------ assembly


def _names(parsed: dict[str, Any], opts: dict[str, Any]) -> tuple[list[str], str]:
    n = parsed["n_kp"]
    f = parsed["path"]
    if opts["keypoint_names"] is not None:
        if len(opts["keypoint_names"]) != n:
            raise ParameterError(f"{f}: keypoint_names has {len(opts['keypoint_names'])} names for {n} keypoints")
        return list(opts["keypoint_names"]), "custom"
    if parsed["names"] is not None:
        return list(parsed["names"]), "named in file"
    if opts["layout"] != "auto":
        if len(LAYOUTS[opts["layout"]]) != n:
            raise ParameterError(f"{f}: layout={opts['layout']!r} has {len(LAYOUTS[opts['layout']])} keypoints, "
                                 f"the file has {n}")
        return list(LAYOUTS[opts["layout"]]), opts["layout"]
    if n in _BY_COUNT:
        return list(LAYOUTS[_BY_COUNT[n]]), _BY_COUNT[n]
    return [f"kp{i:02d}" for i in range(n)], "unknown"


def _assemble(parsed: dict[str, Any], label: str, opts: dict[str, Any]) -> xr.Dataset:
    f = parsed["path"]
    history = list(parsed["history"])
    names, layout = _names(parsed, opts)
    if layout not in ("custom", "named in file"):
        history.append(f"keypoint names: {layout}" + (" (no known layout has this count; pass keypoint_names=)"
                                                       if layout == "unknown" else ""))
    if parsed["time"] is not None:
        time = np.asarray(parsed["time"], dtype=float)
        rate = opts["rate"] if opts["rate"] is not None else estimate_rate(time)
    else:
        if opts["rate"] is None:
            raise ParameterError(f"{label}: the keypoint file has no time information; pass rate= (the video's "
                                 "frame rate in Hz) to read_keypoints")
        time = np.asarray(parsed["frame"], dtype=float) / opts["rate"]
        rate = opts["rate"]
        history.append(f"time = frame / {opts['rate']:g} Hz")
    if not np.all(np.isfinite(time)):
        raise ReadError(f, "time has non-finite values")
    if time.size > 1 and np.any(np.diff(time) <= 0):
        raise ReadError(f, "time/frame values are not strictly increasing after sorting (duplicated rows)")
    xy = np.array(parsed["xy"], dtype=float)
    score = None if parsed["score"] is None else np.array(parsed["score"], dtype=float)
    bad_num = ~np.isfinite(xy).all(axis=-1) & np.isfinite(xy).any(axis=-1)
    nonfinite = ~np.isfinite(xy)
    if np.any(np.isinf(xy)):
        history.append(f"{int(np.isinf(xy).any(-1).sum())} keypoint sample(s) with infinite coordinates: NaN")
    xy[nonfinite.any(-1)] = np.nan
    if bad_num.any():
        history.append(f"{int(bad_num.sum())} keypoint sample(s) with only one coordinate: NaN")
    if score is not None:
        score[~np.isfinite(score)] = np.nan
        low = (score <= 0) | (score < opts["min_score"])
        newly = low & np.isfinite(xy).all(-1)
        if newly.any():
            rule = "zero confidence" if opts["min_score"] == 0 else f"confidence 0 or < {opts['min_score']:g}"
            history.append(f"{int(newly.sum())} keypoint sample(s) with {rule}: coordinates set to NaN")
        xy[low] = np.nan
    else:
        history.append("no score/confidence in the file: keypoint_score absent")
    xy = _scale(xy, f, opts, history)
    if not np.isfinite(xy).any():
        raise DataError(f"{label}: no keypoint was detected (every coordinate is missing or has zero "
                        "confidence); nothing to read")
    ds = recording(time, source=label, rate=rate, history="")
    ds = ds.assign_coords(camera=list(parsed["cameras"]), keypoint=names, uv=list(UV))
    units, long_name = VARIABLES["keypoints"][1], VARIABLES["keypoints"][2]
    ds["keypoints"] = xr.DataArray(xy, dims=("time", "camera", "keypoint", "uv"),
                                   attrs={"units": units, "long_name": long_name,
                                          "description": "image coordinates: u right, v down, origin top-left"})
    if score is not None and np.isfinite(score).any():
        ds["keypoint_score"] = xr.DataArray(score, dims=("time", "camera", "keypoint"),
                                            attrs={"units": VARIABLES["keypoint_score"][1],
                                                   "long_name": VARIABLES["keypoint_score"][2]})
    elif score is not None:
        history.append("every score is missing: keypoint_score absent")
    ds.attrs.update(history="\n".join(history), keypoint_layout=layout)
    try:
        validate(ds)
    except SchemaError as err:  # pragma: no cover - the checks above should make this unreachable
        raise ReadError(f, f"keypoints do not form a valid Recording ({err})") from None
    return ds


def _scale(xy: np.ndarray, f: Path, opts: dict[str, Any], history: list[str]) -> np.ndarray:
    finite = xy[np.isfinite(xy)]
    normalized = opts["normalized"]
    if normalized == "auto":
        normalized = bool(finite.size) and bool(np.all((finite >= 0.0) & (finite <= 1.0)))
        if normalized and opts["image_size"] is None:
            raise ReadError(f, "every coordinate lies in [0, 1]: they look normalised to the image size "
                               "(MediaPipe); pass image_size=(width, height) to convert them to pixels, or "
                               "normalized=False to keep them as they are")
    if normalized:
        if opts["image_size"] is None:
            raise ParameterError(f"{f}: normalized=True needs image_size=(width, height) in px")
        w, h = opts["image_size"]
        history.append(f"normalised coordinates scaled to pixels with image size {w:g} x {h:g}")
        return xy * np.array([w, h])
    return xy
