"""twin.learn models, pretraining and surrogate: known-answer training, save/load, errors, timing."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from twin.errors import DataError, ParameterError, ReadError
from twin.learn import (
    TARGETS,
    WindowSpec,
    ensemble,
    finetune,
    load_estimator,
    load_pretrained,
    load_surrogate,
    pretrain,
    sample_parameters,
    train,
    train_surrogate,
    windows_dataset,
)
from twin.learn.pretrain import mask_spans
from twin.learn.surrogate import JOINTS, PARAMETERS, POPULATION_PARAMETERS, rms_deg

torch.set_num_threads(1)

SPEC = WindowSpec("imu", duration=1.6, rate=40.0, sensors=("tibia_r",), channels=("gyro_z", "acc_x"))


def _sinusoids(n, seed):
    """Windows whose stride frequency f is the answer: cadence = 120 f, stride = 0.8 leg (1 + f), speed = stride f."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.7, 1.3, n)
    leg = rng.uniform(0.75, 0.95, n)
    t = np.arange(SPEC.n_samples) / SPEC.rate
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.stack([np.sin(2 * np.pi * f[:, None] * t + phase), np.cos(2 * np.pi * f[:, None] * t + phase)], 1)
    x += 0.05 * rng.standard_normal(x.shape)
    stride = 0.8 * leg * (1 + f)
    y = np.stack([stride * f, 120 * f, stride], 1)
    return windows_dataset(x, SPEC, leg_length=leg, y=y, group=[f"s{i}" for i in range(n)])


@pytest.fixture(scope="module")
def trained():
    w = _sinusoids(384, 0)
    t0 = time.perf_counter()
    est = train(w, epochs=25, seed=0, width=16, depth=3, batch_size=32)
    print(f"training: {time.perf_counter() - t0:.1f} s, {est.n_parameters} parameters")
    return est


def test_learns_frequency(trained):
    test = _sinusoids(128, 1)
    p = trained.predict(test)
    err = np.abs(p.y_pred - p.y).mean("window")
    print({str(k): float(v) for k, v in zip(err.target.values, err.values)})
    assert float(err.sel(target="cadence")) < 4.0  # of a 72-156 steps/min range
    assert float(err.sel(target="stride_length")) < 0.06  # needs the leg length input
    assert float(err.sel(target="walking_speed")) < 0.08
    assert trained.history[-1] < trained.history[0]


def test_save_load_roundtrip(trained, tmp_path):
    w = _sinusoids(16, 2)
    path = trained.save(tmp_path / "est")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.pt"]
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["format"] == "twin.learn.Estimator/1" and cfg["modality"] == "imu"
    assert cfg["window_spec"]["duration"] == 1.6 and cfg["targets"] == list(TARGETS)
    assert {"x_mean", "x_std", "y_mean", "y_std", "aux_mean", "aux_std"} <= set(cfg["normalisation"])
    assert cfg["training"]["epochs"] == 25 and cfg["training"]["seed"] == 0 and "twin_version" in cfg
    again = load_estimator(path)
    assert np.array_equal(again.predict(w).y_pred.values, trained.predict(w).y_pred.values)
    trained.save(path)  # overwriting an existing model is atomic too
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(ReadError, match="no such model folder"):
        load_estimator(tmp_path / "nothing")
    (path / "weights.pt").unlink()
    with pytest.raises(ReadError, match="weights.pt is missing"):
        load_estimator(path)


