"""Intervention scenarios: each changes exactly what it says, composes in order, and rejects bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from twin.errors import ParameterError
from twin.model import BodyParams
from twin.scenarios import (
    GRAMMAR,
    MUSCLE_GROUPS,
    REPLACEMENT_RANGES,
    AnkleFootOrthosis,
    Contracture,
    JointMod,
    JointReplacement,
    MassChange,
    MuscleWeakness,
    Spasticity,
    Subject,
    TendonLengthening,
    apply_body_factors,
    apply_scenarios,
    body_factor_names,
    engine_inputs,
    expand_muscles,
    parse_scenario,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body():
    return BodyParams.default(lumbar=False, marker_sets=())


def _changed_muscles(before: BodyParams, after: BodyParams) -> dict[str, set[str]]:
    """muscle -> names of the fields that differ."""
    out = {}
    for a, b in zip(before.muscles, after.muscles):
        assert a.name == b.name
        diff = {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}
        if diff:
            out[a.name] = diff
    return out


def _changed_segments(before: BodyParams, after: BodyParams) -> dict[str, set[str]]:
    out = {}
    for a, b in zip(before.segments, after.segments):
        diff = {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}
        if diff:
            out[a.name] = diff
    return out


# ----------------------------------------------------------------------------- names


def test_expand_muscles(body):
    assert expand_muscles("soleus", body) == ("soleus_r", "soleus_l")
    assert expand_muscles("plantarflexors", body) == ("gastroc_r", "soleus_r", "gastroc_l", "soleus_l")
    assert expand_muscles("plantarflexors_l", body) == ("gastroc_l", "soleus_l")
    assert expand_muscles("hamstrings", body) == ("hamstrings_r", "bifemsh_r", "hamstrings_l", "bifemsh_l")
    assert expand_muscles("hamstrings_r", body) == ("hamstrings_r",)  # a full muscle name: that muscle only
    assert set(expand_muscles("quadriceps", body)) == {"vasti_r", "rect_fem_r", "vasti_l", "rect_fem_l"}
    assert set(expand_muscles("hip_flexors", body)) == {"iliopsoas_r", "rect_fem_r", "iliopsoas_l", "rect_fem_l"}
    assert set(expand_muscles("hip_extensors_r", body)) == {"glut_max_r", "hamstrings_r"}
    assert expand_muscles("dorsiflexors", body) == ("tib_ant_r", "tib_ant_l")
    for group, bases in MUSCLE_GROUPS.items():  # every group resolves on the default body
        assert len(expand_muscles(group, body)) == 2 * len(bases)
    with pytest.raises(ParameterError, match="unknown muscle 'biceps'.*valid: muscle names.*soleus_r"):
        expand_muscles("biceps", body)
    with pytest.raises(ParameterError, match="unknown muscle 'soleus_x'"):
        expand_muscles(["soleus", "soleus_x"], body)


# ----------------------------------------------------------------------------- each scenario


def test_weakness_scales_only_max_isometric_force(body):
    s = MuscleWeakness(["plantarflexors_r", "tib_ant"], 0.4).apply(body)
    changed = _changed_muscles(body, s.body)
    assert changed == {m: {"max_isometric_force"} for m in ("gastroc_r", "soleus_r", "tib_ant_r", "tib_ant_l")}
    for m in changed:
        assert s.body.muscle(m).max_isometric_force == pytest.approx(0.4 * body.muscle(m).max_isometric_force)
    assert _changed_segments(body, s.body) == {}
    assert dict(s.joints) == {} and dict(s.excitation_scale) == {} and dict(s.stretch_gain) == {}
    assert len(s.notes) == 1 and "x0.4" in s.notes[0] and s.body.history[-1] == s.notes[0]
    assert MuscleWeakness("soleus", 1.5).apply(body).body.muscle("soleus_l").max_isometric_force == \
        pytest.approx(1.5 * body.muscle("soleus_l").max_isometric_force)


@pytest.mark.parametrize("strength", [1.7, 0.0, -0.2, math.nan, "weak"])
def test_weakness_strength_range(strength):
    with pytest.raises(ParameterError, match=r"strength=.* must be .*\(0, 1\.5\]"):
        MuscleWeakness("soleus", strength)


def test_weakness_unknown_muscle(body):
    w = MuscleWeakness(["soleus", "deltoid"], 0.5)
    with pytest.raises(ParameterError, match="unknown muscle 'deltoid'.*gastroc_r"):
        w.apply(body)
    with pytest.raises(ParameterError, match="muscles="):
        MuscleWeakness([], 0.5)


def test_contracture(body):
    s = Contracture("gastroc", 0.25).apply(body)
    changed = _changed_muscles(body, s.body)
    assert changed == {m: {"optimal_fiber_length"} for m in ("gastroc_r", "gastroc_l")}  # the tendon is unchanged
    for m in changed:
        assert s.body.muscle(m).optimal_fiber_length == pytest.approx(0.75 * body.muscle(m).optimal_fiber_length)
        assert s.body.muscle(m).tendon_slack_length == body.muscle(m).tendon_slack_length
    for bad in (0.6, 0.5, -0.1):
        with pytest.raises(ParameterError, match=r"shortening=.* must be in \[0, 0\.5\)"):
            Contracture("soleus", bad)


def test_contracture_raises_passive_force(body):
    """The point of a contracture: more passive force at the same joint angle (engine, rigid tendon)."""
    from twin.engine.step import dynamics, initial_state

    p, _, _ = engine_inputs([body, Contracture("soleus_r", 0.2).apply(body)], dtype=torch.float64)
    q = p.q_default.clone()
    q[:, p.coordinate_names.index("ankle_angle_r")] = 0.2  # dorsiflexed: soleus stretched
    st = initial_state(p, q=q, activation=0.0)
    out = dynamics(p, st, torch.zeros(2, p.n_muscles, dtype=torch.float64))
    i = p.muscle_names.index("soleus_r")
    assert float(out.muscle_force[1, i]) > float(out.muscle_force[0, i]) + 10.0


def test_spasticity_accumulates(body):
    s = apply_scenarios(body, [Spasticity("gastroc", 2.0), Spasticity(["gastroc_r", "soleus_r"], 1.5)])
    assert dict(s.stretch_gain) == {"gastroc_r": 3.5, "gastroc_l": 2.0, "soleus_r": 1.5}
    assert s.body == body
    with pytest.raises(ParameterError, match=r"gain=11.* must be in \[0, 10\]"):
        Spasticity("soleus", 11)


def test_tendon_lengthening(body):
    s = TendonLengthening("soleus_r", 15).apply(body)
    assert _changed_muscles(body, s.body) == {"soleus_r": {"tendon_slack_length"}}
    assert s.body.muscle("soleus_r").tendon_slack_length == pytest.approx(
        body.muscle("soleus_r").tendon_slack_length + 0.015)
    for bad in (0, 61, -5):
        with pytest.raises(ParameterError, match=r"mm=.* must be in \(0, 60\]"):
            TendonLengthening("soleus", bad)


def test_body_factors(body):
    """Strength scales max isometric force, slack shifts the tendon slack length by optimal fibre lengths,
    both sides alike; neutral factors change nothing; bad names and values are refused."""
    names = body_factor_names(body)
    assert len(names) == 18 and "strength:soleus" in names and "slack:hamstrings" in names
    assert body_factor_names(body, kinds=("slack",))[0].startswith("slack:")
    b = apply_body_factors(body, {"strength:soleus": 0.7, "slack:hamstrings": -0.1, "strength:tib_ant": 1.2})
    assert _changed_muscles(body, b) == {"soleus_r": {"max_isometric_force"}, "soleus_l": {"max_isometric_force"},
                                         "tib_ant_r": {"max_isometric_force"}, "tib_ant_l": {"max_isometric_force"},
                                         "hamstrings_r": {"tendon_slack_length"},
                                         "hamstrings_l": {"tendon_slack_length"}}
    m0, m1 = body.muscle("hamstrings_l"), b.muscle("hamstrings_l")
    assert m1.tendon_slack_length == pytest.approx(m0.tendon_slack_length - 0.1 * m0.optimal_fiber_length)
    assert b.muscle("soleus_r").max_isometric_force == pytest.approx(0.7 * body.muscle("soleus_r").max_isometric_force)
    assert "soleus" in b.history[-1] and "hamstrings" in b.history[-1]
    neutral = apply_body_factors(body, {n: (1.0 if n.startswith("strength") else 0.0) for n in names})
    assert neutral.muscles == body.muscles
    for bad, message in (({"strength:soleus": 1.7}, r"\[0.5, 1.5\]"), ({"slack:soleus": -0.3}, r"\[-0.2, 0.2\]"),
                         ({"strength:soleus": float("nan")}, "must be a number"), ({"size:soleus": 1.0}, "KIND"),
                         ({"strength:quads": 1.0}, "unknown muscle 'quads'"), ({"strength": 1.0}, "KIND")):
        with pytest.raises(ParameterError, match=message):
            apply_body_factors(body, bad)
    with pytest.raises(ParameterError, match="kinds"):
        body_factor_names(body, kinds=("mass",))


def test_passive_body_factor(body):
    """passive scales the muscle's passive fibre strain (both sides), is not a default kind, and is bounded."""
    assert not any(n.startswith("passive:") for n in body_factor_names(body))
    assert len(body_factor_names(body, kinds=("passive",))) == 9
    b = apply_body_factors(body, {"passive:vasti": 2.5, "strength:vasti": 0.9})
    assert _changed_muscles(body, b) == {f"vasti_{s}": {"max_isometric_force", "passive_fiber_strain"} for s in "rl"}
    assert b.muscle("vasti_l").passive_fiber_strain == pytest.approx(2.5 * body.muscle("vasti_l").passive_fiber_strain)
    assert apply_body_factors(body, {"passive:rect_fem": 1.0}).muscles == body.muscles
    with pytest.raises(ParameterError, match=r"\[0.7, 3.5\]"):
        apply_body_factors(body, {"passive:vasti": 0.5})


