"""One exception tree for flyte_jupyter.

Every error that reaches a user says what is wrong and what to do about it. The core raises
these; adapters translate them at their boundary (magics -> ``UsageError``, server handlers ->
``HTTPError``), never by matching on type names.

::

    FlyteJupyterError
    ├── SettingsError          a setting, option or config file is wrong
    ├── TargetError            a named task or workflow is not defined, or is not one
    ├── CaptureError           notebook code cannot become a module
    │   └── SelfCheckError     the generated module does not import in a fresh interpreter
    ├── BundleError            files cannot be selected or archived
    │   ├── IgnoredModuleError a module the targets need is excluded by an ignore rule
    │   ├── BundleTooLargeError
    │   ├── FileChangedError   a file vanished or changed while it was being bundled
    │   └── DamagedArchiveError a cached archive no longer has the bytes it was built with
    ├── StoreError             the bundle store (or its publish index) cannot be used
    │   └── IntegrityError     stored bytes do not match their recorded sha256
    ├── SerializationError     flytekit could not serialize an entity
    └── LaunchError            a run could not be started or followed
        ├── InputError         inputs do not match the entity's interface
        ├── CancelPendingError a cancel was asked for; its supervisor has not confirmed yet
        └── RunFailedError     a run ended FAILED or ABORTED (``.run`` is the Run)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BundleError",
    "BundleTooLargeError",
    "CancelPendingError",
    "CaptureError",
    "DamagedArchiveError",
    "FileChangedError",
    "FlyteJupyterError",
    "IgnoredModuleError",
    "InputError",
    "IntegrityError",
    "LaunchError",
    "RunFailedError",
    "SelfCheckError",
    "SerializationError",
    "SettingsError",
    "StoreError",
    "TargetError",
]


class FlyteJupyterError(Exception):
    """Base of every error flyte_jupyter raises on purpose."""


class SettingsError(FlyteJupyterError, ValueError):
    """A setting, option or configuration file is invalid."""


class TargetError(FlyteJupyterError, LookupError):
    """A task or workflow named to bundle, serialize or run is missing or is not one."""


class CaptureError(FlyteJupyterError):
    """Notebook code cannot be turned into an importable module."""


class SelfCheckError(CaptureError):
    """The generated module failed to import in a fresh interpreter."""


class BundleError(FlyteJupyterError):
    """Files cannot be selected or archived."""


class IgnoredModuleError(BundleError):
    """A module the launched entities need is excluded by an ignore rule."""


class BundleTooLargeError(BundleError):
    """The bundle is over the configured hard size limit."""


class FileChangedError(BundleError):
    """A file vanished or changed while it was being bundled."""


class DamagedArchiveError(BundleError):
    """A cached bundle archive no longer has the bytes recorded when it was built."""


class StoreError(FlyteJupyterError):
    """The bundle store cannot be reached, read or written, or its publish index cannot be used.

    The bundle store is where archives are published (the ``store`` setting); the run store
    (``runs.sqlite``) reports its failures as :class:`LaunchError`.
    """


class IntegrityError(StoreError):
    """Bytes in the bundle store do not match their recorded sha256."""


class SerializationError(FlyteJupyterError):
    """flytekit could not serialize an entity."""


class LaunchError(FlyteJupyterError):
    """A run could not be started, followed or read back."""


class InputError(LaunchError, TypeError):
    """Inputs do not match the entity's interface."""


class CancelPendingError(LaunchError):
    """A cancel was requested of a supervisor out of reach that has not confirmed it yet."""


class RunFailedError(LaunchError):
    """A run ended FAILED or ABORTED; ``run`` is its Run (logs, error, page), still usable.

    Raised by ``Run.wait(raise_on_failure=True)`` and so by ``%flyte_run --wait``, to stop a
    notebook run (Run All, nbconvert, papermill) at the cell whose run failed. IPython shows
    the message without a traceback of flyte_jupyter's own frames: the run's traceback,
    mapped to notebook cells, is in the message.
    """

    def __init__(self, message: str, run: Any) -> None:
        super().__init__(message)
        self.run = run

    def _render_traceback_(self) -> list[str]:
        # IPython's hook for exceptions that render themselves (InteractiveShell.showtraceback)
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]
