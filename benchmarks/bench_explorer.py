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

``--browser`` also serves ``notebooks/03_what_if.ipynb`` with Voilà (not in fast mode: 4 s runs, the
compiled engine warmed up in the background as a user gets it), opens it in headless
``/usr/bin/chromium`` (playwright), sets the plantarflexors to 0.4 (then 0.45, 0.4, ... so that
every run draws a new curve) and presses Run until the status line says the compiled engine
answered three times; ``browser_*`` figures: seconds from opening the page until the compiled
engine answered, and, for the last of three runs, the time the app reports and the wall
time from the click until the new ankle curve is drawn in the browser.

Target (issue 9): an answer within 2 s with the physics engine.
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--browser", action="store_true", help="also time the Voila app in headless chromium")
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
    figures = {}
    if args.browser:
        figures = _browser()
    emit({**figures, "duration_s": duration, "eager_s": eager_s, "eager_answer_s": eager_answer_s, "warm_up_s": warm_up_s,
          "compiled_s": compiled_s, "compiled_answer_s": compiled_answer_s, "max_abs_dq": dq,
          "compiled": comp.attrs["engine_mode"] == "compiled"})
    return 0


def _browser() -> dict:
    """Time the Voila app as a user meets it (see the module docstring)."""
    import re
    import signal
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    root = Path(__file__).resolve().parents[1]
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    env = {**os.environ, "TWIN_FAST": "0", "TWIN_COMPILE": "auto"}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-explorer-voila-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(root / "notebooks" / "03_what_if.ipynb"), "--port",
                             str(port), "--no-browser", "--Voila.ip=127.0.0.1", "--ServerApp.port_retries=0"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    status_js = "() => document.querySelector('.twin-status') && document.querySelector('.twin-status').textContent"
    curve_js = ("() => { const gd = document.querySelector('.twin-out-curves .js-plotly-plot');"
                " return gd && gd.data ? JSON.stringify(gd.data.map(t => t.y)) : null; }")
    out = {}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            t_open = time.perf_counter()
            page.goto(url, timeout=300_000)
            page.wait_for_function(f"() => ({status_js})() && ({status_js})().includes('answered')", timeout=600_000)
            handle = page.locator(".twin-strength-plantarflexors .noUi-handle")
            handle.focus()
            for _ in range(12):
                page.keyboard.press("ArrowLeft")
            compiled_after, runs = None, []
            readout = "() => document.querySelector('.twin-strength-plantarflexors .widget-readout').textContent.trim()"
            for k in range(60):
                # alternate 0.40 / 0.45 so that every run draws a different curve
                if k:
                    handle.focus()
                    page.keyboard.press("ArrowRight" if k % 2 else "ArrowLeft")
                    want = "0.45" if k % 2 else "0.40"
                    page.wait_for_function(f"() => ({readout})() === '{want}'", timeout=10_000)
                before = page.evaluate(curve_js)
                t0 = time.perf_counter()
                page.locator("button.twin-run").click()
                page.wait_for_function(f"() => ({status_js})().includes('answered') && "
                                       f"({curve_js})() !== {json.dumps(before)}", timeout=300_000)
                wall = time.perf_counter() - t0
                status = page.evaluate(status_js)
                m = re.search(r"answered in ([0-9.]+) s", status)
                runs.append((wall, float(m.group(1)) if m else float("nan"), status))
                print(f"  browser run: {wall:.2f} s click-to-curve; status: {status[:110]}", flush=True)
                if "(compiled)" in status:
                    compiled_after = compiled_after or time.perf_counter() - t_open
                    if sum("(compiled)" in r[2] for r in runs) >= 3:
                        break
                else:
                    time.sleep(5)
            browser.close()
        last = runs[-1]
        out = {"browser_compiled_after_s": compiled_after, "browser_answer_s": last[1],
               "browser_click_to_curve_s": last[0], "browser_compiled": "(compiled)" in last[2],
               "browser_eager_answer_s": next((r[1] for r in runs if "(eager)" in r[2]), None)}
        print(f"browser (Voila, chromium): compiled engine answering {compiled_after} s after opening; last answer "
              f"{last[1]:.2f} s in the app, {last[0]:.2f} s from the click to the new curve")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except Exception:  # noqa: BLE001
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
