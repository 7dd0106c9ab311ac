"""Plotly figures of simulations and recordings: gait curves, stick figure, GRF, muscle activity, metrics.

Every function returns a ``plotly.graph_objects.Figure``: show it in a
notebook, export it with ``fig.write_html(path)`` or put several into one
page with :func:`twin.viz.write_report`. Inputs are twin Datasets:

* a **simulation** (``attrs["kind"] == "simulation"``, from
  :func:`twin.engine.simulate`, a twin's ``simulate`` or
  :func:`twin.viz.demo_backend.default_simulate`) with ``q(…, time,
  coordinate)``, ``grf(…, time, side, axis)``, ``activation`` or
  ``excitation(…, time, muscle)``, where ``…`` is a ``scenario`` and/or
  ``batch`` dim: each member is one labelled curve set, the member named
  ``"baseline"`` drawn dark grey and solid, the others in colour;
* a mapping ``{label: Dataset}`` of several such Datasets (or of one-member
  ones), e.g. ``{"before": sim0, "after": sim1}``;
* for :func:`gait_curves` also **kinematics** of a recording
  (``q(time, coordinate)``, e.g. OpenSim IK) with its gait events
  (``events=``, from :func:`twin.gait.detect_events`).

Gait cycles of a simulation run from one right-foot strike to the next; a
strike is an upward crossing of 5 % body weight by the simulated vertical
GRF of the right foot (after at least 50 ms unloaded). Angles are shown in
degrees with OpenSim's signs (knee flexion negative, ankle dorsiflexion
positive); the normative band is Schwartz et al. (2008) mapped to the same
signs (:func:`twin.gait.normative`).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from twin.viz.figures import gait_curves, demo_simulation
>>> sim = demo_simulation()                     # a synthetic 2-member simulation, no engine
>>> fig = gait_curves(sim, normative=False)
>>> sorted({t.meta["label"] for t in fig.data})
['baseline', 'weak plantarflexors']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import xarray as xr

from ..errors import ParameterError, TwinError
from . import _sim
from ._sim import DEFAULT_LEG_LENGTH, G

__all__ = ["gait_curves", "skeleton_animation", "grf_figure", "muscle_heatmap", "metrics_table", "demo_simulation"]

_SIGN_HINT = {"hip_flexion": "flexion +", "knee_angle": "flexion −", "ankle_angle": "dorsiflexion +",
              "pelvis_tilt": "posterior +"}
_LAYOUT = {"template": "plotly_white", "margin": {"t": 70, "b": 45, "l": 60, "r": 20}}


# ----------------------------------------------------------------------------- helpers
def _coord_names(ds: xr.Dataset) -> list[str]:
    return [str(c) for c in ds["coordinate"].values]


def _is_rotational(ds: xr.Dataset, coordinate: str) -> bool:
    if "coordinate_type" in ds.coords:
        return str(ds["coordinate_type"].sel(coordinate=coordinate).values) == "rotational"
    return not coordinate.endswith(("_tx", "_ty", "_tz"))


def _display(ds: xr.Dataset, coordinate: str, values: np.ndarray) -> tuple[np.ndarray, str]:
    if _is_rotational(ds, coordinate):
        return np.rad2deg(values), "deg"
    return values, "m"


def _hint(coordinate: str) -> str:
    base = coordinate[:-2] if coordinate.endswith(("_r", "_l")) else coordinate
    return f"{coordinate} ({_SIGN_HINT[base]})" if base in _SIGN_HINT else coordinate


def _events_for(events, label: str):
    if events is None or isinstance(events, xr.Dataset):
        return events
    if isinstance(events, Mapping):
        return events.get(label)
    raise ParameterError(f"events must be a Dataset or a mapping label -> Dataset, not {type(events).__name__}")


def _member_cycles(label: str, ds: xr.Dataset, coordinates: Sequence[str], events, threshold: float):
    """``(mode, x, {coordinate: (mean, sd)}, n_cycles)`` of one member; mode "cycle" or "time"."""
    if "q" not in ds and "angle" in ds and "cycle_pct" in ds["angle"].dims:  # a twin's reference cycle
        ds = ds.rename({"angle": "q"})
    if "q" not in ds:
        raise ParameterError(f"{label!r}: the Dataset has no q (joint angles) variable")
    names = _coord_names(ds)
    missing = [c for c in coordinates if c not in names]
    if missing:
        raise ParameterError(f"{label!r}: no coordinate {', '.join(map(repr, missing))}; it has {', '.join(names)}")
    q = ds["q"]
    if "cycle_pct" in q.dims:  # already normalised
        out = {}
        for c in coordinates:
            da = q.sel(coordinate=c)
            vals = da.transpose(..., "cycle_pct").values.reshape(-1, da.sizes["cycle_pct"])
            vals, _ = _display(ds, c, vals)
            out[c] = (np.nanmean(vals, 0), np.nanstd(vals, 0) if len(vals) > 1 else None)
        return "cycle", q["cycle_pct"].values, out, int(q.sizes.get("cycle", 1))
    ev = _events_for(events, label)
    if ev is not None:
        from ..gait import normalize_cycles

        out, n = {}, 0
        for c in coordinates:
            cyc = normalize_cycles(q.sel(coordinate=c), ev, side="right")
            vals, _ = _display(ds, c, cyc.transpose("cycle", "cycle_pct").values)
            n = vals.shape[0]
            out[c] = (np.nanmean(vals, 0), np.nanstd(vals, 0) if n > 1 else None)
        return "cycle", cyc["cycle_pct"].values, out, n
    if "grf" not in ds:
        raise ParameterError(f"{label!r}: no GRF to split gait cycles; pass events= (twin.gait.detect_events) "
                             "for a recording")
    bounds = _sim.cycles_of(ds, threshold=threshold)
    t = ds["time"].values
    if not bounds:
        keep = t <= _sim.valid_time(ds) + 1e-12
        return "time", t[keep], {c: (_display(ds, c, q.sel(coordinate=c).values[keep])[0], None)
                                 for c in coordinates}, 0
    out = {}
    for c in coordinates:
        vals = _sim.normalise(t, q.sel(coordinate=c).values, bounds)
        vals, _ = _display(ds, c, vals)
        out[c] = (vals.mean(0), vals.std(0) if len(bounds) > 1 else None)
    return "cycle", np.linspace(0.0, 100.0, 101), out, len(bounds)


def _normative_bands(coordinates, speed, leg_length, mems):
    """``({coordinate: (pct, mean_deg, sd_deg)}, note)``; note says what was used or why there is no band."""
    from ..gait.normative import normative as norm_fn

    kw: dict = {}
    if isinstance(speed, str):
        kw = {"category": speed}
    else:
        v = speed
        if v is None:
            v = next((_sim.forward_speed(ds) for lab, ds in mems if _sim.is_baseline(lab)), None)
            if v is None and mems:
                v = _sim.forward_speed(mems[0][1])
        if v is not None and math.isfinite(float(v)) and float(v) > 0.05:
            kw = {"speed": float(v), "leg_length": float(leg_length or DEFAULT_LEG_LENGTH)}
    bands, errors, category = {}, [], None
    for c in coordinates:
        try:
            n = norm_fn(c, **kw)
        except TwinError as err:
            errors.append(f"{c}: {err}")
            continue
        except OSError as err:  # a download attempt without network
            errors.append(f"{c}: {err}")
            continue
        category = n.attrs.get("category")
        bands[c] = (n["cycle_pct"].values, np.rad2deg(n["mean"].values), np.rad2deg(n["sd"].values))
    if not bands:
        reason = errors[0] if errors else "no coordinate has normative data"
        if len(reason) > 120:
            reason = reason[:117] + "…"
        return {}, f"normative band omitted ({reason})"
    note = f"band: Schwartz 2008 {category} speed, mean ± 1 SD"
    if errors:
        note += f" (none for {', '.join(e.split(':')[0] for e in errors)})"
    return bands, note


# ----------------------------------------------------------------------------- gait curves
def gait_curves(data, *, coordinates: Sequence[str] = ("hip_flexion_r", "knee_angle_r", "ankle_angle_r"),
                normative: bool = True, speed: float | str | None = None, leg_length: float | None = None,
                events=None, baseline_label: str = "baseline", threshold: float = 0.05, title: str | None = None):
    """Mean gait-cycle curves of one or several labelled simulations or recordings, over the normative band.

    Parameters
    ----------
    data : xarray.Dataset, or mapping label -> Dataset
        Simulations (each member of a ``scenario``/``batch`` dim is one
        curve set), kinematics of recordings (with ``events=``), or curves
        already on ``cycle_pct``.
    coordinates : sequence of str, keyword-only
        One subplot each.
    normative : bool, keyword-only
        Draw the Schwartz 2008 band (omitted, and the title says why, when
        the data file is absent or the variable has none).
    speed : float or str, optional
        Walking speed [m/s] (with ``leg_length``) or a Schwartz speed group
        name (``"Free"``...) choosing the band. Default: the baseline's
        simulated forward speed, else ``"Free"``.
    leg_length : float, optional
        [m]; default 0.93 (the default body).
    events : Dataset or mapping label -> Dataset, optional
        Gait events of recordings (right foot strikes delimit the cycles).
    baseline_label : str, keyword-only
        The member drawn dark grey and solid.
    threshold : float, keyword-only
        Foot-strike threshold on the vertical GRF [body weights].
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta = {"label", "coordinate", "kind"}`` (kind:
        ``"mean"``, ``"sd"``, ``"normative"``). When a member has no complete
        gait cycle (e.g. a fall, or a very short run), all curves are drawn
        against time instead and the title says so.

    Raises
    ------
    ParameterError
        No ``q``, unknown coordinates, or a recording without events.

    Examples
    --------
    >>> fig = gait_curves({"sim": demo_simulation()}, normative=False, coordinates=("knee_angle_r",))
    >>> fig.layout.xaxis.title.text
    'gait cycle [%]'
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    coordinates = list(coordinates)
    if not coordinates:
        raise ParameterError("coordinates is empty; name at least one coordinate (e.g. 'knee_angle_r')")
    mems = _sim.members(data, baseline_label=baseline_label)
    results = [(lab, *_member_cycles(lab, ds, coordinates, events, threshold)) for lab, ds in mems]
    time_mode = any(r[1] == "time" for r in results)
    dropped = []
    if time_mode:  # one member without cycles: everybody against time (cycle-only members left out)
        results = []
        for lab, ds in mems:
            if "time" not in ds.dims or "q" not in ds:
                dropped.append(lab)
                continue
            t = ds["time"].values
            keep = t <= _sim.valid_time(ds) + 1e-12
            results.append((lab, "time", t[keep], {c: (_display(ds, c, ds["q"].sel(coordinate=c).values[keep])[0],
                                                        None) for c in coordinates}, 0))
    colour = _sim.colours([r[0] for r in results], baseline_label)
    fig = make_subplots(rows=1, cols=len(coordinates), subplot_titles=[_hint(c) for c in coordinates],
                        horizontal_spacing=0.07)
    note = ""
    if normative and not time_mode:
        bands, note = _normative_bands(coordinates, speed, leg_length, mems)
        for j, c in enumerate(coordinates):
            if c not in bands:
                continue
            pct, mean, sd = bands[c]
            fig.add_trace(go.Scatter(x=np.concatenate([pct, pct[::-1]]), y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                                     fill="toself", fillcolor="rgba(128,128,128,0.22)", line={"width": 0},
                                     name="normative ±1 SD", legendgroup="normative", showlegend=j == 0,
                                     hoverinfo="skip", meta={"label": "normative", "coordinate": c, "kind": "normative"}),
                          row=1, col=j + 1)
    elif normative:
        note = "normative band omitted (curves against time)"
    if dropped:
        note = (note + "; " if note else "") + f"not shown (gait-cycle data only): {', '.join(map(str, dropped))}"
    for lab, mode, x, curves, n in results:
        base = _sim.is_baseline(lab, baseline_label)
        for j, c in enumerate(coordinates):
            mean, sd = curves[c]
            if sd is not None:
                fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                                         fill="toself", fillcolor=_rgba(colour[lab], 0.12), line={"width": 0},
                                         showlegend=False, hoverinfo="skip", legendgroup=lab,
                                         meta={"label": lab, "coordinate": c, "kind": "sd"}), row=1, col=j + 1)
            name = lab if time_mode else f"{lab} ({n} cycle{'s' if n != 1 else ''})"
            fig.add_trace(go.Scatter(x=x, y=mean, mode="lines", name=name, legendgroup=lab, showlegend=j == 0,
                                     line={"color": colour[lab], "width": 3 if base else 2},
                                     meta={"label": lab, "coordinate": c, "kind": "mean"}), row=1, col=j + 1)
    xt = "time [s]" if time_mode else "gait cycle [%]"
    for j in range(len(coordinates)):
        fig.update_xaxes(title_text=xt, row=1, col=j + 1)
    fig.update_yaxes(title_text="angle [deg]", row=1, col=1)
    if title is None:
        title = ("Joint angles against time: no complete gait cycle detected (right-foot strikes at "
                 f"{threshold * 100:g} % BW)") if time_mode else "Joint angles over the gait cycle (mean of right strides)"
    full = f"{title}<br><sup>{note}</sup>" if note else title
    fig.update_layout(title={"text": full, "y": 0.97, "yanchor": "top"}, height=420,
                      legend={"orientation": "h", "y": -0.2}, **{**_LAYOUT, "margin": {"t": 100, "b": 45, "l": 60, "r": 20}})
    fig.layout.meta = {"mode": "time" if time_mode else "cycle", "note": note}
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ----------------------------------------------------------------------------- skeleton
@lru_cache(maxsize=2)
def _default_params():
    import torch

    from ..control.sim import walking_params

    return walking_params(batch=1, dtype=torch.float64)


