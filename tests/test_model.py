"""twin.model: BodyParams against OpenSim's published Gait10dof18musc, the OpenSim build, scaling, datasets."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import twin
from twin.errors import ParameterError, SchemaError, TwinError
from twin.model import (
    BodyParams,
    ContactSphere,
    Coordinate,
    Joint,
    Muscle,
    PathPoint,
    Segment,
    Spline,
    compare_to_reference,
    geometry,
    to_opensim,
    write_osim,
)
from twin.model.markers import OPENCAP_NAMES
from twin.model.scaling import DE_LEVA_1996

from conftest import GAIT10

osim = pytest.importorskip("opensim")
osim.Logger.setLevelString("error")

REF = "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim"
SUBJECT01 = "opensim-models/Models/Gait10dof18musc/subject01.osim"
OPENCAP_TRC = "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/MarkerData/walk.trc"
MUSCLES = ("hamstrings", "bifemsh", "glut_max", "iliopsoas", "rect_fem", "vasti", "gastroc", "soleus", "tib_ant")


@pytest.fixture(scope="module")
def body() -> BodyParams:
    return BodyParams.default()


@pytest.fixture(scope="module")
def reference(data_file):
    model = osim.Model(str(data_file(REF)))
    return model, model.initSystem()


def _v(x) -> np.ndarray:
    return np.array([x.get(i) for i in range(3)])


# ----------------------------------------------------------------------------- structure


def test_default_structure(body):
    assert body.segment_names == ("pelvis", "femur_r", "tibia_r", "talus_r", "calcn_r", "toes_r",
                                  "femur_l", "tibia_l", "talus_l", "calcn_l", "toes_l", "torso")
    assert body.coordinate_names == ("pelvis_tilt", "pelvis_tx", "pelvis_ty", "hip_flexion_r", "knee_angle_r",
                                     "ankle_angle_r", "hip_flexion_l", "knee_angle_l", "ankle_angle_l",
                                     "lumbar_extension")
    assert body.muscle_names == tuple(f"{m}_{s}" for s in "rl" for m in MUSCLES)
    assert [j.type for j in body.joints] == ["planar", "pin", "pin", "pin", "weld", "weld",
                                             "pin", "pin", "pin", "weld", "weld", "pin"]
    assert body.joint("knee_r").coupled and not body.joint("hip_r").coupled
    kinds = {p.kind for m in body.muscles for p in m.path}
    assert kinds == {"fixed", "conditional", "moving"}
    assert [c.name for c in body.contact_spheres] == ["heel_r", "toe_r", "heel_l", "toe_l"]
    assert body.coordinate_type("pelvis_ty") == "translational" and body.coordinate_type("knee_angle_l") == "rotational"
    assert body.crossed_coordinates("rect_fem_l") == ("hip_flexion_l", "knee_angle_l")
    assert body.default_pose()["pelvis_ty"] == 0.95
    no_lumbar = BodyParams.default(lumbar=False)
    assert "lumbar_extension" not in no_lumbar.coordinate_names and no_lumbar.joint("back").type == "weld"
    assert no_lumbar.mass == body.mass


def test_marker_sets(body):
    pig = body.marker_set("plug_in_gait")
    assert set(pig.names) == {"LASI", "RASI", "LPSI", "RPSI", "SACR", "LTHI", "RTHI", "LKNE", "RKNE", "LTIB",
                              "RTIB", "LANK", "RANK", "LHEE", "RHEE", "LTOE", "RTOE"}
    assert body.marker_set("opencap").names == OPENCAP_NAMES
    # left/right mirror images in the derived sets
    m = {mk.name: mk for mk in pig.markers}
    assert m["LKNE"].location == (m["RKNE"].location[0], m["RKNE"].location[1], -m["RKNE"].location[2])
    assert m["LKNE"].body == "femur_l" and m["RKNE"].body == "femur_r"
    with pytest.raises(ParameterError, match="marker set 'vicon'"):
        BodyParams.default(marker_sets=["vicon"])


def test_marker_names_match_real_files(body, data_file):
    trc = twin.read(data_file(OPENCAP_TRC))
    assert set(OPENCAP_NAMES) == {str(n) for n in trc.marker.values}
    static = twin.read(data_file(f"{GAIT10}/ExperimentalData/subject01_static.trc"))
    assert set(body.marker_set("subject01").names) <= {str(n) for n in static.marker.values}


def test_subject01_markers_scale_back_onto_opensims_subject01(body, data_file):
    """Our unscaled subject01 markers, scaled with subject01's factors, land where OpenSim's subject01 has them."""
    model = osim.Model(str(data_file(SUBJECT01)))
    factors = _subject01_factors(model)
    scaled = body.scaled(factors=factors)
    for mk in scaled.marker_set("subject01").markers:
        ref = model.getMarkerSet().get(mk.name)
        assert ref.getParentFrame().getName() == mk.body
        np.testing.assert_allclose(mk.location, _v(ref.get_location()), atol=2e-6, err_msg=mk.name)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("change, match", [
    (lambda b: b.with_segment("femur_r", mass=-2.0), r"segment 'femur_r': mass=-2.0 must be > 0 \(kg\)"),
    (lambda b: b.with_segment("tibia_l", mass=float("nan")), r"segment 'tibia_l': mass=nan must be finite"),
    (lambda b: b.with_segment("pelvis", inertia=(0.1, 0.1, 0.3, 0, 0, 0)), r"segment 'pelvis': inertia=.*triangle"),
    (lambda b: b.with_segment("pelvis", inertia=(-0.1, 0.1, 0.1, 0, 0, 0)), r"negative principal moment"),
    (lambda b: b.with_muscle("soleus_r", optimal_fiber_length=0.0),
     r"muscle 'soleus_r': optimal_fiber_length=0.0 must be > 0 \(m\)"),
    (lambda b: b.with_muscle("vasti_l", tendon_slack_length=-0.1), r"muscle 'vasti_l': tendon_slack_length"),
    (lambda b: b.with_muscle("vasti_l", max_isometric_force=0), r"muscle 'vasti_l': max_isometric_force=0"),
    (lambda b: b.with_muscle("gastroc_r", pennation_angle_at_optimal=math.pi / 2), r"pennation_angle_at_optimal"),
    (lambda b: b.with_muscle("gastroc_r", max_contraction_velocity=-10), r"max_contraction_velocity"),
    (lambda b: b.with_muscle("gastroc_r", deactivation_time_constant=0), r"deactivation_time_constant"),
    (lambda b: b.with_muscle("gastroc_r", path=b.muscle("gastroc_r").path[:1]), r"at least 2 points"),
    (lambda b: b.with_coordinate("knee_angle_r", range=(0.5, -0.5)),
     r"coordinate 'knee_angle_r': range=\(0.5, -0.5\): min 0.5 > max -0.5"),
    (lambda b: b.with_coordinate("hip_flexion_l", default=3.0),
     r"coordinate 'hip_flexion_l': default=3.0 lies outside"),
    (lambda b: dataclasses.replace(b, height=-1.0), r"body: height=-1.0 must be > 0 \(m\)"),
    (lambda b: dataclasses.replace(b, segments=b.segments[1:]), r"segment 'femur_r': parent 'pelvis' must be"),
    (lambda b: dataclasses.replace(b, segments=b.segments + b.segments[-1:]), r"segment name 'torso' is used twice"),
    (lambda b: dataclasses.replace(b, contact_spheres=(ContactSphere("heel_r", "foot_r", (0, 0, 0), 0.03),)),
     r"contact sphere 'heel_r': body 'foot_r' does not exist"),
    (lambda b: dataclasses.replace(b, contact_spheres=(ContactSphere("heel_r", "calcn_r", (0, 0, 0), 0.0),)),
     r"contact sphere 'heel_r': radius=0.0 must be > 0"),
])
def test_bad_parameters_are_rejected(body, change, match):
    with pytest.raises(ParameterError, match=match) as info:
        change(body)
    assert isinstance(info.value, TwinError)


def test_bad_records_are_rejected():
    with pytest.raises(ParameterError, match="type='ball' is not allowed"):
        Joint("hip", "ball", "pelvis")
    with pytest.raises(ParameterError, match="a pin joint has 1 coordinate"):
        Joint("hip", "pin", "pelvis")
    with pytest.raises(ParameterError, match="only allowed on pin joints"):
        Joint("j", "weld", "pelvis", translation_x=Spline((0, 1), (0, 1)))
    with pytest.raises(ParameterError, match="strictly increasing"):
        Spline((0.0, 0.0, 1.0), (1.0, 2.0, 3.0))
    with pytest.raises(ParameterError, match="at least 2 knots"):
        Spline((0.0,), (1.0,))
    with pytest.raises(ParameterError, match="needs its coordinate"):
        PathPoint("p", "femur_r", (0, 0, 0), range=(0.0, 1.0))
    with pytest.raises(ParameterError, match="all three splines"):
        PathPoint("p", "tibia_r", coordinate="knee_angle_r", x=Spline((0, 1), (0, 1)))
    with pytest.raises(ParameterError, match=r"location=.*3 numbers"):
        PathPoint("p", "femur_r", (0, 0))
    with pytest.raises(ParameterError, match="unknown field"):
        Coordinate.from_dict({"name": "q", "range": (0, 1), "speed": 2})
    with pytest.raises(ParameterError, match="must be a Joint"):
        Segment("s", 1.0, (0, 0, 0), (1, 1, 1, 0, 0, 0), joint="hip")
    with pytest.raises(ParameterError, match="path point name 'a' is used twice"):
        Muscle("m", 1, 1, 1, 0, 10, (PathPoint("a", "b"), PathPoint("a", "c")))


def test_unknown_path_references_are_rejected(body):
    m = body.muscle("rect_fem_r")
    cond = dataclasses.replace(m.path[1], coordinate="knee_angle_x")
    with pytest.raises(ParameterError, match="depends on coordinate 'knee_angle_x', which does not exist"):
        body.with_muscle("rect_fem_r", path=(m.path[0], cond, m.path[2]))
    with pytest.raises(ParameterError, match="muscle 'soleus_x' does not exist"):
        body.with_muscle("soleus_x", max_isometric_force=1.0)


# ----------------------------------------------------------------------------- spline and geometry vs OpenSim


@pytest.mark.parametrize("n", [2, 3, 4, 7, 17])
def test_spline_matches_opensim_simmspline(n):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.uniform(0.05, 0.6, n)) - 1.0
    y = rng.normal(0, 0.05, n)
    ours = Spline(x, y)
    ref = osim.SimmSpline()
    for a, b in zip(x, y):
        ref.addPoint(float(a), float(b))
    q = np.concatenate([np.linspace(x[0] - 0.3, x[-1] + 0.3, 97), x])
    want = np.array([ref.calcValue(osim.Vector(1, float(v))) for v in q])
    np.testing.assert_allclose(ours(q), want, rtol=0, atol=1e-13)
    d1 = np.array([ref.calcDerivative([0], osim.Vector(1, float(v))) for v in q[:97]])
    np.testing.assert_allclose(ours(q[:97], derivative=1), d1, rtol=0, atol=1e-11)


def test_numpy_geometry_matches_opensim(body):
    """Segment frames, marker positions, MTU lengths and moment arms of twin.model.geometry equal OpenSim's."""
    model = to_opensim(body, muscle="DeGrooteFregly2016", contact=False, markers="opencap")
    state = model.initSystem()
    cs = model.getCoordinateSet()
    rng = np.random.default_rng(1)
    for _ in range(6):
        pose = {c.name: rng.uniform(*c.range) if body.coordinate_type(c.name) == "rotational"
                else rng.uniform(-0.5, 1.0) for c in body.coordinates}
        for k, v in pose.items():
            cs.get(k).setValue(state, v, False)
        model.realizePosition(state)
        frames = geometry.segment_frames(body, pose)
        for seg in body.segment_names:
            np.testing.assert_allclose(frames[seg][1], _v(model.getBodySet().get(seg).getPositionInGround(state)),
                                       atol=1e-12)
        markers = geometry.marker_positions(body, "opencap", pose)
        for name, p in markers.items():
            np.testing.assert_allclose(p, _v(model.getMarkerSet().get(name).getLocationInGround(state)), atol=1e-12)
        lengths = geometry.mtu_lengths(body, pose)
        for name in body.muscle_names:
            assert lengths[name] == pytest.approx(model.getMuscles().get(name).getLength(state), abs=1e-12)
        for cname in ("hip_flexion_r", "knee_angle_r", "ankle_angle_l"):
            arms = geometry.moment_arms(body, cname, pose)
            for name in body.muscle_names:
                ref = model.getMuscles().get(name).computeMomentArm(state, cs.get(cname))
                assert arms[name] == pytest.approx(ref, abs=1e-7), (name, cname)


