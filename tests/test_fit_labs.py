"""twin.fit on other labs' walking trials (no static trial: each is scaled on its own frames).

Marker names are mapped onto the model's subject01 markers (``twin.fit.markersets.MARKER_MAPS``:
BMClab, Plug-in-Gait, OpenCap); only the markers the model and the trial share are fitted. The
trials have no trunk markers except OpenCap's shoulders, so lumbar_extension is held upright by
a coordinate task where they are missing. Measured on this machine (3-D / sagittal marker RMS):
BMClab walk1 3.2 / 1.5 cm with 25 markers; kineticstoolkit walk.c3d 4.2 / 1.6 cm with 15
markers; OpenCap walk 5.1 / 3.0 cm with 31 markers (video markers; the subject turns at the
start of the trial, which a sagittal-plane model cannot follow).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

twin = pytest.importorskip("twin")
pytest.importorskip("opensim")
import twin.fit as fit  # noqa: E402

pytestmark = pytest.mark.data

GENERIC = "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim"
HOLD_TRUNK = {"lumbar_extension": 10.0}


def mass_from_grf(rec) -> float:
    """Body mass [kg] from the force plates: mean total vertical force over the loaded span / g."""
    fy = rec.grf.sel(axis="y").fillna(0.0).sum(rec.grf.dims[1]).values
    loaded = np.flatnonzero(fy > 20.0)
    return float(np.mean(fy[loaded[0]:loaded[-1] + 1]) / 9.80665)


def _fit(generic, rec, mass, **ik):
    model, report = fit.scale(generic, rec, mass=mass)
    kin = fit.inverse_kinematics(model, rec, **ik)
    return model, report, kin


def test_bmclab_walk_with_forces(data_file):
    rec = twin.read([data_file("BMClab-BMC/data/walk1.trc"), data_file("BMClab-BMC/data/walk1.forces")])
    mass = mass_from_grf(rec)
    assert 50 < mass < 100
    model, report, kin = _fit(data_file(GENERIC), rec, mass, coordinate_weights=HOLD_TRUNK)
    print(f"BMClab walk1: {kin.attrs['n_markers']} markers, RMS {kin.attrs['marker_rms_m']:.4f} m, "
          f"sagittal {kin.attrs['marker_rms_sagittal_m']:.4f} m, mass {mass:.1f} kg")
    assert report.attrs["mirrored_z"] == 1 and kin.attrs["mirrored_z"] == 1  # right markers on the lab's -Z side
    assert kin.attrs["n_markers"] >= 20
    assert kin.attrs["marker_rms_sagittal_m"] < 0.025
    assert kin.attrs["marker_rms_m"] < 0.05
    knee = np.degrees(kin.q.sel(coordinate="knee_angle_r").values)
    assert knee.min() < -50 and knee.max() > -15  # swing flexion and near-extension in stance
    dyn = fit.inverse_dynamics(model, kin, grf=rec)
    assignment = json.loads(dyn.attrs["grf_assignment"])
    feet = sorted(p["foot"] for periods in assignment.values() for p in periods)
    assert feet == ["left", "left", "right", "right"]  # four plates, two steps per foot
    ankle = dyn.moment.sel(coordinate="ankle_angle_r").values
    assert 0.8 < -ankle.min() / mass < 2.2  # peak plantarflexor moment, N m/kg (about 1.5 in adults)


def test_kineticstoolkit_plugin_gait_c3d(data_file):
    rec = twin.read(data_file("kineticstoolkit/data/walk.c3d"))
    model, report, kin = _fit(data_file(GENERIC), rec, rec.attrs["subject_mass"], coordinate_weights=HOLD_TRUNK)
    print(f"kineticstoolkit walk: {kin.attrs['n_markers']} markers, RMS {kin.attrs['marker_rms_m']:.4f} m, "
          f"sagittal {kin.attrs['marker_rms_sagittal_m']:.4f} m")
    assert report.attrs["settings"] and json.loads(report.attrs["settings"])["marker_map"] == "plugin_gait"
    assert abs(abs(kin.attrs["heading_deg"]) - 90) < 15  # walks along the lab's Z axis: rotated about Y first
    assert "rotated" in kin.attrs["history"]
    assert kin.attrs["n_markers"] >= 11
    assert kin.attrs["marker_rms_sagittal_m"] < 0.025
    assert kin.attrs["marker_rms_m"] < 0.06
    dyn = fit.inverse_dynamics(model, kin, grf=rec)
    assert np.isfinite(dyn.moment.values).all()


def test_opencap_video_markers_kinematics_only(data_file):
    rec = twin.read(data_file("opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/"
                              "MarkerData/walk.trc"))
    model, report, kin = _fit(data_file(GENERIC), rec, 83.0)  # sessionMetadata.yaml: 83 kg, 1.86 m
    print(f"OpenCap walk: {kin.attrs['n_markers']} markers, RMS {kin.attrs['marker_rms_m']:.4f} m, "
          f"sagittal {kin.attrs['marker_rms_sagittal_m']:.4f} m")
    assert kin.attrs["n_markers"] >= 25
    assert kin.attrs["marker_rms_sagittal_m"] < 0.04
    # the straight-walking middle of the trial fits better than its turning start
    mid = kin.marker_rms.sel(time=slice(1.0, 3.0)).median()
    assert float(mid) < 0.07