def _inertia_about_origin(seg):
    xx, yy, zz, xy, xz, yz = seg.inertia
    ic = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    c = np.array(seg.com)
    return ic + seg.mass * (c @ c * np.eye(3) - np.outer(c, c))


def test_knee_replacement(body):
    tka = JointReplacement(side="r", stiffness=5.0, damping=1.0, implant_mass=0.6, quadriceps_inhibition=0.3)
    s = tka.apply(body)
    lo, hi = REPLACEMENT_RANGES["knee"]
    assert math.degrees(-lo) == pytest.approx(110.0) and hi == 0.0
    assert set(s.joints) == {"knee_angle_r"}
    mod = s.joints["knee_angle_r"]
    assert mod.range == (lo, hi) and mod.spring_k == 5.0 and mod.spring_rest == 0.0 and mod.damping == 1.0
    assert dict(s.excitation_scale) == pytest.approx({"rect_fem_r": 0.7, "vasti_r": 0.7})
    assert _changed_muscles(body, s.body) == {}
    assert _changed_segments(body, s.body) == {"tibia_r": {"mass", "com", "inertia"}}
    before, after = body.segment("tibia_r"), s.body.segment("tibia_r")
    assert s.body.mass == pytest.approx(body.mass + 0.6)
    knee = np.array(body.coordinate_joint("knee_angle_r").location_in_child)
    # first moment and inertia about the knee centre change exactly by those of a point mass there
    np.testing.assert_allclose(after.mass * np.array(after.com), before.mass * np.array(before.com) + 0.6 * knee,
                               atol=1e-12)
    assert np.allclose(knee, 0.0)  # the tibia frame's origin is the knee centre in this model
    np.testing.assert_allclose(_inertia_about_origin(after), _inertia_about_origin(before), atol=1e-12)
    assert "TKA (r)" in s.notes[0] and "implant 0.6 kg on tibia_r" in s.notes[0]