# ----------------------------------------------------------------------------- against OpenSim's published model


def test_masses_inertias_and_frames_match_reference(body, reference):
    ref, s_ref = reference
    built = to_opensim(body, muscle="Millard2012", contact=False, markers=None)
    s = built.initSystem()
    total_err = abs(built.getTotalMass(s) - ref.getTotalMass(s_ref)) / ref.getTotalMass(s_ref)
    assert total_err < 0.01
    worst = 0.0
    for seg in body.segment_names:
        a, b = built.getBodySet().get(seg), ref.getBodySet().get(seg)
        worst = max(worst, abs(a.getMass() - b.getMass()) / b.getMass())
        np.testing.assert_allclose(_v(a.getMassCenter()), _v(b.getMassCenter()), atol=1e-12)
        np.testing.assert_allclose(_v(a.getInertia().getMoments()), _v(b.getInertia().getMoments()), atol=1e-12)
        np.testing.assert_allclose(_v(a.getInertia().getProducts()), _v(b.getInertia().getProducts()), atol=1e-12)
    assert worst < 0.01
    for c in body.coordinates:
        a, b = built.getCoordinateSet().get(c.name), ref.getCoordinateSet().get(c.name)
        assert (a.getRangeMin(), a.getRangeMax(), a.getDefaultValue()) == \
               (b.getRangeMin(), b.getRangeMax(), b.getDefaultValue())
        assert a.getJoint().getName() == b.getJoint().getName()
    # joint frames: same body positions and orientations at a flexed pose
    for m, st in ((built, s), (ref, s_ref)):
        for name, v in (("hip_flexion_r", 0.7), ("knee_angle_r", -1.2), ("ankle_angle_l", 0.3), ("pelvis_tilt", 0.1)):
            m.getCoordinateSet().get(name).setValue(st, v, False)
        m.realizePosition(st)
    for seg in body.segment_names:
        ta = built.getBodySet().get(seg).getTransformInGround(s)
        tb = ref.getBodySet().get(seg).getTransformInGround(s_ref)
        np.testing.assert_allclose(_v(ta.p()), _v(tb.p()), atol=1e-12)
        np.testing.assert_allclose(_v(ta.R().convertRotationToBodyFixedXYZ()),
                                   _v(tb.R().convertRotationToBodyFixedXYZ()), atol=1e-12)
    print(f"\nmass: total error {total_err * 100:.2g} %, worst segment {worst * 100:.2g} %")


