"""Where the settings' redaction used to live; it is :mod:`flyte_jupyter.redaction` now.

Kept so that ``from flyte_jupyter.settings.secrets import redact`` goes on working; new code
imports from :mod:`flyte_jupyter.redaction`, the one redaction module.
"""

from __future__ import annotations

from flyte_jupyter.redaction import REDACTED, looks_secret, redact, redact_url

__all__ = ["REDACTED", "looks_secret", "redact", "redact_url"]