def test_leg_length_target_scaling(trained, tmp_path):
    # the signals carry the stride frequency only; stride = 0.8 leg (1 + f): without the leg length as an
    # input, only the leg-length-scaled targets (stride / leg = 0.8 (1 + f)) can be learnt from them
    w, test = _sinusoids(384, 4), _sinusoids(128, 5)
    opts = dict(epochs=25, seed=0, width=16, depth=3, batch_size=32, use_leg_length=False)
    scaled = train(w, target_scaling="leg_length", **opts)
    plain = train(w, target_scaling="none", **opts)
    err = {k: float(np.abs(e.predict(test).y_pred - test.y).sel(target="stride_length").mean())
           for k, e in (("scaled", scaled), ("plain", plain))}
    print(err)
    assert err["scaled"] < 0.06 < err["plain"]  # leg 0.75-0.95 m: about 0.07 m of stride the plain model cannot see
    assert trained.norm["target_scaling"] == "none"  # the default for IMU windows (in g and rad/s)
    in_image = WindowSpec("keypoints", duration=0.64, keypoints=("LHip", "RHip", "LKnee", "RKnee"), scale="image")
    kp = windows_dataset(np.zeros((4, 8, 32)), in_image, leg_length=0.9, y=np.ones((4, 3)))
    assert train(kp, epochs=1, width=8, depth=1).norm["target_scaling"] == "leg_length"  # not in leg lengths
    with pytest.raises(ParameterError, match="ankle_separation"):
        train(kp, target_scaling="ankle_separation", epochs=1)
    with pytest.raises(ParameterError, match="ankle_separation"):
        train(w, target_scaling="ankle_separation", epochs=1)  # IMU windows have no ankles
    path = scaled.save(tmp_path / "est")
    assert json.loads((path / "config.json").read_text())["normalisation"]["target_scaling"] == "leg_length"
    assert np.array_equal(load_estimator(path).predict(test).y_pred.values, scaled.predict(test).y_pred.values)
    # a model saved before the option existed learnt its targets as they are
    cfg = json.loads((path / "config.json").read_text())
    del cfg["normalisation"]["target_scaling"]
    (path / "config.json").write_text(json.dumps(cfg))
    assert load_estimator(path).norm["target_scaling"] == "none"
    with pytest.raises(ParameterError, match="target_scaling"):
        train(w, target_scaling="froude", epochs=1)


def _striding_keypoints(n, seed, amp_range):
    """Keypoint windows of legs swinging in anti-phase at frequency f with ankle amplitude ``amp`` [leg lengths]:
    stride / leg = 1.08 x the ankles' separation range (4 amp), plus a knee channel that follows the swing but
    saturates (so it tells the stride only inside the training range)."""
    spec = WindowSpec("keypoints", duration=1.6)
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.8, 1.1, n)
    amp = rng.uniform(*amp_range, n)
    leg = rng.uniform(0.75, 0.95, n)
    t = np.arange(spec.n_samples) / spec.rate
    s = np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    x = np.zeros((n, len(spec.channel_names), spec.n_samples))
    ch = spec.channel_names.index
    for side, sign in (("R", 1.0), ("L", -1.0)):
        x[:, ch(f"{side}Ankle_x")] = sign * amp[:, None] * s
        x[:, ch(f"{side}Ankle_y")] = -0.95
        x[:, ch(f"{side}Knee_x")] = sign * np.tanh(amp[:, None] / 0.5) * 0.25 * s
        x[:, ch(f"{side}Knee_y")] = -0.5
    x += 0.01 * rng.standard_normal(x.shape)
    stride = 1.08 * 4 * amp * leg
    y = np.stack([stride * f, 120 * f, stride], 1)
    return windows_dataset(x, spec, leg_length=leg, y=y, group=[f"k{i}" for i in range(n)])


def test_ankle_separation_scaling_extrapolates():
    from twin.learn import ANKLE_SEPARATION_FLOOR, ankle_separation

    w = _striding_keypoints(256, 0, (0.25, 0.35))
    test = _striding_keypoints(64, 1, (0.40, 0.45))  # longer strides than any in training
    sep = ankle_separation(test)
    assert 1.55 < sep.min() and sep.max() < 1.9 and ANKLE_SEPARATION_FLOOR < sep.min()  # 4 x 0.40-0.45
    opts = dict(epochs=15, seed=0, width=16, depth=2, batch_size=32)
    ankles = train(w, **opts)
    assert ankles.norm["target_scaling"] == "ankle_separation"  # the default for keypoints with ankles
    legs = train(w, target_scaling="leg_length", **opts)
    err = {k: float((np.abs(e.predict(test).y_pred - test.y) / test.y).sel(target="stride_length").mean())
           for k, e in (("ankles", ankles), ("legs", legs))}
    print(err)
    # the ankle-scaled model learnt a ratio (1.08) that holds beyond its training range; the leg-scaled one
    # learnt stride / leg over 1.1-1.5 leg lengths and cannot tell the test's 1.7-1.9
    assert err["ankles"] < 0.05 < err["legs"]
    with pytest.raises(DataError, match="RAnkle_x"):
        ankle_separation(_sinusoids(2, 0))


