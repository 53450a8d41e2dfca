"""A run's code can write in its run folder: links it plants there never lead the server out."""

import json
import os
from pathlib import Path

import pytest
from server_helpers import make_record
from tornado.httpclient import HTTPClientError

from flyte_jupyter.launch.runstore import RunStore

OUTSIDE_SECRET = "ssh-private-key-material-0f9e8d"  # noqa: S105 - planted bait
RUN_ID = "fplanted000000000007"


@pytest.fixture
def planted(home, tmp_path):
    """A finished run, and a private file outside the home that it could point at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    private = outside / "id_rsa"
    private.write_text(OUTSIDE_SECRET + "\n", encoding="utf-8")
    record = make_record(home, RUN_ID)
    RunStore(home / "runs.sqlite").add(record)
    return record, private


def plant_symlink(path, target):
    Path(path).unlink(missing_ok=True)
    os.symlink(target, path)


async def logs_error(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte-jupyter", "api", "runs", RUN_ID, "logs")
    return info.value.code, json.loads(info.value.response.body)["message"]


async def page_html(jp_fetch):
    response = await jp_fetch("flyte-jupyter", "runs", RUN_ID)
    assert response.code == 200
    return response.body.decode()


async def test_a_log_symlinked_out_of_the_home_is_refused_by_the_api_and_page(jp_fetch, planted):
    record, private = planted
    plant_symlink(record.run_dir + "/run.log", private)
    code, message = await logs_error(jp_fetch)
    assert code == 404
    assert "symlink" in message
    assert OUTSIDE_SECRET not in message
    html = await page_html(jp_fetch)
    assert OUTSIDE_SECRET not in html
    assert "The log is not shown" in html
    assert "symlink" in html


async def test_a_log_hard_linked_to_a_file_outside_is_refused(jp_fetch, planted):
    record, private = planted
    log = record.run_dir + "/run.log"
    try:
        os.link(private, log)
    except OSError as exc:  # another file system, or hard links forbidden here
        pytest.skip(f"cannot hard-link here: {exc}")
    code, message = await logs_error(jp_fetch)
    assert code == 404
    assert "hard links" in message
    assert OUTSIDE_SECRET not in await page_html(jp_fetch)


async def test_a_run_folder_swapped_for_a_symlink_is_not_followed(jp_fetch, planted, tmp_path):
    record, _ = planted
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "run.log").write_text(OUTSIDE_SECRET, encoding="utf-8")
    (elsewhere / "bundle.json").write_text(json.dumps({"source": OUTSIDE_SECRET}), "utf-8")
    os.rmdir(record.run_dir)
    os.symlink(elsewhere, record.run_dir)
    code, message = await logs_error(jp_fetch)
    assert code == 404
    assert OUTSIDE_SECRET not in message
    assert OUTSIDE_SECRET not in await page_html(jp_fetch)


async def test_planted_bundle_json_command_json_and_module_links_are_not_read(
    jp_fetch, planted, tmp_path
):
    record, private = planted
    run_dir = record.run_dir
    fake = tmp_path / "outside" / "summary.json"
    fake.write_text(json.dumps({"source": OUTSIDE_SECRET, "module": "nb_demo"}), "utf-8")
    plant_symlink(run_dir + "/bundle.json", fake)
    plant_symlink(run_dir + "/command.json", fake)
    os.makedirs(run_dir + "/work")
    plant_symlink(run_dir + "/work/nb_demo.py", private)
    Path(run_dir, "run.log").write_text("hello\n", encoding="utf-8")  # noqa: ASYNC240
    html = await page_html(jp_fetch)
    assert OUTSIDE_SECRET not in html
    assert "nb_demo.py" in html  # the file is listed (by lstat), its target never read
    response = await jp_fetch("flyte-jupyter", "api", "runs", RUN_ID, "logs")
    assert json.loads(response.body)["available"] is True
