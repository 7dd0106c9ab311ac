"""Event-detection benchmark on the public reference trials under ``TWIN_DATA_DIR``.

:func:`evaluate_event_detection` runs the detectors of :mod:`twin.gait.events`
on every trial that has both something to detect from and a reference, and
scores them with :func:`twin.gait.compare_events` (one-to-one matching within
``tolerance``). Targets: median absolute error <= 20 ms for foot strike and
<= 30 ms for foot off, per trial. The references are

* ``annotated``: the events shipped with the gaitkit example trials
  (``hs_frames``/``to_frames``; kinematic detectors run on the landmarks);
* ``file events``: the events stored in a C3D file (Vicon Nexus);
* ``force plates``: :func:`twin.gait.events_from_force` on the same trial
  (20 N threshold), for trials with markers and forces; kinematic detectors
  are then scored only around plate contacts.

``imu (virtual)`` rows run :func:`twin.gait.events_from_imu` on a *virtual*
shank gyroscope, the sagittal angular rate of the knee->ankle segment
computed from the markers/landmarks (no real IMU recordings are in the
reference data); it checks the IMU logic on real gait, not sensor noise.

Known limits of the references (found while building this, reported rather than corrected):

* ``gaitkit/healthy`` (Fukuchi): gaitkit merged the C3D's LHS/LON and
  LTO/LOFF events into one list; several annotations (left strikes at frames
  163 *and* 177, right foot offs at 125/279/287 while the right toe leaves at
  ~180/~340 in the landmarks) match no kinematic contact, so few events match.
* ``gaitkit/stroke`` has no annotations; ``gaitkit/kuopio`` holds no data.
* ``opensim-core/walking*.c3d``, ``test_walking.c3d``: on the first plate the
  vertical force rises 70-100 ms after the heel marker has landed and
  stopped, with the centre of pressure starting near the forefoot: the heel
  landed off the plate, so that plate's foot strike is late; kinematic
  detectors look early there.
* ``gait10dof18musc/subject01_walk`` is treadmill walking at 60 Hz (one frame
  = 17 ms) and its marker set has no ankle marker (no virtual IMU).

``twin bench io`` prints the per-trial rows; :func:`format_table` makes a table.

Examples
--------
>>> import os
>>> from twin.gait.benchmark import evaluate_event_detection, format_table
>>> if os.environ.get("TWIN_DATA_DIR"):
...     res = evaluate_event_detection(trials=["gaitkit/parkinson"])
...     assert len(res["trials"]) >= 2 and res["default_method"] == "hybrid"
"""

from __future__ import annotations

import os
import time as _time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ..errors import DataError, ParameterError, TwinError
from ._util import SIDES, get_point, lowpass, pelvis_trajectory, points_from, progression
from .events import compare_events, events_from_force, events_from_imu, events_from_kinematics

__all__ = ["evaluate_event_detection", "format_table", "TRIALS", "virtual_shank_gyro", "TARGET_MS"]

TARGET_MS = {"foot_strike": 20.0, "foot_off": 30.0}

_GAIT10 = "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData"
#: trial id -> (files relative to the data dir, reference kind)
TRIALS: dict[str, tuple[tuple[str, ...], str]] = {
    "gaitkit/healthy": (("pypi-packages/gaitkit-1.5.0/example_healthy.json",), "annotated"),
    "gaitkit/parkinson": (("pypi-packages/gaitkit-1.5.0/example_parkinson.json",), "annotated"),
    "gaitkit/stroke": (("pypi-packages/gaitkit-1.5.0/example_stroke.json",), "annotated"),
    "gait10dof18musc/subject01_walk": ((f"{_GAIT10}/subject01_walk.trc", f"{_GAIT10}/subject01_walk_grf.mot"),
                                       "force plates"),
    "bmclab/walk1": (("BMClab-BMC/data/walk1.trc", "BMClab-BMC/data/walk1.forces"), "force plates"),
    "bmclab/walk2": (("BMClab-BMC/data/walk2.trc", "BMClab-BMC/data/walk2.forces"), "force plates"),
    "bmclab/Gait.c3d": (("BMClab-BMC/data/Gait.c3d",), "force plates"),
    "kineticstoolkit/walk.c3d": (("kineticstoolkit/data/walk.c3d",), "file events"),
    "kineticstoolkit/walk.c3d (force)": (("kineticstoolkit/data/walk.c3d",), "force plates"),
    "opensim-core/walking2.c3d": (("opensim-core/OpenSim/Tests/shared/walking2.c3d",), "force plates"),
    "opensim-core/walking5.c3d": (("opensim-core/OpenSim/Tests/shared/walking5.c3d",), "force plates"),
    "opensim-core/test_walking.c3d": (("opensim-core/OpenSim/Sandbox/MatlabScripts/test_walking.c3d",),
                                      "force plates"),
}

