"""A real JupyterLab (started here, on a free port) and headless Debian Chromium via Playwright.

The lab and every kernel it starts share a private FLYTE_JUPYTER_HOME, Jupyter runtime and
config folders, so runs launched from its notebooks land in a run store this module owns, and
their run URLs point at this server. Screenshots and the lab's log go to test-artifacts/browser/.
pytest-jupyter is not loaded here (only tests/server imports it), so Playwright's sync API has
no event loop to clash with.
"""

from __future__ import annotations

import pytest
from lab_helpers import ARTIFACTS
from lab_server import chromium, new_page, start_lab, stop_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lab = start_lab(
        tmp_path_factory.mktemp("lab"),
        ARTIFACTS / "jupyterlab.log",
        extra_args=("--FlyteJupyterApp.poll_interval=1",),
    )
    try:
        yield lab
    finally:
        stop_lab(lab)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with new_page(browser, 1400, 900, 30_000) as page:
        yield page
