"""twin.engine core: multibody (double pendulum), muscle curves, gradients, batch independence, bad input.

These tests need neither OpenSim nor reference data; the comparisons with
OpenSim on the same body are in ``test_engine_opensim.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from twin.engine import muscle as mus
from twin.engine.activation import derivative as act_derivative
from twin.engine.build import EngineParams
from twin.engine.integrate import advance
from twin.engine.multibody import energy, forward_dynamics
from twin.engine.simulate import simulate
from twin.engine.spec import double_pendulum
from twin.engine.step import guard, initial_state, step
from twin.errors import ParameterError, TwinError

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _pendulum_run(p, q0, qd0, dt, n, integrator, *, energy_every=1):
    s = initial_state(p, q=torch.tensor([q0], dtype=p.dtype), qdot=torch.tensor([qd0], dtype=p.dtype))
    ex = torch.zeros(1, 0, dtype=p.dtype)
    qs, es = [s.q[0].clone()], [sum(energy(p, s.q, s.qdot)).item()]
    for i in range(n):
        s, _ = advance(p, s, ex, dt, integrator=integrator)
        qs.append(s.q[0].clone())
        if (i + 1) % energy_every == 0:
            es.append(sum(energy(p, s.q, s.qdot)).item())
    return torch.stack(qs).numpy(), np.array(es)


def test_double_pendulum_energy_conserved_10s():
    """Zero damping, 10 s: RK4 conserves the energy to 1e-8; symplectic Euler keeps it in a band (no blow-up)."""
    p = EngineParams.from_body(double_pendulum())
    _, e = _pendulum_run(p, [1.0, -0.5], [0.0, 0.0], 2e-3, 5_000, "rk4", energy_every=100)
    assert np.max(np.abs(e - e[0])) < 1e-8 * abs(e[0])
    _, e = _pendulum_run(p, [1.0, -0.5], [0.0, 0.0], 1e-3, 10_000, "semi_implicit_euler", energy_every=100)
    assert np.max(np.abs(e - e[0])) < 0.01 * abs(e[0])


def test_double_pendulum_damping_dissipates():
    damped = EngineParams.from_body(double_pendulum(damping=0.5))
    _, ed = _pendulum_run(damped, [1.0, -0.5], [0.0, 0.0], 2e-3, 500, "rk4")
    assert np.all(np.diff(ed) <= 1e-9) and ed[-1] < ed[0] - 0.1


def _lagrange_rhs(m1, m2, l1, l2, g):
    c1, c2 = l1 / 2, l2 / 2
    i1, i2 = m1 * l1 ** 2 / 12, m2 * l2 ** 2 / 12

    def rhs(_t, y):
        # absolute angles from the downward vertical (independent derivation of the Lagrangian EOM)
        p1, p2, w1, w2 = y
        m11 = m1 * c1 ** 2 + i1 + m2 * l1 ** 2
        m12 = m2 * l1 * c2 * math.cos(p1 - p2)
        m22 = m2 * c2 ** 2 + i2
        f1 = -m2 * l1 * c2 * math.sin(p1 - p2) * w2 ** 2 - (m1 * c1 + m2 * l1) * g * math.sin(p1)
        f2 = m2 * l1 * c2 * math.sin(p1 - p2) * w1 ** 2 - m2 * c2 * g * math.sin(p2)
        a1, a2 = np.linalg.solve([[m11, m12], [m12, m22]], [f1, f2])
        return [w1, w2, a1, a2]

    return rhs


def test_double_pendulum_matches_scipy_lagrangian():
    m1, m2, l1, l2 = 1.3, 0.7, 0.9, 0.6
    p = EngineParams.from_body(double_pendulum(m1=m1, m2=m2, l1=l1, l2=l2))
    q0, qd0 = [0.6, -0.4], [0.3, -0.2]
    qs, _ = _pendulum_run(p, q0, qd0, 2e-3, 1000, "rk4")
    t = np.arange(1001) * 2e-3
    y0 = [q0[0], q0[0] + q0[1], qd0[0], qd0[0] + qd0[1]]
    ref = solve_ivp(_lagrange_rhs(m1, m2, l1, l2, 9.80665), (0, t[-1]), y0, t_eval=t, rtol=1e-11, atol=1e-12)
    ours_abs = np.stack([qs[:, 0], qs[:, 0] + qs[:, 1]], 1)
    assert np.max(np.abs(ours_abs - ref.y[:2].T)) < 1e-6


def test_batched_bodies_differ_and_match_single():
    """Each batch member may be a different body; results equal those of single-member batches."""
    specs = [double_pendulum(m1=1.0), double_pendulum(m1=3.0, l2=0.5)]
    pb = EngineParams.from_body(specs)
    q = torch.tensor([[0.4, 0.1], [0.4, 0.1]], dtype=F64)
    qd = torch.zeros_like(q)
    both = forward_dynamics(pb, q, qd, torch.zeros_like(q))
    for i, s in enumerate(specs):
        one = forward_dynamics(EngineParams.from_body(s), q[i:i + 1], qd[i:i + 1], torch.zeros_like(q[:1]))
        assert torch.allclose(both[i], one[0], atol=1e-12)
    assert not torch.allclose(both[0], both[1])


# ---------------------------------------------------------------------------- muscle curves
def _t(x):
    return torch.as_tensor(x, dtype=F64)


def test_muscle_curve_key_points():
    """Published key points of the De Groote-Fregly 2016 curves (OpenSim's constants)."""
    assert mus.active_force_length(_t(1.0)).item() == pytest.approx(1.0, abs=1e-12)
    assert mus.force_velocity(_t(0.0)).item() == pytest.approx(1.0, abs=1e-12)
    assert mus.force_velocity(_t(-1.0)).item() == pytest.approx(0.0, abs=1e-12)
    assert mus.force_velocity(_t(1.0)).item() == pytest.approx(1.794, abs=1e-3)  # eccentric plateau ~1.79
    kT = mus.kT_from_strain(0.049)
    assert kT == pytest.approx(math.log(6.0) / 0.049)
    assert mus.tendon_force_length(_t(1.049), kT).item() == pytest.approx(1.0, abs=1e-12)
    assert mus.tendon_force_length(_t(1.0), kT).item() == pytest.approx(0.0, abs=1e-12)
    assert mus.passive_force_length(_t(1.6)).item() == pytest.approx(1.0, abs=1e-12)
    assert mus.passive_force_length(_t(0.2)).item() == pytest.approx(0.0, abs=1e-12)
    # shape: peak of the active curve at 1, about half force near 0.6 and 1.45
    x = torch.linspace(0.4, 1.8, 1401, dtype=F64)
    fl = mus.active_force_length(x)
    assert abs(x[torch.argmax(fl)].item() - 1.0) < 0.02
    v = torch.linspace(-1, 1, 41, dtype=F64)
    assert torch.allclose(mus.force_velocity_inverse(mus.force_velocity(v)), v, atol=1e-10)
    assert torch.all(torch.diff(mus.force_velocity(v)) > 0)
    f = torch.linspace(0.0, 2.0, 21, dtype=F64)
    assert torch.allclose(mus.tendon_force_length(mus.tendon_length_from_force(f, kT), kT), f, atol=1e-12)


def test_activation_dynamics_rise_and_decay():
    ta, td = _t(0.015), _t(0.06)
    up = act_derivative(_t(0.0), _t(1.0), ta, td).item()
    down = act_derivative(_t(1.0), _t(0.0), ta, td).item()
    assert up > 0 > down and up > -down  # activation faster than deactivation
    assert act_derivative(_t(0.3), _t(0.3), ta, td).item() == 0.0


# ---------------------------------------------------------------------------- gait body
@pytest.fixture(scope="module")
def body():
    model = pytest.importorskip("twin.model")
    return model.BodyParams.default(lumbar=False, marker_sets=())


def test_gradients_through_100_steps_finite(body):
    """d(final pelvis height)/d(excitation, max isometric force) through 100 steps with contact: finite."""
    p = EngineParams.from_body(body, batch=2, rigid_tendon=False)
    s = initial_state(p)
    exc = torch.full((2, p.n_muscles), 0.2, dtype=F64, requires_grad=True)
    fmax = p.fmax.clone().requires_grad_(True)
    p2 = p.replace(fmax=fmax)  # keeps the autograd graph to fmax
    for _ in range(100):
        s = step(p2, s, exc, 5e-4)
    loss = s.q[:, p.coordinate_names.index("pelvis_ty")].sum() + s.tendon_force.sum()
    g_exc, g_f = torch.autograd.grad(loss, (exc, fmax))
    assert torch.isfinite(g_exc).all() and torch.isfinite(g_f).all()
    assert g_exc.abs().sum() > 0 and g_f.abs().sum() > 0


def test_nan_member_does_not_poison_batch(body):
    p = EngineParams.from_body(body, batch=3, rigid_tendon=True)
    s0 = initial_state(p)
    bad_qdot = s0.qdot.clone()
    bad_qdot[1, 3] = float("nan")
    s_bad = s0.replace(qdot=bad_qdot)
    ex = torch.full((3, p.n_muscles), 0.1, dtype=F64)
    a, b = s0, s_bad
    for _ in range(20):
        a = guard(p, a, step(p, a, ex, 1e-3))
        b = guard(p, b, step(p, b, ex, 1e-3))
    assert b.failed.tolist() == [False, True, False]
    assert torch.equal(a.q[[0, 2]], b.q[[0, 2]]) and torch.equal(a.qdot[[0, 2]], b.qdot[[0, 2]])
    assert torch.isfinite(b.q).all()  # the failed member is frozen at its last finite state


def test_simulate_dataset_flags_and_shapes(body):
    p = EngineParams.from_body(body, batch=2, rigid_tendon=True)
    s = initial_state(p)
    q = s.q.clone()
    q[1, 0] = float("inf")  # member 1 is broken from the start
    ds = simulate(p, lambda state, t: 0.1, 0.05, dt=1e-3, record_every=5, initial=s.replace(q=q))
    assert ds.q.dims == ("batch", "time", "coordinate") and ds.sizes["time"] == 10
    assert ds.grf.dims == ("batch", "time", "side", "axis") and list(ds.side.values) == ["right", "left"]
    assert ds.failed.values.tolist() == [False, True]
    assert np.isfinite(ds.q.isel(batch=0)).all()
    for v in ("q", "qdot", "grf", "activation", "muscle_force", "fiber_length", "metabolic_power"):
        assert "units" in ds[v].attrs
    assert float(ds.metabolic_power.isel(batch=0, time=-1)) > 1.2 * float(p.total_mass[0])  # basal + muscles
    assert ds.attrs["metabolic_model"].startswith("Bhargava")


def statue_of(body, *, ankle: float = 0.1):
    """The body with every joint but the root welded: default pose (knee spline offsets kept), ankles
    dorsiflexed by ``ankle`` rad so that, feet flat, the centre of mass lies over the feet."""
    import dataclasses

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


def test_standing_statue_carries_body_weight(body):
    """All joints welded: dropped 1 cm onto its four foot spheres, the body settles and the GRF equals its weight."""
    statue = statue_of(body)
    p = EngineParams.from_body(statue)
    s0 = initial_state(p, q=torch.tensor([[-0.1, 0.0, 0.96]], dtype=F64))  # leaning forward, feet flat
    ds = simulate(p, None, 1.5, dt=5e-4, record_every=100, fall_height=None, initial=s0)
    weight = statue.mass * statue.gravity
    total = ds.grf.isel(batch=0, time=-1).sum("side").values
    assert total[1] == pytest.approx(weight, rel=0.01)
    assert abs(total[0]) < 0.01 * weight
    # settled: the smooth (regularised) friction lets the statue creep by a few mm/s, as in OpenSim
    assert abs(float(ds.qdot.isel(batch=0, time=-1).sel(coordinate="pelvis_ty"))) < 1e-2


def test_float32_and_float64(body):
    for dtype in (torch.float32, torch.float64):
        ds = simulate(body, lambda s, t: 0.05, 0.02, dt=1e-3, dtype=dtype, record_every=10)
        assert ds.attrs["dtype"] == str(dtype).replace("torch.", "")
        assert np.isfinite(ds.q).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(body):
    cpu = simulate(body, lambda s, t: 0.1, 0.05, dt=5e-4, dtype=torch.float64)
    gpu = simulate(body, lambda s, t: 0.1, 0.05, dt=5e-4, dtype=torch.float64, device="cuda")
    np.testing.assert_allclose(gpu.q.values, cpu.q.values, atol=1e-9)


# ---------------------------------------------------------------------------- bad input
def test_bad_bodies_rejected_naming_the_parameter(body):
    import dataclasses

    with pytest.raises(ParameterError, match=r"bodies\['link2'\]\.mass"):
        EngineParams.from_body(double_pendulum(m2=-2.0))
    spec = EngineParams  # noqa: F841
    from twin.engine.from_model import spec_from_body_params

    s = spec_from_body_params(body)
    bad = s.replace(muscles=(dataclasses.replace(s.muscles[0], optimal_fiber_length=0.0),) + s.muscles[1:])
    with pytest.raises(TwinError, match=r"muscles\['hamstrings_r'\]\.optimal_fiber_length"):
        EngineParams.from_body(bad)
    with pytest.raises(ParameterError, match="different structure"):
        EngineParams.from_body([s, s.replace(muscles=s.muscles[1:])])
    with pytest.raises(ParameterError, match="dtype"):
        EngineParams.from_body(s, dtype=torch.int32)
    with pytest.raises(ParameterError, match="BodyParams or twin.engine.ModelSpec"):
        EngineParams.from_body("gait10dof18musc")
    with pytest.raises(ParameterError, match="integrator"):
        simulate(double_pendulum(), None, 0.01, integrator="euler")


@pytest.mark.slow
def test_compiled_step_matches_eager(body):
    from twin.engine.simulate import make_stepper

    p = EngineParams.from_body(body, batch=4, dtype=torch.float32, rigid_tendon=True)
    s = initial_state(p)
    ex = torch.full((4, p.n_muscles), 0.2)
    eager = make_stepper(compile=False)
    comp = make_stepper(compile=True)
    a, _ = eager(p, s, ex, 1e-3, "semi_implicit_euler", 0.6)
    b, _ = comp(p, s, ex, 1e-3, "semi_implicit_euler", 0.6)
    assert torch.allclose(a.q, b.q, atol=1e-5) and torch.allclose(a.qdot, b.qdot, atol=1e-3)
