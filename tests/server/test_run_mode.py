"""The run page says how a local run ran (warm worker or the pod command), and why not warm."""

import json

import pytest
from server_helpers import EVIL, make_record

from flyte_jupyter.launch.runstore import RunStore

WARM = "fwarm000000000000001"
EXACT = "fexact00000000000002"
FELL_BACK = "ffellback00000000003"
OLD = "fold0000000000000004"
REMOTE = "fremote0000000000005"
V2_EXACT = "fexactv2000000000006"
LIVE_WARM = "fwarmlive00000000007"
NOTE = (
    "the warm worker was unavailable (http://bob:pw-secret-1@host/x refused; "
    f"API_TOKEN=tok-secret-2 {EVIL}); ran the pod command"
)


@pytest.fixture(autouse=True)
def records(home):
    store = RunStore(home / "runs.sqlite")
    store.add(make_record(home, WARM, extra={"sdk": "flytekit", "run_mode": "warm"}))
    store.add(make_record(home, EXACT, extra={"sdk": "flytekit", "run_mode": "exact"}))
    store.add(make_record(home, FELL_BACK, extra={"run_mode": "exact", "run_mode_note": NOTE}))
    store.add(make_record(home, OLD))
    store.add(make_record(home, REMOTE, backend="remote", run_dir=None, log_path=None))
    store.add(make_record(home, V2_EXACT, extra={"sdk": "flyte", "run_mode": "exact"}))
    store.add(
        make_record(home, LIVE_WARM, status="RUNNING", outputs=None, extra={"run_mode": "warm"})
    )
    return store


async def page(raw, run_id):
    response = await raw(f"flyte-jupyter/runs/{run_id}")
    assert response.code == 200, response.body[:500]
    return response.body.decode()


async def test_a_warm_run_says_it_ran_in_the_warm_worker(raw):
    html = await page(raw, WARM)
    assert (
        "<tr><th>Ran</th><td>in the warm worker (the entrypoint&#39;s steps, in a child forked "
        "from a pre-imported interpreter)</td></tr>"
    ) in html
    live = await page(raw, LIVE_WARM)
    assert "<tr><th>Running</th><td>in the warm worker" in live


async def test_an_exact_run_names_the_pod_command_and_the_setting(raw):
    html = await page(raw, EXACT)
    assert (
        "<tr><th>Ran</th><td>as in a pod: pyflyte-fast-execute, then pyflyte-execute, each a "
        "fresh process (local_runs = &#34;exact&#34;)</td></tr>"
    ) in html
    v2 = await page(raw, V2_EXACT)
    assert "as in a pod: flyte&#39;s a0 entrypoint in a fresh process" in v2


async def test_a_fallback_shows_its_note_escaped_and_redacted(raw):
    html = await page(raw, FELL_BACK)
    assert "<tr><th>Ran</th><td>as in a pod: pyflyte-fast-execute" in html
    assert "local_runs = " not in html  # the setting asked for warm; the note says why not
    assert "<div class='fj-muted'>the warm worker was unavailable (" in html
    assert "http://bob:***@host/x" in html
    assert "API_TOKEN=***" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;); ran the pod command" in html
    for leaked in ("pw-secret-1", "tok-secret-2", EVIL):
        assert leaked not in html


@pytest.mark.parametrize("run_id", [OLD, REMOTE])
async def test_records_without_a_run_mode_show_no_row(raw, run_id):
    html = await page(raw, run_id)
    assert "<th>Ran</th>" not in html
    assert "warm worker" not in html


async def test_the_api_is_unchanged_and_leaks_no_note(jp_fetch):
    one = json.loads((await jp_fetch("flyte-jupyter", "api", "runs", FELL_BACK)).body)
    assert "run_mode" not in one
    assert "extra" not in one
    listed = (await jp_fetch("flyte-jupyter", "api", "runs")).body.decode()
    assert "pw-secret-1" not in listed
