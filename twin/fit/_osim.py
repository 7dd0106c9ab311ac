"""Helpers shared by the fitting functions: lazy OpenSim import, model loading, tables.

OpenSim is imported inside functions only (``import twin`` stays fast and
works without it). Everything here is private to :mod:`twin.fit`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, TwinError

__all__ = [
    "osim",
    "quiet",
    "opensim_version",
    "load_model",
    "pick_marker_set",
    "is_body_params",
    "markers_table",
    "model_markers",
    "coordinate_types",
    "is_planar",
]


def osim():
    """The ``opensim`` module, imported on first use; a TwinError says how to install it."""
    try:
        import opensim
    except ImportError as err:  # pragma: no cover - opensim is a dependency
        raise TwinError(
            f"twin.fit needs the OpenSim Python package ({err}); install it with "
            "'conda install -c opensim-org opensim' or 'pip install opensim'"
        ) from None
    return opensim


@contextlib.contextmanager
def quiet(level: str = "error") -> Iterator[None]:
    """Keep OpenSim's log quiet inside the block (it logs every missing geometry file and tool banner).

    OpenSim's global log level is lowered to ``level`` when it is more verbose
    than warnings, and left there (restoring it would itself log a line each
    time); call ``opensim.Logger.setLevelString("info")`` afterwards to see
    OpenSim's messages again.
    """
    o = osim()
    try:
        if o.Logger.getLevelString().lower() in ("trace", "debug", "info", "warn"):
            o.Logger.setLevelString(level)
    except Exception:  # pragma: no cover - older bindings
        pass
    yield


def opensim_version() -> str:
    """OpenSim's version string (e.g. ``'4.6'``)."""
    o = osim()
    try:
        return str(o.GetVersion())
    except Exception:  # pragma: no cover
        return str(getattr(o, "__version__", "unknown"))


def is_body_params(obj: Any) -> bool:
    """True for a :class:`twin.model.BodyParams` (checked by name: twin.model is optional)."""
    return type(obj).__name__ == "BodyParams" and type(obj).__module__.startswith("twin.model")


def pick_marker_set(params: Any, marker_names: Sequence[str] | None) -> str | None:
    """The marker set of a BodyParams that shares most names with a recording (ties: ``"subject01"``)."""
    sets = list(params.marker_set_names)
    if not sets:
        return None
    if not marker_names:
        return "subject01" if "subject01" in sets else sets[0]
    have = {str(n) for n in marker_names}
    scores = {name: len(have & set(params.marker_set(name).names)) for name in sets}
    best = max(scores.values())
    if best == 0:
        return "subject01" if "subject01" in sets else sets[0]
    winners = [n for n in sets if scores[n] == best]
    return "subject01" if "subject01" in winners else winners[0]


def load_model(model: Any, *, add_markers: str | None = "auto", marker_names: Sequence[str] | None = None,
               marker_set: str | None = None) -> tuple[Any, str]:
    """A fresh ``opensim.Model`` the caller may modify, and a description of where it came from.

    Parameters
    ----------
    model : str, path-like, opensim.Model or twin.model.BodyParams
        A ``.osim`` file, a model in memory (copied, never modified), or body
        parameters, built with ``twin.model.to_opensim(params, muscle="Millard2012",
        contact=False, markers=...)`` (no contact forces: the fit applies measured
        ground reaction forces instead).
    add_markers : {"auto", None}
        ``"auto"``: a model without markers whose bodies are those of
        Gait10dof18musc gets the subject01 marker set
        (:data:`twin.fit.markersets.SUBJECT01_MARKERS`); None: no markers are
        added (and a BodyParams is built without markers).
    marker_names : sequence of str, optional
        The recording's marker names: a BodyParams gets the marker set that
        shares most of them (:func:`pick_marker_set`).
    marker_set : str, optional
        Name of the BodyParams marker set to use (overrides ``marker_names``).
    """
    o = osim()
    if is_body_params(model):
        try:
            from ..model import to_opensim
        except ImportError as err:  # pragma: no cover - depends on twin.model
            raise TwinError(f"a BodyParams model needs twin.model.to_opensim ({err})") from None
        chosen = None
        if add_markers is not None:
            chosen = marker_set or pick_marker_set(model, marker_names)
        with quiet():
            m = to_opensim(model, muscle="Millard2012", contact=False, markers=chosen)
        source = f"twin.model.BodyParams {model.name!r} (to_opensim, Millard2012 muscles, markers {chosen!r})"
    elif isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if not p.is_file():
            raise TwinError(f"{p}: model file not found; pass an existing .osim file, an opensim.Model or a BodyParams")
        if p.suffix.lower() != ".osim":
            raise TwinError(f"{p}: not an OpenSim model (.osim) file")
        try:
            with quiet():
                m = o.Model(str(p))
        except Exception as err:
            raise TwinError(f"{p}: OpenSim could not load the model ({str(err).strip()[:300]})") from None
        source = str(p)
    elif isinstance(model, o.Model):
        with quiet():
            m = o.Model(model)
        source = f"opensim.Model {model.getName()!r} (in memory)"
    else:
        raise ParameterError(
            f"model must be a .osim path, an opensim.Model or a twin.model.BodyParams, not {type(model).__name__}"
        )
    with quiet():
        m.finalizeConnections()
    if add_markers == "auto" and m.getMarkerSet().getSize() == 0:
        from .markersets import add_subject01_markers, has_gait10_bodies

        if has_gait10_bodies(m):
            add_subject01_markers(m)
            source += " + subject01 marker set (Gait2354 scale marker set)"
    return m, source


