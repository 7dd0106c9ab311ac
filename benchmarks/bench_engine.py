"""Benchmark ``engine``: twin.engine against OpenSim 4 on the same body -- accuracy and speed.

Run as ``twin bench engine [--quick]`` (or ``python benchmarks/bench_engine.py``).
The last line of output is one JSON object with the figures.

Body: ``BodyParams.default(lumbar=False)`` (Gait10dof18musc: 9 dof, 18
DeGrooteFregly2016 muscles with compliant tendons and activation dynamics,
4 foot contact spheres), built for OpenSim by ``twin.model.to_opensim`` and
for the engine by ``EngineParams.from_body``.

Speed scenario ("walking-like", identical in both simulators): the pelvis
hangs in a body-weight-support harness (linear springs and dampers on
pelvis tilt/tx/ty: OpenSim ``SpringGeneralizedForce`` / engine coordinate
springs), and the 18 muscles receive a stepping-in-place excitation pattern
(1 Hz, left/right in antiphase, sampled every 5 ms and linearly
interpolated in both), so the legs swing and the feet strike the ground
every stride. OpenSim integrates it with its default Manager (Runge-Kutta-
Merson, accuracy 1e-3); the engine with semi-implicit Euler at ``DT``.
Real-time factor = simulated time / wall time. Per-core figures use one
thread (``torch.set_num_threads(1)``). The agreement of the two
trajectories is reported too.

Tendons: the speed ratio uses rigid tendons in both simulators, because
OpenSim's ``DeGrooteFregly2016Muscle`` with compliant tendons (explicit
tendon-force state) stalls its integrator within 0.1 s here (a slack muscle
makes the tendon dynamics infinitely stiff); the run is attempted and
reported. The engine's compliant-tendon speed (bounded tendon force and
fibre velocity, linearly-implicit update) and OpenSim's Millard2012 speed
are reported beside it.

Accuracy checks (as ``tests/test_engine_opensim.py``): musculotendon length
and moment arms over each joint's range; muscle force for given
activation/state (rigid and compliant tendon); passive 1 s forward
simulation of the hanging body (zero activation, no contact) from 3 states;
a rigid body dropped on its foot spheres.

On a CUDA machine the run adds the GPU figures (aggregate real time by batch up
to 262144, bytes per element, eager vs compiled, CUDA graphs, compliant
tendons); ``--gpu`` runs only those (no OpenSim needed: for a lent GPU machine).

Per-member vs shared body: every batched speed figure is measured twice, with
the body's parameters copied per batch member (``EngineParams.from_body(...,
shared=False)``; the keys without ``shared``, comparable with earlier runs) and
held once for the whole batch (``shared=True``, the default of ``from_body``
for one body repeated ``batch`` times: stride-0 views, the step reads each
parameter once; keys with ``shared``, e.g. ``cuda_realtime_factor_shared_batch262144``,
``engine_realtime_factor_per_core_shared_by_batch``). The two give the same
trajectories (``tests/test_engine_shared.py``). ``--bodies`` restricts the runs to one form.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import emit  # noqa: E402

import torch  # noqa: E402

from twin.engine import muscle as mus  # noqa: E402
from twin.engine.build import EngineParams  # noqa: E402
from twin.engine.from_model import spec_from_body_params  # noqa: E402
from twin.engine.integrate import advance  # noqa: E402
from twin.engine.multibody import kinematics  # noqa: E402
from twin.engine.path import path_geometry  # noqa: E402
from twin.engine.simulate import make_stepper  # noqa: E402
from twin.engine.step import initial_state  # noqa: E402
from twin.model import BodyParams, Joint, to_opensim  # noqa: E402

F64 = torch.float64
DT = 2e-3  # engine step of the speed runs [s] (joint-angle error ~0.3 deg RMS vs 0.25 ms on this scenario)
#: harness on the pelvis: coordinate -> (stiffness [N/m or N m/rad], rest [m or rad], damping [N s/m or N m s/rad])
HARNESS = {"pelvis_tilt": (400.0, 0.0, 80.0), "pelvis_tx": (2000.0, 0.0, 400.0), "pelvis_ty": (6000.0, 0.94, 600.0)}
#: stepping pattern: phase (fraction of the 1 s stride) of each muscle's burst on the right side
PHASE = {"hamstrings": 0.55, "bifemsh": 0.75, "glut_max": 0.6, "iliopsoas": 0.05, "rect_fem": 0.1, "vasti": 0.55,
         "gastroc": 0.35, "soleus": 0.35, "tib_ant": 0.9}
RATE = 200.0  # excitation samples per second
#: ``--bodies`` choice -> the parameter forms measured (``shared`` of ``EngineParams.from_body``)
FORMS = {"both": (False, True), "per-member": (False,), "shared": (True,)}


def _osim():
    import opensim as osim

    osim.Logger.removeFileSink()
    osim.Logger.setLevelString("error")
    return osim


def excitation_table(names, duration: float):
    """Time [s] and excitation [T, M] of the stepping pattern (0.05 baseline + squared sine bursts)."""
    t = np.arange(0.0, duration + 2.0 / RATE, 1.0 / RATE)
    e = np.zeros((len(t), len(names)))
    for i, n in enumerate(names):
        base, side = n.rsplit("_", 1)
        ph = PHASE[base] + (0.5 if side == "l" else 0.0)
        e[:, i] = 0.05 + 0.35 * np.clip(np.sin(2.0 * np.pi * (t - ph)), 0.0, None) ** 2
    return t, e


def harness_spec(body):
    spec = spec_from_body_params(body)
    co = tuple(dataclasses.replace(c, stiffness=HARNESS[c.name][0], rest=HARNESS[c.name][1],
                                   damping=HARNESS[c.name][2]) if c.name in HARNESS else c
               for c in spec.coordinates)
    return spec.replace(coordinates=co)


def opensim_walk(body, duration: float, *, muscle: str = "DeGrooteFregly2016", rigid: bool = True):
    """OpenSim forward simulation of the harness scenario; returns (wall s, time, q [T, Q], names)."""
    osim = _osim()
    model = to_opensim(body, muscle=muscle, contact=True, markers=None)
    if muscle == "DeGrooteFregly2016":
        for i in range(model.getMuscles().getSize()):
            osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get(i)).set_ignore_tendon_compliance(rigid)
    for name, (k, rest, c) in HARNESS.items():
        spring = osim.SpringGeneralizedForce(name)
        spring.setName(f"harness_{name}")
        spring.setStiffness(k)
        spring.setRestLength(rest)
        spring.setViscosity(c)
        model.addForce(spring)
    names = [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
    tt, ee = excitation_table(names, duration)
    ctrl = osim.PrescribedController()
    for i, n in enumerate(names):
        ctrl.addActuator(model.getMuscles().get(n))
        f = osim.PiecewiseLinearFunction()
        for t, v in zip(tt, ee[:, i]):
            f.addPoint(float(t), float(v))
        ctrl.prescribeControlForActuator(n, f)
    model.addController(ctrl)
    state = model.initSystem()
    for i in range(model.getMuscles().getSize()):
        model.getMuscles().get(i).setActivation(state, 0.05)
    cs = model.getCoordinateSet()
    cs.get("pelvis_ty").setValue(state, 0.94)
    model.equilibrateMuscles(state)
    manager = osim.Manager(model)
    manager.initialize(state)
    t0 = time.perf_counter()
    manager.integrate(duration)
    wall = time.perf_counter() - t0
    table = manager.getStatesTable()
    coords = [c.name for c in body.coordinates]
    times = np.array(table.getIndependentColumn())
    q = np.stack([table.getDependentColumn(cs.get(n).getAbsolutePathString() + "/value").to_numpy()
                  for n in coords], axis=1)
    return wall, times, q, coords


_STEPPERS: dict = {}


def harness_start(params):
    """The harness scenario's start state: default pose with the pelvis at 0.94 m, activations 0.05."""
    q0 = params.q_default.clone()
    q0[:, params.coordinate_names.index("pelvis_ty")] = 0.94
    return initial_state(params, q=q0, activation=0.05)