def test_replacement_both_sides_hip_ankle(body):
    s = JointReplacement("knee", side="both").apply(body)
    assert set(s.joints) == {"knee_angle_r", "knee_angle_l"} and s.body == body
    hip = JointReplacement("hip", side="l").apply(body)
    assert hip.joints["hip_flexion_l"].range == REPLACEMENT_RANGES["hip"]
    ankle = JointReplacement("ankle", side="r", range=(-0.3, 0.15)).apply(body)
    assert ankle.joints["ankle_angle_r"].range == (-0.3, 0.15)
    with pytest.raises(ParameterError, match="joint='knee' only"):
        JointReplacement("hip", implant_mass=0.5)
    with pytest.raises(ParameterError, match="joint='elbow' is not allowed"):
        JointReplacement("elbow")
    with pytest.raises(ParameterError, match=r"quadriceps_inhibition=1.* must be in \[0, 1\)"):
        JointReplacement(quadriceps_inhibition=1.0)
    with pytest.raises(ParameterError, match="side='x'"):
        JointReplacement(side="x")
    with pytest.raises(ParameterError, match="range="):
        JointReplacement(range=(0.5, -0.5))
    with pytest.raises(ParameterError, match="excludes the default pose"):  # knee default 0 outside
        JointReplacement(range=(-1.5, -0.2)).apply(body)


