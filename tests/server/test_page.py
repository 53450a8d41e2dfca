"""The HTML run page: what it shows, and that nothing from a run can become markup."""

import re
import threading

import pytest
from server_helpers import EVIL, RUN_EVIL, RUN_LIVE, RUN_OK, RUN_REMOTE

from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.server import details

pytestmark = pytest.mark.usefixtures("runs")


def shown_text(html):
    """The page without its tags (the generated module is split into highlighting spans)."""
    return re.sub(r"<[^>]+>", "", html)


async def page(raw, run_id):
    response = await raw(f"flyte-jupyter/runs/{run_id}")
    assert response.code == 200, response.body[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    return response, response.body.decode()


async def test_page_shows_the_whole_run(raw):
    _, html = await page(raw, RUN_OK)
    for expected in (
        "SUCCEEDED",
        "nb_demo.square",
        "v0123456789abcdef",  # version
        "flytesnacks / development",
        "Timeline",
        "started",  # an event message
        "square says 49",  # the log
        "<code>x</code>",  # input name
        "<pre>49</pre>",  # output value
        "ab" * 32,  # bundle digest
        "nb_demo.py",
        "helpers/util.py",
        "def square(x: int) -&gt; int:",  # the generated module's source
        "pyflyte-fast-execute",  # the container command
        "s3://u:***@b/fast.tar.gz",  # its URL password redacted
        "FLYTE_INTERNAL_EXECUTION_ID",
        "PLAIN",
    ):
        assert expected in html or expected in shown_text(html), expected
    assert "hunter2" not in html
    assert "__pycache__" not in html
    assert 'data-done="1"' in html
    assert "id='fj-cancel'" not in html  # nothing to cancel


async def test_script_in_names_inputs_errors_and_logs_is_inert(raw):
    response, html = await page(raw, RUN_EVIL)
    assert EVIL not in html
    assert "<script" not in html.replace("<script nonce=", "", 1)
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 5
    assert "sk-secret" not in html  # input api_key
    # the page's one script runs under a per-response nonce that nothing else carries
    nonce = re.search(r"<script nonce='([^']+)'>", html).group(1)
    csp = response.headers["Content-Security-Policy"]
    assert f"script-src 'nonce-{nonce}'" in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'self'" in csp


async def test_page_shows_what_bundle_json_records(raw):
    _, html = await page(raw, RUN_EVIL)
    assert "Dropped statements" in html
    assert "side effect" in html
    assert "print(&#39;&lt;script&gt;" in html
    assert "<code>.env</code>" in html
    assert "looks like a secret" in html
    _, ok = await page(raw, RUN_OK)
    assert "Not recorded for this run" in ok


async def test_live_run_refreshes_and_can_be_cancelled(raw):
    _, html = await page(raw, RUN_LIVE)
    assert 'data-done="0"' in html
    assert 'data-poll="1.0"' in html
    assert f'data-logs-url="/a%40b/flyte-jupyter/api/runs/{RUN_LIVE}/logs"' in html
    assert "id='fj-cancel'" in html


async def test_remote_run_links_to_the_console(raw, home):
    _, html = await page(raw, RUN_REMOTE)
    assert "href='https://flyte.example.com/console/projects/flytesnacks/executions/x'" in html
    assert "Open in the Flyte console" in html
    assert "No log file for this run" in html
    RunStore(home / "runs.sqlite").update(RUN_REMOTE, url="javascript:alert(1)")
    _, html = await page(raw, RUN_REMOTE)
    assert "href='#'" in html
    assert "href='javascript" not in html


async def test_page_for_unknown_or_malformed_ids_is_a_404_without_traceback(raw):
    for bad in ("fnosuchrun0000000000", "..%2F..%2Fetc%2Fpasswd", "%3Cscript%3E", "f" * 21):
        response = await raw(f"flyte-jupyter/runs/{bad}")
        assert response.code == 404, bad
        body = response.body.decode()
        assert "Traceback" not in body
        assert "<script" not in body
        assert "No " in body


async def test_store_and_files_are_read_off_the_event_loop(raw, monkeypatch):
    threads = []
    for cls, name in ((RunStore, "get"), (RunStore, "list")):
        original = getattr(cls, name)

        def spy(*args, _original=original, **kwargs):
            threads.append(threading.current_thread())
            return _original(*args, **kwargs)

        monkeypatch.setattr(cls, name, spy)
    original_gather = details.gather
    monkeypatch.setattr(
        "flyte_jupyter.server.pages.gather",
        lambda *args: threads.append(threading.current_thread()) or original_gather(*args),
    )
    await raw("flyte-jupyter/api/runs")
    await raw(f"flyte-jupyter/api/runs/{RUN_OK}")
    await page(raw, RUN_OK)
    assert len(threads) >= 4
    assert threading.main_thread() not in threads


async def test_bundle_section_lists_the_archive_when_it_is_on_this_machine(raw, home):
    import io
    import tarfile

    work = home / "runs" / RUN_OK / "work"
    archive = work / ("fast" + "ab" * 32 + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("nb_demo.py", "def from_the_archive(): ...\n"), ("pkg/mod.py", "")):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    _, html = await page(raw, RUN_OK)
    assert f"the bundle archive {archive.name}" in html
    assert "pkg/mod.py" in html
    assert "def from_the_archive" in shown_text(html)
    assert "helpers/util.py" not in html  # extracted files are not the bundle's list
    archive.write_bytes(b"not a tarball")
    _, html = await page(raw, RUN_OK)
    assert "helpers/util.py" in html  # falls back to the working folder
    assert "the bundle archive" not in html
    assert f"<code>{archive.name}</code>" not in html


async def test_page_follows_the_theme_jupyterlab_names(raw):
    _, html = await page(raw, f"{RUN_OK}?theme=dark")
    assert "<html lang='en' data-theme='dark'>" in html
    _, html = await page(raw, f"{RUN_OK}?theme=%3Cscript%3E")
    assert "<html lang='en'>" in html
