"""Gait metrics on synthetic simulations with known answers (square-wave GRF, sinusoidal joints)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin import schema
from twin.errors import ParameterError, SchemaError
from twin.metrics import GDI_JOINTS, foot_events, metrics

RATE = 1000.0
G = 9.80665
COORDS = ["pelvis_tilt", "pelvis_tx", "pelvis_ty", "hip_flexion_r", "knee_angle_r", "ankle_angle_r",
          "hip_flexion_l", "knee_angle_l", "ankle_angle_l"]
T0 = 0.05  # first right strike [s]


def _phase(t, stride, offset):
    return ((t - T0 - offset) / stride) % 1.0


def _member(t, *, stride=1.1, phi=0.5, stance=0.62, speed=1.25, mass=75.0, slow_start=None, curves=None,
            knee_offset=0.0, power_w=400.0):
    """One synthetic walker: arrays q (T, Q), grf (T, 2, 3), moment, power, metabolic power."""
    q = np.zeros((t.size, len(COORDS)))
    x = speed * t
    if slow_start is not None:  # 0.5 m/s until slow_start, then `speed`
        x = np.where(t < slow_start, 0.5 * t, 0.5 * slow_start + speed * (t - slow_start))
    q[:, COORDS.index("pelvis_tx")] = x
    q[:, COORDS.index("pelvis_ty")] = 0.9
    grf = np.zeros((t.size, 2, 3))
    moment = np.zeros_like(q)
    power = np.zeros_like(q)
    height = mass * G / (2 * stance)  # mean total vertical force = body weight
    for s, (side, offset) in enumerate((("r", 0.0), ("l", phi * stride))):
        ph = _phase(t, stride, offset)
        grf[:, s, 1] = np.where(ph < stance, height, 0.0)
        grf[:, s, 0] = np.where(ph < stance, 0.1 * height * np.sin(2 * np.pi * ph / stance), 0.0)
        if curves is None:
            q[:, COORDS.index(f"hip_flexion_{side}")] = 0.1 + 0.4 * np.sin(2 * np.pi * ph)
            q[:, COORDS.index(f"knee_angle_{side}")] = -0.6 * np.sin(np.pi * ph) ** 2
            q[:, COORDS.index(f"ankle_angle_{side}")] = 0.2 * np.sin(2 * np.pi * ph)
        else:
            for j in GDI_JOINTS:
                q[:, COORDS.index(f"{j}_{side}")] = np.interp(ph * 100.0, np.linspace(0, 100, 101), curves[j])
            q[:, COORDS.index(f"knee_angle_{side}")] += math.radians(knee_offset)
        ia = COORDS.index(f"ankle_angle_{side}")
        moment[:, ia] = np.where(ph < stance, -80.0 * np.sin(np.pi * ph / stance), 0.0)
        power[:, ia] = 250.0 * np.exp(-(((ph - 0.55) / 0.03) ** 2))
    return q, grf, moment, power, np.full(t.size, power_w)


def _sim(members, *, duration=8.0, member_dims="batch", labels=None, body_mass=None, moment=True, **attrs):
    t = np.arange(0.0, duration, 1.0 / RATE)
    parts = [_member(t, **kw) for kw in members]
    q, grf, mom, pw, met = (np.stack([p[i] for p in parts]) for i in range(5))
    extra = {}
    if moment:
        extra = {"moment": (("batch", "time", "coordinate"), mom, {"units": "N m or N (see coordinate_type)"}),
                 "power": (("batch", "time", "coordinate"), pw, {"units": "W"})}
    ds = schema.simulation(t, q=q, coordinates=COORDS, grf=grf, metabolic_power=met, body_mass=body_mass,
                           extra_vars=extra, **attrs)
    return ds


@pytest.fixture(scope="module")
def walk():
    """batch 0: symmetric, 1.1 s strides; batch 1: asymmetric steps (phi 0.55), slow start; batch 2: fell."""
    ds = _sim([dict(), dict(phi=0.55, slow_start=2.0, stride=1.2), dict()], body_mass=[75.0, 75.0, 75.0],
              leg_length=0.9)
    return ds.assign(fell=("batch", np.array([False, False, True]), ds.fell.attrs),
                     fell_time=("batch", np.array([np.nan, np.nan, 3.0]), ds.fell_time.attrs))


@pytest.fixture(scope="module")
def m(walk):
    return metrics(walk, settle=2.0)


def test_output_schema(m):
    schema.validate(m)
    assert m.attrs["kind"] == "metrics"
    for name, da in m.data_vars.items():
        assert "units" in da.attrs and "long_name" in da.attrs, name
    assert m.speed.dims == ("batch",) and m.stance_pct.dims == ("batch", "side")
    assert list(m.coordinate.values) == [c for c in COORDS if c not in ("pelvis_tx", "pelvis_ty")]
    assert m.rom.attrs["units"] == "deg" and m.cadence.attrs["units"] == "steps/min"


def test_spatiotemporal(m):
    dt = 1.0 / RATE  # square-wave events are found within one sample (stance: two)
    assert float(m.speed[0]) == pytest.approx(1.25, rel=1e-9)
    assert float(m.speed[1]) == pytest.approx(1.25, rel=1e-9)  # the 0.5 m/s start is skipped (settle)
    assert float(m.stride_time[0]) == pytest.approx(1.1, abs=1e-9)  # same bias on both strikes: exact
    assert float(m.stride_time[1]) == pytest.approx(1.2, abs=1e-9)
    assert float(m.cadence[0]) == pytest.approx(120.0 / 1.1, rel=1e-6)
    assert float(m.cadence[1]) == pytest.approx(120.0 / 1.2, rel=1e-6)
    assert float(m.stride_length[0]) == pytest.approx(1.25 * 1.1, rel=1e-6)
    np.testing.assert_allclose(m.stance_pct[0].values, 62.0, atol=2 * 100 * dt / 1.1)
    np.testing.assert_allclose(m.stance_pct[1].values, 62.0, atol=2 * 100 * dt / 1.2)
    tol = 200 * 2 * dt / 1.1  # each step time within a sample
    assert float(m.step_time_asymmetry[0]) == pytest.approx(0.0, abs=tol)
    # phi = 0.55: left step (right strike -> left strike) 0.55 T, right step 0.45 T -> 200 * 0.1 / 1 = 20 %
    assert float(m.step_time_asymmetry[1]) == pytest.approx(20.0, abs=tol)
    assert m.step_time.sel(side="left")[1] == pytest.approx(0.55 * 1.2, abs=dt)
    assert m.step_time.sel(side="right")[1] == pytest.approx(0.45 * 1.2, abs=dt)
    # strides fully inside [2 s, 8 s): right strikes at 0.05 + 1.1 k -> 2.25 ... 7.75 (6 strikes)
    assert m.n_strides.sel(side="right")[0] == 5


def test_joint_angles_and_kinetics(m):
    deg = 180.0 / math.pi
    hip = m.sel(coordinate="hip_flexion_r")
    assert float(hip.rom[0]) == pytest.approx(0.8 * deg, abs=0.01)
    assert float(hip.q_max[0]) == pytest.approx(0.5 * deg, abs=0.01)
    assert float(hip.q_min[0]) == pytest.approx(-0.3 * deg, abs=0.01)
    assert float(m.rom.sel(coordinate="knee_angle_l")[0]) == pytest.approx(0.6 * deg, abs=0.01)
    np.testing.assert_allclose(m.peak_ankle_plantarflexion_moment[0].values, 80.0, rtol=1e-4)
    np.testing.assert_allclose(m.peak_ankle_power[0].values, 250.0, rtol=1e-4)
    assert m.peak_ankle_power.attrs["units"] == "W"


def test_cost_of_transport(m):
    assert float(m.cost_of_transport[0]) == pytest.approx(400.0 / (75.0 * 1.25), rel=1e-6)
    assert m.cost_of_transport.attrs["units"] == "J/kg/m"
    assert float(m.body_mass[0]) == 75.0


def test_fell_member_is_nan(m):
    assert m.fell.values.tolist() == [False, False, True]
    for name in ("speed", "cadence", "stride_length", "cost_of_transport", "step_time_asymmetry"):
        assert np.isnan(float(m[name][2])), name
        assert np.isfinite(float(m[name][0])), name
    assert np.isnan(m.rom[2].values).all() and np.isnan(m.stance_pct[2].values).all()
    assert float(m.body_mass[2]) == 75.0  # not a gait metric


def test_settle_matters(walk):
    m0 = metrics(walk, settle=0.0)
    assert float(m0.speed[1]) < 1.1  # includes the 0.5 m/s start
    with pytest.raises(ParameterError, match="settle"):
        metrics(walk, settle=-1.0)
    short = metrics(walk, settle=100.0)
    assert np.isnan(short.speed.values).all() and "fewer than 2 samples" in short.attrs["skipped"]


def test_body_weight_from_grf_and_skips():
    ds = _sim([dict(mass=60.0)], moment=False)  # no body_mass: from the mean vertical GRF
    out = metrics(ds, settle=1.0)
    assert float(out.body_mass[0]) == pytest.approx(60.0, rel=2e-3)
    assert float(out.cadence[0]) == pytest.approx(120.0 / 1.1, rel=1e-6)
    assert "peak_ankle_power" not in out and "'power'" in out.attrs["skipped"]
    assert "peak_ankle_plantarflexion_moment" not in out
    assert "GRF" in out.body_mass.attrs["long_name"]


def test_scenario_and_batch_dims(walk):
    two = walk.isel(batch=[0, 1]).rename(batch="scenario").assign_coords(scenario=["baseline", "asym"])
    both = two.expand_dims(batch=[0]).transpose("scenario", "batch", ...)
    out = metrics(both, settle=2.0)
    assert out.speed.dims == ("scenario", "batch") and out.stance_pct.dims == ("scenario", "batch", "side")
    assert list(out.scenario.values) == ["baseline", "asym"]
    assert float(out.step_time_asymmetry.sel(scenario="asym", batch=0)) == pytest.approx(20.0, abs=0.5)
    schema.validate(out)


def test_rejects_non_simulation():
    with pytest.raises(SchemaError, match="simulation Dataset"):
        metrics(schema.table(np.arange(3) / 100, np.zeros((3, 1)), ["a"]))


def test_foot_events():
    t = np.arange(10) * 0.1
    fy = np.array([0, 0, 10, 20, 20, 20, 10, 0, 0, 0.0])
    on, off = foot_events(t, fy, 5.0)
    np.testing.assert_allclose(on, [0.15])
    np.testing.assert_allclose(off, [0.65])


def test_gait_deviation_from_normative(data_dir):
    from twin.gait.normative import normative

    curves = {j: normative(j, speed=1.25, leg_length=0.9)["mean"].values for j in GDI_JOINTS}
    ds = _sim([dict(curves=curves), dict(curves=curves, knee_offset=5.0)], body_mass=[75.0, 75.0], leg_length=0.9)
    out = metrics(ds, settle=2.0)
    dev = out.gait_deviation_joint
    assert float(dev.sel(joint="knee_angle")[1].mean()) == pytest.approx(5.0, abs=0.1)
    assert float(dev[0].max()) < 0.2  # the normative gait itself: ~0 (events within a sample)
    assert float(dev.sel(joint="hip_flexion")[1].max()) < 0.2
    assert float(out.gait_deviation[1, 0]) == pytest.approx(5.0 / math.sqrt(3.0), abs=0.1)
    assert out.gait_deviation.attrs["units"] == "deg" and "note" not in out.gait_deviation.attrs


def test_gait_deviation_without_normative_data(walk, tmp_path):
    out = metrics(walk, settle=2.0, normative_path=tmp_path / "missing.json")
    assert np.isnan(out.gait_deviation.values).all()
    assert "normative data unavailable" in out.gait_deviation.attrs["note"]
    assert np.isfinite(float(out.cadence[0]))  # the rest is unaffected


def test_engine_output_runs():
    """A real (short, falling-free) engine simulation goes through; no GRF sides -> those metrics skipped."""
    torch = pytest.importorskip("torch")
    from twin.engine import EngineParams, double_pendulum, simulate

    torch.set_num_threads(1)
    ds = simulate(EngineParams.from_body(double_pendulum(), batch=2), None, 0.1, record_every=10, num_threads=1)
    out = metrics(ds, settle=0.0)
    assert "no 'grf' per side" in out.attrs["skipped"] and "cadence" not in out
    assert out.rom.dims == ("batch", "coordinate") and np.isfinite(out.rom.values).all()


def test_walking_body_engine_output_runs():
    """The walking body (two feet, 18 muscles) for 0.1 s: too short for a stride, so NaN, but no error."""
    torch = pytest.importorskip("torch")
    from twin.control.sim import walking_params
    from twin.engine import simulate

    torch.set_num_threads(1)
    ds = simulate(walking_params(batch=2), None, 0.1, record_every=5, num_threads=1)
    out = metrics(ds, settle=0.0)
    assert list(out.side.values) == ["right", "left"]
    assert out.n_strides.values.max() == 0 and np.isnan(out.cadence.values).all()
    assert "cost_of_transport" in out and out.body_mass.dims == ("batch",)
    schema.validate(out)
