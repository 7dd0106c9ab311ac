"""Population sampler: reproducible by seed, inside the documented prior ranges, rows back to bodies and scenarios."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from twin.errors import ParameterError
from twin.scenarios import AnkleFootOrthosis, Contracture, JointReplacement, MuscleWeakness, Spasticity
from twin.synth.population import (DEFAULT_PRIORS, IMPAIRMENTS, REFERENCE_MASS, Priors, sample_population, subject,
                                   subject_body, subject_scenarios)


@pytest.fixture(scope="module")
def pop():
    return sample_population(400, seed=11)


def test_reproducible_by_seed_and_prefix_stable(pop):
    again = sample_population(400, seed=11)
    assert pop.identical(again)
    other = sample_population(400, seed=12)
    assert not np.allclose(pop.height.values, other.height.values)
    head = sample_population(25, seed=11)
    assert head.drop_attrs().identical(pop.isel(subject=slice(0, 25)).drop_attrs())


def test_within_prior_ranges(pop):
    p = DEFAULT_PRIORS
    assert set(pop.sex.values.tolist()) == {"female", "male"}
    assert pop.height.min() >= p.height_range[0] and pop.height.max() <= p.height_range[1]
    assert pop.bmi.min() >= p.bmi_range[0] and pop.bmi.max() <= p.bmi_range[1]
    np.testing.assert_allclose(pop.mass.values, pop.bmi.values * pop.height.values ** 2)
    assert pop.age.min() >= 20 and pop.age.max() <= 80
    assert pop.target_speed.min() >= 0.9 and pop.target_speed.max() <= 1.7
    for v in ("strength", "strength_r", "strength_l"):
        assert pop[v].min() >= p.strength_range[0] and pop[v].max() <= p.strength_range[1]
    assert np.abs(pop.asymmetry.values).max() <= p.asymmetry_max
    # men are taller on average; strength falls with age
    men = pop.sex == "male"
    assert float(pop.height[men].mean()) > float(pop.height[~men].mean()) + 0.08
    young, old = pop.age < 35, pop.age > 65
    assert float(pop.strength[old].mean()) < float(pop.strength[young].mean())
    # about 30 % impaired, every kind present, parameters inside their ranges
    kinds = pop.impairment.values
    assert 0.2 < np.mean(kinds != "none") < 0.4
    assert set(kinds.tolist()) == {"none", *IMPAIRMENTS}
    w = pop.weakness_strength.values[kinds == "weakness"]
    assert np.all((w >= 0.3) & (w <= 0.9))
    assert np.all(np.isnan(pop.weakness_strength.values[kinds != "weakness"]))
    c = pop.contracture_fraction.values[kinds == "contracture"]
    assert np.all((c >= 0.05) & (c <= 0.25))
    a = pop.afo_stiffness.values[kinds == "afo"]
    assert np.all((a >= 50) & (a <= 300))
    assert set(pop.impairment_side.values[kinds != "none"].tolist()) <= {"r", "l", "both"}
    assert all(pop[v].attrs.get("units") for v in pop.data_vars)
    assert json.loads(pop.attrs["priors"])["bmi_range"] == [18.5, 35.0]


def test_strength_model():
    # a 30-year-old man of the reference mass without individual variation or asymmetry: strength 1
    p = dataclasses.replace(DEFAULT_PRIORS, female_fraction=0.0, strength_cv=0.0, asymmetry_sd=0.0,
                            age_range=(30.0, 30.0))
    pop = sample_population(20, seed=0, priors=p, impairment_rate=0.0)
    np.testing.assert_allclose(pop.strength.values, (pop.mass.values / REFERENCE_MASS) ** (2 / 3))
    old = sample_population(5, seed=0, impairment_rate=0.0,
                            priors=dataclasses.replace(p, age_range=(80.0, 80.0)))
    np.testing.assert_allclose(old.strength.values, 0.5 * (old.mass.values / REFERENCE_MASS) ** (2 / 3))
    assert set(old.impairment.values.tolist()) == {"none"}


def test_rows_to_body_and_scenarios(pop):
    kinds = pop.impairment.values
    types = {"weakness": MuscleWeakness, "contracture": Contracture, "spasticity": Spasticity,
             "tka": JointReplacement, "afo": AnkleFootOrthosis}
    for kind, cls in types.items():
        i = int(np.flatnonzero(kinds == kind)[0])
        sc = subject_scenarios(pop, i)
        assert isinstance(sc[-1], cls) and len(sc) == 3
        assert sc[-1].spec == str(pop.impairment_spec.values[i])
        s = subject(pop, i)
        assert len(s.notes) == 3
    i = int(np.flatnonzero(kinds == "none")[0])
    sc = subject_scenarios(pop, i)
    assert len(sc) == 2 and sc[0].strength == pytest.approx(float(pop.strength_r[i]))
    body = subject_body(pop, i)
    assert body.height == pytest.approx(float(pop.height[i]))
    assert body.mass == pytest.approx(float(pop.mass[i]))
    s = subject(pop, i)
    ref = body.muscle("soleus_l").max_isometric_force
    assert s.body.muscle("soleus_l").max_isometric_force == pytest.approx(ref * float(pop.strength_l[i]))


def test_errors():
    with pytest.raises(ParameterError, match="n="):
        sample_population(0, seed=0)
    with pytest.raises(ParameterError, match="impairment_rate"):
        sample_population(3, seed=0, impairment_rate=1.5)
    with pytest.raises(ParameterError, match="speeds"):
        sample_population(3, seed=0, speeds=(1.5, 1.0))
    with pytest.raises(ParameterError, match="priors"):
        sample_population(3, seed=0, priors={"bmi_mean": 25})
    with pytest.raises(ParameterError, match="height_mean"):
        Priors(height_mean={"male": 1.7})
    with pytest.raises(ParameterError, match="impairment_weights"):
        Priors(impairment_weights={"fracture": 1.0})
    with pytest.raises(ParameterError, match="i="):
        subject_body(sample_population(2, seed=0), 5)
