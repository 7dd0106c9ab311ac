"""The body model: :class:`BodyParams` and its OpenSim view.

* :mod:`twin.model.params` -- :class:`BodyParams` (segments, joints,
  muscles, contact spheres, marker sets; SI units) and its records;
  :meth:`BodyParams.default` is OpenSim's Gait10dof18musc value for value.
* :mod:`twin.model.scaling` -- :meth:`BodyParams.scaled`: height/mass
  (de Leva 1996) and per-segment factors (OpenSim ScaleTool rules).
* :mod:`twin.model.markers` -- the ``subject01``, ``plug_in_gait`` and
  ``opencap`` marker sets.
* :mod:`twin.model.dataset` -- :meth:`BodyParams.to_dataset` /
  :meth:`BodyParams.from_dataset` (xarray, units on every variable).
* :mod:`twin.model.geometry` -- numpy kinematics (frames, markers,
  musculotendon lengths, moment arms) without OpenSim.
* :mod:`twin.model.build` -- :func:`to_opensim`, :func:`write_osim`.
* :mod:`twin.model.reference` -- :func:`compare_to_reference`: the built
  model against OpenSim's published Gait10dof18musc.

OpenSim is imported only inside the functions that need it.

Examples
--------
>>> from twin.model import BodyParams
>>> body = BodyParams.default()
>>> len(body.segments), len(body.muscles), len(body.coordinates)
(12, 18, 10)
>>> body.muscle_names[:4]
('hamstrings_r', 'bifemsh_r', 'glut_max_r', 'iliopsoas_r')
"""

from .build import MARKER_SETS, MUSCLE_MODELS, to_opensim, write_osim
from .params import (
    JOINT_TYPES,
    REFERENCE_MODEL,
    BodyParams,
    ContactModel,
    ContactSphere,
    Coordinate,
    Joint,
    Marker,
    MarkerSet,
    Muscle,
    PathPoint,
    Segment,
    Spline,
)
from .reference import compare_to_reference

__all__ = [
    "BodyParams",
    "Segment",
    "Joint",
    "Coordinate",
    "Spline",
    "Muscle",
    "PathPoint",
    "ContactSphere",
    "ContactModel",
    "Marker",
    "MarkerSet",
    "JOINT_TYPES",
    "REFERENCE_MODEL",
    "MARKER_SETS",
    "MUSCLE_MODELS",
    "to_opensim",
    "write_osim",
    "compare_to_reference",
]