def test_afo_and_spring_combination(body):
    s = AnkleFootOrthosis(300.0, neutral_angle=0.1).apply(body)
    assert set(s.joints) == {"ankle_angle_r", "ankle_angle_l"}
    assert s.joints["ankle_angle_l"] == JointMod(spring_k=300.0, spring_rest=0.1)
    assert s.body == body
    s2 = AnkleFootOrthosis(100.0, neutral_angle=-0.1, side="r").apply(s)
    assert s2.joints["ankle_angle_r"].spring_k == 400.0
    assert s2.joints["ankle_angle_r"].spring_rest == pytest.approx((300 * 0.1 + 100 * -0.1) / 400)
    assert s2.joints["ankle_angle_l"].spring_k == 300.0
    with pytest.raises(ParameterError, match=r"stiffness=1200.* must be in \[0, 1000\]"):
        AnkleFootOrthosis(1200.0)
    with pytest.raises(ParameterError, match="do not overlap"):
        JointMod(range=(0.0, 0.1)).combined(JointMod(range=(0.2, 0.3)))


def test_mass_change(body):
    bp = MassChange("backpack", 10.0).apply(body)
    assert _changed_segments(body, bp.body) == {"torso": {"mass", "inertia"}}
    f = (body.segment("torso").mass + 10.0) / body.segment("torso").mass
    assert bp.body.segment("torso").inertia == pytest.approx(tuple(v * f for v in body.segment("torso").inertia))
    assert bp.body.mass == pytest.approx(body.mass + 10.0)
    thigh = MassChange("femur_l", -2.0).apply(body)
    assert set(_changed_segments(body, thigh.body)) == {"femur_l"}
    whole = MassChange("body", -15.0).apply(body)
    assert whole.body.mass == pytest.approx(body.mass - 15.0)
    k = (body.mass - 15.0) / body.mass
    for a, b in zip(body.segments, whole.body.segments):
        assert b.mass == pytest.approx(a.mass * k) and b.com == a.com
    with pytest.raises(ParameterError, match=r"kg=-5.0 must be in \[-4\.6"):  # femur 9.3 kg
        MassChange("femur_r", -5.0).apply(body)
    with pytest.raises(ParameterError, match="not a segment.*segments: pelvis"):
        MassChange("head", 2.0).apply(body)
    with pytest.raises(ParameterError, match=r"kg=150.* must be in"):
        MassChange("torso", 150.0)


def test_subject_validation(body):
    with pytest.raises(ParameterError, match="joints names coordinate 'lumbar_extension'"):
        Subject(body, joints={"lumbar_extension": JointMod(damping=1.0)})
    with pytest.raises(ParameterError, match=r"excitation_scale\['soleus_r'\]=-1"):
        Subject(body, excitation_scale={"soleus_r": -1.0})
    with pytest.raises(ParameterError, match=r"stretch_gain\['soleus_r'\]=25.* must be in \[0, 20\]"):
        apply_scenarios(body, ["spasticity:soleus=10", "spasticity:soleus=10", "spasticity:soleus_r=5"])
    with pytest.raises(ParameterError, match="must be a twin.model.BodyParams"):
        Subject("body")
    with pytest.raises(ParameterError, match="spring_rest=0.1 given without spring_k"):
        JointMod(spring_rest=0.1)
    s = Subject(body, excitation_scale={"soleus_r": 0.5})
    with pytest.raises(TypeError):
        s.excitation_scale["soleus_r"] = 1.0  # read-only


