"""The runs API over a run store filled with RunStore.add."""

import asyncio
import json
import signal
import time

import pytest
from server_helpers import RUN_EVIL, RUN_LIVE, RUN_OK, RUN_REMOTE, make_record
from tornado.httpclient import HTTPClientError

from flyte_jupyter.launch.liveness import start_time
from flyte_jupyter.launch.runstore import RunStore

pytestmark = pytest.mark.usefixtures("runs")


async def get_json(jp_fetch, *parts, **params):
    response = await jp_fetch(*parts, params=params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error_of(jp_fetch, *parts, method="GET", **params):
    kwargs = {"body": b""} if method == "POST" else {}
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, params=params, method=method, **kwargs)
    body = json.loads(info.value.response.body)
    assert "Traceback" not in info.value.response.body.decode()
    return info.value.code, body["message"]


async def test_list_is_newest_first_with_api_fields(jp_fetch):
    body = await get_json(jp_fetch, "flyte-jupyter", "api", "runs")
    ids = [run["id"] for run in body["runs"]]
    assert ids == [RUN_REMOTE, RUN_EVIL, RUN_LIVE, RUN_OK]
    assert body["next_offset"] is None
    ok = body["runs"][-1]
    assert ok["status"] == "SUCCEEDED"
    assert ok["done"] is True
    assert ok["page_url"] == f"/a%40b/flyte-jupyter/runs/{RUN_OK}"
    assert ok["outputs"] == {"o0": "49"}
    assert ok["bundle_digest"] == "ab" * 32
    assert "run_dir" not in ok
    assert "log_path" not in ok
    assert "extra" not in ok


async def test_list_filters_and_pages(jp_fetch):
    by_status = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", status="RUNNING")
    assert [r["id"] for r in by_status["runs"]] == [RUN_REMOTE, RUN_LIVE]
    by_entity = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", entity="cube")
    assert [r["id"] for r in by_entity["runs"]] == [RUN_LIVE]
    by_notebook = await get_json(
        jp_fetch, "flyte-jupyter", "api", "runs", notebook="/work/demo.ipynb"
    )
    assert RUN_EVIL not in [r["id"] for r in by_notebook["runs"]]
    first = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", limit="3")
    assert len(first["runs"]) == 3
    assert first["next_offset"] == 3
    second = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", limit="3", offset="3")
    assert [r["id"] for r in second["runs"]] == [RUN_OK]
    assert second["next_offset"] is None


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"status": "DONE"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
async def test_bad_list_arguments_are_400_json(jp_fetch, params, word):
    code, message = await error_of(jp_fetch, "flyte-jupyter", "api", "runs", **params)
    assert code == 400
    assert word in message


async def test_one_run_has_its_timeline_and_redacted_inputs(jp_fetch):
    ok = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", RUN_OK)
    assert [e["status"] for e in ok["events"]] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert [e["message"] for e in ok["events"]] == ["submitted", "started", "done"]
    evil = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", RUN_EVIL)
    assert evil["inputs"]["api_key"] == "***"
    assert evil["error"].startswith("ValueError")
    assert [e["status"] for e in evil["events"]] == ["RUNNING", "FAILED"]


BAD_IDS = (
    "fnosuchrun0000000000",  # well formed, unknown
    "f123",  # too short
    "FSUCCEEDED0000000001",  # upper case
    "..%2F..%2Fruns.sqlite",  # traversal, encoded
    "%2e%2e",
    "fsucceeded0000000001%00",
    "fsucceeded0000000001.json",
    "%25s%25s%25s",  # '%s%s%s': must not upset %-formatted log messages
)


@pytest.mark.parametrize("suffix", ["", "/logs", "/cancel"])
async def test_unknown_and_malformed_ids_are_404_json(raw, suffix):
    method = "POST" if suffix == "/cancel" else "GET"
    for bad in BAD_IDS:
        response = await raw(f"flyte-jupyter/api/runs/{bad}{suffix}", method=method)
        assert response.code == 404, bad
        message = json.loads(response.body)["message"]
        assert message.startswith("No "), bad
        assert "%" not in message


@pytest.mark.parametrize(
    "path",
    [
        "flyte-jupyter/api/runs/../../../etc/passwd",
        "flyte-jupyter/api/runs/a/b/c",
        "flyte-jupyter/api/nothing",
        "flyte-jupyter/api",
    ],
)
async def test_other_api_paths_are_404_json(raw, path):
    response = await raw(path)
    assert response.code == 404
    assert json.loads(response.body)["message"]


async def test_logs_tail_and_follow_by_offset(jp_fetch, home):
    path = "flyte-jupyter", "api", "runs", RUN_OK, "logs"
    whole = await get_json(jp_fetch, *path)
    assert whole["text"] == "line one\nline two\nsquare says 49\n"
    assert whole["offset"] == whole["size"] == len(whole["text"])
    assert whole["done"] is True
    tail = await get_json(jp_fetch, *path, tail="1")
    assert tail["text"] == "square says 49\n"
    assert tail["offset"] == whole["size"]
    log = home / "runs" / RUN_OK / "run.log"
    with log.open("ab") as handle:
        handle.write("h\u00e9llo \u2603\n".encode()[:-3])  # cut inside the snowman
    follow = await get_json(jp_fetch, *path, offset=str(whole["offset"]))
    assert follow["text"] == "h\u00e9llo "
    with log.open("ab") as handle:
        handle.write("\u2603\n".encode()[1:])
    rest = await get_json(jp_fetch, *path, offset=str(follow["offset"]))
    assert rest["text"] == "\u2603\n"
    assert rest["more"] is False
    code, _ = await error_of(jp_fetch, *path, tail="1", offset="0")
    assert code == 400


async def test_logs_of_a_run_without_a_log_file(jp_fetch):
    body = await get_json(jp_fetch, "flyte-jupyter", "api", "runs", RUN_REMOTE, "logs")
    assert body["available"] is False
    assert body["text"] == ""


async def test_cancel_stops_the_process_group_of_a_local_run(jp_fetch, runs, home):
    proc = await asyncio.create_subprocess_exec("sleep", "60", start_new_session=True)
    try:
        run_id = "fcancelme00000000005"
        record = make_record(home, run_id, status="RUNNING", outputs=None)
        runs.add(record)
        runs.update(run_id, extra={"pid": proc.pid, "started": start_time(proc.pid)})
        started = time.monotonic()
        response = await jp_fetch(
            "flyte-jupyter", "api", "runs", run_id, "cancel", method="POST", body=b""
        )
        assert response.code == 200
        assert json.loads(response.body)["status"] == "ABORTED"
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGTERM
        assert time.monotonic() - started < 5
        assert RunStore(home / "runs.sqlite").get(run_id).status == "ABORTED"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cancel_of_a_finished_run_is_409(jp_fetch):
    code, message = await error_of(
        jp_fetch, "flyte-jupyter", "api", "runs", RUN_OK, "cancel", method="POST"
    )
    assert code == 409
    assert "already ended" in message


async def test_cancel_of_a_remote_run_without_its_backend_is_501_json(jp_fetch, monkeypatch):
    from flyte_jupyter.launch import backends

    monkeypatch.setitem(backends._LAUNCHERS, "remote", ("flyte_jupyter.launch.not_here:X", ""))
    code, message = await error_of(
        jp_fetch, "flyte-jupyter", "api", "runs", RUN_REMOTE, "cancel", method="POST"
    )
    assert code == 501
    assert "flyte_jupyter.launch.not_here" in message
    assert "https://flyte.example.com/console" in message  # where to cancel it instead
