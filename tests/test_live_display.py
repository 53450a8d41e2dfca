"""The live cell display of a run: elapsed time, a readable log tail, Cancel; then the outputs.

Issue 13 ("Live cell display while a run is active", items 7 and 10). Runs are records in a
real run store followed by the real local launcher, plus one real ``%%flyte_run``.
"""

import json
import os
import time

import pytest
from shell_helpers import run_cell

from flyte_jupyter import display as live
from flyte_jupyter.display import LiveRun, elapsed_text, live_html, stopped_html
from flyte_jupyter.launch import Run, RunRecord
from flyte_jupyter.launch.liveness import host_id, start_time
from flyte_jupyter.launch.local import LocalLauncher
from flyte_jupyter.launch.logtext import RunLog

SECRET = "sk-live-0123456789abcdef"  # noqa: S105 - a planted secret that must not show


def settle(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def launcher(tmp_path):
    return LocalLauncher(tmp_path / "home", max_parallel=1, server_url=None)


def running(launcher, run_id, log_path, *, started=12.0):
    store = launcher.run_store
    now = time.time()
    pid = os.getpid()  # a live "supervisor" this process can see
    store.add(
        RunRecord(
            id=run_id,
            backend="local",
            entity="train",
            flyte_name="nb.train",
            kind="task",
            project="p",
            domain="d",
            version="v",
            status="QUEUED",
            created_at=now - started,
            updated_at=now,
            url=f"/flyte-jupyter/runs/{run_id}",
            log_path=str(log_path),
            extra={"pid": pid, "started": start_time(pid), "host": host_id()},
        )
    )
    store.update(run_id, "RUNNING", "started")
    store.heartbeat(run_id)
    return LiveRun.of(Run(store.get(run_id), launcher))


def json_line(message, level="INFO"):
    return json.dumps(
        {"asctime": "now", "name": "flytekit", "levelname": level, "message": message}
    )


@pytest.fixture
def published(ip, monkeypatch):
    """What displays publish: ``(html, display_id, is_update)``."""
    out = []
    monkeypatch.setattr(ip.display_formatter, "active_types", ["text/plain", "text/html"])

    def publish(data, **kw):
        display_id = (kw.get("transient") or {}).get("display_id")
        out.append((data.get("text/html", ""), display_id, bool(kw.get("update"))))

    monkeypatch.setattr(ip.display_pub, "publish", publish)
    return out


def test_an_active_run_shows_elapsed_time_when_read_and_the_last_readable_log_lines(
    launcher, tmp_path
):
    log = tmp_path / "run.log"
    lines = [f"epoch {i}" for i in range(30)]
    lines.append(json_line("Traceback (most recent call last):\n  boom", level="ERROR"))
    lines.append(f"API_TOKEN={SECRET}")
    log.write_text("\n".join(lines) + "\n")
    run = running(launcher, "flive000000000000001", log)

    html = live_html(run.record, run.log_tail(run.record))
    assert "running for 12 s" in html
    assert "status as of " in html
    assert "open the run page</a> for the live status" in html
    assert "href='/flyte-jupyter/runs/flive000000000000001'" in html
    assert "epoch 29" in html
    assert "epoch 9<" not in html
    assert "epoch 9\n" not in html  # the last 20 lines only
    assert "ERROR Traceback (most recent call last):\n  boom" in html  # not "\\n"
    assert '"levelname"' not in html
    assert SECRET not in html
    assert elapsed_text(125) == "2 min 05 s"
    assert elapsed_text(3720) == "1 h 02 min"

    log.write_text("")
    assert "no output yet" in live_html(run.record, run.log_tail(run.record))


def test_the_display_follows_the_run_and_ends_with_its_outputs(launcher, tmp_path, published):
    log = tmp_path / "run.log"
    log.write_text("step 1\n")
    run = running(launcher, "flive000000000000002", log)
    run._ipython_display_()
    assert len(published) == 1
    first, display_id, _ = published[0]
    assert "step 1" in first
    assert "RUNNING" in first

    log.write_text("step 1\nstep 2\n")
    settle(lambda: any("step 2" in html for html, _, update in published if update))
    launcher.run_store.update(run.id, "SUCCEEDED", "done", outputs={"o0": '{"x": 1}'})
    settle(lambda: len(live._LIVE) == 0)
    final, final_id, update = published[-1]
    assert update
    assert final_id == display_id
    assert "SUCCEEDED" in final
    assert "o0={&quot;x&quot;: 1}" in final
    assert "running for" not in final
    count = len(published)
    time.sleep(1.3)
    assert len(published) == count  # an ended run's display is left alone

    # shown again (a re-executed or re-displayed cell): the current status, nothing live
    run._ipython_display_()
    assert "SUCCEEDED" in published[-1][0]
    assert not published[-1][2]


def test_when_the_kernel_stops_a_live_display_says_it_no_longer_updates(
    launcher, tmp_path, published
):
    run = running(launcher, "flive000000000000003", tmp_path / "missing.log")
    run._ipython_display_()
    assert len(live._LIVE) == 1
    live._LIVE.kernel_stopped()  # what atexit does
    html, _, update = published[-1]
    assert update
    assert "The kernel stopped at" in html
    assert "no longer updates (status as of then: RUNNING)" in html
    assert "open the run page</a> for the live status" in html
    assert len(live._LIVE) == 0
    assert stopped_html(run.record).count("kernel stopped") == 1
    launcher.run_store.update(run.id, "ABORTED", "cancelled")


def test_logs_are_a_str_for_code_and_readable_in_a_notebook():
    text = json_line("hello\nworld") + "\nplain print\n" + json_line("careful", "WARNING") + "\n"
    log = RunLog(text)
    assert isinstance(log, str)
    assert log == text
    assert "plain print" in log
    html = log._repr_html_()
    assert html.startswith("<pre")
    assert "hello\nworld\nplain print\nWARNING careful" in html
    assert "\\n" not in html
    assert "(no output yet)" in RunLog("", ended=False)._repr_html_()
    assert "(the run wrote no output)" in RunLog("")._repr_html_()
    assert SECRET not in RunLog(f"token: Bearer {SECRET}\n")._repr_html_()


def test_a_real_run_streams_its_log_and_the_cancel_button_stops_it(ip, published, monkeypatch):
    monkeypatch.setattr(live, "_widgets_render", lambda: True)
    run_cell(
        ip,
        """
        import time
        from flytekit import task

        @task
        def slow(n: int) -> int:
            for i in range(n):
                print(f"tick {i}", flush=True)
                time.sleep(0.2)
            return n
        """,
    )
    run = run_cell(ip, "r = %flyte_run slow(n=200)\nr")
    assert isinstance(run, LiveRun)
    settle(lambda: any("tick 2" in html for html, _, update in published if update), 60)
    shown = next(d for d in live._LIVE.displays() if d.run.id == run.id)
    assert shown.button.description == "Cancel run"
    assert "ABORTED" in shown.button.tooltip
    shown.button.click()  # a first click only asks
    assert shown.button.description == "Click again to cancel"
    time.sleep(0.3)
    assert not run.record.done
    shown.button.click()
    settle(lambda: run.record.done, 60)
    assert run.status == "ABORTED"
    settle(lambda: shown.ended)
    assert "ABORTED" in published[-2][0] or "ABORTED" in published[-1][0]
    assert "tick" in run.logs()
    assert "tick 0" in run.logs()._repr_html_()


def test_a_secret_of_the_kernels_environment_is_hidden_in_the_tail_and_the_logs(
    launcher, tmp_path, monkeypatch
):
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "hunter2-hunter2-hunter2")
    log = tmp_path / "run.log"
    log.write_text("connecting with hunter2-hunter2-hunter2\n")  # printed without its name
    run = running(launcher, "flive000000000000004", log)
    html = live_html(run.record, run.log_tail(run.record))
    assert "connecting with" in html
    assert "hunter2-hunter2-hunter2" not in html
    logs = run.logs()
    assert "hunter2-hunter2-hunter2" in logs  # the str is the log as written, for code
    assert "hunter2-hunter2-hunter2" not in logs._repr_html_()
    launcher.run_store.update(run.id, "ABORTED", "cancelled")


