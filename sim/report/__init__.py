"""Reports: figures of runs, sweeps and plans, and a self-contained ``report.html``.

Reads result folders only (``summary.json``, ``requests.csv.gz``, ``timeseries.csv``,
``cashflow.csv``, ``sweep.json``, ``plan.json``, ``saturation.json``); never runs a simulation.
``Result.write`` hands the run figures its in-memory tables instead, so a run does not read
back the files it has just written.

    >>> from sim.report import write_run_figures, write_report      # doctest: +SKIP
    >>> write_run_figures("results/baseline"); write_report("results/baseline")  # doctest: +SKIP
"""
from importlib import import_module

__all__ = ["cashflow_chart", "pareto_figure", "write_cashflow_png", "write_comparison_page", "write_report",
           "write_run_figures", "write_sweep_figures"]
#: where each name lives; imported on first use, so that a run writing quick SVG figures
#: (:mod:`sim.report.chart`) never imports matplotlib
_HOME = {"cashflow_chart": "cashflow", "write_cashflow_png": "cashflow",
         "write_report": "html_report", "write_run_figures": "run_figures",
         "pareto_figure": "sweep_figures", "write_sweep_figures": "sweep_figures",
         "write_comparison_page": "comparison_page"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(import_module(f"sim.report.{_HOME[name]}"), name)
    raise AttributeError(f"module 'sim.report' has no attribute {name!r}")
