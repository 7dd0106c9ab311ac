"""twin.gait: events, cycles, spatiotemporal parameters, normative data, event benchmark.

Synthetic signals test the logic with known answers; the reference trials
under TWIN_DATA_DIR test the detectors against annotated, file and
force-plate events (targets: foot strike <= 20 ms, foot off <= 30 ms median
absolute error per trial; shortfalls are xfail with the measured number).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from twin import schema
from twin.errors import DataError, ParameterError, SchemaError, TwinWarning
from twin.gait import (
    compare_events,
    cycle_mean,
    cycle_std,
    detect_events,
    events_from_force,
    events_from_imu,
    events_from_kinematics,
    normalize_cycles,
    spatiotemporal,
)
from twin.gait import normative as normative_fn
from twin.gait.normative import BOUNDARIES, CATEGORIES, band, dimensionless_speed, speed_category, zscore

RATE = 100.0


# ---------------------------------------------------------------------------------------- synthetic data
def walk(*, duration=6.0, rate=RATE, stride=1.0, speed=1.2, stance=0.6, direction=1, treadmill=False,
         width=0.2, names=("SACR", "LHEE", "LTOE", "RHEE", "RTOE")):
    """Markers of a walker with stationary stance feet and smooth swings; returns (ds, true events)."""
    t = np.arange(0.0, duration, 1.0 / rate)
    length = speed * stride
    pelvis = np.stack([speed * t, np.full_like(t, 0.95), np.zeros_like(t)], 1)
    feet, true = [], {"foot_strike": {}, "foot_off": {}}
    for side, off, z in (("left", 0.0, -width / 2), ("right", 0.5, width / 2)):
        k = np.floor((t - off * stride) / stride)
        u = (t - off * stride) / stride - k
        land = speed * stride * (k + off) + 0.3                       # heel lands 0.3 m ahead of the pelvis
        swing = np.clip((u - stance) / (1 - stance), 0, 1)
        x = land + length * (1 - np.cos(np.pi * swing)) / 2
        y = 0.05 + 0.08 * np.sin(np.pi * swing) ** 2
        heel = np.stack([x, y, np.full_like(t, z)], 1)
        toe = heel + [0.2, -0.02, 0.0]
        feet += [heel, toe]
        strikes = np.arange(-2, duration / stride + 2) * stride + off * stride
        true["foot_strike"][side] = strikes[(strikes > 0.05) & (strikes < duration - 0.05)]
        offs = strikes + stance * stride
        true["foot_off"][side] = offs[(offs > 0.05) & (offs < duration - 0.05)]
    m = np.stack([pelvis] + feet, 1)
    if treadmill:
        m[:, :, 0] -= speed * t[:, None]
    if direction < 0:          # walking along -X: rotate 180 deg about Y (x -> -x, z -> -z)
        m[:, :, 0] *= -1
        m[:, :, 2] *= -1
    ds = schema.recording(t, markers=m, marker_names=list(names))
    return ds, true


def truth_events(true):
    times, labels, sides = [], [], []
    for lab, per in true.items():
        for side, ts in per.items():
            times += list(ts)
            labels += [lab] * len(ts)
            sides += [side] * len(ts)
    return schema.events(times, labels, sides)


def sine_walk(direction=1):
    """Heel/toe oscillating sinusoidally about the pelvis: Zeni extrema known exactly."""
    t = np.arange(0, 4, 0.01)
    ph = 2 * np.pi * t / 1.0
    pelvis = np.stack([1.2 * t, np.full_like(t, 0.9), np.zeros_like(t)], 1)

    def foot(shift):
        x = 1.2 * t + 0.3 * np.sin(ph + shift)
        return np.stack([x, 0.05 + 0.05 * np.clip(np.cos(ph + shift), 0, None), np.zeros_like(t)], 1)

    m = np.stack([pelvis, foot(0), foot(0) + [0.2, 0, 0], foot(np.pi), foot(np.pi) + [0.2, 0, 0]], 1)
    if direction < 0:
        m[:, :, [0, 2]] *= -1
    return schema.recording(t, markers=m, marker_names=["SACR", "LHEE", "LTOE", "RHEE", "RTOE"])


def force_trial(noise=0.0, seed=0):
    """Two plates, left foot on plate 1 (0.2-0.8 s), right on plate 2 (0.7-1.3 s), 1 kHz, markers at 100 Hz."""
    ta = np.arange(0, 1.5, 0.001)

    def bump(a, b):
        u = np.clip((ta - a) / (b - a), 0, 1)
        return 700 * (np.sin(np.pi * u) + 0.3 * np.sin(3 * np.pi * u)) * ((ta > a) & (ta < b))

    rng = np.random.default_rng(seed)
    grf = np.zeros((ta.size, 2, 3))
    grf[:, 0, 1] = bump(0.2, 0.8)
    grf[:, 1, 1] = bump(0.7, 1.3)
    clean = grf[:, :, 1].copy()
    grf[:, :, 1] += noise * rng.standard_normal((ta.size, 2))
    cop = np.zeros_like(grf)
    cop[:, 0] = [0.5, 0.0, -0.1]
    cop[:, 1] = [1.1, 0.0, 0.1]
    t = np.arange(0, 1.5, 0.01)
    lheel = np.stack([np.interp(t, [0, 0.8, 1.2, 1.5], [0.45, 0.45, 1.6, 1.7]), np.full_like(t, 0.05),
                      np.full_like(t, -0.1)], 1)
    rheel = np.stack([np.interp(t, [0, 0.3, 0.7, 1.5], [0.1, 0.1, 1.05, 1.05]), np.full_like(t, 0.05),
                      np.full_like(t, 0.1)], 1)
    m = np.stack([lheel, lheel + [0.2, 0, 0], rheel, rheel + [0.2, 0, 0]], 1)
    ds = schema.recording(t, markers=m, marker_names=["LHEE", "LTOE", "RHEE", "RTOE"], analog_time=ta, grf=grf,
                          cop=cop, plates=["1", "2"])
    return ds, clean, ta


def crossings(ta, f, thr=20.0):
    above = f > thr
    i = np.flatnonzero(np.diff(above.astype(int)) != 0)
    return ta[i] + (thr - f[i]) / (f[i + 1] - f[i]) * (ta[i + 1] - ta[i])


def pick(ev, label, side):
    sel = (ev.event_label == label) & (ev.event_side == side)
    return np.sort(ev.event_time.values[sel.values])


# ---------------------------------------------------------------------------------------- force events
def test_force_events_plates_assigned_to_feet_with_noise():
    ds, clean, ta = force_trial(noise=4.0)
    ev = events_from_force(ds)
    schema.validate(ev)
    assert ev.attrs["method"] == "force"
    np.testing.assert_allclose(pick(ev, "foot_strike", "left"), crossings(ta, clean[:, 0])[:1], atol=0.003)
    np.testing.assert_allclose(pick(ev, "foot_off", "left"), crossings(ta, clean[:, 0])[1:], atol=0.003)
    np.testing.assert_allclose(pick(ev, "foot_strike", "right"), crossings(ta, clean[:, 1])[:1], atol=0.003)
    assert ev.sizes["event"] == 4      # the noise did not make extra contacts


def test_force_events_side_dim_edges_and_short_spikes():
    t = np.arange(0, 2.0, 0.001)
    fy = np.where(t < 0.5, 600.0, 0.0)                       # already in contact at t=0: no strike
    fy += np.where((t > 0.9) & (t < 0.905), 300.0, 0.0)      # 5 ms spike: dropped
    fy += np.where(t > 1.2, 650.0, 0.0)                      # still in contact at the end: no foot off
    grf = np.zeros((t.size, 1, 3))
    grf[:, 0, 1] = fy
    ev = events_from_force(schema.recording(t, grf=grf, plates=["right"], plate_dim="side"))
    assert ev.event_label.values.tolist() == ["foot_off", "foot_strike"]
    np.testing.assert_allclose(ev.event_time.values, [0.5, 1.2], atol=0.0011)
    assert set(ev.event_side.values) == {"right"}
    assert "not observed" in ev.attrs["history"]
    grf[:, 0, 1] = 650.0                                     # in contact from start to end: nothing observed
    assert events_from_force(schema.recording(t, grf=grf, plates=["right"], plate_dim="side")).sizes["event"] == 0


def test_force_events_without_markers_warn_and_positions_option():
    ds, _, _ = force_trial()
    forces = ds.drop_vars("markers")
    with pytest.warns(TwinWarning, match="which foot"):
        ev = events_from_force(forces)
    assert set(ev.event_side.values) == {""}
    ev2 = events_from_force(forces, positions=ds[["markers"]])
    assert sorted(set(ev2.event_side.values)) == ["left", "right"]
    # without COP, the foot that does not move is the one on the plate
    ev3 = events_from_force(ds.drop_vars("cop"))
    assert pick(ev3, "foot_strike", "left").size == 1 and pick(ev3, "foot_strike", "right").size == 1


@pytest.mark.parametrize(
    "change, exc, match",
    [
        (lambda g: g * [1, -1, 1], DataError, "negative"),
        (lambda g: g[..., [1, 2, 0]], DataError, "no vertical force"),
        (lambda g: g * 0.01, DataError, "never exceeds"),
        (lambda g: g * np.nan, DataError, "NaN"),
    ],
)
def test_force_bad_input(change, exc, match):
    ds, _, _ = force_trial()
    ds["grf"] = ds.grf.copy(data=change(ds.grf.values))
    with pytest.raises(exc, match=match):
        events_from_force(ds)


def test_force_bad_parameters():
    ds, _, _ = force_trial()
    with pytest.raises(DataError, match="grf"):
        events_from_force(ds.drop_vars("grf"))
    with pytest.raises(ParameterError, match="hysteresis"):
        events_from_force(ds, threshold=10.0, hysteresis=10.0)
    with pytest.raises(ParameterError):
        events_from_force(ds, threshold=-1.0)


# ---------------------------------------------------------------------------------------- kinematic events
@pytest.mark.parametrize("direction", [1, -1])
def test_zeni_exact_on_sinusoidal_feet(direction):
    ev = events_from_kinematics(sine_walk(direction), method="zeni")
    # heel ahead of the pelvis peaks at ph = pi/2 (left) and 3pi/2 (right); toe behind at the opposite phase
    np.testing.assert_allclose(pick(ev, "foot_strike", "left"), [0.25, 1.25, 2.25, 3.25], atol=0.005)
    np.testing.assert_allclose(pick(ev, "foot_strike", "right"), [0.75, 1.75, 2.75, 3.75], atol=0.005)
    np.testing.assert_allclose(pick(ev, "foot_off", "left"), [0.75, 1.75, 2.75, 3.75], atol=0.005)
    assert ev.attrs["progression"][0] == pytest.approx(direction, abs=1e-6)


@pytest.mark.parametrize("direction, treadmill", [(1, False), (-1, False), (1, True), (-1, True)])
@pytest.mark.parametrize("method, tol_fs, tol_fo", [("velocity", 0.02, 0.02), ("zeni", 0.08, 0.08), ("hybrid", 0.02, 0.08)])
def test_kinematic_methods_on_stance_swing_walker(direction, treadmill, method, tol_fs, tol_fo):
    ds, true = walk(direction=direction, treadmill=treadmill)
    ev = events_from_kinematics(ds, method=method)
    cmp = compare_events(ev, truth_events(true), tolerance=0.15)
    assert int(cmp.n_missed.sum()) <= 2          # at most an edge event per label
    assert float(cmp.median_abs_error.sel(label="foot_strike")) <= tol_fs * 1e3
    assert float(cmp.median_abs_error.sel(label="foot_off")) <= tol_fo * 1e3
    assert ev.attrs["overground"] == int(not treadmill)


def test_kinematics_from_2d_keypoints_matches_markers():
    ds = sine_walk()
    m = ds.markers.values
    kp = np.stack([500 + 400 * m[..., 0], 800 - 400 * m[..., 1]], -1)[:, None]
    rec = schema.recording(ds.time.values)
    rec["keypoints"] = xr.DataArray(kp, dims=("time", "camera", "keypoint", "uv"), attrs={"units": "px"})
    rec = rec.assign_coords(keypoint=["MidHip", "LHeel", "LBigToe", "RHeel", "RBigToe"], uv=["u", "v"],
                            camera=["side"])
    ev_kp = events_from_kinematics(rec)
    ev_m = events_from_kinematics(ds)
    np.testing.assert_allclose(np.sort(ev_kp.event_time.values), np.sort(ev_m.event_time.values), atol=1e-6)


def test_kinematics_marker_mapping_and_missing_markers():
    ds, _ = walk(names=("p", "a", "b", "c", "d"))
    with pytest.raises(DataError, match="pelvis"):
        events_from_kinematics(ds)
    mapping = {"pelvis": "p", "left_heel": "a", "left_toe": "b", "right_heel": "c", "right_toe": "d"}
    ev = events_from_kinematics(ds, markers=mapping)
    assert ev.sizes["event"] > 10
    with pytest.raises(ParameterError, match="not among"):
        events_from_kinematics(ds, markers=dict(mapping, left_heel="nope"))
    ds2, _ = walk(names=("SACR", "LANK", "LTOE", "RHEE", "RTOE"))
    with pytest.raises(DataError, match="left heel"):
        events_from_kinematics(ds2)


def test_kinematics_bad_input():
    ds, _ = walk(duration=0.4)
    with pytest.raises(DataError, match="too short"):
        events_from_kinematics(ds)
    with pytest.raises(DataError, match="no marker positions"):
        events_from_kinematics(schema.recording(np.arange(10) / 100.0))
    with pytest.raises(ParameterError):
        events_from_kinematics(walk()[0], method="magic")
    # gaps next to an extremum: the event is dropped rather than invented
    ds, _ = walk()
    m = ds.markers.values.copy()
    m[140:160, 1] = np.nan                          # left heel missing around t = 1.5 s
    ds["markers"] = ds.markers.copy(data=m)
    ev = events_from_kinematics(ds)
    assert np.all(np.isfinite(ev.event_time.values))


# ---------------------------------------------------------------------------------------- IMU events
def gyro_trial(names=("LeftShank", "tibia_r"), flip=False):
    t = np.arange(0, 6, 0.01)
    out = []
    for off in (0.0, 0.5):
        ph = (t - off) % 1.0
        w = (np.where(ph < 0.6, 0.8 * np.sin(np.pi * ph / 0.6), 5 * np.sin(np.pi * (ph - 0.6) / 0.4))
             - 2 * np.exp(-((ph - 0.03) / 0.02) ** 2) - 2 * np.exp(-((ph - 0.57) / 0.02) ** 2))
        out.append(np.stack([0.1 * np.sin(7 * t), -w if flip else w, np.zeros_like(t)], 1))
    ds = schema.recording(t)
    ds["imu_gyro"] = xr.DataArray(np.stack(out, 1), dims=("time", "sensor", "axis"), attrs={"units": "rad/s"})
    return ds.assign_coords(sensor=list(names), axis=["x", "y", "z"])


@pytest.mark.parametrize("flip", [False, True])
def test_imu_events(flip):
    ev = events_from_imu(gyro_trial(flip=flip), cutoff=None)
    fs_l, fo_l = pick(ev, "foot_strike", "left"), pick(ev, "foot_off", "left")
    np.testing.assert_allclose(fs_l, np.arange(1, 6) + 0.03, atol=0.011)
    np.testing.assert_allclose(fo_l, np.arange(0, 6) + 0.57, atol=0.011)
    np.testing.assert_allclose(pick(ev, "foot_strike", "right"), np.arange(0, 6) + 0.53, atol=0.011)


def test_imu_sensor_choice_and_errors():
    ds = gyro_trial(names=("a", "b"))
    with pytest.raises(DataError, match="shank"):
        events_from_imu(ds)
    ev = events_from_imu(ds, sensor={"left": "a"}, cutoff=None)
    assert set(ev.event_side.values) == {"left"}
    with pytest.raises(ParameterError, match="side"):
        events_from_imu(ds, sensor="a")
    with pytest.raises(ParameterError, match="not in imu_gyro"):
        events_from_imu(ds, sensor={"left": "zz"})
    with pytest.raises(DataError, match="imu_gyro"):
        events_from_imu(schema.recording(np.arange(5) / 100))
    ev = events_from_imu(gyro_trial(), sensor="tibia_r", axis="y", cutoff=None)
    assert set(ev.event_side.values) == {"right"}


# ---------------------------------------------------------------------------------------- detect / compare
def test_detect_events_picks_the_best_source():
    ds, _, _ = force_trial()
    assert detect_events(ds).attrs["method"] == "force"
    assert detect_events(walk()[0]).attrs["method"] == "kinematics:hybrid"
    assert detect_events(walk()[0], method="zeni").attrs["method"] == "kinematics:zeni"
    assert detect_events(gyro_trial(), cutoff=None).attrs["method"] == "imu"
    assert detect_events(walk()[0], method="velocity").attrs["method"] == "kinematics:velocity"
    with pytest.raises(DataError, match="force: .*kinematics: .*imu: "):
        detect_events(schema.recording(np.arange(50) / 100))


def test_compare_events_matching():
    ref = schema.events([1.0, 2.0, 3.0, 1.6, 2.6], ["foot_strike"] * 3 + ["foot_off"] * 2, ["left"] * 5)
    det = schema.events([1.01, 2.03, 4.0, 9.0, 1.55, 1.62, 2.6],
                        ["foot_strike"] * 4 + ["foot_off"] * 3, ["left"] * 4 + ["left"] * 3)
    cmp = compare_events(det, ref, tolerance=0.1)
    fs, fo = cmp.sel(label="foot_strike"), cmp.sel(label="foot_off")
    assert int(fs.n_matched) == 2 and int(fs.n_missed) == 1 and int(fs.n_extra) == 0   # 4.0 and 9.0 are outside
    assert float(fs.median_abs_error) == pytest.approx(20.0)
    assert float(fs.mean_error) == pytest.approx(20.0)
    assert int(fo.n_matched) == 2 and int(fo.n_extra) == 1                               # 1.55 or 1.62 is extra
    assert float(fo.median_abs_error) == pytest.approx(10.0)
    assert cmp.error.attrs["units"] == "ms"
    # the wrong side never matches
    det_r = det.assign_coords(event_side=("event", ["right"] * det.sizes["event"]))
    assert int(compare_events(det_r, ref).n_matched.sum()) == 0
    with pytest.raises(SchemaError):
        compare_events(xr.Dataset(), ref)


# ---------------------------------------------------------------------------------------- cycles
def test_normalize_cycles_dataarray_and_dataset():
    ds, true = walk()
    ev = truth_events(true)
    x = ds.markers.sel(marker="LHEE", axis="y")
    cyc = normalize_cycles(x, ev, side="left")
    n_strides = true["foot_strike"]["left"].size - 1
    assert dict(cyc.sizes) == {"cycle": n_strides, "cycle_pct": 101}
    assert cyc.cycle_pct.attrs["units"] == "%" and cyc.attrs["units"] == "m"
    np.testing.assert_allclose(cyc.foot_off_pct.values, 60.0, atol=1e-6)
    # stance (0-60 %) is flat at the floor, swing peaks at 80 %
    m = cycle_mean(cyc)
    assert float(m.sel(cycle_pct=30)) == pytest.approx(0.05, abs=1e-6)
    assert float(m.sel(cycle_pct=80)) == pytest.approx(0.13, abs=1e-3)
    assert float(cycle_std(cyc).max()) < 1e-3
    rec = ds.copy()
    rec["extra"] = xr.DataArray(np.ones(3), dims="other", attrs={"units": "1"})
    cds = normalize_cycles(rec, ev, side="right", n=51)
    assert "extra" not in cds and cds.markers.dims == ("cycle", "cycle_pct", "marker", "axis")
    assert cds.sizes["cycle_pct"] == 51


def test_normalize_cycles_analog_time_and_errors():
    ds, clean, ta = force_trial()
    ev = schema.events([0.2, 0.7, 1.2], ["foot_strike"] * 3, ["left"] * 3)
    cyc = normalize_cycles(ds.grf.sel(axis="y"), ev, side="left")
    assert cyc.dims == ("cycle", "cycle_pct", "plate") and cyc.sizes["cycle"] == 2
    with pytest.raises(DataError, match="at least 2"):
        normalize_cycles(ds.grf, ev, side="right")
    late = schema.events([1.0, 2.5], ["foot_strike"] * 2, ["left"] * 2)
    with pytest.raises(DataError, match="outside the data"):
        normalize_cycles(ds.grf, late, side="left")
    with pytest.raises(ParameterError):
        normalize_cycles(ds.grf, ev, side="middle")
    with pytest.raises(ParameterError):
        normalize_cycles(ds.grf, ev, side="left", n=1)
    with pytest.raises(DataError, match="max_duration"):
        normalize_cycles(ds.grf, ev, side="left", max_duration=0.1)
    with pytest.raises(DataError, match="cycle"):
        cycle_mean(ds.grf)


# ---------------------------------------------------------------------------------------- spatiotemporal
@pytest.mark.parametrize("direction", [1, -1])
def test_spatiotemporal_known_walker(direction):
    ds, true = walk(direction=direction, width=0.18)
    st = spatiotemporal(ds, truth_events(true))
    o = st.sel(side="overall")
    assert float(o.walking_speed) == pytest.approx(1.2, rel=1e-3)
    assert float(o.cadence) == pytest.approx(120.0, rel=1e-3)
    assert float(o.stride_time) == pytest.approx(1.0, rel=1e-3)
    assert float(o.stride_length) == pytest.approx(1.2, abs=0.01)
    assert float(o.step_length) == pytest.approx(0.6, abs=0.01)
    assert float(o.step_width) == pytest.approx(0.18, abs=0.005)
    assert float(o.stance_pct) == pytest.approx(60.0, abs=0.5)
    assert float(o.swing_pct) == pytest.approx(40.0, abs=0.5)
    assert float(o.double_support_pct) == pytest.approx(20.0, abs=0.5)
    assert np.all(np.abs(st.symmetry_index.values) < 2.0)
    for v in st.data_vars.values():
        assert "units" in v.attrs and "long_name" in v.attrs


def test_spatiotemporal_treadmill_and_errors():
    ds, true = walk(treadmill=True)
    ev = truth_events(true)
    st = spatiotemporal(ds, ev)  # belt speed estimated from the heels resting on the belt in early stance
    assert st.attrs["treadmill_speed_estimated"] == pytest.approx(1.2, rel=0.02)
    assert float(st.walking_speed.sel(side="overall")) == pytest.approx(1.2, rel=0.02)
    assert "belt speed" in st.attrs["history"]
    assert float(st.step_length.sel(side="overall")) == pytest.approx(0.6, abs=0.01)
    strikes_only = ev.where(ev.event_label == "foot_strike", drop=True)
    with pytest.warns(TwinWarning, match="treadmill"):
        st = spatiotemporal(ds, strikes_only)
    assert np.isnan(float(st.walking_speed.sel(side="overall")))
    st = spatiotemporal(ds, ev, treadmill_speed=1.2)
    assert float(st.stride_length.sel(side="left")) == pytest.approx(1.2, abs=1e-6)
    one = schema.events([1.0], ["foot_strike"], ["left"])
    with pytest.raises(DataError, match="complete stride"):
        spatiotemporal(ds, one)
    shifted = ev.assign(event_time=ev.event_time + 100.0)
    with pytest.raises(DataError, match="another trial"):
        spatiotemporal(ds, shifted)


# ---------------------------------------------------------------------------------------- normative
def test_speed_categories_boundaries():
    assert CATEGORIES == ("VerySlow", "Slow", "Free", "Fast", "VeryFast")
    assert BOUNDARIES == (0.227, 0.363, 0.500, 0.636)
    leg = 1.0
    g = 9.81
    for lo, cat in zip((0.0,) + BOUNDARIES, CATEGORIES):
        assert speed_category(lo * np.sqrt(g * leg) + 1e-9, leg) == cat
    assert dimensionless_speed(np.sqrt(g * 0.8), 0.8) == pytest.approx(1.0)
    with pytest.raises(ParameterError):
        speed_category(1.0, 0.0)


@pytest.mark.data
def test_gcd_normal_is_a_second_normal_set(data_dir):
    from twin.gait.normative import gcd_normal

    knee = gcd_normal("knee_angle_r", n=51)
    assert knee["mean"].attrs["units"] == "rad" and knee.sizes["cycle_pct"] == 51
    assert -1.2 < float(knee["mean"].min()) < -0.8  # swing flexion ~60 deg, negative in OpenSim
    # an independent normal data set: same shapes as Schwartz 2008 (free speed), not the same numbers
    for v in ("hip_flexion", "knee_angle", "ankle_angle"):
        g = gcd_normal(v)["mean"].values
        s = normative_fn(v, category="Free")["mean"].values
        assert np.corrcoef(g, s)[0, 1] > 0.7
        assert not np.allclose(g, s, atol=np.deg2rad(0.5))
    with pytest.raises(ParameterError, match="unknown variable"):
        gcd_normal("elbow_flexion")


def test_spatiotemporal_normal_ranges_by_pace(data_dir):
    from twin.gait.normative import spatiotemporal_normal

    slow, free, fast = (spatiotemporal_normal(v) for v in (0.95, 1.3, 1.9))
    assert (slow["pace"], free["pace"], fast["pace"]) == ("Slow", "Normal", "Fast")
    for n, v in ((slow, 0.95), (free, 1.3), (fast, 1.9)):
        lo, hi = n["walking_speed"]
        assert lo <= v <= hi
        for k in ("cadence", "stride_length", "stance_pct"):
            assert n[k][0] < n[k][1]
    # faster walking: higher cadence, longer strides, shorter stance
    assert slow["cadence"][1] < fast["cadence"][0]
    assert slow["stride_length"][0] < free["stride_length"][0] < fast["stride_length"][0]
    assert fast["stance_pct"][0] < slow["stance_pct"][0]
    assert 1.0 < free["stride_length"][0] < 1.6  # metres, not cm
    old = spatiotemporal_normal(1.1, sex="female", age=75)
    assert old["age_band"] == (75.0, 79.0)
    with pytest.raises(ParameterError):
        spatiotemporal_normal(1.2, sex="x")


def test_normative_values_signs_units(data_dir):
    knee = normative_fn("knee_angle")
    assert knee.attrs["category"] == "Free" and knee["mean"].attrs["units"] == "rad"
    assert knee.sizes["cycle_pct"] == 101 and knee.cycle_pct.values[-1] == 100.0
    # OpenSim knee flexion is negative: swing peak ~ -60 deg near 70-75 %
    assert -70 < np.rad2deg(float(knee["mean"].min())) < -50
    assert 65 <= float(knee.cycle_pct[int(np.argmin(knee["mean"].values))]) <= 80
    flex = normative_fn("knee_flexion_r")
    np.testing.assert_allclose(flex["mean"].values, -knee["mean"].values)
    # Free hip extensor moment at 10 %: 0.475 N m/kg in the paper's workbook (mean of 0.2796..0.6704)
    hm = normative_fn("hip_extensor_moment")
    assert float(hm["mean"].sel(cycle_pct=10)) == pytest.approx(0.475, abs=1e-3)
    assert float(normative_fn("hip_flexion_moment")["mean"].sel(cycle_pct=10)) == pytest.approx(-0.475, abs=1e-3)
    assert hm["mean"].attrs["units"] == "N m/kg"
    # push-off: ankle plantarflexor moment ~1.2 N m/kg, positive power burst
    assert 1.0 < float(normative_fn("ankle_plantarflexor_moment")["mean"].max()) < 1.6
    assert 1.0 < float(normative_fn("ankle_power")["mean"].max()) < 3.0
    slow = normative_fn("knee_angle", speed=0.8, leg_length=0.8)     # v* = 0.8 / sqrt(9.81 * 0.8) = 0.286
    assert slow.attrs["category"] == "Slow" and slow.attrs["dimensionless_speed"] == pytest.approx(0.2856, abs=1e-3)
    # slower walking, less knee flexion in swing
    assert float(slow["mean"].min()) > float(knee["mean"].min())
    raw = normative_fn("KneeAngles.X", category="Fast")
    assert float(raw["mean"].max()) > 1.0
    with pytest.raises(DataError, match="not in the Schwartz"):
        normative_fn("AnkleAngles.Y")


@pytest.mark.data
def test_normative_errors_band_zscore(data_dir):
    with pytest.raises(ParameterError, match="unknown normative"):
        normative_fn("elbow_flexion")
    with pytest.raises(ParameterError, match="leg_length"):
        normative_fn("knee_angle", speed=1.2)
    with pytest.raises(ParameterError, match="either"):
        normative_fn("knee_angle", speed=1.2, leg_length=0.9, category="Free")
    with pytest.raises(ParameterError):
        normative_fn("knee_angle", category="Jogging")
    norm = normative_fn("hip_flexion")
    b = band(norm, k=2)
    np.testing.assert_allclose(b.upper - b.lower, 4 * norm.sd)
    curves = norm["mean"].expand_dims(cycle=3) + norm.sd
    z = zscore(curves, norm)
    np.testing.assert_allclose(z.values, 1.0)
    assert z.attrs["units"] == "1"
    with pytest.raises(ParameterError, match="convert"):
        zscore(curves.assign_attrs(units="deg"), norm)


# ---------------------------------------------------------------------------------------- real data
GAITKIT = "pypi-packages/gaitkit-1.5.0"


@pytest.mark.data
@pytest.mark.parametrize("name", ["healthy", "parkinson", "stroke"])
def test_gaitkit_spatiotemporal_and_normative_shape(data_file, name):
    import twin

    ds = twin.read(data_file(f"{GAITKIT}/example_{name}.json"))
    ev = events_from_kinematics(ds)
    st = spatiotemporal(ds, ev)
    o = st.sel(side="overall")
    assert 0.5 < float(o.walking_speed) < 1.5
    assert 85 < float(o.cadence) < 130
    assert 55 < float(o.stance_pct) < 72
    if "reference_cadence" in ds.attrs and name == "parkinson":
        assert float(o.cadence) == pytest.approx(ds.attrs["reference_cadence"], rel=0.05)
    # the reader's knee sign and the normative knee sign agree: the mean knee curve correlates with the norm
    norm = normative_fn("knee_angle")
    for side, suffix in (("left", "_l"), ("right", "_r")):
        cyc = normalize_cycles(ds.angle.sel(coordinate=f"knee_angle{suffix}"), ev, side=side)
        r = np.corrcoef(cycle_mean(cyc).values, norm["mean"].values)[0, 1]
        assert r > 0.85, f"{name} {side}: r={r:.2f}"


@pytest.fixture(scope="module")
def bench(data_dir):
    from twin.gait.benchmark import evaluate_event_detection

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_event_detection(data_dir)["dataset"]


#: (trial, method) whose measured error misses the target; the test xfails with the measured numbers.
#: Reasons are in the benchmark docstring / report: Zeni strikes early on marker data, the velocity method's
#: toe (MT2/toe marker) starts moving before the toe leaves the ground, the virtual shank gyro has no impact
#: transients, and some gaitkit annotations do not match any kinematic contact.
KNOWN_SHORTFALLS = {
    ("gaitkit/healthy", "hybrid"), ("gaitkit/parkinson", "hybrid"), ("opensim-core/walking2.c3d", "hybrid"),
    ("opensim-core/walking5.c3d", "hybrid"), ("opensim-core/test_walking.c3d", "hybrid"),
    ("gaitkit/healthy", "zeni"), ("gaitkit/healthy", "velocity"), ("gaitkit/healthy", "imu (virtual)"),
    ("gaitkit/parkinson", "zeni"), ("gaitkit/parkinson", "velocity"), ("gaitkit/parkinson", "imu (virtual)"),
    ("gait10dof18musc/subject01_walk", "zeni"), ("gait10dof18musc/subject01_walk", "velocity"),
    ("gait10dof18musc/subject01_walk", "imu (virtual)"),   # no ankle marker in that marker set
    ("bmclab/walk1", "zeni"), ("bmclab/walk1", "imu (virtual)"),
    ("bmclab/walk2", "zeni"), ("bmclab/walk2", "imu (virtual)"),
    ("bmclab/Gait.c3d", "zeni"), ("bmclab/Gait.c3d", "velocity"), ("bmclab/Gait.c3d", "imu (virtual)"),
    ("kineticstoolkit/walk.c3d", "zeni"), ("kineticstoolkit/walk.c3d", "velocity"),
    ("kineticstoolkit/walk.c3d", "imu (virtual)"),
    ("kineticstoolkit/walk.c3d (force)", "zeni"), ("kineticstoolkit/walk.c3d (force)", "velocity"),
    ("kineticstoolkit/walk.c3d (force)", "imu (virtual)"),
    ("opensim-core/walking2.c3d", "zeni"), ("opensim-core/walking2.c3d", "velocity"),
    ("opensim-core/walking2.c3d", "imu (virtual)"),
    ("opensim-core/walking5.c3d", "zeni"), ("opensim-core/walking5.c3d", "velocity"),
    ("opensim-core/walking5.c3d", "imu (virtual)"),
    ("opensim-core/test_walking.c3d", "zeni"), ("opensim-core/test_walking.c3d", "velocity"),
    ("opensim-core/test_walking.c3d", "imu (virtual)"),
}

_TRIALS = __import__("twin.gait.benchmark", fromlist=["TRIALS"]).TRIALS
_CASES = [(tr, m) for tr, (_, ref) in _TRIALS.items()
          for m in (("force",) if ref == "file events" else ()) + ("hybrid", "zeni", "velocity", "imu (virtual)")]


@pytest.mark.data
@pytest.mark.parametrize("trial, method", _CASES, ids=[f"{t}|{m}" for t, m in _CASES])
def test_event_detection_targets(bench, trial, method):
    rows = np.flatnonzero((bench.trial.values == trial) & (bench.method.values == method))
    if rows.size == 0:
        notes = bench.note.values[bench.trial.values == trial]
        pytest.skip(f"{trial}: {method} not evaluated ({'; '.join(map(str, notes)) or 'not applicable'})")
    r = bench.isel(row=int(rows[0]))
    if str(r.note.item()).startswith("failed"):
        if (trial, method) in KNOWN_SHORTFALLS:
            pytest.xfail(str(r.note.item())[:200])
        pytest.fail(str(r.note.item()))
    fs, fo = float(r.fs_median_abs_error), float(r.fo_median_abs_error)
    measured = (f"{trial} {method}: foot strike {fs:.1f} ms (target 20, {int(r.fs_n_matched)}/"
                f"{int(r.fs_n_reference)} matched), foot off {fo:.1f} ms (target 30, {int(r.fo_n_matched)}/"
                f"{int(r.fo_n_reference)} matched)")
    ok = (not np.isfinite(fs) or fs <= 20.0) and (not np.isfinite(fo) or fo <= 30.0) and \
        (np.isfinite(fs) or np.isfinite(fo))
    if not ok and (trial, method) in KNOWN_SHORTFALLS:
        pytest.xfail("measured " + measured)
    assert ok, measured


@pytest.mark.data
def test_benchmark_table_has_every_trial(bench):
    from twin.gait.benchmark import TRIALS, _summarise, format_table

    summary = _summarise(bench)
    assert summary["default_method"] == "hybrid" and np.isfinite(summary["strike_median_ms"])
    assert {"trial", "method", "strike_ms", "off_ms", "note"} <= set(summary["trials"][0])

    assert set(bench.trial.values) == set(TRIALS)
    text = format_table(bench)
    assert "median over trials" in text and "gaitkit/parkinson" in text
    # force-plate events reproduce the events stored by Vicon Nexus in walk.c3d
    r = bench.isel(row=int(np.flatnonzero((bench.trial.values == "kineticstoolkit/walk.c3d")
                                          & (bench.method.values == "force"))[0]))
    assert float(r.fs_median_abs_error) < 5 and float(r.fo_median_abs_error) < 5


@pytest.mark.data
def test_default_kinematic_method_meets_median_targets(bench):
    """The issue's figure: median over trials of the per-trial median |error| of the default (hybrid) detector."""
    from twin.gait.benchmark import _summarise

    summary = _summarise(bench)
    assert summary["strike_median_ms"] <= 20.0, summary["strike_median_ms"]
    assert summary["off_median_ms"] <= 30.0, summary["off_median_ms"]