def test_many_followed_runs_redraw_less_often_and_all_end(launcher, tmp_path, published):
    runs = []
    for i in range(25):
        log = tmp_path / f"run{i}.log"
        log.write_text(f"run {i} started\n")
        runs.append(running(launcher, f"fmany{i:015d}", log))
    for run in runs:
        run._ipython_display_()
    assert len(live._LIVE) == 25
    shown = len(published)
    time.sleep(2.0)
    frames = len(published) - shown
    # one frame a second each would be ~50; with 25 displays each redraws every 2.5 s
    assert frames <= 25 * 2, frames
    for run in runs:
        launcher.run_store.update(run.id, "SUCCEEDED", "done", outputs={"o0": "1"})
    settle(lambda: len(live._LIVE) == 0)
    finals = {
        display_id for html, display_id, update in published if update and "SUCCEEDED" in html
    }
    assert len(finals) == 25


def test_frames_of_an_active_run_carry_the_run_mime_type_for_jupyterlab(
    ip, launcher, tmp_path, monkeypatch
):
    published = []
    monkeypatch.setattr(ip.display_pub, "publish", lambda data=None, **_kw: published.append(data))
    run = running(launcher, "flive000000000000005", tmp_path / "run.log")
    run._ipython_display_()
    data = published
    assert data[0][live.RUN_MIME] == {
        "id": run.id,
        "status": "RUNNING",
        "flyte_name": "nb.train",
    }
    assert data[0]["text/plain"] == f"Run {run.id} of nb.train: RUNNING"
    launcher.run_store.update(run.id, "SUCCEEDED", "done", outputs={"o0": "1"})
    settle(lambda: len(live._LIVE) == 0)
    assert live.RUN_MIME not in data[-1]  # an ended run's summary is the same everywhere
    assert "SUCCEEDED" in data[-1]["text/html"]


