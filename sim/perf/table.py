"""Measured step times on a grid, interpolated; the roofline outside the grid.

A table is a CSV with columns ``prefill_tokens, decode_seqs, context_tokens, step_s`` (lines starting
with ``#`` are comments) holding every combination of its distinct values (a full grid). For an
iteration of shape ``s`` the table is read at::

    (s.prefill_tokens, s.decode_seqs, s.decode_context_tokens + s.prefill_kv_tokens - s.prefill_tokens)

i.e. ``context_tokens`` counts the KV tokens attention reads that were already cached (the decoding
sequences' contexts plus any prefix of chunked prompts).

**Interpolation** is trilinear, with ``scipy.interpolate.RegularGridInterpolator(method="linear")``:
exact at grid points, and between them a weighted mean of the surrounding corners, so it is monotone
along any axis on which the data are monotone, and never leaves the range of the corners.

**Outside the grid** (any coordinate below its smallest or above its largest value) the table does
not extrapolate: the model emits ONE ``RuntimeWarning`` (per model instance) naming the file, the
point and the grid's range, and uses the fallback roofline for every such iteration.

    >>> import numpy as np
    >>> from sim.perf.base import BatchShape
    >>> from sim.perf.linear import LinearModel
    >>> t = TableModel((np.array([0, 100]), np.array([0, 10]), np.array([0, 1000])),
    ...                np.arange(8.0).reshape(2, 2, 2) / 100 + 0.01, LinearModel(base_s=1.0))
    >>> round(t.step_time(BatchShape(decode_seqs=5, decode_context_tokens=500)), 6)
    0.025
"""
from __future__ import annotations

import math
import pathlib
import warnings

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from sim.errors import InputError, InputWarning
from sim.io import check_width, csv_rows, header_index
from sim.perf.base import BatchShape, StepTimeModel
from sim.perf.measurements import MAX_MEASURED, MIN_MEASURED

COLUMNS = ("prefill_tokens", "decode_seqs", "context_tokens", "step_s")


class OutOfGridWarning(InputWarning, RuntimeWarning):
    """A step-time table was queried outside its grid (the roofline answers there); a
    ``RuntimeWarning`` as before, and an :class:`~sim.errors.InputWarning` naming the table's file."""


class TableModel:
    """Grid-interpolated :class:`~sim.perf.base.StepTimeModel` with a fallback outside the grid.

    ``axes`` are the sorted distinct ``prefill_tokens``, ``decode_seqs`` and ``context_tokens``;
    ``values[i, j, k]`` the seconds at ``(axes[0][i], axes[1][j], axes[2][k])``.
    """

    def __init__(self, axes: tuple[np.ndarray, np.ndarray, np.ndarray], values: np.ndarray,
                 fallback: StepTimeModel, source: str = "<table>") -> None:
        self.axes = tuple(np.asarray(a, dtype=float) for a in axes)
        self.values = np.asarray(values, dtype=float)
        self.fallback = fallback
        self.source = source
        self._lo = np.array([a[0] for a in self.axes])
        self._hi = np.array([a[-1] for a in self.axes])
        # scipy needs >= 2 points per axis; a single-value axis is padded with a copy at +1 and only
        # its one value is inside the grid.
        pts, vals = [], self.values
        for dim, a in enumerate(self.axes):
            if len(a) == 1:
                a = np.array([a[0], a[0] + 1.0])
                vals = np.concatenate([vals, vals], axis=dim)
            pts.append(a)
        self._interp = RegularGridInterpolator(tuple(pts), vals, method="linear", bounds_error=False,
                                               fill_value=None)
        self.warned = False

    @classmethod
    def from_csv(cls, path: str | pathlib.Path, fallback: StepTimeModel) -> "TableModel":
        """Read a full-grid CSV (see module docstring); :class:`~sim.errors.InputError` on any problem."""
        axes, values = read_table(path)
        return cls(axes, values, fallback, str(path))

    # ------------------------------------------------------------------ internals
    def _warn(self, point: tuple[float, float, float]) -> None:
        if not self.warned:
            self.warned = True
            rng = ", ".join(f"{n} {lo:g}..{hi:g}" for n, lo, hi in zip(COLUMNS, self._lo, self._hi))
            warnings.warn(f"{self.source}: step-time table queried outside its grid at prefill_tokens={point[0]:g}, "
                          f"decode_seqs={point[1]:g}, context_tokens={point[2]:g} (grid: {rng}); using the "
                          "roofline model there (further out-of-grid queries are not reported)",
                          OutOfGridWarning, stacklevel=3)

    def _inside(self, pts: np.ndarray) -> np.ndarray:
        return np.all((pts >= self._lo) & (pts <= self._hi), axis=1)

    # ------------------------------------------------------------------ protocol
    def step_time(self, shape: BatchShape) -> float:
        if shape.prefill_tokens + shape.decode_seqs <= 0:
            return 0.0
        ctx = shape.decode_context_tokens + (shape.prefill_kv_tokens - shape.prefill_tokens)
        pts = np.array([[shape.prefill_tokens, shape.decode_seqs, ctx]], dtype=float)
        if not self._inside(pts)[0]:
            self._warn(tuple(pts[0]))
            return self.fallback.step_time(shape)
        return float(self._interp(pts)[0])

    def decode_times(self, n_seqs: int, context_tokens: np.ndarray) -> np.ndarray:
        ctx = np.asarray(context_tokens)
        if n_seqs <= 0:
            return np.zeros(ctx.shape, dtype=float)
        flat = ctx.reshape(-1)
        pts = np.column_stack([np.zeros(flat.size), np.full(flat.size, float(n_seqs)), flat.astype(float)])
        inside = self._inside(pts)
        out = np.empty(flat.size, dtype=float)
        if inside.any():
            # scipy's linear interpolation computes each point independently, so one call over all
            # points equals per-point step_time calls bit for bit (pinned by the test-suite)
            out[inside] = self._interp(pts[inside])
        if not inside.all():
            self._warn(tuple(pts[~inside][0]))
            out[~inside] = self.fallback.decode_times(n_seqs, flat[~inside])
        return out.reshape(ctx.shape)


