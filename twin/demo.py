"""The README's demo (``make demo`` / ``twin demo``): a real walking trial from file to report.

1. read subject01's walk from the Gait10dof18musc pipeline (markers ``.trc`` +
   force plates ``.mot`` with their ExternalLoads ``.xml``), from
   ``TWIN_DATA_DIR`` or fetched through :mod:`twin.datasets`;
2. detect gait events from the force plates, and from the markers alone to
   show how close the kinematic method comes;
3. compute the spatiotemporal table;
4. normalise the joint angles to the gait cycle and plot them against the
   Schwartz 2008 normative band for the person's walking speed, plus the
   vertical GRF in body weights; write ``report.html`` and the recording as
   ``recording.nc``.

The joint angles come from OpenSim's inverse kinematics of this trial as
published with the pipeline (``OutputReference/IK``), read by twin; twin's own
scaling and IK (issue 4) will replace them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import datasets, gait
from .gait.report import format_table
from .io import read, save
from .viz import cycle_figure, write_report

__all__ = ["run_demo"]

_ANGLES = [("hip_flexion", "hip flexion"), ("knee_angle", "knee flexion"), ("ankle_angle", "ankle dorsiflexion")]


def _event_lines(ev: xr.Dataset) -> str:
    return "\n".join(f"{t:8.3f} s  {side:<5}  {lab}" for t, lab, side in
                     zip(ev.event_time.values, ev.event_label.values, ev.event_side.values))


def run_demo(*, out: str | Path = "demo_output", show: bool = True, twin_duration: float = 10.0,
             generations: int = 0) -> dict:
    """Run the demo and write its outputs into ``out``.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    show : bool
        Print the tables.
    twin_duration : float
        Simulated seconds of the twin's baseline and scenarios.
    generations : int
        CMA-ES generations fitting the controller to the person (0: the
        shipped controller, warm start only -- the demo stays fast).

    Returns
    -------
    dict
        Paths written and the main figures (events, spatiotemporal Dataset).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = datasets.example("subject01_walk")
    rec = read([files["walk_trc"], files["grf_mot"]])
    ev = gait.detect_events(rec, method="force")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev_kin = gait.detect_events(rec, method="kinematics")
    cmp = gait.compare_events(ev_kin, ev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = gait.spatiotemporal(rec, ev)
    speed = float(st["walking_speed"].sel(side="overall"))
    table = format_table(st)

    ik = read(files["reference_ik"])
    leg = _leg_length(rec)
    norm_kwargs = {"speed": speed, "leg_length": leg} if np.isfinite(speed) and leg else {"category": "Free"}
    sections: list[tuple[str, object]] = []
    for coord, label in _ANGLES:
        curves = {}
        for side, tag in (("right", "r"), ("left", "l")):
            name = f"{coord}_{tag}"
            if name in ik.coordinate.values:
                try:
                    c = gait.normalize_cycles(ik.q.sel(coordinate=name), ev, side=side)
                except Exception:  # noqa: BLE001 - a side without a full stride is left out of the plot
                    continue
                if c.sizes.get("cycle", 0):
                    curves[side] = c.assign_attrs(units="rad")
        if not curves:
            continue
        norm = gait.normative(f"{coord}_r", **norm_kwargs)
        sections.append((f"{label} (OpenSim IK of this trial) vs Schwartz 2008 {norm.attrs.get('category', '')}",
                         cycle_figure(curves, norm=norm, title=label)))
    mass = rec.attrs.get("subject_mass")
    weight = (mass * 9.81) if mass else float(rec.grf.sel(axis="y").sum(rec.grf.dims[1]).median())
    grf_curves = {}
    for side in ("right", "left"):
        try:
            c = gait.normalize_cycles(rec.grf.sel(side=side, axis="y") / weight, ev, side=side)
        except Exception:  # noqa: BLE001
            continue
        if c.sizes.get("cycle", 0):
            grf_curves[side] = c.assign_attrs(units="body weight")
    if grf_curves:
        sections.append(("vertical ground reaction force", cycle_figure(grf_curves, title="vertical GRF / body weight")))

    text_events = "force-plate events:\n" + _event_lines(ev)
    fs = float(cmp["median_abs_error"].sel(label="foot_strike")) if "median_abs_error" in cmp else float("nan")
    fo = float(cmp["median_abs_error"].sel(label="foot_off")) if "median_abs_error" in cmp else float("nan")
    text_events += (f"\n\nmarker-only (kinematic) events vs force plates: median |error| "
                    f"foot strike {fs:.0f} ms, foot off {fo:.0f} ms")
    header = (f"trial: {files['walk_trc'].name} + {files['grf_mot'].name}\n"
              f"walking speed {speed:.2f} m/s; leg length {leg:.3f} m (from markers); normative group "
              f"{norm_kwargs.get('category') or gait.speed_category(speed, leg)}")
    twin_sections, twin_text = _twin_part(files["reference_ik"], rec, out, duration=twin_duration,
                                          generations=generations)
    report = write_report(out / "report.html", title="twin demo: subject01 walking",
                          sections=[("trial", header), ("gait events", text_events),
                                    ("spatiotemporal parameters", table)] + sections + twin_sections)
    save(rec.assign_attrs(history=rec.attrs.get("history", "") + "\nsaved by twin demo"), out / "recording.nc")
    if show:
        print(header)
        print()
        print(text_events)
        print()
        print(table)
        print()
        print(twin_text)
        print()
        print(f"wrote {report}, {out / 'recording.nc'} and {out / 'twin.nc'}")
    return {"report": report, "recording": out / "recording.nc", "events": ev, "spatiotemporal": st}


#: The demo's what-if scenarios (twin.scenarios CLI grammar). The knee replacement carries a 30 %
#: arthrogenic quadriceps inhibition: a TKA's default range of motion (0-110 deg) is never reached
#: in level walking, so the implant alone changes nothing the table shows.
DEMO_SCENARIOS = ("weakness:plantarflexors=0.4", "tka:both,inhibition=0.3")


def _twin_part(ik_path, rec: xr.Dataset, out: Path, *, duration: float, generations: int):
    """Fit a twin to the trial's joint angles, simulate two what-ifs, return report sections and text."""
    from . import metrics
    from .cli import metrics_text
    from .twin import Twin
    from .viz import gait_curves, grf_figure

    mass = float(rec.attrs.get("subject_mass") or 72.6)
    t = Twin.from_recording(ik_path, mass=mass, height=1.8, fit_controller=generations > 0,
                            generations=max(generations, 1), duration=duration, progress=False)
    t.save(out / "twin.nc")
    sim = t.simulate(list(DEMO_SCENARIOS), duration=duration)
    m = metrics(sim, settle=min(2.0, 0.25 * duration))
    q = t.quality
    fit = (f"twin of subject01 (body scaled to {t.body.height:.2f} m, {t.body.mass:.1f} kg; controller: "
           f"{t.provenance.get('warm_start')}" + (f" + {generations} CMA-ES generations" if generations else
                                                    ", not refitted") + ")\n"
           f"fit vs the person's mean stride: RMS hip {q.get('rms_deg_hip', float('nan')):.1f} deg, knee "
           f"{q.get('rms_deg_knee', float('nan')):.1f} deg, ankle {q.get('rms_deg_ankle', float('nan')):.1f} deg"
           + (f" (right leg; left {q['rms_deg_hip_l']:.1f} / {q['rms_deg_knee_l']:.1f} / {q['rms_deg_ankle_l']:.1f})"
              if "rms_deg_knee_l" in q else "") + "; "
           f"speed {q.get('speed_mps', float('nan')):.2f} m/s vs the person's "
           f"{t.reference.attrs['speed_mps']:.2f} m/s")
    table = metrics_text(m)
    sections = [("digital twin", fit), ("what if? (simulated, " + f"{duration:g} s each)", table),
                ("simulated joint angles: baseline vs scenarios, Schwartz 2008 band", gait_curves(sim)),
                ("simulated ground reaction forces", grf_figure(sim))]
    return sections, fit + "\n\n" + table


def _leg_length(rec: xr.Dataset) -> float:
    """Leg length [m]: mean ASIS height to the floor (heel marker minimum) over the trial, both sides."""
    try:
        names = [str(n) for n in rec.marker.values]
        asis = [n for n in names if "asis" in n.lower()]
        heel = [n for n in names if "heel" in n.lower() or n.upper().endswith("HEE")]
        y = rec.markers.sel(axis="y")
        floor = float(y.sel(marker=heel).min())
        return float(y.sel(marker=asis).mean()) - floor
    except (KeyError, ValueError):
        return float("nan")
