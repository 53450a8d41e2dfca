"""What the panel shares: the settings it edits (the session's ``panel`` layer) and the kernel.

Every edit goes through :meth:`PanelState.apply`: the new value is tried on a copy of the
panel layer and the settings are resolved from every source, exactly as the magics resolve
them. Only when that succeeds does the copy replace ``session.panel``; a bad value leaves the
layer unchanged and comes back as an error message for the field that caused it. A value
equal to what the layers below the panel give is dropped from the layer, so a later
``%config`` change of that key still shows.

Nothing is dropped silently: a refused edit is kept in :attr:`PanelState.rejected` (key ->
the message a magic gives for the same value) until it is edited into a valid value, the
panel is reset, or a later refresh finds it valid. Meanwhile its field keeps the typed value
and the message, and Run refuses with that message instead of running with the old settings.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import FlyteJupyterError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flyte_jupyter.deploy import DeployRequest
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.session import KernelSession
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.submit import LaunchRequest

_UNSET = object()


class PanelState:
    """The session a panel belongs to, the resolved settings, and change notification.

    Parameters
    ----------
    session
        The kernel's session: its ``panel`` dict is the layer the panel writes.
    """

    def __init__(self, session: KernelSession) -> None:
        self.session = session
        self.settings: Settings | None = None
        self.error: str | None = None
        self._listeners: list[Callable[[], None]] = []
        self._rejected_listeners: list[Callable[[], None]] = []
        self._syncing = 0
        self._fingerprint: object = None
        self._entities_key: object = None
        self._entities: list[tuple[str, str]] = []
        # refused edits: key -> (the value typed, the message); see the module docstring
        self._rejected: dict[str, tuple[Any, str]] = {}

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's namespace."""
        return self.session.shell.user_ns

    # -- settings --------------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the resolved settings (or their error) change."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    @contextlib.contextmanager
    def syncing(self) -> Iterator[None]:
        """While widgets are set from the settings, their observers must not write back."""
        self._syncing += 1
        try:
            yield
        finally:
            self._syncing -= 1

    @property
    def is_syncing(self) -> bool:
        """True while widgets are being set from the settings."""
        return self._syncing > 0

    def refresh(self) -> Settings | None:
        """Resolve the settings again (``%config``, env, pyproject may have changed).

        A refused edit is tried again: what changed meanwhile may have made it valid.
        """
        try:
            self.settings = self.session.settings()
            self.error = None
        except FlyteJupyterError as exc:
            self.error = str(exc)
        self._fingerprint = self.fingerprint()
        self._notify()
        for key, (value, _message) in list(self._rejected.items()):
            if value is not _UNSET:
                self.apply(key, value)
        return self.settings

    # -- refused edits ---------------------------------------------------------------------

    @property
    def rejected(self) -> dict[str, str]:
        """``{key: message}`` of the edits the settings refused (and so are not in effect)."""
        return {key: message for key, (_value, message) in self._rejected.items()}

    def reject(self, key: str, message: str, value: Any = _UNSET) -> None:
        """Record that the edit of ``key`` is not in effect, and why (its field shows it).

        ``value`` (when given) is tried again at the next :meth:`refresh`.
        """
        self._rejected[key] = (value, message)
        self._notify_rejected()

    def accept(self, key: str) -> None:
        """The edit of ``key`` is in effect again (or was withdrawn)."""
        if self._rejected.pop(key, None) is not None:
            self._notify_rejected()

    def refusal(self) -> str | None:
        """Why Run must not run now: the refused edits' messages (None when there are none)."""
        if not self._rejected:
            return None
        messages = [message for _value, message in self._rejected.values()]
        intro = (
            "The panel has an edit the settings refused; fix it or press Reset "
            "(it is not in effect, so a run would use the old settings):"
            if len(messages) == 1
            else "The panel has edits the settings refused; fix them or press Reset "
            "(they are not in effect, so a run would use the old settings):"
        )
        return "\n".join([intro, *messages])

    def on_rejected(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the set of refused edits changes."""
        self._rejected_listeners.append(callback)

    def _notify_rejected(self) -> None:
        for callback in list(self._rejected_listeners):
            callback()

    def fingerprint(self) -> object:
        """Cheap summary of every input of settings resolution but files (no flytekit)."""
        return (
            repr(sorted(dict(self.session.config_values()).items())),
            repr(sorted(self.session.panel.items())),
            tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("FLYTE"))),
        )

    def changed_outside(self) -> bool:
        """True when ``%config``, the environment or the panel layer changed since the last look."""
        return self.fingerprint() != self._fingerprint

    def _resolve(self, panel: dict[str, Any]) -> Settings:
        """Resolve with ``panel`` as the panel layer, changing nothing else."""
        return self.session.settings(panel=panel, activate=False)

    def base(self, key: str) -> Settings | None:
        """The settings without the panel's value for ``key``: what the layers below give."""
        panel = {k: v for k, v in self.session.panel.items() if k != key}
        try:
            return self._resolve(panel)
        except FlyteJupyterError:
            return None

    def apply(self, key: str, value: Any) -> str | None:
        """Set ``key`` in the panel layer (``None``: unset it) if the result is valid.

        Returns
        -------
        str | None
            None when applied; else the error, and the panel layer is unchanged.
        """
        from flyte_jupyter.settings import activate

        panel = dict(self.session.panel)
        if value is None:
            panel.pop(key, None)
        else:
            panel[key] = value
        try:
            settings = self._resolve(panel)
        except FlyteJupyterError as exc:
            self.reject(key, str(exc), value)
            return str(exc)
        self.accept(key)
        if key in panel:
            below = self.base(key)
            if below is not None and settings_value(below, key) == settings_value(settings, key):
                del panel[key]  # the layers below say the same: let them speak
        self.session.panel.clear()
        self.session.panel.update(panel)
        activate(settings)
        self.settings, self.error = settings, None
        self._fingerprint = self.fingerprint()
        self._notify()
        return None

    def reset(self) -> None:
        """Forget every panel value and refused edit: back to what the other sources say."""
        self.session.panel.clear()
        if self._rejected:
            self._rejected.clear()
            self._notify_rejected()
        self.refresh()

    # -- kernel ----------------------------------------------------------------------------

    @property
    def notebook(self) -> str | None:
        """The notebook's path, as runs record it."""
        return self.session.notebook

    def entities(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of the tasks and workflows the notebook's cells define.

        Recomputed only when a cell was recorded since the last call (cheap on every cell).
        """
        from flyte_jupyter.capture import defined_names
        from flyte_jupyter.sdk import entity_kind

        cells = self.session.cells
        user_ns = self.user_ns
        key = (id(cells), len(cells.records))
        if key != self._entities_key:
            found: list[tuple[str, str]] = []
            for name in defined_names(cells.records):
                kind = entity_kind(user_ns.get(name))
                if kind in ("task", "workflow"):
                    found.append((name, kind))
            self._entities_key, self._entities = key, found
        return list(self._entities)

    def environments(self) -> list[tuple[str, Any]]:
        """``(name, TaskEnvironment)`` of the flyte v2 environments the notebook's cells define."""
        flyte = sys.modules.get("flyte")  # not imported: the notebook has no v2 environment
        kind = getattr(flyte, "TaskEnvironment", None)
        if not isinstance(kind, type):
            return []
        from flyte_jupyter.capture import defined_names

        user_ns = self.user_ns
        found = {}
        for name in defined_names(self.session.cells.records):
            value = user_ns.get(name)
            if isinstance(value, kind):
                found[name] = value
        return sorted(found.items())

    def job(self, settings: Settings, names: list[str]) -> tuple[BundleJob, tuple[str, ...]]:
        """The bundle job of ``names`` (all entities when empty), as ``%flyte_bundle`` makes it."""
        return self.session.job(settings, names)

    def installed_modules(self, targets: tuple[str, ...]) -> dict[str, str]:
        """``{name: module}`` to import entities from when nothing is bundled (copy style none)."""
        return self.session.entity_modules(targets, None)

    def launch_request(
        self, settings: Settings, name: str, inputs: dict[str, Any]
    ) -> LaunchRequest:
        """The request ``%%flyte_run`` would build for ``name(**inputs)``."""
        return self.session.launch_request(settings, name, inputs)

    def deploy_request(self, settings: Settings, names: list[str]) -> DeployRequest:
        """The request ``%flyte_deploy`` would build for ``names``."""
        return self.session.deploy_request(settings, names)


def settings_value(settings: Settings, key: str) -> Any:
    """The resolved value of ``key`` (``images`` as the refs, limits by their key)."""
    if key == "bundle_warn_bytes":
        return settings.limits.warn_bytes
    if key == "bundle_max_bytes":
        return settings.limits.max_bytes
    return getattr(settings, key, _UNSET)


def message_of(exc: BaseException) -> str:
    """The user-facing text of an error raised by the core or the kernel helpers."""
    if isinstance(exc, FlyteJupyterError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
