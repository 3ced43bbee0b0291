"""A folder of finished points, one JSON file each, written atomically as each point completes.

A *point* is one simulation: a fully resolved scenario (overrides applied) and a seed. Its key is
a hash of both, so a rerun of the same sweep finds the points already done and skips them, and a
sweep killed half-way loses only the points that were running. Files are written to a temporary
name in the same folder and moved into place with :func:`os.replace`, which is atomic on POSIX
and Windows: a reader (or a crash) never sees half a file.

Records whose ``error`` is set are kept for the report but are retried on the next run (the
failure may have been transient, e.g. a worker killed for memory).

    >>> point_key({"a": 1}, seed=3) == point_key({"a": 1}, seed=3) != point_key({"a": 1}, seed=4)
    True
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sim.errors import InputError, InputWarning
from sim.atomic import atomic_write_text
from sim.folder_lock import holding
from sim.out_folder import OWNER_FILE, RESULT_FILES, check_out_dir, check_owner, folder_owner, unmarked_points
from sim.paths import followed, make_folder

T = TypeVar("T")


def point_key(scenario: dict, seed: int) -> str:
    """Stable 20-hex-digit hash of a resolved scenario dict and a seed."""
    text = json.dumps({"scenario": scenario, "seed": int(seed)}, sort_keys=True, default=str,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file, then :func:`os.replace`)."""
    atomic_write_text(path, json.dumps(data, indent=1, default=json_default) + "\n")


def json_default(value: Any) -> Any:
    """What :func:`json.dumps` writes for a value it cannot (its ``default``): a numpy scalar as the
    Python number, an array as a list, anything else as its ``str``."""
    if hasattr(value, "item"):          # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)



#: the files each command writes beside its points once every point has run (and ``figures/`` when it
#: draws them): :func:`claim_folder` refuses a folder in the way of one before the first point runs
WRITES = {"sweep": ("sweep.csv", "sweep_ci.csv", "sweep.json", "scenario.json"),
          "plan": ("plan.csv", "plan.json", "scenario.json"),
          "saturation": ("saturation.csv", "saturation.json", "scenario.json")}


def claim_folder(root: Path, command: str, shown: Path | str | None = None, by: str | None = None,
                 figures: bool = False, source: Any = None) -> None:
    """Before any point runs: refuse ``root`` if another command wrote it (:class:`InputError` naming it
    (as ``shown``, the name the user gave, when set), that command, and ``by``, the command refused, when
    it writes another's kind of folder: ``reprice`` writes a run's), never writing into it: its points,
    ``scenario.json``, figures and report would mix with this command's. The same command's folder is its
    own (a rerun resumes from its points). Points with no mark and no result file beside them (written
    by a version before :data:`OWNER_FILE`, stopped before its result file) could be any command's: the
    folder is refused, the message saying how to mark it as this command's. A folder where the command
    writes a file (:data:`WRITES`), or a file where it draws its ``figures`` folder, is refused too (it
    would fail only after every point ran). So is a folder where a file the command writes would replace a
    file the ``source`` scenario (a :class:`~sim.planning.source.ScenarioSource`) reads: the scenario saved
    as ``scenario.json``, a trace named ``sweep.csv`` (:func:`replaced_input`). Nothing is written here: the
    store marks the folder (:data:`OWNER_FILE`) with its first point."""
    owner, _ = folder_owner(root)
    name = root if shown is None else shown
    by = by or command
    lost = None if source is None or command not in WRITES else replaced_input(source, root, command)
    if lost is not None:
        what, path = lost
        named = what if what == "the scenario file" else f"the file {what} names"
        raise InputError(f"--out: {name}: writing the result there would replace {path}, {named}, with the "
                         f"result's own file of that name; give another folder, or move the file")
    check_owner(root, command, shown, by)       # another command's results (a run: a folder of points too)
    if command in WRITES and root.is_dir() and not os.access(root, os.W_OK | os.X_OK):   # (found at the first store)
        raise InputError(f"--out: {name} is not writable (a read-only folder): fleetsim {by} writes its points "
                         f"there as they finish; make it writable or give another --out")
    for folder in ("points", *(("figures",) if figures else ())) if command in WRITES else ():   # (found when written)
        try:
            followed(root / folder)
        except OSError:
            raise InputError(f"--out: {Path(name) / folder} is a symbolic link that loops (it never leads to a "
                             f"folder): fleetsim {by} writes its {folder} there; remove the link or give another "
                             f"--out") from None
    points = root / "points"
    if points.exists() and not points.is_dir():     # (found at the first store, after a whole point's run)
        raise InputError(f"--out: {Path(name) / 'points'} is not a folder: the folder of finished points of "
                         f"fleetsim sweep, plan and saturation is there; move it away or give another --out")
    for file in (OWNER_FILE, *WRITES[command]) if command in WRITES else ():
        if (root / file).is_dir() and not (root / file).is_symlink():    # (a link is replaced, not followed)
            raise InputError(f"--out: {Path(name) / file} is a folder: fleetsim {by} writes its {file} there "
                             f"once every point has run; move the folder away or give another --out")
    if figures and (root / "figures").exists() and not (root / "figures").is_dir():
        raise InputError(f"--out: {Path(name) / 'figures'} is not a folder: fleetsim {by} draws its figures in a "
                         f"folder of that name once every point has run; move it away, give another --out or "
                         f"--no-figures")
    if owner is None and unmarked_points(root):     # (a run's: refused by check_owner above)
        points = Path(name) / "points"
        raise InputError(f"--out: {name} holds finished points ({points}) but no {OWNER_FILE} saying which "
                         f"command wrote them (a folder of an older fleetsim, stopped before its result file): "
                         f"if fleetsim {command} wrote them, mark the folder as its own with "
                         f"""echo '{{"command": "{command}"}}' > {Path(name) / OWNER_FILE} and run again to """
                         f"resume from them; else give another folder, e.g. --out {name}-{command}")


