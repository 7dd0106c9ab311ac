"""A sampled population of walkers: bodies, impairments and target speeds as one label table.

:func:`sample_population` draws ``n`` subjects from documented priors
(:class:`Priors`, :data:`DEFAULT_PRIORS`) and returns an
:class:`xarray.Dataset` with dim ``subject`` whose variables are numbers
and strings only, so the Dataset *is* the label table of the synthetic
population (Yamada et al., Nat Commun 16:6188, 2025, sample bodies and
impairments the same way). :func:`subject_body` and
:func:`subject_scenarios` turn one row back into a
:class:`twin.model.BodyParams` and a list of :mod:`twin.scenarios`
objects; :func:`subject` applies them (a :class:`twin.scenarios.Subject`).

Priors
------
* **sex**: female with probability ``female_fraction`` (0.5).
* **height** [m]: sex-specific normal, US adults 20+ (NHANES 2015-2018;
  Fryar et al. 2021, Natl Health Stat Report / Vital Health Stat 3(46)):
  men about 1.75 m, women about 1.61 m, SD about 0.075 / 0.07 m (rounded;
  the SDs follow from the published 5th-95th percentiles); redrawn until
  inside ``height_range``. Country means of adult height span about
  1.50-1.83 m (NCD-RisC 2016, eLife 5:e13410), which the range covers.
* **mass** [kg] = BMI x height^2, BMI normal (mean 26, SD 4 kg/m^2),
  redrawn until inside ``bmi_range`` (18.5-35): between the global mean
  (about 24.5 in 2016, NCD-RisC 2017, Lancet 390:2627) and the US mean
  (about 29.5, Fryar et al. 2021); severe obesity is left out (the walking
  body has no soft-tissue model for it).
* **age** [years]: uniform in ``age_range`` (20-80).
* **strength** (factor on every muscle's maximum isometric force) =
  size x sex x age x individual:

  - size ``(mass / 75.16 kg) ** (2/3)``: the allometric normalisation of
    strength to body mass (Jaric 2002, Sports Med 32:615); the default
    body (1.80 m, 75.16 kg) is 1; :meth:`BodyParams.scaled` leaves forces
    unchanged, as OpenSim's scaling does;
  - sex: ``female_strength`` = 0.85 for women (lower skeletal-muscle mass
    per body mass: about 31 % vs 38 %, Janssen et al. 2000, J Appl Physiol
    89:81; smaller in the lower limbs);
  - age: ``1 - strength_loss_per_year x max(age - 30, 0)`` with 1 %/year
    (knee-extensor strength falls by roughly 8-15 % per decade from the
    fourth decade, Lindle et al. 1997, J Appl Physiol 83:1581, and about
    3 %/year in the eighth, Goodpaster et al. 2006, J Gerontol A 61:1059;
    1 %/year is the rounded mean over 30-80 years);
  - individual: lognormal with ``strength_cv`` = 10 %.

  The result is clipped to ``strength_range`` (0.3-1.5).
* **asymmetry**: right/left strength ``strength x (1 +/- a/2)``, ``a``
  normal with SD ``asymmetry_sd`` = 4 %, clipped to +-12 % (healthy
  side-to-side strength differences are usually below 10-15 %, Sapega
  1990, J Bone Joint Surg Am 72:1562).
* **impairment**: with probability ``impairment_rate`` (argument, default
  0.3) one impairment of the scenario catalogue, kind drawn with
  ``impairment_weights``; side right / left / both with
  ``side_weights`` (0.4 / 0.4 / 0.2):

  ============  ====================================================================
  kind          scenario and range (uniform)
  ============  ====================================================================
  weakness      :class:`~twin.scenarios.MuscleWeakness` of one group (plantarflexors,
                dorsiflexors, quadriceps, hamstrings, hip_flexors, hip_extensors) to
                30-90 % strength (gait tolerates plantarflexor weakness to about 40 %
                in simulation, van der Krogt et al. 2012, Gait Posture 36:113)
  contracture   :class:`~twin.scenarios.Contracture` of plantarflexors, hamstrings or
                iliopsoas, optimal fibre length 5-25 % shorter (Ong et al. 2019, PLoS Comput Biol
                15:e1006993 simulate plantarflexor contractures in this range)
  spasticity    :class:`~twin.scenarios.Spasticity` of plantarflexors, hamstrings or
                rect_fem, extra stretch-reflex gain 0.5-5 (controller units)
  tka           :class:`~twin.scenarios.JointReplacement` of the knee: default range
                0-110 deg, quadriceps inhibition 0-40 % (activation deficits of about
                17-25 % after TKA, Mizner et al. 2005, J Bone Joint Surg Am 87:1047),
                implant 0.4-0.7 kg
  afo           :class:`~twin.scenarios.AnkleFootOrthosis`, 50-300 N m/rad to neutral
                (passive-dynamic and leaf-spring AFOs are a few N m/deg)
  ============  ====================================================================

  A subject's side strength (age, sex, asymmetry) is applied first, the
  impairment on top.
* **target speed** [m/s]: uniform in ``speeds`` (0.9-1.7, the adult
  slow-to-fast range).

Controller
----------
Every subject walks with a **shipped controller** (``data/controllers/walk_*.json``,
whichever exist when :func:`twin.synth.generate` runs): the one
:func:`twin.twin.shipped_controller` prefers for its target speed first,
started on that controller's own gait cycle (its stored gait state, placed
vertically for the subject's leg length); if the subject falls, the
others are tried in turn, nearest speed first (:func:`twin.twin.controller_order`).
No controller is optimised per subject: CMA-ES
per subject costs minutes of CPU each on this machine's two cores, which
would make a 10,000-subject population weeks of work, and Yamada et al.
(2025) also drive all bodies with one fixed family of control policies.
The body, impairment and reflex changes (excitation scale, stretch gain)
then make the gait differ. A subject that falls with every controller is
an unstable walker: :func:`twin.synth.generate` keeps it out of the data
(``kept = False``, counted) instead of labelling a collapse as a gait.
``target_speed`` is therefore the speed a controller was *chosen* for;
the achieved speed is the label ``walking_speed``. The shipped controllers
are optimised for the default body and a few others; two of them
(``walk_robust.json``: bodies at 40-60 % strength; ``walk_impaired.json``:
single impairments) were made to carry the bodies the others drop (on the
first 160 subjects of ``sample_population(1000, seed=2026)``, 6 s, kept
57 % with the three older controllers, 79 % with all five). How many
sampled bodies they carry through a run is a property of the controllers
that ``twin bench synth`` measures (``kept_fraction``), not something these
priors are tuned to raise.

Examples
--------
>>> pop = sample_population(5, seed=1)
>>> pop.sizes["subject"], sorted(set(pop.sex.values.tolist())) <= ["female", "male"]
(5, True)
>>> bool(((pop.height > 1.3) & (pop.height < 2.1)).all())
True
>>> body = subject_body(pop, 0)
>>> round(body.height, 6) == round(float(pop.height[0]), 6)
True
>>> [type(s).__name__ for s in subject_scenarios(pop, 0)][:2]
['MuscleWeakness', 'MuscleWeakness']
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, check_param

__all__ = ["Priors", "DEFAULT_PRIORS", "sample_population", "subject_body", "subject_scenarios", "subject",
           "IMPAIRMENTS", "REFERENCE_MASS"]

#: Impairment kinds of the catalogue (plus "none").
IMPAIRMENTS = ("weakness", "contracture", "spasticity", "tka", "afo")

#: Mass of the default body (Gait10dof18musc, 1.80 m) [kg]: strength factor 1 at this mass.
REFERENCE_MASS = 75.1646


@dataclass(frozen=True)
class Priors:
    """Distributions :func:`sample_population` draws from (sources in the module docstring).

    Every field has a default; change some with :func:`dataclasses.replace`
    or ``Priors(height_sd={"female": 0.05, "male": 0.05})``.

    Attributes
    ----------
    female_fraction : float
    height_mean, height_sd : dict sex -> float
        [m]
    height_range : (float, float)
        [m], truncation.
    bmi_mean, bmi_sd : float
        [kg/m^2]
    bmi_range : (float, float)
    age_range : (float, float)
        [years], uniform.
    strength_onset_age : float
        [years]: strength loss starts here.
    strength_loss_per_year : float
        Fraction per year after the onset age.
    female_strength : float
        Strength factor of women relative to men of the same mass.
    size_exponent : float
        ``(mass / REFERENCE_MASS) ** size_exponent``.
    strength_cv : float
        Individual variation (lognormal SD of the log).
    strength_range : (float, float)
        Clip of the strength factors (MuscleWeakness allows (0, 1.5]).
    asymmetry_sd, asymmetry_max : float
        Right-left strength difference, fraction of the mean.
    impairment_weights : dict kind -> float
        Relative frequency of each kind in :data:`IMPAIRMENTS`.
    side_weights : dict side -> float
        ``r``, ``l``, ``both``.
    weakness_groups, contracture_groups, spasticity_groups : tuple of str
        Muscle groups (:mod:`twin.scenarios` names).
    weakness_strength, contracture_fraction, spasticity_gain, tka_inhibition, tka_implant_mass, afo_stiffness : (lo, hi)
        Uniform ranges (units: 1, 1, 1, 1, kg, N m/rad).

    Examples
    --------
    >>> p = dataclasses.replace(DEFAULT_PRIORS, female_fraction=1.0)
    >>> set(sample_population(3, seed=0, priors=p).sex.values.tolist())
    {'female'}
    """

    female_fraction: float = 0.5
    height_mean: dict = field(default_factory=lambda: {"female": 1.615, "male": 1.753})
    height_sd: dict = field(default_factory=lambda: {"female": 0.070, "male": 0.075})
    height_range: tuple = (1.40, 2.05)
    bmi_mean: float = 26.0
    bmi_sd: float = 4.0
    bmi_range: tuple = (18.5, 35.0)
    age_range: tuple = (20.0, 80.0)
    strength_onset_age: float = 30.0
    strength_loss_per_year: float = 0.01
    female_strength: float = 0.85
    size_exponent: float = 2.0 / 3.0
    strength_cv: float = 0.10
    strength_range: tuple = (0.3, 1.5)
    asymmetry_sd: float = 0.04
    asymmetry_max: float = 0.12
    impairment_weights: dict = field(default_factory=lambda: {"weakness": 0.3, "contracture": 0.2, "spasticity": 0.2,
                                                              "tka": 0.15, "afo": 0.15})
    side_weights: dict = field(default_factory=lambda: {"r": 0.4, "l": 0.4, "both": 0.2})
    weakness_groups: tuple = ("plantarflexors", "dorsiflexors", "quadriceps", "hamstrings", "hip_flexors",
                              "hip_extensors")
    weakness_strength: tuple = (0.3, 0.9)
    contracture_groups: tuple = ("plantarflexors", "hamstrings", "iliopsoas")
    contracture_fraction: tuple = (0.05, 0.25)
    spasticity_groups: tuple = ("plantarflexors", "hamstrings", "rect_fem")
    spasticity_gain: tuple = (0.5, 5.0)
    tka_inhibition: tuple = (0.0, 0.4)
    tka_implant_mass: tuple = (0.4, 0.7)
    afo_stiffness: tuple = (50.0, 300.0)

    def __post_init__(self) -> None:
        def unit(name):
            check_param(f"priors.{name}", getattr(self, name), minimum=0.0, maximum=1.0, types=(int, float))

        for name in ("female_fraction", "strength_loss_per_year", "female_strength", "strength_cv",
                     "asymmetry_sd", "asymmetry_max"):
            unit(name)
        for name in ("height_mean", "height_sd"):
            d = getattr(self, name)
            if not isinstance(d, dict) or set(d) != {"female", "male"}:
                raise ParameterError(f"priors.{name}={d!r} must be a dict with keys 'female' and 'male' [m]")
        for name in ("height_range", "bmi_range", "age_range", "strength_range", "weakness_strength",
                     "contracture_fraction", "spasticity_gain", "tka_inhibition", "tka_implant_mass",
                     "afo_stiffness"):
            lo, hi = _pair(f"priors.{name}", getattr(self, name))
            object.__setattr__(self, name, (lo, hi))
        for name, keys in (("impairment_weights", IMPAIRMENTS), ("side_weights", ("r", "l", "both"))):
            d = getattr(self, name)
            if not isinstance(d, dict) or not set(d) <= set(keys) or not d or \
                    any(not (isinstance(v, (int, float)) and v >= 0) for v in d.values()) or sum(d.values()) <= 0:
                raise ParameterError(f"priors.{name}={d!r} must map some of {', '.join(keys)} to non-negative "
                                     "weights with a positive sum")

    def to_dict(self) -> dict:
        """All fields as plain JSON-able values."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be two numbers (low, high)") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ParameterError(f"{name}={value!r} must be finite with low <= high")
    return lo, hi


