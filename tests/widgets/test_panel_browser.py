"""The panel in a real JupyterLab in headless Chromium: pick a domain and images, run a task.

Screenshots go to test-artifacts/ (panel.png is the Run tab after the run succeeded).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_server import (
    chromium,
    new_page,
    open_notebook_with_panel,
    start_lab,
    stop_lab,
)

from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SPARK = "ghcr.io/org/spark:3.5"
CELLS = [
    "%load_ext flyte_jupyter",
    """from flytekit import task

@task
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x""",
    "%flyte_panel",
]


# pytest-jupyter (if active) runs an asyncio loop that Playwright's sync API cannot share
@pytest.fixture
def jp_asyncio_loop():
    return None


@pytest.fixture
def jp_server_cleanup():
    return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab(tmp_path_factory.mktemp("panel-lab"), ARTIFACTS / "panel-jupyterlab.log")
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
    with new_page(browser, 1280, 1000, 60_000) as page:
        yield page


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def tab(panel, title):
    panel.locator(".lm-TabBar-tab", has_text=title).first.click()


def field(panel, kind, label):
    """The input of a stock ipywidget by its description label."""
    return panel.locator(f".widget-{kind}:visible:has(> label:text-is('{label}'))").first


@pytest.fixture
def failure_shot(page, request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot(page, "panel-failed.png")


@pytest.mark.usefixtures("failure_shot")
def test_pick_domain_and_images_then_run_a_task_from_the_panel(page, lab):
    panel = open_notebook_with_panel(page, lab, "panel.ipynb", CELLS)
    choose_domain(panel)
    image = choose_images(page, panel)
    check_serialization(panel, image)
    href = run_square(page, panel)
    check_runs(lab, page, panel, href)


def choose_domain(panel):
    """Target: the configured domains are offered; pick one."""
    domain = field(panel, "dropdown", "Domain").locator("select")
    options = domain.evaluate("select => [...select.options].map(option => option.label)")
    assert options == ["development", "staging", "production"]
    domain.select_option("staging")
    panel.locator(".widget-html", has_text="from panel").first.wait_for()


def choose_images(page, panel):
    """Images: pick a known image as the default and add a named ref; return the default."""
    tab(panel, "Images")
    default_row = panel.locator(".flyte-jupyter-image-default")
    known = default_row.locator(".widget-dropdown select")
    labels = known.evaluate("select => [...select.options].map(option => option.label)")
    labels = [label.replace("\xa0", " ") for label in labels]  # ipywidgets keeps spaces
    index = next(i for i, label in enumerate(labels) if "flytekit default (py3.12)" in label)
    known.select_option(index=index)
    image = labels[index].rsplit(" — ", 1)[1]
    default_uri = default_row.locator(".widget-text:has(> label:text-is('URI')) input")
    expect(default_uri).to_have_value(image)  # the kernel filled it in
    panel.locator("button", has_text="Add image ref").click()
    rows = panel.locator(".flyte-jupyter-image-row")
    expect(rows).to_have_count(2)  # the kernel added the row
    new_row = rows.nth(1)
    for placeholder, value in (("name, e.g. spark", "spark"), ("registry/image:tag", SPARK)):
        box = new_row.locator(f"input[placeholder='{placeholder}']")
        box.fill(value)
        box.press("Enter")
    new_row.locator(".widget-html", has_text="from panel").wait_for()
    shot(page, "panel-images.png")
    return image


def check_serialization(panel, image):
    """Serialization: the chosen image is what the task would be serialized with."""
    tab(panel, "Serialization")
    command_view = panel.locator("pre.flyte-jupyter-command")
    command_view.wait_for(timeout=120_000)
    assert "task-module nb_panel task-name square" in command_view.inner_text()
    tables = panel.locator(".flyte-jupyter-serialization")
    assert f"image_config.images[spark]\t{SPARK}" in tables.first.inner_text()
    assert image in tables.nth(1).inner_text()
    shot(panel.page, "panel-serialization.png")


def run_square(page, panel):
    """Run: fill the generated form, press Run, see SUCCEEDED and the link."""
    tab(panel, "Run")
    x = field(panel, "text", "x").locator("input")
    x.fill("7")
    x.press("Enter")
    panel.locator("button.widget-button", has_text="Run").first.click()
    status = panel.locator(".flyte-jupyter-run")
    status.filter(has_text="SUCCEEDED").wait_for(timeout=180_000)
    href = status.locator("a").first.get_attribute("href")
    # server-relative: it works from whatever host or proxy the browser reached the lab by
    assert href.startswith("/flyte-jupyter/runs/f")
    page.wait_for_timeout(300)
    shot(page, "panel.png")
    return href


def check_runs(lab, page, panel, href):
    """Runs: the notebook's runs with status and link; the link is this lab's run page."""
    tab(panel, "Runs")
    row = panel.locator("tr.flyte-jupyter-run-row[data-status='SUCCEEDED']")
    row.wait_for()
    assert "nb_panel.square" in row.inner_text()
    assert "staging" in row.inner_text()
    assert row.locator("a").get_attribute("href") == href
    shot(page, "panel-runs.png")

    (record,) = RunStore(lab.home / "runs.sqlite").list()
    assert (record.status, record.domain, record.outputs) == ("SUCCEEDED", "staging", {"o0": "49"})
    assert href == f"/flyte-jupyter/runs/{record.id}"
    run_page = page.context.new_page()
    run_page.goto(f"{lab.url}{href.lstrip('/')}")
    run_page.locator("body", has_text="SUCCEEDED").wait_for()
    run_page.close()
