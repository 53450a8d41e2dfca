"""The frozen :class:`Settings` and the checks every instance passes.

A ``Settings`` is valid by construction: ``__post_init__`` checks everything that needs no
file system (names, versions, choices, limits), and :func:`resolve_settings` /
:meth:`Settings.replace` add the checks that do (``root_dir`` is a folder, config files exist).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.model import COPY_STYLES, BundleLimits, CopyStyle
from flyte_jupyter.errors import SettingsError
from flyte_jupyter.redaction import redact
from flyte_jupyter.settings.fields import BACKENDS, Backend
from flyte_jupyter.settings.images import ImageRefs
from flyte_jupyter.settings.local_runs import LOCAL_RUNS, LocalRuns

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.settings.coerce import OptionValue

__all__ = ["DEFAULT_DOMAINS", "Settings", "check_name", "check_version"]

DEFAULT_DOMAINS: tuple[str, ...] = ("development", "staging", "production")

# flyteadmin validates project ids with Kubernetes' IsDNS1123Label; domains become part of
# the "<project>-<domain>" namespace, so the same rule keeps them usable.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL_MAX = 63
# Versions end up in identifiers, URLs and file names: no whitespace, '/', ':' or '@'.
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_VERSION_MAX = 128
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _default_home() -> Path:
    return Path("~/.flyte_jupyter").expanduser()


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a run needs to know besides the code, resolved once and never mutated.

    Build it with :func:`~flyte_jupyter.settings.resolve_settings`; derive variants with
    :meth:`replace`. ``provenance`` maps each key (``env.NAME``, ``images.NAME`` and
    ``storage_options.NAME`` for entries) to the source that set it; it takes no part in
    equality. The repr never shows secret values.
    """

    project: str = "flytesnacks"
    domain: str = "development"
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    version: str | None = None
    copy_style: CopyStyle = "auto"
    root_dir: Path | None = None
    images: ImageRefs = field(default_factory=ImageRefs)
    env: tuple[tuple[str, str], ...] = ()
    store: str | None = None
    storage_options: tuple[tuple[str, OptionValue], ...] = ()
    backend: Backend = "local"
    config_file: Path | None = None
    endpoint: str | None = None
    org: str | None = None
    home: Path = field(default_factory=_default_home)
    limits: BundleLimits = field(default_factory=BundleLimits)
    include_secrets: tuple[str, ...] = ()
    max_parallel_runs: int | None = None
    local_runs: LocalRuns = "warm"
    server_url: str | None = None
    module_name: str | None = None
    provenance: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", tuple(sorted(dict(self.env).items())))
        object.__setattr__(
            self, "storage_options", tuple(sorted(dict(self.storage_options).items()))
        )
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        for domain in self.domains:
            check_name("domains", domain, self._source("domains"), kind="domain")
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise SettingsError(
                f"domains must list each domain once, got {list(self.domains)} "
                f"({self._source('domains')})."
            )
        check_name("project", self.project, self._source("project"), kind="project")
        check_name("domain", self.domain, self._source("domain"), kind="domain")
        if self.domain not in self.domains:
            raise SettingsError(
                f"domain {self.domain!r} ({self._source('domain')}) is not one of the "
                f"domains {', '.join(self.domains)}. Pick one of them, or add it to domains."
            )
        if self.version is not None:
            check_version(self.version, self._source("version"))
        self._check_choices()
        self._check_numbers()

    def _source(self, key: str) -> str:
        return f"from {self.provenance.get(key, 'default')}"

    def _check_choices(self) -> None:
        if self.copy_style not in COPY_STYLES:
            raise SettingsError(
                f"copy_style {self.copy_style!r} is not one of {', '.join(COPY_STYLES)}."
            )
        if self.backend not in BACKENDS:
            raise SettingsError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}.")
        if self.local_runs not in LOCAL_RUNS:
            raise SettingsError(
                f"local_runs {self.local_runs!r} ({self._source('local_runs')}) is not one of "
                f"{', '.join(LOCAL_RUNS)}."
            )
        if self.module_name is not None and not _MODULE.fullmatch(self.module_name):
            raise SettingsError(
                f"module_name {self.module_name!r} ({self._source('module_name')}) is not a "
                "Python module name; use letters, digits and '_' (dots between parts)."
            )

    def require_version(self) -> str:
        """The explicit version; with copy style ``none`` one is required.

        Checked where a version is needed (serializing, launching), not when settings are
        resolved: previewing a bundle needs none.
        """
        if self.version is None:
            raise SettingsError(
                f"copy style 'none' ({self._source('copy_style')}) ships no bundle, so there "
                "is no digest to derive a version from. Give an explicit version "
                "(--version v1, or version = ... in [tool.flyte_jupyter]) that names the "
                "image holding the code."
            )
        return self.version

    def _check_numbers(self) -> None:
        warn, hard = self.limits.warn_bytes, self.limits.max_bytes
        if not 0 <= warn <= hard:
            raise SettingsError(
                f"bundle_warn_bytes ({warn}, {self._source('bundle_warn_bytes')}) must be at "
                f"most bundle_max_bytes ({hard}, {self._source('bundle_max_bytes')})."
            )
        if self.max_parallel_runs is not None and self.max_parallel_runs < 1:
            raise SettingsError(
                f"max_parallel_runs must be at least 1, got {self.max_parallel_runs}."
            )

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name in {"env", "storage_options"}:
                shown = "{" + ", ".join(f"{k!r}: {redact(k, v)!r}" for k, v in value) + "}"
            elif isinstance(value, str):
                shown = repr(redact(f.name, value))
            else:
                shown = repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def env_dict(self) -> dict[str, str]:
        """``env`` as a new dict."""
        return dict(self.env)

    @property
    def storage_options_dict(self) -> dict[str, OptionValue]:
        """``storage_options`` as a new dict, e.g. for ``fsspec.url_to_fs(store, **options)``."""
        return dict(self.storage_options)


def check_name(key: str, value: str, source: str, *, kind: str) -> None:
    """Raise unless ``value`` is a DNS-1123 label, as flyteadmin requires for project ids."""
    if len(value) > _DNS_LABEL_MAX or not _DNS_LABEL.fullmatch(value):
        raise SettingsError(
            f"{key} {value!r} ({source}) is not a valid Flyte {kind}: use at most "
            f"{_DNS_LABEL_MAX} lowercase letters, digits and '-', starting and ending with a "
            f"letter or digit (e.g. {_suggest(value, kind)!r})."
        )


def _suggest(value: str, kind: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:_DNS_LABEL_MAX] or f"my-{kind}"


def check_version(value: str, source: str) -> None:
    """Raise unless ``value`` is usable as a Flyte entity version."""
    if len(value) > _VERSION_MAX or not _VERSION.fullmatch(value):
        raise SettingsError(
            f"version {value!r} ({source}) is not a valid version: use at most {_VERSION_MAX} "
            "letters, digits, '.', '_' and '-', with no spaces, '/', ':' or '@' "
            "(e.g. v1.2.0 or a git sha), or 'auto'."
        )
