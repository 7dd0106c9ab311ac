"""2D keypoint readers: synthetic OpenPose JSON, MediaPipe-style and long CSV written from known arrays."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin
from twin.errors import DataError, FormatError, ParameterError, ReadError, TwinError
from twin.io import read_keypoints
from twin.io.keypoints import LAYOUTS

RNG = np.random.default_rng(7)


def _frame(kp: np.ndarray) -> dict:
    """OpenPose frame dict from an array (n_people, n_kp, 3)."""
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist(),
                                        "face_keypoints_2d": []} for p in kp]}


def _random_pose(n_kp: int, n_people: int = 1) -> np.ndarray:
    kp = np.empty((n_people, n_kp, 3))
    kp[..., 0] = RNG.uniform(0, 1920, (n_people, n_kp)).round(3)
    kp[..., 1] = RNG.uniform(0, 1080, (n_people, n_kp)).round(3)
    kp[..., 2] = RNG.uniform(0.05, 1, (n_people, n_kp)).round(4)
    return kp


# ---------------------------------------------------------------- OpenPose JSON


def test_single_openpose_frame_round_trip(tmp_path):
    kp = _random_pose(25)
    kp[0, [3, 7], :] = 0.0  # not detected
    f = tmp_path / "walk_000000000000_keypoints.json"
    f.write_text(json.dumps(_frame(kp)))
    ds = read_keypoints(f, rate=30)
    twin.validate(ds)
    assert ds.keypoints.dims == ("time", "camera", "keypoint", "uv")
    assert list(ds.keypoint.values) == list(LAYOUTS["body_25"]) and ds.attrs["keypoint_layout"] == "body_25"
    assert ds.time.values.tolist() == [0.0] and ds.attrs["rate"] == 30.0
    got = ds.keypoints.values[0, 0]
    want = kp[0, :, :2].copy()
    want[[3, 7]] = np.nan
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ds.keypoint_score.values[0, 0], kp[0, :, 2])
    assert "2 keypoint sample(s) with zero confidence: coordinates set to NaN" in ds.attrs["history"]
    assert ds.keypoints.attrs["units"] == "px" and list(ds.camera.values) == ["cam0"]


def test_openpose_folder_sorted_by_frame_number(tmp_path):
    poses = {n: _random_pose(25) for n in (0, 1, 2, 3, 5)}  # frame 4 was not written
    for n in (5, 2, 0, 3, 1):
        (tmp_path / f"cam_{n:012d}_keypoints.json").write_text(json.dumps(_frame(poses[n])))
    (tmp_path / "notes.txt").write_text("ignored")
    ds = read_keypoints(tmp_path, rate=50.0, camera="left")
    np.testing.assert_allclose(ds.time.values, np.array([0, 1, 2, 3, 5]) / 50.0)
    for i, n in enumerate((0, 1, 2, 3, 5)):
        np.testing.assert_array_equal(ds.keypoints.values[i, 0], poses[n][0, :, :2])
    assert list(ds.camera.values) == ["left"]
    files = sorted(tmp_path.glob("*.json"))
    ds2 = read_keypoints(files, rate=50.0, camera="left")
    np.testing.assert_array_equal(ds2.keypoints.values, ds.keypoints.values)


def test_frames_without_people_and_several_people(tmp_path):
    a, b = _random_pose(18), _random_pose(18)
    b[0, :, 2] = 0.01  # person b is the weaker detection
    both = np.concatenate([b, a])
    (tmp_path / "f_000.json").write_text(json.dumps(_frame(both)))
    (tmp_path / "f_001.json").write_text(json.dumps({"version": 1.3, "people": []}))
    (tmp_path / "f_002.json").write_text(json.dumps(_frame(a)))
    ds = read_keypoints(tmp_path, rate=25)
    assert list(ds.keypoint.values) == list(LAYOUTS["coco_18"])
    np.testing.assert_array_equal(ds.keypoints.values[0, 0], a[0, :, :2])  # best = a
    assert np.isnan(ds.keypoints.values[1]).all()
    assert "1 frame(s) without a (selected) person" in ds.attrs["history"]
    assert "several people" in ds.attrs["history"]
    first = read_keypoints(tmp_path, rate=25, person=0)
    np.testing.assert_array_equal(first.keypoints.values[0, 0], b[0, :, :2])
    third = read_keypoints(tmp_path, rate=25, person=1)
    assert np.isnan(third.keypoints.values[2]).all()  # frame 2 has only one person


def test_one_file_with_a_list_of_frames_and_layouts(tmp_path):
    poses = [_random_pose(17) for _ in range(4)]
    f = tmp_path / "all.json"
    f.write_text(json.dumps([_frame(p) for p in poses]))
    ds = read_keypoints(f, rate=10)
    assert list(ds.keypoint.values) == list(LAYOUTS["coco_17"])
    np.testing.assert_array_equal(ds.keypoints.values[:, 0], np.stack([p[0, :, :2] for p in poses]))
    np.testing.assert_allclose(ds.time.values, [0, 0.1, 0.2, 0.3])
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(_frame(_random_pose(5))))
    ds = read_keypoints(odd, rate=10)
    assert list(ds.keypoint.values) == ["kp00", "kp01", "kp02", "kp03", "kp04"]
    assert "no known layout" in ds.attrs["history"]
    ds = read_keypoints(odd, rate=10, keypoint_names=list("abcde"))
    assert list(ds.keypoint.values) == list("abcde")
    with pytest.raises(ParameterError, match="3 names for 5"):
        read_keypoints(odd, rate=10, keypoint_names=list("abc"))
    with pytest.raises(ParameterError, match="has 25 keypoints"):
        read_keypoints(odd, rate=10, layout="body_25")
    mp = tmp_path / "mp.json"
    mp.write_text(json.dumps(_frame(_random_pose(33))))
    assert read_keypoints(mp, rate=10).attrs["keypoint_layout"] == "mediapipe_33"


# ---------------------------------------------------------------- wide CSV


def _wide_csv(path: Path, time: np.ndarray, xy: np.ndarray, vis: np.ndarray | None, names, *,
              time_col="time", z=True, sep=","):
    cols = [time_col]
    for n in names:
        cols += [f"{n}_x", f"{n}_y"] + ([f"{n}_z"] if z else []) + ([f"{n}_visibility"] if vis is not None else [])
    rows = []
    for i, t in enumerate(time):
        row = [repr(float(t))]
        for k in range(len(names)):
            row += [repr(float(xy[i, k, 0])), repr(float(xy[i, k, 1]))]
            row += ["-0.25"] if z else []
            row += [repr(float(vis[i, k]))] if vis is not None else []
        rows.append(sep.join(row))
    path.write_text(sep.join(cols) + "\n" + "\n".join(rows) + "\n")


def test_mediapipe_wide_csv_round_trip(tmp_path):
    names = LAYOUTS["mediapipe_33"]
    time = np.arange(6) / 30.0
    xy = RNG.uniform(2, 1000, (6, 33, 2)).round(2)
    vis = RNG.uniform(0.1, 1, (6, 33)).round(3)
    vis[2, 5] = 0.0
    f = tmp_path / "mp.csv"
    _wide_csv(f, time, xy, vis, names)
    ds = read_keypoints(f)
    want = xy.copy()
    want[2, 5] = np.nan
    np.testing.assert_array_equal(ds.keypoints.values[:, 0], want)
    np.testing.assert_array_equal(ds.keypoint_score.values[:, 0], vis)
    np.testing.assert_array_equal(ds.time.values, time)
    assert ds.attrs["rate"] == pytest.approx(30.0)
    assert list(ds.keypoint.values) == list(names)
    assert "ignored 33 z column(s)" in ds.attrs["history"] and "visibility" in ds.attrs["history"]
    ds = read_keypoints(f, min_score=0.5)
    assert np.isnan(ds.keypoints.values[:, 0][vis < 0.5]).all()
    assert np.isfinite(ds.keypoints.values[:, 0][vis >= 0.5]).all()
    semi = tmp_path / "semi.csv"
    _wide_csv(semi, time, xy, vis, names, sep=";")
    np.testing.assert_array_equal(read_keypoints(semi).keypoints.values, read_keypoints(f).keypoints.values)
    assert twin.read(f).keypoints.shape == (6, 1, 33, 2)


def test_normalised_coordinates_need_image_size(tmp_path):
    xy = RNG.integers(0, 9, (4, 2, 2)) / 8.0
    f = tmp_path / "norm.csv"
    _wide_csv(f, np.arange(4) / 10, xy, None, ["heel", "toe"], z=False)
    with pytest.raises(ReadError, match="image_size"):
        read_keypoints(f)
    ds = read_keypoints(f, image_size=(640, 480))
    np.testing.assert_array_equal(ds.keypoints.values[:, 0], xy * [640, 480])
    assert "keypoint_score" not in ds and "keypoint_score absent" in ds.attrs["history"]
    kept = read_keypoints(f, normalized=False)
    np.testing.assert_array_equal(kept.keypoints.values[:, 0], xy)


def test_frame_column_needs_rate_and_numbered_columns(tmp_path):
    xy = RNG.uniform(10, 500, (3, 25, 2)).round(1)
    f = tmp_path / "frames.csv"
    header = ["frame"] + [f"{k}_{a}" for k in range(25) for a in ("x", "y")]
    body = [",".join([str(10 + i)] + [repr(float(v)) for v in xy[i].ravel()]) for i in range(3)]
    f.write_text(",".join(header) + "\n" + "\n".join(body) + "\n")
    with pytest.raises(ParameterError, match="rate="):
        read_keypoints(f)
    ds = read_keypoints(f, rate=100)
    np.testing.assert_allclose(ds.time.values, [0.10, 0.11, 0.12])
    assert list(ds.keypoint.values) == list(LAYOUTS["body_25"])
    np.testing.assert_array_equal(ds.keypoints.values[:, 0], xy)


def test_timestamp_in_milliseconds(tmp_path):
    f = tmp_path / "ms.csv"
    f.write_text("timestamp,heel_x,heel_y\n0,10.5,20\n33,11.5,21\n66,12.5,22\n")
    ds = read_keypoints(f)
    np.testing.assert_allclose(ds.time.values, [0, 0.033, 0.066])
    assert "milliseconds" in ds.attrs["history"]
    np.testing.assert_array_equal(ds.keypoints.values[:, 0, 0], [[10.5, 20], [11.5, 21], [12.5, 22]])


# ---------------------------------------------------------------- long CSV


def test_long_csv_two_cameras_round_trip(tmp_path):
    names = ["LHeel", "RHeel", "LBigToe"]
    cams = ["front", "side"]
    n = 4
    uv = RNG.uniform(1, 1500, (n, 2, 3, 2)).round(3)
    sc = RNG.uniform(0.2, 1, (n, 2, 3)).round(3)
    lines = ["frame,camera,keypoint,u,v,score"]
    for i in range(n):
        for c in range(2):
            for k in range(3):
                if (i, c, k) == (1, 1, 2):
                    continue  # absent row -> NaN
                lines.append(f"{i},{cams[c]},{names[k]},{float(uv[i, c, k, 0])!r},{float(uv[i, c, k, 1])!r},{float(sc[i, c, k])!r}")
    f = tmp_path / "long.csv"
    f.write_text("\n".join(lines[:1] + lines[:0:-1]) + "\n")  # rows in reverse order
    ds = read_keypoints(f, rate=60)
    want = uv.copy()
    want[1, 1, 2] = np.nan
    assert list(ds.camera.values) == list(reversed(cams)) or list(ds.camera.values) == cams
    ds = ds.sel(camera=cams, keypoint=names)
    np.testing.assert_array_equal(ds.keypoints.values, want)
    want_sc = sc.copy()
    want_sc[1, 1, 2] = np.nan
    np.testing.assert_array_equal(ds.keypoint_score.values, want_sc)
    np.testing.assert_allclose(ds.time.values, np.arange(n) / 60)
    assert "1 (time, camera, keypoint) combination(s) absent" in ds.attrs["history"]
    side = read_keypoints(f, rate=60, camera="side")
    np.testing.assert_array_equal(side.sel(keypoint=names).keypoints.values[:, 0], want[:, 1])
    with pytest.raises(ReadError, match="no camera 'top'.*side"):
        read_keypoints(f, rate=60, camera="top")


def test_long_csv_with_time_and_xy_names(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("time\tname\tx\ty\n0.0\tknee\t1\t2\n0.0\thip\t3\t4\n0.5\tknee\t5\t6\n0.5\thip\t7\t8\n")
    ds = read_keypoints(f)
    assert ds.attrs["rate"] == 2.0 and list(ds.keypoint.values) == ["knee", "hip"]
    np.testing.assert_array_equal(ds.keypoints.values[:, 0], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]])


# ---------------------------------------------------------------- bad input


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bad_inputs_are_twin_errors(tmp_path):
    cases = {
        "empty.json": "",
        "trunc.json": json.dumps(_frame(_random_pose(25)))[:200],
        "nopeople.json": json.dumps({"version": 1.3}),
        "notnum.json": json.dumps({"people": [{"pose_keypoints_2d": ["a", 1, 2]}]}),
        "not3.json": json.dumps({"people": [{"pose_keypoints_2d": [1, 2, 3, 4]}]}),
        "nested.json": json.dumps({"people": [{"pose_keypoints_2d": [[1, 2, 3]]}]}),
        "nobody.json": json.dumps({"people": []}),
        "zeros.json": json.dumps({"people": [{"pose_keypoints_2d": [0] * 75}]}),
        "empty.csv": "",
        "blank.csv": "\n\n",
        "header.csv": "time,heel_x,heel_y\n",
        "onecol.csv": "time\n0\n1\n",
        "wrongcols.csv": "time,foo,bar\n0,1,2\n",
        "nomatch.csv": "time,heel_x\n0,1\n",
        "nantime.csv": "time,heel_x,heel_y\n0,1,2\nnan,3,4\n0.2,5,6\n",
        "dupe.csv": "time,heel_x,heel_y\n0,1,2\n0,3,4\n",
        "ragged.csv": "time,heel_x,heel_y\n0,1,2\n0.1,3\n",
        "text.csv": "time,heel_x,heel_y\n0,1,2\n0.1,three,4\n",
        "long_nouv.csv": "frame,keypoint,score\n0,heel,1\n",
        "long_dupe.csv": "time,keypoint,u,v\n0,heel,1,2\n0,heel,3,4\n",
        "long_notime.csv": "keypoint,u,v\nheel,1,2\n",
        "long_empty_name.csv": "time,keypoint,u,v\n0,,1,2\n",
        "dupcol.csv": "time,heel_x,heel_x,heel_y\n0,1,2,3\n",
        "binary.csv": "\x00\x01\x02",
    }
    for name, text in cases.items():
        p = _write(tmp_path, name, text)
        with pytest.raises(TwinError) as err:
            read_keypoints(p, rate=30)
        assert str(p) in str(err.value) or name in str(err.value), (name, err.value)
    with pytest.raises(ParameterError, match="rate="):
        read_keypoints(_write(tmp_path, "ok.json", json.dumps(_frame(_random_pose(25)))))
    with pytest.raises(ReadError, match="no such"):
        read_keypoints(tmp_path / "missing.json", rate=30)
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ReadError, match="no .json"):
        read_keypoints(tmp_path / "emptydir", rate=30)
    with pytest.raises(FormatError):
        read_keypoints(_write(tmp_path, "x.xyz", "1"), rate=30)
    with pytest.raises(DataError, match="no person"):
        read_keypoints(tmp_path / "nobody.json", rate=30)


def test_bad_options(tmp_path):
    f = _write(tmp_path, "ok.json", json.dumps(_frame(_random_pose(25))))
    for kwargs in ({"rate": 0}, {"rate": -1}, {"rate": float("nan")}, {"rate": "30"}, {"camera": ""},
                   {"person": -1}, {"person": "tallest"}, {"person": True}, {"layout": "body_99"},
                   {"min_score": -0.1}, {"image_size": (0, 10)}, {"image_size": "big"},
                   {"keypoint_names": "abc"}, {"keypoint_names": ["a", "a"]}, {"normalized": "yes"}):
        with pytest.raises(ParameterError):
            read_keypoints(f, **({"rate": 30} | kwargs))
    with pytest.raises(ParameterError):
        read_keypoints(3, rate=30)
    with pytest.raises(ParameterError):
        read_keypoints([], rate=30)


def test_twin_read_dispatch(tmp_path):
    f = _write(tmp_path, "kp.json", json.dumps(_frame(_random_pose(25))))
    assert twin.read(f, rate=30).keypoints.shape == (1, 1, 25, 2)
    c = _write(tmp_path, "kp.csv", "time,keypoint,u,v\n0,heel,1,2\n0.1,heel,3,4\n")
    assert twin.read(c).keypoints.shape == (2, 1, 1, 2)


# ---------------------------------------------------------------- fuzz: only TwinError escapes


def _only_twin_errors(path: Path, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_keypoints(path, **kwargs)
    except TwinError:
        return
    twin.validate(ds)


CSV_TOKENS = st.sampled_from(["time", "frame", "t", "timestamp", "keypoint", "camera", "u", "v", "x", "y",
                              "heel_x", "heel_y", "heel_score", "toe_x", "toe_y", "toe_z", "0", "1", "-1",
                              "0.5", "1e9", "nan", "inf", "", "a", ",", ";", "\t", "\n", "\n", " ", "\"", "#"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(CSV_TOKENS, max_size=60), rate=st.sampled_from([None, 30.0]))
def test_fuzz_csv(tmp_path, tokens, rate):
    p = tmp_path / "fuzz.csv"
    p.write_text("".join(tokens))
    _only_twin_errors(p, rate=rate)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5)
    | st.text(max_size=3),
    lambda children: st.lists(children, max_size=8) | st.dictionaries(
        st.sampled_from(["people", "pose_keypoints_2d", "version", "keypoints"]), children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=JSON_VALUES, cut=st.integers(0, 400))
def test_fuzz_json(tmp_path, doc, cut):
    text = json.dumps(doc)
    p = tmp_path / "fuzz.json"
    p.write_text(text if cut > len(text) else text[:cut] or "{")
    _only_twin_errors(p, rate=25.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=3, max_size=30),
       n_people=st.integers(0, 3))
def test_fuzz_openpose_values(tmp_path, values, n_people):
    kp = values[: len(values) // 3 * 3]
    doc = {"people": [{"pose_keypoints_2d": kp} for _ in range(n_people)]}
    p = tmp_path / "v.json"
    p.write_text(json.dumps(doc))
    _only_twin_errors(p, rate=30.0)
