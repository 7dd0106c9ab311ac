"""Literature directions of what-if scenarios, checked on simulations.

:data:`DIRECTIONS` lists, for a few standard interventions, which way a gait
measure should move relative to the baseline according to the clinical and
simulation literature; :func:`check_directions` simulates them with a twin
(``adapt=False``: today's nervous system) and says which were reproduced.

=====================================  ==========================================  ==========================
scenario                               measure                                     expected (source)
=====================================  ==========================================  ==========================
plantarflexors at 40 % strength        peak ankle plantarflexion moment            lower (Van der Krogt 2012)
plantarflexors at 40 % strength        peak ankle (push-off) power                 lower (Van der Krogt 2012)
plantarflexors at 40 % strength        speed x stride length                       lower (Van der Krogt 2012;
                                                                                   Waterval 2019)
hamstring contracture (optimal fibre   knee flexion at initial contact             higher (Delp 1996;
length 20 % shorter)                                                               Arnold 2006)
stiff knee replacement, both (0-50     peak swing knee flexion                     lower (Ritter 2003;
deg: reduced range of motion)                                                      Benedetti 2003)
ankle-foot orthosis 300 N m/rad        ankle range of motion                       lower (Bregman 2011)
=====================================  ==========================================  ==========================

Examples
--------
>>> [d.scenario for d in DIRECTIONS][:1]
['weakness:plantarflexors=0.4']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["Direction", "DIRECTIONS", "check_directions", "cycle_measures"]


@dataclass(frozen=True)
class Direction:
    """One expected effect: ``measure`` goes ``sign`` (+1 up, -1 down) under ``scenario``."""

    scenario: str
    measure: str
    sign: int
    source: str


DIRECTIONS = (
    Direction("weakness:plantarflexors=0.4", "peak_ankle_plantarflexion_moment", -1, "Van der Krogt et al. 2012"),
    Direction("weakness:plantarflexors=0.4", "peak_ankle_power", -1, "Van der Krogt et al. 2012"),
    Direction("weakness:plantarflexors=0.4", "speed_x_stride", -1, "Van der Krogt et al. 2012; Waterval et al. 2019"),
    Direction("contracture:hamstrings=0.2", "knee_flexion_at_contact", +1, "Delp et al. 1996; Arnold et al. 2006"),
    Direction("tka:both,range=-0.87:0", "peak_swing_knee_flexion", -1, "Ritter et al. 2003; Benedetti et al. 2003"),
    Direction("afo:300", "ankle_rom", -1, "Bregman et al. 2011"),
)


def cycle_measures(sim: xr.Dataset, *, settle: float = 2.0) -> dict[str, np.ndarray]:
    """Per member: the measures of :data:`DIRECTIONS` (deg, N m, W, m^2/s; NaN without strides).

    Knee angles from the mean right stride (strikes from the right vertical
    GRF); moments and power from the simulation's ``moment``/``power``
    (:func:`twin.control.sim.add_joint_moments`), right ankle, after ``settle`` s.
    """
    from .control.analysis import mean_cycle
    from .metrics import metrics

    dim = "scenario" if "scenario" in sim.dims else "batch"
    n = sim.sizes[dim]
    rec = {"time": sim.time.values, "q": sim.q.transpose(dim, "time", "coordinate").values,
           "grf": sim.grf.transpose(dim, "time", "side", "axis").values,
           "coordinate": [str(c) for c in sim.coordinate.values], "walked_s": sim.walked_s.values}
    out = {k: np.full(n, np.nan) for k in ("knee_flexion_at_contact", "peak_swing_knee_flexion", "ankle_rom")}
    for b in range(n):
        cyc = mean_cycle(rec, b, skip_s=settle)
        if cyc is None:
            continue
        knee = -np.degrees(cyc["knee_angle_r"])  # flexion positive
        out["knee_flexion_at_contact"][b] = knee[0]
        out["peak_swing_knee_flexion"][b] = knee[50:].max()
        ankle = np.degrees(cyc["ankle_angle_r"])
        out["ankle_rom"][b] = ankle.max() - ankle.min()
    m = metrics(sim, settle=settle)
    for k in ("peak_ankle_plantarflexion_moment", "peak_ankle_power"):
        out[k] = m[k].isel(side=0).values.astype(float) if k in m else np.full(n, np.nan)
    out["speed_x_stride"] = (m["speed"].values * m["stride_length"].values).astype(float)
    return out


def check_directions(twin: Any, *, duration: float = 10.0, directions=DIRECTIONS, compile: bool = False) -> dict:
    """Simulate every scenario of ``directions`` with ``twin`` (one batch) and compare with the baseline.

    Returns
    -------
    dict
        ``rows``: one dict per direction (scenario, measure, baseline, value,
        expected sign, ok); ``ok``/``tried`` counts; ``sim``: the Dataset.
        A direction is "ok" only when both values are finite and the change
        has the expected sign.
    """
    scen = list(dict.fromkeys(d.scenario for d in directions))
    sim = twin.simulate(scen, duration=duration, compile=compile)
    meas = cycle_measures(sim, settle=min(2.0, duration / 4))
    labels = [str(x) for x in sim.scenario.values]
    rows = []
    for d in directions:
        b = float(meas[d.measure][0])
        v = float(meas[d.measure][labels.index(d.scenario)])
        ok = bool(np.isfinite(b) and np.isfinite(v) and np.sign(v - b) == d.sign)
        rows.append({"scenario": d.scenario, "measure": d.measure, "baseline": b, "value": v, "expected": d.sign,
                     "ok": ok, "source": d.source, "fell": bool(sim.fell.values[labels.index(d.scenario)])})
    return {"rows": rows, "ok": sum(r["ok"] for r in rows), "tried": len(rows), "sim": sim}