@pytest.mark.parametrize("muscle", ["Millard2012", "DeGrooteFregly2016"])
def test_muscle_parameters_equal_reference(body, reference, muscle):
    ref, _ = reference
    built = to_opensim(body, muscle=muscle, contact=False, markers=None)
    built.initSystem()
    worst = 0.0
    for name in body.muscle_names:
        a, b = built.getMuscles().get(name), ref.getMuscles().get(name)
        for get in ("getMaxIsometricForce", "getOptimalFiberLength", "getTendonSlackLength",
                    "getPennationAngleAtOptimalFiberLength", "getMaxContractionVelocity"):
            x, y = getattr(a, get)(), getattr(b, get)()
            err = abs(x - y) / abs(y) if y else abs(x - y)
            assert err <= 1e-6, (name, get, x, y)
            worst = max(worst, err)
        assert a.getConcreteClassName() == f"{muscle}EquilibriumMuscle" if muscle == "Millard2012" \
            else a.getConcreteClassName() == "DeGrooteFregly2016Muscle"
        # path point kinds, bodies and coordinates as the reference
        pa, pb = a.getGeometryPath().getPathPointSet(), b.getGeometryPath().getPathPointSet()
        assert pa.getSize() == pb.getSize()
        for i in range(pa.getSize()):
            assert pa.get(i).getConcreteClassName() == pb.get(i).getConcreteClassName()
            assert pa.get(i).getParentFrame().getName() == pb.get(i).getParentFrame().getName()
    if muscle == "Millard2012":
        m = osim.Millard2012EquilibriumMuscle.safeDownCast(built.getMuscles().get("soleus_r"))
        r = osim.Millard2012EquilibriumMuscle.safeDownCast(ref.getMuscles().get("soleus_r"))
        assert m.get_ActiveForceLengthCurve().get_minimum_value() == r.get_ActiveForceLengthCurve().get_minimum_value()
        assert m.get_minimum_activation() == r.get_minimum_activation()
        assert m.get_activation_time_constant() == r.get_activation_time_constant()
        assert m.get_deactivation_time_constant() == r.get_deactivation_time_constant()
    print(f"\n{muscle}: muscle parameter max relative error {worst:.2g}")