def _pick(mems, member):
    labels = [m[0] for m in mems]
    if isinstance(member, (int, np.integer)) and not isinstance(member, bool):
        if not -len(mems) <= member < len(mems):
            raise ParameterError(f"member={member} is out of range; the data have {len(mems)} members: {labels}")
        return [mems[member]]
    if isinstance(member, str):
        if member not in labels:
            raise ParameterError(f"member={member!r} not found; members are {labels}")
        return [mems[labels.index(member)]]
    if isinstance(member, (list, tuple)):
        return [x for m in member for x in _pick(mems, m)]
    raise ParameterError(f"member must be an int, a label or a list of them, not {type(member).__name__}")


def _stick_points(params, ds: xr.Dataset, every: int):
    """Per frame ``[T, K, 2]`` polyline points of (trunk+pelvis, right leg, left leg) and the frame times."""
    import torch

    from ..engine.multibody import kinematics

    names = list(params.coordinate_names)
    have = _coord_names(ds)
    t = ds["time"].values
    keep = np.nonzero(t <= _sim.valid_time(ds) + 1e-12)[0][::every]
    if keep.size == 0:
        raise ParameterError("the simulation has no time samples to animate")
    q = np.repeat(params.q_default.detach().cpu().numpy()[:1].astype(float), keep.size, 0)
    qv = ds["q"].values[keep]
    for j, c in enumerate(names):
        if c in have:
            q[:, j] = qv[:, have.index(c)]
    missing = [c for c in ("pelvis_tx", "pelvis_ty", "hip_flexion_r", "knee_angle_r") if c not in have]
    if missing:
        raise ParameterError(f"cannot draw a stick figure: the data lack {', '.join(missing)}")
    pr = params.repeat(keep.size)
    qt = torch.as_tensor(q, dtype=params.dtype)
    with torch.no_grad():
        k = kinematics(pr, qt, torch.zeros_like(qt))
    p = k.p.cpu().numpy()  # [T, N, 2]
    c_, s_ = k.cos.cpu().numpy(), k.sin.cpu().numpy()

    def world(body: int, r) -> np.ndarray:
        return p[:, body] + np.stack([c_[:, body] * r[0] - s_[:, body] * r[1],
                                      s_[:, body] * r[0] + c_[:, body] * r[1]], -1)

    pel = params.body_index("pelvis")
    trunk_top = world(pel, (-0.10, 0.62))
    legs = []
    groups = [str(g) for g in params.contact_group_names]
    cr = params.contact_r[0].cpu().numpy()
    cb = params.contact_body.cpu().numpy()
    cg = params.contact_group.cpu().numpy()
    for side in ("r", "l"):
        hip, knee, ankle = (p[:, params.body_index(b)] for b in (f"femur_{side}", f"tibia_{side}", f"talus_{side}"))
        gname = "right" if side == "r" else "left"
        pts = [hip, knee, ankle]
        if gname in groups:
            idx = np.nonzero(cg[groups.index(gname)] > 0)[0]
            idx = idx[np.argsort(cr[idx, 0])]  # heel (back) first
            pts += [world(int(cb[i]), cr[i, :2]) for i in idx] + [ankle]
        legs.append(np.stack(pts, 1))
    hip_r = p[:, params.body_index("femur_r")]
    trunk = np.stack([trunk_top, p[:, pel], hip_r], 1)
    return trunk, legs[0], legs[1], t[keep]


