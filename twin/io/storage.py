"""OpenSim storage files: ``.mot`` and ``.sto`` (version 1 and 3 headers, legacy SIMM headers).

What the columns hold decides what comes back:

* joint coordinates (IK output, ``coordinates.sto``, Moco state paths such as
  ``/jointset/hip_r/hip_flexion_r/value``) -> Kinematics ``q(time, coordinate)``
  in rad/m (``inDegrees=yes`` converted), ``qdot`` from ``/speed`` columns;
* generalized forces (``*_moment``, ``*_force``; ID output) -> Dynamics
  ``moment(time, coordinate)``;
* ground reaction forces (``*_vx/_vy/_vz``, ``*_px/..``, ``*torque_x/..``) ->
  Recording ``grf``/``cop``/``free_moment`` per ``side`` when an ExternalLoads
  ``.xml`` (the same stem, or ``external_loads=``) says which foot each force
  acts on, else per ``plate`` named by its column prefix; coordinates in the
  same file come along as ``q``;
* marker positions written by OpenSim (``<marker>_tx/_ty/_tz``) -> ``markers``;
* OpenSense orientations (``DataType=Quaternion``) -> ``imu_orientation``;
* EMG (file or header named like EMG/electromyography) -> ``emg``;
* anything else -> Table ``table(time, column)``.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from twin import schema
>>> from twin.io.storage import read_storage, write_storage
>>> kin = schema.kinematics(np.arange(3) / 100, np.full((3, 2), 0.5), ["hip_flexion_r", "pelvis_ty"])
>>> path = os.path.join(tempfile.mkdtemp(), "ik.mot")
>>> write_storage(kin, path)
>>> round(float(read_storage(path).q.sel(coordinate="hip_flexion_r")[0]), 6)
0.5
"""

from __future__ import annotations

import io
import os
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ReadError, SchemaError, TwinWarning, check_param
from ..schema import AXES, add_history, dynamics, guess_coordinate_type, kinematics, recording, table, validate
from ._common import check_file, check_time, parse_numeric_rows, read_text
from .store import atomic_path

__all__ = ["read_storage", "write_storage", "read_external_loads"]



def read_storage(
    path: str | os.PathLike,
    *,
    external_loads: str | os.PathLike | None = "auto",
    kind: str = "auto",
) -> xr.Dataset:
    """Read an OpenSim ``.mot``/``.sto`` file.

    Parameters
    ----------
    path : str or path-like
        The storage file.
    external_loads : path, "auto" or None, default "auto"
        ExternalLoads ``.xml`` assigning GRF columns to feet. ``"auto"`` uses
        ``<stem>.xml`` beside the file when it exists.
    kind : {"auto", "kinematics", "dynamics", "recording", "table"}
        Force an interpretation instead of guessing from the columns.

    Returns
    -------
    xarray.Dataset
        See the module docstring for which kind comes back.

    Raises
    ------
    ReadError
        Missing/empty/truncated file, no ``endheader``, labels not matching
        the data, non-numeric values, time not increasing.
    """
    check_param("kind", kind, choices=("auto", "kinematics", "dynamics", "recording", "table"))
    p = check_file(path, what="storage file")
    header, labels, data_lines, first_line_no = _split(p)
    in_degrees = header.get("indegrees", "no").strip().lower() == "yes"
    if header.get("datatype", "").lower() == "quaternion":
        return _orientations(p, header, labels, data_lines, first_line_no)
    data = _parse(data_lines, p, first_line_no, len(labels))
    n_rows = header.get("nrows") or header.get("datarows")
    if n_rows is not None:
        try:
            expected = int(float(n_rows))
        except (ValueError, OverflowError):
            raise ReadError(p, f"header nRows={n_rows!r} is not a number") from None
        if data.shape[0] != expected:
            # OpenSim's own example files disagree with their headers at times; the
            # data are complete rows, so read them and say so.
            message = f"header announces nRows={expected} but {data.shape[0]} complete data rows follow; read those"
            warnings.warn(f"{p}: {message}", TwinWarning, stacklevel=2)
            header["_row_note"] = message
    if labels[0].lower() != "time":
        raise ReadError(p, f"first column is {labels[0]!r}; OpenSim storage files start with a 'time' column")
    time = check_time(data[:, 0], p)
    values, cols = data[:, 1:], labels[1:]
    history = [f"read storage {p.name}: {len(time)} rows, {len(cols)} columns (inDegrees={'yes' if in_degrees else 'no'})"]
    if "_row_note" in header:
        history.append(header["_row_note"])
    name = (header.get("name", "") + " " + p.stem).lower()
    return _interpret(p, time, values, cols, in_degrees, history, name, external_loads, kind)


