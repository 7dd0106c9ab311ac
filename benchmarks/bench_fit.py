"""Benchmark ``fit``: twin's OpenSim pipeline against OpenSim's own tools and OutputReference.

Run as ``twin bench fit [--quick]`` (or ``python benchmarks/bench_fit.py``). The last line of
output is one JSON object with the figures.

In one process, on the Gait10dof18musc subject01 trial (2.5 s walk, 60 Hz markers, GRF):

1. OpenSim 4.6's own InverseKinematicsTool and InverseDynamicsTool, run from the pipeline's
   setup files (IK/walk_Setup_IK.xml, ID/walk_Setup_ID.xml, copied to a temporary folder with
   their paths made absolute; nothing is written under the data folder): time (best of N,
   tool construction from the XML included) and agreement with OutputReference;
2. twin with OpenSim's reference scaled model: inverse_kinematics + inverse_dynamics against
   OutputReference (worst coordinate);
3. twin's own scaling of the generic model (twin.fit.scale with OpenSim's published subject01
   scale setup, and with its measurements only; and of twin.model.BodyParams.default())
   followed by IK and ID: joint-angle and ID error against OutputReference, marker RMS;
   then OpenSim 4.6's own ScaleTool run from that published setup (Pipelines/Gait2354_Simbody,
   copied to a temporary folder): how far twin's placed markers are from its, and twin's IK and ID
   with its markers (on the reference model's bodies) against OutputReference -- as published,
   and with the setup's coordinate tasks switched off, which is how OutputReference's markers
   were evidently placed (the reason the trunk moments cannot match it with the setup as
   published);
4. time of twin's scale + IK + ID (Datasets included) over OpenSim's IK + ID tools:
   ``time_ratio_vs_opensim`` (target <= 2);
5. marker error on other labs' trials (BMClab, kineticstoolkit, OpenCap);
6. twin.model.compare_to_reference(): built model vs OpenSim's file (mass, moment arms).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import best_of, data_dir, emit  # noqa: E402

import twin  # noqa: E402
import twin.fit as fit  # noqa: E402
from twin.fit.markersets import SUBJECT01_MANUAL_SCALES  # noqa: E402

GAIT10 = "opensim-models/Pipelines/Gait10dof18musc"
GENERIC = "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim"


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _on_reference_frames(ds, var, ref, c):
    """``var`` of coordinate ``c`` on the reference's frames: frame by frame when both hold the same frames
    (the trial's TRC stamps are rounded to 1 ms, the reference's are exact), else interpolated in time."""
    v = ds[var].sel(coordinate=c).values
    if ds.sizes["time"] == ref.sizes["time"] and np.allclose(ds.time.values, ref.time.values, atol=1.5e-3):
        return v
    return np.interp(ref.time.values, ds.time.values, v)


def ik_errors(kin, ref) -> dict[str, float]:
    """Per coordinate RMS vs the reference: deg for rotations, mm for translations."""
    out = {}
    for c in ref.coordinate.values:
        a = _on_reference_frames(kin, "q", ref, c)
        e = _rms(a, ref.q.sel(coordinate=c).values)
        trans = str(ref.coordinate_type.sel(coordinate=c).values) == "translational"
        out[str(c)] = e * 1000 if trans else float(np.degrees(e))
    return out


def id_errors(dyn, ref) -> dict[str, float]:
    """Per coordinate RMS vs the reference, % of the reference's peak |moment|."""
    out = {}
    for c in ref.coordinate.values:
        b = ref.moment.sel(coordinate=c).values
        a = _on_reference_frames(dyn, "moment", ref, c)
        out[str(c)] = 100 * _rms(a, b) / float(np.max(np.abs(b)))
    return out


def worst(errors: dict[str, float], *, rotational_only: bool = True) -> tuple[str, float]:
    items = {k: v for k, v in errors.items() if not (rotational_only and k.endswith(("_tx", "_ty", "_tz")))}
    k = max(items, key=items.get)
    return k, float(items[k])


