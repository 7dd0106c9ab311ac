"""twin.learn.data: windows, normalisation, bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from twin import schema
from twin.errors import DataError, ParameterError
from twin.learn import (
    KEYPOINTS,
    WindowSpec,
    concat_windows,
    kinematic_gaits,
    leg_length_from_height,
    leg_length_from_markers,
    make_windows,
    windows_dataset,
)

torch.set_num_threads(1)


def _imu(rate=100.0, seconds=4.0, acc_scale=1.0, gyro_scale=1.0, units=("m/s^2", "rad/s"),
         sensors=("pelvis", "tibia_r", "tibia_l")):
    t = np.arange(0, seconds, 1.0 / rate)
    acc = np.zeros((t.size, len(sensors), 3))
    acc[..., 1] = 9.81
    acc[..., 0] = np.sin(2 * np.pi * t)[:, None]
    gyro = np.zeros((t.size, len(sensors), 3))
    gyro[..., 2] = 3.0 * np.sin(2 * np.pi * t)[:, None]
    ds = schema.recording(t, source="imu-test")
    ds["imu_acc"] = (("time", "sensor", "axis"), acc * acc_scale, {"units": units[0]})
    ds["imu_gyro"] = (("time", "sensor", "axis"), gyro * gyro_scale, {"units": units[1]})
    return ds.assign_coords(sensor=list(sensors), axis=["x", "y", "z"])


@pytest.fixture(scope="module")
def walker():
    """One kinematically synthesised walker: virtual markers and a sagittal camera's keypoints."""
    from twin.synth import Camera, keypoints_2d, markers_from_q

    g = kinematic_gaits(1, seed=3, duration=5.0, impairment_fraction=0.0)
    kin = g.kinematics(0)
    mk = markers_from_q(g.bodies[0], kin, marker_set="opencap")
    x = float(np.median(kin.q.sel(coordinate="pelvis_tx")))
    cam = Camera.fixed("sagittal", distance=8.0, height=1.0, target=(x, 0.0))
    kp = keypoints_2d(mk, cam)
    return g, mk, kp


def test_spec_roundtrip_and_checks():
    s = WindowSpec("keypoints")
    assert s.n_samples == 128 and len(s.channel_names) == 2 * len(KEYPOINTS)
    assert WindowSpec.from_dict(s.to_dict()) == s
    imu = WindowSpec("imu", duration=1.0, rate=40.0)
    assert imu.n_samples == 40 and imu.channel_names[0] == "pelvis_acc_x"
    with pytest.raises(ParameterError, match="modality"):
        WindowSpec("video")
    with pytest.raises(ParameterError, match="must include"):
        WindowSpec("keypoints", keypoints=("LKnee", "RKnee"))
    with pytest.raises(ParameterError, match="acc_x"):
        WindowSpec("imu", channels=("magnet_x",))
    with pytest.raises(ParameterError, match="unknown field"):
        WindowSpec.from_dict({"modality": "imu", "colour": 1})


def test_imu_windows_shapes_and_scaling():
    w = make_windows(_imu(), WindowSpec("imu", hop=0.5), leg_length=0.9, labels={"cadence": 110.0}, group="trial")
    assert w.x.dims == ("window", "channel", "sample")
    assert w.sizes["channel"] == 9 and w.sizes["sample"] == 128
    # 4 s at 100 Hz -> 50 Hz grid of 200 samples; windows of 128 every 25 samples
    assert w.sizes["window"] == 3
    assert np.allclose(w.x.sel(channel="pelvis_acc_y"), 9.81 / 9.80665, atol=1e-3)
    assert np.allclose(w.x.sel(channel="tibia_r_gyro_z").max(), 3.0 / 4.0, atol=0.01)
    assert float(w.y.sel(target="cadence")[0]) == 110.0 and np.isnan(float(w.y.sel(target="walking_speed")[0]))
    assert set(w.group.values.tolist()) == {"trial"} and float(w.leg_length[0]) == 0.9
    assert w.attrs["kind"] == "windows"


def test_resampling_from_250_hz():
    w = make_windows(_imu(rate=250.0), WindowSpec("imu", duration=2.0, rate=50.0, hop=1.0))
    assert w.sizes["sample"] == 100 and w.sizes["window"] == 3  # starts 0, 1, 2 s of 4 s
    # the 1 Hz sine survives the anti-alias low-pass
    assert abs(float(w.x.sel(channel="pelvis_acc_x").max()) * 9.80665 - 1.0) < 0.05


@pytest.mark.parametrize("kwargs, match", [
    ({"rate": 10.0}, "below the 20 Hz"),
    ({"acc_scale": 1 / 9.81}, "look like g"),
    ({"acc_scale": 1000 / 9.81}, "look like mg"),
    ({"gyro_scale": 180 / np.pi}, "deg/s"),
    ({"units": ("g", "rad/s")}, "multiply by 9.80665"),
    ({"units": ("m/s^2", "deg/s")}, "pi/180"),
    ({"seconds": 1.0}, "shorter than one"),
    ({"sensors": ("pelvis", "shank_r", "shank_l")}, r"sensor\(s\) \['tibia_r', 'tibia_l'\]"),
])
def test_imu_bad_input(kwargs, match):
    with pytest.raises(DataError, match=match):
        make_windows(_imu(**kwargs), WindowSpec("imu"))


