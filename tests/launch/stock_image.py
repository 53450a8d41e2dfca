"""What the fidelity tests share: an interpreter where flyte_jupyter cannot be imported.

A uniquely named module (not conftest), imported by tests/launch/test_fidelity*.py.
"""

BLOCKER = """
import sys

class _StockImage:
    '''Make flyte_jupyter unimportable, as on a stock flytekit or flyte image.'''

    def find_spec(self, name, path=None, target=None):
        if name == "flyte_jupyter" or name.startswith("flyte_jupyter."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, _StockImage())
"""
