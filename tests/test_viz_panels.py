"""twin.viz.panels.WhatIfExplorer driven programmatically, and the demo physics backend."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest
import torch

from twin.errors import DataError, ParameterError
from twin.viz import WhatIf, WhatIfExplorer, default_simulate, demo_simulation
from twin.viz.demo_backend import Cancelled, apply_whatif, default_duration, fast_mode, scenario_objects

torch.set_num_threads(1)

PLOTLY = "application/vnd.plotly.v1+json"


class Fake:
    """A simulate callable that records its calls and returns the synthetic simulation."""

    def __init__(self, *, fail=None, steps=0, delay=0.0):
        self.calls = []
        self.fail = fail
        self.steps = steps
        self.delay = delay

    def __call__(self, scenarios, *, progress=None):
        self.calls.append(list(scenarios))
        for i in range(self.steps):
            time.sleep(self.delay)
            if progress is not None:
                progress((i + 1) / self.steps, f"step {i + 1}")
        if self.fail is not None:
            raise self.fail
        ds = demo_simulation()
        ds.attrs["backend"] = "surrogate"
        return ds


def _plotly_outputs(ex):
    return {k: [o for o in out.outputs if PLOTLY in o.get("data", {})] for k, out in ex.outputs.items()}


def test_run_button_simulates_the_widget_scenario():
    fake = Fake()
    ex = WhatIfExplorer(fake, background=False)
    ex.strength["plantarflexors"].value = 0.5
    ex.contracture["hamstrings"].value = 10
    ex.extra_mass.value = 5
    ex.label.value = "weak"
    ex.run_button.click()
    (wi,), = fake.calls
    assert isinstance(wi, WhatIf) and wi.label == "weak"
    assert wi.strength["plantarflexors"] == 0.5 and wi.strength["quadriceps"] == 1.0
    assert wi.contracture["hamstrings"] == pytest.approx(0.1) and wi.extra_mass == 5
    assert ex.error is None and ex.message.value == ""
    assert set(ex.figures) == {"curves", "metrics", "skeleton", "grf", "muscles"}
    assert all(len(v) == 1 for v in _plotly_outputs(ex).values())
    status = ex.status.value
    assert "<b>surrogate</b> answered in" in status and "plantarflexors 50 % strength" in status
    assert ex.progress.value == 1.0 and ex.progress.bar_style == "success"
    assert not ex.run_button.disabled and ex.cancel_button.disabled
    # the curves compare baseline and scenario against the normative band (when the data are there)
    labels = {t.meta["label"] for t in ex.figures["curves"].data}
    assert {"baseline", "weak plantarflexors"} <= labels


def test_background_run_and_wait():
    ex = WhatIfExplorer(Fake(steps=3, delay=0.01))
    ex.run_button.click()
    assert ex.wait(30)
    assert ex.error is None and ex.result is not None
    assert "answered" in ex.status.value


def test_twin_error_is_shown_without_traceback():
    ex = WhatIfExplorer(Fake(fail=DataError("the twin has no fitted controller; fit one first")), background=False)
    ex.run()
    assert ex.error == "the twin has no fitted controller; fit one first"
    assert "fit one first" in ex.message.value and "Traceback" not in ex.message.value
    assert "did not run" in ex.status.value
    assert not ex.run_button.disabled and ex.result is None


def test_unexpected_error_is_one_line():
    ex = WhatIfExplorer(Fake(fail=ZeroDivisionError("division by zero")), background=False)
    ex.run()
    assert ex.error == "unexpected error in the simulation: ZeroDivisionError: division by zero"
    assert "Traceback" not in ex.message.value and "\n" not in ex.error


def test_bad_scenario_is_a_readable_message():
    def factory(wi):
        if wi.strength["plantarflexors"] < 0.2 and wi.afo_stiffness == 0:
            raise ParameterError("plantarflexors below 20 % cannot push off: add an AFO or raise the strength")
        return [wi]

    fake = Fake()
    ex = WhatIfExplorer(fake, scenario_factory=factory, background=False)
    ex.strength["plantarflexors"].value = 0.1
    ex.run()
    assert fake.calls == [] and "cannot push off" in ex.error and "Not run" in ex.status.value
    ex.afo_stiffness.value = 100
    ex.run()
    assert ex.error is None and len(fake.calls) == 1


def test_whatif_check_messages():
    with pytest.raises(ParameterError, match="strength of plantarflexors is 0"):
        WhatIf(strength={"plantarflexors": 0}).check()
    with pytest.raises(ParameterError, match="unknown muscle group 'biceps'"):
        WhatIf(strength={"biceps": 0.5}).check()
    with pytest.raises(ParameterError, match="fraction between 0 and 0.5"):
        WhatIf(contracture={"hamstrings": 0.8}).check()
    with pytest.raises(ParameterError, match="extra mass"):
        WhatIf(extra_mass=-100).check()
    assert WhatIf().is_baseline() and WhatIf().describe() == "no change"


def test_cancel_stops_a_run_that_reports_progress():
    fake = Fake(steps=400, delay=0.01)
    ex = WhatIfExplorer(fake)
    ex.run()
    time.sleep(0.1)
    assert ex.running and not ex.cancel_button.disabled
    ex.cancel_button.click()
    assert ex.wait(10)
    assert ex.status.value.startswith("Cancelled after") and ex.result is None
    assert not ex.run_button.disabled and ex.cancel_button.disabled
    # a second Run while one is in flight is refused with a message
    ex2 = WhatIfExplorer(Fake(steps=50, delay=0.01))
    ex2.run()
    ex2.run()
    assert "already running" in ex2.error
    ex2.wait(30)


def test_adapt_checkbox_only_when_the_backend_takes_it():
    assert WhatIfExplorer(Fake()).adapt.disabled
    seen = {}

    def with_adapt(scenarios, *, progress=None, adapt=False):
        seen["adapt"] = adapt
        return demo_simulation()

    ex = WhatIfExplorer(with_adapt, background=False)
    assert not ex.adapt.disabled
    ex.adapt.value = True
    ex.run()
    assert seen == {"adapt": True}


def test_backend_without_scenario_dim_and_missing_figure_inputs():
    ex = WhatIfExplorer(lambda s, progress=None: demo_simulation().isel(scenario=0), background=False)
    ex.run()
    assert "without a scenario dim" in ex.error
    ex = WhatIfExplorer(lambda s, progress=None: demo_simulation().drop_vars("activation"), background=False)
    ex.run()
    assert "muscles" in ex.error and "muscles" not in ex.figures and "curves" in ex.figures
    text = ex.outputs["muscles"].outputs[0]["data"]["text/plain"]
    assert "no excitation" in text


def test_reset_and_unsupported_widgets():
    def sim(scenarios, *, progress=None):
        raise AssertionError("not reached")

    sim.unsupported = ("knee_replacement",)
    ex = WhatIfExplorer(sim, background=False)
    assert ex.knee_replacement.disabled and not ex.afo_stiffness.disabled
    ex.strength["hamstrings"].value = 0.3
    ex.spasticity.value = 2
    ex.reset_button.click()
    assert ex.whatif().is_baseline()


def test_builtin_mapping_refuses_a_knee_replacement():
    from twin.control.sim import walking_params

    with pytest.raises(ParameterError, match="knee replacement is not modelled"):
        apply_whatif(walking_params(batch=1), [WhatIf(knee_replacement=True)])


def test_default_simulate_with_the_builtin_mapping(monkeypatch):
    from twin.viz import demo_backend

    monkeypatch.setattr(demo_backend, "_have_scenarios", lambda: False)
    ds = default_simulate([WhatIf("s", strength={"hamstrings": 0.5}, spasticity=1.0, afo_stiffness=50)], duration=0.2)
    assert ds.attrs["scenario_mapping"].startswith("built-in")
    assert ds.sizes["scenario"] == 2 and np.isfinite(ds.q.values).all()
    with pytest.raises(ParameterError, match="knee replacement"):
        default_simulate([WhatIf(knee_replacement=True)], duration=0.2)


def test_scenario_objects():
    pytest.importorskip("twin.scenarios")
    from twin import scenarios as sc

    objs = scenario_objects(WhatIf(strength={"plantarflexors": 0.5, "quadriceps": 1.0}, contracture={"hamstrings": 0.1},
                                   spasticity=2, knee_replacement=True, afo_stiffness=100, extra_mass=-5))
    assert [type(o).__name__ for o in objs] == ["MuscleWeakness", "Contracture", "Spasticity", "JointReplacement",
                                                "AnkleFootOrthosis", "MassChange"]
    assert objs[0].muscles == ("soleus", "gastroc") and objs[0].strength == 0.5
    assert objs[-1].segment_or_load == "body"
    assert scenario_objects(WhatIf()) == []
    assert isinstance(scenario_objects(WhatIf(extra_mass=5))[0], sc.MassChange)


# ----------------------------------------------------------------------------- the physics backend
def test_builtin_mapping_changes_the_body():
    from twin.control.sim import walking_params

    p = walking_params(batch=2)
    names = list(p.muscle_names)
    new, spastic = apply_whatif(p, [WhatIf("b"), WhatIf("s", strength={"plantarflexors": 0.5},
                                                        contracture={"hamstrings": 0.2}, spasticity=1.5,
                                                        afo_stiffness=120, extra_mass=10)])
    sol, ham, vas = names.index("soleus_r"), names.index("hamstrings_l"), names.index("vasti_r")
    assert float(new.fmax[1, sol]) == pytest.approx(0.5 * float(p.fmax[1, sol]))
    assert float(new.fmax[1, vas]) == pytest.approx(float(p.fmax[1, vas]))
    assert float(new.lopt[1, ham]) == pytest.approx(0.8 * float(p.lopt[1, ham]))
    assert torch.equal(new.fmax[0], p.fmax[0]) and torch.equal(new.lopt[0], p.lopt[0])
    ank = list(p.coordinate_names).index("ankle_angle_l")
    assert float(new.spring_k[1, ank]) == pytest.approx(120) and float(new.spring_k[0, ank]) == 0
    assert float(new.total_mass[1]) == pytest.approx(float(p.total_mass[1]) + 10, abs=1e-4)
    assert spastic[1, sol] == 1.5 and spastic[1, vas] == 0 and not spastic[0].any()
    with pytest.raises(ParameterError, match="2 scenarios for 1"):
        apply_whatif(walking_params(batch=1), [WhatIf(), WhatIf()])


def test_builtin_contracture_is_the_scenario_contracture():
    """The explorer's built-in mapping and twin.scenarios.Contracture give the same engine muscles."""
    from twin.control.sim import walking_params
    from twin.model import BodyParams
    from twin.scenarios import Contracture, engine_inputs

    body = BodyParams.default(lumbar=False, marker_sets=())
    p = walking_params(body, batch=1, dtype=torch.float64)
    new, _ = apply_whatif(p, [WhatIf("c", contracture={"hamstrings": 0.2})])
    sc, _, _ = engine_inputs([Contracture("hamstrings", 0.2).apply(body)], dtype=torch.float64)
    for name in ("lopt", "lts", "vmax", "width", "fmax"):
        assert torch.allclose(getattr(new, name), getattr(sc, name), rtol=1e-12), name
    assert not torch.allclose(new.lopt, p.lopt)


