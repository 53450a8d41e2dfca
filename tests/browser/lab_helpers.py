"""Helpers shared by the browser tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the whole window under test-artifacts/browser/."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
