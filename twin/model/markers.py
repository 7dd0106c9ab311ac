"""Marker sets of the default body: ``subject01``, ``plug_in_gait`` and ``opencap``.

All three live in :attr:`BodyParams.marker_sets` (positions in m in the frame
of the segment named with each marker) and scale with the body.

``subject01``
    The 39 markers of OpenSim's Gait10dof18musc subject01 model (names as in
    ``subject01_static.trc`` / ``subject01_walk.trc``), moved onto the
    unscaled body by dividing by that model's per-segment scale factors
    (listed in the set's description). They were placed by OpenSim's
    ScaleTool on subject01's static trial, so they carry that subject's
    slight left/right asymmetries.

``plug_in_gait``
    Vicon Plug-in Gait lower-body markers: ``LASI RASI LPSI RPSI SACR LTHI
    RTHI LKNE RKNE LTIB RTIB LANK RANK LHEE RHEE LTOE RTOE``, placed from the
    subject01 landmarks made symmetric (mean of the right marker and the
    mirrored left one): ASIS; PSIS at the sacral marker's height and depth,
    5 cm either side of the midline; SACR the sacral marker; KNE lateral femoral epicondyle; ANK
    lateral malleolus; HEE posterior calcaneus; TOE over the second
    metatarsal head (just behind the toes joint, 2 cm above the calcaneus
    origin, 5 mm medial); THI and TIB on the lateral skin at two thirds of
    the femur (hip to knee) and tibia (knee to ankle) length, 7 and 6.5 cm
    lateral of the bone axis. Wand markers would sit further out: the fit's
    marker placement (ScaleTool "move markers") absorbs that.

``opencap``
    The 63 markers of an OpenCap session's ``MarkerData/*.trc`` (video
    keypoints triangulated by OpenCap, then its marker augmenter's
    ``*_study`` markers). This model is planar with no arms, so:

    * pelvis, knee, ankle and foot markers are the subject01 /
      Plug-in-Gait landmarks above (``r.ASIS_study`` = RASI,
      ``r_knee_study`` = RKNE, ``r_mknee_study`` medial epicondyle,
      ``r_mankle_study`` medial malleolus, ``r_5meta_study`` fifth
      metatarsal head, ``r_calc_study`` = RHEE; ``r_toe_study`` on the
      forefoot dorsum halfway from the toes joint to the toe tip, about
      where OpenCap's augmenter puts it relative to heel and toes joint in
      its own scaled model);
    * joint keypoints sit on the model's joint centres (``RHip``,
      ``RHJC_study``: hip centre; ``midHip`` their midpoint; ``RKnee``:
      the tibia origin (knee centre); ``RAnkle``: ankle centre), ``RHeel``
      at the heel marker, ``RBigToe``/``RSmallToe`` at the first/fifth toe
      tips estimated from the subject01 toe markers;
    * thigh and shank cluster markers (``r_thigh1..3_study``,
      ``r_sh1..3_study``) at their locations in OpenCap's own scaled
      LaiArnold model of the example session, times our/their femur
      (0.396/0.417 m) or tibia (0.430/0.468 m) length;
    * ``C7_study`` 6 cm behind and 2 cm above the acromion midpoint;
      ``RShoulder`` 3.5 cm below the acromion (glenohumeral centre);
      ``r_shoulder_study`` the acromion; ``Neck`` the acromion midpoint;
    * elbows and wrists (``RElbow``, ``RWrist``, ``r_lelbow_study``...)
      are fixed to the torso with the arm hanging straight down, the elbow
      0.186 and the wrist a further 0.146 of body height below the acromion
      (Winter 2009, Fig. 4.1),
      epicondyles and styloids 3.5 cm / 2.5 cm either side. Arms swing in
      real walking, so these markers should get zero or low weight in
      inverse kinematics.

Examples
--------
>>> from twin.model import BodyParams
>>> body = BodyParams.default()
>>> body.marker_set("plug_in_gait").names[:4]
('RASI', 'LASI', 'RPSI', 'LPSI')
>>> len(body.marker_set("opencap").markers), len(body.marker_set("subject01").markers)
(63, 39)
"""

from __future__ import annotations

import numpy as np

from .params import BodyParams, Marker, MarkerSet

__all__ = ["plug_in_gait", "opencap", "BUILDERS", "OPENCAP_NAMES"]

_MIRROR = np.array([1.0, 1.0, -1.0])

