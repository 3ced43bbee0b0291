"""The result folder of one run: summary.json, requests.csv.gz, timeseries.csv, cashflow.csv, figures.

The whole folder is written into a temporary sibling and swapped in by renames, so an
interrupted or failed write never leaves a folder that is half one run and half another.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.atomic import atomic_write_json, atomic_write_text, in_the_way, staged_folder
from sim.io import Coded, atomic_write_csv_gz, csv_text
from sim.metrics.schema import REJECT_REASONS, REQUEST_COLUMNS, STATUS_NAMES, TS_COLUMNS

if TYPE_CHECKING:
    from sim.api import Result
    from sim.scenario.load import LoadedScenario

#: ``figures=`` of :func:`write_result`: quick-look SVGs drawn without matplotlib (the default:
#: importing matplotlib and drawing with it would take ~0.8 s of every run), matplotlib PNGs, or
#: none; ``fleetsim report`` redraws them with matplotlib as PNG and SVG either way
FIGURE_CHOICES = ("svg", "png", "none")


def _clean(obj):
    """JSON-safe copy: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def request_table(result: "Result") -> dict[str, np.ndarray | Coded]:
    """The ``requests.csv.gz`` columns of ``result``, in file order, from its records.

    Times that did not happen (no schedule, first token or completion) are NaN; ``pool``,
    ``class``, ``status`` and ``reason`` are :class:`~sim.io.Coded` columns (``pool`` -1, a
    request never routed, is an empty cell).
    """
    rec = result.records
    def opt(col):
        return np.where(rec[col] >= 0, rec[col], np.nan)
    first = opt("first_token_s")
    comp = opt("completion_s")
    sched = opt("sched_s")
    cols = [rec["rid"], rec["arrival_s"], sched, first, comp, rec["prompt_tokens"], rec["output_tokens"],
            rec["generated_tokens"], sched - rec["arrival_s"], first - rec["arrival_s"], comp - rec["arrival_s"],
            rec["preemptions"], rec["retries"],
            Coded(rec["pool"], tuple(result.pool_names)), rec["replica"],
            Coded(rec["cls"], tuple(result.class_names)),
            Coded(rec["status"], tuple(STATUS_NAMES)),
            Coded(rec["reason"], tuple(REJECT_REASONS))]
    return dict(zip(REQUEST_COLUMNS, cols))


def request_columns(result: "Result") -> tuple[list[str], list]:
    """``(header, columns)`` of ``requests.csv.gz`` (see :func:`request_table`)."""
    table = request_table(result)
    return list(table), list(table.values())


def timeseries_table(result: "Result") -> dict[str, np.ndarray | Coded]:
    """The ``timeseries.csv`` columns of ``result``: ``pool`` by name; ``replicas`` (the mean provisioned
    over each row's interval) and the counts (``queue_len``, ``central_queue``, ``running``,
    ``kv_blocks_used``) whole where every row's is, as the request level's samples always are, with their
    fraction otherwise (:func:`mean_replicas`): a fluid-tier row holds its step's means (1.6 sequences
    running), which the cast to integers this replaces cut to 1, drawing the fluid tier's figures below
    its own summary and below the request level's at the same load."""
    ts = np.asarray(result.timeseries, dtype=np.float64).reshape(-1, len(TS_COLUMNS))
    cols: dict[str, np.ndarray | Coded] = {name: ts[:, k] for k, name in enumerate(TS_COLUMNS)}
    cols["pool"] = Coded(ts[:, 1].astype(np.int64), tuple(result.pool_names))
    for name in ("replicas", "queue_len", "central_queue", "running", "kv_blocks_used"):
        cols[name] = mean_replicas(cols[name])
    return cols


def mean_replicas(values: np.ndarray) -> np.ndarray:
    """The ``replicas`` column (and the counts' columns, :func:`timeseries_table`): the mean replicas
    provisioned over each row's interval, so that ``sum(replicas * interval)`` is the provisioned
    replica-seconds the bill counts. Integers when every value is within 1e-9 of a whole number (a
    fixed fleet, or changes only at the rows' edges), as the column always was; else floats, the
    whole ones snapped: a replica provisioned 5 minutes into an hourly row reads 1.9166666666666667,
    where the cast to integers this replaces wrote 1 and the column under-counted the bill (and the
    replica curve drawn from it lagged a row).

        >>> mean_replicas(np.array([1.0, 2.0, 2.9999999999999996])).tolist()
        [1, 2, 3]
        >>> mean_replicas(np.array([1.0, 23 / 12, 2.0])).tolist()
        [1.0, 1.9166666666666667, 2.0]
    """
    whole = np.rint(values)
    near = np.abs(values - whole) <= 1e-9 * np.maximum(1.0, np.abs(whole))
    if near.all():
        return whole.astype(np.int64)
    return np.where(near, whole, values)


#: what a result folder holds (its own files and what ``fleetsim report`` adds); anything else
#: in a folder written over is someone else's and is left where it is
RESULT_NAMES = ("summary.json", "requests.csv.gz", "timeseries.csv", "cashflow.csv", "ledger.csv",
                "settlements.csv", "usage.npz", "scenario.json", "figures/", "report.html", "cashflow.png")
