"""Every recording file in the reference data is read, or rejected with a TwinError that says why."""

from __future__ import annotations

from twin.io.survey import recording_files, survey


def test_every_reference_file_read_or_rejected(data_dir):
    rows = survey(data_dir)
    assert len(rows) >= 60, f"only {len(rows)} recording files found under {data_dir}"
    crashed = [r for r in rows if r["status"] == "crashed"]
    assert not crashed, "\n".join(f"{r['path']}: {r['message']}" for r in crashed)
    for r in rows:
        if r["status"] == "rejected":
            assert r["path"].split("/")[-1] in r["message"] or "/" in r["message"], r
    read = sum(r["status"] == "read" for r in rows)
    print(f"\n{read} read, {len(rows) - read} rejected with a reason, 0 crashed")
    # the trials the project is built around are among those read
    names = {r["path"] for r in rows if r["status"] == "read"}
    assert "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc" in names
    assert "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk_grf.mot" in names


def test_recording_files_finds_each_kind(data_dir):
    suffixes = {p.suffix.lower() or "folder" for p in recording_files(data_dir)}
    assert {".trc", ".mot", ".sto", ".c3d", ".forces", ".json", "folder"} <= suffixes


def test_dispatch_sniffs_csv_kind(tmp_path):
    """A keypoint CSV with an 'accuracy' column is not mistaken for an IMU file, and vice versa."""
    from twin.io import _looks_like_imu

    kp = tmp_path / "kp.csv"
    kp.write_text("time,nose_x,nose_y,accuracy\n0,1,2,0.9\n")
    imu = tmp_path / "imu.csv"
    imu.write_text("time,shank_acc_x,shank_acc_y,shank_acc_z,shank_gyr_x,shank_gyr_y,shank_gyr_z\n0,0,9.81,0,0,0,0\n")
    assert not _looks_like_imu(kp)
    assert _looks_like_imu(imu)
