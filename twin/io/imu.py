"""IMU CSV exports: accelerometer and gyroscope channels of one or several sensors.

:func:`read_imu_csv` returns a Recording with

* ``imu_acc(time, sensor, axis)`` [m/s^2]: specific force (gravity
  included), as accelerometers measure it;
* ``imu_gyro(time, sensor, axis)`` [rad/s]: angular rate;

both in each **sensor's own frame** (``axis`` x, y, z are the sensor's axes,
not OpenSim's global X forward / Y up / Z right; no rotation is applied, and
the variables and the Dataset say so in their ``frame`` attrs).

Accepted columns
----------------
Delimiter ``,``, ``;`` or tab; lines starting with ``#`` or ``//`` (Xsens
headers) are skipped; names are case-insensitive.

time
    ``time``, ``t``, ``time_s``, ``seconds`` [s]; ``time_ms``,
    ``timestamp_ms`` [ms]; ``timestamp`` ([s], or [ms] when its steps are 1 or
    more, said in history); ``SampleTimeFine`` (Xsens, 1e-4 s ticks); a unit in
    brackets (``time [ms]``, ``Time (s)``) is honoured. Without a time column a
    sample counter (``frame``, ``sample``, ``PacketCounter``, ``index``) or the
    row number is divided by ``rate=``, which is then required.
channels
    ``[<sensor>][sep]<kind>[sep]<axis>[ [unit]]`` with ``sep`` one of
    ``_ . : - space``, ``kind`` one of ``acc``, ``accel``, ``acceleration``,
    ``accelerometer`` (acceleration) or ``gyr``, ``gyro``, ``gyroscope``,
    ``angvel``, ``angular_velocity`` (angular rate), ``axis`` x, y or z,
    optionally followed by a channel number (Delsys ``ACC.X 1``). Examples:
    ``shank_r_acc_x``, ``LeftFoot_Gyr_Z``, ``Acc_X`` (Xsens; one unnamed
    sensor, named by ``sensor=``), ``gyro_y``, ``Trigno sensor 1: ACC.X 1 [g]``,
    ``thigh.gyroscope.z (deg/s)``.
ignored (listed in history)
    Xsens ``FreeAcc_*`` (gravity removed, so not what an accelerometer
    measures), magnetometer, orientation/quaternion, temperature and any other
    column.

Units: a unit in the column name (``[g]``, ``(m/s^2)``, ``[deg/s]``,
``(rad/s)``, ``[mg]``, ``[dps]``) or the ``acc_units=``/``gyro_units=`` options
(which win) say what the file holds; otherwise they are detected:

* acceleration: median magnitude per sensor ~1 (0.5-2) -> g, ~9.81 (5-20) ->
  m/s^2, ~1000 (500-2000) -> mg (an accelerometer at rest or walking reads
  about 1 g on average); anything else raises, asking for ``acc_units=``;
* angular rate: 99th percentile of the magnitude >= 20 -> deg/s (20 rad/s is
  beyond human segment rates); else, when the accelerometers show movement
  (std of |a| >= 0.05 g) -> rad/s; at rest, <= 0.2 -> rad/s and larger -> deg/s
  (gyro noise at rest is ~0.01 rad/s, ~0.5 deg/s); without accelerometers the
  middle ground raises, asking for ``gyro_units=``.

The conversion done (and the evidence for a detected unit) is written to
``attrs["history"]``.

Examples
--------
>>> import tempfile, pathlib
>>> from twin.io import read_imu_csv
>>> f = pathlib.Path(tempfile.mkdtemp()) / "imu.csv"
>>> _ = f.write_text("time,shank_acc_x,shank_acc_y,shank_acc_z,shank_gyr_x,shank_gyr_y,shank_gyr_z\\n"
...                  "0.00,0,1,0,0,0,90\\n0.01,0,1,0,0,0,180\\n0.02,0,1,0,0,0,270\\n")
>>> ds = read_imu_csv(f, gyro_units="deg/s")
>>> ds.imu_acc.sel(sensor="shank", axis="y").values.round(5).tolist()   # 1 g detected
[9.80665, 9.80665, 9.80665]
>>> ds.imu_gyro.sel(sensor="shank", axis="z").values.round(4).tolist()
[1.5708, 3.1416, 4.7124]
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, ReadError, TwinWarning, check_param
from ..schema import AXES, VARIABLES, estimate_rate, recording, validate
from ._common import check_file, check_time
from .keypoints import _csv_table, _numbers

__all__ = ["read_imu_csv", "G"]

#: standard gravity [m/s^2]
G = 9.80665

_ACC_UNITS = {"m/s^2": 1.0, "g": G, "mg": G * 1e-3}
_GYRO_UNITS = {"rad/s": 1.0, "deg/s": np.pi / 180.0}
_UNIT_ALIASES = {
    "m/s^2": "m/s^2", "m/s2": "m/s^2", "m/s²": "m/s^2", "m/s/s": "m/s^2", "ms^-2": "m/s^2", "m s^-2": "m/s^2",
    "m*s^-2": "m/s^2", "mps2": "m/s^2", "m/sec^2": "m/s^2", "g": "g", "mg": "mg",
    "rad/s": "rad/s", "rad/sec": "rad/s", "rad s^-1": "rad/s", "rad*s^-1": "rad/s", "rads": "rad/s",
    "deg/s": "deg/s", "deg/sec": "deg/s", "°/s": "deg/s", "dps": "deg/s", "degrees/s": "deg/s",
    "deg s^-1": "deg/s", "degs": "deg/s", "º/s": "deg/s",
}
_UNIT_RE = re.compile(r"^(?P<base>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]\s*$")
_CHAN_RE = re.compile(
    r"^(?P<sensor>.*?)[\s_:.\-]*(?P<kind>free[_ ]?acc|accelerometer|acceleration|accel|acc|gyroscope|gyro|gyr|"
    r"angular[_ ]?velocity|angvel)[\s_:.\-]*(?P<axis>[xyz])(?:[\s_]*\d+)?$",
    re.IGNORECASE,
)
_TIME = {"time": 1.0, "t": 1.0, "time_s": 1.0, "seconds": 1.0, "timestamp_s": 1.0, "time_ms": 1e-3,
         "timestamp_ms": 1e-3, "sampletimefine": 1e-4, "timestamp": None}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
_COUNTER = ("frame", "sample", "samples", "packetcounter", "packet_counter", "index", "sample_index", "counter")


def read_imu_csv(
    path: str | os.PathLike,
    *,
    rate: float | None = None,
    acc_units: str = "auto",
    gyro_units: str = "auto",
    sensor: str | None = None,
) -> xr.Dataset:
    """Read an IMU CSV export (accelerometer + gyroscope, one or more sensors) into a Recording.

    Parameters
    ----------
    path : str or path-like
        The CSV/TXT export (see the module docs for the accepted columns).
    rate : float, optional
        Sampling rate [Hz]. Required without a time column (time = counter
        or row / rate); with one it sets ``attrs["rate"]``.
    acc_units : {"auto", "m/s^2", "g", "mg"}, default "auto"
        Unit of the acceleration columns; overrides a unit in the header.
    gyro_units : {"auto", "rad/s", "deg/s"}, default "auto"
        Unit of the angular-rate columns; overrides a unit in the header.
    sensor : str, optional
        Name of the sensor whose columns carry no sensor prefix (``Acc_X``);
        default ``"imu"``.

    Returns
    -------
    xarray.Dataset
        Recording with ``imu_acc(time, sensor, axis)`` [m/s^2] and/or
        ``imu_gyro(time, sensor, axis)`` [rad/s] in the sensor frame; attrs
        ``rate``, ``source``, ``history``, ``imu_frame="sensor"``.

    Raises
    ------
    ReadError
        Missing/empty/truncated file, no accelerometer or gyroscope columns,
        an incomplete x/y/z triple, non-numeric cells, NaN or non-increasing
        time, units that cannot be told apart.
    ParameterError
        ``rate`` needed but not given, or an option out of range.
    """
    if rate is not None:
        check_param("rate", rate, types=(int, float), minimum=0.0)
        if not rate > 0:
            raise ParameterError(f"rate={rate!r} must be > 0 (the sampling rate in Hz)")
        rate = float(rate)
    acc_units = _option_units("acc_units", acc_units, _ACC_UNITS)
    gyro_units = _option_units("gyro_units", gyro_units, _GYRO_UNITS)
    if sensor is not None and (not isinstance(sensor, str) or not sensor.strip()):
        raise ParameterError(f"sensor={sensor!r} must be a non-empty str")
    f = check_file(path, what="IMU CSV file")
    header, cells = _csv_table(f, comments=("#", "//"), expect="columns (time, <sensor>_acc_x, ...)")
    history = [f"read IMU CSV {f.name}: {cells.shape[0]} rows, {len(header)} columns"]
    time, used = _time(f, header, cells, rate, history)

    channels: dict[tuple[str, str], dict[str, int]] = {}  # (sensor, kind) -> axis -> column
    units: dict[tuple[str, str], dict[str, str | None]] = {}
    sensors: list[str] = []
    ignored: list[str] = []
    for i, h in enumerate(header):
        if i in used:
            continue
        base, unit = _split_unit(h)
        m = _CHAN_RE.match(base)
        if m is None:
            ignored.append(h)
            continue
        kind_raw = m.group("kind").lower().replace(" ", "").replace("_", "")
        if kind_raw.startswith("freeacc"):
            ignored.append(h)
            continue
        kind = "acc" if kind_raw.startswith("acc") else "gyro"
        name = m.group("sensor").strip(" _:.-") or (sensor or "imu")
        axis = m.group("axis").lower()
        key = (name, kind)
        if axis in channels.setdefault(key, {}):
            raise ReadError(f, f"two {kind} {axis} columns for sensor {name!r} "
                               f"({header[channels[key][axis]]!r} and {h!r})")
        channels[key][axis] = i
        units.setdefault(key, {})[axis] = unit
        if name not in sensors:
            sensors.append(name)
    if not channels:
        raise ReadError(f, "no accelerometer or gyroscope columns: expected names like <sensor>_acc_x, "
                           f"Acc_X, gyro_y (see twin.io.imu); the header is {header[:12]}")
    for (name, kind), axes in channels.items():
        missing = [a for a in AXES if a not in axes]
        if missing:
            raise ReadError(f, f"sensor {name!r} has {kind} column(s) for {', '.join(sorted(axes))} "
                               f"but none for {', '.join(missing)}; an x/y/z triple is needed")
    if ignored:
        history.append(f"ignored {len(ignored)} column(s) that are not accelerometer/gyroscope: "
                       + ", ".join(ignored[:8]) + (" ..." if len(ignored) > 8 else ""))

    data: dict[str, np.ndarray] = {}
    for kind in ("acc", "gyro"):
        keys = [(s, kind) for s in sensors if (s, kind) in channels]
        if not keys:
            continue
        arr = np.full((cells.shape[0], len(sensors), 3), np.nan)
        for s, _ in keys:
            cols = [channels[(s, kind)][a] for a in AXES]
            block = cells[:, cols]
            for j, c in enumerate(cols):
                arr[:, sensors.index(s), j] = _numbers(block[:, j], f, header[c])
        data[kind] = arr
    n_nan = {k: int(np.isnan(v).any(-1).sum()) for k, v in data.items()}
    for kind, arr in data.items():
        if np.isinf(arr).any():
            raise ReadError(f, f"{kind} columns hold infinite values; fix or remove those rows")

    if "acc" in data:
        factor, line = _acc_factor(f, data["acc"], sensors, channels, units, acc_units)
        data["acc"] = data["acc"] * factor
        history.append(line)
    if "gyro" in data:
        factor, line = _gyro_factor(f, data["gyro"], data.get("acc"), sensors, channels, units, gyro_units)
        data["gyro"] = data["gyro"] * factor
        history.append(line)
    for kind, n in n_nan.items():
        if n:
            history.append(f"{n} {kind} sample(s) (sensor-rows) with missing values kept as NaN")

    ds = recording(time, source=str(f), rate=rate if rate is not None else estimate_rate(time), history="")
    ds = ds.assign_coords(sensor=sensors, axis=list(AXES))
    frame_note = "sensor frame: x, y, z are each sensor's own axes (not the OpenSim global frame)"
    for kind, var in (("acc", "imu_acc"), ("gyro", "imu_gyro")):
        if kind not in data:
            history.append(f"no {'accelerometer' if kind == 'acc' else 'gyroscope'} columns: {var} absent")
            continue
        if not np.isfinite(data[kind]).any():
            raise ReadError(f, f"every {kind} value is missing; nothing to read")
        missing_sensors = [s for s in sensors if (s, kind) not in channels]
        if missing_sensors:
            history.append(f"{var}: no {kind} columns for sensor(s) {', '.join(missing_sensors)}: NaN")
        ds[var] = xr.DataArray(data[kind], dims=("time", "sensor", "axis"),
                               attrs={"units": VARIABLES[var][1], "long_name": VARIABLES[var][2],
                                      "frame": frame_note})
    ds.attrs.update(history="\n".join(history), imu_frame="sensor")
    validate(ds)
    return ds


def _option_units(name: str, value: Any, table: dict[str, float]) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{name}={value!r} must be a str: 'auto' or one of {', '.join(table)}")
    if value == "auto":
        return value
    canonical = _canonical_unit(value)
    if canonical not in table:
        raise ParameterError(f"{name}={value!r} is not allowed; choose 'auto' or one of: {', '.join(table)}")
    return canonical


def _canonical_unit(text: str) -> str | None:
    key = text.strip().lower()
    return _UNIT_ALIASES.get(key) or _UNIT_ALIASES.get(key.replace(" ", ""))


def _split_unit(h: str) -> tuple[str, str | None]:
    m = _UNIT_RE.match(h)
    if m is None:
        return h.strip(), None
    return m.group("base").strip(), m.group("unit").strip()


def _time(f: Path, header: list[str], cells: np.ndarray, rate: float | None,
          history: list[str]) -> tuple[np.ndarray, set[int]]:
    used: set[int] = set()
    time = None
    counter = None
    for i, h in enumerate(header):
        base, unit = _split_unit(h)
        key = base.lower().replace(" ", "_")
        if key in _TIME and time is None:
            scale = _TIME[key]
            if unit is not None:
                if unit.lower() not in _TIME_UNITS:
                    raise ReadError(f, f"column {h!r}: time unit {unit!r} unknown (use s or ms)")
                scale = _TIME_UNITS[unit.lower()]
            values = _numbers(cells[:, i], f, h)
            if scale is None:
                steps = np.diff(values[np.isfinite(values)])
                scale = 1e-3 if steps.size and np.median(np.abs(steps)) >= 1.0 else 1.0
                if scale == 1e-3:
                    history.append(f"column {h!r} steps by >= 1: taken as milliseconds")
            time = check_time(values * scale, f, column=h)
            used.add(i)
            history.append(f"time from column {h!r}" + (f" (x {scale:g} s)" if scale != 1.0 else " [s]"))
        elif key in _COUNTER and counter is None:
            counter = (i, h)
            used.add(i)
    if time is not None:
        if rate is not None:
            est = estimate_rate(time)
            if np.isfinite(est) and abs(est - rate) > 0.01 * rate:
                history.append(f"rate={rate:g} Hz given; the time column steps at {est:.4g} Hz")
        return time, used
    if rate is None:
        raise ParameterError(f"{f}: no time column (time, timestamp, time_ms, SampleTimeFine); pass rate= "
                             "(the sampling rate in Hz) to read_imu_csv")
    if counter is not None:
        i, h = counter
        values = _numbers(cells[:, i], f, h)
        time = check_time((values - values[0]) / rate if np.isfinite(values[0]) else values, f, column=h)
        history.append(f"time = ({h} - first {h}) / {rate:g} Hz")
    else:
        time = np.arange(cells.shape[0]) / rate
        history.append(f"no time column: time = row / {rate:g} Hz")
    return time, used


def _declared(f: Path, kind: str, sensors: list[str], channels, units, table) -> str | None:
    declared = set()
    for s in sensors:
        for a, u in units.get((s, kind), {}).items():
            if u is None:
                continue
            canonical = _canonical_unit(u)
            if canonical not in table:
                raise ReadError(f, f"unit {u!r} of a {kind} column (sensor {s!r}, axis {a}) is unknown; "
                                   f"expected one of {', '.join(table)} (or pass {kind}_units=)")
            declared.add(canonical)
    if len(declared) > 1:
        raise ReadError(f, f"{kind} columns declare different units ({', '.join(sorted(declared))}); "
                           "twin expects one unit per file")
    undeclared = any(u is None for s in sensors for u in units.get((s, kind), {}).values())
    if declared and undeclared:
        raise ReadError(f, f"some {kind} columns declare a unit and others do not; pass {kind}_units=")
    return declared.pop() if declared else None


def _acc_factor(f, acc, sensors, channels, units, option) -> tuple[float, str]:
    declared = _declared(f, "acc", sensors, channels, units, _ACC_UNITS)
    if option != "auto":
        note = f" (the header says {declared})" if declared and declared != option else ""
        if note:
            warnings.warn(f"{f}: acc_units={option!r} overrides the header's {declared!r}", TwinWarning, stacklevel=4)
        unit, how = option, f"acc_units={option!r} given{note}"
    elif declared is not None:
        unit, how = declared, "declared in the header"
    else:
        norms = np.linalg.norm(acc, axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(norms, axis=0)
        med = med[np.isfinite(med)]
        if med.size == 0:
            raise ReadError(f, "no complete acceleration sample to detect its unit from; pass acc_units=")
        guesses = {_acc_guess(m) for m in med}
        if None in guesses or len(guesses) > 1:
            raise ReadError(
                f, "cannot tell the acceleration unit: the median |a| per sensor is "
                   + ", ".join(f"{m:.3g}" for m in med)
                   + " (expected ~1 for g, ~9.81 for m/s^2, ~1000 for mg); pass acc_units=")
        unit = guesses.pop()
        how = "auto-detected from the median |a| per sensor (" + ", ".join(f"{m:.3g}" for m in med) + ")"
    factor = _ACC_UNITS[unit]
    line = f"acceleration in {unit} ({how})" + (f": converted to m/s^2 (x {factor:g})" if factor != 1 else "")
    return factor, line


def _acc_guess(m: float) -> str | None:
    if 0.5 <= m <= 2.0:
        return "g"
    if 5.0 <= m <= 20.0:
        return "m/s^2"
    if 500.0 <= m <= 2000.0:
        return "mg"
    return None


def _gyro_factor(f, gyro, acc_ms2, sensors, channels, units, option) -> tuple[float, str]:
    declared = _declared(f, "gyro", sensors, channels, units, _GYRO_UNITS)
    if option != "auto":
        note = f" (the header says {declared})" if declared and declared != option else ""
        if note:
            warnings.warn(f"{f}: gyro_units={option!r} overrides the header's {declared!r}", TwinWarning,
                          stacklevel=4)
        unit, how = option, f"gyro_units={option!r} given{note}"
    elif declared is not None:
        unit, how = declared, "declared in the header"
    else:
        norms = np.linalg.norm(gyro, axis=-1)
        norms = norms[np.isfinite(norms)]
        if norms.size == 0:
            raise ReadError(f, "no complete angular-rate sample to detect its unit from; pass gyro_units=")
        p99 = float(np.percentile(norms, 99))
        moving = None
        if acc_ms2 is not None:
            a = np.linalg.norm(acc_ms2, axis=-1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                spread = np.nanstd(a, axis=0)
            spread = spread[np.isfinite(spread)]
            moving = bool(spread.size) and bool(np.max(spread) >= 0.05 * G)
        if p99 >= 20.0:
            unit, why = "deg/s", f"99th percentile |w| = {p99:.3g} >= 20"
        elif moving:
            unit, why = "rad/s", f"99th percentile |w| = {p99:.3g} < 20 while the accelerometers show movement"
        elif moving is False and p99 <= 0.2:
            unit, why = "rad/s", f"at rest, 99th percentile |w| = {p99:.3g} <= 0.2"
        elif moving is False:
            unit, why = "deg/s", f"at rest, 99th percentile |w| = {p99:.3g} > 0.2"
        else:
            raise ReadError(f, f"cannot tell the angular-rate unit (99th percentile |w| = {p99:.3g}, no "
                               "accelerometer to tell movement from rest); pass gyro_units='rad/s' or 'deg/s'")
        how = f"auto-detected: {why}"
    factor = _GYRO_UNITS[unit]
    line = f"angular rate in {unit} ({how})" + (f": converted to rad/s (x {factor:.6g})" if factor != 1 else "")
    return factor, line