#: Marker names of an OpenCap session TRC, in file order.
OPENCAP_NAMES = (
    "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "midHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "r.ASIS_study", "L.ASIS_study", "r.PSIS_study", "L.PSIS_study", "r_knee_study", "r_mknee_study",
    "r_ankle_study", "r_mankle_study", "r_toe_study", "r_5meta_study", "r_calc_study", "L_knee_study",
    "L_mknee_study", "L_ankle_study", "L_mankle_study", "L_toe_study", "L_calc_study", "L_5meta_study",
    "r_shoulder_study", "L_shoulder_study", "C7_study", "r_thigh1_study", "r_thigh2_study", "r_thigh3_study",
    "L_thigh1_study", "L_thigh2_study", "L_thigh3_study", "r_sh1_study", "r_sh2_study", "r_sh3_study",
    "L_sh1_study", "L_sh2_study", "L_sh3_study", "RHJC_study", "LHJC_study", "r_lelbow_study", "r_melbow_study",
    "r_lwrist_study", "r_mwrist_study", "L_lelbow_study", "L_melbow_study", "L_lwrist_study", "L_mwrist_study",
)

# OpenCap example session (opencap-processing ActivityAnalyses/Data/03284efb...), scaled LaiArnold model:
# right thigh/shank cluster markers (m, femur_r / tibia_r frames) and that model's femur and tibia lengths.
_LAI_THIGH = {1: (0.07899, -0.14179, 0.10642), 2: (0.03855, -0.24708, 0.11789), 3: (-0.05247, -0.14733, 0.11660)}
_LAI_SHANK = {1: (-0.01403, -0.12682, 0.08944), 2: (0.00986, -0.25941, 0.10274), 3: (-0.07506, -0.25622, 0.08379)}
_LAI_FEMUR_LENGTH = 0.4172
_LAI_TIBIA_LENGTH = 0.4683


class _Landmarks:
    """Right-side landmark positions (m) derived from a body and its subject01 markers."""

    def __init__(self, body: BodyParams, subject01: MarkerSet):
        self.body = body
        self.sub = {m.name: np.array(m.location) for m in subject01.markers}

    def sym(self, right: str, left: str) -> np.ndarray:
        return 0.5 * (self.sub[right] + self.sub[left] * _MIRROR)

    @property
    def femur_length(self) -> float:
        knee = self.body.joint("knee_r")
        y = float(knee.translation_y(0.0)) if knee.translation_y is not None else knee.location_in_parent[1]
        return abs(y)

    @property
    def tibia_length(self) -> float:
        return abs(self.body.joint("ankle_r").location_in_parent[1])

    def hip(self) -> np.ndarray:
        return np.array(self.body.joint("hip_r").location_in_parent)

    def knee(self) -> np.ndarray:
        return np.array(self.body.joint("knee_r").location_in_child)

    def ankle(self) -> np.ndarray:
        return np.array(self.body.joint("ankle_r").location_in_parent)

    def acromion(self) -> np.ndarray:
        return self.sym("R.Acromium", "L.Acromium")

    def toe(self) -> np.ndarray:
        mtp_x = self.body.joint("mtp_r").location_in_parent[0]
        return np.array([mtp_x - 0.005, 0.02, -0.005])

    def psis(self) -> np.ndarray:
        s = self.sub["V.Sacral"]
        return np.array([s[0], s[1], 0.05])

    def sacrum(self) -> np.ndarray:
        s = self.sub["V.Sacral"]
        return np.array([s[0], s[1], 0.0])


def _pairs(items: list[tuple[str, str, str, np.ndarray]]) -> list[Marker]:
    """(right name, left name, right body, right location) -> right and left markers (mirrored)."""
    out = []
    for rname, lname, rbody, loc in items:
        loc = np.asarray(loc, dtype=float)
        out.append(Marker(rname, rbody, tuple(loc)))
        if lname:
            lbody = rbody[:-2] + "_l" if rbody.endswith("_r") else rbody
            out.append(Marker(lname, lbody, tuple(loc * _MIRROR)))
    return out


def plug_in_gait(body: BodyParams, subject01: MarkerSet) -> MarkerSet:
    """The Plug-in-Gait lower-body marker set (placement in the module docstring)."""
    lm = _Landmarks(body, subject01)
    fl, tl = lm.femur_length, lm.tibia_length
    markers = _pairs([
        ("RASI", "LASI", "pelvis", lm.sym("R.ASIS", "L.ASIS")),
        ("RPSI", "LPSI", "pelvis", lm.psis()),
    ]) + [Marker("SACR", "pelvis", tuple(lm.sacrum()))] + _pairs([
        ("RTHI", "LTHI", "femur_r", (0.0, -2.0 / 3.0 * fl, 0.07)),
        ("RKNE", "LKNE", "femur_r", lm.sym("R.Knee.Lat", "L.Knee.Lat")),
        ("RTIB", "LTIB", "tibia_r", (-0.005, -2.0 / 3.0 * tl, 0.065)),
        ("RANK", "LANK", "tibia_r", lm.sym("R.Ankle.Lat", "L.Ankle.Lat")),
        ("RHEE", "LHEE", "calcn_r", lm.sym("R.Heel", "L.Heel")),
        ("RTOE", "LTOE", "calcn_r", lm.toe()),
    ])
    return MarkerSet("plug_in_gait", tuple(markers),
                     "Vicon Plug-in Gait lower body, placed on this model as documented in twin.model.markers")


