"""twin.control: reflex controller (shapes, delays, bounds, batch independence), CMA-ES (toy convergence,
bit-identical resume, corrupt checkpoints), objectives, and the shipped controller (20 s, 11 starts: about 2 min)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from twin.control import ReflexController, evaluate, optimize, walking
from twin.control.objective import Objective, distance, no_fall, speed
from twin.control.reflex import DELAYS, MUSCLE_MAP, PARAMETERS
from twin.control.sim import INIT_NAMES, initial_walking_state, rollout, walking_params
from twin.control.store import load_controller, save_controller
from twin.errors import ParameterError, ReadError, TwinError, TwinWarning

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "controllers" / "walk_default.json"


@pytest.fixture(scope="module")
def params2():
    return walking_params(batch=2, dtype=torch.float64)


class _Out:
    """Minimal Outputs stand-in for the controller."""

    def __init__(self, bsz, nm, *, force=0.0, length=1.0, grf_y=(0.0, 0.0)):
        self.muscle_force = torch.full((bsz, nm), force, dtype=torch.float64)
        self.fiber_length = torch.full((bsz, nm), length, dtype=torch.float64)
        self.fiber_velocity = torch.zeros(bsz, nm, dtype=torch.float64)
        g = torch.zeros(bsz, 2, 2, dtype=torch.float64)
        g[:, 0, 1], g[:, 1, 1] = grf_y
        self.grf = g


def test_parameter_vector_names_bounds_defaults():
    names = ReflexController.parameter_names()
    b = ReflexController.bounds()
    v = ReflexController.default_vector()
    assert len(set(names)) == len(names) == len(v) == b.shape[0]
    assert (b[:, 0] < b[:, 1]).all()
    assert ((v >= b[:, 0]) & (v <= b[:, 1])).all()
    d = dict(zip(names, v))  # published Geyer & Herr 2010 values
    assert d["g_sol"] == 1.2 and d["s0_vas"] == 0.09 and d["k_p"] == 1.91 and d["loff_ta"] == 0.71
    assert set(MUSCLE_MAP) == {"HAM", "BFSH", "GLU", "HFL", "RF", "VAS", "GAS", "SOL", "TA"}
    assert len(PARAMETERS) == len(ReflexController.describe())


def test_init_rejects_bad_vectors(params2):
    c = ReflexController(params2, dt=1e-3)
    v = ReflexController.default_vector()
    with pytest.raises(ParameterError, match="bounds"):
        c.init(2, np.where(np.arange(len(v)) == 0, 5.0, v))
    with pytest.raises(ParameterError, match="shape"):
        c.init(2, v[:-1])
    with pytest.raises(ParameterError, match="NaN"):
        c.init(2, np.full_like(v, np.nan))
    with pytest.raises(ParameterError):
        ReflexController(params2, dt=0.0)
    with pytest.raises(ParameterError):
        c.init(0, v)


def test_shapes_and_range(params2):
    c = ReflexController(params2, dt=1e-3)
    cs = c.init(2, c.default_vector())
    s = initial_walking_state(params2)
    out = _Out(2, params2.n_muscles, force=500.0, grf_y=(700.0, 0.0))
    cs, e = c.step(cs, s, out, 0.0)
    assert e.shape == (2, 18)
    assert bool((e >= 0.01).all() and (e <= 1.0).all())
    assert [b.shape[1] for b in cs.buffers] == [5, 10, 20]
    assert cs.stance.tolist() == [[True, False], [True, False]]


@pytest.mark.parametrize("group,muscle,gain", [("ankle", "soleus_r", "g_sol"), ("knee", "vasti_r", "g_vas"),
                                               ("hip", "glut_max_r", "g_glu")])
def test_step_input_appears_after_the_delay_exactly(params2, group, muscle, gain):
    dt = 1e-3
    c = ReflexController(params2, dt=dt)
    cs = c.init(2, c.default_vector())
    s = initial_walking_state(params2)
    nm = params2.n_muscles
    # glut_max's force reflex acts in swing, soleus/vasti in stance
    grf = (0.0, 0.0) if group == "hip" else (700.0, 0.0)
    j = list(params2.muscle_names).index(muscle)
    fmax = float(params2.fmax[0, j])
    delay_steps = int(round(DELAYS[group] / dt))
    seen = []
    for k in range(delay_steps + 3):
        force = 0.0 if k < 1 else 0.3 * fmax  # step at k = 1
        out = _Out(2, nm, grf_y=grf)
        out.muscle_force[:, j] = force
        cs, e = c.step(cs, s, out, k * dt)
        seen.append(float(e[0, j]))
    base = seen[0]
    first = next(k for k, x in enumerate(seen) if abs(x - base) > 1e-9)
    assert first == 1 + delay_steps
    g = dict(zip(c.parameter_names(), c.default_vector()))[gain]
    assert seen[first] - base == pytest.approx(g * 0.3, rel=1e-6) or seen[first] == 1.0


def test_batch_independence(params2):
    c = ReflexController(params2, dt=1e-3)
    v = c.default_vector()
    v2 = v.copy()
    v2[list(c.parameter_names()).index("g_sol")] = 3.0
    s = initial_walking_state(params2)
    r2 = rollout(params2, c, c.init(2, np.stack([v, v2])), s, 0.15, record_every=5)
    p1 = walking_params(batch=1, dtype=torch.float64)
    r1 = rollout(p1, ReflexController(p1, dt=1e-3), ReflexController(p1, dt=1e-3).init(1, v),
                 initial_walking_state(p1), 0.15, record_every=5)
    np.testing.assert_allclose(r2.record["q"][0], r1.record["q"][0], rtol=0, atol=1e-9)
    assert not np.allclose(r2.record["excitation"][0], r2.record["excitation"][1])


def test_initial_state_touches_ground(params2):
    s = initial_walking_state(params2)
    assert s.q.shape == (2, params2.n_coordinates)
    assert float(s.qdot[0, 1]) == pytest.approx(1.2)
    with pytest.raises(ParameterError, match="init"):
        initial_walking_state(params2, np.zeros(3))
    assert len(INIT_NAMES) == 8


def _sphere(X):
    return ((X - 0.3) ** 2).sum(1)


def test_cma_toy_converges():
    res = optimize(None, _sphere, x0=np.zeros(4), bounds=[[-1, 1]] * 4, generations=40, popsize=8, seed=3,
                   sigma0=0.3, progress=False)
    np.testing.assert_allclose(res.vector, 0.3, atol=0.03)
    assert res.history.sizes["generation"] == 40
    assert res.history.best.values[-1] < res.history.best.values[0]
    assert res.evaluations == 320


def test_checkpoint_resume_bit_identical(tmp_path):
    kw = dict(x0=np.zeros(3), bounds=[[-1, 1]] * 3, popsize=6, seed=5, sigma0=0.2, progress=False)
    full = optimize(None, _sphere, generations=12, checkpoint=tmp_path / "a.ckpt", **kw)
    part = optimize(None, _sphere, generations=5, checkpoint=tmp_path / "b.ckpt", **kw)
    assert part.history.sizes["generation"] == 5
    rest = optimize(None, _sphere, generations=12, checkpoint=tmp_path / "b.ckpt", **kw)
    assert np.array_equal(full.vector, rest.vector)
    assert np.array_equal(full.history.best.values, rest.history.best.values)
    # a different problem on the same checkpoint is refused
    with pytest.raises(TwinError, match="different optimisation"):
        optimize(None, _sphere, generations=13, checkpoint=tmp_path / "b.ckpt", **{**kw, "seed": 6})


def test_corrupt_checkpoint_restarts_from_last_good(tmp_path):
    kw = dict(x0=np.zeros(3), bounds=[[-1, 1]] * 3, popsize=6, seed=5, sigma0=0.2, progress=False)
    ck = tmp_path / "c.ckpt"
    ref = optimize(None, _sphere, generations=8, checkpoint=tmp_path / "ref.ckpt", **kw)
    optimize(None, _sphere, generations=4, checkpoint=ck, **kw)
    raw = bytearray(ck.read_bytes())
    raw[-20:] = b"\x00" * 20
    ck.write_bytes(bytes(raw))
    with pytest.warns(TwinWarning, match="corrupt"):
        res = optimize(None, _sphere, generations=8, checkpoint=ck, **kw)
    # restarted from generation 3 (the .prev checkpoint): same result as an uninterrupted run
    assert np.array_equal(res.vector, ref.vector)
    # both unreadable: says so and starts afresh
    ck.write_bytes(b"garbage")
    Path(str(ck) + ".prev").write_bytes(b"garbage")
    with pytest.warns(TwinWarning):
        res2 = optimize(None, _sphere, generations=8, checkpoint=ck, **kw)
    assert np.array_equal(res2.vector, ref.vector)


def test_bad_arguments():
    with pytest.raises(ParameterError):
        optimize(None, _sphere, generations=0, x0=np.zeros(2), bounds=[[0, 1]] * 2)
    with pytest.raises(ParameterError):
        optimize(None, _sphere, generations=2)  # no x0/bounds
    with pytest.raises(ParameterError):
        optimize(None, "nope", generations=2)
    with pytest.raises(ParameterError):
        Objective(duration=-1.0)
    with pytest.raises(ParameterError):
        no_fall(-1.0)
    with pytest.raises(ParameterError):
        walking(1.3, stage="run")


def test_objective_terms_compose():
    obj = Objective(duration=1.0, terms=no_fall(10) + distance(1) + speed(1.3))
    assert [t.name for t in obj.terms] == ["no_fall", "distance", "speed"]
    assert obj.target_speed == 1.3
    assert "speed" in obj.describe()


def test_infeasible_speed_reports_not_raises():
    obj = walking(5.0, duration=0.3, stage="speed")
    res = optimize(None, obj, generations=1, popsize=2, seed=1, sigma0=0.05, progress=False)
    assert not res.success
    assert "5 m/s NOT reached" in res.report
    assert math.isfinite(res.cost)


def test_controller_json_roundtrip(tmp_path):
    p = tmp_path / "c.json"
    v = ReflexController.default_vector()
    save_controller(p, v, initial=np.zeros(len(INIT_NAMES)), command="cmd", metrics={"walked_s": 1.0,
                                                                                       "speed_mps": float("nan")})
    doc = load_controller(p)
    np.testing.assert_array_equal(doc["vector"], v)
    assert json.loads(p.read_text())["metrics"]["speed_mps"] is None
    p.write_text("{")
    with pytest.raises(ReadError):
        load_controller(p)


def test_shipped_controller_is_well_formed():
    if not SHIPPED.exists():
        pytest.skip("no shipped controller yet")
    doc = load_controller(SHIPPED)
    b = ReflexController.bounds()
    assert ((doc["vector"] >= b[:, 0] - 1e-9) & (doc["vector"] <= b[:, 1] + 1e-9)).all()
    assert doc["command"].startswith("python -m twin.control")
    for k in ("walked_s", "fell"):
        assert k in doc["metrics"]


def test_shipped_controller_walks_20s():
    """The issue's check: 20 s at 1.2-1.4 m/s from the shipped start and 10 perturbed ones, one batch; and its
    human-likeness against Schwartz 2008 (Pearson r of the mean right stride, vertical GRF peaks and valley)."""
    from twin.control.sim import perturbed_state, start_state

    if not SHIPPED.exists():
        pytest.skip("no shipped controller yet")
    doc = load_controller(SHIPPED)
    n = 11
    params = walking_params(batch=n, rigid_tendon=doc["rigid_tendon"])  # the tendon model it was made for
    names = list(params.coordinate_names)
    rng = np.random.default_rng(7)  # other draws than the benchmark's
    dq = np.zeros((n, len(names)))
    for c in ("pelvis_tilt", "hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l", "knee_angle_l",
              "ankle_angle_l"):
        dq[1:, names.index(c)] = np.deg2rad(rng.uniform(-5, 5, n - 1))
    dv = np.r_[0.0, rng.uniform(-0.1, 0.1, n - 1)]
    c = ReflexController(params, dt=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rollout(params, c, c.init(n, doc["vector"]), perturbed_state(params, start_state(params, doc), dq, dv),
                    20.0, record_every=5)
    v = float(r.speed[0])
    assert 1.2 <= v <= 1.4, f"nominal speed {v:.2f} m/s"
    assert (r.walked_s >= 20.0 - 1e-6).all(), f"walked {np.round(r.walked_s, 1).tolist()} s"

    from twin.control.analysis import mean_cycle
    from twin.gait import normative

    rec = dict(r.record, weight=[float(m) * 9.80665 for m in np.broadcast_to(params.total_mass, (n,))])
    cyc = mean_cycle(rec, 0)
    assert cyc is not None
    rr = {}
    for coord, var in (("hip_flexion_r", "hip_flexion"), ("knee_angle_r", "knee_angle"),
                       ("ankle_angle_r", "ankle_angle")):
        ref = normative(var, speed=v, leg_length=0.93, n=101)["mean"].values
        rr[var] = float(np.corrcoef(cyc[coord], ref)[0, 1])
    g = cyc["grf_y_r"] / rec["weight"][0]
    stance = g[:int(np.argmax(g < 0.05))] if (g < 0.05).any() else g
    half = stance.size // 2
    i1, i2 = int(np.argmax(stance[:half])), half + int(np.argmax(stance[half:]))
    p1, p2, valley = float(stance[i1]), float(stance[i2]), float(stance[i1:i2 + 1].min())
    print(f"r {rr}; vGRF peaks {p1:.3f} / {p2:.3f} BW, valley {valley:.3f}")
    assert rr["hip_flexion"] >= 0.85 and rr["knee_angle"] >= 0.85 and rr["ankle_angle"] >= 0.7, rr
    assert 1.0 <= p1 <= 1.35 and 1.0 <= p2 <= 1.35 and valley < 0.9, (p1, p2, valley)


def test_adapter_for_engine_simulate():
    from twin.engine.simulate import simulate

    p = walking_params(batch=2, dtype=torch.float64)
    c = ReflexController(p, dt=1e-3)
    f = c.as_callable(c.init(2, c.default_vector()), p)
    ds = simulate(p, f, 0.02, dt=1e-3, record_every=5, initial=initial_walking_state(p))
    assert ds.excitation.shape == (2, 4, 18)
    assert float(ds.excitation.min()) >= 0.01 - 1e-12


def test_tracking_term_prefers_the_reference():
    from types import SimpleNamespace

    from twin.control.objective import tracking

    t = np.arange(0, 8, 0.01)
    phase = (t % 1.0)
    hip = 0.4 * np.sin(2 * np.pi * phase)
    q = np.stack([hip, hip + 0.3], 0)[:, :, None]  # member 1 is offset by 0.3 rad
    fy = np.where(phase < 0.6, 700.0, 0.0)
    grf = np.zeros((2, t.size, 2, 2))
    grf[:, :, 0, 1] = fy
    grf[:, :, 1, 1] = np.roll(fy, 50)
    rec = {"time": t, "q": q, "grf": grf, "coordinate": ["hip_flexion_r"]}
    r = SimpleNamespace(distance=np.zeros(2), record=rec)
    ref = {"hip_flexion_r": 0.4 * np.sin(2 * np.pi * np.linspace(0, 1, 101))}
    c = tracking(ref).cost(r)
    assert c[0] < 1e-3 and c[1] == pytest.approx(0.09, rel=0.05)
    with pytest.raises(ParameterError):
        tracking({})


def test_stride_time_term_costs_the_excess_over_the_band():
    from types import SimpleNamespace

    from twin.control.objective import stride_time

    t = np.arange(0, 10, 0.001)
    grf = np.zeros((3, t.size, 2, 2))
    for b, period in enumerate((1.1, 0.9)):  # strides of 1.1 s and 0.9 s
        grf[b, :, 0, 1] = np.where((t % period) < 0.6 * period, 700.0, 0.0)
    # member 2 never lands: no stride
    rec = {"time": t, "q": np.zeros((3, t.size, 1)), "grf": grf, "coordinate": ["hip_flexion_r"]}
    r = SimpleNamespace(distance=np.zeros(3), record=rec)
    c = stride_time(1.1, tolerance=0.05).cost(r)
    assert c[0] == pytest.approx(0.0, abs=1e-6)
    assert c[1] == pytest.approx((0.2 - 0.05) ** 2, rel=1e-2)
    assert c[2] == 1.0
    assert stride_time(1.1).cost(SimpleNamespace(distance=np.zeros(2), record=None)).tolist() == [1.0, 1.0]
    with pytest.raises(ParameterError, match="stride duration"):
        stride_time(11.0)
    with pytest.raises(ParameterError, match="tolerance"):
        stride_time(1.1, tolerance=-0.1)


def test_stance_term_costs_the_stance_fraction_outside_the_band():
    from types import SimpleNamespace

    from twin.control.objective import stance

    t = np.arange(0, 10, 0.001)
    grf = np.zeros((3, t.size, 2, 2))
    for b, frac in enumerate((0.60, 0.52)):  # 1.1 s strides, the foot loaded 60 % / 52 % of each
        grf[b, :, 0, 1] = np.where((t % 1.1) < frac * 1.1, 700.0, 0.0)
        grf[b, :, 1, 1] = np.roll(grf[b, :, 0, 1], 550)
    rec = {"time": t, "q": np.zeros((3, t.size, 1)), "grf": grf, "coordinate": ["hip_flexion_r"]}
    r = SimpleNamespace(distance=np.zeros(3), record=rec)
    c = stance(0.60, tolerance=0.02).cost(r)
    assert c[0] == pytest.approx(0.0, abs=1e-6)
    # 8 % short, minus the band; the 101-point cycle counts the next strike as stance (about +1 %)
    assert (0.08 - 0.02 - 0.012) ** 2 <= c[1] <= (0.08 - 0.02) ** 2
    assert c[2] == 1.0  # no stride
    with pytest.raises(ParameterError, match="stance fraction"):
        stance(60.0)
    with pytest.raises(ParameterError, match="tolerance"):
        stance(0.6, tolerance=0.5)


def test_cli_rejects_a_bad_stance(tmp_path, capsys):
    from twin.control.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "o"), "--stance", "60", "--stages", "speed", "--speed-generations", "1"])
    assert e.value.code == 2 and "--stance" in capsys.readouterr().err


def test_tracking_joint_weights_weight_the_mean():
    from types import SimpleNamespace

    from twin.control.objective import tracking

    t = np.arange(0, 8, 0.01)
    phase = t % 1.0
    hip = 0.4 * np.sin(2 * np.pi * phase)
    q = np.stack([hip, hip + 0.2], -1)[None]  # knee curve = hip + 0.2 rad
    fy = np.where(phase < 0.6, 700.0, 0.0)
    grf = np.zeros((1, t.size, 2, 2))
    grf[0, :, 0, 1] = fy
    rec = {"time": t, "q": q, "grf": grf, "coordinate": ["hip_flexion_r", "knee_angle_r"]}
    r = SimpleNamespace(distance=np.zeros(1), record=rec)
    x = np.linspace(0, 1, 101)
    ref = {"hip_flexion_r": 0.4 * np.sin(2 * np.pi * x), "knee_angle_r": 0.4 * np.sin(2 * np.pi * x)}
    plain = tracking(ref, 1.0).cost(r)[0]
    knee3 = tracking(ref, 1.0, joint_weights={"knee_angle_r": 3.0}).cost(r)[0]
    assert plain == pytest.approx(0.04 / 2, rel=0.05)  # (0 + 0.2^2) / 2
    assert knee3 == pytest.approx(3 * 0.04 / 4, rel=0.05)
    with pytest.raises(ParameterError, match="not in the reference"):
        tracking(ref, joint_weights={"ankle_angle_r": 2.0})
    with pytest.raises(ParameterError, match="joint_weights"):
        tracking(ref, joint_weights={"knee_angle_r": -1.0})


def test_gait_state_starts_are_the_check_kind_of_start():
    """optimize(gait_state=...) runs every candidate from a state on the gait cycle and its perturbed copies."""
    if not SHIPPED.exists():
        pytest.skip("no shipped controller")
    doc = load_controller(SHIPPED)
    if not doc.get("initial_state"):
        pytest.skip("the shipped controller has no initial_state")
    obj = walking(None, duration=0.2, stage="survive")
    res = optimize(None, obj, generations=1, popsize=2, seed=1, sigma0=0.01, progress=False, starts=3,
                   x0=doc["vector"], gait_state=doc["initial_state"], optimize_initial=False, perturbation=2.0)
    assert res.evaluations == 2 and res.initial is None
    # from a gait state the body already moves forward at walking speed (a standing start does not)
    assert res.terms["metric.distance"] > 0.15
    assert res.terms["metric.walked_s"] == pytest.approx(0.2)


def test_perturbed_starts_in_one_batch():
    obj = walking(None, duration=0.1, stage="survive")
    res = optimize(None, obj, generations=1, popsize=2, seed=1, sigma0=0.05, progress=False, starts=2)
    assert res.evaluations == 2
    assert res.terms["metric.walked_s"] == pytest.approx(0.1)
    m = evaluate(None, obj, ReflexController.default_vector())
    assert m["metric.walked_s"] == pytest.approx(0.1) and abs(m["no_fall"]) < 1e-6


def test_stretch_reflex_and_excitation_scale(params2):
    """Spasticity adds gain * lengthening velocity after the muscle's delay; inhibition scales."""
    dt = 1e-3
    nm = params2.n_muscles
    j = list(params2.muscle_names).index("soleus_r")
    vn = float(params2.vmax[0, j])  # EngineParams.vmax: lopt x max contraction velocity [m/s]
    s = initial_walking_state(params2)

    def run(**mods):
        c = ReflexController(params2, dt=dt, **mods)
        cs = c.init(2, c.default_vector())
        seen = []
        for k in range(25):
            out = _Out(2, nm, grf_y=(0.0, 0.0))  # swing: soleus gets only its pre-stimulation
            out.fiber_velocity[:, j] = 0.0 if k < 1 else 0.2 * vn  # lengthening at 0.2 lopt*vmax from k=1
            cs, e = c.step(cs, s, out, k * dt)
            seen.append(float(e[0, j]))
        return np.array(seen)

    base = run()
    spastic = run(stretch_gain={"soleus_r": 2.0})
    d = int(round(DELAYS["ankle"] / dt))
    assert np.allclose(spastic[:1 + d], base[:1 + d])  # nothing before the ankle delay
    assert spastic[1 + d] - base[1 + d] == pytest.approx(2.0 * 0.2, rel=1e-6)
    weak = run(excitation_scale={"soleus_r": 0.5}, stretch_gain={"soleus_r": 2.0})
    assert np.allclose(weak[1 + d:], np.maximum(0.5 * spastic[1 + d:], 0.01))
    with pytest.raises(ParameterError, match="unknown muscle"):
        ReflexController(params2, dt=dt, stretch_gain={"soleus": 1.0})
    with pytest.raises(ParameterError, match="excitation_scale"):
        ReflexController(params2, dt=dt, excitation_scale=np.full(nm, 1.5))