def model_markers(model: Any) -> dict[str, str]:
    """Marker name -> name of the body (frame) it is attached to."""
    out = {}
    for mk in model.getMarkerSet():
        out[mk.getName()] = mk.getParentFrameName().split("/")[-1]
    return out


def coordinate_types(model: Any) -> dict[str, str]:
    """Coordinate name -> ``"rotational"`` or ``"translational"`` (OpenSim's motion type)."""
    o = osim()
    out = {}
    for c in model.getCoordinateSet():
        out[c.getName()] = "translational" if c.getMotionType() == o.Coordinate.Translational else "rotational"
    return out


def is_planar(model: Any) -> bool:
    """True when the model's root joint moves the pelvis in the sagittal (X-Y) plane only.

    Such a model (Gait10dof18musc: pelvis tilt, tx, ty) can only follow a
    recording whose walking goes along +X, near the Z = 0 plane.
    """
    o = osim()
    for j in model.getJointSet():
        if j.getParentFrame().findBaseFrame().getName() == "ground" or j.getParentFrameName() in ("ground", "/ground"):
            ncoord = j.numCoordinates()
            if ncoord == 0:
                continue
            if ncoord > 3:
                return False
            custom = o.CustomJoint.safeDownCast(j)
            if custom is None:
                return ncoord <= 1
            st = custom.getSpatialTransform()
            # rotations about the global Y or X axes, or translation along Z, make it 3-D
            for k in range(6):
                ta = st.getTransformAxis(k)
                if ta.getCoordinateNamesInArray().getSize() == 0:
                    continue
                axis = np.array([ta.getAxis()[i] for i in range(3)])
                if k < 3 and (abs(axis[0]) > 1e-9 or abs(axis[1]) > 1e-9):
                    return False
                if k >= 3 and abs(axis[2]) > 1e-9:
                    return False
            return True
    return False


def markers_table(markers: np.ndarray, names: Sequence[str], time: np.ndarray) -> Any:
    """A ``TimeSeriesTableVec3`` of marker positions [m] built in memory (no file).

    ``markers`` is ``(n_time, n_marker, 3)``; NaN stays NaN (OpenSim's IK
    skips a NaN marker in that frame).
    """
    o = osim()
    n, m, _ = markers.shape
    mat = o.Matrix.createFromMat(np.ascontiguousarray(markers.reshape(n, 3 * m), dtype=float))
    # Python lists, not opensim.StdVectorString/StdVectorDouble objects: OpenSim's and ezc3d's SWIG modules
    # share type names (std::vector<double>...), and once OpenSim has made such a vector object, ezc3d's
    # Parameter.set no longer accepts tuples in the same process (C3D writing breaks).
    labels = [f"{name}{suffix}" for name in names for suffix in ("_1", "_2", "_3")]
    flat = o.TimeSeriesTable([float(t) for t in time], mat, labels)
    table = flat.packVec3(["_1", "_2", "_3"])
    table.addTableMetaDataString("Units", "m")
    return table


