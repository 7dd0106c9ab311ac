"""twin.fit against OpenSim's own answers (Gait10dof18musc subject01 OutputReference), other labs' trials, bad input.

Numbers measured on this machine (OpenSim 4.6), printed by the tests with -s and by
``twin bench fit``:

* reference scaled model (OutputReference/subject01.osim): IK within 0.01 deg of
  OutputReference/IK (tolerance 1 deg; translations 1 mm), ID within 0.3 % of each
  coordinate's peak of OutputReference/ID (tolerance 5 %); ID from the reference IK
  within 0.003 %.
* own scaling with OpenSim's published subject01 scale setup (measurements + its
  manual thigh/shank scales): joint angles within 2.8 deg of the reference, sagittal
  marker RMS 1.9 cm (3-D 3.5 cm: a planar model cannot follow sideways motion; the
  reference model itself gives 3.0 cm), ID within 8.7 % of peak except
  lumbar_extension (17 %) and pelvis_tilt (10.5 %) (xfail below).
* why those two miss: OutputReference's markers were placed from a static pose solved
  *without* the setup's coordinate tasks (lumbar_extension held at 0, subtalar and mtp at
  their defaults, weight 1000): OpenSim 4.6's own ScaleTool run from the published
  Gait2354 setup reproduces them to 0.2 mm only with those tasks switched off (trunk
  -2.9 deg); as published it holds the trunk at 0 and puts the torso markers up to 32 mm
  from the reference's, and its markers then give lumbar_extension 14.9 % and
  pelvis_tilt 8.9 %. twin.fit.scale's placement is within 4.9 mm (torso) and 1.5 mm
  (the rest) of that ScaleTool's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from conftest import GAIT10

twin = pytest.importorskip("twin")
pytest.importorskip("opensim")
import twin.fit as fit  # noqa: E402
from twin.fit.markersets import SUBJECT01_MANUAL_SCALES  # noqa: E402
from twin.fit._osim import marker_distances_mm  # noqa: E402

pytestmark = pytest.mark.data

GENERIC = "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim"
JOINTS = ["hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l", "knee_angle_l", "ankle_angle_l"]


def _rms_deg(kin, ref, coord):
    a = kin.q.sel(coordinate=coord).values
    b = ref.q.sel(coordinate=coord).values
    e = float(np.sqrt(np.mean((a - b) ** 2)))
    return np.degrees(e) if str(ref.coordinate_type.sel(coordinate=coord).values) == "rotational" else e


def _id_pct(dyn, ref, coord):
    a = dyn.moment.sel(coordinate=coord).values
    b = ref.moment.sel(coordinate=coord).values
    return float(100 * np.sqrt(np.mean((a - b) ** 2)) / np.max(np.abs(b)))


@pytest.fixture(scope="module")
def s01(data_file):
    files = {k: data_file(f"{GAIT10}/{v}") for k, v in {
        "walk": "ExperimentalData/subject01_walk.trc", "grf": "ExperimentalData/subject01_walk_grf.mot",
        "static": "ExperimentalData/subject01_static.trc", "model": "OutputReference/subject01.osim",
        "ik": "OutputReference/IK/subject01_walk_IK.mot", "id": "OutputReference/ID/Results/subject01_walk_ID.sto"}.items()}
    data_file(f"{GAIT10}/ExperimentalData/subject01_walk_grf.xml")
    files["generic"] = data_file(GENERIC)
    return {
        "files": files,
        "rec": twin.read([files["walk"], files["grf"]]),
        "static": twin.read(files["static"]),
        "ref_ik": twin.read(files["ik"]),
        "ref_id": twin.read(files["id"]),
    }


@pytest.fixture(scope="module")
def with_reference_model(s01):
    model = s01["files"]["model"]
    kin = fit.inverse_kinematics(model, s01["rec"])
    dyn = fit.inverse_dynamics(model, kin, grf=s01["rec"])
    return kin, dyn


@pytest.fixture(scope="module")
def own_setup(s01):
    """Own scaling of the generic model with OpenSim's published subject01 scale setup."""
    model, report = fit.scale(s01["files"]["generic"], s01["static"], mass=72.6, manual_scales=SUBJECT01_MANUAL_SCALES)
    kin = fit.inverse_kinematics(model, s01["rec"])
    dyn = fit.inverse_dynamics(model, kin, grf=s01["rec"])
    return model, report, kin, dyn


