"""Widget panels (ipywidgets): the what-if explorer.

:class:`WhatIfExplorer` lets a user change the body (muscle strength,
contracture, spasticity, knee replacement, ankle-foot orthosis, mass), run
a simulation of the baseline and the changed body, and compare them: gait
curves against the normative band, a stick-figure animation, the GRF, a
muscle heat map and a table of gait measures. The simulation itself is a
callable supplied by the caller::

    simulate(scenarios: list, *, progress=None[, adapt=False]) -> xarray.Dataset

returning a simulation Dataset with a leading ``scenario`` dim, baseline
first (a twin's ``Twin.simulate``, or
:func:`twin.viz.demo_backend.default_simulate`: the physics engine on the
default body). ``progress(fraction, message)`` is called by the backend as
it goes; the explorer uses it for its progress bar and raises
:class:`~twin.viz.demo_backend.Cancelled` from it after **Cancel**. A
backend that never calls it cannot be interrupted: its result is then
discarded when it arrives. ``adapt`` (re-tune the controller to the changed
body) is passed only when the callable accepts it; the checkbox is disabled
otherwise. A callable attribute ``unsupported`` (names of
:class:`~twin.viz.demo_backend.WhatIf` fields) disables those widgets.

The run happens in a background thread, so the kernel (and the page)
stays responsive. Errors never show a traceback in the panel: a
:class:`twin.errors.TwinError` shows its message, anything else a one-line
summary (the traceback goes to the ``twin.viz`` logger).

Examples
--------
>>> from twin.viz.figures import demo_simulation
>>> def fake(scenarios, *, progress=None):
...     return demo_simulation()
>>> ex = WhatIfExplorer(fake, background=False)
>>> ex.strength["plantarflexors"].value = 0.5
>>> ex.run()
>>> ex.error is None, sorted(ex.figures)
(True, ['curves', 'grf', 'metrics', 'muscles', 'skeleton'])
>>> ex.status.value.startswith("<b>custom backend</b> answered")
True
"""

from __future__ import annotations

import html
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import TwinError
from .demo_backend import CONTRACTURE_GROUPS, MUSCLE_GROUPS, Cancelled, WhatIf

__all__ = ["WhatIfExplorer", "figure_output", "default_metrics", "Cancelled"]

log = logging.getLogger("twin.viz")


def default_metrics(sim):
    """Gait measures of a simulation for the explorer's table.

    :func:`twin.metrics.metrics` when that module is there, with its steady
    part starting after a quarter of the run (at most 2 s), so that short
    runs get values too; else :func:`twin.viz.summary.simulation_summary`.
    """
    try:
        from ..metrics import metrics as twin_metrics
    except ImportError:
        from .summary import simulation_summary

        return simulation_summary(sim)
    t = sim["time"].values
    span = float(t[-1] - t[0]) if t.size else 0.0
    return twin_metrics(sim, settle=min(2.0, 0.25 * span))


def _bundle(fig) -> dict:
    """A display_data output of a plotly figure (plotly mimetype, rendered by jupyterlab-plotly)."""
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False}  # not "responsive": it sizes the plot to its (0-high) output box
    title = getattr(getattr(fig.layout, "title", None), "text", None) or "figure"
    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": spec, "text/plain": f"<plotly figure: {title}>"}}


def figure_output(out, fig) -> None:
    """Show ``fig`` in the ipywidgets ``Output`` ``out`` (replacing what was there); safe from a thread."""
    out.outputs = (_bundle(fig),)


def _message_output(out, text: str, *, kind: str = "error") -> None:
    colour = "#b00020" if kind == "error" else "#555"
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"text/html": f"<div style='color:{colour}'>{html.escape(text)}</div>",
                             "text/plain": text}},)


def _accepts(fn: Callable, name: str) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return name in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