# ----------------------------------------------------------------------------- composition


def test_composition_is_in_order(body):
    a = apply_scenarios(body, [Contracture("soleus_r", 0.2), TendonLengthening("soleus_r", 20)])
    b = apply_scenarios(body, [TendonLengthening("soleus_r", 20), Contracture("soleus_r", 0.2)])
    lts, lopt = body.muscle("soleus_r").tendon_slack_length, body.muscle("soleus_r").optimal_fiber_length
    for s in (a, b):  # a contracture shortens the fibres, a lengthening the tendon: these two commute
        assert s.body.muscle("soleus_r").tendon_slack_length == pytest.approx(lts + 0.02)
        assert s.body.muscle("soleus_r").optimal_fiber_length == pytest.approx(lopt * 0.8)
    assert a.notes[0].startswith("soleus_r contracture") and a.notes[1].startswith("soleus_r tendon")
    assert b.notes[0].startswith("soleus_r tendon")
    # a Subject in, the earlier changes kept
    c = apply_scenarios(a, "spasticity:soleus_r=1")
    assert c.body == a.body and c.notes[:2] == a.notes and len(c.notes) == 3
    assert apply_scenarios(body, None) == Subject(body) == apply_scenarios(body, [])
    with pytest.raises(ParameterError, match="Scenario objects or strings"):
        apply_scenarios(body, [42])


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, expected",
    [
        ("weakness:soleus,gastroc=0.4", MuscleWeakness(("soleus", "gastroc"), 0.4)),
        ("contracture:hamstrings=0.2", Contracture("hamstrings", 0.2)),
        ("spasticity:gastroc_r=3", Spasticity("gastroc_r", 3.0)),
        ("tendon:gastroc=20", TendonLengthening("gastroc", 20.0)),
        ("tka", JointReplacement()),
        ("tka:both,inhibition=0.3,mass=0.5", JointReplacement(side="both", quadriceps_inhibition=0.3,
                                                              implant_mass=0.5)),
        ("replacement:hip,side=l", JointReplacement("hip", side="l")),
        ("replacement:ankle,range=-0.3:0.15", JointReplacement("ankle", range=(-0.3, 0.15))),
        ("afo:300", AnkleFootOrthosis(300.0)),
        ("afo:150,side=r,neutral=0.05", AnkleFootOrthosis(150.0, neutral_angle=0.05, side="r")),
        ("mass:backpack=10", MassChange("backpack", 10.0)),
        ("mass:body=-5", MassChange("body", -5.0)),
        (" Weakness : plantarflexors_r = 0.5 ", MuscleWeakness("plantarflexors_r", 0.5)),
    ],
)
def test_parse_scenario(text, expected):
    sc = parse_scenario(text)
    assert sc == expected
    assert parse_scenario(sc.spec) == sc  # spec round trip
    assert isinstance(sc.label, str) and sc.label


@pytest.mark.parametrize(
    "text, message",
    [
        ("weakness", "NAMES=VALUE"),
        ("weakness:soleus", "NAMES=VALUE"),
        ("weakness:soleus=strong", "is not a number"),
        ("weakness:,soleus=0.4", "NAMES=VALUE"),
        ("fly:wings=2", "unknown kind 'fly'"),
        ("tka:r,colour=blue", "option 'colour=blue' is not one of"),
        ("tka:r,range=1", "LO:HI"),
        ("afo:side=r", "afo needs a stiffness"),
        ("afo", "afo needs a stiffness"),
        ("replacement:side=r", "needs a joint"),
        ("mass:torso,pelvis=2", "one segment"),
        ("tka:r,,mass=1", "empty item"),
    ],
)
def test_parse_scenario_errors(text, message):
    with pytest.raises(ParameterError, match=message) as err:
        parse_scenario(text)
    assert "Grammar:" in str(err.value) and GRAMMAR.splitlines()[1] in str(err.value)


