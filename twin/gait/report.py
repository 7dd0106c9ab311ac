"""Plain-text tables of gait results (for the ``twin gait`` command and logs).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from twin.gait.spatiotemporal import PARAMETERS
>>> st = xr.Dataset({k: ("side", [1.0, 1.1, 1.05], {"units": u, "long_name": n}) for k, (u, n) in PARAMETERS.items()},
...                 coords={"side": ["left", "right", "overall"]})
>>> print(format_table(st).splitlines()[0])
parameter                   units           left     right   overall   SI [%]
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import ParameterError

__all__ = ["format_table"]


def format_table(st: xr.Dataset) -> str:
    """A text table of :func:`twin.gait.spatiotemporal` (one line per parameter, sides as columns).

    Parameters
    ----------
    st : xarray.Dataset
        Output of :func:`twin.gait.spatiotemporal`.

    Returns
    -------
    str

    Examples
    --------
    See the module docstring.
    """
    if not isinstance(st, xr.Dataset) or "side" not in st.dims:
        raise ParameterError("format_table expects the Dataset returned by twin.gait.spatiotemporal")
    sides = [str(s) for s in st["side"].values]
    si = {}
    if "symmetry_index" in st and "parameter" in st.dims:
        si = {str(p): float(v) for p, v in zip(st["parameter"].values, st["symmetry_index"].values)}
    head = f"{'parameter':27s} {'units':10s}" + "".join(f"{s:>10s}" for s in sides) + f"{'SI [%]':>9s}"
    lines = [head]
    for name, da in st.data_vars.items():
        if da.dims != ("side",):
            continue
        fmt = "10d" if np.issubdtype(da.dtype, np.integer) else "10.3f"
        vals = "".join(f"{(int(v) if fmt == '10d' else float(v)):{fmt}}" if np.isfinite(float(v)) else f"{'-':>10s}"
                       for v in da.values)
        s = si.get(str(name), np.nan)
        lines.append(f"{str(name):27s} {da.attrs.get('units', ''):10s}{vals}"
                     + (f"{s:9.1f}" if np.isfinite(s) else f"{'':9s}"))
    return "\n".join(lines)
