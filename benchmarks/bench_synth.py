"""Benchmark ``synth``: how fast does the synthetic gait factory produce walking, and does Dask scale it?

Run as ``twin bench synth [--quick]`` (or ``python benchmarks/bench_synth.py``). The last line of
output is one JSON object with the figures.

* ``walking_s_per_hour``: simulated subject-seconds per wall-clock hour with ONE worker
  (``generate(..., n_workers=1)``: a LocalCluster of one single-threaded worker), end to end --
  cluster start, engine batches, gait labels, zarr writing and checksums included. Fallen subjects
  cost the same engine time as walking ones (the batch runs on), so this counts every subject;
  ``kept_walking_s_per_hour`` counts only the kept (non-fallen) ones;
* ``speedup_2_workers``: wall time of 1 worker / wall time of a 2-worker LocalCluster on the same
  population (same chunks, byte-identical stores); target >= 1.7 on an idle 2-core machine. This
  machine may share its cores with other work: ``cpu_count`` and the 1-minute load average
  before/after are reported, read the speed-up with them;
* ``kept_fraction``: subjects that did not fall, of the largest population generated;
* full mode only: a 1,000-subject population x 10 s generated end to end with 2 workers
  (``n_thousand``, ``thousand_wall_s``, ``thousand_kept_fraction``, ``thousand_labels_valid_fraction``,
  kept fraction per impairment kind printed).

``--quick``: 32 subjects x 2 s in 2 chunks of 16 for the 1- vs 2-worker comparison, nothing more
(about a minute). Full: 128 subjects x 10 s in 4 chunks of 32, then the 1,000.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import emit  # noqa: E402


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _run(pop, out: Path, *, duration: float, chunk: int, workers: int):
    from twin.synth import generate

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = generate(pop, out, duration=duration, chunk=chunk, n_workers=workers, progress=False,
                           resume=False)
    wall = time.perf_counter() - t0
    return summary, wall


def _manifest_seconds(out: Path) -> float:
    total = 0.0
    for p in sorted((out / "_manifest").glob("chunk_*.json")):
        total += float(json.loads(p.read_text())["simulate_s"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 subjects x 2 s, 1 vs 2 workers only (~1 min)")
    parser.add_argument("--keep", default=None, help="keep the stores in this folder (default: a temporary one)")
    parser.add_argument("--no-thousand", action="store_true",
                        help="full mode without the 1,000-subject population (the 1 vs 2 worker figures only)")
    args = parser.parse_args()
    from twin.synth import sample_population, verify_population

    t_start = time.perf_counter()
    quick = bool(args.quick)
    n, duration, chunk = (32, 2.0, 16) if quick else (128, 10.0, 32)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-synth-"))
    root.mkdir(parents=True, exist_ok=True)
    figures: dict = {"quick": quick, "cpu_count": os.cpu_count(), "load_before": _load(), "n_subjects": n,
                     "duration_s": duration, "chunk": chunk}
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {figures['load_before']} before the benchmark")
    pop = sample_population(n, seed=2025)
    try:
        s1, w1 = _run(pop, root / "one.zarr", duration=duration, chunk=chunk, workers=1)
        figures["load_mid"] = _load()
        s2, w2 = _run(pop, root / "two.zarr", duration=duration, chunk=chunk, workers=2)
        figures["load_after"] = _load()
        simulated = n * duration
        kept = float(s1.attrs["kept_fraction"])
        figures["walking_s_per_hour"] = round(simulated / w1 * 3600.0, 1)
        figures["kept_walking_s_per_hour"] = round(simulated * kept / w1 * 3600.0, 1)
        figures["walking_s_per_hour_2_workers"] = round(simulated / w2 * 3600.0, 1)
        figures["wall_1_worker_s"] = round(w1, 2)
        figures["wall_2_workers_s"] = round(w2, 2)
        figures["engine_s_1_worker"] = round(_manifest_seconds(root / "one.zarr"), 2)
        figures["speedup_2_workers"] = round(w1 / w2, 3)
        figures["kept_fraction"] = round(kept, 4)
        figures["median_walked_s"] = round(float(np.median(s1.walked_s.values)), 3)
        figures["labels_valid_fraction"] = round(float(np.mean(s1.labels_valid.values)), 4)
        same = bool(np.array_equal(s1.kept.values, s2.kept.values))
        figures["same_result_1_vs_2_workers"] = same
        print(f"{n} subjects x {duration:g} s in {s1.attrs['chunks']} chunks of {chunk}:")
        print(f"  1 worker : {w1:7.1f} s wall ({figures['engine_s_1_worker']:.1f} s in the engine+labels) -> "
              f"{figures['walking_s_per_hour']:,.0f} simulated walking-s per hour "
              f"({figures['kept_walking_s_per_hour']:,.0f} kept)")
        print(f"  2 workers: {w2:7.1f} s wall -> speed-up {figures['speedup_2_workers']:.2f}x "
              f"(load average {figures['load_before']} / {figures['load_mid']} / {figures['load_after']} "
              f"before / between / after; {os.cpu_count()} CPUs)")
        print(f"  kept (did not fall): {kept:.1%} (median time before a fall or the end "
              f"{figures['median_walked_s']:.2f} s); labels valid: {figures['labels_valid_fraction']:.1%}; "
              f"same kept set with 1 and 2 workers: {same}")
        names = sorted(set(s1.controller.values.tolist()))
        figures["controllers"] = names
        print(f"  controllers used: {', '.join(names)}")
        if not quick and not args.no_thousand:
            pop_k = sample_population(1000, seed=2026)
            t0 = time.perf_counter()
            sk, wk = _run(pop_k, root / "thousand.zarr", duration=10.0, chunk=64, workers=2)
            ok = not verify_population(root / "thousand.zarr", raise_error=False)["bad"]
            figures.update(n_thousand=1000, thousand_wall_s=round(wk, 1),
                           thousand_kept_fraction=round(float(sk.attrs["kept_fraction"]), 4),
                           thousand_labels_valid_fraction=round(float(np.mean(sk.labels_valid.values)), 4),
                           thousand_verified=ok, thousand_walking_s_per_hour=round(10000.0 / wk * 3600.0, 1))
            figures["kept_fraction"] = figures["thousand_kept_fraction"]
            size = sum(p.stat().st_size for p in (root / "thousand.zarr").rglob("*") if p.is_file())
            figures["thousand_store_mb"] = round(size / 1e6, 1)
            print(f"1,000 subjects x 10 s, chunks of 64, 2 workers: {wk / 60:.1f} min wall "
                  f"({time.perf_counter() - t0:.0f} s incl. verify), kept {sk.attrs['kept_fraction']:.1%}, labels "
                  f"valid {figures['thousand_labels_valid_fraction']:.1%}, store {figures['thousand_store_mb']} MB, "
                  f"checksums ok: {ok}")
            imp = sk.impairment.values
            kept_k = sk.kept.values.astype(bool)
            parts = [f"{k} {kept_k[imp == k].mean():.0%} of {int((imp == k).sum())}" for k in sorted(set(imp.tolist()))]
            print("  kept by impairment: " + ", ".join(parts))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    figures["seconds"] = round(time.perf_counter() - t_start, 1)
    emit(figures)


if __name__ == "__main__":
    main()