_COLUMNS = {
    "fs_median_abs_error": ("ms", "foot strike median |error|"),
    "fo_median_abs_error": ("ms", "foot off median |error|"),
    "fs_mean_error": ("ms", "foot strike mean error (bias, detected - reference)"),
    "fo_mean_error": ("ms", "foot off mean error (bias)"),
    "fs_n_reference": ("1", "reference foot strikes"),
    "fs_n_matched": ("1", "matched foot strikes"),
    "fo_n_reference": ("1", "reference foot offs"),
    "fo_n_matched": ("1", "matched foot offs"),
    "n_extra": ("1", "detections with no reference inside the reference span"),
    "target_met": ("1", "1 when foot strike <= 20 ms and foot off <= 30 ms"),
}


def virtual_shank_gyro(ds: xr.Dataset, *, cutoff: float | None = 7.0) -> xr.Dataset:
    """A Recording with ``imu_gyro`` of two virtual shank sensors from knee and ankle positions.

    The sagittal angular rate of the knee->ankle segment (positive when the
    ankle swings forward) is put on the ``z`` axis of sensors ``shank_l`` and
    ``shank_r`` (x and y are zero).

    Examples
    --------
    >>> import numpy as np
    >>> from twin import schema
    >>> t = np.arange(0, 1, 0.01); ang = 0.5 * np.sin(2 * np.pi * t)
    >>> knee = np.stack([t, np.full_like(t, 0.5), np.zeros_like(t)], 1)
    >>> ankle = knee + 0.4 * np.stack([np.sin(ang), -np.cos(ang), np.zeros_like(t)], 1)
    >>> pelvis = knee + [0, 0.4, 0]
    >>> m = np.stack([pelvis, knee, ankle, knee, ankle, ankle, ankle], 1)
    >>> ds = schema.recording(t, markers=m, marker_names=["SACR", "LKNE", "LANK", "RKNE", "RANK", "LHEE", "RHEE"])
    >>> w = virtual_shank_gyro(ds, cutoff=None).imu_gyro.sel(sensor="shank_l", axis="z")
    >>> round(float(w.max()), 2)      # 0.5 * 2 pi
    3.14
    """
    pts = points_from(ds)
    t = pts.time
    rate = float(1.0 / np.median(np.diff(t)))
    pelvis = lowpass(pelvis_trajectory(pts), rate, cutoff)
    heels = [lowpass(get_point(pts, "heel", s), rate, cutoff) for s in SIDES]
    fwd, _, _ = progression(pelvis, heels, t, planar=pts.planar)
    gyro = np.zeros((t.size, 2, 3))
    for k, s in enumerate(SIDES):
        d = lowpass(get_point(pts, "ankle", s) - get_point(pts, "knee", s), rate, cutoff)
        theta = np.arctan2(d @ fwd, -d[:, 1])  # the shank stays within +-90 deg of vertical: no wrap
        gyro[:, k, 2] = np.gradient(theta, t)
    out = schema.recording(t, source=str(ds.attrs.get("source", "")),
                           history="virtual shank gyroscopes from knee/ankle positions")
    out["imu_gyro"] = xr.DataArray(gyro, dims=("time", "sensor", "axis"),
                                   attrs={"units": "rad/s", "long_name": "IMU angular rate"})
    return out.assign_coords(sensor=["shank_l", "shank_r"], axis=list(schema.AXES))


