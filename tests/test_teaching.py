"""twin.teaching: right answer -> correct, wrong -> a hint (never the answer), None -> not answered.

Synthetic data with answers known in closed form (square-wave force plates,
sinusoidal ankle angle and moment), the muscle curves' own definitions, and
one check on the real subject01 trial when TWIN_DATA_DIR has it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin import schema, teaching
from twin.errors import ParameterError

# ----------------------------------------------------------------------------- synthetic data
STRIDE = 1.0  # s
STANCE = 0.62  # fraction of the stride
T0 = 0.3  # first right strike [s]
RATE = 1000.0
AMP, MOM, W = 0.3, 80.0, 2 * math.pi / STRIDE  # ankle angle [rad], moment [N m], rad/s


def _recording():
    t = np.arange(0.0, 2.6, 1 / RATE)
    grf = np.zeros((t.size, 2, 3))
    for s, offset in enumerate((T0, T0 + STRIDE / 2)):
        phase = ((t - offset) / STRIDE) % 1.0
        grf[:, s, 1] = np.where(phase < STANCE, 700.0, 0.0)
    grf[t < T0, 0, 1] = 0.0  # the right foot comes down at T0 (no partial stance at the start)
    return schema.recording(t, grf=grf, plates=["right", "left"], plate_dim="side")


def _kinematics_dynamics():
    t = np.arange(0.0, 2.6, 0.01)
    coords = ["knee_angle_r", "ankle_angle_r"]
    q = np.stack([-0.5 - 0.4 * np.sin(W * t), AMP * np.sin(W * t)], 1)
    m = np.stack([np.zeros_like(t), MOM * np.cos(W * t) * (1 + 0.2 * t)], 1)  # growing: one peak per stride
    return schema.kinematics(t, q, coords), schema.dynamics(t, m, coords)


@pytest.fixture(scope="module")
def lab12():
    kin, dyn = _kinematics_dynamics()
    return {"rec": _recording(), "kin": kin, "dyn": dyn}


def _no_number_leak(message: str, value: float) -> None:
    for digits in (1, 2, 3):
        assert f"{value:.{digits}f}" not in message, message


# ----------------------------------------------------------------------------- basics
def test_every_exercise_unanswered_is_not_answered_without_data(capsys):
    for ex in teaching.exercises():
        r = teaching.evaluate(ex.key, None)
        assert r.status == "not answered" and not r
        assert "not answered yet" in r.message and ex.units in r.message
        teaching.check(ex.key, None)
        assert "not answered yet" in capsys.readouterr().out


def test_exercise_list_covers_the_four_labs():
    assert {e.lab for e in teaching.exercises()} == set(teaching.LABS)
    assert all(len(teaching.exercises(lab)) >= 4 for lab in teaching.LABS)
    with pytest.raises(ParameterError, match="lab9"):
        teaching.exercises("lab9")


def test_unknown_key_and_missing_data_raise_with_advice():
    with pytest.raises(ParameterError, match="did you mean 'lab3.optimal_length'"):
        teaching.evaluate("lab3.optimal_lenght", 1.0)
    with pytest.raises(ParameterError, match="missing: dyn"):
        teaching.evaluate("lab2.ankle_power", [1.0, 2.0], kin=_kinematics_dynamics()[0])


# ----------------------------------------------------------------------------- lab 1 (synthetic)
def test_lab1_cadence_and_stance(lab12, capsys):
    lab = teaching.Lab("lab1", **lab12)
    assert lab.evaluate("cadence", 120.0).status == "correct"  # 2 steps per 1 s stride
    r = lab.evaluate("cadence", 60.0)
    assert r.status == "incorrect" and "strides per minute" in r.message
    assert lab.evaluate("stance_pct", 100 * STANCE).status == "correct"
    r = lab.evaluate("stance_pct", 100 * (1 - STANCE))
    assert "swing" in r.message
    assert "percent" in lab.evaluate("stance_pct", STANCE).message  # a fraction instead of %
    assert lab.evaluate("lab1.first_right_strike", T0).status == "correct"  # prefix accepted
    r = lab.evaluate("first_right_strike", T0 + STANCE * STRIDE)
    assert "foot off" in r.message
    lab.check("cadence", 119.8)
    assert capsys.readouterr().out.strip() == "lab1.cadence: correct"
    summary = lab.summary()
    assert "lab1.cadence" in summary and "correct" in summary and "of 5 correct" in summary


def test_lab1_knee_flexion_sign_and_units(lab12):
    peak = math.degrees(0.9)  # knee = -0.5 - 0.4 sin: most flexed -0.9 rad
    assert teaching.evaluate("lab1.peak_knee_flexion", peak, **lab12).status == "correct"
    r = teaching.evaluate("lab1.peak_knee_flexion", -peak, **lab12)
    assert "sign" in r.message and "negative" in r.message
    r = teaching.evaluate("lab1.peak_knee_flexion", 0.9, **lab12)
    assert "radians" in r.message
    _no_number_leak(r.message, peak)


# ----------------------------------------------------------------------------- lab 2 (synthetic)
def test_lab2_power_series_and_peak(lab12):
    kin, dyn = lab12["kin"], lab12["dyn"]
    t = dyn.time.values
    moment = MOM * np.cos(W * t) * (1 + 0.2 * t)
    power = moment * AMP * W * np.cos(W * t)  # moment x d(angle)/dt, >= 0
    lab = teaching.Lab("lab2", **lab12, mass=70.0)
    assert lab.evaluate("ankle_power", power).status == "correct"
    assert lab.evaluate("ankle_power", dyn.moment.sel(coordinate="ankle_angle_r") * np.gradient(
        kin.q.sel(coordinate="ankle_angle_r"), t)).status == "correct"  # a DataArray, finite differences
    assert "sign" in lab.evaluate("ankle_power", -power).message
    assert "deg/s" in lab.evaluate("ankle_power", power * 180 / math.pi).message
    assert "one value per frame" in lab.evaluate("ankle_power", power[:-5]).message
    # the first right stride on the plates: T0 .. T0 + STRIDE
    w = (t >= T0) & (t <= T0 + STRIDE)
    peak = power[w].max()
    assert lab.evaluate("peak_ankle_power", peak).status == "correct"
    r = lab.evaluate("peak_ankle_power", peak * 1.5)
    assert r.status == "incorrect" and "too high" in r.message
    _no_number_leak(r.message, peak)
    assert "per kg" in lab.evaluate("peak_ankle_power", peak / 70.0).message
    pct = 100 * (t[w][power[w].argmax()] - T0) / STRIDE
    assert abs(pct - 70) < 2  # cos^2 peaks at t = 0.5 and 1.0 s; the growing moment picks 1.0 s
    assert lab.evaluate("push_off_pct", pct).status == "correct"
    assert "seconds" in lab.evaluate("push_off_pct", T0 + pct / 100 * STRIDE).message
    assert lab.evaluate("peak_plantarflexion_moment", (-moment[w]).max()).status == "correct"
    assert "sign" in lab.evaluate("peak_plantarflexion_moment", moment[w].min()).message
    tf = np.linspace(T0, T0 + STRIDE, 20001)  # positive work: the integral of the (positive) power
    work = np.trapezoid(MOM * np.cos(W * tf) ** 2 * (1 + 0.2 * tf) * AMP * W, tf)
    assert lab.evaluate("positive_work", work).status == "correct"
    assert lab.evaluate("positive_work", 2 * work).status == "incorrect"


def test_unavailable_when_the_data_cannot_give_the_answer(lab12):
    rec = lab12["rec"].sel(time=slice(0.0, 1.0))  # one right strike: no stride
    r = teaching.evaluate("lab1.cadence", 100.0, rec=rec)
    assert r.status == "unavailable" and "stride" in r.message


# ----------------------------------------------------------------------------- lab 3 (curves)
def test_lab3_curves():
    import torch

    from twin.engine.muscle import force_velocity

    fv = float(force_velocity(torch.tensor(-0.25, dtype=torch.float64)))
    assert teaching.evaluate("lab3.concentric_force", fv).status == "correct"
    r = teaching.evaluate("lab3.concentric_force", 1.4)
    assert "lengthening" in r.message
    _no_number_leak(r.message, fv)
    assert teaching.evaluate("lab3.optimal_length", 1.0).status == "correct"
    assert teaching.evaluate("lab3.optimal_length", 1.3).status == "incorrect"
    assert teaching.evaluate("lab3.tendon_force_3pct", 0.2 * math.exp(math.log(6) / 0.049 * 0.03) - 0.2
                             ).status == "correct"
    v = np.linspace(-1, 0, 20001)
    p = -v * force_velocity(torch.as_tensor(v)).numpy()
    assert teaching.evaluate("lab3.max_power_velocity", -v[p.argmax()]).status == "correct"
    assert "sign" in teaching.evaluate("lab3.max_power_velocity", v[p.argmax()]).message
    r = teaching.evaluate("lab3.fiber_limb", "sideways")
    assert "not one of" in r.message
    assert teaching.evaluate("lab3.optimal_length", "one").status == "incorrect"


def test_muscle_helpers_and_slack_length():
    L = teaching.muscle_tendon_length("soleus", "ankle_angle_r", np.radians([-20, 0, 20]))
    assert L.attrs["muscle"] == "soleus_r" and L.dims == ("angle",)
    assert np.all(np.diff(L.values) > 0)  # dorsiflexion stretches the soleus
    f = teaching.isometric_force("soleus_r", L)
    assert f.force.dims == ("angle",) and np.all(f.force.values > 0)
    longer = teaching.isometric_force("soleus_r", L, tendon_slack_scale=1.05)
    assert np.all(longer.norm_fiber_length.values < f.norm_fiber_length.values)
    ratio = float(longer.force[1] / f.force[1])
    assert teaching.evaluate("lab3.slack_force_ratio", ratio).status == "correct"
    assert "longer / default" in teaching.evaluate("lab3.slack_force_ratio", 1 / ratio).message
    with pytest.raises(ParameterError, match="no muscle"):
        teaching.isometric_force("biceps", [0.3])
    with pytest.raises(ParameterError, match="activation"):
        teaching.isometric_force("soleus_r", [0.3], activation=2.0)


# ----------------------------------------------------------------------------- lab 4 (synthetic)
def _sim():
    t = np.arange(0.0, 2.0, 0.01)
    coords = ["pelvis_tx", "ankle_angle_r"]
    q = np.zeros((2, t.size, 2))
    q[:, :, 0] = t
    q[0, :, 1] = 0.2 * np.sin(W * t)
    q[1, :, 1] = 0.3 * np.sin(W * t)  # 0.1 rad more dorsiflexion when weak
    force = np.zeros((2, t.size, 2))
    force[0, :, 0] = 3000 * np.abs(np.sin(W * t))
    force[1, :, 0] = 1200 * np.abs(np.sin(W * t))
    return schema.simulation(t, q=q, coordinates=coords, muscle_force=force, muscles=["soleus_r", "vasti_r"],
                             member_dims="scenario", members=["baseline", "weakness:soleus=0.4"])


def test_lab4_controller_and_simulation():
    ctrl = {"s0_sol": 0.2, "g_sol": 1.5, "g_gas": 2.0, "g_vas": 1.0, "g_rf": 0.0}
    lab = teaching.Lab("lab4", controller=ctrl, sim=_sim())
    assert lab.evaluate("soleus_stance_excitation", 0.2 + 1.5 * 0.3).status == "correct"
    assert "swing" in lab.evaluate("soleus_stance_excitation", 0.2).message
    assert "pre-stimulation" in lab.evaluate("soleus_stance_excitation", 1.5 * 0.3).message
    assert lab.evaluate("force_feedback_muscles", ["SOL", "gastroc_r", "vasti"]).status == "correct"
    r = lab.evaluate("force_feedback_muscles", {"soleus", "gastroc", "vasti", "rect_fem"})  # g_rf = 0 here
    assert r.status == "incorrect" and "do(es) not belong" in r.message
    assert "swing" in lab.evaluate("force_feedback_muscles", ["soleus", "gastroc", "vasti", "hamstrings"]).message
    assert "not muscle names" in lab.evaluate("force_feedback_muscles", ["biceps"]).message
    assert lab.evaluate("soleus_force_ratio", 0.4).status == "correct"
    assert "baseline / weakened" in lab.evaluate("soleus_force_ratio", 2.5).message
    assert lab.evaluate("dorsiflexion_change", math.degrees(0.1)).status == "correct"
    assert "sign" in lab.evaluate("dorsiflexion_change", -math.degrees(0.1)).message


# ----------------------------------------------------------------------------- real data
@pytest.mark.data
def test_lab1_on_subject01(data_file):
    import twin

    g = "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/"
    rec = twin.read([data_file(g + "subject01_walk.trc"), data_file(g + "subject01_walk_grf.mot")])
    st = twin.gait.spatiotemporal(rec, twin.gait.detect_events(rec, method="force"))
    lab = teaching.Lab("lab1", rec=rec)
    assert lab.evaluate("cadence", float(st.cadence.sel(side="right"))).status == "correct"
    assert lab.evaluate("stance_pct", float(st.stance_pct.sel(side="right"))).status == "correct"
    assert lab.evaluate("strike_offset_ms", 500.0).status == "incorrect"