def engine_walk(params, duration: float, *, dt: float = DT, compile: bool = False, record: bool = False):
    """Engine run of the harness scenario; returns (wall s after warm-up, time, q [T, B, Q])."""
    bsz, dev, dtype = params.batch_size, params.device, params.dtype
    tt, ee = excitation_table(params.muscle_names, duration)
    n = int(round(duration / dt))
    idx = np.minimum((np.arange(n) * dt * RATE).astype(int), len(tt) - 2)
    frac = torch.tensor(np.arange(n) * dt * RATE - idx, dtype=dtype, device=dev)
    table = torch.tensor(ee, dtype=dtype, device=dev)
    state = harness_start(params)
    if compile not in _STEPPERS:
        _STEPPERS[compile] = make_stepper(compile=compile)
    stepper = _STEPPERS[compile]
    graphs = isinstance(compile, str) and "reduce-overhead" in compile
    e0 = table[0].expand(bsz, -1)
    with torch.no_grad():
        for _ in range(3):  # warm-up (and compilation)
            stepper(params, state, e0, dt, "semi_implicit_euler", None)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    qs = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(n):
            e = (table[idx[i]] * (1.0 - frac[i]) + table[idx[i] + 1] * frac[i]).expand(bsz, -1)
            if graphs:  # CUDA graphs: the last step's outputs are this step's inputs (copied in)
                torch.compiler.cudagraph_mark_step_begin()
            state, _ = stepper(params, state, e, dt, "semi_implicit_euler", None)
            if record and i % 10 == 9:
                qs.append(state.q.cpu().numpy())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    failed = int((state.failed | ~torch.isfinite(state.q).all(-1)).sum())
    times = (np.arange(len(qs)) + 1) * 10 * dt
    return wall, times, (np.array(qs) if record else None), failed