def skeleton_animation(data, *, member=0, every: int = 4, params=None, follow: bool = True,
                       baseline_label: str = "baseline", title: str | None = None):
    """A 2-D sagittal stick-figure animation (play button and time slider) of simulated or recorded motion.

    Body positions come from the engine's forward kinematics
    (:func:`twin.engine.multibody.kinematics`) of ``q`` on ``params``.

    Parameters
    ----------
    data : xarray.Dataset or mapping label -> Dataset
        A simulation (any member dims) or kinematics ``q(time, coordinate)``
        with the planar coordinates (``pelvis_tilt``, ``pelvis_tx``,
        ``pelvis_ty``, hips, knees, ankles; missing ones stay at default).
    member : int, str or list, keyword-only
        Member index or label; a list overlays several (e.g. baseline and a
        scenario).
    every : int, keyword-only
        Use every this many time samples as one frame.
    params : EngineParams, optional
        The body (default: the default walking body,
        :func:`twin.control.sim.walking_params`).
    follow : bool, keyword-only
        The view follows the pelvis (else it shows the whole walk).
    baseline_label : str, keyword-only
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        ``frames`` hold one frame per time sample used; right leg solid,
        left leg dotted, trunk and pelvis in the member's colour.

    Examples
    --------
    >>> fig = skeleton_animation(demo_simulation(), member=[0, 1], every=20)
    >>> len(fig.frames) > 1, fig.layout.updatemenus[0].buttons[0].label
    (True, 'Play')
    """
    import plotly.graph_objects as go

    if not isinstance(every, (int, np.integer)) or every < 1:
        raise ParameterError(f"every={every!r} must be a positive int")
    mems = _sim.members(data, baseline_label=baseline_label)
    chosen = _pick(mems, member)
    params = params if params is not None else _default_params()
    if params.batch_size != 1:
        params = params.select([0])
    colour = _sim.colours([m[0] for m in mems], baseline_label)
    drawn = []
    for lab, ds in chosen:
        trunk, right, left, times = _stick_points(params, ds, every)
        drawn.append((lab, trunk, right, left, times))
    n_frames = max(len(d[4]) for d in drawn)
    dt_frame = float(np.median(np.diff(drawn[0][4]))) if len(drawn[0][4]) > 1 else 0.05

    def traces(i: int, styled: bool = True):
        # frames carry only what changes (styled=False: the points); plotly merges them into the styled traces
        out = []
        for lab, trunk, right, left, times in drawn:
            k = min(i, len(times) - 1)
            col = colour[lab]
            parts = ((trunk, dict(name=f"{lab}", line={"color": col, "width": 5}, marker={"size": 5},
                                  meta={"label": lab, "part": "trunk"})),
                     (right, dict(name=f"{lab} right", showlegend=False, line={"color": col, "width": 4},
                                  marker={"size": 5}, meta={"label": lab, "part": "right leg"})),
                     (left, dict(name=f"{lab} left", showlegend=False,
                                 line={"color": col, "width": 3, "dash": "dot"}, marker={"size": 4}, opacity=0.7,
                                 meta={"label": lab, "part": "left leg"})))
            for pts, style in parts:
                extra = dict(mode="lines+markers", legendgroup=lab, **style) if styled else {}
                out.append(go.Scatter(x=pts[k, :, 0], y=pts[k, :, 1], **extra))
        return out

    allx = np.concatenate([np.concatenate([d[1][..., 0].ravel(), d[2][..., 0].ravel(), d[3][..., 0].ravel()])
                           for d in drawn])
    lo, hi = float(np.nanmin(allx)) - 0.3, float(np.nanmax(allx)) + 0.3
    ground = go.Scatter(x=[lo - 5, hi + 5], y=[0, 0], mode="lines", line={"color": "#8c6d46", "width": 2},
                        hoverinfo="skip", showlegend=False, meta={"part": "ground"})
    ticks = np.arange(math.floor(lo) - 5, math.ceil(hi) + 5, 0.25)
    marks = go.Scatter(x=ticks, y=np.zeros_like(ticks), mode="markers", marker={"symbol": "line-ns-open", "size": 8,
                       "color": "#8c6d46"}, hoverinfo="skip", showlegend=False, meta={"part": "ground marks"})
    fig = go.Figure(data=[ground, marks] + traces(0))
    dyn = list(range(2, 2 + 3 * len(drawn)))

    def centre(i: int) -> float:
        return float(np.mean([d[1][min(i, len(d[4]) - 1), 1, 0] for d in drawn]))

    half = 1.1
    frames = []
    for i in range(n_frames):
        t = drawn[0][4][min(i, len(drawn[0][4]) - 1)]
        lay = {"xaxis": {"range": [centre(i) - half, centre(i) + half]}} if follow else {}
        frames.append(go.Frame(data=traces(i, styled=False), traces=dyn, name=f"{t:.2f}", layout=lay))
    fig.frames = frames
    ms = max(20, int(round(dt_frame * 1000)))
    play = {"label": "Play", "method": "animate",
            "args": [None, {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True,
                            "transition": {"duration": 0}}]}
    pause = {"label": "Pause", "method": "animate",
             "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}
    steps = [{"label": f.name, "method": "animate",
              "args": [[f.name], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}]} for f in frames]
    xr0 = [centre(0) - half, centre(0) + half] if follow else [lo, hi]
    labels = ", ".join(d[0] for d in drawn)
    fig.update_layout(
        title=title or f"Sagittal stick figure ({labels}; right leg solid, left dotted)",
        height=430, xaxis={"range": xr0, "title": "forward [m]", "zeroline": False, "constrain": "domain"},
        yaxis={"range": [-0.1, 1.85], "title": "up [m]", "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0.0, "y": -0.12, "xanchor": "left",
                      "direction": "left", "buttons": [play, pause]}],
        sliders=[{"active": 0, "steps": steps, "x": 0.18, "len": 0.8, "y": -0.08,
                  "currentvalue": {"prefix": "t = ", "suffix": " s"}}],
        **{**_LAYOUT, "margin": {"t": 50, "b": 90, "l": 50, "r": 20}})
    return fig


