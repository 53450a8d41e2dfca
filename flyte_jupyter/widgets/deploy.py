"""Deploy: register the picked task or workflow on the Flyte cluster, without running it.

The button beside Run builds the same ``DeployRequest`` that ``%flyte_deploy`` builds (from the
settings the magics resolve, with the panel layer in them) and calls the same ``deploy``; the
result (each entity registered or already registered, with its console link) or the error is
shown below the buttons. Deploying happens in a background thread so the kernel stays
responsive; :meth:`DeployAction.deploy` is the synchronous form for code and tests. While a
deploy or a launch is under way neither button starts another.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import ipywidgets as w

from flyte_jupyter.errors import FlyteJupyterError, InputError
from flyte_jupyter.widgets.common import error_html
from flyte_jupyter.widgets.progress import TransferProgress
from flyte_jupyter.widgets.state import message_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flyte_jupyter.deploy import Deployment, DeployRequest
    from flyte_jupyter.widgets.state import PanelState


class DeployAction:
    """The Deploy button, its progress bar, and the deploy's result or error.

    Parameters
    ----------
    state
        The panel's state (settings and kernel session).
    entity
        The picker whose value is deployed (the Run tab's).
    also_disable
        Buttons disabled with Deploy while a deploy is under way (Run).
    is_busy
        Whether a deploy or a launch is under way (then the button starts nothing).
    """

    def __init__(
        self,
        state: PanelState,
        entity: w.Dropdown,
        also_disable: Sequence[w.Button],
        is_busy: Callable[[], bool],
    ) -> None:
        self.state = state
        self.entity = entity
        self._also_disable = tuple(also_disable)
        self._is_busy = is_busy
        self.button = w.Button(
            description="Deploy",
            icon="cloud-upload",
            tooltip="Bundle, upload and register on the Flyte cluster of the config (endpoint), "
            "whatever the backend above says, with the other settings above; run nothing",
            layout=w.Layout(margin="6px 0 6px 8px"),
        )
        self.button.on_click(lambda _b: self.click())
        self.progress = TransferProgress("Deploying")
        self.error = w.HTML()
        self.result = w.HTML()
        self.widget = w.VBox([self.progress.widget, self.error, self.result])
        self.last: Deployment | None = None
        self.error_text = ""
        self.deploying: threading.Thread | None = None
        self._callbacks: list[Callable[[Deployment], None]] = []

    @property
    def running(self) -> bool:
        """True while a Deploy-button deploy is under way."""
        return self.deploying is not None and self.deploying.is_alive()

    def on_deploy(self, callback: Callable[[Deployment], None]) -> None:
        """Call ``callback(deployment)`` after each deploy from the panel."""
        self._callbacks.append(callback)

    def _request(self, name: str | None) -> DeployRequest:
        """Select ``name`` and build the deploy request with the panel's settings."""
        self.error.value = ""
        refusal = self.state.refusal()
        if refusal is not None:  # never deploy with settings other than those shown
            raise InputError(refusal)
        if name is not None and name != self.entity.value:
            self.entity.value = name
        chosen = self.entity.value
        if not chosen:
            msg = "No task or workflow to deploy: define one in a cell and run the cell."
            raise InputError(msg)
        settings = self.state.refresh() if self.state.changed_outside() else self.state.settings
        if settings is None or self.state.error:
            raise InputError(self.state.error or "The settings are not valid.")
        return self.state.deploy_request(settings, [chosen])

    def deploy(self, name: str | None = None) -> Deployment:
        """Deploy ``name`` (default: the selected entity) and return the result.

        Raises
        ------
        FlyteJupyterError
            Bad settings, no Flyte endpoint, or a bundling, upload or registration error
            (also shown inline).
        """
        try:
            request = self._request(name)
        except FlyteJupyterError as exc:
            self.error.value = error_html(message_of(exc))
            raise
        deployment = self._deploy(request)
        if deployment is None:
            raise FlyteJupyterError(self.error_text)
        return deployment

    def click(self) -> None:
        """What the Deploy button does: check now, deploy in a background thread."""
        if self._is_busy():
            return
        try:
            request = self._request(None)
        except Exception as exc:  # noqa: BLE001 - every failure is shown next to the button
            self.error.value = error_html(message_of(exc))
            return
        self._disable(disabled=True)  # at once: a second click must not start another
        self.deploying = threading.Thread(
            target=self._deploy, args=(request,), name="flyte-deploy", daemon=True
        )
        self.deploying.start()

    def _deploy(self, request: DeployRequest) -> Deployment | None:
        from flyte_jupyter.deploy import Deployment, deploy

        self._disable(disabled=True)
        self.progress.start()
        self.error_text = ""
        self.result.value = ""
        try:
            deployment = deploy(request, progress=self.progress)
        except Exception as exc:  # noqa: BLE001 - shown inline; deploy() re-raises it
            self.error_text = message_of(exc)
            self.error.value = error_html(self.error_text)
            self.progress.finish("failed", ok=False, description="Deploy failed")
            return None
        finally:
            self._disable(disabled=False)
        assert isinstance(deployment, Deployment)  # noqa: S101 - not a dry run
        self.progress.finish(f"in {self.progress.elapsed:.1f} s", description="Deployed")
        self.last = deployment
        self.result.value = deployment._repr_html_()
        for callback in list(self._callbacks):
            callback(deployment)
        return deployment

    def _disable(self, *, disabled: bool) -> None:
        for button in (self.button, *self._also_disable):
            button.disabled = disabled

    def wait(self, timeout: float = 300.0) -> Deployment | None:
        """Block until a Deploy-button deploy has ended; return its result (None: it failed)."""
        if self.deploying is not None:
            self.deploying.join(timeout)
        return self.last if not self.error_text else None
