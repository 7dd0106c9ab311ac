"""twin.fit.passive: the relaxed knee's moment against Riener & Edrich (1999), and the quadriceps calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from twin.errors import ParameterError
from twin.fit import calibrate_passive_knee, passive_knee_moment
from twin.fit.passive import CALIBRATION_GRID, riener_edrich_knee_moment
from twin.model import BodyParams

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body():
    return BodyParams.default(lumbar=False, marker_sets=()).scaled(height=1.75, mass=70.0)


def test_riener_edrich_formula():
    # the published double exponential evaluated by hand at knee 70 deg, hip 0 and 20 deg, ankle 0
    hand = [math.exp(1.800 - 0.0352 * 70) - math.exp(-3.971 + 0.0495 * 70) - 4.820,
            math.exp(1.800 - 0.0352 * 70 + 0.0217 * 20) - math.exp(-3.971 + 0.0495 * 70 - 0.0128 * 20) - 4.820]
    assert np.allclose(riener_edrich_knee_moment([0.0, 20.0], 70.0), hand, atol=1e-9)
    # near full extension the ligament term flexes the knee; deep flexion is resisted
    assert riener_edrich_knee_moment(0.0, 0.0) > 5.0 and riener_edrich_knee_moment(0.0, 90.0) < -5.0


def test_passive_knee_moment_direction_and_symmetry(body):
    m = passive_knee_moment(body, 0.0, [40.0, 60.0, 80.0])
    assert m.shape == (3,) and (np.diff(m) < 0).all() and (m < 0).all()  # quadriceps stretched more
    # flexing the hip slackens rectus femoris: less extending moment at the same knee angle
    assert passive_knee_moment(body, 30.0, 70.0) > passive_knee_moment(body, 0.0, 70.0)
    assert np.allclose(passive_knee_moment(body, 10.0, 60.0, side="l"), passive_knee_moment(body, 10.0, 60.0))
    with pytest.raises(ParameterError, match="side"):
        passive_knee_moment(body, 0.0, 60.0, side="x")
    with pytest.raises(ParameterError, match="finite"):
        passive_knee_moment(body, np.nan, 60.0)


def test_calibrate_passive_knee_matches_riener_edrich(body):
    h, k = np.asarray(CALIBRATION_GRID).T
    ref = riener_edrich_knee_moment(h, k)
    before = passive_knee_moment(body, h, k)
    new, rep = calibrate_passive_knee(body)
    after = passive_knee_moment(new, h, k)
    print(rep, "at hip 20, knee 70:", passive_knee_moment(body, 20.0, 70.0), "->", passive_knee_moment(new, 20.0, 70.0))
    # OpenSim's passive curve makes the relaxed knee several times stiffer than Riener & Edrich's subjects
    assert np.sqrt(np.mean((before - ref) ** 2)) > 5.0
    assert np.sqrt(np.mean((after - ref) ** 2)) < 1.0
    assert abs(rep["rms_after_nm"] - np.sqrt(np.mean((after - ref) ** 2))) < 1e-6
    assert 0.6 < rep["strain"] < 3.0 and not rep["at_bound"]
    for name in ("vasti_r", "vasti_l", "rect_fem_r", "rect_fem_l"):
        assert new.muscle(name).passive_fiber_strain == rep["strain"]
    assert new.muscle("hamstrings_r").passive_fiber_strain == 0.6 and body.muscle("vasti_r").passive_fiber_strain == 0.6
    assert "Riener" in new.history[-1]
    # the strain survives the round trip through a dict (a saved twin)
    assert BodyParams.from_dict(new.to_dict()).muscle("vasti_l").passive_fiber_strain == rep["strain"]
    ds = new.to_dataset()
    assert BodyParams.from_dataset(ds) == new
    # a body saved before the field existed reads with OpenSim's 0.6
    old = BodyParams.from_dataset(ds.drop_vars("passive_fiber_strain"))
    assert old.muscle("vasti_l").passive_fiber_strain == 0.6 and old.muscle("vasti_l") != new.muscle("vasti_l")
    with pytest.raises(ParameterError, match="no muscle"):
        calibrate_passive_knee(body, muscles=("quadriceps",))
    with pytest.raises(ParameterError, match="bounds"):
        calibrate_passive_knee(body, bounds=(2.0, 1.0))


def test_passive_fiber_strain_validated_and_exported(body):
    from twin.errors import TwinError

    m = body.muscle("vasti_r")
    with pytest.raises(TwinError, match="passive_fiber_strain"):
        type(m)(**{**{f: getattr(m, f) for f in m.__dataclass_fields__}, "passive_fiber_strain": -0.1})
    osim = pytest.importorskip("opensim")
    from twin.model import to_opensim

    new, rep = calibrate_passive_knee(body)
    model = to_opensim(new, markers=None)
    mus = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get("vasti_r"))
    assert mus.get_passive_fiber_strain_at_one_norm_force() == pytest.approx(rep["strain"])
    ham = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get("hamstrings_r"))
    assert ham.get_passive_fiber_strain_at_one_norm_force() == pytest.approx(0.6)