# ----------------------------------------------------------------------------- GRF
def grf_figure(data, *, x: str = "time", baseline_label: str = "baseline", threshold: float = 0.05,
               title: str | None = None):
    """Vertical and horizontal ground reaction force per side, in body weights.

    Parameters
    ----------
    data : xarray.Dataset or mapping label -> Dataset
        Simulations (``grf(…, time, side, axis)`` in N) or recordings whose
        ``grf`` has a ``side`` dim.
    x : {"time", "cycle"}, keyword-only
        Against time, or the mean over right strides (0-100 %; falls back to
        time, saying so in the title, when a member has no complete stride).
    baseline_label, threshold : keyword-only
        As in :func:`gait_curves`.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Two rows (vertical, horizontal); right side solid, left dashed.

    Examples
    --------
    >>> fig = grf_figure(demo_simulation())
    >>> fig.layout.yaxis.title.text
    'vertical [BW]'
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..errors import check_param

    check_param("x", x, choices=("time", "cycle"))
    mems = _sim.members(data, baseline_label=baseline_label)
    for lab, ds in mems:
        if "grf" not in ds or "side" not in ds["grf"].dims:
            raise ParameterError(f"{lab!r}: no grf(time, side, axis) variable")
    mode = x
    bounds = {}
    if x == "cycle":
        bounds = {lab: _sim.cycles_of(ds, threshold=threshold) for lab, ds in mems}
        if not all(bounds.values()):
            mode = "time"
    colour = _sim.colours([m[0] for m in mems], baseline_label)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for lab, ds in mems:
        bw = _sim.body_weight(ds)
        t = ds["time"].values
        for side in [str(s) for s in ds["side"].values]:
            for row, axis in ((1, "y"), (2, "x")):
                y = ds["grf"].sel(side=side, axis=axis).values / bw
                if mode == "cycle":
                    xs, y = np.linspace(0, 100, 101), _sim.normalise(t, y, bounds[lab]).mean(0)
                else:
                    keep = t <= _sim.valid_time(ds) + 1e-12
                    xs, y = t[keep], y[keep]
                fig.add_trace(go.Scatter(x=xs, y=y, mode="lines", name=f"{lab} {side}", legendgroup=lab,
                                         showlegend=row == 1, line={"color": colour[lab],
                                                                    "dash": "solid" if side in ("right", "r") else "dash"},
                                         meta={"label": lab, "side": side, "axis": axis}), row=row, col=1)
    fig.update_yaxes(title_text="vertical [BW]", row=1, col=1)
    fig.update_yaxes(title_text="horizontal (forward +) [BW]", row=2, col=1)
    fig.update_xaxes(title_text="gait cycle [%]" if mode == "cycle" else "time [s]", row=2, col=1)
    if title is None:
        title = "Ground reaction force (right solid, left dashed)"
        if x == "cycle" and mode == "time":
            title += " — against time: no complete right stride"
    fig.update_layout(title=title, height=440, **_LAYOUT)
    return fig


# ----------------------------------------------------------------------------- muscles
def muscle_heatmap(data, *, member=None, variable: str | None = None, x: str = "time",
                   baseline_label: str = "baseline", threshold: float = 0.05, max_members: int = 4,
                   title: str | None = None):
    """Muscle activation (or excitation) as a heat map, muscle × time (or × gait cycle), one row per member.

    Parameters
    ----------
    data : xarray.Dataset or mapping label -> Dataset
    member : int, str or list, optional
        Which members (default: the first ``max_members``).
    variable : {"activation", "excitation"}, optional
        Default: activation when present, else excitation.
    x : {"time", "cycle"}, keyword-only
        Against time or the mean over right strides (falls back to time).
    baseline_label, threshold, max_members, title : keyword-only

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = muscle_heatmap(demo_simulation())
    >>> fig.data[0].type, len(fig.data)
    ('heatmap', 2)
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..errors import check_param

    check_param("x", x, choices=("time", "cycle"))
    mems = _sim.members(data, baseline_label=baseline_label)
    chosen = _pick(mems, member) if member is not None else mems[:max_members]
    var = variable
    if var is None:
        var = "activation" if all("activation" in ds for _, ds in chosen) else "excitation"
    check_param("variable", var, choices=("activation", "excitation"))
    for lab, ds in chosen:
        if var not in ds:
            raise ParameterError(f"{lab!r}: the Dataset has no {var} variable")
    mode = x
    if x == "cycle" and not all(_sim.cycles_of(ds, threshold=threshold) for _, ds in chosen):
        mode = "time"
    fig = make_subplots(rows=len(chosen), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[lab for lab, _ in chosen])
    for i, (lab, ds) in enumerate(chosen):
        t = ds["time"].values
        z = ds[var].transpose("time", "muscle").values
        if mode == "cycle":
            xs, z = np.linspace(0, 100, 101), _sim.normalise(t, z, _sim.cycles_of(ds, threshold=threshold)).mean(0)
        else:
            keep = t <= _sim.valid_time(ds) + 1e-12
            xs, z = t[keep], z[keep]
        fig.add_trace(go.Heatmap(x=xs, y=[str(m) for m in ds["muscle"].values], z=z.T, zmin=0.0, zmax=1.0,
                                 coloraxis="coloraxis", name=lab, meta={"label": lab, "variable": var}),
                      row=i + 1, col=1)
    fig.update_xaxes(title_text="gait cycle [%]" if mode == "cycle" else "time [s]", row=len(chosen), col=1)
    fig.update_yaxes(dtick=1, tickfont={"size": 9})
    fig.update_layout(title=title or f"Muscle {var} (0-1)" + (" — against time: no complete right stride"
                                                             if x == "cycle" and mode == "time" else ""),
                      height=180 + 260 * len(chosen), coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": 1,
                                                                   "colorbar": {"title": {"text": var}}}, **_LAYOUT)
    return fig


