"""Fixtures for the settings tests: an isolated home, notebook folder and environment."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from flyte_jupyter.settings import activate, resolve_settings

if TYPE_CHECKING:
    from pathlib import Path

    from flyte_jupyter.settings import Settings


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


@pytest.fixture
def nb_dir(project_dir: Path) -> Path:
    path = project_dir / "notebooks"
    path.mkdir()
    return path


@pytest.fixture
def environ(home: Path, tmp_path: Path) -> dict[str, str]:
    """A clean environment: no flytekit config, pyproject search stops at tmp_path."""
    return {"HOME": str(home), "FLYTE_JUPYTER_CONFIG_CEILING": str(tmp_path)}


@pytest.fixture
def resolve(nb_dir: Path, environ: dict[str, str]):
    def _resolve(**layers: Any) -> Settings:
        return resolve_settings(start_dir=nb_dir, environ=environ, **layers)

    return _resolve


@pytest.fixture
def write():
    def _write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture(autouse=True)
def _no_active_settings():
    previous = activate(None)
    yield
    activate(previous)
