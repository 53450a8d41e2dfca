"""Notebook cells + local files -> a checked bundle: the one path every front end takes.

``%flyte_bundle``, ``%%flyte_run``, the panel and the server all call :func:`prepare_bundle`,
so they cannot disagree about what a bundle holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flyte_jupyter.bundle import BundleLimits, BundleRequest, make_bundle
from flyte_jupyter.bundle.selfcheck import self_check
from flyte_jupyter.capture import build_module
from flyte_jupyter.errors import BundleError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from flyte_jupyter.bundle import Bundle, CopyStyle
    from flyte_jupyter.capture import CellRecord


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


def prepare_bundle(
    job: BundleJob, *, progress: Callable[[int, int], None] | None = None
) -> Bundle | None:
    """Generate the module, bundle it with the local files, and self-check the result.

    Returns None for copy style ``none`` (the code must be in the image).

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
    request = BundleRequest(
        root_dir=job.root_dir,
        copy_style=job.copy_style,
        module=module,
        loaded_modules=job.loaded_modules,
        include=job.include,
        limits=job.limits,
    )
    bundle = make_bundle(request, cache_dir=job.cache_dir, progress=progress)
    self_check(bundle, module, cache_dir=job.cache_dir, loaded_modules=job.loaded_modules)
    return bundle
