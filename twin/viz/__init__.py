"""Figures (plotly) and widget panels (ipywidgets). Every figure works outside notebooks and exports to HTML.

=================================  ==================================================================
name                               what
=================================  ==================================================================
:func:`cycle_figure`               gait-cycle curves of one recording per side over a normative band
:func:`gait_curves`                mean gait-cycle curves of labelled simulations/recordings (scenario
                                   overlay) over the Schwartz 2008 band
:func:`skeleton_animation`         sagittal stick-figure animation (engine forward kinematics)
:func:`grf_figure`                 vertical/horizontal GRF per side in body weights
:func:`muscle_heatmap`             muscle activation (or excitation) × time or gait cycle
:func:`metrics_table`              gait measures per scenario, with units
:func:`simulation_summary`         a few gait measures of a simulation (the table's default input)
:func:`write_report`               a self-contained HTML page of figures and text
:class:`WhatIfExplorer`            the what-if widget app (:mod:`twin.viz.panels`)
:func:`default_simulate`           its default backend: the engine on the default body
                                   (:mod:`twin.viz.demo_backend`)
=================================  ==================================================================

Examples
--------
>>> from twin.viz import gait_curves, demo_simulation
>>> fig = gait_curves(demo_simulation(), normative=False)
>>> fig.write_html("curves.html")                       # doctest: +SKIP
"""

from .curves import cycle_figure
from .demo_backend import WhatIf, default_simulate
from .figures import demo_simulation, gait_curves, grf_figure, metrics_table, muscle_heatmap, skeleton_animation
from .panels import WhatIfExplorer
from .report import write_report
from .summary import simulation_summary

__all__ = ["cycle_figure", "write_report", "gait_curves", "skeleton_animation", "grf_figure", "muscle_heatmap",
           "metrics_table", "simulation_summary", "demo_simulation", "WhatIfExplorer", "WhatIf", "default_simulate"]
