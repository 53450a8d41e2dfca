"""A live view of flytekit's ``SerializationSettings`` and of one entity as it would serialize.

Nothing is uploaded: the bundle is built (cached by content), its store URI is computed with
``store.uri_for(digest)``, and the entity goes through the same serializer as a run
(``prepare.serialize_for``: flytekit's ``get_serializable`` in a fresh interpreter, cached by
bundle digest and settings). That takes about a second the first time, so it runs in a
background thread, debounced, while the view says "serializing…".
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyte_jupyter._html import escape
from flyte_jupyter.prepare import would_be_uri
from flyte_jupyter.redaction import redact, redact_text
from flyte_jupyter.widgets.background import BackgroundView
from flyte_jupyter.widgets.common import entity_picker, muted

if TYPE_CHECKING:
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.widgets.state import PanelState


@dataclass(frozen=True)
class SerializationJob:
    """What to serialize, taken from the kernel on the main thread."""

    settings: Settings
    name: str | None
    job: BundleJob | None = None
    targets: tuple[str, ...] = ()
    modules: dict[str, str] = field(default_factory=dict)
    sdk: str = "flytekit"


@dataclass(frozen=True)
class TaskView:
    """One serialized task: its Flyte name, image and container command."""

    name: str
    image: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SerializationView:
    """The ``SerializationSettings`` (as JSON, secrets redacted) and the serialized tasks."""

    settings_json: dict[str, Any]
    tasks: tuple[TaskView, ...] = ()
    entity: str | None = None
    digest: str | None = None


def compute(job: SerializationJob) -> SerializationView:
    """Build the bundle (no upload) and serialize the entity, as a launch would."""
    from flyte_jupyter.prepare import prepare_bundle, serialize_for
    from flyte_jupyter.settings.serialization import (
        serialization_settings,
        serialization_settings_for_bundle,
    )

    settings = job.settings
    if job.job is None or job.name is None:
        flytekit_settings = serialization_settings(
            settings, bundle_uri=None, source_root=None, version=settings.version or "auto"
        )
        return SerializationView(settings_json=_redacted(flytekit_settings.to_json()))
    bundle = prepare_bundle(job.job)
    if bundle is not None:
        bundle = dataclasses.replace(bundle, uri=would_be_uri(settings, bundle.digest))
        targets = [(name, str(bundle.module)) for name in job.targets]
    else:
        targets = [(name, job.modules[name]) for name in job.targets]
    flytekit_settings = serialization_settings_for_bundle(settings, bundle)
    serialized = serialize_for(bundle, targets, settings, sdk=job.sdk, environ=job.job.environ)
    tasks = []
    for item in serialized.files:
        if item.kind != "task":
            continue
        container = item.container()
        tasks.append(
            TaskView(
                name=item.name,
                image=container.image,
                args=tuple(container.args),
                env=tuple((e.key, e.value) for e in container.env),
            )
        )
    return SerializationView(
        settings_json=_redacted(flytekit_settings.to_json()),
        tasks=tuple(tasks),
        entity=serialized.names.get(job.name, job.name),
        digest=bundle.digest if bundle is not None else None,
    )


def _redacted(settings_json: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(settings_json)
    if isinstance(data.get("env"), dict):
        data["env"] = {k: redact(k, v) for k, v in data["env"].items()}
    return data


def _image(image: dict[str, Any]) -> str:
    text = str(image.get("fqn"))
    if image.get("tag"):
        text += f":{image['tag']}"
    if image.get("digest"):
        text += f"@{image['digest']}"
    return text


def settings_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, value)`` rows of ``SerializationSettings`` JSON, images as URIs."""
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        if key == "image_config" and isinstance(value, dict):
            rows.append(("image_config.default_image", _image(value["default_image"])))
            rows.extend(
                (f"image_config.images[{img['name']}]", _image(img))
                for img in value.get("images") or []
            )
        elif isinstance(value, dict):
            rows.extend((f"{key}.{k}", json.dumps(v)) for k, v in value.items())
        else:
            rows.append((key, "null" if value is None else str(value)))
    return rows


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td style='padding-right:12px'><code>{escape(k)}</code></td>"
        f"<td><code>{escape(v)}</code></td></tr>"
        for k, v in rows
    )
    return f"<table class='flyte-jupyter-serialization'>{body}</table>"


def view_html(view: SerializationView) -> str:
    """The view as HTML (everything escaped, env values of secret-looking keys hidden)."""
    parts = [
        "<b>flytekit SerializationSettings</b>",
        _table([(k, redact_text(v)) for k, v in settings_rows(view.settings_json)]),
    ]
    if view.entity is None:
        parts.append(muted("Define and pick a task or workflow to see its container command."))
    for task in view.tasks:
        env = ", ".join(f"{k}={redact(k, v)}" for k, v in task.env) or "(none)"
        parts.append(
            f"<p style='margin-top:10px'><b>Task <code>{escape(task.name)}</code></b></p>"
            + _table([("image", task.image), ("container env", env)])
            + "<div>container command:</div>"
            + "<pre class='flyte-jupyter-command' style='white-space:pre-wrap;"
            "word-break:break-all;background:var(--jp-layout-color2,#f6f8fa);padding:6px'>"
            + escape(redact_text(" ".join(task.args)))
            + "</pre>"
        )
    pretty = json.dumps(view.settings_json, indent=2)
    parts.append(f"<details><summary>to_json()</summary><pre>{escape(pretty)}</pre></details>")
    return "".join(parts)


class SerializationSection(BackgroundView["SerializationView"]):
    """Entity picker plus the serialization view, refreshed in the background."""

    busy = "serializing…"

    def __init__(self, state: PanelState) -> None:
        entity = entity_picker("Entity", "The task or workflow whose serialized form is shown")
        super().__init__(state, entity, compute)

    def set_entities(self, entities: list[tuple[str, str]]) -> None:
        """Offer these ``(name, kind)`` entities; keep the choice if it still exists."""
        self.offer(entities)

    def make_job(self, settings: Settings) -> SerializationJob:
        """What to serialize: the chosen entity's bundle job under ``settings``."""
        name = self.entity.value
        if not name:
            return SerializationJob(settings, None)
        job, targets = self.state.job(settings, [name])
        from flyte_jupyter.sdk import sdk_for

        modules = self.state.installed_modules(targets) if settings.copy_style == "none" else {}
        sdk = sdk_for(self.state.user_ns[name], name).name
        return SerializationJob(settings, name, job, targets, modules, sdk)

    def render(self, result: SerializationView) -> str:
        """The serialization view as HTML."""
        return view_html(result)