# ----------------------------------------------------------------------------- metrics
def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "–" if math.isnan(f) else ("∞" if f > 0 else "−∞")
    if abs(f) < 1e-9:
        return "0"
    if f != 0 and (abs(f) >= 1e4 or abs(f) < 1e-2):
        return f"{f:.3g}"
    return f"{f:.3g}" if abs(f) < 100 else f"{f:.0f}"


def _metric_rows(metrics, coordinates: Sequence[str] = ()) -> tuple[list[str], list[tuple[str, str, list]]]:
    """``(member labels, [(name, units, values per member)])``."""
    if isinstance(metrics, xr.Dataset):
        mems = _sim.members(metrics)
        labels = [m[0] for m in mems]
        rows = []
        for name, da in metrics.data_vars.items():
            extra = [d for d in da.dims if d not in _sim.MEMBER_DIMS]
            label, units = str(name).replace("_", " "), str(da.attrs.get("units", ""))
            if not extra:
                rows.append((label, units, [ds[name].values.item() for _, ds in mems]))
            elif len(extra) == 1:  # one row per side (or per chosen coordinate)
                dim = extra[0]
                keys = [str(k) for k in metrics[dim].values]
                if dim == "coordinate":
                    keys = [k for k in coordinates if k in keys]
                elif len(keys) > 4:
                    continue
                for k in keys:
                    rows.append((f"{label} ({k})", units, [ds[name].sel({dim: k}).values.item() for _, ds in mems]))
        return labels, rows
    if isinstance(metrics, Mapping):
        if not metrics:
            raise ParameterError("metrics is empty")
        labels = [str(k) for k in metrics]
        names: list[str] = []
        units: dict[str, str] = {}
        per: dict[str, dict] = {}
        for lab, m in metrics.items():
            if isinstance(m, xr.Dataset):
                m = {str(k).replace("_", " "): (m[k].values.item(), str(m[k].attrs.get("units", "")))
                     for k in m.data_vars if m[k].ndim == 0}
            if not isinstance(m, Mapping):
                raise ParameterError(f"metrics[{lab!r}] must be a mapping name -> value (or (value, units)) or a "
                                     f"Dataset, not {type(m).__name__}")
            per[str(lab)] = {}
            for k, v in m.items():
                if isinstance(v, tuple) and len(v) == 2:
                    v, u = v
                    units.setdefault(k, str(u))
                if k not in names:
                    names.append(k)
                per[str(lab)][k] = v
        return labels, [(k, units.get(k, ""), [per[lab].get(k, float("nan")) for lab in labels]) for k in names]
    raise ParameterError(f"metrics must be an xarray.Dataset or a mapping label -> metrics, not {type(metrics).__name__}")


