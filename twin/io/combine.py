"""Combine Recordings read from separate files (markers + force plates, + EMG) into one.

A marker file and a force file usually have different rates (e.g. TRC at
60 Hz and GRF ``.mot`` at 600 Hz). The first Dataset's ``time`` stays the
point time base; a later Dataset sampled at another rate moves onto
``analog_time`` (its rate becomes ``attrs["analog_rate"]``). Nothing is
resampled.

Examples
--------
>>> import numpy as np
>>> from twin import schema
>>> from twin.io.combine import combine
>>> mk = schema.recording(np.arange(3) / 60, markers=np.zeros((3, 1, 3)), marker_names=["RHEE"])
>>> fp = schema.recording(np.arange(30) / 600, grf=np.zeros((30, 1, 3)), plates=["1"])
>>> ds = combine(mk, fp)
>>> ds.grf.dims
('analog_time', 'plate', 'axis')
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import SchemaError
from ..schema import validate

__all__ = ["combine"]


def _same_time(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, atol=1e-6)


def combine(*datasets: xr.Dataset) -> xr.Dataset:
    """Merge Recordings of one trial read from several files.

    Parameters
    ----------
    *datasets : xarray.Dataset
        Recordings; the first gives ``time``. Variables must not repeat.

    Returns
    -------
    xarray.Dataset
        One Recording; ``source`` lists every file, ``history`` every step.

    Raises
    ------
    SchemaError
        Repeated variables, or more than two distinct time bases.
    """
    if not datasets:
        raise SchemaError("combine() needs at least one Dataset")
    out = datasets[0].copy()
    attrs = dict(out.attrs)
    sources = [attrs.get("source", "")]
    history = [attrs.get("history", "")]
    for ds in datasets[1:]:
        if ds.attrs.get("kind") not in ("recording", "kinematics", "dynamics"):
            raise SchemaError(f"combine(): cannot merge a Dataset of kind {ds.attrs.get('kind')!r}")
        clash = set(ds.data_vars) & set(out.data_vars)
        if clash:
            raise SchemaError(f"combine(): both Datasets hold {sorted(clash)}; drop one first")
        part = ds
        if "analog_time" in ds.dims:
            raise SchemaError("combine(): only the first Dataset may already have an analog_time dim")
        if not _same_time(ds["time"].values, out["time"].values):
            if "analog_time" in out.dims:
                if not _same_time(ds["time"].values, out["analog_time"].values):
                    raise SchemaError(
                        "combine(): a third time base; resample one Dataset onto another's time first"
                    )
            part = ds.rename({"time": "analog_time"})
            part["analog_time"].attrs.update(long_name="analog time")
            attrs["analog_rate"] = ds.attrs.get("rate")
            history.append(f"combined {ds.attrs.get('source', '')} on analog_time ({ds.attrs.get('rate'):g} Hz)")
        else:
            part = ds.assign_coords(time=out["time"])
            history.append(f"combined {ds.attrs.get('source', '')} on time")
        history.append(ds.attrs.get("history", ""))
        sources.append(ds.attrs.get("source", ""))
        for key in ("subject_mass", "subject_height"):
            if key in ds.attrs and key not in attrs:
                attrs[key] = ds.attrs[key]
        out = xr.merge([out, part], combine_attrs="override", join="outer", compat="no_conflicts")
    attrs.update(kind="recording", source="; ".join(s for s in sources if s),
                 history="\n".join(h for h in history if h))
    out.attrs = attrs
    validate(out)
    return out