@pytest.mark.parametrize("muscle", ["Millard2012", "DeGrooteFregly2016"])
def test_mtu_lengths_and_moment_arms_match_reference(data_file, muscle):
    """Every muscle, every coordinate it crosses, 21 samples over the range of motion: within 2 % or 2 mm."""
    res = compare_to_reference(data_file(REF), muscle=muscle, n=21)
    print(f"\n{muscle}: " + json.dumps({k: v for k, v in res.items() if k != "reference"}))
    assert res["n_sweeps"] == 24 and res["n_samples"] == 24 * 21
    assert res["model_mass_err_pct"] < 1.0 and res["segment_mass_max_err_pct"] < 1.0
    assert res["muscle_param_max_rel_err"] <= 1e-6
    assert res["mtu_length_max_err_pct"] < 2.0 or res["mtu_length_max_abs_err_m"] < 0.002
    assert res["moment_arm_max_err_pct"] < 2.0 or res["moment_arm_max_abs_err_m"] < 0.002


def test_compare_to_reference_rejects_bad_input(data_file, tmp_path):
    with pytest.raises(ParameterError, match="muscle='Hill'"):
        compare_to_reference(data_file(REF), muscle="Hill")
    with pytest.raises(TwinError, match="not found"):
        compare_to_reference(tmp_path / "none.osim")
    other = BodyParams.default().with_muscle("soleus_r", max_isometric_force=1.0)
    renamed = dataclasses.replace(other, muscles=tuple(
        dataclasses.replace(m, name="soleus_x") if m.name == "soleus_r" else m for m in other.muscles))
    with pytest.raises(TwinError, match=r"no muscle \['soleus_x'\]"):
        compare_to_reference(data_file(REF), params=renamed)


