"""Keep secret values out of reprs, logs and ``%flyte_settings``.

A value is treated as secret when its key looks like a credential (``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*``, ``*KEY*``, ...). URLs lose the password part of their user info. Redaction
errs on the safe side: ``KEYBOARD_LAYOUT`` is hidden too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "looks_secret", "redact", "redact_url"]

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE",
    re.IGNORECASE,
)


def looks_secret(key: str) -> bool:
    """Return whether a variable or option named ``key`` probably holds a secret."""
    return _SECRET_KEY.search(key) is not None


def redact(key: str, value: object) -> str:
    """Return ``value`` as text, or :data:`REDACTED` when ``key`` looks secret."""
    if looks_secret(key):
        return REDACTED
    text = str(value)
    return redact_url(text) if "://" in text else text


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
