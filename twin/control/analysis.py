"""Gait-cycle analysis of a rollout recording (strikes from the GRF of each foot).

Examples
--------
>>> import numpy as np
>>> t = np.arange(0, 3, 0.01)
>>> fy = np.where((t % 1.0) < 0.6, 700.0, 0.0)
>>> strikes(fy, threshold=50.0).tolist()
[100, 200]
"""

from __future__ import annotations

import numpy as np

__all__ = ["strikes", "mean_cycle", "mean_of", "cycles"]


def strikes(fy: np.ndarray, *, threshold: float) -> np.ndarray:
    """Indices where the vertical force rises through ``threshold`` (after being below it)."""
    on = np.asarray(fy) > threshold
    return np.flatnonzero(~on[:-1] & on[1:]) + 1


def contact_threshold(record: dict, b: int, threshold_bw: float = 0.05) -> float:
    """Vertical GRF [N] above which a foot of member ``b`` is on the ground: ``threshold_bw`` body weights
    (``record["weight"][b]`` [N] when the record has it, else the peak of the summed vertical GRF)."""
    fy = record["grf"][b, :, :, 1]
    bw = float(np.nanmax(fy.sum(-1))) if fy.size else 1.0
    mass_g = record.get("weight", [None] * (b + 1))[b] if "weight" in record else None
    return threshold_bw * (mass_g if mass_g else max(bw, 1.0))


def cycles(record: dict, b: int, *, side: int = 0, skip_s: float = 2.0, n: int = 101,
           threshold_bw: float = 0.05, min_s: float = 0.6, max_s: float = 2.0) -> dict | None:
    """Strides of member ``b`` normalised to ``n`` points: ``{coordinate: [cycles, n], "grf_y": ...}``.

    Strides start at a strike of ``side`` (0 right, 1 left) after ``skip_s``
    and last ``min_s``..``max_s``; frozen (fallen) tails are excluded by the
    caller passing only the walked part. None when no stride qualifies.
    """
    t = record["time"]
    fy = record["grf"][b, :, side, 1]
    thr = contact_threshold(record, b, threshold_bw)
    idx = strikes(fy, threshold=thr)
    idx = idx[t[idx] >= skip_s]
    if "walked_s" in record:
        idx = idx[t[idx] <= record["walked_s"][b]]
    out: dict = {}
    for i0, i1 in zip(idx[:-1], idx[1:]):
        dur = t[i1] - t[i0]
        if not (min_s <= dur <= max_s):
            continue
        x = np.linspace(t[i0], t[i1], n)
        for j, name in enumerate(record["coordinate"]):
            out.setdefault(name, []).append(np.interp(x, t[i0:i1 + 1], record["q"][b, i0:i1 + 1, j]))
        for k, nm in ((0, "grf_y_r"), (1, "grf_y_l")):
            out.setdefault(nm, []).append(np.interp(x, t[i0:i1 + 1], record["grf"][b, i0:i1 + 1, k, 1]))
        out.setdefault("duration", []).append(dur)
    if not out:
        return None
    return {k: np.asarray(v) for k, v in out.items()}


def mean_cycle(record: dict, b: int, **options) -> dict | None:
    """The mean stride of member ``b`` (see :func:`cycles`): ``{coordinate: [n]}`` or None."""
    c = cycles(record, b, **options)
    return None if c is None else mean_of(c)


def mean_of(strides: dict) -> dict:
    """The mean stride of :func:`cycles`' output: ``{coordinate: [n]}`` (without ``duration``)."""
    return {k: v.mean(axis=0) for k, v in strides.items() if k != "duration"}
