"""Every recording file in the reference data is read, or rejected with a TwinError that says why."""

from __future__ import annotations

from twin.io.survey import recording_files, survey


def test_every_reference_file_read_or_rejected(data_dir):
    rows = survey(data_dir)
    assert len(rows) >= 100, f"only {len(rows)} recording files found under {data_dir}"
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