class WhatIfExplorer:
    """An ipywidgets app: change the body, run, compare the baseline and the scenario.

    Parameters
    ----------
    simulate : callable, optional
        ``simulate(scenarios, *, progress=None) -> Dataset`` (see the module
        docstring). Default :func:`twin.viz.demo_backend.default_simulate`.
    baseline_label : str, keyword-only
        The scenario label of the baseline in the result.
    scenario_factory : callable, optional
        ``f(WhatIf) -> list`` of the scenario objects ``simulate`` takes
        (e.g. :mod:`twin.scenarios` objects for a twin). Default ``[whatif]``.
    metrics : callable, optional
        ``f(simulation) -> metrics Dataset`` for the table (default
        :func:`default_metrics`).
    backend_name : str, optional
        Named in the status line when the result does not say
        (``attrs["backend"]``).
    background : bool, keyword-only
        Run in a thread (default). False: :meth:`run` blocks (tests).
    warm_up : bool, optional, keyword-only
        Call the backend's ``simulate.warm_up(n_scenarios)`` (if it has one:
        :func:`twin.viz.demo_backend.warm_up` compiles the engine in a
        background thread; until it is ready, answers come from the eager
        engine and the status line says which answered). Default: yes,
        except in fast mode (``TWIN_FAST=1``: tests) or with
        ``TWIN_COMPILE=0``.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole panel (the explorer also displays itself).
    strength, contracture : dict name -> FloatSlider
    spasticity, afo_stiffness, extra_mass : FloatSlider
    knee_replacement, adapt : Checkbox
    label : Text
    run_button, cancel_button, reset_button : Button
    progress : FloatProgress
    status, message : HTML
        Status line (backend, time) and the last error (empty when none).
    outputs : dict name -> Output
        ``curves``, ``skeleton``, ``grf``, ``muscles``, ``metrics``.
    result : xarray.Dataset or None
        The last simulation; ``figures`` the last figures; ``error`` the
        last error message (None after a successful run).
    """

    def __init__(self, simulate: Callable | None = None, *, baseline_label: str = "baseline",
                 scenario_factory: Callable | None = None, metrics: Callable | None = None,
                 backend_name: str | None = None, background: bool = True, warm_up: bool | None = None):
        import ipywidgets as w

        if simulate is None:
            from .demo_backend import default_simulate

            simulate = default_simulate
        if not callable(simulate):
            raise TwinError(f"simulate must be a callable simulate(scenarios, *, progress=None), not "
                            f"{type(simulate).__name__}")
        self.simulate = simulate
        self.baseline_label = baseline_label
        self.scenario_factory = scenario_factory or (lambda wi: [wi])
        self.metrics = metrics or default_metrics
        self.backend_name = backend_name
        self.background = background
        self.result = None
        self.figures: dict = {}
        self.error: str | None = None
        self.elapsed: float | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._token = 0
        self._lock = threading.Lock()
        self.warm_up_thread = None
        hook = getattr(simulate, "warm_up", None)
        if warm_up is None:
            from .demo_backend import compile_setting, fast_mode

            warm_up = not fast_mode() and compile_setting() != "0"
        if warm_up and callable(hook):
            try:
                self.warm_up_thread = hook(len(self.scenario_factory(WhatIf())))
            except Exception as err:  # the explorer works without it
                log.warning("the backend's warm_up failed: %s: %s", type(err).__name__, err)
        unsupported = set(getattr(simulate, "unsupported", ()) or ())

        style = {"description_width": "120px"}
        lay = w.Layout(width="340px")

        def slider(desc, value, lo, hi, step, fmt, cls, tip):
            s = w.FloatSlider(value=value, min=lo, max=hi, step=step, description=desc, readout_format=fmt,
                              continuous_update=False, style=style, layout=lay, description_allow_html=False,
                              tooltip=tip)
            s.add_class(cls)
            return s

        self.strength = {g: slider(g.replace("_", " "), 1.0, 0.1, 1.5, 0.05, ".2f", f"twin-strength-{g}",
                                   f"strength of the {g.replace('_', ' ')} (1 = normal)") for g in MUSCLE_GROUPS}
        self.contracture = {g: slider(f"{g} %", 0.0, 0.0, 30.0, 1.0, ".0f", f"twin-contracture-{g}",
                                      f"shortening of the {g} [%]") for g in CONTRACTURE_GROUPS}
        self.spasticity = slider("spasticity", 0.0, 0.0, 5.0, 0.25, ".2f", "twin-spasticity",
                                 "gain of the stretch reflex of plantarflexors and hamstrings (0 = none)")
        self.afo_stiffness = slider("AFO [N m/rad]", 0.0, 0.0, 300.0, 10.0, ".0f", "twin-afo",
                                    "ankle-foot orthosis stiffness (0 = none)")
        self.extra_mass = slider("extra mass [kg]", 0.0, -20.0, 30.0, 1.0, ".0f", "twin-mass",
                                 "added: a backpack on the trunk; removed (negative): weight loss")
        self.knee_replacement = w.Checkbox(value=False, description="knee replacement", indent=False)
        self.knee_replacement.add_class("twin-knee-replacement")
        self.adapt = w.Checkbox(value=False, description="adapt controller", indent=False)
        self.adapt.add_class("twin-adapt")
        self._adapt_ok = _accepts(simulate, "adapt")
        if not self._adapt_ok:
            self.adapt.disabled = True
            self.adapt.description = "adapt controller (not offered by this backend)"
        for name, wid in (("knee_replacement", self.knee_replacement), ("spasticity", self.spasticity),
                          ("afo_stiffness", self.afo_stiffness), ("extra_mass", self.extra_mass)):
            if name in unsupported:
                wid.disabled = True
                wid.description = f"{wid.description} (n/a)" if isinstance(wid, w.Checkbox) else wid.description
                wid.tooltip = "not modelled by this backend"
        self.label = w.Text(value="scenario", description="label", style=style, layout=w.Layout(width="330px"))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play",
                                   tooltip="simulate the baseline and this scenario")
        self.run_button.add_class("twin-run")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.cancel_button.add_class("twin-cancel")
        self.reset_button = w.Button(description="Reset", icon="undo", tooltip="back to the baseline values")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, description="", layout=w.Layout(width="330px"))
        self.progress_text = w.Label(value="")
        self.status = w.HTML(value="Set the body, then press <b>Run</b>.")
        self.status.add_class("twin-status")
        self.message = w.HTML(value="")
        self.message.add_class("twin-message")
        self.outputs = {k: w.Output(layout=w.Layout(width="100%")) for k in
                        ("curves", "metrics", "skeleton", "grf", "muscles")}
        for k, o in self.outputs.items():
            o.add_class(f"twin-out-{k}")

        self.run_button.on_click(lambda _b: self.run())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.reset_button.on_click(lambda _b: self.reset())

        def box(title, children):
            return w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), *children],
                          layout=w.Layout(margin="0 18px 8px 0"))

        controls = w.HBox([
            box("Muscle strength (1 = normal)", list(self.strength.values())),
            box("Contracture (shortening)", [*self.contracture.values(), self.spasticity]),
            box("Devices, mass, control", [self.knee_replacement, self.afo_stiffness, self.extra_mass, self.adapt,
                                           self.label]),
        ], layout=w.Layout(flex_flow="row wrap"))
        buttons = w.HBox([self.run_button, self.cancel_button, self.reset_button, self.progress, self.progress_text])
        self.widget = w.VBox([
            w.HTML("<h3 style='margin:4px 0'>What if? Change the body and compare with the baseline</h3>"),
            controls, buttons, self.status, self.message,
            self.outputs["curves"], self.outputs["metrics"], self.outputs["skeleton"], self.outputs["grf"],
            self.outputs["muscles"]])
        self.widget.add_class("twin-whatif")

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ scenario
    def whatif(self) -> WhatIf:
        """The scenario the widgets describe."""
        return WhatIf(label=self.label.value.strip() or "scenario",
                      strength={g: float(s.value) for g, s in self.strength.items()},
                      contracture={g: float(s.value) / 100.0 for g, s in self.contracture.items()},
                      spasticity=float(self.spasticity.value), knee_replacement=bool(self.knee_replacement.value),
                      afo_stiffness=float(self.afo_stiffness.value), extra_mass=float(self.extra_mass.value))

    def reset(self) -> None:
        """Put every control back to the baseline value."""
        for s in self.strength.values():
            s.value = 1.0
        for s in self.contracture.values():
            s.value = 0.0
        self.spasticity.value = 0.0
        self.afo_stiffness.value = 0.0
        self.extra_mass.value = 0.0
        self.knee_replacement.value = False
        self.adapt.value = False

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """True while a simulation is in flight."""
        return self._thread is not None and self._thread.is_alive()

    def _show_error(self, text: str) -> None:
        self.error = text
        self.message.value = f"<span style='color:#b00020'>⚠ {html.escape(text)}</span>"

    def run(self, *, wait: bool = False) -> None:
        """Simulate the baseline and the scenario of the widgets (the **Run** button).

        Parameters
        ----------
        wait : bool, keyword-only
            Block until the result is shown (the default returns at once
            when ``background``).
        """
        if self.running:
            self._show_error("a simulation is already running; wait for it or press Cancel")
            return
        self.message.value = ""
        try:
            wi = self.whatif().check()
            scenarios = list(self.scenario_factory(wi))
        except TwinError as err:
            self._show_error(str(err))
            self.status.value = "Not run: fix the scenario."
            return
        kwargs: dict[str, Any] = {"progress": None}
        if self._adapt_ok:
            kwargs["adapt"] = bool(self.adapt.value)
        with self._lock:
            self._token += 1
            token = self._token
        self._cancel.clear()
        self.error = None
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        self.progress.value = 0.0
        self.progress.bar_style = "info"
        self.progress_text.value = "starting…"
        self.status.value = f"Running: {html.escape(wi.describe())}…"
        if self.background:
            self._thread = threading.Thread(target=self._work, args=(scenarios, kwargs, token, wi), daemon=True,
                                            name="twin-whatif")
            self._thread.start()
            if wait:
                self.wait()
        else:
            self._work(scenarios, kwargs, token, wi)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run; True when none is left running."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return not self.running

    def cancel(self) -> None:
        """Stop the current run (the **Cancel** button)."""
        if not self.running:
            return
        self._cancel.set()
        self.status.value = "Cancelling…"
        self.progress_text.value = "cancelling…"

    def _progress(self, token: int) -> Callable:
        last = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            if self._cancel.is_set() or token != self._token:
                raise Cancelled("cancelled by the user")
            now = time.perf_counter()
            if now - last[0] > 0.2 or fraction >= 1.0:  # at most ~5 widget updates per second
                last[0] = now
                self.progress.value = max(0.0, min(1.0, float(fraction)))
                self.progress_text.value = str(message)

        return progress

    def _work(self, scenarios, kwargs, token, wi) -> None:
        t0 = time.perf_counter()
        kwargs = {**kwargs, "progress": self._progress(token)}
        try:
            result = self.simulate(scenarios, **kwargs)
            if token != self._token or self._cancel.is_set():
                raise Cancelled("cancelled by the user")
            elapsed = time.perf_counter() - t0
            self._display(result, elapsed, wi)
        except Cancelled:
            self.status.value = f"Cancelled after {time.perf_counter() - t0:.1f} s; the figures show the last run."
            self.progress.bar_style = "warning"
            self.progress_text.value = "cancelled"
        except TwinError as err:
            self._show_error(str(err))
            self.status.value = "The simulation did not run (see the message)."
            self.progress.bar_style = "danger"
            self.progress_text.value = ""
        except Exception as err:  # never a traceback in the panel
            log.exception("what-if simulation failed")
            self._show_error(f"unexpected error in the simulation: {type(err).__name__}: {err}")
            self.status.value = "The simulation failed (details in the log)."
            self.progress.bar_style = "danger"
            self.progress_text.value = ""
        finally:
            self.run_button.disabled = False
            self.cancel_button.disabled = True

    def _display(self, result, elapsed: float, wi: WhatIf) -> None:
        import xarray as xr

        from .figures import gait_curves, grf_figure, metrics_table, muscle_heatmap, skeleton_animation

        if not isinstance(result, xr.Dataset) or "scenario" not in result.dims:
            raise TwinError(f"the simulation backend returned {type(result).__name__} without a scenario dim; "
                            "expected a simulation Dataset with a leading scenario dim (baseline first)")
        self.result = result
        self.elapsed = elapsed
        labels = [str(s) for s in result["scenario"].values]
        figs, problems = {}, []
        makers = {
            "curves": lambda: gait_curves(result, baseline_label=self.baseline_label),
            "metrics": lambda: metrics_table(self.metrics(result), baseline_label=self.baseline_label,
                                             title="Gait measures"),
            "skeleton": lambda: skeleton_animation(result, member=[0, len(labels) - 1] if len(labels) > 1 else 0,
                                                   baseline_label=self.baseline_label),
            "grf": lambda: grf_figure(result, baseline_label=self.baseline_label),
            "muscles": lambda: muscle_heatmap(result, baseline_label=self.baseline_label),
        }
        for name, make in makers.items():
            try:
                figs[name] = make()
            except TwinError as err:
                problems.append(f"{name}: {err}")
                _message_output(self.outputs[name], f"{name}: {err}")
            except Exception as err:
                log.exception("what-if figure %s failed", name)
                problems.append(f"{name}: {type(err).__name__}: {err}")
                _message_output(self.outputs[name], f"{name}: unexpected error {type(err).__name__}: {err}")
            else:
                figure_output(self.outputs[name], figs[name])
        self.figures = figs
        backend = result.attrs.get("backend") or self.backend_name or "custom backend"
        mode = result.attrs.get("engine_mode")
        mode = f" ({html.escape(str(mode))})" if mode else ""
        falls = []
        if "fell" in result:
            for lab, f in zip(labels, result["fell"].values.reshape(len(labels), -1).any(1)):
                if f:
                    t = ""
                    if "fell_time" in result:
                        ft = float(result["fell_time"].sel(scenario=lab).values.reshape(-1)[0])
                        t = f" at {ft:.2f} s" if ft == ft else ""
                    falls.append(f"{lab} fell{t}")
        simulated = float(result["time"].values[-1] - result["time"].values[0]) if result.sizes.get("time", 0) else 0
        text = (f"<b>{html.escape(str(backend))}</b>{mode} answered in {elapsed:.1f} s: {len(labels)} runs "
                f"({html.escape(', '.join(labels))}), {simulated:.2f} s simulated; scenario: "
                f"{html.escape(wi.describe())}")
        if falls:
            text += f"; {html.escape(', '.join(falls))}"
        self.status.value = text
        self.progress.value = 1.0
        self.progress.bar_style = "success"
        self.progress_text.value = "done"
        if problems:
            self._show_error("some figures could not be drawn: " + "; ".join(problems))
        else:
            self.error = None
