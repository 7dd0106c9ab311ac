"""The body's passive knee moment against Riener & Edrich (1999), and a calibration of the quadriceps to it.

Riener & Edrich (1999, J Biomech 32:539-544) measured the passive elastic
moments of the hip, knee and ankle of ten relaxed healthy subjects and fitted
each with a double exponential of the three joint angles. Their knee (angles
in degrees; hip and knee flexion and ankle dorsiflexion positive; moment
positive flexing)::

    M = exp(1.800 + 0.0460 a - 0.0352 k + 0.0217 h) - exp(-3.971 + 0.0004 a + 0.0495 k - 0.0128 h)
        - 4.820 + exp(2.220 - 1.50 k)

(the ankle's sign flipped so that dorsiflexion is positive, as in Miller et
al. 2012's use of it). With OpenSim's passive fibre curve (strain 0.6 at one
normalised force) the Gait10dof18musc quadriceps make the relaxed knee 2-4
times stiffer than that in deep flexion: -13 N m at 70 deg of knee flexion
with the hip flexed 20 deg (Riener & Edrich: -4.5), -20 N m with the hip
straight (-4.9); swing-phase knee flexion (60-70 deg in walking) meets that
moment. :func:`calibrate_passive_knee` sets the passive fibre strain of the
vasti and rectus femoris (both sides) so that the body's passive knee moment
matches Riener & Edrich's over knee flexion 40-90 deg and hip flexion 0-30
deg (least squares; 1.4-1.9 for bodies of 1.6-1.8 m, residual RMS about
0.3 N m). Below 40 deg their constant term (-4.82 N m, extending at every
angle) and the full-extension term (ligaments) dominate; neither is a muscle
property, so those angles are left out.

Examples
--------
>>> from twin.fit.passive import riener_edrich_knee_moment
>>> float(riener_edrich_knee_moment(0.0, 70.0, 0.0).round(2))     # N m, extending
-4.91
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError, check_param

__all__ = ["riener_edrich_knee_moment", "passive_knee_moment", "calibrate_passive_knee", "CALIBRATION_GRID"]

#: (hip flexion, knee flexion) [deg] where :func:`calibrate_passive_knee` matches the moments (ankle at 0).
CALIBRATION_GRID: tuple[tuple[float, float], ...] = tuple(
    (float(h), float(k)) for h in (0, 10, 20, 30) for k in range(40, 95, 10))


def riener_edrich_knee_moment(hip_flexion: Any, knee_flexion: Any, ankle_dorsiflexion: Any = 0.0) -> np.ndarray:
    """Passive knee flexion moment [N m] of Riener & Edrich (1999) at joint angles [deg].

    Parameters
    ----------
    hip_flexion, knee_flexion, ankle_dorsiflexion : float or array
        [deg], flexion and dorsiflexion positive (broadcast together).

    Returns
    -------
    ndarray
        [N m], positive flexing the knee.

    Examples
    --------
    >>> riener_edrich_knee_moment([0, 20], 70.0).round(2)
    array([-4.91, -4.49])
    """
    h, k, a = (np.asarray(v, float) for v in (hip_flexion, knee_flexion, ankle_dorsiflexion))
    return (np.exp(1.800 + 0.0460 * a - 0.0352 * k + 0.0217 * h)
            - np.exp(-3.971 + 0.0004 * a + 0.0495 * k - 0.0128 * h)
            - 4.820 + np.exp(2.220 - 1.50 * k))


def _poses(body, angles: Sequence[tuple[float, float, float]], side: str):
    """Walking EngineParams (float64) for ``len(angles)`` poses and the pose tensor q."""
    import torch

    from ..control.sim import walking_params
    from ..engine.step import initial_state

    p = walking_params(body, batch=len(angles), dtype=torch.float64)
    names = list(p.coordinate_names)
    q = initial_state(p).q.clone()
    for j, coord in enumerate((f"hip_flexion_{side}", f"knee_angle_{side}", f"ankle_angle_{side}")):
        sign = -1.0 if coord.startswith("knee") else 1.0  # OpenSim's knee angle is negative in flexion
        q[:, names.index(coord)] = torch.tensor([sign * np.radians(a[j]) for a in angles], dtype=torch.float64)
    return p, q


def _moment(p, q, side: str) -> np.ndarray:
    """Knee flexion moment [N m] of relaxed rigid-tendon muscles (walking_params' default) and joint limits."""
    import torch

    from ..engine import muscle as _muscle
    from ..engine.joints import passive_torque
    from ..engine.multibody import kinematics
    from ..engine.path import path_geometry

    z = torch.zeros_like(q)
    geo = path_geometry(p, kinematics(p, q, z), q)
    force = _muscle.rigid(p, geo.length, torch.zeros_like(geo.length), torch.zeros_like(geo.length)).tendon_force
    k = list(p.coordinate_names).index(f"knee_angle_{side}")
    ext = (force * geo.moment_arm[:, :, k]).sum(1) + passive_torque(p, q, z)[:, k]  # about knee_angle: + extends
    return -ext.detach().numpy()


def passive_knee_moment(body, hip_flexion: Any, knee_flexion: Any, ankle_dorsiflexion: Any = 0.0, *,
                        side: str = "r") -> np.ndarray:
    """Knee flexion moment [N m] of ``body``'s relaxed muscles and joint limits, at rest, at joint angles [deg].

    Zero activation and speed; the engine's walking body
    (:func:`twin.control.sim.walking_params`, with its soft joint limits).

    Parameters
    ----------
    body : twin.model.BodyParams
    hip_flexion, knee_flexion, ankle_dorsiflexion : float or array
        [deg], flexion and dorsiflexion positive (broadcast together).
    side : {"r", "l"}, keyword-only

    Returns
    -------
    ndarray
        [N m], positive flexing the knee.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body = BodyParams.default(lumbar=False, marker_sets=())
    >>> m = passive_knee_moment(body, 20.0, [30.0, 70.0])
    >>> bool(m[1] < m[0] < 0)          # the quadriceps resist flexion more the more the knee flexes
    True
    """
    check_param("side", side, choices=("r", "l"))
    h, k, a = np.broadcast_arrays(*(np.asarray(v, float) for v in (hip_flexion, knee_flexion, ankle_dorsiflexion)))
    if not (np.isfinite(h).all() and np.isfinite(k).all() and np.isfinite(a).all()):
        raise ParameterError("passive_knee_moment: joint angles must be finite numbers [deg]")
    angles = list(zip(h.ravel().tolist(), k.ravel().tolist(), a.ravel().tolist()))
    p, q = _poses(body, angles, side)
    return _moment(p, q, side).reshape(h.shape)


def calibrate_passive_knee(body, *, muscles: Sequence[str] = ("vasti", "rect_fem"),
                           bounds: tuple[float, float] = (0.6, 3.0)):
    """``body`` with its quadriceps' passive fibre strain set to match Riener & Edrich's passive knee moment.

    One strain for the named muscles on both sides, found by least squares
    over :data:`CALIBRATION_GRID` (golden-section search within ``bounds``);
    the other muscles keep theirs. See the module docstring for why.

    Parameters
    ----------
    body : twin.model.BodyParams
    muscles : sequence of str, keyword-only
        Base names (``"vasti"`` is ``vasti_r`` and ``vasti_l``).
    bounds : (float, float), keyword-only
        Range of the strain searched.

    Returns
    -------
    body : twin.model.BodyParams
        A new body (its ``history`` says what was set).
    report : dict
        ``strain``, ``rms_before_nm``, ``rms_after_nm`` (against Riener &
        Edrich over the grid), ``at_bound`` (the strain hit a bound).

    Raises
    ------
    ParameterError
        A muscle the body does not have, or bad bounds.

    Examples
    --------
    >>> from twin.model import BodyParams
    >>> body, rep = calibrate_passive_knee(BodyParams.default(lumbar=False, marker_sets=()))
    >>> bool(rep["rms_after_nm"] < 1.0 < rep["rms_before_nm"]), body.muscle("vasti_l").passive_fiber_strain > 0.6
    (True, True)
    """
    import torch

    from ..scenarios import _edit_muscles

    lo, hi = (float(b) for b in bounds)
    if not 0.0 < lo < hi:
        raise ParameterError(f"bounds={bounds!r} must be (low, high) with 0 < low < high")
    names = [f"{m}_{s}" for m in muscles for s in ("r", "l")]
    missing = [n for n in names if n not in body.muscle_names]
    if missing:
        raise ParameterError(f"calibrate_passive_knee: the body has no muscle {', '.join(missing)} "
                             f"(it has {', '.join(body.muscle_names)})")
    angles = [(h, k, 0.0) for h, k in CALIBRATION_GRID]
    ref = riener_edrich_knee_moment(*np.asarray(angles).T)
    p, q = _poses(body, angles, "r")
    cols = [i for i, n in enumerate(p.muscle_names) if n in names]

    def rms(strain: float) -> float:
        e0 = p.e0.clone()
        e0[:, cols] = float(strain)
        return float(np.sqrt(np.mean((_moment(p.replace(e0=e0), q, "r") - ref) ** 2)))

    before = float(np.sqrt(np.mean((_moment(p, q, "r") - ref) ** 2)))
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = rms(c), rms(d)
    with torch.no_grad():
        while b - a > 1e-3:
            if fc < fd:
                b, d, fd = d, c, fc
                c = b - g * (b - a)
                fc = rms(c)
            else:
                a, c, fc = c, d, fd
                d = a + g * (b - a)
                fd = rms(d)
    strain = round(float(0.5 * (a + b)), 3)
    after = rms(strain)
    new = _edit_muscles(body, set(names), f"passive fibre strain {strain:g} of {', '.join(muscles)} "
                        "(Riener & Edrich 1999 passive knee moment; twin.fit.calibrate_passive_knee)",
                        passive_fiber_strain=lambda m: strain)
    return new, {"strain": strain, "rms_before_nm": before, "rms_after_nm": after,
                 "at_bound": bool(min(strain - lo, hi - strain) < 2e-3)}
