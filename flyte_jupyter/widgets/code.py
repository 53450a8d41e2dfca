"""Code: copy style, root_dir and the environment variables of task containers (KEY=VALUE rows).

Secret-looking variables (``*TOKEN*``, ``*KEY*``, ...) are never put into a widget: their row
shows an empty value with "hidden" as placeholder, and an empty value keeps what is set.
Widget values are saved with the notebook, so this keeps secrets out of notebook files.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter.bundle.model import COPY_STYLES
from flyte_jupyter.redaction import looks_secret
from flyte_jupyter.settings import FIELD_SPECS
from flyte_jupyter.widgets.common import STYLE, Field, error_html, source_text

if TYPE_CHECKING:
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.widgets.state import PanelState

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COPY_TIPS = [
    "The notebook module + local modules it uses",
    "Every file under root_dir that no ignore rule excludes",
    "No bundle: the code must be in the image (needs a version)",
]


class EnvRow:
    """One ``KEY=VALUE`` row."""

    def __init__(self, key: str, value: str, *, on_change: Any) -> None:
        self.key = w.Text(
            value=key,
            description="Env",
            continuous_update=False,
            placeholder="KEY",
            style=STYLE,
            layout=w.Layout(width="300px"),
        )
        self.value = w.Text(
            value=value,
            description="=",
            continuous_update=False,
            placeholder="value",
            style={"description_width": "14px"},
            layout=w.Layout(width="300px"),
        )
        self.remove = w.Button(
            description="Remove",
            icon="trash",
            tooltip="Remove this environment variable",
            layout=w.Layout(width="90px"),
        )
        self.source = w.HTML(layout=w.Layout(margin="0 0 0 8px"))
        self.error = w.HTML()
        row = w.HBox(
            [self.key, self.value, self.remove, self.source], layout=w.Layout(align_items="center")
        )
        self.box = w.VBox([row, self.error])
        self.key.observe(on_change, "value")
        self.value.observe(on_change, "value")

    @property
    def name(self) -> str:
        """The variable name as typed (stripped)."""
        return str(self.key.value).strip()


class CodeSection:
    """What ships and what the containers see: copy style, root_dir, env."""

    def __init__(self, state: PanelState) -> None:
        self.state = state
        self.copy_style = Field(
            w.ToggleButtons(
                description="Copy style",
                options=list(COPY_STYLES),
                tooltips=_COPY_TIPS,
                style={**STYLE, "button_width": "70px"},
            )
        )
        self.root_dir = Field(
            w.Text(
                description="Root dir",
                continuous_update=False,
                tooltip=FIELD_SPECS["root_dir"].help + " Empty: the notebook's folder.",
                style=STYLE,
                layout=w.Layout(width="520px"),
            )
        )
        self.copy_style.control.observe(self._scalar("copy_style", self.copy_style), "value")
        self.root_dir.control.observe(self._scalar("root_dir", self.root_dir), "value")
        self.env_rows: list[EnvRow] = []
        self.env_box = w.VBox()
        self.add_env = w.Button(
            description="Add env variable",
            icon="plus",
            tooltip="Add an environment variable (KEY=VALUE) that the task's container gets",
            layout=w.Layout(width="auto"),
        )
        self.add_env.on_click(lambda _b: self.add_row())
        # the label a lone button lacks: without rows nothing else says what it adds
        self.env_label = w.HTML(
            "<span title='Environment variables of the task containers'>Environment</span>",
            layout=w.Layout(width="110px", margin="0 4px 0 0"),
        )
        self.env_error = w.HTML()
        self.widget = w.VBox(
            [
                self.copy_style.box,
                self.root_dir.box,
                self.env_box,
                w.HBox([self.env_label, self.add_env], layout=w.Layout(align_items="center")),
                self.env_error,
            ]
        )

    def _scalar(self, key: str, field: Field) -> Any:
        def handler(change: dict[str, Any]) -> None:
            if self.state.is_syncing:
                return
            value = change["new"].strip() if isinstance(change["new"], str) else change["new"]
            field.show_error(self.state.apply(key, value or None))

        return handler

    # -- env -------------------------------------------------------------------------------

    def add_row(self, key: str = "", value: str = "") -> EnvRow:
        """Add a ``KEY=VALUE`` row (applied once it has a valid key)."""
        row = self._make_row(key, value)
        self.env_rows.append(row)
        self.env_box.children = [r.box for r in self.env_rows]
        if key:
            self._write_env()
        return row

    def env_row(self, key: str) -> EnvRow:
        """The row of variable ``key``."""
        for row in self.env_rows:
            if row.name == key:
                return row
        raise KeyError(key)

    def _make_row(self, key: str, value: str) -> EnvRow:
        row = EnvRow(key, value, on_change=lambda _c: self._write_env())
        row.remove.on_click(lambda _b, r=row: self._remove(r))
        return row

    def _remove(self, row: EnvRow) -> None:
        below = self.state.base("env")
        if below is not None and row.name in below.env_dict:
            source = below.provenance.get(f"env.{row.name}", "a lower layer")
            row.error.value = error_html(
                f"{row.name} is set by {source}; the panel can change its value but not remove "
                "it. Remove it there."
            )
            return
        self.env_rows.remove(row)
        self.env_box.children = [r.box for r in self.env_rows]
        self._write_env()

    def _write_env(self) -> None:
        if self.state.is_syncing:
            return
        below = self.state.base("env")
        base = below.env_dict if below is not None else {}
        shown = self.state.settings.env_dict if self.state.settings is not None else {}
        changes: dict[str, str] = {}
        failed = False
        for row in self.env_rows:
            name, value = row.name, str(row.value.value)
            problem = _env_problem(name, value, seen=changes)
            row.error.value = error_html(problem)
            if problem or not name:
                failed = failed or bool(problem)
                continue
            if looks_secret(name) and not value and name in shown:
                value = shown[name]  # a hidden secret left empty keeps what is set
            if base.get(name) != value:
                changes[name] = value
        if failed:  # nothing half-applied, nothing dropped unseen: Run refuses meanwhile
            problems = [_env_problem(r.name, str(r.value.value), seen={}) for r in self.env_rows]
            self.state.reject("env", next((p for p in problems if p), "an env row is invalid"))
            return
        entries = [f"{k}={v}" for k, v in changes.items()] or None
        self.env_error.value = error_html(self.state.apply("env", entries))

    # -- showing ---------------------------------------------------------------------------

    def sync(self, settings: Settings) -> None:
        """Show ``settings``; half-typed new rows stay."""
        refused = self.state.rejected  # a refused edit keeps its typed value and message
        with self.state.syncing():
            if "copy_style" not in refused:
                self.copy_style.control.value = settings.copy_style
            if "root_dir" not in refused:
                self.root_dir.control.value = str(settings.root_dir or "")
        if "env" in refused:
            self.env_error.value = error_html(refused["env"])
        else:
            self._sync_env(settings)
        for key, field in (("copy_style", self.copy_style), ("root_dir", self.root_dir)):
            field.show_source(settings.provenance.get(key))
            field.show_error(refused.get(key))

    def drop_pending(self) -> None:
        """Forget rows that were never applied (Reset)."""
        self.env_rows = [r for r in self.env_rows if r.name]
        self.env_box.children = [r.box for r in self.env_rows]

    def _sync_env(self, settings: Settings) -> None:
        with self.state.syncing():
            pending = [r for r in self.env_rows if not r.name]
            wanted = settings.env
            current = [r for r in self.env_rows if r not in pending]
            if [r.name for r in current] != [k for k, _ in wanted]:
                current = [self._make_row(k, "") for k, _ in wanted]
            for row, (key, value) in zip(current, wanted, strict=True):
                secret = looks_secret(key)
                row.value.value = "" if secret else value
                row.value.placeholder = "hidden (secret); type to replace" if secret else "value"
                row.error.value = ""
                row.source.value = source_text(settings.provenance.get(f"env.{key}"))
            self.env_rows = current + pending
            self.env_box.children = [r.box for r in self.env_rows]
        self.env_error.value = ""


def _env_problem(name: str, value: str, *, seen: dict[str, str]) -> str | None:
    """What is wrong with a ``KEY=VALUE`` row, if anything (an empty row is fine)."""
    if not name:
        return "Give the variable a name." if value else None
    if not _ENV_NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid variable name: use letters, digits and '_', "
            "not starting with a digit."
        )
    if name in seen:
        return f"{name} is given twice; give each variable once."
    return None
