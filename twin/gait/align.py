"""Turn a recording about the vertical axis so that the subject walks along +X.

Readers keep the lab's horizontal axes (they only bring the vertical axis to
Y); labs walk along whichever axis their walkway has. A sagittal-plane model
(and the OpenSim convention "X forward") needs walking along +X: this rotates
every 3-D vector variable (markers, landmarks, GRF, COP, free moment) about Y.

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> from twin.gait.align import align_progression
>>> t = np.arange(0, 2, 0.01)
>>> m = np.zeros((t.size, 3, 3)); m[..., 1] = [0.9, 0.05, 0.05]
>>> m[:, :, 2] = 1.2 * t[:, None]                       # walking along +Z
>>> ds = schema.recording(t, markers=m, marker_names=["SACR", "LHEE", "RHEE"])
>>> out = align_progression(ds)
>>> round(float(out.markers.sel(marker="SACR", axis="x")[-1]), 2)
2.39
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..schema import add_history, validate
from ._util import SIDES, get_point, lowpass, pelvis_trajectory, points_from, progression

__all__ = ["align_progression", "heading_rotation"]

_VECTOR_VARIABLES = ("markers", "landmarks", "grf", "cop", "free_moment")


def heading_rotation(forward: np.ndarray) -> np.ndarray:
    """3x3 rotation about Y taking the horizontal unit vector ``forward`` to +X (rows: new X, Y, Z axes)."""
    f = np.array([forward[0], 0.0, forward[2]], dtype=float)
    f /= np.linalg.norm(f)
    up = np.array([0.0, 1.0, 0.0])
    return np.stack([f, up, np.cross(f, up)])


def align_progression(ds: xr.Dataset, *, markers: Mapping[str, str] | None = None) -> xr.Dataset:
    """Return a copy of a Recording rotated about Y so that walking goes along +X.

    The walking direction comes from the pelvis displacement (overground) or
    from the heels' motion relative to the pelvis (treadmill), as in
    :func:`twin.gait.spatiotemporal`. Positions are rotated about the lab
    origin; the angle is recorded in ``history`` and ``attrs["heading_deg"]``:
    the walking direction's rotation about +Y away from +X (right-handed, so
    90 means walking along -Z), which this function removed.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with markers or landmarks (heels and pelvis findable by name).
    markers : mapping, optional
        Marker names by role (``"pelvis"``, ``"left_heel"``...), as in
        :func:`twin.gait.events_from_kinematics`.

    Returns
    -------
    xarray.Dataset
    """
    pts = points_from(ds)
    rate = float(1.0 / np.median(np.diff(pts.time)))
    pelvis = lowpass(pelvis_trajectory(pts, markers), rate, 6.0)
    heels = [lowpass(get_point(pts, "heel", s, markers), rate, 6.0) for s in SIDES]
    fwd, overground, _ = progression(pelvis, heels, pts.time, planar=pts.planar)
    rot = heading_rotation(fwd)
    heading = float(np.degrees(np.arctan2(-fwd[2], fwd[0])))
    out = ds.copy()
    for name in _VECTOR_VARIABLES:
        if name in out:
            da = out[name]  # the schema puts "axis" last
            out[name] = da.copy(data=da.values @ rot.T)
    out.attrs["heading_deg"] = heading
    out = add_history(out, f"rotated {heading:.1f} deg about Y so that walking ({'overground' if overground else 'treadmill'}) "
                      "goes along +X")
    validate(out)
    return out
