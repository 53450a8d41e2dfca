"""A gzip stream compressed on worker threads, whose bytes depend on the input and zlib alone.

The input is cut into fixed 1 MiB blocks (pigz's scheme). Each block becomes a run of deflate
blocks that ends on a byte boundary and is primed with the last 32 KiB of the block before it,
so the output never depends on the number of threads. Per block, and from that block's bytes
only, one of two encodings is chosen:

* **stored**, when a sample of the block does not shrink at level 1 (random or already
  compressed data): the block is copied into stored deflate blocks of 65,535 bytes written
  here, not by zlib, so their layout cannot vary with zlib's output buffering;
* **deflate** at the requested level otherwise (:data:`LEVEL`, 5, for bundles).

Each worker also computes the CRC-32 of its block; the main thread combines them (zlib's
``crc32_combine``, which Python does not expose, is re-implemented below), so the thread that
feeds the blocks never spends time on the checksum.

What the bytes still depend on is the zlib build Python links. Deflate fixes how a stream is
decoded, not which matches and Huffman trees an encoder picks: another zlib (zlib-ng, which
some distributions ship in zlib's place, or a patched or hardware-accelerated build) may
deflate the same block to other valid bytes, and may even decide stored-or-deflate
differently (the sample is deflated by zlib). The stream then decompresses to the same tar,
but hashes differently. The bundle digest is the sha256 of the manifest, not of these bytes,
so it, the archive's name ``fast<digest>.tar.gz`` and the auto version stay the same.
"""

from __future__ import annotations

import collections
import functools
import os
import struct
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

BLOCK = 1 << 20
WINDOW = 32 * 1024
# Level 5, not zlib's default 6: on source trees it costs half the CPU for ~5 % more bytes
# (benchmark corpus E: 0.22 s vs 0.43 s of deflate for 3.77 vs 3.60 MB), and a bundle is
# compressed again in full after every edit of the notebook, on 2 cores shared with the SDK.
LEVEL = 5
MAX_STORED = 0xFFFF
SAMPLES = 16  # slices of SAMPLE bytes spread over a block decide whether it is stored
SAMPLE = 2048
STORE_PERCENT = 97  # stored when level 1 leaves the sample at >= 97 % of its size
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0, OS=255
_STORED_HEAD = struct.Struct("<BHH")
_CRC_POLY = 0xEDB88320

Compressed = tuple[bytes, int]  # deflate bytes, CRC-32 of the input block


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC-32 polynomial (bit-reflected; ``a`` != 0)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> tuple[int, ...]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return tuple(table)


_X2N = _x2n_table()


@functools.lru_cache(maxsize=64)
def _shift_operator(length: int) -> int:
    """x^(8 * length) modulo the polynomial: appending ``length`` bytes multiplies by it."""
    p, n, k = 1 << 31, length, 3
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (as zlib's)."""
    return _multmodp(_shift_operator(length2), crc1) ^ crc2


def incompressible(view: memoryview) -> bool:
    """True when fixed slices of ``view`` do not shrink at level 1 (decided by content only)."""
    size = len(view)
    if size < 2 * SAMPLES * SAMPLE:
        return False  # small (final) blocks: not worth a decision
    step = (size - SAMPLE) // (SAMPLES - 1)
    sample = b"".join([view[i * step : i * step + SAMPLE] for i in range(SAMPLES)])
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    packed = len(comp.compress(sample)) + len(comp.flush())
    return packed * 100 >= len(sample) * STORE_PERCENT


def stored(view: memoryview, *, final: bool) -> bytes:
    """``view`` as stored deflate blocks of at most 65,535 bytes (the last one final if asked)."""
    size = len(view)
    if size == 0:
        return _STORED_HEAD.pack(1, 0, MAX_STORED) if final else b""
    parts: list[bytes | memoryview] = []
    for start in range(0, size, MAX_STORED):
        chunk = view[start : start + MAX_STORED]
        last = final and start + MAX_STORED >= size
        parts.append(_STORED_HEAD.pack(last, len(chunk), len(chunk) ^ MAX_STORED))
        parts.append(chunk)
    return b"".join(parts)


def deflate(view: memoryview, zdict: bytes, level: int, *, final: bool) -> bytes:
    """Raw deflate of ``view`` primed with ``zdict``, ending byte-aligned (or final)."""
    if zdict:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict)
    else:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(view) + comp.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