# ------------------------------------------------------------------------------------- reference model


def test_ik_reproduces_opensim_reference(s01, with_reference_model):
    kin, _ = with_reference_model
    twin.validate(kin)
    assert list(kin.coordinate.values) == list(s01["ref_ik"].coordinate.values)
    np.testing.assert_allclose(kin.time.values, s01["ref_ik"].time.values, atol=1e-3)
    errors = {c: _rms_deg(kin, s01["ref_ik"], c) for c in s01["ref_ik"].coordinate.values}
    print("IK vs OutputReference (deg, or m for translations):", {k: round(v, 4) for k, v in errors.items()})
    for c, e in errors.items():
        limit = 0.001 if c.endswith(("_tx", "_ty")) else 1.0  # translations: 1 mm
        assert e < limit, f"{c}: {e}"
    assert max(errors.values()) < 0.05  # measured 0.01 deg
    assert kin.attrs["n_markers"] == 31
    assert 0.02 < kin.attrs["marker_rms_m"] < 0.04  # OpenSim's model on this trial: 3.0 cm (3-D)
    assert np.isfinite(kin.qdot.values).all()


def test_id_reproduces_opensim_reference(s01, with_reference_model):
    _, dyn = with_reference_model
    twin.validate(dyn)
    errors = {c: _id_pct(dyn, s01["ref_id"], c) for c in s01["ref_id"].coordinate.values}
    print("ID vs OutputReference (% of peak):", {k: round(v, 3) for k, v in errors.items()})
    assert max(errors.values()) < 5.0
    assert max(errors.values()) < 1.0  # measured 0.3 %
    assert json.loads(dyn.attrs["grf_assignment"]) == {"right": "right", "left": "left"}


def test_id_engine_exact_from_reference_ik(s01):
    dyn = fit.inverse_dynamics(s01["files"]["model"], s01["ref_ik"], grf=s01["rec"])
    worst = max(_id_pct(dyn, s01["ref_id"], c) for c in s01["ref_id"].coordinate.values)
    assert worst < 0.05, worst  # measured 0.003 %: same filter, splines and solver as the tool


# ------------------------------------------------------------------------------------- own scaling


def test_scale_factors_match_opensim_scaletool(s01):
    """Measured factors equal what OpenSim's ScaleTool logs for the same setup (mean vs median: < 0.1 %)."""
    model, report = fit.scale(s01["files"]["generic"], s01["static"], mass=72.6)
    scaletool = {"torso": 1.0797199, "pelvis": 1.0245770, "thigh": 1.0706327, "shank": 1.1139781, "foot": 1.0270848}
    got = dict(zip(report.measurement.values, report.measurement_factor.values))
    for k, v in scaletool.items():
        assert got[k] == pytest.approx(v, rel=1e-3), k
    assert report.attrs["model_mass_kg"] == pytest.approx(72.6)
    assert model.getMarkerSet().getSize() == 39
    assert float(report.scale_factor.sel(segment="talus_r")) == pytest.approx(got["shank"])


def test_own_scaling_joint_angles_and_markers(s01, own_setup):
    _, report, kin, _ = own_setup
    errors = {c: _rms_deg(kin, s01["ref_ik"], c) for c in JOINTS + ["pelvis_tilt", "lumbar_extension"]}
    print("own scaling, IK vs reference (deg):", {k: round(v, 2) for k, v in errors.items()},
          "marker RMS 3-D / sagittal (m):", round(kin.attrs["marker_rms_m"], 4), round(kin.attrs["marker_rms_sagittal_m"], 4))
    assert max(errors.values()) <= 3.0
    assert kin.attrs["marker_rms_sagittal_m"] <= 0.02
    assert kin.attrs["marker_rms_m"] <= 0.04  # 3-D: includes the sideways motion a planar model cannot follow
    for c in ("pelvis_tx", "pelvis_ty"):
        assert _rms_deg(kin, s01["ref_ik"], c) < 0.005


