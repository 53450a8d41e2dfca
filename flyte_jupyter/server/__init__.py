"""The Jupyter server extension: the run store over HTTP, and a page per run.

Contract: every route lives under ``<base_url>flyte-jupyter/`` and needs an authenticated user
(API routes answer 403 without one; the HTML run page redirects to the login page). API
errors are JSON (``{"message": ...}``), never a traceback. Run ids are checked against
:data:`~flyte_jupyter.server.service.RUN_ID` before anything is read, so a malformed id,
including any attempt at path traversal, is a 404. Every run-store or file access runs in a
worker thread: the tornado loop never waits on SQLite or the disk.

Routes (see :mod:`flyte_jupyter.server.app`):

- ``GET  flyte-jupyter/api/runs?status=&notebook=&entity=&limit=&offset=`` — newest first
- ``GET  flyte-jupyter/api/runs/<id>`` — one run, with its status history
- ``GET  flyte-jupyter/api/runs/<id>/logs?tail=N`` or ``?offset=B`` — log text to follow
- ``POST flyte-jupyter/api/runs/<id>/cancel`` — stop a run (XSRF-protected)
- ``GET  flyte-jupyter/runs/<id>`` — the run page that local runs link to

The server imports this package only when the extension loads; kernels never do.
"""