def _read(path: Path) -> xr.Dataset:
    from ..io import read

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


def _row(trial, reference, method, cmp=None, note="", seconds=np.nan):
    row = {"trial": trial, "reference": reference, "method": method, "note": note, "seconds": seconds}
    for k in _COLUMNS:
        row[k] = np.nan
    if cmp is not None:
        fs, fo = cmp.sel(label="foot_strike"), cmp.sel(label="foot_off")
        row.update(
            fs_median_abs_error=float(fs.median_abs_error), fo_median_abs_error=float(fo.median_abs_error),
            fs_mean_error=float(fs.mean_error), fo_mean_error=float(fo.mean_error),
            fs_n_reference=int(fs.n_reference), fs_n_matched=int(fs.n_matched),
            fo_n_reference=int(fo.n_reference), fo_n_matched=int(fo.n_matched),
            n_extra=int(fs.n_extra + fo.n_extra),
        )
        ok_fs = row["fs_median_abs_error"] <= TARGET_MS["foot_strike"] if fs.n_matched else None
        ok_fo = row["fo_median_abs_error"] <= TARGET_MS["foot_off"] if fo.n_matched else None
        checks = [c for c in (ok_fs, ok_fo) if c is not None]
        row["target_met"] = float(all(checks)) if checks else np.nan
    return row


def _detectors(ds: xr.Dataset, *, with_force: bool, positions: xr.Dataset | None):
    out = []
    if with_force:
        out.append(("force", lambda: events_from_force(ds, positions=positions)))
    kin_src = positions if positions is not None else ds
    out.append(("hybrid", lambda: events_from_kinematics(kin_src, method="hybrid")))
    out.append(("zeni", lambda: events_from_kinematics(kin_src, method="zeni")))
    out.append(("velocity", lambda: events_from_kinematics(kin_src, method="velocity")))
    out.append(("imu (virtual)", lambda: events_from_imu(virtual_shank_gyro(kin_src))))
    return out


