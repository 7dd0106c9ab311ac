"""twin: a gait digital twin.

Read a gait recording into an xarray Dataset, analyse it, fit a
musculoskeletal model and a neural controller, and ask "what if".

Examples
--------
>>> import twin
>>> twin.__version__
'0.1.0'
"""

from . import errors, schema
from .errors import TwinError
from .io import load, read, save
from .metrics import metrics
from .schema import validate
from .twin import Twin, load_twin

__version__ = "0.1.0"

__all__ = ["read", "save", "load", "validate", "metrics", "Twin", "load_twin", "TwinError", "errors", "schema",
           "__version__"]
