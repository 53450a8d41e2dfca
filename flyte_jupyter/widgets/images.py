"""Images: the default image and named refs (name -> URI), each with a picker of known images.

The panel writes only the refs that differ from what the layers below it give, so a
``%config FlyteJupyter.images`` change of another ref still shows. A ref set below the panel
can be given another URI here but not removed (remove it where it is set). Each row is checked
with flytekit's rules before anything is applied; an error stays next to its row.
"""

from __future__ import annotations

import sys
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings import FIELD_SPECS, parse_image_spec
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME, stock_default_image
from flyte_jupyter.widgets.common import ERROR_COLOR, error_html, muted, source_text

_V2_HELP = (
    "flyte v2 environments of this notebook and the image their tasks run in; set the image "
    "refs they use (flyte.Image.from_ref_name) as refs above."
)

if TYPE_CHECKING:
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.settings.images import ImageRefs
    from flyte_jupyter.widgets.state import PanelState

_PICK = ("pick a known image…", "")
_ORIGIN = "panel"


def known_images(*settings: Settings | None) -> list[tuple[str, str]]:
    """``(label, URI)`` of the images the settings name and flytekit's default images."""
    from flytekit.configuration.default_images import DefaultImages, PythonVersion

    seen: dict[str, str] = {}
    for each in settings:
        if each is None:
            continue
        refs = each.images
        if refs.default is not None and not refs.default_is_stock:
            seen.setdefault(refs.default, f"default · {each.provenance.get('images.default', '')}")
        for name, uri in refs.named:
            seen.setdefault(uri, f"{name} · {each.provenance.get(f'images.{name}', '')}")
    here = f"py{sys.version_info.major}.{sys.version_info.minor}"
    stock, _ = stock_default_image()
    seen.setdefault(stock, f"flytekit default ({here})")
    for version in PythonVersion:
        uri = DefaultImages.find_image_for(version)
        seen.setdefault(uri, f"flytekit default (py{version.value[0]}.{version.value[1]})")
    return [(f"{label} — {uri}", uri) for uri, label in seen.items()]


