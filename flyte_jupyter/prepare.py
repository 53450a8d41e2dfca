"""Notebook cells + local files -> a checked, published bundle: the one path every front end takes.

Application layer. ``%flyte_bundle``, ``%flyte_serialize``, ``%%flyte_run`` and the panel (all
through the kernel session, and :func:`flyte_jupyter.submit.launch`) call
:func:`prepare_bundle` and :func:`publish_bundle`, so they cannot disagree about what a bundle
holds or where it goes. The store is chosen here (:func:`store_for`): an fsspec bundle store, or
a Flyte cluster's data proxy.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter._private import secure_home
from flyte_jupyter.bundle import BundleLimits, BundleRequest, make_bundle
from flyte_jupyter.bundle.model import PrivateDir
from flyte_jupyter.bundle.selfcheck import self_check
from flyte_jupyter.capture import build_module, module_name_for
from flyte_jupyter.errors import BundleError, DamagedArchiveError
from flyte_jupyter.redaction import Redactor, secret_values

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.bundle import Bundle, CopyStyle
    from flyte_jupyter.capture import CellRecord
    from flyte_jupyter.progress import Progress
    from flyte_jupyter.serialize.api import Serialized
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.store import BundleStore
    from flyte_jupyter.store.dataproxy import DataProxyStore


@dataclass(frozen=True)
class BundleJob:
    """What to bundle, as the adapter found it in the kernel.

    Parameters
    ----------
    cells
        Recorded cells (latest version of each).
    targets
        Names of the tasks/workflows to ship.
    notebook_defined
        Those of ``targets`` whose code lives in notebook cells (not in an importable module).
    module_name
        Name of the generated module.
    root_dir, copy_style, include, limits
        See :class:`~flyte_jupyter.bundle.BundleRequest`.
    loaded_modules
        ``{name: file}`` of the kernel's ``sys.modules``.
    cache_dir
        Where archives, the stat cache and self-check results are kept.
    environ
        The environment a run starts from: the kernel's environment when the extension was
        loaded, so a later ``%env`` (which the run does not see) cannot make the self-check
        pass where the run would fail. None: this process's environment.
    home, store_dir
        flyte_jupyter's home and the folder of a local bundle store: neither ever ships,
        or each bundle would carry the archives of the ones before.
    secrets
        Secret values known to the kernel (see :func:`flyte_jupyter.redaction.secret_values`),
        hidden wherever the bundle's dropped statements show them.
    context
        The run's ``(project, domain)``, for the self-check of a module whose top level needs
        them (flyte v2's ``flyte.current_domain()``).
    """

    cells: tuple[CellRecord, ...]
    targets: tuple[str, ...]
    notebook_defined: tuple[str, ...]
    module_name: str
    root_dir: Path
    copy_style: CopyStyle
    cache_dir: Path
    loaded_modules: Mapping[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    limits: BundleLimits = field(default_factory=BundleLimits)
    environ: Mapping[str, str] | None = None
    home: Path | None = None
    store_dir: Path | None = None
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    context: tuple[str, str] | None = None


def prepare_bundle(job: BundleJob, *, progress: Progress | None = None) -> Bundle | None:
    """Generate the module, bundle it with the local files, and self-check the result.

    Returns None for copy style ``none`` (the code must be in the image). ``progress`` is told
    the ``bundle`` phase while an archive is written; nothing when the cached one is used.

    Raises
    ------
    BundleError
        Copy style ``none`` with entities defined in the notebook, or a bundling error.
    CaptureError
        The notebook code cannot become a module (see :mod:`flyte_jupyter.capture`).
    """
    if job.copy_style == "none":
        if job.notebook_defined:
            names = ", ".join(job.notebook_defined)
            msg = (
                f"copy style 'none' ships no code, but {names} "
                f"{'is' if len(job.notebook_defined) == 1 else 'are'} defined in the notebook. "
                "Use --copy-style auto, or move the code into a module installed in the image."
            )
            raise BundleError(msg)
        return None
    module = build_module(job.cells, job.targets, job.module_name)
    if job.home is not None:  # archives and caches go there: a private folder
        secure_home(job.home)
    request = BundleRequest(
        root_dir=job.root_dir,
        copy_style=job.copy_style,
        module=module,
        loaded_modules=job.loaded_modules,
        include=job.include,
        limits=job.limits,
        private_dirs=_private_dirs(job),
    )
    bundle = make_bundle(request, cache_dir=job.cache_dir, progress=progress)
    if job.secrets and bundle.dropped:  # magics and shell escapes may carry a secret's value
        redactor = Redactor(job.secrets)
        dropped = tuple(dataclasses.replace(d, code=redactor.text(d.code)) for d in bundle.dropped)
        bundle = dataclasses.replace(bundle, dropped=dropped)
    self_check(
        bundle,
        module,
        cache_dir=job.cache_dir,
        loaded_modules=job.loaded_modules,
        environ=job.environ,
        context=job.context,
    )
    return bundle


def run_environ(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a run starts from: the start-up environment plus the settings' env.

    ``environ`` is the kernel's start-up environment (None: this process's).
    """
    return {**(os.environ if environ is None else environ), **settings.env_dict}


def job_for(
    settings: Settings,
    *,
    cells: tuple[CellRecord, ...],
    targets: tuple[str, ...],
    notebook_defined: tuple[str, ...],
    notebook: str | None,
    loaded_modules: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> BundleJob:
    """The bundle job that ``settings`` describe for these cells and targets."""
    if settings.root_dir is None:  # pragma: no cover - resolve_settings always fills it
        msg = "root_dir is not set"
        raise BundleError(msg)
    return BundleJob(
        cells=cells,
        targets=targets,
        notebook_defined=notebook_defined,
        module_name=settings.module_name or module_name_for(notebook),
        root_dir=settings.root_dir,
        copy_style=settings.copy_style,
        cache_dir=settings.home / "cache",
        loaded_modules=loaded_modules,
        include=settings.include_secrets,
        limits=settings.limits,
        home=settings.home,
        store_dir=_local_store_dir(settings.store),
        environ=run_environ(settings, environ),
        context=(settings.project, settings.domain),
        # what %env set since start-up is secret too, though the run does not see it
        secrets=frozenset(
            secret_values(
                os.environ, environ or {}, settings.env_dict, settings.storage_options_dict
            )
        ),
    )


def _private_dirs(job: BundleJob) -> tuple[PrivateDir, ...]:
    home = [PrivateDir.home(job.home)] if job.home else []
    store = [PrivateDir.store(job.store_dir)] if job.store_dir else []
    return (*home, *store)


def _local_store_dir(url: str | None) -> Path | None:
    """The folder of a local store URL (bare path or ``file://``), None for remote stores."""
    if not url or url == "flyte":
        return None
    from flyte_jupyter.store.fsspec_store import normalize_url

    scheme, _, rest = normalize_url(url).partition("://")
    return Path(rest) if scheme in ("file", "local") else None


def store_for(settings: Settings, sdk: str = "flytekit") -> BundleStore | DataProxyStore:
    """Where the settings send bundles: a bucket store, or a Flyte cluster's data proxy.

    ``store = "flyte"`` sends archives through the data proxy of the configured cluster: the
    one ``sdk``'s entities run on (flytekit's admin, or a flyte v2 control plane).
    """
    from flyte_jupyter.store.dataproxy import FLYTE_STORE, DataProxyStore

    if settings.store == FLYTE_STORE:
        from flyte_jupyter.launch.backends import launcher_for
        from flyte_jupyter.store.index import PublishIndex

        launcher: Any = launcher_for(dataclasses.replace(settings, backend="remote"), sdk)
        secure_home(settings.home)  # the publish index lives there
        place = f"{launcher.endpoint} {settings.org or ''}/{settings.project}/{settings.domain}"
        return DataProxyStore(
            launcher.upload_file, index=PublishIndex(settings.home / "index.sqlite"), place=place
        )
    return bucket_store_for(settings)


def bucket_store_for(settings: Settings) -> BundleStore:
    """The fsspec bundle store the settings name (default: a folder under ``home``).

    Not for ``store = "flyte"``: callers check that first (see :func:`store_for`).
    """
    from flyte_jupyter.store import default_store_url, open_store

    secure_home(settings.home)  # the store's index (and the default store) live there
    url = settings.store or default_store_url(settings.home)
    options = settings.storage_options_dict if url.startswith("s3") else {}
    return open_store(url, home=settings.home, storage_options=options)


def would_be_uri(settings: Settings, digest: str) -> str:
    """The URI the bundle of ``digest`` has (or would get) in the configured store.

    Computed, not asked: nothing is uploaded and no store is contacted (previews, dry runs).
    """
    from flyte_jupyter.bundle.model import archive_name
    from flyte_jupyter.store.dataproxy import FLYTE_STORE

    if settings.store == FLYTE_STORE:  # the data proxy picks the location at upload
        return f"<Flyte data proxy upload location>/{archive_name(digest)}"
    return bucket_store_for(settings).uri_for(digest)


def publish_bundle(
    bundle: Bundle,
    settings: Settings,
    *,
    progress: Progress | None = None,
    verify: bool = True,
    sdk: str = "flytekit",
) -> Bundle:
    """Put the archive in the store (unless it is there already); return it with its URI.

    The store is asked every time (``verify``; one existence check), so an object deleted
    behind the index is uploaded again rather than reported as reused. The archive is sent
    only while it has the bytes it was built with; an object found in the store without a
    recent check of its bytes is hashed, and replaced when it holds other bytes. The bundle
    returned carries the sha256 of the stored object: what a run must execute.

    With store ``flyte`` the archive goes through the data proxy of the configured Flyte
    cluster, as ``pyflyte register`` uploads its package: the cluster ``sdk``'s entities run
    on (``FlyteRemote.upload_file``, or ``CreateUploadLocation`` of a flyte v2 control plane).

    ``progress`` is told the ``upload`` phase while bytes are sent; nothing on reuse.

    Raises
    ------
    DamagedArchiveError
        The cached archive was damaged since it was built; it was deleted, nothing was sent.
        Building the bundle again rebuilds it.
    """
    try:
        published = store_for(settings, sdk).publish(
            bundle.path,
            bundle.digest,
            progress=progress,
            verify=verify,
            expected_sha256=bundle.sha256,
        )
    except DamagedArchiveError:
        from flyte_jupyter.bundle.archives import discard

        discard(bundle.path)  # never published; the next build writes it again
        raise
    return dataclasses.replace(
        bundle, uri=published.uri, reused=published.reused, sha256=published.sha256
    )


def prepare_and_publish(
    job: BundleJob,
    settings: Settings,
    *,
    progress: Progress | None = None,
    sdk: str = "flytekit",
) -> Bundle | None:
    """:func:`prepare_bundle`, then :func:`publish_bundle`; a damaged cached archive is rebuilt.

    Returns None for copy style ``none``. ``sdk``: see :func:`publish_bundle`.
    """
    bundle = prepare_bundle(job, progress=progress)
    if bundle is None:
        return None
    try:
        return publish_bundle(bundle, settings, progress=progress, sdk=sdk)
    except DamagedArchiveError:
        # deleted by publish_bundle: building again writes a sound archive
        rebuilt = prepare_bundle(job, progress=progress)
        assert rebuilt is not None  # noqa: S101 - same job, same copy style
        return publish_bundle(rebuilt, settings, progress=progress, sdk=sdk)


def serialize_for(
    bundle: Bundle | None,
    targets: list[tuple[str, str]],
    settings: Settings,
    *,
    sdk: str = "flytekit",
    environ: Mapping[str, str] | None = None,
) -> Serialized:
    """Serialize ``(name, module)`` targets of a published bundle (None: installed code).

    Every target is an entity of ``sdk`` (``flytekit`` or ``flyte``), serialized by it.
    ``environ`` is the environment runs start from (a bundle job's ``environ``).
    """
    from flyte_jupyter.serialize.api import serialize_bundle
    from flyte_jupyter.settings import serialization_settings_for_bundle
    from flyte_jupyter.settings.serialization import flyte_v2_settings

    if sdk == "flyte":
        settings_json = flyte_v2_settings(settings, bundle)
    else:
        settings_json = serialization_settings_for_bundle(settings, bundle).to_json()
    return serialize_bundle(
        bundle, targets, settings_json, cache_dir=settings.home / "cache", sdk=sdk, environ=environ
    )