# ----------------------------------------------------------------------------- parsing


def _split(p: Path) -> tuple[dict[str, str], list[str], list[str], int]:
    text = read_text(p)
    lines = text.splitlines()
    end = next((i for i, line in enumerate(lines) if line.strip().lower() == "endheader"), None)
    if end is None:
        raise ReadError(p, "no 'endheader' line; not an OpenSim .mot/.sto file (or its header is truncated)")
    header: dict[str, str] = {}
    if lines:
        header["name"] = lines[0].strip()
    for line in lines[:end]:
        s = line.strip()
        if "=" in s:
            key, _, val = s.partition("=")
            header[key.strip().lower()] = val.strip()
        else:
            parts = s.split()
            if len(parts) == 2 and parts[0].lower() in ("datacolumns", "datarows", "name"):
                header[parts[0].lower()] = parts[1]
    k = end + 1
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines):
        raise ReadError(p, "nothing after 'endheader'; the column labels and data are missing (truncated file)")
    label_line = lines[k]
    labels = [c.strip() for c in (label_line.split("\t") if "\t" in label_line else label_line.split())]
    labels = [c for c in labels if c]
    if not labels:
        raise ReadError(p, f"line {k + 1} should hold column labels but is empty")
    return header, labels, lines[k + 1 :], k + 2


def _parse(lines: list[str], p: Path, first_line_no: int, n_cols: int) -> np.ndarray:
    body = [line for line in lines if line.strip()]
    if not body:
        raise ReadError(p, "has column labels but no data rows (truncated file)")
    if len(body) * n_cols < 20000:  # small files: a plain split beats pandas' fixed cost
        try:
            data = np.array(" ".join(body).split(), dtype=float)
            if data.size == len(body) * n_cols and not np.isnan(data).any():
                return data.reshape(len(body), n_cols)
        except ValueError:
            pass
    try:
        import pandas as pd

        frame = pd.read_csv(io.StringIO("\n".join(body)), sep=r"\s+", header=None, dtype=float, engine="c")
        data = frame.to_numpy(dtype=float)
        if data.shape[1] == n_cols and not np.isnan(data).any():  # NaN: ragged rows padded by pandas
            return data
    except Exception:  # noqa: BLE001 - the slow parser below gives the precise message
        pass
    data = parse_numeric_rows(body, p, first_line_no=first_line_no, n_cols=None)
    if data.shape[1] != n_cols:
        raise ReadError(
            p, f"{n_cols} column labels but {data.shape[1]} values per row; labels and data do not match (mislabeled?)"
        )
    return data


# ----------------------------------------------------------------------------- interpretation

_TRIPLE = re.compile(r"^(?P<base>.+)_t(?P<axis>[xyz])$")


def _grf_groups(cols: list[str]) -> dict[str, dict[str, list[int]]]:
    """Find GRF column groups, keyed by the force stem (``ground_force_r_``, ``1_ground_force_``).

    A group is a force triple ``<stem>vx, <stem>vy, <stem>vz`` (stem contains
    "force"), with an optional point triple ``<stem>px..`` and torque triple
    ``<stem with force->torque>x..`` (``ground_torque_r_x``).
    Returns ``{stem: {"force": [ix, iy, iz], "point": [...], "torque": [...]}}``.
    """
    index = {c: i for i, c in enumerate(cols)}
    groups: dict[str, dict[str, list[int]]] = {}
    for c in cols:
        if not (c.endswith("vx") and "force" in c.lower()):
            continue
        stem = c[:-2]
        roles = {"force": [stem + "v" + a for a in "xyz"], "point": [stem + "p" + a for a in "xyz"]}
        torque_stem = re.sub("force", "torque", stem, flags=re.I)
        roles["torque"] = [torque_stem + a for a in "xyz"]
        group = {}
        for role, names in roles.items():
            if all(n in index for n in names):
                group[role] = [index[n] for n in names]
        if "force" in group:
            groups[stem] = group
    return groups


