"""OpenCap session folders: the real example session and small synthetic ones."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import twin
from twin import schema
from twin.errors import DataError, ParameterError, ReadError, TwinError, TwinWarning
from twin.io import read_opencap, read_storage, read_trc, write_storage, write_trc
from twin.io.opencap import opencap_trials

SESSION = "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8"


# ---------------------------------------------------------------- the real example


@pytest.mark.data
def test_real_session(data_file):
    folder = data_file(SESSION + "/sessionMetadata.yaml").parent
    ds = read_opencap(folder)
    twin.validate(ds)
    assert ds.markers.shape == (222, 63, 3) and ds.q.shape == (222, 41)
    assert ds.attrs["subject_mass"] == 83.0 and ds.attrs["subject_height"] == 1.86
    assert ds.attrs["sex"] == "male" and ds.attrs["trial"] == "walk"
    assert ds.attrs["model"].endswith("LaiArnoldModified2017_poly_withArms_weldHand_scaled.osim")
    assert Path(ds.attrs["model"]).is_file()
    assert ds.attrs["source"] == str(folder) and ds.attrs["rate"] == 60.0
    # the same values the single-file readers give
    trc = read_trc(folder / "MarkerData" / "walk.trc", up="y")
    kin = read_storage(folder / "OpenSimData" / "Kinematics" / "walk.mot")
    np.testing.assert_array_equal(ds.markers.values, trc.markers.values)
    np.testing.assert_array_equal(ds.q.values, kin.q.values)
    # pelvis_tilt first sample is -14.47661079 deg in the file
    assert ds.q.sel(coordinate="pelvis_tilt")[0] == pytest.approx(np.deg2rad(-14.47661079), abs=1e-10)
    assert ds.q.sel(coordinate="pelvis_tx")[0] == pytest.approx(-4.21144161, abs=1e-10)
    assert dict(zip(ds.coordinate.values, ds.coordinate_type.values))["pelvis_ty"] == "translational"
    assert "shares the marker time base" in ds.attrs["history"]
    # every way in gives the same answer
    for other in (twin.read(folder), twin.read(folder / "sessionMetadata.yaml"), read_opencap(folder.parent)):
        np.testing.assert_array_equal(other.q.values, ds.q.values)


# ---------------------------------------------------------------- synthetic sessions


def _session(root: Path, trials=("walk",), *, rate=50.0, mot_rate=None, n=31, meta: str | None = None,
             model=True, name="session") -> Path:
    s = root / name
    (s / "MarkerData").mkdir(parents=True, exist_ok=True)
    (s / "OpenSimData" / "Kinematics").mkdir(parents=True, exist_ok=True)
    t = np.arange(n) / rate
    for k, name in enumerate(trials):
        markers = np.stack([np.column_stack([t, 0.9 + 0.0 * t, 0.1 * k + 0.0 * t]),
                            np.column_stack([t, 0.1 + 0.0 * t, -0.1 + 0.0 * t])], axis=1)
        write_trc(schema.recording(t, markers=markers, marker_names=["RHeel", "LHeel"]),
                  s / "MarkerData" / f"{name}.trc")
        tk = t if mot_rate is None else np.arange(int(t[-1] * mot_rate) + 1) / mot_rate
        q = np.column_stack([0.5 * tk + 0.1 * k, 1.0 + 2.0 * tk])  # linear: interpolation is exact
        write_storage(schema.kinematics(tk, q, ["knee_angle_r", "pelvis_tx"]),
                      s / "OpenSimData" / "Kinematics" / f"{name}.mot", in_degrees=False, precision=12)
    if meta is not None:
        (s / "sessionMetadata.yaml").write_text(meta)
    if model:
        (s / "OpenSimData" / "Model").mkdir(parents=True, exist_ok=True)
        (s / "OpenSimData" / "Model" / "LaiUhlrich2022_scaled.osim").write_text("<OpenSimDocument/>")
    return s


META = "mass_kg: 70.5\nheight_m: 1.72\ngender_mf: f\nsubjectID: s1\nposemodel: hrnet\nopenSimModel: LaiUhlrich2022\n"


def test_synthetic_session_values_and_attrs(tmp_path):
    s = _session(tmp_path, meta=META)
    ds = read_opencap(s)
    t = np.arange(31) / 50.0
    np.testing.assert_allclose(ds.time.values, t, atol=1e-9)
    np.testing.assert_allclose(ds.markers.sel(marker="RHeel", axis="x").values, t, atol=1e-9)
    np.testing.assert_allclose(ds.q.sel(coordinate="knee_angle_r").values, 0.5 * t, atol=1e-9)
    np.testing.assert_allclose(ds.q.sel(coordinate="pelvis_tx").values, 1.0 + 2.0 * t, atol=1e-9)
    assert ds.attrs["subject_mass"] == 70.5 and ds.attrs["subject_height"] == 1.72
    assert ds.attrs["sex"] == "female" and ds.attrs["opencap_subject_id"] == "s1"
    assert ds.attrs["opencap_pose_model"] == "hrnet"
    assert ds.attrs["model"].endswith("LaiUhlrich2022_scaled.osim")
    twin.validate(ds)


def test_different_time_bases_are_interpolated(tmp_path):
    s = _session(tmp_path, mot_rate=30.0, n=31, meta=META)  # markers 50 Hz over 0.6 s, IK 30 Hz
    ds = read_opencap(s)
    t = ds.time.values
    np.testing.assert_allclose(ds.q.sel(coordinate="knee_angle_r").values, 0.5 * t, atol=1e-9)
    assert "linearly interpolated onto the marker time base" in ds.attrs["history"]


def test_interpolation_leaves_nan_outside_the_ik_span(tmp_path):
    s = _session(tmp_path, meta=META)
    t = np.arange(10, 20) / 50.0
    write_storage(schema.kinematics(t, np.column_stack([t, t]), ["knee_angle_r", "pelvis_tx"]),
                  s / "OpenSimData" / "Kinematics" / "walk.mot", in_degrees=False, precision=12)
    ds = read_opencap(s)
    knee = ds.q.sel(coordinate="knee_angle_r").values
    assert np.isnan(knee[:10]).all() and np.isnan(knee[20:]).all()
    np.testing.assert_allclose(knee[10:20], t, atol=1e-9)
    assert "21 marker frame(s) outside the IK span are NaN" in ds.attrs["history"]


def test_ik_not_overlapping_markers(tmp_path):
    s = _session(tmp_path, meta=META)
    t = 10.0 + np.arange(5) / 60.0
    write_storage(schema.kinematics(t, np.zeros((5, 1)), ["knee_angle_r"]),
                  s / "OpenSimData" / "Kinematics" / "walk.mot")
    with pytest.raises(DataError, match="does not overlap"):
        read_opencap(s)


def test_several_trials_need_a_choice(tmp_path):
    s = _session(tmp_path, trials=("walk", "squat", "neutral"), meta=META)
    with pytest.raises(ReadError, match=r"3 trials \(neutral, squat, walk\).*trial="):
        read_opencap(s)
    assert opencap_trials(s) == ["neutral", "squat", "walk"]
    ds = read_opencap(s, trial="squat")
    assert ds.attrs["trial"] == "squat"
    np.testing.assert_allclose(ds.q.sel(coordinate="knee_angle_r").values, 0.5 * ds.time.values + 0.1, atol=1e-9)
    assert read_opencap(s, trial="walk.trc").attrs["trial"] == "walk"
    with pytest.raises(ReadError, match="no trial 'run'.*neutral, squat, walk"):
        read_opencap(s, trial="run")


def test_missing_metadata_still_reads(tmp_path):
    s = _session(tmp_path, meta=None, model=False)
    ds = read_opencap(s)
    for attr in ("subject_mass", "subject_height", "sex", "model"):
        assert attr not in ds.attrs
    assert "no sessionMetadata.yaml" in ds.attrs["history"]
    assert "no scaled model" in ds.attrs["history"]
    twin.validate(ds)


def test_partial_or_bad_metadata(tmp_path):
    s = _session(tmp_path, meta="mass_kg: heavy\nheight_m: 17.0\n")
    ds = read_opencap(s)
    assert "subject_mass" not in ds.attrs and "subject_height" not in ds.attrs
    assert "'heavy' is not a number" in ds.attrs["history"] and "implausible" in ds.attrs["history"]
    (s / "sessionMetadata.yaml").write_text("mass_kg: [70\n  height: :\n")
    with pytest.warns(TwinWarning, match="not valid YAML"):
        ds = read_opencap(s)
    assert "subject_mass" not in ds.attrs and "not valid YAML" in ds.attrs["history"]
    (s / "sessionMetadata.yaml").write_text("- just\n- a list\n")
    assert "no key/value mapping" in read_opencap(s).attrs["history"]


def test_markers_only_and_kinematics_only(tmp_path):
    s = _session(tmp_path, meta=META)
    (s / "OpenSimData" / "Kinematics" / "walk.mot").unlink()
    ds = read_opencap(s)
    assert "q" not in ds and "joint angles (q) absent" in ds.attrs["history"]
    s2 = _session(tmp_path / "b", meta=META)
    (s2 / "MarkerData" / "walk.trc").unlink()
    ds2 = read_opencap(s2)
    assert "markers" not in ds2 and ds2.q.shape == (31, 2)
    twin.validate(ds2)
    with pytest.raises(ReadError, match="no marker file"):
        read_opencap(s2, kinematics=False)
    ds3 = read_opencap(_session(tmp_path / "c", meta=META), kinematics=False)
    assert "q" not in ds3


def test_bad_folders(tmp_path):
    with pytest.raises(ReadError, match="no such OpenCap session folder"):
        read_opencap(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReadError, match="not an OpenCap session folder"):
        read_opencap(tmp_path / "empty")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ReadError, match="is a file"):
        read_opencap(f)
    s = tmp_path / "nodata"
    (s / "MarkerData").mkdir(parents=True)
    with pytest.raises(ReadError, match="without trials"):
        read_opencap(s)
    two = tmp_path / "two"
    _session(two, name="a")
    _session(two, name="b")
    with pytest.raises(ReadError, match=r"several OpenCap sessions \(a, b\)"):
        read_opencap(two)
    with pytest.raises(ParameterError):
        read_opencap(3)
    with pytest.raises(ParameterError):
        read_opencap(_session(tmp_path / "p"), trial=1)
    with pytest.raises(ParameterError):
        read_opencap(_session(tmp_path / "q"), up="down")


def test_broken_trial_file_is_a_twin_error(tmp_path):
    s = _session(tmp_path, meta=META)
    trc = s / "MarkerData" / "walk.trc"
    trc.write_text(trc.read_text()[: len(trc.read_text()) // 3])
    with pytest.raises(TwinError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_opencap(s)
    s2 = _session(tmp_path / "m", meta=META)
    (s2 / "OpenSimData" / "Kinematics" / "walk.mot").write_text("garbage\n")
    with pytest.raises(TwinError):
        read_opencap(s2)


def test_twin_read_dispatches_folders(tmp_path):
    s = _session(tmp_path, meta=META)
    assert twin.read(s).attrs["trial"] == "walk"
    assert twin.read(s / "sessionMetadata.yaml", trial="walk").attrs["subject_mass"] == 70.5
    shutil.rmtree(s / "OpenSimData")
    assert "q" not in twin.read(s)