def test_ensemble_is_the_mean_of_its_members(trained, tmp_path):
    w, test = _sinusoids(96, 6), _sinusoids(32, 7)
    opts = dict(epochs=2, width=8, depth=2, batch_size=32)
    singles = [train(w, seed=s, **opts) for s in (3, 4, 5)]
    preds = np.stack([e.predict(test).y_pred.values for e in singles])
    assert np.abs(preds[0] - preds[1]).max() > 1e-3  # the seeds give different networks
    both = train(w, seed=3, members=3, **opts)  # seeds 3, 4, 5
    assert both.architecture["members"] == 3 and len(both.training["members"]) == 3
    assert [m["seed"] for m in both.training["members"]] == [3, 4, 5]
    assert both.n_parameters == sum(e.n_parameters for e in singles)
    assert np.allclose(both.predict(test).y_pred.values, preds.mean(0), rtol=1e-5, atol=1e-5)
    # a new object: changing a member estimator afterwards does not change the ensemble
    before = both.predict(test).y_pred.values
    lone = ensemble(singles)
    with torch.no_grad():
        for p_ in singles[0].model.parameters():
            p_.add_(1.0)
    assert np.array_equal(lone.predict(test).y_pred.values, before)
    singles[0] = train(w, seed=3, **opts)  # the same seed again: the network as it was
    # members of ensembles are taken in turn
    nested = ensemble([ensemble(singles[:2]), singles[2]])
    assert nested.architecture["members"] == 3
    assert np.allclose(nested.predict(test).y_pred.values, preds.mean(0), rtol=1e-5, atol=1e-5)
    path = both.save(tmp_path / "ens")
    again = load_estimator(path)
    assert again.architecture["members"] == 3
    assert np.array_equal(again.predict(test).y_pred.values, both.predict(test).y_pred.values)
    with pytest.raises(ParameterError, match="normalisation"):
        ensemble([singles[0], train(_sinusoids(96, 8), seed=3, **opts)])  # other windows
    with pytest.raises(ParameterError, match="architecture"):
        ensemble([singles[0], train(w, seed=3, epochs=2, width=12, depth=2, batch_size=32)])
    with pytest.raises(ParameterError, match="Estimator"):
        ensemble([])
    with pytest.raises(ParameterError, match="members"):
        train(w, members=0, epochs=1)


def test_deterministic_and_errors(trained):
    w = _sinusoids(64, 3)
    a = train(w, epochs=2, seed=5, width=8, depth=2)
    b = train(w, epochs=2, seed=5, width=8, depth=2)
    assert np.array_equal(a.predict(w).y_pred.values, b.predict(w).y_pred.values)
    other = windows_dataset(np.zeros((2, 9, 128)), WindowSpec("imu"), leg_length=0.9)
    with pytest.raises(DataError, match="do not match the model"):
        trained.predict(other)
    no_leg = windows_dataset(np.zeros((2, 2, SPEC.n_samples)), SPEC)
    with pytest.raises(DataError, match="leg_length"):
        trained.predict(no_leg)
    with pytest.raises(DataError, match="no labels"):
        train(no_leg.assign(leg_length=no_leg.leg_length.fillna(0.9)), epochs=1)
    with pytest.raises(ParameterError, match="targets"):
        train(w, targets=("step_width",), epochs=1)


def test_masked_reconstruction_pretraining_and_finetune(tmp_path):
    w = _sinusoids(256, 4)
    pre = pretrain(w, epochs=12, seed=0, width=16, depth=3)
    print("masked MSE per epoch:", [round(v, 3) for v in pre.history])
    assert pre.history[-1] < 0.7 * pre.history[0]
    # fine-tuning starts from the pretrained encoder; frozen: the encoder does not move
    frozen = finetune(pre, w, epochs=2, seed=0, freeze=True)
    for k, v in frozen.model.encoder.state_dict().items():
        assert torch.equal(v, pre.encoder_state[k]), k
    est = finetune(pre, w, epochs=3, seed=0)
    assert est.training["pretrained"] and est.architecture["width"] == 16
    assert np.allclose(est.norm["x_mean"], pre.x_mean)
    path = pre.save(tmp_path / "pre")
    again = load_pretrained(path)
    assert all(torch.equal(again.encoder_state[k], v) for k, v in pre.encoder_state.items())
    with pytest.raises(ReadError, match="format"):
        load_estimator(path)


def test_mask_spans():
    m = mask_spans(500, 128, ratio=0.3, span=(4, 16), generator=torch.Generator().manual_seed(1))
    assert m.shape == (500, 128) and 0.2 < float(m.float().mean()) < 0.4


def _toy_outcomes(p):
    """A known smooth 'simulator': curves and metrics as simple functions of the parameters."""
    phase = np.linspace(0, 2 * np.pi, 101)
    amp = np.stack([30 * p[:, 2], 60 * p[:, 3] - 20 * p[:, 4], 15 + 0.05 * p[:, 5]], 1)
    curves = amp[:, :, None] * np.sin(phase)[None, None] + 10 * (p[:, :1, None] - 1.8)
    return {"joint_angle": curves, "walking_speed": 0.7 * p[:, 0] * p[:, 2], "cadence": 100 + 20 * p[:, 3]}


