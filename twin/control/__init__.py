"""Neural control: a Geyer--Herr reflex controller and its CMA-ES optimisation on the engine.

See :mod:`twin.control.reflex` (the controller), :mod:`twin.control.sim`
(closed-loop rollouts), :mod:`twin.control.objective` (cost terms) and
:mod:`twin.control.optimize` (CMA-ES with the population as one batch).
"""

from .reflex import ControllerState, ReflexController  # noqa: F401
from .objective import (Objective, distance, effort, joint_limits, no_fall, speed, stance,  # noqa: F401
                        stride_time, tracking, trunk, walking)
from .optimize import OptimizeResult, evaluate, optimize  # noqa: F401
from .sim import initial_walking_state, rollout, walking_params  # noqa: F401

__all__ = ["ReflexController", "ControllerState", "optimize", "OptimizeResult", "evaluate", "Objective",
           "no_fall", "distance", "speed", "effort", "joint_limits", "trunk", "tracking", "stride_time", "stance", "walking",
           "walking_params", "initial_walking_state", "rollout"]