def test_swing_leg_placement_law(params2):
    """Swing: HFL gets [u]+ and GLU [-u]+ with u = kp (alpha0 + cv v - (hip - lean)) - kd (dhip - dlean)."""
    from twin.control.reflex import vector_from_dict

    dt = 1e-3
    names = list(params2.muscle_names)
    hfl, glu = names.index("iliopsoas_r"), names.index("glut_max_r")
    coords = list(params2.coordinate_names)
    s = initial_walking_state(params2)
    q, qd = s.q.clone(), s.qdot.clone()
    q[:, coords.index("hip_flexion_r")] = 0.1
    q[:, coords.index("pelvis_tilt")] = 0.0
    qd[:, coords.index("pelvis_tx")] = 1.5
    qd[:, coords.index("hip_flexion_r")] = 2.0
    qd[:, coords.index("pelvis_tilt")] = 0.0
    s = s.replace(q=q, qdot=qd)

    def exc(**fp):
        v = vector_from_dict({"g_hfl": 0.0, "k_lean": 0.0, "g_hamhfl": 0.0, "g_glu": 0.0, **fp})
        c = ReflexController(params2, dt=dt)
        cs = c.init(2, v)
        for k in range(8):  # past the 5 ms hip delay
            cs, e = c.step(cs, s, _Out(2, params2.n_muscles, grf_y=(0.0, 0.0)), k * dt)
        return float(e[0, hfl]), float(e[0, glu])

    base = exc()
    assert exc(fp_alpha0=0.6, fp_cv=0.4) == base  # zero gains: GH2010 unchanged
    h, g = exc(fp_kp=1.0, fp_alpha0=0.3, fp_cv=0.2)  # u = 1.0 * (0.3 + 0.3 - 0.1) = 0.5 -> HFL
    assert h - base[0] == pytest.approx(0.5, abs=1e-6) and g == pytest.approx(base[1], abs=1e-9)
    h, g = exc(fp_kp=1.0, fp_kd=0.5, fp_alpha0=0.3, fp_cv=0.2)  # u = 0.5 - 0.5 * 2.0 = -0.5 -> GLU
    assert h == pytest.approx(base[0], abs=1e-9) and g - base[1] == pytest.approx(0.5, abs=1e-6)


