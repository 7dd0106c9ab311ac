"""TRC reader/writer: values against OpenSim's TRCFileAdapter, round trips, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin import schema
from twin.errors import DataError, ReadError, TwinError, TwinWarning
from twin.io.trc import read_trc, write_trc

from conftest import GAIT10

TRC_FILES = [
    f"{GAIT10}/ExperimentalData/subject01_walk.trc",
    f"{GAIT10}/ExperimentalData/subject01_static.trc",
    "opensim-core/OpenSim/Examples/Moco/example3DWalking/markers_walk.trc",
    "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/MarkerData/walk.trc",
    "BMClab-BMC/data/walk1.trc",
]


def _opensim_markers(path):
    """Markers as OpenSim reads them: (time, n_time x n_marker x 3 in file units, labels, units)."""
    osim = pytest.importorskip("opensim")
    table = osim.TimeSeriesTableVec3(str(path))  # built by OpenSim's TRCFileAdapter
    labels = list(table.getColumnLabels())
    n, m = table.getNumRows(), table.getNumColumns()
    out = np.empty((n, m, 3))
    for j in range(m):  # column by column: chained to_numpy on tables is known to crash
        col = table.getDependentColumnAtIndex(j)
        for i in range(n):
            v = col[i]
            out[i, j] = (v[0], v[1], v[2])
    time = np.array(table.getIndependentColumn())
    units = table.getTableMetaDataAsString("Units")
    return time, out, labels, units


@pytest.mark.parametrize("rel", TRC_FILES)
def test_trc_matches_opensim_adapter(data_file, rel):
    path = data_file(rel)
    ds = read_trc(path, up="y", gaps="keep")
    time, ref, labels, units = _opensim_markers(path)
    factor = {"mm": 1e-3, "m": 1.0}[units.strip()]
    np.testing.assert_allclose(ds.time.values, time, rtol=0, atol=1e-9)
    got = ds.markers.sel(marker=labels).values
    np.testing.assert_allclose(got, ref * factor, rtol=0, atol=1e-12, equal_nan=True)
    if factor != 1.0:
        assert "mm -> m" in ds.attrs["history"]
    assert ds.markers.attrs["units"] == "m"


def test_trc_auto_up_detects_y_for_opensim_files(data_file):
    ds = read_trc(data_file(TRC_FILES[0]))
    assert ds.attrs["up_in_file"] == "y"
    # pelvis markers ~1 m above the floor, heel near it
    assert 0.8 < float(ds.markers.sel(marker="R.ASIS", axis="y").mean()) < 1.2
    assert float(ds.markers.sel(marker="R.Heel", axis="y").min()) < 0.15


def test_trc_z_up_file_is_rotated(tmp_path, data_file):
    ds = read_trc(data_file(TRC_FILES[0]))
    # write it as a Z-up lab file: (x, y, z)_osim -> (x, -z, y)_lab
    lab = ds.copy()
    m = ds.markers.values
    lab["markers"].values = np.stack([m[..., 0], -m[..., 2], m[..., 1]], axis=-1)
    path = tmp_path / "zup.trc"
    write_trc(lab, path)
    back = read_trc(path)
    assert back.attrs["up_in_file"] == "z"
    assert "Z up" in back.attrs["history"]
    np.testing.assert_allclose(back.markers.values, ds.markers.values, atol=1e-6)


def test_trc_roundtrip_through_opensim(tmp_path, data_file):
    """What twin writes, OpenSim reads back unchanged (and twin too)."""
    ds = read_trc(data_file(TRC_FILES[0]))
    for units in ("mm", "m"):
        path = tmp_path / f"out_{units}.trc"
        write_trc(ds, path, units=units)
        time, ref, labels, file_units = _opensim_markers(path)
        assert file_units == units
        assert labels == list(ds.marker.values)
        scale = 1e-3 if units == "mm" else 1.0
        np.testing.assert_allclose(ref * scale, ds.markers.values, atol=1e-6 * (1 if units == "m" else 1e-3) + 1e-9)
        np.testing.assert_allclose(time, ds.time.values, atol=1e-6)
        back = read_trc(path)
        np.testing.assert_allclose(back.markers.values, ds.markers.values, atol=1e-6)


def _small(tmp_path, n=20, gap=None):
    t = np.arange(n) / 100.0
    m = np.stack([np.stack([t, np.full(n, 1.0 + 0.1 * k), np.full(n, 0.1 * k)], -1) for k in range(3)], 1)
    if gap is not None:
        m[gap, 1, :] = np.nan
    ds = schema.recording(t, markers=m, marker_names=["A", "B", "C"], rate=100.0)
    path = tmp_path / "small.trc"
    write_trc(ds, path, units="mm")
    return path, m


def test_trc_short_gap_filled_long_gap_warned(tmp_path):
    path, m = _small(tmp_path, n=40, gap=slice(5, 8))
    ds = read_trc(path, up="y")
    assert np.all(np.isfinite(ds.markers.values))
    np.testing.assert_allclose(ds.markers.sel(marker="B").values[5:8, 0], m[5:8, 0, 0], atol=1e-6)
    assert "filled 1 gap" in ds.attrs["history"]
    path, _ = _small(tmp_path, n=40, gap=slice(5, 30))
    with pytest.warns(TwinWarning, match="B t="):
        ds = read_trc(path, up="y")
    assert np.isnan(ds.markers.sel(marker="B").values[10, 0])
    assert "left NaN" in ds.attrs["history"]
    with pytest.raises(DataError, match="marker 'B'"):
        read_trc(path, up="y", gaps="raise")


BAD = {
    "empty": "",
    "wrong_format": "time,a,b\n0,1,2\n",
    "header_only": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t2\t1\tmm\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n",
    "bad_units": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t1\t1\tfurlongs\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n1\t0\t1\t2\t3\n",
    "text_in_data": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t1\t1\tmm\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n1\t0\tabc\t2\t3\n",
    "nan_time": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t2\t1\tmm\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n1\t\t1\t2\t3\n2\t0.01\t1\t2\t3\n",
    "too_many_values": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t1\t1\tmm\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n1\t0\t1\t2\t3\t4\t5\n",
    "time_backwards": "PathFileType\t4\t(X/Y/Z)\tx.trc\nDataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\n"
    "100\t100\t2\t1\tmm\nFrame#\tTime\tA\t\t\n\t\tX1\tY1\tZ1\n\n1\t0.1\t1\t2\t3\n2\t0.0\t1\t2\t3\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_trc_bad_input_names_file_and_problem(tmp_path, name):
    path = tmp_path / f"{name}.trc"
    path.write_text(BAD[name])
    with pytest.raises(ReadError) as err:
        twin.read(path)
    assert str(path) in str(err.value)


def test_trc_truncated_real_file(tmp_path, data_file):
    raw = data_file(TRC_FILES[0]).read_bytes()
    path = tmp_path / "cut.trc"
    path.write_bytes(raw[: len(raw) // 2 + 17])  # cut mid-line
    with pytest.raises(TwinError, match="cut.trc"):
        twin.read(path)


def test_trc_missing_file_message(tmp_path):
    with pytest.raises(ReadError, match="no such TRC file"):
        read_trc(tmp_path / "nope.trc")
