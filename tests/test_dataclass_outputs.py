"""A dataclass output shows its value in the cell, not ``<binary>`` (issue 13, item 4)."""

import json

from shell_helpers import run_cell


def test_a_dataclass_output_shows_as_json_in_the_cell_and_in_the_run_store(ip):
    run_cell(
        ip,
        """
        from dataclasses import dataclass
        from flytekit import task

        @dataclass
        class Point:
            x: int
            y: float

        @task
        def mirror(x: int) -> Point:
            return Point(x=x, y=-x / 2)
        """,
    )
    run = run_cell(ip, "%flyte_run --wait mirror(x=3)")
    assert run.status == "SUCCEEDED"
    assert run.outputs.x == 3  # the Python value, through the entity's types
    html = run._repr_html_()
    assert "&lt;binary&gt;" not in html
    assert "o0={&quot;x&quot;: 3, &quot;y&quot;: -1.5}" in html
    assert json.loads(run.record.outputs["o0"]) == {"x": 3, "y": -1.5}  # the run page's too
