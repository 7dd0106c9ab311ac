"""Benchmark ``walk``: does the shipped reflex controller walk, and how human-like is it?

Run as ``twin bench walk [--quick]`` (or ``python benchmarks/bench_walk.py``). The last line of
output is one JSON object with the figures.

* the shipped controller (``data/controllers/walk_default.json``, or ``--controller``) from its
  own initial state (its ``initial_state`` on the gait cycle when the file has one) and from 10
  perturbed initial states (pelvis tilt and joints +-5 deg, forward speed +-0.1 m/s, seeded),
  all 11 as ONE engine batch: walked seconds, mean speed, how many
  perturbed starts fell;
* the nominal run's right-leg gait cycles (strikes from the right foot's vertical GRF) against
  the Schwartz 2008 normative curves for its speed (``twin.gait.normative``, cycles through
  ``twin.gait.normalize_cycles``): Pearson r and RMS error [deg] for hip, knee, ankle;
  vertical GRF peaks and valley in body weights;
* evaluations per second: controller + engine rollouts per wall-clock second, counting one
  evaluation as a 10 s rollout of one member (measured on the batch above);
* optimize_minutes (full mode): the optimisation time recorded in the controller file.

``--quick`` simulates 4 s instead of 20 s (under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import emit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEG_LENGTH = 0.93  # [m] Gait10dof18musc (height 1.80 m): greater trochanter to floor, about 0.52 x height


def _gait_curves(record, b, walked_s, skip_s):
    import xarray as xr

    import twin.gait as gait
    from twin.control.analysis import strikes
    from twin.schema import events

    t = record["time"]
    keep = t <= walked_s
    fy = record["grf"][b, keep, :, 1]
    t = t[keep]
    bw = record["weight"]
    ev_t, ev_l, ev_s = [], [], []
    for k, side in ((0, "right"), (1, "left")):
        on = strikes(fy[:, k], threshold=0.05 * bw)
        off = strikes(-fy[:, k], threshold=-0.05 * bw)
        for i in on:
            if t[i] >= skip_s:
                ev_t.append(t[i]), ev_l.append("foot_strike"), ev_s.append(side)
        for i in off:
            if t[i] >= skip_s:
                ev_t.append(t[i]), ev_l.append("foot_off"), ev_s.append(side)
    if sum(1 for lab, s in zip(ev_l, ev_s) if lab == "foot_strike" and s == "right") < 2:
        return None
    ev = events(ev_t, ev_l, ev_s, source="bench_walk")
    names = record["coordinate"]
    ds = xr.Dataset({c: ("time", record["q"][b, keep, names.index(c)]) for c in
                     ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")}, coords={"time": t})
    ds["grf_y"] = ("time", fy[:, 0] / bw)
    return gait.normalize_cycles(ds, ev, side="right", max_duration=2.0)


def _spatiotemporal(record, b, walked_s, skip_s) -> dict | None:
    """Right-side stride time, length (pelvis travel), cadence and stance % from the GRF (means over strides)."""
    from twin.control.analysis import strikes

    t = record["time"]
    keep = t <= walked_s
    fy = record["grf"][b, keep, 0, 1]
    t = t[keep]
    x = record["q"][b, keep, list(record["coordinate"]).index("pelvis_tx")]
    thr = 0.05 * record["weight"]
    on = [i for i in strikes(fy, threshold=thr) if t[i] >= skip_s]
    off = strikes(-fy, threshold=-thr)
    rows = []
    for i0, i1 in zip(on[:-1], on[1:]):
        offs = [j for j in off if i0 < j < i1]
        if not offs:
            continue
        dur = t[i1] - t[i0]
        rows.append((dur, x[i1] - x[i0], 100.0 * (t[offs[0]] - t[i0]) / dur))
    if not rows:
        return None
    dur, length, stance = np.mean(np.asarray(rows), axis=0)
    return {"stride_time_s": round(float(dur), 3), "stride_length_m": round(float(length), 3),
            "cadence_spm": round(float(120.0 / dur), 1), "stance_pct": round(float(stance), 1)}


def _warm_start(doc: dict, *, max_generations: int = 40) -> dict:
    """Warm-started re-optimisation after 40 % weaker plantarflexors: minutes until it walks 10 s at 1.3 m/s."""
    import torch

    from twin.control.objective import walking
    from twin.control.optimize import optimize
    from twin.model import BodyParams
    from twin.scenarios import MuscleWeakness, Subject, apply_scenarios, engine_inputs

    body = BodyParams.default(lumbar=False, marker_sets=())
    sub = apply_scenarios(Subject(body), MuscleWeakness("plantarflexors", 0.6))
    params, exc, stretch = engine_inputs([sub], dtype=torch.float32, rigid_tendon=doc["rigid_tendon"])
    obj = walking(1.3, duration=10.0, stage="speed")
    t0 = time.perf_counter()
    gens, res = 0, None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(tmp) / "warm.ckpt"
        while gens < max_generations:
            gens += 2
            res = optimize(params, obj, generations=gens, popsize=16, seed=1, sigma0=0.02, checkpoint=ck,
                           x0=doc["vector"], initial=doc["initial"], progress=False, compile=True,
                           rigid_tendon=doc["rigid_tendon"])
            if res.success:
                break
    minutes = (time.perf_counter() - t0) / 60
    print(f"warm start after 40 % weaker plantarflexors: {res.report} after {gens} generations, "
          f"{minutes:.1f} min (incl. ~1 min compilation)")
    return {"warm_start_minutes": round(minutes, 2), "warm_start_generations": gens,
            "warm_start_success": bool(res.success), "generations_per_minute": round(gens / max(minutes, 1e-9), 2),
            "warm_start_evaluations_per_s": round(res.evaluations / max(minutes * 60, 1e-9), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s instead of 20 s (under a minute)")
    parser.add_argument("--controller", default=str(ROOT / "data" / "controllers" / "walk_default.json"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", choices=("auto", "yes", "no"), default="auto",
                        help="torch.compile the engine step (auto: full mode only; ~3 min to compile per batch size the first time)")
    args = parser.parse_args()
    import torch

    from twin.control import ReflexController
    from twin.control.sim import DT, INIT_PARAMETERS, rollout, walking_params
    from twin.control.store import load_controller
    from twin.gait import normative

    torch.set_num_threads(args.threads)
    duration = 4.0 if args.quick else 20.0
    figures: dict = {"quick": bool(args.quick), "duration_s": duration}
    doc = load_controller(args.controller)
    print(f"controller: {args.controller}")
    print(f"  objective: {doc.get('objective')}")
    print(f"  command:   {doc.get('command')}")
    print(f"  recorded metrics: {doc.get('metrics')}")
    from twin.control.sim import perturbed_state, start_state

    # 11 starts: the shipped start (its state on the gait cycle when the file has one, else its
    # standing-start pose) and 10 perturbed copies: +-5 deg on pelvis tilt and the six joints,
    # +-0.1 m/s forward speed (seeded)
    n = 11
    rng = np.random.default_rng(2024)
    params = walking_params(batch=n, dtype=torch.float32, rigid_tendon=doc["rigid_tendon"])
    print(f"  engine: {'rigid' if doc['rigid_tendon'] else 'compliant'} tendons")
    names = list(params.coordinate_names)
    dq = np.zeros((n, len(names)))
    dv = np.zeros(n)
    joints = [c for c in ("pelvis_tilt", "hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l",
                          "knee_angle_l", "ankle_angle_l") if c in names]
    for k in range(1, n):
        for c in joints:
            dq[k, names.index(c)] = np.deg2rad(rng.uniform(-5, 5))
        dv[k] = rng.uniform(-0.1, 0.1)
    if doc.get("initial") is None and not doc.get("initial_state"):
        doc["initial"] = np.array([p[1] for p in INIT_PARAMETERS])
    print("start: " + ("the controller's state on its gait cycle (initial_state)" if doc.get("initial_state")
                       else "standing-start pose (initial)") + " + 10 perturbed (+-5 deg joints, +-0.1 m/s)")

    def starts():
        return perturbed_state(params, start_state(params, doc), dq, dv)

    ctrl = ReflexController(params, dt=DT)
    use_compile = args.compile == "yes" or (args.compile == "auto" and not args.quick)
    figures["compiled"] = use_compile
    if use_compile:  # compile outside the timing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rollout(params, ctrl, ctrl.init(n, doc["vector"]), starts(), 0.01, compile=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = rollout(params, ctrl, ctrl.init(n, doc["vector"]), starts(), duration, record_every=5,
                    compile=use_compile)
    wall = time.perf_counter() - t0
    sim_s = float(r.walked_s.sum())
    figures["evaluations_per_s"] = round(sim_s / 10.0 / wall, 4)
    figures["realtime_factor_aggregate"] = round(sim_s / wall, 3)
    print(f"rollout: {n} members x {duration:g} s in {wall:.1f} s wall "
          f"({sim_s / wall:.2f} x real time aggregate, dt {DT * 1e3:g} ms, {'rigid' if doc['rigid_tendon'] else 'compliant'} tendons, float32, "
          f"{'compiled' if use_compile else 'eager'})")
    figures["walked_s"] = round(float(r.walked_s[0]), 3)
    figures["fell_nominal"] = bool(r.fell[0])
    figures["fell"] = int(r.fell[1:].sum())
    figures["walked_s_perturbed_min"] = round(float(r.walked_s[1:].min()), 3)
    v = float(r.speed[0]) if np.isfinite(r.speed[0]) else float(r.distance[0] / max(r.walked_s[0], 1e-3))
    figures["speed_mps"] = round(v, 3)
    figures["distance_m"] = round(float(r.distance[0]), 3)
    figures["cost_of_transport"] = round(float(r.cot[0]), 3) if np.isfinite(r.cot[0]) else None
    print(f"nominal: walked {r.walked_s[0]:.2f} s (fell={bool(r.fell[0])}), distance {r.distance[0]:.2f} m, "
          f"speed {v:.2f} m/s; perturbed starts that fell: {figures['fell']}/10 "
          f"(walked {np.round(r.walked_s[1:], 2).tolist()} s)")
    record = r.record
    record["weight"] = float(params.total_mass[0]) * 9.80665
    for key in ("r_hip", "r_knee", "r_ankle", "rms_deg_hip", "rms_deg_knee", "rms_deg_ankle"):
        figures[key] = None
    figures["vgrf_peaks_bw"] = None
    figures["vgrf_valley_bw"] = None
    figures["strides"] = 0
    cyc = None
    try:
        cyc = _gait_curves(record, 0, float(r.walked_s[0]), skip_s=min(2.0, duration / 2))
    except Exception as err:  # noqa: BLE001 - report, never crash the benchmark
        print(f"gait cycles: not available ({type(err).__name__}: {err})")
    if cyc is None:
        print("gait cycles: fewer than two right foot strikes in the walked time -> no normative comparison")
    else:
        figures["strides"] = int(cyc.sizes["cycle"])
        speed_for_norm = v if v > 0.2 else 1.3
        for short, coord, var in (("hip", "hip_flexion_r", "hip_flexion"), ("knee", "knee_angle_r", "knee_angle"),
                                  ("ankle", "ankle_angle_r", "ankle_angle")):
            sim = cyc[coord].mean("cycle").values
            ref = normative(var, speed=max(speed_for_norm, 0.3), leg_length=LEG_LENGTH, n=sim.size)["mean"].values
            rr = float(np.corrcoef(sim, ref)[0, 1]) if np.std(sim) > 0 else float("nan")
            figures[f"r_{short}"] = round(rr, 3)
            figures[f"rms_deg_{short}"] = round(float(np.degrees(np.sqrt(np.mean((sim - ref) ** 2)))), 2)
        g = cyc["grf_y"].mean("cycle").values
        stance = g > 0.05
        end = int(np.argmin(stance)) if not stance.all() else len(g)
        gs = g[:end]
        if gs.size > 5:
            half = gs.size // 2
            p1, p2 = float(gs[:half].max()), float(gs[half:].max())
            i1, i2 = int(np.argmax(gs[:half])), half + int(np.argmax(gs[half:]))
            valley = float(gs[i1:i2 + 1].min()) if i2 > i1 else float("nan")
            figures["vgrf_peaks_bw"] = [round(p1, 3), round(p2, 3)]
            figures["vgrf_valley_bw"] = round(valley, 3)
        stp = _spatiotemporal(record, 0, float(r.walked_s[0]), min(2.0, duration / 2))
        if stp is not None:
            from twin.gait.normative import spatiotemporal_normal

            figures.update(stp)
            try:
                norm = spatiotemporal_normal(v)
            except Exception as err:  # noqa: BLE001 - the normals file may be absent
                print(f"spatiotemporal normals: not available ({type(err).__name__}: {err})")
            else:
                inside = {}
                for key, nk in (("stride_length_m", "stride_length"), ("cadence_spm", "cadence"),
                                ("stance_pct", "stance_pct")):
                    lo, hi = norm[nk]
                    inside[key] = bool(lo <= stp[key] <= hi)
                    print(f"  {key} {stp[key]} (normal {lo:g}-{hi:g} at {v:.2f} m/s, {norm['pace']} pace, "
                          f"men {norm['age_band'][0]:g}-{norm['age_band'][1]:g} y, mean +-1 SD): "
                          f"{'inside' if inside[key] else 'OUTSIDE'}")
                figures["spatiotemporal_in_normal_range"] = inside
        print(f"gait cycles: {figures['strides']} right strides; r hip/knee/ankle "
              f"{figures['r_hip']}/{figures['r_knee']}/{figures['r_ankle']}, RMS [deg] {figures['rms_deg_hip']}/"
              f"{figures['rms_deg_knee']}/{figures['rms_deg_ankle']}; vGRF peaks {figures['vgrf_peaks_bw']} BW, "
              f"valley {figures['vgrf_valley_bw']} BW")
    if not args.quick:
        m = doc.get("metrics") or {}
        figures["optimize_minutes"] = m.get("optimize_minutes_total", m.get("optimize_minutes_this_run"))
        figures.update(_warm_start(doc))
    figures["walks_20s"] = bool(not r.fell[0] and r.walked_s[0] >= 20.0 - 1e-6 and 1.2 <= v <= 1.4)
    emit(figures)


if __name__ == "__main__":
    main()
