"""Staged walking optimisation: ``python -m twin.control --out DIR [options]``.

Stages (each a CMA-ES run with its own checkpoint in ``--out``, resumable):

1. ``survive``: no fall + distance, ``--survive-duration`` s, until the best
   member walks the whole duration at >= 0.5 m/s on average (or ``--survive-generations``);
2. ``speed``: no fall + target speed + joint limits, ``--duration`` s;
3. ``effort``: + cost of transport + trunk stability + landing impacts;
4. ``robust``: the effort objective over ``--robust-duration`` s from
   ``--robust-starts`` starts (nominal + perturbed by ``--perturbation`` x
   (+-3 deg, +-0.05 m/s)), the mean cost.

``--stages`` picks which run (e.g. ``speed,effort`` to re-target a shipped
controller given with ``--start``).

After every chunk of generations the best controller so far is written to
``DIR/best.json`` (see :func:`twin.control.store.save_controller`) with its
metrics and the command that regenerates it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m twin.control", description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for checkpoints, log and best.json")
    ap.add_argument("--check", metavar="JSON", help="instead of optimising: run this controller for "
                    "--check-duration s (eager, batch 1), store the measured metrics in the file, and its "
                    "initial_state (a right foot strike on its own gait cycle after 5 s)")
    ap.add_argument("--check-duration", type=float, default=20.0)
    ap.add_argument("--keep-initial-state", action="store_true",
                    help="with --check: keep the file's initial_state (e.g. the one a --from-gait-state "
                    "robust stage trained from) and also measure the walk from it")
    ap.add_argument("--speed", type=float, default=1.3)
    ap.add_argument("--popsize", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sigma0", type=float, default=0.08)
    ap.add_argument("--stage-sigma0", type=float, default=0.04, help="sigma0 of the speed and effort stages")
    ap.add_argument("--survive-duration", type=float, default=5.0)
    ap.add_argument("--survive-generations", type=int, default=150)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--speed-generations", type=int, default=150)
    ap.add_argument("--effort-generations", type=int, default=100)
    ap.add_argument("--robust-generations", type=int, default=40)
    ap.add_argument("--robust-duration", type=float, default=20.0)
    ap.add_argument("--robust-starts", type=int, default=4)
    ap.add_argument("--perturbation", type=float, default=2.0,
                    help="robust stage start perturbation scale (2: +-6 deg joints, +-0.1 m/s)")
    ap.add_argument("--perturb-time", type=float, default=3.0,
                    help="robust stage: perturb mid-walk at this time [s] (0: perturb the start instead)")
    ap.add_argument("--from-gait-state", action="store_true",
                    help="robust stage: start from the --start controller's initial_state (a foot strike on its "
                    "gait cycle) and its copies perturbed at t = 0 (the shipped-controller check's starts) "
                    "instead of perturbing a standing start mid-walk")
    ap.add_argument("--resample", action="store_true",
                    help="robust stage: new start perturbations every generation (result: CMA-ES's mean)")
    ap.add_argument("--bodies", type=int, default=0,
                    help="robust stage: also evaluate every candidate on this many bodies: the default one "
                    "and others scaled to heights 1.62-1.95 m, BMI 21-27, men and women (full strength); "
                    "--robust-starts must be a multiple of it")
    ap.add_argument("--bodies-strength", default="1,1", metavar="LOW,HIGH",
                    help="muscle strength factors of the --bodies other than the default one (spread)")
    ap.add_argument("--impaired", action="append", default=[], metavar="SCENARIO[;SCENARIO...]",
                    help="robust stage: also evaluate every candidate on the default body changed by these "
                    "twin.scenarios (twin simulate's grammar, e.g. 'contracture:hamstrings=0.1' or "
                    "'weakness:vasti,rect_fem=0.7;afo:100'); repeat for more bodies; counted in the bodies "
                    "--robust-starts must be a multiple of")
    ap.add_argument("--track", metavar="KINEMATICS", default=None,
                    help="also track this recorded gait (IK .mot or kinematics file: its mean right stride, "
                    "hip/knee/ankle) in the speed, effort and robust stages; 'gaitutils': the normal adult "
                    "curves of gaitutils' normal.gcd")
    ap.add_argument("--track-weight", type=float, default=20.0)
    ap.add_argument("--track-joint-weights", default="", metavar="COORD=W,...",
                    help="relative tracking weights, e.g. ankle_angle_r=3 (default 1 each)")
    ap.add_argument("--speed-weight", type=float, default=2.0, help="weight of the target-speed term")
    ap.add_argument("--stride-time", type=float, default=None, metavar="SECONDS",
                    help="also cost a mean right stride duration outside SECONDS +- 0.05 s (speed, effort and "
                         "robust stages; e.g. 1.1 s = 109 steps/min): angle tracking leaves the cadence free")
    ap.add_argument("--stride-weight", type=float, default=100.0, help="weight of the stride-time term")
    ap.add_argument("--stance", type=float, default=None, metavar="FRACTION",
                    help="also cost a mean right stance fraction outside FRACTION +- 0.02 (speed, effort and robust "
                         "stages; e.g. 0.6)")
    ap.add_argument("--stance-weight", type=float, default=300.0, help="weight of the stance term")
    ap.add_argument("--impact-weight", type=float, default=10.0,
                    help="weight of the landing-impact term (effort and robust stages; mean squared vGRF above "
                         "1.2 BW)")
    ap.add_argument("--stages", default="survive,speed,effort,robust",
                    help="comma-separated stages to run, in order")
    ap.add_argument("--chunk", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--starts", type=int, default=2, help="starts per candidate (nominal + perturbed)")
    ap.add_argument("--eager", action="store_true", help="no torch.compile")
    ap.add_argument("--tendons", choices=("rigid", "compliant"), default=None,
                    help="engine tendon model (default: the --start controller's, else rigid); compliant tendons "
                         "stretch and return energy (see data/controllers/README.md for what they gave)")
    ap.add_argument("--device", default="cpu", help="torch device of the engine batches (cpu, cuda, cuda:1, ...)")
    ap.add_argument("--start", help="controller JSON to start from (default: published values)")
    args = ap.parse_args(argv)
    import torch

    from ..errors import ParameterError
    from .objective import Objective, impact, stance, stride_time, tracking, walking
    from .optimize import optimize
    from .store import load_controller, save_controller

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: no CUDA device here (torch.cuda.is_available() is False)")
    if args.check:
        return _check(args.check, args.check_duration, args.speed, keep_state=args.keep_initial_state)
    if not args.out:
        ap.error("--out is required (or --check)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.txt", "a")
    command = "python -m twin.control " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    x0, init0, gait_state = None, None, None
    minutes_before = 0.0  # optimisation time that produced --start
    rigid = args.tendons != "compliant"
    if args.start:
        doc = load_controller(args.start)
        if args.tendons is None:
            rigid = doc["rigid_tendon"]
        x0, init0 = doc["vector"], doc["initial"]
        gait_state = doc.get("initial_state") or None
        m0 = doc.get("metrics") or {}
        minutes_before = float(m0.get("optimize_minutes_total") or m0.get("optimize_minutes_this_run") or 0.0)
    if args.from_gait_state and gait_state is None:
        ap.error("--from-gait-state needs --start with a controller that has an initial_state "
                 "(python -m twin.control --check FILE writes it)")
    reference = None
    if args.track:
        import twin

        from ..twin import reference_cycle

        if args.track == "gaitutils":
            from ..gait.normative import gcd_normal

            reference = {c: gcd_normal(c)["mean"].values for c in ("hip_flexion_r", "knee_angle_r",
                                                                    "ankle_angle_r")}
            log("tracking gaitutils normal.gcd (normal adult gait; not the Schwartz 2008 validation set)")
        else:
            ref = reference_cycle(twin.read(args.track))
            reference = {str(c): ref.angle.sel(coordinate=c).values for c in ref.coordinate.values}
            log(f"tracking {args.track}: mean of {ref.attrs['n_strides']} right stride(s), "
                f"{ref.attrs['speed_mps']:.2f} m/s")
    bodies = None
    if args.bodies > 0 or args.impaired:
        from ..scenarios import Subject

        try:
            lo, hi = (float(x) for x in args.bodies_strength.split(","))
        except ValueError:
            ap.error(f"--bodies-strength {args.bodies_strength!r}: give LOW,HIGH, e.g. 0.7,1.2")
        bodies = [Subject(b) for b in training_bodies(args.bodies, strength=(lo, hi))] if args.bodies > 0 else []
        try:
            bodies += impaired_bodies(args.impaired, with_default=not bodies)
        except ParameterError as e:
            ap.error(f"--impaired: {e}")
        log(f"bodies: {len(bodies)}: " + "; ".join(f"{b.body.height:.2f} m {b.body.mass:.0f} kg"
                                                    + (f" ({'; '.join(b.notes)})" if b.notes else "") for b in bodies))
    joint_weights = {}
    for item in filter(None, (x.strip() for x in args.track_joint_weights.split(","))):
        k, _, w = item.partition("=")
        try:
            joint_weights[k.strip()] = float(w)
        except ValueError:
            ap.error(f"--track-joint-weights: {item!r} is not COORD=NUMBER")
    def term(flags, make):  # a cost term from command-line values; bad ones are usage errors before any work
        try:
            return make()
        except ParameterError as e:
            ap.error(f"{flags}: {e}")

    extra_terms = []  # (term, name suffix) added to the speed, effort and robust stages
    if args.stride_time is not None:
        extra_terms.append((term("--stride-time/--stride-weight", lambda: stride_time(args.stride_time,
                                                                                      args.stride_weight)),
                            f"+stride{args.stride_time:g}s"))
    if args.stance is not None:
        extra_terms.append((term("--stance/--stance-weight", lambda: stance(args.stance, args.stance_weight)),
                            f"+stance{args.stance:g}"))
    term("--impact-weight", lambda: impact(args.impact_weight))
    t_start = time.perf_counter()
    all_stages = {"survive": (args.survive_duration, args.survive_generations),
                  "speed": (args.duration, args.speed_generations),
                  "effort": (args.duration, args.effort_generations),
                  "robust": (args.robust_duration, args.robust_generations)}
    chosen = [x.strip() for x in args.stages.split(",") if x.strip()]
    bad = [x for x in chosen if x not in all_stages]
    if bad:
        ap.error(f"unknown stage(s) {', '.join(bad)}; choose from {', '.join(all_stages)}")
    for stage in chosen:
        duration, max_gen = all_stages[stage]
        if max_gen < 1:
            continue
        obj = walking(args.speed, duration=duration, stage="effort" if stage == "robust" else stage,
                      speed_weight=args.speed_weight, impact_weight=args.impact_weight)
        if reference is not None and stage != "survive":
            obj = Objective(duration=obj.duration, terms=obj.terms + tracking(reference, args.track_weight,
                                                                          joint_weights=joint_weights),
                            settle=obj.settle, name=obj.name + "+tracking")
        for extra, suffix in extra_terms if stage != "survive" else ():
            obj = Objective(duration=obj.duration, terms=obj.terms + extra, settle=obj.settle, name=obj.name + suffix)
        starts = args.robust_starts if stage == "robust" else args.starts
        perturbation = args.perturbation if stage == "robust" else 1.0
        perturb_time = args.perturb_time if stage == "robust" else 0.0
        use_gait = stage == "robust" and args.from_gait_state
        ckpt = out / f"{stage}.ckpt"
        gen = 0
        res = None
        while gen < max_gen:
            gen = min(gen + args.chunk, max_gen)
            sigma0 = args.sigma0 if stage == "survive" else args.stage_sigma0
            res = optimize(None, obj, generations=gen, popsize=args.popsize, seed=args.seed, sigma0=sigma0,
                           checkpoint=ckpt, resume=True, progress=False, x0=x0, initial=init0,
                           compile=not args.eager, starts=starts, perturbation=perturbation, device=args.device,
                           rigid_tendon=rigid,
                           perturb_time=0.0 if use_gait else perturb_time,
                           gait_state=gait_state if use_gait else None, optimize_initial=not use_gait,
                           bodies=bodies if stage == "robust" else None,
                           resample=args.resample and stage == "robust",
                           log=lambda m, s=stage: log(f"[{s}] {m}"))
            t = res.terms
            minutes = (time.perf_counter() - t_start) / 60
            metrics = {"stage": stage, "generation": gen, "walked_s": t.get("metric.walked_s"),
                       "duration_s": duration, "fell": bool(t.get("metric.fell", 1.0)),
                       "distance_m": t.get("metric.distance"), "speed_mps": t.get("metric.speed"),
                       "cost_of_transport": t.get("metric.cot"), "optimize_minutes_this_run": minutes,
                       "optimize_minutes_total": minutes + minutes_before,
                       "evaluations": res.evaluations}
            save_controller(out / "best.json", res.vector, initial=init0 if use_gait else res.initial,
                            objective=obj.describe(), command=command, metrics=metrics, rigid_tendon=rigid,
                            initial_state=gait_state if use_gait else None)  # the start it was trained from
            log(f"[{stage}] {res.report}")
            if stage == "survive" and not bool(t.get("metric.fell", 1.0)) \
                    and t.get("metric.distance", 0.0) >= 0.6 * args.speed * duration:
                break
            if stage == "speed" and res.success:
                break
        if res is not None:
            x0, init0 = res.vector, (init0 if use_gait else res.initial)
    log(f"done in {(time.perf_counter() - t_start) / 60:.1f} min")
    return 0


def training_bodies(n: int, *, strength: tuple[float, float] = (1.0, 1.0)) -> list:
    """``n`` bodies for a population-robust controller: the default one, then scaled ones.

    Heights spread over 1.62-1.95 m, BMI over 21-27 kg/m^2, alternating
    men and women (de Leva segment masses), no impairment; every muscle's
    maximum isometric force times a factor spread over ``strength``
    (default 1: full strength).
    """
    import numpy as np

    from ..model import BodyParams

    base = BodyParams.default(lumbar=False, marker_sets=())
    out = [base]
    k = max(n - 1, 1)
    heights = np.linspace(1.62, 1.95, k) if k > 1 else np.array([1.7])
    bmis = np.roll(np.linspace(21.0, 27.0, k), k // 2) if k > 1 else np.array([24.0])
    factors = np.roll(np.linspace(strength[0], strength[1], k), 1) if k > 1 else np.array([min(strength)])
    for i in range(n - 1):
        h = float(heights[i])
        b = base.scaled(height=h, mass=float(bmis[i]) * h * h, sex="female" if i % 2 else "male")
        f = float(factors[i])
        if f != 1.0:
            for m in b.muscle_names:
                b = b.with_muscle(m, max_isometric_force=b.muscle(m).max_isometric_force * f)
        out.append(b)
    return out


def impaired_bodies(specs: list[str], *, with_default: bool = False) -> list:
    """The default body changed by each of ``specs`` (``;``-separated twin.scenarios strings), as Subjects.

    ``with_default`` puts the unchanged default body first.

    Raises
    ------
    ParameterError
        A scenario string that :func:`twin.scenarios.parse_scenario` refuses.
    """
    from ..errors import ParameterError
    from ..model import BodyParams
    from ..scenarios import Subject, apply_scenarios, parse_scenario

    base = BodyParams.default(lumbar=False, marker_sets=())
    out = [Subject(base)] if with_default else []
    for spec in specs:
        items = [parse_scenario(x) for x in (t.strip() for t in spec.split(";")) if x]
        if not items:
            raise ParameterError(f"{spec!r} holds no scenario")
        out.append(apply_scenarios(Subject(base), items))
    return out


def _check(path: str, duration: float, target: float, *, keep_state: bool = False) -> int:
    """Measure a controller JSON's walk (eager engine, batch 1) and write the numbers into it."""
    import json

    from .objective import walking
    from .optimize import evaluate
    from .store import load_controller, save_controller

    doc = load_controller(path)
    t0 = time.perf_counter()
    rigid = doc["rigid_tendon"]
    m = evaluate(None, walking(target, duration=duration, stage="speed"), doc["vector"], initial=doc["initial"],
                 rigid_tendon=rigid)
    raw = json.loads(Path(path).read_text())
    metrics = dict(raw.get("metrics") or {})
    metrics["check"] = {"duration_s": duration, "walked_s": m["metric.walked_s"], "fell": bool(m["metric.fell"]),
                        "distance_m": m["metric.distance"], "speed_mps": m["metric.speed"],
                        "cost_of_transport": m["metric.cot"],
                        "engine": f"eager float32, dt 1 ms, {'rigid' if rigid else 'compliant'} tendons",
                        "wall_s": time.perf_counter() - t0}
    from .reflex import ReflexController
    from .sim import capture_gait_state, walking_params

    params = walking_params(batch=1, rigid_tendon=rigid)
    keep_state = keep_state and bool(raw.get("initial_state"))
    if keep_state:
        from .sim import rollout, start_state

        state = raw["initial_state"]
        c = ReflexController(params, dt=1e-3)
        r = rollout(params, c, c.init(1, doc["vector"]), start_state(params, doc), duration)
        metrics["check_from_initial_state"] = {"duration_s": duration, "walked_s": float(r.walked_s[0]),
                                               "fell": bool(r.fell[0]), "distance_m": float(r.distance[0]),
                                               "speed_mps": float(r.speed[0])}
        print(json.dumps(metrics["check_from_initial_state"]))
    else:
        state = capture_gait_state(params, ReflexController(params, dt=1e-3), doc["vector"], doc["initial"])
    save_controller(path, doc["vector"], initial=doc["initial"], objective=raw.get("objective", ""),
                    command=raw.get("command", ""), metrics=metrics, body=raw.get("body", "default(lumbar=False)"),
                    initial_state=state, rigid_tendon=rigid)
    print(json.dumps(metrics["check"], default=float))
    print(f"initial_state: the right foot strike at {state['time']:.3f} s of the nominal walk"
          + (" (kept)" if keep_state else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
