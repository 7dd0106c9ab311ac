"""Tests of twin.twin: the digital twin object, its simulation of scenarios and its file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import twin
from twin.errors import DataError, ParameterError, ReadError
from twin.twin import Twin, fit_quality, load_twin, reference_cycle

GAIT10 = "opensim-models/Pipelines/Gait10dof18musc"
IK = f"{GAIT10}/OutputReference/IK/subject01_walk_IK.mot"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def default_twin():
    return Twin.default()


def test_simulate_scenarios_in_one_batch(default_twin):
    sim = default_twin.simulate(["weakness:soleus,gastroc=0.4", "afo:200"], duration=0.3)
    assert list(sim.scenario.values) == ["baseline", "weakness:soleus,gastroc=0.4", "afo:200"]
    assert sim.attrs["kind"] == "simulation"
    assert sim.q.dims == ("scenario", "time", "coordinate")
    twin.validate(sim)
    # the weaker plantarflexors really are weaker in the batch: their force differs from the baseline
    sol = sim.muscle_force.sel(muscle="soleus_r")
    assert not np.allclose(sol.sel(scenario="baseline"), sol.isel(scenario=1))
    # the baseline of a batch equals the baseline simulated alone (no cross-talk between members)
    alone = default_twin.simulate(duration=0.3)
    np.testing.assert_allclose(alone.q.isel(scenario=0), sim.q.isel(scenario=0), atol=1e-4)


def test_simulate_adapt_reoptimises_only_the_changed_members(default_twin):
    """adapt=True: each scenario member gets its own warm-started CMA-ES (twin.control.optimize.adapt_members);
    the baseline keeps the twin's controller and its gait-cycle start."""
    plain = default_twin.simulate(["weakness:soleus,gastroc=0.5"], duration=0.3)
    adapted = default_twin.simulate(["weakness:soleus,gastroc=0.5"], duration=0.3, adapt=True, generations=2,
                                    popsize=4, progress=False)
    assert adapted.attrs["adapt"] == 1 and plain.attrs["adapt"] == 0
    np.testing.assert_allclose(adapted.q.isel(scenario=0), plain.q.isel(scenario=0), atol=1e-4)
    # the adapted member starts from its optimised standing pose, not from the gait cycle
    assert not np.allclose(adapted.q.isel(scenario=1, time=0), plain.q.isel(scenario=1, time=0), atol=1e-3)


def test_adapt_members_reports_each_generation():
    import torch

    from twin.control.optimize import adapt_members
    from twin.control.reflex import ReflexController
    from twin.control.sim import INIT_PARAMETERS, walking_params

    params = walking_params(batch=2, dtype=torch.float32)
    v0 = np.repeat(ReflexController.default_vector()[None], 2, 0)
    i0 = np.repeat(np.array([p[1] for p in INIT_PARAMETERS])[None], 2, 0)
    seen = []
    v, i = adapt_members(params, v0, i0, target_speed=1.2, duration=0.2, generations=2, popsize=4,
                         on_generation=lambda m, g: seen.append((m, g)))
    assert seen == [(1, 0), (1, 1), (1, 2)]
    assert np.array_equal(v[0], v0[0]) and np.array_equal(i[0], i0[0])  # the baseline is never changed
    assert not np.array_equal(v[1], v0[1])
    assert np.array_equal(v0, np.repeat(ReflexController.default_vector()[None], 2, 0))  # inputs not modified


def test_twin_uses_its_controllers_tendon_model(default_twin):
    from twin.twin import shipped_controller

    assert default_twin.rigid_tendon is shipped_controller()["rigid_tendon"]
    other = Twin(default_twin.body, default_twin.controller, default_twin.initial,
                 rigid_tendon=not default_twin.rigid_tendon, gait_state=default_twin.gait_state)
    a, b = default_twin.simulate(duration=0.2), other.simulate(duration=0.2)
    f = "muscle_force"
    assert np.abs(a[f].sel(muscle="soleus_r") - b[f].sel(muscle="soleus_r")).max() > 1.0  # [N]


