"""The home folder is private: folders 0700, files 0600; and reads never leave a run's folder.

``FLYTE_JUPYTER_HOME`` holds the run store (``runs.sqlite``: every run and its status), the
publish index (``index.sqlite``: which bundle is in which bundle store), the default bundle
store (``store/``: the published archives, when the ``store`` setting is not set), the bundle
cache and one folder per run (its command, inputs, outputs and log). Nobody but its owner has
business there, so :func:`secure_home` makes the home 0700 (an existing home too, when it
belongs to this user) and everything the project writes in it is created private whatever
the umask: :func:`private_dir`, :func:`write_private`, :func:`open_private`.

A run's own code runs inside its run folder, as the same user, and may plant a symlink or a
hard link there (``run.log -> ~/.ssh/id_rsa``). Whoever shows that folder (the server's logs
API and run page) reads it through :func:`open_inside`: every path component is opened
without following symlinks, and only a regular file with a single link is read.

Pure ``os``; POSIX permissions (on Windows the modes are what ``os.chmod`` can do).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "UnsafeFileError",
    "open_inside",
    "open_private",
    "private_dir",
    "secure_home",
    "tighten",
    "write_private",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as a log must not hang the reader


class UnsafeFileError(OSError):
    """A file that is not shown: a symlink, a hard link, not a regular file, or outside."""


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Chmod ``path`` to ``mode`` if it is ours and more open (never follows a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        return
    if stat.S_IMODE(st.st_mode) & ~mode:
        with contextlib.suppress(OSError):
            os.chmod(path, mode)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; tighten it if it exists."""
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(folder, DIR_MODE)
        tighten(folder, DIR_MODE)  # umask-independent: mkdir's mode is masked
    tighten(path, DIR_MODE)
    return path


def secure_home(home: Path) -> Path:
    """Make the home folder exist and be 0700; tighten its existing private files and folders.

    Called whenever the project opens the home to write in it. An existing home owned by
    another user is left as it is (the project cannot change it, and must not try).
    """
    private_dir(home)
    with contextlib.suppress(OSError):  # a home we may only read (another user's) stays so
        private_dir(home / "cache")  # made here, not by the bundler's mkdir: it starts 0700
    for name in ("runs", "slots", "store"):
        if (home / name).is_dir():
            tighten(home / name, DIR_MODE)
    for name in ("runs.sqlite", "index.sqlite"):
        for suffix in ("", "-wal", "-shm"):
            tighten(home / (name + suffix), FILE_MODE)
    return home


def _open_fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an older, more open file, or a loose umask
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` as a 0600 file (replacing its content; no symlink followed)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = _open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)


def open_private(path: Path, mode: str = "ab") -> IO[bytes]:
    """Open ``path`` for writing (``ab`` or ``wb``) as a 0600 file; no symlink followed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "ab" else os.O_TRUNC)
    return os.fdopen(_open_fd(path, flags), mode)


def open_inside(root: Path | str, path: Path | str) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular, singly linked file under ``root``.

    Each component below ``root`` is opened without following symlinks, so a link planted
    anywhere in between (or a folder swapped for one) cannot lead the read elsewhere.

    Raises
    ------
    FileNotFoundError
        Nothing is there.
    UnsafeFileError
        It is outside ``root``, a symlink, a hard link to another file, or not a regular file.
    """
    base = os.path.abspath(root)
    target = os.path.abspath(path)
    rel = os.path.relpath(target, base)
    if rel in {".", ".."} or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        msg = f"{target} is outside {base}; it is not read."
        raise UnsafeFileError(errno.EACCES, msg)
    parts = rel.split(os.sep)
    fd = os.open(base, os.O_RDONLY | _DIRECTORY | _CLOEXEC)  # root itself may be a link
    try:
        for part in parts[:-1]:
            fd = _descend(fd, part, target)
        flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK
        try:
            file_fd = os.open(parts[-1], flags, dir_fd=fd)
        except OSError as exc:
            raise _refused(exc, target) from exc
    finally:
        os.close(fd)
    st = os.fstat(file_fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_nlink != 1:
        problem = f"has {st.st_nlink} hard links (one may point outside the run's folder)"
    if problem:
        os.close(file_fd)
        msg = f"{target} {problem}; it is not read."
        raise UnsafeFileError(errno.EACCES, msg)
    os.set_blocking(file_fd, True)
    return os.fdopen(file_fd, "rb")


def _descend(fd: int, part: str, target: str) -> int:
    """The folder ``part`` of ``fd`` (not a symlink); ``fd`` is closed once it is open."""
    try:
        child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
    except OSError as exc:
        raise _refused(exc, target) from exc  # the caller still closes fd
    os.close(fd)
    return child


def _refused(exc: OSError, target: str) -> OSError:
    if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a symlink
        msg = f"{target} is or passes through a symlink; it is not followed."
        return UnsafeFileError(errno.ELOOP, msg)
    if exc.errno == errno.ENOTDIR:
        msg = f"{target} passes through a symlink or a file where a folder belongs; not read."
        return UnsafeFileError(errno.ENOTDIR, msg)
    return exc
