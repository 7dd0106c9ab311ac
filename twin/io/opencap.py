"""OpenCap session folders (video-based motion capture, opencap.ai).

A session downloaded from OpenCap (or by ``opencap-processing``) looks like::

    <session>/
        sessionMetadata.yaml                  mass_kg, height_m, gender_mf, openSimModel, ...
        MarkerData/<trial>.trc                video markers (+ augmented markers), m, Y up
        OpenSimData/Kinematics/<trial>.mot    OpenSim IK result, degrees
        OpenSimData/Model/<model>_scaled.osim scaled OpenSim model
        Videos/...                            (not read)

:func:`read_opencap` returns one trial as a Recording: ``markers(time, marker,
axis)`` [m] read by :func:`twin.io.read_trc`, plus the IK joint angles as
``q(time, coordinate)`` [rad/m] read by :func:`twin.io.read_storage` on the
marker time base. Subject attrs come from ``sessionMetadata.yaml``:
``subject_mass`` [kg], ``subject_height`` [m], ``sex``, and ``model`` (the
scaled ``.osim``); absent or unreadable metadata leaves them out and says so
in ``attrs["history"]``.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from twin import schema
>>> from twin.io import write_trc, write_storage, read_opencap
>>> session = pathlib.Path(tempfile.mkdtemp())
>>> t = np.arange(5) / 60
>>> (session / "MarkerData").mkdir(); (session / "OpenSimData" / "Kinematics").mkdir(parents=True)
>>> write_trc(schema.recording(t, markers=np.ones((5, 1, 3)), marker_names=["RHeel"]),
...           session / "MarkerData" / "walk.trc")
>>> write_storage(schema.kinematics(t, np.zeros((5, 1)), ["knee_angle_r"]),
...               session / "OpenSimData" / "Kinematics" / "walk.mot")
>>> _ = (session / "sessionMetadata.yaml").write_text("mass_kg: 70.0\\nheight_m: 1.75\\n")
>>> ds = read_opencap(session)
>>> ds.attrs["subject_mass"], ds.q.dims
(70.0, ('time', 'coordinate'))
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, ReadError, TwinWarning, check_param
from ..schema import validate

__all__ = ["read_opencap", "opencap_trials"]

_METADATA = "sessionMetadata.yaml"
_MARKERS = "MarkerData"
_KINEMATICS = ("OpenSimData", "Kinematics")
_MODELS = ("OpenSimData", "Model")
_SEX = {"m": "male", "male": "male", "f": "female", "female": "female"}


def _is_session(p: Path) -> bool:
    return (p / _METADATA).is_file() or (p / _MARKERS).is_dir() or (p / "OpenSimData").is_dir()


def _session_folder(folder: Any) -> Path:
    if not isinstance(folder, (str, os.PathLike)):
        raise ParameterError(f"folder must be a str or os.PathLike, not {type(folder).__name__}")
    p = Path(folder)
    if not p.exists():
        raise ReadError(p, "no such OpenCap session folder; check the path")
    if p.is_file():
        if p.name == _METADATA:
            return p.parent
        raise ReadError(p, f"is a file; pass the OpenCap session folder (the one holding {_METADATA}, "
                           f"{_MARKERS}/ and OpenSimData/)")
    if _is_session(p):
        return p
    subs = sorted(s for s in p.iterdir() if s.is_dir() and _is_session(s))
    if len(subs) == 1:
        return subs[0]
    if subs:
        raise ReadError(p, "holds several OpenCap sessions (" + ", ".join(s.name for s in subs)
                        + "); pass one of them")
    raise ReadError(
        p, f"is not an OpenCap session folder: no {_METADATA}, {_MARKERS}/ or OpenSimData/ inside "
           "(download the session with opencap-processing or from app.opencap.ai)")


def opencap_trials(folder: str | os.PathLike) -> list[str]:
    """Names of the trials in an OpenCap session (stems of its ``.trc`` and IK ``.mot`` files).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> s = pathlib.Path(tempfile.mkdtemp()); (s / "MarkerData").mkdir()
    >>> _ = (s / "MarkerData" / "walk.trc").write_text("x"); _ = (s / "MarkerData" / "squat.trc").write_text("x")
    >>> opencap_trials(s)
    ['squat', 'walk']
    """
    session = _session_folder(folder)
    return sorted(set(_files(session / _MARKERS, ".trc")) | set(_files(session.joinpath(*_KINEMATICS), ".mot")))


def _files(folder: Path, suffix: str) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {f.stem: f for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() == suffix}


def _metadata(session: Path, history: list[str]) -> dict[str, Any]:
    meta_path = session / _METADATA
    if not meta_path.is_file():
        history.append(f"no {_METADATA} in the session: subject mass, height and sex unknown (attrs left out)")
        return {}
    import yaml

    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        message = f"{_METADATA} is not valid YAML ({first}); subject attrs left out"
        warnings.warn(f"{meta_path}: {message}", TwinWarning, stacklevel=3)
        history.append(message)
        return {}
    if not isinstance(meta, dict):
        history.append(f"{_METADATA} holds no key/value mapping; subject attrs left out")
        return {}
    return meta


def _positive(meta: dict[str, Any], key: str, attr: str, unit: str, lo: float, hi: float,
              history: list[str]) -> float | None:
    if key not in meta:
        history.append(f"{_METADATA} has no {key}: {attr} unknown (attr left out)")
        return None
    try:
        value = float(meta[key])
    except (TypeError, ValueError):
        history.append(f"{_METADATA}: {key}={meta[key]!r} is not a number; {attr} left out")
        return None
    if not (lo <= value <= hi):
        history.append(f"{_METADATA}: {key}={value} {unit} is implausible (expected {lo}-{hi}); {attr} left out")
        return None
    return value


def _pick_model(session: Path, meta: dict[str, Any], history: list[str]) -> Path | None:
    models = _files(session.joinpath(*_MODELS), ".osim")
    if not models:
        history.append("no scaled model in OpenSimData/Model (attr 'model' left out)")
        return None
    if len(models) == 1:
        return next(iter(models.values()))
    wanted = str(meta.get("openSimModel", ""))
    for stem, p in models.items():
        if wanted and stem.startswith(wanted) and stem.endswith("scaled"):
            return p
    for stem, p in models.items():
        if stem.endswith("scaled"):
            return p
    chosen = next(iter(models.values()))
    history.append(f"several models in OpenSimData/Model ({', '.join(models)}); took {chosen.name}")
    return chosen


def _same_time(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    step = float(np.median(np.diff(a))) if a.size > 1 else 1.0
    return bool(np.all(np.abs(a - b) <= 1e-6 * max(step, 1e-12) + 1e-9))


def read_opencap(
    folder: str | os.PathLike,
    *,
    trial: str | None = None,
    kinematics: bool = True,
    up: str = "y",
    gaps: str = "fill",
    max_gap: float = 0.1,
) -> xr.Dataset:
    """Read one trial of an OpenCap session folder into a Recording.

    Parameters
    ----------
    folder : str or path-like
        The session folder (holding ``sessionMetadata.yaml``, ``MarkerData/``,
        ``OpenSimData/``), its ``sessionMetadata.yaml``, or a folder holding
        exactly one session.
    trial : str, optional
        Trial name (file stem, e.g. ``"walk"``). Needed when the session
        holds several trials; the error lists them (see
        :func:`opencap_trials`).
    kinematics : bool, default True
        Also read the IK result ``OpenSimData/Kinematics/<trial>.mot`` as
        ``q``. When its time base differs from the markers' it is linearly
        interpolated onto it (NaN outside its span) and history says so.
    up : {"y", "z", "x", "auto"}, default "y"
        Vertical axis of the TRC (OpenCap writes OpenSim's Y up); passed to
        :func:`twin.io.read_trc`.
    gaps, max_gap
        Marker gap policy, passed to :func:`twin.io.read_trc`.

    Returns
    -------
    xarray.Dataset
        Recording with ``markers(time, marker, axis)`` [m] and, when present,
        ``q(time, coordinate)`` [rad or m, coord ``coordinate_type``]. Attrs:
        ``rate``, ``source`` (session folder), ``trial``, ``subject_mass``
        [kg], ``subject_height`` [m], ``sex``, ``model`` (path of the scaled
        ``.osim``), ``opencap_subject_id``, ``opencap_pose_model`` (those
        known), ``history``.

    Raises
    ------
    ReadError
        The folder is missing or not an OpenCap session, the trial is
        ambiguous or absent, or a TRC/MOT file is malformed.
    DataError
        The IK and marker time bases do not overlap.

    Examples
    --------
    >>> from twin import datasets
    >>> from twin.io import read_opencap
    >>> session = datasets.example("opencap_walk")["metadata"].parent   # doctest: +SKIP
    >>> ds = read_opencap(session)                                      # doctest: +SKIP
    >>> ds.markers.shape, ds.q.shape, ds.attrs["subject_mass"]          # doctest: +SKIP
    ((222, 63, 3), (222, 41), 83.0)
    """
    check_param("kinematics", kinematics, types=bool)
    check_param("up", up, choices=("x", "y", "z", "auto"))
    if trial is not None and not isinstance(trial, str):
        raise ParameterError(f"trial must be a str (the trial's file stem), not {type(trial).__name__}")
    from . import read_storage, read_trc

    session = _session_folder(folder)
    trcs = _files(session / _MARKERS, ".trc")
    mots = _files(session.joinpath(*_KINEMATICS), ".mot")
    trials = sorted(set(trcs) | set(mots))
    if not trials:
        raise ReadError(session, f"OpenCap session without trials: no .trc in {_MARKERS}/ and no .mot in "
                                 "OpenSimData/Kinematics/; the download is incomplete")
    if trial is None:
        if len(trials) > 1:
            raise ReadError(session, f"the session holds {len(trials)} trials ({', '.join(trials)}); "
                                     "choose one with trial=...")
        trial = trials[0]
    elif trial not in trials:
        stem = Path(trial).stem
        if stem in trials:
            trial = stem
        else:
            raise ReadError(session, f"no trial {trial!r} in this session; its trials are: {', '.join(trials)}")

    history = [f"read OpenCap session {session.name}, trial {trial!r}"]
    trc, mot = trcs.get(trial), mots.get(trial) if kinematics else None
    if trc is not None:
        ds = read_trc(trc, up=up, gaps=gaps, max_gap=max_gap)
        history.extend(line for line in ds.attrs.get("history", "").splitlines() if line)
    else:
        ds = None
        history.append(f"no {_MARKERS}/{trial}.trc: markers absent, the IK time base is used")

    if mot is not None:
        kin = read_storage(mot, kind="kinematics")
        history.extend(line for line in kin.attrs.get("history", "").splitlines() if line)
        ds = _merge_q(ds, kin, mot, history)
    elif kinematics:
        history.append(f"no OpenSimData/Kinematics/{trial}.mot: joint angles (q) absent")
    if ds is None:  # kinematics=False and no trc
        raise ReadError(session, f"trial {trial!r} has no marker file ({_MARKERS}/{trial}.trc); "
                                 "pass kinematics=True to read its IK result")

    meta = _metadata(session, history)
    attrs: dict[str, Any] = {}
    if meta:
        mass = _positive(meta, "mass_kg", "subject_mass", "kg", 1.0, 500.0, history)
        height = _positive(meta, "height_m", "subject_height", "m", 0.3, 3.0, history)
        if mass is not None:
            attrs["subject_mass"] = mass
        if height is not None:
            attrs["subject_height"] = height
        sex = meta.get("gender_mf", meta.get("sex"))
        if sex is not None and str(sex).strip():
            attrs["sex"] = _SEX.get(str(sex).strip().lower(), str(sex).strip())
        else:
            history.append(f"{_METADATA} has no gender_mf: sex unknown (attr left out)")
        for key, attr in (("subjectID", "opencap_subject_id"), ("posemodel", "opencap_pose_model")):
            if meta.get(key) is not None:
                attrs[attr] = str(meta[key])
    model = _pick_model(session, meta, history)
    if model is not None:
        attrs["model"] = str(model)
    ds.attrs.update(attrs)
    ds.attrs.update(kind="recording", source=str(session), trial=trial, history="\n".join(history))
    validate(ds)
    return ds


def _merge_q(ds: xr.Dataset | None, kin: xr.Dataset, mot: Path, history: list[str]) -> xr.Dataset:
    from ..schema import recording

    t_kin = np.asarray(kin["time"].values, dtype=float)
    q = np.asarray(kin["q"].values, dtype=float)
    if ds is None:
        ds = recording(t_kin, source=str(mot), rate=kin.attrs.get("rate"))
        values = q
    else:
        t = np.asarray(ds["time"].values, dtype=float)
        if _same_time(t, t_kin):
            values = q
            history.append(f"q from {mot.name} shares the marker time base ({t.size} samples)")
        else:
            if t_kin.size < 2:
                raise DataError(f"{mot}: a single IK sample cannot be put on the marker time base")
            lo, hi = max(t[0], t_kin[0]), min(t[-1], t_kin[-1])
            if hi < lo:
                raise DataError(
                    f"{mot}: IK time {t_kin[0]:.3f}-{t_kin[-1]:.3f} s does not overlap the markers' "
                    f"{t[0]:.3f}-{t[-1]:.3f} s; the files belong to different trials")
            from scipy.interpolate import interp1d

            values = interp1d(t_kin, q, axis=0, bounds_error=False, fill_value=np.nan, assume_sorted=True)(t)
            outside = int(np.sum((t < t_kin[0] - 1e-9) | (t > t_kin[-1] + 1e-9)))
            history.append(
                f"q from {mot.name} ({t_kin.size} samples, {t_kin[0]:.4f}-{t_kin[-1]:.4f} s) linearly interpolated "
                f"onto the marker time base ({t.size} samples)"
                + (f"; {outside} marker frame(s) outside the IK span are NaN" if outside else "")
            )
    da = xr.DataArray(values, dims=("time", "coordinate"), attrs=dict(kin["q"].attrs))
    ds = ds.assign_coords(coordinate=list(kin["coordinate"].values),
                          coordinate_type=("coordinate", list(kin["coordinate_type"].values)))
    ds["q"] = da
    ds.attrs["kinematics_source"] = str(mot)
    return ds