def test_own_scaling_inverse_dynamics(s01, own_setup):
    *_, dyn = own_setup
    errors = {c: _id_pct(dyn, s01["ref_id"], c) for c in s01["ref_id"].coordinate.values}
    print("own scaling, ID vs reference (% of peak):", {k: round(v, 2) for k, v in errors.items()})
    for c in JOINTS + ["pelvis_tx", "pelvis_ty"]:
        assert errors[c] <= 10.0, c
    for c in ("pelvis_tilt", "lumbar_extension"):
        assert errors[c] <= 20.0, c


@pytest.mark.xfail(reason="lumbar_extension 17 % and pelvis_tilt 10.5 % of peak: OutputReference's markers were placed "
                          "with the scale setup's coordinate tasks off (trunk -2.9 deg in the static pose; twin and "
                          "OpenSim 4.6's ScaleTool hold it at 0 as the setup says); OpenSim 4.6's own ScaleTool "
                          "markers give 14.9 % and 8.9 % (twin bench fit; "
                          "test_reference_markers_placed_without_coordinate_tasks)",
                   strict=False)
def test_own_scaling_trunk_moments_within_10pct(s01, own_setup):
    *_, dyn = own_setup
    for c in ("pelvis_tilt", "lumbar_extension"):
        assert _id_pct(dyn, s01["ref_id"], c) <= 10.0


GAIT2354 = "opensim-models/Pipelines/Gait2354_Simbody"
TORSO = ("Sternum", "R.Acromium", "L.Acromium", "Top.Head")


@pytest.fixture(scope="module")
def scaletool(data_file, tmp_path_factory):
    """OpenSim's own ScaleTool run from the published subject01 setup (3-D Gait2354 model, in a temporary folder):
    {"published": placed model, "no_tasks": the same with the setup's IKCoordinateTasks switched off}."""
    from twin.fit._osim import run_scale_tool

    files = [data_file(f"{GAIT2354}/{n}") for n in ("subject01_Setup_Scale.xml", "gait2354_Scale_MarkerSet.xml",
                                                      "subject01_static.trc")]
    files.append(data_file("opensim-models/Models/Gait2354_Simbody/gait2354_simbody.osim"))
    return {key: run_scale_tool(files[0], files[1:], tmp_path_factory.mktemp(f"scaletool_{key}"),
                                coordinate_tasks=key == "published")
            for key in ("published", "no_tasks")}


def test_placement_matches_opensim_scaletool(own_setup, scaletool):
    """twin's marker placement against OpenSim 4.6's ScaleTool from the same published setup (its 3-D Gait2354
    model; twin places on a 3-D copy of the planar model, with a pin ankle and no subtalar joint)."""
    model, *_ = own_setup
    d = marker_distances_mm(model, scaletool["published"])
    print("twin vs ScaleTool placed markers (mm):", {k: round(v, 1) for k, v in d.items()})
    assert len(d) == 39
    assert max(d[k] for k in TORSO) <= 6.0  # measured 4.9 mm (Top.Head)
    assert max(v for k, v in d.items() if k not in TORSO) <= 2.5  # measured 1.5 mm


def test_reference_markers_placed_without_coordinate_tasks(s01, scaletool):
    """Why the trunk moments miss OutputReference: its markers are the ScaleTool's with the setup's coordinate
    tasks off, not with the setup as published (which twin follows)."""
    import opensim as osim

    ref = osim.Model(str(s01["files"]["model"]))
    published, no_tasks = marker_distances_mm(scaletool["published"], ref), marker_distances_mm(scaletool["no_tasks"], ref)
    print("ScaleTool vs OutputReference markers, max (mm): published", round(max(published.values()), 1),
          "coordinate tasks off", round(max(no_tasks.values()), 2))
    assert max(no_tasks.values()) <= 0.5  # measured 0.2 mm
    assert min(published[k] for k in TORSO) >= 10.0  # measured 14.8-31.9 mm


