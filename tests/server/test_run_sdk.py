"""Runs of flyte v2 entities are listed and shown like any other, with their SDK named."""

import json

import pytest
from server_helpers import RUN_OK, make_record

pytestmark = pytest.mark.usefixtures("v2_run")

RUN_V2 = "fv2run00000000000005"


@pytest.fixture
def v2_run(runs, home):
    record = make_record(
        home,
        RUN_V2,
        entity="square",
        flyte_name="nb_demo_env.square",
        extra={"sdk": "flyte", "pid": 1, "host": "elsewhere"},
    )
    runs.add(record)
    return record


async def test_the_api_names_each_runs_sdk(jp_fetch):
    response = await jp_fetch("flyte-jupyter", "api", "runs")
    by_id = {run["id"]: run for run in json.loads(response.body)["runs"]}
    assert by_id[RUN_V2]["sdk"] == "flyte"
    assert by_id[RUN_V2]["flyte_name"] == "nb_demo_env.square"
    assert by_id[RUN_OK]["sdk"] == "flytekit"  # a record from before the SDK was recorded
    assert "extra" not in by_id[RUN_V2]
    one = json.loads((await jp_fetch("flyte-jupyter", "api", "runs", RUN_V2)).body)
    assert one["sdk"] == "flyte"


async def test_the_run_page_shows_the_sdk(raw):
    v2 = (await raw(f"flyte-jupyter/runs/{RUN_V2}")).body.decode()
    assert "<tr><th>SDK</th><td>flyte v2</td></tr>" in v2
    assert "nb_demo_env.square" in v2
    v1 = (await raw(f"flyte-jupyter/runs/{RUN_OK}")).body.decode()
    assert "<tr><th>SDK</th><td>flytekit</td></tr>" in v1