"""What a result folder holds (``figures/`` a folder, the rest files; :func:`sim.atomic.staged_folder`)."""
#: what a run draws into ``figures/``; another file there is no part of the result
FIGURE_SUFFIXES = (".svg", ".png")


def result_files(folder: str | Path) -> list[Path]:
    """The files of a result in ``folder``, the one list of them: each file :data:`RESULT_NAMES` names,
    there or not (a result writes it), then each figure in its folders (``figures/``: the files with a
    :data:`FIGURE_SUFFIXES` suffix, sorted). What ``fleetsim reprice --out`` copies of a result, and what
    ``fleetsim compare --out`` or ``--html`` may not write over.

        >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "figures").mkdir()
        >>> for name in ("figures/b.svg", "figures/a.png", "figures/notes.txt", "notes.txt"): (d / name).touch()
        >>> [p.relative_to(d).as_posix() for p in result_files(d)][-3:]
        ['cashflow.png', 'figures/a.png', 'figures/b.svg']
    """
    folder = Path(folder)
    out = [folder / name for name in RESULT_NAMES if not name.endswith("/")]
    for sub in (folder / name for name in RESULT_NAMES if name.endswith("/")):
        if sub.is_dir():
            out += sorted(p for p in sub.iterdir() if p.suffix in FIGURE_SUFFIXES and p.is_file())
    return out


def result_in_the_way(folder: str | Path) -> tuple[Path, str] | None:
    """The first entry of ``folder`` under a result's name (:data:`RESULT_NAMES`) of the other kind
    than the result keeps there, and that kind (:func:`sim.atomic.in_the_way`): writing a result into
    ``folder`` would take it for an earlier result's and delete it."""
    return in_the_way(folder, RESULT_NAMES)


def write_result(result: "Result", out_dir: Path, figures: str = "svg") -> Path:
    """Write ``result``'s folder: data files, figures (``figures``: one of :data:`FIGURE_CHOICES`)
    and, last, ``summary.json``.

    The folder is written whole into a temporary sibling and swapped in (:func:`sim.atomic.staged_folder`):
    a run that fails while writing (a full disk) leaves an earlier result in ``out_dir`` untouched,
    never half of each; files in ``out_dir`` that are no part of a result are kept.
    """
    if figures not in FIGURE_CHOICES:
        raise ValueError(f"figures={figures!r}: allowed: {', '.join(FIGURE_CHOICES)}")
    lost = replaced_input(result.scenario, out_dir)
    if lost:
        from sim.errors import InputError

        raise InputError(lost)
    with staged_folder(out_dir, RESULT_NAMES) as stage:
        _write_files(result, stage, figures)
    return out_dir


def replaced_input(loaded: "LoadedScenario | None", out_dir: str | Path) -> str | None:
    """Why a result of ``loaded`` cannot be written into ``out_dir`` without loss (``None``: it can): a file
    the run read (the scenario file, a trace, a step-time table, :func:`sim.scenario.inputs.input_files`)
    is where the folder keeps one of its own (``out_dir/timeseries.csv`` a trace, ``out_dir/scenario.json``
    the scenario), and the swap would replace it."""
    from sim.scenario.inputs import written_over

    hit = None if loaded is None else written_over(loaded, out_dir, RESULT_NAMES)
    if hit is None:
        return None
    what, path = hit
    named = what if what == "the scenario file" else f"the file {what} names"
    return (f"{out_dir}: writing the result there would replace {path}, {named}, with the result's own file of "
            f"that name; give another folder, or move the file")


def _write_files(result: "Result", out_dir: Path, figures: str) -> None:
    requests = request_table(result)
    atomic_write_csv_gz(out_dir / "requests.csv.gz", list(requests), list(requests.values()))
    timeseries = timeseries_table(result)
    atomic_write_text(out_dir / "timeseries.csv", csv_text(list(timeseries), list(timeseries.values())))
    econ = result.economics
    if econ is not None:
        econ.write(out_dir)      # its chart goes to figures/ with the others (sim.report)
    if figures != "none":
        from sim.report.run_figures import write_run_figures

        failures: list[str] = []
        try:
            write_run_figures(out_dir, requests=requests, timeseries=timeseries,
                              statement=econ.statement if econ is not None else None,
                              currency=econ.currency if econ is not None else "USD",
                              summary=result.summary,
                              renderer="svg" if figures == "svg" else "matplotlib", formats=("png",),
                              failures=failures)
        except Exception as exc:  # figures are a convenience; never lose the data files over them
            failures.append(f"figures not written: {exc}")
        if failures:
            import sys

            print("\n".join(f"warning: {f}" for f in failures), file=sys.stderr)
    if result.scenario is not None:     # what was simulated, for the report's header
        atomic_write_json(out_dir / "scenario.json", result.scenario.scenario.model_dump(mode="json", by_alias=True))
    from sim.report.fingerprint import KEY, folder_fingerprints

    # last: which usage.npz and scenario.json are this run's (fleetsim reprice checks them)
    atomic_write_json(out_dir / "summary.json", {**_clean(result.summary), KEY: folder_fingerprints(out_dir)})
