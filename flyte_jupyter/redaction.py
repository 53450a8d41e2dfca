"""Keep secrets out of everything flyte_jupyter shows or writes: the one redaction module.

Every display goes through here: run pages and the runs API, ``%flyte_bundle`` and the
``bundle.json`` of a run, ``%flyte_settings`` and ``repr(Settings)``, the panel, the run's
``command.json`` and the project's own log messages. Pure Python, no I/O but the existence
check of :func:`secret_values`; importing it imports nothing of IPython, tornado or flytekit.

Four rules, each erring on the safe side (``KEYBOARD_LAYOUT`` is hidden too):

1. **By key name.** A value whose key looks like a credential (``*TOKEN*``, ``*SECRET*``,
   ``*PASSWORD*``, ``*KEY*``, ``*CREDENTIAL*``, ``*_PASS``, ``*_PWD``, ``*DSN*``,
   ``*STORAGE_OPTIONS*``, ...; see :func:`looks_secret`) is shown as :data:`REDACTED`.
2. **JSON inside values.** A value holding a JSON object (``FLYTE_JUPYTER_STORAGE_OPTIONS``)
   is shown with the members of secret-looking names hidden and the rest (``endpoint_url``)
   kept.
3. **In text** (:func:`redact_text`): assignments to secret-looking names however they are
   written (``%env AWS_SECRET_ACCESS_KEY=...``, ``%set_env API_TOKEN abc``,
   ``--env API_TOKEN=...``, ``!export DB_PASS=...``, ``password="..."``,
   ``"secret": "..."``, ``os.environ["TOKEN"] = ...``, ``--password abc``), the password of
   URL user info (``scheme://user:***@host``), ``Bearer <token>`` and the value of
   ``Authorization:`` headers.
4. **By value** (:class:`Redactor`): the values of secret-named variables known to the kernel
   or the run (its environment, the settings' ``env``, storage options, passwords in URLs) are
   hidden wherever they appear, e.g. in a dropped line ``!aws configure set ... <secret>``.
   Values shorter than :data:`MIN_SECRET_LEN` characters and values naming an existing path
   (``SSH_AUTH_SOCK``) are not searched for: hiding every ``true`` or ``/tmp`` would hide
   everything else.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "MIN_SECRET_LEN",
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "looks_secret",
    "redact",
    "redact_code",
    "redact_text",
    "redact_url",
    "redacting_logger",
    "secret_values",
]

REDACTED = "***"
MIN_SECRET_LEN = 6

_SECRET_KEY = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE"
    r"|SIGNATURE|DSN|STORAGE_OPTIONS|CONN(?:ECTION)?_?STR"
    # *_PASS, *_PWD (but not PWD and OLDPWD, the working folder)
    r"|(?:^|[_.-])PASS(?:$|[_.-])|[_.-]PWD(?:$|[_.-])",
    re.IGNORECASE,
)
# Keys whose value is a JSON object of options, shown with only its secret members hidden.
_STRUCTURED_KEY = re.compile(r"STORAGE_OPTIONS", re.IGNORECASE)

_QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"
_BARE = r"[^\s\"',;&)}\]]++"
# NAME=value, NAME: value, "name":"value", os.environ["NAME"] = value, ("NAME", "value");
# an unquoted NAME:value without a space is an image (token-service:v1) or a host:port
_ASSIGNMENT = re.compile(
    r"(?<![\w.-])(?P<q>[\"']?)(?P<key>[A-Za-z_][\w.-]*)(?P=q)"
    r"(?P<sep>\]?[ \t]*=(?!=)[ \t]*|(?<=[\"'])[ \t]*:[ \t]*|:[ \t]+"
    r"|(?<=[\"'])[ \t]*,[ \t]*(?=[\"']))"
    rf"(?P<val>{_QUOTED}|{_BARE})"
)
# %env NAME value, %set_env NAME value, aws configure set NAME value
_SPACED = re.compile(
    r"(?P<head>(?:^|(?<=[\s!]))%?(?:env|set_env|setenv|set)[ \t]+)"
    r"(?P<key>[A-Za-z_][\w.-]*)(?P<sep>[ \t]+)(?P<val>[^\s=]\S*)"
)
# --password abc, --api-key abc
_FLAG = re.compile(r"(?P<key>(?<!\S)--?[A-Za-z][\w-]*)(?P<sep>[ \t]+)(?P<val>[^\s-]\S*)")
_URL_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"'<>]*):(?P<pw>[^\s@/\"'<>]+)@"
)
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:Proxy-)?Authorization[\"']?[ \t]*[:=][ \t]*[\"']?)(?P<val>[^\"'\r\n]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)[ \t]+)(?P<val>[A-Za-z0-9._~+/-]{6,}=*)")
# a bare value that is code, not a literal: getpass(), os.environ["X"]
_CODE_VALUE = re.compile(r"[A-Za-z_][\w.]*[(\[]")


def looks_secret(key: str) -> bool:
    """Return whether a variable or option named ``key`` probably holds a secret."""
    return _SECRET_KEY.search(key) is not None


def redact(key: str, value: object) -> str:
    """Return ``value`` as text with what is secret in it hidden (rules 1 to 3)."""
    return _value(key, value, None)


def redact_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host/...``; other text is returned as is."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        port = parts.port
    except ValueError:  # unparsable netloc: hide everything between "//" and "@"
        return re.sub(r"//[^/@]*@", f"//{REDACTED}@", url)
    netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname or ''}"
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Free text (a log line, a dropped magic, an error) with rule 3 applied."""
    if not text:
        return text
    text = _AUTH_HEADER.sub(lambda m: m["head"] + REDACTED, text)
    text = _BEARER.sub(lambda m: m["head"] + REDACTED, text)
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    text = _SPACED.sub(_hide_value, text)
    text = _FLAG.sub(_hide_value, text)
    return _ASSIGNMENT.sub(_hide_value, text)