# ---------------------------------------------------------------------------- accuracy checks
def _set(model, state, names, q, qd=None):
    cs = model.getCoordinateSet()
    for i, n in enumerate(names):
        cs.get(n).setValue(state, float(q[i]), False)
        cs.get(n).setSpeedValue(state, 0.0 if qd is None else float(qd[i]))


def check_paths(body) -> float:
    osim = _osim()
    model = to_opensim(body, contact=False, markers=None)
    state = model.initSystem()
    p = EngineParams.from_body(body, contact=False)
    names = list(p.coordinate_names)
    cs = model.getCoordinateSet()
    muscles = [model.getMuscles().get(i) for i in range(model.getMuscles().getSize())]
    worst = 0.0
    for c in body.coordinates:
        if c.name.startswith("pelvis"):
            continue
        for value in np.linspace(c.range[0] - 0.3, c.range[1] + 0.3, 17):
            q = np.array([cc.default for cc in body.coordinates])
            q[names.index(c.name)] = value
            _set(model, state, names, q)
            model.realizePosition(state)
            qt = torch.tensor(q, dtype=F64)[None]
            geo = path_geometry(p, kinematics(p, qt, torch.zeros_like(qt)), qt)
            for mi, m in enumerate(muscles):
                ref = m.getLength(state)
                worst = max(worst, abs(geo.length[0, mi].item() - ref) / ref)
                for k in range(3, len(names)):
                    ma = m.computeMomentArm(state, cs.get(names[k]))
                    worst = max(worst, abs(geo.moment_arm[0, mi, k].item() - ma) / max(abs(ma), 0.005))
    del osim
    return 100.0 * worst


def check_muscles(body) -> float:
    osim = _osim()
    worst = 0.0
    for rigid in (False, True):
        model = to_opensim(body, contact=False, markers=None)
        ms_os = [osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get(i))
                 for i in range(model.getMuscles().getSize())]
        for m in ms_os:
            m.set_ignore_tendon_compliance(rigid)
        state = model.initSystem()
        p = EngineParams.from_body(body, contact=False, rigid_tendon=rigid)
        names = list(p.coordinate_names)
        rng = np.random.default_rng(11)
        for _ in range(10):
            q = np.array([c.default for c in body.coordinates])
            for i, n in enumerate(names):
                key = n.split("_")[0]
                if key in ("hip", "knee", "ankle", "lumbar"):
                    lo, hi = {"hip": (-0.3, 1.2), "knee": (-1.5, 0.0), "ankle": (-0.4, 0.3), "lumbar": (-0.3, 0.3)}[key]
                    q[i] = rng.uniform(lo, hi)
            qd = rng.normal(0.0, 1.0, len(names))
            a = rng.uniform(0.1, 1.0, p.n_muscles)
            qt, qdt = torch.tensor(q, dtype=F64)[None], torch.tensor(qd, dtype=F64)[None]
            geo = path_geometry(p, kinematics(p, qt, qdt), qt)
            speed = (geo.dldq @ qdt[..., None]).squeeze(-1)
            at = torch.tensor(a, dtype=F64)[None]
            if rigid:
                res = mus.rigid(p, geo.length, speed, at)
            else:
                ft = mus.equilibrium_tendon_force(p, geo.length, 0.0 * speed, at)
                ft = ft * torch.tensor(rng.uniform(0.5, 1.3, p.n_muscles), dtype=F64)
                res = mus.compliant(p, geo.length, speed, at, ft)
            _set(model, state, names, q, qd)
            for i, m in enumerate(ms_os):
                m.setActivation(state, float(a[i]))
                if not rigid:
                    m.setNormalizedTendonForce(state, float(ft[0, i]))
            model.realizeDynamics(state)
            for i, m in enumerate(ms_os):
                pairs = [(m.getTendonForce(state), res.tendon_force[0, i].item(), 1.0),
                         (m.getActiveFiberForce(state), res.active_fiber_force[0, i].item(), 1.0),
                         (m.getFiberLength(state), res.fiber_length[0, i].item(), 1e-3)]
                for ref, ours, floor in pairs:
                    worst = max(worst, abs(ours - ref) / max(abs(ref), floor))
    return 100.0 * worst


