"""save/load of Datasets (netCDF and zarr), atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin import schema
from twin.errors import FormatError, ReadError
from twin.io import store


def _recording():
    t = np.arange(5) / 100.0
    ds = schema.recording(t, markers=np.random.default_rng(0).normal(size=(5, 2, 3)), marker_names=["RHEE", "LHEE"],
                          analog_time=np.arange(50) / 1000.0, grf=np.ones((50, 1, 3)), plates=["1"], subject_mass=70.0)
    return schema.add_history(ds, "made in a test")


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_roundtrip_identical(tmp_path, suffix):
    ds = _recording()
    path = tmp_path / f"trial{suffix}"
    twin.save(ds, path)
    back = twin.load(path)
    assert back.identical(ds)
    twin.validate(back)
    # overwrite in place works and stays readable
    twin.save(ds.assign_attrs(subject_mass=71.0), path)
    assert twin.load(path).attrs["subject_mass"] == 71.0
    assert twin.read(path).identical(ds.assign_attrs(subject_mass=71.0))


def test_interrupted_save_leaves_old_file(tmp_path, monkeypatch):
    ds = _recording()
    path = tmp_path / "trial.nc"
    twin.save(ds, path)
    before = path.read_bytes()

    def boom(self, *args, **kwargs):
        with open(args[0], "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(ds), "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        twin.save(ds, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["trial.nc"]  # no temporary left behind


def test_bad_paths(tmp_path):
    with pytest.raises(FormatError, match="use .nc"):
        twin.save(_recording(), tmp_path / "x.csv")
    with pytest.raises(ReadError, match="no such"):
        twin.load(tmp_path / "missing.nc")
    (tmp_path / "corrupt.nc").write_bytes(b"not netcdf at all")
    with pytest.raises(ReadError, match="corrupt"):
        twin.load(tmp_path / "corrupt.nc")
    with pytest.raises(twin.TwinError, match="does not exist"):
        twin.save(_recording(), tmp_path / "no" / "such" / "dir.nc")


def test_atomic_path_cleans_up_directories(tmp_path):
    with pytest.raises(RuntimeError):
        with store.atomic_path(tmp_path / "store.zarr") as tmp:
            (tmp_path / tmp).mkdir()
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