def test_own_scaling_measurements_only(s01):
    """OpenSim's measurement set alone (no manual scales): a longer shank than the reference's; looser numbers."""
    model, report = fit.scale(s01["files"]["generic"], s01["static"], mass=72.6)
    kin = fit.inverse_kinematics(model, s01["rec"])
    errors = {c: _rms_deg(kin, s01["ref_ik"], c) for c in JOINTS + ["pelvis_tilt", "lumbar_extension"]}
    print("measurements only, IK vs reference (deg):", {k: round(v, 2) for k, v in errors.items()})
    assert max(errors.values()) < 6.0  # measured 4.9 deg (ankle_angle_l)
    assert kin.attrs["marker_rms_sagittal_m"] <= 0.02


def test_body_params_pipeline_matches_osim(s01, own_setup):
    model_mod = pytest.importorskip("twin.model")
    body, report = fit.scale(model_mod.BodyParams.default(), s01["static"], mass=72.6,
                             manual_scales=SUBJECT01_MANUAL_SCALES)
    assert isinstance(body, model_mod.BodyParams)
    assert report.attrs["marker_set"] == "subject01"
    kin = fit.inverse_kinematics(body, s01["rec"])
    _, _, kin_osim, _ = own_setup
    diff = np.degrees(np.abs(kin.q.values - kin_osim.q.values)).max()
    assert diff < 0.1, diff  # one body, two views: BodyParams.scaled == OpenSim Model.scale
    dyn = fit.inverse_dynamics(body, kin, grf=s01["rec"])
    assert max(_id_pct(dyn, s01["ref_id"], c) for c in JOINTS) <= 10.0


def test_compare_to_reference_available():
    model_mod = pytest.importorskip("twin.model")
    out = model_mod.compare_to_reference()
    assert abs(out["model_mass_err_pct"]) < 1.0


# ------------------------------------------------------------------------------------- missing markers, NaN


def test_ik_with_gaps_reports_missing(s01):
    rec = s01["rec"].copy(deep=True)
    vals = rec.markers.values
    k = list(rec.marker.values).index("R.Thigh.Front")
    vals[40:60, k, :] = np.nan
    rec["markers"] = rec.markers.copy(data=vals)
    kin = fit.inverse_kinematics(s01["files"]["model"], rec, time_range=(0.5, 1.2))
    assert int(kin.n_missing.sel(time=slice(0.67, 0.98)).max()) == 1
    assert np.isnan(kin.marker_error.sel(marker="R.Thigh.Front").sel(time=0.8, method="nearest"))
    report = json.loads(kin.attrs["markers_report"])
    assert report["missing_frames"]["R.Thigh.Front"] == 20
    err = _rms_deg(kin, s01["ref_ik"].sel(time=slice(0.49, 1.21)), "hip_flexion_r")
    assert err < 1.0


def test_missing_markers_the_model_needs(s01):
    rec = s01["rec"]
    keep = [m for m in rec.marker.values if not str(m).startswith("R.") or "ASIS" in str(m)]
    with pytest.raises(twin.TwinError, match="lacks the markers the model needs.*knee_angle_r|ankle_angle_r"):
        fit.inverse_kinematics(s01["files"]["model"], rec.sel(marker=keep))


def test_no_shared_markers(s01):
    rec = s01["rec"].assign_coords(marker=[f"X{i}" for i in range(s01["rec"].sizes["marker"])])
    with pytest.raises(twin.TwinError, match="lacks the markers"):
        fit.inverse_kinematics(s01["files"]["model"], rec)


# ------------------------------------------------------------------------------------- bad input


def test_scale_needs_mass(s01):
    with pytest.raises(twin.TwinError, match="body mass"):
        fit.scale(s01["files"]["generic"], s01["static"])


def test_scale_rejects_wrong_persons_static(s01):
    """A static trial of a much smaller person (markers shrunk about the pelvis to 60 %)."""
    st = s01["static"]
    centre = st.markers.sel(marker=["R.ASIS", "L.ASIS"]).mean("marker")
    child = st.copy()
    child["markers"] = (st.markers - centre) * 0.6 + centre
    with pytest.raises(twin.TwinError, match=r"implausible scale factors for segment\(s\) torso x0\.6.*bodies torso.*"
                                            r"thigh x0\.6.*femur_r, femur_l"):
        fit.scale(s01["files"]["generic"], child, mass=72.6)