def test_parse_scenario_values_checked():
    with pytest.raises(ParameterError, match=r"strength=1.7 must be in \(0, 1\.5\]"):
        parse_scenario("weakness:soleus=1.7")
    with pytest.raises(ParameterError, match=r"shortening=0.6 must be in \[0, 0\.5\)"):
        parse_scenario("contracture:soleus=0.6")
    with pytest.raises(ParameterError, match="side='x'"):
        parse_scenario("tka:x")
    with pytest.raises(ParameterError, match="scenario must be a string"):
        parse_scenario(3)


# ----------------------------------------------------------------------------- engine


def test_engine_inputs_match_walking_params(body):
    from twin.control.sim import walking_params

    p, scale, gain = engine_inputs(Subject(body))
    ref = walking_params(body)
    for f in dataclasses.fields(ref):
        a, b = getattr(p, f.name), getattr(ref, f.name)
        if isinstance(a, torch.Tensor):
            assert a.dtype == b.dtype and torch.equal(a, b), f.name
        else:
            assert a == b, f.name
    assert torch.equal(scale, torch.ones(1, 18)) and torch.equal(gain, torch.zeros(1, 18))


def test_engine_inputs_batch(body):
    subjects = [
        Subject(body),
        apply_scenarios(body, "afo:250,side=r,neutral=0.1"),
        apply_scenarios(body, ["tka:l,inhibition=0.4,damping=2", "spasticity:soleus=2", "weakness:gastroc_r=0.5"]),
    ]
    p, scale, gain = engine_inputs(subjects, dtype=torch.float64)
    assert p.batch_size == 3 and p.dtype == torch.float64
    assert scale.shape == gain.shape == (3, p.n_muscles) and scale.dtype == torch.float64
    names, muscles = list(p.coordinate_names), list(p.muscle_names)
    ankle_r = names.index("ankle_angle_r")
    # the AFO changes spring_k (and the rest angle) of ankle_angle_r only
    diff = {f.name for f in dataclasses.fields(p)
            if isinstance(getattr(p, f.name), torch.Tensor) and getattr(p, f.name).ndim
            and getattr(p, f.name).shape[0] == 3 and not torch.equal(getattr(p, f.name)[0], getattr(p, f.name)[1])}
    assert diff == {"spring_k", "spring_rest"}
    changed = torch.nonzero(p.spring_k[1] != p.spring_k[0]).flatten().tolist()
    assert changed == [ankle_r] and float(p.spring_k[1, ankle_r]) == 250.0
    assert float(p.spring_rest[1, ankle_r]) == pytest.approx(0.1)
    # the TKA member: knee range, damping, excitation scale; spasticity and weakness
    knee_l = names.index("knee_angle_l")
    assert float(p.q_lo[2, knee_l]) == pytest.approx(REPLACEMENT_RANGES["knee"][0])
    assert float(p.q_hi[2, knee_l]) == 0.0 and float(p.q_lo[0, knee_l]) != float(p.q_lo[2, knee_l])
    assert float(p.joint_damping[2, knee_l]) == 2.0 and float(p.joint_damping[0, knee_l]) == 0.0
    assert scale[2, muscles.index("vasti_l")] == pytest.approx(0.6)
    assert scale[2, muscles.index("vasti_r")] == 1.0
    assert gain[2, muscles.index("soleus_l")] == 2.0 and gain[2, muscles.index("gastroc_l")] == 0.0
    g = muscles.index("gastroc_r")
    assert float(p.fmax[2, g]) == pytest.approx(0.5 * float(p.fmax[0, g]))


def test_engine_inputs_errors(body):
    with pytest.raises(ParameterError, match="no subject"):
        engine_inputs([])
    lumbar = BodyParams.default(marker_sets=())
    with pytest.raises(ParameterError):  # different structure (lumbar joint)
        engine_inputs([body, lumbar])


def test_short_simulation_runs(body):
    from twin.engine import simulate
    from twin.schema import validate

    subjects = [Subject(body), apply_scenarios(body, ["tka:both,damping=1", "afo:200", "mass:backpack=10"])]
    p, _, _ = engine_inputs(subjects)
    ds = simulate(p, None, 0.2, record_every=20, num_threads=1)
    validate(ds)
    assert ds.sizes["batch"] == 2 and ds.sizes["time"] == 10
    assert not bool(ds.failed.any())
    assert np.isfinite(ds.q.values).all()
