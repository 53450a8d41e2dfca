"""A run's cell display says how a local run ran; records that do not say show nothing."""

import pytest

from flyte_jupyter.display import LiveRun, run_summary_html
from flyte_jupyter.launch import Run, RunRecord
from flyte_jupyter.launch.run import run_html

EVIL = "<script>alert('x')</script>"


def record(status="SUCCEEDED", backend="local", **extra):
    return RunRecord(
        id="fmode000000000000001",
        backend=backend,
        entity="square",
        flyte_name="nb.square",
        kind="task",
        project="p",
        domain="development",
        version="v1",
        status=status,
        created_at=0.0,
        updated_at=0.0,
        inputs={"x": "7"},
        outputs={"o0": "49"},
        extra=extra,
    )


def test_a_warm_run():
    html = run_summary_html(record(run_mode="warm"))
    assert html.startswith("<div class='flyte-jupyter-run-view'>" + run_html(record()))
    assert (
        "ran in the warm worker (the entrypoint&#x27;s steps, in a child forked from a "
        "pre-imported interpreter)"
    ) in html
    running = run_summary_html(record("RUNNING", run_mode="warm"))
    assert "running in the warm worker" in running


def test_an_exact_run():
    html = run_summary_html(record(run_mode="exact"))
    assert (
        "ran as in a pod: pyflyte-fast-execute, then pyflyte-execute, each a fresh process "
        "(local_runs = &quot;exact&quot;)"
    ) in html


def test_a_fallback_shows_its_note_escaped_and_redacted():
    note = f"the warm worker was unavailable (API_TOKEN=tok-secret-1 {EVIL}); ran the pod command"
    html = run_summary_html(record(run_mode="exact", run_mode_note=note))
    assert "ran as in a pod: pyflyte-fast-execute" in html
    assert "local_runs" not in html
    assert "API_TOKEN=***" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;); ran the pod command" in html
    assert "tok-secret-1" not in html
    assert EVIL not in html


@pytest.mark.parametrize(
    "rec",
    [record(), record(backend="remote"), record(run_mode="tepid"), record(sdk="flytekit")],
    ids=["old", "remote", "unknown", "sdk-only"],
)
def test_records_without_a_run_mode_show_the_summary_alone(rec):
    assert run_summary_html(rec) == run_html(rec)


class _Ended:
    """A launcher that is never asked: an ended run's record is final."""

    def refresh(self, rec):  # pragma: no cover - not called for ended runs
        raise AssertionError(rec)


def test_the_live_display_and_the_html_repr_carry_the_line(ip, monkeypatch):
    run = LiveRun.of(Run(record(run_mode="warm"), _Ended()))
    assert "ran in the warm worker" in run._repr_html_()
    published = []
    monkeypatch.setattr(ip.display_formatter, "active_types", ["text/plain", "text/html"])
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, **_kw: published.append(data))
    run._ipython_display_()
    (data,) = published
    assert "ran in the warm worker" in data["text/html"]
