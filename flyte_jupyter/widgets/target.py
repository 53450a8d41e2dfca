"""Target: project, domain, backend, how local runs run, and bundle store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter.redaction import redact_url
from flyte_jupyter.settings import BACKENDS, FIELD_SPECS, LOCAL_RUNS
from flyte_jupyter.widgets.common import STYLE, Field

if TYPE_CHECKING:
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.widgets.state import PanelState

_WIDE = w.Layout(width="520px")
_LOCAL_RUNS_TIPS = {
    "warm": "Fork each local run from a pre-imported interpreter: quick to start",
    "exact": "Run the pod's command in fresh processes, exactly as in a pod",
}


class TargetSection:
    """Where runs go: project, domain (the configured domains), backend, local runs, store."""

    def __init__(self, state: PanelState) -> None:
        self.state = state
        self.project = Field(
            w.Text(
                description="Project",
                continuous_update=False,
                tooltip=FIELD_SPECS["project"].help,
                style=STYLE,
                layout=_WIDE,
            )
        )
        self.domain = Field(
            w.Dropdown(
                description="Domain",
                options=[],
                tooltip=FIELD_SPECS["domain"].help,
                style=STYLE,
                layout=w.Layout(width="320px"),
            )
        )
        self.backend = Field(
            w.ToggleButtons(
                description="Backend",
                options=list(BACKENDS),
                tooltips=["Run on the embedded local backend", "Run on a Flyte cluster"],
                style={**STYLE, "button_width": "90px"},
            )
        )
        self.local_runs = Field(
            w.ToggleButtons(
                description="Local runs",
                options=list(LOCAL_RUNS),
                tooltips=[_LOCAL_RUNS_TIPS[mode] for mode in LOCAL_RUNS],
                style={**STYLE, "button_width": "90px"},
            )
        )
        self.store = Field(
            w.Text(
                description="Store",
                continuous_update=False,
                placeholder="a file:// bundle store under the home folder",
                tooltip=FIELD_SPECS["store"].help + " Empty: the default.",
                style=STYLE,
                layout=_WIDE,
            )
        )
        self.fields = {
            "project": self.project,
            "domain": self.domain,
            "backend": self.backend,
            "local_runs": self.local_runs,
            "store": self.store,
        }
        for key, field in self.fields.items():
            field.control.observe(self._edited(key), "value")
        self.widget = w.VBox([f.box for f in self.fields.values()])

    def _edited(self, key: str) -> Any:
        def handler(change: dict[str, Any]) -> None:
            if self.state.is_syncing:
                return
            value = change["new"]
            if isinstance(value, str):
                value = value.strip() or None  # empty: back to the layers below the panel
            self.fields[key].show_error(self.state.apply(key, value))

        return handler

    def sync(self, settings: Settings) -> None:
        """Show ``settings`` (observers do not fire back)."""
        from flyte_jupyter.store import default_store_url

        refused = self.state.rejected  # a refused edit keeps its typed value and message
        values = {
            "project": settings.project,
            "domain": settings.domain,
            "backend": settings.backend,
            "local_runs": settings.local_runs,
            # a password in the URL never goes into widget state (saved with the notebook)
            "store": redact_url(settings.store or ""),
        }
        with self.state.syncing():
            domain = self.domain.control
            if tuple(domain.options) != settings.domains:
                domain.options = list(settings.domains)
            for key, value in values.items():
                if key not in refused:
                    self.fields[key].control.value = value
            # the remote backend ignores it: shown (the value still resolves), not editable
            self.local_runs.control.disabled = settings.backend != "local"
            self.store.control.placeholder = f"default: {default_store_url(settings.home)}"
        for key, field in self.fields.items():
            field.show_source(settings.provenance.get(key))
            field.show_error(refused.get(key))