def test_fast_mode(monkeypatch):
    monkeypatch.setenv("TWIN_FAST", "1")
    assert fast_mode() and default_duration() == 1.5
    monkeypatch.setenv("TWIN_FAST", "0")
    assert not fast_mode() and default_duration() == 4.0


def test_default_simulate_short_run_progress_and_cancel():
    calls = []
    ds = default_simulate([WhatIf("weak", strength={"plantarflexors": 0.4}, knee_replacement=True)], duration=0.3,
                          progress=lambda f, m: calls.append((f, m)))
    assert ds.attrs["kind"] == "simulation" and ds.attrs["backend"] == "physics engine"
    assert ds.attrs["scenario_mapping"] == "twin.scenarios"
    assert ds["scenario"].values.tolist() == ["baseline", "weak"]
    assert ds["description"].values.tolist() == ["no change", "plantarflexors 40 % strength, knee replacement"]
    assert ds.q.dims == ("scenario", "time", "coordinate") and ds.sizes["time"] == 30
    assert ds.grf.dims == ("scenario", "time", "side", "axis") and ds.body_mass.attrs["units"] == "kg"
    assert np.isfinite(ds.q.values).all()
    fr = [c[0] for c in calls]
    assert fr[0] == 0.0 and fr[-1] == 1.0 and fr == sorted(fr) and len(fr) >= 4

    def stop(f, m):
        if f > 0.2:
            raise Cancelled("cancelled by the user")

    with pytest.raises(Cancelled):
        default_simulate([WhatIf()], duration=0.5, progress=stop)
    with pytest.raises(ParameterError, match="WhatIf"):
        default_simulate([42], duration=0.1)