def test_default_twin_starts_on_its_controllers_gait_cycle(default_twin):
    """The shipped controller's gait state is the start of every scenario (placed for each body); a twin
    without one starts from its standing pose."""
    st = default_twin.gait_state
    assert st is not None and st["coordinates"] == list(default_twin.simulate(duration=0.05).coordinate.values)
    sim = default_twin.simulate(["tka:both"], duration=0.05)
    q0 = sim.q.isel(time=0)
    hip = st["coordinates"].index("hip_flexion_r")
    np.testing.assert_allclose(q0.sel(coordinate="hip_flexion_r").values, st["q"][hip], atol=1e-6)
    assert float(abs(q0.sel(coordinate="pelvis_tx")).max()) == 0.0
    standing = Twin(default_twin.body, default_twin.controller, default_twin.initial,
                    rigid_tendon=default_twin.rigid_tendon).simulate(duration=0.05)
    from twin.control.sim import INIT_NAMES

    hip0 = float(default_twin.initial[list(INIT_NAMES).index("hip_lead")])
    assert float(standing.q.isel(time=0, scenario=0).sel(coordinate="hip_flexion_r")) == pytest.approx(hip0, abs=1e-6)


def test_simulate_rejects_bad_scenarios(default_twin):
    with pytest.raises(ParameterError):
        default_twin.simulate(["weakness:soleus=1.7"], duration=0.1)
    with pytest.raises(ParameterError):
        default_twin.simulate(["weakness:nosuchmuscle=0.5"], duration=0.1)
    with pytest.raises(ParameterError, match="duration"):
        default_twin.simulate(duration=-1.0)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_load_bit_identical(default_twin, tmp_path, suffix):
    t = Twin(default_twin.body, default_twin.controller, default_twin.initial,
             baseline=default_twin.simulate(duration=0.2), quality={"rms_deg_hip": 1.5, "note": "x"},
             provenance=dict(default_twin.provenance), rigid_tendon=False, gait_state=default_twin.gait_state)
    path = t.save(tmp_path / f"me{suffix}")
    back = load_twin(path)
    assert back.rigid_tendon is False  # the tendon model of its controller travels with the twin
    assert back.gait_state == t.gait_state and t.gait_state is not None
    assert np.array_equal(back.controller, t.controller) and back.controller.dtype == t.controller.dtype
    assert np.array_equal(back.initial, t.initial)
    assert back.body == t.body
    assert back.baseline.identical(t.baseline)
    assert back.quality == t.quality and back.provenance == t.provenance
    assert back.to_datatree().identical(t.to_datatree())


def test_twin_saved_before_controller_parameters_were_added_loads(default_twin, tmp_path):
    """A twin file whose controller lacks parameters added since (ADDED_PARAMETERS) loads with their no-effect
    defaults, by name; a file lacking any other parameter is refused with a ReadError."""
    from twin.control.reflex import ADDED_PARAMETERS, PARAMETERS

    tree = default_twin.to_datatree()
    ctrl = tree["/controller"].to_dataset()
    old = ctrl.drop_sel(controller_parameter=["g_bfsh_sw", "knee_land"])
    tree["/controller"] = xr.DataTree(old)
    path = tmp_path / "old.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    back = load_twin(path)
    names = list(back.controller_names)
    assert len(back.controller) == len(names) == len(PARAMETERS)
    defaults = {p[0]: p[1] for p in PARAMETERS}
    for n in ("g_bfsh_sw", "knee_land"):
        assert n in ADDED_PARAMETERS and back.controller[names.index(n)] == defaults[n]
    keep = [n for n in names if n not in ("g_bfsh_sw", "knee_land")]
    np.testing.assert_array_equal(back.controller[[names.index(n) for n in keep]],
                                  ctrl.vector.sel(controller_parameter=keep).values)
    tree["/controller"] = xr.DataTree(ctrl.drop_sel(controller_parameter=["g_sol"]))
    bad = tmp_path / "bad.nc"
    tree.to_netcdf(bad, engine="h5netcdf")
    with pytest.raises(ReadError, match="lacks parameters g_sol"):
        load_twin(bad)


def test_interrupted_save_keeps_the_old_file(default_twin, tmp_path, monkeypatch):
    path = default_twin.save(tmp_path / "me.nc")
    before = path.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        default_twin.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["me.nc"]  # no temporary left behind
    load_twin(path)


def test_load_errors(tmp_path):
    with pytest.raises(ReadError, match="no such"):
        load_twin(tmp_path / "none.nc")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a netcdf file")
    with pytest.raises(ReadError, match="cannot read"):
        load_twin(bad)
    with pytest.raises(ParameterError, match=r"\.nc"):
        Twin.default().save(tmp_path / "x.txt")


