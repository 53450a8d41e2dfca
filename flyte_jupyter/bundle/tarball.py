"""Write a deterministic ``tar.gz``: same files, same bytes, for any core or thread count.

The tar stream is the same on every host; the gzip layer is the same wherever Python uses the
same zlib build (another zlib may deflate the same stream to other bytes: see
:mod:`flyte_jupyter.bundle.gzblock`). The bundle digest is computed from the manifest, not
from these bytes, so it does not change with the zlib build.

* tar: the bytes of Python's ``tarfile`` in PAX format (pinned), built here so they cannot drift
  with the Python version: members sorted by arcname, ``mtime=0``, ``uid=gid=0``, empty
  user/group names, modes 0644/0755 only, regular files only (links inside root_dir are
  stored as the files they point to); a pax ``path`` record for names that are not ASCII or
  longer than 100 characters; two zero blocks and zero padding to a 10 KiB record at the end.
* gzip: see :mod:`flyte_jupyter.bundle.gzblock` (fixed 1 MiB blocks, one output per zlib
  build).
* Hashes are computed from the very bytes written into the archive (file data is read straight
  into the compressor's block buffer and hashed there), so a file that changes while it is
  read cannot make the manifest describe different content than the archive holds.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from typing import TYPE_CHECKING, NamedTuple

from flyte_jupyter.bundle.gzblock import BlockGzipWriter
from flyte_jupyter.bundle.manifest import normal_mode
from flyte_jupyter.bundle.probes import StatKey, stat_key
from flyte_jupyter.errors import BundleError, FileChangedError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from fsspec.callbacks import Callback

    from flyte_jupyter.bundle.model import FileRef

__all__ = ["BlockGzipWriter", "Written", "tar_header", "write_archive"]

BLOCKSIZE = 512
RECORDSIZE = 20 * BLOCKSIZE
_ZEROS = bytes(RECORDSIZE)
_NAME_FIELD = 100
_MAX_OCTAL_SIZE = 8**11  # the ustar size field holds 11 octal digits
# After the type flag: linkname, magic "ustar\0" "00", uname, gname, devmajor, devminor,
# prefix, padding to 512 (an empty field is all NUL, as tarfile writes it).
_AFTER_TYPEFLAG = b"\0" * 100 + b"ustar\x0000" + b"\0" * (32 + 32 + 8 + 8 + 155 + 12)
_OWNER_FIELDS = b"0000000\x00" * 2  # uid, gid
_MTIME_FIELD = b"00000000000\x00"
# The checksum sums every header byte, its own field counted as 8 spaces: those after it here.
_CHECKSUM_TAIL = 8 * ord(" ") + sum(_AFTER_TYPEFLAG)
_HAVE_READV = hasattr(os, "readv")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


class Written(NamedTuple):
    """One member as it went into the archive.

    ``stat`` is the stat key of the file that was read (unchanged while it was read), or None
    for generated data.
    """

    arcname: str
    mode: int
    size: int
    sha256: str
    stat: StatKey | None


def _ustar(name: bytes, size: int, mode: int, typeflag: bytes) -> bytes:
    """One ustar header block as ``tarfile`` builds it (name already encoded, <= 100 bytes)."""
    head = b"%s%07o\x00%s%011o\x00%s" % (
        name.ljust(100, b"\0"),
        mode & 0o7777,
        _OWNER_FIELDS,
        size,
        _MTIME_FIELD,
    )
    checksum = _CHECKSUM_TAIL + typeflag[0] + sum(head)
    return b"%s%06o\x00 %s%s" % (head, checksum, typeflag, _AFTER_TYPEFLAG)


def _pax_record(keyword: bytes, value: bytes) -> bytes:
    r"""``"%d %s=%s\n"`` where the leading number counts the whole record, itself included."""
    length = len(keyword) + len(value) + 3
    total = prev = 0
    while True:
        total = length + len(str(prev))
        if total == prev:
            return b"%d %s=%s\n" % (total, keyword, value)
        prev = total


def tar_header(arcname: str, size: int, mode: int) -> bytes:
    """Header block(s) of a regular file: ``tarfile.TarInfo.tobuf(PAX_FORMAT)``'s bytes."""
    if arcname.isascii() and len(arcname) <= _NAME_FIELD and size < _MAX_OCTAL_SIZE:
        return _ustar(arcname.encode("ascii"), size, mode, b"0")
    pax: dict[bytes, str] = {}
    if not arcname.isascii() or len(arcname) > _NAME_FIELD:
        pax[b"path"] = arcname
    if size >= _MAX_OCTAL_SIZE:
        pax[b"size"] = str(size)
        size = 0
    try:
        values = [v.encode("utf-8") for v in pax.values()]
        records = b""
    except UnicodeEncodeError:  # undecodable file names: keep their original bytes
        values = [v.encode("utf-8", "surrogateescape") for v in pax.values()]
        records = b"21 hdrcharset=BINARY\n"
    records += b"".join(_pax_record(k, v) for k, v in zip(pax, values, strict=True))
    padding = -len(records) % BLOCKSIZE
    name = arcname.encode("ascii", "replace")[:_NAME_FIELD]
    return b"".join(
        (
            _ustar(b"././@PaxHeader", len(records), 0, b"x"),
            records,
            _ZEROS[:padding],
            _ustar(name, size, mode, b"0"),
        )
    )