def read_external_loads(path: str | os.PathLike) -> list[dict[str, str]]:
    """Parse an OpenSim ExternalLoads ``.xml`` into a list of ExternalForce dicts.

    Each dict has ``name``, ``applied_to_body``, ``force_identifier``,
    ``point_identifier``, ``torque_identifier`` and ``side`` (``"right"`` for
    bodies ending in ``_r``, ``"left"`` for ``_l``, else ``""``).
    """
    p = check_file(path, what="ExternalLoads .xml")
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as err:
        raise ReadError(p, f"is not valid XML ({err})") from None
    forces = []
    for ef in root.iter("ExternalForce"):
        d = {"name": ef.get("name", "")}
        for key in ("applied_to_body", "force_identifier", "point_identifier", "torque_identifier", "isDisabled"):
            el = ef.find(key)
            d[key] = (el.text or "").strip() if el is not None else ""
        body = d["applied_to_body"]
        d["side"] = "right" if body.endswith("_r") else "left" if body.endswith("_l") else ""
        if d.get("isDisabled", "false").lower() != "true":
            forces.append(d)
    if not forces:
        raise ReadError(p, "holds no enabled ExternalForce; it cannot assign GRF columns to feet")
    return forces


def _side_from_prefix(prefix: str) -> str:
    s = prefix.lower().strip("_")
    if re.search(r"(^|_)r(_|$)", s) or s.startswith("r_") or s.endswith("_r") or s == "r":
        return "right"
    if re.search(r"(^|_)l(_|$)", s) or s.startswith("l_") or s.endswith("_l") or s == "l":
        return "left"
    return ""


def _interpret(p, time, values, cols, in_degrees, history, name, external_loads, kind) -> xr.Dataset:
    used = np.zeros(len(cols), dtype=bool)
    groups = _grf_groups(cols)
    is_emg = "emg" in name or "electromyography" in name
    moment_cols = [i for i, c in enumerate(cols) if c.endswith("_moment") or c.endswith("_force")]
    if kind == "auto":
        if groups:
            kind = "recording"
        elif is_emg:
            kind = "recording"
        elif moment_cols and len(moment_cols) >= 0.8 * len(cols):
            kind = "dynamics"
        elif any(c.startswith("/") for c in cols) or _looks_kinematic(cols):
            kind = "kinematics"
        else:
            kind = "table"

    if kind == "dynamics":
        coords = [re.sub(r"_(moment|force)$", "", cols[i]) for i in moment_cols]
        ctype = ["translational" if cols[i].endswith("_force") else "rotational" for i in moment_cols]
        ds = dynamics(time, values[:, moment_cols], coords, coordinate_type=ctype, source=str(p),
                      history="\n".join(history))
        validate(ds)
        return ds

    if kind == "table" or (kind == "recording" and not groups and not is_emg):
        ds = table(time, values, cols, source=str(p), history="\n".join(history))
        validate(ds)
        return ds

    if kind == "recording" and is_emg and not groups:
        ds = recording(time, source=str(p), history="\n".join(history))
        ds["emg"] = xr.DataArray(values, dims=("time", "muscle"),
                                 attrs={"units": "1 (as in file, usually normalised)", "long_name": "electromyography"})
        ds = ds.assign_coords(muscle=list(cols))
        validate(ds)
        return ds

    ds = recording(time, source=str(p), history="\n".join(history))
    if groups:
        ds, grf_used = _add_grf(ds, p, values, cols, groups, external_loads)
        used[grf_used] = True
    # markers written by OpenSim: <name>_tx/_ty/_tz (pelvis_t* are coordinates)
    triples: dict[str, dict[str, int]] = {}
    for i, c in enumerate(cols):
        m = _TRIPLE.match(c)
        if m and m.group("base") != "pelvis" and not used[i]:
            triples.setdefault(m.group("base"), {})[m.group("axis")] = i
    marker_names = [b for b, d in triples.items() if len(d) == 3]
    if marker_names:
        idx = np.array([[triples[b][a] for a in "xyz"] for b in marker_names])
        ds["markers"] = xr.DataArray(values[:, idx], dims=("time", "marker", "axis"),
                                     attrs={"units": "m", "long_name": "marker position"})
        ds = ds.assign_coords(marker=marker_names, axis=list(AXES))
        used[idx.ravel()] = True
    rest = [i for i in range(len(cols)) if not used[i]]
    if rest:
        if kind == "kinematics" and not groups and not marker_names:
            kin = _kinematics(time, values[:, rest], [cols[i] for i in rest], in_degrees, p, history)
            validate(kin)
            return kin
        kin = _kinematics(time, values[:, rest], [cols[i] for i in rest], in_degrees, p, [])
        ds = ds.merge(kin[[v for v in kin.data_vars]], combine_attrs="override")
        for line in kin.attrs["history"].split("\n"):
            if line:
                ds = add_history(ds, line)
    validate(ds)
    return ds