def test_grf_not_covering_the_trial(s01, with_reference_model):
    kin, _ = with_reference_model
    short = s01["rec"].isel(analog_time=slice(0, 900))  # force data end at ~1.5 s; the trial at 2.5 s
    with pytest.raises(twin.TwinError, match="GRF does not cover the trial"):
        fit.inverse_dynamics(s01["files"]["model"], kin, grf=short)


def test_kinematics_not_matching_model(s01, with_reference_model):
    kin, _ = with_reference_model
    with pytest.raises(twin.TwinError, match="lack the model's coordinates"):
        fit.inverse_dynamics(s01["files"]["model"], kin.sel(coordinate=kin.coordinate.values[:5]), grf=s01["rec"])


def test_bad_model_argument(s01):
    with pytest.raises(twin.TwinError, match="model file not found"):
        fit.inverse_kinematics("no_such_model.osim", s01["rec"])
    with pytest.raises(twin.TwinError):
        fit.inverse_kinematics(42, s01["rec"])


# ------------------------------------------------------------------------------------- muscles, saving, CLI


def test_muscle_forces(s01, with_reference_model):
    kin, dyn = with_reference_model
    so = fit.muscle_forces(s01["files"]["model"], kin.isel(time=slice(0, 60)), dyn.isel(time=slice(0, 60)))
    twin.validate(so)
    assert so.sizes["muscle"] == 18
    a = so.activation.values
    assert np.all((a >= 0) & (a <= 1))
    assert so.attrs["max_reserve_nm"] < 5.0  # the muscles carry the joint moments
    assert so.attrs["frames_not_converged"] == 0
    assert set(so.attrs["unactuated"].split(", ")) == {"pelvis_tilt", "pelvis_tx", "pelvis_ty", "lumbar_extension"}
    # push-off: the right plantarflexors are active when the right ankle moment is most negative (plantarflexing)
    k = int(np.argmin(dyn.moment.sel(coordinate="ankle_angle_r").values[:60]))
    assert so.muscle_force.sel(muscle=["soleus_r", "gastroc_r"]).isel(time=k).sum() > 1000.0


def test_datasets_save_and_load(tmp_path, with_reference_model):
    kin, dyn = with_reference_model
    for ds, name in ((kin, "kin.nc"), (dyn, "dyn.nc")):
        twin.save(ds, tmp_path / name)
        back = twin.load(tmp_path / name)
        xr.testing.assert_allclose(back, ds)
        assert back.attrs["opensim_version"] == ds.attrs["opensim_version"]


def test_cli_fit(tmp_path, s01, capsys):
    import argparse

    from twin.fit.cli import add_parser

    parser = argparse.ArgumentParser(prog="twin")
    add_parser(parser.add_subparsers(dest="command"))
    f = s01["files"]
    args = parser.parse_args(["fit", str(f["walk"]), str(f["grf"]), "--static", str(f["static"]), "--mass", "72.6",
                              "--model", str(f["generic"]), "--out", str(tmp_path)])
    assert args.func(args) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["subject01_walk_dynamics.nc", "subject01_walk_kinematics.nc", "subject01_walk_scale.nc",
                     "subject01_walk_scaled.osim"]
    assert twin.load(tmp_path / "subject01_walk_kinematics.nc").attrs["kind"] == "kinematics"
    assert "marker RMS" in capsys.readouterr().out


def test_cli_fit_needs_mass(tmp_path, s01):
    import argparse

    from twin.fit.cli import add_parser

    parser = argparse.ArgumentParser(prog="twin")
    add_parser(parser.add_subparsers(dest="command"))
    f = s01["files"]
    args = parser.parse_args(["fit", str(f["walk"]), "--static", str(f["static"]), "--out", str(tmp_path)])
    with pytest.raises(twin.TwinError, match="--mass"):
        args.func(args)


def test_inputs_left_unchanged(s01):
    rec = s01["rec"]
    before = dict(rec.attrs)
    fit.inverse_kinematics(s01["files"]["model"], rec, time_range=(0.0, 0.3))
    assert dict(rec.attrs) == before


