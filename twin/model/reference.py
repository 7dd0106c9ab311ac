"""The built model against OpenSim's published Gait10dof18musc, both read through OpenSim.

:func:`compare_to_reference` builds ``twin.model.to_opensim(BodyParams.default())``
and loads the reference ``.osim``; then it compares masses (total and per
segment), muscle parameters, and musculotendon lengths and moment arms over
a sweep of each coordinate a muscle crosses (the other coordinates at their
defaults), all as OpenSim computes them. ``twin bench fit`` prints the result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, TwinError
from .params import REFERENCE_MODEL, BodyParams

__all__ = ["compare_to_reference", "sweep", "MOMENT_ARM_FLOOR"]

#: Moment arms smaller than this (m) are compared as if they were this large (percent errors).
MOMENT_ARM_FLOOR = 0.01


def _muscle_params(m) -> dict[str, float]:
    return {
        "max_isometric_force": m.getMaxIsometricForce(),
        "optimal_fiber_length": m.getOptimalFiberLength(),
        "tendon_slack_length": m.getTendonSlackLength(),
        "pennation_angle_at_optimal": m.getPennationAngleAtOptimalFiberLength(),
        "max_contraction_velocity": m.getMaxContractionVelocity(),
    }


def sweep(model, state, muscle: str, coordinate: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Musculotendon length and moment arm (m) of ``muscle`` as ``coordinate`` takes ``values``.

    Other coordinates keep their values in ``state``; ``coordinate`` is
    restored afterwards.
    """
    coord = model.getCoordinateSet().get(coordinate)
    mus = model.getMuscles().get(muscle)
    keep = coord.getValue(state)
    lengths, arms = np.empty(len(values)), np.empty(len(values))
    for i, v in enumerate(values):
        coord.setValue(state, float(v), False)
        model.realizePosition(state)
        lengths[i] = mus.getLength(state)
        arms[i] = mus.computeMomentArm(state, coord)
    coord.setValue(state, keep, False)
    return lengths, arms


