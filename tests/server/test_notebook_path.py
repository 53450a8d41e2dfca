"""``notebook_path``: the run's notebook as JupyterLab opens it (the sidebar's Open Notebook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_jupyter.server.service import notebook_api_path

ROOT = Path("/srv/work")


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        ("/srv/work/analysis/Daily Report.ipynb", "analysis/Daily Report.ipynb"),
        ("/srv/work/top.ipynb", "top.ipynb"),
        ("/elsewhere/x.ipynb", None),  # outside the server's root: JupyterLab cannot open it
        ("/srv/workshop/x.ipynb", None),  # a sibling that shares the root's prefix
        ("analysis/x.ipynb", "analysis/x.ipynb"),  # recorded relative, as a server names it
        ("../x.ipynb", None),
        (None, None),
        ("", None),
    ],
)
def test_notebook_path_is_relative_to_the_server_root(notebook, expected):
    assert notebook_api_path(notebook, ROOT) == expected


def test_without_a_root_there_is_no_path():
    assert notebook_api_path("/srv/work/top.ipynb", None) is None
