"""The settable keys: one table that every source, the traits and the docs are built from.

Every source (pyproject, ``FLYTE_JUPYTER_*`` env vars, ``%config`` traits, the panel, magic
options) uses the same key names. The magics class builds its traitlets from
:data:`TRAIT_SPECS`, so the help text lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from flyte_jupyter.bundle.model import COPY_STYLES
from flyte_jupyter.settings.local_runs import LOCAL_RUNS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BACKENDS",
    "CONFIG_CEILING_ENV",
    "ENV_PREFIX",
    "FIELD_SPECS",
    "HOME_ENV",
    "TRAIT_SPECS",
    "Backend",
    "FieldKind",
    "FieldSpec",
    "TraitKind",
    "TraitSpec",
    "env_var_name",
]

Backend = Literal["local", "remote"]
BACKENDS: tuple[str, ...] = get_args(Backend)

ENV_PREFIX = "FLYTE_JUPYTER_"
"""Prefix of the variables read by :func:`resolve_settings`: ``FLYTE_JUPYTER_<KEY>``."""

CONFIG_CEILING_ENV = "FLYTE_JUPYTER_CONFIG_CEILING"
"""Folders (``os.pathsep``-separated) above which no ``pyproject.toml`` is searched."""

HOME_ENV = "FLYTE_JUPYTER_HOME"
"""Where flyte_jupyter keeps its state (default ``~/.flyte_jupyter``)."""

FieldKind = Literal[
    "str",
    "optional_str",
    "choice",
    "str_list",
    "optional_path",
    "path",
    "images",
    "str_map",
    "option_map",
    "size",
    "optional_int",
]

TraitKind = Literal["unicode", "enum", "list", "dict", "int"]

_TRAIT_KIND: dict[str, TraitKind] = {
    "str": "unicode",
    "optional_str": "unicode",
    "choice": "enum",
    "str_list": "list",
    "optional_path": "unicode",
    "path": "unicode",
    "images": "list",
    "str_map": "dict",
    "option_map": "dict",
    "size": "int",
    "optional_int": "int",
}


@dataclass(frozen=True)
class FieldSpec:
    """One settable key.

    Parameters
    ----------
    key
        The name used in every source (``[tool.flyte_jupyter] key``, ``FLYTE_JUPYTER_KEY``,
        ``%config FlyteJupyter.key``, the panel and ``options``).
    kind
        How raw values are coerced (see :mod:`flyte_jupyter.settings.coerce`).
    help
        One paragraph for ``%config`` help, ``%flyte_settings`` and the docs.
    default
        The default as users read it.
    choices
        Allowed values for ``kind="choice"``.
    option
        The magic option that sets it, e.g. ``--image``; ``None`` if no magic sets it.
    """

    key: str
    kind: FieldKind
    help: str
    default: str
    choices: tuple[str, ...] = ()
    option: str | None = None

    @property
    def env_var(self) -> str:
        """Name of the environment variable for this key."""
        return env_var_name(self.key)


def env_var_name(key: str) -> str:
    """Return the ``FLYTE_JUPYTER_<KEY>`` variable name for a settings key."""
    return ENV_PREFIX + key.upper()


_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "project",
        "str",
        "Flyte project to register and run in (a DNS-1123 label: lowercase letters, digits, '-').",
        "flytesnacks",
        option="--project",
    ),
    FieldSpec(
        "domain",
        "str",
        "Flyte domain to register and run in; must be one of `domains`.",
        "development",
        option="--domain",
    ),
    FieldSpec(
        "domains",
        "str_list",
        "Domains offered by the panel and accepted for `domain`.",
        "development, staging, production",
    ),
    FieldSpec(
        "version",
        "optional_str",
        "Version to register entities under; 'auto' (or unset) hashes the bundle digest and "
        "the serialization settings.",
        "auto",
        option="--version",
    ),
    FieldSpec(
        "copy_style",
        "choice",
        "What to ship: 'auto' (notebook module + local modules it uses), 'all' (every file "
        "under root_dir not ignored), 'none' (no bundle; needs an explicit version).",
        "auto",
        choices=COPY_STYLES,
        option="--copy-style",
    ),
    FieldSpec(
        "root_dir",
        "optional_path",
        "Folder whose files may be shipped.",
        "the notebook's folder",
        option="--root-dir",
    ),
    FieldSpec(
        "images",
        "images",
        "Container images: 'URI' sets the default image, 'NAME=URI' adds a named image that "
        "tasks use as '{{.image.NAME.fqn}}:{{.image.NAME.version}}'.",
        "flytekit's default image for the local Python",
        option="--image",
    ),
    FieldSpec(
        "env",
        "str_map",
        "Environment variables set in task containers (KEY=VALUE).",
        "none",
        option="--env",
    ),
    FieldSpec(
        "store",
        "optional_str",
        "fsspec URL of the bundle store, e.g. s3://bucket/prefix.",
        "a file:// bundle store, <home>/store",
    ),
    FieldSpec(
        "storage_options",
        "option_map",
        "fsspec options for the bundle store, e.g. endpoint_url.",
        "none (flytekit config storage settings when present)",
    ),
    FieldSpec(
        "backend",
        "choice",
        "Where runs execute: 'local' (embedded) or 'remote' (a Flyte cluster).",
        "local",
        choices=BACKENDS,
        option="--backend",
    ),
    FieldSpec(
        "config_file",
        "optional_path",
        "flytekit/flytectl config file.",
        "$FLYTECTL_CONFIG, ./flytekit.config, ~/.flyte/config, ~/.flyte/config.yaml",
    ),
    FieldSpec(
        "endpoint",
        "optional_str",
        "Flyte admin endpoint for the remote backend.",
        "from the flytekit config file",
    ),
    FieldSpec(
        "org",
        "optional_str",
        "Flyte organization of remote flyte v2 runs and deploys (task.org of the config file).",
        "from the config file's task.org; none",
    ),
    FieldSpec("home", "path", "Folder for flyte_jupyter's state.", "~/.flyte_jupyter"),
    FieldSpec(
        "bundle_warn_bytes",
        "size",
        "Warn when the uncompressed bundle is larger (bytes, or e.g. '100MiB').",
        "100MiB",
    ),
    FieldSpec(
        "bundle_max_bytes",
        "size",
        "Refuse bundles larger than this (bytes, or e.g. '1GiB').",
        "1GiB",
    ),
    FieldSpec(
        "include_secrets",
        "str_list",
        "gitignore-style patterns of secret-looking files (.env, *.pem, ...) to ship anyway.",
        "none",
    ),
    FieldSpec(
        "max_parallel_runs",
        "optional_int",
        "How many local runs may execute at once; 'auto' = number of CPU cores.",
        "auto",
    ),
    FieldSpec(
        "local_runs",
        "choice",
        "How the local backend runs tasks: 'warm' (the entrypoint's steps in a child forked "
        "from a pre-imported interpreter: quick to start) or 'exact' (the pod's command in "
        "fresh processes, e.g. pyflyte-fast-execute then pyflyte-execute, exactly as in a "
        "pod). The remote backend ignores it.",
        "warm",
        choices=LOCAL_RUNS,
        option="--local-runs",
    ),
    FieldSpec(
        "server_url",
        "optional_str",
        "Base URL of the Jupyter server, used to build links to run pages.",
        "relative links",
    ),
    FieldSpec(
        "module_name",
        "optional_str",
        "Name of the module generated from the notebook's cells.",
        "derived from the notebook's file name",
    ),
)

FIELD_SPECS: Mapping[str, FieldSpec] = MappingProxyType({f.key: f for f in _FIELDS})
"""Every settable key, in display order."""


class TraitSpec(NamedTuple):
    """How the magics class declares the ``%config FlyteJupyter.<key>`` trait of one key.

    ``default`` is always ``None``: an unset trait does not override lower layers. Declare the
    trait with ``allow_none=True``; for ``kind="enum"`` use ``choices``.
    """

    kind: TraitKind
    help: str
    default: None
    choices: tuple[str, ...] = ()


TRAIT_SPECS: Mapping[str, TraitSpec] = MappingProxyType(
    {
        f.key: TraitSpec(
            kind=_TRAIT_KIND[f.kind],
            help=f"{f.help} Default: {f.default}.",
            default=None,
            choices=f.choices,
        )
        for f in _FIELDS
    }
)
"""``key -> TraitSpec(kind, help, default, choices)`` for the ``FlyteJupyter`` traits."""
