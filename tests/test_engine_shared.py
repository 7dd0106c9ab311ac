"""Shared-body batches (``EngineParams.from_body(..., batch=B, shared=True)``): same results as copies.

A batch of one body repeated ``B`` times holds each parameter once (stride-0
views; the step's batch-last view is ``[..., 1]`` and broadcasts against the
``[..., B]`` state). These tests check that it gives the same trajectories as
per-member copies, that the member-indexing API keeps working and that
gradients flow.
"""

from __future__ import annotations

import pytest
import torch

from twin.engine.build import SHARED_DEFAULT, EngineParams
from twin.engine.integrate import advance
from twin.engine.multibody import energy, kinematics
from twin.engine.path import path_geometry
from twin.engine.simulate import simulate
from twin.engine.spec import double_pendulum
from twin.engine.step import dynamics, initial_state, step
from twin.errors import ParameterError

F64 = torch.float64
B = 8


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def body():
    model = pytest.importorskip("twin.model")
    return model.BodyParams.default(lumbar=False, marker_sets=())


def _start(p):
    """A walking-like start: distinct poses, speeds and excitations per member (feet on the ground)."""
    g = torch.Generator().manual_seed(0)
    q = p.q_default.clone()
    names = p.coordinate_names
    q[:, names.index("pelvis_ty")] = 0.95
    for i, n in enumerate(names):
        if not n.startswith("pelvis"):
            q[:, i] += 0.15 * torch.rand(p.batch_size, generator=g, dtype=F64).to(p.dtype) - 0.075
    qd = 0.3 * torch.randn(p.batch_size, len(names), generator=g, dtype=F64).to(p.dtype)
    exc = torch.rand(p.batch_size, p.n_muscles, generator=g, dtype=F64).to(p.dtype) * 0.6
    return initial_state(p, q=q, qdot=qd, activation=0.1), exc


def _run(p, n=200, dt=1e-3, integrator="semi_implicit_euler"):
    s, exc = _start(p)
    qs, outs = [], []
    for i in range(n):
        e = exc * (0.5 + 0.5 * torch.sin(torch.tensor(i * dt * 6.0, dtype=F64))).to(p.dtype)
        s, o = advance(p, s, e, dt, integrator=integrator)
        qs.append(torch.cat([s.q, s.qdot, s.activation, s.tendon_force], 1))
        outs.append(torch.cat([o.muscle_force, o.grf.flatten(1), o.metabolic_power[:, None]], 1))
    return torch.stack(qs), torch.stack(outs)


def test_default_is_shared_and_api_shapes(body):
    p = EngineParams.from_body(body, batch=B, rigid_tendon=True)
    assert SHARED_DEFAULT and p.shared and p.batch_size == B
    assert p.fmax.shape == (B, p.n_muscles) and p.fmax.stride(0) == 0
    assert p.bl.fmax.shape == (p.n_muscles, 1) and p.bl.batch_size == B
    c = EngineParams.from_body(body, batch=B, rigid_tendon=True, shared=False)
    assert not c.shared and c.fmax.stride(0) != 0 and c.bl.fmax.shape == (p.n_muscles, B)
    assert not EngineParams.from_body(body).shared  # one member: nothing to share
    for name in ("fmax", "spline_x", "point_r", "q_lo", "total_mass", "gravity"):
        assert torch.equal(getattr(p, name), getattr(c, name))
    u = p.unshared()
    assert not u.shared and torch.equal(u.spline_y, c.spline_y) and u.spline_y.stride(0) != 0


@pytest.mark.parametrize("rigid", [True, False])
def test_shared_matches_copies_200_steps(body, rigid):
    """Shared vs repeated parameters: identical trajectories (contact, muscles, float64)."""
    p_rep = EngineParams.from_body(body, batch=B, rigid_tendon=rigid, shared=False)
    p_sh = EngineParams.from_body(body, batch=B, rigid_tendon=rigid, shared=True)
    a, oa = _run(p_rep)
    b, ob = _run(p_sh)
    assert torch.isfinite(a).all()
    grf = oa[:, :, p_rep.n_muscles:-1]
    assert grf.abs().max() > 100.0  # the feet are loaded: contact is exercised
    assert torch.equal(a, b) or torch.allclose(a, b, rtol=1e-12, atol=1e-12)
    assert torch.equal(oa, ob) or torch.allclose(oa, ob, rtol=1e-12, atol=1e-9)


def test_shared_matches_copies_rk4_and_public_functions(body):
    p_rep = EngineParams.from_body(body, batch=4, shared=False)
    p_sh = EngineParams.from_body(body, batch=4, shared=True)
    a, _ = _run(p_rep, n=20, integrator="rk4")
    b, _ = _run(p_sh, n=20, integrator="rk4")
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
    s, exc = _start(p_rep)
    for fn in (lambda p: kinematics(p, s.q, s.qdot).dfn, lambda p: kinematics(p, s.q, s.qdot).p,
               lambda p: path_geometry(p, kinematics(p, s.q, s.qdot), s.q).dldq,
               lambda p: torch.stack(energy(p, s.q, s.qdot)), lambda p: dynamics(p, s, exc).qddot,
               lambda p: initial_state(p).tendon_force):
        x, y = fn(p_rep), fn(p_sh)
        assert x.shape == y.shape and torch.allclose(x, y, rtol=1e-12, atol=1e-12)


