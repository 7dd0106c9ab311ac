"""Gait-cycle curves against a normative band (plotly)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..errors import ParameterError

__all__ = ["cycle_figure"]

_SIDE_COLOURS = {"left": "#d62728", "right": "#1f77b4", "": "#2ca02c"}


def _to_display(values: np.ndarray, units: str) -> tuple[np.ndarray, str]:
    if units.startswith("rad"):
        return np.rad2deg(values), "deg"
    return values, units


def cycle_figure(
    curves: Mapping[str, xr.DataArray],
    *,
    norm: xr.Dataset | None = None,
    title: str = "",
    k: float = 1.0,
):
    """A figure of gait-cycle curves, one colour per side, over a normative mean ± k·SD band.

    Parameters
    ----------
    curves : mapping side -> DataArray
        Each ``(cycle, cycle_pct)`` (or ``(cycle_pct,)``) with a ``units`` attr.
        Angles in rad are shown in degrees.
    norm : xarray.Dataset, optional
        ``mean`` and ``sd`` on ``cycle_pct`` in the same units as the curves.
    title : str
        Figure title (e.g. the joint).
    k : float, default 1.0
        Band half-width in SDs.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> pct = np.linspace(0, 100, 101)
    >>> da = xr.DataArray(np.sin(pct / 16)[None], dims=("cycle", "cycle_pct"),
    ...                   coords={"cycle_pct": pct}, attrs={"units": "rad"})
    >>> fig = cycle_figure({"right": da}, title="knee flexion")
    >>> len(fig.data)
    1
    """
    import plotly.graph_objects as go

    if not curves:
        raise ParameterError("cycle_figure: no curves given")
    fig = go.Figure()
    units = "?"
    if norm is not None:
        pct = norm["cycle_pct"].values
        mean, units = _to_display(norm["mean"].values, norm["mean"].attrs.get("units", ""))
        sd, _ = _to_display(norm["sd"].values, norm["mean"].attrs.get("units", ""))
        fig.add_trace(go.Scatter(x=np.concatenate([pct, pct[::-1]]),
                                 y=np.concatenate([mean + k * sd, (mean - k * sd)[::-1]]),
                                 fill="toself", fillcolor="rgba(128,128,128,0.25)", line={"width": 0},
                                 name=f"normative ±{k:g} SD", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=pct, y=mean, line={"color": "grey", "dash": "dash"}, name="normative mean"))
    for side, da in curves.items():
        if "cycle_pct" not in da.dims:
            raise ParameterError(f"cycle_figure: curves[{side!r}] has no cycle_pct dim (dims {da.dims})")
        da2 = da if "cycle" in da.dims else da.expand_dims("cycle")
        values, units = _to_display(da2.transpose("cycle", "cycle_pct").values, da.attrs.get("units", ""))
        pct = da2["cycle_pct"].values
        colour = _SIDE_COLOURS.get(side, None)
        for i, row in enumerate(values):
            fig.add_trace(go.Scatter(x=pct, y=row, mode="lines", line={"color": colour},
                                     name=f"{side} cycle {i + 1}", legendgroup=side, opacity=0.8))
    fig.update_layout(title=title, xaxis_title="gait cycle [%]", yaxis_title=f"[{units}]",
                      template="plotly_white", height=360, margin={"t": 50, "b": 40, "l": 60, "r": 20})
    return fig