def test_reference_cycle_from_ik(data_file):
    ik = twin.read(data_file(IK))
    ref = reference_cycle(ik)
    assert ref.angle.dims == ("cycle_pct", "coordinate") and ref.sizes["cycle_pct"] == 101
    assert ref.attrs["n_strides"] >= 1
    # the stride's ends are right foot strikes: hip flexed, knee near extension (Perry 1992)
    hip0 = np.degrees(float(ref.angle.sel(coordinate="hip_flexion_r")[0]))
    knee0 = np.degrees(float(ref.angle.sel(coordinate="knee_angle_r")[0]))
    assert hip0 > 5 and knee0 > -15
    # peak swing knee flexion lies in the second half of the stride
    knee = ref.angle.sel(coordinate="knee_angle_r").values
    assert 55 <= int(np.argmin(knee)) <= 90
    # the left leg over the same right stride: its swing half a stride earlier (in the first half)
    knee_l = ref.angle.sel(coordinate="knee_angle_l").values
    assert 5 <= int(np.argmin(knee_l)) <= 45
    assert 0.5 < ref.attrs["speed_mps"] < 2.0


def test_reference_stride_time_agrees_with_the_force_plates(data_file):
    """The stride time of the IK's heel-based strikes vs the right force plate's strikes (independent data)."""
    ref = reference_cycle(twin.read(data_file(IK)))
    rec = twin.read(data_file(f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot"))
    fy = rec.grf.sel(side="right", axis="y").fillna(0.0).values
    t = rec.grf[rec.grf.dims[0]].values
    on = fy > 20.0
    strikes = t[np.flatnonzero(~on[:-1] & on[1:]) + 1]
    assert len(strikes) >= 2
    assert abs(ref.attrs["stride_s"] - float(np.mean(np.diff(strikes)))) < 0.03


def test_from_recording_fits_stride_time_and_body_factors(data_file, tmp_path):
    """The fit's objective carries the person's stride time; fit_body adds the muscles' factors, which the
    twin's body and its file keep; fit_body=False leaves the scaled body's muscles alone."""
    from twin.model import BodyParams
    from twin.scenarios import BODY_FACTOR_BOUNDS, apply_body_factors, body_factor_names

    kw = dict(mass=72.6, height=1.8, generations=1, popsize=2, duration=1.0, compile=False, progress=False)
    t = Twin.from_recording(data_file(IK), fit_body=True, **kw)
    assert "stride_time" in t.provenance["settings"]["objective"] and t.provenance["settings"]["fit_body"]
    scaled = BodyParams.default(lumbar=False).scaled(height=1.8, mass=72.6)
    factors = t.quality["body_factors"]
    assert set(factors) == set(body_factor_names(scaled))
    for k, v in factors.items():
        lo, hi, _ = BODY_FACTOR_BOUNDS[k.split(":")[0]]
        assert lo <= v <= hi
    assert t.body.muscles == apply_body_factors(scaled, factors).muscles
    assert "stride_s" in t.quality and "stride_err_s" in t.quality  # NaN here: 1 s holds no full stride
    loaded = load_twin(t.save(tmp_path / "fitted.nc"))
    assert loaded.body.muscles == t.body.muscles and loaded.quality["body_factors"] == factors
    plain = Twin.from_recording(data_file(IK), **kw)  # default: the controller only
    assert "body_factors" not in plain.quality and plain.body.muscles == scaled.muscles
    assert not plain.provenance["settings"]["fit_body"]
    with pytest.raises(ParameterError, match="fit_body"):
        Twin.from_recording(data_file(IK), fit_body="yes", **kw)


def test_reference_speed_agrees_with_spatiotemporal(data_file):
    """The stance-heel speed estimate vs twin.gait's treadmill-aware spatiotemporal speed.

    Independent methods: twin.gait uses the heel *markers*; reference_cycle the IK angles through the
    default (unscaled) body's foot geometry, so segment-length differences enter (~5 % per 0.1 m of
    stature): agreement within 0.15 m/s.
    """
    from twin import gait

    trc = data_file(f"{GAIT10}/ExperimentalData/subject01_walk.trc")
    grf = data_file(f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot")
    rec = twin.read([trc, grf])
    st = gait.spatiotemporal(rec, gait.detect_events(rec))
    v_st = float(st["walking_speed"].sel(side="overall"))
    ref = reference_cycle(twin.read(data_file(IK)))
    assert abs(ref.attrs["speed_mps"] - v_st) < 0.15


def test_reference_speed_overground_from_the_pelvis(data_file):
    """Overground the pelvis's travel gives the speed; a treadmill trial (subject01) keeps the stance heel."""
    ik = twin.read(data_file(IK))
    tread = reference_cycle(ik)
    assert tread.attrs["speed_method"] == "stance heel"
    # the same angles carried forward at 1.25 m/s: an overground walk of known speed
    t = ik.time.values
    moved = ik.copy(deep=True)
    moved["q"].loc[{"coordinate": "pelvis_tx"}] = ik.q.sel(coordinate="pelvis_tx").values + 1.25 * (t - t[0])
    over = reference_cycle(moved)
    assert over.attrs["speed_method"] == "pelvis"
    assert over.attrs["speed_mps"] == pytest.approx(1.25, abs=0.01)
    assert np.allclose(over.angle.values, tread.angle.values)  # the cycle itself does not depend on the travel


def test_reference_cycle_errors():
    t = np.linspace(0, 0.5, 51)
    names = ["pelvis_tx", "hip_flexion_r", "knee_angle_r", "ankle_angle_r"]
    ds = twin.schema.kinematics(t, np.zeros((51, 4)), names)
    with pytest.raises(DataError, match="stride"):
        reference_cycle(ds)
    with pytest.raises(DataError, match="knee_angle_r"):
        reference_cycle(ds.sel(coordinate=["pelvis_tx", "hip_flexion_r"]))


def test_from_recording_validates_before_work(data_file):
    ik = data_file(IK)
    with pytest.raises(ParameterError, match="mass"):
        Twin.from_recording(ik, mass=5.0, height=1.8)
    with pytest.raises(ParameterError, match="height"):
        Twin.from_recording(ik, mass=70.0, height=3.0)
    rec = twin.read(ik)
    rec.attrs["subject_mass"] = 72.0
    with pytest.raises(ParameterError, match="inconsistent"):
        Twin.from_recording(rec, mass=100.0, height=1.8)
    with pytest.raises(ParameterError, match="compile"):
        Twin.from_recording(ik, mass=72.6, height=1.8, compile="fast")
    with pytest.raises(ParameterError, match="passive_knee"):
        Twin.from_recording(ik, mass=72.6, height=1.8, passive_knee="riener")


def test_from_recording_passive_knee(data_file, tmp_path):
    """passive_knee=True: the twin's quadriceps get Riener & Edrich's passive knee moment; saved and reloaded."""
    t = Twin.from_recording(data_file(IK), mass=72.6, height=1.8, fit_controller=False, duration=0.5,
                            passive_knee=True, progress=False)
    rep = t.quality["passive_knee"]
    assert rep["rms_after_nm"] < 1.0 < rep["rms_before_nm"]
    assert t.body.muscle("vasti_r").passive_fiber_strain == rep["strain"] > 0.6
    assert t.provenance["settings"]["passive_knee"] is True
    t.save(tmp_path / "p.nc")
    back = twin.load_twin(tmp_path / "p.nc")
    assert back.body.muscle("rect_fem_l").passive_fiber_strain == rep["strain"]
    assert back.quality["passive_knee"]["strain"] == rep["strain"]


def test_from_recording_kinematics_only(data_file):
    t = Twin.from_recording(data_file(IK), mass=72.6, height=1.8, fit_controller=False, duration=1.0)
    assert t.reference is not None and t.baseline is not None
    # the IK's lumbar joint is merged into the twin's rigid trunk; the thighs keep their orientation in space
    assert "lumbar_extension" not in t.kinematics.coordinate.values and "lumbar_merged" in t.kinematics.attrs
    ik = twin.read(data_file(IK))
    thigh = lambda k: (k.q.sel(coordinate="pelvis_tilt") + k.q.sel(coordinate="hip_flexion_r")).values  # noqa: E731
    np.testing.assert_allclose(thigh(t.kinematics), thigh(ik), atol=1e-9)
    assert t.provenance["settings"]["compiled_engine"] is True  # 30 x 16 evaluations by default: worth compiling
    assert t.provenance["sources"][0]["sha256"] and len(t.provenance["sources"][0]["sha256"]) == 64
    assert abs(t.body.mass - 72.6) < 1e-6
    for k in ("rms_deg_hip", "rms_deg_knee", "rms_deg_ankle", "speed_err_mps", "fit_minutes"):
        assert k in t.quality


def _toy_walk(legs: str = "r"):
    """A 30 s simulation-like Dataset of 1 s strides (right foot strikes at whole seconds) and its own mean
    cycle as a reference: hip, knee, ankle of the right leg, and of the left half a stride later with
    ``legs="rl"``."""
    from twin.control.analysis import mean_cycle

    n = 3000
    time = np.arange(n) * 0.01
    phase = time % 1.0
    names = ["pelvis_tx"] + [f"{j}_{s}" for s in legs for j in ("hip_flexion", "knee_angle", "ankle_angle")]
    q = np.zeros((1, n, len(names)))
    q[0, :, 0] = 1.2 * time
    for k, side in enumerate(legs):
        ph = (phase + 0.5 * k) % 1.0
        q[0, :, 1 + 3 * k] = 0.4 * np.cos(2 * np.pi * ph)
        q[0, :, 2 + 3 * k] = -0.6 * np.sin(np.pi * ph) ** 2
        q[0, :, 3 + 3 * k] = 0.1 * np.sin(2 * np.pi * ph)
    grf = np.zeros((1, n, 2, 2))
    grf[0, :, 0, 1] = np.where(phase < 0.6, 700.0, 0.0)
    grf[0, :, 1, 1] = np.where((phase + 0.5) % 1.0 < 0.6, 700.0, 0.0)
    sim = xr.Dataset({"q": (("scenario", "time", "coordinate"), q), "grf": (("scenario", "time", "side", "axis"), grf),
                      "walked_s": (("scenario",), [30.0]), "speed": (("scenario",), [1.2]),
                      "fell": (("scenario",), [False])},
                     coords={"time": time, "coordinate": names})
    cyc = mean_cycle({"time": time, "q": q, "grf": grf, "coordinate": names}, 0)
    ref = xr.Dataset({"angle": (("cycle_pct", "coordinate"), np.stack([cyc[c] for c in names[1:]], 1))},
                     coords={"coordinate": names[1:]}, attrs={"speed_mps": 1.2})
    return sim, ref


def test_fit_quality_is_zero_against_itself():
    """A simulation compared with its own mean cycle has zero RMS error (and a real one otherwise)."""
    sim, ref = _toy_walk()
    qual = fit_quality(sim, ref)
    assert qual["rms_deg_hip"] < 1e-9 and qual["rms_deg_knee"] < 1e-9 and qual["speed_err_mps"] == 0.0
    assert qual["stride_s"] == pytest.approx(1.0, abs=0.011)  # the 1 s cycle above
    assert np.isnan(qual["stride_err_s"])  # the reference has no stride time
    ref.attrs["stride_s"] = 1.25
    assert fit_quality(sim, ref)["stride_err_s"] == pytest.approx(-0.25, abs=0.011)
    ref2 = ref.copy(deep=True)
    ref2["angle"] = ref2.angle + np.radians(5.0)
    assert fit_quality(sim, ref2)["rms_deg_knee"] == pytest.approx(5.0)
    assert "rms_deg_knee_l" not in qual  # a right-leg reference: no left-leg figures


def test_fit_quality_reports_the_left_leg_too():
    """With both legs in the reference the left leg's RMS over the same right stride is reported beside the
    right's; a left leg half a stride late (as in walking) against a reference in phase with the right costs."""
    sim, ref = _toy_walk("rl")
    qual = fit_quality(sim, ref)
    assert max(qual[k] for k in ("rms_deg_hip", "rms_deg_knee", "rms_deg_hip_l", "rms_deg_knee_l",
                                 "rms_deg_ankle_l")) < 1e-9
    in_phase = ref.copy(deep=True)
    for j in ("hip_flexion", "knee_angle", "ankle_angle"):
        in_phase["angle"].loc[{"coordinate": j + "_l"}] = ref.angle.sel(coordinate=j + "_r").values
    q2 = fit_quality(sim, in_phase)
    assert q2["rms_deg_knee"] < 1e-9 and q2["rms_deg_hip_l"] > 10.0  # 0.4 rad cosines in antiphase: 32 deg


def test_joint_moments_have_opensim_signs(default_twin):
    """Soleus pulls the ankle into plantarflexion (negative), vasti extend the knee (positive)."""
    from twin.control.sim import add_joint_moments, walking_params

    sim = default_twin.simulate(duration=0.05)
    f = xr.zeros_like(sim.muscle_force)
    f.loc[{"muscle": "soleus_r"}] = 1000.0
    f.loc[{"muscle": "vasti_l"}] = 1000.0
    sim = sim.assign(muscle_force=f)
    out = add_joint_moments(sim, walking_params(batch=1, dtype=torch.float64))
    m = out.moment.isel(scenario=0)
    assert (m.sel(coordinate="ankle_angle_r") < -10).all()  # ~ -50 N m (5 cm Achilles arm)
    assert (m.sel(coordinate="knee_angle_l") > 10).all()
    assert np.allclose(m.sel(coordinate="hip_flexion_r"), 0) and np.allclose(m.sel(coordinate="ankle_angle_l"), 0)
    np.testing.assert_allclose(out.power, out.moment * sim.qdot)


@pytest.mark.parametrize("kind", ["markers+static", "opencap"])
def test_from_recording_markers(data_file, kind):
    """Marker recordings go through OpenSim scaling/IK; OpenCap's video markers are matched by name."""
    if kind == "opencap":
        rec = data_file("opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/"
                        "MarkerData/walk.trc")
        static = None
    else:
        rec = data_file(f"{GAIT10}/ExperimentalData/subject01_walk.trc")
        static = data_file(f"{GAIT10}/ExperimentalData/subject01_static.trc")
    t = Twin.from_recording(rec, static=static, mass=72.6, height=1.8, fit_controller=False, duration=0.5)
    assert t.kinematics.q.dims == ("time", "coordinate")
    assert 0.7 < t.reference.attrs["speed_mps"] < 1.8
    if static is not None:
        assert any("scale" in h.lower() for h in t.body.history)
        # OpenSim's reference IK of the same trial (its model has a lumbar joint) against the twin's marker IK
        # on the rigid-trunk body: 20 deg of mean hip flexion apart until the lumbar joint is merged into the
        # trunk (the knee, which the merge leaves alone, shows how far two IKs of one trial differ anyway)
        from twin.twin import rigid_trunk_kinematics

        ik = twin.read(data_file(IK))

        def rms(ref, j):
            a, b = ref.angle.sel(coordinate=j).values, t.reference.angle.sel(coordinate=j).values
            return float(np.degrees(np.sqrt(np.mean((a - b) ** 2))))

        raw, merged = reference_cycle(ik, body=t.body), reference_cycle(rigid_trunk_kinematics(ik), body=t.body)
        assert rms(raw, "hip_flexion_r") > 3 * rms(merged, "hip_flexion_r")
        assert rms(merged, "hip_flexion_r") < 1.5 * rms(merged, "knee_angle_r")


def test_warm_start_falls_back_to_a_shipped_controller_that_walks_the_body(monkeypatch):
    """The preferred controller first; if it falls on this body, the others nearest speed first."""
    import importlib

    from twin.twin import shipped_controller, warm_start_controller

    opt = importlib.import_module("twin.control.optimize")  # the module (twin.control.optimize is also a function)

    walked = {"walk_default.json": 1.8, "walk_slow.json": 3.4, "walk_fast.json": 6.0, "walk_robust.json": 2.5,
              "walk_impaired.json": 2.2}
    seen = []

    def fake_evaluate(body, objective, vector, *, initial=None, rigid_tendon=True, **kw):
        name = next(n for n, d in docs.items() if list(d["vector"]) == list(vector))
        seen.append(name)
        return {"metric.walked_s": walked[name]}

    from pathlib import Path

    from twin.twin import _shipped_docs
    docs = {Path(d["path"]).name: d for d in _shipped_docs()}
    if set(docs) != set(walked):
        pytest.skip(f"shipped controllers differ from this test's: {sorted(docs)}")
    monkeypatch.setattr(opt, "evaluate", fake_evaluate)
    d = warm_start_controller(None, 1.1, duration=6.0)
    assert Path(d["path"]).name == "walk_fast.json" and d["walk_test_s"] == 6.0
    assert seen[0] == Path(shipped_controller(1.1)["path"]).name == "walk_default.json"
    walked["walk_fast.json"] = 2.0  # nobody walks: the longest walker
    d = warm_start_controller(None, 1.1, duration=6.0)
    assert Path(d["path"]).name == "walk_slow.json"
    walked["walk_default.json"] = 6.0  # the preferred one walks: no other is tried
    seen.clear()
    d = warm_start_controller(None, 1.1, duration=6.0)
    assert Path(d["path"]).name == "walk_default.json" and seen == ["walk_default.json"]
