"""Turn the cells a kernel executed into an importable module.

Contract: pure functions over recorded cell sources. No IPython import, no I/O. The adapter
(``flyte_jupyter.magics``) records cells through IPython's ``post_run_cell`` event, after
IPython's own input transformation, and passes them here. The module text depends only on the
sources of the cells the targets need and their execution order.
"""

from flyte_jupyter.capture.build import (
    FALLBACK_MODULE,
    build_module,
    defined_names,
    module_name_for,
)
from flyte_jupyter.capture.log import CellLog
from flyte_jupyter.capture.model import CapturedModule, CellRecord, Dropped

__all__ = [
    "FALLBACK_MODULE",
    "CapturedModule",
    "CellLog",
    "CellRecord",
    "Dropped",
    "build_module",
    "defined_names",
    "module_name_for",
]