def test_ankle_yield_and_push_off_laws(params2):
    """Stance: SOL + g_sol_l [L_SOL - loff_sol]+, TA + s0_ta_st; trailing leg in double support: SOL, GAS + k_po,
    TA - k_po_ta."""
    from twin.control.reflex import vector_from_dict

    dt = 1e-3
    names = list(params2.muscle_names)
    sol_r, gas_r, sol_l, gas_l, ta_r, ta_l = (names.index(m) for m in ("soleus_r", "gastroc_r", "soleus_l",
                                                                     "gastroc_l", "tib_ant_r", "tib_ant_l"))
    coords = list(params2.coordinate_names)
    s = initial_walking_state(params2)
    q = s.q.clone()
    q[:, coords.index("hip_flexion_r")] = -0.2  # right leg trails (the more extended hip)
    q[:, coords.index("hip_flexion_l")] = 0.3
    s = s.replace(q=q)
    bw = float(params2.total_mass[0]) * 9.80665

    def exc(*, length=1.0, grf=(0.5, 0.5), **kw):
        v = vector_from_dict({"g_sol": 0.0, "g_gas": 0.0, **kw})
        c = ReflexController(params2, dt=dt)
        cs = c.init(2, v)
        out = _Out(2, params2.n_muscles, grf_y=(grf[0] * bw, grf[1] * bw))
        out.fiber_length = length * params2.lopt.to(torch.float64)  # L = length optimal fibre lengths
        for k in range(int(round(DELAYS["ankle"] / dt)) + 3):  # past the 20 ms ankle delay
            cs, e = c.step(cs, s, out, k * dt)
        return e[0, [sol_r, gas_r, sol_l, gas_l, ta_r, ta_l]].numpy()

    base = exc(length=1.2)
    assert np.allclose(exc(length=1.2, loff_sol=0.7), base)  # zero gains: GH2010 unchanged
    d = exc(length=1.2, g_sol_l=2.0, loff_sol=1.0) - base
    assert d == pytest.approx([0.4, 0.0, 0.4, 0.0, 0.0, 0.0], abs=1e-6)  # both legs in stance
    assert np.allclose(exc(length=0.9, g_sol_l=2.0, loff_sol=1.0), exc(length=0.9))  # shorter than the offset
    d = exc(length=1.2, grf=(0.5, 0.0), g_sol_l=2.0, loff_sol=1.0) - exc(length=1.2, grf=(0.5, 0.0))
    assert d == pytest.approx([0.4, 0.0, 0.0, 0.0, 0.0, 0.0], abs=1e-6)  # the left leg swings: no length reflex
    d = exc(k_po=0.3) - exc()
    assert d == pytest.approx([0.3, 0.3, 0.0, 0.0, 0.0, 0.0], abs=1e-6)  # double support, right trails
    d = exc(s0_ta=0.3, k_po_ta=0.2) - exc(s0_ta=0.3)
    assert d == pytest.approx([0.0, 0.0, 0.0, 0.0, -0.2, 0.0], abs=1e-6)  # its TA is inhibited
    assert np.allclose(exc(k_po=0.3, grf=(0.5, 0.0)), exc(grf=(0.5, 0.0)))  # single support: no push-off drive
    d = exc(grf=(0.5, 0.0), s0_ta_st=0.2) - exc(grf=(0.5, 0.0))
    assert d == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.2, 0.0], abs=1e-6)  # stance-only TA pre-stimulation


