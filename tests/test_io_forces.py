"""Cortex .forces reader and combining markers with force data."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from twin.errors import ReadError, SchemaError
from twin.io.combine import combine

from conftest import GAIT10


def test_bmclab_forces_and_trc(data_file):
    trc, forces = data_file("BMClab-BMC/data/walk1.trc"), data_file("BMClab-BMC/data/walk1.forces")
    fp = twin.read(forces)
    assert fp.grf.attrs["units"] == "N" and fp.cop.attrs["units"] == "m"
    # independent check on the raw text: column FY3 (vertical) of plate 3
    raw = np.loadtxt(forces, skiprows=5)
    np.testing.assert_allclose(fp.grf.sel(plate="3", axis="y").values, raw[:, 1 + 7 * 2 + 1])
    np.testing.assert_allclose(fp.cop.sel(plate="3", axis="x").dropna("time").values,
                               raw[raw[:, 1 + 14 + 1] > 20, 1 + 14 + 3] / 1000.0)
    ds = twin.read([trc, forces])
    assert ds.grf.dims[0] == "analog_time" and ds.attrs["analog_rate"] == pytest.approx(450.0)
    assert ds.analog_time.values[-1] == pytest.approx(ds.time.values[-1], abs=0.01)
    # the foot is on the plate where the COP is: heel marker near COP during loading
    loaded = fp.grf.sel(plate="3", axis="y") > 200
    cop_x = float(fp.cop.sel(plate="3", axis="x").where(loaded).mean())
    assert 0.5 < cop_x < 3.0  # metres in the lab, not millimetres


def test_subject01_trc_plus_grf(data_file):
    ds = twin.read([data_file(f"{GAIT10}/ExperimentalData/subject01_walk.trc"),
                    data_file(f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot")])
    assert set(ds.side.values) == {"right", "left"}
    assert "combined" in ds.attrs["history"]
    assert ds.attrs["rate"] == pytest.approx(60.0)


def test_combine_rejects_clashes():
    t = np.arange(3) / 100
    a = twin.schema.recording(t, markers=np.zeros((3, 1, 3)), marker_names=["A"])
    with pytest.raises(SchemaError, match="both Datasets hold"):
        combine(a, a)


@pytest.mark.parametrize("text, message", [
    ("hello", "Force Data"),
    ("[Force Data]\nNumberOfForcePlates=1\nSampleRate=100\n", "lacks NumberOfSamples"),
    ("[Force Data]\nNumberOfForcePlates=1\nSampleRate=100\nNumberOfSamples=3\n#Sample\tFX1\n", "mislabeled"),
    ("[Force Data]\nNumberOfForcePlates=1\nSampleRate=100\nNumberOfSamples=3\n"
     "#Sample\tFX1\tFY1\tFZ1\tX1\tY1\tZ1\tMZ1\n1\t0\t500\t0\t1\t0\t1\t0\n", "truncated"),
])
def test_forces_bad_input(tmp_path, text, message):
    path = tmp_path / "bad.forces"
    path.write_text(text)
    with pytest.raises(ReadError, match=message):
        twin.read(path)
