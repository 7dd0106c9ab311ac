"""OpenSim's ``SimmSpline`` (cubic spline with Forsythe-Malcolm-Moler end conditions), batched.

Coefficients are computed once, in NumPy, by :func:`simm_coefficients` (the
algorithm of Forsythe, Malcolm & Moler 1977, ``spline``: the third derivative
at each end matches that of the cubic through the four end knots; this is
what OpenSim's ``SimmSpline::calcCoefficients`` implements). Evaluation,
:func:`evaluate`, is a pure tensor function of many splines at once with
value, first and second derivative; outside the knots the spline is extended
linearly with the end slopes, as in OpenSim.

Examples
--------
>>> import numpy as np
>>> b, c, d = simm_coefficients([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 8.0, 27.0])
>>> np.allclose(d[:3], 1.0)   # a cubic is reproduced exactly
True
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["simm_coefficients", "value", "pack", "evaluate", "evaluate_bl"]

_TINY = 1e-5  # OpenSim's TINY_NUMBER


def value(x, y, t: float) -> float:
    """The SimmSpline through ``(x, y)`` at ``t`` (NumPy, for build-time constants)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    b, c, d = simm_coefficients(x, y)
    if t < x[0]:
        return float(y[0] + (t - x[0]) * b[0])
    if t > x[-1]:
        return float(y[-1] + (t - x[-1]) * b[-1])
    k = int(min(max(np.searchsorted(x, t, side="right") - 1, 0), len(x) - 2))
    h = t - x[k]
    return float(y[k] + h * (b[k] + h * (c[k] + h * d[k])))


def simm_coefficients(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cubic coefficients ``(b, c, d)`` so that ``s(t) = y_k + b_k h + c_k h^2 + d_k h^3``, ``h = t - x_k``.

    Parameters
    ----------
    x, y : sequence of float
        At least two knots, ``x`` increasing.

    Returns
    -------
    b, c, d : numpy.ndarray
        One entry per knot (the last entries give the end slope ``b[-1]``).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    b = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    if n == 2:
        t = max(_TINY, x[1] - x[0])
        b[:] = (y[1] - y[0]) / t
        return b, c, d
    nm1, nm2 = n - 1, n - 2
    d[0] = max(_TINY, x[1] - x[0])
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, nm1):
        d[i] = max(_TINY, x[i + 1] - x[i])
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0] = -d[0]
    b[nm1] = -d[nm2]
    c[0] = 0.0
    c[nm1] = 0.0
    if n > 3:
        d31 = max(_TINY, x[3] - x[1])
        d20 = max(_TINY, x[2] - x[0])
        d1 = max(_TINY, x[nm1] - x[n - 3])
        d2 = max(_TINY, x[nm2] - x[n - 4])
        d30 = max(_TINY, x[3] - x[0])
        d3 = max(_TINY, x[nm1] - x[n - 4])
        c[0] = c[2] / d31 - c[1] / d20
        c[nm1] = c[nm2] / d1 - c[n - 3] / d2
        c[0] = c[0] * d[0] * d[0] / d30
        c[nm1] = -c[nm1] * d[nm2] * d[nm2] / d3
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] -= t * d[i - 1]
        c[i] -= t * c[i - 1]
    c[nm1] /= b[nm1]
    for j in range(nm1):
        i = nm2 - j
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[nm1] = (y[nm1] - y[nm2]) / d[nm2] + d[nm2] * (c[nm2] + 2.0 * c[nm1])
    for i in range(nm1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] *= 3.0
    c[nm1] *= 3.0
    d[nm1] = d[nm2]
    return b, c, d


def pack(knots: list[tuple]) -> dict[str, np.ndarray]:
    """Pack many splines (list of ``(x, y)``) into padded arrays ``[S, K]``.

    Padding knots are ``+inf`` so they are never selected. Also returns the
    last-knot values used for extrapolation.
    """
    k = max(len(x) for x, _ in knots) if knots else 2
    s = len(knots)
    out = {name: np.zeros((s, k)) for name in ("y", "b", "c", "d")}
    out["x"] = np.full((s, k), np.inf)
    out["x_last"] = np.zeros(s)
    out["y_last"] = np.zeros(s)
    out["b_last"] = np.zeros(s)
    for i, (x, y) in enumerate(knots):
        b, c, d = simm_coefficients(x, y)
        n = len(x)
        out["x"][i, :n] = x
        out["y"][i, :n] = y
        out["b"][i, :n] = b
        out["c"][i, :n] = c
        out["d"][i, :n] = d
        # the last interval is [x[n-2], x[n-1]]: mark x[n-1] as padding so the
        # interval search stops at n-2; extrapolation uses the *_last values
        out["x"][i, n - 1] = np.inf
        out["x_last"][i] = x[-1]
        out["y_last"][i] = y[-1]
        out["b_last"][i] = b[-1]
    return out


