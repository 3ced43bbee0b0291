"""``usage.npz``: what a result folder keeps so its money can be recomputed without re-simulating.

One numpy archive (``np.load`` reads it; no pickles; fixed member dates, so a run gives the same
bytes) holding a run's :class:`~sim.economics.usage.Usage` bit for bit — the provisioned GPU
intervals (``interval_pool`` indexes ``pools``, ``interval_gpus``, ``interval_start_s``,
``interval_end_s``) and the completed-request columns (``completion_s``, ``input_tokens``,
``output_tokens``, ``revenue_line``, ``weight``, ``cls``; ``outcome_*``: every request's outcome for
SLO money, when the run kept all records; one row per request, or per (hour, pool, class) group when
the run kept no per-request records) — plus a JSON ``meta`` string (the last member, so a re-priced
copy rewrites only it and the zip directory): the horizon, busy GPU-seconds per pool, revenue-line
and class names, GPU board power per pool, the scale note, the scenario's ``start`` date and the
``economics:`` block the run was priced with (schema field names, defaults filled in).
:func:`usage_digest` is its content's fingerprint (each member's name, dtype, shape and values, whatever
the zip's compression or dates and the ``.npy`` layout numpy wrote), which a result folder's ``summary.json`` records so that ``fleetsim
reprice`` can tell a ``usage.npz`` of another run.
:func:`read_usage` gives back an equal :class:`Usage` (intervals as
:class:`~sim.economics.usage.Intervals` columns, no object per interval), so ``evaluate(config,
start, usage)`` returns the same numbers as the run did.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.economics.calendar import LAST_YEAR
from sim.economics.usage import Intervals, Outcomes, Usage
from sim.atomic import atomic_write_bytes
from sim.scenario.economics import EconomicsConfig

FILE_NAME = "usage.npz"
FORMAT = 1


@dataclass(frozen=True)
class SavedUsage:
    """A result folder's usage, the ``economics:`` block (a plain mapping) and the ``start`` date."""

    usage: Usage
    economics: dict
    start: dt.date
    archive: bytes = b""    # the file's bytes, so a re-priced copy can reuse its usage members
    digest: str = ""        # usage_digest(archive)


def usage_npz_bytes(usage: Usage, cfg: EconomicsConfig, start: dt.date, like: bytes = b"") -> bytes:
    """The archive described in the module docstring, as bytes (deterministic: no timestamps).

    ``like``: the bytes of the archive ``usage`` was read from. Only ``meta`` (the last member:
    it holds the ``economics:`` block) then differs, so the members before it are kept as they
    are rather than compressed again; the bytes are the same as without ``like``.
    """
    pools = list(usage.pools())
    meta = {"format": FORMAT, "horizon_s": usage.horizon_s,
            "busy_gpu_seconds": {k: float(v) for k, v in usage.busy_gpu_seconds.items()},
            "revenue_line_names": list(usage.revenue_line_names), "scale_note": usage.scale_note,
            "pools": pools, "start": start.isoformat(), "class_names": list(usage.class_names),
            "gpu_tdp_w": {k: float(v) for k, v in usage.gpu_tdp_w.items()},
            "economics": cfg.model_dump(mode="json", by_alias=True)}
    meta_array = np.array(json.dumps(meta))
    kept = _members_before_meta(like) if like else None
    if kept is not None:
        return _archive(*kept, {"meta": meta_array})
    ivs = usage.intervals
    pos = {name: k for k, name in enumerate(pools)}    # a name without intervals indexes nothing
    to_pools = np.array([pos.get(name, -1) for name in ivs.pool_names], dtype=np.int64)
    arrays = {
        "interval_pool": to_pools[ivs.pool],
        "interval_gpus": np.asarray(ivs.gpus, dtype=np.float64),
        "interval_start_s": np.asarray(ivs.start_s, dtype=np.float64),
        "interval_end_s": np.asarray(ivs.end_s, dtype=np.float64),
        "completion_s": np.asarray(usage.completion_s), "input_tokens": np.asarray(usage.input_tokens),
        "output_tokens": np.asarray(usage.output_tokens), "revenue_line": np.asarray(usage.revenue_line),
        "weight": np.asarray(usage.weight),
    }
    if usage.cls is not None:
        arrays["cls"] = np.asarray(usage.cls)
    if usage.outcomes is not None:
        arrays.update({f"outcome_{c}": np.asarray(getattr(usage.outcomes, c)) for c in Outcomes.COLUMNS})
    return _archive(b"", [], {**arrays, "meta": meta_array})


