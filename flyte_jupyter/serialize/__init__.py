"""Serialize entities as imported from the bundle, with flytekit's own serializer.

Recognising entities (kind, images, where the code lives) is the SDK seam's work:
:mod:`flyte_jupyter.sdk`. Contract: no IPython, ipywidgets or tornado; flytekit is imported
lazily inside functions (and only in the serialization process).
"""