def evaluate_event_detection(
    data_dir: str | os.PathLike | None = None,
    *,
    trials: list[str] | None = None,
    tolerance: float = 0.1,
) -> dict:
    """Score the event detectors on the reference trials, per trial and method.

    Parameters
    ----------
    data_dir : path-like, optional
        The reference data folder (default: ``$TWIN_DATA_DIR``).
    trials : list of str, optional
        Subset of :data:`TRIALS` keys (default: all).
    tolerance : float, default 0.1
        Matching window [s] of :func:`twin.gait.compare_events`.

    Returns
    -------
    dict
        ``"trials"``: one dict per trial and method (``trial``, ``reference``,
        ``method``, ``strike_ms``, ``off_ms`` = median absolute errors,
        ``strike_bias_ms``, ``off_bias_ms`` = mean errors, ``strike_matched``,
        ``off_matched`` = "matched/reference", ``target`` = "yes"/"NO"/"-",
        ``note``); ``"strike_median_ms"``, ``"off_median_ms"``: median over
        trials of the per-trial errors of the default kinematic detector
        (hybrid: velocity strikes + Zeni offs, what :func:`twin.gait.detect_events` uses without forces);
        ``"by_method"``: the same medians and trial counts for every method;
        ``"dataset"``: everything as an :class:`xarray.Dataset` on a ``row``
        dim (coords ``trial``, ``reference``, ``method``, ``note``; variables
        ``fs_median_abs_error``, ``fo_median_abs_error`` [ms]... and medians
        on a ``method_name`` dim). Trials whose files are missing or
        unreadable, or that have no reference, appear with a ``note``.

    Raises
    ------
    DataError
        No data folder.
    ParameterError
        Unknown trial names.
    """
    root = Path(data_dir) if data_dir is not None else (
        Path(os.environ["TWIN_DATA_DIR"]) if os.environ.get("TWIN_DATA_DIR") else None)
    if root is None or not root.is_dir():
        raise DataError(f"no reference data folder (data_dir={data_dir!r}, TWIN_DATA_DIR="
                        f"{os.environ.get('TWIN_DATA_DIR')!r}); point TWIN_DATA_DIR at a copy of the data")
    names = list(TRIALS) if trials is None else list(trials)
    unknown = [n for n in names if n not in TRIALS]
    if unknown:
        raise ParameterError(f"unknown trial(s) {unknown}; choose from {list(TRIALS)}")
    rows = []
    for trial in names:
        files, reference = TRIALS[trial]
        paths = [root / f for f in files]
        missing = [str(f) for f, p in zip(files, paths) if not p.is_file()]
        if missing:
            rows.append(_row(trial, reference, "-", note=f"missing: {', '.join(missing)}"))
            continue
        try:
            data = [_read(p) for p in paths]
        except TwinError as err:
            rows.append(_row(trial, reference, "-", note=f"unreadable: {err}"))
            continue
        ds = data[0]
        forces = data[1] if len(data) > 1 else ds
        positions = ds if len(data) > 1 else None
        if reference == "annotated" or reference == "file events":
            if "event_time" not in ds or ds.sizes.get("event", 0) == 0:
                rows.append(_row(trial, reference, "-", note="no reference events in the file"))
                continue
            ref = ds[["event_time"]]
            dets = _detectors(ds, with_force=reference == "file events" and "grf" in ds, positions=None)
        else:
            try:
                ref = events_from_force(forces, positions=positions)
            except TwinError as err:
                rows.append(_row(trial, reference, "-", note=f"no force reference: {err}"))
                continue
            if np.any(ref["event_side"].values == ""):
                rows.append(_row(trial, reference, "-", note="force contacts not assigned to feet"))
                continue
            dets = _detectors(ds if positions is None else positions, with_force=False, positions=None)
        for method, fn in dets:
            t0 = _time.perf_counter()
            try:
                det = fn()
            except TwinError as err:
                rows.append(_row(trial, reference, method, note=f"failed: {err}"))
                continue
            cmp = compare_events(det, ref, tolerance=tolerance)
            note = ""
            if method == "imu (virtual)":
                note = "virtual shank gyro from knee/ankle positions"
            rows.append(_row(trial, reference, method, cmp, note=note, seconds=_time.perf_counter() - t0))
    return _summarise(_assemble(rows, tolerance))


DEFAULT_METHOD = "hybrid"


def _summarise(ds: xr.Dataset) -> dict:
    def num(v):
        return round(float(v), 1) if np.isfinite(v) else float("nan")

    trials = []
    for i in range(ds.sizes.get("row", 0)):
        r = ds.isel(row=i)
        tm = float(r.target_met)
        trials.append({
            "trial": str(r.trial.item()), "reference": str(r.reference.item()), "method": str(r.method.item()),
            "strike_ms": num(r.fs_median_abs_error), "off_ms": num(r.fo_median_abs_error),
            "strike_bias_ms": num(r.fs_mean_error), "off_bias_ms": num(r.fo_mean_error),
            "strike_matched": _count(r.fs_n_matched, r.fs_n_reference),
            "off_matched": _count(r.fo_n_matched, r.fo_n_reference),
            "target": ("yes" if tm == 1 else "NO") if np.isfinite(tm) else "-",
            "note": str(r.note.item())[:100],
        })
    by_method = {str(m): {"strike_median_ms": float(ds.median_fs_error[k]), "off_median_ms": float(ds.median_fo_error[k]),
                          "n_trials": int(ds.n_trials[k])} for k, m in enumerate(ds.method_name.values)}
    default = by_method.get(DEFAULT_METHOD, {"strike_median_ms": float("nan"), "off_median_ms": float("nan")})
    return {"trials": trials, "strike_median_ms": default["strike_median_ms"],
            "off_median_ms": default["off_median_ms"], "default_method": DEFAULT_METHOD, "by_method": by_method,
            "dataset": ds}


def _count(a, b) -> str:
    return f"{int(a)}/{int(b)}" if np.isfinite(float(b)) else "-"


