"""Is a local run's supervisor alive? What every reader can see, and what only its host can prove.

(A remote run is "lost" while its cluster cannot be reached: see :func:`lost`.)

A run's supervisor renews a lease (``heartbeat_at`` in the run store) every
:data:`HEARTBEAT_EVERY` seconds. Every process that shares the home folder sees the lease, so
any reader (the Jupyter server, another kernel, a run list) can *show* a run whose lease
expired as lost. No reader ends a run on that alone: the server may run in another container
than the kernel and see none of its processes, and a supervisor may be stalled, not dead.

Death is proved only where the supervisor's process id means something: on the same boot of
the same machine, in the same PID namespace (:func:`host_id`), where its PID is gone (or now
names a process with another start time) *and* its lease expired. Only then may the kernel
that holds the run's handle record it FAILED. The supervisor's watchdog (see
:mod:`flyte_jupyter.launch.supervisor`) records the outcome itself when the supervisor is
killed, so that path is rarely needed.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flyte_jupyter.launch.model import RunRecord

HEARTBEAT_EVERY = 1.0  # seconds between two renewals of a supervisor's lease
LEASE = 15.0  # a lease not renewed for this long is expired: the run is shown as lost
# pyflyte-fast-execute runs the task in a child and ends with ``exit(child.wait())``, so a
# task killed by signal N ends it with exit status ``-N & 0xff`` (SIGSEGV: 245).
_WRAPPERS = ("pyflyte-fast-execute",)
_MAX_SIGNAL = 64
_BYTE = 256


def host_id() -> str:
    """Where process ids of this process mean the same: machine boot and PID namespace."""
    parts = [platform.node()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


def start_time(pid: int) -> str | None:
    """The process's start time (from /proc), to tell it from a later process with its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def visible(extra: Mapping[str, Any]) -> bool:
    """True when the supervisor in ``extra`` is a live process that this process can see."""
    pid = extra.get("pid")
    if not pid:
        return False
    started = extra.get("started")
    if started is not None and start_time(int(pid)) != started:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(int(pid))


def lease_expired(record: RunRecord, now: float | None = None) -> bool:
    """True when the run's supervisor has not renewed its lease for :data:`LEASE` seconds."""
    last = record.heartbeat_at
    if last is None:  # a run recorded before leases existed: never renewed
        return True
    return (time.time() if now is None else now) - last > LEASE


def lost(record: RunRecord, now: float | None = None) -> bool:
    """True for a run that has not ended and is not heard from.

    A local run: its supervisor's lease expired. A remote run: its cluster could not be reached
    the last time it was asked (``extra["connection"]``, written by whoever follows it).
    """
    if record.done:
        return False
    if record.backend == "local":
        return lease_expired(record, now)
    return bool(record.extra.get("connection"))


def lost_note(record: RunRecord, now: float | None = None) -> str | None:
    """What a reader shows about a lost run (None while the run is heard from or ended)."""
    if not lost(record, now):
        return None
    if record.backend != "local":
        from flyte_jupyter.redaction import redact_text

        stamp, _, why = str(record.extra["connection"]).partition(" ")
        return (
            f"Not heard from since {stamp}: {redact_text(why)} The record stays as it is until "
            "its cluster answers again; it is asked again meanwhile."
        )
    if record.heartbeat_at is None:
        since = "its supervisor never renewed its lease"
    else:
        ago = (time.time() if now is None else now) - record.heartbeat_at
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.heartbeat_at))
        since = f"not heard from since {when} ({ago:.0f} s ago)"
    return (
        f"Lost: {since}. Its supervisor was killed, its machine restarted, or it runs where "
        "this process cannot see it. The record stays as it is; the kernel that started the "
        "run records the outcome once it can prove the supervisor ended. Cancel the run to "
        "record it as ended."
    )


def provably_dead(record: RunRecord, now: float | None = None) -> bool:
    """True when this process can prove that the run's supervisor ended without recording.

    Needs the same machine boot and PID namespace as the supervisor's launcher, its PID gone
    (or reused), and its lease expired.
    """
    extra = record.extra
    return (
        record.backend == "local"
        and not record.done
        and bool(extra.get("pid"))
        and extra.get("host") == host_id()
        and not visible(extra)
        and lease_expired(record, now)
    )


def describe_exit(code: int, argv: Sequence[str]) -> str:
    """How the task's process ended, naming the signal that killed it.

    Parameters
    ----------
    code
        The return code of the command (negative: killed by that signal).
    argv
        The command: a flytekit wrapper reports its task child's signal as ``-N & 0xff``.
    """
    number = -code if code < 0 else None
    wrapper = Path(argv[0]).name if argv else ""
    if number is None and wrapper in _WRAPPERS and _BYTE - _MAX_SIGNAL <= code < _BYTE:
        number = _BYTE - code
    name = _signal_name(number) if number is not None else None
    if name is None:
        return f"exited with code {code}"
    text = f"was killed by {name}"
    if code > 0:
        text += f" ({wrapper} exited with code {code}, which is -{number} & 0xff)"
    if number == signal.SIGKILL:
        text += "; the machine may have run out of memory, or someone killed it"
    return text


def _signal_name(number: int) -> str | None:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return None
    meaning = signal.strsignal(number)
    return f"{name} ({meaning[:1].lower()}{meaning[1:]})" if meaning else name


def _zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z"