def redact_code(source: str) -> str:
    """Python source with rule 3 applied to string literals only.

    ``API_TOKEN = "abc"`` loses its literal, ``sorted(xs, key=len)`` and ``password: str``
    stay as written: they are code, not secrets.
    """
    if not source:
        return source
    source = _AUTH_HEADER.sub(lambda m: m["head"] + REDACTED, source)
    source = _BEARER.sub(lambda m: m["head"] + REDACTED, source)
    source = _URL_USERINFO.sub(lambda m: f"{m['head']}:{REDACTED}@", source)
    return _ASSIGNMENT.sub(lambda m: _hide_value(m, quoted_only=True), source)


def _hide_value(match: re.Match[str], *, quoted_only: bool = False) -> str:
    key, value = match["key"], match["val"]
    if not looks_secret(key.lstrip("-")) or value.strip("\"'") == REDACTED:
        return match[0]
    quoted = value[:1] in "\"'" and len(value) > 1 and value[-1] == value[0]
    if quoted:
        shown = value[0] + REDACTED + value[0]
    elif quoted_only or _CODE_VALUE.match(value):
        return match[0]
    else:
        shown = REDACTED
    start = match.start("val") - match.start()
    return match[0][:start] + shown


def _value(key: str, value: object, redactor: Redactor | None) -> str:
    text = str(value)
    if looks_secret(key):
        structured = _STRUCTURED_KEY.search(key) is not None
        parsed = _json_object(text) if structured else None
        if parsed is None:
            return REDACTED
        return json.dumps(_redact_json(parsed, redactor))
    parsed = _json_object(text)
    if parsed is not None:
        return json.dumps(_redact_json(parsed, redactor))
    text = redact_url(text) if "://" in text else text
    return redactor.text(text) if redactor else redact_text(text)


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _redact_json(data: Any, redactor: Redactor | None) -> Any:
    if isinstance(data, dict):
        return {
            k: REDACTED if looks_secret(str(k)) else _redact_json(v, redactor)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_redact_json(v, redactor) for v in data]
    if isinstance(data, str):
        return _value("", data, redactor)
    return data


def secret_values(*mappings: Mapping[str, object]) -> set[str]:
    """The values to hide wherever they appear (rule 4), found in ``mappings``.

    That is the values of secret-looking keys, the secret members of JSON values, and the
    passwords of URLs, each at least :data:`MIN_SECRET_LEN` long and not an existing path.
    """
    found: set[str] = set()
    for mapping in mappings:
        for key, value in mapping.items():
            _collect(str(key), value, found)
    return {v for v in found if len(v) >= MIN_SECRET_LEN and not _is_path(v)}


def _collect(key: str, value: object, found: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _collect(str(k), v, found)
        return
    if isinstance(value, list):
        for v in value:
            _collect(key, v, found)
        return
    if value is None or isinstance(value, bool):
        return
    text = str(value)
    parsed = _json_object(text)
    if parsed is not None:
        _collect(key, parsed, found)
        if not looks_secret(key) or _STRUCTURED_KEY.search(key):
            return  # the members that are secret were collected; the rest is shown
    if looks_secret(key):
        found.add(text)
    found.update(m["pw"] for m in _URL_USERINFO.finditer(text))


def _is_path(value: str) -> bool:
    if not value.startswith(("/", "~")) or any(c.isspace() for c in value):
        return False
    try:
        return os.path.exists(os.path.expanduser(value))
    except (OSError, ValueError):
        return False


class Redactor:
    """Apply all four rules: the structural ones plus a set of known secret values.

    Parameters
    ----------
    values
        Secret values to hide wherever they appear (see :func:`secret_values`).
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = frozenset(v for v in values if len(v) >= MIN_SECRET_LEN)
        ordered = sorted(self.values, key=len, reverse=True)  # a longer secret first
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def of(cls, *mappings: Mapping[str, object]) -> Redactor:
        """A redactor for the secrets found in environments or option mappings."""
        return cls(secret_values(*mappings))

    def __repr__(self) -> str:  # never the values themselves
        return f"Redactor({len(self.values)} values)"

    def known(self, text: str) -> str:
        """``text`` with the known secret values hidden (rule 4 only)."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def text(self, text: str) -> str:
        """Free text with rules 3 and 4 applied."""
        return redact_text(self.known(text))

    def code(self, source: str) -> str:
        """Python source with rule 4 and the literal part of rule 3 applied."""
        return redact_code(self.known(source))

    def value(self, key: str, value: object) -> str:
        """A value shown under ``key``, with all rules applied."""
        return _value(key, value, self)

    def mapping(self, values: Mapping[str, object]) -> dict[str, str]:
        """``{name: text}`` with every value redacted under its name."""
        return {str(key): self.value(str(key), value) for key, value in values.items()}


class RedactingFilter(logging.Filter):
    """Apply rule 3 to a log record's message before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message in place; never drops a record."""
        message = record.getMessage()
        shown = redact_text(message)
        if shown != message:
            record.msg, record.args = shown, None
        return True


def redacting_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` whose records are redacted (a store URL's password, ...).

    Filters do not pass to child loggers, so each module that logs URLs, settings or error
    text asks for its own.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