def _looks_kinematic(cols: list[str]) -> bool:
    pattern = re.compile(r"(pelvis|hip|knee|ankle|lumbar|subtalar|mtp|arm|elbow|pro_sup|wrist)_", re.I)
    hits = sum(bool(pattern.match(c)) for c in cols)
    return hits >= max(1, len(cols) // 2)


def _kinematics(time, values, cols, in_degrees, p, history) -> xr.Dataset:
    coords: list[str] = []
    q_idx: list[int] = []
    qdot: dict[str, int] = {}
    for i, c in enumerate(cols):
        if c.startswith("/"):
            parts = c.strip("/").split("/")
            if len(parts) >= 2 and parts[-1] == "value":
                coords.append(parts[-2])
                q_idx.append(i)
            elif len(parts) >= 2 and parts[-1] == "speed":
                qdot[parts[-2]] = i
            continue
        coords.append(c)
        q_idx.append(i)
    if not coords:
        raise ReadError(p, "holds no coordinate columns (only state paths that are not /value or /speed)")
    ctype = [guess_coordinate_type(c) for c in coords]
    rot = np.array([t == "rotational" for t in ctype])
    q = values[:, q_idx]
    history = list(history)
    if in_degrees and rot.any():
        q[:, rot] = np.deg2rad(q[:, rot])
        history.append(f"converted {int(rot.sum())} rotational coordinate(s) deg -> rad")
    ds = kinematics(time, q, coords, coordinate_type=ctype, source=str(p), history="\n".join(history))
    if qdot and all(c in qdot for c in coords):
        qd = values[:, [qdot[c] for c in coords]].copy()
        if in_degrees and rot.any():
            qd[:, rot] = np.deg2rad(qd[:, rot])
        ds["qdot"] = xr.DataArray(qd, dims=("time", "coordinate"),
                                  attrs={"units": "rad/s or m/s (see coordinate_type)", "long_name": "generalized speed"})
    return ds


def _add_grf(ds, p, values, cols, groups, external_loads) -> tuple[xr.Dataset, list[int]]:
    xml = None
    if external_loads == "auto":
        candidate = p.with_suffix(".xml")
        xml = candidate if candidate.exists() else None
    elif external_loads is not None:
        xml = Path(external_loads)
    prefixes = list(groups)
    names = [re.sub(r"_?ground_force_?", "", prefix).strip("_") or "0" for prefix in prefixes]
    dim = "plate"
    if xml is not None:
        forces = read_external_loads(xml)
        by_id = {f["force_identifier"]: f for f in forces}
        mapped = []
        for prefix in prefixes:
            f = by_id.get(prefix + "v")
            mapped.append(f["side"] if f else "")
        if all(mapped) and len(set(mapped)) == len(mapped):
            names, dim = mapped, "side"
            ds = add_history(ds, f"assigned GRF columns to feet from {xml.name}: "
                             + ", ".join(f"{pr}* -> {s}" for pr, s in zip(prefixes, mapped)))
        else:
            ds = add_history(ds, f"{xml.name} does not map every GRF group to a distinct foot; kept plates")
    else:
        sides = [_side_from_prefix(prefix) for prefix in prefixes]
        if all(sides) and len(set(sides)) == len(sides):
            names, dim = sides, "side"
            ds = add_history(ds, "assigned GRF columns to feet from their labels: "
                             + ", ".join(f"{pr}* -> {s}" for pr, s in zip(prefixes, sides)))
    n = values.shape[0]
    used: list[int] = []
    arrays = {}
    for role, var in (("force", "grf"), ("point", "cop"), ("torque", "free_moment")):
        if not any(role in groups[pr] for pr in prefixes):
            continue
        arr = np.full((n, len(prefixes), 3), np.nan)
        for j, pr in enumerate(prefixes):
            if role in groups[pr]:
                arr[:, j, :] = values[:, groups[pr][role]]
                used += groups[pr][role]
            elif role == "torque":
                arr[:, j, :] = 0.0
        arrays[var] = arr
    for var, arr in arrays.items():
        units = {"grf": "N", "cop": "m", "free_moment": "N m"}[var]
        long = {"grf": "ground reaction force", "cop": "centre of pressure",
                "free_moment": "ground reaction torque at the point (free moment)"}[var]
        ds[var] = xr.DataArray(arr, dims=("time", dim, "axis"), attrs={"units": units, "long_name": long})
    ds = ds.assign_coords({dim: names, "axis": list(AXES)})
    return ds, used


def _orientations(p, header, labels, data_lines, first_line_no) -> xr.Dataset:
    body = [line for line in data_lines if line.strip()]
    if not body:
        raise ReadError(p, "has column labels but no data rows (truncated file)")
    rows = []
    for k, line in enumerate(body):
        cells = line.rstrip("\r\n").split("\t")
        if len(cells) != len(labels):
            raise ReadError(p, f"line {first_line_no + k}: {len(cells)} cells for {len(labels)} labels (truncated?)")
        rows.append(",".join(cells))
    try:
        flat = np.array(",".join(rows).split(","), dtype=float)
    except ValueError:
        raise ReadError(p, "quaternion cells must be 'w,x,y,z' numbers") from None
    n_sensors = len(labels) - 1
    width = 1 + 4 * n_sensors
    if flat.size != width * len(body):
        raise ReadError(p, "each sensor cell must hold 4 comma-separated numbers (w,x,y,z)")
    flat = flat.reshape(len(body), width)
    time = check_time(flat[:, 0], p)
    quats = flat[:, 1:].reshape(len(body), n_sensors, 4)
    rate = float(header["datarate"]) if "datarate" in header else None
    ds = recording(time, source=str(p), rate=rate,
                   history=f"read OpenSense orientations {p.name}: {len(time)} rows, {n_sensors} sensors")
    ds["imu_orientation"] = xr.DataArray(quats, dims=("time", "sensor", "quaternion"),
                                         attrs={"units": "1", "long_name": "IMU orientation quaternion (w, x, y, z)"})
    ds = ds.assign_coords(sensor=labels[1:], quaternion=["w", "x", "y", "z"])
    validate(ds)
    return ds


# ----------------------------------------------------------------------------- writing


def write_storage(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    in_degrees: bool = True,
    name: str | None = None,
    precision: int = 8,
) -> None:
    """Write a Kinematics, Dynamics, GRF Recording or Table Dataset as an OpenSim ``.mot``/``.sto``.

    The file uses the version-1 header (``nRows``, ``nColumns``,
    ``inDegrees``) that OpenSim's STOFileAdapter and the GUI read. Rotational
    coordinates are written in degrees when ``in_degrees`` (Kinematics only).
    GRF columns follow OpenSim's naming (``ground_force_r_vx``...) and an
    ExternalLoads file can be written with :func:`write_external_loads`. The
    write is atomic.

    Parameters
    ----------
    ds : xarray.Dataset
        ``q`` (Kinematics), ``moment`` (Dynamics), ``grf``/``cop``/``free_moment``
        (Recording) or ``table``.
    path : str or path-like
        Destination.
    in_degrees : bool, default True
        Write rotational coordinates in degrees.
    name : str, optional
        First header line; defaults to the file stem.
    precision : int, default 8
        Decimal places.
    """
    cols, values, degrees = _columns(ds, in_degrees)
    time = np.asarray(ds["time"].values, dtype=float) if "time" in ds.coords else None
    if time is None:
        raise SchemaError("write_storage: the Dataset has no 'time' coordinate")
    if values.shape[0] != time.size:
        raise SchemaError("write_storage: variables are not on the 'time' dim (force data on analog_time?); "
                          "interpolate them onto 'time' first")
    head = [
        name or Path(path).stem,
        "version=1",
        f"nRows={time.size}",
        f"nColumns={len(cols) + 1}",
        f"inDegrees={'yes' if degrees else 'no'}",
        "endheader",
        "time\t" + "\t".join(cols),
    ]
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([time, values]), fmt=f"%.{precision}f", delimiter="\t")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(head) + "\n" + buf.getvalue())


