"""A server whose home has no run store yet (no run was ever launched)."""

import json


async def test_list_of_an_absent_store_is_empty_and_creates_nothing(jp_fetch, home):
    response = await jp_fetch("flyte-jupyter", "api", "runs")
    assert json.loads(response.body)["runs"] == []
    assert not (home / "runs.sqlite").exists()
