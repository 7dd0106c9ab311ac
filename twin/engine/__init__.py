"""twin.engine: a batched PyTorch simulator of planar musculoskeletal bodies.

Brax-style functional core: parameters and state are immutable dataclasses
of tensors with a leading batch dim (every member may be a different body),
and :func:`step` is a pure function with no Python loop over the batch.

==========================  ===================================================
module                      stage
==========================  ===================================================
:mod:`.spec`                the engine's body description (:class:`ModelSpec`)
:mod:`.from_model`          ``twin.model.BodyParams`` -> ModelSpec
:mod:`.osim_xml`            planar ``.osim`` file -> ModelSpec
:mod:`.build`               :class:`EngineParams` (tensors, built once, validated)
:mod:`.multibody`           planar tree kinematics, mass matrix, bias forces
:mod:`.path`                musculotendon length, speed and moment arms
:mod:`.muscle`              De Groote--Fregly 2016 muscle (compliant or rigid tendon)
:mod:`.activation`          activation dynamics (De Groote 2016)
:mod:`.joints`              joint-limit torques, damping, coordinate springs
:mod:`.contact`             Hunt--Crossley foot spheres (SmoothSphereHalfSpaceForce)
:mod:`.metabolics`          metabolic power (Bhargava et al. 2004, smoothed)
:mod:`.step`                :class:`State`, the chained stages, :func:`step`, :func:`guard`
:mod:`.integrate`           semi-implicit Euler (default) and RK4
:mod:`.simulate`            :func:`simulate` -> xarray Dataset
:mod:`.inverse`             inverse dynamics with external loads
==========================  ===================================================

Verified against OpenSim 4 on the same body (``tests/test_engine_opensim.py``,
``twin bench engine``).

Examples
--------
>>> from twin.engine import EngineParams, double_pendulum, simulate
>>> p = EngineParams.from_body(double_pendulum(), batch=4)
>>> ds = simulate(p, None, 0.05, dt=1e-3, record_every=10)
>>> ds.sizes["batch"], ds.sizes["time"]
(4, 5)
"""

from .build import EngineParams
from .inverse import ExternalLoad, inverse_dynamics
from .simulate import make_stepper, simulate
from .spec import (
    BodySpec,
    ContactSpec,
    CoordinateSpec,
    Func1D,
    JointSpec,
    ModelSpec,
    MuscleSpec,
    PathPointSpec,
    double_pendulum,
)
from .step import Outputs, State, dynamics, guard, initial_state, step

__all__ = [
    "EngineParams",
    "State",
    "Outputs",
    "initial_state",
    "dynamics",
    "step",
    "guard",
    "simulate",
    "make_stepper",
    "inverse_dynamics",
    "ExternalLoad",
    "ModelSpec",
    "BodySpec",
    "JointSpec",
    "CoordinateSpec",
    "MuscleSpec",
    "PathPointSpec",
    "ContactSpec",
    "Func1D",
    "double_pendulum",
]
