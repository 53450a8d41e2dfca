"""Deploy tasks and workflows: bundle, publish, serialize and register them; run nothing.

The application layer's entry for deploys: ``%flyte_deploy`` and the panel's Deploy button
call :func:`deploy` with the :class:`DeployRequest` their kernel session builds. The bundle is
built, self-checked and published exactly as for a run (:func:`~flyte_jupyter.prepare.
prepare_and_publish`), each SDK serializes its own entities (as ``%flyte_serialize`` does),
and each SDK's remote launcher registers them (:meth:`~flyte_jupyter.launch.model.Launcher.
deploy`): flytekit tasks, workflows and their default launch plans through Flyte admin, flyte
v2 task environments through the v2 control plane.

A deploy always goes to a Flyte cluster (the remote backend), whatever ``backend`` says: the
local backend has no registry. ``dry_run`` builds and self-checks the bundle and serializes
the specs, but uploads nothing and contacts no cluster.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyte_jupyter._html import escape
from flyte_jupyter.errors import FlyteJupyterError, LaunchError
from flyte_jupyter.launch.backends import launcher_for
from flyte_jupyter.launch.model import DeploySpec
from flyte_jupyter.prepare import (
    prepare_and_publish,
    prepare_bundle,
    serialize_for,
    would_be_uri,
)
from flyte_jupyter.redaction import redact_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.launch.model import Deployed, Launcher
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.progress import Progress
    from flyte_jupyter.serialize.api import Serialized
    from flyte_jupyter.settings import Settings

__all__ = ["DeployPlan", "DeployRequest", "Deployment", "PlannedEntity", "deploy"]


@dataclass(frozen=True)
class DeployRequest:
    """One deploy, as an adapter found it.

    Parameters
    ----------
    targets
        Names of the tasks/workflows in the notebook (``square``), already checked.
    entities
        The kernel's object of each target: it tells the SDK.
    job
        What to bundle (see :func:`flyte_jupyter.prepare.job_for`).
    settings
        The resolved settings (their ``backend`` is ignored: a deploy goes to the cluster).
    installed
        ``{name: module}`` to import each target from when nothing is bundled (copy style
        ``none``).
    """

    targets: tuple[str, ...]
    entities: Mapping[str, Any]
    job: BundleJob
    settings: Settings
    installed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    """What a deploy registered: every entity, under one version, with its console page.

    Parameters
    ----------
    version
        The version every entity is registered under.
    project, domain
        Where they are registered.
    deployed
        Each entity, ``registered`` (new) or ``already registered`` (the same spec was).
    endpoints
        ``{sdk: endpoint}`` of the cluster each SDK's entities went to.
    bundle_digest
        The bundle's digest (None for copy style ``none``).
    bundle_uris
        ``{sdk: uri}`` of the bundle as each SDK's cluster reads it (one URI unless the
        store is ``flyte`` and two SDKs' clusters have their own data proxies).
    """

    version: str
    project: str
    domain: str
    deployed: tuple[Deployed, ...]
    endpoints: Mapping[str, str] = field(default_factory=dict)
    bundle_digest: str | None = None
    bundle_uris: Mapping[str, str] = field(default_factory=dict)

    @property
    def bundle_uri(self) -> str | None:
        """The bundle's URI when every cluster reads it from the same place, else None."""
        uris = set(self.bundle_uris.values())
        return uris.pop() if len(uris) == 1 else None

    @property
    def registered(self) -> tuple[Deployed, ...]:
        """The entities this deploy registered (new under the version)."""
        return tuple(d for d in self.deployed if d.status == "registered")

    def _summary(self) -> str:
        new = len(self.registered)
        count = len(self.deployed)
        where = ", ".join(sorted(set(self.endpoints.values())))
        return (
            f"{count} {'entity' if count == 1 else 'entities'} under version {self.version} "
            f"in {self.project}/{self.domain}" + (f" on {where}" if where else "") + f": {new} "
            f"newly registered, {count - new} already registered"
        )

    def __repr__(self) -> str:
        lines = [f"Deployment: {self._summary()}"]
        lines += [f"bundle {uri}" for uri in sorted(set(self.bundle_uris.values()))]
        lines += [
            f"  {d.kind:<12} {d.name}  {d.status}" + (f"  {d.url}" if d.url else "")
            for d in self.deployed
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(d.kind)}</td><td><code>{escape(d.name)}</code></td>"
            f"<td><code>{escape(d.version)}</code></td><td>{escape(d.status)}</td>"
            f"<td>{_link(d.url)}</td></tr>"
            for d in self.deployed
        )
        return (
            "<div class='flyte-jupyter-deployment'>"
            f"<div><b>Deployed</b> {escape(self._summary())}</div>"
            f"{_bundle_html(*sorted(set(self.bundle_uris.values())))}"
            "<table><thead><tr><th>kind</th><th>name</th><th>version</th><th>status</th>"
            f"<th>console</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


@dataclass(frozen=True)
class PlannedEntity:
    """One serialized spec a deploy would register: what ``--dry-run`` shows.

    ``image`` and ``args`` are a task's container (empty for workflows and launch plans).
    """

    kind: str
    name: str
    version: str
    sdk: str
    image: str = ""
    args: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        """The container command on one line, secret-looking values hidden."""
        return redact_text(" ".join(self.args))


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy would register (``--dry-run``): nothing was uploaded or registered.

    ``bundle_uri`` is where the bundle would be stored (computed, not uploaded).
    """

    version: str
    project: str
    domain: str
    planned: tuple[PlannedEntity, ...]
    bundle_digest: str | None = None
    bundle_uri: str | None = None

    def _summary(self) -> str:
        count = len(self.planned)
        return (
            f"{count} {'entity' if count == 1 else 'entities'} would be registered under "
            f"version {self.version} in {self.project}/{self.domain}"
        )

    def __repr__(self) -> str:
        lines = [f"Dry run, nothing uploaded or registered: {self._summary()}"]
        if self.bundle_uri:
            lines.append(f"bundle (not uploaded) {self.bundle_uri}")
        for item in self.planned:
            lines.append(f"  {item.kind:<12} {item.name}  {item.version}")
            if item.image:
                lines.append(f"      image: {item.image}")
            if item.args:
                lines.append(f"      args:  {item.command}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(p.kind)}</td><td><code>{escape(p.name)}</code></td>"
            f"<td><code>{escape(p.version)}</code></td><td><code>{escape(p.image)}</code></td>"
            f"<td><code style='word-break:break-all'>{escape(p.command)}</code></td></tr>"
            for p in self.planned
        )
        return (
            "<div class='flyte-jupyter-deploy-plan'>"
            f"<div><b>Dry run</b>: nothing was uploaded or registered. "
            f"{escape(self._summary())}</div>{_bundle_html(self.bundle_uri, planned=True)}"
            "<table><thead><tr><th>kind</th><th>name</th><th>version</th><th>image</th>"
            f"<th>container args</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


def _link(url: str | None) -> str:
    """A console link: only http(s) URLs are links; anything else is shown as text."""
    if not url:
        return ""
    if url.lower().startswith(("http://", "https://")):
        return f"<a href='{escape(url)}' target='_blank' rel='noopener'>open</a>"
    return f"<code>{escape(url)}</code>"


def _bundle_html(*uris: str | None, planned: bool = False) -> str:
    shown = [uri for uri in uris if uri]
    if not shown:
        return "<div>no bundle (copy style none): the code is in the image</div>"
    what = "bundle (not uploaded)" if planned else "bundle"
    return "".join(f"<div>{what} <code>{escape(uri)}</code></div>" for uri in shown)


def deploy(
    request: DeployRequest,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Deployment | DeployPlan:
    """Bundle, publish, serialize and register the request's entities; execute nothing.

    Each SDK's entities go to that SDK's remote launcher
    (``launcher_for(settings, sdk=...)``). With ``dry_run`` the bundle is built and
    self-checked locally and the specs are serialized, but nothing is uploaded and no cluster
    is contacted. ``progress`` is told the ``bundle`` and ``upload`` phases, as for a run.

    Raises
    ------
    FlyteJupyterError
        A bad target, image or setting; no Flyte endpoint configured (saying how to
        configure one); a bundling, upload, serialization or registration error (a changed
        spec under an existing version among them).
    """
    from flyte_jupyter.settings import effective_version

    settings = dataclasses.replace(request.settings, backend="remote")
    groups = _groups(request, settings)
    # a cluster that cannot be reached as configured fails before any bundling
    launchers = {} if dry_run else {s: launcher_for(settings, sdk=s) for s in groups}
    bundles = _bundles(request, settings, tuple(groups), dry_run=dry_run, progress=progress)
    first = next(iter(bundles.values()))  # one bundle: the same digest for every SDK
    digest = first.digest if first is not None else None
    version = effective_version(digest, settings)
    serialized = {
        sdk_name: serialize_for(
            bundles[sdk_name],
            _targets(request, bundles[sdk_name], names),
            settings,
            sdk=sdk_name,
            environ=request.job.environ,
        )
        for sdk_name, names in groups.items()
    }
    if dry_run:
        planned = tuple(p for s in serialized.values() for p in _planned(s, version))
        uri = first.uri if first is not None else None
        return DeployPlan(version, settings.project, settings.domain, planned, digest, uri)
    deployed: list[Deployed] = []
    for sdk_name, specs in serialized.items():
        spec = DeploySpec(sdk_name, specs, bundles[sdk_name], settings, version)
        deployed += _deploy_one(launchers[sdk_name], spec, deployed)
    return Deployment(
        version,
        settings.project,
        settings.domain,
        tuple(deployed),
        endpoints={s: e for s, e in _endpoints(launchers).items() if e},
        bundle_digest=digest,
        bundle_uris={s: str(b.uri) for s, b in bundles.items() if b is not None},
    )


def _groups(request: DeployRequest, settings: Settings) -> dict[str, list[str]]:
    """``{sdk: [name, ...]}`` of the targets, each checked against the images first."""
    from flyte_jupyter.sdk import sdk_for
    from flyte_jupyter.settings import check_image_refs

    if not request.targets:  # pragma: no cover - the session's job refuses an empty notebook
        msg = "Nothing to deploy: define a task or workflow in a cell and run it first."
        raise LaunchError(msg)
    groups: dict[str, list[str]] = {}
    for name in request.targets:
        entity = request.entities[name]
        sdk = sdk_for(entity, name)
        check_image_refs(sdk.container_images(entity), settings.images)
        sdk.check_images(name, entity, settings.images)
        groups.setdefault(sdk.name, []).append(name)
    return dict(sorted(groups.items()))


def _bundles(
    request: DeployRequest,
    settings: Settings,
    sdks: tuple[str, ...],
    *,
    dry_run: bool,
    progress: Progress | None,
) -> dict[str, Bundle | None]:
    """The bundle as each SDK's cluster reads it (None: copy style ``none``).

    Built and self-checked once (for a second SDK the cached archive and check are reused).
    Published for each SDK: with store ``flyte`` each SDK's cluster gets it through its own
    data proxy; a bucket store is asked once more and reuses it. A dry run computes where it
    would be stored and publishes nothing.
    """
    if dry_run:
        bundle = prepare_bundle(request.job, progress=progress)
        if bundle is not None:
            bundle = dataclasses.replace(bundle, uri=would_be_uri(settings, bundle.digest))
        return dict.fromkeys(sdks, bundle)
    return {
        sdk: prepare_and_publish(request.job, settings, progress=progress, sdk=sdk) for sdk in sdks
    }


def _targets(
    request: DeployRequest, bundle: Bundle | None, names: list[str]
) -> list[tuple[str, str]]:
    """``(name, module)`` to import each of ``names`` from: the bundle's, else the installed."""
    if bundle is not None:
        return [(name, str(bundle.module)) for name in names]
    missing = [n for n in names if n not in request.installed]
    if missing:
        msg = f"Cannot tell which installed module defines {', '.join(map(repr, missing))}."
        raise LaunchError(msg)
    return [(name, request.installed[name]) for name in names]


def _endpoints(launchers: Mapping[str, Launcher]) -> dict[str, str]:
    """``{sdk: endpoint}``: where each SDK's launcher registers (its ``endpoint``, if it says)."""
    return {
        sdk: str(getattr(launcher, "endpoint", "") or "") for sdk, launcher in launchers.items()
    }


def _deploy_one(launcher: Launcher, spec: DeploySpec, before: list[Deployed]) -> list[Deployed]:
    """One SDK's deploy; a failure says what earlier SDKs registered already."""
    try:
        return launcher.deploy(spec)
    except FlyteJupyterError as exc:
        if not before:
            raise
        done = ", ".join(f"{d.kind} {d.name}" for d in before)
        msg = f"{exc}\n(Registered before this failed, under version {spec.version}: {done}.)"
        raise LaunchError(msg) from exc


def _planned(serialized: Serialized, version: str) -> list[PlannedEntity]:
    out = []
    for item in sorted(serialized.files, key=lambda f: f.kind != "task"):  # as registered
        image, args = "", ()
        if item.kind == "task":
            container = item.container()
            image, args = str(container.image), tuple(container.args)
        out.append(PlannedEntity(item.kind, item.name, version, item.sdk, image, args))
    return out