def _columns(ds: xr.Dataset, in_degrees: bool) -> tuple[list[str], np.ndarray, bool]:
    if "q" in ds and "grf" not in ds:
        q = ds["q"].transpose("time", "coordinate").values.copy()
        coords = [str(c) for c in ds["coordinate"].values]
        rot = np.array([t == "rotational" for t in ds["coordinate_type"].values]) if "coordinate_type" in ds.coords \
            else np.ones(len(coords), bool)
        if in_degrees:
            q[:, rot] = np.rad2deg(q[:, rot])
        return coords, q, in_degrees
    if "moment" in ds:
        m = ds["moment"].transpose("time", "coordinate").values
        types = ds["coordinate_type"].values if "coordinate_type" in ds.coords else ["rotational"] * m.shape[1]
        cols = [f"{c}_{'force' if t == 'translational' else 'moment'}" for c, t in zip(ds["coordinate"].values, types)]
        return cols, m, False
    if "grf" in ds:
        dim = "side" if "side" in ds["grf"].dims else "plate"
        cols, blocks = [], []
        for who in ds[dim].values:
            tag = {"right": "r", "left": "l"}.get(str(who), str(who))
            parts: list[tuple[str, Any]] = [(f"ground_force_{tag}_v", ds["grf"])]
            if "cop" in ds:
                parts.append((f"ground_force_{tag}_p", ds["cop"]))
            for stem, da in parts:
                cols += [stem + a for a in "xyz"]
                blocks.append(da.sel({dim: who}).transpose(..., "axis").values)
            if "free_moment" in ds:
                cols += [f"ground_torque_{tag}_{a}" for a in "xyz"]
                blocks.append(ds["free_moment"].sel({dim: who}).transpose(..., "axis").values)
        return cols, np.nan_to_num(np.hstack(blocks), nan=0.0), False
    if "table" in ds:
        return [str(c) for c in ds["column"].values], ds["table"].transpose("time", "column").values, False
    raise SchemaError("write_storage: the Dataset has none of q, moment, grf or table")