def evaluate(t: torch.Tensor, x: torch.Tensor, y: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
             d: torch.Tensor, x_last: torch.Tensor, y_last: torch.Tensor, b_last: torch.Tensor):
    """Value, first and second derivative of S splines at one abscissa each.

    Parameters
    ----------
    t : Tensor [B, S]
        Abscissae (coordinate values).
    x, y, b, c, d : Tensor [B, S, K]
        Knots (``+inf`` padded, last knot also ``+inf``) and coefficients from :func:`pack`.
    x_last, y_last, b_last : Tensor [B, S]
        Last knot, its value and end slope.

    Returns
    -------
    f, df, ddf : Tensor [B, S]
    """
    # interval k: last knot <= t (first knot if t is below it)
    below = t < x[..., 0]
    k = ((t.unsqueeze(-1) >= x).sum(-1) - 1).clamp(min=0)
    kk = k.unsqueeze(-1)
    xk = torch.gather(x, -1, kk).squeeze(-1)
    yk = torch.gather(y, -1, kk).squeeze(-1)
    bk = torch.gather(b, -1, kk).squeeze(-1)
    ck = torch.gather(c, -1, kk).squeeze(-1)
    dk = torch.gather(d, -1, kk).squeeze(-1)
    h = t - xk
    f = yk + h * (bk + h * (ck + h * dk))
    df = bk + h * (2.0 * ck + 3.0 * h * dk)
    ddf = 2.0 * ck + 6.0 * h * dk
    x0, y0, b0 = x[..., 0], y[..., 0], b[..., 0]
    above = t > x_last
    zero = torch.zeros_like(f)
    f = torch.where(below, y0 + (t - x0) * b0, torch.where(above, y_last + (t - x_last) * b_last, f))
    df = torch.where(below, b0, torch.where(above, b_last, df))
    ddf = torch.where(below | above, zero, ddf)
    return f, df, ddf


def evaluate_bl(t: torch.Tensor, x: torch.Tensor, y: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                d: torch.Tensor, x_last: torch.Tensor, y_last: torch.Tensor, b_last: torch.Tensor):
    """:func:`evaluate` with the batch last: ``t`` [S, B], knots/coefficients [S, K, B], ends [S, B].

    Knots, coefficients and ends may also be ``[S, K, 1]`` / ``[S, 1]`` (one
    body shared by the batch): they broadcast against ``t``.
    """
    below = t < x[:, 0]
    if torch.compiler.is_compiling():
        # the knot count unrolled: one pointwise kernel vectorised over the batch (a reduction over
        # the knots of shared [S, K, 1] knots would be vectorised over the knots instead)
        count = torch.zeros_like(t, dtype=torch.long)
        for j in range(x.shape[1]):
            count = count + (t >= x[:, j]).long()
    else:
        count = (t.unsqueeze(1) >= x).sum(1)
    k = (count - 1).clamp(min=0)
    kk = k.unsqueeze(1)
    full = (x.shape[0], x.shape[1], t.shape[-1])  # gather needs the batch size of the index (views, no copies)
    x, y, b, c, d = (v.expand(full) for v in (x, y, b, c, d))
    xk = torch.gather(x, 1, kk).squeeze(1)
    yk = torch.gather(y, 1, kk).squeeze(1)
    bk = torch.gather(b, 1, kk).squeeze(1)
    ck = torch.gather(c, 1, kk).squeeze(1)
    dk = torch.gather(d, 1, kk).squeeze(1)
    h = t - xk
    f = yk + h * (bk + h * (ck + h * dk))
    df = bk + h * (2.0 * ck + 3.0 * h * dk)
    ddf = 2.0 * ck + 6.0 * h * dk
    above = t > x_last
    zero = torch.zeros_like(f)
    f = torch.where(below, y[:, 0] + (t - x[:, 0]) * b[:, 0], torch.where(above, y_last + (t - x_last) * b_last, f))
    df = torch.where(below, b[:, 0], torch.where(above, b_last, df))
    ddf = torch.where(below | above, zero, ddf)
    return f, df, ddf