def test_a_cancel_button_asks_once_and_forgets_an_unconfirmed_click(monkeypatch):
    import ipywidgets as w

    monkeypatch.setattr(live, "CONFIRM_SECONDS", 0.2)
    calls = []
    button = w.Button(description="Cancel run")
    live.confirm_clicks(button, lambda: calls.append(1))
    button.click()
    assert (calls, button.description) == ([], "Click again to cancel")
    settle(lambda: button.description == "Cancel run", 5)
    button.click()
    time.sleep(0.3)
    button.click()  # too late: this one asks again
    assert calls == []
    button.click()
    assert calls == [1]


@pytest.mark.parametrize("form", ["cell", "line"])
def test_in_jupyterlab_a_wait_cell_shows_the_run_live_while_it_waits_and_once(
    ip, published, monkeypatch, form
):
    """With the extension's renderer connected, ``--wait`` shows the run at once, live.

    The cell ends with that one output in its final frame (no second display of the Run).
    """
    monkeypatch.setattr(live, "_lab_renders_runs", lambda: True)
    run_cell(
        ip,
        """
        import time
        from flytekit import task

        @task
        def nap(n: int) -> int:
            print("napping", flush=True)
            time.sleep(1.5)
            return n
        """,
    )
    source = (
        "%%flyte_run --wait\nr = nap(n=3)\n" if form == "cell" else "%flyte_run --wait nap(n=3)"
    )
    run_cell(ip, source)
    # (a display of an earlier test may still draw its last frame: only this cell's count)
    ours = published[next(i for i, (_, _, update) in enumerate(published) if not update) :]
    assert len({display_id for _, display_id, _ in ours}) == 1  # one output, updated in place
    first = ours[0][0]
    assert "QUEUED" in first or "RUNNING" in first  # shown before the run ended
    final, _, update = ours[-1]
    assert update
    assert "SUCCEEDED" in final  # drawn before the cell ended
    assert "o0=3" in final


def test_elsewhere_a_wait_cell_shows_the_run_once_it_ended(ip, published):
    """nbval/nbconvert keep a cell's first display and drop updates: show the ended run."""
    run_cell(ip, "from flytekit import task\n\n@task\ndef one() -> int:\n    return 1\n")
    run_cell(ip, "%%flyte_run --wait\nr = one()\n")
    ours = [p for p in published if ".one</b>" in p[0]]  # not an earlier test's late frame
    assert len(ours) == 1
    html, _, update = ours[0]
    assert not update
    assert "SUCCEEDED" in html