def write_external_loads(ds: xr.Dataset, path: str | os.PathLike, *, datafile: str,
                         bodies: dict[str, str] | None = None) -> None:
    """Write the ExternalLoads ``.xml`` matching a GRF file written by :func:`write_storage`.

    ``bodies`` maps side/plate names to OpenSim bodies (default right->calcn_r, left->calcn_l).
    """
    bodies = bodies or {"right": "calcn_r", "left": "calcn_l"}
    dim = "side" if "side" in ds["grf"].dims else "plate"
    items = []
    for who in ds[dim].values:
        who = str(who)
        tag = {"right": "r", "left": "l"}.get(who, who)
        body = bodies.get(who)
        if body is None:
            raise SchemaError(f"write_external_loads: no body given for {dim} {who!r}; pass bodies={{'{who}': 'calcn_r'}}")
        items.append(
            f"""\t\t\t<ExternalForce name="{who}">
\t\t\t\t<applied_to_body>{body}</applied_to_body>
\t\t\t\t<force_expressed_in_body>ground</force_expressed_in_body>
\t\t\t\t<point_expressed_in_body>ground</point_expressed_in_body>
\t\t\t\t<force_identifier>ground_force_{tag}_v</force_identifier>
\t\t\t\t<point_identifier>ground_force_{tag}_p</point_identifier>
\t\t\t\t<torque_identifier>ground_torque_{tag}_</torque_identifier>
\t\t\t</ExternalForce>"""
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<OpenSimDocument Version="40000">\n'
        '\t<ExternalLoads name="externalloads">\n\t\t<objects>\n' + "\n".join(items) + "\n\t\t</objects>\n"
        f"\t\t<groups />\n\t\t<datafile>{datafile}</datafile>\n\t</ExternalLoads>\n</OpenSimDocument>\n"
    )
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
