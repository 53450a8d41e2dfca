"""Rich displays shared by the magics and the panel: everything escaped, secrets redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter.bundle.model import escape

if TYPE_CHECKING:
    from flyte_jupyter.settings import Settings


class SettingsView:
    """The resolved settings with the source of each value (``%flyte_settings``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def rows(self) -> list[tuple[str, str, str]]:
        """``(key, redacted value, source)`` rows."""
        from flyte_jupyter.settings import describe

        return describe(self.settings)

    def __repr__(self) -> str:
        from flyte_jupyter.settings import describe_text

        return describe_text(self.settings)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td><code>{escape(k)}</code></td><td>{escape(v)}</td><td>{escape(s)}</td></tr>"
            for k, v, s in self.rows()
        )
        head = "<tr><th>setting</th><th>value</th><th>source</th></tr>"
        return f"<table class='flyte-jupyter-settings'>{head}{body}</table>"
