"""Benchmark ``explorer``: how long the what-if explorer takes to answer, eager and compiled engine.

Run as ``twin bench explorer [--quick]`` (or ``python benchmarks/bench_explorer.py``). The last line
of output is one JSON object with the figures.

The explorer (:class:`twin.viz.WhatIfExplorer` on :func:`twin.viz.default_simulate`) simulates the
baseline and one scenario (plantarflexors at 40 % strength) on the default body in one batch, 4 s
(``--quick``: 1.5 s), from the shipped controller's gait cycle, then draws its five figures. Timed:

* ``eager_s`` -- the eager engine's simulation alone, and ``eager_answer_s`` the explorer's whole
  answer with it (simulation + figures + metrics table);
* ``warm_up_s`` -- :func:`twin.viz.demo_backend.warm_up` in the foreground (``torch.compile`` of the
  closed loop for this batch: minutes the first time on a machine, seconds from inductor's cache);
* ``compiled_s`` / ``compiled_answer_s`` -- the same after the warm-up (median of 3);
* ``max_abs_dq`` -- largest difference of the coordinates between the two engines [rad or m].

Target (issue 9): an answer within 2 s with the physics engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import emit  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1.5 s simulations, one repeat")
    args = ap.parse_args(argv)
    os.environ["TWIN_COMPILE"] = "auto"  # this script decides when to compile
    from twin.viz import WhatIfExplorer
    from twin.viz.demo_backend import WhatIf, default_simulate, warm_up

    duration = 1.5 if args.quick else 4.0
    repeats = 1 if args.quick else 3
    w = [WhatIf("weak plantarflexors", strength={"plantarflexors": 0.4})]

    def simulate(scenarios, *, progress=None):
        return default_simulate(scenarios, duration=duration, progress=progress)

    def answer():
        ex = WhatIfExplorer(simulate, background=False, warm_up=False)
        ex.strength["plantarflexors"].value = 0.4
        t0 = time.perf_counter()
        ex.run()
        dt = time.perf_counter() - t0
        if ex.error:
            raise SystemExit(f"explorer error: {ex.error}")
        return dt, ex.result.attrs["engine_mode"]

    t0 = time.perf_counter()
    eager = default_simulate(w, duration=duration, compile=False)
    eager_s = time.perf_counter() - t0
    eager_answer_s, mode = answer()
    print(f"eager engine: simulation {eager_s:.2f} s, explorer answer {eager_answer_s:.2f} s ({mode}), "
          f"{duration:g} s simulated, baseline + 1 scenario")
    t0 = time.perf_counter()
    warm_up(1, background=False)
    warm_up_s = time.perf_counter() - t0
    print(f"warm-up (torch.compile of the closed loop, batch 2): {warm_up_s:.1f} s")
    sims, answers, comp = [], [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        comp = default_simulate(w, duration=duration)
        sims.append(time.perf_counter() - t0)
        a, mode = answer()
        answers.append(a)
    compiled_s, compiled_answer_s = statistics.median(sims), statistics.median(answers)
    dq = float(np.abs(comp.q.values - eager.q.values).max())
    print(f"compiled engine ({comp.attrs['engine_mode']}): simulation {compiled_s:.2f} s, explorer answer "
          f"{compiled_answer_s:.2f} s ({mode}); max |dq| vs eager {dq:.2e}")
    print(f"target: answer <= 2 s -> {'met' if compiled_answer_s <= 2.0 else 'NOT met'} with the compiled engine")
    emit({"duration_s": duration, "eager_s": eager_s, "eager_answer_s": eager_answer_s, "warm_up_s": warm_up_s,
          "compiled_s": compiled_s, "compiled_answer_s": compiled_answer_s, "max_abs_dq": dq,
          "compiled": comp.attrs["engine_mode"] == "compiled"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