def vector(values: Sequence[float]) -> Any:
    """A SimTK ``Vector`` from numbers."""
    o = osim()
    v = o.Vector(len(values), 0.0)
    for i, x in enumerate(values):
        v.set(i, float(x))
    return v


def to_array(v: Any) -> np.ndarray:
    """A SimTK ``Vector`` as a numpy array (element by element; chained to_numpy calls crash)."""
    return np.array([v.get(i) for i in range(v.size())], dtype=float)


def spline_fit(time: np.ndarray, values: np.ndarray, *, lowpass: float | None = None,
               degree: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, first and second time derivative of each column, the way OpenSim's ID tool gets them.

    The columns go into an ``opensim.Storage``; with ``lowpass`` [Hz] it is
    padded by half its length on each side (``Storage.pad``) and low-pass
    filtered (``Storage.lowpassIIR``, as InverseDynamicsTool's
    ``lowpass_cutoff_frequency_for_coordinates``); then ``GCVSplineSet``
    (degree 5, generalized cross-validation smoothing, Woltring 1986) fits each
    column and is evaluated at ``time``.

    Returns
    -------
    (values, first derivative, second derivative), each ``(n_time, n_columns)``.
    """
    o = osim()
    time = np.asarray(time, dtype=float)
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    if n < degree + 1:
        raise TwinError(f"{n} frames are too few for a degree-{degree} spline; the trial needs at least {degree + 1}")
    sto = o.Storage(2 * n + 10)
    labels = o.ArrayStr()
    labels.append("time")
    for j in range(k):
        labels.append(f"c{j}")
    sto.setColumnLabels(labels)
    row = o.Vector(k, 0.0)
    for i in range(n):
        for j in range(k):
            row.set(j, float(values[i, j]))
        sto.append(float(time[i]), row)
    if lowpass is not None and lowpass > 0:
        sto.pad(sto.getSize() // 2)
        sto.lowpassIIR(float(lowpass))
    splines = o.GCVSplineSet(int(degree), sto)
    x = o.Vector(1, 0.0)
    # plain lists, not opensim.StdVectorInt (see markers_table)
    d1, d2 = [0], [0, 0]
    out = np.empty((3, n, k))
    for j in range(k):
        f = splines.get(j)
        for i in range(n):
            x.set(0, float(time[i]))
            out[0, i, j] = f.calcValue(x)
            out[1, i, j] = f.calcDerivative(d1, x)
            out[2, i, j] = f.calcDerivative(d2, x)
    return out[0], out[1], out[2]


def run_scale_tool(setup_xml: str | os.PathLike, files: Sequence[str | os.PathLike], workdir: str | os.PathLike, *,
                   coordinate_tasks: bool = True):
    """OpenSim's own ScaleTool run from a setup file in ``workdir``: the scaled model it writes.

    ``files`` (the generic model, marker set, static trial the setup names) are
    copied into ``workdir`` beside the setup (OpenSim resolves them relative to
    it). ``coordinate_tasks=False`` switches the setup's IKCoordinateTasks off
    (how OpenSim's subject01 OutputReference markers were evidently placed; see
    tests/test_fit.py). Used to check :func:`twin.fit.scale` against OpenSim.
    """
    import re
    import shutil

    o = osim()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, work / Path(f).name)
    xml = Path(setup_xml).read_text()
    if not coordinate_tasks:
        xml = re.sub(r"<IKCoordinateTask.*?</IKCoordinateTask>",
                     lambda m: re.sub(r"<apply>\s*true\s*</apply>", "<apply> false </apply>", m.group(0)), xml,
                     flags=re.S)
    setup = work / "setup.xml"
    setup.write_text(xml)
    with quiet():
        tool = o.ScaleTool(str(setup))
        tool.run()
        out = str(tool.getMarkerPlacer().getOutputModelFileName()).strip()
    return o.Model(str(work / out))


def marker_distances_mm(a: Any, b: Any) -> dict[str, float]:
    """Distance [mm] between the body-frame locations of the markers two OpenSim models share, by name."""
    def loc(m, n):
        v = m.getMarkerSet().get(n).get_location()
        return np.array([v[0], v[1], v[2]])

    return {mk.getName(): 1000 * float(np.linalg.norm(loc(a, mk.getName()) - loc(b, mk.getName())))
            for mk in a.getMarkerSet() if b.getMarkerSet().contains(mk.getName())}