# ----------------------------------------------------------------------------- OpenSim build


@pytest.mark.parametrize("muscle", ["DeGrooteFregly2016", "Millard2012"])
@pytest.mark.parametrize("markers", ["subject01", "plug_in_gait", "opencap", None])
def test_to_opensim_inits_for_every_option(body, muscle, markers):
    model = to_opensim(body, muscle=muscle, markers=markers)
    state = model.initSystem()
    assert model.getTotalMass(state) == pytest.approx(body.mass, rel=1e-12)
    n_markers = 0 if markers is None else len(body.marker_set(markers).markers)
    assert model.getMarkerSet().getSize() == n_markers
    assert model.getMuscles().getSize() == 18
    assert model.getContactGeometrySet().getSize() == 5
    names = [model.getForceSet().get(i).getName() for i in range(model.getForceSet().getSize())]
    assert names[-4:] == ["contact_heel_r", "contact_toe_r", "contact_heel_l", "contact_toe_l"]
    model.realizeDynamics(state)  # forces (muscles, contact) evaluate


def test_to_opensim_options_and_errors(body):
    model = to_opensim(BodyParams.default(lumbar=False), contact=False, markers=None)
    state = model.initSystem()
    assert model.getNumCoordinates() == 9 and model.getContactGeometrySet().getSize() == 0
    assert model.getTotalMass(state) == pytest.approx(75.1646)
    with pytest.raises(ParameterError, match="muscle='Thelen2003'"):
        to_opensim(body, muscle="Thelen2003")
    with pytest.raises(ParameterError, match="markers='vicon' is not a marker set"):
        to_opensim(body, markers="vicon")
    with pytest.raises(ParameterError, match="must be a twin.model.BodyParams"):
        to_opensim({"segments": []})
    with pytest.raises(ParameterError, match="contact=1"):
        to_opensim(body, contact=1)