#: The priors documented in the module docstring.
DEFAULT_PRIORS = Priors()

# variable -> (units, long name); strings have units "1"
_VARS = {
    "sex": ("1", "sex (female or male)"),
    "age": ("years", "age"),
    "height": ("m", "standing height"),
    "mass": ("kg", "body mass"),
    "bmi": ("kg/m^2", "body mass index"),
    "strength": ("1", "strength factor on max isometric force (size x sex x age x individual)"),
    "asymmetry": ("1", "right-left strength difference, fraction of the mean"),
    "strength_r": ("1", "strength factor of the right-leg muscles"),
    "strength_l": ("1", "strength factor of the left-leg muscles"),
    "target_speed": ("m/s", "target walking speed (picks the controller)"),
    "impairment": ("1", "impairment kind (none, " + ", ".join(IMPAIRMENTS) + ")"),
    "impairment_side": ("1", "side of the impairment (r, l, both; empty: none)"),
    "impairment_spec": ("1", "the impairment as a twin.scenarios.parse_scenario string (empty: none)"),
    "weakness_group": ("1", "weak muscle group (empty: none)"),
    "weakness_strength": ("1", "strength of the weak group, fraction (NaN: none)"),
    "contracture_group": ("1", "contracted muscle group (empty: none)"),
    "contracture_fraction": ("1", "contracture shortening, fraction of optimal fibre length (NaN: none)"),
    "spasticity_group": ("1", "spastic muscle group (empty: none)"),
    "spasticity_gain": ("1", "extra velocity stretch-reflex gain (NaN: none)"),
    "tka_inhibition": ("1", "quadriceps inhibition after knee replacement (NaN: none)"),
    "tka_implant_mass": ("kg", "knee implant mass (NaN: none)"),
    "afo_stiffness": ("N m/rad", "ankle-foot orthosis stiffness (NaN: none)"),
}
_STRINGS = ("sex", "impairment", "impairment_side", "impairment_spec", "weakness_group", "contracture_group",
            "spasticity_group")