def _archive(prefix: bytes, kept: list[zipfile.ZipInfo], arrays: dict[str, np.ndarray]) -> bytes:
    """A zip of ``prefix`` (the bytes of the members ``kept`` describe) followed by ``arrays``."""
    buf = io.BytesIO()
    buf.write(prefix)
    with zipfile.ZipFile(buf, "w") as zf:
        zf.filelist.extend(kept)         # listed in the central directory, bytes already in prefix
        zf.NameToInfo.update({i.filename: i for i in kept})
        for name, arr in arrays.items():   # fixed member dates: same run, same bytes
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # deflate level 1: a quarter of the time of the default level for 4 % more bytes
            zf.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return buf.getvalue()


def _members_before_meta(archive: bytes) -> tuple[bytes, list[zipfile.ZipInfo]] | None:
    """The bytes and entries of the members before ``meta.npy`` when it is the last member
    (what :func:`usage_npz_bytes` writes), else ``None``."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if not infos or infos[-1].filename != "meta.npy":
        return None
    return archive[:infos[-1].header_offset], infos[:-1]


def usage_digest(archive: bytes) -> str:
    """The fingerprint of a ``usage.npz``'s content, ``sha256:`` and 64 hex digits: the SHA-256 of each
    member's name and array (its dtype in little-endian order, shape and values in C order; a member that
    is no ``.npy``: its bytes), members in name order. The zip's compression, member dates and order do
    not enter it, nor the ``.npy`` header's layout (its format version, its padding: numpy versions write
    it differently) or the arrays' byte order, so an archive read and saved again unchanged (``np.savez``,
    any numpy) keeps its fingerprint; any other array or ``meta`` (the ``economics:`` block, horizon,
    busy GPU-seconds) changes it. ``ValueError`` for bytes that are not a zip of such members.

        >>> import numpy as np; a, b = io.BytesIO(), io.BytesIO()
        >>> np.savez(a, x=np.arange(3), meta=np.array("{}")); np.savez_compressed(b, meta=np.array("{}"), x=np.arange(3))
        >>> usage_digest(a.getvalue()) == usage_digest(b.getvalue())
        True
    """
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                data = zf.read(info)
                if info.filename.endswith(".npy"):
                    arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                    arr = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
                    data = f"{arr.dtype.str}\0{arr.shape}\0".encode() + arr.tobytes()
                h.update(f"{info.filename}\0{len(data)}\0".encode())
                h.update(data)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
        raise ValueError(f"not a zip archive ({exc})") from None
    return "sha256:" + h.hexdigest()


def write_usage(out_dir: Path, usage: Usage, cfg: EconomicsConfig, start: dt.date, like: bytes = b"") -> Path:
    """Write ``out_dir/usage.npz`` atomically (``like``: see :func:`usage_npz_bytes`)."""
    return atomic_write_bytes(Path(out_dir) / FILE_NAME, usage_npz_bytes(usage, cfg, start, like))


def read_usage(path: Path) -> SavedUsage:
    """Read a ``usage.npz`` (or the one in a result folder). ``ValueError`` names the file when it
    is not one this version wrote; ``FileNotFoundError`` when it is missing."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    try:
        archive = path.read_bytes()
        if not archive.startswith(b"PK"):    # numpy would blame pickled data, allow_pickle and trust
            raise ValueError("not a NumPy .npz archive, which is a zip file")
        with np.load(io.BytesIO(archive), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, this version "
                             f"reads {FORMAT}")
        _check_members(arrays, meta)
        intervals = Intervals(tuple(meta["pools"]), arrays["interval_pool"], arrays["interval_gpus"],
                              arrays["interval_start_s"], arrays["interval_end_s"])
        usage = Usage(horizon_s=float(meta["horizon_s"]), intervals=intervals,
                      busy_gpu_seconds={k: float(v) for k, v in meta["busy_gpu_seconds"].items()},
                      completion_s=arrays["completion_s"], input_tokens=arrays["input_tokens"],
                      output_tokens=arrays["output_tokens"], revenue_line=arrays["revenue_line"],
                      revenue_line_names=tuple(meta["revenue_line_names"]), weight=arrays["weight"],
                      scale_note=meta["scale_note"], cls=arrays.get("cls"),
                      class_names=tuple(meta.get("class_names", ())),
                      gpu_tdp_w={k: float(v) for k, v in meta.get("gpu_tdp_w", {}).items()},
                      outcomes=(Outcomes(*(arrays[f"outcome_{c}"] for c in Outcomes.COLUMNS))
                                if "outcome_t_s" in arrays else None))
        usage.check()
        return SavedUsage(usage, dict(meta["economics"]), dt.date.fromisoformat(meta["start"]), archive,
                          usage_digest(archive))
    except FileNotFoundError:
        raise
    except (KeyError, TypeError, IndexError, ValueError, OSError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a usage file this version of fleetsim can read ({exc})") from None


#: each column member: its kind of number (``i`` an index, whole; ``f`` any number: a run without
#: per-request records keeps token sums per group as floats; ``b`` boolean) and the least value it may
#: hold; every value finite (what a run writes, nothing else)
_COLUMNS = {"interval_pool": ("i", 0), "interval_gpus": ("f", 0), "interval_start_s": ("f", 0),
            "interval_end_s": ("f", 0), "completion_s": ("f", 0), "input_tokens": ("f", 0),
            "output_tokens": ("f", 0), "revenue_line": ("i", -1), "weight": ("f", 0), "cls": ("i", 0),
            "outcome_t_s": ("f", 0), "outcome_status": ("i", 1), "outcome_met": ("b", None),
            "outcome_input_tokens": ("f", 0), "outcome_output_tokens": ("f", 0), "outcome_revenue_line": ("i", -1),
            "outcome_weight": ("f", 0)}


def _check_members(arrays: dict[str, np.ndarray], meta: dict) -> None:
    """``ValueError`` naming the member (and its first bad row) of an archive whose columns or ``meta``
    hold what no run writes: text or a float where a count goes, NaN, a negative time, count or GPU
    number, a ``meta`` entry of the wrong kind. Re-priced as they were, such values gave money with no
    error (a negative GPU count earns back its cost) or an internal error."""
    for name, arr in arrays.items():
        kind, least = _COLUMNS.get(name, (None, None))
        if kind is None:
            raise ValueError(f"{name}: not a member of a usage file")
        if arr.ndim != 1 or arr.dtype.kind not in {"i": "iu", "f": "fiu", "b": "b"}[kind]:
            what = {"i": "whole numbers", "f": "numbers", "b": "true/false values"}[kind]
            raise ValueError(f"{name}: must be one column of {what} (got {arr.dtype} of shape {arr.shape})")
        if kind == "b" or not len(arr):
            continue
        bad = ~np.isfinite(arr) | (arr < least) if kind == "f" else arr < least
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = "a finite number" if kind == "f" else "a whole number"
            raise ValueError(f"{name}: row {row}: must be {what} >= {least} (got {arr[row].item()!r})")
    for key in ("busy_gpu_seconds", "gpu_tdp_w"):
        got = meta.get(key, {})
        if not isinstance(got, dict) or not all(isinstance(k, str) and _number(v) and v >= 0 for k, v in got.items()):
            raise ValueError(f"meta {key}: must map pool names to finite numbers >= 0 (got {str(got)[:80]})")
    for key in ("pools", "revenue_line_names", "class_names"):
        got = meta.get(key, [])
        if not isinstance(got, list) or not all(isinstance(x, str) for x in got) or len(set(got)) < len(got):
            raise ValueError(f"meta {key}: must list distinct names (got {str(got)[:80]})")
    for key, kind in (("horizon_s", (int, float)), ("scale_note", str), ("start", str), ("economics", dict)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(f"meta {key}: must be {_KINDS[key]} "
                             f"(got {str(meta.get(key))[:80]})")
    if dt.date.fromisoformat(meta["start"]).year > LAST_YEAR:
        raise ValueError(f"meta start: must be a date up to {LAST_YEAR}-12-31 (got {meta['start'][:40]!r})")


_KINDS = {"horizon_s": "a number", "scale_note": "text", "start": "a date such as 2025-01-01",
          "economics": "a mapping (the economics block)"}


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
