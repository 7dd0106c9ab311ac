"""twin.engine against OpenSim 4 on the same body (``twin.model.to_opensim`` of the same BodyParams).

Rung 3 of the verification ladder: musculotendon lengths and moment arms,
muscle forces, passive forward dynamics and foot contact, each compared
with OpenSim's own computation on the model built from the same
parameters. Needs the ``opensim`` package (skips otherwise); no data files.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

osim = pytest.importorskip("opensim")
model_mod = pytest.importorskip("twin.model")

from twin.engine import muscle as mus  # noqa: E402
from twin.engine.build import EngineParams  # noqa: E402
from twin.engine.integrate import advance  # noqa: E402
from twin.engine.multibody import kinematics  # noqa: E402
from twin.engine.path import path_geometry  # noqa: E402
from twin.engine.simulate import simulate  # noqa: E402
from twin.engine.step import initial_state  # noqa: E402

F64 = torch.float64
BodyParams, to_opensim = model_mod.BodyParams, model_mod.to_opensim


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", autouse=True)
def _quiet_opensim():
    osim.Logger.removeFileSink()  # never write opensim.log into the working directory
    old = osim.Logger.getLevelString()
    osim.Logger.setLevelString("error")
    yield
    osim.Logger.setLevelString(old)


@pytest.fixture(scope="module")
def body():
    return BodyParams.default(marker_sets=())


def _set_state(model, state, names, q, qd=None):
    cs = model.getCoordinateSet()
    for i, n in enumerate(names):
        cs.get(n).setValue(state, float(q[i]), False)
        cs.get(n).setSpeedValue(state, 0.0 if qd is None else float(qd[i]))


def _degroote(model):
    return [osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get(i))
            for i in range(model.getMuscles().getSize())]


def test_lengths_and_moment_arms_match_opensim_over_joint_ranges(body):
    """Each leg coordinate swept over its range and 0.3 rad beyond (others at default): length and moment arms
    within 1 %. Beyond the range OpenSim evaluates moving path points at the clamped coordinate (and their
    slope at the actual one); the engine does the same."""
    model = to_opensim(body, contact=False, markers=None)
    state = model.initSystem()
    p = EngineParams.from_body(body, contact=False)
    names = list(p.coordinate_names)
    cs = model.getCoordinateSet()
    muscles = [model.getMuscles().get(i) for i in range(model.getMuscles().getSize())]
    worst_len, worst_ma = 0.0, 0.0
    for c in body.coordinates:
        if c.name.startswith("pelvis"):
            continue
        for value in np.linspace(c.range[0] - 0.3, c.range[1] + 0.3, 17):
            q = np.array([cc.default for cc in body.coordinates])
            q[names.index(c.name)] = value
            _set_state(model, state, names, q)
            model.realizePosition(state)
            qt = torch.tensor(q, dtype=F64)[None]
            geo = path_geometry(p, kinematics(p, qt, torch.zeros_like(qt)), qt)
            for mi, m in enumerate(muscles):
                ref = m.getLength(state)
                worst_len = max(worst_len, abs(geo.length[0, mi].item() - ref) / ref)
                for k in range(3, len(names)):
                    ma = m.computeMomentArm(state, cs.get(names[k]))
                    ours = geo.moment_arm[0, mi, k].item()
                    worst_ma = max(worst_ma, abs(ours - ma) / max(abs(ma), 0.005))  # 1 % (or 0.05 mm below 5 mm)
    assert worst_len < 0.01 and worst_ma < 0.01, (worst_len, worst_ma)


@pytest.mark.parametrize("rigid", [False, True])
def test_muscle_force_matches_opensim(body, rigid):
    """Random poses, speeds, activations (and tendon states): fibre length, velocity, forces within 1 %."""
    model = to_opensim(body, contact=False, markers=None)
    for m in _degroote(model):
        m.set_ignore_tendon_compliance(rigid)
    state = model.initSystem()
    p = EngineParams.from_body(body, contact=False, rigid_tendon=rigid)
    names = list(p.coordinate_names)
    rng = np.random.default_rng(7)
    worst = {}
    for _ in range(8):
        q = np.array([c.default for c in body.coordinates])
        for i, n in enumerate(names):
            if n.startswith(("hip", "knee", "ankle", "lumbar")):
                lo, hi = {"hip": (-0.3, 1.2), "knee": (-1.5, 0.0), "ankle": (-0.4, 0.3), "lumbar": (-0.3, 0.3)}[
                    n.split("_")[0]]
                q[i] = rng.uniform(lo, hi)
        qd = rng.normal(0.0, 1.0, len(names))
        a = rng.uniform(0.1, 1.0, p.n_muscles)
        qt, qdt = torch.tensor(q, dtype=F64)[None], torch.tensor(qd, dtype=F64)[None]
        geo = path_geometry(p, kinematics(p, qt, qdt), qt)
        speed = (geo.dldq @ qdt[..., None]).squeeze(-1)
        at = torch.tensor(a, dtype=F64)[None]
        if rigid:
            ms = mus.rigid(p, geo.length, speed, at)
        else:
            # tendon states in equilibrium with a force-velocity multiplier in [0.3, 1.5]
            ft = mus.equilibrium_tendon_force(p, geo.length, 0.0 * speed, at)
            ft = ft * torch.tensor(rng.uniform(0.5, 1.3, p.n_muscles), dtype=F64)
            ms = mus.compliant(p, geo.length, speed, at, ft)
        _set_state(model, state, names, q, qd)
        for i, m in enumerate(_degroote(model)):
            m.setActivation(state, float(a[i]))
            if not rigid:
                m.setNormalizedTendonForce(state, float(ft[0, i]))
        model.realizeDynamics(state)
        for i, m in enumerate(_degroote(model)):
            ref = {"fiber_length": m.getFiberLength(state), "fiber_velocity": m.getFiberVelocity(state),
                   "tendon_force": m.getTendonForce(state), "active_fiber_force": m.getActiveFiberForce(state),
                   "passive_fiber_force": m.getPassiveFiberForce(state)}
            if not rigid:
                ref["tendon_force_dot"] = model.getStateVariableDerivativeValue(
                    state, m.getAbsolutePathString() + "/normalized_tendon_force")
            for key, r in ref.items():
                ours = float(getattr(ms, key)[0, i])
                scale = {"tendon_force_dot": 1.0, "fiber_velocity": 0.05}.get(key, 1.0)
                worst[key] = max(worst.get(key, 0.0), abs(ours - r) / max(abs(r), scale))
    assert max(worst.values()) < 0.01, worst


def _hanging(body):
    """The body hanging from a pelvis welded 1.2 m above ground (no contact): legs swing under gravity."""
    seg = body.segments[0]
    joint = model_mod.Joint(seg.joint.name, "weld", "ground", location_in_parent=(0.0, 1.2, 0.0))
    return dataclasses.replace(body, segments=(dataclasses.replace(seg, joint=joint),) + body.segments[1:])


def _opensim_forward(body, q0, qd0, duration, *, rigid=True, activation=0.0, contact=False):
    model = to_opensim(body, contact=contact, markers=None)
    ctrl = osim.PrescribedController()
    for m in _degroote(model):
        m.set_ignore_tendon_compliance(rigid)
        m.set_ignore_activation_dynamics(True)  # activation = control, held constant
        ctrl.addActuator(m)
        ctrl.prescribeControlForActuator(m.getName(), osim.Constant(activation))
    model.addController(ctrl)
    state = model.initSystem()
    names = [c.name for c in body.coordinates]
    _set_state(model, state, names, q0, qd0)
    if not rigid:
        model.equilibrateMuscles(state)
    manager = osim.Manager(model)
    manager.setIntegratorAccuracy(1e-7)
    manager.initialize(state)
    manager.integrate(duration)
    table = manager.getStatesTable()
    cs = model.getCoordinateSet()
    time = np.array(table.getIndependentColumn())
    q = np.stack([table.getDependentColumn(cs.get(n).getAbsolutePathString() + "/value").to_numpy()
                  for n in names], axis=1)
    return time, q


def test_passive_forward_simulation_matches_opensim(body):
    """Zero activation, rigid tendons (passive fibre forces only), no contact, 1 s from 3 states: RMS <= 1 deg."""
    hanging = _hanging(BodyParams.default(lumbar=False, marker_sets=()))
    names = [c.name for c in hanging.coordinates]
    rng = np.random.default_rng(3)
    q0 = np.zeros((3, len(names)))
    qd0 = rng.normal(0.0, 0.5, (3, len(names)))
    for i, n in enumerate(names):
        lo, hi = {"hip": (-0.2, 0.6), "knee": (-1.0, -0.1), "ankle": (-0.3, 0.2)}[n.split("_")[0]]
        q0[:, i] = rng.uniform(lo, hi, 3)
    p = EngineParams.from_body(hanging, contact=False, rigid_tendon=True, batch=3)
    s = initial_state(p, q=torch.tensor(q0, dtype=F64), qdot=torch.tensor(qd0, dtype=F64), activation=0.0)
    ex = torch.zeros(3, p.n_muscles, dtype=F64)
    dt = 1e-3
    traj = [s.q.numpy()]
    for _ in range(1000):
        s, _ = advance(p, s, ex, dt, integrator="rk4")
        traj.append(s.q.numpy())
    traj = np.array(traj)
    t_eng = np.arange(len(traj)) * dt
    rms = []
    for k in range(3):
        t_ref, q_ref = _opensim_forward(hanging, q0[k], qd0[k], 1.0)
        ours = np.stack([np.interp(t_ref, t_eng, traj[:, k, i]) for i in range(len(names))], axis=1)
        rms.append(np.sqrt(np.mean((ours - q_ref) ** 2, axis=0)).max())
        assert np.ptp(q_ref, axis=0).max() > 0.2  # the legs really move
    rms_deg = np.degrees(max(rms))
    assert rms_deg <= 1.0, f"joint-angle RMS {rms_deg:.3f} deg"


def _statue(body, ankle=0.1):
    segs = [body.segments[0]]
    for s in body.segments[1:]:
        j = s.joint
        if j.name.startswith("ankle"):
            j = dataclasses.replace(j, orientation_in_parent=(0.0, 0.0, ankle))
        loc = list(j.location_in_parent)
        for axis, spline in ((0, j.translation_x), (1, j.translation_y)):
            if spline is not None:
                loc[axis] += float(spline(0.0))
        segs.append(dataclasses.replace(s, joint=dataclasses.replace(
            j, type="weld", coordinates=(), translation_x=None, translation_y=None, location_in_parent=tuple(loc))))
    return dataclasses.replace(body, segments=tuple(segs), muscles=())


def test_contact_drop_settles_at_opensim_height():
    """A rigid body (all joints welded) dropped 2 cm onto its four foot spheres: settled height within 5 mm."""
    statue = _statue(BodyParams.default(lumbar=False, marker_sets=()))
    q0 = np.array([-0.1, 0.0, 0.96])
    p = EngineParams.from_body(statue)
    s0 = initial_state(p, q=torch.tensor(q0, dtype=F64)[None])
    ds = simulate(p, None, 1.0, dt=5e-4, record_every=20, fall_height=None, initial=s0)
    t_ref, q_ref = _opensim_forward(statue, q0, np.zeros(3), 1.0, contact=True)
    ours = ds.q.isel(batch=0).values
    assert abs(ours[-1, 2] - q_ref[-1, 2]) < 0.005
    # the whole settling transient, not just the end
    interp = np.interp(t_ref, ds.time.values, ours[:, 2])
    assert np.max(np.abs(interp - q_ref[:, 2])) < 0.005


GAIT10 = "opensim-models/Pipelines/Gait10dof18musc"


def test_inverse_dynamics_matches_opensim_reference(data_file):
    """subject01 walk: engine ID on OpenSim's reference model, IK and GRF vs OpenSim's ID, within 5 % of peak."""
    import twin
    from twin.engine.inverse import inverse_dynamics, loads_from_recording, smooth_derivatives
    from twin.engine.osim_xml import read_osim

    p = EngineParams.from_body(read_osim(data_file(f"{GAIT10}/OutputReference/subject01.osim")))
    kin = twin.read(data_file(f"{GAIT10}/OutputReference/IK/subject01_walk_IK.mot"))
    grf = twin.read(data_file(f"{GAIT10}/ExperimentalData/subject01_walk_grf.mot"))
    ref = twin.read(data_file(f"{GAIT10}/OutputReference/ID/Results/subject01_walk_ID.sto"))
    names = list(p.coordinate_names)
    t = kin.time.values
    q, qd, qdd = smooth_derivatives(t, kin.q.sel(coordinate=names).values, cutoff=6.0)
    loads = loads_from_recording(grf, t, {"right": "calcn_r", "left": "calcn_l"})
    tau = inverse_dynamics(p, *(torch.tensor(x) for x in (q, qd, qdd)), loads=loads).numpy()
    r = ref.moment.sel(coordinate=names).values  # OpenSim reports ID at the IK frames
    assert r.shape == tau.shape
    pct = np.sqrt(np.mean((tau - r) ** 2, axis=0)) / np.abs(r).max(axis=0) * 100
    assert pct.max() < 5.0, dict(zip(names, pct.round(2)))


def test_metabolic_power_matches_opensim_bhargava2004(body):
    """Whole-body metabolic power (Bhargava 2004, smoothed) equals OpenSim's Bhargava2004SmoothedMuscleMetabolics."""
    from twin.engine.step import dynamics

    body = BodyParams.default(lumbar=False, marker_sets=())
    model = to_opensim(body, contact=False, markers=None)
    probe = osim.Bhargava2004SmoothedMuscleMetabolics()
    probe.setName("metabolics")
    probe.set_use_smoothing(True)
    for m in _degroote(model):
        m.set_ignore_tendon_compliance(True)
        m.set_ignore_activation_dynamics(True)  # activation = excitation = control
        probe.addMuscle(m.getName(), m)
    model.addComponent(probe)
    state = model.initSystem()
    p = EngineParams.from_body(body, contact=False, rigid_tendon=True)
    names = list(p.coordinate_names)
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(5):
        q = np.array([c.default for c in body.coordinates])
        q[3:] = rng.uniform(-0.5, 0.5, len(names) - 3)
        qd = rng.normal(0.0, 1.5, len(names))
        a = rng.uniform(0.05, 0.95, p.n_muscles)
        _set_state(model, state, names, q, qd)
        model.realizeVelocity(state)
        controls = model.getControls(state)
        for i in range(p.n_muscles):
            controls.set(i, float(a[i]))
        model.setControls(state, controls)
        model.realizeDynamics(state)
        ref = probe.getTotalMetabolicRate(state)
        at = torch.tensor(a, dtype=F64)[None]
        s = initial_state(p, q=torch.tensor(q, dtype=F64)[None], qdot=torch.tensor(qd, dtype=F64)[None], activation=at)
        ours = float(dynamics(p, s, at).metabolic_power[0]) + 1.2 * float(p.total_mass[0])
        worst = max(worst, abs(ours - ref) / ref)
    assert worst < 0.01, worst


