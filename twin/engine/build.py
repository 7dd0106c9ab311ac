"""Turn a batch of bodies into the engine's tensors, once, with physics checks.

:class:`EngineParams` holds every parameter the step function reads. It is
built once per batch by :meth:`EngineParams.from_body`, which validates the
physics (positive masses, fibre lengths, ...) and raises
:class:`~twin.errors.ParameterError` naming the offending parameter; nothing
is checked inside the step loop.

Build steps: validate each body; merge every body welded to its parent
(e.g. calcaneus and toes into the talus) into one rigid composite (mass,
centre of mass and inertia combined, points re-expressed), which does not
change the dynamics but shrinks every per-body tensor; lay out the
structure; stack the parameters of the batch.

Two kinds of fields:

* **structure** (topology: which body a point is on, which coordinate a
  function reads, chain masks) -- identical for every batch member by
  construction (a batch shares one model structure), stored without a batch
  dim, as Python tuples or tensors of 0/1 and indices;
* **parameters** (everything physical: masses, lengths, forces, spline
  values, contact constants) -- leading batch dim ``B``, so every member may
  be a different body or scenario.

A batch of one body repeated ``B`` times (a CMA-ES population on one body,
the speed benchmark) is *shared* by default: each parameter tensor is a
stride-0 view (``expand``) of the body's single row, so its shape is still
``[B, ...]`` (indexing, :meth:`EngineParams.select`, :meth:`~EngineParams.replace`
... behave as for copies) but no per-member copy exists, and the step's
batch-last view holds ``[..., 1]`` tensors that broadcast against the
``[..., B]`` state. A step therefore reads each parameter once instead of
``B`` times (the step is memory-bound at large batch). Results are the same
as with per-member copies (elementwise operations broadcast exactly; checked
in ``tests/test_engine_shared.py``). A field replaced by per-member values
becomes an ordinary ``[B, ...]`` tensor; the others stay shared.

Shapes use ``B`` batch, ``N`` (merged) bodies, ``Q`` coordinates, ``F``
coordinate functions (joint translations, moving path point components),
``S`` splines, ``K`` spline knots, ``P`` path points, ``G`` path segments,
``M`` muscles, ``C`` contact spheres, ``H`` contact groups (e.g. feet).

Examples
--------
>>> from twin.engine.spec import double_pendulum
>>> p = EngineParams.from_body(double_pendulum(), batch=3)
>>> tuple(p.mass.shape), p.coordinate_names
((3, 2), ('q1', 'q2'))
>>> p.shared, tuple(p.bl.mass.shape)      # one body held once; the step's view broadcasts
(True, (2, 1))
>>> c = EngineParams.from_body(double_pendulum(), batch=3, shared=False)
>>> c.shared, tuple(c.bl.mass.shape), bool((c.mass == p.mass).all())
(False, (2, 3), True)
>>> from twin.errors import ParameterError
>>> bad = double_pendulum(m1=-1.0)
>>> try:
...     EngineParams.from_body(bad)
... except ParameterError as err:
...     print(err)
bodies['link1'].mass=-1.0 must be > 0 (kg); fix the body parameter
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from ..errors import ParameterError
from . import spline as _spline
from .spec import BodySpec, ContactSpec, Func1D, JointSpec, ModelSpec, PathPointSpec

__all__ = ["EngineParams", "SHARED_DEFAULT", "as_spec", "merge_welded"]

RHO_MUSCLE = 1059.7  # kg/m^3, muscle density (as OpenSim's metabolics probes)
SIGMA_MUSCLE = 0.25e6  # Pa, specific tension used for muscle mass (OpenSim's default)


def _tensor(x, dtype, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype, device=device)


def _index(x, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.int64), dtype=torch.long, device=device)


@dataclass(frozen=True)
class EngineParams:
    """All parameters of a batch of planar musculoskeletal bodies, as tensors.

    Structure (no batch dim)
    ------------------------
    coordinate_names, body_names, muscle_names, contact_names, contact_group_names : tuple of str
        ``body_names`` after merging welded bodies.
    rotational : tuple of bool
        Per coordinate: angle (rad) or translation (m).
    root_height_coordinate : int
        Index of the coordinate that is the root body's vertical translation
        (-1 when the root is not a floating base); used for the fall check.
    rigid_tendon : bool
        Rigid tendons (no tendon state) instead of compliant ones.
    body_aliases : tuple of (str, str)
        Bodies merged into a welded parent, and that parent.
    anc : Tensor [N, N]
        ``anc[b, j] = 1`` if body ``j``'s joint lies on the chain from ground to ``b``.
    chain : Tensor [N, Q]
        1 if coordinate ``k`` moves body ``b`` (its joint is on ``b``'s chain).
    slope : Tensor [Q]
        d(joint rotation)/dq of each coordinate's joint (0 for translations).
    rot, par_rot : Tensor [N, Q]
        d(angle of body b)/dq and d(angle of b's parent)/dq (constants: rotations are linear).
    owner : Tensor [Q, N]
        One-hot: the joint (indexed by its child body) each coordinate belongs to.
    tx_sel, ty_sel : Tensor [N, Q]
        One-hot: the coordinate each joint translation function reads.
    fn_coord : Tensor [F] long
        Coordinate read by each function (joint X/Y translations, then moving-point x/y/z).
    joint_tx_fn, joint_ty_fn : Tensor [N] long
    spline_fn, spline_coord : Tensor [S] long
        Function slot and coordinate of each cubic spline.
    point_body : Tensor [P] long
    moving_point : Tensor [Pm] long ; moving_fn : Tensor [Pm, 3] long ; moving_coord : Tensor [Pm] long
    cond_coord : Tensor [P] long ; is_cond : Tensor [P] bool
    seg_i, seg_j : Tensor [G] long
        End points of candidate path segments.
    seg_sign : Tensor [G, Q]
        ``chain[body_j] - chain[body_i]``: which coordinates a segment crosses.
    seg_between : Tensor [G, P]
        1 where a conditional point lies strictly between a segment's ends.
    seg_muscle : Tensor [G] long
        Muscle of each segment.
    seg_moving_i, seg_moving_j : Tensor [G, Q]
        One-hot coordinate of a moving start/end point (0 rows otherwise).
    contact_body : Tensor [C] long ; contact_group : Tensor [H, C]

    Parameters (leading batch dim B)
    --------------------------------
    Each may be a stride-0 view of one row (a *shared* field: every member
    has the same value; see :attr:`shared_fields`).

    theta0, theta0_par : [B, N] rad
        Constant angle offsets of each body and of its parent.
    joint_a : [B, N, 2] m
        Parent offset frame origin (location in parent, x-y).
    joint_cphi, joint_sphi : [B, N] 1
        cos/sin of the parent offset frame rotation.
    joint_b : [B, N, 2] m
        Child offset frame origin (location in child, x-y).
    body_z : [B, N] m
        Z of each body origin (constant in a planar model).
    mass : [B, N] kg ; com : [B, N, 2] m ; inertia : [B, N] kg m^2 (about the COM, Z axis)
    fn_slope, fn_intercept : [B, F]
        Linear part of each function (m per unit of the coordinate, m).
    fn_lo, fn_hi : [B, F]
        The coordinate is clamped to this interval before evaluating the
        function: the coordinate's range for moving path points (as OpenSim's
        ``MovingPathPoint`` does), unbounded for joint translations.
    spline_x, spline_y, spline_b, spline_c, spline_d : [B, S, K]
        SimmSpline knots (rad or m) and coefficients (m per unit^k).
    spline_x_last, spline_y_last, spline_b_last : [B, S]
    point_r : [B, P, 3] m
        Path point locations in their body frames (0 for moving points).
    cond_lo, cond_hi : [B, P] rad or m
        Active range of conditional points.
    fmax : [B, M] N ; lopt : [B, M] m ; lts : [B, M] m ; width : [B, M] m (lopt sin(pennation))
    vmax : [B, M] m/s (max contraction velocity x lopt)
    tau_act, tau_deact : [B, M] s ; kT : [B, M] 1 (tendon exponential shape)
    e0 : [B, M] 1 (passive fibre strain at one norm force) ; fiber_damping : [B, M] 1
    slow_twitch : [B, M] 1 ; muscle_mass : [B, M] kg
    contact_r : [B, C, 3] m ; contact_radius : [B, C] m ; contact_stiffness : [B, C] N/m^2
    contact_dissipation : [B, C] s/m ; mu_s, mu_d : [B, C] 1 ; mu_v : [B, C] s/m
    v_trans : [B, C] m/s ; contact_cf : [B, C] ; contact_bd : [B, C] 1/m ; contact_bv : [B, C] s/m
    q_lo, q_hi, q_default : [B, Q] rad or m
        Coordinate ranges and default values.
    limit_k : [B, Q] N m ; limit_sharp : [B, Q] 1/rad
    joint_damping : [B, Q] N m s/rad
    spring_k : [B, Q] N m/rad ; spring_rest : [B, Q] rad (linear coordinate springs)
    gravity : [B, 2] m/s^2 ; total_mass : [B] kg
    """

    # structure
    coordinate_names: tuple
    body_names: tuple
    muscle_names: tuple
    contact_names: tuple
    contact_group_names: tuple
    rotational: tuple
    root_height_coordinate: int
    rigid_tendon: bool
    body_aliases: tuple
    anc: torch.Tensor
    chain: torch.Tensor
    slope: torch.Tensor
    rot: torch.Tensor
    par_rot: torch.Tensor
    owner: torch.Tensor
    tx_sel: torch.Tensor
    ty_sel: torch.Tensor
    fn_coord: torch.Tensor
    joint_tx_fn: torch.Tensor
    joint_ty_fn: torch.Tensor
    spline_fn: torch.Tensor
    spline_coord: torch.Tensor
    point_body: torch.Tensor
    moving_point: torch.Tensor
    moving_fn: torch.Tensor
    moving_coord: torch.Tensor
    cond_coord: torch.Tensor
    is_cond: torch.Tensor
    seg_i: torch.Tensor
    seg_j: torch.Tensor
    seg_sign: torch.Tensor
    seg_between: torch.Tensor
    seg_muscle: torch.Tensor
    seg_moving_i: torch.Tensor
    seg_moving_j: torch.Tensor
    contact_body: torch.Tensor
    contact_group: torch.Tensor
    # parameters
    theta0: torch.Tensor
    theta0_par: torch.Tensor
    joint_a: torch.Tensor
    joint_cphi: torch.Tensor
    joint_sphi: torch.Tensor
    joint_b: torch.Tensor
    body_z: torch.Tensor
    mass: torch.Tensor
    com: torch.Tensor
    inertia: torch.Tensor
    fn_slope: torch.Tensor
    fn_intercept: torch.Tensor
    fn_lo: torch.Tensor
    fn_hi: torch.Tensor
    spline_f_lo: torch.Tensor
    spline_f_hi: torch.Tensor
    spline_x: torch.Tensor
    spline_y: torch.Tensor
    spline_b: torch.Tensor
    spline_c: torch.Tensor
    spline_d: torch.Tensor
    spline_x_last: torch.Tensor
    spline_y_last: torch.Tensor
    spline_b_last: torch.Tensor
    point_r: torch.Tensor
    cond_lo: torch.Tensor
    cond_hi: torch.Tensor
    fmax: torch.Tensor
    lopt: torch.Tensor
    lts: torch.Tensor
    width: torch.Tensor
    vmax: torch.Tensor
    tau_act: torch.Tensor
    tau_deact: torch.Tensor
    kT: torch.Tensor
    e0: torch.Tensor
    fiber_damping: torch.Tensor
    slow_twitch: torch.Tensor
    muscle_mass: torch.Tensor
    contact_r: torch.Tensor
    contact_radius: torch.Tensor
    contact_stiffness: torch.Tensor
    contact_dissipation: torch.Tensor
    mu_s: torch.Tensor
    mu_d: torch.Tensor
    mu_v: torch.Tensor
    v_trans: torch.Tensor
    contact_cf: torch.Tensor
    contact_bd: torch.Tensor
    contact_bv: torch.Tensor
    q_lo: torch.Tensor
    q_hi: torch.Tensor
    q_default: torch.Tensor
    limit_k: torch.Tensor
    limit_sharp: torch.Tensor
    joint_damping: torch.Tensor
    spring_k: torch.Tensor
    spring_rest: torch.Tensor
    gravity: torch.Tensor
    total_mass: torch.Tensor

    def __post_init__(self) -> None:
        # the step works internally with the batch as the *last* dim (contiguous), which lets
        # compiled CPU kernels vectorise over the batch; build that view once here
        object.__setattr__(self, "bl", BatchLast(self))

    # ------------------------------------------------------------------ views
    @property
    def batch_size(self) -> int:
        """Number of batch members ``B``."""
        return int(self.mass.shape[0])

    def body_index(self, name: str) -> int:
        """Index of a body (or of the body a welded body was merged into) in ``body_names``."""
        name = dict(self.body_aliases).get(name, name)
        if name not in self.body_names:
            raise ParameterError(f"body {name!r} is not in the model; bodies are {self.body_names}")
        return self.body_names.index(name)

    @property
    def n_coordinates(self) -> int:
        return len(self.coordinate_names)

    @property
    def n_muscles(self) -> int:
        return len(self.muscle_names)

    @property
    def n_splines(self) -> int:
        return int(self.spline_fn.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.mass.dtype

    @property
    def device(self) -> torch.device:
        return self.mass.device

    @property
    def shared_fields(self) -> frozenset:
        """Names of the parameter fields held once for the whole batch (stride-0 views of one row).

        Empty for a batch of one member (nothing to share) and for fully
        per-member batches; fields without elements (e.g. ``fmax`` of a
        model without muscles) are never listed.
        """
        return frozenset(name for name in _PARAM_FIELDS if _is_shared(getattr(self, name)))

    @property
    def shared(self) -> bool:
        """True if the batch has several members and every parameter field (with elements) is shared."""
        return self.batch_size > 1 and all(_is_shared(getattr(self, name)) or getattr(self, name).numel() == 0
                                           for name in _PARAM_FIELDS)

    def _map(self, fn_param, fn_struct) -> EngineParams:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                out[f.name] = fn_param(v) if f.name in _PARAM_FIELDS else fn_struct(v)
            else:
                out[f.name] = v
        return EngineParams(**out)

    def to(self, device=None, dtype=None) -> EngineParams:
        """Move to a device and/or floating dtype (index tensors keep their dtype)."""

        def conv(v):
            if v.is_floating_point():
                return v.to(device=device, dtype=dtype)
            return v.to(device=device)

        def conv_param(v):  # a shared field stays a view of one (converted) row
            return conv(v[:1]).expand(v.shape) if _is_shared(v) else conv(v)

        return self._map(conv_param, conv)

    def select(self, index) -> EngineParams:
        """Batch members ``index`` (int sequence, slice or bool/long tensor).

        Shared fields stay shared (views of their one row).
        """
        rows = torch.arange(self.batch_size)[index.cpu() if isinstance(index, torch.Tensor) else index]
        if rows.dim() != 1:  # a single int: as plain indexing (drops the batch dim)
            return self._map(lambda v: v[index], lambda v: v)
        n = int(rows.shape[0])

        def sel(v):
            return v[:1].expand((n,) + tuple(v.shape[1:])) if _is_shared(v) and n > 0 else v[index]

        return self._map(sel, lambda v: v)

    def repeat(self, n: int, *, shared: bool | None = None) -> EngineParams:
        """Each batch member repeated ``n`` times (as ``repeat_interleave``).

        Parameters
        ----------
        n : int
        shared : bool, optional, keyword-only
            For a batch of one member: True gives stride-0 views of its
            tensors (no copies; see the module docstring), False copies.
            Default: :data:`SHARED_DEFAULT`. Fields that are already shared
            stay shared either way.
        """
        if shared is None:
            shared = SHARED_DEFAULT
        one = self.batch_size == 1 and bool(shared)

        def rep(v):
            if one or _is_shared(v):
                return v[:1].expand((v.shape[0] * n,) + tuple(v.shape[1:]))
            return v.repeat_interleave(n, dim=0)

        return self._map(rep, lambda v: v)

    def unshared(self) -> EngineParams:
        """A copy in which every parameter field is an ordinary per-member tensor (shared fields materialised)."""
        return self._map(lambda v: v.contiguous() if _is_shared(v) else v, lambda v: v)

    def with_options(self, *, rigid_tendon: bool | None = None) -> EngineParams:
        """A copy with modelling options changed (``rigid_tendon``)."""
        changes = {}
        if rigid_tendon is not None:
            changes["rigid_tendon"] = bool(rigid_tendon)
        return replace(self, **changes)

    def replace(self, **changes) -> EngineParams:
        """A copy with parameter fields replaced (e.g. a scaled ``fmax`` for a weakness scenario).

        Values are checked for shape and finiteness; tensors keep their
        autograd graph (so gradients with respect to parameters work). A
        shared field replaced by a value that needs no gradient and has the
        same row for every member stays shared (a view of that row).
        """
        for name, value in changes.items():
            if name in _PARAM_FIELDS:
                old = getattr(self, name)
                value = torch.as_tensor(value, dtype=old.dtype, device=old.device)
                if value.shape != old.shape:
                    raise ParameterError(f"replace(): {name} must have shape {tuple(old.shape)}, got {tuple(value.shape)}")
                if not bool(torch.isfinite(value.detach()).all()):
                    raise ParameterError(f"replace(): {name} has non-finite values")
                if (_is_shared(old) and not _is_shared(value) and not value.requires_grad and value.numel()
                        and bool((value == value[:1]).all())):
                    value = value[:1].clone().expand(value.shape)
                changes[name] = value
        return replace(self, **changes)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_body(cls, bodies: Any, *, batch: int | None = None, dtype: torch.dtype = torch.float64,
                  device: str | torch.device = "cpu", rigid_tendon: bool = False,
                  contact: bool = True, shared: bool | None = None) -> EngineParams:
        """Build the tensors of a batch of bodies, validating them.

        Parameters
        ----------
        bodies : ModelSpec, BodyParams, or a sequence of them
            One body per batch member (all with the same structure: the
            same bodies, joints, coordinates, muscles and path points, in the
            same order), or one body repeated ``batch`` times.
        batch : int, optional
            Repeat a single body this many times.
        dtype : torch.dtype, keyword-only
            ``torch.float32`` or ``torch.float64``.
        device : str or torch.device, keyword-only
        rigid_tendon : bool, keyword-only
            Rigid tendons instead of compliant ones.
        contact : bool, keyword-only
            Keep the contact spheres (False drops them, as
            ``twin.model.to_opensim(..., contact=False)``).
        shared : bool, optional, keyword-only
            With ``batch``: True holds the body's parameters once, as
            stride-0 views (see the module docstring; same results, less
            memory traffic per step), False copies them per member.
            Default: :data:`SHARED_DEFAULT`.

        Returns
        -------
        EngineParams

        Raises
        ------
        ParameterError
            Non-physical or inconsistent parameters, naming the parameter.
        """
        if dtype not in (torch.float32, torch.float64):
            raise ParameterError(f"dtype={dtype} is not supported; use torch.float32 or torch.float64")
        if isinstance(bodies, (list, tuple)):
            specs = [as_spec(b) for b in bodies]
        else:
            specs = [as_spec(bodies)]
        if not specs:
            raise ParameterError("from_body(): no body given; pass one body or a non-empty list")
        if not contact:
            specs = [s.replace(contacts=()) for s in specs]
        if batch is not None:
            if not isinstance(batch, int) or batch < 1:
                raise ParameterError(f"batch={batch!r} must be a positive int")
            if len(specs) != 1:
                raise ParameterError("batch= repeats one body; pass a single body, or a list without batch=")
        for i, s in enumerate(specs):
            if i:
                _check_same_structure(specs[0], s, i)
            _validate(s)
        aliases: dict = {}
        specs = [merge_welded(s, aliases=aliases if i == 0 else None) for i, s in enumerate(specs)]
        structure = _structure(specs[0])
        arrays = [_parameters(s, structure) for s in specs]
        stacked = {k: np.stack([a[k] for a in arrays]) for k in arrays[0]}
        dev = torch.device(device)
        kwargs: dict[str, Any] = dict(structure["meta"])
        kwargs["rigid_tendon"] = bool(rigid_tendon)
        kwargs["body_aliases"] = tuple(sorted(aliases.items()))
        for k, v in structure["float"].items():
            kwargs[k] = _tensor(v, dtype, dev)
        for k, v in structure["long"].items():
            kwargs[k] = _index(v, dev)
        kwargs["is_cond"] = torch.as_tensor(structure["bool"]["is_cond"], device=dev)
        for k, v in stacked.items():
            kwargs[k] = _tensor(v, dtype, dev)
        params = cls(**kwargs)
        if batch is not None and batch > 1:
            params = params.repeat(batch, shared=shared)
        return params


class BatchLast:
    """The parameters of an :class:`EngineParams` with the batch as the last dim (``[..., B]``, contiguous).

    Same attribute names as EngineParams: parameter fields moved
    (``fmax`` is ``[M, B]``, ``joint_a`` ``[N, 2, B]``...), structure fields
    kept. A shared parameter field (one row viewed ``B`` times) becomes
    ``[..., 1]`` and broadcasts against the ``[..., B]`` state, so the step
    code must combine parameters with state by broadcasting elementwise
    operations (or ``expand`` to the state's batch before a ``gather`` /
    ``index_copy``). Used inside the step; built once per EngineParams.
    """

    def __init__(self, params: EngineParams) -> None:
        for f in fields(params):
            v = getattr(params, f.name)
            if f.name in _PARAM_FIELDS:
                if _is_shared(v):
                    v = v[:1]
                v = v.movedim(0, -1).contiguous()
            setattr(self, f.name, v)
        self.batch_size = int(params.mass.shape[0])
        self.n_coordinates = len(params.coordinate_names)
        self.n_muscles = len(params.muscle_names)
        self.n_splines = int(params.spline_fn.shape[0])
        self.n_contacts = len(params.contact_names)
        # Python-level structure for unrolled, fusable code (static under torch.compile)
        self.ancestors = tuple(tuple(int(j) for j in np.nonzero(r)[0]) for r in params.anc.cpu().numpy())
        self.chain_lists = tuple(tuple(int(k) for k in np.nonzero(r)[0]) for r in params.chain.cpu().numpy())
        seg_muscle = params.seg_muscle.cpu().numpy()
        self.muscle_segments = tuple(tuple(int(g) for g in np.nonzero(seg_muscle == m)[0])
                                     for m in range(self.n_muscles))
        self.seg_muscle_matrix = torch.zeros(self.n_muscles, len(seg_muscle), dtype=params.mass.dtype,
                                             device=params.mass.device)
        if len(seg_muscle):
            self.seg_muscle_matrix[seg_muscle, np.arange(len(seg_muscle))] = 1.0
        spline_fn = params.spline_fn.cpu().numpy()
        n_fn = int(params.fn_coord.shape[0])
        self.fn_spline = tuple(tuple(int(s) for s in np.nonzero(spline_fn == f)[0]) for f in range(n_fn))
        self.spline_scatter = torch.zeros(n_fn, len(spline_fn), dtype=params.mass.dtype, device=params.mass.device)
        if len(spline_fn):
            self.spline_scatter[spline_fn, np.arange(len(spline_fn))] = 1.0


#: default of ``EngineParams.from_body(..., batch=B, shared=None)`` and ``EngineParams.repeat(n, shared=None)``
SHARED_DEFAULT = True


def _is_shared(v: torch.Tensor) -> bool:
    """A parameter tensor whose batch rows are one row viewed several times (stride 0 along the batch)."""
    return v.dim() > 0 and v.shape[0] > 1 and v.stride(0) == 0 and v.numel() > 0


_PARAM_FIELDS = {
    "theta0", "theta0_par", "joint_a", "joint_cphi", "joint_sphi", "joint_b", "body_z", "mass", "com", "inertia",
    "fn_slope", "fn_intercept", "fn_lo", "fn_hi", "spline_f_lo", "spline_f_hi", "spline_x", "spline_y", "spline_b", "spline_c", "spline_d", "spline_x_last",
    "spline_y_last", "spline_b_last", "point_r", "cond_lo", "cond_hi", "fmax", "lopt", "lts", "width", "vmax",
    "tau_act", "tau_deact", "kT", "e0", "fiber_damping", "slow_twitch", "muscle_mass", "contact_r", "contact_radius",
    "contact_stiffness", "contact_dissipation", "mu_s", "mu_d", "mu_v", "v_trans", "contact_cf", "contact_bd",
    "contact_bv", "q_lo", "q_hi", "q_default", "limit_k", "limit_sharp", "joint_damping", "spring_k", "spring_rest", "gravity",
    "total_mass",
}


def as_spec(body: Any) -> ModelSpec:
    """A :class:`ModelSpec` from a ModelSpec or a ``twin.model.BodyParams``.

    Raises
    ------
    ParameterError
        For anything else.
    """
    if isinstance(body, ModelSpec):
        return body
    if type(body).__name__ == "BodyParams":
        from .from_model import spec_from_body_params

        return spec_from_body_params(body)
    raise ParameterError(f"expected a twin.model.BodyParams or twin.engine.ModelSpec, got {type(body).__name__}")


# ---------------------------------------------------------------------- weld merging
def _rz(phi: float, v) -> np.ndarray:
    c, s = math.cos(phi), math.sin(phi)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _constant_value(f: Func1D) -> float | None:
    return f.value if f.kind == "constant" else None


def merge_welded(spec: ModelSpec, *, aliases: dict | None = None) -> ModelSpec:
    """Merge every body rigidly welded to a parent body into that parent.

    A body whose joint has only constant functions (a ``WeldJoint``), whose
    parent is a body (not ground) and that carries no moving path point is
    folded into its parent: masses add, the centre of mass and the inertia
    about it combine (parallel-axis theorem), and path points, contact
    spheres and child joints on it are re-expressed in the parent frame. The
    dynamics are unchanged; the engine just has fewer bodies. ``aliases``
    (a dict), when given, receives ``{merged body: body it now belongs to}``.

    Examples
    --------
    >>> from twin.engine.spec import double_pendulum, BodySpec, JointSpec
    >>> s = double_pendulum()
    >>> s = s.replace(bodies=s.bodies + (BodySpec("tip", 0.5),),
    ...               joints=s.joints + (JointSpec("w", "link2", "tip", location_in_parent=(0.0, -1.0, 0.0)),))
    >>> m = merge_welded(s)
    >>> [b.name for b in m.bodies], round(m.bodies[1].mass, 3), round(m.bodies[1].com[1], 4)
    (['link1', 'link2'], 1.5, -0.6667)
    """
    while True:
        joint_of = {j.child: j for j in spec.joints}
        moving_bodies = {p.body for m in spec.muscles for p in m.path if p.kind == "moving"}
        target = None
        for b in spec.bodies:
            j = joint_of[b.name]
            consts = [_constant_value(f) for f in (j.rotation, j.translation_x, j.translation_y)]
            if j.parent != "ground" and None not in consts and b.name not in moving_bodies:
                target = b
                break
        if target is None:
            return spec
        j = joint_of[target.name]
        if aliases is not None:
            for k_, v_ in list(aliases.items()):
                if v_ == target.name:
                    aliases[k_] = j.parent
            aliases[target.name] = j.parent
        rot, tx, ty = (_constant_value(f) for f in (j.rotation, j.translation_x, j.translation_y))
        th = j.orientation_in_parent + rot - j.orientation_in_child
        origin = np.array(j.location_in_parent[:2]) + _rz(j.orientation_in_parent, (tx, ty)) \
            - _rz(th, j.location_in_child[:2])
        dz = j.location_in_parent[2] - j.location_in_child[2]

        def to_parent(r, th=th, origin=origin, dz=dz):
            xy = origin + _rz(th, r[:2])
            return (float(xy[0]), float(xy[1]), float(r[2] + dz))

        parent = next(b for b in spec.bodies if b.name == j.parent)
        c1 = np.array(parent.com[:2])
        c2 = np.array(to_parent(target.com)[:2])
        m1, m2 = parent.mass, target.mass
        m = m1 + m2
        c = (m1 * c1 + m2 * c2) / m
        izz = parent.inertia_zz + m1 * float(np.sum((c1 - c) ** 2)) + target.inertia_zz + m2 * float(
            np.sum((c2 - c) ** 2))
        z_com = (m1 * parent.com[2] + m2 * to_parent(target.com)[2]) / m
        merged = BodySpec(parent.name, m, (float(c[0]), float(c[1]), float(z_com)), izz)
        bodies = tuple(merged if b.name == parent.name else b for b in spec.bodies if b.name != target.name)
        joints = []
        for jj in spec.joints:
            if jj.child == target.name:
                continue
            if jj.parent == target.name:
                jj = replace(jj, parent=parent.name, location_in_parent=to_parent(jj.location_in_parent),
                             orientation_in_parent=jj.orientation_in_parent + th)
            joints.append(jj)
        muscles = []
        for mu in spec.muscles:
            path = tuple(replace(p, body=parent.name, location=to_parent(p.location)) if p.body == target.name
                         else p for p in mu.path)
            muscles.append(replace(mu, path=path))
        contacts = tuple(replace(c_, body=parent.name, location=to_parent(c_.location), group=c_.side())
                         if c_.body == target.name else c_ for c_ in spec.contacts)
        spec = spec.replace(bodies=bodies, joints=tuple(joints), muscles=tuple(muscles), contacts=contacts)


# ---------------------------------------------------------------------- structure
def _structure(spec: ModelSpec) -> dict:
    """Topology and index tensors shared by the batch; also the function layout."""
    coords = [c.name for c in spec.coordinates]
    cidx = {n: i for i, n in enumerate(coords)}
    if len(cidx) != len(coords):
        raise ParameterError(f"coordinates: duplicate names in {coords}")
    bodies = [b.name for b in spec.bodies]
    bidx = {n: i for i, n in enumerate(bodies)}
    if len(bidx) != len(bodies):
        raise ParameterError(f"bodies: duplicate names in {bodies}")
    nb, nq = len(bodies), len(coords)
    if nb == 0:
        raise ParameterError("bodies: a model needs at least one body")
    joint_of: dict[str, JointSpec] = {}
    for j in spec.joints:
        if j.child not in bidx:
            raise ParameterError(f"joints['{j.name}'].child={j.child!r} is not a body; bodies are {bodies}")
        if j.parent != "ground" and j.parent not in bidx:
            raise ParameterError(f"joints['{j.name}'].parent={j.parent!r} is not a body or 'ground'")
        if j.child in joint_of:
            raise ParameterError(f"body {j.child!r} is the child of two joints ({joint_of[j.child].name!r}, {j.name!r})")
        joint_of[j.child] = j
    for b in bodies:
        if b not in joint_of:
            raise ParameterError(f"body {b!r} has no joint attaching it to its parent")
    parent = [-1 if joint_of[b].parent == "ground" else bidx[joint_of[b].parent] for b in bodies]
    anc = np.zeros((nb, nb))
    for b in range(nb):
        k, seen = b, set()
        while k >= 0:
            if k in seen:
                raise ParameterError(f"joints form a loop through body {bodies[k]!r}; the model must be a tree")
            seen.add(k)
            anc[b, k] = 1.0
            k = parent[k]
    # coordinates: each belongs to one joint; rotations linear
    owner = np.zeros((nq, nb))
    slope = np.zeros(nq)
    rot_local = np.zeros((nb, nq))
    tx_sel, ty_sel = np.zeros((nb, nq)), np.zeros((nb, nq))

    def own(k: int, b: int, where: str) -> None:
        if owner[k].any() and owner[k, b] == 0:
            raise ParameterError(f"{where}: coordinate {coords[k]!r} already drives another joint; a coordinate "
                                 "may drive one joint only")
        owner[k, b] = 1.0

    for b in range(nb):
        j = joint_of[bodies[b]]
        f = j.rotation
        if f.kind == "linear":
            _coord(cidx, f.coordinate, f"joints['{j.name}'].rotation.coordinate")
            k = cidx[f.coordinate]
            rot_local[b, k] = f.slope
            slope[k] = f.slope
            own(k, b, f"joints['{j.name}'].rotation")
        elif f.kind != "constant":
            raise ParameterError(f"joints['{j.name}'].rotation must be constant or linear in one coordinate, "
                                 f"not {f.kind!r} (the engine's rotations are linear)")
        for sel, f, name in ((tx_sel, j.translation_x, "translation_x"), (ty_sel, j.translation_y, "translation_y")):
            if f.kind not in ("constant", "linear", "spline"):
                raise ParameterError(f"joints['{j.name}'].{name}.kind={f.kind!r} must be 'constant', 'linear' or "
                                     "'spline'")
            if f.kind != "constant":
                _coord(cidx, f.coordinate, f"joints['{j.name}'].{name}.coordinate")
                sel[b, cidx[f.coordinate]] = 1.0
                own(cidx[f.coordinate], b, f"joints['{j.name}'].{name}")
    for k in range(nq):
        if not owner[k].any():
            raise ParameterError(f"coordinates['{coords[k]}'] drives no joint; remove it or use it in a joint")
    chain = anc @ owner.T  # [N, Q]
    rot = anc @ rot_local
    par_rot = np.stack([rot[p] if p >= 0 else np.zeros(nq) for p in parent])
    # functions: joint x, joint y, then moving point x, y, z
    funcs: list[Func1D] = [joint_of[b].translation_x for b in bodies] + [joint_of[b].translation_y for b in bodies]
    joint_tx_fn, joint_ty_fn = list(range(nb)), list(range(nb, 2 * nb))
    # path points and segments
    point_body, cond_coord, is_cond, moving_point, moving_fn, moving_coord = [], [], [], [], [], []
    seg_i, seg_j, seg_between_rows, seg_muscle = [], [], [], []
    muscles = [m.name for m in spec.muscles]
    if len(set(muscles)) != len(muscles):
        raise ParameterError(f"muscles: duplicate names in {muscles}")
    n_points = sum(len(m.path) for m in spec.muscles)
    point_coord = []
    for mi, m in enumerate(spec.muscles):
        if len(m.path) < 2:
            raise ParameterError(f"muscles['{m.name}'].path has {len(m.path)} points; a path needs at least 2")
        if m.path[0].kind == "conditional" or m.path[-1].kind == "conditional":
            raise ParameterError(f"muscles['{m.name}'].path: the first and last points must not be conditional")
        start = len(point_body)
        for k, pt in enumerate(m.path):
            where = f"muscles['{m.name}'].path[{k}]"
            if pt.body not in bidx:
                raise ParameterError(f"{where}.body={pt.body!r} is not a body")
            point_body.append(bidx[pt.body])
            point_coord.append(-1)
            if pt.kind == "conditional":
                _coord(cidx, pt.coordinate, f"{where}.coordinate")
                cond_coord.append(cidx[pt.coordinate])
                is_cond.append(True)
            elif pt.kind in ("fixed", "moving"):
                cond_coord.append(0)
                is_cond.append(False)
            else:
                raise ParameterError(f"{where}.kind={pt.kind!r} must be 'fixed', 'conditional' or 'moving'")
            if pt.kind == "moving":
                ids, cs = [], set()
                for ax, f in zip("xyz", (pt.x, pt.y, pt.z)):
                    f = Func1D.constant(pt.location["xyz".index(ax)]) if f is None else f
                    if f.kind not in ("constant", "linear", "spline"):
                        raise ParameterError(f"{where}.{ax}.kind={f.kind!r} must be 'constant', 'linear' or 'spline'")
                    if f.kind != "constant":
                        _coord(cidx, f.coordinate, f"{where}.{ax}.coordinate")
                        cs.add(f.coordinate)
                    funcs.append(f)
                    ids.append(len(funcs) - 1)
                if len(cs) > 1:
                    raise ParameterError(f"{where}: the x, y, z functions of a moving point must share one coordinate")
                c = cidx[cs.pop()] if cs else 0
                moving_point.append(start + k)
                moving_fn.append(ids)
                moving_coord.append(c)
                point_coord[-1] = c
        n = len(m.path)
        kinds = [p.kind for p in m.path]
        for a in range(n):
            for b2 in range(a + 1, n):
                between = range(a + 1, b2)
                if any(kinds[k] != "conditional" for k in between):
                    break
                seg_i.append(start + a)
                seg_j.append(start + b2)
                row = np.zeros(n_points)
                for k in between:
                    row[start + k] = 1.0
                seg_between_rows.append(row)
                seg_muscle.append(mi)
    n_seg = len(seg_i)
    seg_between = np.stack(seg_between_rows) if seg_between_rows else np.zeros((0, n_points))
    seg_sign = np.zeros((n_seg, nq))
    seg_mi, seg_mj = np.zeros((n_seg, nq)), np.zeros((n_seg, nq))
    for g in range(n_seg):
        bi, bj = point_body[seg_i[g]], point_body[seg_j[g]]
        seg_sign[g] = chain[bj] - chain[bi]
        if point_coord[seg_i[g]] >= 0:
            seg_mi[g, point_coord[seg_i[g]]] = 1.0
        if point_coord[seg_j[g]] >= 0:
            seg_mj[g, point_coord[seg_j[g]]] = 1.0
    # contacts
    contact_body = []
    groups: list[str] = []
    for c in spec.contacts:
        if c.body not in bidx:
            raise ParameterError(f"contacts['{c.name}'].body={c.body!r} is not a body")
        contact_body.append(bidx[c.body])
        if c.side() not in groups:
            groups.append(c.side())
    contact_group = np.zeros((len(groups), len(spec.contacts)))
    for i, c in enumerate(spec.contacts):
        contact_group[groups.index(c.side()), i] = 1.0
    fn_coord = [cidx[f.coordinate] if f.kind != "constant" else 0 for f in funcs]
    spline_fn = [i for i, f in enumerate(funcs) if f.kind == "spline"]
    spline_k = max((len(funcs[i].x) for i in spline_fn), default=2)
    root_height = -1
    for b in range(nb):
        ty = joint_of[bodies[b]].translation_y
        if parent[b] < 0 and ty.kind == "linear" and ty.slope == 1.0:
            root_height = cidx[ty.coordinate]

    def longs(x, shape=(-1,)):
        return np.array(x, dtype=np.int64).reshape(shape)

    return {
        "meta": {
            "coordinate_names": tuple(coords),
            "body_names": tuple(bodies),
            "muscle_names": tuple(muscles),
            "contact_names": tuple(c.name for c in spec.contacts),
            "contact_group_names": tuple(groups),
            "rotational": tuple(bool(c.rotational) for c in spec.coordinates),
            "root_height_coordinate": root_height,
        },
        "float": {
            "anc": anc, "chain": chain, "slope": slope, "rot": rot, "par_rot": par_rot, "owner": owner,
            "tx_sel": tx_sel, "ty_sel": ty_sel, "seg_sign": seg_sign, "seg_between": seg_between,
            "seg_moving_i": seg_mi, "seg_moving_j": seg_mj, "contact_group": contact_group,
        },
        "long": {
            "fn_coord": longs(fn_coord), "joint_tx_fn": longs(joint_tx_fn), "joint_ty_fn": longs(joint_ty_fn),
            "spline_fn": longs(spline_fn), "spline_coord": longs([fn_coord[i] for i in spline_fn]),
            "point_body": longs(point_body), "moving_point": longs(moving_point),
            "moving_fn": longs(moving_fn, (-1, 3)), "moving_coord": longs(moving_coord),
            "cond_coord": longs(cond_coord), "seg_i": longs(seg_i), "seg_j": longs(seg_j),
            "seg_muscle": longs(seg_muscle), "contact_body": longs(contact_body),
        },
        "bool": {"is_cond": np.array(is_cond, dtype=bool).reshape(-1)},
        "_parent": parent, "_joint_of": joint_of, "_funcs": funcs, "_spline_k": spline_k,
    }


def _coord(cidx: dict, name: str | None, where: str) -> None:
    if name not in cidx:
        raise ParameterError(f"{where}={name!r} is not a coordinate of the model; coordinates are {list(cidx)}")
def _check_same_structure(a: ModelSpec, b: ModelSpec, i: int) -> None:
    def sig(s: ModelSpec):
        return (
            tuple(x.name for x in s.bodies),
            tuple((j.name, j.parent, j.child, j.rotation.kind, j.rotation.coordinate, j.translation_x.kind,
                   j.translation_x.coordinate, len(j.translation_x.x), j.translation_y.kind,
                   j.translation_y.coordinate, len(j.translation_y.x)) for j in s.joints),
            tuple(c.name for c in s.coordinates),
            tuple((m.name, tuple((p.body, p.kind, p.coordinate) for p in m.path)) for m in s.muscles),
            tuple((c.name, c.body, c.side()) for c in s.contacts),
        )

    if sig(a) != sig(b):
        raise ParameterError(f"bodies[{i}] has a different structure from bodies[0] (bodies, joints, coordinates, "
                             "muscle paths or contacts differ); a batch shares one structure: build separate batches")


def _positive(where: str, value: float, unit: str, *, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rel = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{where}={value!r} must be {rel} ({unit}); fix the body parameter")


def _finite(where: str, values) -> None:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{where}={values!r} must be finite")


def _validate(spec: ModelSpec) -> None:
    """Physics checks; ParameterError names the parameter."""
    for b in spec.bodies:
        _positive(f"bodies['{b.name}'].mass", b.mass, "kg")
        _positive(f"bodies['{b.name}'].inertia_zz", b.inertia_zz, "kg m^2", allow_zero=True)
        _finite(f"bodies['{b.name}'].com", b.com)
    for j in spec.joints:
        for attr in ("location_in_parent", "location_in_child", "orientation_in_parent", "orientation_in_child"):
            _finite(f"joints['{j.name}'].{attr}", getattr(j, attr))
        for attr in ("rotation", "translation_x", "translation_y"):
            _check_func(f"joints['{j.name}'].{attr}", getattr(j, attr))
    for c in spec.coordinates:
        lo, hi = c.range
        if not (lo < hi) or math.isnan(lo) or math.isnan(hi):
            raise ParameterError(f"coordinates['{c.name}'].range={c.range!r} must have lower < upper")
        _positive(f"coordinates['{c.name}'].limit_stiffness", c.limit_stiffness, "N m", allow_zero=True)
        _positive(f"coordinates['{c.name}'].limit_sharpness", c.limit_sharpness, "1/rad")
        _positive(f"coordinates['{c.name}'].damping", c.damping, "N m s/rad", allow_zero=True)
        _positive(f"coordinates['{c.name}'].stiffness", c.stiffness, "N m/rad", allow_zero=True)
        _finite(f"coordinates['{c.name}'].rest", c.rest)
    for m in spec.muscles:
        w = f"muscles['{m.name}']"
        _positive(f"{w}.max_isometric_force", m.max_isometric_force, "N")
        _positive(f"{w}.optimal_fiber_length", m.optimal_fiber_length, "m")
        _positive(f"{w}.tendon_slack_length", m.tendon_slack_length, "m")
        _positive(f"{w}.max_contraction_velocity", m.max_contraction_velocity, "optimal fibre lengths/s")
        _positive(f"{w}.activation_time_constant", m.activation_time_constant, "s")
        _positive(f"{w}.deactivation_time_constant", m.deactivation_time_constant, "s")
        _positive(f"{w}.tendon_strain_at_one_norm_force", m.tendon_strain_at_one_norm_force, "1")
        _positive(f"{w}.passive_fiber_strain_at_one_norm_force", m.passive_fiber_strain_at_one_norm_force, "1")
        _positive(f"{w}.fiber_damping", m.fiber_damping, "1", allow_zero=True)
        if not (0.0 <= m.pennation_angle < math.pi / 2 - 1e-6):
            raise ParameterError(f"{w}.pennation_angle={m.pennation_angle!r} must be in [0, pi/2) rad")
        if not (0.0 <= m.slow_twitch_ratio <= 1.0):
            raise ParameterError(f"{w}.slow_twitch_ratio={m.slow_twitch_ratio!r} must be in [0, 1]")
        for k, pt in enumerate(m.path):
            _finite(f"{w}.path[{k}].location", pt.location)
            for ax in "xyz":
                f = getattr(pt, ax)
                if f is not None:
                    _check_func(f"{w}.path[{k}].{ax}", f)
            if pt.kind == "conditional" and not (pt.range[0] <= pt.range[1]):
                raise ParameterError(f"{w}.path[{k}].range={pt.range!r} must have lower <= upper")
    for c in spec.contacts:
        w = f"contacts['{c.name}']"
        _finite(f"{w}.location", c.location)
        _positive(f"{w}.radius", c.radius, "m")
        _positive(f"{w}.stiffness", c.stiffness, "N/m^2")
        _positive(f"{w}.dissipation", c.dissipation, "s/m")
        for attr in ("static_friction", "dynamic_friction", "viscous_friction", "constant_contact_force"):
            _positive(f"{w}.{attr}", getattr(c, attr), "1", allow_zero=True)
        _positive(f"{w}.transition_velocity", c.transition_velocity, "m/s")
        _positive(f"{w}.hertz_smoothing", c.hertz_smoothing, "1/m")
        _positive(f"{w}.hunt_crossley_smoothing", c.hunt_crossley_smoothing, "s/m")
    _finite("gravity", spec.gravity)


def _check_func(where: str, f: Func1D) -> None:
    if f.kind == "spline":
        if len(f.x) < 2 or len(f.x) != len(f.y):
            raise ParameterError(f"{where}: a spline needs at least 2 knots and as many x as y values "
                                 f"(got {len(f.x)} x, {len(f.y)} y)")
        x = np.asarray(f.x)
        if not np.all(np.diff(x) > 0):
            raise ParameterError(f"{where}.x must be strictly increasing")
        _finite(f"{where}.x", f.x)
        _finite(f"{where}.y", f.y)
    else:
        _finite(f"{where}", (f.value, f.slope, f.intercept))


def _functions(spec: ModelSpec) -> list[Func1D]:
    """The coordinate functions in the structure's order (joint x, joint y, moving x/y/z)."""
    joint_of = {j.child: j for j in spec.joints}
    funcs = [joint_of[b.name].translation_x for b in spec.bodies] + [joint_of[b.name].translation_y
                                                                      for b in spec.bodies]
    for m in spec.muscles:
        for pt in m.path:
            if pt.kind == "moving":
                for ax, f in zip("xyz", (pt.x, pt.y, pt.z)):
                    funcs.append(Func1D.constant(pt.location["xyz".index(ax)]) if f is None else f)
    return funcs


def _parameters(spec: ModelSpec, st: dict) -> dict[str, np.ndarray]:
    """The batched (physical) parameters of one body, as float arrays without batch dim."""
    bodies = spec.bodies
    nb = len(bodies)
    joint_of = {j.child: j for j in spec.joints}
    parent = st["_parent"]
    anc = st["float"]["anc"]
    theta_local = np.zeros(nb)
    a = np.zeros((nb, 2))
    bb = np.zeros((nb, 2))
    cphi, sphi = np.zeros(nb), np.zeros(nb)
    z_local = np.zeros(nb)
    for i, body in enumerate(bodies):
        j = joint_of[body.name]
        rot = j.rotation
        intercept = rot.intercept if rot.kind == "linear" else rot.value
        theta_local[i] = j.orientation_in_parent + intercept - j.orientation_in_child
        a[i] = j.location_in_parent[:2]
        bb[i] = j.location_in_child[:2]
        cphi[i], sphi[i] = math.cos(j.orientation_in_parent), math.sin(j.orientation_in_parent)
        z_local[i] = j.location_in_parent[2] - j.location_in_child[2]
    theta0 = anc @ theta_local
    theta0_par = np.array([theta0[p] if p >= 0 else 0.0 for p in parent])
    body_z = anc @ z_local
    funcs = _functions(spec)
    fn_slope = np.array([f.slope if f.kind == "linear" else 0.0 for f in funcs])
    crange = {c.name: c.range for c in spec.coordinates}
    n_joint_fn = 2 * nb
    fn_lo = np.array([-1e30 if i < n_joint_fn or f.kind == "constant" else crange[f.coordinate][0]
                      for i, f in enumerate(funcs)])
    fn_hi = np.array([1e30 if i < n_joint_fn or f.kind == "constant" else crange[f.coordinate][1]
                      for i, f in enumerate(funcs)])
    fn_icpt = np.array([f.intercept if f.kind == "linear" else (f.value if f.kind == "constant" else 0.0)
                        for f in funcs])
    spl = [funcs[i].knots() for i in range(len(funcs)) if funcs[i].kind == "spline"]
    spl_idx = [i for i in range(len(funcs)) if funcs[i].kind == "spline"]
    f_lo = np.array([_spline.value(*funcs[i].knots(), fn_lo[i]) if fn_lo[i] > -1e29 else 0.0 for i in spl_idx])
    f_hi = np.array([_spline.value(*funcs[i].knots(), fn_hi[i]) if fn_hi[i] < 1e29 else 0.0 for i in spl_idx])
    packed = _spline.pack(spl) if spl else _spline.pack([((0.0, 1.0), (0.0, 0.0))])
    kmax = st["_spline_k"]
    for key in ("x", "y", "b", "c", "d"):
        arr = packed[key]
        if not spl:
            arr = arr[:0]
        if arr.shape[1] < kmax:
            pad = np.full((arr.shape[0], kmax - arr.shape[1]), np.inf if key == "x" else 0.0)
            arr = np.concatenate([arr, pad], axis=1)
        packed[key] = arr[:, :kmax] if arr.shape[1] > kmax else arr
    for key in ("x_last", "y_last", "b_last"):
        if not spl:
            packed[key] = packed[key][:0]
    point_r, cond_lo, cond_hi = [], [], []
    for m in spec.muscles:
        for pt in m.path:
            # a moving point's location lives entirely in its three functions
            point_r.append([0.0, 0.0, 0.0] if pt.kind == "moving" else list(pt.location))
            lo, hi = (pt.range if pt.kind == "conditional" else (-1e30, 1e30))
            cond_lo.append(max(lo, -1e30))
            cond_hi.append(min(hi, 1e30))
    ms = spec.muscles
    fmax = np.array([m.max_isometric_force for m in ms])
    lopt = np.array([m.optimal_fiber_length for m in ms])
    strain = np.array([m.tendon_strain_at_one_norm_force for m in ms])
    # De Groote tendon curve through (1 + strain, 1): c1 exp(kT strain) - c3 = 1
    kT = np.log((1.0 + 0.2) / 0.2) / strain
    cs = spec.contacts
    co = spec.coordinates
    return {
        "theta0": theta0, "theta0_par": theta0_par, "joint_a": a, "joint_cphi": cphi, "joint_sphi": sphi,
        "joint_b": bb, "body_z": body_z,
        "mass": np.array([b.mass for b in bodies]), "com": np.array([b.com[:2] for b in bodies]).reshape(nb, 2),
        "inertia": np.array([b.inertia_zz for b in bodies]),
        "fn_slope": fn_slope, "fn_intercept": fn_icpt, "fn_lo": fn_lo, "fn_hi": fn_hi,
        "spline_f_lo": f_lo.reshape(-1), "spline_f_hi": f_hi.reshape(-1),
        "spline_x": packed["x"], "spline_y": packed["y"], "spline_b": packed["b"], "spline_c": packed["c"],
        "spline_d": packed["d"], "spline_x_last": packed["x_last"], "spline_y_last": packed["y_last"],
        "spline_b_last": packed["b_last"],
        "point_r": np.array(point_r, dtype=float).reshape(-1, 3),
        "cond_lo": np.array(cond_lo, dtype=float), "cond_hi": np.array(cond_hi, dtype=float),
        "fmax": fmax, "lopt": lopt, "lts": np.array([m.tendon_slack_length for m in ms]),
        "width": lopt * np.sin(np.array([m.pennation_angle for m in ms])),
        "vmax": lopt * np.array([m.max_contraction_velocity for m in ms]),
        "tau_act": np.array([m.activation_time_constant for m in ms]),
        "tau_deact": np.array([m.deactivation_time_constant for m in ms]),
        "kT": kT.reshape(-1), "e0": np.array([m.passive_fiber_strain_at_one_norm_force for m in ms]),
        "fiber_damping": np.array([m.fiber_damping for m in ms]),
        "slow_twitch": np.array([m.slow_twitch_ratio for m in ms]),
        "muscle_mass": fmax / SIGMA_MUSCLE * RHO_MUSCLE * lopt,
        "contact_r": np.array([c.location for c in cs], dtype=float).reshape(-1, 3),
        "contact_radius": np.array([c.radius for c in cs]), "contact_stiffness": np.array([c.stiffness for c in cs]),
        "contact_dissipation": np.array([c.dissipation for c in cs]),
        "mu_s": np.array([c.static_friction for c in cs]), "mu_d": np.array([c.dynamic_friction for c in cs]),
        "mu_v": np.array([c.viscous_friction for c in cs]), "v_trans": np.array([c.transition_velocity for c in cs]),
        "contact_cf": np.array([c.constant_contact_force for c in cs]),
        "contact_bd": np.array([c.hertz_smoothing for c in cs]),
        "contact_bv": np.array([c.hunt_crossley_smoothing for c in cs]),
        "q_lo": np.array([c.range[0] for c in co]), "q_hi": np.array([c.range[1] for c in co]),
        "q_default": np.array([c.default for c in co]),
        "limit_k": np.array([c.limit_stiffness for c in co]), "limit_sharp": np.array([c.limit_sharpness for c in co]),
        "joint_damping": np.array([c.damping for c in co]),
        "spring_k": np.array([c.stiffness for c in co]), "spring_rest": np.array([c.rest for c in co]),
        "gravity": np.array(spec.gravity[:2], dtype=float), "total_mass": np.array(sum(b.mass for b in bodies)),
    }
