"""Helpers shared by the gait functions: finding markers by name, progression, filtering, crossings."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, SchemaError

SIDES = ("left", "right")

#: body-part aliases (normalised: lower case, no separators, no side), most preferred first
ALIASES: dict[str, tuple[str, ...]] = {
    "heel": ("hee", "heel", "calc", "cal", "calcaneus", "hel", "heelpost", "heelback"),
    "toe": ("toe", "toetip", "bigtoe", "hallux", "footindex", "toes", "mt2", "2mt", "meta2", "2meta", "mh2", "mt1",
            "1mt", "meta1", "1meta", "mh1", "fm1", "fm2", "mt5", "5mt", "meta5", "5meta", "mh5", "fm5", "smalltoe",
            "toelat", "toemed"),
    "ankle": ("ank", "ankle", "lmal", "latmal", "malleolus", "anklelat", "ankl", "anklejc", "ajc", "lm", "anklemed",
              "mmal", "medmal"),
    "knee": ("kne", "knee", "kjc", "kneejc", "lfc", "latfemcond", "kneelat", "knee_lat"),
    "hip": ("hip", "hjc", "hipjc", "gtr", "trochanter", "gt", "thighupper"),
    "asis": ("asi", "asis"),
    "psis": ("psi", "psis"),
    "pelvis": ("sacr", "sacrum", "vsacral", "sacral", "midhip", "pelvis", "pelviscenter", "pelvisorigin", "midpsis",
               "sacrumjc"),
    "shank": ("shank", "tibia", "tib", "leg", "lowerleg", "shin"),
    "foot": ("foot", "calcn", "feet", "ft"),
}
_SIDE_WORDS = {"right": ("r", "right", "rt"), "left": ("l", "left", "lt")}
_IGNORED_TOKENS = ("study", "marker", "mkr", "imu", "sensor", "gyro", "jc") 


@dataclass
class Points:
    """Positions (time, point, 3) in OpenSim axes from markers, landmarks or 2-D keypoints."""

    time: np.ndarray
    names: list[str]
    xyz: np.ndarray
    variable: str
    units: str
    planar: bool = False


def _split_name(name: str) -> tuple[str, str]:
    """(side, body) of a marker name: ``"R.Heel"`` -> ("right", "heel"); no side -> ("", body)."""
    raw = str(name).split(":")[-1]
    # camelCase boundaries -> separators (RHeel -> R_Heel, rightHeel -> right_Heel)
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw)
    tokens = [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]
    tokens = [t for t in tokens if t not in _IGNORED_TOKENS] or tokens
    if not tokens:
        return "", ""
    for side, words in _SIDE_WORDS.items():
        if len(tokens) > 1 and tokens[0] in words:
            return side, "".join(tokens[1:])
        if len(tokens) > 1 and tokens[-1] in words:
            return side, "".join(tokens[:-1])
    # single token (or no side token): a side letter/word glued to the body part (RHEE, LTOE, rightheel)
    word = "".join(tokens)
    for side, words in _SIDE_WORDS.items():
        for w in sorted(words, key=len, reverse=True):
            if word.startswith(w) and _is_body(word[len(w):]):
                return side, word[len(w):]
    return "", word


def _is_body(body: str) -> bool:
    return any(body in aliases for aliases in ALIASES.values())


def find_point(names: list[str], role: str, side: str = "") -> str | None:
    """Name of the point playing ``role`` on ``side`` ("" = unsided), or None."""
    parsed = [_split_name(n) for n in names]
    for alias in ALIASES[role]:
        for name, (s, body) in zip(names, parsed):
            if s == side and body == alias:
                return name
    return None


def points_from(ds: xr.Dataset | xr.DataArray, *, camera: int | str | None = None) -> Points:
    """Marker-like positions from a Recording: ``markers`` > ``landmarks`` > ``keypoints`` (2-D)."""
    if isinstance(ds, xr.DataArray):
        if ds.name is None:
            ds = ds.to_dataset(name="markers" if "marker" in ds.dims else "landmarks" if "landmark" in ds.dims
                               else "keypoints")
        else:
            ds = ds.to_dataset()
    for var, dim in (("markers", "marker"), ("landmarks", "landmark")):
        if var in ds.data_vars:
            da = ds[var].transpose("time", dim, "axis")
            return Points(np.asarray(ds["time"].values, float), [str(v) for v in da[dim].values],
                          np.asarray(da.values, float), var, da.attrs.get("units", "m"))
    if "keypoints" in ds.data_vars:
        da = ds["keypoints"]
        cams = da["camera"].values if "camera" in da.coords else np.arange(da.sizes["camera"])
        if camera is None:
            # the camera that sees the most: fewest NaN keypoints
            finite = np.isfinite(da.values).all(axis=-1).sum(axis=(0, 2))
            k = int(np.argmax(finite))
        elif isinstance(camera, str):
            match = [i for i, c in enumerate(cams) if str(c) == camera]
            if not match:
                raise ParameterError(f"camera={camera!r} not in the keypoints; cameras are {list(map(str, cams))}")
            k = match[0]
        else:
            k = int(camera)
        kp = np.asarray(da.isel(camera=k).transpose("time", "keypoint", "uv").values, float)
        if "keypoint_score" in ds.data_vars:
            score = np.asarray(ds["keypoint_score"].isel(camera=k).transpose("time", "keypoint").values, float)
            kp = np.where((score > 0.1)[..., None], kp, np.nan)
        # image u right, v down -> x = u, y = -v (up), z = 0: a sagittal view
        xyz = np.stack([kp[..., 0], -kp[..., 1], np.zeros_like(kp[..., 0])], axis=-1)
        return Points(np.asarray(ds["time"].values, float), [str(v) for v in da["keypoint"].values], xyz,
                      "keypoints", "px", planar=True)
    raise DataError(
        "no marker positions: the Dataset has none of 'markers', 'landmarks' or 'keypoints'; "
        f"it holds {sorted(map(str, ds.data_vars)) or 'no variables'}"
    )


def get_point(pts: Points, role: str, side: str = "", mapping: Mapping[str, str] | None = None,
              required: bool = True) -> np.ndarray | None:
    """(time, 3) trajectory for a role/side, from the user mapping or by name."""
    key = f"{side}_{role}" if side else role
    name = None
    if mapping and key in mapping:
        name = mapping[key]
        if name not in pts.names:
            raise ParameterError(f"markers={{{key!r}: {name!r}}}: {name!r} is not among the {pts.variable} "
                                 f"({', '.join(pts.names[:12])}{' ...' if len(pts.names) > 12 else ''})")
    else:
        name = find_point(pts.names, role, side)
    if name is None:
        if required:
            raise DataError(
                f"no {side + ' ' if side else ''}{role} marker among the {pts.variable} "
                f"({', '.join(pts.names[:15])}{' ...' if len(pts.names) > 15 else ''}); name it with "
                f"markers={{'{key}': '<name>'}}"
            )
        return None
    return pts.xyz[:, pts.names.index(name)]


def pelvis_trajectory(pts: Points, mapping: Mapping[str, str] | None = None) -> np.ndarray:
    """(time, 3) pelvis centre: mean of ASIS+PSIS, else sacrum, else mean of hips (joint centres or landmarks)."""
    if mapping and "pelvis" in mapping:
        return get_point(pts, "pelvis", "", mapping)
    four = [get_point(pts, r, s, mapping, required=False) for r in ("asis", "psis") for s in SIDES]
    if all(p is not None for p in four):
        return _nanmean_points(four)
    sacrum = get_point(pts, "pelvis", "", mapping, required=False)
    if sacrum is not None:
        return sacrum
    for role in ("psis", "asis", "hip"):
        pair = [get_point(pts, role, s, mapping, required=False) for s in SIDES]
        if all(p is not None for p in pair):
            return _nanmean_points(pair)
    raise DataError(
        f"no pelvis markers among the {pts.variable} ({', '.join(pts.names[:15])}"
        f"{' ...' if len(pts.names) > 15 else ''}): need a sacrum, ASIS/PSIS pairs or left/right hips; "
        "name one with markers={'pelvis': '<name>'}"
    )


def _nanmean_points(arrs: list[np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(arrs), axis=0)


def horizontal_axes(planar: bool) -> tuple[int, ...]:
    return (0,) if planar else (0, 2)


def progression(pelvis: np.ndarray, heels: list[np.ndarray], time: np.ndarray, *, planar: bool = False,
                min_travel: float = 0.25) -> tuple[np.ndarray, bool, float]:
    """Unit forward direction (3,), whether the subject travels (overground), mean speed along it.

    Overground: the direction of the pelvis displacement. On a treadmill (the
    pelvis travels less than ``min_travel`` of a typical stride), the fore-aft
    axis is the main horizontal axis of heel motion relative to the pelvis and
    its sign is the way the heel moves while it is high (swing goes forward).
    """
    h = horizontal_axes(planar)
    good = np.flatnonzero(np.all(np.isfinite(pelvis[:, list(h)]), axis=1))
    if good.size < 2:
        raise DataError("the pelvis trajectory has fewer than 2 valid samples; cannot tell the walking direction")
    d = np.zeros(3)
    d[list(h)] = pelvis[good[-1], list(h)] - pelvis[good[0], list(h)]
    travel = float(np.linalg.norm(d))
    duration = float(time[good[-1]] - time[good[0]])
    # a plausible stride is ~1 m: travel over ~a third of a stride per second means overground walking
    if travel > min_travel * max(duration, 1e-9) and travel > 0.05 * _scale(pelvis, heels):
        return d / travel, True, travel / duration
    rel = [hh - pelvis for hh in heels]
    stack = np.concatenate([r[:, list(h)] for r in rel])
    stack = stack[np.all(np.isfinite(stack), axis=1)]
    if planar:
        axis = np.array([1.0, 0.0, 0.0])
    else:
        if stack.shape[0] < 3:
            raise DataError("too few valid heel samples to find the walking direction")
        c = stack - stack.mean(axis=0)
        w, v = np.linalg.eigh(c.T @ c)
        axis = np.zeros(3)
        axis[list(h)] = v[:, -1]
    # sign: heel forward velocity (relative to pelvis) correlates positively with heel height in swing
    score = 0.0
    for hh, r in zip(heels, rel):
        fwd = r @ axis
        vel = np.gradient(fwd, time)
        height = hh[:, 1] - np.nanmedian(hh[:, 1])
        ok = np.isfinite(vel) & np.isfinite(height)
        score += float(np.sum(vel[ok] * height[ok]))
    if score < 0:
        axis = -axis
    return axis, False, float("nan")


def _scale(pelvis: np.ndarray, heels: list[np.ndarray]) -> float:
    """Leg-length-like scale (pelvis height above the heels), in the data's units."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hh = np.nanmedian(np.concatenate([h[:, 1] for h in heels])) if heels else 0.0
        s = float(np.nanmedian(pelvis[:, 1]) - hh)
    return abs(s) if np.isfinite(s) and s != 0 else 1.0