def test_passive_fiber_strain_matches_opensim(body):
    """A body whose quadriceps have a non-default passive fibre strain (twin.fit.calibrate_passive_knee):
    the engine's passive fibre forces equal those of the OpenSim model to_opensim builds from it."""
    import dataclasses

    quads = {"vasti_r", "vasti_l", "rect_fem_r", "rect_fem_l"}
    soft = dataclasses.replace(body, muscles=tuple(dataclasses.replace(m, passive_fiber_strain=1.6)
                                                   if m.name in quads else m for m in body.muscles))
    model = to_opensim(soft, contact=False, markers=None)
    for m in _degroote(model):
        m.set_ignore_tendon_compliance(True)
    state = model.initSystem()
    p = EngineParams.from_body(soft, contact=False, rigid_tendon=True)
    p0 = EngineParams.from_body(body, contact=False, rigid_tendon=True)
    names = list(p.coordinate_names)
    q = np.array([c.default for c in body.coordinates])
    for side in "rl":
        q[names.index(f"knee_angle_{side}")] = -1.3   # deep flexion: the quadriceps stretched
        q[names.index(f"hip_flexion_{side}")] = -0.2
    qt = torch.tensor(q, dtype=F64)[None]
    z = torch.zeros_like(qt)
    geo = path_geometry(p, kinematics(p, qt, z), qt)
    ours = mus.rigid(p, geo.length, 0.0 * geo.length, torch.zeros_like(geo.length)).passive_fiber_force[0]
    stiff = mus.rigid(p0, geo.length, 0.0 * geo.length, torch.zeros_like(geo.length)).passive_fiber_force[0]
    _set_state(model, state, names, q)
    model.realizeDynamics(state)
    for i, m in enumerate(_degroote(model)):
        ref = m.getPassiveFiberForce(state)
        assert abs(float(ours[i]) - ref) <= 1e-6 * max(1.0, abs(ref)), (m.getName(), float(ours[i]), ref)
        if m.getName() in quads:
            assert float(ours[i]) < 0.5 * float(stiff[i])   # more compliant than OpenSim's default 0.6
        else:
            assert float(ours[i]) == float(stiff[i])
