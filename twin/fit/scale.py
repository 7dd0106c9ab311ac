"""Scale a generic model to a subject from a static trial, and place its markers.

What OpenSim's ScaleTool does (ModelScaler then MarkerPlacer), run in memory
through OpenSim's API:

1. **Measurements** (ModelScaler, ``scaling_order = measurements``): for each
   measurement, the distance between each marker pair in the static trial
   (median over the frames) divided by the same distance between the model's
   markers in its default pose; the measurement's factor is the mean over its
   pairs and scales its bodies uniformly (X Y Z). The default measurements are
   those of OpenSim's subject01 scale setup (torso, pelvis, thigh, shank,
   foot); when a measurement's markers are absent, alternative pairs on the
   same bodies are used (e.g. heel–5th metatarsal for the foot), else the
   height ratio (``height`` / 1.80 m, the generic model's stature) when
   ``height`` is given, else the mean of the other factors — the report
   says which.
2. A factor outside ``plausible`` (default 0.7–1.4) means the static trial
   does not belong to this model's person or markers are mislabelled:
   :class:`~twin.errors.TwinError` naming the segment.
3. ``opensim.Model.scale`` applies the factors (``preserve_mass_distribution``:
   every body's mass is multiplied by mass / model mass).
4. **Marker placement** (MarkerPlacer): inverse kinematics of the static pose
   (averaged frames of a static trial, or one frame of a moving one) with the
   placer weights (bony landmarks 1000, others 1) and coordinate tasks
   (lumbar upright), then every marker that is not ``fixed`` is moved onto
   its recorded position.

Examples
--------
>>> import twin, twin.fit
>>> static = twin.read("subject01_static.trc")                                          # doctest: +SKIP
>>> model, report = twin.fit.scale("gait10dof18musc.osim", static, mass=72.6)            # doctest: +SKIP
>>> report.scale_factor.sel(segment="femur_r").item()                                    # doctest: +SKIP
1.13...
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError, check_param
from . import _osim
from .ik import _coordinate_tasks, _IKProblem, _names_of, prepare_markers
from .markersets import SUBJECT01_MEASUREMENTS, SUBJECT01_PLACER_COORDINATES, SUBJECT01_PLACER_WEIGHTS

__all__ = ["scale", "three_d_copy", "DEFAULT_MEASUREMENTS", "GENERIC_STATURE_M"]

#: stature of the generic Gait2354/Gait10dof18musc model [m] (subject01 scale setup: generic ~1.80 m, 75 kg)
GENERIC_STATURE_M = 1.80

#: measurement -> list of pair groups, tried in order (the first group with a usable pair is used)
_ALTERNATIVES: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {
    "torso": ((("V.Sacral", "R.Acromium"), ("V.Sacral", "L.Acromium")), (("R.ASIS", "R.Acromium"), ("L.ASIS", "L.Acromium"))),
    "thigh": ((("R.ASIS", "R.Knee.Med"), ("L.ASIS", "L.Knee.Med")),),
    "shank": ((("R.Knee.Med", "R.Ankle.Med"), ("L.Knee.Med", "L.Ankle.Med")),),
    "foot": ((("R.Heel", "R.Toe.Lat"), ("L.Heel", "L.Toe.Lat"), ("R.Heel", "R.Toe.Med"), ("L.Heel", "L.Toe.Med")),),
}

#: default measurements: (name, pair groups in order of preference, bodies)
DEFAULT_MEASUREMENTS: tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...], tuple[str, ...]], ...] = tuple(
    (name, (pairs,) + _ALTERNATIVES.get(name, ()), bodies) for name, pairs, bodies in SUBJECT01_MEASUREMENTS
)

_STATIC_MOTION_M = 0.10  # pelvis travel above which a trial counts as moving (placement uses one frame)


def _normalise_measurements(measurements: Any) -> list[tuple[str, list[list[tuple[str, str]]], list[str]]]:
    out = []
    for item in measurements:
        try:
            name, pairs, bodies = item
        except (TypeError, ValueError):
            raise ParameterError("measurements must be (name, marker pairs, bodies) triples") from None
        pairs = list(pairs)
        if pairs and isinstance(pairs[0], (tuple, list)) and len(pairs[0]) == 2 and isinstance(pairs[0][0], str):
            groups = [[tuple(p) for p in pairs]]
        else:
            groups = [[tuple(p) for p in g] for g in pairs]
        out.append((str(name), groups, [str(b) for b in bodies]))
    return out


def _model_marker_positions(model: Any, state: Any) -> dict[str, np.ndarray]:
    model.realizePosition(state)
    out = {}
    for mk in model.getMarkerSet():
        p = mk.getLocationInGround(state)
        out[mk.getName()] = np.array([p[0], p[1], p[2]])
    return out



_BALL_CHILDREN = ("femur_r", "femur_l", "torso")  # pin joints made 3-D for placement: hips and lumbar


def _coordinate_xml(name: str, lo: float = -1.5707963, hi: float = 1.5707963) -> Any:
    import xml.etree.ElementTree as ET

    c = ET.Element("Coordinate", name=name)
    for tag, text in (("default_value", "0"), ("default_speed_value", "0"), ("range", f"{lo} {hi}"),
                      ("clamped", "false"), ("locked", "false"), ("prescribed", "false")):
        ET.SubElement(c, tag).text = text
    return c


def _axis_xml(name: str, axis: str, coordinate: str | None) -> Any:
    import xml.etree.ElementTree as ET

    ta = ET.Element("TransformAxis", name=name)
    ET.SubElement(ta, "coordinates").text = coordinate or ""
    ET.SubElement(ta, "axis").text = axis
    if coordinate:
        f = ET.SubElement(ta, "LinearFunction", name="function")
        ET.SubElement(f, "coefficients").text = "1 0"
    else:
        f = ET.SubElement(ta, "Constant", name="function")
        ET.SubElement(f, "value").text = "0"
    return ta


def three_d_copy(model: Any) -> Any:
    """A copy of a sagittal-plane model with the out-of-plane freedoms a standing person uses.

    The root joint gets pelvis list, rotation and sideways translation, and the
    pin joints of the hips and the lumbar spine become 3-rotation joints (the
    original coordinate first, about the same axis). Bodies, body frames and
    markers are unchanged and forces are dropped, so marker locations found on
    this copy hold for the original model. This is how OpenSim's own reference
    subject01 markers were placed: with the 3-D Gait2354 model, whose bodies
    Gait10dof18musc shares.
    """
    import os
    import tempfile
    import xml.etree.ElementTree as ET

    o = _osim.osim()
    with tempfile.TemporaryDirectory(prefix="twin_fit_") as tmp:
        src = os.path.join(tmp, "planar.osim")
        with _osim.quiet():
            model.printToXML(src)
        tree = ET.parse(src)
        root = tree.getroot()
        mdl = root.find("Model")
        for fs in mdl.findall("ForceSet"):
            objs = fs.find("objects")
            if objs is not None:
                for child in list(objs):
                    objs.remove(child)
        for ctrl in mdl.findall("ControllerSet"):
            mdl.remove(ctrl)
        jointset = mdl.find("JointSet/objects")
        for joint in list(jointset):
            frames = joint.find("frames")
            parent = joint.findtext("socket_parent_frame", "").strip()
            child = joint.findtext("socket_child_frame", "").strip()

            def frame_parent(frame_name: str) -> str:
                for f in frames.findall("PhysicalOffsetFrame") if frames is not None else []:
                    if f.get("name") == frame_name:
                        return f.findtext("socket_parent", "").strip().split("/")[-1]
                return frame_name.split("/")[-1]

            parent_body, child_body = frame_parent(parent), frame_parent(child)
            name = joint.get("name")
            if joint.tag == "CustomJoint" and parent_body == "ground":
                st = joint.find("SpatialTransform")
                coords = joint.find("coordinates")
                extra = {"rotation2": f"{name}_list_3d", "rotation3": f"{name}_rotation_3d", "translation3": f"{name}_tz_3d"}
                for ta in st.findall("TransformAxis"):
                    if ta.get("name") in extra and not (ta.findtext("coordinates") or "").strip():
                        cname = extra[ta.get("name")]
                        axis = ta.findtext("axis")
                        idx = list(st).index(ta)
                        st.remove(ta)
                        st.insert(idx, _axis_xml(ta.get("name"), axis, cname))
                        lim = (-5.0, 5.0) if ta.get("name").startswith("translation") else (-1.5707963, 1.5707963)
                        coords.append(_coordinate_xml(cname, *lim))
            elif joint.tag == "PinJoint" and child_body in _BALL_CHILDREN:
                coords = joint.find("coordinates")
                first = coords.find("Coordinate").get("name")
                joint.tag = "CustomJoint"
                st = ET.SubElement(joint, "SpatialTransform")
                st.append(_axis_xml("rotation1", "0 0 1", first))
                st.append(_axis_xml("rotation2", "1 0 0", f"{first}_add_3d"))
                st.append(_axis_xml("rotation3", "0 1 0", f"{first}_rot_3d"))
                for k, ax in enumerate(("1 0 0", "0 1 0", "0 0 1"), start=1):
                    st.append(_axis_xml(f"translation{k}", ax, None))
                coords.append(_coordinate_xml(f"{first}_add_3d"))
                coords.append(_coordinate_xml(f"{first}_rot_3d"))
        dst = os.path.join(tmp, "three_d.osim")
        tree.write(dst)
        with _osim.quiet():
            m3 = o.Model(dst)
            m3.finalizeConnections()
    return m3


def scale(
    model: Any,
    static: xr.Dataset,
    *,
    mass: float | None = None,
    height: float | None = None,
    marker_weights: Mapping[str, float] | None = None,
    coordinate_weights: Mapping[str, Any] | None = None,
    measurements: Sequence[Any] | None = None,
    manual_scales: Mapping[str, float] | None = None,
    time_range: Sequence[float] | None = None,
    plausible: tuple[float, float] = (0.7, 1.4),
    preserve_mass_distribution: bool = True,
    place_markers: bool = True,
    marker_map: Any = "auto",
    align: Any = "auto",
    accuracy: float = 1e-5,
    placement: str = "auto",
    generic_markers: bool = True,
) -> tuple[Any, xr.Dataset]:
    """Scale a generic model to the person of a static trial and place its markers.

    Parameters
    ----------
    model : str, path-like, opensim.Model or twin.model.BodyParams
        The generic model. A Gait10dof18musc-like model without markers gets
        the subject01 marker set (:mod:`twin.fit.markersets`).
    static : xarray.Dataset
        Recording of the person standing (or, lacking one, a walking trial:
        distances are medians over frames and placement uses one frame).
    mass : float
        Body mass [kg]; required (or ``static.attrs["subject_mass"]``).
    height : float, optional
        Stature [m]; scales segments no measurement covers.
    marker_weights : mapping, optional
        Marker-placer weights (default: subject01 setup, landmarks 1000, others 1).
    coordinate_weights : mapping, optional
        Coordinate tasks of the placement IK, ``{name: weight}`` or ``{name: (value, weight)}``
        (default: lumbar_extension held at 0 with weight 1000).
    measurements : sequence, optional
        ``(name, marker pairs, bodies)`` triples (pairs may be a list of pair
        groups tried in order); default :data:`DEFAULT_MEASUREMENTS`.
    manual_scales : mapping, optional
        Body -> uniform scale factor applied after the measurements (OpenSim's
        ``manualScale``, replacing the measured factor of that body), e.g.
        :data:`twin.fit.markersets.SUBJECT01_MANUAL_SCALES` to run OpenSim's
        subject01 setup exactly.
    time_range : (float, float), optional
        Frames of the static trial to use (default all).
    plausible : (float, float), default (0.7, 1.4)
        Scale factors outside this range raise :class:`~twin.errors.TwinError`.
    preserve_mass_distribution : bool, default True
        Scale all body masses by the same ratio to reach ``mass``.
    place_markers : bool, default True
        Move the model's markers onto the static trial's (MarkerPlacer).
    marker_map, align
        As in :func:`twin.fit.inverse_kinematics`.
    accuracy : float, default 1e-5
        Accuracy of the placement IK.
    placement : {"auto", "3d", "model"}
        Model whose IK gives the static pose for marker placement: for a
        sagittal-plane model "auto" (= "3d") uses :func:`three_d_copy` (a standing
        person's pose has sideways components a planar model cannot take, and
        fitting them with the planar model tilts every segment); "model" uses
        the model itself.
    generic_markers : bool, default True
        For a BodyParams fitted with its ``subject01`` marker set, start from
        the generic Gait2354 marker locations
        (:data:`~twin.fit.markersets.SUBJECT01_MARKERS`, the ones OpenSim's
        subject01 pipeline starts from) rather than the set's own locations
        (OpenSim's placements on subject01, which carry that person's
        asymmetries).

    Returns
    -------
    (opensim.Model or BodyParams, xarray.Dataset)
        The scaled model with its placed markers (``model.printToXML(path)``
        writes it) -- or, for a BodyParams, the scaled BodyParams
        (``BodyParams.scaled`` with the measured factors, the same rules as
        OpenSim's) whose marker set (``report.attrs["marker_set"]``) holds the
        placed markers -- and a report: ``scale_factor(segment)``,
        ``measurement_factor(measurement)`` with ``measurement_pairs``,
        ``marker_error(marker)`` [m] of the scaled model on the static pose
        before the markers were moved, ``marker_offset(marker)`` [m] how far
        placement moved each marker; attrs ``marker_rms_m``,
        ``marker_max_m``, ``mass_kg``, ``model_mass_kg``, ``settings`` (JSON),
        ``opensim_version``, ``history``.

    Raises
    ------
    TwinError
        Mass missing or implausible, scale factors implausible (wrong person's
        static trial), markers missing.

    Examples
    --------
    >>> import twin.fit
    >>> try:
    ...     twin.fit.scale("generic.osim", None)
    ... except twin.TwinError as err:
    ...     print(str(err)[:44])
    static must be an xarray.Dataset read by twi
    """
    if not isinstance(static, xr.Dataset):
        raise ParameterError(f"static must be an xarray.Dataset read by twin.read(), not {type(static).__name__}")
    if mass is None:
        mass = static.attrs.get("subject_mass")
    if mass is None:
        raise TwinError("scale() needs the subject's body mass: pass mass=<kg> (the static trial does not "
                        "record subject_mass); OpenSim scales every body's mass to it")
    check_param("mass", float(mass), minimum=10.0, maximum=400.0)
    if height is None:
        height = static.attrs.get("subject_height")
    if height is not None:
        check_param("height", float(height), minimum=0.5, maximum=2.6)
    lo, hi = (float(v) for v in plausible)
    check_param("accuracy", float(accuracy), minimum=1e-12, maximum=1.0)

    o = _osim.osim()
    params_in = model if _osim.is_body_params(model) else None
    set_name = _osim.pick_marker_set(model, _names_of(static)) if params_in is not None else None
    if params_in is not None and set_name == "subject01" and generic_markers:
        params_in = _generic_subject01(params_in)
    m, source = _osim.load_model(params_in if params_in is not None else model, marker_set=set_name)
    if m.getMarkerSet().getSize() == 0:
        raise TwinError(f"the model ({source}) has no markers and is not a Gait10dof18musc-like model twin has a "
                        "marker set for; add markers to the model first")
    rec = prepare_markers(static, m, marker_map=marker_map, align=align, time_range=time_range, what="static trial")
    with _osim.quiet():
        state = m.initSystem()
    model_pos = _model_marker_positions(m, state)
    names = [str(n) for n in rec["marker"].values]
    data = rec["markers"].transpose("time", "marker", "axis").values
    idx = {n: i for i, n in enumerate(names)}

    def present(n: str) -> bool:
        return n in idx and n in model_pos and np.isfinite(data[:, idx[n], :]).all(axis=1).any()

    # 1. measurements
    meas = _normalise_measurements(DEFAULT_MEASUREMENTS if measurements is None else measurements)
    bodies_in_model = {b.getName() for b in m.getBodySet()}
    factors: dict[str, float] = {}
    used_pairs: dict[str, str] = {}
    body_factor: dict[str, tuple[float, str]] = {}
    for name, groups, bodies in meas:
        chosen = None
        for group in groups:
            usable = [p for p in group if present(p[0]) and present(p[1])]
            if usable:
                chosen = usable
                break
        if chosen is None:
            continue
        ratios = []
        for a, b in chosen:
            d = np.linalg.norm(data[:, idx[a], :] - data[:, idx[b], :], axis=1)
            d_exp = float(np.nanmedian(d))
            d_mod = float(np.linalg.norm(model_pos[a] - model_pos[b]))
            if d_mod < 1e-6:
                raise TwinError(f"measurement {name!r}: model markers {a} and {b} coincide; fix the marker set")
            ratios.append(d_exp / d_mod)
        factors[name] = float(np.mean(ratios))
        used_pairs[name] = "; ".join(f"{a}-{b}" for a, b in chosen)
        for b in bodies:
            if b in bodies_in_model:
                body_factor[b] = (factors[name], name)
    # 2. plausibility
    bad = {k: v for k, v in factors.items() if not lo <= v <= hi}
    if bad:
        bodies_of = {name: [b for b in bodies if b in bodies_in_model] for name, _, bodies in meas}
        parts = [f"{k} x{v:.2f} (bodies {', '.join(bodies_of[k])}; marker pairs {used_pairs[k]})" for k, v in bad.items()]
        raise TwinError(
            "implausible scale factors for segment(s) " + ", ".join(parts) + f": outside {lo:g}-{hi:g}. The static "
            "trial is probably of another person (or a child/adult mismatch with this model), or markers are "
            "mislabelled/swapped; check the static trial and the marker names"
        )
    if not factors:
        raise TwinError(f"no scaling measurement could be made: the static trial lacks every marker pair "
                        f"({'; '.join(f'{n}: ' + ', '.join(f'{a}-{b}' for a, b in g[0]) for n, g, _ in meas)})")
    fallback_note = ""
    uncovered = sorted(b for b in bodies_in_model if b not in body_factor)
    if height is not None:
        fb, fb_name = float(height) / GENERIC_STATURE_M, f"height {float(height):.3f} m / {GENERIC_STATURE_M} m"
    else:
        fb, fb_name = float(np.mean(list(factors.values()))), "mean of the measured factors"
    missing_meas = [n for n, _, _ in meas if n not in factors]
    for b, f in (manual_scales or {}).items():
        if b not in bodies_in_model:
            raise ParameterError(f"manual_scales names body {b!r}, which the model lacks; it has {sorted(bodies_in_model)}")
        check_param(f"manual_scales[{b!r}]", float(f), minimum=0.05, maximum=20.0)
        body_factor[b] = (float(f), "manual")
    for b in uncovered:
        body_factor[b] = (fb, fb_name)
    if uncovered:
        fallback_note = f"; bodies without a measurement ({', '.join(uncovered)}) scaled by {fb:.4f} ({fb_name})"
    if not lo <= fb <= hi and uncovered:
        raise TwinError(f"implausible fallback scale factor {fb:.2f} ({fb_name}) for {', '.join(uncovered)}; "
                        "check height=")
    # 3. apply
    scale_set = o.ScaleSet()
    for b, (f, _) in body_factor.items():
        sc = o.Scale()
        sc.setSegmentName(b)
        sc.setScaleFactors(o.Vec3(f, f, f))
        sc.setApply(True)
        scale_set.cloneAndAppend(sc)
    generic_mass = float(m.getTotalMass(state))
    scaled_params = None
    if params_in is not None:
        # one body, two views: scale the parameters (OpenSim ScaleTool rules) and rebuild the model from them
        scaled_params = params_in.scaled(
            mass=float(mass), factors={b: f for b, (f, _) in body_factor.items()},
            **({} if preserve_mass_distribution else {"mass_distribution": "deleva"}))
        m, _ = _osim.load_model(scaled_params, marker_set=set_name)
        with _osim.quiet():
            state = m.initSystem()
    else:
        with _osim.quiet():
            ok = m.scale(state, scale_set, bool(preserve_mass_distribution), float(mass))
            if ok is False:
                raise TwinError("OpenSim could not scale the model (Model.scale returned false)")
            state = m.initSystem()

    # 4. marker placement
    weights = {n: SUBJECT01_PLACER_WEIGHTS.get(n, 1.0) for n in names}
    for n, w in (marker_weights or {}).items():
        weights[str(n)] = float(check_param(f"marker_weights[{n!r}]", float(w), minimum=0.0))
    tasks_in = dict(SUBJECT01_PLACER_COORDINATES) if coordinate_weights is None else dict(coordinate_weights)
    coords_in_model = {c.getName() for c in m.getCoordinateSet()}
    tasks = _coordinate_tasks(m, {k: v for k, v in tasks_in.items() if k in coords_in_model})
    use = [n for n in names if n in model_pos and weights.get(n, 0) > 0 and present(n)]
    if len(use) < 3:
        raise TwinError(f"the static trial shares only {len(use)} markers with the model ({', '.join(use)}); "
                        "at least 3 are needed to place markers")
    pos = data[:, [idx[n] for n in use], :]
    times = rec["time"].values
    pelvis = [n for n in ("R.ASIS", "L.ASIS", "V.Sacral") if n in use]
    travel = 0.0
    if pelvis:
        c = np.nanmean(pos[:, [use.index(n) for n in pelvis], :], axis=1)
        travel = float(np.nanmax(np.linalg.norm(c - c[np.isfinite(c).all(axis=1)][0], axis=1))) if np.isfinite(c).any() else 0.0
    if travel > _STATIC_MOTION_M:
        # a moving trial: one frame with every marker, the pelvis square to the walking direction
        counts = np.isfinite(pos).all(axis=2).sum(axis=1)
        best = np.flatnonzero(counts == counts.max())
        if "R.ASIS" in use and "L.ASIS" in use:
            dx = np.abs(pos[best, use.index("R.ASIS"), 0] - pos[best, use.index("L.ASIS"), 0])
            mid = np.abs(best - times.size / 2) / times.size  # tie-break towards the middle of the trial
            k = int(best[np.argmin(dx + 0.01 * mid)])
        else:
            k = int(best[best.size // 2])
        frame, frame_t, how = pos[k][None], times[k:k + 1], f"one frame at t = {times[k]:.3f} s (the trial moves)"
    else:
        with np.errstate(invalid="ignore"):
            frame = np.nanmean(pos, axis=0)[None]
        frame_t, how = times[:1], f"mean of {times.size} frames {times[0]:.3f}-{times[-1]:.3f} s"
    planar = _osim.is_planar(m)
    if placement not in ("auto", "3d", "model"):
        raise ParameterError(f"placement={placement!r} must be 'auto', '3d' or 'model'")
    use_3d = planar and placement in ("auto", "3d")
    pm = three_d_copy(m) if use_3d else m
    with _osim.quiet():
        pstate = pm.initSystem() if use_3d else state
        problem = _IKProblem(pm, use, frame, frame_t, weights, tasks, accuracy)
        _, err_vec = problem.run(pstate)
    err = np.linalg.norm(err_vec[0], axis=1)
    offsets = np.zeros(len(use))
    if place_markers:
        ground = pm.getGround()
        pm.realizePosition(pstate)
        for j, n in enumerate(use):
            if not np.isfinite(frame[0, j]).all():
                continue
            mk = m.getMarkerSet().get(n)
            if mk.get_fixed():
                continue
            pmk = pm.getMarkerSet().get(n)
            old = pmk.getLocationInGround(pstate)
            old = np.array([old[0], old[1], old[2]])
            loc = ground.findStationLocationInAnotherFrame(pstate, o.Vec3(*frame[0, j]), pmk.getParentFrame())
            offsets[j] = float(np.linalg.norm(old - frame[0, j]))
            mk.set_location(loc)
        with _osim.quiet():
            m.finalizeConnections()
            m.initSystem()
    if use_3d:
        how += "; placement IK on a 3-D copy of the planar model (pelvis 6 DOF, ball hips and lumbar)"
    m.setName(str(static.attrs.get("subject", "")) or (m.getName() + "_scaled"))

    # report
    segs = sorted(body_factor)
    settings = {"mass_kg": float(mass), "height_m": None if height is None else float(height),
                "plausible": [lo, hi], "manual_scales": dict(manual_scales or {}), "preserve_mass_distribution": bool(preserve_mass_distribution),
                "placer_weights": {n: weights[n] for n in use}, "coordinate_tasks": {k: list(v) for k, v in tasks.items()},
                "placement_pose": how, "place_markers": bool(place_markers),
                "marker_map": rec.attrs.get("marker_map", "none")}
    rms = float(np.sqrt(np.nanmean(err ** 2)))
    history = rec.attrs.get("history", "")
    line = (f"twin.fit.scale: OpenSim {_osim.opensim_version()} Model.scale of {source} with "
            + ", ".join(f"{k} x{v:.4f}" for k, v in factors.items()) + fallback_note
            + ("; manual: " + ", ".join(f"{b} x{float(f):.4f}" for b, f in manual_scales.items()) if manual_scales else "")
            + f"; mass {generic_mass:.2f} -> {float(mass):.2f} kg; markers placed on the static pose ({how}), "
              f"{len(use)} markers, RMS {rms * 1000:.1f} mm before placement")
    report = xr.Dataset(
        {
            "scale_factor": (("segment",), [body_factor[s][0] for s in segs],
                             {"units": "1", "long_name": "uniform scale factor applied to the body"}),
            "measurement_factor": (("measurement",), [factors[k] for k in factors],
                                   {"units": "1", "long_name": "mean ratio recorded / model marker distance"}),
            "marker_error": (("marker",), err, {"units": "m", "long_name": "static pose marker error before placement"}),
            "marker_offset": (("marker",), offsets, {"units": "m", "long_name": "distance the placement moved the marker"}),
        },
        coords={"segment": segs, "scaled_by": ("segment", [body_factor[s][1] for s in segs]),
                "measurement": list(factors), "measurement_pairs": ("measurement", [used_pairs[k] for k in factors]),
                "marker": use},
        attrs={"source": str(static.attrs.get("source", "")), "model": source, "history": f"{history}\n{line}" if history else line,
               "mass_kg": float(mass), "model_mass_kg": float(m.getTotalMass(m.initSystem())), "generic_mass_kg": generic_mass,
               "marker_rms_m": rms, "marker_max_m": float(np.nanmax(err)), "n_markers": len(use),
               "missing_measurements": ", ".join(missing_meas), "settings": json.dumps(settings),
               "opensim_version": _osim.opensim_version(), "heading_deg": float(rec.attrs.get("heading_deg", 0.0)),
               "lateral_shift_m": float(rec.attrs.get("lateral_shift_m", 0.0)),
               "mirrored_z": int(rec.attrs.get("mirrored_z", 0))},
    )
    if height is not None:
        report.attrs["height_m"] = float(height)
    if scaled_params is not None:
        report.attrs["marker_set"] = str(set_name)
        return _with_markers(scaled_params, set_name, m), report
    return m, report


def _generic_subject01(params: Any) -> Any:
    """BodyParams whose ``subject01`` markers sit at the generic Gait2354 locations."""
    import dataclasses

    from .markersets import SUBJECT01_MARKERS

    generic = {name: (body, loc) for name, body, loc in SUBJECT01_MARKERS}
    old = params.marker_set("subject01")
    markers = tuple(dataclasses.replace(mk, body=generic[mk.name][0], location=tuple(float(v) for v in generic[mk.name][1]))
                    if mk.name in generic else mk for mk in old.markers)
    new_set = dataclasses.replace(old, markers=markers)
    return dataclasses.replace(params, marker_sets=tuple(new_set if ms.name == "subject01" else ms
                                                         for ms in params.marker_sets))


def _with_markers(params: Any, set_name: str | None, model: Any) -> Any:
    """BodyParams whose marker set ``set_name`` has the (placed) marker locations of ``model``."""
    import dataclasses

    if set_name is None:
        return params
    old = params.marker_set(set_name)
    where = {mk.getName(): mk.get_location() for mk in model.getMarkerSet()}
    markers = tuple(dataclasses.replace(mk, location=tuple(float(where[mk.name][i]) for i in range(3)))
                    if mk.name in where else mk for mk in old.markers)
    new_set = dataclasses.replace(old, markers=markers,
                                  description=(old.description + " Markers placed by twin.fit.scale.").strip())
    history = tuple(params.history) + (f"twin.fit.scale: marker set {set_name!r} placed on the static trial",)
    return dataclasses.replace(params, marker_sets=tuple(new_set if ms.name == set_name else ms
                                                         for ms in params.marker_sets), history=history)
