"""twin.learn synthetic gaits and real trials: label consistency, real sensors, ground truth, baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twin.errors import DataError, ParameterError
from twin.learn import (
    WindowSpec,
    heuristic_predict,
    joint_markers,
    kinematic_gaits,
    landmarks_from_static,
    load_real_trials,
    real_windows,
    score,
    sensor_windows,
)
from twin import schema
from twin.learn.evaluate import EVAL_DURATION

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def gaits():
    return kinematic_gaits(4, seed=7, duration=5.0, impairment_fraction=0.5)


def test_kinematic_gaits_consistent(gaits):
    from twin.learn.synthetic import _foot_points
    from twin.synth import markers_from_q

    y = gaits.labels
    assert np.allclose(y[:, 2], y[:, 0] / (y[:, 1] / 120.0))  # stride = speed / stride frequency
    assert ((y[:, 1] > 50) & (y[:, 1] < 180)).all()
    resting = []
    for i in range(len(gaits)):
        kin = gaits.kinematics(i)
        # cadence: the hip angle's dominant period is one stride
        hip = kin.q.sel(coordinate="hip_flexion_r").values
        t = kin.time.values
        spec = np.abs(np.fft.rfft(hip - hip.mean()))
        f = np.fft.rfftfreq(hip.size, t[1] - t[0])[np.argmax(spec)]
        assert abs(120 * f - y[i, 1]) < 120 / (t[-1] - t[0]) + 1.0
        # foot locking: the feet touch the ground with their contact spheres (their lowest point at height 0 within
        # 1 cm, the heel and toe markers above it), and the right ankle rests (moves at under 10 % of the walking
        # speed) for at least a fifth of the time while the body moves on at the labelled speed (the real trials'
        # ankles: 31-45 % of the time)
        bottoms = _foot_points(gaits.bodies[i], t, kin.q.values, [str(c) for c in kin.coordinate.values])[..., 1]
        assert abs(np.median(bottoms.min(axis=1))) < 0.01  # the pelvis height is smoothed: within 1 cm
        m = markers_from_q(gaits.bodies[i], kin, marker_set="plug_in_gait", markers=["RHEE", "RTOE", "LHEE", "RANK"])
        xy = m.markers.values
        assert 0.02 < np.median(xy[..., :3, 1].min(axis=1)) < 0.07
        resting.append(float(np.mean(np.abs(np.gradient(xy[:, 3, 0], t)) < 0.1 * y[i, 0])))
        pel = kin.q.sel(coordinate="pelvis_tx").values
        assert abs((pel[-1] - pel[0]) / (t[-1] - t[0]) - y[i, 0]) < 0.03
    print("fraction of the time the right ankle rests:", np.round(resting, 3))
    assert np.median(resting) > 0.2


def _stance_sliding_and_pelvis_speed(g, feet="spheres"):
    """Per subject: median world speed of the right foot's contact point while it is the lower foot / walking
    speed (slip: for ``feet="spheres"`` the contact sphere's centre beyond its rolling); pelvis speed / mean when
    the right ankle passes under the hip joints (mid-stance) and when it is furthest ahead of them (initial
    contact)."""
    from twin.learn.synthetic import _foot_points
    from twin.synth import markers_from_q

    out = []
    for i in range(len(g)):
        kin = g.kinematics(i)
        t = kin.time.values
        xy = _foot_points(g.bodies[i], t, kin.q.values, [str(c) for c in kin.coordinate.values], feet)
        k = np.argmin(xy[:, :2, 1], axis=1)
        rows = np.arange(t.size)
        v = np.abs(xy[rows[1:], k[:-1], 0] - xy[rows[:-1], k[:-1], 0]) / np.diff(t) / g.labels[i, 0]
        lower = xy[:, :2, 1].min(1) < xy[:, 2:, 1].min(1) - 0.01
        hips = markers_from_q(g.bodies[i], kin, marker_set="opencap", markers=["RHJC_study", "LHJC_study"])
        hip = hips.markers.values[..., 0].mean(1)
        ank = markers_from_q(g.bodies[i], kin, marker_set="plug_in_gait", markers=["RANK"]).markers.values[:, 0, 0]
        vp = np.gradient(kin.q.sel(coordinate="pelvis_tx").values, t) / g.labels[i, 0]
        rel = ank - hip
        mid = np.flatnonzero((rel[1:] < 0) & (rel[:-1] >= 0)) + 1
        ahead = np.flatnonzero((rel[1:-1] > rel[:-2]) & (rel[1:-1] >= rel[2:])) + 1
        out.append((float(np.median(v[lower[1:]])), float(np.median(vp[mid])), float(np.median(vp[ahead]))))
    return np.array(out)


def test_kinematic_gaits_plant_the_stance_foot_and_vault_over_it(gaits):
    """The default synthesis: stance feet do not slip, the pelvis is slowest over the stance foot; the older one
    (contact="lowest", plant=False, pendulum=None, feet="markers") slid its feet and kept an even pelvis speed."""
    new = _stance_sliding_and_pelvis_speed(gaits)
    older = dict(contact="lowest", plant=False, pendulum=None, feet="markers")
    old = _stance_sliding_and_pelvis_speed(
        kinematic_gaits(4, seed=7, duration=5.0, impairment_fraction=0.5, **older), feet="markers")
    print("sliding / mid-stance speed / initial-contact speed, default:", np.round(new, 3).tolist(),
          "older:", np.round(old, 3).tolist())
    assert np.median(new[:, 0]) < 0.02 < np.median(old[:, 0])
    assert np.median(new[:, 1]) < 0.97 and np.median(new[:, 2]) > 1.03
    assert (gaits.info["hip_correction_deg"] > 0).all() and (gaits.info["hip_correction_deg"] < 8).all()
    with pytest.raises(ParameterError, match="contact"):
        kinematic_gaits(1, contact="heel")
    with pytest.raises(ParameterError, match="pendulum"):
        kinematic_gaits(1, pendulum=(0.2, 0.1))
    with pytest.raises(ParameterError, match="feet"):
        kinematic_gaits(1, feet="shoes")


def test_kinematic_gaits_soles_lengthen_the_feet_roll():
    """A shoe's sole is a shell around the contact spheres: the same joint curves make longer strides.

    The sole is drawn per subject, so two syntheses that both draw one walk the same subjects; 3 cm of heel
    sole lengthens each one's stride (the ankle turns about a ground point further below it, on a rounder
    heel), and the lowest sole point, not the sphere, touches the ground."""
    from twin.learn.synthetic import FOREFOOT_SOLE, _foot_points

    thin = kinematic_gaits(3, seed=11, duration=4.0, impairment_fraction=0.0, sole_range=(1e-9, 1e-9))
    shod = kinematic_gaits(3, seed=11, duration=4.0, impairment_fraction=0.0, sole_range=(0.03, 0.03))
    assert np.allclose(shod.info["sole"], 0.03)
    assert np.allclose(thin.info["height"], shod.info["height"])  # the same subjects
    gain = shod.labels[:, 2] / thin.labels[:, 2]
    print("stride with 3 cm soles / barefoot:", np.round(gain, 3))
    assert (gain > 1.0).all() and np.mean(gain) > 1.01 and (gain < 1.15).all()
    assert np.allclose(shod.labels[:, 1], thin.labels[:, 1])  # the cadence is drawn, not made by the feet
    kin = shod.kinematics(0)
    names = [str(c) for c in kin.coordinate.values]
    bare = _foot_points(shod.bodies[0], kin.time.values, kin.q.values, names)
    sole = _foot_points(shod.bodies[0], kin.time.values, kin.q.values, names, sole=0.03)
    assert np.allclose(bare[..., 1] - sole[..., 1], [0.03, 0.03 * FOREFOOT_SOLE] * 2)
    assert abs(np.median(sole[..., 1].min(axis=1))) < 0.01  # the sole touches the ground
    assert kinematic_gaits(2, seed=11, duration=2.0).info["sole"].tolist() == [0.0, 0.0]  # barefoot by default
    with pytest.raises(ParameterError, match="sole_range"):
        kinematic_gaits(1, sole_range=(0.03, 0.01))
    with pytest.raises(ParameterError, match="sole_range"):
        kinematic_gaits(1, sole_range=(0.0, 0.02), feet="markers")


def _schwartz_ratios(g):
    """Per subject: stride and cadence over Schwartz 2008's group means at the subject's labelled v*."""
    from twin.learn.synthetic import GROUP_VSTAR, STEP_LENGTH_STAR

    leg = 0.53 * g.info["height"]
    vstar = g.labels[:, 0] / np.sqrt(9.80665 * leg)
    step = np.interp(vstar, GROUP_VSTAR, STEP_LENGTH_STAR)
    stride = g.labels[:, 2] / leg / (2 * step)
    cadence = g.labels[:, 1] / 60 / np.sqrt(9.80665 / leg) / (vstar / step)
    return stride, cadence


def test_kinematic_gaits_stride_and_cadence_follow_schwartz():
    """With stride_model="schwartz" healthy synthetic subjects walk with Schwartz et al. 2008's stride and
    cadence at their dimensionless speed (the table's group means, not this code's output); with Alexander's
    relation, the default, strides fall well short of them and cadences well above."""
    opts = dict(seed=2, duration=4.0, impairment_fraction=0.0, vstar_range=(0.17, 0.69))
    stride, cadence = _schwartz_ratios(kinematic_gaits(24, stride_model="schwartz", **opts))
    old_stride, old_cadence = _schwartz_ratios(kinematic_gaits(24, **opts))  # the default
    print("stride / Schwartz", stride.mean().round(3), "cadence / Schwartz", cadence.mean().round(3),
          "alexander:", old_stride.mean().round(3), old_cadence.mean().round(3))
    assert abs(stride.mean() - 1) < 0.05 and abs(cadence.mean() - 1) < 0.05
    assert old_stride.mean() < 0.92 and old_cadence.mean() > 1.08
    with pytest.raises(ParameterError, match="stride_model"):
        kinematic_gaits(1, stride_model="grieve")


def _lead_travel_at_separation_peaks(g):
    """Median over subjects and peaks of RANK - LANK: how far [fraction of the stride] the leading ankle
    still travels forward after the peak before it rests (speed < 10 % of the walking speed)."""
    from twin.learn.synthetic import _pig_points

    out = []
    for i in range(len(g)):
        kin = g.kinematics(i)
        t = kin.time.values
        m = _pig_points(g.bodies[i], t, kin.q.values, [str(c) for c in kin.coordinate.values], ["RANK", "LANK"])
        v, stride = g.labels[i, 0], g.labels[i, 2]
        for lead, sign in ((0, 1.0), (1, -1.0)):
            sep = sign * (m[:, 0, 0] - m[:, 1, 0])
            vx = np.gradient(m[:, lead, 0], t)
            for k in range(5, t.size - 5):
                if sep[k] == sep[k - 5:k + 6].max():
                    j = k
                    while j < t.size - 1 and vx[j] > 0.1 * v:
                        j += 1
                    if j < t.size - 1:
                        out.append((m[j, lead, 0] - m[k, lead, 0]) / stride)
    return float(np.median(out))


def test_kinematic_gaits_feet_lock_when_they_reach_the_ground():
    """touchdown (default): the leading foot rolls over its heel after the ankles' separation peaks, as people's
    do (0.2-2.9 % of the stride in the real trials); locked at its phase's initial contact (touchdown=None) it
    could stop in the air and come down vertically."""
    opts = dict(seed=5, duration=6.0, impairment_fraction=0.0, vstar_range=(0.4, 0.65))
    late = _lead_travel_at_separation_peaks(kinematic_gaits(8, **opts))
    early = _lead_travel_at_separation_peaks(kinematic_gaits(8, touchdown=None, **opts))
    print("leading ankle travel after the separation peak [fraction of stride]: touchdown", round(late, 4),
          "at initial contact", round(early, 4))
    assert late > 1.5 * early
    with pytest.raises(ParameterError, match="touchdown"):
        kinematic_gaits(1, touchdown=-0.01)


def test_foot_retraction_known_answers():
    from twin.learn.synthetic import foot_retraction

    t = np.linspace(0.0, 3.0, 301)
    # an ankle that advances at 1 m/s for 1 s and rests: it comes to rest at its most forward point
    x = np.minimum(t, 1.0)
    assert foot_retraction(t, x, 1.0) == pytest.approx(0.0, abs=1e-9)
    # one that overshoots by 0.1 m, comes back at 0.5 m/s and then rests at 1.0 m
    x2 = np.where(t < 1.1, t, np.maximum(1.1 - 0.5 * (t - 1.1), 1.0))
    assert foot_retraction(t, x2, 1.0) == pytest.approx(0.1, abs=0.011)
    assert np.isnan(foot_retraction(t, t, 1.0))  # never rests


def test_kinematic_gaits_redraw_feet_that_swing_beyond_their_landing():
    """With max_retraction, subjects whose ankles come back more than max_retraction before they rest are drawn
    again, and counted."""
    from twin.learn.synthetic import _subject_retraction

    older = dict(contact="lowest", plant=False, pendulum=None)  # planted feet hardly travel back: the older synthesis
    strict = kinematic_gaits(4, seed=7, duration=5.0, impairment_fraction=0.5, max_retraction=0.02, **older)
    assert (strict.info["retraction"] <= 0.02).all() and (strict.info["draws"] >= 1).all()
    loose = kinematic_gaits(4, seed=7, duration=5.0, impairment_fraction=0.5, **older)  # the same seed, no check
    assert (loose.info["draws"] == 1).all()
    # the same seed without the check: identical up to the first redrawn subject, whose first draw it keeps
    redrawn = np.flatnonzero(strict.info["draws"] > 1)
    assert redrawn.size, "seed 7 draws no subject again: pick a seed that exercises the check"
    i = int(redrawn[0])
    assert np.allclose(loose.labels[:i], strict.labels[:i])
    assert np.isnan(loose.info["retraction"]).all()  # not computed without the check
    kin = loose.kinematics(i)
    speed = loose.labels[i, 0]
    assert _subject_retraction(loose.bodies[i], kin.time.values, kin.q.values, list(kin.coordinate.values),
                               loose.settle, speed) > 0.02
    with pytest.raises(ParameterError, match="max_retraction"):
        kinematic_gaits(1, max_retraction=-0.1)


def test_simulated_gaits_come_from_the_factory():
    """simulated_gaits walks sampled subjects as twin.synth.generate does (gait-state start, fallback)."""
    from twin.learn import simulated_gaits

    g = simulated_gaits(4, seed=5, duration=3.0)
    n = len(g.ids)
    assert 1 <= n <= 4 and int(g.info["n_simulated"][0]) == 4 and int(g.info["n_valid"][0]) == n
    assert g.q.dims == ("subject", "time", "coordinate") and g.q.sizes["subject"] == n
    assert np.isfinite(g.labels).all() and (g.labels[:, 0] > 0.3).all()  # walking speeds [m/s]
    assert g.source == "twin.learn.simulated_gaits" and all(i.startswith("sim5_") for i in g.ids)
    for mod in ("keypoints", "imu"):  # the bodies carry the marker sets the virtual sensors need
        w = sensor_windows(g, WindowSpec(mod, duration=1.6, hop=0.8), seed=0)
        assert w.sizes["window"] >= n


def test_sensor_windows_both_modalities(gaits):
    for mod in ("keypoints", "imu"):
        w = sensor_windows(gaits, WindowSpec(mod, duration=1.6, hop=0.8), seed=0)
        assert set(w.group.values.tolist()) <= set(gaits.ids)
        assert np.isfinite(w.x).all() and np.isfinite(w.leg_length).all()
        for g, lab in zip(gaits.ids, gaits.labels):
            sel = w.group.values == g
            if sel.any():
                assert np.allclose(w.y.values[sel][0], lab)


@pytest.mark.data
def test_real_trials_ground_truth_and_sensors(data_dir):
    trials, skipped = load_real_trials(data_dir, trials=["bmclab_walk1", "gaitkit_parkinson", "kineticstoolkit_walk"])
    assert len(trials) == 3, skipped
    for tr in trials:
        lab = tr.labels
        assert 0.4 < lab["walking_speed"] < 2.0 and 70 < lab["cadence"] < 150 and 0.6 < lab["stride_length"] < 2.0
        assert 0.6 < tr.leg_length < 1.1, (tr.id, tr.leg_length)
        assert float(np.nanmedian(np.diff(tr.markers.markers.sel(axis="x").values, axis=0))) > 0  # walks along +X
    # bmclab walk1 has its right markers on the left (mirrored): the Harrington hip must still be below the ASIS
    jm = joint_markers(trials[0].markers)
    asis = trials[0].markers.markers.sel(marker="R.ASIS", axis="y").median()
    assert float(jm.markers.sel(marker="RHip", axis="y").median()) < float(asis) - 0.05
    for mod in ("keypoints", "imu"):
        w, sk = real_windows(trials, WindowSpec(mod, duration=EVAL_DURATION, hop=0.2))
        assert not sk and set(w.group.values.tolist()) == {t.id for t in trials}
        h = score(heuristic_predict(w))
        print(mod, {k: round(v["mae"], 3) for k, v in h.items() if k != "per_trial"})
        assert h["cadence"]["mae"] < 10.0


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_landmarks_from_static_follow_their_cluster():
    """A landmark fixed to a rigid cluster is carried exactly through rotations and translations."""
    rng = np.random.default_rng(0)
    cluster = rng.normal(0.0, 0.05, (3, 3))
    knee = np.array([0.02, -0.1, 0.04])
    t = np.arange(5) * 0.01
    still = np.tile(np.vstack([cluster, knee]), (5, 1, 1)) + rng.normal(0, 1e-4, (5, 4, 3))
    static = schema.recording(t, markers=still, marker_names=["T1", "T2", "T3", "KNEE"])
    rots = [_rot_z(a) for a in np.linspace(0.0, 1.2, 5)]
    shifts = np.stack([np.linspace(0, 2, 5), np.zeros(5), np.linspace(0, 0.3, 5)], 1)
    moving_xyz = np.stack([cluster @ r.T + d for r, d in zip(rots, shifts)])
    moving_xyz[2, 1] = np.nan  # a cluster marker missing in one frame
    moving = schema.recording(t, markers=moving_xyz, marker_names=["T1", "T2", "T3"])
    out = landmarks_from_static(moving, static, {"KNEE": ("T1", "T2", "T3")})
    got = out.markers.sel(marker="KNEE").values
    want = np.stack([r @ knee + d for r, d in zip(rots, shifts)])
    ok = [0, 1, 3, 4]
    assert np.abs(got[ok] - want[ok]).max() < 1e-3 and np.isnan(got[2]).all()
    assert list(out.marker.values) == ["T1", "T2", "T3", "KNEE"]
    # a landmark the moving trial has is kept; one the static trial lacks is an error
    assert landmarks_from_static(out, static, {"KNEE": ("T1", "T2", "T3")}).identical(out)
    with pytest.raises(DataError, match="'ANKLE'"):
        landmarks_from_static(moving, static, {"ANKLE": ("T1", "T2", "T3")})


@pytest.mark.data
def test_subject01_gets_knee_and_ankle_from_its_static_trial(data_dir):
    """subject01's walk has only thigh and shank clusters: its joint centres come from the static trial."""
    trials, skipped = load_real_trials(data_dir, trials=["subject01_walk"])
    assert len(trials) == 1, skipped
    src = joint_markers(trials[0].markers).attrs["joint_sources"]
    assert "RKnee: lateral + medial mean" in src and "LAnkle: lateral + medial mean" in src
    lab = trials[0].labels
    assert 0.4 < lab["walking_speed"] < 2.0 and 70 < lab["cadence"] < 150 and 0.6 < lab["stride_length"] < 2.0
    for mod in ("keypoints", "imu"):
        w, sk = real_windows(trials, WindowSpec(mod, duration=EVAL_DURATION, hop=0.2))
        assert not sk and w.sizes["window"] > 0


