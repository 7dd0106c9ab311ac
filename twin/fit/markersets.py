"""Marker sets, scaling measurements, task weights and other labs' marker names.

The defaults reproduce OpenSim's published subject01 pipeline for the
Gait2354/Gait10dof18musc family of models (same bodies and body frames):

* :data:`SUBJECT01_MARKERS`: the 39 markers of ``gait2354_Scale_MarkerSet.xml``
  (opensim-models ``Pipelines/Gait2354_Simbody``; model by Delp et al. 1990,
  Anderson & Pandy 1999, Thelen, Seth, Anderson and Delp; CC BY 3.0), body and
  location in the *generic* (unscaled) body frame. The generic
  ``gait10dof18musc.osim`` ships without markers; :func:`add_subject01_markers`
  gives it these.
* :data:`SUBJECT01_MEASUREMENTS`: the marker-pair measurements of
  ``subject01_Setup_Scale.xml`` (torso, pelvis, thigh, shank, foot), without
  the patella bodies Gait10dof18musc does not have.
* :data:`SUBJECT01_PLACER_WEIGHTS`: that setup's marker-placer weights (1000 on
  bony landmarks, 1 on cluster markers).
* :data:`SUBJECT01_IK_WEIGHTS`: the weights of ``Gait10dof18musc/IK/walk_Setup_IK.xml``.

Other labs name their markers differently. :data:`MARKER_MAPS` maps the
marker names of a few public data sets (BMClab, Plug-in-Gait/Vicon,
OpenCap video markers) onto the subject01 names of the same anatomical
landmarks; a name mapped to a tuple is the mean of those markers (e.g. the
mid-point of the two PSIS for ``V.Sacral``). :func:`map_markers` renames a
Recording's markers and keeps only those the model shares.

Examples
--------
>>> from twin.fit.markersets import SUBJECT01_MARKERS, guess_marker_map
>>> len(SUBJECT01_MARKERS)
39
>>> guess_marker_map(["RASI", "LASI", "RPSI", "LPSI", "RKNE", "RANK", "RHEE", "RTOE"])
'plugin_gait'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError
from ..schema import add_history

__all__ = [
    "SUBJECT01_MARKERS",
    "SUBJECT01_MEASUREMENTS",
    "SUBJECT01_PLACER_WEIGHTS",
    "SUBJECT01_PLACER_COORDINATES",
    "SUBJECT01_IK_WEIGHTS",
    "SUBJECT01_MANUAL_SCALES",
    "GAIT10_BODIES",
    "MARKER_MAPS",
    "add_subject01_markers",
    "has_gait10_bodies",
    "guess_marker_map",
    "map_markers",
]

#: (name, body, location in the generic body frame [m]) from gait2354_Scale_MarkerSet.xml
SUBJECT01_MARKERS: tuple[tuple[str, str, tuple[float, float, float]], ...] = (
    ("Sternum", "torso", (0.07, 0.3, 0)),
    ("R.Acromium", "torso", (-0.03, 0.44, 0.15)),
    ("L.Acromium", "torso", (-0.03, 0.44, -0.15)),
    ("Top.Head", "torso", (0.00084, 0.657, 0)),
    ("R.ASIS", "pelvis", (0.02, 0.03, 0.128)),
    ("L.ASIS", "pelvis", (0.02, 0.03, -0.128)),
    ("V.Sacral", "pelvis", (-0.16, 0.04, 0)),
    ("R.Thigh.Upper", "femur_r", (0.018, -0.2, 0.064)),
    ("R.Thigh.Front", "femur_r", (0.08, -0.25, 0.0047)),
    ("R.Thigh.Rear", "femur_r", (0.01, -0.3, 0.06)),
    ("R.Knee.Lat", "femur_r", (0, -0.404, 0.05)),
    ("R.Knee.Med", "femur_r", (0, -0.404, -0.05)),
    ("R.Shank.Upper", "tibia_r", (0.005, -0.065, 0.05)),
    ("R.Shank.Front", "tibia_r", (0.05, -0.08, 0)),
    ("R.Shank.Rear", "tibia_r", (0.02, -0.13, 0.05)),
    ("R.Ankle.Lat", "tibia_r", (-0.005, -0.41, 0.053)),
    ("R.Ankle.Med", "tibia_r", (0.006, -0.3888, -0.038)),
    ("R.Heel", "calcn_r", (-0.02, 0.02, 0)),
    ("R.Midfoot.Sup", "calcn_r", (0.13, 0.03, -0.03)),
    ("R.Midfoot.Lat", "calcn_r", (0.1, 0.02, 0.04)),
    ("R.Toe.Lat", "calcn_r", (0.19, 0, 0.065)),
    ("R.Toe.Med", "calcn_r", (0.19, 0.005, -0.04)),
    ("R.Toe.Tip", "calcn_r", (0.26, 0.005, 0)),
    ("L.Thigh.Upper", "femur_l", (0.018, -0.2, -0.064)),
    ("L.Thigh.Front", "femur_l", (0.08, -0.25, -0.0047)),
    ("L.Thigh.Rear", "femur_l", (0.01, -0.3, -0.06)),
    ("L.Knee.Lat", "femur_l", (0, -0.404, -0.05)),
    ("L.Knee.Med", "femur_l", (0, -0.404, 0.05)),
    ("L.Shank.Upper", "tibia_l", (0.005, -0.065, -0.05)),
    ("L.Shank.Front", "tibia_l", (0.05, -0.08, 0)),
    ("L.Shank.Rear", "tibia_l", (-0.02, -0.13, -0.05)),
    ("L.Ankle.Lat", "tibia_l", (-0.005, -0.41, -0.053)),
    ("L.Ankle.Med", "tibia_l", (0.006, -0.3888, 0.038)),
    ("L.Heel", "calcn_l", (-0.02, 0.02, 0)),
    ("L.Midfoot.Sup", "calcn_l", (0.13, 0.03, 0.03)),
    ("L.Midfoot.Lat", "calcn_l", (0.1, 0.02, -0.04)),
    ("L.Toe.Lat", "calcn_l", (0.19, 0, -0.065)),
    ("L.Toe.Med", "calcn_l", (0.19, 0.005, 0.04)),
    ("L.Toe.Tip", "calcn_l", (0.26, 0.005, 0)),
)

#: bodies of the Gait10dof18musc model (the subject01 marker set needs them)
GAIT10_BODIES = ("pelvis", "femur_r", "tibia_r", "talus_r", "calcn_r", "toes_r",
                 "femur_l", "tibia_l", "talus_l", "calcn_l", "toes_l", "torso")

#: (measurement name, marker pairs, bodies scaled) from subject01_Setup_Scale.xml (uniform X Y Z scaling)
SUBJECT01_MEASUREMENTS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("torso", (("V.Sacral", "Top.Head"),), ("torso",)),
    ("pelvis", (("R.ASIS", "L.ASIS"),), ("pelvis",)),
    ("thigh", (("R.ASIS", "R.Knee.Lat"), ("L.ASIS", "L.Knee.Lat")), ("femur_r", "femur_l", "patella_r", "patella_l")),
    ("shank", (("R.Knee.Lat", "R.Ankle.Lat"), ("L.Knee.Lat", "L.Ankle.Lat")), ("tibia_r", "tibia_l", "talus_r", "talus_l")),
    ("foot", (("R.Heel", "R.Toe.Tip"), ("L.Heel", "L.Toe.Tip")), ("calcn_r", "calcn_l", "toes_r", "toes_l")),
)

#: the manual ScaleSet of subject01_Setup_Scale.xml (scaling_order "measurements manualScale"): it overrides
#: the measured thigh and shank factors; OpenSim's reference subject01 models were scaled with it
SUBJECT01_MANUAL_SCALES: dict[str, float] = {"femur_r": 1.14724, "femur_l": 1.14724,
                                             "tibia_r": 0.988523, "tibia_l": 0.988523}

_LANDMARKS = ("R.ASIS", "L.ASIS", "V.Sacral", "R.Knee.Lat", "R.Knee.Med", "L.Knee.Lat", "L.Knee.Med",
              "R.Ankle.Lat", "R.Ankle.Med", "L.Ankle.Lat", "L.Ankle.Med", "R.Heel", "L.Heel",
              "R.Toe.Tip", "L.Toe.Tip")

#: marker-placer weights of subject01_Setup_Scale.xml: bony landmarks 1000, the rest 1
SUBJECT01_PLACER_WEIGHTS: dict[str, float] = {name: (1000.0 if name in _LANDMARKS else 1.0)
                                              for name, _, _ in SUBJECT01_MARKERS}

#: coordinate tasks of the marker placer: name -> (target value, weight); lumbar upright as in the setup
SUBJECT01_PLACER_COORDINATES: dict[str, tuple[float, float]] = {"lumbar_extension": (0.0, 1000.0)}

#: walk_Setup_IK.xml weights (head, pelvis 3; heels, toe tips 2; the rest 1). That setup switches the knee and
#: ankle markers off only because subject01's walking trial lacks them; twin keeps them at 1 so that trials
#: which have them (most labs) use them.
SUBJECT01_IK_WEIGHTS: dict[str, float] = {
    name: {"Top.Head": 3.0, "R.ASIS": 3.0, "L.ASIS": 3.0, "V.Sacral": 3.0, "R.Heel": 2.0, "L.Heel": 2.0,
           "R.Toe.Tip": 2.0, "L.Toe.Tip": 2.0}.get(name, 1.0)
    for name, _, _ in SUBJECT01_MARKERS
}


def _sided(template: Mapping[str, Any], right: str, left: str) -> dict[str, Any]:
    """Expand ``{'{S}.Knee.Lat': '{s}KNE'}`` for both sides (``{S}`` -> R/L, ``{s}`` -> right/left token)."""
    out: dict[str, Any] = {}
    for model_name, trial in template.items():
        for S, s in (("R", right), ("L", left)):
            key = model_name.replace("{S}", S)
            if isinstance(trial, tuple):
                out[key] = tuple(t.replace("{s}", s) for t in trial)
            else:
                out[key] = trial.replace("{s}", s)
    return out


#: lab marker set -> {subject01 model marker: trial marker name, or tuple of names averaged}
MARKER_MAPS: dict[str, dict[str, Any]] = {
    # BMClab (Duarte lab, github.com/BMClab/BMC walk*.trc): R.ASIS, R.PSIS, R.Knee, R.Knee.Medial, R.MT1 ...
    "bmclab": {
        **_sided({"{S}.ASIS": "{s}.ASIS", "{S}.Knee.Lat": "{s}.Knee", "{S}.Knee.Med": "{s}.Knee.Medial",
                  "{S}.Ankle.Lat": "{s}.Ankle", "{S}.Ankle.Med": "{s}.Ankle.Medial", "{S}.Heel": "{s}.Heel",
                  "{S}.Toe.Lat": "{s}.MT5", "{S}.Toe.Med": "{s}.MT1", "{S}.Midfoot.Sup": "{s}.MT2",
                  "{S}.Thigh.Upper": "{s}.GTR", "{S}.Shank.Front": "{s}.TT", "{S}.Shank.Upper": "{s}.HF"},
                 "R", "L"),
        "V.Sacral": ("R.PSIS", "L.PSIS"),
    },
    # Vicon Plug-in-Gait lower body (kineticstoolkit walk.c3d and most clinical labs); TOE sits on the 2nd
    # metatarsal head, nearest to the model's first-metatarsal marker (placement moves it onto the trial's)
    "plugin_gait": {
        **_sided({"{S}.ASIS": "{s}ASI", "{S}.Knee.Lat": "{s}KNE", "{S}.Ankle.Lat": "{s}ANK",
                  "{S}.Heel": "{s}HEE", "{S}.Toe.Med": "{s}TOE", "{S}.Thigh.Front": "{s}THI",
                  "{S}.Shank.Front": "{s}TIB"}, "R", "L"),
        "V.Sacral": ("RPSI", "LPSI"),
    },
    # OpenCap video markers (the *_study anatomical markers of the LaiUhlrich2022 marker set)
    "opencap": {
        "R.ASIS": "r.ASIS_study", "L.ASIS": "L.ASIS_study", "V.Sacral": ("r.PSIS_study", "L.PSIS_study"),
        **_sided({"{S}.Knee.Lat": "{s}_knee_study", "{S}.Knee.Med": "{s}_mknee_study",
                  "{S}.Ankle.Lat": "{s}_ankle_study", "{S}.Ankle.Med": "{s}_mankle_study",
                  "{S}.Heel": "{s}_calc_study", "{S}.Toe.Tip": "{s}_toe_study", "{S}.Toe.Lat": "{s}_5meta_study",
                  "{S}.Thigh.Upper": "{s}_thigh1_study", "{S}.Thigh.Front": "{s}_thigh2_study",
                  "{S}.Thigh.Rear": "{s}_thigh3_study", "{S}.Shank.Upper": "{s}_sh1_study",
                  "{S}.Shank.Front": "{s}_sh2_study", "{S}.Shank.Rear": "{s}_sh3_study",
                  "{S}.Acromium": "{s}_shoulder_study"}, "r", "L"),
    },
}


def has_gait10_bodies(model: Any) -> bool:
    """True when an ``opensim.Model`` has every body the subject01 marker set is attached to."""
    names = {b.getName() for b in model.getBodySet()}
    return {"pelvis", "femur_r", "tibia_r", "calcn_r", "femur_l", "tibia_l", "calcn_l", "torso"} <= names


def add_subject01_markers(model: Any) -> None:
    """Add :data:`SUBJECT01_MARKERS` (generic locations, not fixed) to an ``opensim.Model`` in place."""
    from ._osim import osim

    o = osim()
    bodies = {b.getName(): b for b in model.getBodySet()}
    for name, body, loc in SUBJECT01_MARKERS:
        if body in bodies and not model.getMarkerSet().contains(name):
            mk = o.Marker(name, bodies[body], o.Vec3(*loc))
            mk.set_fixed(False)
            model.addMarker(mk)
    model.finalizeConnections()


def guess_marker_map(names: Sequence[str]) -> str | None:
    """Which :data:`MARKER_MAPS` entry fits a recording's marker names best (``"subject01"`` when they are
    already model names), or None when no set shares at least 4 markers."""
    have = {str(n) for n in names}
    best, score = None, 0
    own = sum(name in have for name, _, _ in SUBJECT01_MARKERS)
    if own >= 4:
        best, score = "subject01", own
    for key, mapping in MARKER_MAPS.items():
        n = sum(all(v in have for v in (t if isinstance(t, tuple) else (t,))) for t in mapping.values())
        if n > score:
            best, score = key, n
    return best if score >= 4 else None


def map_markers(recording: xr.Dataset, marker_map: str | Mapping[str, Any] | None = "auto", *,
                model_markers: Sequence[str] | None = None) -> tuple[xr.Dataset, dict[str, Any]]:
    """Rename a Recording's markers to model marker names.

    Parameters
    ----------
    recording : xarray.Dataset
        Recording with ``markers``.
    marker_map : "auto", str, mapping or None
        A key of :data:`MARKER_MAPS`, a mapping {model marker: trial marker or
        tuple of trial markers to average}, ``"auto"`` (guess from the names;
        recordings already using model names pass through) or None (no renaming).
    model_markers : sequence of str, optional
        When given, only mapped markers the model has are kept.

    Returns
    -------
    (xarray.Dataset, dict)
        The Recording with the mapped markers only (other variables kept), and
        the mapping used (``{}`` when nothing was renamed).
    """
    if "markers" not in recording:
        raise TwinError("the recording has no 'markers' variable; read a marker file (.trc, .c3d) first")
    names = [str(n) for n in recording["marker"].values]
    if marker_map == "auto":
        marker_map = guess_marker_map(names)
        if model_markers is not None and marker_map not in (None, "subject01"):
            # the model may already carry this recording's own marker names (e.g. BodyParams' OpenCap set):
            # rename only when the map matches more of the model's markers than the names as they are
            have, model = set(names), set(model_markers)
            direct = sum(n in model for n in names)
            mapped = sum(k in model and all(p in have for p in (v if isinstance(v, tuple) else (v,)))
                         for k, v in MARKER_MAPS[marker_map].items())
            if direct >= max(mapped, 4):
                return recording, {}
        if marker_map in (None, "subject01"):
            return recording, {}
    if marker_map is None:
        return recording, {}
    if isinstance(marker_map, str):
        if marker_map not in MARKER_MAPS:
            raise ParameterError(f"marker_map={marker_map!r} is not known; choose one of {sorted(MARKER_MAPS)} or "
                                 "pass a dict {model marker: trial marker}")
        label = marker_map
        mapping = MARKER_MAPS[marker_map]
    else:
        label = "custom"
        mapping = dict(marker_map)
    index = {n: i for i, n in enumerate(names)}
    values = recording["markers"].transpose("time", "marker", "axis").values
    out_names, cols = [], []
    for model_name, trial in mapping.items():
        if model_markers is not None and model_name not in model_markers:
            continue
        parts = trial if isinstance(trial, tuple) else (trial,)
        if not all(p in index for p in parts):
            continue
        out_names.append(model_name)
        cols.append(np.mean([values[:, index[p], :] for p in parts], axis=0))
    if not out_names:
        raise TwinError(f"none of the recording's markers ({', '.join(names[:12])}...) match the {label!r} marker map")
    used = {k: mapping[k] for k in out_names}
    ds = recording.drop_vars(["markers", "marker"]).assign_coords(marker=out_names)
    ds["markers"] = (("time", "marker", "axis"), np.stack(cols, axis=1), dict(recording["markers"].attrs))
    ds = add_history(ds, f"renamed markers with the {label!r} map: {len(out_names)} of {len(names)} trial markers "
                         f"mapped to model markers ({', '.join(out_names)})")
    ds.attrs["marker_map"] = label
    return ds, used