def test_shared_float32_matches_copies(body):
    p_rep = EngineParams.from_body(body, batch=B, dtype=torch.float32, rigid_tendon=True, shared=False)
    p_sh = p_rep.select([0]).repeat(B, shared=True)
    assert p_sh.shared
    a, _ = _run(p_rep, n=100)
    b, _ = _run(p_sh, n=100)
    assert torch.allclose(a, b, rtol=1e-6, atol=1e-5)


def test_select_repeat_replace_to_on_shared(body):
    p = EngineParams.from_body(body, batch=B, rigid_tendon=True)
    for index in ([0, 3, 5], slice(2, 6), torch.tensor([True, False] * 4), torch.tensor([1, 7])):
        sub = p.select(index)
        n = sub.batch_size
        assert n == p.mass[index].shape[0] and sub.shared
        assert sub.fmax.shape == (n, p.n_muscles) and torch.equal(sub.fmax, p.fmax[index])
        assert initial_state(sub).q.shape == (n, p.n_coordinates)
    assert p.repeat(3).batch_size == 3 * B and p.repeat(3).shared
    assert p.to(dtype=torch.float32).shared and p.to(dtype=torch.float32).fmax.dtype == torch.float32
    # a per-member change: that field becomes per-member, the others stay shared
    scale = torch.linspace(0.5, 1.0, B, dtype=F64)[:, None]
    w = p.replace(fmax=p.fmax * scale)
    assert not w.shared and "fmax" not in w.shared_fields and "lopt" in w.shared_fields
    assert w.bl.fmax.shape == (p.n_muscles, B) and w.bl.lopt.shape == (p.n_muscles, 1)
    ref = EngineParams.from_body(body, batch=B, rigid_tendon=True, shared=False)
    ref = ref.replace(fmax=ref.fmax * scale)
    a, _ = _run(w, n=50)
    b, _ = _run(ref, n=50)
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(a[-1, 0], a[-1, -1])  # the members differ
    # the same change for every member keeps the field shared
    same = p.replace(fmax=p.fmax.clone() * 0.9)
    assert same.shared and torch.allclose(same.fmax, p.fmax * 0.9)
    with pytest.raises(ParameterError, match="shape"):
        p.replace(fmax=p.fmax[:2])


def test_walking_params_shared_and_same_as_copies(body, monkeypatch):
    from twin.control.sim import walking_params
    from twin.engine import build

    p = walking_params(body, batch=4, dtype=F64)
    assert p.shared  # apply_walking_limits sets the same soft limits for every member: they stay shared
    monkeypatch.setattr(build, "SHARED_DEFAULT", False)
    c = walking_params(body, batch=4, dtype=F64)
    assert not c.shared and not c.shared_fields
    for name in build._PARAM_FIELDS:
        assert torch.equal(getattr(p, name), getattr(c, name)), name
    a, _ = _run(p, n=30)
    b, _ = _run(c, n=30)
    assert torch.equal(a, b)


def test_gradients_flow_through_shared_params(body):
    """d(loss)/d(shared fmax row): equals the sum over members of the per-member gradients."""
    p = EngineParams.from_body(body, batch=3, rigid_tendon=False)
    row = p.fmax[:1].clone().requires_grad_(True)
    p_sh = p.replace(fmax=row.expand(3, -1))
    assert "fmax" in p_sh.shared_fields and p_sh.bl.fmax.shape == (p.n_muscles, 1)
    per = p.unshared().fmax.clone().requires_grad_(True)
    p_rep = p.unshared().replace(fmax=per)
    exc = torch.full((3, p.n_muscles), 0.2, dtype=F64)
    grads = []
    for pp, leaf in ((p_sh, row), (p_rep, per)):
        s = initial_state(pp)
        for _ in range(50):
            s = step(pp, s, exc, 5e-4)
        loss = s.q[:, p.coordinate_names.index("pelvis_ty")].sum() + s.tendon_force.sum()
        grads.append(torch.autograd.grad(loss, leaf)[0])
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1].sum(0, keepdim=True), rtol=1e-9, atol=1e-12)


def test_simulate_with_shared_pendulum():
    p = EngineParams.from_body(double_pendulum(), batch=3)
    assert p.shared
    ds = simulate(p, None, 0.05, dt=1e-3, record_every=10,
                  initial=initial_state(p, q=torch.tensor([[0.3, 0.0], [0.5, 0.1], [0.7, 0.2]], dtype=F64)))
    ref = simulate(p.unshared(), None, 0.05, dt=1e-3, record_every=10,
                   initial=initial_state(p, q=torch.tensor([[0.3, 0.0], [0.5, 0.1], [0.7, 0.2]], dtype=F64)))
    assert ds.sizes["batch"] == 3 and (ds.q == ref.q).all()
    assert (ds.metabolic_power == ref.metabolic_power).all()


@pytest.mark.slow
def test_compiled_shared_matches_copies(body):
    from twin.engine.simulate import make_stepper

    comp = make_stepper(compile=True)
    res = []
    for shared in (False, True):
        p = EngineParams.from_body(body, batch=4, dtype=torch.float32, rigid_tendon=True, shared=shared)
        s, exc = _start(p)
        for _ in range(20):
            s, _ = comp(p, s, exc, 1e-3, "semi_implicit_euler", 0.6)
        res.append(torch.cat([s.q, s.qdot], 1))
    assert torch.allclose(res[0], res[1], rtol=1e-5, atol=1e-4)
