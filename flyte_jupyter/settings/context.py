"""The active settings of this kernel, and :func:`current_domain` for user code.

The kernel adapter calls :func:`activate` whenever it resolves settings, so notebook code can
ask which domain it works in. Inside a Flyte run there is no notebook: the container gets the
execution's domain from Flyte in ``FLYTE_INTERNAL_EXECUTION_DOMAIN`` (legacy ``_F_DM``), as
read by flytekit's ``bin/entrypoint.py::setup_execution``; local runs set the same variable.

Why a module-level holder and not a ``ContextVar``: IPython runs cells that ``await`` inside an
asyncio task, and a ``ContextVar`` set there does not survive into the next cell. The holder is
the only process-wide state of the settings package; core functions still take ``Settings``
explicitly and never read it.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from flyte_jupyter.settings.model import Settings

__all__ = [
    "EXECUTION_DOMAIN_ENV",
    "activate",
    "activated",
    "active_settings",
    "current_domain",
]

logger = logging.getLogger(__name__)

EXECUTION_DOMAIN_ENV: tuple[str, ...] = ("FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM")
"""Where flytekit's entrypoint finds the execution's domain, in flytekit's order."""

_DEFAULT_DOMAIN = "development"


class _Active:
    """The settings the kernel adapter activated last (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None

    def swap(self, settings: Settings | None) -> Settings | None:
        with self._lock:
            previous, self._settings = self._settings, settings
            return previous

    def get(self) -> Settings | None:
        with self._lock:
            return self._settings


_ACTIVE = _Active()


def activate(settings: Settings | None) -> Settings | None:
    """Make ``settings`` the active settings of this process; return the previous ones."""
    return _ACTIVE.swap(settings)


def active_settings() -> Settings | None:
    """Return the active settings, or ``None`` if the adapter activated none."""
    return _ACTIVE.get()


@contextmanager
def activated(settings: Settings) -> Iterator[Settings]:
    """Activate ``settings`` for the duration of a ``with`` block."""
    previous = activate(settings)
    try:
        yield settings
    finally:
        activate(previous)


def current_domain(environ: Mapping[str, str] | None = None) -> str:
    """Return the Flyte domain the calling code runs in.

    Inside a Flyte run (remote or local) this is the execution's domain; in the notebook it is
    the domain of the active settings (``development`` before any are resolved).

    Parameters
    ----------
    environ
        The environment to look in; default ``os.environ``, read at call time.

    Returns
    -------
    str
        The domain, e.g. ``"development"``.
    """
    env = os.environ if environ is None else environ
    for var in EXECUTION_DOMAIN_ENV:
        if env.get(var):
            return env[var]
    settings = active_settings()
    if settings is None:
        logger.debug("No active settings; current_domain() is %s", _DEFAULT_DOMAIN)
        return _DEFAULT_DOMAIN
    return settings.domain
