"""``twin fit``: scale, inverse kinematics and (with force plates) inverse dynamics from the command line.

::

    twin fit RECORDING [GRF] --static STATIC --mass KG [--height M] [--model MODEL] [--out DIR]

writes into ``--out`` (default ``fit_output``): ``<stem>_scaled.osim`` (the
scaled model with its placed markers), ``<stem>_scale.nc`` (scale factors,
marker errors), ``<stem>_kinematics.nc`` and, when the recording has force
plates (or GRF is given), ``<stem>_dynamics.nc``. The model defaults to
OpenSim's generic Gait10dof18musc from the example data. The lead wires
:func:`add_parser` into ``twin/cli.py``.

Examples
--------
>>> import argparse
>>> from twin.fit.cli import add_parser
>>> parser = argparse.ArgumentParser(prog="twin")
>>> sub = parser.add_subparsers(dest="command")
>>> _ = add_parser(sub)
>>> args = parser.parse_args(["fit", "walk.trc", "--static", "static.trc", "--mass", "72.6"])
>>> args.mass, args.out
(72.6, 'fit_output')
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import TwinError

__all__ = ["add_parser", "run_fit"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``twin fit`` on an ``argparse`` sub-parsers object; returns the new parser.

    The parser's default ``func`` is :func:`run_fit` (called with the parsed
    arguments; returns the exit status).
    """
    p = subparsers.add_parser(
        "fit", help="scale a model to a static trial, then inverse kinematics and dynamics of a recording",
        description="Scale OpenSim's Gait10dof18musc (or --model) to STATIC, fit RECORDING's markers (IK) and, "
                    "with force plates, compute joint moments (ID). Writes the scaled .osim and the Datasets (.nc).")
    p.add_argument("recording", help="marker file of the trial (.trc, .c3d; a .c3d's force plates are used)")
    p.add_argument("grf", nargs="?", default=None,
                   help="force file of the trial (.mot with its ExternalLoads .xml beside it, .forces)")
    p.add_argument("--static", required=True, help="static (standing) trial of the same person (.trc, .c3d)")
    p.add_argument("--mass", type=float, default=None, help="body mass in kg (required unless the static trial records it)")
    p.add_argument("--height", type=float, default=None, help="standing height in m (optional)")
    p.add_argument("--model", default=None, help="generic .osim model (default: OpenSim's Gait10dof18musc)")
    p.add_argument("--out", default="fit_output", help="output folder (default: fit_output)")
    p.add_argument("--muscles", action="store_true", help="also estimate muscle forces (static optimisation)")
    p.set_defaults(func=run_fit)
    return p


def run_fit(args: argparse.Namespace) -> int:
    """Run the pipeline for parsed ``twin fit`` arguments; print a summary; return 0."""
    import twin
    import twin.fit as fit

    if args.model is None:
        from ..datasets import path as data_path

        model = data_path("opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim")
    else:
        model = args.model
    static = twin.read(args.static)
    rec = twin.read([args.recording, args.grf]) if args.grf else twin.read(args.recording)
    if args.mass is None and "subject_mass" not in static.attrs and "subject_mass" not in rec.attrs:
        raise TwinError("twin fit needs --mass KG (neither trial records the subject's mass)")
    mass = args.mass if args.mass is not None else static.attrs.get("subject_mass", rec.attrs.get("subject_mass"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.recording).stem
    scaled, report = fit.scale(model, static, mass=float(mass), height=args.height)
    osim_path = out / f"{stem}_scaled.osim"
    if hasattr(scaled, "printToXML"):
        scaled.printToXML(str(osim_path))
    else:  # a BodyParams
        from ..model import write_osim

        write_osim(scaled, osim_path, muscle="Millard2012", markers=report.attrs.get("marker_set", "subject01"))
    twin.save(report, out / f"{stem}_scale.nc")
    kin = fit.inverse_kinematics(scaled, rec)
    twin.save(kin, out / f"{stem}_kinematics.nc")
    lines = [f"scaled model: {osim_path} (mass {report.attrs['model_mass_kg']:.1f} kg; factors "
             + ", ".join(f"{m} {f:.3f}" for m, f in zip(report["measurement"].values, report["measurement_factor"].values))
             + ")",
             f"kinematics: {out / f'{stem}_kinematics.nc'} ({kin.sizes['time']} frames, {kin.attrs['n_markers']} markers, "
             f"marker RMS {kin.attrs['marker_rms_m'] * 1000:.1f} mm, sagittal {kin.attrs['marker_rms_sagittal_m'] * 1000:.1f} mm)"]
    if "grf" in rec:
        dyn = fit.inverse_dynamics(scaled, kin, grf=rec)
        twin.save(dyn, out / f"{stem}_dynamics.nc")
        lines.append(f"dynamics: {out / f'{stem}_dynamics.nc'}")
        if args.muscles:
            so = fit.muscle_forces(scaled, kin, dyn)
            twin.save(so, out / f"{stem}_muscles.nc")
            lines.append(f"muscles: {out / f'{stem}_muscles.nc'} (largest reserve {so.attrs['max_reserve_nm']:.1f} N m)")
    else:
        lines.append("dynamics: skipped (no force plates in the recording; give the GRF file)")
    print("\n".join(lines))
    return 0
