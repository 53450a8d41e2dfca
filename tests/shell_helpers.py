"""Helpers for tests that drive a real IPython shell."""

import textwrap


def run_cell(ip, source, cell_id=None):
    result = ip.run_cell(textwrap.dedent(source), cell_id=cell_id)
    if result.error_before_exec or result.error_in_exec:
        raise result.error_before_exec or result.error_in_exec
    return result.result
