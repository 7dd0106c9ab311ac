"""``twin synth``: sample a population and generate its synthetic gaits into a zarr store.

::

    twin synth --n 10000 --out pop.zarr [--seed 0] [--scheduler ADDR] [--workers N] [--chunk 64]
               [--duration 10] [--impairment-rate 0.3] [--no-resume] [--compile] [--quiet]
    twin synth --verify --out pop.zarr

Runs :func:`twin.synth.sample_population` then :func:`twin.synth.generate`
(LocalCluster with ``--workers`` by default, ``--scheduler tcp://...`` for
an existing Dask cluster, ``--scheduler synchronous`` in-process). The same
command again resumes: finished chunks are kept (the population is drawn
again from the same seed), unfinished or corrupt ones are regenerated.
``--verify`` only checks the store's checksums (exit status 1 when a chunk
is bad). The lead wires :func:`add_parser` into ``twin/cli.py``.

Examples
--------
>>> import argparse
>>> from twin.synth.cli import add_parser
>>> parser = argparse.ArgumentParser(prog="twin")
>>> sub = parser.add_subparsers(dest="command")
>>> _ = add_parser(sub)
>>> args = parser.parse_args(["synth", "--n", "100", "--out", "pop.zarr", "--workers", "2"])
>>> args.n, args.chunk, args.duration, args.workers, args.resume
(100, 64, 10.0, 2, True)
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import TwinError

__all__ = ["add_parser", "run_synth"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``twin synth`` on an ``argparse`` sub-parsers object; returns the new parser.

    The parser's default ``func`` is :func:`run_synth`.
    """
    p = subparsers.add_parser(
        "synth", help="generate a synthetic gait population (zarr store, Dask)",
        description="Sample N subjects (bodies, strength, impairments, target speeds) and simulate each walking "
                    "with the shipped controller nearest its speed; writes a resumable zarr store. Rerun the same "
                    "command to resume.")
    p.add_argument("--n", type=int, default=None, help="number of subjects (required unless --verify)")
    p.add_argument("--out", required=True, help="zarr store folder to write (e.g. pop.zarr)")
    p.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:8786), or 'synchronous'; default: a LocalCluster")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU count)")
    p.add_argument("--chunk", type=int, default=64, help="subjects per chunk / engine batch (default 64)")
    p.add_argument("--duration", type=float, default=10.0, help="simulated seconds per subject (default 10)")
    p.add_argument("--impairment-rate", type=float, default=0.3, help="fraction of impaired subjects (default 0.3)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="delete an existing store at --out and start again")
    p.add_argument("--compile", action="store_true", help="torch.compile the engine step in each worker")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verify", action="store_true", help="only verify the checksums of the store at --out")
    p.set_defaults(func=run_synth)
    return p


def run_synth(args: argparse.Namespace) -> int:
    """Run ``twin synth`` for parsed arguments; print a summary; return the exit status."""
    from .generate import generate, verify_population
    from .population import sample_population

    if args.verify:
        report = verify_population(args.out, raise_error=False)
        print(f"{report['path']}: {len(report['ok'])} of {report['chunks']} chunks ok")
        for name, why in report["bad"].items():
            print(f"  {name}: {why}")
        if report["bad"]:
            print("rerun the same `twin synth` command (it resumes) to regenerate them")
        return 1 if report["bad"] else 0
    if args.n is None:
        raise TwinError("twin synth needs --n N (number of subjects), or --verify")
    pop = sample_population(args.n, seed=args.seed, impairment_rate=args.impairment_rate)
    summary = generate(pop, args.out, duration=args.duration, chunk=args.chunk, scheduler=args.scheduler,
                       n_workers=args.workers, resume=args.resume, progress=not args.quiet, compile=args.compile)
    a = summary.attrs
    print(f"{a['path']}: {a['n_subjects']} subjects x {args.duration:g} s in {a['chunks']} chunks "
          f"({a['chunks_generated']} generated, {a['chunks_skipped']} already complete) on {a['scheduler']}")
    print(f"kept {a['n_kept']} ({a['kept_fraction']:.1%}); {a['n_fell']} fell and are left out of "
          f"load_population(kept_only=True)")
    if a["simulated_s"]:
        print(f"{a['simulated_s']:.1f} subject-seconds simulated in {a['wall_s']:.1f} s wall "
              f"({a['simulated_s'] / a['wall_s'] * 3600:.0f} walking-s per hour)")
    return 0