def test_swing_tibialis_anterior_law(params2):
    """TA length feedback: in swing its gain is g_ta + dg_ta_sw and its offset loff_ta + dloff_ta_sw; stance as before."""
    from twin.control.reflex import vector_from_dict

    dt = 1e-3
    names = list(params2.muscle_names)
    ta_r, ta_l = names.index("tib_ant_r"), names.index("tib_ant_l")
    s = initial_walking_state(params2)
    bw = float(params2.total_mass[0]) * 9.80665

    def exc(**kw):  # right leg in stance, left in swing; every fibre at 1.0 optimal length
        v = vector_from_dict({"s0_ta": 0.02, "g_ta": 1.0, "loff_ta": 0.8, "s0_ta_st": 0.0, "g_sol_ta": 0.0, **kw})
        c = ReflexController(params2, dt=dt)
        cs = c.init(2, v)
        out = _Out(2, params2.n_muscles, grf_y=(0.5 * bw, 0.0))
        out.fiber_length = params2.lopt.to(torch.float64)
        for k in range(int(round(DELAYS["ankle"] / dt)) + 3):
            cs, e = c.step(cs, s, out, k * dt)
        return e[0, [ta_r, ta_l]].numpy()

    assert exc() == pytest.approx([0.02 + 0.2, 0.02 + 0.2], abs=1e-6)  # one law for both phases (GH2010)
    assert exc(dg_ta_sw=1.0) == pytest.approx([0.22, 0.02 + 2.0 * 0.2], abs=1e-6)  # swing gain 2
    assert exc(dloff_ta_sw=0.1) == pytest.approx([0.22, 0.02 + 0.1], abs=1e-6)  # swing offset 0.9
    assert exc(dg_ta_sw=-3.0) == pytest.approx([0.22, 0.02], abs=1e-6)  # the swing gain never turns negative