def opensim_tools(root: Path, tmp: Path, repeat: int):
    """OpenSim's IK and ID tools from the pipeline's setup XMLs (copied, paths fixed); times and outputs."""
    import opensim as osim

    osim.Logger.setLevelString("error")
    src = root / GAIT10
    model = src / "OutputReference" / "subject01.osim"
    (tmp / "IK").mkdir()
    (tmp / "ID").mkdir()
    ik_xml = (src / "IK" / "walk_Setup_IK.xml").read_text()
    ik_xml = ik_xml.replace("../subject01.osim", str(model)).replace(
        "../ExperimentalData/subject01_walk.trc", str(src / "ExperimentalData" / "subject01_walk.trc"))
    ik_setup = tmp / "IK" / "walk_Setup_IK.xml"
    ik_setup.write_text(ik_xml)
    ik_out = tmp / "IK" / "subject01_walk_IK.mot"
    shutil.copy(src / "ExperimentalData" / "subject01_walk_grf.mot", tmp / "ID" / "subject01_walk_grf.mot")
    shutil.copy(src / "ExperimentalData" / "subject01_walk_grf.xml", tmp / "ID" / "subject01_walk_grf.xml")
    id_xml = (src / "ID" / "walk_Setup_ID.xml").read_text()
    id_xml = (id_xml.replace("../subject01.osim", str(model))
              .replace("../ExperimentalData/subject01_walk_grf.xml", str(tmp / "ID" / "subject01_walk_grf.xml"))
              .replace("../IK/subject01_walk_IK.mot", str(ik_out))
              .replace("<results_directory>Results", f"<results_directory>{tmp / 'ID'}"))
    id_setup = tmp / "ID" / "walk_Setup_ID.xml"
    id_setup.write_text(id_xml)

    def run_ik():
        tool = osim.InverseKinematicsTool(str(ik_setup))
        tool.setResultsDir(str(tmp / "IK"))
        tool.run()

    def run_id():
        tool = osim.InverseDynamicsTool(str(id_setup))
        tool.run()

    t_ik = best_of(run_ik, repeat=repeat)
    t_id = best_of(run_id, repeat=repeat)
    return t_ik, t_id, twin.read(ik_out), twin.read(tmp / "ID" / "subject01_walk_ID.sto")


GAIT2354 = "opensim-models/Pipelines/Gait2354_Simbody"
GAIT2354_MODEL = "opensim-models/Models/Gait2354_Simbody/gait2354_simbody.osim"


def opensim_scaletool(root: Path, tmp: Path, *, coordinate_tasks: bool = True):
    """OpenSim's ScaleTool run from the published subject01 setup (3-D Gait2354 model) in ``tmp``; the scaled
    model with its placed markers, or None when the files are absent. ``coordinate_tasks=False`` switches the
    setup's IKCoordinateTasks (lumbar_extension at 0, subtalar and mtp at their defaults, weight 1000) off."""
    from twin.fit._osim import run_scale_tool

    src = root / GAIT2354
    files = [src / "subject01_Setup_Scale.xml", src / "gait2354_Scale_MarkerSet.xml", src / "subject01_static.trc",
             root / GAIT2354_MODEL]
    if not all(f.exists() for f in files):
        return None
    return run_scale_tool(files[0], files[1:], tmp, coordinate_tasks=coordinate_tasks)