def compare_to_reference(osim_path: str | os.PathLike | None = None, *, params: BodyParams | None = None,
                         muscle: str = "Millard2012", n: int = 21) -> dict[str, Any]:
    """Agreement of twin's built model with OpenSim's Gait10dof18musc.

    Parameters
    ----------
    osim_path : path, optional
        Reference model; default ``gait10dof18musc.osim`` from the example
        data (``twin.datasets.path``, ``TWIN_DATA_DIR`` first).
    params : BodyParams, optional
        Body to build; default :meth:`BodyParams.default`.
    muscle : {"Millard2012", "DeGrooteFregly2016"}
        Muscle class of the built model (the reference uses Millard2012).
    n : int, default 21
        Samples per coordinate sweep (over the coordinate's range of motion).

    Returns
    -------
    dict
        ``model_mass_err_pct`` (total mass, % of the reference),
        ``segment_mass_max_err_pct``, ``muscle_param_max_rel_err`` (max
        relative difference of force, optimal fibre length, tendon slack
        length, pennation, maximum contraction velocity; absolute where the
        reference is 0), ``mtu_length_max_err_pct``,
        ``mtu_length_max_abs_err_m``, ``moment_arm_max_err_pct`` (% of the
        reference moment arm, floored at 1 cm), ``moment_arm_max_abs_err_m``,
        ``worst_mtu_length`` / ``worst_moment_arm`` / ``worst_muscle_param``
        (where the maximum occurs), ``n_sweeps``, ``n_samples``, ``muscle``,
        ``reference``.

    Raises
    ------
    TwinError
        The reference lacks a segment, coordinate or muscle of the body.
    """
    from ..datasets import path as data_path
    from .build import MUSCLE_MODELS, _osim, to_opensim

    osim = _osim()
    if muscle not in MUSCLE_MODELS:
        raise ParameterError(f"muscle={muscle!r} is not allowed; choose one of: {MUSCLE_MODELS}")
    if int(n) < 2:
        raise ParameterError(f"n={n!r} must be >= 2")
    ref_path = Path(osim_path) if osim_path is not None else data_path(REFERENCE_MODEL)
    if not ref_path.exists():
        raise TwinError(f"{ref_path}: reference model not found")
    body = params if params is not None else BodyParams.default()
    level = osim.Logger.getLevelString()
    osim.Logger.setLevelString("error")
    try:
        ref = osim.Model(str(ref_path))
        built = to_opensim(body, muscle=muscle, contact=False, markers=None)
        s_ref = ref.initSystem()
        s_built = built.initSystem()
    finally:
        osim.Logger.setLevelString(level)

    def need(setname: str, names, getter) -> None:
        missing = [x for x in names if not getter().contains(x)]
        if missing:
            raise TwinError(f"{ref_path}: reference model has no {setname} {missing}")

    need("body", body.segment_names, ref.getBodySet)
    need("coordinate", body.coordinate_names, ref.getCoordinateSet)
    need("muscle", body.muscle_names, ref.getMuscles)

    m_ref = ref.getTotalMass(s_ref)
    m_built = built.getTotalMass(s_built)
    seg_err = {s: abs(built.getBodySet().get(s).getMass() - ref.getBodySet().get(s).getMass())
               / ref.getBodySet().get(s).getMass() * 100 for s in body.segment_names}

    worst_param, param_err = "", 0.0
    for name in body.muscle_names:
        a = _muscle_params(built.getMuscles().get(name))
        b = _muscle_params(ref.getMuscles().get(name))
        for k in a:
            e = abs(a[k] - b[k]) / abs(b[k]) if b[k] != 0 else abs(a[k] - b[k])
            if e > param_err:
                worst_param, param_err = f"{name}.{k}", e

    len_pct = len_abs = arm_pct = arm_abs = 0.0
    worst_len = worst_arm = ""
    n_sweeps = n_samples = 0
    for name in body.muscle_names:
        for cname in body.crossed_coordinates(name):
            lo, hi = body.coordinate(cname).range
            values = np.linspace(lo, hi, int(n))
            l_ref, r_ref = sweep(ref, s_ref, name, cname, values)
            l_b, r_b = sweep(built, s_built, name, cname, values)
            n_sweeps += 1
            n_samples += len(values)
            dl = np.abs(l_b - l_ref)
            dr = np.abs(r_b - r_ref)
            pl = dl / np.abs(l_ref) * 100
            pr = dr / np.maximum(np.abs(r_ref), MOMENT_ARM_FLOOR) * 100
            i = int(np.argmax(pl))
            if pl[i] > len_pct:
                len_pct, worst_len = float(pl[i]), f"{name} at {cname}={values[i]:.4f}"
            len_abs = max(len_abs, float(dl.max()))
            i = int(np.argmax(pr))
            if pr[i] > arm_pct:
                arm_pct, worst_arm = float(pr[i]), f"{name} about {cname}={values[i]:.4f}"
            arm_abs = max(arm_abs, float(dr.max()))
    return {
        "model_mass_err_pct": abs(m_built - m_ref) / m_ref * 100,
        "segment_mass_max_err_pct": max(seg_err.values()),
        "muscle_param_max_rel_err": param_err,
        "mtu_length_max_err_pct": len_pct,
        "mtu_length_max_abs_err_m": len_abs,
        "moment_arm_max_err_pct": arm_pct,
        "moment_arm_max_abs_err_m": arm_abs,
        "worst_muscle_param": worst_param or "none (all equal)",
        "worst_mtu_length": worst_len or "none (all equal)",
        "worst_moment_arm": worst_arm or "none (all equal)",
        "n_sweeps": n_sweeps,
        "n_samples": n_samples,
        "muscle": muscle,
        "reference": str(ref_path),
    }