@pytest.mark.data
def test_real_trials_errors(data_dir, tmp_path):
    with pytest.raises(DataError, match="no reference data folder"):
        load_real_trials(tmp_path / "nothing")
    trials, skipped = load_real_trials(tmp_path, trials=["bmclab_walk2"])
    assert not trials and "missing file" in skipped["bmclab_walk2"]


def test_leave_one_subject_out_holds_a_persons_trials_out_together(monkeypatch):
    """leave_one_trial_out(subjects=...) trains each trial's estimator without any trial of the same person;
    without it, only the trial itself is left out."""
    import twin.learn.models as models
    from twin.learn import REAL_SUBJECTS, REAL_TRIALS, leave_one_trial_out, windows_dataset

    spec = WindowSpec("imu", duration=1.6, rate=40.0, sensors=("tibia_r",), channels=("gyro_z",))
    groups = ["a", "a", "b", "c", "c", "d", "e"]  # trial ids, one or two windows each
    w = windows_dataset(np.zeros((7, 1, spec.n_samples)), spec, leg_length=0.9, y=np.ones((7, 3)), group=groups)
    seen = []

    class _Fake:
        def predict(self, windows):
            return windows

    def fake_train(windows, **options):
        seen.append(sorted(set(str(g) for g in windows["group"].values)))
        return _Fake()

    monkeypatch.setattr(models, "train", fake_train)
    out = leave_one_trial_out(w, subjects={"a": "p1", "b": "p1", "d": "p2"})
    assert out.sizes["window"] == 7  # every trial predicted once
    # one estimator per person: a and b (p1) are predicted by one trained without either of them
    assert seen == [["c", "d", "e"], ["a", "b", "d", "e"], ["a", "b", "c", "e"], ["a", "b", "c", "d"]]
    seen.clear()
    leave_one_trial_out(w)
    assert seen[0] == ["b", "c", "d", "e"] and seen[1] == ["a", "c", "d", "e"]
    with pytest.raises(DataError, match="at least 3"):
        leave_one_trial_out(w, subjects={g: "one" for g in "abcd"})
    with pytest.raises(ParameterError, match="subjects"):
        leave_one_trial_out(w, subjects=[("a", "p1")])
    assert set(REAL_SUBJECTS) <= set(REAL_TRIALS)