def test_surrogate_parameter_sampling():
    p = sample_parameters(400, seed=1)
    changed = (p[:, 2] < 1) | (p[:, 3] < 1) | (p[:, 4] > 0) | (p[:, 5] > 0)
    n_changes = (p[:, 2] < 1).astype(int) + (p[:, 3] < 1) + (p[:, 4] > 0) + (p[:, 5] > 0)
    assert n_changes.max() == 1 and 0.4 < changed.mean() < 0.6  # half unchanged, the others one change
    assert (p[:, 0] >= 1.6).all() and (p[:, 0] <= 1.95).all() and np.ptp(p[:, 1]) > 30
    a = sample_parameters(50, seed=1, impairments="all")
    assert ((a[:, 2] < 1) & (a[:, 4] > 0)).mean() > 0.9
    with pytest.raises(ParameterError, match="impairments"):
        sample_parameters(5, impairments="some")


def test_surrogate_fit_timing_and_roundtrip(tmp_path):
    p = sample_parameters(160, seed=0, impairments="all")
    o = _toy_outcomes(p)
    s = train_surrogate(p[:128], {k: v[:128] for k, v in o.items()}, epochs=600, seed=0, hidden=64)
    held = rms_deg(s, p[128:], {k: v[128:] for k, v in o.items()})
    print("toy surrogate held-out:", held)
    assert held["rms_deg"] < 3.0 and held["n"] == 32  # curves of +-60 deg amplitude
    one = p[0]
    s.predict(one)
    t0 = time.perf_counter()
    for _ in range(20):
        out = s.predict(one)
    ms = (time.perf_counter() - t0) / 20 * 1e3
    print(f"surrogate prediction: {ms:.2f} ms")
    assert ms < 1000.0  # loose bound (shared CPUs); the benchmark reports the figure
    assert out.joint_angle.shape == (len(JOINTS), 101) and out.joint_angle.attrs["units"] == "deg"
    assert s.predict(p[:3]).joint_angle.dims == ("sample", "joint", "cycle_pct")
    path = s.save(tmp_path / "sur")
    again = load_surrogate(path)
    assert np.array_equal(again.predict(p[:5]).joint_angle.values, s.predict(p[:5]).joint_angle.values)
    with pytest.raises(ParameterError, match="values per sample"):
        s.predict([1.8, 75.0])
    bad = dict(o, walking_speed=np.full(160, np.nan))
    with pytest.raises(DataError, match="valid"):
        train_surrogate(p, bad, epochs=1)
    assert len(PARAMETERS) == p.shape[1]


def _toy_population(n=240, seed=3):
    """A sampled population with labels from a known smooth 'simulator' of its inputs (no physics)."""
    import xarray as xr

    from twin.learn.surrogate import population_inputs
    from twin.synth import sample_population

    pop = sample_population(n, seed=seed, impairment_rate=0.5)
    x = population_inputs(pop)
    col = {p[0]: k for k, p in enumerate(POPULATION_PARAMETERS)}
    phase = np.linspace(0, 2 * np.pi, 101)
    weak_pf = x[:, col["weakness_plantarflexors"]]
    amp = np.stack([30 * x[:, col["strength_r"]], 60 - 80 * x[:, col["contracture_hamstrings"]],
                    15 - 10 * weak_pf + 0.02 * x[:, col["afo_stiffness"]]], 1)
    curves = np.radians(amp[:, :, None] * np.sin(phase)[None, None] + 10 * (x[:, :1, None] - 1.7))
    ja = np.repeat(curves[:, None], 3, 1)  # left, right, overall alike
    speed = 0.8 * x[:, col["target_speed"]] - 0.3 * weak_pf
    cad = 100 + 20 * x[:, col["target_speed"]]
    ctrl = np.where(x[:, col["target_speed"]] > 1.3, "walk_fast.json", "walk_default.json")
    cad = cad + 10 * (ctrl == "walk_fast.json")  # the controller that walked shapes the outcome too
    kept = np.ones(n, bool)
    kept[::7] = False  # fallers: left out
    ja[~kept] = np.nan
    rep = lambda a: np.repeat(a[:, None], 3, 1)  # noqa: E731
    return pop.assign(
        joint_angle=(("subject", "label_side", "joint", "cycle_pct"), ja),
        walking_speed=(("subject", "label_side"), rep(speed)), cadence=(("subject", "label_side"), rep(cad)),
        kept=("subject", kept), labels_valid=("subject", kept), controller=("subject", ctrl)).assign_coords(
        label_side=["left", "right", "overall"], joint=["hip_flexion", "knee_angle", "ankle_angle"],
        cycle_pct=np.linspace(0, 100, 101)), x


