"""C3D reader: markers, analog channels, EMG, force platforms and events.

:func:`read_c3d` reads a C3D file with `ezc3d <https://github.com/pyomeca/ezc3d>`_
and returns a Recording Dataset (see :mod:`twin.schema`) in SI units and
OpenSim axes (X forward, Y up, Z right).

What the reader does, in order (each step is written to ``attrs["history"]``):

1. **Pre-validation.** ezc3d is C++ and can crash the interpreter or run
   out of memory on corrupt input, so the header and the whole parameter
   section are walked in Python first (:func:`_prescan`): the ``0x50`` key,
   the processor type, every parameter record (type, dimensions, sizes,
   links), the parameters ezc3d indexes without checking (``POINT:USED``,
   ``ANALOG:SCALE``...), and the data size announced by the header and the
   parameters against the file size. Anything wrong raises
   :class:`~twin.errors.FormatError` (not a C3D) or
   :class:`~twin.errors.ReadError` (truncated, corrupt, zero frames); an
   exception from ezc3d itself becomes a ``ReadError`` too.
2. **Time.** ``time[i] = (F - 1 + i) / rate`` where ``F`` is the file's
   1-based first frame number (header word 4) and ``rate`` is
   ``POINT:RATE``: time follows the C3D frame numbering, so that the times
   of ``EVENT:TIMES`` (Vicon Nexus, Qualisys) need no shift. Analog samples
   start at the same instant: ``analog_time[k] = time[0] + k / analog_rate``.
3. **Markers.** POINT data, minus the model outputs that the POINT group
   lists as non-positions (``ANGLES``, ``FORCES``, ``MOMENTS``, ``POWERS``,
   ``SCALARS``, ``REACTIONS`` and any other name in ``POINT:TYPE_GROUPS``;
   ``MODELED_MARKERS`` such as joint centres are positions and are kept).
   A residual < 0 or an exact (0, 0, 0) means "not seen" and becomes NaN;
   labels are stripped (and a single subject's ``Name:`` prefix removed
   when ``SUBJECTS:USES_PREFIXES`` is set), empty labels become
   ``point<N>`` and duplicates get ``_2``, ``_3``... suffixes. Positions are
   converted to metres with ``POINT:UNITS``, rotated into OpenSim axes
   (:func:`twin.io._common.to_opensim_axes`; the lab's vertical axis is
   guessed from the marker spread with ``up="auto"``, C3D files are
   usually Z-up) and gaps are handled by
   :func:`twin.io._common.handle_gaps`.
4. **Analogs.** ``analog(analog_time, channel)`` with the ``channel_units``
   coord from ``ANALOG:UNITS`` (``"unknown"`` where the file gives none).
   ezc3d has already applied ``(raw - ANALOG:OFFSET) * ANALOG:SCALE *
   ANALOG:GEN_SCALE``. Channels whose label says EMG or names a muscle,
   and whose unit is a voltage, are also copied to ``emg(analog_time,
   muscle)`` in V.
5. **Force platforms** (types 1, 2, 3 and 4) are computed from the analog
   channels with ``FORCE_PLATFORM:CHANNEL``, ``CORNERS``, ``ORIGIN`` and
   ``CAL_MATRIX``, the same equations as ezc3d's force-platform module
   (checked against it in the tests) but vectorised. A baseline range in
   ``FORCE_PLATFORM:ZERO`` (first <= last, both >= 1) is subtracted from the
   plate channels first. ``grf`` is the force of the ground on the subject
   (vertical component positive upward during stance; a plate whose largest
   vertical load comes out negative has its force and free moment flipped,
   with a warning), ``cop`` the centre of pressure and ``free_moment`` the
   moment about the plate normal at the COP, all in the lab (global) frame
   rotated into OpenSim axes, on ``analog_time``, one ``plate`` ("1", "2",
   ...) per platform. Where the vertical force is below ``threshold`` the
   COP (and so the free moment) is undefined and set to NaN; the variable
   attrs and the history say so and how many samples that concerns.
6. **Events** from ``EVENT:LABELS/CONTEXTS/TIMES`` (the first
   ``EVENT:USED``; the header's event block when there is no EVENT group)
   become ``event_time(event)`` with ``event_label`` (``"foot_strike"`` for
   "Foot Strike" and the usual abbreviations LHS/RHS/LFS/RFS/LIC/RIC,
   ``"foot_off"`` for "Foot Off", LTO/RTO/LFO/RFO; otherwise the file's
   label) and ``event_side`` (``"left"``, ``"right"`` or ``""``). Event
   times are on the same clock as ``time``. Files without events have no
   ``event_time`` variable.
7. **Subject.** ``subject_mass`` [kg] and ``subject_height`` [m] from
   ``PROCESSING:Bodymass/Height`` or ``SUBJECT(S):WEIGHT/MASS/HEIGHT``
   (heights in mm or cm are converted).

Examples
--------
>>> from twin.io import read_c3d
>>> ds = read_c3d("walk.c3d")                                   # doctest: +SKIP
>>> ds.grf.sel(plate="1", axis="y").max()                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import schema
from ..errors import FormatError, ParameterError, ReadError, TwinError, TwinWarning, check_param
from ._common import LENGTH_TO_M, check_file, handle_gaps, length_factor, resolve_up, to_opensim_axes

__all__ = ["read_c3d"]

#: default vertical-force threshold [N] below which the COP is undefined (NaN)
DEFAULT_THRESHOLD = 20.0

_PROCESSORS = {84: "Intel", 85: "DEC", 86: "MIPS"}
#: POINT parameters that list labels of non-position points (model outputs)
_NON_MARKER_GROUPS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS")
#: parameters ezc3d indexes with [0] without checking that they hold a value
_SCALAR_PARAMS = {
    "POINT": ("USED", "FRAMES", "RATE", "SCALE", "DATA_START"),
    "ANALOG": ("USED", "RATE", "GEN_SCALE"),
    "ROTATION": ("USED", "DATA_START", "RATIO", "RATE"),
}
_MAX_RECORDS = 200_000

_VOLT = {"v": 1.0, "volt": 1.0, "volts": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6}
_FORCE = {"n": 1.0, "nt": 1.0, "newton": 1.0, "newtons": 1.0, "kn": 1e3}
_MUSCLE_WORDS = (
    "rectus", "vastus", "vaste", "vastlat", "vastmed", "biceps", "semitendinosus", "semitend", "semimembranosus",
    "semimem", "gastrocnemius", "gastroc", "gastrocnemio", "soleus", "sol", "tibialis", "tibant", "peroneus",
    "peroneal", "peroneo", "fibularis", "gluteus", "glut", "gmax", "gmed", "ischio", "hamstring", "hamstrings",
    "jum", "jumeau", "adductor", "adductors", "sartorius", "gracilis", "tfl", "erector", "iliacus", "psoas",
    "iliopsoas", "quadriceps", "deltoid", "trapezius", "triceps", "extensor", "flexor", "femoris", "medialis",
    "lateralis",
)
_MUSCLE_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted(_MUSCLE_WORDS, key=len, reverse=True)) + r")(?![a-z])")
_EVENT_ABBREV = re.compile(r"([lr])[ _.-]?(hs|fs|ic|to|fo)")
_EVENT_NAMES = {
    "foot strike": "foot_strike", "foot_strike": "foot_strike", "footstrike": "foot_strike",
    "heel strike": "foot_strike", "initial contact": "foot_strike",
    "foot off": "foot_off", "foot_off": "foot_off", "footoff": "foot_off", "toe off": "foot_off",
}


# --------------------------------------------------------------------------- public


def read_c3d(
    path: str | os.PathLike,
    *,
    up: str = "auto",
    gaps: str = "fill",
    max_gap: float = 0.1,
    markers: Sequence[str] | None = None,
    analogs: bool = True,
    force_plates: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
) -> xr.Dataset:
    """Read a C3D file into a Recording Dataset.

    Parameters
    ----------
    path : str or path-like
        The ``.c3d`` file.
    up : {"auto", "x", "y", "z"}, default "auto"
        The lab's vertical axis. ``"auto"`` guesses it from the marker
        spread (the axis along which markers spread most at one instant);
        without markers it assumes ``"z"``, the usual C3D convention.
    gaps : {"fill", "keep", "raise"}, default "fill"
        Marker gap policy, see :func:`twin.io._common.handle_gaps`.
    max_gap : float, default 0.1
        Longest marker gap [s] that ``gaps="fill"`` interpolates.
    markers : sequence of str, optional
        Keep only these markers (cleaned labels, in this order). Default: all.
    analogs : bool, default True
        Add ``analog`` (all channels) and ``emg`` (EMG channels, V).
    force_plates : bool, default True
        Add ``grf``, ``cop`` and ``free_moment`` for each force platform.
    threshold : float, default 20.0
        Vertical force [N] below which the centre of pressure and the free
        moment are undefined and set to NaN (the force itself is kept). 20 N
        is above the noise of lab force plates and below the load of any
        foot contact; the NaN samples are counted in ``attrs["history"]`` and
        described in the ``nan_policy`` attr of ``cop`` and ``free_moment``.

    Returns
    -------
    xarray.Dataset
        ``attrs["kind"] == "recording"``; see the module docstring for the
        variables, units, time origin and frame conventions.

    Raises
    ------
    FormatError
        The file is not a C3D file.
    ReadError
        The file is truncated, corrupt, has no frames, or ezc3d failed.
    ParameterError
        An option is out of range, or ``markers`` names labels the file lacks.
    DataError
        ``gaps="raise"`` and a marker has a gap.

    Examples
    --------
    >>> ds = read_c3d("walk.c3d", gaps="keep", analogs=False)    # doctest: +SKIP
    >>> ds.markers.sel(marker="RHEE")                            # doctest: +SKIP
    """
    check_param("up", up, choices=("x", "y", "z", "auto"))
    check_param("gaps", gaps, choices=("fill", "keep", "raise"))
    check_param("max_gap", max_gap, minimum=0.0, types=(int, float))
    check_param("threshold", threshold, minimum=0.0, types=(int, float))
    check_param("analogs", analogs, types=bool)
    check_param("force_plates", force_plates, types=bool)
    if markers is not None:
        if isinstance(markers, str) or not isinstance(markers, (list, tuple)) or not all(
            isinstance(m, str) for m in markers
        ):
            raise ParameterError(f"markers={markers!r} must be a list of marker names (str), e.g. ['RHEE', 'LHEE']")
        markers = list(markers)
    p = check_file(path)
    layout = _prescan(p)
    c = _load(p)
    history: list[str] = []
    try:
        return _build(p, c, layout, history, up=up, gaps=gaps, max_gap=float(max_gap), markers=markers,
                      analogs=analogs, force_plates=force_plates, threshold=float(threshold))
    except TwinError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as err:
        raise ReadError(p, f"inconsistent C3D content ({type(err).__name__}: {err}); the file is corrupt") from None


# --------------------------------------------------------------------------- pre-validation


class _Layout:
    """What the pre-scan learnt about the file (sizes and header events)."""

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)


def _prescan(path: Path) -> _Layout:
    """Validate the header and parameter section of a C3D file before ezc3d sees it.

    Walks every parameter record the way ezc3d does, rejecting what would
    make ezc3d crash, hang or over-allocate, then checks that the data the
    header and parameters announce fits in the file.

    Raises
    ------
    FormatError
        Not a C3D file (no 0x50 key, unknown processor type).
    ReadError
        Truncated or corrupt file, or no frames.
    """
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as err:
        raise ReadError(path, f"cannot be read ({err})") from None
    try:
        return _scan(path, buf, size)
    except struct.error:
        raise ReadError(path, "ends in the middle of the parameter section; the file is truncated") from None
    finally:
        buf.close()


def _scan(path: Path, buf: Any, size: int) -> _Layout:
    if size < 2 or buf[1] != 0x50:
        raise FormatError(
            path,
            "is not a C3D file: its second byte is not the C3D key 0x50; check that this is a C3D export "
            "(not a renamed TRC/CSV or another binary format)",
        )
    block = buf[0]
    if block < 2:
        raise FormatError(path, f"is not a valid C3D file: the header points to parameter block {block} (must be >= 2)")
    if size < 512:
        raise ReadError(path, f"is only {size} bytes, shorter than the 512-byte C3D header; the file is truncated")
    p0 = 512 * (block - 1)
    if p0 + 4 > size:
        raise FormatError(
            path, f"is not a C3D file, or a truncated one: its header points to a parameter section at block {block} "
            f"(byte {p0}), beyond the end of the file ({size} bytes)"
        )
    proc = buf[p0 + 3]
    if proc not in _PROCESSORS:
        raise FormatError(
            path, f"is not a valid C3D file: processor type {proc} is not 84 (Intel), 85 (DEC) or 86 (MIPS)"
        )
    end = ">" if proc == 86 else "<"
    u16 = struct.Struct(end + "H")

    def word(offset: int) -> int:
        return u16.unpack_from(buf, offset)[0]

    def real(offset: int) -> float:
        return _float(bytes(buf[offset : offset + 4]), proc)

    # ---- parameter section header (mirrors ezc3d, including its Qualisys patch)
    start, check = _int8(buf[p0]), buf[p0 + 1]
    if start == 0 and check == 0:
        start, check = 1, 0x50
    if check != 0x50 or start != 1:
        raise ReadError(
            path, f"the parameter section header (block {block}) is corrupt (key {check:#x}, start {start}); "
            "re-export the file"
        )
    # ---- walk the records
    groups: dict[int, str] = {}
    params: dict[tuple[int, str], tuple[int, tuple[int, ...], int]] = {}
    pos = p0 + 4
    for _ in range(_MAX_RECORDS):
        if pos + 2 > size:
            raise ReadError(path, f"the parameter section runs past the end of the file at byte {pos}; truncated")
        nchar = _int8(buf[pos])
        if nchar == 0:
            break
        gid = _int8(buf[pos + 1])
        if gid == 0:
            raise ReadError(path, f"parameter record at byte {pos} has group id 0; the parameter section is corrupt")
        name_end = pos + 2 + abs(nchar)
        if name_end + 3 > size:
            raise ReadError(path, f"the parameter section runs past the end of the file at byte {pos}; truncated")
        name = bytes(buf[pos + 2 : name_end]).split(b"\0")[0].decode("latin-1")
        offset = word(name_end)
        nxt = name_end + offset if offset else 0
        cur = name_end + 2
        if gid < 0:
            ndesc = _int8(buf[cur])
            if ndesc < 0:
                raise ReadError(path, f"group {name!r} has a negative description length; the parameter section is corrupt")
            cur += 1 + ndesc
            groups[-gid] = name
        else:
            ptype = _int8(buf[cur])
            ndims = _int8(buf[cur + 1])
            if ptype not in (-1, 1, 2, 4):
                raise ReadError(path, f"parameter {name!r} has an unknown data type {ptype}; the parameter section is corrupt")
            if ndims < 0 or (ndims == 0 and ptype == -1):
                raise ReadError(path, f"parameter {name!r} has an invalid dimension count {ndims}; the parameter section is corrupt")
            if cur + 2 + ndims > size:
                raise ReadError(path, "the parameter section runs past the end of the file; truncated")
            dims = tuple(buf[cur + 2 : cur + 2 + ndims])
            count = math.prod(dims) if ndims else 1
            nbytes = count * abs(ptype)
            data_at = cur + 2 + ndims
            if data_at + nbytes + 1 > size:
                raise ReadError(
                    path, f"parameter {name!r} announces {nbytes} bytes of values that run past the end of the file; "
                    "the file is truncated or its parameter section corrupt"
                )
            ndesc = _int8(buf[data_at + nbytes])
            if ndesc < 0:
                raise ReadError(path, f"parameter {name!r} has a negative description length; the parameter section is corrupt")
            cur = data_at + nbytes + 1 + ndesc
            params[(gid, name)] = (ptype, dims, data_at)
        if cur > size:
            raise ReadError(path, "the parameter section runs past the end of the file; the file is truncated")
        if nxt == 0:
            break
        if nxt != cur:
            raise ReadError(
                path, f"parameter record {name!r} at byte {pos} does not end where its link says ({cur} vs {nxt}); "
                "the parameter section is corrupt"
            )
        pos = nxt
    else:
        raise ReadError(path, f"the parameter section has more than {_MAX_RECORDS} records; it is corrupt")

    # ---- resolve group names the way ezc3d does (first group with that name)
    gid_of: dict[str, int] = {}
    for gid in sorted(groups):
        gid_of.setdefault(groups[gid], gid)

    def param(group: str, pname: str) -> tuple[int, tuple[int, ...], int] | None:
        gid = gid_of.get(group)
        return None if gid is None else params.get((gid, pname))

    def values(group: str, pname: str) -> list[float]:
        entry = param(group, pname)
        if entry is None:
            return []
        ptype, dims, at = entry
        count = math.prod(dims) if dims else 1
        if ptype == -1:
            return []
        if ptype == 1:
            return [float(_int8(b)) for b in buf[at : at + count]]
        if ptype == 2:
            return [float(v) for v in struct.unpack_from(f"{end}{count}h", buf, at)]
        return [_float(bytes(buf[at + 4 * k : at + 4 * k + 4]), proc) for k in range(count)]

    def count_of(group: str, pname: str) -> int:
        entry = param(group, pname)
        if entry is None:
            return 0
        dims = entry[1]
        if entry[0] == -1:
            return math.prod(dims[1:]) if len(dims) > 1 else (1 if dims and dims[0] else 0)
        return math.prod(dims) if dims else 1

    if "POINT" not in gid_of:
        raise ReadError(path, "has no POINT parameter group; it is not a complete C3D file")
    for group, names in _SCALAR_PARAMS.items():
        for pname in names:
            if param(group, pname) is not None and count_of(group, pname) < 1:
                raise ReadError(path, f"parameter {group}:{pname} is empty; the file is corrupt")

    def first(group: str, pname: str, default: float) -> float:
        v = values(group, pname)
        return v[0] if v else default

    n_points = int(first("POINT", "USED", word(2)))
    n_analogs = int(first("ANALOG", "USED", 0))
    point_rate = first("POINT", "RATE", real(20))
    analog_rate = first("ANALOG", "RATE", 0.0)
    for label, value in (("POINT:USED", n_points), ("ANALOG:USED", n_analogs)):
        if value < 0:
            raise ReadError(path, f"{label}={value} is negative; the file is corrupt")
    for label, value in (("POINT:RATE", point_rate), ("ANALOG:RATE", analog_rate)):
        if not math.isfinite(value) or value < 0:
            raise ReadError(path, f"{label}={value} is not a valid sampling rate; the file is corrupt")
    # analog samples per point frame, as ezc3d's updateHeader computes it
    apf = word(18)
    if int(point_rate) != 0 and int(analog_rate / point_rate) != apf:
        if not (apf == 1 and "SHADOW" in gid_of):
            apf = int(analog_rate / point_rate)
    if n_analogs > 0:
        for pname in ("SCALE", "OFFSET"):
            have = sum(count_of("ANALOG", pname + (str(k) if k > 1 else "")) for k in range(1, 10))
            if have < n_analogs and not ("SHADOW" in gid_of and have == 0):
                raise ReadError(
                    path, f"ANALOG:{pname} has {have} values for {n_analogs} channels (ANALOG:USED); the file is corrupt"
                )
    # frame count: POINT:FRAMES wins over the header (ezc3d's rule)
    first_h, last_h = word(6), word(8)
    first0 = first_h - 1 if first_h else 0
    last0 = last_h - 1 if (last_h and first_h) else last_h
    frames_param = int(first("POINT", "FRAMES", 0))
    if frames_param < 0:
        frames_param += 65536  # > 32767 frames written as a signed 16-bit integer
    if frames_param:
        n_frames = frames_param
    elif n_points == 0 and n_analogs == 0:
        n_frames = 0
    else:
        if last0 < first0:
            raise ReadError(
                path, f"the header's last frame ({last_h}) precedes its first frame ({first_h}) and POINT:FRAMES is "
                "absent; the file is corrupt"
            )
        n_frames = last0 - first0 + 1
    if n_frames == 0 or (n_points == 0 and n_analogs == 0):
        raise ReadError(path, "contains no frames (no point or analog data); there is nothing to read")
    data_start = word(16)
    if data_start <= block:
        raise ReadError(
            path, f"the header's data start block ({data_start}) is not after the parameter block ({block}); "
            "the file is corrupt"
        )
    is_float = real(12) < 0
    elem = 4 if is_float else 2
    frame_bytes = (4 * n_points + apf * n_analogs) * elem
    needed = 512 * (data_start - 1) + n_frames * frame_bytes
    if needed > size:
        have_frames = max(0, (size - 512 * (data_start - 1))) // frame_bytes if frame_bytes else 0
        raise ReadError(
            path, f"the header and parameters announce {n_frames} frames of {frame_bytes} bytes from block "
            f"{data_start} ({needed} bytes) but the file has {size} bytes (room for {have_frames} frames); "
            "the file is truncated"
        )
    if "ROTATION" in gid_of:
        r_start = int(first("ROTATION", "DATA_START", 0))
        r_used = int(first("ROTATION", "USED", 0))
        if param("ROTATION", "RATIO") is not None:
            r_ratio = first("ROTATION", "RATIO", 0)
        else:
            r_ratio = first("ROTATION", "RATE", 0) / point_rate if point_rate > 0 else -1
        if r_start < 1 or r_used < 0 or not math.isfinite(r_ratio) or r_ratio < 0:
            raise ReadError(path, "the ROTATION group is inconsistent (DATA_START/USED/RATIO); the file is corrupt")
        if 512 * (r_start - 1) + n_frames * int(r_ratio) * r_used * 16 * 4 > size:
            raise ReadError(path, "the rotation data announced by the ROTATION group runs past the end of the file; truncated")
    # ---- header events (legacy block), used only when there is no EVENT group
    header_events: list[tuple[float, str]] = []
    n_ev = word(300)
    if word(298) == 0x3039 and 0 < n_ev <= 18:  # 0x3039: "4-character event labels present"
        for k in range(n_ev):
            t = real(304 + 4 * k)
            label = bytes(buf[396 + 4 * k : 400 + 4 * k]).split(b"\0")[0].decode("latin-1").strip()
            if math.isfinite(t) and label:
                header_events.append((t, label))
    return _Layout(
        processor=_PROCESSORS[proc],
        n_frames=n_frames,
        n_points=n_points,
        n_analogs=n_analogs,
        analog_per_frame=apf,
        is_float=is_float,
        first_frame=first_h,
        header_events=header_events,
    )


def _int8(b: int) -> int:
    return b - 256 if b > 127 else b


def _float(b: bytes, proc: int) -> float:
    """One 32-bit float of the given C3D processor type (DEC floats as ezc3d converts them)."""
    if proc == 84:
        return struct.unpack("<f", b)[0]
    if proc == 86:
        return struct.unpack(">f", b)[0]
    hi = b[1] - 1 if b[1] != 0 else b[1]
    return struct.unpack("<f", bytes((b[2], b[3], b[0], hi & 0xFF)))[0]


def _load(path: Path) -> Any:
    """``ezc3d.c3d(path)``, with any exception turned into a ReadError."""
    try:
        import ezc3d
    except ImportError as err:  # pragma: no cover - ezc3d is a dependency
        raise ReadError(path, f"reading C3D files needs ezc3d ({err}); install it with 'pip install ezc3d'") from None
    try:
        # What ezc3d.c3d(path) does, less what twin does not use (camera masks, rotations, the
        # other header blocks): the same C++ reader and the same parameter dict.
        swig = ezc3d.ezc3d.c3d(str(path), ezc3d.ezc3d.Options())
        h = swig.header()
        return {
            "header": {"points": {"frame_rate": h.frameRate(), "first_frame": h.firstFrame(),
                                  "last_frame": h.lastFrame(), "size": h.nb3dPoints()}},
            "parameters": ezc3d.c3d.Parameters(swig.parameters()),
            "data": {"points": swig.get_points(), "meta_points": {"residuals": swig.get_point_residuals()},
                     "analogs": swig.get_analogs()},
        }
    except MemoryError:
        raise ReadError(path, "ezc3d ran out of memory reading it; the file is corrupt or announces absurd sizes") from None
    except Exception as err:  # noqa: BLE001 - ezc3d raises bare RuntimeError/ValueError/IOError
        raise ReadError(path, f"ezc3d could not read it ({type(err).__name__}: {err}); the file is corrupt") from None


# --------------------------------------------------------------------------- parameters


def _group(c: Any, name: str) -> dict:
    params = c["parameters"]
    return params[name] if name in params else {}


def _value(group: dict, name: str) -> Any:
    entry = group.get(name)
    if not isinstance(entry, dict) or "value" not in entry:
        return None
    return entry["value"]


def _strings(group: dict, name: str) -> list[str]:
    """A CHAR parameter as cleaned strings, continued by NAME2, NAME3... (long label lists)."""
    out: list[str] = []
    for k in range(1, 100):
        v = _value(group, name if k == 1 else f"{name}{k}")
        if v is None:
            break
        if isinstance(v, str):
            v = [v]
        out.extend(_clean(s) for s in v if isinstance(s, str))
    return out


def _numbers(group: dict, name: str) -> np.ndarray:
    v = _value(group, name)
    if v is None or isinstance(v, (list, str)):
        return np.zeros(0)
    return np.asarray(v, dtype=float)


def _scalar(group: dict, name: str) -> float | None:
    v = _numbers(group, name).ravel()
    return float(v[0]) if v.size and math.isfinite(float(v[0])) else None


def _clean(text: str) -> str:
    """Strip a label; bytes ezc3d could not decode (surrogates) are read as Latin-1 (e.g. 'mm/s²')."""
    if text.isprintable():
        return text.strip()
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("latin-1")
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _unique(names: list[str], fallback: str) -> tuple[list[str], list[str]]:
    """Fill empty names and make duplicates unique; returns (names, notes)."""
    seen: dict[str, int] = {}
    out, notes = [], []
    taken = set(names)
    for i, n in enumerate(names):
        if not n:
            n = f"{fallback}{i + 1}"
            notes.append(f"#{i + 1} (empty) -> {n}")
        if n in seen:
            k = seen[n] + 1
            while f"{n}_{k}" in taken:
                k += 1
            seen[n] = k
            new = f"{n}_{k}"
            taken.add(new)
            notes.append(f"{n} -> {new}")
            n = new
        else:
            seen[n] = 1
        out.append(n)
    return out, notes


# --------------------------------------------------------------------------- build


def _build(
    p: Path, c: Any, layout: _Layout, history: list[str], *, up: str, gaps: str, max_gap: float,
    markers: list[str] | None, analogs: bool, force_plates: bool, threshold: float,
) -> xr.Dataset:
    point = _group(c, "POINT")
    pts = np.asarray(c["data"]["points"], dtype=float)
    res = np.asarray(c["data"]["meta_points"]["residuals"], dtype=float)
    ana = np.asarray(c["data"]["analogs"], dtype=float)
    header = c["header"]["points"]
    n_frames = pts.shape[2] if pts.ndim == 3 else 0
    n_channels = ana.shape[1] if ana.ndim == 3 else 0
    n_samples = ana.shape[2] if ana.ndim == 3 and n_channels else 0
    if n_frames == 0 and n_samples:
        n_frames = n_samples // max(layout.analog_per_frame, 1)
    if n_frames == 0:
        raise ReadError(p, "contains no frames; there is nothing to read")
    if n_frames != layout.n_frames:
        raise ReadError(
            p, f"ezc3d read {n_frames} frames where the header and parameters announce {layout.n_frames}; "
            "the file is truncated or corrupt"
        )
    rate = _scalar(point, "RATE") or float(header["frame_rate"])
    if not (math.isfinite(rate) and rate > 0):
        raise ReadError(p, f"POINT:RATE={rate} is not a positive sampling rate; fix the file's POINT:RATE")
    first0 = int(header["first_frame"])
    t0 = first0 / rate
    time = t0 + np.arange(n_frames) / rate
    import ezc3d

    software = " ".join(_strings(_group(c, "MANUFACTURER"), "SOFTWARE") or _strings(_group(c, "MANUFACTURER"), "Software"))
    history.append(
        f"read C3D {p.name} ({layout.processor} {'float' if layout.is_float else 'integer'} format"
        + (f", written by {software}" if software else "")
        + f") with ezc3d {getattr(ezc3d, '__version__', '?')}: {pts.shape[1]} points, {n_frames} frames at {rate:g} Hz, "
        f"{n_channels} analog channels"
    )
    history.append(
        f"time = (first_frame - 1 + i) / rate: C3D frame numbering, first frame {first0 + 1} -> t0 = {t0:.6g} s "
        "(event times use the same clock)"
    )
    attrs: dict[str, Any] = {}

    # ---- markers
    marker_xyz, marker_names = _markers(p, c, pts, res, history, markers)
    if marker_xyz is not None:
        units = (_strings(point, "UNITS") or [""])[0]
        if not units:
            units = "mm"
            history.append("POINT:UNITS missing: assumed mm (ezc3d's default)")
            warnings.warn(f"{p}: POINT:UNITS is missing; marker positions assumed in mm", TwinWarning, stacklevel=3)
        lf = length_factor(units, p, field="POINT:UNITS")
        if lf != 1.0:
            marker_xyz *= lf
            history.append(f"markers: POINT:UNITS {units!r} -> m (x{lf:g})")
    else:
        units = (_strings(point, "UNITS") or ["mm"])[0] or "mm"
        lf = length_factor(units, p, field="POINT:UNITS")
    up_axis = resolve_up(up, marker_xyz, "z")
    how = "given by up=" if up != "auto" else (
        "guessed from the marker spread" if marker_xyz is not None and marker_xyz.shape[1] >= 3 else "assumed (no markers)"
    )
    history.append(
        f"axes: lab vertical axis {up_axis!r} ({how}); rotated into OpenSim axes (X forward, Y up, Z right): "
        + {"z": "X=X, Y=Z, Z=-Y", "y": "unchanged", "x": "X=Y, Y=X, Z=-Z"}[up_axis]
        + "; the walking direction is not changed"
    )
    if marker_xyz is not None:
        marker_xyz = to_opensim_axes(marker_xyz, up_axis)
        marker_xyz, marker_names, gap_lines = handle_gaps(
            marker_xyz, marker_names, time, p, gaps=gaps, max_gap=max_gap
        )
        history.extend(f"markers: {line}" for line in gap_lines)
        if marker_xyz.size == 0 or not np.isfinite(marker_xyz).any():
            history.append("markers: no marker has any data; 'markers' omitted")
            warnings.warn(f"{p}: no marker has any data; the Dataset has no 'markers'", TwinWarning, stacklevel=3)
            marker_xyz = None

    # ---- analogs / force plates
    analog_rate = None
    analog_time = None
    if n_samples:
        apf = n_samples // n_frames
        analog_rate = apf * rate
        declared = _scalar(_group(c, "ANALOG"), "RATE")
        if declared and abs(declared - analog_rate) > 1e-6 * analog_rate:
            history.append(f"ANALOG:RATE={declared:g} Hz disagrees with {apf} samples per frame; used {analog_rate:g} Hz")
        analog_time = t0 + np.arange(n_samples) / analog_rate
    plates = None
    if force_plates and n_samples:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            plates = _force_plates(p, c, ana[0], apf, lf, up_axis, threshold, history)
    parts: dict = {"vars": {}, "coords": {}}
    if plates is not None:
        for name in ("cop", "free_moment"):
            if not np.isfinite(plates[name]).any():
                plates[name] = None
                history.append(f"force plates: {name} omitted: no plate is loaded above threshold={threshold:g} N")
        parts["coords"]["plate_type"] = ("plate", plates["types"])
    if analogs and n_samples:
        _add_analogs(parts, c, ana[0], history)
    _add_events(parts, c, layout, p, history)
    ds = schema.recording(
        time,
        markers=marker_xyz,
        marker_names=marker_names if marker_xyz is not None else None,
        analog_time=analog_time,
        grf=None if plates is None else plates["grf"],
        cop=None if plates is None else plates["cop"],
        free_moment=None if plates is None else plates["free_moment"],
        plates=None if plates is None else plates["names"],
        source=str(p),
        rate=rate,
        analog_rate=analog_rate,
        extra_vars=parts["vars"],
        extra_coords=parts["coords"],
    )
    if plates is not None:
        for name in ("cop", "free_moment"):
            if name in ds:
                ds[name].attrs["nan_policy"] = (
                    f"NaN where the vertical force is below threshold={threshold:g} N "
                    "(centre of pressure undefined without foot contact)"
                )
                ds[name].attrs["threshold"] = threshold
        ds["grf"].attrs["convention"] = "force of the ground on the subject; vertical (y) positive upward"
        ds["grf"].attrs["frame"] = "global (lab) frame rotated into OpenSim axes"
    attrs.update(_subject(c, history))
    ds.attrs.update(attrs)
    ds.attrs["c3d_first_frame"] = first0 + 1
    ds.attrs["history"] = "\n".join(history)
    schema.validate(ds)
    return ds


def _markers(
    p: Path, c: Any, pts: np.ndarray, res: np.ndarray, history: list[str], wanted: list[str] | None
) -> tuple[np.ndarray | None, list[str]]:
    """Select the marker points, mark missing samples NaN; returns (n_time, n_marker, 3) in file units."""
    point = _group(c, "POINT")
    n = pts.shape[1] if pts.ndim == 3 else 0
    if n == 0:
        if wanted:
            raise ParameterError(f"markers={wanted!r}: {p} has no POINT data")
        return None, []
    labels = _strings(point, "LABELS")[:n]
    labels += [""] * (n - len(labels))
    subjects = _group(c, "SUBJECTS")
    prefixes = _strings(subjects, "NAMES")
    if (_scalar(subjects, "USES_PREFIXES") or 0) > 0 and prefixes:
        stripped = 0
        for i, lab in enumerate(labels):
            for pre in prefixes:
                if pre and lab.startswith(pre + ":"):
                    labels[i] = lab[len(pre) + 1 :].strip()
                    stripped += 1
                    break
        if stripped:
            history.append(f"markers: removed subject prefixes ({', '.join(prefixes)}:) from {stripped} labels")
    non_marker: set[str] = set()
    type_params = list(_NON_MARKER_GROUPS)
    tg = _strings(point, "TYPE_GROUPS")
    type_params += [g for g in tg[0::2] if g and g.upper() not in ("MODELED_MARKERS", "MODELLED_MARKERS")]
    for g in type_params:
        for lab in _strings(point, g):
            non_marker.add(lab)
            if ":" in lab:
                non_marker.add(lab.split(":", 1)[1].strip())
    type_params = [g for g in dict.fromkeys(type_params) if _strings(point, g)]
    keep = [i for i, lab in enumerate(labels) if not (lab and lab in non_marker)]
    kept = set(keep)
    skipped = [labels[i] for i in range(n) if i not in kept]
    if skipped:
        history.append(
            f"markers: skipped {len(skipped)} non-marker points listed in POINT:{'/'.join(type_params)} "
            f"(model outputs): {', '.join(skipped[:12])}{' ...' if len(skipped) > 12 else ''}"
        )
    names, notes = _unique([labels[i] for i in keep], "point")
    if notes:
        history.append("markers: labels made unique/non-empty: " + "; ".join(notes))
    if wanted is not None:
        index = {nm: k for k, nm in enumerate(names)}
        missing = [m for m in wanted if m not in index]
        if missing:
            raise ParameterError(
                f"markers: {p} has no marker(s) {missing}; it has: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''}"
            )
        sel = [index[m] for m in wanted]
        keep = [keep[k] for k in sel]
        names = list(wanted)
        history.append(f"markers: kept the {len(names)} requested markers")
    if not keep:
        return None, []
    xyz = np.ascontiguousarray(np.transpose(pts[:3, keep, :], (2, 1, 0)))  # (time, marker, 3)
    r = np.transpose(res[0, keep, :]) if res.ndim == 3 and res.shape[1] == n else np.zeros(xyz.shape[:2])
    missing = (r < 0) | np.all(xyz == 0.0, axis=2) | ~np.all(np.isfinite(xyz), axis=2)
    if missing.any():
        xyz[missing] = np.nan
        history.append(
            f"markers: {int(missing.sum())} marker-frames with residual < 0 or all-zero coordinates set to NaN (not seen)"
        )
    return xyz, names


def _unit_factor(unit: str, table: dict[str, float]) -> float | None:
    key = unit.strip().lower().replace(" ", "")
    return table.get(key)


def _moment_factor(unit: str, lf: float) -> tuple[float, bool]:
    """Factor from a moment unit to N m; (factor, recognised)."""
    key = unit.strip().lower().replace(" ", "").replace(".", "").replace("*", "").replace("·", "")
    for force in ("nt", "n"):
        if key.startswith(force):
            length = key[len(force):]
            if length in LENGTH_TO_M:
                return LENGTH_TO_M[length], True
    return lf, False


def _force_plates(
    p: Path, c: Any, ana: np.ndarray, apf: int, lf: float, up_axis: str, threshold: float, history: list[str]
) -> dict[str, Any] | None:
    """GRF, COP and free moment of every force platform, (n_samples, n_plate, 3) in OpenSim axes."""
    fp = _group(c, "FORCE_PLATFORM")
    used = int(_scalar(fp, "USED") or 0)
    if used <= 0:
        return None
    types = _numbers(fp, "TYPE").ravel().astype(int)
    corners_all = _numbers(fp, "CORNERS").ravel(order="F")
    origin_all = _numbers(fp, "ORIGIN").ravel(order="F")
    chan = _numbers(fp, "CHANNEL")
    cal = _numbers(fp, "CAL_MATRIX")
    zero = _numbers(fp, "ZERO").ravel()
    units = _strings(_group(c, "ANALOG"), "UNITS")
    n_ch, n_s = ana.shape
    vert = "xyz".index(up_axis)
    grf, cop, fm, names, kinds = [], [], [], [], []
    problems: list[str] = []
    notes: list[str] = []
    n_below = 0
    if zero.size >= 2 and 1 <= zero[0] <= zero[1]:
        z0, z1 = int((zero[0] - 1) * apf), int(zero[1] * apf)
        z1 = min(z1, n_s)
        zero_range = (z0, z1) if z1 > z0 else None
    else:
        zero_range = None
    for i in range(used):
        label = str(i + 1)
        t = int(types[i]) if i < types.size else -1
        nch = {1: 6, 2: 6, 3: 8, 4: 6}.get(t)
        if nch is None:
            problems.append(f"plate {label}: type {t} is not supported (types 1-4 are)")
            continue
        if corners_all.size < 12 * (i + 1) or origin_all.size < 3 * (i + 1):
            problems.append(f"plate {label}: FORCE_PLATFORM:CORNERS/ORIGIN too short")
            continue
        ch_flat = chan.ravel(order="F")
        rows = chan.shape[0] if chan.ndim >= 1 and chan.size else 0
        if chan.ndim == 1:
            rows = chan.size // max(used, 1)
        if rows < nch or ch_flat.size < rows * (i + 1):
            problems.append(f"plate {label}: FORCE_PLATFORM:CHANNEL does not list {nch} channels")
            continue
        ch = ch_flat[rows * i : rows * i + nch].astype(int) - 1
        if np.any(ch < 0) or np.any(ch >= n_ch):
            problems.append(f"plate {label}: FORCE_PLATFORM:CHANNEL refers to channels outside 1..{n_ch}")
            continue
        raw = ana[ch].astype(float)  # (nch, n_s)
        if zero_range is not None and t in (2, 3, 4):
            raw = raw - raw[:, zero_range[0] : zero_range[1]].mean(axis=1, keepdims=True)
        corners = corners_all[12 * i : 12 * i + 12].reshape(4, 3) * lf  # m
        origin = origin_all[3 * i : 3 * i + 3] * lf
        if t == 1:
            origin[:2] = 0.0
        if origin[2] > 0:
            origin = -origin
        ax = corners[0] - corners[1]
        ay = corners[0] - corners[3]
        az = np.cross(ax, ay)
        ay = np.cross(az, ax)
        norms = np.array([np.linalg.norm(ax), np.linalg.norm(ay), np.linalg.norm(az)])
        if not np.all(np.isfinite(norms)) or np.any(norms < 1e-9):
            problems.append(f"plate {label}: FORCE_PLATFORM:CORNERS are degenerate")
            continue
        rot = np.column_stack([ax / norms[0], ay / norms[1], az / norms[2]])  # plate -> lab
        centre = corners.mean(axis=0)
        fu = units[ch[0]] if ch[0] < len(units) else ""
        ffac = _unit_factor(fu, _FORCE)
        if ffac is None:
            notes.append(f"plate {label}: force channel unit {fu or '(none)'!r} is not a force unit; assumed N")
            ffac = 1.0
        if t in (2, 4):
            mu = units[ch[3]] if ch[3] < len(units) else ""
            mfac, ok = _moment_factor(mu, lf)
            if not ok:
                notes.append(f"plate {label}: moment unit {mu or '(none)'!r} not recognised; assumed N x POINT:UNITS")
            if t == 4:
                cal_flat = cal.ravel(order="F")
                if cal_flat.size >= 36 * (i + 1):
                    raw = cal_flat[36 * i : 36 * i + 36].reshape(6, 6, order="F") @ raw
                elif cal.size == 0:
                    notes.append(f"plate {label}: type 4 without CAL_MATRIX; identity used (as ezc3d)")
                else:
                    problems.append(f"plate {label}: FORCE_PLATFORM:CAL_MATRIX is too small for type 4")
                    continue
            force = raw[:3] * ffac
            moment = raw[3:6] * mfac
            moment = moment + np.cross(force, origin[:, None], axis=0)
        elif t == 3:
            a, b, h = origin
            c8 = raw * ffac
            force = np.vstack([c8[0] + c8[1], c8[2] + c8[3], c8[4] + c8[5] + c8[6] + c8[7]])
            moment = np.vstack([
                b * (c8[4] + c8[5] - c8[6] - c8[7]),
                a * (c8[5] + c8[6] - c8[4] - c8[7]),
                b * (c8[1] - c8[0]) + a * (c8[2] - c8[3]),
            ])
            moment = moment + np.cross(force, np.array([0.0, 0.0, h])[:, None], axis=0)
            if _value(fp, "FPCOPPOLY") is not None:
                notes.append(f"plate {label}: Kistler FPCOPPOLY COP correction not applied")
        if t == 1:
            force = raw[:3] * ffac
            pu = units[ch[3]] if ch[3] < len(units) else ""
            plf = LENGTH_TO_M.get(pu.strip().lower(), lf)
            cop_p = np.vstack([raw[3] * plf, raw[4] * plf, np.zeros(n_s)])
            tu = units[ch[5]] if ch[5] < len(units) else ""
            tz = raw[5] * _moment_factor(tu, lf)[0]
        else:
            cop_p = np.vstack([-moment[1] / force[2], moment[0] / force[2], np.zeros(n_s)])
            tz = moment[2] - (cop_p[0] * force[1] - cop_p[1] * force[0])
        f_lab = rot @ force
        cop_lab = rot @ cop_p + centre[:, None]
        t_lab = rot @ np.vstack([np.zeros(n_s), np.zeros(n_s), tz])
        fv = f_lab[vert]
        finite = np.isfinite(fv)
        if finite.any():
            neg, pos = -float(np.nanmin(fv)), float(np.nanmax(fv))
            if neg > max(3.0 * pos, 5.0 * threshold, 50.0):
                f_lab, t_lab, fv = -f_lab, -t_lab, -fv
                msg = (f"plate {label}: the vertical force was negative under load (peak {-neg:.0f} N): the file stores "
                       "the force of the subject on the plate; sign flipped to the ground reaction")
                notes.append(msg)
                warnings.warn(f"{p}: {msg}", TwinWarning, stacklevel=4)
        below = ~(fv >= threshold)
        n_below += int(below.sum())
        cop_lab[:, below] = np.nan
        t_lab[:, below] = np.nan
        grf.append(f_lab.T)
        cop.append(cop_lab.T)
        fm.append(t_lab.T)
        names.append(label)
        kinds.append(t)
    for msg in problems:
        warnings.warn(f"{p}: force platform skipped: {msg}", TwinWarning, stacklevel=4)
    if problems:
        history.append("force plates skipped: " + "; ".join(problems))
    if not names:
        return None
    out = {
        "grf": to_opensim_axes(np.stack(grf, axis=1), up_axis),
        "cop": to_opensim_axes(np.stack(cop, axis=1), up_axis),
        "free_moment": to_opensim_axes(np.stack(fm, axis=1), up_axis),
        "names": names,
        "types": kinds,
    }
    history.append(
        f"force plates: {len(names)} platform(s) (types {sorted(set(kinds))}) computed from the analog channels with "
        "FORCE_PLATFORM:CHANNEL/CORNERS/ORIGIN/CAL_MATRIX (global frame); forces N, moments -> N m, COP -> m; "
        "rotated into OpenSim axes like the markers"
        + (f"; baseline of FORCE_PLATFORM:ZERO frames {int(zero[0])}-{int(zero[1])} subtracted" if zero_range else "")
    )
    history.extend(f"force plates: {msg}" for msg in notes)
    history.append(
        f"force plates: cop and free_moment set to NaN in {n_below} plate-samples where the vertical force is below "
        f"threshold={threshold:g} N (COP undefined without contact)"
    )
    return out


def _add_analogs(parts: dict, c: Any, ana: np.ndarray, history: list[str]) -> None:
    """Add ``analog`` (and ``emg``) variables and their coords to ``parts`` (``vars``/``coords`` dicts)."""
    group = _group(c, "ANALOG")
    n_ch = ana.shape[0]
    labels = _strings(group, "LABELS")[:n_ch]
    labels += [""] * (n_ch - len(labels))
    names, notes = _unique(labels, "channel")
    if notes:
        history.append("analog: labels made unique/non-empty: " + "; ".join(notes))
    units = _strings(group, "UNITS")[:n_ch]
    units = [u or "unknown" for u in units] + ["unknown"] * (n_ch - len(units))
    descriptions = _strings(group, "DESCRIPTIONS")[:n_ch]
    descriptions += [""] * (n_ch - len(descriptions))
    parts["coords"].update(channel=names, channel_units=("channel", units))
    parts["vars"]["analog"] = (
        ("analog_time", "channel"), ana.T,
        {"units": "see channel_units", "long_name": schema.VARIABLES["analog"][2],
         "note": "ANALOG:OFFSET, SCALE and GEN_SCALE applied"},
    )
    history.append(
        f"analog: {n_ch} channels (ezc3d applied (raw - ANALOG:OFFSET) x ANALOG:SCALE x "
        "ANALOG:GEN_SCALE); units per channel in 'channel_units'"
    )
    emg_idx, emg_fac, skipped = [], [], []
    for k, (lab, unit, desc) in enumerate(zip(names, units, descriptions)):
        text = f"{lab} {desc}".lower()
        if "emg" not in text and not _MUSCLE_RE.search(text):
            continue
        fac = _unit_factor(unit, _VOLT)
        if fac is None:
            skipped.append(f"{lab} ({unit})")
            continue
        emg_idx.append(k)
        emg_fac.append(fac)
    if emg_idx:
        parts["coords"]["muscle"] = [names[k] for k in emg_idx]
        parts["vars"]["emg"] = (
            ("analog_time", "muscle"), ana[emg_idx].T * np.asarray(emg_fac),
            {"units": "V", "long_name": schema.VARIABLES["emg"][2], "note": "raw (unfiltered) signal"},
        )
        conv = sorted({units[k] for k in emg_idx})
        history.append(
            f"emg: {len(emg_idx)} channels whose label/description says EMG or names a muscle copied to 'emg' "
            f"(units {', '.join(conv)} -> V)"
        )
    if skipped:
        history.append("emg: not copied (unit is not a voltage): " + ", ".join(skipped))


def _event_label(label: str, context: str) -> tuple[str, str]:
    side = {"left": "left", "right": "right"}.get(context.strip().lower(), "")
    low = " ".join(label.strip().lower().replace("_", " ").split())
    m = re.fullmatch(r"(left|right) (.+)", low)
    if m and m.group(2) in _EVENT_NAMES:
        return _EVENT_NAMES[m.group(2)], side or m.group(1)
    if low in _EVENT_NAMES:
        return _EVENT_NAMES[low], side
    m = _EVENT_ABBREV.fullmatch(low)
    if m:
        kind = "foot_strike" if m.group(2) in ("hs", "fs", "ic") else "foot_off"
        return kind, side or {"l": "left", "r": "right"}[m.group(1)]
    return label.strip(), side


def _add_events(parts: dict, c: Any, layout: _Layout, p: Path, history: list[str]) -> None:
    """Add ``event_time`` (with ``event_label``/``event_side`` coords) to ``parts`` when the file stores events."""
    group = _group(c, "EVENT")
    times_raw = _numbers(group, "TIMES")
    labels = _strings(group, "LABELS")
    contexts = _strings(group, "CONTEXTS")
    used = _scalar(group, "USED")
    source = "EVENT group"
    times: list[float] = []
    if group and times_raw.size:
        if times_raw.ndim >= 2 and times_raw.shape[0] >= 2:
            tr = times_raw.reshape(times_raw.shape[0], -1, order="F")
            t = tr[0] * 60.0 + tr[1]  # (minutes, seconds) pairs
        else:
            t = times_raw.ravel()
        n = t.size if used is None else min(int(used), t.size)
        times = [float(v) for v in t[:n]]
    if times:
        labels = (labels + [""] * len(times))[: len(times)]
        contexts = (contexts + [""] * len(times))[: len(times)]
    elif layout.header_events:
        times = [t for t, _ in layout.header_events]
        labels = [lab for _, lab in layout.header_events]
        contexts = [""] * len(times)
        source = "C3D header event block"
    if not times:
        return
    keep = [k for k, t in enumerate(times) if math.isfinite(t)]
    mapped = [_event_label(labels[k], contexts[k]) for k in keep]
    ev = schema.events([times[k] for k in keep], [m[0] for m in mapped], [m[1] for m in mapped], source=str(p))
    parts["vars"]["event_time"] = ev["event_time"]
    history.append(
        f"events: {len(keep)} events from the {source} (times on the same clock as 'time'; 'Foot Strike'/'Foot Off' "
        "and LHS/RTO-style labels -> foot_strike/foot_off, contexts Left/Right -> event_side)"
    )


def _subject(c: Any, history: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    candidates = [("PROCESSING", "Bodymass"), ("PROCESSING", "BodyMass"), ("PROCESSING", "Mass")]
    for g in ("SUBJECTS", "SUBJECT"):
        candidates += [(g, "MASS"), (g, "WEIGHT"), (g, "BODYMASS"), (g, "Bodymass")]
    for g, name in candidates:
        v = _scalar(_group(c, g), name)
        if v is not None and 1.0 < v < 500.0:
            out["subject_mass"] = v
            history.append(f"subject_mass = {v:g} kg from {g}:{name}")
            break
    for g, name in [("PROCESSING", "Height"), ("SUBJECTS", "HEIGHT"), ("SUBJECT", "HEIGHT"), ("SUBJECTS", "Height")]:
        v = _scalar(_group(c, g), name)
        if v is None or v <= 0:
            continue
        if v < 3.0:
            h, unit = v, "m"
        elif v < 300.0:
            h, unit = v / 100.0, "cm"
        else:
            h, unit = v / 1000.0, "mm"
        if 0.3 < h < 3.0:
            out["subject_height"] = h
            history.append(f"subject_height = {h:g} m from {g}:{name} (read as {unit})")
            break
    return out
