"""Gait analysis: events, cycle normalisation, spatiotemporal parameters, normative comparison.

Everything takes and returns :mod:`xarray` objects following :mod:`twin.schema`
(SI units, OpenSim axes: X forward, Y up, Z right).

* :mod:`twin.gait.events` -- foot strike / foot off from force plates
  (:func:`events_from_force`), marker or landmark kinematics
  (:func:`events_from_kinematics`, Zeni 2008 or foot velocity), shank
  gyroscopes (:func:`events_from_imu`); :func:`detect_events` picks one;
  :func:`compare_events` scores them against a reference.
* :mod:`twin.gait.cycles` -- :func:`normalize_cycles` to 0..100 % of the
  stride, :func:`cycle_mean`, :func:`cycle_std`.
* :mod:`twin.gait.spatiotemporal` -- :func:`spatiotemporal` (speed, cadence,
  stride/step length and time, step width, stance/swing/double support,
  symmetry indices).
* :mod:`twin.gait.normative` -- Schwartz et al. 2008 normative curves by
  walking speed (:func:`normative`, :func:`zscore`, :func:`band`).
* :mod:`twin.gait.benchmark` -- :func:`evaluate_event_detection` on the
  reference trials under ``TWIN_DATA_DIR``.

Examples
--------
>>> import numpy as np
>>> from twin import schema, gait
>>> ev = schema.events([0.0, 1.0, 2.0], ["foot_strike"] * 3, ["left"] * 3)
>>> x = schema.recording(np.linspace(0, 2, 201))
>>> x["signal"] = ("time", np.linspace(0, 2, 201), {"units": "1"})
>>> gait.normalize_cycles(x.signal, ev, side="left").sizes["cycle"]
2
"""

from .align import align_progression
from .cycles import cycle_mean, cycle_std, normalize_cycles
from .events import compare_events, detect_events, events_from_force, events_from_imu, events_from_kinematics
from .normative import band, normative, speed_category, zscore
from .spatiotemporal import spatiotemporal

__all__ = [
    "align_progression",
    "events_from_force",
    "events_from_kinematics",
    "events_from_imu",
    "detect_events",
    "compare_events",
    "normalize_cycles",
    "cycle_mean",
    "cycle_std",
    "spatiotemporal",
    "normative",
    "speed_category",
    "zscore",
    "band",
    "evaluate_event_detection",
]


def evaluate_event_detection(data_dir=None, **options):  # noqa: D103 - documented in twin.gait.benchmark
    from .benchmark import evaluate_event_detection as f

    return f(data_dir, **options)


evaluate_event_detection.__doc__ = "See :func:`twin.gait.benchmark.evaluate_event_detection`."
