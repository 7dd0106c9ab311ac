"""pytest --nbval-lax runs the notebooks in fast mode: TWIN_FAST=1 (short simulations) unless already set.

The kernels nbval starts inherit this process's environment.
"""

import os

os.environ.setdefault("TWIN_FAST", "1")
