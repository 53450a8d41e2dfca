"""The Jupyter server follows active remote runs for the sidebar, asking the admin sparingly.

A remote run launched from a kernel and then left alone (the kernel ended, nobody waits)
still reaches its end in the run store: the server's watcher asks the stand-in admin about
it, at most once per interval, however many times it looks (issue 13, item 8).
"""

from __future__ import annotations

import pytest
from remote_shell import flyte_run
from standin_admin import RUNNING, SUCCEEDED, Plan, int_outputs

from flyte_jupyter.server.service import RunService

pytestmark = pytest.mark.slow


def asked_about(standin, run_id: str) -> int:
    return sum(1 for request in standin.requests("GetExecution") if request.id.name == run_id)


def test_the_server_brings_a_remote_run_to_its_end_once_per_interval(nb, standin, runs, shared):
    standin.plan(Plan(phases=[RUNNING, RUNNING, SUCCEEDED], outputs=int_outputs(o0=49)))
    run = flyte_run(nb, "--backend remote square(x=7)")  # no --wait: nobody follows it
    service = RunService(shared / "home", shared / "root")

    # earlier tests of the shared run store may have left remote runs active too
    assert service.refresh_remote(60) >= 1
    assert service.refresh_remote(60) == 0  # within the interval: the admin is not asked
    assert asked_about(standin, run.id) == 1
    for _ in range(5):
        if runs.get(run.id).status == "SUCCEEDED":
            break
        service.refresh_remote(0)
    record = runs.get(run.id)
    assert record.status == "SUCCEEDED"
    assert record.outputs == {"o0": "49"}
    asked = asked_about(standin, run.id)
    service.refresh_remote(0)
    assert asked_about(standin, run.id) == asked  # ended: never asked again
    # listing runs never asks the admin
    calls = len(standin.methods())
    service.list_runs()
    assert len(standin.methods()) == calls
