"""Benchmark ``io``: reader robustness, agreement, speed vs OpenSim/ezc3d, gait-event accuracy.

Run as ``twin bench io [--quick]`` (or ``python benchmarks/bench_io.py``). The last
line of output is one JSON object with the figures.

* every recording file under TWIN_DATA_DIR: read / rejected with a reason / crashed;
* ``twin.read`` time against OpenSim's own TRC and STO adapters and against a
  raw ``ezc3d.c3d`` call, on the same files in the same process (ratio =
  twin / peer; < 1 means twin is faster);
* gait events detected by twin against annotated events (gaitkit trials) and
  force-plate events (trials with markers + force plates): median absolute
  error per trial, in ms.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import best_of, data_dir, emit  # noqa: E402

import twin  # noqa: E402
from twin.io.survey import survey  # noqa: E402

GAIT10 = "opensim-models/Pipelines/Gait10dof18musc"
TRC = [f"{GAIT10}/ExperimentalData/subject01_walk.trc", "opensim-core/OpenSim/Examples/Moco/example3DWalking/markers_walk.trc",
       "opensim-models/Pipelines/Hamner/subject02_running.trc"]
MOT = [f"{GAIT10}/OutputReference/IK/subject01_walk_IK.mot", f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot",
       "opensim-core/OpenSim/Examples/Moco/example3DWalking/grf_walk.mot"]
C3D = ["kineticstoolkit/data/walk.c3d", "opensim-core/OpenSim/Tests/shared/walking2.c3d", "BMClab-BMC/data/Gait.c3d"]


def _ratios(root: Path, files: list[str], peer, repeat: int) -> list[tuple[str, float, float]]:
    out = []
    for rel in files:
        p = root / rel
        if not p.exists():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_twin = best_of(lambda: twin.read(p), repeat=repeat)
        t_peer = best_of(lambda: peer(p), repeat=repeat)
        out.append((rel, t_twin, t_peer))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing repeats (under a minute)")
    args = parser.parse_args()
    root = data_dir()
    repeat = 3 if args.quick else 15
    figures: dict = {"quick": bool(args.quick)}

    rows = survey(root)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("read", "rejected", "crashed")}
    print(f"== files under {root}: {counts['read']} read, {counts['rejected']} rejected, {counts['crashed']} crashed")
    for r in rows:
        if r["status"] != "read":
            print(f"  {r['status']:8} {r['path']}: {r['message'][:160]}")
    figures.update(files_read=counts["read"], files_rejected=counts["rejected"], files_crashed=counts["crashed"])

    import opensim as osim

    print("== read speed (best of", repeat, "), twin vs peer in this process")
    trc = _ratios(root, TRC, lambda p: osim.TRCFileAdapter().read(str(p)), repeat)
    mot = _ratios(root, MOT, lambda p: osim.TimeSeriesTable(str(p)), repeat)  # built by STOFileAdapter
    import ezc3d

    c3d = _ratios(root, C3D, lambda p: ezc3d.c3d(str(p)), repeat)
    for name, rows_ in (("TRC vs OpenSim TRCFileAdapter", trc), ("MOT/STO vs OpenSim TimeSeriesTable", mot),
                        ("C3D vs ezc3d.c3d", c3d)):
        for rel, a, b in rows_:
            print(f"  {name:36} {rel:70} twin {a * 1e3:7.2f} ms  peer {b * 1e3:7.2f} ms  ratio {a / b:5.2f}")

    def worst(rows_):
        return float(max(a / b for _, a, b in rows_)) if rows_ else float("nan")

    figures.update(read_trc_ratio_vs_opensim=worst(trc), read_mot_ratio_vs_opensim=worst(mot),
                   read_c3d_ratio_vs_ezc3d=worst(c3d))

    print("== gait events vs reference (median absolute error per trial)")
    try:
        from twin.gait.benchmark import evaluate_event_detection
    except ImportError as err:  # pragma: no cover - reported, not hidden
        print(f"  event evaluation unavailable: {err}")
        figures.update(event_strike_median_ms=None, event_off_median_ms=None)
    else:
        table = evaluate_event_detection(root)
        for row in table["trials"]:
            print("  " + "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        figures.update(event_strike_median_ms=table["strike_median_ms"], event_off_median_ms=table["off_median_ms"])
    emit(figures)


if __name__ == "__main__":
    main()
