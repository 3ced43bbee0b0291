"""Measured points a calibration is fitted to: iteration times or static-batch throughputs, and their CSV file.

:func:`read_points` reads either kind (the columns are in :mod:`sim.perf.calibration`'s docstring), every bad
cell named by file, line and column; :func:`sim.perf.calibration.fit_efficiency` fits a GPU's roofline factors
to them.

    >>> StepPoints(*[np.array([v]) for v in (8, 2, 0, 0, 0.01)]).shapes()[0].prefill_attn_pairs
    20.0
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError
from sim.humanize import plural
from sim.io import check_width, csv_rows, header_index
from sim.perf.base import BatchShape
from sim.scenario.types import MAX_COUNT


@dataclass(frozen=True)
class StepPoints:
    """Measured iteration times, one array element per point (see module docstring)."""

    prefill_tokens: np.ndarray
    prefill_seqs: np.ndarray
    decode_seqs: np.ndarray
    context_tokens: np.ndarray
    step_s: np.ndarray

    def shapes(self) -> list[BatchShape]:
        out = []
        for p, ps, d, c in zip(self.prefill_tokens, self.prefill_seqs, self.decode_seqs, self.context_tokens):
            p, ps, d, c = int(p), int(ps), int(d), int(c)
            per = p / ps if ps else 0.0
            out.append(BatchShape(prefill_tokens=p, prefill_seqs=ps, prefill_attn_pairs=ps * per * (per + 1) / 2.0,
                                  prefill_kv_tokens=p, decode_seqs=d, decode_context_tokens=c))
        return out


@dataclass(frozen=True)
class ThroughputPoints:
    """Measured static-batch output throughputs (tokens/s), one array element per point."""

    batch: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    output_tokens_per_s: np.ndarray


def _read_csv(path: pathlib.Path) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """``(header line, header, [(line, row), ...])`` of a points file, read by the one CSV rule."""
    from sim.scenario.safe_text import read_input_text
    text = read_input_text(path)      # a regular file, within the scenario loader's limits
    rows = list(csv_rows(text, path))
    if not rows:
        raise InputError(f"{path}: empty file; expected a header row")
    return rows[0][0], [h.strip() for h in rows[0][1]], rows[1:]


#: the largest measured time or throughput a points file may hold, and why (a count: ``MAX_COUNT``)
MAX_MEASURED = {"step_s": (3600.0, "an hour; serving iterations take milliseconds to seconds"),
                "output_tokens_per_s": (1e9, "a billion tokens a second; a replica generates some thousands "
                                             "to some hundred thousands")}
#: the smallest, and why: below them a slip of units, and the fit's weights (1 / value squared) overflow
MIN_MEASURED = {"step_s": (1e-6, "a microsecond; launching one GPU kernel takes several"),
                "output_tokens_per_s": (1e-3, "a token every 17 minutes; a replica generates some thousands "
                                              "to some hundred thousands a second")}


def read_points(path: str | pathlib.Path) -> StepPoints | ThroughputPoints:
    """Points from a CSV whose header names the step-time or the throughput columns."""
    path = pathlib.Path(path)
    header_line, header, rows = _read_csv(path)
    step_cols = ["prefill_tokens", "decode_seqs", "context_tokens", "step_s"]
    tput_cols = ["batch", "input_tokens", "output_tokens", "output_tokens_per_s"]
    if all(c in header for c in step_cols):
        cols, kind = step_cols + (["prefill_seqs"] if "prefill_seqs" in header else []), "step"
    elif all(c in header for c in tput_cols):
        cols, kind = tput_cols, "tput"
    else:
        raise InputError(f"{path}:{header_line}: header must contain either {', '.join(step_cols)} or "
                         f"{', '.join(tput_cols)} (got {', '.join(header)})")
    if not rows:
        raise InputError(f"{path}: no points: the file has a header row and no data rows (expected a row "
                         f"per measurement with {', '.join(cols)})")
    header_index(header, path, header_line, cols)     # a column read given twice is refused
    data: dict[str, list[float]] = {c: [] for c in cols}
    at_least_one = ("batch", "input_tokens", "output_tokens")
    last = max(header.index(c) for c in cols)
    for lineno, row in rows:
        if len(row) <= last:
            raise InputError(f"{path}:{lineno}: the row has {len(row)} {plural(len(row), 'cell')}; expected "
                             f"{len(header)}, one per column of the header (line {header_line}: {', '.join(header)})")
        check_width(row, len(header), path, lineno)
        for c in cols:
            j = header.index(c)
            try:
                v = float(row[j])
            except ValueError:
                raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be a number (got {row[j]!r})") from None
            if c in MAX_MEASURED:
                if not (math.isfinite(v) and v > 0):
                    raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be a finite number > 0 (got {row[j]!r})")
                most, why = MAX_MEASURED[c]
                least, why_least = MIN_MEASURED[c]
                if v < least:
                    raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be at least {least:g} ({why_least}) "
                                     f"(got {row[j]!r})")
            elif not (math.isfinite(v) and v == math.floor(v) and v >= (1 if c in at_least_one else 0)):
                raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be a whole number "
                                 f"{'>= 1' if c in at_least_one else '>= 0'} (got {row[j]!r})")
            else:
                most, why = MAX_COUNT, "2^53, past which a number stands for more than one count"
            if v > most:
                top = f"{most:,}" if isinstance(most, int) else f"{most:,.6g}"
                raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be at most {top} ({why}) (got {row[j]!r})")
            data[c].append(v)
        if kind == "step":
            p, d = data["prefill_tokens"][-1], data["decode_seqs"][-1]
            if p == 0 and d == 0:
                raise InputError(f"{path}:{lineno}: prefill_tokens and decode_seqs are both 0: an iteration "
                                 f"needs prefill_tokens >= 1 or decode_seqs >= 1")
            if d == 0 and data["context_tokens"][-1] > 0:
                j = header.index("context_tokens")
                raise InputError(f"{path}:{lineno}:{j + 1}: context_tokens must be 0 when decode_seqs is 0 (it is "
                                 f"the KV context the decoding sequences read; got {row[j]!r})")
            if "prefill_seqs" in data and data["prefill_seqs"][-1] > p:
                j = header.index("prefill_seqs")
                raise InputError(f"{path}:{lineno}:{j + 1}: prefill_seqs must be <= prefill_tokens ({p:g}) "
                                 f"(got {row[j]!r})")
    a = {c: np.asarray(v) for c, v in data.items()}
    if kind == "step":
        ps = a.get("prefill_seqs", (a["prefill_tokens"] > 0).astype(float))
        ps = np.where((a["prefill_tokens"] > 0) & (ps < 1), 1.0, ps)
        return StepPoints(a["prefill_tokens"], ps, a["decode_seqs"], a["context_tokens"], a["step_s"])
    return ThroughputPoints(a["batch"], a["input_tokens"], a["output_tokens"], a["output_tokens_per_s"])
