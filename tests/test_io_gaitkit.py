"""gaitkit JSON reader: synthetic files for the logic and errors, the shipped example trials for real data."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import twin
from twin.errors import ReadError, TwinError, TwinWarning
from twin.io.gaitkit import read_gaitkit
from twin.schema import validate

GAITKIT = "pypi-packages/gaitkit-1.5.0"


def _frame(i, *, zero_heel=False, lab_up="y"):
    heel = [0.0, 0.0, 0.0] if zero_heel else [100.0 + 10 * i, 40.0, -100.0]
    hip = [100.0 + 10 * i, 900.0, -100.0]
    if lab_up == "z":  # Z-up lab: (x, y, z) -> (x, -z_os, y_os)
        heel = [heel[0], -heel[2], heel[1]] if not zero_heel else heel
        hip = [hip[0], -hip[2], hip[1]]
    return {
        "frame_index": i,
        "left_hip_angle": 20.0, "right_hip_angle": 0.0,
        "left_knee_angle": 30.0, "right_knee_angle": 10.0,
        "left_ankle_angle": 5.0, "right_ankle_angle": -5.0,
        "trunk_angle": 0.0, "pelvis_tilt": 0.0,
        "landmark_positions": {"left_heel": heel, "left_hip": hip, "left_toe": [0.0, 0.0, 0.0]},
        "is_valid": 1,
    }


def _write(tmp_path, doc, name="trial.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return p


def _doc(n=20, **kw):
    doc = {"name": "fukuchi_demo", "population": "healthy", "doi": "10.0/x", "source": "demo", "fps": 100.0,
           "n_frames": n, "angle_frames": [_frame(i, **kw) for i in range(n)],
           "ground_truth": {"hs_frames": {"left": [2, 12], "right": [7]}, "to_frames": {"left": [8], "right": [3, 99]},
                            "event_source": "annotated", "cadence": 120.0}}
    return doc


def test_synthetic_units_axes_events(tmp_path):
    ds = read_gaitkit(_write(tmp_path, _doc()))
    validate(ds)
    assert ds.attrs["rate"] == 100.0 and ds.attrs["population"] == "healthy" and ds.attrs["doi"] == "10.0/x"
    assert ds.landmarks.attrs["units"] == "m"
    # left_toe is all zeros -> missing -> dropped
    assert list(ds.landmark.values) == ["left_heel", "left_hip"]
    np.testing.assert_allclose(ds.landmarks.sel(landmark="left_heel").values[0], [0.1, 0.04, -0.1])
    np.testing.assert_allclose(ds.time.values[:3], [0.0, 0.01, 0.02])
    # events: frame / fps; frame 99 is outside the 20-frame trial and dropped
    fs = ds.event_time.where(ds.event_label == "foot_strike", drop=True)
    np.testing.assert_allclose(np.sort(fs.values), [0.02, 0.07, 0.12])
    assert "dropped 1 annotated event" in ds.attrs["history"]
    assert set(ds.event_side.values) == {"left", "right"}


def test_synthetic_angle_signs_three_point_source(tmp_path):
    ds = read_gaitkit(_write(tmp_path, _doc()))
    ang = ds.angle.attrs
    assert ang["units"] == "rad"
    # three-point source: knee flexion + -> OpenSim knee_angle -; ankle plantarflexion + -> ankle_angle -
    assert ds.angle.sel(coordinate="knee_angle_l")[0] == pytest.approx(-np.deg2rad(30.0))
    assert ds.angle.sel(coordinate="ankle_angle_l")[0] == pytest.approx(-np.deg2rad(5.0))
    # hip angle of the three-point extractor is a lab-axis angle: dropped; all-zero columns dropped
    assert "hip_flexion_l" not in ds.coordinate.values and "pelvis_tilt" not in ds.coordinate.values
    raw = read_gaitkit(_write(tmp_path, _doc()), angles="raw")
    assert raw.angle.sel(coordinate="left_knee_angle")[0] == pytest.approx(np.deg2rad(30.0))


def test_synthetic_plug_in_gait_source_and_z_up(tmp_path):
    doc = _doc(lab_up="z")
    doc["name"] = "vancriekinge_stroke"
    for f in doc["angle_frames"]:
        f["pelvis_tilt"] = 12.0
    ds = read_gaitkit(_write(tmp_path, doc))
    assert ds.attrs["up_in_file"] == "z"
    # Z-up lab rotated to Y-up: the heel is back at (x, 0.04, -0.1)
    np.testing.assert_allclose(ds.landmarks.sel(landmark="left_heel").values[0], [0.1, 0.04, -0.1], atol=1e-12)
    assert ds.angle.sel(coordinate="hip_flexion_l")[0] == pytest.approx(np.deg2rad(20.0))
    assert ds.angle.sel(coordinate="ankle_angle_l")[0] == pytest.approx(np.deg2rad(5.0))  # dorsiflexion +
    assert ds.angle.sel(coordinate="knee_angle_l")[0] == pytest.approx(-np.deg2rad(30.0))
    assert ds.angle.sel(coordinate="pelvis_tilt")[0] == pytest.approx(-np.deg2rad(12.0))


def test_dispatch_through_twin_read(tmp_path):
    ds = twin.read(_write(tmp_path, _doc()))
    assert "landmarks" in ds


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("fps"), "fps"),
        (lambda d: d.update(fps=-5), "fps"),
        (lambda d: d.update(fps="fast"), "fps"),
        (lambda d: d.update(angle_frames=[]), "angle_frames"),
        (lambda d: d["angle_frames"].__setitem__(3, "oops"), "angle_frames[3]"),
        (lambda d: d["angle_frames"][4]["landmark_positions"].__setitem__("left_heel", [1, 2]), "left_heel"),
        (lambda d: d["angle_frames"][4]["landmark_positions"].__setitem__("left_heel", [1, "a", 2]), "left_heel"),
        (lambda d: d["angle_frames"][5].__setitem__("frame_index", 2), "frame_index"),
        (lambda d: d["angle_frames"][5].__setitem__("left_knee_angle", "x"), "left_knee_angle"),
        (lambda d: d["ground_truth"].__setitem__("hs_frames", {"middle": [1]}), "hs_frames"),
        (lambda d: d["ground_truth"].__setitem__("to_frames", {"left": "3"}), "to_frames.left"),
        (lambda d: d.__setitem__("ground_truth", [1, 2]), "ground_truth"),
    ],
)
def test_bad_fields_name_the_field(tmp_path, mutate, field):
    doc = _doc()
    mutate(doc)
    with pytest.raises(ReadError) as err:
        read_gaitkit(_write(tmp_path, doc))
    assert field in str(err.value) and "trial.json" in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ReadError, match="not valid JSON"):
        read_gaitkit(_write(tmp_path, '{"fps": 100, "angle_fr'))
    with pytest.raises(ReadError, match="not an object"):
        read_gaitkit(_write(tmp_path, "[1, 2, 3]"))
    with pytest.raises(ReadError, match="empty"):
        read_gaitkit(_write(tmp_path, ""))
    with pytest.raises(TwinError):
        read_gaitkit(tmp_path / "absent.json")
    with pytest.raises(TwinError, match="angles"):
        read_gaitkit(_write(tmp_path, _doc()), angles="degrees")


# ------------------------------------------------------------------ shipped example trials
@pytest.mark.data
@pytest.mark.parametrize("name, up, direction", [("healthy", "y", 1), ("parkinson", "y", 1), ("stroke", "z", -1)])
def test_example_trials(data_file, name, up, direction):
    ds = twin.read(data_file(f"{GAITKIT}/example_{name}.json"))
    validate(ds)
    assert ds.attrs["up_in_file"] == up
    lm = ds.landmarks
    # heels near the floor, hips ~0.85-1 m up: the vertical is Y after conversion
    assert 0.0 < float(lm.sel(landmark="left_heel", axis="y").median()) < 0.2
    assert 0.75 < float(lm.sel(landmark="left_hip", axis="y").median()) < 1.05
    # the walker's right is +Z when walking +X and -Z when walking -X (right-handed frame kept)
    pel_x = lm.sel(landmark=["left_hip", "right_hip"], axis="x").mean("landmark").values
    assert np.sign(pel_x[-1] - pel_x[0]) == direction
    dz = float((lm.sel(landmark="right_hip", axis="z") - lm.sel(landmark="left_hip", axis="z")).median())
    assert np.sign(dz) == direction
    assert float(ds.angle.sel(coordinate="knee_angle_l").max()) < 0.2   # knee flexion is negative
    assert ds.attrs["population"] in ("healthy", "parkinsons", "stroke")


@pytest.mark.data
def test_example_events_and_missing_data(data_file):
    pd = twin.read(data_file(f"{GAITKIT}/example_parkinson.json"))
    fs = np.sort(pd.event_time.where((pd.event_label == "foot_strike") & (pd.event_side == "left"), drop=True).values)
    np.testing.assert_allclose(fs, np.array([200, 395, 581]) / 150.0)
    st = twin.read(data_file(f"{GAITKIT}/example_stroke.json"))
    assert "event_time" not in st and "no ground_truth" in st.attrs["history"]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ku = twin.read(data_file(f"{GAITKIT}/example_kuopio.json"))
    assert any(issubclass(x.category, TwinWarning) for x in w)
    assert "landmarks" not in ku and "angle" not in ku
    validate(ku)