def test_swing_knee_laws(params2):
    """Swing knee (Song & Geyer 2015 M7, M10): BFSH + g_bfsh_sw [knee_sw_tgt - knee]+ while the knee flexes in
    swing or the leg trails in double support; VAS + g_vas_sw [knee - knee_land]+ in swing while the thigh
    swings back."""
    from twin.control.reflex import vector_from_dict

    dt = 1e-3
    names = list(params2.muscle_names)
    bfsh_r, vas_r = names.index("bifemsh_r"), names.index("vasti_r")
    coords = list(params2.coordinate_names)
    bw = float(params2.total_mass[0]) * 9.80665

    def exc(*, knee=0.4, dknee=2.0, dhip=1.0, grf=(0.0, 0.5), hip=(-0.2, 0.3), **kw):
        s = initial_walking_state(params2)
        q, qd = s.q.clone(), s.qdot.clone()
        q[:, coords.index("knee_angle_r")] = -knee  # the model's knee angle is negative in flexion
        qd[:, coords.index("knee_angle_r")] = -dknee
        q[:, coords.index("hip_flexion_r")], q[:, coords.index("hip_flexion_l")] = hip
        qd[:, coords.index("hip_flexion_r")] = dhip
        qd[:, coords.index("pelvis_tilt")] = 0.0
        s = s.replace(q=q, qdot=qd)
        v = vector_from_dict({"g_vas": 0.0, "s0_vas": 0.0, "k_bw": 0.0, "k_phi": 0.0, **kw})
        c = ReflexController(params2, dt=dt)
        cs = c.init(2, v)
        out = _Out(2, params2.n_muscles, grf_y=(grf[0] * bw, grf[1] * bw))
        for k in range(int(round(DELAYS["knee"] / dt)) + 3):  # past the 10 ms knee delay
            cs, e = c.step(cs, s, out, k * dt)
        return e[0, [bfsh_r, vas_r]].numpy()

    base = exc()
    assert np.allclose(exc(knee_sw_tgt=1.4, knee_land=0.0), base)  # zero gains: no effect
    # right leg swings, knee flexing at 0.4 rad: BFSH + 1.5 (1.0 - 0.4)
    assert exc(g_bfsh_sw=1.5, knee_sw_tgt=1.0) - base == pytest.approx([0.9, 0.0], abs=1e-6)
    assert np.allclose(exc(g_bfsh_sw=1.5, knee_sw_tgt=1.0, knee=1.1), exc(knee=1.1))  # past the target
    assert np.allclose(exc(g_bfsh_sw=1.5, knee_sw_tgt=1.0, dknee=-2.0), exc(dknee=-2.0))  # extending: none
    # both feet loaded, the right leg trails (the more extended hip): the drive acts before toe-off
    both = dict(grf=(0.5, 0.5), dknee=-2.0)
    assert exc(g_bfsh_sw=1.5, knee_sw_tgt=1.0, **both) - exc(**both) == pytest.approx([0.9, 0.0], abs=1e-6)
    assert np.allclose(exc(g_bfsh_sw=1.5, knee_sw_tgt=1.0, grf=(0.5, 0.0)), exc(grf=(0.5, 0.0)))  # single stance
    # late swing (thigh swinging back), knee 0.4 rad: VAS + 2 (0.4 - 0.1); not while the thigh swings forward
    assert exc(g_vas_sw=2.0, knee_land=0.1, dhip=-1.0) - exc(dhip=-1.0) == pytest.approx([0.0, 0.6], abs=1e-6)
    assert np.allclose(exc(g_vas_sw=2.0, knee_land=0.1, dhip=1.0), base)