def read_table(path: str | pathlib.Path) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Axes and value grid of a step-time table CSV; every grid combination must appear exactly once."""
    from sim.scenario.safe_text import read_input_text
    path = pathlib.Path(path)
    text = read_input_text(path, "step-time table")      # a regular file, within the scenario loader's limits
    lines = list(csv_rows(text, path))
    if not lines:
        raise InputError(f"{path}: empty; expected a header {', '.join(COLUMNS)}")
    index = header_index(lines[0][1], path, lines[0][0], COLUMNS)
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise InputError(f"{path}:{lines[0][0]}: header must contain {', '.join(COLUMNS)} (missing {', '.join(missing)})")
    idx = [index[c] for c in COLUMNS]
    rows = []
    for lineno, r in lines[1:]:
        check_width(r, len(lines[0][1]), path, lineno)
        vals = []
        for c, j in zip(COLUMNS, idx):
            try:
                v = float(r[j])
            except (IndexError, ValueError):
                raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be a number (got "
                                 f"{r[j] if j < len(r) else 'nothing'!r})") from None
            if not math.isfinite(v) or v < 0:
                raise InputError(f"{path}:{lineno}:{j + 1}: {c} must be a finite number >= 0 (got {r[j]!r})")
            vals.append(v)
        step, (most, why), (least, why_least) = vals[3], MAX_MEASURED["step_s"], MIN_MEASURED["step_s"]
        if step > most or 0 < step < least:     # calibrate's bounds on a measured step: a slip of units
            bound = f"at most {most:g} s ({why})" if step > most else f"0 or at least {least:g} s ({why_least})"
            raise InputError(f"{path}:{lineno}:{idx[3] + 1}: step_s must be {bound}; it is in seconds "
                             f"(got {r[idx[3]]!r})")
        if vals[3] == 0 and (vals[0] > 0 or vals[1] > 0):   # a grid of 0 s ran at no latency, the GPU busy 0 %
            raise InputError(f"{path}:{lineno}:{idx[3] + 1}: step_s is 0 for an iteration that does work "
                             f"(prefill_tokens={vals[0]:g}, decode_seqs={vals[1]:g}); an iteration takes time: "
                             "give its measured seconds (0 only where both are 0, an empty batch)")
        rows.append((lineno, vals))
    if not rows:
        raise InputError(f"{path}: no data rows")
    data = np.array([v for _, v in rows])
    axes = tuple(np.unique(data[:, k]) for k in range(3))
    values = np.full(tuple(len(a) for a in axes), np.nan)
    for (lineno, v) in rows:
        key = tuple(int(np.searchsorted(axes[k], v[k])) for k in range(3))
        if not math.isnan(values[key]):
            raise InputError(f"{path}:{lineno}: duplicate grid point prefill_tokens={v[0]:g}, decode_seqs={v[1]:g}, "
                             f"context_tokens={v[2]:g}")
        values[key] = v[3]
    if np.isnan(values).any():
        i, j, k = np.argwhere(np.isnan(values))[0]
        raise InputError(f"{path}: not a full grid: missing prefill_tokens={axes[0][i]:g}, decode_seqs={axes[1][j]:g}, "
                         f"context_tokens={axes[2][k]:g} ({int(np.isnan(values).sum())} combinations missing)")
    return axes, values