def test_population_inputs_encoding():
    from twin.learn.surrogate import population_inputs
    from twin.synth import sample_population

    pop = sample_population(60, seed=5, impairment_rate=1.0)
    x = population_inputs(pop)
    col = {p[0]: k for k, p in enumerate(POPULATION_PARAMETERS)}
    assert np.allclose(x[:, col["height"]], pop.height.values) and np.allclose(x[:, col["mass"]], pop.mass.values)
    for i in range(60):
        side, kind = str(pop.impairment_side.values[i]), str(pop.impairment.values[i])
        assert x[i, col["impaired_r"]] == (side in ("r", "both")) and x[i, col["impaired_l"]] == (side in ("l", "both"))
        if kind == "weakness":
            g = str(pop.weakness_group.values[i])
            assert x[i, col[f"weakness_{g}"]] == pytest.approx(1 - float(pop.weakness_strength.values[i]))
        if kind == "afo":
            assert x[i, col["afo_stiffness"]] == pytest.approx(float(pop.afo_stiffness.values[i]))
    # one impairment per subject (everyone impaired here): one severity column, two for a knee replacement
    ctrl = [k for k, p in enumerate(POPULATION_PARAMETERS) if p[0].startswith("controller_")]
    sev = x[:, 7:ctrl[0]]
    n_set = (sev > 0).sum(1)
    assert ((n_set == 1) | ((n_set == 2) & (pop.impairment.values == "tka"))).all()
    healthy = population_inputs(sample_population(20, seed=5, impairment_rate=0.0))
    assert (healthy[:, 5:ctrl[0]] == 0).all()
    # no controller variable: the one named (walk_default unless told)
    assert (healthy[:, col["controller_walk_default"]] == 1).all() and (healthy[:, ctrl].sum(1) == 1).all()
    slow = population_inputs(sample_population(3, seed=5), controller="walk_slow.json")
    assert (slow[:, col["controller_walk_slow"]] == 1).all() and (slow[:, ctrl].sum(1) == 1).all()
    with pytest.raises(DataError, match="walk_sideways"):
        population_inputs(sample_population(3, seed=5), controller="walk_sideways")
    sim = pop.assign(controller=("subject", np.array(["walk_fast.json"] * 59 + [""])))
    xs = population_inputs(sim)
    assert (xs[:59, col["controller_walk_fast"]] == 1).all() and xs[59, ctrl].sum() == 0
    bad = pop.copy()
    bad["weakness_group"] = bad.weakness_group.where(bad.impairment != "weakness", "toes")
    with pytest.raises(DataError, match="toes"):
        population_inputs(bad)
    with pytest.raises(DataError, match="lacks height"):
        population_inputs(pop.drop_vars("height"))


def test_surrogate_trained_on_a_population(tmp_path):
    from twin.learn import train_on_population

    pop, x = _toy_population()
    s = train_on_population(pop, holdout=0.25, epochs=800, seed=0, hidden=64)
    held = s.training["held_out"]
    print("toy population surrogate held-out:", held)
    n_valid = int(pop.kept.sum())
    assert s.training["n_valid"] == n_valid and held["n"] == round(0.25 * n_valid)
    assert not set(s.training["held_out_subjects"]) & set(np.flatnonzero(~pop.kept.values).tolist())
    assert held["rms_deg"] < 0.35 * held["baseline_rms_deg"]  # learnt the dependence, not the mean curve
    assert held["speed_mae_mps"] < 0.05
    assert s.parameters == POPULATION_PARAMETERS and s.predict(x[0]).joint_angle.shape == (3, 101)
    again = load_surrogate(s.save(tmp_path / "pop_sur"))
    assert again.parameters == POPULATION_PARAMETERS
    assert np.array_equal(again.predict(x[:4]).joint_angle.values, s.predict(x[:4]).joint_angle.values)
    with pytest.raises(ParameterError, match="values per sample"):
        s.predict(x[0, :6])
    with pytest.raises(DataError, match="simulated population"):
        train_on_population(pop.drop_vars("joint_angle"))
