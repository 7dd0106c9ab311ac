"""A fast surrogate of the simulator: body/scenario parameters -> mean gait cycle and speed, cadence.

The what-if widgets need an answer in well under a second; a rollout takes
seconds to minutes on a CPU. :class:`Surrogate` is a small MLP trained on
simulated (parameters, outcome) pairs:

* parameters (:data:`PARAMETERS`, a vector per sample): height [m], mass
  [kg], plantarflexor strength, quadriceps strength (fractions of the
  body's maximum isometric force), hamstring contracture (fraction
  shorter), ankle-foot-orthosis stiffness [N m/rad]; each input is scaled
  to [-1, 1] by its range;
* outcome (what the physics gives, :func:`simulate_outcomes`): the default
  body scaled to height and mass (:meth:`BodyParams.scaled`), the scenarios
  applied (:mod:`twin.scenarios`), walked by the shipped reflex controller
  (:func:`twin.control.sim.rollout`, 1 ms steps, recorded at 100 Hz) from its
  own gait cycle (its ``initial_state``, placed for each body); after
  ``settle`` s, the mean gait cycle of hip flexion, knee angle and ankle
  angle (both sides' strides, 101 points, :func:`twin.synth.gait_labels`)
  [deg], the overall cadence [steps/min] of those strides and the
  forward pelvis speed after 2 s of the rollout [m/s]. Members that fall,
  or make no full stride per side, are left out.

Network: inputs -> ``hidden`` -> ``hidden`` -> 3 x 101 + 2 (GELU), outputs
standardised by the training set's mean and SD per output; full-batch AdamW.
A prediction is one forward pass (well under a millisecond for one sample;
:meth:`Surrogate.predict` with its xarray packaging takes about a
millisecond).

It approximates *this* simulator with *this* controller, unadapted: where
that controller falls (e.g. a hamstring contracture of 5 % or more, or
quadriceps below about 80 % strength, with ``walk_default.json`` of this
version) there is no outcome to learn, and the surrogate's answer there is
an extrapolation. Retrain it (:func:`train_surrogate`) when the controller
changes.

Saved like the estimators (a folder with ``weights.pt`` and
``config.json``, written atomically; format :data:`FORMAT`; the config holds
the parameter names, units and ranges, the output layout, the
normalisation, the training options and the held-out error).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> rng = np.random.default_rng(0)
>>> p = sample_parameters(64, seed=0)
>>> phase = np.linspace(0, 2 * np.pi, 101)
>>> curves = 20 * np.sin(phase)[None, None] * (p[:, :1, None] / 1.8)   # a toy "simulator"
>>> out = {"joint_angle": np.repeat(curves, 3, 1), "walking_speed": p[:, 0] / 1.5, "cadence": 100 + p[:, 2]}
>>> s = train_surrogate(p, out, epochs=300, seed=0)
>>> s.predict(p[0]).joint_angle.dims
('joint', 'cycle_pct')
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..errors import DataError, ParameterError, ReadError, check_param
from ..synth.population import DEFAULT_PRIORS
from .models import _read_folder, _save_folder

__all__ = ["PARAMETERS", "PARAMETER_NAMES", "JOINTS", "Surrogate", "sample_parameters", "simulate_outcomes",
           "train_surrogate", "load_surrogate", "rms_deg", "FORMAT", "POPULATION_PARAMETERS",
           "POPULATION_PARAMETER_NAMES", "population_inputs", "population_outcomes", "train_on_population"]

#: Format tag of saved surrogates.
FORMAT = "twin.learn.Surrogate/1"
#: (name, units, low, high, meaning)
PARAMETERS: tuple[tuple[str, str, float, float, str], ...] = (
    ("height", "m", 1.60, 1.95, "body height (default body scaled)"),
    ("mass", "kg", 55.0, 95.0, "body mass"),
    ("plantarflexor_strength", "1", 0.5, 1.0, "soleus + gastrocnemius max isometric force factor, both sides"),
    ("quadriceps_strength", "1", 0.5, 1.0, "vasti + rectus femoris max isometric force factor, both sides"),
    ("hamstring_contracture", "1", 0.0, 0.2, "hamstrings shortening fraction, both sides"),
    ("afo_stiffness", "N m/rad", 0.0, 200.0, "ankle-foot orthosis spring, both sides"),
)
PARAMETER_NAMES = tuple(p[0] for p in PARAMETERS)
#: Joint curves predicted (gait_labels joint names), in order.
JOINTS = ("hip_flexion", "knee_angle", "ankle_angle")
_N = 101

# inputs of a surrogate trained on a synthetic population (twin.synth): the population's own
# variables (twin.synth.population), one severity column per impairment kind and muscle group of
# the sampler's default priors
_GROUPS = {"weakness": DEFAULT_PRIORS.weakness_groups, "contracture": DEFAULT_PRIORS.contracture_groups,
           "spasticity": DEFAULT_PRIORS.spasticity_groups}
# the shipped controllers the factory chooses from: which one walked a subject shapes its gait as much as
# its body does (held-out RMS of a population surrogate 6.4 deg without this input, 2.1 deg with it)
_CONTROLLERS = ("walk_default", "walk_slow", "walk_fast", "walk_robust", "walk_impaired")
#: (name, units, low, high, meaning) of :func:`population_inputs` (ranges: DEFAULT_PRIORS' and
#: sample_population's defaults; they only scale the inputs)
POPULATION_PARAMETERS: tuple[tuple[str, str, float, float, str], ...] = (
    ("height", "m", 1.40, 2.05, "standing height"),
    ("mass", "kg", 35.0, 150.0, "body mass"),
    ("strength_r", "1", 0.3, 1.5, "strength factor of the right-leg muscles"),
    ("strength_l", "1", 0.3, 1.5, "strength factor of the left-leg muscles"),
    ("target_speed", "m/s", 0.9, 1.7, "target walking speed (the factory picks the controller by it)"),
    ("impaired_r", "1", 0.0, 1.0, "the impairment acts on the right leg (0 or 1)"),
    ("impaired_l", "1", 0.0, 1.0, "the impairment acts on the left leg (0 or 1)"),
) + tuple((f"weakness_{g}", "1", 0.0, 1.0, f"{g}: 1 - strength of the weak group (0: not weak)")
          for g in _GROUPS["weakness"]) \
  + tuple((f"contracture_{g}", "1", 0.0, 0.25, f"{g}: contracture shortening fraction (0: none)")
          for g in _GROUPS["contracture"]) \
  + tuple((f"spasticity_{g}", "1", 0.0, 5.0, f"{g}: stretch-reflex gain (0: none)") for g in _GROUPS["spasticity"]) \
  + (("tka_inhibition", "1", 0.0, 0.4, "knee replacement: quadriceps inhibition (0: none)"),
     ("tka_implant_mass", "kg", 0.0, 0.7, "knee replacement: implant mass (0: none)"),
     ("afo_stiffness", "N m/rad", 0.0, 300.0, "ankle-foot orthosis spring (0: none)")) \
  + tuple((f"controller_{c}", "1", 0.0, 1.0, f"walked by data/controllers/{c}.json (0 or 1)") for c in _CONTROLLERS)
POPULATION_PARAMETER_NAMES = tuple(p[0] for p in POPULATION_PARAMETERS)


def _lo_hi(table: tuple = PARAMETERS) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p[2] for p in table]), np.array([p[3] for p in table])


def _check_params(params: Any, table: tuple = PARAMETERS) -> tuple[np.ndarray, bool]:
    x = np.asarray(params, float)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    if x.ndim != 2 or x.shape[1] != len(table):
        raise ParameterError(f"parameters must have {len(table)} values per sample "
                             f"({', '.join(p[0] for p in table)}); got shape {np.shape(params)}")
    if not np.isfinite(x).all():
        raise ParameterError("parameters contain NaN/inf")
    return x, single


def sample_parameters(n: int, *, seed: int = 0, impairments: str = "single") -> np.ndarray:
    """``n`` parameter vectors in the ranges of :data:`PARAMETERS` (seeded).

    Height and mass: Latin hypercube over their ranges. ``impairments``:
    ``"single"`` (default) -- half of the samples unchanged, the others one
    of the four changes (plantarflexor or quadriceps strength, hamstring
    contracture, AFO stiffness; equally likely) at a uniform severity, the
    others at no change, as the what-if explorer and the population sampler
    change a body; ``"all"`` -- every parameter over its whole range at
    once (Latin hypercube; most such bodies fall with the unadapted
    controller, so few samples give outcomes).
    """
    check_param("n", n, minimum=1, types=(int, np.integer))
    if impairments not in ("single", "all"):
        raise ParameterError(f"impairments={impairments!r}: use 'single' or 'all'")
    rng = np.random.default_rng(int(seed))
    lo, hi = _lo_hi()
    u = (np.stack([rng.permutation(int(n)) for _ in PARAMETERS], 1) + rng.random((int(n), len(PARAMETERS)))) / int(n)
    x = lo + u * (hi - lo)
    if impairments == "all":
        return x
    none = np.array([1.0, 1.0, 0.0, 0.0])  # plantarflexor, quadriceps strength; contracture; AFO: no change
    out = x.copy()
    out[:, 2:] = none
    changed = rng.random(int(n)) < 0.5
    which = rng.integers(0, 4, int(n))
    for i in np.flatnonzero(changed):
        out[i, 2 + which[i]] = x[i, 2 + which[i]]
    return out


def _subject(p: np.ndarray):
    from ..scenarios import AnkleFootOrthosis, Contracture, MuscleWeakness, Subject, apply_scenarios

    base = _base_body()
    if abs(p[0] - base.height) < 1e-9 and abs(p[1] - base.mass) < 1e-9:
        body = base
    else:  # the model's own mass distribution, scaled (de Leva's would change every segment at once)
        body = base.scaled(height=float(p[0]), mass=float(p[1]), mass_distribution="model")
    items = []
    if p[2] < 0.999:
        items.append(MuscleWeakness("plantarflexors", float(p[2])))
    if p[3] < 0.999:
        items.append(MuscleWeakness("quadriceps", float(p[3])))
    if p[4] > 1e-3:
        items.append(Contracture("hamstrings", float(p[4])))
    if p[5] > 1e-3:
        items.append(AnkleFootOrthosis(float(p[5])))
    return apply_scenarios(Subject(body), items) if items else Subject(body)


def _base_body():
    from ..model import BodyParams

    return BodyParams.default(lumbar=False)


def simulate_outcomes(params: Any, *, duration: float = 6.0, settle: float = 1.0, batch: int = 64,
                      progress: bool = False) -> dict:
    """Simulate each parameter vector with the shipped controller; the outcomes of the module docstring.

    Parameters
    ----------
    params : array (n, len(PARAMETERS))
    duration, settle : float
        Simulated and discarded seconds.
    batch : int, default 64
        Members per engine batch.

    Returns
    -------
    dict
        ``joint_angle`` (n, 3, 101) [deg], ``walking_speed`` (n,) [m/s],
        ``cadence`` (n,) [steps/min] (NaN where invalid), ``valid`` (n,)
        bool, ``seconds`` (wall time), ``controller`` (file).
    """
    from ..control.reflex import ReflexController
    from ..control.sim import DT, body_start_state, initial_walking_state, rollout, rollout_dataset
    from ..scenarios import engine_inputs
    from ..synth.labels import gait_labels
    from ..twin import shipped_controller

    x, _ = _check_params(params)
    check_param("duration", duration, minimum=0.5, maximum=120.0, types=(int, float))
    doc = shipped_controller()
    n = x.shape[0]
    ja = np.full((n, len(JOINTS), _N), np.nan)
    sp = np.full(n, np.nan)
    cad = np.full(n, np.nan)
    t0 = time.perf_counter()
    for s in range(0, n, int(batch)):
        chunk = x[s:s + int(batch)]
        subs = [_subject(p) for p in chunk]
        params_e, exc, stretch = engine_inputs(subs, dtype=torch.float32, rigid_tendon=doc["rigid_tendon"])
        b = len(subs)
        vec = np.repeat(np.asarray(doc["vector"], float)[None], b, 0)
        ini = np.repeat(np.asarray(doc["initial"], float)[None], b, 0)
        c = ReflexController(params_e, dt=DT, excitation_scale=exc, stretch_gain=stretch)
        with torch.no_grad():
            start = initial_walking_state(params_e, ini)
            if doc.get("initial_state"):  # on the controller's gait cycle, placed for each body
                start = body_start_state(params_e, doc["initial_state"], fallback=start)
            r = rollout(params_e, c, c.init(b, vec), start, float(duration), record_every=10)
        ds = rollout_dataset(r, dim="batch")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lab = gait_labels(ds, body=[sub.body for sub in subs], settle=settle)
        fell = np.asarray(ds["fell"].values, bool)
        joints = [str(j) for j in lab["joint"].values] if "joint_angle" in lab else []
        for k in range(b):
            if fell[k] or not int(lab["valid"].values[k]):
                continue
            # speed: the rollout's forward pelvis speed after settling (defined even for shuffling gaits, whose
            # per-stride speed gait_labels may leave NaN); cadence and curves from the strides
            v = float(ds["speed"].values[k])
            cd = float(lab["cadence"].sel(side="overall").values[k])
            curves = np.full((len(JOINTS), _N), np.nan)
            for ji, j in enumerate(JOINTS):
                if j in joints:
                    curves[ji] = np.degrees(lab["joint_angle"].sel(side="overall", joint=j).values[k])
            if np.isfinite(curves).all() and np.isfinite(v) and np.isfinite(cd):
                ja[s + k], sp[s + k], cad[s + k] = curves, v, cd
        if progress:
            print(f"simulated {min(s + b, n)}/{n} ({time.perf_counter() - t0:.0f} s)", flush=True)
    valid = np.isfinite(sp) & np.isfinite(cad) & np.isfinite(ja).all(axis=(1, 2))
    return {"joint_angle": ja, "walking_speed": sp, "cadence": cad, "valid": valid,
            "seconds": time.perf_counter() - t0, "controller": Path(doc.get("path", "")).name}


def population_inputs(pop: xr.Dataset, *, controller: str = "walk_default") -> np.ndarray:
    """The surrogate inputs (:data:`POPULATION_PARAMETERS`) of each subject of a population.

    Parameters
    ----------
    pop : xarray.Dataset
        A population (dim ``subject``): :func:`twin.synth.sample_population`'s
        (no simulation needed: a trained surrogate predicts for new subjects)
        or a store read by :func:`twin.synth.load_population`.
    controller : str, keyword-only, default ``"walk_default"``
        The shipped controller (``data/controllers`` name, with or without
        ``.json``) of subjects without a ``controller`` variable (a sampled,
        not yet simulated population); a simulated store's own ``controller``
        (the one that walked each subject) takes precedence.

    Returns
    -------
    array (subject, len(POPULATION_PARAMETERS))

    Raises
    ------
    DataError
        A variable missing, or an impairment kind, side or muscle group this
        table has no column for (named).

    Examples
    --------
    >>> from twin.synth import sample_population
    >>> x = population_inputs(sample_population(5, seed=1))
    >>> x.shape == (5, len(POPULATION_PARAMETERS))
    True
    """
    if not isinstance(pop, xr.Dataset) or "subject" not in pop.dims:
        raise DataError("pop must be a population Dataset (dim 'subject'): twin.synth.sample_population or "
                        "twin.synth.load_population")
    need = ("height", "mass", "strength_r", "strength_l", "target_speed", "impairment", "impairment_side",
            "weakness_group", "weakness_strength", "contracture_group", "contracture_fraction", "spasticity_group",
            "spasticity_gain", "tka_inhibition", "tka_implant_mass", "afo_stiffness")
    missing = [v for v in need if v not in pop.data_vars]
    if missing:
        raise DataError(f"population lacks {', '.join(missing)} (not a twin.synth population?)")
    col = {name: k for k, name in enumerate(POPULATION_PARAMETER_NAMES)}
    v = {name: np.asarray(pop[name].values) for name in need}
    n = pop.sizes["subject"]
    x = np.zeros((n, len(POPULATION_PARAMETERS)))
    for name in ("height", "mass", "strength_r", "strength_l", "target_speed"):
        x[:, col[name]] = v[name].astype(float)
    for i in range(n):
        kind = str(v["impairment"][i])
        if kind in ("", "none"):
            continue
        side = str(v["impairment_side"][i])
        if side not in ("r", "l", "both"):
            raise DataError(f"subject {i}: impairment_side {side!r} is not r, l or both")
        x[i, col["impaired_r"]] = float(side in ("r", "both"))
        x[i, col["impaired_l"]] = float(side in ("l", "both"))
        if kind in _GROUPS:
            group = str(v[f"{kind}_group"][i])
            name = f"{kind}_{group}"
            if name not in col:
                raise DataError(f"subject {i}: {kind} of {group!r} has no surrogate input (groups: "
                                f"{', '.join(_GROUPS[kind])})")
            if kind == "weakness":
                x[i, col[name]] = 1.0 - float(v["weakness_strength"][i])
            elif kind == "contracture":
                x[i, col[name]] = float(v["contracture_fraction"][i])
            else:
                x[i, col[name]] = float(v["spasticity_gain"][i])
        elif kind == "tka":
            x[i, col["tka_inhibition"]] = float(v["tka_inhibition"][i])
            x[i, col["tka_implant_mass"]] = float(v["tka_implant_mass"][i])
        elif kind == "afo":
            x[i, col["afo_stiffness"]] = float(v["afo_stiffness"][i])
        else:
            raise DataError(f"subject {i}: impairment kind {kind!r} has no surrogate input")
    names = np.asarray(pop["controller"].values).astype(str) if "controller" in pop.data_vars \
        else np.full(n, str(controller))
    for i, c in enumerate(names):
        c = c[:-5] if c.endswith(".json") else c
        if c == "":  # a subject no controller walked (fell with all): no outcome to learn
            continue
        if f"controller_{c}" not in col:
            raise DataError(f"subject {i}: controller {c!r} has no surrogate input (shipped: {', '.join(_CONTROLLERS)})")
        x[i, col[f"controller_{c}"]] = 1.0
    if not np.isfinite(x).all():
        bad = sorted({POPULATION_PARAMETER_NAMES[j] for j in np.flatnonzero(~np.isfinite(x).all(0))})
        raise DataError(f"population inputs {', '.join(bad)} are NaN for some subject")
    return x


def population_outcomes(pop: xr.Dataset) -> dict:
    """The outcomes of a simulated population, as :func:`simulate_outcomes` returns them.

    ``joint_angle`` (subject, 3, 101) [deg]: the mean cycle over both sides'
    strides (``label_side="overall"``) of :data:`JOINTS`; ``walking_speed``
    [m/s] (the strides' speed, the run's mean pelvis speed where that is
    NaN); ``cadence`` [steps/min]; ``valid``: kept (no fall) with labels.

    Raises
    ------
    DataError
        Not a simulated population (no ``joint_angle`` labels).
    """
    need = ("joint_angle", "walking_speed", "cadence", "kept", "labels_valid")
    if not isinstance(pop, xr.Dataset) or any(k not in pop.data_vars for k in need):
        raise DataError("pop must be a simulated population (twin.synth.load_population) with "
                        f"{', '.join(need)}")
    missing = [j for j in JOINTS if j not in [str(k) for k in pop["joint"].values]]
    if missing:
        raise DataError(f"population joint_angle lacks {', '.join(missing)}")
    ja = np.degrees(np.asarray(pop["joint_angle"].sel(label_side="overall", joint=list(JOINTS)).values, float))
    sp = np.asarray(pop["walking_speed"].sel(label_side="overall").values, float)
    if "mean_speed" in pop.data_vars:
        sp = np.where(np.isfinite(sp), sp, np.asarray(pop["mean_speed"].values, float))
    cad = np.asarray(pop["cadence"].sel(label_side="overall").values, float)
    valid = np.asarray(pop["kept"].values, bool) & np.asarray(pop["labels_valid"].values, bool) & \
        np.isfinite(sp) & np.isfinite(cad) & np.isfinite(ja).all(axis=(1, 2))
    return {"joint_angle": ja, "walking_speed": sp, "cadence": cad, "valid": valid}


def train_on_population(pop: Any, *, holdout: float = 0.2, seed: int = 0, epochs: int = 2000,
                        hidden: int = 128) -> Surrogate:
    """Train a surrogate on a simulated population and score it on subjects it did not see.

    Parameters
    ----------
    pop : xarray.Dataset or path
        A store written by :func:`twin.synth.generate` (path), or its
        Dataset (:func:`twin.synth.load_population`).
    holdout : float, keyword-only, default 0.2
        Fraction of the valid subjects kept out of training (drawn with
        ``seed``); their errors are in ``surrogate.training["held_out"]``
        (:func:`rms_deg`'s figures, plus the RMS of predicting the training
        mean curve, ``baseline_rms_deg``). 0: train on all, no score.
    seed, epochs, hidden : training options (:func:`train_surrogate`)

    Returns
    -------
    Surrogate
        With ``parameters = POPULATION_PARAMETERS``; ``training`` records the
        population (``source``, subjects, valid) and the held-out subjects.

    Raises
    ------
    DataError
        Fewer than 4 valid training subjects, or not a population.
    """
    check_param("holdout", holdout, minimum=0.0, maximum=0.9, types=(int, float))
    source = ""
    if not isinstance(pop, xr.Dataset):
        from ..synth import load_population

        source = str(pop)
        pop = load_population(pop, kept_only=False)
    source = source or str(pop.attrs.get("source", ""))
    x = population_inputs(pop)
    out = population_outcomes(pop)
    idx = np.flatnonzero(out["valid"])
    rng = np.random.default_rng(int(seed))
    test = np.sort(rng.permutation(idx)[:int(round(holdout * idx.size))]) if holdout > 0 else np.array([], int)
    train = np.setdiff1d(idx, test)
    fit_valid = np.zeros(x.shape[0], bool)
    fit_valid[train] = True
    sur = train_surrogate(x, {**out, "valid": fit_valid}, epochs=epochs, seed=seed, hidden=hidden,
                          parameters=POPULATION_PARAMETERS)
    sur.training.update(source=source, n_subjects=int(x.shape[0]), n_valid=int(idx.size), holdout=float(holdout),
                        held_out_subjects=[int(s) for s in np.asarray(pop["subject"].values)[test]])
    if test.size:
        test_valid = np.zeros(x.shape[0], bool)
        test_valid[test] = True
        held = rms_deg(sur, x, {**out, "valid": test_valid})
        mean_curve = out["joint_angle"][train].mean(0)
        held["baseline_rms_deg"] = float(np.sqrt(np.mean((out["joint_angle"][test] - mean_curve) ** 2)))
        sur.training["held_out"] = held
    return sur


class _MLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.net(x)


@dataclass
class Surrogate:
    """Trained surrogate (see the module docstring)."""

    model: Any
    y_mean: np.ndarray
    y_std: np.ndarray
    hidden: int
    training: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    #: the input table, (name, units, low, high, meaning) per input: :data:`PARAMETERS` (a body changed as
    #: the what-if explorer changes it) or :data:`POPULATION_PARAMETERS` (a subject of a synthetic population)
    parameters: tuple = PARAMETERS

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.parameters)

    def predict_arrays(self, params: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(joint_angle (n, 3, 101) [deg], walking_speed (n,), cadence (n,)) for parameter vectors (n, inputs)."""
        x, _ = _check_params(params, self.parameters)
        lo, hi = _lo_hi(self.parameters)
        xn = torch.as_tensor(2 * (x - lo) / (hi - lo) - 1, dtype=torch.float32)
        with torch.no_grad():
            y = self.model(xn).numpy().astype(float) * self.y_std + self.y_mean
        n = x.shape[0]
        return y[:, :len(JOINTS) * _N].reshape(n, len(JOINTS), _N), y[:, -2], y[:, -1]

    def predict(self, params: Any) -> xr.Dataset:
        """Predicted outcome: ``joint_angle(joint, cycle_pct)`` [deg], ``walking_speed`` [m/s], ``cadence``
        [steps/min]; a leading ``sample`` dim for several parameter vectors.

        Raises
        ------
        ParameterError
            Wrong number of parameters, NaN. Values outside the training
            ranges are extrapolated (``attrs["outside_range"]`` lists them).
        """
        x, single = _check_params(params, self.parameters)
        ja, sp, cad = self.predict_arrays(x)
        lo, hi = _lo_hi(self.parameters)
        outside = sorted({self.parameter_names[j] for j in np.flatnonzero(((x < lo) | (x > hi)).any(0))})
        lead = () if single else ("sample",)
        sl = 0 if single else slice(None)
        ds = xr.Dataset(
            {"joint_angle": (lead + ("joint", "cycle_pct"), ja[sl], {"units": "deg",
                                                                     "long_name": "mean joint angle over the gait cycle"}),
             "walking_speed": (lead, sp[sl], {"units": "m/s", "long_name": "walking speed"}),
             "cadence": (lead, cad[sl], {"units": "steps/min", "long_name": "cadence"})},
            coords={"joint": list(JOINTS), "cycle_pct": np.linspace(0, 100, _N)},
            attrs={"kind": "surrogate_prediction", "parameters": ", ".join(self.parameter_names),
                   "outside_range": ", ".join(outside)})
        return ds

    def config(self) -> dict:
        from .. import __version__

        return {"format": FORMAT, "twin_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "parameters": [{"name": p[0], "units": p[1], "low": p[2], "high": p[3], "meaning": p[4]}
                               for p in self.parameters],
                "outputs": {"joint_angle": {"joints": list(JOINTS), "points": _N, "units": "deg"},
                            "walking_speed": "m/s", "cadence": "steps/min",
                            "layout": "joint_angle (joint-major, 3 x 101), walking_speed, cadence"},
                "architecture": {"n_in": len(self.parameters), "n_out": len(JOINTS) * _N + 2, "hidden": self.hidden},
                "normalisation": {"inputs": "2 (x - low) / (high - low) - 1", "y_mean": self.y_mean.tolist(),
                                  "y_std": self.y_std.tolist()},
                "training": self.training, "history": [float(v) for v in self.history[-50:]]}

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/`` (``weights.pt`` + ``config.json``) atomically."""
        return _save_folder(path, self.model.state_dict(), self.config())


def load_surrogate(path: str | os.PathLike) -> Surrogate:
    """A :class:`Surrogate` saved by :meth:`Surrogate.save`.

    Raises
    ------
    ReadError
        Missing files, another format, or weights that do not fit.
    """
    cfg, state = _read_folder(path, FORMAT)
    names = tuple(p["name"] for p in cfg.get("parameters", []))
    tables = {tuple(p[0] for p in t): t for t in (PARAMETERS, POPULATION_PARAMETERS)}
    if names not in tables:
        raise ReadError(Path(path) / "config.json", f"parameters {list(names)} are neither this version's "
                                                    f"{list(PARAMETER_NAMES)} nor its population inputs "
                                                    f"{list(POPULATION_PARAMETER_NAMES)}")
    arch = cfg["architecture"]
    model = _MLP(arch["n_in"], arch["n_out"], arch["hidden"])
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as err:
        raise ReadError(Path(path) / "weights.pt", f"weights do not fit the architecture ({err})") from None
    model.eval()
    norm = cfg["normalisation"]
    return Surrogate(model, np.asarray(norm["y_mean"]), np.asarray(norm["y_std"]), int(arch["hidden"]),
                     cfg.get("training", {}), cfg.get("history", []), tables[names])


def train_surrogate(params: Any, outcomes: dict, *, epochs: int = 2000, seed: int = 0, hidden: int = 128,
                    lr: float = 3e-3, weight_decay: float = 1e-4, parameters: tuple = PARAMETERS) -> Surrogate:
    """Fit a :class:`Surrogate` to (parameters, outcomes) pairs (invalid rows are left out).

    Parameters
    ----------
    params : array (n, len(parameters))
    outcomes : dict
        ``joint_angle`` (n, 3, 101) [deg], ``walking_speed`` (n,), ``cadence``
        (n,), optional ``valid`` (n,) (as :func:`simulate_outcomes` and
        :func:`population_outcomes` return).
    epochs, seed, hidden, lr, weight_decay : training options (full batch)
    parameters : tuple, default :data:`PARAMETERS`
        The input table (:data:`POPULATION_PARAMETERS` for
        :func:`population_outcomes`' inputs).

    Raises
    ------
    DataError
        Fewer than 4 valid rows, or shapes that do not match.
    """
    if parameters not in (PARAMETERS, POPULATION_PARAMETERS):
        raise ParameterError("parameters must be twin.learn.surrogate.PARAMETERS or POPULATION_PARAMETERS")
    x, _ = _check_params(params, parameters)
    check_param("epochs", epochs, minimum=1, types=(int, np.integer))
    ja = np.asarray(outcomes["joint_angle"], float)
    sp = np.asarray(outcomes["walking_speed"], float).ravel()
    cad = np.asarray(outcomes["cadence"], float).ravel()
    n = x.shape[0]
    if ja.shape != (n, len(JOINTS), _N) or sp.shape != (n,) or cad.shape != (n,):
        raise DataError(f"outcomes: joint_angle must be ({n}, {len(JOINTS)}, {_N}) and speed/cadence ({n},); got "
                        f"{ja.shape}, {sp.shape}, {cad.shape}")
    valid = np.asarray(outcomes.get("valid", np.ones(n, bool)), bool) & np.isfinite(sp) & np.isfinite(cad) & \
        np.isfinite(ja).all(axis=(1, 2))
    if valid.sum() < 4:
        raise DataError(f"only {int(valid.sum())} valid (parameters, outcome) pairs; simulate more (members that "
                        "fall or make no full stride are left out)")
    y = np.concatenate([ja.reshape(n, -1), sp[:, None], cad[:, None]], 1)[valid]
    xv = x[valid]
    torch.manual_seed(int(seed))
    y_mean, y_std = y.mean(0), np.maximum(y.std(0), 1e-3)
    lo, hi = _lo_hi(parameters)
    xt = torch.as_tensor(2 * (xv - lo) / (hi - lo) - 1, dtype=torch.float32)
    yt = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32)
    model = _MLP(len(parameters), y.shape[1], int(hidden))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, int(epochs))
    history = []
    t0 = time.perf_counter()
    for _ in range(int(epochs)):
        loss = ((model(xt) - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
    model.eval()
    training = dict(epochs=int(epochs), seed=int(seed), hidden=int(hidden), lr=float(lr), n_pairs=int(valid.sum()),
                    n_invalid=int((~valid).sum()), seconds=round(time.perf_counter() - t0, 3),
                    final_loss=history[-1])
    return Surrogate(model, y_mean, y_std, int(hidden), training, history, parameters)


def rms_deg(surrogate: Surrogate, params: Any, outcomes: dict) -> dict:
    """Errors of the surrogate against simulated outcomes (valid rows only).

    Returns
    -------
    dict
        ``rms_deg`` (RMS over held-out samples, joints and cycle points),
        ``rms_deg_per_joint``, ``speed_mae_mps``, ``cadence_mae_spm``, ``n``.
    """
    x, _ = _check_params(params, surrogate.parameters)
    ja = np.asarray(outcomes["joint_angle"], float)
    valid = np.asarray(outcomes.get("valid", np.isfinite(ja).all(axis=(1, 2))), bool)
    if not valid.any():
        return {"rms_deg": float("nan"), "rms_deg_per_joint": {}, "speed_mae_mps": float("nan"),
                "cadence_mae_spm": float("nan"), "n": 0}
    pj, ps, pc = surrogate.predict_arrays(x[valid])
    err = pj - ja[valid]
    return {"rms_deg": float(np.sqrt(np.mean(err ** 2))),
            "rms_deg_per_joint": {j: float(np.sqrt(np.mean(err[:, k] ** 2))) for k, j in enumerate(JOINTS)},
            "speed_mae_mps": float(np.mean(np.abs(ps - np.asarray(outcomes["walking_speed"])[valid]))),
            "cadence_mae_spm": float(np.mean(np.abs(pc - np.asarray(outcomes["cadence"])[valid]))),
            "n": int(valid.sum())}
