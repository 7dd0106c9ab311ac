"""Shared reader helpers: gap filling, axes, file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.errors import ReadError
from twin.io._common import check_file, guess_up_axis, handle_gaps, to_opensim_axes


def test_short_gap_fill_is_accurate_on_a_smooth_trajectory():
    t = np.arange(0, 2, 0.01)
    truth = np.stack([0.1 * np.sin(2 * np.pi * t), 0.05 * np.cos(2 * np.pi * 1.5 * t), t], -1)[:, None, :]
    m = truth.copy()
    m[50:58, 0, :] = np.nan  # 80 ms gap
    out, names, hist = handle_gaps(m, ["A"], t, Path("x"), max_gap=0.1)
    assert np.abs(out - truth).max() < 1e-3  # under a millimetre for an 80 ms gap of gait-like motion
    assert "filled 1 gap" in hist[0]


def test_gap_at_edge_stays_nan_and_empty_marker_dropped():
    t = np.arange(0, 1, 0.01)
    m = np.zeros((t.size, 2, 3))
    m[:3, 0] = np.nan
    m[:, 1] = np.nan
    with pytest.warns(UserWarning, match="at the trial's edge"):
        out, names, hist = handle_gaps(m, ["A", "B"], t, Path("x"))
    assert names == ["A"] and np.isnan(out[:3, 0]).all()
    assert any("dropped 1 marker" in h for h in hist)


def test_axes_and_up_guess():
    xyz = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(to_opensim_axes(xyz, "z"), [[1.0, 3.0, -2.0]])
    rng = np.random.default_rng(0)
    body = rng.normal(scale=[0.1, 0.1, 0.5], size=(20, 30, 3)) + [0, 0, 1.0]  # tall along lab Z
    assert guess_up_axis(body) == "z"


def test_check_file(tmp_path):
    with pytest.raises(ReadError, match="empty"):
        (tmp_path / "e.trc").write_text("")
        check_file(tmp_path / "e.trc")
    with pytest.raises(ReadError, match="folder"):
        check_file(tmp_path)
