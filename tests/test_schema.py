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


# ----------------------------------------------------------------------------- simulation kind


@pytest.fixture(scope="module")
def engine_sim():
    """A real twin.engine.simulate output: the walking body (18 muscles, 2 feet), 2 members, 30 ms."""
    torch = pytest.importorskip("torch")
    from twin.control.sim import walking_params
    from twin.engine import simulate

    torch.set_num_threads(1)
    return simulate(walking_params(batch=2), None, 0.03, dt=1e-3, record_every=5, num_threads=1)


def test_engine_simulation_validates(engine_sim):
    schema.validate(engine_sim)
    assert engine_sim.attrs["kind"] == "simulation"
    assert engine_sim.fell_time.isnull().all()  # NaN = never fell: allowed for *_time


def test_double_pendulum_simulation_validates():
    torch = pytest.importorskip("torch")
    from twin.engine import EngineParams, double_pendulum, simulate

    torch.set_num_threads(1)
    ds = simulate(EngineParams.from_body(double_pendulum(), batch=3), None, 0.05, record_every=10)
    schema.validate(ds)


def test_scenario_dim_simulation_validates(engine_sim):
    ds = engine_sim.rename(batch="scenario").assign_coords(scenario=["baseline", "weak"])
    schema.validate(ds)
    both = ds.expand_dims(batch=[0]).transpose("scenario", "batch", ...)
    schema.validate(both)
    with pytest.raises(SchemaError, match="'q' has dims"):
        schema.validate(both.assign(q=both.q.transpose("batch", "scenario", ...)))
    with pytest.raises(SchemaError, match="repeated labels"):
        schema.validate(ds.assign_coords(scenario=["baseline", "baseline"]))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ds: ds.assign(q=ds.q.transpose("batch", "coordinate", "time")), "'q' has dims"),
        (lambda ds: ds.assign(grf=ds.grf.assign_attrs(units="kN")), "'grf' has units 'kN'"),
        (lambda ds: ds.assign(muscle_force=ds.muscle_force.assign_attrs(units="")), "'muscle_force' has units"),
        (lambda ds: ds.assign(excitation=ds.excitation.isel(batch=0)), "'excitation' has dims"),
        (lambda ds: ds.assign(activation=ds.activation * np.nan), "'activation' is entirely NaN"),
        (lambda ds: ds.assign(fell=ds.fell.astype(float)), "'fell' must be bool"),
        (lambda ds: ds.assign(metabolic_power=ds.metabolic_power.assign_attrs(units="J")), "'metabolic_power'"),
        (lambda ds: ds.assign(fiber_length=(ds.fiber_length.dims, ds.fiber_length.values)), "'fiber_length' has no 'units'"),
        (lambda ds: ds.assign_coords(time=ds.time.values[::-1]), "not strictly increasing"),
        (lambda ds: ds.isel(batch=0), "needs a member dim"),
    ],
)
def test_simulation_validate_names_the_variable(engine_sim, mutate, message):
    with pytest.raises(SchemaError, match=message):
        schema.validate(mutate(engine_sim))


def test_simulation_constructor():
    t = np.arange(4) / 100.0
    ds = schema.simulation(t, q=np.ones((2, 4, 2)), coordinates=["pelvis_tx", "knee_angle_r"],
                           grf=np.zeros((2, 4, 2, 3)), excitation=np.zeros((2, 4, 1)), muscles=["soleus_r"],
                           metabolic_power=np.full((2, 4), 90.0), body_mass=[70.0, 80.0],
                           fell=[False, True], fell_time=[np.nan, 0.02],
                           member_dims="scenario", members=["baseline", "afo"], dt=1e-3)
    schema.validate(ds)
    assert list(ds.scenario.values) == ["baseline", "afo"]
    assert list(ds.coordinate_type.values) == ["translational", "rotational"]
    assert ds.attrs["rate"] == pytest.approx(100.0) and ds.attrs["dt"] == 1e-3
    assert ds.fell.dtype == bool and ds.failed.dims == ("scenario",) and not ds.failed.any()
    assert ds.body_mass.attrs["units"] == "kg"
    with pytest.raises(SchemaError, match="q has shape"):
        schema.simulation(t, q=np.ones((2, 3, 2)), coordinates=["a", "b"])
    with pytest.raises(SchemaError, match="'scenario' needs its labels"):
        schema.simulation(t, q=np.ones((2, 4, 1)), coordinates=["a"], member_dims="scenario")
    with pytest.raises(SchemaError, match="grf has shape"):
        schema.simulation(t, q=np.ones((2, 4, 1)), coordinates=["a"], grf=np.zeros((2, 4, 3)))
    with pytest.raises(SchemaError, match="without muscles"):
        schema.simulation(t, q=np.ones((2, 4, 1)), coordinates=["a"], activation=np.zeros((2, 4, 1)))
    with pytest.raises(SchemaError, match="member_dims"):
        schema.simulation(t, q=np.ones((2, 4, 1)), coordinates=["a"], member_dims=("batch", "scenario"))