def _opensim_static_optimization(tmp_path, s01, lo: float = 0.0, hi: float = 2.5):
    """OpenSim's StaticOptimization (AnalyzeTool from a printed XML), residuals on the pelvis and lumbar
    (optimal force 1000: cheap), reserves of optimal force 1 on the joints (as twin's default)."""
    import shutil

    import opensim as osim

    f = s01["files"]
    for name in ("subject01_walk_grf.mot", "subject01_walk_grf.xml"):
        shutil.copy(f["grf"].parent / name, tmp_path / name)
    acts = "".join(
        f'<CoordinateActuator name="act_{c}"><coordinate>{c}</coordinate><optimal_force>{w}</optimal_force>'
        "<min_control>-inf</min_control><max_control>inf</max_control></CoordinateActuator>"
        for c, w in [("pelvis_tx", 1000), ("pelvis_ty", 1000), ("pelvis_tilt", 1000), ("lumbar_extension", 1000)]
        + [(c, 1) for c in JOINTS])
    (tmp_path / "reserves.xml").write_text(
        f'<?xml version="1.0"?><OpenSimDocument Version="40000"><ForceSet name="r"><objects>{acts}</objects>'
        "<groups/></ForceSet></OpenSimDocument>")
    (tmp_path / "so.xml").write_text(f"""<?xml version="1.0"?><OpenSimDocument Version="40000"><AnalyzeTool name="so">
<model_file>{f['model']}</model_file><replace_force_set>false</replace_force_set>
<force_set_files>{tmp_path / 'reserves.xml'}</force_set_files><results_directory>{tmp_path / 'out'}</results_directory>
<initial_time>{lo}</initial_time><final_time>{hi}</final_time>
<AnalysisSet name="Analyses"><objects><StaticOptimization name="StaticOptimization"><on>true</on>
<start_time>{lo}</start_time><end_time>{hi}</end_time><step_interval>1</step_interval><in_degrees>true</in_degrees>
<use_model_force_set>true</use_model_force_set><activation_exponent>2</activation_exponent>
<use_muscle_physiology>true</use_muscle_physiology><optimizer_convergence_criterion>1e-6</optimizer_convergence_criterion>
<optimizer_max_iterations>200</optimizer_max_iterations></StaticOptimization></objects><groups/></AnalysisSet>
<ControllerSet name="Controllers"><objects/><groups/></ControllerSet>
<external_loads_file>{tmp_path / 'subject01_walk_grf.xml'}</external_loads_file>
<coordinates_file>{f['ik']}</coordinates_file>
<lowpass_cutoff_frequency_for_coordinates>6</lowpass_cutoff_frequency_for_coordinates>
</AnalyzeTool></OpenSimDocument>""")
    osim.AnalyzeTool(str(tmp_path / "so.xml")).run()
    return twin.read(tmp_path / "out" / "so_StaticOptimization_activation.sto", kind="table")


def test_muscle_forces_match_opensim_static_optimization(tmp_path, s01):
    """Same kinematics and moments: twin's SLSQP static optimisation against OpenSim's StaticOptimization.

    Measured: activation RMS difference <= 0.05 per muscle, correlation >= 0.83 (rectus femoris, small
    activations) and >= 0.98 for the others; twin's activations run slightly lower because it counts the
    rigid-tendon passive fibre force, which OpenSim's analysis handles differently.
    """
    ref = _opensim_static_optimization(tmp_path, s01)
    model = s01["files"]["model"]
    dyn = fit.inverse_dynamics(model, s01["ref_ik"], grf=s01["rec"])
    so = fit.muscle_forces(model, s01["ref_ik"], dyn)
    for m in so.muscle.values:
        a = np.interp(so.time.values, ref.time.values, ref.table.sel(column=m).values)
        b = so.activation.sel(muscle=m).values
        assert np.sqrt(np.mean((a - b) ** 2)) < 0.06, m
        assert np.corrcoef(a, b)[0, 1] > (0.75 if m.startswith("rect_fem") else 0.95), m