def _truncated_normal(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    """A normal draw redrawn until inside [lo, hi] (clipped after 1000 tries)."""
    for _ in range(1000):
        x = rng.normal(mean, sd) if sd > 0 else mean
        if lo <= x <= hi:
            return float(x)
    return float(min(max(mean, lo), hi))


def _choice(rng: np.random.Generator, weights: dict) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _one_subject(rng: np.random.Generator, p: Priors, impairment_rate: float, speeds: tuple[float, float]) -> dict:
    sex = "female" if rng.random() < p.female_fraction else "male"
    height = _truncated_normal(rng, p.height_mean[sex], p.height_sd[sex], *p.height_range)
    bmi = _truncated_normal(rng, p.bmi_mean, p.bmi_sd, *p.bmi_range)
    mass = bmi * height ** 2
    age = float(rng.uniform(*p.age_range))
    size = (mass / REFERENCE_MASS) ** p.size_exponent
    sexf = p.female_strength if sex == "female" else 1.0
    agef = max(1.0 - p.strength_loss_per_year * max(age - p.strength_onset_age, 0.0), 0.05)
    indiv = float(np.exp(rng.normal(0.0, p.strength_cv))) if p.strength_cv > 0 else 1.0
    lo, hi = p.strength_range
    strength = float(np.clip(size * sexf * agef * indiv, lo, hi))
    asym = float(np.clip(rng.normal(0.0, p.asymmetry_sd), -p.asymmetry_max, p.asymmetry_max)) \
        if p.asymmetry_sd > 0 else 0.0
    row: dict[str, Any] = {
        "sex": sex, "age": age, "height": height, "mass": mass, "bmi": bmi, "strength": strength,
        "asymmetry": asym, "strength_r": float(np.clip(strength * (1 + asym / 2), lo, hi)),
        "strength_l": float(np.clip(strength * (1 - asym / 2), lo, hi)),
        "target_speed": float(rng.uniform(*speeds)),
        "impairment": "none", "impairment_side": "", "impairment_spec": "",
        "weakness_group": "", "weakness_strength": np.nan, "contracture_group": "", "contracture_fraction": np.nan,
        "spasticity_group": "", "spasticity_gain": np.nan, "tka_inhibition": np.nan, "tka_implant_mass": np.nan,
        "afo_stiffness": np.nan,
    }
    # always draw the same number of values, so a subject's body does not depend on its impairment draw
    u_imp = rng.random()
    kind = _choice(rng, p.impairment_weights)
    side = _choice(rng, p.side_weights)
    u = rng.random(3)
    if u_imp < impairment_rate:
        row["impairment"] = kind
        row["impairment_side"] = side

        def pick(groups):
            return groups[min(int(u[0] * len(groups)), len(groups) - 1)]

        def span(rng_pair, x):
            return float(rng_pair[0] + x * (rng_pair[1] - rng_pair[0]))

        if kind == "weakness":
            row["weakness_group"] = pick(p.weakness_groups)
            row["weakness_strength"] = span(p.weakness_strength, u[1])
        elif kind == "contracture":
            row["contracture_group"] = pick(p.contracture_groups)
            row["contracture_fraction"] = span(p.contracture_fraction, u[1])
        elif kind == "spasticity":
            row["spasticity_group"] = pick(p.spasticity_groups)
            row["spasticity_gain"] = span(p.spasticity_gain, u[1])
        elif kind == "tka":
            row["tka_inhibition"] = span(p.tka_inhibition, u[1])
            row["tka_implant_mass"] = span(p.tka_implant_mass, u[2])
        else:
            row["afo_stiffness"] = span(p.afo_stiffness, u[1])
        row["impairment_spec"] = _impairment(row).spec
    return row


def sample_population(n: int, *, seed: int, priors: Priors = DEFAULT_PRIORS, impairment_rate: float = 0.3,
                      speeds: tuple[float, float] = (0.9, 1.7)) -> xr.Dataset:
    """Draw ``n`` subjects (bodies, strength, impairment, target speed) from ``priors``.

    Parameters
    ----------
    n : int
        Number of subjects, >= 1.
    seed : int, keyword-only
        Seed; subject ``i`` comes from its own stream
        (``numpy.random.SeedSequence(seed).spawn``), so the first ``k``
        subjects are the same whatever ``n``.
    priors : Priors, keyword-only
        Default :data:`DEFAULT_PRIORS` (module docstring).
    impairment_rate : float, keyword-only
        Probability in [0, 1] that a subject has one impairment.
    speeds : (float, float), keyword-only
        Range of the uniform target speed [m/s], within (0, 3].

    Returns
    -------
    xarray.Dataset
        Dim ``subject`` (integer ids ``0..n-1``); the variables of the
        module docstring (numbers and strings; NaN / empty string where an
        impairment parameter does not apply), each with ``units`` and
        ``long_name``; ``attrs``: ``kind = "population"``, ``seed``,
        ``impairment_rate``, ``speeds``, ``priors`` (JSON).

    Raises
    ------
    ParameterError
        Bad ``n``, ``seed``, ``impairment_rate``, ``speeds`` or ``priors``.

    Examples
    --------
    >>> a = sample_population(4, seed=7)
    >>> b = sample_population(10, seed=7)
    >>> a.identical(b.isel(subject=slice(0, 4)).assign_attrs(a.attrs))
    True
    >>> a.height.attrs["units"], a.mass.attrs["units"]
    ('m', 'kg')
    """
    check_param("n", n, minimum=1, types=(int, np.integer))
    check_param("seed", seed, minimum=0, types=(int, np.integer))
    check_param("impairment_rate", impairment_rate, minimum=0.0, maximum=1.0, types=(int, float))
    if not isinstance(priors, Priors):
        raise ParameterError(f"priors must be a twin.synth.population.Priors, not {type(priors).__name__}; "
                             "start from DEFAULT_PRIORS with dataclasses.replace")
    lo, hi = _pair("speeds", speeds)
    if not 0.0 < lo <= hi <= 3.0:
        raise ParameterError(f"speeds={speeds!r} must satisfy 0 < low <= high <= 3 (m/s)")
    streams = np.random.SeedSequence(int(seed)).spawn(int(n))
    rows = [_one_subject(np.random.default_rng(s), priors, float(impairment_rate), (lo, hi)) for s in streams]
    data = {}
    for name, (units, long_name) in _VARS.items():
        values = [r[name] for r in rows]
        arr = np.array(values, dtype=str) if name in _STRINGS else np.array(values, dtype=float)
        data[name] = (("subject",), arr, {"units": units, "long_name": long_name})
    ds = xr.Dataset(data, coords={"subject": ("subject", np.arange(n, dtype=np.int64),
                                              {"units": "1", "long_name": "subject id"})})
    ds.attrs.update(kind="population", seed=int(seed), impairment_rate=float(impairment_rate), speeds=[lo, hi],
                    priors=json.dumps(priors.to_dict(), sort_keys=True),
                    source="twin.synth.sample_population",
                    history=f"sample_population(n={n}, seed={seed}, impairment_rate={impairment_rate:g}, "
                            f"speeds=({lo:g}, {hi:g}))")
    return ds


# ----------------------------------------------------------------------------- rows -> model objects


def _row(pop: xr.Dataset, i: int) -> dict:
    if not isinstance(pop, xr.Dataset) or "subject" not in pop.dims:
        raise ParameterError("pop must be a population Dataset from sample_population (dim 'subject')")
    missing = [k for k in _VARS if k not in pop.data_vars]
    if missing:
        raise DataError(f"the population Dataset lacks {', '.join(missing)}; make it with "
                        "twin.synth.sample_population")
    n = pop.sizes["subject"]
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= int(i) < n:
        raise ParameterError(f"i={i!r} must be a position 0..{n - 1} along 'subject'")
    out = {}
    for k in _VARS:
        v = pop[k].values[int(i)]
        out[k] = str(v) if k in _STRINGS else float(v)
    return out


@functools.lru_cache(maxsize=4)
def _default_body(marker_sets: tuple[str, ...] = ()):
    from ..model import BodyParams

    return BodyParams.default(lumbar=False, marker_sets=marker_sets)


def _marker_sets(marker_sets: Any) -> tuple[str, ...]:
    if isinstance(marker_sets, str):
        marker_sets = (marker_sets,)
    try:
        out = tuple(marker_sets)
    except TypeError:
        raise ParameterError(f"marker_sets={marker_sets!r} must be a sequence of marker-set names") from None
    if not all(isinstance(m, str) for m in out):
        raise ParameterError(f"marker_sets={marker_sets!r} must hold names such as 'plug_in_gait'")
    return out


def subject_body(pop: xr.Dataset, i: int, *, marker_sets: tuple[str, ...] = ()):
    """The scaled body of subject ``i`` (position along ``subject``).

    ``BodyParams.default(lumbar=False, marker_sets=marker_sets).scaled(height=...,
    mass=..., sex=...)`` (OpenSim-style geometry, de Leva 1996 segment
    masses for the subject's sex). Strength and impairments are in
    :func:`subject_scenarios`.

    Parameters
    ----------
    pop : xarray.Dataset
    i : int
    marker_sets : sequence of str, keyword-only
        Marker sets to carry (scaled with their segments), e.g.
        ``("plug_in_gait",)`` for virtual markers and gait labels; default none.

    Examples
    --------
    >>> pop = sample_population(2, seed=3)
    >>> b = subject_body(pop, 1)
    >>> round(b.mass, 6) == round(float(pop.mass[1]), 6)
    True
    """
    r = _row(pop, i)
    return _default_body(_marker_sets(marker_sets)).scaled(height=r["height"], mass=r["mass"], sex=r["sex"])


def _side_muscles(side: str) -> tuple[str, ...]:
    return tuple(m for m in _default_body().muscle_names if m.endswith(f"_{side}"))


def _impairment(r: dict):
    from ..scenarios import AnkleFootOrthosis, Contracture, JointReplacement, MuscleWeakness, Spasticity

    kind, side = r["impairment"], r["impairment_side"]
    sfx = "" if side == "both" else f"_{side}"
    if kind == "weakness":
        return MuscleWeakness(r["weakness_group"] + sfx, r["weakness_strength"])
    if kind == "contracture":
        return Contracture(r["contracture_group"] + sfx, r["contracture_fraction"])
    if kind == "spasticity":
        return Spasticity(r["spasticity_group"] + sfx, r["spasticity_gain"])
    if kind == "tka":
        return JointReplacement("knee", side=side, quadriceps_inhibition=r["tka_inhibition"],
                                implant_mass=r["tka_implant_mass"])
    if kind == "afo":
        return AnkleFootOrthosis(r["afo_stiffness"], side=side)
    if kind == "none":
        return None
    raise DataError(f"unknown impairment {kind!r} in the population; known: none, {', '.join(IMPAIRMENTS)}")


def subject_scenarios(pop: xr.Dataset, i: int) -> list:
    """The scenarios of subject ``i``: right and left strength, then its impairment (if any).

    Returns
    -------
    list of twin.scenarios.Scenario
        ``MuscleWeakness(<right-leg muscles>, strength_r)``,
        ``MuscleWeakness(<left-leg muscles>, strength_l)`` and, unless
        ``impairment == "none"``, the impairment's scenario.

    Examples
    --------
    >>> pop = sample_population(30, seed=0)
    >>> i = int(np.flatnonzero(pop.impairment.values != "none")[0])
    >>> subject_scenarios(pop, i)[-1].spec == str(pop.impairment_spec[i].values)
    True
    """
    from ..scenarios import MuscleWeakness

    r = _row(pop, i)
    out = [MuscleWeakness(_side_muscles("r"), r["strength_r"]), MuscleWeakness(_side_muscles("l"), r["strength_l"])]
    imp = _impairment(r)
    if imp is not None:
        out.append(imp)
    return out


def subject(pop: xr.Dataset, i: int, *, marker_sets: tuple[str, ...] = ()):
    """Subject ``i`` as a :class:`twin.scenarios.Subject` (body with its scenarios applied).

    ``marker_sets`` as :func:`subject_body`.

    Examples
    --------
    >>> pop = sample_population(1, seed=2)
    >>> s = subject(pop, 0)
    >>> len(s.notes) >= 2
    True
    """
    from ..scenarios import apply_scenarios

    return apply_scenarios(subject_body(pop, i, marker_sets=marker_sets), subject_scenarios(pop, i))