def test_feedforward_bursts_on_each_legs_clock(params2):
    """Feedforward (Dzeladini et al. 2014): each leg's clock restarts at its foot strike and takes the last
    foot-strike-to-foot-strike time as its period; VAS and BFSH get Gaussian bursts at set phases of it."""
    from twin.control.reflex import FF_PERIOD0, vector_from_dict

    dt = 1e-3
    names = list(params2.muscle_names)
    cols = [names.index(m) for m in ("vasti_r", "vasti_l", "bifemsh_r", "bifemsh_l")]
    s = initial_walking_state(params2)
    bw = float(params2.total_mass[0]) * 9.80665
    loaded, unloaded = _Out(2, params2.n_muscles, grf_y=(0.5 * bw, 0.5 * bw)), _Out(2, params2.n_muscles)

    def run(schedule, **kw):  # schedule: [(steps, out)]; returns excitations [steps, 4] and the last clock
        v = vector_from_dict({"g_vas": 0.0, "s0_vas": 0.0, "k_bw": 0.0, "k_phi": 0.0, "s0_bfsh": 0.0, **kw})
        c = ReflexController(params2, dt=dt)
        cs = c.init(2, v)
        rows = []
        for steps, out in schedule:
            for _ in range(steps):
                cs, e = c.step(cs, s, out)
                rows.append(e[0, cols].numpy())
        return np.array(rows), cs.buffers[0][0, -1, -6:].numpy()

    # both feet loaded from the start: no foot strike, the clocks run from 0 with the assumed period
    e, clock = run([(200, loaded)])
    assert clock == pytest.approx([0.2, 0.2, 1.0, 1.0, FF_PERIOD0, FF_PERIOD0], abs=1e-9)
    assert np.allclose(e, 0.01)  # zero amplitudes: no bursts (0.01 is the excitations' floor)
    # unloaded 0.8 s, then a foot strike on both legs at step 1001: the clocks restart (0 at the strike, 4 ms
    # four steps later) and take the 1.001 s since their start (the priming sample, time 0) as the period
    _, clock = run([(200, loaded), (800, unloaded), (5, loaded)])
    assert clock == pytest.approx([0.004, 0.004, 1.0, 1.0, 1.001, 1.001], abs=1e-6)
    # a 0.3 s "stride" is outside FF_PERIOD_RANGE: the period stays
    _, clock = run([(200, loaded), (800, unloaded), (5, loaded), (295, unloaded), (1, loaded)])
    assert clock[4:] == pytest.approx([1.001, 1.001], abs=1e-6) and clock[0] == 0.0
    # a burst centred at 0.1 of the stride (width 0.05): peak amplitude at 0.1 x 1.1 s after the start
    kw = dict(ff_vas=0.4, ff_vas_c=0.1, ff_vas_w=0.05, ff_bfsh=0.3, ff_bfsh_c=0.5, ff_bfsh_w=0.1)
    e, _ = run([(700, loaded)], **kw)
    t = (np.arange(700) + 1) * dt  # clock after each step
    vas = 0.4 * np.exp(-0.5 * ((t / FF_PERIOD0 - 0.1) / 0.05) ** 2)
    bfsh = 0.3 * np.exp(-0.5 * ((t / FF_PERIOD0 - 0.5) / 0.1) ** 2)
    assert np.allclose(e[:, 0], np.maximum(vas, 0.01), atol=1e-6) and np.allclose(e[:, 1], e[:, 0])
    assert np.allclose(e[:, 2], np.maximum(bfsh, 0.01), atol=1e-6)
    # wrapped: a VAS burst centred at -0.05 acts at the end of a stride and just after the next foot strike
    e, _ = run([(1045, loaded)], ff_vas=0.4, ff_vas_c=-0.05, ff_vas_w=0.05)
    assert e[1044, 0] == pytest.approx(0.4, abs=1e-3) and e[0, 0] > 0.2


def test_older_controller_files_get_the_added_parameters(tmp_path):
    from twin.control.reflex import ADDED_PARAMETERS

    doc = json.loads(SHIPPED.read_text()) if SHIPPED.exists() else None
    if doc is None:
        pytest.skip("no shipped controller")
    keep = [i for i, n in enumerate(doc["names"]) if n not in ADDED_PARAMETERS]
    doc["names"] = [doc["names"][i] for i in keep]
    doc["vector"] = [doc["vector"][i] for i in keep]
    p = tmp_path / "old.json"
    p.write_text(json.dumps(doc))
    old = load_controller(p)
    d = dict(zip(ReflexController.parameter_names(), old["vector"]))
    assert d["fp_kp"] == 0.0 and d["fp_kd"] == 0.0  # no effect
    assert d["g_sol_l"] == 0.0 and d["k_po"] == 0.0 and d["s0_ta_st"] == 0.0 and d["k_po_ta"] == 0.0
    assert d["dg_ta_sw"] == 0.0 and d["dloff_ta_sw"] == 0.0
    assert d["g_bfsh_sw"] == 0.0 and d["g_vas_sw"] == 0.0
    assert d["ff_vas"] == 0.0 and d["ff_bfsh"] == 0.0
    doc["names"] = doc["names"][1:]
    doc["vector"] = doc["vector"][1:]
    p.write_text(json.dumps(doc))
    with pytest.raises(ReadError, match="lacks parameters"):
        load_controller(p)


def test_optimize_over_several_bodies():
    """bodies=: each candidate runs on every body in one batch; starts must be a multiple of their number."""
    from twin.control.optimize import _Problem
    from twin.model import BodyParams
    from twin.scenarios import MuscleWeakness, Subject, apply_scenarios

    base = BodyParams.default(lumbar=False, marker_sets=())
    weak = apply_scenarios(base, [MuscleWeakness("plantarflexors", 0.5)])
    bodies = [Subject(base), Subject(base.scaled(height=1.6, mass=60.0)), weak]
    obj = walking(None, duration=0.1, stage="survive")
    prob = _Problem(None, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None, init0=None,
                    starts=3, bodies=bodies)
    X = np.repeat(prob.x0[None], 2, 0)
    total, parts = prob.evaluate(X)
    assert total.shape == (2,)
    (params, opts), = prob._params.values()
    mass = params.total_mass.numpy()
    assert mass[0] == mass[1] and mass[2] == mass[3] == pytest.approx(60.0) and mass[0] != mass[2]
    j = list(params.muscle_names).index("soleus_r")
    assert float(opts["excitation_scale"][4, j]) == pytest.approx(1.0)
    assert float(params.fmax[4, j]) == pytest.approx(0.5 * float(params.fmax[0, j]), rel=1e-5) \
        or float(opts["excitation_scale"][4, j]) == pytest.approx(0.5)
    with pytest.raises(ParameterError, match="multiple"):
        _Problem(None, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None, init0=None,
                 starts=2, bodies=bodies)


