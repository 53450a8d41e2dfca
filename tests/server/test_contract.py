"""The server's run JSON and the JupyterLab extension's idea of it stay one contract.

``tests/contract/run.json`` is a run exactly as the API serves it. This test keeps it equal to
what ``record_json`` makes; the extension's unit tests (``labextension/src/__tests__``, run by
tests/server/test_labextension.py) check the same file against ``RUN_FIELDS`` and ``RUN_ID``, and
``tsc`` checks ``RUN_FIELDS`` against the ``IRun`` interface. A change on either side fails here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from server_helpers import make_record

from flyte_jupyter.launch.backends import new_run_id
from flyte_jupyter.server.service import RUN_ID, record_json

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "contract" / "run.json"
MODEL_TS = REPO / "labextension" / "src" / "model.ts"
UPDATE = "FLYTE_JUPYTER_UPDATE_CONTRACT"


def _served_run(home: Path) -> dict:
    record = make_record(
        home, "fcontract00000000001", created_at=1_700_000_000.0, updated_at=1_700_000_001.0
    )
    served = record_json(record, "/", Path("/work"))  # the notebook lies under the root
    # make the sample independent of the machine and the clock
    return json.loads(json.dumps(served).replace(str(home), "/home"))


def test_the_contract_file_is_what_the_api_serves(tmp_path):
    served = _served_run(tmp_path)
    if os.environ.get(UPDATE):
        CONTRACT.write_text(json.dumps(served, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    assert sorted(served) == sorted(contract), (
        f"The API's run fields changed. Update IRun (labextension/src/tokens.ts), RUN_FIELDS "
        f"(labextension/src/model.ts) and the contract file: {UPDATE}=1 python -m pytest {__file__}"
    )
    assert served == contract


def test_the_extension_lists_every_field_the_api_serves(tmp_path):
    text = MODEL_TS.read_text(encoding="utf-8")
    block = re.search(r"RUN_FIELDS = \[(.*?)\]", text, re.DOTALL)
    assert block is not None
    fields = re.findall(r"'(\w+)'", block.group(1))
    assert sorted(fields) == sorted(_served_run(tmp_path))


def test_the_extension_and_the_server_agree_on_run_ids():
    text = MODEL_TS.read_text(encoding="utf-8")
    literal = re.search(r"export const RUN_ID = /\^(.*?)\$/;", text)
    assert literal is not None
    assert literal.group(1) == RUN_ID.pattern
    assert all(RUN_ID.fullmatch(new_run_id()) for _ in range(50))
