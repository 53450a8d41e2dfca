"""Run: pick a task or workflow, fill in its inputs, press Run (or Deploy, to register it).

The button builds the same ``LaunchRequest`` that ``%%flyte_run`` builds (from the settings the
magics resolve, with the panel layer in them) and calls the same ``launch``; a progress bar is
fed by ``launch``'s ``progress`` callback while the bundle is written and uploaded. Launching
happens in a background thread so the kernel stays responsive; :meth:`RunSection.run` is the
synchronous form for code and tests.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter.display import CANCEL_LABEL, confirm_clicks
from flyte_jupyter.errors import FlyteJupyterError, InputError
from flyte_jupyter.widgets.common import entity_picker, error_html, muted, offer_entities
from flyte_jupyter.widgets.deploy import DeployAction
from flyte_jupyter.widgets.inputs import InputsForm
from flyte_jupyter.widgets.progress import TransferProgress
from flyte_jupyter.widgets.state import message_of

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.display import LiveRun
    from flyte_jupyter.launch import Run
    from flyte_jupyter.submit import LaunchRequest
    from flyte_jupyter.widgets.runs import RunsSection
    from flyte_jupyter.widgets.state import PanelState

FOLLOW_POLL = 0.5


class RunSection:
    """Entity picker, generated inputs form, Run button, progress bar and the launched run."""

    def __init__(self, state: PanelState, runs: RunsSection | None = None) -> None:
        self.state = state
        self.runs = runs
        self.entity = entity_picker("Task/workflow", "What to run")
        self.entity.observe(self._entity_changed, "value")
        self.form: InputsForm | None = None
        self.form_box = w.VBox()
        self.button = w.Button(
            description="Run",
            icon="play",
            button_style="primary",
            tooltip="Bundle, upload and launch with the settings above",
            layout=w.Layout(margin="6px 0 6px 114px"),
        )
        self.button.on_click(lambda _b: self.click())
        self.deployer = DeployAction(state, self.entity, [self.button], self.busy)
        self.progress = TransferProgress("Launching")
        self.error = w.HTML()
        self.status = w.HTML()
        self.cancel_button = w.Button(
            description=CANCEL_LABEL,
            icon="stop",
            button_style="danger",
            tooltip="Stop the run launched here; it ends ABORTED (a second click confirms)",
            layout=w.Layout(display="none", margin="2px 0 2px 114px"),
        )
        confirm_clicks(self.cancel_button, self.cancel)
        self.widget = w.VBox(
            [
                self.entity,
                self.form_box,
                w.HBox([self.button, self.deployer.button]),
                self.progress.widget,
                self.error,
                self.status,
                self.cancel_button,
                self.deployer.widget,
            ]
        )
        self.last_run: Run | None = None
        self.error_text = ""
        self.launching: threading.Thread | None = None
        self._callbacks: list[Callable[[Run], None]] = []

    # -- entities and the form -------------------------------------------------------------

    def set_entities(self, entities: list[tuple[str, str]]) -> None:
        """Offer these ``(name, kind)`` entities; keep the choice if it still exists.

        The form is rebuilt when the chosen entity changed or was redefined (a new interface).
        """
        offer_entities(self.entity, self.state, entities)
        name = self.entity.value
        if self.form is None or self.form.name != name or not self._current(self.form):
            self._build_form()

    def _current(self, form: InputsForm) -> bool:
        return self.state.user_ns.get(form.name) is form.entity

    def _entity_changed(self, _change: dict[str, Any]) -> None:
        if not self.state.is_syncing:
            self._build_form()

    def _build_form(self) -> None:
        name = self.entity.value
        if not name:
            self.form = None
            self.form_box.children = [w.HTML(muted("Define a task or workflow in a cell first."))]
            return
        self.form = InputsForm(name, self.state.user_ns[name])
        self.form_box.children = [self.form.widget]

    # -- launching -------------------------------------------------------------------------

    def on_run(self, callback: Callable[[Run], None]) -> None:
        """Call ``callback(run)`` after each launch from the panel (in the launching thread)."""
        self._callbacks.append(callback)

    def _request(self, name: str | None, inputs: Mapping[str, Any] | None) -> LaunchRequest:
        """Select ``name``, fill ``inputs`` into the form, and build the launch request."""
        self.error.value = ""
        refusal = self.state.refusal()
        if refusal is not None:  # never run with settings other than those shown
            raise InputError(refusal)
        if name is not None and name != self.entity.value:
            self.entity.value = name  # rebuilds the form
        if self.form is None:
            msg = "No task or workflow to run: define one in a cell and run the cell."
            raise InputError(msg)
        if inputs:
            self.form.set(inputs)
        values = self.form.values()
        if values is None:
            msg = "Some inputs are not valid; see the messages next to them."
            raise InputError(msg)
        settings = self.state.refresh() if self.state.changed_outside() else self.state.settings
        if settings is None or self.state.error:
            raise InputError(self.state.error or "The settings are not valid.")
        return self.state.launch_request(settings, self.form.name, values)

    def run(self, name: str | None = None, inputs: Mapping[str, Any] | None = None) -> Run:
        """Launch ``name`` (default: the selected entity) with ``inputs`` and return the run.

        Fields not given keep what the form holds. Blocks until the run is submitted, not
        until it ends (use ``run.wait()``).

        Raises
        ------
        FlyteJupyterError
            Bad inputs or settings, or a bundling, upload or launch error (also shown inline).
        """
        try:
            request = self._request(name, inputs)
        except FlyteJupyterError as exc:
            self.error.value = error_html(message_of(exc))
            raise
        run = self._launch(request)
        if run is None:
            raise FlyteJupyterError(self.error_text)
        return run

    def busy(self) -> bool:
        """True while a launch or a deploy from the panel is under way."""
        launching = self.launching is not None and self.launching.is_alive()
        return launching or self.deployer.running

    def _set_busy(self, *, busy: bool) -> None:
        """Disable Run and Deploy while either is under way (one bundle build at a time)."""
        self.button.disabled = busy
        self.deployer.button.disabled = busy

    def click(self) -> None:
        """What the Run button does: check inputs now, launch in a background thread."""
        if self.busy():
            return
        try:
            request = self._request(None, None)
        except Exception as exc:  # noqa: BLE001 - every failure is shown next to the button
            self.error.value = error_html(message_of(exc))
            return
        self._set_busy(busy=True)  # at once: a second click must not start another launch
        self.launching = threading.Thread(
            target=self._launch, args=(request,), name="flyte-launch", daemon=True
        )
        self.launching.start()

    def _launch(self, request: LaunchRequest) -> Run | None:
        from flyte_jupyter.display import LiveRun
        from flyte_jupyter.launch import Run
        from flyte_jupyter.submit import launch

        self._set_busy(busy=True)
        self.progress.start()
        self.error_text = ""
        try:
            run = launch(request, progress=self.progress)
        except Exception as exc:  # noqa: BLE001 - shown inline; run() re-raises it
            self.error_text = message_of(exc)
            self.error.value = error_html(self.error_text)
            self.progress.finish("failed", ok=False, description="Launch failed")
            return None
        finally:
            self._set_busy(busy=False)
        assert isinstance(run, Run)  # noqa: S101 - launch without dry_run returns a Run
        run = LiveRun.of(run)
        self.progress.finish(f"in {self.progress.elapsed:.1f} s", description="Launched")
        self.last_run = run
        self._follow(run)
        if self.runs is not None:
            self.runs.track(run)
        for callback in list(self._callbacks):
            callback(run)
        return run

    def _follow(self, run: LiveRun) -> None:
        """Show the run live (elapsed time, log tail, Cancel) until it ends, then its summary.

        Polled by the process's follower; a frame is drawn when the run changed or a second
        passed (the elapsed time and the log tail move).
        """
        from flyte_jupyter.display import REDRAW, live_html
        from flyte_jupyter.launch.follow import follower

        record = run.record
        self.status.value = live_html(record, run.log_tail(record))
        self.cancel_button.disabled = False
        self.cancel_button.description = CANCEL_LABEL
        self.cancel_button.layout.display = "none" if record.done else "flex"
        if record.done:
            return
        shown = [record]
        next_frame = [time.monotonic() + REDRAW]

        def poll() -> bool:
            if self.last_run is not run:  # a newer launch took the place
                return False
            current = run.record
            if current != shown[0] or time.monotonic() >= next_frame[0]:
                tail = [] if current.done else run.log_tail(current)
                self.status.value = live_html(current, tail)
                shown[0], next_frame[0] = current, time.monotonic() + REDRAW
            if current.done:
                self.cancel_button.layout.display = "none"
            return not current.done

        follower().watch(poll, FOLLOW_POLL, start_in=FOLLOW_POLL)

    def cancel(self) -> None:
        """Cancel the run launched last (what the Cancel button does), in a thread."""
        run = self.last_run
        if run is None or run.record.done:
            return
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling…"

        def cancel() -> None:
            try:
                run.cancel()
            except FlyteJupyterError as exc:
                self.error.value = error_html(f"Cancel failed: {message_of(exc)}")
                self.cancel_button.disabled = False
                self.cancel_button.description = CANCEL_LABEL

        threading.Thread(target=cancel, name="flyte-cancel", daemon=True).start()

    def wait(self, timeout: float = 300.0) -> Run | None:
        """Block until a Run-button launch has been submitted; return its run."""
        if self.launching is not None:
            self.launching.join(timeout)
        return self.last_run
