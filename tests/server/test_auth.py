"""Every route of the extension demands an authenticated user; POSTs demand the XSRF token."""

import json
import re

import pytest
from server_helpers import RUN_LIVE
from tornado import web

from flyte_jupyter.server.app import ROUTES
from flyte_jupyter.server.runs import NotFoundHandler

pytestmark = pytest.mark.usefixtures("runs")

VERBS = ("get", "post", "put", "patch", "delete")


def concrete_path(pattern: str) -> str:
    """A URL path that the route pattern matches, naming run RUN_LIVE."""
    path = pattern.replace("(?P<run_id>[^/]+)", RUN_LIVE)
    path = re.sub(r"\(\?P<_path>[^)]*\)\?", "/anything", path)
    path = path.removesuffix("/?")
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def verbs_of(handler: type) -> list[str]:
    return [
        verb.upper()
        for verb in VERBS
        if getattr(handler, verb) is not getattr(web.RequestHandler, verb)
    ]


def registered_routes(jp_serverapp):
    apps = jp_serverapp.extension_manager.extension_apps["flyte_jupyter"]
    (app,) = apps
    assert list(app.handlers) == list(ROUTES)
    return [
        (pattern, handler, verb) for pattern, handler in app.handlers for verb in verbs_of(handler)
    ]


async def test_every_route_refuses_anonymous_requests(jp_serverapp, anonymous):
    walked = registered_routes(jp_serverapp)
    assert len(walked) >= len(ROUTES)
    for pattern, _handler, verb in walked:
        response = await anonymous(concrete_path(pattern), method=verb)
        where = f"{verb} {pattern}"
        if pattern.startswith("/flyte-jupyter/api"):
            assert response.code == 403, where
            assert response.headers["Content-Type"].startswith("application/json"), where
            assert RUN_LIVE not in response.body.decode(), where
        else:  # an HTML page sends the browser to log in, as every Jupyter page does
            assert response.code == 302, where
            assert "/login?next=" in response.headers["Location"], where
            assert not response.body, where


async def test_every_route_answers_with_the_token(jp_serverapp, raw):
    for pattern, handler, verb in registered_routes(jp_serverapp):
        response = await raw(concrete_path(pattern), method=verb)
        expected = 404 if handler is NotFoundHandler else 200
        assert response.code == expected, f"{verb} {pattern}: {response.body[:300]!r}"


async def test_cancel_with_a_login_cookie_needs_the_xsrf_token(raw, anonymous):
    page = await raw(f"flyte-jupyter/runs/{RUN_LIVE}")
    assert page.code == 200
    cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("Set-Cookie") if "=" in c)
    assert "_xsrf=" in cookies
    xsrf = re.search(r'data-xsrf="([^"]+)"', page.body.decode()).group(1)
    url = f"flyte-jupyter/api/runs/{RUN_LIVE}/cancel"

    forged = await anonymous(url, method="POST", headers={"Cookie": cookies})
    assert forged.code == 403
    assert "_xsrf" in json.loads(forged.body)["message"]

    allowed = await anonymous(url, method="POST", headers={"Cookie": cookies, "X-XSRFToken": xsrf})
    assert allowed.code == 200, allowed.body
