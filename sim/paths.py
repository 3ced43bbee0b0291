"""Where a path leads: a file named in a scenario, a symbolic link followed or looping, whether a file
can be written at a path, a folder made through links.

Result folders and output files follow links: ``--out latest`` with ``latest -> runs/monday`` writes
into ``runs/monday`` (made if missing) and ``latest`` stays a link. A link that loops is named with the
link that loops on the way (:func:`looping_link`, :func:`loop_message`), not left to a bare ``ELOOP``.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path


def resolve_path(path: str | Path, base_dir: str | Path) -> Path:
    """A file named in a scenario (``~`` expanded), relative to the scenario's folder ``base_dir``.

    ``~nosuchuser/x.csv`` names no home folder; it is kept as written, so the caller reports the
    file as not found rather than failing inside ``expanduser``.
    """
    p = Path(path)
    try:
        p = p.expanduser()
    except RuntimeError:
        pass
    return p if p.is_absolute() else Path(base_dir) / p


def followed(path: str | Path) -> Path:
    """Where a symbolic link at ``path`` leads (through every link, whether the end exists or
    not), or ``path`` itself when it is no link. A link that loops raises ``OSError`` (ELOOP).

    Result folders follow links: ``--out latest`` with ``latest -> runs/monday`` writes into
    ``runs/monday`` (made if missing) and ``latest`` stays a link.
    """
    p = Path(path)
    if not p.is_symlink():
        return p
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise
    return Path(os.path.realpath(p))


def looping_link(path: str | Path) -> Path | None:
    """The symbolic link that loops on the way to ``path`` (``path`` itself, or a folder above it that
    is such a link), or ``None`` when none does (``path`` may then exist or not).

        >>> looping_link("/") is None
        True
    """
    p = Path(path)
    try:
        os.stat(p)
        return None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            return None
    for i in range(1, len(p.parts) + 1):
        q = Path(*p.parts[:i])
        try:
            os.stat(q)
        except OSError as exc:
            if exc.errno == errno.ELOOP and q.is_symlink():
                return q
    return p


def looping_links(folder: str | Path, within: Sequence[str] = ()) -> list[Path]:
    """The symbolic links directly in ``folder``, and in its sub-folders named in ``within``, that loop
    (sorted by name): a result folder's reader would take each for a file that is not there."""
    out = []
    for where in (Path(folder), *(Path(folder) / w for w in within)):
        try:
            entries = sorted(where.iterdir())
        except OSError:
            continue
        out += [e for e in entries if e.is_symlink() and looping_link(e) is not None]
    return out


def loop_message(path: str | Path, link: str | Path, fix: str) -> str:
    """What is wrong with ``path`` when ``link`` (``path`` itself, or a folder above it) is a symbolic link
    that loops, and ``fix``, what to do.

        >>> loop_message("latest", "latest", "point it at a result folder")
        'latest: a symbolic link that loops (following it never reaches a file or folder); point it at a result folder'
    """
    on_the_way = "" if Path(link) == Path(path) else f"{link}, on the way to it, is "
    return f"{path}: {on_the_way}a symbolic link that loops (following it never reaches a file or folder); {fix}"


def too_long(path: str | Path) -> str | None:
    """Why the file system refuses ``path`` as too long (``ENAMETOOLONG``), with the lengths it takes
    (``NAME_MAX`` and ``PATH_MAX`` of the nearest folder that exists, else Linux's 255 and 4,096 bytes);
    ``None`` when it is not. Every call on such a path failed, and was said as a looping link or as
    ``OSError: [Errno 36]``.

        >>> too_long("results/" + "x" * 300)
        "a name in it is 300 bytes long ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'...): the file system takes names of at most 255"
        >>> too_long("results/run") is None, too_long(b"results/" + b"x" * 300)[:26]
        (True, 'a name in it is 300 bytes ')
    """
    raw = os.fsencode(path)
    longest = max(raw.split(b"/"), key=len)
    name_max, path_max = _limits(Path(os.fsdecode(raw)))     # (a bytes path too: Path() refuses one)
    if len(longest) > name_max:
        name = os.fsdecode(longest)
        return (f"a name in it is {len(longest):,} bytes long ({name[:40]!r}{'...' if len(name) > 40 else ''}): the "
                f"file system takes names of at most {name_max:,}")
    if len(raw) >= path_max:
        return f"it is {len(raw):,} bytes long: the file system takes paths of at most {path_max - 1:,}"
    return None


def _limits(path: Path) -> tuple[int, int]:
    """``NAME_MAX`` and ``PATH_MAX`` of the nearest folder above ``path`` that exists (Linux's 255 and 4,096
    where none answers)."""
    for folder in path.absolute().parents:
        try:
            return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
        except (OSError, ValueError):
            continue
    return 255, 4096


def output_file_problem(path: str | Path, inputs: Sequence[str | Path | None] = ()) -> str | None:
    """Why a file cannot be written at ``path`` (``None``: it can): it is one of ``inputs`` (the files the
    command reads, which writing it would replace), a folder, or its folder is missing or a file.

        >>> output_file_problem("/") is not None, output_file_problem("/tmp/x.yaml", ["/tmp/../tmp/x.yaml"])
        (True, 'it is the input file /tmp/../tmp/x.yaml, which writing it would replace; name another file')
    """
    p = Path(path)
    if (long := too_long(p)) is not None:
        return long
    link = looping_link(p)
    if link is not None:
        return loop_message(p, link, "name another file").removeprefix(f"{p}: ")
    real = Path(os.path.realpath(p))
    for given in (i for i in inputs if i is not None):
        if same_file(real, given):
            return f"it is the input file {given}, which writing it would replace; name another file"
    if real.is_dir():
        return "is a folder; name a file in it"
    if not real.parent.is_dir():
        what = "is a file" if real.parent.exists() else "does not exist"
        return f"its folder {real.parent} {what}; make the folder first or name a file in one"
    return None


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links are followed, or two names the file
    system gives one file (``SUMMARY.json`` and ``summary.json`` on a case-insensitive one, as macOS's and
    Windows' are by default; a hard link), which only the file itself can tell.

        >>> same_file("results/../results/x.yaml", "results/x.yaml"), same_file("a.yaml", "b.yaml")
        (True, False)
    """
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):       # (either missing: a file written there is no other one)
        return False


def make_folder(path: str | Path) -> None:
    """``mkdir -p`` that follows symbolic links on the way, a dangling one included: the folder is
    made where the link points and the link stays a link (``Path.mkdir`` refuses a dangling link)."""
    Path(os.path.realpath(path)).mkdir(parents=True, exist_ok=True)
