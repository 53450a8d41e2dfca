"""The run page's template: every value it shows stays text; only its own script and style run.

Each field that reaches the page carries its own piece of markup, so a field shown raw (or
not shown at all) is named by the failure. The home folder's name holds markup too: it is in
the error page's message.
"""

import json
import os
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pytest
from server_helpers import make_record

from flyte_jupyter.launch.runstore import RunStore

RUN_ID = "fmarkup0000000000001"
FAILED_ID = "fmarkup0000000000002"
REMOTE_ID = "fmarkup0000000000003"
ODD_ID = "fmarkup0000000000004"
# words free of what redaction hides (key, token, pass, ...), so each field shows as written
FIELDS = (
    "entity",
    "project",
    "domain",
    "version",
    "notebook",
    "uri",
    "execution",
    "inputname",
    "inputvalue",
    "outputname",
    "outputvalue",
    "event",
    "log",
    "module",
    "file",
    "source",
    "cell",
    "dropped",
    "reason",
    "excludedfile",
    "excludedwhy",
    "envname",
    "envvalue",
    "cwd",
    "image",
    "runmodenote",
)
# the page's own elements: anything else was made by a value
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "div", "span", "h1",
    "h2", "h3", "p", "a", "button", "code", "pre", "section", "table", "tr", "th", "td",
    "details", "summary", "script",
}  # fmt: skip


def mark(field):
    """Markup that breaks out of text, of both attribute quotes, and of an entity."""
    return f"<b id='{field}' class=\"x\">{field} &amp; &</b>"


class Parsed(HTMLParser):
    """The page as a browser reads it: its elements, and its text with entities decoded."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.text = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag):
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture
def home(tmp_path):
    return tmp_path / mark("home")


@pytest.fixture
def marked(home):
    """A succeeded run, a failed one and a remote one with markup in every field they show."""
    store = RunStore(home / "runs.sqlite")
    record = make_record(
        home,
        RUN_ID,
        status="QUEUED",
        flyte_name=f"nb_demo.{mark('entity')}",
        project=mark("project"),
        domain=mark("domain"),
        version=mark("version"),
        notebook=mark("notebook"),
        bundle_uri=f"file:///{mark('uri')}",
        remote_id=mark("execution"),
        inputs={mark("inputname"): mark("inputvalue")},
        outputs={mark("outputname"): mark("outputvalue")},
        extra={"run_mode": "exact", "run_mode_note": mark("runmodenote")},
    )
    store.add(record)
    store.update(RUN_ID, "SUCCEEDED", mark("event"))
    run_dir = Path(record.run_dir)
    (run_dir / "run.log").write_text(mark("log") + "\n", encoding="utf-8")
    bundle = {
        "digest": "ab" * 32,
        "module": mark("module"),
        "files": [{"path": mark("file"), "size": 12, "mode": 420}],
        "source": mark("source"),
        "dropped": [{"cell": mark("cell"), "line": 1, "code": mark("dropped"), "reason": mark("reason")}],
        "excluded": [{"path": mark("excludedfile"), "reason": mark("excludedwhy")}],
    }  # fmt: skip
    (run_dir / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    command = {
        "argv": ["pyflyte-fast-execute", mark("argv")],
        "env": {mark("envname"): mark("envvalue")},
        "cwd": mark("cwd"),
        "image": mark("image"),
    }
    (run_dir / "command.json").write_text(json.dumps(command), encoding="utf-8")
    store.add(make_record(home, FAILED_ID, status="FAILED", outputs=None, error=mark("error")))
    store.add(
        make_record(
            home,
            REMOTE_ID,
            backend="remote",
            status="RUNNING",
            url="https://flyte.example.com/x'onmouseover='alert(1)\"onclick=\"alert(2)",
            run_dir=None,
            log_path=None,
        )
    )
    return store


async def page(raw, run_id):
    response = await raw(f"flyte-jupyter/runs/{run_id}")
    return response, Parsed(response.body.decode())


def assert_only_page_markup(parsed):
    made = {name for name, _ in parsed.tags} - PAGE_TAGS
    assert not made, made
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def assert_nonce(response, parsed):
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)
    assert len(nonce) >= 16  # 128 bits as text
    assert f"style-src 'nonce-{nonce}'" in csp
    assert "unsafe-inline" not in csp
    assert [s.get("nonce") for s in parsed.all("script")] in ([nonce], [])
    assert [s.get("nonce") for s in parsed.all("style")] == [nonce]
    return nonce


@pytest.mark.usefixtures("marked")
async def test_markup_in_every_field_is_shown_as_text(raw):
    response, parsed = await page(raw, RUN_ID)
    assert response.code == 200
    assert_only_page_markup(parsed)
    text = "".join(parsed.text)
    for field in FIELDS:
        assert mark(field) in text, field
    assert shlex.quote(mark("argv")) in text
    _, failed = await page(raw, FAILED_ID)
    assert_only_page_markup(failed)
    assert mark("error") in "".join(failed.text)


@pytest.mark.usefixtures("marked")
async def test_quotes_in_a_console_url_stay_inside_its_href(raw):
    _, parsed = await page(raw, REMOTE_ID)
    assert_only_page_markup(parsed)
    (link,) = [a for a in parsed.all("a") if "fj-button" in a.get("class", "") and "target" in a]
    assert link["href"] == "https://flyte.example.com/x'onmouseover='alert(1)\"onclick=\"alert(2)"
    assert set(link) == {"class", "href", "target", "rel"}


@pytest.mark.usefixtures("marked")
async def test_the_script_and_the_style_carry_this_responses_nonce(raw):
    response, parsed = await page(raw, RUN_ID)
    nonce = assert_nonce(response, parsed)
    assert len(parsed.all("script")) == 1
    again, parsed_again = await page(raw, RUN_ID)
    assert assert_nonce(again, parsed_again) != nonce  # a new one for every response


async def test_error_page_shows_its_message_as_text_under_the_nonce(raw, home):
    RunStore(home / "runs.sqlite").add(make_record(home, RUN_ID))
    response, parsed = await page(raw, "fnosuchrun0000000000")
    assert response.code == 404
    assert_only_page_markup(parsed)
    assert_nonce(response, parsed)
    assert mark("home") in "".join(parsed.text)  # the store's path, in the message


async def test_a_file_name_that_is_not_utf8_shows_its_bytes(raw, home):
    record = make_record(home, ODD_ID, bundle_digest=None)
    RunStore(home / "runs.sqlite").add(record)
    work = Path(record.run_dir) / "work"
    work.mkdir()
    try:
        (work / os.fsdecode(b"caf\xe9.txt")).write_text("x", encoding="utf-8")
    except (OSError, UnicodeEncodeError) as exc:  # a file system that wants UTF-8 names
        pytest.skip(f"cannot name a file with the byte 0xe9 here: {exc}")
    response, parsed = await page(raw, ODD_ID)
    assert response.code == 200
    assert "caf\\xe9.txt" in "".join(parsed.text)