def test_optimize_body_factors_give_each_candidate_its_body():
    """body_factors=: the factors ride at the end of the vector, each candidate runs on its own body, and
    the result carries the best candidate's factors."""
    from twin.control.optimize import _Problem
    from twin.model import BodyParams
    from twin.scenarios import body_factor_names

    base = BodyParams.default(lumbar=False, marker_sets=())
    obj = walking(None, duration=0.05, stage="survive")
    names = ("strength:soleus", "slack:hamstrings")
    prob = _Problem(base, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None, init0=None,
                    body_factors=names)
    assert prob.names[-2:] == ["body.strength:soleus", "body.slack:hamstrings"]
    assert prob.bounds[-2:].tolist() == [[0.5, 1.5], [-0.2, 0.2]] and prob.x0[-2:].tolist() == [1.0, 0.0]
    X = np.repeat(prob.x0[None], 2, 0)
    X[1, -2:] = [0.6, 0.1]
    ctrl, init = prob.split(X)
    assert ctrl.shape[1] == prob.n_ctrl and init.shape[1] == prob.n_init
    assert prob.factors(X)[1] == {"strength:soleus": pytest.approx(0.6), "slack:hamstrings": pytest.approx(0.1)}
    prob.evaluate(X)
    (params, _), = prob._params.values()
    j, h = list(params.muscle_names).index("soleus_l"), list(params.muscle_names).index("hamstrings_r")
    assert float(params.fmax[1, j]) == pytest.approx(0.6 * float(params.fmax[0, j]), rel=1e-5)
    lopt = base.muscle("hamstrings_r").optimal_fiber_length
    assert float(params.lts[1, h] - params.lts[0, h]) == pytest.approx(0.1 * lopt, rel=1e-4)
    res = optimize(base, obj, generations=1, popsize=2, body_factors=body_factor_names(base, kinds=("strength",)),
                   progress=False)
    assert set(res.body_factors) == set(body_factor_names(base, kinds=("strength",)))
    assert all(0.5 <= v <= 1.5 for v in res.body_factors.values())
    assert optimize(base, obj, generations=1, popsize=2, progress=False).body_factors is None
    with pytest.raises(ParameterError, match="unknown muscle"):
        optimize(base, obj, generations=1, popsize=2, body_factors=["strength:quads"], progress=False)
    with pytest.raises(ParameterError, match="bodies="):
        optimize(base, obj, generations=1, popsize=2, body_factors=names, bodies=[base], progress=False)
    with pytest.raises(ParameterError, match="BodyParams"):
        optimize(None, obj, generations=1, popsize=2, body_factors=names, progress=False)
    with pytest.raises(ParameterError, match="controller_options"):
        optimize(base, obj, generations=1, popsize=2, body_factors=names, progress=False,
                 controller_options={"stretch_gain": {"soleus_r": 1.0}})
    with pytest.raises(ParameterError, match="distinct"):
        optimize(base, obj, generations=1, popsize=2, body_factors=[names[0], names[0]], progress=False)
    # a passive-strain factor starts at its neutral 1 and reaches the engine's passive fibre strain e0
    prob = _Problem(base, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None, init0=None,
                    body_factors=("passive:vasti",))
    assert prob.bounds[-1].tolist() == [0.7, 3.5] and prob.x0[-1] == 1.0
    X = np.repeat(prob.x0[None], 2, 0)
    X[1, -1] = 2.5
    prob.evaluate(X)
    (params, _), = prob._params.values()
    v = list(params.muscle_names).index("vasti_r")
    assert float(params.e0[1, v]) == pytest.approx(2.5 * float(params.e0[0, v]), rel=1e-6)


def test_resampled_perturbations_and_mean_result():
    from twin.control.optimize import _Problem

    obj = walking(None, duration=0.1, stage="survive")
    prob = _Problem(None, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None, init0=None,
                    starts=3, perturbation=2.0, resample=True)
    prob.draw = 0
    a1, a2 = prob._offset(1, 8), prob._offset(2, 8)
    prob.draw = 1
    b1 = prob._offset(1, 8)
    prob.draw = 0
    assert np.array_equal(prob._offset(1, 8), a1) and not np.allclose(a1, b1) and not np.allclose(a1, a2)
    assert not prob._offset(0, 8).any()
    assert np.abs(a1[:-1]).max() <= np.deg2rad(6.0) + 1e-12 and abs(a1[-1]) <= 0.1
    res = optimize(None, obj, generations=2, popsize=2, seed=1, sigma0=0.05, progress=False, starts=2,
                   resample=True)
    assert "mean" in res.history and res.history["mean"].sizes["generation"] == 2
    assert res.cost == pytest.approx(float(res.history["mean"][-1]))


def test_training_bodies_spread_size_and_strength():
    from twin.control.__main__ import training_bodies

    bodies = training_bodies(5, strength=(0.7, 1.2))
    base = bodies[0]
    assert len(bodies) == 5 and base.height == pytest.approx(1.8)
    heights = [b.height for b in bodies[1:]]
    assert min(heights) == pytest.approx(1.62) and max(heights) == pytest.approx(1.95)
    bmi = [b.mass / b.height ** 2 for b in bodies[1:]]
    assert 20.9 < min(bmi) and max(bmi) < 27.1
    f = sorted(b.muscle("soleus_r").max_isometric_force / base.muscle("soleus_r").max_isometric_force
               for b in bodies[1:])
    assert f[0] == pytest.approx(0.7, rel=1e-6) and f[-1] == pytest.approx(1.2, rel=1e-6)
    same = training_bodies(3)
    assert all(b.muscle("vasti_r").max_isometric_force == base.muscle("vasti_r").max_isometric_force for b in same)


def test_tendon_model_is_part_of_the_problem_and_the_file(tmp_path):
    """rigid_tendon=False: the candidates run with compliant tendons; the file says which model it needs."""
    from twin.control.optimize import _Problem, _fingerprint
    from twin.control.store import rigid_tendon

    obj = walking(None, duration=0.05, stage="survive")
    probs = {r: _Problem(None, obj, device="cpu", optimize_initial=True, dtype=torch.float32, x0=None,
                         init0=None, rigid_tendon=r) for r in (True, False)}
    for r, prob in probs.items():
        prob.evaluate(prob.x0[None])
        (params, _), = prob._params.values()
        assert bool(params.rigid_tendon) is r
    assert _fingerprint(probs[True], 4, 1, 0.1) != _fingerprint(probs[False], 4, 1, 0.1)
    p = tmp_path / "c.json"
    save_controller(p, ReflexController.default_vector(), rigid_tendon=False)
    assert load_controller(p)["rigid_tendon"] is False
    old = json.loads(p.read_text())
    del old["engine"]  # files from before the entry are rigid-tendon controllers
    p.write_text(json.dumps(old))
    assert load_controller(p)["rigid_tendon"] is True and rigid_tendon(old) is True


def test_cli_rejects_a_bad_stride_time(tmp_path, capsys):
    from twin.control.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "o"), "--stride-time", "11", "--stages", "speed", "--speed-generations", "1"])
    assert e.value.code == 2
    assert "--stride-time" in capsys.readouterr().err
    assert not (tmp_path / "o" / "speed.ckpt").exists()


def test_impact_weight_option(tmp_path, capsys):
    from twin.control.__main__ import main
    from twin.control.objective import walking

    w = {t.name: t.weight for t in walking(1.3, stage="effort", impact_weight=80.0).terms}
    with pytest.raises(ParameterError, match="weight"):
        walking(1.3, stage="speed", impact_weight=float("nan"))
    assert w["impact"] == 80.0 and {t.name: t.weight for t in walking(1.3, stage="effort").terms}["impact"] == 10.0
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "o"), "--impact-weight", "-1", "--stages", "speed", "--speed-generations", "1"])
    assert e.value.code == 2
    assert "--impact-weight" in capsys.readouterr().err
    assert not (tmp_path / "o" / "speed.ckpt").exists()


def _lowest_indentation(params, state):
    """Deepest contact-sphere indentation [m] of each member (positive: into the ground)."""
    from twin.engine.contact import contact_forces
    from twin.engine.multibody import kinematics

    return contact_forces(params, kinematics(params, state.q, state.qdot), state.qdot).indentation.max(dim=1).values


@pytest.fixture(scope="module")
def three_bodies():
    from twin.model import BodyParams
    from twin.scenarios import Subject, engine_inputs

    bodies = [BodyParams.default(lumbar=False, marker_sets=()).scaled(height=h, mass=23.0 * h * h)
              for h in (1.5, 1.8, 1.95)]
    params, _, _ = engine_inputs([Subject(b) for b in bodies], dtype=torch.float64)
    return params