def metrics_table(metrics, *, title: str = "Gait metrics", baseline_label: str = "baseline",
                  coordinates: Sequence[str] = ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")):
    """A table of gait metrics per member (scenario), with units.

    Parameters
    ----------
    metrics : xarray.Dataset or mapping
        A metrics Dataset with a ``scenario`` (and/or ``batch``) dim and one
        scalar variable per metric (with a ``units`` attr; e.g.
        :func:`twin.viz.summary.simulation_summary`), or ``{label: {name:
        value or (value, units)}}``, or ``{label: Dataset of scalars}``.
        Variables with one more dim get one row per entry (``side``: each
        side; ``coordinate``: those in ``coordinates``); variables with more
        dims are left out. Rows are named by the variable (``_`` as spaces).
    title : str, keyword-only
    baseline_label : str, keyword-only
        The baseline's column is shaded.
    coordinates : sequence of str, keyword-only
        Coordinates whose per-coordinate measures (e.g. range of motion) get rows.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Table`` (columns: metric, units, one per member); its
        ``meta`` holds the formatted rows.

    Examples
    --------
    >>> fig = metrics_table({"baseline": {"speed": (1.2, "m/s")}, "weak": {"speed": (0.9, "m/s")}})
    >>> fig.layout.meta["rows"]
    [['speed', 'm/s', '1.2', '0.9']]
    """
    import plotly.graph_objects as go

    labels, rows = _metric_rows(metrics, coordinates)
    header = ["metric", "units", *labels]
    cols = [[r[0] for r in rows], [r[1] for r in rows]] + [[_fmt(r[2][i]) for r in rows] for i in range(len(labels))]
    fills = ["#f3f3f3", "#f3f3f3"] + ["#ececec" if _sim.is_baseline(lab, baseline_label) else "white" for lab in labels]
    fig = go.Figure(go.Table(header={"values": [f"<b>{h}</b>" for h in header], "align": "left",
                                     "fill_color": "#dde6f0"},
                             cells={"values": cols, "align": "left", "fill_color": fills, "height": 24}))
    fig.update_layout(title=title, height=110 + 26 * max(len(rows), 1), margin={"t": 45, "b": 10, "l": 10, "r": 10})
    fig.layout.meta = {"rows": [[c[i] for c in cols] for i in range(len(rows))], "header": header}
    return fig


# ----------------------------------------------------------------------------- synthetic data
def demo_simulation(*, duration: float = 3.0, rate: float = 100.0) -> xr.Dataset:
    """A small synthetic simulation Dataset (baseline + one scenario), for examples and tests; no engine.

    Sinusoidal joint angles, a GRF that loads each foot 60 % of a 1.1 s
    stride, and activations; the scenario has 8 deg less ankle
    plantarflexion at push-off. Not physics: only a shape-correct input.

    Examples
    --------
    >>> ds = demo_simulation()
    >>> ds.q.dims, ds.scenario.values.tolist()
    (('scenario', 'time', 'coordinate'), ['baseline', 'weak plantarflexors'])
    """
    t = np.arange(0.0, duration, 1.0 / rate)
    stride = 1.1
    coords = ["pelvis_tilt", "pelvis_tx", "pelvis_ty", "hip_flexion_r", "knee_angle_r", "ankle_angle_r",
              "hip_flexion_l", "knee_angle_l", "ankle_angle_l"]
    muscles = [f"{m}_{s}" for s in ("r", "l") for m in ("hamstrings", "bifemsh", "glut_max", "iliopsoas", "rect_fem",
                                                         "vasti", "gastroc", "soleus", "tib_ant")]
    n_s = 2
    q = np.zeros((n_s, t.size, len(coords)))
    grf = np.zeros((n_s, t.size, 2, 3))
    act = np.zeros((n_s, t.size, len(muscles)))
    mass = 75.0
    for k in range(n_s):
        for side, shift in (("r", 0.0), ("l", 0.5)):
            ph = 2 * np.pi * (t / stride - shift)
            base = 3 if side == "r" else 6
            q[k, :, base] = np.deg2rad(15 + 25 * np.cos(ph))
            q[k, :, base + 1] = -np.deg2rad(30 - 28 * np.cos(ph - 0.6) - 6 * np.cos(2 * ph))
            push = 8.0 if k == 1 else 16.0
            q[k, :, base + 2] = np.deg2rad(2 + 6 * np.sin(ph) - push * np.exp(-((np.mod(ph, 2 * np.pi) - 3.8) ** 2)))
            load = ((t / stride - shift) % 1.0) < 0.6
            frac = ((t / stride - shift) % 1.0) / 0.6
            fy = np.where(load, mass * G * (0.9 + 0.25 * np.sin(np.pi * frac) ** 2 * np.cos(2 * np.pi * frac)), 0.0)
            grf[k, :, 0 if side == "r" else 1, 1] = fy
            grf[k, :, 0 if side == "r" else 1, 0] = np.where(load, -0.2 * mass * G * np.sin(2 * np.pi * frac), 0.0)
            for j, m in enumerate(muscles):
                if m.endswith(side):
                    act[k, :, j] = 0.05 + 0.4 * np.clip(np.sin(ph + j), 0, None) ** 2 * (0.6 if k and "sol" in m else 1)
        q[k, :, 1] = 1.2 * t
        q[k, :, 2] = 0.95 + 0.02 * np.cos(4 * np.pi * t / stride)
    rot = ["translational" if c in ("pelvis_tx", "pelvis_ty") else "rotational" for c in coords]
    return xr.Dataset(
        {"q": (("scenario", "time", "coordinate"), q, {"units": "rad or m (see coordinate_type)",
                                                         "long_name": "generalized coordinate"}),
         "grf": (("scenario", "time", "side", "axis"), grf, {"units": "N", "long_name": "ground reaction force"}),
         "activation": (("scenario", "time", "muscle"), act, {"units": "1", "long_name": "muscle activation"}),
         "body_mass": (("scenario",), np.full(n_s, mass), {"units": "kg", "long_name": "body mass"})},
        coords={"scenario": ["baseline", "weak plantarflexors"], "time": ("time", t, {"units": "s"}),
                "coordinate": coords, "coordinate_type": ("coordinate", rot), "muscle": muscles,
                "side": ["right", "left"], "axis": ["x", "y", "z"]},
        attrs={"kind": "simulation", "source": "twin.viz.figures.demo_simulation (synthetic, not physics)",
               "history": ""})