def compress_block(
    block: bytearray, length: int, zdict: bytes, level: int, *, final: bool
) -> Compressed:
    """Encode ``block[:length]`` (stored or deflated, see the module doc) and its CRC-32."""
    with memoryview(block) as whole, whole[:length] as view:
        crc = zlib.crc32(view)
        if level == 0 or incompressible(view):
            return stored(view, final=final), crc
        return deflate(view, zdict, level, final=final), crc


class BlockGzipWriter:
    """A write-only gzip stream whose bytes do not depend on how many threads compress it.

    Feed it with :meth:`write`, or without a copy: fill :meth:`window` (a view of the free
    part of the current block, e.g. with ``readinto``) and then :meth:`commit` what was put
    there. Call :meth:`close` to finish the stream, or :meth:`abort` to drop it.
    """

    def __init__(self, raw: IO[bytes], *, level: int = LEVEL, threads: int | None = None) -> None:
        self._raw = raw
        self._level = level
        self._threads = max(1, threads or min(8, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._block = bytearray(BLOCK)
        self._fill = 0
        self._spare: list[bytearray] = []
        self._tail = b""
        self._crc = 0
        self._size = 0
        self._inflight: collections.deque[tuple[Future[Compressed], bytearray, int]]
        self._inflight = collections.deque()
        raw.write(GZIP_HEADER)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Copy ``data`` into the stream; full blocks go to the compressor threads."""
        fill = self._fill
        if type(data) is bytes and fill + len(data) < BLOCK:  # the common case: a header
            self._block[fill : fill + len(data)] = data
            self._fill = fill + len(data)
            return len(data)
        with memoryview(data) as view, view.cast("B") as flat:
            total, pos = len(flat), 0
            while pos < total:
                take = min(BLOCK - self._fill, total - pos)
                self._block[self._fill : self._fill + take] = flat[pos : pos + take]
                pos += take
                self.commit(take)
        return total

    def tell(self) -> int:
        """Uncompressed bytes written so far."""
        return self._size + self._fill

    def reserve(self, count: int) -> tuple[bytearray, int] | None:
        """``(block, offset)`` when ``count`` more bytes fit in the current block, else None.

        Write them at ``block[offset:offset + count]``, then :meth:`commit` ``count``.
        """
        if self._fill + count <= BLOCK:
            return self._block, self._fill
        return None

    def window(self) -> memoryview:
        """Writable view of the rest of the current block; :meth:`commit` what you wrote.

        The view must not be used after the next :meth:`commit` or :meth:`write`.
        """
        return memoryview(self._block)[self._fill :]

    def commit(self, count: int) -> None:
        """Account for ``count`` bytes written at the start of :meth:`window`."""
        self._fill += count
        if self._fill >= BLOCK:
            self._ship(final=False)

    def _ship(self, *, final: bool) -> None:
        block, length, zdict = self._block, self._fill, self._tail
        if not final:
            self._tail = bytes(block[length - WINDOW : length])
        self._size += length
        if self._threads == 1:
            self._emit(compress_block(block, length, zdict, self._level, final=final), length)
            self._fill = 0
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="fj-gzip")
        job = self._pool.submit(compress_block, block, length, zdict, self._level, final=final)
        self._inflight.append((job, block, length))
        self._block = self._spare.pop() if self._spare else bytearray(BLOCK)
        self._fill = 0
        while len(self._inflight) > 2 * self._threads:  # bound memory: a few blocks in flight
            self._collect()

    def _collect(self) -> None:
        job, block, length = self._inflight.popleft()
        self._emit(job.result(), length)
        self._spare.append(block)

    def _emit(self, compressed: Compressed, length: int) -> None:
        data, crc = compressed
        self._raw.write(data)
        self._crc = crc32_combine(self._crc, crc, length)

    def close(self) -> None:
        """Compress what is left, write the trailer (CRC-32 and size mod 2**32)."""
        try:
            self._ship(final=True)
            while self._inflight:
                self._collect()
        finally:
            self.abort()
        self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))

    def abort(self) -> None:
        """Stop the worker threads (queued blocks are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._inflight.clear()