def test_contact_spheres_push_the_feet_up(body):
    """Feet 5 mm into the floor: the smooth sphere forces hold up the body with an upward, finite force."""
    model = to_opensim(body, muscle="DeGrooteFregly2016", markers=None)
    state = model.initSystem()
    frames = geometry.segment_frames(body, {"pelvis_ty": 0.0})
    lowest = min(geometry.point_in_ground(frames, s.body, s.center)[1] - s.radius for s in body.contact_spheres)
    model.getCoordinateSet().get("pelvis_ty").setValue(state, -lowest - 0.005, False)
    model.realizeDynamics(state)
    fy = 0.0
    for s in body.contact_spheres:
        force = osim.SmoothSphereHalfSpaceForce.safeDownCast(model.getForceSet().get(f"contact_{s.name}"))
        values = force.getRecordValues(state)
        fy += values.get(1)  # force on the sphere, ground frame, y
    assert 100.0 < fy < 1e5


def test_write_osim_round_trips_through_opensim(body, tmp_path):
    path = write_osim(body, tmp_path / "twin.osim", muscle="Millard2012", markers="plug_in_gait")
    assert path.exists() and not list(tmp_path.glob(".*tmp*"))
    model = osim.Model(str(path))
    state = model.initSystem()
    assert model.getTotalMass(state) == pytest.approx(body.mass, rel=1e-12)
    assert model.getMarkerSet().getSize() == 17
    assert osim.Millard2012EquilibriumMuscle.safeDownCast(model.getMuscles().get("vasti_r")) is not None
    with pytest.raises(ParameterError, match="must end in .osim"):
        write_osim(body, tmp_path / "twin.xml")
    with pytest.raises(ParameterError, match="does not exist"):
        write_osim(body, tmp_path / "missing" / "twin.osim")


# ----------------------------------------------------------------------------- scaling


def _subject01_factors(model) -> dict[str, float]:
    """Per-segment scale factors of OpenSim's subject01 model: ratio of its centres of mass / joint offsets to ours."""
    generic = BodyParams.default()
    ratios: dict[str, list[float]] = {}
    for seg in generic.segments:
        ours = np.array(seg.com)
        theirs = _v(model.getBodySet().get(seg.name).getMassCenter())
        ratios.setdefault(seg.name, []).extend(theirs[ours != 0] / ours[ours != 0])
        j = seg.joint
        frame = model.getJointSet().get(j.name).getParentFrame()
        if j.parent != "ground" and np.any(j.location_in_parent):
            loc = np.array(j.location_in_parent)
            t = _v(osim.PhysicalOffsetFrame.safeDownCast(frame).get_translation())
            ratios.setdefault(j.parent, []).extend(t[loc != 0] / loc[loc != 0])
    return {k: float(np.median(v)) for k, v in ratios.items()}