class ImageRow:
    """One image: name (fixed for the default), editable URI, known-image picker, remove."""

    def __init__(self, name: str, uri: str, *, default: bool, on_change: Any) -> None:
        self.default = default
        self.name = w.Text(
            value=name,
            description="Image" if default else "Ref",
            disabled=default,
            continuous_update=False,
            placeholder="name, e.g. spark",
            tooltip="Tasks refer to it as {{.image.NAME.fqn}}:{{.image.NAME.version}}",
            style={"description_width": "110px"},
            layout=w.Layout(width="250px"),
        )
        self.uri = w.Text(
            value=uri,
            description="URI",
            continuous_update=False,
            placeholder="registry/image:tag",
            tooltip="Image URI with a tag or a digest",
            style={"description_width": "32px"},
            layout=w.Layout(width="380px"),
        )
        self.known = w.Dropdown(
            description="Known",
            options=[_PICK],
            value="",
            tooltip="Pick a known image to fill in the URI",
            style={"description_width": "46px"},
            layout=w.Layout(width="220px"),
        )
        self.remove = w.Button(
            description="Remove",
            icon="trash",
            tooltip="Remove this ref",
            layout=w.Layout(width="90px", visibility="hidden" if default else "visible"),
        )
        self.source = w.HTML(layout=w.Layout(margin="0 0 0 8px"))
        self.error = w.HTML()
        row = w.HBox(
            [self.name, self.uri, self.known, self.remove, self.source],
            layout=w.Layout(align_items="center"),
        )
        self.box = w.VBox([row, self.error])
        self.box.add_class("flyte-jupyter-image-row")
        if default:
            self.box.add_class("flyte-jupyter-image-default")
        self.name.observe(on_change, "value")
        self.uri.observe(on_change, "value")
        self.known.observe(self._picked, "value")

    def _picked(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.uri.value = change["new"]  # fires the row's change handler
            self.known.value = ""

    @property
    def key(self) -> str:
        """The ref name (``default`` for the default image)."""
        return DEFAULT_IMAGE_NAME if self.default else self.name.value.strip()

    def spec(self) -> str | None:
        """``URI`` / ``NAME=URI`` for this row, None when empty; raises SettingsError if bad."""
        name, uri = self.key, self.uri.value.strip()
        if not uri and (self.default or not name):
            return None
        if not name or not uri:
            raise SettingsError("Give both a name and a URI (or remove the row).")
        value = uri if self.default else f"{name}={uri}"
        parse_image_spec(value, _ORIGIN)
        return value


class ImagesSection:
    """The default image and the named refs, edited as rows."""

    def __init__(self, state: PanelState) -> None:
        self.state = state
        self.rows: list[ImageRow] = []
        self.add = w.Button(description="Add image ref", icon="plus", tooltip="Add a named image")
        self.add.on_click(lambda _b: self.add_row())
        self.error = w.HTML()
        self.help = w.HTML(muted(FIELD_SPECS["images"].help))
        self.rows_box = w.VBox()
        self.environments = w.HTML()
        self.warning = w.HTML()
        self.widget = w.VBox(
            [self.help, self.rows_box, self.add, self.error, self.warning, self.environments]
        )
        self._known: list[tuple[str, str]] = [_PICK]

    # -- editing ---------------------------------------------------------------------------

    def add_row(self, name: str = "", uri: str = "") -> ImageRow:
        """Add a named-ref row (applied once it has a valid name and URI)."""
        row = self._make_row(name, uri, default=False)
        self.rows.append(row)
        self.rows_box.children = [r.box for r in self.rows]
        if name or uri:
            self._write()
        return row

    def row(self, name: str) -> ImageRow:
        """The row of ref ``name`` (``default`` for the default image)."""
        for row in self.rows:
            if row.key == name:
                return row
        raise KeyError(name)

    def _make_row(self, name: str, uri: str, *, default: bool) -> ImageRow:
        row = ImageRow(name, uri, default=default, on_change=lambda _c: self._write())
        row.known.options = self._known
        row.remove.on_click(lambda _b, r=row: self._remove(r))
        return row

    def _remove(self, row: ImageRow) -> None:
        below = self.state.base("images")
        if below is not None and row.key in dict(below.images.named):
            source = below.provenance.get(f"images.{row.key}", "a lower layer")
            row.error.value = error_html(
                f"{row.key!r} is set by {source}; the panel can change its URI but not remove "
                "it. Remove it there."
            )
            return
        self.rows.remove(row)
        self.rows_box.children = [r.box for r in self.rows]
        self._write()

    def _write(self) -> None:
        if self.state.is_syncing:
            return
        specs: dict[str, str] = {}
        problems: list[str] = []
        for row in self.rows:
            try:
                spec = row.spec()
            except SettingsError as exc:
                row.error.value = error_html(str(exc))
                problems.append(str(exc))
                continue
            if spec is not None and row.key in specs:
                problem = f"{row.key!r} is given twice; give each name once."
                row.error.value = error_html(problem)
                problems.append(problem)
                continue
            row.error.value = ""
            if spec is not None:
                specs[row.key] = spec
        if problems:  # nothing half-applied, nothing dropped unseen: Run refuses meanwhile
            self.state.reject("images", problems[0])
            return
        self.error.value = error_html(self.state.apply("images", self._changes(specs)))

    def _changes(self, specs: dict[str, str]) -> list[str] | None:
        """The specs that differ from the layers below the panel (None: no change)."""
        below = self.state.base("images")
        if below is None:
            return list(specs.values()) or None
        refs = below.images
        changed = []
        for name, spec in specs.items():
            uri = spec.partition("=")[2] if name != DEFAULT_IMAGE_NAME else spec
            current = refs.default if name == DEFAULT_IMAGE_NAME else refs.get(name)
            stock = name == DEFAULT_IMAGE_NAME and refs.default_is_stock
            if current != uri or stock:
                changed.append(spec)
        return changed or None

    # -- showing ---------------------------------------------------------------------------

    def drop_pending(self) -> None:
        """Forget rows that were never applied (Reset)."""
        self.rows = [r for r in self.rows if r.default or (r.key and r.uri.value.strip())]
        self.rows_box.children = [r.box for r in self.rows]

    def sync(self, settings: Settings) -> None:
        """Show the images of ``settings``; half-typed new rows stay.

        While the panel's image edit is refused, the rows stay as typed with the message.
        """
        refs = settings.images
        self._known = [_PICK, *known_images(settings, self.state.base("images"))]
        refused = self.state.rejected.get("images")
        if refused is not None:
            with self.state.syncing():
                for row in self.rows:
                    row.known.options = self._known
                    row.known.value = ""
            shown = any(row.error.value for row in self.rows)
            self.error.value = "" if shown else error_html(refused)
            self.show_environments()
            return
        wanted = [(DEFAULT_IMAGE_NAME, "" if refs.default_is_stock else refs.default or "")]
        wanted += list(refs.named)
        pending = [r for r in self.rows if not r.default and not (r.key and r.uri.value.strip())]
        with self.state.syncing():
            current = [r for r in self.rows if r not in pending]
            if [r.key for r in current] != [name for name, _ in wanted]:
                current = [
                    self._make_row(name, uri, default=name == DEFAULT_IMAGE_NAME)
                    for name, uri in wanted
                ]
            for row, (_, uri) in zip(current, wanted, strict=True):
                row.uri.value = uri
                row.known.options = self._known
                row.known.value = ""
            self.rows = current + pending
            self.rows_box.children = [r.box for r in self.rows]
        self.error.value = ""
        self.warning.value = _unbacked_warning(refs)
        stock_uri = stock_default_image()[0]
        for row in current:
            row.error.value = ""
            source = settings.provenance.get(f"images.{row.key}")
            if row.default and refs.default_is_stock:
                row.uri.placeholder = f"flytekit default: {stock_uri}"
                source = "flytekit's default image"
            row.source.value = source_text(source)
        self.show_environments()

    def show_environments(self) -> None:
        """One read-only line per flyte v2 environment: its name and image (a ref resolved)."""
        settings = self.state.settings
        envs = self.state.environments()
        if settings is None or not envs:
            self.environments.value = ""
            return
        from flyte_jupyter.sdk.flyte import image_text

        lines = []
        for variable, env in envs:
            image = image_text(getattr(env, "image", None)) or "auto"
            kind, _, value = image.partition(":")
            if kind == "ref":
                uri = settings.images.get(value)
                shown = f"ref <code>{escape(value)}</code>: " + (
                    f"<code>{escape(uri)}</code>"
                    if uri
                    else f"<b style='color:{ERROR_COLOR}'>not set</b>"
                )
            elif kind == "layered":
                shown = (
                    f"layered image based on <code>{escape(value)}</code> "
                    f"<b style='color:{ERROR_COLOR}'>(not built here: give a URI or a ref)</b>"
                )
            else:
                shown = f"<code>{escape(image)}</code>"
            name = escape(str(getattr(env, "name", variable)))
            lines.append(
                f"<div class='flyte-jupyter-v2-env'>v2 environment <code>{name}</code> "
                f"{muted(f'({variable})')} · image {shown}</div>"
            )
        self.environments.value = f"<div>{muted(_V2_HELP)}</div>" + "".join(lines)


def _unbacked_warning(refs: ImageRefs) -> str:
    """Named images without a default: what a flytekit run will say, shown now, not at Run.

    Kept in the settings (flyte v2 environments name their own image), so not an error here;
    the text is the flytekit SDK's own refusal, as ``%%flyte_run`` and Run give it.
    """
    if not refs.unbacked:
        return ""
    from flyte_jupyter.sdk import load_sdk

    try:
        load_sdk("flytekit").check_images("", None, refs)
    except SettingsError as exc:
        return (
            f"<div class='flyte-jupyter-warning' style='color:#9a6700;white-space:pre-wrap;"
            f"margin:2px 0 4px 110px'>⚠ flytekit tasks: {escape(str(exc))} "
            f"{muted('(flyte v2 environments are fine.)')}</div>"
        )
    return ""
