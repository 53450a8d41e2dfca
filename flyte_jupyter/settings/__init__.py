"""Settings: one frozen :class:`Settings`, resolved once from every source.

# Sources, lowest to highest precedence

1. **Defaults** — project ``flytesnacks``, domain ``development`` (of ``development``,
   ``staging``, ``production``), version ``auto``, copy style ``auto``, ``root_dir`` = the
   notebook's folder, flytekit's default image for the local Python, backend ``local``,
   local runs ``warm``.
2. **flytekit config file** — found like flytekit's ``Config.auto()`` does: ``config_file``
   if a higher source sets it, else ``$FLYTECTL_CONFIG``, ``flytekit.config`` in the
   notebook's folder, ``~/.flyte/config``, ``~/.flyte/config.yaml``. Gives ``task.project``,
   ``task.domain`` (pyflyte's ``FLYTE_DEFAULT_PROJECT``/``FLYTE_DEFAULT_DOMAIN`` win over the
   file), the ``images`` section, the admin endpoint and S3 storage options; flytekit's
   ``FLYTE_<SECTION>_<OPTION>`` variables override the file as in flytekit.
3. **pyproject.toml** — the ``[tool.flyte_jupyter]`` table of the nearest ``pyproject.toml``
   at or above the notebook's folder, up to ``$FLYTE_JUPYTER_CONFIG_CEILING`` or the home
   folder. Relative paths are relative to that file.
4. **Environment** — ``FLYTE_JUPYTER_<KEY>`` (e.g. ``FLYTE_JUPYTER_PROJECT``), read when
   settings are resolved, never at import.
5. **Traits** — ``%config FlyteJupyter.<key> = value`` (help text on each trait).
6. **Panel** — values edited in the ``%flyte_panel`` widget.
7. **Magic options** — per call: ``--project``, ``--domain``, ``--image``, ``--env``, ...

Scalars: the highest source wins. ``images``, ``env`` and ``storage_options`` merge by
name across sources. ``Settings.provenance`` records the source of every key and entry, and
:func:`describe` shows it (``%flyte_settings``). Secret-looking values (``*TOKEN*``,
``*SECRET*``, ``*KEY*``, ``*PASSWORD*``, ...) never appear in reprs, logs or ``describe``.

# Contract

Every key, its kind and help text is in :data:`FIELD_SPECS`; the magics build their traits
from :data:`TRAIT_SPECS`. Core code takes a ``Settings`` and never reads the environment or
traits. Importing this package imports neither flytekit nor IPython: flytekit is imported
when settings are resolved or serialized.
"""

from __future__ import annotations

from flyte_jupyter.settings.context import activate, activated, active_settings, current_domain
from flyte_jupyter.settings.fields import (
    BACKENDS,
    ENV_PREFIX,
    FIELD_SPECS,
    TRAIT_SPECS,
    Backend,
    FieldSpec,
    TraitSpec,
)
from flyte_jupyter.settings.images import (
    ImageRefs,
    check_image_refs,
    find_image,
    image_config,
    parse_image_spec,
    parse_image_specs,
)
from flyte_jupyter.settings.local_runs import (
    LOCAL_RUNS,
    RUN_MODE,
    RUN_MODE_NOTE,
    LocalRuns,
    RunMode,
    run_mode,
)
from flyte_jupyter.settings.model import DEFAULT_DOMAINS, Settings
from flyte_jupyter.settings.report import describe, describe_text
from flyte_jupyter.settings.resolve import replace_settings, resolve_settings
from flyte_jupyter.settings.serialization import (
    serialization_settings,
    serialization_settings_for_bundle,
)
from flyte_jupyter.settings.version import auto_version, effective_version

__all__ = [
    "BACKENDS",
    "DEFAULT_DOMAINS",
    "ENV_PREFIX",
    "FIELD_SPECS",
    "LOCAL_RUNS",
    "RUN_MODE",
    "RUN_MODE_NOTE",
    "TRAIT_SPECS",
    "Backend",
    "FieldSpec",
    "ImageRefs",
    "LocalRuns",
    "RunMode",
    "Settings",
    "TraitSpec",
    "activate",
    "activated",
    "active_settings",
    "auto_version",
    "check_image_refs",
    "current_domain",
    "describe",
    "describe_text",
    "effective_version",
    "find_image",
    "image_config",
    "parse_image_spec",
    "parse_image_specs",
    "replace_settings",
    "resolve_settings",
    "run_mode",
    "serialization_settings",
    "serialization_settings_for_bundle",
]