def check_metabolics(body) -> float:
    """Metabolic power vs OpenSim's Bhargava2004SmoothedMuscleMetabolics at random states: max error, %."""
    from twin.engine.step import dynamics

    osim = _osim()
    model = to_opensim(body, contact=False, markers=None)
    probe = osim.Bhargava2004SmoothedMuscleMetabolics()
    probe.setName("metabolics")
    probe.set_use_smoothing(True)
    for i in range(model.getMuscles().getSize()):
        m = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get(i))
        m.set_ignore_tendon_compliance(True)
        m.set_ignore_activation_dynamics(True)
        probe.addMuscle(m.getName(), m)
    model.addComponent(probe)
    state = model.initSystem()
    p = EngineParams.from_body(body, contact=False, rigid_tendon=True)
    names = list(p.coordinate_names)
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(10):
        q = np.array([c.default for c in body.coordinates])
        q[3:] = rng.uniform(-0.5, 0.5, len(names) - 3)
        qd = rng.normal(0.0, 1.5, len(names))
        a = rng.uniform(0.05, 0.95, p.n_muscles)
        _set(model, state, names, q, qd)
        model.realizeVelocity(state)
        controls = model.getControls(state)
        for i in range(p.n_muscles):
            controls.set(i, float(a[i]))
        model.setControls(state, controls)
        model.realizeDynamics(state)
        ref = probe.getTotalMetabolicRate(state)
        at = torch.tensor(a, dtype=F64)[None]
        s = initial_state(p, q=torch.tensor(q, dtype=F64)[None], qdot=torch.tensor(qd, dtype=F64)[None],
                          activation=at)
        ours = float(dynamics(p, s, at).metabolic_power[0]) + 1.2 * float(p.total_mass[0])
        worst = max(worst, abs(ours - ref) / ref)
    return 100.0 * worst


def _degroote_controlled(model, osim, activation, rigid):
    ctrl = osim.PrescribedController()
    for i in range(model.getMuscles().getSize()):
        m = osim.DeGrooteFregly2016Muscle.safeDownCast(model.getMuscles().get(i))
        m.set_ignore_tendon_compliance(rigid)
        m.set_ignore_activation_dynamics(True)
        ctrl.addActuator(m)
        ctrl.prescribeControlForActuator(m.getName(), osim.Constant(activation))
    model.addController(ctrl)


def _opensim_forward(body, q0, qd0, duration, *, contact=False):
    osim = _osim()
    model = to_opensim(body, contact=contact, markers=None)
    _degroote_controlled(model, osim, 0.0, True)
    state = model.initSystem()
    names = [c.name for c in body.coordinates]
    _set(model, state, names, q0, qd0)
    manager = osim.Manager(model)
    manager.setIntegratorAccuracy(1e-7)
    manager.initialize(state)
    manager.integrate(duration)
    table = manager.getStatesTable()
    cs = model.getCoordinateSet()
    return (np.array(table.getIndependentColumn()),
            np.stack([table.getDependentColumn(cs.get(n).getAbsolutePathString() + "/value").to_numpy()
                      for n in names], axis=1))


def check_passive(n_states: int = 3) -> float:
    body = BodyParams.default(lumbar=False, marker_sets=())
    seg = body.segments[0]
    joint = Joint(seg.joint.name, "weld", "ground", location_in_parent=(0.0, 1.2, 0.0))
    hanging = dataclasses.replace(body, segments=(dataclasses.replace(seg, joint=joint),) + body.segments[1:])
    names = [c.name for c in hanging.coordinates]
    rng = np.random.default_rng(3)
    q0 = np.zeros((n_states, len(names)))
    qd0 = rng.normal(0.0, 0.5, (n_states, len(names)))
    for i, n in enumerate(names):
        lo, hi = {"hip": (-0.2, 0.6), "knee": (-1.0, -0.1), "ankle": (-0.3, 0.2)}[n.split("_")[0]]
        q0[:, i] = rng.uniform(lo, hi, n_states)
    p = EngineParams.from_body(hanging, contact=False, rigid_tendon=True, batch=n_states)
    s = initial_state(p, q=torch.tensor(q0, dtype=F64), qdot=torch.tensor(qd0, dtype=F64), activation=0.0)
    ex = torch.zeros(n_states, p.n_muscles, dtype=F64)
    traj = [s.q.numpy()]
    for _ in range(1000):
        s, _ = advance(p, s, ex, 1e-3, integrator="rk4")
        traj.append(s.q.numpy())
    traj = np.array(traj)
    t_eng = np.arange(len(traj)) * 1e-3
    worst = 0.0
    for k in range(n_states):
        t_ref, q_ref = _opensim_forward(hanging, q0[k], qd0[k], 1.0)
        ours = np.stack([np.interp(t_ref, t_eng, traj[:, k, i]) for i in range(len(names))], axis=1)
        worst = max(worst, float(np.sqrt(np.mean((ours - q_ref) ** 2, axis=0)).max()))
    return math.degrees(worst)