def opencap(body: BodyParams, subject01: MarkerSet) -> MarkerSet:
    """The OpenCap video + augmented marker set (approximations in the module docstring)."""
    lm = _Landmarks(body, subject01)
    h = body.height
    acro = lm.acromion()
    shoulder = acro - np.array([0.0, 0.035, 0.0])
    elbow = acro - np.array([0.0, 0.186 * h, 0.0])
    wrist = elbow - np.array([0.0, 0.146 * h, 0.0])
    tip = lm.sym("R.Toe.Tip", "L.Toe.Tip")
    med = lm.sym("R.Toe.Med", "L.Toe.Med")
    lat = lm.sym("R.Toe.Lat", "L.Toe.Lat")
    big_toe = np.array([tip[0], tip[1], 0.5 * med[2]])
    small_toe = np.array([0.5 * (tip[0] + lat[0]), lat[1], 0.75 * lat[2]])
    mtp_x = body.joint("mtp_r").location_in_parent[0]
    fr = lm.femur_length / _LAI_FEMUR_LENGTH
    tr = lm.tibia_length / _LAI_TIBIA_LENGTH
    d: dict[str, Marker] = {}
    for mk in _pairs([
        ("RShoulder", "LShoulder", "torso", shoulder),
        ("RElbow", "LElbow", "torso", elbow),
        ("RWrist", "LWrist", "torso", wrist),
        ("RHip", "LHip", "pelvis", lm.hip()),
        ("RKnee", "LKnee", "tibia_r", lm.knee()),
        ("RAnkle", "LAnkle", "tibia_r", lm.ankle()),
        ("RBigToe", "LBigToe", "calcn_r", big_toe),
        ("RSmallToe", "LSmallToe", "calcn_r", small_toe),
        ("RHeel", "LHeel", "calcn_r", lm.sym("R.Heel", "L.Heel")),
        ("r.ASIS_study", "L.ASIS_study", "pelvis", lm.sym("R.ASIS", "L.ASIS")),
        ("r.PSIS_study", "L.PSIS_study", "pelvis", lm.psis()),
        ("r_knee_study", "L_knee_study", "femur_r", lm.sym("R.Knee.Lat", "L.Knee.Lat")),
        ("r_mknee_study", "L_mknee_study", "femur_r", lm.sym("R.Knee.Med", "L.Knee.Med")),
        ("r_ankle_study", "L_ankle_study", "tibia_r", lm.sym("R.Ankle.Lat", "L.Ankle.Lat")),
        ("r_mankle_study", "L_mankle_study", "tibia_r", lm.sym("R.Ankle.Med", "L.Ankle.Med")),
        ("r_toe_study", "L_toe_study", "calcn_r", (0.5 * (mtp_x + tip[0]), 0.02, 0.0)),
        ("r_5meta_study", "L_5meta_study", "calcn_r", lat),
        ("r_calc_study", "L_calc_study", "calcn_r", lm.sym("R.Heel", "L.Heel")),
        ("r_shoulder_study", "L_shoulder_study", "torso", acro),
        *[(f"r_thigh{i}_study", f"L_thigh{i}_study", "femur_r", np.array(v) * fr) for i, v in _LAI_THIGH.items()],
        *[(f"r_sh{i}_study", f"L_sh{i}_study", "tibia_r", np.array(v) * tr) for i, v in _LAI_SHANK.items()],
        ("RHJC_study", "LHJC_study", "pelvis", lm.hip()),
        ("r_lelbow_study", "L_lelbow_study", "torso", elbow + np.array([0.0, 0.0, 0.035])),
        ("r_melbow_study", "L_melbow_study", "torso", elbow - np.array([0.0, 0.0, 0.035])),
        ("r_lwrist_study", "L_lwrist_study", "torso", wrist + np.array([0.0, 0.0, 0.025])),
        ("r_mwrist_study", "L_mwrist_study", "torso", wrist - np.array([0.0, 0.0, 0.025])),
    ]):
        d[mk.name] = mk
    d["Neck"] = Marker("Neck", "torso", (acro[0], acro[1], 0.0))
    d["midHip"] = Marker("midHip", "pelvis", (lm.hip()[0], lm.hip()[1], 0.0))
    d["C7_study"] = Marker("C7_study", "torso", (acro[0] - 0.06, acro[1] + 0.02, 0.0))
    return MarkerSet("opencap", tuple(d[n] for n in OPENCAP_NAMES),
                     "OpenCap video keypoints and *_study markers, placed on this planar model as documented "
                     "in twin.model.markers (arms fixed to the torso, hanging)")


#: builders of the derived sets, by name
BUILDERS = {"plug_in_gait": plug_in_gait, "opencap": opencap}