def _assemble(rows, tolerance) -> xr.Dataset:
    ds = xr.Dataset(coords={
        "trial": ("row", [r["trial"] for r in rows]),
        "reference": ("row", [r["reference"] for r in rows]),
        "method": ("row", [r["method"] for r in rows]),
        "note": ("row", [r["note"] for r in rows]),
    })
    for k, (units, name) in _COLUMNS.items():
        ds[k] = ("row", np.array([r[k] for r in rows], float), {"units": units, "long_name": name})
    ds["seconds"] = ("row", np.array([r["seconds"] for r in rows], float), {"units": "s", "long_name": "run time"})
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m != "-"]
    med_fs, med_fo, n_tr = [], [], []
    for m in methods:
        sel = np.array([r["method"] == m for r in rows])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med_fs.append(float(np.nanmedian(ds.fs_median_abs_error.values[sel])) if sel.any() else np.nan)
            med_fo.append(float(np.nanmedian(ds.fo_median_abs_error.values[sel])) if sel.any() else np.nan)
        n_tr.append(int(np.isfinite(ds.fs_median_abs_error.values[sel]).sum()))
    ds = ds.assign_coords(method_name=("method_name", methods))
    ds["median_fs_error"] = ("method_name", np.array(med_fs, float),
                             {"units": "ms", "long_name": "median over trials of foot strike median |error|"})
    ds["median_fo_error"] = ("method_name", np.array(med_fo, float),
                             {"units": "ms", "long_name": "median over trials of foot off median |error|"})
    ds["n_trials"] = ("method_name", np.array(n_tr, int), {"units": "1", "long_name": "trials scored"})
    ds.attrs.update(tolerance=float(tolerance), target_fs_ms=TARGET_MS["foot_strike"],
                    target_fo_ms=TARGET_MS["foot_off"])
    return ds


def format_table(res: dict | xr.Dataset) -> str:
    """Plain-text table of :func:`evaluate_event_detection` (one line per trial and method, then medians).

    Examples
    --------
    >>> res = _summarise(_assemble([_row("t", "annotated", "zeni")], 0.1))
    >>> print(format_table(res).splitlines()[0].split()[:3])
    ['trial', 'reference', 'method']
    """
    if isinstance(res, dict):
        res = res["dataset"]
    head = f"{'trial':34s} {'reference':13s} {'method':14s} {'FS ms':>7s} {'FO ms':>7s} {'FS bias':>8s} " \
           f"{'FO bias':>8s} {'FS n':>6s} {'FO n':>6s}  target  note"
    lines = [head, "-" * len(head)]

    def f(v, w=7):
        return f"{v:{w}.1f}" if np.isfinite(v) else f"{'-':>{w}s}"

    for i in range(res.sizes.get("row", 0)):
        r = res.isel(row=i)
        tm = float(r.target_met)
        lines.append(
            f"{str(r.trial.item()):34s} {str(r.reference.item()):13s} {str(r.method.item()):14s} "
            f"{f(float(r.fs_median_abs_error))} {f(float(r.fo_median_abs_error))} {f(float(r.fs_mean_error), 8)} "
            f"{f(float(r.fo_mean_error), 8)} {_count(r.fs_n_matched, r.fs_n_reference):>6s} "
            f"{_count(r.fo_n_matched, r.fo_n_reference):>6s}  {('yes' if tm == 1 else 'NO') if np.isfinite(tm) else '-':6s}"
            f"  {str(r.note.item())}"
        )
    lines.append("")
    lines.append(f"median over trials (targets: foot strike <= {res.attrs.get('target_fs_ms', 20):g} ms, "
                 f"foot off <= {res.attrs.get('target_fo_ms', 30):g} ms; matching window "
                 f"{1e3 * res.attrs.get('tolerance', 0.1):g} ms)")
    for k in range(res.sizes.get("method_name", 0)):
        lines.append(f"  {str(res.method_name.values[k]):14s} FS {f(float(res.median_fs_error[k]))} ms   "
                     f"FO {f(float(res.median_fo_error[k]))} ms   ({int(res.n_trials[k])} trials)")
    return "\n".join(lines)