def fill_nan(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Linearly interpolate NaN along ``axis`` (edges take the nearest valid value); all-NaN stays NaN."""
    x = np.moveaxis(np.asarray(x, float), axis, 0)
    out = x.copy()
    flat = out.reshape(out.shape[0], -1)
    idx = np.arange(flat.shape[0])
    bad = ~np.isfinite(flat)
    cols = np.flatnonzero(bad.any(axis=0) & ~bad.all(axis=0))
    for c in cols:  # loop over channels only, not samples
        ok = ~bad[:, c]
        flat[:, c] = np.interp(idx, idx[ok], flat[ok, c])
    return np.moveaxis(flat.reshape(out.shape), 0, axis)


def lowpass(x: np.ndarray, rate: float, cutoff: float | None, *, axis: int = 0, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass; NaN are bridged for filtering and put back. ``cutoff=None``: no filter."""
    x = np.asarray(x, float)
    if cutoff is None or not np.isfinite(rate) or cutoff >= 0.45 * rate:
        return x
    from scipy.signal import butter, sosfiltfilt

    nan = ~np.isfinite(x)
    filled = fill_nan(x, axis=axis)
    if not np.isfinite(filled).any():
        return x
    sos = butter(order, cutoff / (0.5 * rate), output="sos")
    n = x.shape[axis]
    padlen = min(3 * (2 * len(sos) + 1), n - 1)
    if n < 4:
        return x
    y = sosfiltfilt(sos, np.nan_to_num(filled), axis=axis, padlen=max(padlen, 0))
    y[nan] = np.nan
    return y


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (inclusive) indices of True runs in a 1-D boolean mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def crossing_time(t: np.ndarray, y: np.ndarray, i0: np.ndarray, level: float) -> np.ndarray:
    """Linear-interpolated time where ``y`` crosses ``level`` between samples ``i0`` and ``i0 + 1``."""
    i0 = np.asarray(i0, int)
    y0, y1 = y[i0], y[i0 + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(y1 != y0, (level - y0) / (y1 - y0), 0.0)
    frac = np.clip(np.nan_to_num(frac), 0.0, 1.0)
    return t[i0] + frac * (t[i0 + 1] - t[i0])


def peak_time(t: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sub-sample time of extrema at ``idx`` by a parabola through the 3 samples around each."""
    idx = np.asarray(idx, int)
    inner = (idx > 0) & (idx < len(y) - 1)
    out = t[idx].astype(float)
    i = idx[inner]
    ym, y0, yp = y[i - 1], y[i], y[i + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = ym - 2 * y0 + yp
        delta = np.where(denom != 0, 0.5 * (ym - yp) / denom, 0.0)
    delta = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    dt = np.where(delta >= 0, t[np.minimum(i + 1, len(t) - 1)] - t[i], t[i] - t[i - 1])
    out[inner] = t[i] + delta * dt
    return out


def stride_period(signals: list[np.ndarray], rate: float, *, lo: float = 0.5, hi: float = 3.0) -> float:
    """Dominant period [s] of roughly periodic signals (autocorrelation), within [lo, hi] s; NaN when unclear."""
    best = []
    for s in signals:
        s = fill_nan(np.asarray(s, float))
        if not np.isfinite(s).all() or s.size < 4:
            continue
        s = s - s.mean()
        n = s.size
        f = np.fft.rfft(s, 2 * n)
        ac = np.fft.irfft(f * np.conj(f))[:n]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        k0, k1 = int(lo * rate), min(int(hi * rate), n - 2)
        if k1 <= k0 + 2:
            continue
        seg = ac[k0:k1]
        from scipy.signal import find_peaks

        pk, _ = find_peaks(seg)
        if pk.size:
            k = pk[np.argmax(seg[pk])]
            if seg[k] > 0.1:
                best.append((k + k0) / rate)
    return float(np.median(best)) if best else float("nan")


def as_events(ds: xr.Dataset, what: str = "events") -> xr.Dataset:
    """Check an events Dataset (``event_time`` with ``event_label``/``event_side``)."""
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"{what} must be an xarray.Dataset with event_time(event), got {type(ds).__name__}")
    if "event_time" not in ds.data_vars:
        raise SchemaError(f"{what} has no 'event_time' variable; build one with twin.schema.events() "
                          "or twin.gait.detect_events()")
    for c in ("event_label", "event_side"):
        if c not in ds.coords:
            raise SchemaError(f"{what} has no {c!r} coordinate on the event dim")
    return ds


def event_arrays(ev: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ev = as_events(ev)
    return (np.asarray(ev["event_time"].values, float), np.asarray(ev["event_label"].values).astype(str),
            np.asarray(ev["event_side"].values).astype(str))


def times_of(ev: xr.Dataset, label: str, side: str) -> np.ndarray:
    t, lab, sid = event_arrays(ev)
    return np.sort(t[(lab == label) & (sid == side) & np.isfinite(t)])