@contextmanager
def writing(root: Path | None, command: str, shown: Path | str | None = None) -> Iterator[None]:
    """Hold ``root`` for ``command`` while the block runs: a second sweep, plan, saturation search or
    run (``fleetsim run --out`` holds its folder too) writing the same folder at the same time, from this
    process or another, is refused
    (:class:`InputError` naming the folder, as ``shown`` when set). Two at once wrote their result files
    (``sweep.json``, ``sweep.csv``, ``scenario.json``, figures) one after another over each other's, so
    the folder could end with one's table and the other's figures.

    The hold is :func:`sim.folder_lock.holding`, an advisory lock on the folder itself (``flock``; the
    system releases it when the process ends, however it ends; a worker forked meanwhile lets go of its
    copy at once), which ``sim.run(..., out=...)`` takes too. The folder is made for it, and what was
    made is removed again if the block leaves it empty (a refusal before any point was stored). Without
    ``fcntl`` (Windows), where the file system refuses locks (``ENOLCK``, ``EBADF`` on NFS: the
    command runs as it would without the hold, not failing with the lock's error), or where the folder
    cannot be made (the command then says why), nothing is held; ``root=None``: nothing."""
    def busy() -> InputError:
        mine = "points and result files" if command in WRITES else "result files"
        return InputError(f"--out: {root if shown is None else shown}: another fleetsim sweep, plan, "
                          f"saturation search or run is writing there now: fleetsim {command} would mix its "
                          f"{mine} with that one's; wait for it to finish, or give another --out")

    with holding(root, busy):
        yield


