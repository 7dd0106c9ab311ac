"""Staged walking optimisation: ``python -m twin.control --out DIR [options]``.

Stages (each a CMA-ES run with its own checkpoint in ``--out``, resumable):

1. ``survive``: no fall + distance, ``--survive-duration`` s, until the best
   member walks the whole duration at >= 0.5 m/s on average (or ``--survive-generations``);
2. ``speed``: no fall + target speed + joint limits, ``--duration`` s;
3. ``effort``: + cost of transport + trunk stability.

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
    ap.add_argument("--out", required=True, help="folder for checkpoints, log and best.json")
    ap.add_argument("--speed", type=float, default=1.3)
    ap.add_argument("--popsize", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sigma0", type=float, default=0.08)
    ap.add_argument("--survive-duration", type=float, default=5.0)
    ap.add_argument("--survive-generations", type=int, default=150)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--speed-generations", type=int, default=150)
    ap.add_argument("--effort-generations", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eager", action="store_true", help="no torch.compile")
    ap.add_argument("--start", help="controller JSON to start from (default: published values)")
    args = ap.parse_args(argv)
    import torch

    from .objective import walking
    from .optimize import optimize
    from .store import load_controller, save_controller

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.txt", "a")
    command = "python -m twin.control " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    x0, init0 = None, None
    if args.start:
        doc = load_controller(args.start)
        x0, init0 = doc["vector"], doc["initial"]
    t_start = time.perf_counter()
    stages = [("survive", args.survive_duration, args.survive_generations),
              ("speed", args.duration, args.speed_generations),
              ("effort", args.duration, args.effort_generations)]
    for stage, duration, max_gen in stages:
        obj = walking(args.speed, duration=duration, stage=stage)
        ckpt = out / f"{stage}.ckpt"
        gen = 0
        res = None
        while gen < max_gen:
            gen = min(gen + args.chunk, max_gen)
            res = optimize(None, obj, generations=gen, popsize=args.popsize, seed=args.seed, sigma0=args.sigma0,
                           checkpoint=ckpt, resume=True, progress=False, x0=x0, initial=init0,
                           compile=not args.eager,
                           log=lambda m, s=stage: log(f"[{s}] {m}"))
            t = res.terms
            minutes = (time.perf_counter() - t_start) / 60
            metrics = {"stage": stage, "generation": gen, "walked_s": t.get("metric.walked_s"),
                       "duration_s": duration, "fell": bool(t.get("metric.fell", 1.0)),
                       "distance_m": t.get("metric.distance"), "speed_mps": t.get("metric.speed"),
                       "cost_of_transport": t.get("metric.cot"), "optimize_minutes_this_run": minutes,
                       "evaluations": res.evaluations}
            save_controller(out / "best.json", res.vector, initial=res.initial, objective=obj.describe(),
                            command=command, metrics=metrics)
            log(f"[{stage}] {res.report}")
            if stage == "survive" and not bool(t.get("metric.fell", 1.0)) \
                    and t.get("metric.distance", 0.0) >= 0.5 * duration:
                break
            if stage == "speed" and res.success:
                break
        x0, init0 = res.vector, res.initial
    log(f"done in {(time.perf_counter() - t_start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
