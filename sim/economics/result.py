"""The money layer's result: summary dicts, statement rows, ledger; its CSV output.

The cash-flow chart of a result is drawn by :mod:`sim.report.cashflow` (charts live in the report
layer): ``sim.report.cashflow.write_cashflow_png(result, out_dir)``.

Files are written atomically (a temporary file in the same folder, then ``os.replace``), so a
reader never sees half a file.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from sim.economics.agreements import MINIMUM_COLUMNS, SETTLEMENT_COLUMNS, Settlement
from sim.economics.ledger import LEDGER_COLUMNS, LedgerEntry
from sim.economics.statement import format_statement
from sim.economics.usage import Usage
from sim.economics.usage_file import write_usage
from sim.atomic import atomic_write_bytes
from sim.scenario.economics import EconomicsConfig


def _csv_bytes(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([f"{v:.6f}" if isinstance(v, float) else v for v in r])
    return buf.getvalue().encode()


@dataclass(frozen=True)
class EconomicsResult:
    """What :func:`sim.economics.evaluate` returns.

    ``cashflow``: totals over the horizon (accrual) plus cash-basis totals and NPV;
    ``cost``: compute cost and unit costs; ``statement``: rows per period; ``ledger``: every
    entry; ``settlements``: every agreement's netted settlement; ``notes``: caveats to show;
    ``usage``, ``config``, ``start``: the inputs it was computed from (what ``usage.npz`` keeps).
    """

    cashflow: dict
    cost: dict
    statement: list[dict]
    ledger: tuple[LedgerEntry, ...]
    settlements: tuple[Settlement, ...] = ()
    notes: tuple[str, ...] = ()
    currency: str = "USD"
    extra: dict = field(default_factory=dict)
    usage: Usage | None = None
    config: EconomicsConfig | None = None
    start: dt.date | None = None

    def ledger_columns(self) -> dict[str, list]:
        """The ledger as columns (one list per field of :class:`LedgerEntry`)."""
        return {c: [getattr(e, c) for e in self.ledger] for c in LEDGER_COLUMNS}

    def format_table(self, leave_out: tuple[str, ...] = (), width: int | None = None) -> str:
        """Plain-text statement plus notes (but those in ``leave_out``), for the terminal; the table in
        blocks of columns no wider than ``width`` where it is wider (:func:`format_statement`)."""
        text = format_statement(self.statement, self.currency, width)
        notes = [n for n in self.notes if n not in leave_out]
        if notes:
            text += "\n" + "\n".join(f"note: {n}" for n in notes)
        return text

    def write(self, out_dir: Path, figure: bool = False, usage_like: bytes = b"") -> list[Path]:
        """Write ``cashflow.csv``, ``ledger.csv``, ``settlements.csv`` and ``usage.npz`` (when the inputs
        are known: what ``fleetsim reprice`` reads) into ``out_dir``; returns their paths.

        The cash-flow chart is not drawn here: :func:`sim.report.cashflow.write_cashflow_png` writes
        ``cashflow.png`` for this result, and a run's result folder has it as ``figures/cashflow.*``.
        ``figure`` is kept for callers that passed ``figure=False``; ``True`` is an error naming that
        function. ``usage_like``: the ``usage.npz`` bytes the usage was read from (re-pricing; see
        :func:`~sim.economics.usage_file.usage_npz_bytes`).
        """
        if figure:
            raise ValueError("EconomicsResult.write(figure=True): the money layer no longer draws; "
                             "use sim.report.cashflow.write_cashflow_png(result, out_dir)")
        out_dir = Path(out_dir)
        paths = [out_dir / "cashflow.csv", out_dir / "ledger.csv", out_dir / "settlements.csv"]
        header = list(self.statement[0]) if self.statement else ["period"]
        atomic_write_bytes(paths[0], _csv_bytes(header, [[r[k] for k in header] for r in self.statement]))
        rows = [[getattr(e, c).isoformat() if c.endswith("_date") else getattr(e, c)
                 for c in LEDGER_COLUMNS] for e in self.ledger]
        atomic_write_bytes(paths[1], _csv_bytes(list(LEDGER_COLUMNS), rows))
        cents = self.config is not None and self.config.rounding == "cents"
        minimum = any(s.minimum_usd is not None for s in self.settlements)
        atomic_write_bytes(paths[2], _csv_bytes([*SETTLEMENT_COLUMNS, *(MINIMUM_COLUMNS if minimum else ())],
                                                [s.row(cents, minimum) for s in self.settlements]))
        if self.usage is not None and self.config is not None and self.start is not None:
            paths.append(write_usage(out_dir, self.usage, self.config, self.start, usage_like))
        return paths