def holds_out(command: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate ``command``'s function (``sweep``, ``plan``, ``saturation``), whose keyword ``out``
    names its result folder, to run within :func:`writing` on that folder."""
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> T:
            out = kwargs.get("out")
            if isinstance(out, str) and not out.strip():    # (Path("") is the working folder; --out '' is refused)
                raise InputError(f"out: give a folder name (got {out!r})")
            root = Path(out) if isinstance(out, (str, os.PathLike)) else None     # (a wrong type: fn says so)
            if root is not None:
                check_out_dir(root, "out")      # what the command's --out refuses (the root, a file, ...)
            with writing(root, command, shown=out):
                return fn(*args, **kwargs)
        return call
    return wrap


#: what ``fleetsim report`` (and the command itself) draws from a folder's result files
VIEWS = ("report.html", "figures/*.svg", "figures/*.png")


def drop_earlier_result(root: Path, command: str) -> None:
    """Just before ``command`` writes its result files into ``root``, which may hold an earlier result of
    its own (a rerun): the earlier result's files (:data:`WRITES`) and the figures and ``report.html``
    drawn from them (:data:`VIEWS`; files only, nothing else in ``figures/``) go first. The command then
    writes its own, its result file (``sweep.json``, ``plan.json``, ``saturation.json``) last, so that a
    folder it stopped writing (an interrupt, a full disk) holds no result file rather than the earlier
    one beside half of the new tables; its points stay and a rerun writes it whole. A rerun over another
    knob, or with ``--no-figures``, left the earlier ``figures/sweep_seed.svg`` and ``report.html``
    beside the new tables, read as this one's; ``fleetsim report`` draws them again from the new. The views
    go only when the folder holds an earlier result (its result file): in a folder of the user's own (``--out
    .``) a ``report.html`` or figure is theirs; so are the figures in a folder ``figures`` links to (the
    command writes its own over the names it draws)."""
    result = [name for name, owner in RESULT_FILES.items() if owner == command]
    earlier = any((root / name).is_file() for name in result)
    views = [v for v in VIEWS if not (v.startswith("figures/") and (root / "figures").is_symlink())]
    for pattern in (*result, *WRITES.get(command, ()), *(views if earlier else ())):
        for path in sorted(root.glob(pattern)):
            if path.is_symlink() or path.is_file():
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass


def replaced_input(source: Any, root: Path, command: str) -> tuple[str, Path] | None:
    """The first file the base scenario of ``source`` reads (:func:`sim.scenario.inputs.input_files`:
    its own file, traces, step-time tables) that ``command`` would replace writing its files into
    ``root`` (:data:`OWNER_FILE`, :data:`WRITES`, ``report.html``), as ``(what names it, path)``; ``None``:
    none. A base that does not load is checked for its own file only (the points say what is wrong)."""
    from sim.atomic import swapped_out
    from sim.scenario.inputs import written_over

    names = (OWNER_FILE, *WRITES[command], "report.html")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (said once, by the points)
            loaded = source.validate(source.data)
    except Exception:       # noqa: BLE001 - a base that does not load: its points say why
        loaded = None
    if loaded is not None:
        return written_over(loaded, root, names)
    own = Path(source.source)
    return ("the scenario file", own) if own.is_file() and swapped_out(root, names, own) else None


class CorruptPointWarning(InputWarning):
    """A stored point file was unreadable and has been moved aside (the point runs again)."""


class PointStore:
    """Finished points under ``root/points/<key>.json``; ``root=None`` keeps them in memory. With a
    ``command``, the folder is marked as that command's (:data:`OWNER_FILE`) before its first point."""

    def __init__(self, root: Path | str | None, command: str | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self.command = command
        self._memory: dict[str, dict] = {}

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "points" / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record for ``key``, or None.

        A file that is not a point record (random bytes, ``[]``, another point's record, JSON
        nested past reason) is moved aside to ``<key>.json.corrupt`` with a
        :class:`CorruptPointWarning` naming both paths, and the point counts as not done, so it
        runs again.
        """
        if self.root is None:
            return self._memory.get(key)
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._corrupt(path, f"cannot be read ({exc.strerror or exc})")
        try:
            rec = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return self._corrupt(path, f"is not JSON ({type(exc).__name__})")
        if not isinstance(rec, dict) or rec.get("key") != key:
            return self._corrupt(path, "is not this point's record")
        return rec

    def _corrupt(self, path: Path, why: str) -> None:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
            moved = f"moved to {aside}"
        except OSError as exc:
            moved = f"could not be moved aside ({exc.strerror or exc})"
        warnings.warn(f"{path}: {why}; {moved}; the point runs again", CorruptPointWarning, stacklevel=3)
        return None

    def done(self, key: str) -> dict | None:
        """The stored record if it finished without error (so it need not run again)."""
        rec = self.get(key)
        return rec if rec is not None and not rec.get("error") else None

    def put(self, record: dict) -> None:
        """Store a finished point (atomically when on disk)."""
        key = record["key"]
        if self.root is None:
            self._memory[key] = record
            return
        if self.command and not (self.root / OWNER_FILE).exists():
            write_json_atomic(self.root / OWNER_FILE, {"command": self.command})
        write_json_atomic(self._path(key), record)