def test_scaling_reproduces_opensims_scaletool(body, data_file):
    """scaled(factors, mass) = OpenSim's ScaleTool output subject01.osim: masses, inertias, geometry, fibre/tendon."""
    model = osim.Model(str(data_file(SUBJECT01)))
    state = model.initSystem()
    factors = _subject01_factors(model)
    scaled = body.scaled(factors=factors, mass=model.getTotalMass(state))
    for seg in scaled.segments:
        b = model.getBodySet().get(seg.name)
        assert seg.mass == pytest.approx(b.getMass(), rel=1e-12)
        np.testing.assert_allclose(seg.inertia[:3], _v(b.getInertia().getMoments()), rtol=1e-5)
        np.testing.assert_allclose(seg.com, _v(b.getMassCenter()), atol=1e-6)
    worst = 0.0
    for m in scaled.muscles:
        ref = model.getMuscles().get(m.name)
        for ours, theirs in ((m.optimal_fiber_length, ref.getOptimalFiberLength()),
                             (m.tendon_slack_length, ref.getTendonSlackLength())):
            worst = max(worst, abs(ours - theirs) / theirs)
        pps = ref.getGeometryPath().getPathPointSet()
        for i, p in enumerate(m.path):
            if p.kind != "moving":
                np.testing.assert_allclose(p.location, _v(osim.PathPoint.safeDownCast(pps.get(i)).get_location()
                                                          if p.kind == "fixed" else
                                                          osim.ConditionalPathPoint.safeDownCast(pps.get(i))
                                                          .get_location()), atol=2e-6)
    assert worst < 1e-5  # OpenSim wrote the factors to 6 digits
    # and the scaled knee and moving points agree through OpenSim too
    built = to_opensim(scaled, muscle="Millard2012", contact=False, markers=None)
    s_built = built.initSystem()
    for name in ("rect_fem_r", "vasti_l", "gastroc_r", "hamstrings_l"):
        for q in (-1.5, -0.5, 0.1):
            for m, st in ((built, s_built), (model, state)):
                m.getCoordinateSet().get(f"knee_angle_{name[-1]}").setValue(st, q, False)
                m.realizePosition(st)
            assert built.getMuscles().get(name).getLength(s_built) == \
                pytest.approx(model.getMuscles().get(name).getLength(state), abs=2e-6)
    print(f"\nscaling vs OpenSim ScaleTool (subject01): fibre/tendon length max relative error {worst:.2g}")


def test_scaling_by_height_and_mass(body):
    small = body.scaled(height=1.53, mass=50.0, sex="female")
    assert small.mass == pytest.approx(50.0)
    assert small.height == pytest.approx(1.53)
    s = 1.53 / 1.8
    assert small.joint("ankle_r").location_in_parent[1] == pytest.approx(-0.43 * s)
    assert small.joint("knee_r").translation_y(0.0) == pytest.approx(body.joint("knee_r").translation_y(0.0) * s)
    frac = {k: v[1] for k, v in DE_LEVA_1996.items()}
    total = frac["head"] + frac["torso"] + frac["pelvis"] + 2 * (frac["upper_arm"] + frac["forearm"] + frac["hand"]
                                                               + frac["thigh"] + frac["shank"] + frac["foot"])
    assert small.segment("femur_l").mass == pytest.approx(50.0 * frac["thigh"] / total)
    feet = sum(small.segment(n).mass for n in ("talus_r", "calcn_r", "toes_r"))
    assert feet == pytest.approx(50.0 * frac["foot"] / total)
    # inertia follows mass and size: radius of gyration scales with height
    for name in ("femur_r", "torso"):
        a, b = small.segment(name), body.segment(name)
        assert math.sqrt(a.inertia[2] / a.mass) == pytest.approx(math.sqrt(b.inertia[2] / b.mass) * s)
    # a uniform height change scales every musculotendon length, hence fibre and tendon lengths, by s
    for m, m0 in zip(small.muscles, body.muscles):
        assert m.optimal_fiber_length == pytest.approx(m0.optimal_fiber_length * s)
        assert m.max_isometric_force == m0.max_isometric_force
    assert "de Leva 1996 female" in small.history[-1]
    # model distribution keeps proportions; no-op scaling is the identity
    same = body.scaled(factors={n: 1.0 for n in body.segment_names}, mass=body.mass)
    for a, b in zip(same.segments, body.segments):
        assert a.mass == pytest.approx(b.mass) and np.allclose(a.inertia, b.inertia)
    assert same.height == pytest.approx(body.height)
    # height scaled by per-segment factors follows the standing height
    tall = body.scaled(factors={"femur_r": 1.1, "femur_l": 1.1, "tibia_r": 1.1, "tibia_l": 1.1})
    assert body.height < tall.height < body.height * 1.1
    anis = body.scaled(factors={"pelvis": (1.0, 1.0, 1.3)})
    assert anis.joint("hip_r").location_in_parent[2] == pytest.approx(0.0835 * 1.3)
    assert anis.segment("pelvis").inertia[2] == pytest.approx(body.segment("pelvis").inertia[2])  # about z: x,y only


