"""A spinal reflex controller for planar walking (Geyer & Herr 2010 style), batched.

The controller turns delayed sensory signals into muscle excitations, per
leg, with the phase of each leg (stance or swing) taken from the vertical
ground reaction force of that foot (stance while ``F_y > contact_threshold
* body weight``). It follows Geyer & Herr (2010) "A muscle-reflex model that
encodes principles of legged mechanics produces human walking dynamics and
muscle activities", IEEE TNSRE 18:263, its Table 1 and the reference
implementation's ``ControlParams.m`` (H. Geyer, 2006), and SCONE's
``ControllerGH2010`` (T. Geijtenbeek) for the Gait10dof18musc/H0918 muscle
names. Song & Geyer (2015, J Physiol 593:3493) add the two muscles GH2010
lacks (BFSH and RF) -- here with small length/force reflexes whose published
default gain is 0 (CMA-ES may switch them on).

Geyer's seven muscles and this model's nine (per leg)
------------------------------------------------------
=====  =============  =====================================================
GH     model          stance / swing law (``[x]+`` = max(x, 0))
=====  =============  =====================================================
SOL    soleus         st: S0 + G_SOL F_SOL (+ G_SOL_L [L_SOL - l_off_SOL]+ + k_po ds);
                      sw: S0
TA     tib_ant        both: S0 + G_TA [L_TA - l_off_TA]+ ; st: - G_SOL_TA F_SOL
                      (+ S0_TA_ST - k_po_TA ds); in swing G_TA and l_off_TA
                      (+ dG_TA_sw, + dl_off_TA_sw)
GAS    gastroc        st: S0 + G_GAS F_GAS (+ k_po ds); sw: S0
VAS    vasti          st: S0_VAS + G_VAS F_VAS - k_phi [knee overextension]
                      - k_bw F_contra (double support, trailing leg); sw: S0
                      (+ G_VAS_SW [knee - knee_land]+ while the thigh swings back)
                      (+ feedforward burst, both phases)
HAM    hamstrings     st: S0_BAL + [PD trunk]+ F_leg; sw: S0 + G_HAM F_HAM
GLU    glut_max       st: S0_BAL + [PD trunk]+ F_leg - ds; sw: S0 + G_GLU F_GLU
HFL    iliopsoas      st: S0_BAL + [-PD trunk]+ F_leg + ds; sw: S0 + k_lean
                      (theta - theta_ref) + G_HFL [L_HFL - l_off_HFL]+
                      - G_HAMHFL [L_HAM - l_off_HAM]+
(BFSH) bifemsh        st: S0; sw: S0 + G_BFSH [L_BFSH - l_off_BFSH]+ + K_V V_BFSH
                      (+ G_BFSH_SW [knee_sw_tgt - knee]+ in trailing double
                      support and while the knee flexes in swing)
                      (+ feedforward burst, both phases)
(RF)   rect_fem       st: S0 + G_RF F_RF; sw: S0 + G_RF_sw [L_RF - l_off_RF]+
=====  =============  =====================================================

Swing-leg placement (Song & Geyer 2015's idea, new): in swing, a PD law
``u = fp_kp (alpha_tgt - alpha) - fp_kd dalpha`` on the thigh's angle from
the vertical ``alpha = hip flexion - theta``, with the target
``alpha_tgt = fp_alpha0 + fp_cv v`` growing with the pelvis' forward speed
``v`` (a faster body places its foot further ahead), adds ``[u]+`` to HFL
and ``[-u]+`` to GLU. Its gains default to zero (GH2010 unchanged).

Ankle yield and push-off (new): a soleus length reflex in stance (``G_SOL_L``,
``l_off_SOL``: the ankle yields into dorsiflexion until the soleus reaches
its offset length, then stiffens -- a stable negative-feedback spring where
GH2010's positive force feedback runs away to saturation with rigid tendons)
and a push-off drive ``k_po`` of SOL and GAS while the leg trails in double
support (``ds`` below), the window of the human plantarflexor burst, with
an inhibition ``k_po_TA`` of the TA in the same window; and a
stance-only TA pre-stimulation ``S0_TA_ST`` (GH2010's ``S0_TA`` acts in both
phases, so the co-contraction that steadies the stance ankle also holds the
swing foot dorsiflexed). Their gains default to zero (GH2010 unchanged).

Feedforward bursts (new): each leg keeps a clock, the time since its own
foot strike (stance onset) over its period (its last foot-strike-to-foot-strike
time, :data:`FF_PERIOD0` before the first), i.e. a pattern generator
entrained by touchdown (Dzeladini, van den Kieboom & Ijspeert 2014, Front
Hum Neurosci 8:371, put such a feedforward component into a reflex
model). VAS and
BFSH get a Gaussian burst ``ff_m exp(-d^2 / 2 ff_m_w^2)`` with ``d`` the
wrapped distance of the clock's phase from ``ff_m_c`` -- for VAS the
pre-activation before and after foot strike that people show and GH2010's
stance-only VAS law lacks, for BFSH the knee flexion of pre- and initial
swing. Zero amplitudes by default (no effect).

``F`` is tendon force / max isometric force, ``L`` fibre length / optimal
fibre length, ``V`` fibre velocity / (optimal length x max contraction
velocity); PD trunk = ``k_p (theta - theta_ref) + k_d dtheta`` with
``theta`` the forward lean of the trunk (``-(pelvis_tilt +
lumbar_extension)``); ``F_leg`` the leg's vertical load / body weight;
``ds`` the swing-preparation term ``Delta_s`` while both feet are loaded
and this leg trails (its hip is the more extended one). Signals are delayed (shift registers): 5 ms for hip
muscles, the trunk and the hip angles, 10 ms for knee muscles and the knee angle, 20 ms for
ankle muscles (Geyer & Herr 2010); the contact (leg load) signal has no
delay, as SCONE's ``leg_load_sensor_delay = 0``. Excitations are clamped to
[0.01, 1].

Examples
--------
>>> import torch
>>> from twin.control.reflex import ReflexController
>>> names = ReflexController.parameter_names()
>>> len(names) == len(ReflexController.default_vector()) == ReflexController.bounds().shape[0]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import ParameterError

__all__ = ["ReflexController", "ControllerState", "PARAMETERS", "MUSCLE_MAP", "DELAYS"]

#: Geyer & Herr 2010 muscle -> the Gait10dof18musc muscle (per leg, suffix ``_r``/``_l``).
MUSCLE_MAP = {"HAM": "hamstrings", "BFSH": "bifemsh", "GLU": "glut_max", "HFL": "iliopsoas", "RF": "rect_fem",
              "VAS": "vasti", "GAS": "gastroc", "SOL": "soleus", "TA": "tib_ant"}
_ORDER = ("HAM", "BFSH", "GLU", "HFL", "RF", "VAS", "GAS", "SOL", "TA")

#: Neural delays [s] (Geyer & Herr 2010: hip 5 ms, knee 10 ms, ankle 20 ms).
DELAYS = {"hip": 0.005, "knee": 0.010, "ankle": 0.020}

_DEG = math.pi / 180.0

#: (name, default, lower, upper, meaning). Defaults: Geyer & Herr 2010 Table 1 / ControlParams.m
#: (gains on normalised force, length in optimal fibre lengths); "(new)" entries are not in GH2010
#: and default to no effect; contact threshold 0.1 BW as SCONE's GH2010 controller.
PARAMETERS: tuple[tuple[str, float, float, float, str], ...] = (
    ("s0_sol", 0.01, 0.0, 0.3, "pre-stimulation SOL"),
    ("s0_ta", 0.01, 0.0, 0.3, "pre-stimulation TA"),
    ("s0_gas", 0.01, 0.0, 0.3, "pre-stimulation GAS"),
    ("s0_vas", 0.09, 0.0, 0.4, "pre-stimulation VAS (stance)"),
    ("s0_ham", 0.01, 0.0, 0.3, "pre-stimulation HAM (swing)"),
    ("s0_glu", 0.01, 0.0, 0.3, "pre-stimulation GLU (swing)"),
    ("s0_hfl", 0.01, 0.0, 0.3, "pre-stimulation HFL (swing)"),
    ("s0_bfsh", 0.01, 0.0, 0.3, "pre-stimulation BFSH (new)"),
    ("s0_rf", 0.01, 0.0, 0.3, "pre-stimulation RF (new)"),
    ("s0_bal", 0.05, 0.0, 0.3, "stance pre-stimulation of HAM, GLU, HFL (posture)"),
    ("g_sol", 1.2, 0.0, 4.0, "SOL force feedback (stance)"),
    ("g_ta", 1.1, 0.0, 4.0, "TA length feedback"),
    ("loff_ta", 0.71, 0.3, 1.2, "TA length offset [lopt]"),
    ("g_sol_ta", 0.4, 0.0, 3.0, "SOL force inhibition of TA (stance)"),
    ("g_gas", 1.1, 0.0, 4.0, "GAS force feedback (stance)"),
    ("g_vas", 1.15, 0.0, 4.0, "VAS force feedback (stance)"),
    ("k_phi", 2.0, 0.0, 6.0, "knee overextension inhibition of VAS [1/rad]"),
    ("phi_off", 10 * _DEG, 0.0, 0.6, "knee flexion below which VAS is inhibited [rad]"),
    ("k_bw", 1.2, 0.0, 4.0, "contralateral load inhibition of VAS in double support [1/BW]"),
    ("delta_s", 0.25, 0.0, 1.0, "swing preparation in double support (GLU -, HFL +)"),
    ("k_p", 1.91, 0.0, 6.0, "trunk lean position gain [1/rad]"),
    ("k_d", 0.2, 0.0, 1.5, "trunk lean velocity gain [s/rad]"),
    ("theta_ref", 0.105, -0.2, 0.4, "reference forward trunk lean [rad]"),
    ("g_ham_st", 1.0, 0.0, 3.0, "HAM share of the stance posture term (new; GH2010: 1)"),
    ("g_glu", 0.4, 0.0, 3.0, "GLU force feedback (swing)"),
    ("g_ham", 0.65, 0.0, 3.0, "HAM force feedback (swing)"),
    ("g_hfl", 0.35, 0.0, 3.0, "HFL length feedback (swing)"),
    ("loff_hfl", 0.60, 0.3, 1.3, "HFL length offset [lopt]"),
    ("g_hamhfl", 4.0, 0.0, 10.0, "HAM length inhibition of HFL (swing)"),
    ("loff_ham", 0.85, 0.4, 1.4, "HAM length offset [lopt]"),
    ("k_lean", 1.15, 0.0, 4.0, "trunk lean feedforward on HFL (swing) [1/rad]"),
    ("g_bfsh", 0.0, 0.0, 3.0, "BFSH length feedback (swing, new)"),
    ("loff_bfsh", 1.0, 0.4, 1.5, "BFSH length offset [lopt] (new)"),
    ("kv_bfsh", 0.0, 0.0, 3.0, "BFSH lengthening-velocity feedback (swing, new)"),
    ("g_rf", 0.0, 0.0, 3.0, "RF force feedback (stance, new)"),
    ("g_rf_sw", 0.0, 0.0, 3.0, "RF length feedback (swing, new)"),
    ("loff_rf", 1.0, 0.4, 1.5, "RF length offset [lopt] (new)"),
    ("contact_threshold", 0.1, 0.01, 0.4, "stance while vertical GRF > this x body weight"),
    # swing-leg placement after Song & Geyer 2015 (new; zero gains: no effect)
    ("fp_kp", 0.0, 0.0, 4.0, "swing thigh placement: position gain on (target - thigh angle) [1/rad] (new)"),
    ("fp_kd", 0.0, 0.0, 1.0, "swing thigh placement: damping of the thigh's angular velocity [s/rad] (new)"),
    ("fp_alpha0", 0.35, 0.0, 0.8, "swing thigh target angle from vertical at zero speed [rad] (new)"),
    ("fp_cv", 0.0, 0.0, 0.6, "swing thigh target increase per forward pelvis speed [rad s/m] (new)"),
    # ankle yield and push-off (new; zero gains: no effect)
    ("g_sol_l", 0.0, 0.0, 4.0, "SOL length feedback (stance, new)"),
    ("loff_sol", 1.0, 0.5, 1.4, "SOL length offset [lopt] (new)"),
    ("k_po", 0.0, 0.0, 1.0, "push-off drive of SOL and GAS in double support, trailing leg (new)"),
    ("s0_ta_st", 0.0, 0.0, 0.3, "TA pre-stimulation added in stance (new)"),
    ("k_po_ta", 0.0, 0.0, 1.0, "inhibition of TA in double support, trailing leg (push-off, new)"),
    # swing-phase TA (new; zero: the stance law's gain and offset, GH2010 unchanged)
    ("dg_ta_sw", 0.0, -4.0, 4.0, "TA length-feedback gain in swing minus the stance gain g_ta (new)"),
    ("dloff_ta_sw", 0.0, -0.3, 0.5, "TA length offset in swing minus the stance offset loff_ta [lopt] (new)"),
    # swing knee after Song & Geyer 2015's modules 7 and 10 (new; zero gains: no effect)
    ("g_bfsh_sw", 0.0, 0.0, 4.0, "BFSH knee-flexion drive towards knee_sw_tgt while the leg trails in double "
                                 "support and while the knee flexes in swing [1/rad] (new)"),
    ("knee_sw_tgt", 1.05, 0.3, 1.5, "swing knee flexion the BFSH drive aims at [rad] (new)"),
    ("g_vas_sw", 0.0, 0.0, 4.0, "VAS knee-extension drive in late swing (thigh swinging back) towards "
                                "knee_land [1/rad] (new)"),
    ("knee_land", 0.1, -0.05, 0.5, "knee flexion the late-swing VAS drive aims at [rad] (new)"),
    # feedforward bursts timed from each leg's own foot strike (a pattern generator entrained by touchdown,
    # after Dzeladini et al. 2014; new, zero amplitudes: no effect)
    ("ff_vas", 0.0, 0.0, 1.0, "feedforward VAS burst amplitude (new)"),
    ("ff_vas_c", 0.0, -0.3, 0.3, "feedforward VAS burst centre [fraction of the stride from foot strike] (new)"),
    ("ff_vas_w", 0.08, 0.03, 0.3, "feedforward VAS burst width (SD) [fraction of the stride] (new)"),
    ("ff_bfsh", 0.0, 0.0, 1.0, "feedforward BFSH burst amplitude (new)"),
    ("ff_bfsh_c", 0.62, 0.3, 0.95, "feedforward BFSH burst centre [fraction of the stride from foot strike] (new)"),
    ("ff_bfsh_w", 0.08, 0.03, 0.3, "feedforward BFSH burst width (SD) [fraction of the stride] (new)"),
)
#: parameters added after controllers were shipped: a file without them gets their defaults (no effect)
ADDED_PARAMETERS = ("fp_kp", "fp_kd", "fp_alpha0", "fp_cv", "g_sol_l", "loff_sol", "k_po", "s0_ta_st", "k_po_ta",
                    "dg_ta_sw", "dloff_ta_sw", "g_bfsh_sw", "knee_sw_tgt", "g_vas_sw", "knee_land",
                    "ff_vas", "ff_vas_c", "ff_vas_w", "ff_bfsh", "ff_bfsh_c", "ff_bfsh_w")
#: the stride period a leg's feedforward clock assumes until it has timed one stride [s]
FF_PERIOD0 = 1.1
#: strides (foot strike to foot strike) outside this range [s] do not update the clock's period
FF_PERIOD_RANGE = (0.5, 2.5)
_INDEX = {p[0]: i for i, p in enumerate(PARAMETERS)}


def _stance(p: torch.Tensor, load: torch.Tensor) -> torch.Tensor:
    """[B, 2] bool: each leg in stance (vertical load ``load`` [BW] above ``contact_threshold``)."""
    return load > p[:, _INDEX["contact_threshold"], None]


#: first channel of the feedforward clock in the hip group's buffer (see ``ReflexController._channels``)
_CLOCK = 2 * 4 + 2 + 2 + 6 + 3


@dataclass(frozen=True)
class ControllerState:
    """State of a batch of reflex controllers (immutable, batch first).

    Attributes
    ----------
    params : Tensor [B, P]
        Parameter vectors (order of :meth:`ReflexController.parameter_names`).
    buffers : tuple of Tensor [B, D_k, C_k]
        One shift register per delay group (hip, knee, ankle): the last ``D_k``
        sensory samples of ``C_k`` channels, oldest first; ``D_k = round(delay / dt)``.
    head : int
        Number of steps taken.
    primed : bool
        Whether the buffers hold real samples (the first step fills them
        with its sample, i.e. the signal is assumed constant before t=0).
    stance : Tensor [B, 2] bool
        Phase of each leg (right, left) at the last step.
    """

    params: torch.Tensor
    buffers: tuple
    head: int
    primed: bool
    stance: torch.Tensor

    def replace(self, **changes) -> ControllerState:
        """A copy with fields replaced."""
        return replace(self, **changes)


class ReflexController:
    """Geyer & Herr (2010) reflex controller for the 18 muscles of Gait10dof18musc.

    Parameters
    ----------
    params : twin.engine.build.EngineParams
        The engine parameters (muscle and coordinate names, fmax, lopt,
        vmax, body mass); only names and per-muscle constants are read.
    dt : float, keyword-only
        The control (= engine) step [s]; delays are whole multiples of it.
    excitation_scale : dict, array [M] or [B, M], optional, keyword-only
        Factor on each muscle's final excitation in [0, 1] (e.g. quadriceps
        inhibition after knee arthroplasty); default 1.
    stretch_gain : dict, array [M] or [B, M], optional, keyword-only
        Extra velocity-dependent stretch reflex per muscle in [0, 20]:
        ``+ gain * [V]+`` with ``V`` the fibre lengthening velocity in
        ``lopt * vmax`` units, delayed as the muscle's joint group
        (spasticity; Lance 1980's definition); default 0.

    Raises
    ------
    ParameterError
        The body lacks one of the nine muscles per leg, ``pelvis_tilt`` or
        the knee angles; or ``dt`` is not positive.

    Notes
    -----
    The controller is symmetric: one parameter vector drives both legs.
    ``step`` is pure: it returns a new :class:`ControllerState`.
    """

    def __init__(self, params: Any, *, dt: float, excitation_scale: Any = None, stretch_gain: Any = None):
        if not isinstance(dt, (int, float)) or not dt > 0:
            raise ParameterError(f"dt={dt!r} must be a positive number of seconds")
        self.dt = float(dt)
        names = list(params.muscle_names)
        idx = []
        for side in ("r", "l"):
            row = []
            for gh in _ORDER:
                name = f"{MUSCLE_MAP[gh]}_{side}"
                if name not in names:
                    raise ParameterError(f"the body has no muscle {name!r} (the reflex controller needs "
                                         f"{', '.join(MUSCLE_MAP.values())} on both sides)")
                row.append(names.index(name))
            idx.append(row)
        self.muscle_index = torch.tensor(idx, dtype=torch.long, device=params.device)  # [2, 9]
        coords = list(params.coordinate_names)
        for c in ("pelvis_tilt", "hip_flexion_r", "hip_flexion_l", "knee_angle_r", "knee_angle_l"):
            if c not in coords:
                raise ParameterError(f"the body has no coordinate {c!r}; the reflex controller needs it")
        self.i_tilt = coords.index("pelvis_tilt")
        if "pelvis_tx" not in coords:
            raise ParameterError("the body has no coordinate 'pelvis_tx'; the reflex controller needs it")
        self.i_tx = coords.index("pelvis_tx")
        self.i_lumbar = coords.index("lumbar_extension") if "lumbar_extension" in coords else -1
        self.i_knee = [coords.index("knee_angle_r"), coords.index("knee_angle_l")]
        self.i_hip = [coords.index("hip_flexion_r"), coords.index("hip_flexion_l")]
        self.n_muscles = len(names)
        self.fmax = params.fmax
        self.lopt = params.lopt
        self.vnorm = params.vmax  # EngineParams.vmax is already lopt x max contraction velocity [m/s]
        self.body_weight = params.total_mass * float(torch.linalg.norm(params.gravity[0]))  # [B]
        self.dtype, self.device = params.dtype, params.device
        self.n_delay = {k: max(1, int(round(v / self.dt))) for k, v in DELAYS.items()}
        bsz = params.fmax.shape[0]
        self.excitation_scale = self._per_muscle("excitation_scale", excitation_scale, 1.0, bsz, names, 0.0, 1.0)
        self.stretch_gain = self._per_muscle("stretch_gain", stretch_gain, 0.0, bsz, names, 0.0, 20.0)

    def _per_muscle(self, what: str, value: Any, default: float, bsz: int, names: list, lo: float, hi: float):
        """A [B, M] tensor from None, a {muscle: value} dict, or an array [M] / [B, M]."""
        out = torch.full((bsz, len(names)), default, dtype=self.dtype, device=self.device)
        if value is None:
            return out
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in names:
                    raise ParameterError(f"{what}: unknown muscle {k!r}; muscles are {', '.join(names)}")
                out[:, names.index(k)] = float(v)
        else:
            v = torch.as_tensor(np.asarray(value, dtype=float), dtype=self.dtype, device=self.device)
            if v.shape not in ((len(names),), (bsz, len(names)), (1, len(names))):
                raise ParameterError(f"{what} has shape {tuple(v.shape)}; expected [{len(names)}] or "
                                     f"[{bsz}, {len(names)}] (one value per muscle)")
            out = torch.broadcast_to(v, out.shape).clone()
        if not bool(torch.isfinite(out).all()) or bool((out < lo).any()) or bool((out > hi).any()):
            raise ParameterError(f"{what} values must lie in [{lo:g}, {hi:g}]")
        return out

    # ----------------------------------------------------------------- parameters
    @staticmethod
    def parameter_names() -> tuple[str, ...]:
        """Names of the parameter vector's entries, in order."""
        return tuple(p[0] for p in PARAMETERS)

    @staticmethod
    def bounds() -> np.ndarray:
        """Lower and upper bound of every parameter, ``[P, 2]``."""
        return np.array([[p[2], p[3]] for p in PARAMETERS], dtype=float)

    @staticmethod
    def default_vector() -> np.ndarray:
        """The published values (Geyer & Herr 2010; see :data:`PARAMETERS`), ``[P]``."""
        return np.array([p[1] for p in PARAMETERS], dtype=float)

    @staticmethod
    def describe() -> dict[str, str]:
        """What each parameter means."""
        return {p[0]: p[4] for p in PARAMETERS}

    # ----------------------------------------------------------------- state
    def _channels(self) -> dict[str, int]:
        # hip: F_GLU, F_HAM, L_HFL, L_HAM (x2 legs) + theta, dtheta + hip flexion (x2)
        # knee: F_VAS, F_RF, L_RF, L_BFSH, V_BFSH, knee flexion, knee flexion speed (x2)
        # ankle: F_SOL, F_GAS, L_TA (x2)
        # + lengthening velocity of each muscle for the stretch reflex (spasticity), by joint:
        # hip: HAM, GLU, HFL; knee: VAS, RF (BFSH above); ankle: SOL, GAS, TA (x2 legs)
        # + (hip group) forward pelvis speed and hip flexion speed (x2) for swing-leg placement
        # + (ankle group) L_SOL (x2) for the soleus length reflex
        # + (hip group, not sensed: the feedforward clock, read undelayed from the newest sample) time since
        #   foot strike, stance at the last step, period (x2)
        return {"hip": _CLOCK + 6, "knee": 2 * 7 + 4, "ankle": 2 * 3 + 6 + 2}

    def init(self, batch: int, params_vector: Any) -> ControllerState:
        """A fresh controller state.

        Parameters
        ----------
        batch : int
        params_vector : array-like [P] or [batch, P]
            One vector for all members, or one per member; checked against
            :meth:`bounds` (values outside raise).

        Returns
        -------
        ControllerState

        Raises
        ------
        ParameterError
            Wrong shape, non-finite values or values outside the bounds.
        """
        if not isinstance(batch, int) or batch < 1:
            raise ParameterError(f"batch={batch!r} must be a positive int")
        p = torch.as_tensor(np.asarray(params_vector, dtype=float), dtype=self.dtype, device=self.device)
        n = len(PARAMETERS)
        if p.ndim == 1:
            p = p.unsqueeze(0)
        if p.ndim != 2 or p.shape[1] != n or p.shape[0] not in (1, batch):
            raise ParameterError(f"params_vector has shape {tuple(p.shape)}; expected [{n}] or [{batch}, {n}] "
                                 f"(see ReflexController.parameter_names())")
        if not bool(torch.isfinite(p).all()):
            raise ParameterError("params_vector has NaN or inf entries")
        b = torch.as_tensor(self.bounds(), dtype=self.dtype, device=self.device)
        bad = ((p < b[:, 0] - 1e-9) | (p > b[:, 1] + 1e-9)).any(dim=0)
        if bool(bad.any()):
            names = [self.parameter_names()[i] for i in torch.nonzero(bad).flatten().tolist()]
            raise ParameterError(f"parameters outside their bounds: {', '.join(names)} "
                                 f"(see ReflexController.bounds())")
        p = p.expand(batch, n).clone()
        ch = self._channels()
        bufs = tuple(torch.zeros(batch, self.n_delay[k], ch[k], dtype=self.dtype, device=self.device)
                     for k in ("hip", "knee", "ankle"))
        stance = torch.zeros(batch, 2, dtype=torch.bool, device=self.device)
        return ControllerState(p, bufs, 0, False, stance)

    # ----------------------------------------------------------------- step
    def _sense(self, engine_state, outputs):
        """Current (undelayed) sensory channels per delay group and leg loads [B, 2] (in BW)."""
        idx = self.muscle_index  # [2, 9]
        fmax = self.fmax if self.fmax.shape[0] == engine_state.q.shape[0] else self.fmax[:1]
        lopt = self.lopt if self.lopt.shape[0] == engine_state.q.shape[0] else self.lopt[:1]
        vn = self.vnorm if self.vnorm.shape[0] == engine_state.q.shape[0] else self.vnorm[:1]
        F = outputs.muscle_force / fmax
        L = outputs.fiber_length / lopt
        V = outputs.fiber_velocity / vn

        def m(x, gh):  # [B, 2] (right, left)
            return x[:, idx[:, _ORDER.index(gh)]]

        q, qd = engine_state.q, engine_state.qdot
        theta = -q[:, self.i_tilt]
        dtheta = -qd[:, self.i_tilt]
        if self.i_lumbar >= 0:
            theta = theta - q[:, self.i_lumbar]
            dtheta = dtheta - qd[:, self.i_lumbar]
        hipf = q[:, self.i_hip]  # flexion > 0
        knee = -q[:, self.i_knee]  # flexion > 0
        dknee = -qd[:, self.i_knee]
        hip = torch.cat([m(F, "GLU"), m(F, "HAM"), m(L, "HFL"), m(L, "HAM"), theta[:, None], dtheta[:, None],
                         hipf, m(V, "HAM"), m(V, "GLU"), m(V, "HFL"), qd[:, self.i_tx, None],
                         qd[:, self.i_hip]], 1)
        kne = torch.cat([m(F, "VAS"), m(F, "RF"), m(L, "RF"), m(L, "BFSH"), m(V, "BFSH"), knee, dknee,
                         m(V, "VAS"), m(V, "RF")], 1)
        ank = torch.cat([m(F, "SOL"), m(F, "GAS"), m(L, "TA"), m(V, "SOL"), m(V, "GAS"), m(V, "TA"),
                         m(L, "SOL")], 1)
        bw = self.body_weight if self.body_weight.shape[0] == q.shape[0] else self.body_weight[:1]
        load = outputs.grf[:, :2, 1] / bw[:, None]
        return (hip, kne, ank), load

    def step(self, cstate: ControllerState, engine_state: Any, outputs: Any, t: float = 0.0
             ) -> tuple[ControllerState, torch.Tensor]:
        """Excitations for the next engine step.

        Parameters
        ----------
        cstate : ControllerState
        engine_state : twin.engine.step.State
        outputs : twin.engine.step.Outputs
            Outputs of the last engine step (muscle force, fibre length and
            velocity, GRF per contact group: right, left).
        t : float
            Time [s] (unused by the reflexes; kept for the interface).

        Returns
        -------
        (ControllerState, Tensor [B, M])
            The new state and the excitations in [0.01, 1].
        """
        bufs = cstate.buffers
        if not cstate.primed:
            now, load = self._sense(engine_state, outputs)
            st = _stance(cstate.params, load).to(self.dtype)
            clock = torch.cat([torch.zeros_like(st), st, torch.full_like(st, FF_PERIOD0)], 1)
            now = (torch.cat([now[0], clock], 1),) + tuple(now[1:])
            bufs = tuple(x.unsqueeze(1).expand_as(b).clone() for b, x in zip(bufs, now))
        bufs, e, stance = self.step_tensors(cstate.params, bufs, engine_state, outputs)
        return ControllerState(cstate.params, bufs, cstate.head + 1, True, stance), e

    def step_tensors(self, p: torch.Tensor, buffers: tuple, engine_state: Any, outputs: Any):
        """The tensor core of :meth:`step` (no Python state: ``torch.compile`` friendly).

        Each buffer is a shift register ``[B, D, C]``: slot 0 is the sample of
        ``D`` steps ago (read now), the newest sample is appended at the end.

        Returns
        -------
        (tuple of Tensor, Tensor [B, M], Tensor [B, 2] bool)
            New buffers, excitations, stance per leg.
        """
        now, load = self._sense(engine_state, outputs)
        stance = _stance(p, load)
        clock = self._clock(buffers[0][:, -1, _CLOCK:], stance.to(p.dtype))
        now = (torch.cat([now[0], clock], 1),) + tuple(now[1:])
        delayed = [b[:, 0] for b in buffers]
        bufs = tuple(torch.cat([b[:, 1:], x.unsqueeze(1)], 1) for b, x in zip(buffers, now))
        e = self._laws(p, delayed, load, clock)
        return bufs, e, stance

    def _clock(self, last: torch.Tensor, st: torch.Tensor) -> torch.Tensor:
        """The feedforward clock after this step, ``[B, 6]``: per leg (right, left) the time since its foot
        strike [s], its stance (1/0) and its period [s] (the last foot-strike-to-foot-strike time within
        :data:`FF_PERIOD_RANGE`; :data:`FF_PERIOD0` before the first). ``last``: the clock of the last step."""
        timer, was, period = last[:, 0:2], last[:, 2:4], last[:, 4:6]
        strike = st * (1.0 - was)  # this leg's foot strike (stance onset)
        lo, hi = FF_PERIOD_RANGE
        stride = timer + self.dt
        valid = strike * ((stride >= lo) & (stride <= hi)).to(st.dtype)
        period = valid * stride + (1.0 - valid) * period
        timer = torch.clamp((1.0 - strike) * stride, max=10.0)
        return torch.cat([timer, st, period], 1)

    def _laws(self, p: torch.Tensor, delayed, load: torch.Tensor, clock: torch.Tensor) -> torch.Tensor:
        hip, kne, ank = delayed

        def P(name):
            return p[:, _INDEX[name], None]  # [B, 1] broadcast over legs

        relu = torch.relu
        F_glu, F_ham, L_hfl, L_ham = hip[:, 0:2], hip[:, 2:4], hip[:, 4:6], hip[:, 6:8]
        theta, dtheta = hip[:, 8:9], hip[:, 9:10]
        hipf = hip[:, 10:12]
        v_fwd, dhipf = hip[:, 18:19], hip[:, 19:21]
        F_vas, F_rf, L_rf, L_bfsh, V_bfsh = kne[:, 0:2], kne[:, 2:4], kne[:, 4:6], kne[:, 6:8], kne[:, 8:10]
        knee, dknee = kne[:, 10:12], kne[:, 12:14]
        F_sol, F_gas, L_ta, L_sol = ank[:, 0:2], ank[:, 2:4], ank[:, 4:6], ank[:, 12:14]

        st = clock[:, 2:4]  # [B, 2] stance (1/0), as the clock took it this step
        sw = 1.0 - st
        contra_load = load.flip(1)
        contra_st = st.flip(1)
        # double support with this leg trailing (both feet loaded, this hip the more extended one):
        # GH2010's swing preparation
        trailing = (hipf < hipf.flip(1)).to(p.dtype)
        ds = st * contra_st * trailing
        leg_load = torch.clamp(load, 0.0, 2.0)
        pd = P("k_p") * (theta - P("theta_ref")) + P("k_d") * dtheta  # [B, 1]

        # ankle: GH2010's positive force feedback, plus (new) a soleus length reflex in stance (the
        # ankle yields to a set dorsiflexion before the soleus stiffens) and a push-off drive of
        # both plantarflexors while this leg trails in double support
        sol = P("s0_sol") + st * (P("g_sol") * F_sol + P("g_sol_l") * relu(L_sol - P("loff_sol"))) + ds * P("k_po")
        # TA: length feedback with its own gain and offset in swing (dg_ta_sw, dloff_ta_sw; zero:
        # GH2010's one law for both phases); a larger swing offset lets the foot leave the ground
        # plantarflexed instead of being snapped to dorsiflexion at toe-off
        g_ta = P("g_ta") + sw * P("dg_ta_sw")
        loff_ta = P("loff_ta") + sw * P("dloff_ta_sw")
        ta = (P("s0_ta") + relu(g_ta) * relu(L_ta - loff_ta) + st * (P("s0_ta_st") - P("g_sol_ta") * F_sol)
              - ds * P("k_po_ta"))
        gas = P("s0_gas") + st * P("g_gas") * F_gas + ds * P("k_po")
        overext = relu(P("phi_off") - knee) * (dknee < 0).to(p.dtype)
        vas = st * (P("s0_vas") + P("g_vas") * F_vas - P("k_phi") * overext
                    - ds * P("k_bw") * torch.clamp(contra_load, 0.0, 2.0)) + sw * 0.01
        pos = relu(pd) * leg_load
        neg = relu(-pd) * leg_load
        ham = st * (P("s0_bal") + P("g_ham_st") * pos) + sw * (P("s0_ham") + P("g_ham") * F_ham)
        glu = st * (P("s0_bal") + pos - ds * P("delta_s")) + sw * (P("s0_glu") + P("g_glu") * F_glu)
        hfl = st * (P("s0_bal") + neg + ds * P("delta_s")) + sw * (
            P("s0_hfl") + P("k_lean") * (theta - P("theta_ref")) + P("g_hfl") * relu(L_hfl - P("loff_hfl"))
            - P("g_hamhfl") * relu(L_ham - P("loff_ham")))
        # swing-leg placement: PD on the thigh's angle from the vertical towards a speed-dependent target
        u = P("fp_kp") * (P("fp_alpha0") + P("fp_cv") * v_fwd - (hipf - theta)) - P("fp_kd") * (dhipf - dtheta)
        hfl = hfl + sw * relu(u)
        glu = glu + sw * relu(-u)
        bfsh = P("s0_bfsh") + sw * (P("g_bfsh") * relu(L_bfsh - P("loff_bfsh")) + P("kv_bfsh") * relu(V_bfsh))
        # swing knee (Song & Geyer 2015, modules 7 and 10): BFSH flexes the knee towards knee_sw_tgt while
        # the leg trails in double support and while the knee is still flexing in swing (the stateless
        # stand-in for their "flex knee" sub-phase); VAS extends it towards knee_land once the thigh swings
        # back (late swing: landing preparation)
        flexing = (dknee > 0).to(p.dtype)
        bfsh = bfsh + (ds + sw * flexing) * P("g_bfsh_sw") * relu(P("knee_sw_tgt") - knee)
        retracting = ((dhipf - dtheta) < 0).to(p.dtype)
        vas = vas + sw * retracting * P("g_vas_sw") * relu(knee - P("knee_land"))
        rf = P("s0_rf") + st * P("g_rf") * F_rf + sw * P("g_rf_sw") * relu(L_rf - P("loff_rf"))
        # feedforward bursts on each leg's own clock (fraction of its stride since its foot strike, wrapped so
        # that a burst centred near 0 spans the end of one stride and the start of the next)
        phase = clock[:, 0:2] / clock[:, 4:6]

        def burst(name):
            d = phase - P(name + "_c")
            d = d - torch.round(d)
            return P(name) * torch.exp(-0.5 * (d / P(name + "_w")) ** 2)

        vas = vas + burst("ff_vas")
        bfsh = bfsh + burst("ff_bfsh")

        per = torch.stack([ham, bfsh, glu, hfl, rf, vas, gas, sol, ta], dim=-1)  # [B, 2, 9]
        # velocity-dependent stretch reflex (spasticity; zero gain for a healthy body), delayed as
        # the muscle's joint group
        vel = torch.stack([hip[:, 12:14], kne[:, 8:10], hip[:, 14:16], hip[:, 16:18], kne[:, 16:18],
                           kne[:, 14:16], ank[:, 8:10], ank[:, 6:8], ank[:, 10:12]], dim=-1)  # [B, 2, 9]
        idx = self.muscle_index  # [2, 9]
        gain = self.stretch_gain if self.stretch_gain.shape[0] == p.shape[0] else self.stretch_gain[:1]
        scale = self.excitation_scale if self.excitation_scale.shape[0] == p.shape[0] else self.excitation_scale[:1]
        per = per + gain[:, idx] * torch.relu(vel)
        per = torch.clamp(per * scale[:, idx], 0.01, 1.0)
        out = torch.zeros(p.shape[0], self.n_muscles, dtype=p.dtype, device=p.device)
        out[:, idx.flatten()] = per.reshape(p.shape[0], -1)
        return out

    def as_callable(self, cstate: ControllerState, params: Any):
        """An adapter ``f(state, t) -> excitation`` for :func:`twin.engine.simulate`.

        The engine's ``simulate`` passes only the State, so the adapter
        recomputes the Outputs it needs with :func:`twin.engine.step.dynamics`
        (at the current excitation) -- one extra dynamics evaluation per step.
        """
        from ..engine.step import dynamics

        box = {"c": cstate, "e": torch.full((cstate.params.shape[0], self.n_muscles), 0.01, dtype=self.dtype,
                                            device=self.device)}

        def f(state, t):
            out = dynamics(params, state, box["e"])
            box["c"], box["e"] = self.step(box["c"], state, out, t)
            return box["e"]

        return f


def vector_from_dict(values: dict[str, float], *, base: Sequence[float] | None = None) -> np.ndarray:
    """A parameter vector from a ``{name: value}`` mapping (others from ``base`` or the defaults).

    Raises
    ------
    ParameterError
        An unknown name.
    """
    v = np.array(ReflexController.default_vector() if base is None else base, dtype=float)
    for k, x in values.items():
        if k not in _INDEX:
            raise ParameterError(f"unknown reflex parameter {k!r}; see ReflexController.parameter_names()")
        v[_INDEX[k]] = float(x)
    return v
