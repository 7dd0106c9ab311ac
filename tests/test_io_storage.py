"""OpenSim .mot/.sto reader/writer against OpenSim's own STOFileAdapter."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin import schema
from twin.errors import ReadError, TwinError, TwinWarning
from twin.io.storage import read_external_loads, read_storage, write_external_loads, write_storage

from conftest import GAIT10

osim = pytest.importorskip("opensim")

IK = f"{GAIT10}/OutputReference/IK/subject01_walk_IK.mot"
ID = f"{GAIT10}/OutputReference/ID/Results/subject01_walk_ID.sto"
GRF = f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot"
STATES = "opensim-core/OpenSim/Examples/Moco/example3DWalking/coordinates.sto"
QUAT = "opensim-models/Tutorials/Inverese_Kinematics_with_IMUs/walking_orientations.sto"


def _opensim_table(path):
    table = osim.TimeSeriesTable(str(path))
    labels = list(table.getColumnLabels())
    data = np.column_stack([np.array(table.getDependentColumn(c).to_numpy()) for c in labels])
    return np.array(table.getIndependentColumn()), labels, data, table


def test_ik_mot_matches_opensim_in_radians(data_file):
    path = data_file(IK)
    ds = read_storage(path)
    assert ds.attrs["kind"] == "kinematics"
    time, labels, data, table = _opensim_table(path)
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    np.testing.assert_allclose(ds.time.values, time, atol=1e-12)
    for j, c in enumerate(labels):
        expected = data[:, j] if c.endswith(("_tx", "_ty", "_tz")) else np.deg2rad(data[:, j])
        np.testing.assert_allclose(ds.q.sel(coordinate=c).values, expected, rtol=1e-12, atol=1e-12, err_msg=c)
    assert dict(zip(ds.coordinate.values, ds.coordinate_type.values))["pelvis_tx"] == "translational"
    assert "deg -> rad" in ds.attrs["history"]


def test_id_sto_is_dynamics(data_file):
    path = data_file(ID)
    ds = read_storage(path)
    assert ds.attrs["kind"] == "dynamics"
    time, labels, data, _ = _opensim_table(path)
    for j, c in enumerate(labels):
        coord = c.rsplit("_", 1)[0]
        np.testing.assert_allclose(ds.moment.sel(coordinate=coord).values, data[:, j], atol=1e-12)
    ctype = dict(zip(ds.coordinate.values, ds.coordinate_type.values))
    assert ctype["pelvis_tx"] == "translational" and ctype["knee_angle_r"] == "rotational"


def test_grf_mot_with_external_loads(data_file):
    path = data_file(GRF)
    ds = read_storage(path)
    assert ds.attrs["kind"] == "recording"
    assert list(ds.side.values) == ["right", "left"]
    time, labels, data, _ = _opensim_table(path)
    col = {c: data[:, j] for j, c in enumerate(labels)}
    np.testing.assert_allclose(ds.grf.sel(side="right", axis="y").values, col["ground_force_vy"])
    np.testing.assert_allclose(ds.grf.sel(side="left", axis="x").values, col["1_ground_force_vx"])
    np.testing.assert_allclose(ds.cop.sel(side="left", axis="z").values, col["1_ground_force_pz"])
    np.testing.assert_allclose(ds.free_moment.sel(side="right", axis="y").values, col["ground_torque_y"])
    loads = osim.ExternalLoads(str(path.with_suffix(".xml")), True)
    bodies = {loads.get(i).getName(): loads.get(i).get_applied_to_body() for i in range(loads.getSize())}
    assert bodies == {"right": "calcn_r", "left": "calcn_l"}
    assert [f["side"] for f in read_external_loads(path.with_suffix(".xml"))] == ["right", "left"]


def test_moco_state_paths_become_coordinates(data_file):
    ds = read_storage(data_file(STATES))
    assert ds.attrs["kind"] == "kinematics"
    assert "hip_flexion_r" in ds.coordinate.values
    assert not any(str(c).startswith("/") for c in ds.coordinate.values)


def test_opensense_quaternions(data_file):
    path = data_file(QUAT)
    ds = read_storage(path)
    table = osim.TimeSeriesTableQuaternion(str(path))
    labels = list(table.getColumnLabels())
    assert list(ds.sensor.values) == labels
    row = table.getRowAtIndex(5)
    for j, name in enumerate(labels):
        q = row.getElt(0, j)
        np.testing.assert_allclose(ds.imu_orientation.isel(time=5).sel(sensor=name).values,
                                   [q.get(0), q.get(1), q.get(2), q.get(3)], atol=1e-12)
    norms = np.linalg.norm(ds.imu_orientation.values, axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


def test_kinematics_roundtrip_through_opensim(tmp_path, data_file):
    ds = read_storage(data_file(IK))
    for in_degrees in (True, False):
        out = tmp_path / f"ik_{in_degrees}.mot"
        write_storage(ds, out, in_degrees=in_degrees)
        time, labels, data, table = _opensim_table(out)
        assert table.getTableMetaDataAsString("inDegrees") == ("yes" if in_degrees else "no")
        assert labels == list(ds.coordinate.values)
        np.testing.assert_allclose(time, ds.time.values, atol=1e-8)
        back = read_storage(out)
        np.testing.assert_allclose(back.q.values, ds.q.values, atol=1e-7)


def test_dynamics_and_grf_roundtrip_through_opensim(tmp_path, data_file):
    dyn = read_storage(data_file(ID))
    write_storage(dyn, tmp_path / "id.sto")
    _, labels, data, _ = _opensim_table(tmp_path / "id.sto")
    assert "pelvis_tx_force" in labels and "knee_angle_r_moment" in labels
    np.testing.assert_allclose(read_storage(tmp_path / "id.sto").moment.values, dyn.moment.values, atol=1e-7)

    grf = read_storage(data_file(GRF))
    write_storage(grf, tmp_path / "grf.mot")
    write_external_loads(grf, tmp_path / "grf.xml", datafile="grf.mot")
    loads = osim.ExternalLoads(str(tmp_path / "grf.xml"), True)
    assert loads.getSize() == 2
    _, labels, data, _ = _opensim_table(tmp_path / "grf.mot")
    assert "ground_force_r_vx" in labels and "ground_torque_l_z" in labels
    back = read_storage(tmp_path / "grf.mot")
    assert list(back.side.values) == ["right", "left"]
    np.testing.assert_allclose(back.grf.values, grf.grf.values, atol=1e-7)
    np.testing.assert_allclose(back.cop.values, grf.cop.values, atol=1e-7)


def test_header_row_count_mismatch_warns_but_reads(tmp_path):
    path = tmp_path / "short.mot"
    path.write_text("x\nversion=1\nnRows=3\nnColumns=2\ninDegrees=yes\nendheader\ntime\tknee_angle_r\n0\t10\n0.01\t20\n")
    with pytest.warns(TwinWarning, match="nRows=3"):
        ds = read_storage(path)
    assert ds.sizes["time"] == 2
    assert "nRows=3" in ds.attrs["history"]


BAD = {
    "no_endheader": "x\nversion=1\ntime\ta\n0\t1\n",
    "labels_only": "x\nendheader\ntime\ta\n",
    "mislabeled": "x\nendheader\ntime\ta\tb\n0\t1\n0.1\t2\n",
    "text": "x\nendheader\ntime\ta\n0\tfoo\n",
    "nan_time": "x\nendheader\ntime\ta\nnan\t1\n0.1\t2\n",
    "no_time": "x\nendheader\nframe\ta\n0\t1\n1\t2\n",
    "truncated_row": "x\nendheader\ntime\ta\tb\n0\t1\t2\n0.1\t2",
    "binary": "\x00\x01\x02endheader",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_storage_bad_input(tmp_path, name):
    path = tmp_path / f"{name}.sto"
    path.write_text(BAD[name])
    with pytest.raises(ReadError) as err:
        twin.read(path)
    assert str(path) in str(err.value)


def test_write_requires_known_variable(tmp_path):
    ds = schema.recording(np.arange(3) / 100, markers=np.zeros((3, 1, 3)), marker_names=["A"])
    with pytest.raises(TwinError, match="none of q, moment, grf or table"):
        write_storage(ds, tmp_path / "x.sto")