# ---------------------------------------------------------------------------------------- heading
@pytest.mark.parametrize("angle_deg", [0.0, 90.0, 180.0, -135.0])
def test_align_progression_turns_walking_onto_plus_x(angle_deg):
    from twin.gait import align_progression

    ds, _ = walk()
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turned = ds.copy(data={"markers": ds.markers.values @ rot.T})
    out = align_progression(turned)
    np.testing.assert_allclose(out.markers.values, ds.markers.values, atol=1e-9)
    # heading: the walking direction's rotation about +Y away from +X, in (-180, 180]
    assert np.isclose((out.attrs["heading_deg"] - angle_deg + 180) % 360 - 180, 0, atol=1e-6)


@pytest.mark.data
def test_align_progression_on_c3d(data_file):
    import twin
    from twin.gait import align_progression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = twin.read(data_file("kineticstoolkit/data/walk.c3d"))
    out = align_progression(ds)
    names = [str(m) for m in out.marker.values]
    sacrum = [n for n in names if "ASI" in n.upper()]
    x = out.markers.sel(marker=sacrum[0])
    travel = x.isel(time=-1) - x.isel(time=0)
    assert float(travel.sel(axis="x")) > 1.0 and abs(float(travel.sel(axis="z"))) < 0.2
    np.testing.assert_allclose(np.linalg.norm(out.grf.values, axis=-1), np.linalg.norm(ds.grf.values, axis=-1))
