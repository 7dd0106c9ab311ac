"""twin.viz figures: gait curves (cycles from GRF, normative band, time fallback), stick figure, GRF, muscles, table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from twin import schema
from twin.errors import ParameterError
from twin.viz import (demo_simulation, gait_curves, grf_figure, metrics_table, muscle_heatmap, simulation_summary,
                      skeleton_animation, write_report)
from twin.viz._sim import body_weight, strikes

torch.set_num_threads(1)


def _mean(fig, label, coordinate):
    tr = [t for t in fig.data if t.meta and t.meta.get("label") == label and t.meta.get("coordinate") == coordinate
          and t.meta.get("kind") == "mean"]
    assert len(tr) == 1, [t.meta for t in fig.data]
    return np.asarray(tr[0].x), np.asarray(tr[0].y)


# ----------------------------------------------------------------------------- strikes
def test_strikes_interpolate_and_ignore_chatter():
    t = np.arange(0, 3, 0.01)
    load = np.where((t % 1.0) < 0.6, 1.0, 0.0)
    load[(t > 0.3) & (t < 0.32)] = 0.0  # a 20 ms dip in stance: not a new strike
    s = strikes(t, load, threshold=0.05, min_swing=0.05)
    np.testing.assert_allclose(s, [0.9905, 1.9905], atol=1e-9)
    # a foot unloaded from the start strikes at its first loading
    assert strikes(t, np.where(t > 0.5, 1.0, 0.0), threshold=0.05).size == 1


def test_body_weight_from_mass_or_grf():
    sim = demo_simulation()
    one = sim.isel(scenario=0)
    assert body_weight(one) == pytest.approx(75.0 * 9.81)
    no_mass = one.drop_vars("body_mass")
    assert 0.5 * 75 * 9.81 < body_weight(no_mass) < 1.5 * 75 * 9.81
    with pytest.raises(ParameterError, match="body weight"):
        body_weight(no_mass.drop_vars("grf"))


# ----------------------------------------------------------------------------- gait curves
def test_gait_curves_scenario_overlay_cycles_from_grf():
    sim = demo_simulation(duration=5.0)
    fig = gait_curves(sim, normative=False)
    assert fig.layout.meta["mode"] == "cycle"
    assert fig.layout.xaxis.title.text == "gait cycle [%]"
    x, base = _mean(fig, "baseline", "ankle_angle_r")
    _, weak = _mean(fig, "weak plantarflexors", "ankle_angle_r")
    assert x[0] == 0 and x[-1] == 100 and len(x) == 101
    assert weak.min() > base.min() + 4  # less push-off plantarflexion (deg)
    _, hip = _mean(fig, "baseline", "hip_flexion_r")
    # a stride starts at the right strike (~ t = 1.1 k); hip flexion is 15 + 25 cos(phase) deg there
    assert hip[0] == pytest.approx(40.0, abs=1.5)
    names = {t.name for t in fig.data if t.showlegend}
    assert "baseline (3 cycles)" in names
    base_tr = next(t for t in fig.data if t.meta["label"] == "baseline" and t.meta["kind"] == "mean")
    assert base_tr.line.color == "#222222"


def test_gait_curves_normative_band(data_dir):
    fig = gait_curves(demo_simulation(), speed="Free")
    bands = [t for t in fig.data if t.meta["kind"] == "normative"]
    assert len(bands) == 3
    assert "Schwartz 2008 Free" in fig.layout.title.text


def test_gait_curves_without_normative_data_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TWIN_OFFLINE", "1")
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    fig = gait_curves(demo_simulation())
    assert not [t for t in fig.data if t.meta["kind"] == "normative"]
    assert "normative band omitted" in fig.layout.title.text


def test_gait_curves_falls_back_to_time_without_a_cycle():
    fig = gait_curves(demo_simulation(duration=1.0))  # strikes at ~1.1 s: none inside
    assert fig.layout.meta["mode"] == "time"
    assert fig.layout.xaxis.title.text == "time [s]"
    assert "no complete gait cycle" in fig.layout.title.text


def test_gait_curves_mapping_of_datasets_and_recordings():
    sim = demo_simulation()
    fig = gait_curves({"a": sim.isel(scenario=0), "b": sim.isel(scenario=1)}, normative=False,
                      coordinates=("knee_angle_r",))
    assert {t.meta["label"] for t in fig.data} == {"a", "b"}
    # a recording: kinematics + events (right strikes at 0, 1, 2 s)
    t = np.arange(0, 2.5, 0.01)
    q = np.stack([np.sin(2 * np.pi * t), np.zeros_like(t)], -1)
    kin = xr.Dataset({"q": (("time", "coordinate"), q, {"units": "rad"})},
                     coords={"time": t, "coordinate": ["knee_angle_r", "pelvis_tx"]}, attrs={"kind": "kinematics"})
    ev = schema.events([0.0, 1.0, 2.0], ["foot_strike"] * 3, ["right"] * 3)
    fig = gait_curves({"lab": kin}, events={"lab": ev}, coordinates=("knee_angle_r",), normative=False)
    x, y = _mean(fig, "lab", "knee_angle_r")
    np.testing.assert_allclose(y, np.rad2deg(np.sin(2 * np.pi * x / 100)), atol=0.5)


def test_gait_curves_bad_input_messages():
    sim = demo_simulation()
    with pytest.raises(ParameterError, match="no coordinate 'elbow_r'"):
        gait_curves(sim, coordinates=("elbow_r",))
    with pytest.raises(ParameterError, match="empty"):
        gait_curves({})
    kin = sim.isel(scenario=0).drop_vars("grf")
    with pytest.raises(ParameterError, match="pass events="):
        gait_curves({"rec": kin})
    with pytest.raises(ParameterError, match="xarray.Dataset"):
        gait_curves(42)


# ----------------------------------------------------------------------------- skeleton
def test_skeleton_animation_frames_and_forward_kinematics():
    sim = demo_simulation(duration=1.0)
    fig = skeleton_animation(sim, member=[0, "weak plantarflexors"], every=10)
    assert len(fig.frames) == 10
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    assert len(fig.layout.sliders[0].steps) == 10
    parts = [t.meta.get("part") for t in fig.data]
    assert parts.count("right leg") == 2 and parts.count("trunk") == 2
    # moving the pelvis 1 m forward moves every drawn point 1 m forward
    shifted = sim.copy(deep=True)
    shifted["q"].loc[{"coordinate": "pelvis_tx"}] += 1.0
    a = skeleton_animation(sim, member=0, every=10, follow=False)
    b = skeleton_animation(shifted, member=0, every=10, follow=False)
    leg_a = next(t for t in a.data if t.meta.get("part") == "right leg")
    leg_b = next(t for t in b.data if t.meta.get("part") == "right leg")
    np.testing.assert_allclose(np.asarray(leg_b.x) - np.asarray(leg_a.x), 1.0, atol=1e-9)
    np.testing.assert_allclose(leg_b.y, leg_a.y, atol=1e-9)
    # the foot is below the hip
    assert leg_a.y[0] > leg_a.y[3]


def test_skeleton_animation_bad_member():
    with pytest.raises(ParameterError, match="out of range"):
        skeleton_animation(demo_simulation(), member=5)
    with pytest.raises(ParameterError, match="not found"):
        skeleton_animation(demo_simulation(), member="nobody")
    with pytest.raises(ParameterError, match="every"):
        skeleton_animation(demo_simulation(), every=0)


# ----------------------------------------------------------------------------- GRF, muscles
def test_grf_figure_in_body_weights():
    sim = demo_simulation()
    fig = grf_figure(sim)
    tr = next(t for t in fig.data if t.meta == {"label": "baseline", "side": "right", "axis": "y"})
    expected = sim.grf.sel(scenario="baseline", side="right", axis="y").values / (75.0 * 9.81)
    np.testing.assert_allclose(tr.y, expected)
    assert len(fig.data) == 2 * 2 * 2  # members x sides x axes
    cyc = grf_figure(demo_simulation(duration=5.0), x="cycle")
    assert cyc.layout.xaxis2.title.text == "gait cycle [%]"
    short = grf_figure(demo_simulation(duration=1.0), x="cycle")
    assert "against time" in short.layout.title.text
    with pytest.raises(ParameterError, match="choose one of"):
        grf_figure(sim, x="phase")


def test_muscle_heatmap_variable_fallback():
    sim = demo_simulation()
    fig = muscle_heatmap(sim)
    assert fig.data[0].meta["variable"] == "activation"
    assert np.asarray(fig.data[0].z).shape == (sim.sizes["muscle"], sim.sizes["time"])
    exc = sim.rename({"activation": "excitation"})
    assert muscle_heatmap(exc, member=1).data[0].meta == {"label": "weak plantarflexors", "variable": "excitation"}
    with pytest.raises(ParameterError, match="no activation"):
        muscle_heatmap(exc, variable="activation")


# ----------------------------------------------------------------------------- metrics
def test_simulation_summary_and_table():
    sim = demo_simulation(duration=5.0)
    m = simulation_summary(sim)
    assert m.attrs["kind"] == "metrics"
    assert float(m.stride_time.sel(scenario="baseline")) == pytest.approx(1.1, abs=0.01)
    assert float(m.cadence.sel(scenario="baseline")) == pytest.approx(120 / 1.1, rel=0.01)
    assert float(m.stance.sel(scenario="baseline")) == pytest.approx(60.0, abs=3.0)
    assert float(m.speed.sel(scenario="baseline")) == pytest.approx(1.2, abs=0.01)
    assert m.peak_plantarflexion.attrs["units"] == "deg"
    fig = metrics_table(m)
    rows = {r[0]: r for r in fig.layout.meta["rows"]}
    assert rows["stride time"][1:] == ["s", "1.1", "1.1"]
    assert rows["fell"][2:] == ["no", "no"]
    assert fig.layout.meta["header"] == ["metric", "units", "baseline", "weak plantarflexors"]


def test_summary_of_a_fallen_member():
    sim = demo_simulation(duration=5.0)
    sim["fell_time"] = ("scenario", [np.nan, 1.5], {"units": "s"})
    sim["fell"] = ("scenario", [False, True], {"units": "1"})
    m = simulation_summary(sim)
    assert float(m.walked_time.sel(scenario="weak plantarflexors")) == pytest.approx(1.5)
    assert bool(m.fell.sel(scenario="weak plantarflexors"))
    assert int(m.n_strides.sel(scenario="weak plantarflexors")) == 0  # the stride ending at 2.2 s is after the fall
    assert np.isnan(float(m.stride_time.sel(scenario="weak plantarflexors")))
    rows = {r[0]: r for r in metrics_table(m).layout.meta["rows"]}
    assert rows["stride time"][3] == "–"


def test_metrics_table_inputs():
    fig = metrics_table({"baseline": {"speed": (1.2, "m/s"), "fell": False}, "weak": {"speed": (0.9, "m/s")}})
    assert fig.layout.meta["rows"] == [["speed", "m/s", "1.2", "0.9"], ["fell", "", "no", "–"]]
    ds = xr.Dataset({"stance": (("scenario", "side"), [[60.0, 61.0], [55.0, 58.0]], {"units": "%"}),
                     "rom": (("scenario", "coordinate"), [[10.0, 20.0], [11.0, 21.0]], {"units": "deg"}),
                     "deep": (("scenario", "side", "joint"), np.zeros((2, 2, 1)), {"units": "deg"})},
                    coords={"scenario": ["baseline", "s"], "side": ["right", "left"],
                            "coordinate": ["ankle_angle_r", "pelvis_tx"], "joint": ["ankle"]})
    rows = metrics_table(ds).layout.meta["rows"]
    assert rows == [["stance (right)", "%", "60", "55"], ["stance (left)", "%", "61", "58"],
                    ["rom (ankle_angle_r)", "deg", "10", "11"]]
    with pytest.raises(ParameterError, match="mapping"):
        metrics_table([1, 2])
    with pytest.raises(ParameterError, match="empty"):
        metrics_table({})


# ----------------------------------------------------------------------------- export
def test_figures_export_to_html(tmp_path):
    sim = demo_simulation()
    figs = [gait_curves(sim, normative=False), skeleton_animation(sim, every=20), grf_figure(sim),
            muscle_heatmap(sim), metrics_table(simulation_summary(sim))]
    p = tmp_path / "one.html"
    figs[1].write_html(p, include_plotlyjs=False)
    assert "Play" in p.read_text()
    page = write_report(tmp_path / "report.html", title="what if", sections=[(f"f{i}", f) for i, f in enumerate(figs)])
    text = page.read_text()
    assert text.count("Plotly.newPlot") == len(figs)
