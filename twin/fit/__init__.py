"""Fit a musculoskeletal model to a gait recording with OpenSim: scale, IK, ID, muscle forces.

The gait-lab pipeline, run through OpenSim's Python API in memory, with
xarray Datasets in and out:

========================  ======================================================  ===============
function                  what                                                    returns
========================  ======================================================  ===============
:func:`scale`             generic model + static trial -> scaled model, placed    (opensim.Model,
                          markers (OpenSim Model.scale + marker placement)        report Dataset)
:func:`inverse_kinematics` markers -> q, qdot (OpenSim InverseKinematicsSolver)    Kinematics
:func:`inverse_dynamics`  q + GRF -> joint moments (OpenSim InverseDynamicsSolver) Dynamics
:func:`muscle_forces`     moments -> activations, muscle forces (static            Dataset
                          optimisation over OpenSim moment arms)
:func:`calibrate_passive_knee` the quadriceps' passive fibre strain set so the    (BodyParams,
                          relaxed knee's moment matches Riener & Edrich 1999      report dict)
                          (the engine; no OpenSim)
========================  ======================================================  ===============

A model is a ``.osim`` path, an ``opensim.Model`` (copied, never changed) or
a :class:`twin.model.BodyParams` (built with ``twin.model.to_opensim``). The
generic Gait10dof18musc model has no markers: twin gives it the subject01
marker set of OpenSim's Gait2354 pipeline (:mod:`twin.fit.markersets`), and
other labs' marker names are mapped onto it. OpenSim is imported lazily;
``import twin.fit`` does not need it. OpenSim's log is lowered to errors on
first use.

Examples
--------
>>> import twin.fit
>>> sorted(twin.fit.__all__)
['calibrate_passive_knee', 'inverse_dynamics', 'inverse_kinematics', 'muscle_forces', 'passive_knee_moment', 'scale']
>>> model, report = twin.fit.scale("gait10dof18musc.osim", twin.read("static.trc"), mass=72.6)  # doctest: +SKIP
>>> kin = twin.fit.inverse_kinematics(model, rec)                                                 # doctest: +SKIP
>>> dyn = twin.fit.inverse_dynamics(model, kin, grf=rec)                                          # doctest: +SKIP
"""

from .id import inverse_dynamics
from .ik import inverse_kinematics
from .passive import calibrate_passive_knee, passive_knee_moment
from .scale import scale
from .so import muscle_forces

__all__ = ["scale", "inverse_kinematics", "inverse_dynamics", "muscle_forces", "calibrate_passive_knee",
           "passive_knee_moment"]