def check_contact() -> float:
    from twin.engine.simulate import simulate

    body = BodyParams.default(lumbar=False, marker_sets=())
    segs = [body.segments[0]]
    for s in body.segments[1:]:
        j = s.joint
        if j.name.startswith("ankle"):
            j = dataclasses.replace(j, orientation_in_parent=(0.0, 0.0, 0.1))
        loc = list(j.location_in_parent)
        for axis, spline in ((0, j.translation_x), (1, j.translation_y)):
            if spline is not None:
                loc[axis] += float(spline(0.0))
        segs.append(dataclasses.replace(s, joint=dataclasses.replace(
            j, type="weld", coordinates=(), translation_x=None, translation_y=None, location_in_parent=tuple(loc))))
    statue = dataclasses.replace(body, segments=tuple(segs), muscles=())
    q0 = np.array([-0.1, 0.0, 0.96])
    p = EngineParams.from_body(statue)
    ds = simulate(p, None, 1.0, dt=5e-4, record_every=20, fall_height=None,
                  initial=initial_state(p, q=torch.tensor(q0, dtype=F64)[None]))
    t_ref, q_ref = _opensim_forward(statue, q0, np.zeros(3), 1.0, contact=True)
    return 1000.0 * abs(float(ds.q.isel(batch=0, time=-1).sel(coordinate="pelvis_ty")) - q_ref[-1, 2])


