"""Schema constructors and validate(): every problem is named."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from twin import schema
from twin.errors import SchemaError


def _ok():
    return schema.recording(np.arange(4) / 100, markers=np.zeros((4, 2, 3)), marker_names=["A", "B"])


def test_constructors_validate():
    schema.validate(_ok())
    kin = schema.kinematics(np.arange(3) / 100, np.zeros((3, 2)), ["hip_flexion_r", "pelvis_tx"])
    assert list(kin.coordinate_type.values) == ["rotational", "translational"]
    schema.validate(kin)
    schema.validate(schema.dynamics(np.arange(3) / 100, np.zeros((3, 1)), ["knee_angle_r"]))
    schema.validate(schema.table(np.arange(3) / 100, np.zeros((3, 1)), ["a"]))
    ev = schema.events([0.5, 0.1], ["foot_off", "foot_strike"], ["left", "right"])
    assert list(ev.event_time.values) == [0.1, 0.5]
    assert list(ev.event_label.values) == ["foot_strike", "foot_off"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ds: ds.assign_attrs(kind="nope"), "not a twin Dataset kind"),
        (lambda ds: ds.assign(markers=ds.markers.transpose("marker", "time", "axis")), "has dims"),
        (lambda ds: ds.assign(markers=ds.markers.assign_attrs(units="mm")), "units 'mm'"),
        (lambda ds: ds.assign(markers=ds.markers * np.nan), "entirely NaN"),
        (lambda ds: ds.assign_coords(time=[0.0, 0.02, 0.01, 0.03]), "not strictly increasing"),
        (lambda ds: ds.assign_coords(axis=["a", "b", "c"]), "dim 'axis'"),
        (lambda ds: ds.assign(extra=xr.DataArray(np.zeros(4), dims="time")), "no 'units'"),
    ],
)
def test_validate_names_the_problem(mutate, message):
    with pytest.raises(SchemaError, match=message):
        schema.validate(mutate(_ok()))


def test_validate_rejects_non_dataset():
    with pytest.raises(SchemaError, match="xarray.Dataset"):
        schema.validate(np.zeros(3))


def test_time_dim_and_history():
    ds = _ok()
    assert schema.time_dim(ds.markers) == "time"
    with pytest.raises(SchemaError, match="no time dim"):
        schema.time_dim(xr.DataArray([1.0], dims="x", name="v"))
    out = schema.add_history(schema.add_history(ds, "one"), "two")
    assert out.attrs["history"].endswith("one\ntwo")
    assert ds.attrs["history"] == ""  # input untouched
