"""IMU CSV reader: synthetic exports written from known arrays, unit handling and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin
from twin.errors import ParameterError, ReadError, TwinError, TwinWarning
from twin.io import read_imu_csv
from twin.io.imu import G

RNG = np.random.default_rng(3)
D2R = np.pi / 180.0


def _walking(n=200, rate=100.0):
    """Plausible walking signals: acc in g (|a| ~ 1 +- 0.3), gyro in deg/s (peaks ~ 300)."""
    t = np.arange(n) / rate
    acc = np.stack([0.3 * np.sin(2 * np.pi * t), 1.0 + 0.3 * np.cos(4 * np.pi * t), 0.1 * np.sin(6 * t)], -1)
    gyro = np.stack([20 * np.sin(3 * t), 10 * np.cos(5 * t), 300 * np.sin(2 * np.pi * t)], -1)
    return t, acc.round(6), gyro.round(4)


def _write(path: Path, columns: list[str], data: np.ndarray, sep=",", preamble: str = "") -> Path:
    body = "\n".join(sep.join(repr(float(v)) for v in row) for row in data)
    path.write_text(preamble + sep.join(columns) + "\n" + body + "\n")
    return path


def _cols(sensor: str, kind: str, unit: str = "") -> list[str]:
    return [f"{sensor}_{kind}_{a}{unit}" for a in "xyz"]


# ---------------------------------------------------------------- round trips


def test_two_sensors_g_and_deg_per_s_auto_detected(tmp_path):
    t, acc1, gyro1 = _walking()
    _, acc2, gyro2 = _walking()
    acc2, gyro2 = acc2[:, ::-1].copy(), -gyro2  # a different, still plausible, second sensor
    acc2[:, 2] = acc1[:, 1]
    acc2[:, 1] = acc1[:, 0]
    cols = ["time"] + _cols("shank_r", "acc") + _cols("shank_r", "gyr") + _cols("thigh_r", "acc") + _cols("thigh_r", "gyr")
    f = _write(tmp_path / "imu.csv", cols, np.column_stack([t, acc1, gyro1, acc2, gyro2]))
    ds = read_imu_csv(f)
    twin.validate(ds)
    assert list(ds.sensor.values) == ["shank_r", "thigh_r"] and list(ds.axis.values) == ["x", "y", "z"]
    np.testing.assert_array_equal(ds.imu_acc.sel(sensor="shank_r").values, acc1 * G)
    np.testing.assert_array_equal(ds.imu_acc.sel(sensor="thigh_r").values, acc2 * G)
    np.testing.assert_array_equal(ds.imu_gyro.sel(sensor="shank_r").values, gyro1 * D2R)
    np.testing.assert_array_equal(ds.imu_gyro.sel(sensor="thigh_r").values, gyro2 * D2R)
    np.testing.assert_array_equal(ds.time.values, t)
    assert ds.attrs["rate"] == pytest.approx(100.0)
    assert ds.imu_acc.attrs["units"] == "m/s^2" and ds.imu_gyro.attrs["units"] == "rad/s"
    assert "sensor frame" in ds.imu_acc.attrs["frame"] and ds.attrs["imu_frame"] == "sensor"
    h = ds.attrs["history"]
    assert "acceleration in g (auto-detected" in h and "converted to m/s^2" in h
    assert "angular rate in deg/s (auto-detected" in h and "converted to rad/s" in h
    assert twin.read(f).imu_acc.shape == (200, 2, 3)


def test_si_units_are_kept(tmp_path):
    t, acc, gyro = _walking()
    acc_si, gyro_si = acc * G, gyro * D2R
    f = _write(tmp_path / "si.csv", ["t"] + _cols("foot", "accel") + _cols("foot", "gyro"),
               np.column_stack([t, acc_si, gyro_si]))
    ds = read_imu_csv(f)
    np.testing.assert_array_equal(ds.imu_acc.values[:, 0], acc_si)
    np.testing.assert_array_equal(ds.imu_gyro.values[:, 0], gyro_si)
    assert "acceleration in m/s^2 (auto-detected" in ds.attrs["history"]
    assert "angular rate in rad/s (auto-detected: 99th percentile" in ds.attrs["history"]


def test_xsens_like_export(tmp_path):
    n = 50
    counter = np.arange(1000, 1000 + n)
    fine = 123400 + np.arange(n) * 100  # 1e-4 s ticks at 100 Hz
    acc = np.column_stack([0.1 * np.ones(n), (9.7 + 2 * np.sin(np.arange(n) / 5)).round(6), 0.3 * np.arange(n) / n])
    gyr = np.column_stack([0.01 * np.arange(n), np.zeros(n), np.full(n, -0.5)])
    extra = RNG.normal(size=(n, 7))
    cols = ["PacketCounter", "SampleTimeFine", "Acc_X", "Acc_Y", "Acc_Z", "FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z",
            "Gyr_X", "Gyr_Y", "Gyr_Z", "Mag_X", "Mag_Y", "Mag_Z", "Quat_q0"]
    data = np.column_stack([counter, fine, acc, extra[:, :3], gyr, extra[:, 3:]])
    pre = "// General information:\n//  MT Manager version: 2022.0.0\n// Update Rate: 100.0Hz\n"
    f = _write(tmp_path / "MT_0123.txt", cols, data, sep="\t", preamble=pre)
    ds = read_imu_csv(f, sensor="pelvis", gyro_units="rad/s")
    assert list(ds.sensor.values) == ["pelvis"]
    np.testing.assert_allclose(ds.time.values, 12.34 + np.arange(n) / 100.0, atol=1e-12)
    np.testing.assert_array_equal(ds.imu_acc.values[:, 0], acc)
    np.testing.assert_array_equal(ds.imu_gyro.values[:, 0], gyr)
    h = ds.attrs["history"]
    assert "FreeAcc_X" in h and "Mag_X" in h and "ignored 7 column(s)" in h
    assert "gyro_units='rad/s' given" in h
    assert read_imu_csv(f).imu_gyro.values[0, 0, 2] == -0.5  # moving (|a| varies) -> rad/s detected


def test_declared_units_in_the_header(tmp_path):
    t, acc, gyro = _walking(n=20)
    cols = ["Time [s]"] + [f"Trigno sensor 1: ACC.{a} 1 [g]" for a in "XYZ"] + \
        [f"Trigno sensor 1: GYRO.{a} 1 (deg/s)" for a in "XYZ"]
    f = _write(tmp_path / "delsys.csv", cols, np.column_stack([t, acc, gyro]))
    ds = read_imu_csv(f)
    assert list(ds.sensor.values) == ["Trigno sensor 1"]
    np.testing.assert_array_equal(ds.imu_acc.values[:, 0], acc * G)
    np.testing.assert_array_equal(ds.imu_gyro.values[:, 0], gyro * D2R)
    assert "acceleration in g (declared in the header)" in ds.attrs["history"]
    with pytest.warns(TwinWarning, match="overrides"):
        ds = read_imu_csv(f, acc_units="m/s^2")
    np.testing.assert_array_equal(ds.imu_acc.values[:, 0], acc)
    assert "(the header says g)" in ds.attrs["history"]


def test_units_at_rest(tmp_path):
    n = 100
    t = np.arange(n) / 50.0
    acc = np.column_stack([np.zeros(n), np.ones(n), np.zeros(n)]) + RNG.normal(0, 0.002, (n, 3)).round(5)
    noise = RNG.normal(0, 0.3, (n, 3)).round(4)
    f = _write(tmp_path / "rest_deg.csv", ["time"] + _cols("s", "acc") + _cols("s", "gyr"),
               np.column_stack([t, acc, noise]))
    ds = read_imu_csv(f)
    assert "angular rate in deg/s (auto-detected: at rest" in ds.attrs["history"]
    np.testing.assert_array_equal(ds.imu_gyro.values[:, 0], noise * D2R)
    f2 = _write(tmp_path / "rest_rad.csv", ["time"] + _cols("s", "acc") + _cols("s", "gyr"),
                np.column_stack([t, acc, noise * 0.01]))
    assert "angular rate in rad/s (auto-detected: at rest" in read_imu_csv(f2).attrs["history"]


def test_time_from_rate_counter_or_milliseconds(tmp_path):
    t, acc, gyro = _walking(n=10)
    f = _write(tmp_path / "norate.csv", _cols("a", "acc") + _cols("a", "gyr"), np.column_stack([acc, gyro]))
    with pytest.raises(ParameterError, match="rate="):
        read_imu_csv(f)
    ds = read_imu_csv(f, rate=200)
    np.testing.assert_allclose(ds.time.values, np.arange(10) / 200)
    assert ds.attrs["rate"] == 200.0
    f2 = _write(tmp_path / "counter.csv", ["sample"] + _cols("a", "acc") + _cols("a", "gyr"),
                np.column_stack([np.arange(5, 15), acc, gyro]))
    np.testing.assert_allclose(read_imu_csv(f2, rate=100).time.values, np.arange(10) / 100)
    f3 = _write(tmp_path / "ms.csv", ["timestamp"] + _cols("a", "acc") + _cols("a", "gyr"),
                np.column_stack([np.arange(10) * 10.0, acc, gyro]))
    ds = read_imu_csv(f3)
    np.testing.assert_allclose(ds.time.values, np.arange(10) / 100)
    assert "milliseconds" in ds.attrs["history"]


def test_acc_only_gyro_only_and_missing_sensor_channels(tmp_path):
    t, acc, gyro = _walking(n=30)
    f = _write(tmp_path / "acc.csv", ["time", "acc_x", "acc_y", "acc_z"], np.column_stack([t, acc]))
    ds = read_imu_csv(f)
    assert "imu_gyro" not in ds and list(ds.sensor.values) == ["imu"]
    g = _write(tmp_path / "gyr.csv", ["time", "gyro_x", "gyro_y", "gyro_z"], np.column_stack([t, gyro * D2R]))
    with pytest.raises(ReadError, match="gyro_units"):
        read_imu_csv(g)
    np.testing.assert_array_equal(read_imu_csv(g, gyro_units="rad/s").imu_gyro.values[:, 0], gyro * D2R)
    mixed = _write(tmp_path / "mixed.csv", ["time"] + _cols("a", "acc") + _cols("a", "gyr") + _cols("b", "acc"),
                   np.column_stack([t, acc, gyro, acc]))
    ds = read_imu_csv(mixed)
    assert np.isnan(ds.imu_gyro.sel(sensor="b")).all() and "no gyro columns for sensor(s) b" in ds.attrs["history"]


def test_missing_cells_stay_nan(tmp_path):
    t, acc, gyro = _walking(n=20)
    f = tmp_path / "gaps.csv"
    lines = ["time," + ",".join(_cols("a", "acc") + _cols("a", "gyr"))]
    for i in range(20):
        vals = [repr(float(v)) for v in np.r_[t[i], acc[i], gyro[i]]]
        if i == 4:
            vals[2] = ""
        lines.append(",".join(vals))
    f.write_text("\n".join(lines) + "\n")
    ds = read_imu_csv(f)
    assert np.isnan(ds.imu_acc.values[4, 0, 1]) and np.isfinite(ds.imu_acc.values[5]).all()
    assert "1 acc sample(s)" in ds.attrs["history"]


# ---------------------------------------------------------------- bad input


def test_bad_inputs_are_twin_errors(tmp_path):
    acc_hdr = "time,a_acc_x,a_acc_y,a_acc_z\n"
    cases = {
        "empty.csv": "",
        "comments.csv": "# only a comment\n// and another\n",
        "header.csv": acc_hdr,
        "nocols.csv": "time,foo,bar\n0,1,2\n0.1,1,2\n",
        "triple.csv": "time,a_acc_x,a_acc_y\n0,0,1\n",
        "nantime.csv": acc_hdr + "0,0,1,0\nnan,0,1,0\n0.2,0,1,0\n",
        "backwards.csv": acc_hdr + "0,0,1,0\n0.1,0,1,0\n0.05,0,1,0\n",
        "text.csv": acc_hdr + "0,0,one,0\n",
        "ragged.csv": acc_hdr + "0,0,1,0\n0.1,0,1\n",
        "unit.csv": "time,acc_x [furlong],acc_y [furlong],acc_z [furlong]\n0,0,1,0\n",
        "mixedunit.csv": "time,acc_x [g],acc_y [m/s^2],acc_z [g]\n0,0,1,0\n",
        "halfunit.csv": "time,acc_x [g],acc_y,acc_z\n0,0,1,0\n",
        "ambiguous.csv": acc_hdr + "0,0,3,0\n0.1,0,3,0\n",
        "inf.csv": acc_hdr + "0,0,1,0\n0.1,0,inf,0\n",
        "dupe.csv": "time,acc_x,accel_x,acc_y,acc_z\n0,0,0,1,0\n",
        "allnan.csv": acc_hdr + "0,,,\n0.1,,,\n",
        "timeunit.csv": "time [fortnight],acc_x,acc_y,acc_z\n0,0,1,0\n",
        "binary.csv": "\x00\x01",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(TwinError) as err:
            read_imu_csv(p)
        assert str(p) in str(err.value), (name, str(err.value))
    with pytest.raises(ReadError, match="no such"):
        read_imu_csv(tmp_path / "absent.csv")


def test_bad_options(tmp_path):
    f = tmp_path / "ok.csv"
    f.write_text("time,acc_x,acc_y,acc_z\n0,0,1,0\n0.1,0,1,0\n")
    for kwargs in ({"rate": 0}, {"rate": -5}, {"rate": float("inf")}, {"rate": "100"}, {"acc_units": "furlong"},
                   {"acc_units": 9.81}, {"gyro_units": "rpm"}, {"sensor": ""}, {"sensor": 3}):
        with pytest.raises(ParameterError):
            read_imu_csv(f, **kwargs)
    assert read_imu_csv(f, acc_units="G".lower(), gyro_units="deg/sec").imu_acc.values[0, 0, 1] == G
    with pytest.raises(ParameterError):
        read_imu_csv(12)


# ---------------------------------------------------------------- fuzz: only TwinError escapes

TOKENS = st.sampled_from(["time", "t", "timestamp", "sample", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y",
                          "gyr_z", "s1_acc_x", "[g]", "(deg/s)", "Acc_X", "0", "1", "9.81", "-1", "1e300",
                          "nan", "inf", "", "x", ",", ",", ";", "\t", "\n", "\n", " ", "#", "//", "\""])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(TOKENS, max_size=70), rate=st.sampled_from([None, 100.0]),
       units=st.sampled_from(["auto", "g", "m/s^2"]))
def test_fuzz_imu_csv(tmp_path, tokens, rate, units):
    p = tmp_path / "fuzz.csv"
    p.write_text("".join(tokens))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_imu_csv(p, rate=rate, acc_units=units)
    except TwinError:
        return
    twin.validate(ds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=6, max_size=60))
def test_fuzz_imu_values(tmp_path, values):
    rows = np.asarray(values[: len(values) // 6 * 6], dtype=float).reshape(-1, 6)
    p = _write(tmp_path / "v.csv", _cols("a", "acc") + _cols("a", "gyr"), rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_imu_csv(p, rate=100.0)
    except TwinError:
        return
    twin.validate(ds)