def check_id() -> float | None:
    """subject01 walk: engine ID on OpenSim's reference model/IK/GRF vs OpenSim's ID; worst RMS, % of peak."""
    import twin
    from twin.engine.inverse import inverse_dynamics, loads_from_recording, smooth_derivatives
    from twin.engine.osim_xml import read_osim

    env = os.environ.get("TWIN_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    base = root / "opensim-models/Pipelines/Gait10dof18musc"
    files = [base / "OutputReference/subject01.osim", base / "OutputReference/IK/subject01_walk_IK.mot",
             base / "ExperimentalData/subject01_walk_grf.mot", base / "OutputReference/ID/Results/subject01_walk_ID.sto"]
    if not all(f.exists() for f in files):
        return None
    p = EngineParams.from_body(read_osim(files[0]))
    kin, grf, ref = (twin.read(f) for f in files[1:])
    names = list(p.coordinate_names)
    t = kin.time.values
    q, qd, qdd = smooth_derivatives(t, kin.q.sel(coordinate=names).values, cutoff=6.0)
    t0 = time.perf_counter()
    tau = inverse_dynamics(p, *(torch.tensor(x) for x in (q, qd, qdd)),
                           loads=loads_from_recording(grf, t, {"right": "calcn_r", "left": "calcn_l"})).numpy()
    wall = time.perf_counter() - t0
    r = ref.moment.sel(coordinate=names).values
    pct = np.sqrt(np.mean((tau - r) ** 2, axis=0)) / np.abs(r).max(axis=0) * 100
    print(f"  inverse dynamics, subject01 walk ({len(t)} frames in {wall * 1e3:.1f} ms): worst coordinate "
          f"{names[int(np.argmax(pct))]} {pct.max():.2f} % of peak")
    return float(pct.max())


# ---------------------------------------------------------------------------- memory
def bytes_per_element(body, batch: int = 2048, *, shared: bool = False) -> float:
    """Peak resident memory growth of eager steps at ``batch`` (float32) divided by the batch: an upper bound.

    ``shared``: the body's parameters held once for the batch instead of copied per member.
    The peak is reset first where Linux allows it (``/proc/self/clear_refs``); elsewhere the
    process-wide peak (``ru_maxrss``) is used, which an earlier, larger run inflates.
    """
    import gc

    gc.collect()
    _reset_peak_rss()
    before = _rss()
    p = EngineParams.from_body(body, batch=batch, dtype=torch.float32, shared=shared)
    s = initial_state(p)
    e = torch.full((batch, p.n_muscles), 0.1)
    peak = before
    for _ in range(3):
        s, _ = advance(p, s, e, DT)
        peak = max(peak, _rss())
    return (max(_peak_rss(), peak) - before) / batch


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bytes_per_element_fresh(*, shared: bool = False) -> float:
    """:func:`bytes_per_element` of the default body in a fresh Python process (freed memory that this
    process keeps for reuse would hide the growth of a second measurement)."""
    import subprocess

    code = ("import sys, torch; sys.path.insert(0, {d!r}); torch.set_num_threads(1); import bench_engine as be; "
            "print(be.bytes_per_element(be.BodyParams.default(lumbar=False, marker_sets=()), shared={s}))"
            ).format(d=str(Path(__file__).resolve().parent), s=bool(shared))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------- main
def cuda_figures(spec, *, quick: bool, bodies: str = "both", batches: tuple | None = None,
                 extras: bool = True) -> dict:
    """Engine throughput and memory on the CUDA device (float32, rigid tendons unless named).

    Aggregate real-time factor = batch x simulated s / wall s, after warm-up and compilation;
    memory = peak CUDA allocation during the run minus what was allocated before, per element.
    Each batch runs with per-member parameter copies (keys ``cuda_realtime_factor_batch{b}``,
    ``cuda_bytes_per_element_batch{b}``) and with the body held once for the batch (keys
    ``cuda_realtime_factor_shared_batch{b}``, ``cuda_bytes_per_element_shared_batch{b}``);
    ``bodies`` ("both", "per-member", "shared") restricts that. Also: eager at one batch (what
    compilation buys), CUDA graphs (``torch.compile`` mode ``"reduce-overhead"``) at the
    smallest batch, and compliant tendons at the best batch, per-member (and compliant shared);
    ``extras=False`` leaves those out. ``batches`` overrides the default batch sizes.
    """
    sim_s = 0.2 if quick else 1.0
    out: dict = {"cuda_simulated_s": sim_s}  # per batch member and CUDA run
    batches = batches or ((4096, 16384, 65536) if quick else (4096, 16384, 65536, 262144))
    forms = FORMS[bodies]

    def run(b, *, compile=True, rigid=True, shared=False, label=""):
        label = label + (", shared body" if shared else "")
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        p = EngineParams.from_body(spec, batch=b, dtype=torch.float32, device="cuda", rigid_tendon=rigid,
                                   shared=shared)
        t0 = time.perf_counter()
        wall, _, _, failed = engine_walk(p, sim_s, compile=compile)
        agg = b * sim_s / wall
        mem = (torch.cuda.max_memory_allocated() - before) / b
        print(f"== engine on CUDA, batch {b}{label}: {agg:.0f}x real time aggregate, {wall / (sim_s / DT) * 1e3:.3f} ms "
              f"per step, {mem:.0f} bytes per element, {failed} failed (section {time.perf_counter() - t0:.0f} s "
              f"with warm-up/compilation)", flush=True)
        del p
        return agg, mem

    out_of_memory = set()
    for b in batches:
        for shared in forms:
            tag = "shared_" if shared else ""
            if shared in out_of_memory:
                continue
            try:
                agg, mem = run(b, shared=shared)
            except torch.cuda.OutOfMemoryError:
                print(f"== engine on CUDA, batch {b}{', shared body' if shared else ''}: out of memory")
                out_of_memory.add(shared)
                continue
            out[f"cuda_realtime_factor_{tag}batch{b}"] = agg
            out[f"cuda_bytes_per_element_{tag}batch{b}"] = round(mem)
    best = {}
    for shared in forms:
        prefix = "cuda_realtime_factor_shared_batch" if shared else "cuda_realtime_factor_batch"
        rates = {k: v for k, v in out.items() if k.startswith(prefix)}
        if rates:
            out["cuda_realtime_factor_shared_best" if shared else "cuda_realtime_factor_best"] = max(rates.values())
            best[shared] = int(max(rates, key=rates.get).removeprefix(prefix))
    extra = [("eager", {"compile": False, "label": ", eager"}, batches[min(1, len(batches) - 1)], forms[0]),
             ("graphs", {"compile": "reduce-overhead", "label": ", CUDA graphs"}, batches[0], forms[0])]
    extra += [("compliant", {"rigid": False, "label": ", compliant tendons"}, best[shared], shared)
              for shared in forms if shared in best]
    for kind, kw, b, shared in (extra if extras else []):
        key = f"cuda_{kind}_realtime_factor_{'shared_' if shared else ''}batch{b}"
        try:
            out[key] = run(b, shared=shared, **kw)[0]
        except Exception as err:  # report, keep the other figures
            out[key] = None
            print(f"== engine on CUDA, batch {b}{kw['label']}{', shared body' if shared else ''}: failed "
                  f"({type(err).__name__}: {str(err)[:200]})")
    out["cuda_note"] = ("float32; aggregate over the batch (one GPU); batch x simulated s / wall s after warm-up and "
                        "compilation, one torch.compile graph per batch size and body form; keys with 'shared': "
                        "one body's parameters held once for the batch (EngineParams.from_body(..., shared=True)), "
                        "without: copied per member (shared=False)")
    return out


def _batch_sizes(text: str) -> tuple:
    """``--batches``: comma-separated positive integers."""
    try:
        sizes = tuple(int(b) for b in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give batch sizes as positive integers separated by commas, "
                                         "e.g. 262144,1048576")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (under a minute plus compilation)")
    parser.add_argument("--gpu", action="store_true",
                        help="only the CUDA figures (throughput and memory by batch): for a GPU machine, needs no OpenSim")
    parser.add_argument("--bodies", choices=tuple(FORMS), default="both",
                        help="batched speed runs with the body's parameters copied per member, held once for the "
                             "batch (shared), or both (default)")
    parser.add_argument("--batches", default=None, type=_batch_sizes,
                        help="with --gpu: comma-separated batch sizes instead of the default (4096 to 262144)")
    parser.add_argument("--no-extras", action="store_true",
                        help="with --gpu: only the compiled runs by batch (no eager, CUDA-graph, compliant runs)")
    args = parser.parse_args()
    os.chdir(tempfile.mkdtemp(prefix="twin_bench_engine_"))  # OpenSim may write logs into the cwd
    quick = args.quick
    duration = 1.0 if quick else 10.0
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    cores = os.cpu_count() or 1
    figures: dict = {"quick": quick, "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({cores} cores)",
                     "engine_dt_s": DT, "simulated_s": duration,
                     "scenario": "Gait10dof18musc (9 dof, 18 DeGrooteFregly2016 muscles, 4 contact spheres) in a "
                                 "pelvis harness, stepping-in-place excitations; rigid tendons in both simulators "
                                 "for the speed ratio (OpenSim cannot integrate the compliant-tendon version)"}
    body = BodyParams.default(lumbar=False, marker_sets=())
    torch.set_num_threads(1)
    torch._dynamo.config.recompile_limit = 64  # one compiled graph per batch size and dtype
    if args.gpu:
        if not cuda:
            sys.exit("twin bench engine --gpu: no CUDA device here (torch.cuda.is_available() is False)")
        figures.pop("simulated_s")  # the CPU runs' duration; the CUDA runs report cuda_simulated_s
        figures["scenario"] = figures["scenario"].replace("rigid tendons in both simulators for the speed ratio",
                                                          "rigid tendons unless named")
        figures.update(cuda_figures(harness_spec(body), quick=quick, bodies=args.bodies, batches=args.batches,
                                    extras=not args.no_extras))
        emit(figures)
        return
    forms = FORMS[args.bodies]
    print("== memory (eager float32 step, batch 2048; upper bound)")
    for shared in forms:
        bpe = bytes_per_element_fresh(shared=shared)
        if shared:
            figures["bytes_per_batch_element_shared"] = round(bpe)
        else:
            figures["bytes_per_batch_element"] = round(bpe)
            figures["batch_4096_fits_4GB"] = bool(bpe * 4096 < 4e9)
        print(f"  {'shared body' if shared else 'per-member parameters'}: {bpe / 1024:.1f} KiB per batch element -> "
              f"batch 4096: {bpe * 4096 / 2**30:.2f} GiB")

    print(f"== OpenSim 4 forward simulation, {duration:g} s (Manager default integrator, accuracy 1e-3)")
    wall_os, t_os, q_os, coords = opensim_walk(body, duration, rigid=True)
    figures["opensim_realtime_factor"] = duration / wall_os
    print(f"  DeGrooteFregly2016, rigid tendons (the engine's model below): wall {wall_os:.2f} s -> "
          f"{duration / wall_os:.3f}x real time")
    try:
        wall_m, _, _, _ = opensim_walk(body, duration, muscle="Millard2012")
        figures["opensim_millard_realtime_factor"] = duration / wall_m
        print(f"  Millard2012 (compliant, the reference file's class): {duration / wall_m:.3f}x real time")
    except RuntimeError as err:
        figures["opensim_millard_realtime_factor"] = None
        print(f"  Millard2012: integration failed ({str(err).splitlines()[-1][:120]})")
    try:
        wall_c, _, _, _ = opensim_walk(body, min(duration, 2.0), rigid=False)
        figures["opensim_compliant_realtime_factor"] = min(duration, 2.0) / wall_c
        print(f"  DeGrooteFregly2016, compliant tendons: {min(duration, 2.0) / wall_c:.3f}x real time")
    except RuntimeError as err:
        msg = " ".join(str(err).split())
        at = msg.split("failed at time ")[-1].split()[0] if "failed at time" in msg else "?"
        figures["opensim_compliant_realtime_factor"] = None
        figures["opensim_compliant_note"] = (f"OpenSim's integrator stalls at t = {at} s (explicit tendon-force "
                                             "dynamics become infinitely stiff when a muscle goes slack)")
        print(f"  DeGrooteFregly2016, compliant tendons: integration failed at t = {at} s")

    spec = harness_spec(body)
    print(f"== engine, batch 1, float64 (dt = {DT * 1e3:g} ms), rigid tendons, eager and compiled")
    p1 = EngineParams.from_body(spec, dtype=F64, rigid_tendon=True)
    wall_e, t_e, q_e, failed = engine_walk(p1, duration, record=True)
    rt_eager = duration / wall_e
    ours = np.stack([np.interp(t_os, t_e, q_e[:, 0, i]) for i in range(len(coords))], axis=1)
    joints = [i for i, c in enumerate(coords) if not c.startswith("pelvis")]
    horizon = t_os <= min(1.0, duration)
    agree_1s = math.degrees(float(np.sqrt(np.mean((ours[horizon][:, joints] - q_os[horizon][:, joints]) ** 2,
                                                  axis=0)).max()))
    agree = math.degrees(float(np.sqrt(np.mean((ours[:, joints] - q_os[:, joints]) ** 2, axis=0)).max()))
    print(f"  eager: {rt_eager:.2f}x real time; trajectory vs OpenSim: worst joint RMS {agree_1s:.2f} deg over the "
          f"first second, {agree:.2f} deg over {duration:g} s")
    figures["engine_realtime_factor_batch1_eager"] = rt_eager
    figures["walk_agreement_rms_deg_first_1s"] = agree_1s
    figures["walk_agreement_rms_deg"] = agree
    figures["walk_agreement_note"] = ("same excitations open loop: the trajectories agree closely for about a "
                                      "second, then the stepping (foot impacts) amplifies the small integration "
                                      "differences of the two integrators")
    rt1 = rt_eager
    if not quick:  # each compilation costs ~20 s on a small CPU; --quick compiles one batch size only
        try:
            wall_c, _, _, _ = engine_walk(EngineParams.from_body(spec, dtype=torch.float32, rigid_tendon=True),
                                          duration, compile=True)
            rt1 = duration / wall_c
            print(f"  compiled float32: {rt1:.2f}x real time")
        except Exception as err:  # compile unavailable
            print(f"  compile failed ({type(err).__name__}); eager figure used")
    figures["engine_realtime_factor_batch1"] = max(rt1, rt_eager)

    per_batch: dict = {False: {}, True: {}}
    batches = (1024,) if quick else (64, 256, 1024, 4096)
    steps_s = 0.25 if quick else 1.0
    for b in batches:
        for shared in forms:
            p = EngineParams.from_body(spec, batch=b, dtype=torch.float32, rigid_tendon=True, shared=shared)
            wall, _, _, failed = engine_walk(p, steps_s, compile=True)
            agg = b * steps_s / wall
            per_batch[shared][b] = agg
            print(f"== engine, batch {b}, float32, rigid tendons, compiled, 1 thread, "
                  f"{'shared body' if shared else 'per-member parameters'}: {agg:.0f}x real time aggregate "
                  f"per core ({failed} failed members)")
    if per_batch[False]:
        best = max(per_batch[False].values())
        b = max(per_batch[False], key=per_batch[False].get)
        if quick:
            figures["engine_compliant_realtime_factor_per_core"] = None
        else:
            p = EngineParams.from_body(spec, batch=b, dtype=torch.float32, rigid_tendon=False, shared=False)
            wall, _, _, failed = engine_walk(p, steps_s, compile=True)
            figures["engine_compliant_realtime_factor_per_core"] = b * steps_s / wall
            print(f"== engine, batch {b}, compliant tendons: {b * steps_s / wall:.0f}x real time aggregate per core "
                  f"({failed} failed members)")
        figures["engine_realtime_factor_per_core"] = best
        figures["engine_realtime_factor_per_core_by_batch"] = {str(k): round(v, 1) for k, v in per_batch[False].items()}
        figures["ratio_vs_opensim"] = best / figures["opensim_realtime_factor"]
    if per_batch[True]:
        best_shared = max(per_batch[True].values())
        figures["engine_realtime_factor_per_core_shared"] = best_shared
        figures["engine_realtime_factor_per_core_shared_by_batch"] = {str(k): round(v, 1)
                                                                      for k, v in per_batch[True].items()}
        figures["ratio_vs_opensim_shared"] = best_shared / figures["opensim_realtime_factor"]
    figures["per_core_note"] = ("keys with 'shared': one body's parameters held once for the batch "
                                "(EngineParams.from_body(..., shared=True), the default for batch=); without: copied "
                                "per member (shared=False), as in earlier runs")
    if cuda:
        figures.update(cuda_figures(spec, quick=quick, bodies=args.bodies))

    print("== accuracy against OpenSim on the same body")
    figures["moment_arm_max_err_pct"] = check_paths(body)
    print(f"  musculotendon length and moment arms over each joint's range: max error "
          f"{figures['moment_arm_max_err_pct']:.2e} %")
    figures["muscle_force_max_err_pct"] = check_muscles(body)
    print(f"  muscle force (rigid and compliant tendon), fibre length: max error {figures['muscle_force_max_err_pct']:.2e} %")
    figures["metabolic_power_max_err_pct"] = check_metabolics(body)
    print(f"  metabolic power (Bhargava 2004 smoothed) vs OpenSim's probe: max error "
          f"{figures['metabolic_power_max_err_pct']:.2e} %")
    figures["passive_rms_deg"] = check_passive(2 if quick else 3)
    print(f"  passive 1 s forward simulation (hanging body, zero activation): worst joint RMS {figures['passive_rms_deg']:.3f} deg")
    figures["contact_settle_err_mm"] = check_contact()
    print(f"  body dropped on its foot spheres, height after 1 s: {figures['contact_settle_err_mm']:.3f} mm from OpenSim")
    figures["id_rms_pct_of_peak"] = check_id()
    if figures["id_rms_pct_of_peak"] is None:
        figures["id_note"] = "subject01 reference files not found under TWIN_DATA_DIR"
    else:
        figures["id_note"] = ("engine ID on OpenSim's OutputReference/subject01.osim (read by twin.engine.osim_xml), "
                              "its IK (6 Hz Butterworth, quintic spline derivatives) and GRF vs OutputReference ID")
    emit(figures)


if __name__ == "__main__":
    main()
