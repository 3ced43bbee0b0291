"""Where an atomically written file lands when its path is no plain file.

Results are written to a temporary sibling and renamed over the target, so a reader never sees half a
file. A target that is a device, pipe or socket (``--out /dev/stdout``, ``/dev/null``, a FIFO) has no
such replacement: renaming over it replaced the device itself with a regular file (as root,
``/dev/null`` became an ordinary file for every program on the machine). A symbolic link is followed:
the file it leads to is replaced and the link stays. (Checked on a pipe of the test's own: a test
writing to ``/dev/null`` would break the machine's if the fix ever regressed.)
"""
from __future__ import annotations

import os
import stat
import threading

import pytest

from sim.atomic import atomic_write_json, atomic_write_text


def _read_fifo(path, out: list) -> threading.Thread:
    def reader():
        with open(path, "rb") as fh:
            out.append(fh.read())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return t


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_written_in_place_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    atomic_write_json(fifo, {"a": 1})
    reader.join(10)
    assert got == [b'{\n  "a": 1\n}\n']
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)                  # still the pipe, not a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary file left beside it


def test_a_link_to_a_file_is_followed_and_stays_a_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target.name)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert target.read_text() == "new"


def test_a_dangling_link_makes_the_file_it_names(tmp_path):
    link = tmp_path / "latest.json"
    link.symlink_to("made.json")
    atomic_write_text(link, "x")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "x"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc here")
def test_a_file_descriptor_is_written_through_not_replaced(tmp_path):
    """``--out /dev/stdout`` with stdout redirected to a file: the link leads (through
    ``/proc/self/fd``) to that ordinary file, which the shell holds open. Replacing it would detach
    the shell's output from the file (what was printed before is lost from it); it is written through
    the descriptor instead, after what the file holds."""
    shell_out = tmp_path / "out.txt"
    with open(shell_out, "ab") as held:
        held.write(b"printed before\n")
        held.flush()
        inode = os.fstat(held.fileno()).st_ino
        fd_link = tmp_path / "stdout"
        fd_link.symlink_to(f"/proc/self/fd/{held.fileno()}")
        atomic_write_text(fd_link, "written\n")
    assert shell_out.read_text() == "printed before\nwritten\n"
    assert os.stat(shell_out).st_ino == inode and fd_link.is_symlink()


def test_an_ordinary_file_under_dev_is_replaced_not_appended_to():
    """``/dev/shm`` (memory-backed scratch space) holds ordinary files: a report written there twice
    is the second report, as anywhere else (it was appended to, since the path began with /dev/)."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    import tempfile
    folder = tempfile.mkdtemp(dir="/dev/shm")
    try:
        path = os.path.join(folder, "report.html")
        atomic_write_text(path, "first\n")
        atomic_write_text(path, "second\n")
        with open(path) as fh:
            assert fh.read() == "second\n"
        link = os.path.join(folder, "latest.html")          # a link to it: followed, the file replaced
        os.symlink(path, link)
        atomic_write_text(link, "third\n")
        assert os.path.islink(link) and open(path).read() == "third\n"
    finally:
        import shutil
        shutil.rmtree(folder)


def test_a_file_descriptor_reached_through_a_linked_folder_is_written_through(tmp_path):
    """``fds/N`` with ``fds`` a link to ``/proc/self/fd``: the descriptor's name once the folder's
    link is resolved, written through like ``/proc/self/fd/N``."""
    shell_out = tmp_path / "out.txt"
    with open(shell_out, "ab") as held:
        held.write(b"before\n")
        held.flush()
        (tmp_path / "fds").symlink_to("/proc/self/fd")
        atomic_write_text(tmp_path / "fds" / str(held.fileno()), "after\n")
    assert shell_out.read_text() == "before\nafter\n"
