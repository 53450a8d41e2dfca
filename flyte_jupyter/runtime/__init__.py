"""Code that runs in child interpreters (serialization, local runs): no Jupyter imports.

Each module here is executed as ``python -I -m flyte_jupyter.runtime.<name>`` with a JSON
request, so what it sees is what a container would see: the extracted bundle and installed
packages, nothing of the notebook's memory.
"""