def test_explorer_on_the_physics_engine():
    ex = WhatIfExplorer(functools.partial(default_simulate, duration=0.4))
    ex.strength["plantarflexors"].value = 0.5
    ex.run(wait=True)
    assert ex.error is None, ex.error
    assert "<b>physics engine</b> (eager) answered" in ex.status.value
    assert ex.result.sizes["scenario"] == 2
    assert set(ex.figures) == {"curves", "metrics", "skeleton", "grf", "muscles"}


def test_default_simulate_starts_on_the_gait_cycle_and_says_which_engine(monkeypatch):
    from twin.control.store import load_controller
    from twin.viz.demo_backend import _controller_path, compile_setting

    doc = load_controller(_controller_path(None))
    ds = default_simulate([WhatIf("heavy", extra_mass=10.0)], duration=0.05, compile="auto")
    assert ds.attrs["engine_mode"] == "eager" and ds.attrs["start"] == "gait state"  # nothing compiled here
    gs = doc["initial_state"]
    q0 = dict(zip(ds.coordinate.values.tolist(), ds.q.sel(scenario="baseline").isel(time=0).values))
    for name, v in zip(gs["coordinates"], gs["q"]):
        if name != "pelvis_tx":  # the default body is placed as it was when the state was captured
            assert q0[name] == pytest.approx(v, abs=1e-5), name
    assert q0["pelvis_tx"] == 0.0
    with pytest.raises(ParameterError, match="compile"):
        default_simulate([WhatIf()], duration=0.05, compile="fast")
    monkeypatch.setenv("TWIN_COMPILE", "0")
    assert compile_setting() == "0"
    monkeypatch.setenv("TWIN_COMPILE", "")
    assert compile_setting() == "auto"