def _markers_onto(model_path: Path, placed):
    """The model at ``model_path`` with the marker locations of ``placed`` (same bodies, same body frames)."""
    import opensim as osim

    m = osim.Model(str(model_path))
    for mk in m.getMarkerSet():
        mk.set_location(placed.getMarkerSet().get(mk.getName()).get_location())
    m.finalizeConnections()
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing repeats, fewer trials (under a minute)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    root = data_dir()
    repeat = 3 if args.quick else 9
    figures: dict = {"quick": bool(args.quick)}
    src = root / GAIT10
    walk = twin.read([src / "ExperimentalData" / "subject01_walk.trc", src / "ExperimentalData" / "subject01_walk_grf.mot"])
    static = twin.read(src / "ExperimentalData" / "subject01_static.trc")
    ref_ik = twin.read(src / "OutputReference" / "IK" / "subject01_walk_IK.mot")
    ref_id = twin.read(src / "OutputReference" / "ID" / "Results" / "subject01_walk_ID.sto")
    ref_model = src / "OutputReference" / "subject01.osim"
    generic = root / GENERIC
    figures["opensim_version"] = fit._osim.opensim_version()

    # 1. OpenSim's own tools
    with tempfile.TemporaryDirectory(prefix="twin_bench_fit_") as tmp:
        t_ik, t_id, os_ik, os_id = opensim_tools(root, Path(tmp), repeat)
    e_ik, e_id = ik_errors(os_ik, ref_ik), id_errors(os_id, ref_id)
    print(f"== OpenSim {figures['opensim_version']} tools from the setup XMLs (best of {repeat})")
    print(f"  InverseKinematicsTool {t_ik * 1e3:7.1f} ms   worst vs OutputReference: {worst(e_ik)[0]} {worst(e_ik)[1]:.4f} deg")
    print(f"  InverseDynamicsTool   {t_id * 1e3:7.1f} ms   worst vs OutputReference: {worst(e_id, rotational_only=False)[0]} "
          f"{worst(e_id, rotational_only=False)[1]:.2f} % of peak (4.6 resamples the filtered coordinates)")
    figures.update(opensim_ik_s=t_ik, opensim_id_s=t_id, opensim_ik_rms_deg_vs_reference=worst(e_ik)[1],
                   opensim_id_rms_pct_of_peak_vs_reference=worst(e_id, rotational_only=False)[1])

    # 2. twin with the reference model
    kin = fit.inverse_kinematics(ref_model, walk)
    dyn = fit.inverse_dynamics(ref_model, kin, grf=walk)
    k_ik, k_id = ik_errors(kin, ref_ik), id_errors(dyn, ref_id)
    print("== twin with OpenSim's reference scaled model (subject01.osim)")
    print("  IK vs OutputReference (deg; mm for tx/ty): " + ", ".join(f"{k} {v:.3f}" for k, v in k_ik.items()))
    print("  ID vs OutputReference (% of peak):         " + ", ".join(f"{k} {v:.2f}" for k, v in k_id.items()))
    figures.update(ik_rms_deg_vs_reference=worst(k_ik)[1], ik_worst_coordinate=worst(k_ik)[0],
                   ik_translation_rms_mm_vs_reference=max(v for k, v in k_ik.items() if k.endswith(("_tx", "_ty"))),
                   id_rms_pct_of_peak_vs_reference=worst(k_id, rotational_only=False)[1],
                   id_worst_coordinate=worst(k_id, rotational_only=False)[0],
                   reference_model_marker_rms_m=kin.attrs["marker_rms_m"])

    # 3. own scaling
    def pipeline(model, **scale_opts):
        scaled, report = fit.scale(model, static, mass=72.6, **scale_opts)
        k = fit.inverse_kinematics(scaled, walk)
        d = fit.inverse_dynamics(scaled, k, grf=walk)
        return scaled, report, k, d

    runs = {"published setup (measurements + manual thigh/shank)": (generic, {"manual_scales": SUBJECT01_MANUAL_SCALES}),
            "measurements only": (generic, {})}
    try:
        from twin.model import BodyParams

        runs["BodyParams.default(), published setup"] = (BodyParams.default(), {"manual_scales": SUBJECT01_MANUAL_SCALES})
    except ImportError:
        figures["note_body_params"] = "twin.model not available"
    print("== twin's own scaling of the generic model, then IK and ID")
    own = {}
    for label, (model, opts) in runs.items():
        _, report, k, d = pipeline(model, **opts)
        e1, e2 = ik_errors(k, ref_ik), id_errors(d, ref_id)
        own[label] = (e1, e2, k)
        applied = dict(zip(report.segment.values, report.scale_factor.values))
        print(f"  {label}: applied factors " + ", ".join(f"{b} {applied[b]:.3f}" for b in
                                                         ("pelvis", "femur_r", "tibia_r", "calcn_r", "torso")))
        print("    IK (deg): " + ", ".join(f"{c} {v:.2f}" for c, v in e1.items() if not c.endswith(("_tx", "_ty"))))
        print("    ID (%):   " + ", ".join(f"{c} {v:.1f}" for c, v in e2.items()))
        print(f"    marker RMS {k.attrs['marker_rms_m'] * 1000:.1f} mm (3-D), {k.attrs['marker_rms_sagittal_m'] * 1000:.1f} mm "
              "(sagittal plane, what the planar model can fit)")
    e1, e2, k = own["published setup (measurements + manual thigh/shank)"]
    joints = {c: v for c, v in e2.items() if c.startswith(("hip", "knee", "ankle"))}
    figures.update(own_scaling_ik_rms_deg=worst(e1)[1], own_scaling_ik_worst_coordinate=worst(e1)[0],
                   own_scaling_id_rms_pct_of_peak=worst(e2, rotational_only=False)[1],
                   own_scaling_id_worst_coordinate=worst(e2, rotational_only=False)[0],
                   own_scaling_id_joints_rms_pct_of_peak=max(joints.values()),
                   marker_rms_m=k.attrs["marker_rms_m"], marker_rms_sagittal_m=k.attrs["marker_rms_sagittal_m"])
    e1m, _, km = own["measurements only"]
    figures.update(own_scaling_measurements_only_ik_rms_deg=worst(e1m)[1])
    if "BodyParams.default(), published setup" in own:
        e1b, e2b, kb = own["BodyParams.default(), published setup"]
        figures.update(own_model_ik_rms_deg=worst(e1b)[1], own_model_id_rms_pct_of_peak=worst(e2b, rotational_only=False)[1],
                       own_model_marker_rms_m=kb.attrs["marker_rms_m"])

    # 3b. OpenSim's own ScaleTool from the published setup: does it reproduce OutputReference's markers?
    own_model, _ = fit.scale(generic, static, mass=72.6, manual_scales=SUBJECT01_MANUAL_SCALES)
    with tempfile.TemporaryDirectory(prefix="twin_bench_scale_") as tmp:
        placed = {"as published": opensim_scaletool(root, Path(tmp) / "published"),
                  "coordinate tasks off": opensim_scaletool(root, Path(tmp) / "no_tasks", coordinate_tasks=False)}
    from twin.fit._osim import marker_distances_mm

    if placed["as published"] is None:
        print("== OpenSim ScaleTool: Gait2354 setup absent, skipped")
    else:
        import opensim as osim

        ref_osim = osim.Model(str(ref_model))
        torso = ("Sternum", "R.Acromium", "L.Acromium", "Top.Head")
        print("== OpenSim's ScaleTool from the published subject01 setup (3-D Gait2354), its markers on the reference "
              "model's bodies, then twin IK + ID")
        d = marker_distances_mm(own_model, placed["as published"])
        rest = max(v for k, v in d.items() if k not in torso)
        print(f"  twin.fit.scale's placed markers vs the ScaleTool's: torso max {max(d[k] for k in torso):.1f} mm, "
              f"the others max {rest:.1f} mm")
        figures.update(own_vs_scaletool_torso_markers_max_mm=max(d[k] for k in torso),
                       own_vs_scaletool_other_markers_max_mm=rest)
        for label, pm in placed.items():
            d = marker_distances_mm(pm, ref_osim)
            m = _markers_onto(ref_model, pm)
            k = fit.inverse_kinematics(m, walk)
            dd = fit.inverse_dynamics(m, k, grf=walk)
            e1, e2 = ik_errors(k, ref_ik), id_errors(dd, ref_id)
            print(f"  ScaleTool, {label}: markers vs OutputReference's: torso max {max(d[k_] for k_ in torso):.1f} mm, "
                  f"the others max {max(v for k_, v in d.items() if k_ not in torso):.1f} mm")
            print(f"    IK worst {worst(e1)[0]} {worst(e1)[1]:.2f} deg; ID (%): "
                  + ", ".join(f"{c} {v:.1f}" for c, v in e2.items()))
            key = "scaletool" if label == "as published" else "scaletool_no_coordinate_tasks"
            figures.update({f"{key}_ik_rms_deg": worst(e1)[1], f"{key}_id_lumbar_pct_of_peak": e2["lumbar_extension"],
                            f"{key}_id_pelvis_tilt_pct_of_peak": e2["pelvis_tilt"],
                            f"{key}_torso_markers_vs_reference_max_mm": max(d[k_] for k_ in torso)})

    # 4. speed: twin scale + IK + ID (Datasets included) vs OpenSim's IK + ID tools
    opts = {"manual_scales": SUBJECT01_MANUAL_SCALES}
    t_twin = best_of(lambda: pipeline(generic, **opts), repeat=repeat)
    t_twin_ikid = best_of(lambda: fit.inverse_dynamics(ref_model, fit.inverse_kinematics(ref_model, walk), grf=walk),
                          repeat=repeat)
    t_scale = best_of(lambda: fit.scale(generic, static, mass=72.6, **opts), repeat=repeat)
    ratio = t_twin / (t_ik + t_id)
    print(f"== speed (best of {repeat}): twin scale+IK+ID {t_twin * 1e3:.0f} ms (scale {t_scale * 1e3:.0f} ms; "
          f"IK+ID alone {t_twin_ikid * 1e3:.0f} ms) vs OpenSim IK+ID tools {(t_ik + t_id) * 1e3:.0f} ms: "
          f"ratio {ratio:.2f} (target <= 2)")
    figures.update(twin_scale_ik_id_s=t_twin, twin_scale_s=t_scale, twin_ik_id_s=t_twin_ikid,
                   time_ratio_vs_opensim=ratio, time_ratio_ik_id_only=t_twin_ikid / (t_ik + t_id))

    # 5. other labs
    print("== other labs' trials (scaled on their own frames; markers mapped to the model's)")
    labs = {
        "bmclab_walk1": (["BMClab-BMC/data/walk1.trc", "BMClab-BMC/data/walk1.forces"], None),
        "kineticstoolkit_walk": (["kineticstoolkit/data/walk.c3d"], None),
        "opencap_walk": (["opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/MarkerData/walk.trc"],
                         83.0),
    }
    lab_rms = {}
    for name, (files, mass) in labs.items():
        paths = [root / f for f in files]
        if not all(p.exists() for p in paths):
            print(f"  {name}: data absent, skipped")
            continue
        rec = twin.read(paths if len(paths) > 1 else paths[0])
        if mass is None:
            mass = rec.attrs.get("subject_mass")
        if mass is None and "grf" in rec:
            fy = rec.grf.sel(axis="y").fillna(0.0).sum(rec.grf.dims[1]).values
            loaded = np.flatnonzero(fy > 20.0)
            mass = float(np.mean(fy[loaded[0]:loaded[-1] + 1]) / 9.80665)
        t0 = time.perf_counter()
        try:
            scaled, report = fit.scale(generic, rec, mass=mass)
            hold = {} if "R.Acromium" in report.marker.values else {"lumbar_extension": 10.0}
            k = fit.inverse_kinematics(scaled, rec, coordinate_weights=hold)
            extra = ""
            if "grf" in rec:
                d = fit.inverse_dynamics(scaled, k, grf=rec)
                extra = f", ID peak ankle {abs(d.moment.sel(coordinate='ankle_angle_r')).max().item() / mass:.2f} N m/kg"
        except twin.TwinError as err:
            print(f"  {name}: {err}")
            continue
        lab_rms[name] = k.attrs["marker_rms_m"]
        figures[f"{name}_marker_rms_m"] = k.attrs["marker_rms_m"]
        figures[f"{name}_marker_rms_sagittal_m"] = k.attrs["marker_rms_sagittal_m"]
        figures[f"{name}_n_markers"] = k.attrs["n_markers"]
        print(f"  {name}: {k.attrs['n_markers']} markers, marker RMS {k.attrs['marker_rms_m'] * 1000:.1f} mm "
              f"(sagittal {k.attrs['marker_rms_sagittal_m'] * 1000:.1f} mm), mass {mass:.1f} kg, "
              f"{time.perf_counter() - t0:.2f} s{extra}")

    # 6. the built model vs OpenSim's file
    try:
        from twin.model import compare_to_reference

        cmp = compare_to_reference()
        figures.update(model_mass_err_pct=cmp["model_mass_err_pct"], moment_arm_max_err_pct=cmp["moment_arm_max_err_pct"])
        print(f"== twin.model.compare_to_reference(): mass error {cmp['model_mass_err_pct']:.3f} %, "
              f"moment arm max error {cmp['moment_arm_max_err_pct']:.3f} %")
    except ImportError:
        figures.update(model_mass_err_pct=None, moment_arm_max_err_pct=None,
                       note_model="twin.model.compare_to_reference not available")
    emit(figures)


if __name__ == "__main__":
    main()