def test_starts_are_placed_on_the_ground_for_short_and_tall_bodies(three_bodies):
    """A standing start indents the lowest sphere by the requested depth on every body, and a perturbed
    start keeps the indentation of the state it perturbs (a foot neither floats nor sinks)."""
    from twin.control.sim import perturbed_state

    p = three_bodies
    s = initial_walking_state(p, indentation=0.004)
    np.testing.assert_allclose(_lowest_indentation(p, s).numpy(), 0.004, atol=1e-7)
    dq = np.zeros((3, p.n_coordinates))
    dq[:, list(p.coordinate_names).index("hip_flexion_r")] = np.radians(5.0)
    dq[:, list(p.coordinate_names).index("knee_angle_l")] = np.radians(-5.0)
    s2 = perturbed_state(p, s, dq, np.zeros(3))
    assert not torch.equal(s2.q, s.q)
    np.testing.assert_allclose(_lowest_indentation(p, s2).numpy(), 0.004, atol=1e-7)


def test_gait_state_start_is_placed_for_each_body(three_bodies):
    """body_start_state on the default body is the controller's own start (pelvis_tx at 0); on shorter and
    taller bodies the feet are indented as deep as the default body's in that state."""
    from twin.control.sim import body_start_state, start_state
    from twin.twin import shipped_controller

    doc = shipped_controller(1.3)
    if not doc.get("initial_state"):
        pytest.skip("the shipped default controller has no gait state")
    p1 = walking_params(batch=1, dtype=torch.float64)
    own, placed = start_state(p1, doc), body_start_state(p1, doc["initial_state"])
    ix = list(p1.coordinate_names).index("pelvis_tx")
    assert float(placed.q[0, ix]) == 0.0
    keep = [i for i in range(p1.n_coordinates) if i != ix]
    np.testing.assert_allclose(placed.q[:, keep].numpy(), own.q[:, keep].numpy(), atol=1e-9)
    ref = float(_lowest_indentation(p1, own)[0])
    p = three_bodies
    s = body_start_state(p, doc["initial_state"])
    np.testing.assert_allclose(_lowest_indentation(p, s).numpy(), ref, atol=1e-7)
    h = s.q[:, p.root_height_coordinate].numpy()
    assert h[0] < h[1] < h[2]  # taller body, higher pelvis
    fallback = initial_walking_state(p)
    mixed = body_start_state(p, [None, doc["initial_state"], None], fallback=fallback)
    assert torch.equal(mixed.q[0], fallback.q[0]) and torch.equal(mixed.q[1], s.q[1])
    with pytest.raises(ParameterError, match="fallback"):
        body_start_state(p, [None, doc["initial_state"], None])
    with pytest.raises(ParameterError, match="2 entries"):
        body_start_state(p, [doc["initial_state"]] * 2)


def test_fall_height_scales_with_the_body(three_bodies):
    from twin.control.sim import FALL_HEIGHT, fall_heights

    assert float(fall_heights(walking_params(batch=1, dtype=torch.float64))[0]) == pytest.approx(FALL_HEIGHT, abs=1e-9)
    f = fall_heights(three_bodies).numpy()
    np.testing.assert_allclose(f / f[1], np.array([1.5, 1.8, 1.95]) / 1.8, rtol=0.03)


def test_blocks_of_steps_give_the_single_step_rollout(params2, monkeypatch):
    """rollout(compile=True) advances in blocks of COMPILED_BLOCK steps; blocks stop at recorded samples,
    the settle snapshot and a perturbation. Run eagerly here (the compilation takes minutes), the blocks
    must reproduce the step-by-step rollout."""
    from twin.control import sim

    monkeypatch.setattr(sim, "_loop", lambda compile, k=1, device="cpu": sim._block(k) if k > 1 else sim._loop_step)
    c = ReflexController(params2, dt=1e-3)
    v = c.default_vector()
    dq = np.zeros((2, params2.n_coordinates))
    dq[:, list(params2.coordinate_names).index("hip_flexion_l")] = 0.05
    kw = dict(record_every=10, settle=0.057, perturb=(0.033, dq, np.array([0.1, -0.1])))
    s = initial_walking_state(params2)
    a = rollout(params2, c, c.init(2, v), s, 0.623, compile=False, **kw)
    b = rollout(params2, c, c.init(2, v), s, 0.623, compile=True, **kw)
    for k in ("q", "qdot", "excitation", "grf"):
        np.testing.assert_allclose(b.record[k], a.record[k], rtol=0, atol=1e-9)
    assert np.isfinite(a.speed).all()  # the settle snapshot was taken
    for f in ("distance", "walked_s", "speed", "energy", "limit", "trunk", "impact"):
        np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=1e-9, atol=1e-12)
    assert b.record["q"].shape == a.record["q"].shape


def test_rollout_callback_reports_between_blocks_and_can_stop_it(params2, monkeypatch):
    """callback(step, n) comes about every callback_every steps, also on the block path (run eagerly here),
    never inside a block; what it raises ends the rollout."""
    from twin.control import sim

    monkeypatch.setattr(sim, "_loop", lambda compile, k=1, device="cpu": sim._block(k) if k > 1 else sim._loop_step)
    c = ReflexController(params2, dt=1e-3)
    s = initial_walking_state(params2)
    for compile in (False, True):
        seen = []
        r = rollout(params2, c, c.init(2, c.default_vector()), s, 0.35, compile=compile, record_every=10,
                    callback=lambda i, n: seen.append((i, n)), callback_every=100)
        assert [i for i, _ in seen] == [100, 200, 300] and {n for _, n in seen} == {350}
        assert r.record["q"].shape[1] == 35

    class Stop(Exception):
        pass

    def stop(i, n):
        if i >= 200:
            raise Stop

    with pytest.raises(Stop):
        rollout(params2, c, c.init(2, c.default_vector()), s, 0.5, callback=stop)
    with pytest.raises(ParameterError, match="callback_every"):
        rollout(params2, c, c.init(2, c.default_vector()), s, 0.1, callback=stop, callback_every=0)


def test_impaired_training_bodies(tmp_path, capsys):
    from twin.control.__main__ import impaired_bodies, main

    subs = impaired_bodies(["contracture:hamstrings=0.1", "weakness:vasti,rect_fem=0.7;afo:100"], with_default=True)
    assert len(subs) == 3 and subs[0].notes == ()
    base = subs[0].body
    assert subs[1].body.muscle("hamstrings_r").optimal_fiber_length == pytest.approx(
        0.9 * base.muscle("hamstrings_r").optimal_fiber_length)
    assert subs[2].body.muscle("vasti_l").max_isometric_force == pytest.approx(
        0.7 * base.muscle("vasti_l").max_isometric_force)
    assert len(subs[2].notes) == 2  # both scenarios of the ';'-list applied to one body
    assert len(impaired_bodies(["afo:100"])) == 1
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--impaired", "weakness:soleus", "--stages", "robust"])
    assert "--impaired" in capsys.readouterr().err
