"""Re-pricing a finished run: new ``economics.*`` settings on the usage a result folder saved.

Money is a pure function of the run's usage (provisioned GPU intervals, served tokens per
request) and the ``economics:`` block, so a changed price, agreement or credit needs no new
simulation: :func:`reprice` applies ``--set economics.…`` overrides to the block saved in
``usage.npz``, checks it as a run would, and evaluates it on the saved usage. The numbers are the
ones a fresh run with the same overrides gives, bit for bit (``tests/test_reprice.py``).

Each override is also judged on its own: re-priced without it, does the money change? That takes an
evaluation of the block without it only where nothing cheaper can tell (:func:`_warn_if_unchanged`):
a block that parses to the same configuration with or without the override is the same money; one
that parses to the saved block's is compared with the totals the folder's summary holds; and a
configuration is evaluated once however many overrides lead to it. ``n`` overrides that each change
the configuration take ``n + 1`` evaluations (one override whose totals differ from the saved ones: 1).

>>> econ, summary = reprice_folder("out/base", ["economics.gpu_hour_usd=1.8"], out="out/cheaper")  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from sim.economics.evaluate import evaluate
from sim.economics.result import EconomicsResult
from sim.economics.usage_file import FILE_NAME, SavedUsage, read_usage
from sim.economics.validate import EconomicsWarning, validate
from sim.errors import InputError, InputWarning, ScenarioError, clipped, json_kind, text_list
from sim.atomic import atomic_write_json, finish_swaps, in_the_way_message, staged_folder
from sim.paths import followed, loop_message, looping_link, looping_links
from sim.limits import check_money
from sim.metrics.output import RESULT_NAMES, result_files, result_in_the_way
from sim.out_folder import check_out_dir, check_owner
from sim.report.fingerprint import KEY as FINGERPRINTS, SCENARIO, folder_fingerprints, mismatches, scenario_digest, \
    unchecked_notice
from sim.report.overview import scenario_file_problem, scenario_json
from sim.report.result_folder import MAX_PROBLEMS, summary_problems
from sim.scenario.economics import parse_economics
from sim.scenario.load import apply_overrides
from sim.scenario.overrides import ValueProblem, parse_value
from sim.scenario.safe_yaml import TagError
from sim.scenario.raw_values import plain_values
from sim.scenario.magnitudes import economics_magnitude_problems

#: files of a result folder that re-pricing rewrites (the rest are copied unchanged)
MONEY_FILES = ("summary.json", "cashflow.csv", "ledger.csv", "settlements.csv", FILE_NAME)
#: files derived from the money that re-pricing removes rather than leave stale
#: (``fleetsim report OUT`` redraws them)
STALE_FILES = ("report.html", "cashflow.png", "figures/cashflow.png", "figures/cashflow.svg")


def reprice(saved: SavedUsage, overrides: Sequence[str] = (), saved_totals: dict | None = None) -> EconomicsResult:
    """Evaluate the saved usage under the saved ``economics:`` block with ``overrides`` applied.

    ``saved_totals``: the ``cost`` and ``cashflow`` blocks of the summary the saved block gave
    (``{"cost": ..., "cashflow": ...}`` as read from the folder's ``summary.json``), when known:
    a single override whose totals differ from them changes the money, so the saved block is not
    evaluated again to tell (:func:`_warn_if_unchanged`).

    Raises :class:`~sim.errors.ScenarioError` (field path and message) for an override outside
    ``economics`` or a block that does not validate against the run's pools, horizon and revenue
    lines.
    """
    outside = [(path, "re-pricing changes only economics.* fields; anything else changes the simulation (use "
                "fleetsim run)" + (f"; did you mean economics.{path}?" if path.split(".")[0] in saved.economics else ""))
               for path in (o.partition("=")[0].strip() for o in overrides) if not path.startswith("economics")]
    if outside:
        raise ScenarioError(outside)
    econ = evaluate(_config(saved, overrides), saved.start, saved.usage)
    known = _Known(saved, econ, saved_totals)
    for o in overrides:
        _warn_if_unchanged(saved, overrides, o, econ, known)
    return econ


def _config(saved: SavedUsage, overrides: Sequence[str]):
    """The saved ``economics:`` block with ``overrides`` applied, parsed and checked as a run checks it."""
    cfg = _parsed(apply_overrides({"economics": saved.economics}, overrides))
    u = saved.usage
    problems = economics_magnitude_problems(cfg, saved.start, u.horizon_s) or validate(
        cfg, u.pools(), u.horizon_s, saved.start, u.revenue_line_names)
    if problems:
        raise ScenarioError(problems)
    return cfg


def _parsed(raw: dict):
    """``raw["economics"]`` validated, refused as a run refuses it: pydantic's errors in the words of
    :mod:`sim.scenario.schema_errors`, and numbers given as ``true``/``false`` (which pydantic reads as
    1/0). The full scenario schema those words need is imported only for a block that has a problem
    or a boolean."""
    block = raw.get("economics")
    try:
        cfg = parse_economics(block if block is not None else [])   # null: refused as any non-mapping
    except ScenarioError as exc:
        from sim.scenario.schema import Scenario
        from sim.scenario.schema_errors import validation_problems
        try:
            Scenario.model_validate(raw)
        except ValidationError as full:
            problems = [p for p in validation_problems(full, raw) if p[0].split(".")[0] == "economics"]
            raise (ScenarioError(problems) if problems else exc) from None
        raise
    if _has_boolean(block):
        from sim.scenario.schema_errors import bool_problems
        problems = bool_problems(cfg, block, "economics")
        if problems:
            raise ScenarioError(problems)
    return cfg


def _has_boolean(node, depth: int = 0) -> bool:
    if isinstance(node, bool):
        return True
    if depth < 64 and isinstance(node, dict):
        return any(_has_boolean(v, depth + 1) for v in node.values())
    if depth < 64 and isinstance(node, list):
        return any(_has_boolean(v, depth + 1) for v in node)
    return False


class _Known:
    """What one re-price already knows about configurations: the money of those it evaluated, and
    the totals the folder's summary holds for the saved block (``saved_totals``), so that no
    configuration is evaluated twice."""

    def __init__(self, saved: SavedUsage, econ: EconomicsResult, saved_totals: dict | None) -> None:
        self.saved, self.saved_totals = saved, saved_totals
        self.evaluated: list[EconomicsResult] = [econ]
        self._saved_cfg: list = []

    def is_saved(self, cfg) -> bool:
        """``cfg`` is the saved block's own configuration (parsed once, on first need)."""
        if not self._saved_cfg:
            self._saved_cfg.append(_config(self.saved, ()))
        return cfg == self._saved_cfg[0]

    def money(self, cfg) -> EconomicsResult:
        """The money of ``cfg``, evaluated unless it already was."""
        for econ in self.evaluated:
            if econ.config == cfg:
                return econ
        econ = evaluate(cfg, self.saved.start, self.saved.usage)
        self.evaluated.append(econ)
        return econ


def _money(econ: EconomicsResult) -> tuple:
    return econ.ledger, econ.cost, econ.cashflow, econ.statement, econ.settlements


def _totals(econ: EconomicsResult) -> dict | None:
    """``econ``'s ``cost`` and ``cashflow`` blocks as ``summary.json`` holds them (through JSON),
    or ``None`` when they are not JSON."""
    try:
        return json.loads(json.dumps({"cost": econ.cost, "cashflow": econ.cashflow}))
    except (TypeError, ValueError):
        return None


def _warn_if_unchanged(saved: SavedUsage, overrides: Sequence[str], override: str,
                       econ: EconomicsResult, known: _Known) -> None:
    """Warn (``economics.field: message``) when re-pricing without ``override`` gives the same
    money, ledger entry for entry: an override that changes nothing is usually a field the saved
    block does not use (``gpu_hour_usd`` where ``economics.compute`` tiers bill every GPU-hour).

    The block without ``override`` is evaluated only when nothing cheaper tells: parsed to
    ``econ``'s own configuration it is the same money (the saved block already has the value, or a
    later override of the same field replaces it); parsed to the saved block's configuration, whose
    totals the folder's summary holds, it is other money when ``econ``'s totals differ from those (on
    a long fluid result an evaluation was half of a re-price). Equal totals are no proof of equal
    money, so the block is then evaluated (once, :class:`_Known`)."""
    others = [o for o in overrides if o != override]
    cfg = econ.config
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg_without = _config(saved, others)
    except ScenarioError:     # it takes this override to make the block valid: it changes something
        return
    if cfg_without != cfg:
        if (known.saved_totals is not None and _totals(econ) not in (None, known.saved_totals)
                and (not others or known.is_saved(cfg_without))):
            return
        if _money(known.money(cfg_without)) != _money(econ):
            return
    path = override.partition("=")[0].strip()
    if cfg == cfg_without:
        why = "the saved economics block already has this value"
    elif path == "economics.gpu_hour_usd" and cfg is not None and cfg.compute:
        why = ("every provisioned GPU-hour is billed by the economics.compute tiers; gpu_hour_usd prices "
               "only pools without a compute entry and GPU-hours beyond the tiers' gpus caps; "
               "set economics.compute.N.usd_per_gpu_hour instead")
    else:
        why = "the saved economics already gives these numbers (cost, cash flows and ledger are the same without it)"
    warnings.warn(f"{path}: changes nothing: {why}", EconomicsWarning, stacklevel=3)


def reprice_folder(folder: str | Path, overrides: Sequence[str] | Mapping[str, object] = (),
                   out: str | Path | None = None) -> tuple[EconomicsResult, dict]:
    """Re-price the result folder ``folder``; return the money and the updated summary.

    The summary is the folder's ``summary.json`` with its ``cost`` and ``cashflow`` blocks
    recomputed and a ``repriced`` block (source folder and overrides) added. With ``out``, writes
    a result folder there (``overrides``: texts ``"economics.gpu_hour_usd=1.8"``, or a mapping of paths to
    values, recorded as such texts): the run's own files (:data:`~sim.metrics.output.RESULT_NAMES`, the figures
    in ``figures/``) copied except :data:`MONEY_FILES` (rewritten) and :data:`STALE_FILES` (left out);
    anything else in ``folder`` (notes, another tool's files) is not copied, said in one
    :class:`~sim.errors.InputWarning`. Missing or unreadable inputs raise :class:`~sim.errors.InputError`
    naming the file.
    """
    if isinstance(overrides, Mapping):      # {"economics.gpu_hour_usd": 1.8}: as texts (the folder records them),
        given = plain_values(copy.deepcopy(dict(overrides)))   # JSON being YAML; numpy's numbers as numbers
        overrides = [f"{k}={_yaml_text(v, k)}" for k, v in given.items()]     # (np.int64(2): 2, not "2")
    overrides = text_list(overrides, "overrides", "economics.gpu_hour_usd=1.8")
    if out is not None:
        check_out_dir(Path(out), "out")     # what fleetsim reprice --out refuses (the root, a file, ...), before any work
        if followed(Path(out)).is_dir():    # a run's folder, re-priced: a sweep's, plan's or search's is refused
            check_owner(followed(Path(out)), "run", shown=out, by="reprice", option="out")
    src = Path(folder)
    link = looping_link(src)
    if link is not None:
        raise InputError(loop_message(src, link, "fleetsim reprice reads the folder fleetsim run --out DIR wrote: "
                                                 "point the link at it"))
    for entry in looping_links(src, ("figures",)):     # a file read (or copied, with --out) that is not there
        raise InputError(loop_message(entry, entry, "remove the link, or point it at the file or folder it stands for"))
    finish_swaps(src)       # a swap into it a hard kill cut short: finished or undone, said
    if src.is_file() or not src.exists():
        what = "a file, not a result folder" if src.is_file() else "no such result folder"
        raise InputError(f"{src}: {what} (fleetsim reprice reads the folder fleetsim run --out DIR wrote)")
    if (src / FILE_NAME).is_dir():
        raise InputError(f"{src / FILE_NAME}: a folder, not a file (a result folder written by fleetsim run --out "
                         "keeps the usage re-pricing needs in this file; run the scenario again with --out)")
    if not (src / FILE_NAME).is_file():
        raise InputError(f"{src}: no {FILE_NAME} (a result folder written by fleetsim run --out keeps "
                         "the usage re-pricing needs; run the scenario again with --out)")
    try:
        saved = read_usage(src)
        text = (src / "summary.json").read_text(encoding="utf-8-sig")      # (a BOM an editor added is dropped)
    except FileNotFoundError as exc:
        raise InputError(f"{src}: {Path(exc.filename or '').name or 'summary.json'} is missing") from None
    except IsADirectoryError as exc:
        raise InputError(f"{src}: {Path(exc.filename or '').name or 'summary.json'} is a folder, not a file") from None
    except UnicodeDecodeError:     # (only the summary is read as text)
        raise InputError(f"{src}: summary.json is not a fleetsim summary (not UTF-8 text)") from None
    except ValueError as exc:
        raise InputError(f"{src}: {exc}") from None
    try:
        summary = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{src}: summary.json is not a fleetsim summary (not JSON: {clipped(str(exc), 200)})") \
            from None
    if not isinstance(summary, dict):
        raise InputError(f"{src}: summary.json is not a fleetsim summary (expected a JSON object, "
                         f"got {json_kind(summary)})")
    problem = scenario_file_problem(src, "to re-price without it")     # copied as it is, then refused by compare
    if problem is not None:
        raise InputError(problem)
    problems = summary_problems(summary)        # {"a": 1} was re-priced, its money said to have been $0.00
    if problems:
        raise ScenarioError([*problems[:MAX_PROBLEMS], ("", "not as fleetsim run writes it: run the scenario again "
                                                            "with --out")], str(src / "summary.json"))
    mismatch = other_run(saved, summary)       # usage.npz of another run was priced under this one's name
    if mismatch:
        raise InputError(f"{src}: {FILE_NAME} and summary.json are not of the same run ({mismatch}): re-pricing "
                         f"would price the other run's usage as this one's; run the scenario again with --out")
    _check_fingerprints(src, saved, summary)
    totals = ({k: summary[k] for k in ("cost", "cashflow")}
              if all(isinstance(summary.get(k), dict) for k in ("cost", "cashflow")) else None)
    try:
        econ = reprice(saved, overrides, totals)
        check_money({"cost": econ.cost, "cashflow": econ.cashflow})
    except ScenarioError as exc:          # name the folder, as a run names its scenario file
        raise ScenarioError([*exc.problems, *_saved_block_refused(saved, overrides)], str(src)) from None
    _drop_band_costs(src, summary, econ)
    summary["cost"] = dict(econ.cost)
    summary["cashflow"] = dict(econ.cashflow)
    summary.pop(FINGERPRINTS, None)     # the folder's, not the money's: written with the folder (_write_money)
    summary["repriced"] = _repriced_block(summary.get("repriced"), src, overrides, out)
    if out is not None:
        dst = Path(out)
        hit = result_in_the_way(dst)     # (found only after half the folder was written)
        if hit is not None:
            raise InputError(in_the_way_message(*hit))
        if dst.exists() and dst.resolve() == src.resolve():     # in place: only the money is rewritten
            _reprice_in_place(econ, summary, dst, saved)
        else:       # a new result folder, written whole beside its place and swapped in, as a run's is
            with staged_folder(dst, RESULT_NAMES) as stage:
                left = _copy_unpriced(src, stage)
                _write_money(econ, summary, stage, saved)
            if left:
                more = f" and {len(left) - 5:,} more" if len(left) > 5 else ""
                warnings.warn(f"{src}: not copied to {dst}: {', '.join(left[:5])}{more} (no part of a result: "
                              "fleetsim reprice copies the run's own files)", InputWarning, stacklevel=2)
    return econ, summary


#: the economics fields that are calendar days (:data:`sim.scenario.types.Day`): a text such as ``2025-03-01``
#: and the date YAML reads from it are the same day to them
DAY_FIELDS = ("from", "until", "due")


def _yaml_text(value: object, key: str = "KEY") -> str:
    """A Python value of a mapping of overrides as the ``--set`` text that gives it, so that ``fleetsim compare``
    finds nothing between a folder re-priced from Python and one re-priced with ``--set``: a text or a day as
    it would be typed (``p``, ``2025-03-01``) where YAML reads that back as the same value (or, for a day field,
    as the same day), else JSON (which YAML reads: ``"yes"``, ``"2"`` quoted), but for a number that is not
    finite, which JSON writes as the word ``Infinity`` or ``NaN`` (text to YAML).

        >>> _yaml_text(2), _yaml_text("s"), _yaml_text("yes"), _yaml_text(float("-inf")), _yaml_text(float("nan"))
        ('2', 's', '"yes"', '-.inf', '.nan')
        >>> import datetime
        >>> _yaml_text(datetime.date(2025, 3, 1)), _yaml_text("2025-03-01", "economics.agreements.0.from")
        ('2025-03-01', '2025-03-01')
        >>> _yaml_text("2025-03-01", "economics.revenue.0.name")       # a name: YAML's date would be refused
        '"2025-03-01"'
    """
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if value != value else ".inf" if value > 0 else "-.inf"
    if isinstance(value, (str, _dt.date)):
        text = str(value)
        try:
            read = parse_value(text, key)
        except (TagError, ValueProblem):
            read = None
        day = key.rsplit(".", 1)[-1] in DAY_FIELDS and isinstance(read, _dt.date) and str(read) == text
        if (read == value and type(read) is type(value)) or (isinstance(value, str) and day):
            return text
    return json.dumps(value, default=str)


def _saved_block_refused(saved: SavedUsage, overrides: list[str]) -> list[tuple[str, str]]:
    """Where the economics block the folder saved is itself refused (a rule newer than its run, such as a
    name with a space at either end), a closing line saying where the values are and how to replace them:
    they are in ``usage.npz``, not a file to edit."""
    if overrides:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _config(saved, ())
            return []
        except ScenarioError:
            pass
    return [("", f"the economics block saved in {FILE_NAME} is refused as its run took it (a check newer than "
                 f"the run): re-price with --set for each field above (--set KEY=VALUE, the value the message "
                 f"asks for), or run the scenario again with --out")]


def _repriced_block(earlier: object, src: Path, overrides: list[str], out: str | Path | None = None) -> dict:
    """The summary's ``repriced`` block: the folder re-priced (``from``) and this re-pricing's ``overrides``;
    re-pricing a folder re-priced before adds ``since_run``, every override since the run (the earlier
    ones first), which the money now reflects against the ``scenario.json`` kept as run (the page and
    ``compare`` read it: :func:`~sim.report.overview.repriced_overrides`).

    ``from`` is the folder's absolute path, links resolved (as typed, ``results/baseline`` named a
    different folder from any other working folder); with ``out`` (a folder written) ``from_folder`` is
    the same folder relative to it (``../baseline``; ``.`` re-priced in place), which still names it when
    the two move together (a ``results/`` folder copied to another machine).

        >>> b = _repriced_block(None, Path("/r/base"), ["economics.gpu_hour_usd=3"], "/r/dear")
        >>> b["from"], b["from_folder"]
        ('/r/base', '../base')
    """
    import os

    where = src.resolve()
    block: dict = {"from": str(where)}
    if out is not None:
        block["from_folder"] = Path(os.path.relpath(where, Path(out).resolve())).as_posix()
    block["overrides"] = list(overrides)
    if isinstance(earlier, dict):
        before = earlier.get("since_run", earlier.get("overrides"))
        if isinstance(before, list) and before:
            block["since_run"] = [*(str(o) for o in before), *overrides]
    return block


def other_run(saved: SavedUsage, summary: dict) -> str:
    """What differs between the usage saved in ``usage.npz`` and the run ``summary.json`` describes, said
    for a person (empty: nothing). A run writes both from the same numbers: its simulated seconds are
    the usage's horizon and its GPU-hours (provisioned and busy) the usage's, to rounding."""
    import math

    usage = saved.usage
    provisioned = sum(usage.provisioned_gpu_seconds().values()) / 3600
    hours = summary.get("gpu_hours") if isinstance(summary.get("gpu_hours"), dict) else {}
    for what, saved_value, said in (
            ("simulated seconds", usage.horizon_s, summary.get("simulated_seconds")),
            ("GPU-hours provisioned", provisioned, hours.get("provisioned")),
            ("GPU-hours busy", sum(usage.busy_gpu_seconds.values()) / 3600, hours.get("busy"))):
        if isinstance(said, (int, float)) and not isinstance(said, bool) and math.isfinite(said) \
                and not math.isclose(saved_value, said, rel_tol=1e-6, abs_tol=1e-9):
            return f"{what}: {saved_value:.6g} in {FILE_NAME}, {said:.6g} in summary.json"
    return ""


def _drop_band_costs(src: Path, summary: dict, econ: EconomicsResult) -> None:
    """Leave the capacity band's costs (``capacity_band.slower/faster.cost``) out of a summary whose money
    re-pricing changed, saying so: the band's two runs kept no usage to re-price, and their costs at the
    old prices stood beside the new ones, read as the range of the new bill."""
    band = summary.get("capacity_band")
    sides = [k for k in ("slower", "faster") if isinstance(band, dict) and isinstance(band.get(k), dict)
             and "cost" in band[k]]
    if not sides or json.loads(json.dumps(econ.cost, default=str)) == summary.get("cost"):
        return
    for k in sides:
        del band[k]["cost"]
    warnings.warn(f"{src}: capacity_band: its sides' costs are left out of the re-priced summary (the band's "
                  "runs kept no usage to re-price); for the band at the new prices, run the scenario again with "
                  "--capacity-band", InputWarning, stacklevel=3)


def _check_fingerprints(src: Path, saved: SavedUsage, summary: dict) -> None:
    """Refuse a ``usage.npz`` or ``scenario.json`` that is not the one the run wrote, by the fingerprints
    its ``summary.json`` records (:mod:`sim.report.fingerprint`; the same length and GPU-hours are no
    proof: :func:`other_run`); a folder of an earlier version, which records none, is re-priced with a
    notice that it cannot be checked."""
    notice = unchecked_notice(src, summary)
    if notice is not None:
        warnings.warn(notice, InputWarning, stacklevel=3)
        return
    found = {FILE_NAME: saved.digest}
    scenario, _ = scenario_json(src / SCENARIO)       # (a file that is no JSON object was refused already)
    if scenario is not None:
        found[SCENARIO] = scenario_digest(scenario)
    lines = mismatches(src, summary, found, {
        FILE_NAME: "re-pricing would price another run's usage as this one's",
        SCENARIO: "the re-priced folder would describe a scenario that is not the one its money was simulated from"})
    if lines:
        raise InputError("\n".join(lines))


def _reprice_in_place(econ: EconomicsResult, summary: dict, folder: Path, saved: SavedUsage) -> None:
    """Rewrite the money of the result ``folder`` itself: its :data:`MONEY_FILES` are written together into
    a temporary sibling and swapped in (:func:`~sim.atomic.staged_folder`, knowing only those names and the
    top-level :data:`STALE_FILES`, which leave with the old money), so that an error or an interrupt while
    writing leaves the folder as it was, never a ``usage.npz`` at the new prices beside a ``summary.json``
    whose fingerprint is the old one's (refused by the next re-price) or no ``summary.json`` at all (the
    files were rewritten one at a time, after all of them had been deleted). The other files stay where
    they are; the stale cash-flow chart in ``figures/`` is removed by the swap once the new money is in (and by
    the next command, which finishes a swap a hard kill cut short)."""
    known = (*MONEY_FILES, *(name for name in STALE_FILES if "/" not in name))
    with staged_folder(folder, known, drop=[name for name in STALE_FILES if "/" in name]) as stage:
        _write_money(econ, summary, stage, saved, scenario_in=folder)


def _write_money(econ: EconomicsResult, summary: dict, folder: Path, saved: SavedUsage,
                 scenario_in: Path | None = None) -> None:
    """The re-priced money files and summary, written into ``folder``; the summary last, with the
    fingerprints of the folder's ``usage.npz`` (re-priced) and ``scenario.json`` (as it was; in
    ``scenario_in`` when the folder written holds only the money: :func:`_reprice_in_place`)."""
    econ.write(folder, figure=False, usage_like=saved.archive)
    found = folder_fingerprints(folder)
    if scenario_in is not None:
        found = {**found, **folder_fingerprints(scenario_in, (SCENARIO,))}   # not its old usage.npz again
    atomic_write_json(folder / "summary.json", {**summary, FINGERPRINTS: found})


def _copy_unpriced(src: Path, dst: Path) -> list[str]:
    """Copy the files of the result in ``src`` that re-pricing leaves as they are into ``dst``; return
    the entries of ``src`` that are no part of a result (a folder with a ``/``), not copied. (Every file
    under ``src`` was copied: a person's notes, another tool's files, gigabytes of them.)"""
    skip = {*MONEY_FILES, *STALE_FILES}
    ours = [p.relative_to(src).as_posix() for p in result_files(src) if p.is_file()]
    folders = {name.rstrip("/") for name in RESULT_NAMES if name.endswith("/")}
    left = []
    for entry in sorted(src.iterdir()):
        inside = sorted(entry.iterdir()) if entry.name in folders and entry.is_dir() else [entry]
        for e in inside:
            rel = e.relative_to(src).as_posix()
            if not e.name.startswith(".") and rel not in ours:
                left.append(rel + ("/" if e.is_dir() else ""))
    for rel in ours:
        if rel not in skip:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst / rel)
    return left
