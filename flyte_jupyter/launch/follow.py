"""One follower per process: the thread that keeps the runs being watched current.

A kernel watches runs in several places at once: ``Run.wait()``, each live display of a run,
the panel's launched run and its runs table. Rather than a polling thread each, they register
a :class:`Watch` with the process's :class:`Follower`: one daemon thread that calls each
watch's ``poll`` when it is due, with the one run-store connection that thread holds.

A watch is polled every ``interval`` seconds: :data:`FAST` while ``Run.wait()`` blocks (what
it adds to a run's end-to-end time is half of that on average), :data:`SLOW` for displays.
The thread starts with the first watch and ends when none is left; a forked child starts its
own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

FAST = 0.05  # seconds between two reads while Run.wait() blocks
SLOW = 0.25  # seconds between two reads for a live display: a change shows within a quarter second


class Watch:
    """One subscription: ``poll()`` is called every ``interval`` s until it returns False."""

    def __init__(self, follower: Follower, poll: Callable[[], bool], interval: float) -> None:
        self.poll = poll
        self.interval = interval
        self.active = True
        self._follower = follower

    def cancel(self) -> None:
        """Stop polling (``poll`` may still be running once, in the follower's thread)."""
        self._follower.remove(self)


class Follower:
    """A daemon thread that calls each watch's ``poll`` when it is due."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Watch, float] = {}  # watch -> when next due (time.monotonic)
        self._thread: threading.Thread | None = None

    def watch(self, poll: Callable[[], bool], interval: float, *, start_in: float = 0) -> Watch:
        """Call ``poll()`` every ``interval`` seconds (first in ``start_in`` s) while it is True.

        ``poll`` runs in the follower's thread. An exception it raises is logged and the watch
        goes on; a caller that must see errors catches them in ``poll`` and stops.
        """
        watch = Watch(self, poll, interval)
        with self._cond:
            self._due[watch] = time.monotonic() + start_in
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="flyte-follow", daemon=True)
                self._thread.start()
            self._cond.notify()
        return watch

    def remove(self, watch: Watch) -> None:
        """Stop polling ``watch``."""
        with self._cond:
            self._due.pop(watch, None)
            watch.active = False
            self._cond.notify()

    @property
    def watches(self) -> int:
        """How many watches are active."""
        with self._cond:
            return len(self._due)

    @property
    def running(self) -> bool:
        """True while the follower's thread is alive (it ends when nothing is watched)."""
        with self._cond:
            return self._thread is not None

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._due:
                        self._thread = None  # a new watch starts a new thread
                        return
                    now = time.monotonic()
                    wake = min(self._due.values())
                    if wake <= now:
                        break
                    self._cond.wait(wake - now)
                due = [watch for watch, at in self._due.items() if at <= now]
            for watch in due:
                self._poll(watch)

    def _poll(self, watch: Watch) -> None:
        try:
            keep = watch.poll()
        except Exception:  # a display's read failed: try again at its next turn
            logger.debug("Following a run failed; trying again", exc_info=True)
            keep = True
        with self._cond:
            if watch not in self._due:  # cancelled meanwhile
                return
            if keep:
                self._due[watch] = time.monotonic() + watch.interval
            else:
                del self._due[watch]
                watch.active = False


class _ProcessFollower:
    """The follower of the current process, made on first use (a forked child makes its own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.follower: Follower | None = None

    def get(self) -> Follower:
        with self.lock:
            if self.follower is None:
                self.follower = Follower()
            return self.follower


_PROCESS = _ProcessFollower()


def _after_fork() -> None:
    global _PROCESS  # noqa: PLW0603 - the child has none of its parent's threads
    _PROCESS = _ProcessFollower()


os.register_at_fork(after_in_child=_after_fork)


def follower() -> Follower:
    """The follower of this process."""
    return _PROCESS.get()
