"""The money layer: GPU-hours to cost, tokens to revenue, revenue shares, cash flows.

Pure functions over ledgers, no SimPy. The engine hands over a :class:`Usage`; :func:`evaluate`
returns an :class:`EconomicsResult` (summary dicts, per-period statement, ledger, CSV
writer; its chart is drawn by :mod:`sim.report.cashflow`). :func:`validate` checks an
``economics:`` block against the scenario's pools and horizon. Semantics and conventions: ``docs/economics.md``.
"""
from sim.economics.agreements import Settlement
from sim.economics.calendar import Calendar
from sim.economics.evaluate import evaluate
from sim.economics.ledger import LedgerEntry
from sim.economics.result import EconomicsResult
from sim.economics.statement import present_value
from sim.economics.usage import ProvisionedInterval, Usage
from sim.economics.validate import EconomicsWarning, validate
from sim.scenario.economics import EconomicsConfig, parse_economics

__all__ = ["Calendar", "EconomicsConfig", "EconomicsResult", "EconomicsWarning", "LedgerEntry",
           "ProvisionedInterval", "Settlement", "Usage", "evaluate", "parse_economics",
           "present_value", "validate"]
