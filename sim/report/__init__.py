"""Reports: figures of runs, sweeps and plans, and a self-contained ``report.html``.

Reads result folders only (``summary.json``, ``requests.csv.gz``, ``timeseries.csv``,
``cashflow.csv``, ``sweep.json``, ``plan.json``, ``saturation.json``); never runs a simulation.
``Result.write`` hands the run figures its in-memory tables instead, so a run does not read
back the files it has just written.

    >>> from sim.report import write_run_figures, write_report      # doctest: +SKIP
    >>> write_run_figures("results/baseline"); write_report("results/baseline")  # doctest: +SKIP
"""
from sim.report.html_report import write_report
from sim.report.run_figures import write_run_figures
from sim.report.sweep_figures import pareto_figure, write_sweep_figures

__all__ = ["pareto_figure", "write_report", "write_run_figures", "write_sweep_figures"]
