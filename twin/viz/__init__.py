"""Figures (plotly) and, later, widget panels. Usable outside notebooks: every figure exports to HTML.

Examples
--------
>>> from twin.viz import cycle_figure, write_report     # doctest: +SKIP
"""

from .curves import cycle_figure
from .report import write_report

__all__ = ["cycle_figure", "write_report"]
