"""The files a run of a scenario reads, each by what names it: the scenario file itself, the traces its
workload replays (:func:`sim.workload.validation.trace_files`) and the step-time tables and calibrations its
``perf`` blocks name (the scenario's and each pool's), relative paths resolved against the scenario's folder.

A command that writes files (a result folder) checks them against these, so that it never writes over
what it read: ``fleetsim run t.yaml --out .`` beside a trace named ``timeseries.csv`` replaced the trace.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import swapped_out
from sim.paths import resolve_path

if TYPE_CHECKING:
    from sim.scenario.load import LoadedScenario


def input_files(loaded: "LoadedScenario") -> list[tuple[str, Path]]:
    """``(what names it, path)`` for every file a run of ``loaded`` reads: ``"the scenario file"`` for its
    own file (none for a mapping), else the field naming the file (``workload.arrival.path``)."""
    from sim.workload.validation import trace_files

    out: list[tuple[str, Path]] = []
    if os.path.isfile(loaded.source):
        out.append(("the scenario file", Path(loaded.source)))
    sc = loaded.scenario
    out += [(field, resolve_path(path, loaded.base_dir)) for field, path, _ in trace_files(sc.workload)]
    blocks = [("perf", sc.perf)] + [(f"fleet.pools.{i}.perf", p.perf) for i, p in enumerate(sc.fleet.pools)
                                    if p.perf is not None]
    for where, perf in blocks:
        if isinstance(getattr(perf, "path", None), str):     # a table, and the roofline outside its grid
            out.append((f"{where}.path", resolve_path(perf.path, loaded.base_dir)))
            where, perf = f"{where}.roofline", perf.roofline
        if isinstance(getattr(perf, "calibration", None), str):
            out.append((f"{where}.calibration", resolve_path(perf.calibration, loaded.base_dir)))
    return out


def written_over(loaded: "LoadedScenario", folder: str | Path, names: tuple[str, ...]) -> tuple[str, Path] | None:
    """The first file a run of ``loaded`` reads (:func:`input_files`) that writing ``names`` into ``folder``
    would replace (:func:`sim.atomic.swapped_out`, the rule of the swap itself), ``(what names it, path)``, or
    ``None``. A name ending in ``/`` is a folder the writer replaces whole (a file anywhere under it is
    replaced too); symbolic links are followed both ways.

        >>> import tempfile; from sim.scenario.load import load_scenario
        >>> d = Path(tempfile.mkdtemp()); (d / "timeseries.csv").write_text("timestamp_s,prompt_tokens,output_tokens\\n")
        40
        >>> sc = {"name": "t", "duration": 60, "model": "llama-3-8b",
        ...       "workload": {"arrival": {"process": "trace", "path": str(d / "timeseries.csv")}},
        ...       "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
        >>> written_over(load_scenario(sc, check=False), d, ("timeseries.csv", "figures/"))[0]
        'workload.arrival.path'
        >>> written_over(load_scenario(sc, check=False), d, ("summary.json",)) is None
        True
    """
    for what, path in input_files(loaded):
        if swapped_out(folder, names, path):
            return what, path
    return None