@pytest.mark.parametrize("kwargs, match", [
    ({"height": 180.0}, "not a human stature"),
    ({"height": -1.7}, "height=-1.7"),
    ({"mass": 0.0}, "mass=0.0"),
    ({"mass": 70000}, "not a human body mass"),
    ({"factors": {"femur": 1.1}}, r"factors\['femur'\]: no such segment"),
    ({"factors": {"femur_r": 0.0}}, r"factors\['femur_r'\]=0.0 must be finite and > 0"),
    ({"factors": {"femur_r": (1, 2)}}, "must be a number or 3 numbers"),
    ({"factors": [("femur_r", 1.0)]}, "factors must be a mapping"),
    ({"sex": "x", "height": 1.7}, "sex='x'"),
    ({"mass": 70, "mass_distribution": "winter"}, "mass_distribution='winter'"),
])
def test_scaling_rejects_bad_input(body, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        body.scaled(**kwargs)


# ----------------------------------------------------------------------------- datasets, JSON


def test_dataset_round_trip(body, tmp_path):
    for b in (body, body.scaled(height=1.7, mass=65.0), BodyParams.default(lumbar=False, marker_sets=[])):
        ds = b.to_dataset()
        for name, var in ds.variables.items():
            assert "units" in var.attrs and "long_name" in var.attrs, name
        assert BodyParams.from_dataset(ds) == b
    ds = body.to_dataset()
    twin.save(ds, tmp_path / "body.nc")
    assert BodyParams.from_dataset(twin.load(tmp_path / "body.nc")) == body
    assert ds.segment_mass.sel(segment="femur_r").item() == 9.3014
    assert ds.point_kind.sel(muscle="rect_fem_r").values.tolist()[:3] == ["fixed", "conditional", "moving"]
    assert ds.coordinate_units.sel(coordinate="pelvis_tx").item() == "m"
    with pytest.raises(SchemaError, match="body_params"):
        BodyParams.from_dataset(twin.schema.recording(np.arange(3) / 100.0))
    with pytest.raises(SchemaError, match="lacks"):
        BodyParams.from_dataset(ds.drop_vars("segment_mass"))


def test_json_round_trip(body, tmp_path):
    body.to_json(tmp_path / "body.json")
    assert BodyParams.from_json(tmp_path / "body.json") == body
    assert BodyParams.from_dict(json.loads(json.dumps(body.to_dict()))) == body
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(TwinError, match="bad.json"):
        BodyParams.from_json(tmp_path / "bad.json")


def test_params_are_frozen_and_hashable(body):
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.height = 2.0  # type: ignore[misc]
    assert hash(body) == hash(BodyParams.default())
    assert isinstance(body.segment("pelvis").com, tuple) and isinstance(body.segments, tuple)