def test_explorer_warms_up_a_backend_that_offers_it(monkeypatch):
    calls = []

    def fake(scenarios, *, progress=None):
        raise AssertionError("not run here")

    fake.warm_up = lambda n: calls.append(n)
    WhatIfExplorer(fake, warm_up=True)
    assert calls == [1]  # baseline + the explorer's one scenario: a batch of 2
    WhatIfExplorer(fake, warm_up=True, scenario_factory=lambda wi: [wi, wi])
    assert calls == [1, 2]
    monkeypatch.setenv("TWIN_FAST", "1")
    WhatIfExplorer(fake)  # tests and Binder previews: no compilation in the background
    monkeypatch.setenv("TWIN_FAST", "0")
    monkeypatch.setenv("TWIN_COMPILE", "0")
    WhatIfExplorer(fake)
    assert calls == [1, 2]

    def broken(n):
        raise RuntimeError("no compiler")

    fake.warm_up = broken
    ex = WhatIfExplorer(fake, warm_up=True)  # the explorer still opens
    assert ex.warm_up_thread is None


@pytest.mark.slow
def test_compiled_engine_answers_as_the_eager_one():
    """Compiles the explorer's batch (about 3 min the first time on a machine)."""
    from twin.viz.demo_backend import compiled_ready, warm_up

    w = [WhatIf("weak", strength={"plantarflexors": 0.4})]
    eager = default_simulate(w, duration=0.6, compile=False)
    warm_up(1, background=False)
    assert compiled_ready(1)
    fast = default_simulate(w, duration=0.6, compile="auto")
    assert fast.attrs["engine_mode"] == "compiled"
    np.testing.assert_allclose(fast.q.values, eager.q.values, atol=1e-4)


def test_default_simulate_adapts_the_controller_to_the_changed_body():
    calls = []
    w = [WhatIf("weak", strength={"plantarflexors": 0.5})]
    ds = default_simulate(w, duration=0.3, adapt=True, adapt_generations=2, adapt_popsize=4,
                          progress=lambda f, m: calls.append((f, m)))
    assert ds.attrs["adapt"] == 1 and ds.sizes["scenario"] == 2 and np.isfinite(ds.q.values).all()
    msgs = [m for _, m in calls]
    assert any("adapting the controller to 'weak': generation 2 of 2" in m for m in msgs)
    fr = [f for f, _ in calls]
    assert fr == sorted(fr) and fr[-1] == 1.0
    plain = default_simulate(w, duration=0.3)
    assert plain.attrs["adapt"] == 0
    # the baseline is not adapted (same start and controller), the scenario is (another controller, standing start)
    np.testing.assert_allclose(ds.q.sel(scenario="baseline").values, plain.q.sel(scenario="baseline").values,
                               atol=1e-5)
    assert np.abs(ds.q.sel(scenario="weak").values - plain.q.sel(scenario="weak").values).max() > 1e-3

    def stop(f, m):
        if "generation 1" in m:
            raise Cancelled("cancelled by the user")

    with pytest.raises(Cancelled):
        default_simulate(w, duration=0.3, adapt=True, adapt_generations=3, adapt_popsize=4, progress=stop)
    with pytest.raises(ParameterError, match="adapt_popsize"):
        default_simulate(w, duration=0.3, adapt=True, adapt_popsize=1)
    assert not WhatIfExplorer(default_simulate, background=False).adapt.disabled  # the explorer offers it
