"""The ``twin`` command line.

::

    twin info FILE [FILE ...]        what is in a recording
    twin gait FILE [FILE ...]        gait events and the spatiotemporal table
    twin fit REC [GRF] --static S --mass KG   scale, IK, ID (OpenSim) -> Datasets + scaled .osim
    twin demo [--out DIR]            the README's demo (read, analyse, report)
    twin synth --n N --out POP.zarr  synthetic gait population (Dask, resumable zarr)
    twin bench NAME [--quick] [...]  benchmarks/bench_NAME.py and its options (last line: JSON)
    twin data list|path|verify       the example-data registry

Several files given together are one trial (e.g. ``walk.trc walk_grf.mot``).
Errors are printed as one line ``twin: error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

import numpy as np

from .errors import TwinError

__all__ = ["main"]


def _read(files: list[str]):
    from .io import read

    return read(files[0]) if len(files) == 1 else read(files)


def describe(ds) -> str:
    """A human-readable summary of a Dataset (what ``twin info`` prints)."""
    lines = [f"kind: {ds.attrs.get('kind', '?')}", f"source: {ds.attrs.get('source', '')}"]
    if "time" in ds.coords and ds.sizes.get("time", 0):
        t = ds["time"].values
        lines.append(f"time: {t.size} samples, {t[0]:.3f}-{t[-1]:.3f} s at {ds.attrs.get('rate', float('nan')):g} Hz")
    if "analog_time" in ds.coords:
        t = ds["analog_time"].values
        lines.append(f"analog_time: {t.size} samples at {ds.attrs.get('analog_rate', float('nan')):g} Hz")
    for key in ("subject_mass", "subject_height"):
        if key in ds.attrs:
            lines.append(f"{key}: {ds.attrs[key]}")
    lines.append("variables:")
    for name, da in ds.data_vars.items():
        lines.append(f"  {name}{tuple(str(d) for d in da.dims)} [{da.attrs.get('units', '?')}]"
                     f"  {int(np.isnan(da.values).sum()) if da.dtype.kind == 'f' else 0} NaN")
    for dim in ("marker", "plate", "side", "coordinate", "channel", "muscle", "sensor", "camera", "keypoint", "landmark"):
        if dim in ds.coords:
            names = [str(v) for v in ds[dim].values]
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
            lines.append(f"{dim}: {shown}")
    if "event_time" in ds:
        lines.append(f"events: {ds.sizes['event']} stored in the file")
        for t, lab, side in zip(ds.event_time.values, ds.event_label.values, ds.event_side.values):
            lines.append(f"  {t:8.3f} s  {side:<5} {lab}")
    if ds.attrs.get("history"):
        lines.append("history:")
        lines += [f"  {h}" for h in str(ds.attrs["history"]).splitlines()]
    return "\n".join(lines)


def _cmd_info(args) -> int:
    print(describe(_read(args.files)))
    return 0


def _cmd_gait(args) -> int:
    from .gait import detect_events, spatiotemporal
    from .gait.report import format_table

    ds = _read(args.files)
    events = detect_events(ds, method=args.method)
    print(f"events ({events.attrs.get('method', args.method)}):")
    for t, lab, side in zip(events.event_time.values, events.event_label.values, events.event_side.values):
        print(f"  {t:8.3f} s  {side:<5} {lab}")
    print()
    print(format_table(spatiotemporal(ds, events)))
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(out=Path(args.out))
    return 0


def _benchmarks_dir() -> Path:
    here = Path(__file__).resolve().parents[1] / "benchmarks"
    if not here.is_dir():
        raise TwinError(f"benchmarks/ not found next to the package ({here}); run twin bench from a clone of the repository")
    return here


def _cmd_bench(args) -> int:
    script = _benchmarks_dir() / f"bench_{args.name}.py"
    if not script.exists():
        names = sorted(p.stem[len("bench_"):] for p in _benchmarks_dir().glob("bench_*.py"))
        raise TwinError(f"no benchmark named {args.name!r}; available: {', '.join(names)}")
    more = [a for a in (getattr(args, "more", None) or []) if a != "--"]
    sys.argv = [str(script)] + (["--quick"] if args.quick else []) + more
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _cmd_data(args) -> int:
    from . import datasets

    if args.action == "list":
        for rel in datasets.list_files(args.pattern):
            mark = "local" if datasets.available(rel) else "remote"
            print(f"{mark:6} {rel}")
    elif args.action == "path":
        print(datasets.path(args.pattern))
    elif args.action == "verify":
        bad = 0
        for rel in datasets.list_files(args.pattern):
            if datasets.available(rel):
                ok = datasets.verify(rel)
                bad += not ok
                print(f"{'ok' if ok else 'MISMATCH':8} {rel}")
        return 1 if bad else 0
    return 0


def _cmd_optimize(args) -> int:
    from .control.__main__ import main as control_main

    argv = ["--out", args.out, "--speed", str(args.speed)]
    if args.generations is not None:
        n = args.generations
        argv += ["--survive-generations", str(n), "--speed-generations", str(n), "--effort-generations", str(n),
                 "--robust-generations", str(max(1, n // 2))]
    if args.start:
        argv += ["--start", args.start]
    return control_main(argv + list(args.more or []))


_METRIC_ROWS = (("speed", "speed", "m/s"), ("cadence", "cadence", "steps/min"), ("stride_length", "stride length", "m"),
                ("stance_pct", "stance", "%"), ("peak_ankle_plantarflexion_moment", "peak ankle PF moment", "N m"),
                ("peak_ankle_power", "peak ankle power", "W"), ("cost_of_transport", "cost of transport", "J/kg/m"),
                ("gait_deviation", "deviation from normative", "deg"))


def metrics_text(m) -> str:
    """A plain-text table of the main gait metrics per scenario (right side where per side)."""
    labels = [str(x) for x in m["scenario"].values] if "scenario" in m.dims else ["0"]
    w = max(12, *(len(x) for x in labels))
    lines = [f"{'metric':<28}{'units':<11}" + "".join(f"{x[:w]:>{w + 2}}" for x in labels)]
    for var, name, units in _METRIC_ROWS:
        if var not in m:
            continue
        da = m[var]
        if "side" in da.dims:
            da = da.isel(side=0)
        vals = np.atleast_1d(np.asarray(da.values, dtype=float))
        lines.append(f"{name:<28}{units:<11}" + "".join(f"{v:>{w + 2}.3g}" for v in vals))
    if "rom" in m:
        for c in ("hip_flexion_r", "knee_angle_r", "ankle_angle_r"):
            if c in m.coordinate.values:
                vals = np.atleast_1d(m.rom.sel(coordinate=c).values.astype(float))
                lines.append(f"{'ROM ' + c:<28}{'deg':<11}" + "".join(f"{v:>{w + 2}.3g}" for v in vals))
    if "fell" in m:
        lines.append(f"{'fell':<28}{'':<11}" + "".join(f"{str(bool(v)):>{w + 2}}" for v in np.atleast_1d(m.fell.values)))
    return "\n".join(lines)


def _cmd_create(args) -> int:
    from .twin import Twin

    t = Twin.from_recording(args.recording if len(args.recording) > 1 else args.recording[0], mass=args.mass,
                            height=args.height, static=args.static, generations=args.generations,
                            fit_controller=not args.no_fit, fit_body=args.fit_body,
                            passive_knee=args.passive_knee, duration=args.duration,
                            checkpoint=args.checkpoint, log=print)
    path = t.save(args.out)
    print(f"{t}\nwritten {path}")
    return 0


def _cmd_simulate(args) -> int:
    from . import metrics, save
    from .twin import Twin, load_twin

    t = Twin.default() if args.twin == "default" else load_twin(args.twin)
    sim = t.simulate(args.scenario or [], adapt=args.adapt, duration=args.duration, progress=True)
    m = metrics(sim, settle=min(2.0, 0.25 * args.duration))
    print(metrics_text(m))
    if args.out:
        print(f"written {save(sim, args.out)}")
    if args.report:
        from .viz import gait_curves, grf_figure, write_report

        write_report(args.report, title="twin what-if",
                     sections=[("Gait metrics", metrics_text(m)), ("Joint angles over the gait cycle", gait_curves(sim)),
                               ("Ground reaction forces", grf_figure(sim))])
        print(f"written {args.report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin", description="twin: a gait digital twin")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="what is in a recording")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("gait", help="gait events and spatiotemporal parameters")
    p.add_argument("files", nargs="+")
    p.add_argument("--method", default="auto", help="auto, force, kinematics or imu")
    p.set_defaults(func=_cmd_gait)
    from .fit.cli import add_parser as add_fit_parser

    add_fit_parser(sub)
    from .synth.cli import add_parser as add_synth_parser

    add_synth_parser(sub)
    p = sub.add_parser("demo", help="read a walking trial, analyse it, write an HTML report")
    p.add_argument("--out", default="demo_output")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("create", help="fit a digital twin to a walking recording and save it")
    p.add_argument("recording", nargs="+", help="marker file(s) (+ GRF .mot) or an IK .mot")
    p.add_argument("--mass", type=float, required=True, help="body mass [kg]")
    p.add_argument("--height", type=float, required=True, help="standing height [m]")
    p.add_argument("--static", default=None, help="static trial for OpenSim scaling")
    p.add_argument("--generations", type=int, default=30, help="CMA-ES generations of the controller fit")
    p.add_argument("--duration", type=float, default=10.0, help="simulated seconds per evaluation")
    p.add_argument("--no-fit", action="store_true", help="keep the shipped controller (no CMA-ES)")
    p.add_argument("--fit-body", action="store_true",
                   help="also fit the muscles' strength and tendon slack-length factors (Twin.from_recording fit_body)")
    p.add_argument("--passive-knee", action="store_true",
                   help="calibrate the quadriceps' passive fibres to Riener & Edrich 1999's passive knee moment "
                   "(Twin.from_recording passive_knee)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file of the controller fit (resumable)")
    p.add_argument("--out", default="twin.nc", help="twin file (.nc or .zarr)")
    p.set_defaults(func=_cmd_create)
    p = sub.add_parser("simulate", help="simulate a twin under what-if scenarios",
                       description="Simulate a twin (or 'default') under what-if scenarios; see twin.scenarios "
                       "for the scenario grammar, e.g. --scenario weakness:soleus,gastroc=0.4")
    p.add_argument("twin", help="twin file from 'twin create', or 'default'")
    p.add_argument("--scenario", action="append", help="a scenario (repeatable), e.g. weakness:soleus,gastroc=0.4")
    p.add_argument("--adapt", action="store_true", help="re-optimise the controller for each changed body")
    p.add_argument("--duration", type=float, default=10.0, help="simulated seconds")
    p.add_argument("--out", default=None, help="write the simulation Dataset (.nc/.zarr)")
    p.add_argument("--report", default=None, help="write an HTML report")
    p.set_defaults(func=_cmd_simulate)
    p = sub.add_parser("optimize", help="optimise a walking reflex controller (CMA-ES, staged, resumable)",
                       description="Staged CMA-ES optimisation of the reflex controller; further options "
                       "(see python -m twin.control --help) go after the known ones.")
    p.add_argument("--speed", type=float, default=1.3, help="target walking speed [m/s]")
    p.add_argument("--generations", type=int, default=None, help="generations per stage (robust: half)")
    p.add_argument("--out", default="optimize_output", help="folder for checkpoints, log and best.json")
    p.add_argument("--start", default=None, help="controller JSON to start from")
    p.add_argument("more", nargs=argparse.REMAINDER, help="options of python -m twin.control")
    p.set_defaults(func=_cmd_optimize)
    p = sub.add_parser("bench", help="run a benchmark from benchmarks/")
    p.add_argument("name")
    p.add_argument("--quick", action="store_true")
    p.add_argument("more", nargs=argparse.REMAINDER,
                   help="the benchmark's own options (e.g. walk --controller FILE, synth --keep DIR, learn "
                        "--population STORE; python benchmarks/bench_NAME.py --help lists them)")
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser("data", help="the example-data registry")
    p.add_argument("action", choices=("list", "path", "verify"))
    p.add_argument("pattern", nargs="?", default=None)
    p.set_defaults(func=_cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``twin`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TwinError as err:
        print(f"twin: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
