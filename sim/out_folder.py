"""Whether a folder can take a result: the checks ``fleetsim run --out`` (and ``sweep``, ``plan``,
``saturation``, ``reprice``) makes before anything runs, which ``sim.run(..., out=...)`` makes too, with
the same messages (naming ``out`` where the command line names ``--out``); and the marks by which a
folder is known as a result's (:data:`OWNER_FILE`, :data:`RESULT_FILES`), which command's it is
(:func:`folder_owner`) and, for a run, whether it is another's (:func:`check_run_owner`).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sim.errors import InputError
from sim.paths import followed, same_file, too_long

#: the file saying which command a result folder belongs to, written before its first point runs
OWNER_FILE = "command.json"
#: each command's own result file: a folder written before :data:`OWNER_FILE` is known by it
RESULT_FILES = {"summary.json": "run", "sweep.json": "sweep", "plan.json": "plan", "saturation.json": "saturation"}
#: the tables a sweep, plan or saturation search writes beside its result file and ``scenario.json``
#: (:mod:`sim.planning.sweep`, :mod:`sim.planning.plan_folder`, :mod:`sim.planning.saturation`)
SEARCH_TABLES = ("sweep.csv", "sweep_ci.csv", "plan.csv", "saturation.csv")


def check_out_dir(out: Path, option: str = "--out") -> None:
    """Fail early (:class:`sim.errors.InputError`, its message starting with ``option``) if ``out`` cannot
    be a result folder: it exists and is not a folder, or it cannot be created (a part of the path is a
    file, or the nearest existing folder is not writable), or no folder can be made beside it (where a
    result is staged before it is swapped in; ``/proc/self`` is a folder but nothing can be written
    there), or it is the file system's root (``/``: the result's files went among the system's folders),
    or it is inside another result's ``figures/`` (replaced whole by that result's next writing), or it is
    a symbolic link that loops. A link is followed (:func:`sim.paths.followed`): the checks apply to where
    it leads. Leaves nothing behind."""
    if str(out) == "":
        raise InputError(f"{option}: give a folder name")
    if (long := too_long(out)) is not None:
        raise InputError(f"{option}: {out}: {long}")
    try:
        real = followed(out)
    except OSError:
        raise InputError(f"{option}: {out} is a symbolic link that loops (it never leads to a folder)") from None
    name = out if real == out else f"{out} (a link to {real})"
    whole = Path(os.path.realpath(real.absolute()))      # (`/usr/..` is the root too)
    if whole.parent == whole:       # `--out /`: a result's files were written among the system's folders
        raise InputError(f"{option}: {name} is the file system's root, not a folder of its own: a result folder "
                         f"holds a dozen files and a figures/ folder; give one such as {whole / 'results' / 'run'}")
    inside = _in_figures(whole)
    if inside is not None:
        where = "is" if whole == inside / "figures" else f"is inside {inside / 'figures'},"
        raise InputError(f"{option}: {name} {where} the figures folder of the result in {inside}, which the next "
                         f"result written there replaces whole, this one with it; give a folder outside it")
    if real.exists():
        if not real.is_dir():
            raise InputError(f"{option}: {name} exists and is not a folder (give a folder, new or existing)")
        parent = real.absolute().parent
    else:
        parent = next((d for d in real.parents if d.exists()), Path(real.absolute().anchor))
        if not parent.is_dir():
            raise InputError(f"{option}: cannot create {name}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option}: cannot create {name}: {parent} is not writable")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{real.name or 'out'}.", suffix=".probe", dir=parent))
    except OSError as exc:
        raise InputError(f"{option}: cannot write a result folder at {name}: {parent} refuses new folders "
                         f"({exc.strerror or exc})") from None


def _in_figures(path: Path) -> Path | None:
    """The result folder whose ``figures/`` is or holds ``path`` (a resolved path), or ``None``: ``--out
    results/a/figures`` wrote a whole result there, which the next result written into ``results/a``
    deleted with the figures it replaces. A folder of the user's own named ``figures`` is not one: its
    parent must be a result (:func:`_a_result`)."""
    for above in (path, *path.parents):
        if above.name == "figures" and _a_result(above.parent):
            return above.parent
    return None


def _a_result(folder: Path) -> bool:
    """Whether ``folder`` holds a fleetsim result: marked by its command (``command.json`` naming one), or
    holding a command's result file (``summary.json``, ``plan.json``, ...) with the ``scenario.json`` every
    result saves beside it. A ``summary.json`` or ``plan.json`` alone (a paper's folder, another tool's plan)
    is not one."""
    try:
        if json.loads((folder / OWNER_FILE).read_bytes()).get("command") in RESULT_FILES.values():
            return True
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    return (folder / "scenario.json").is_file() and any((folder / f).is_file() for f in RESULT_FILES)


def result_file_problem(path: str | Path) -> str | None:
    """Why a file written at ``path`` would break a result (``None``: it would not): it is one of the files of
    the result in its folder (:func:`sim.metrics.output.result_files`: ``summary.json``, a figure; a search's
    :data:`OWNER_FILE`, result file, :data:`SEARCH_TABLES` and ``points/``), which
    ``fleetsim compare --out results/b/summary.json`` (or ``sweep/sweep.json``) wrote over with a comparison."""
    from sim.metrics.output import result_files

    real = Path(os.path.realpath(path))
    for folder in (real.parent, real.parent.parent):
        ours = [*result_files(folder), *(folder / n for n in (OWNER_FILE, *RESULT_FILES, *SEARCH_TABLES))]
        if _a_result(folder) and (any(same_file(real, f) for f in ours) or same_file(real.parent, folder / "points")):
            return (f"it is a file of the result in {folder}, which writing it would replace; name a file outside "
                    f"the result's folder")
    return None


def check_result_folder(out: Path, by: str = "run", option: str = "--out") -> None:
    """Refuse, before the run, an existing result folder ``out`` the result cannot be written into
    without loss: one not writable, or holding a folder where a result's file goes or a file where its
    folder goes (:func:`sim.metrics.output.result_in_the_way`), which swapping the result in would delete
    (``fleetsim reprice --out`` too, which wrote half its folder before failing on it)."""
    from sim.metrics.output import result_in_the_way

    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"{option}: {out} is not writable (a read-only folder): fleetsim {by} writes its result "
                         f"there; make it writable or give another {option}")
    hit = result_in_the_way(out)
    if hit is not None:
        path, kind = hit
        raise InputError(f"{option}: {path} is {'not a folder' if kind == 'folder' else 'a folder'}: a result of "
                         f"fleetsim {by} keeps its {path.name} {kind} there; move it away or give another {option}")


def folder_owner(root: Path, option: str = "--out") -> tuple[str | None, str]:
    """The command whose results ``root`` holds and the file that says so (``(None, "")``: none).

    An :data:`OWNER_FILE` that is not one (a file of the user's own, say) raises :class:`InputError`:
    nothing is written over it."""
    marker = root / OWNER_FILE
    if marker.is_file():
        try:
            owner = json.loads(marker.read_bytes()).get("command")
        except (OSError, ValueError, AttributeError, RecursionError):
            owner = None
        if owner not in RESULT_FILES.values():
            raise InputError(f"{option}: {marker}: not the mark of a fleetsim result folder (expected "
                             f'{{"command": "sweep"}} or another command): the folder is not fleetsim\'s to write '
                             f"into; give another {option}")
        return owner, str(marker)
    for name, owner in RESULT_FILES.items():
        if (root / name).exists():
            return owner, str(root / name)
    return None, ""


def unmarked_points(root: Path) -> bool:
    """Whether ``root/points`` holds a point file (``*.json``, or one moved aside as corrupt)."""
    try:
        return any(p.name.endswith((".json", ".json.corrupt")) for p in (root / "points").iterdir())
    except OSError:           # no points folder (or not one to read: the store says so when it writes)
        return False


def check_owner(root: Path, command: str, shown: Path | str | None = None, by: str | None = None,
                option: str = "--out") -> None:
    """Refuse (:class:`InputError`) an existing folder ``root`` holding another command's results than
    ``command``'s (:func:`folder_owner`), and for a run a folder of finished points (a sweep's, a plan's or a
    saturation search's, unmarked): ``command``'s result (written by ``by``: ``reprice`` writes a run's) would
    mix with them, its ``scenario.json`` and ``figures/`` replacing theirs. ``fleetsim run --out`` and
    ``reprice --out`` (through :func:`sim.planning.store.claim_folder`), ``sim.run(out=...)`` and
    ``sim.reprice(out=...)`` make it before anything runs, the API's message naming ``out`` for ``--out``."""
    owner, said = folder_owner(root, option)
    name = root if shown is None else shown
    by = by or command
    if owner is not None and owner != command:
        raise InputError(f"{option}: {name} holds the results of fleetsim {owner} ({said}): fleetsim {by} "
                         f"would mix its own with them; give another folder, e.g. {option} {name}-{by}")
    if owner is None and command == "run" and unmarked_points(root):   # (a run's folder holds no points)
        raise InputError(f"{option}: {name} holds the finished points of a sweep, plan or saturation search "
                         f"({Path(name) / 'points'}): fleetsim {by} would mix its own with them; give another "
                         f"folder, e.g. {option} {name}-{by}")