def test_imu_wrong_shape_and_missing_variable():
    ds = _imu()
    bad = ds.assign(imu_acc=ds.imu_acc.expand_dims(batch=2))
    with pytest.raises(DataError, match="dims"):
        make_windows(bad, WindowSpec("imu"))
    with pytest.raises(DataError, match="no 'imu_gyro'"):
        make_windows(ds.drop_vars("imu_gyro"), WindowSpec("imu"))
    with pytest.raises(DataError, match="no 'keypoints'"):
        make_windows(ds, WindowSpec("keypoints"))


def test_keypoint_windows_normalisation(walker):
    g, mk, kp = walker
    spec = WindowSpec("keypoints", duration=1.6, hop=0.4)
    w = make_windows(kp, spec, leg_length=leg_length_from_markers(mk), labels=dict(zip(
        ("walking_speed", "cadence", "stride_length"), g.labels[0])), group="w")
    x = w.x
    # every frame centred on the mid-hip
    mid = 0.5 * (x.sel(channel="LHip_x") + x.sel(channel="RHip_x"))
    assert float(np.abs(mid).max()) < 1e-5
    # scaled by the window's leg length in pixels: median thigh + shank is 1
    seg = []
    for s in "LR":
        a = np.hypot(x.sel(channel=f"{s}Hip_x") - x.sel(channel=f"{s}Knee_x"),
                     x.sel(channel=f"{s}Hip_y") - x.sel(channel=f"{s}Knee_y"))
        b = np.hypot(x.sel(channel=f"{s}Knee_x") - x.sel(channel=f"{s}Ankle_x"),
                     x.sel(channel=f"{s}Knee_y") - x.sel(channel=f"{s}Ankle_y"))
        seg.append(np.median(a + b, axis=-1))
    assert np.allclose(np.mean(seg, axis=0), 1.0, atol=0.02)
    # y up: ankles below the hips
    assert float(x.sel(channel="LAnkle_y").mean()) < -0.8
    # leg length of the body (thigh + shank) is about 0.49 x height
    assert abs(float(w.leg_length[0]) - leg_length_from_height(g.bodies[0].height)) < 0.05


def test_keypoints_mirror_and_layout_invariance(walker):
    _, _, kp = walker
    spec = WindowSpec("keypoints", duration=1.6, hop=0.4)
    a = make_windows(kp, spec, leg_length=0.9)
    mirrored = kp.copy()
    uv = mirrored.keypoints.values.copy()
    uv[..., 0] = float(kp.image_width[0]) - uv[..., 0]  # walker now goes to the image's left
    mirrored["keypoints"] = mirrored.keypoints.copy(data=uv)
    b = make_windows(mirrored, spec, leg_length=0.9)
    assert np.allclose(a.x, b.x, atol=1e-4)
    # COCO names are recognised
    coco = {"LHip": "left_hip", "RHip": "right_hip", "LKnee": "left_knee", "RKnee": "right_knee",
            "LAnkle": "left_ankle", "RAnkle": "right_ankle"}
    renamed = kp.sel(keypoint=list(coco)).assign_coords(keypoint=list(coco.values()))
    c = make_windows(renamed, spec, leg_length=0.9)
    assert np.allclose(a.x, c.x, atol=1e-6)


def test_keypoint_bad_input(walker):
    _, _, kp = walker
    spec = WindowSpec("keypoints", duration=1.6)
    with pytest.raises(DataError, match="not found"):
        make_windows(kp.sel(keypoint=[k for k in kp.keypoint.values if k != "LKnee"]), spec)
    with pytest.raises(DataError, match="units"):
        make_windows(kp.assign(keypoints=kp.keypoints.assign_attrs(units="m")), spec)
    slow = kp.isel(time=slice(None, None, 10))  # 10 Hz
    with pytest.raises(DataError, match="below the 20 Hz"):
        make_windows(slow, spec)
    with pytest.raises(DataError, match="shorter than one"):
        make_windows(kp.isel(time=slice(0, 100)), spec)
    holes = kp.copy()
    v = holes.keypoints.values.copy()
    v[:, :, list(kp.keypoint.values).index("RAnkle")] = np.nan
    holes["keypoints"] = holes.keypoints.copy(data=v)
    with pytest.raises(DataError, match="never detected"):
        make_windows(holes, spec)
    with pytest.raises(ParameterError, match="WindowSpec"):
        make_windows(kp, {"modality": "keypoints"})


def test_windows_dataset_and_concat():
    spec = WindowSpec("imu", duration=1.0)
    a = windows_dataset(np.zeros((2, 9, 50)), spec, leg_length=0.9, group="a")
    b = windows_dataset(np.ones((3, 9, 50)), spec, leg_length=0.8, group="b")
    c = concat_windows([a, b])
    assert c.sizes["window"] == 5 and c.group.values.tolist() == ["a", "a", "b", "b", "b"]
    other = windows_dataset(np.zeros((1, 9, 100)), WindowSpec("imu", duration=2.0))
    with pytest.raises(DataError, match="different window specs"):
        concat_windows([a, other])
    with pytest.raises(DataError, match="expected"):
        windows_dataset(np.zeros((2, 5, 50)), spec)
    assert isinstance(c, xr.Dataset)