def write_archive(
    files: Sequence[FileRef],
    dest: Path,
    *,
    callback: Callback | None = None,
) -> list[Written]:
    """Write ``files`` (already sorted) to ``dest``; return what was archived, in order.

    ``callback`` (the ``bundle`` phase of a :class:`~flyte_jupyter.progress.Progress`) is
    given the file bytes archived so far after each file.

    Raises
    ------
    FileChangedError
        A file vanished, or its size or timestamps changed while it was being read.
    BundleError
        A file cannot be opened (no read permission).
    """
    written: list[Written] = []
    done = 0
    with dest.open("wb") as raw:
        gz = BlockGzipWriter(raw)
        try:
            for arcname, path, data in files:
                if data is not None:
                    written.append(_add_data(gz, arcname, data))
                else:
                    written.append(_add_file(gz, arcname, path or ""))
                done += written[-1].size
                if callback is not None:
                    callback.absolute_update(done)
            end = 2 * BLOCKSIZE  # two zero blocks, then zeros up to a whole record
            gz.write(_ZEROS[: end + (-(gz.tell() + end) % RECORDSIZE)])
            gz.close()
        except zlib.error as exc:  # raised on a compressor thread, re-raised here
            raise _deflate_failed(exc) from exc
        finally:
            gz.abort()
    return written


def _add_data(gz: BlockGzipWriter, arcname: str, data: bytes) -> Written:
    gz.write(tar_header(arcname, len(data), 0o644))
    gz.write(data)
    gz.write(_ZEROS[: -len(data) % BLOCKSIZE])
    return Written(arcname, 0o644, len(data), hashlib.sha256(data).hexdigest(), None)


def _add_file(gz: BlockGzipWriter, arcname: str, path: str) -> Written:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError as exc:
        msg = f"{path} vanished while it was being bundled; nothing was published. Run again."
        raise FileChangedError(msg) from exc
    except OSError as exc:
        raise unreadable(path, exc) from exc
    try:
        before = stat_key(os.fstat(fd))
        size, mode = before.size, normal_mode(before.mode)
        header = tar_header(arcname, size, mode)
        pad = -size % BLOCKSIZE
        room = gz.reserve(len(header) + size + pad)
        if room is not None:  # the usual small file: header, data and padding in one go
            sha = _add_in_place(room, header, fd, size, path)
            gz.commit(len(header) + size + pad)
        else:
            gz.write(header)
            sha = _copy(gz, fd, size, path)
            gz.write(_ZEROS[:pad])
        if stat_key(os.fstat(fd)) != before:
            raise _changed(path)
    finally:
        os.close(fd)
    return Written(arcname, mode, size, sha, before)


def _add_in_place(room: tuple[bytearray, int], header: bytes, fd: int, size: int, path: str) -> str:
    """Write a whole member into the current block at ``room``; the sha256 of its data."""
    block, start = room
    pad = -size % BLOCKSIZE
    begin = start + len(header)
    end = begin + size
    block[start:begin] = header
    with memoryview(block) as whole, whole[begin:end] as view:
        _fill(fd, view, path)
        sha = hashlib.sha256(view).hexdigest()
    block[end : end + pad] = _ZEROS[:pad]
    return sha


def _copy(gz: BlockGzipWriter, fd: int, size: int, path: str) -> str:
    """Read ``size`` bytes of ``fd`` straight into the stream, hashing them there."""
    sha = hashlib.sha256()
    left = size
    while left:
        with gz.window() as window, window[: min(left, len(window))] as view:
            _fill(fd, view, path)
            sha.update(view)
            got = len(view)
        gz.commit(got)
        left -= got
    return sha.hexdigest()


def _fill(fd: int, view: memoryview, path: str) -> None:
    """Fill ``view`` from ``fd``; a file that ends early changed after its size was taken."""
    got = _readinto(fd, view)
    while got < len(view):
        with view[got:] as rest:
            more = _readinto(fd, rest)
        if more <= 0:
            raise _changed(path)
        got += more


def _readinto(fd: int, view: memoryview) -> int:
    return os.readv(fd, [view]) if _HAVE_READV else _read_copy(fd, view)


def _read_copy(fd: int, view: memoryview) -> int:  # pragma: no cover - Windows has no readv
    data = os.read(fd, len(view))
    view[: len(data)] = data
    return len(data)


def unreadable(path: str, exc: OSError) -> BundleError:
    """The error for a selected file that cannot be opened (e.g. mode 000 for a non-root user)."""
    return BundleError(
        f"{path} cannot be read ({exc.strerror}); nothing was published. Make it readable "
        "(e.g. chmod u+r), or keep it out of the bundle with a line in .flyteignore."
    )


def _deflate_failed(exc: zlib.error) -> BundleError:
    return BundleError(
        f"zlib failed to compress the archive ({exc}); nothing was published. Run again; if "
        f"it fails again, report it with your Python version and zlib "
        f"{zlib.ZLIB_RUNTIME_VERSION}."
    )


def _changed(path: str) -> FileChangedError:
    return FileChangedError(
        f"{path} changed while it was being bundled; nothing was published. "
        "Wait for whatever writes it to finish, then run again."
    )
