"""The money layer's result: summary dicts, statement rows, ledger; CSV output and the cash-flow chart.

Files are written atomically (a temporary file in the same folder, then ``os.replace``), so a
reader never sees half a file.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from sim.economics.agreements import SETTLEMENT_COLUMNS, Settlement
from sim.economics.ledger import LEDGER_COLUMNS, LedgerEntry
from sim.economics.statement import format_statement
from sim.economics.usage import Usage
from sim.economics.usage_file import write_usage
from sim.io import atomic_write_bytes
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

    def format_table(self) -> str:
        """Plain-text statement plus notes, for the terminal."""
        text = format_statement(self.statement, self.currency)
        if self.notes:
            text += "\n" + "\n".join(f"note: {n}" for n in self.notes)
        return text

    def write(self, out_dir: Path, figure: bool = True, usage_like: bytes = b"") -> list[Path]:
        """Write ``cashflow.csv``, ``ledger.csv``, ``settlements.csv``, ``usage.npz`` (when the inputs are known: what
        ``fleetsim reprice`` reads) and (``figure``) ``cashflow.png`` into ``out_dir``.

        A run's result folder takes the chart from :mod:`sim.report` instead
        (``figures/cashflow.*``), so ``Result.write`` passes ``figure=False``. ``usage_like``: the
        ``usage.npz`` bytes the usage was read from (re-pricing; see
        :func:`~sim.economics.usage_file.usage_npz_bytes`).
        """
        out_dir = Path(out_dir)
        paths = [out_dir / "cashflow.csv", out_dir / "ledger.csv", out_dir / "settlements.csv"]
        header = list(self.statement[0]) if self.statement else ["period"]
        atomic_write_bytes(paths[0], _csv_bytes(header, [[r[k] for k in header] for r in self.statement]))
        rows = [[getattr(e, c).isoformat() if c.endswith("_date") else getattr(e, c)
                 for c in LEDGER_COLUMNS] for e in self.ledger]
        atomic_write_bytes(paths[1], _csv_bytes(list(LEDGER_COLUMNS), rows))
        cents = self.config is not None and self.config.rounding == "cents"
        atomic_write_bytes(paths[2], _csv_bytes(list(SETTLEMENT_COLUMNS),
                                                [s.row(cents) for s in self.settlements]))
        if self.usage is not None and self.config is not None and self.start is not None:
            paths.append(write_usage(out_dir, self.usage, self.config, self.start, usage_like))
        if figure:
            paths.append(atomic_write_bytes(out_dir / "cashflow.png", self.figure_png()))
        return paths

    def figure_png(self) -> bytes:
        """:meth:`chart` drawn by matplotlib, as PNG bytes."""
        from sim.report.render import png_bytes

        return png_bytes(self.chart())

    def chart(self):
        """Stacked bars per period (accrual: money in up, money out down) and cumulative cash, as a
        :class:`sim.report.chart.Chart`."""
        from sim.report.chart import Chart, Panel, Rule, Series

        rows = self.statement
        labels = [r["period"] + ("*" if r["partial"] else "") + ("†" if r["after_horizon"] else "")
                  for r in rows]
        width, height = max(7.5, 0.5 * len(rows) + 4.5), 4.5
        # fixed margins in inches: y tick labels and label on the left, the legend on the right,
        # the two-line title on top, the 45-degree period labels below (about 0.05 in of height
        # per character at 8 pt)
        bottom_in = 0.3 + 0.05 * max((len(lab) for lab in labels), default=4)
        x = list(range(len(rows)))
        ups = (("revenue_usd", "revenue", "#4c956c"), ("revenue_share_received_usd", "share received", "#90be6d"),
               ("credits_applied_usd", "credits", "#b8d8ba"))
        downs = (("compute_usd", "compute", "#d1495b"), ("training_usd", "training", "#edae49"),
                 ("revenue_share_paid_usd", "share paid", "#8d6a9f"), ("energy_usd", "energy", "#00798c"),
                 ("sla_credits_usd", "SLA credits", "#6d597a"))
        scale, unit = _scale(rows)
        panel = Panel(ylabel=f"{self.currency} {unit}".strip(), categories=labels, rotation=45.0, category_pt=8.0,
                      title="Cash flows per period (bars: accrual; line: cumulative cash)\n"
                            "* partial period   † after the horizon (lagged cash only)",
                      title_pt=9.0, legend="outside", legend_pt=7.0, grid="")
        for sign, stack in ((1.0, ups), (-1.0, downs)):
            bottom = [0.0] * len(rows)
            for key, label, color in stack:
                vals = [sign * r.get(key, 0.0) / scale for r in rows]
                if any(vals):
                    panel.series.append(Series(x, vals, kind="bar", bottom=bottom, color=color, label=label))
                    bottom = [b + v for b, v in zip(bottom, vals)]
        panel.series.append(Series(x, [r["cumulative_cash_usd"] / scale for r in rows], color="black",
                                   width=1.5, marker=True, label="cumulative cash"))
        panel.rules.append(Rule(0.0, axis="y", color="grey", width=0.8))
        return Chart([panel], width_in=width, height_in=height,
                     margins=(0.85, 1.5, bottom_in, 0.5))


def _scale(rows: list[dict]) -> tuple[float, str]:
    peak = max([abs(r.get(k, 0.0)) for r in rows for k in ("revenue_usd", "compute_usd", "cumulative_cash_usd",
                                                            "training_usd")] or [0.0])
    for div, unit in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")):
        if peak >= div:
            return div, unit
    return 1.0, ""
