"""Serialize entities as imported from the bundle, with flytekit's own serializer.

Contract: no IPython, ipywidgets or tornado; flytekit is imported lazily inside functions.
"""

from flyte_jupyter.serialize.entities import (
    EntityKind,
    container_images,
    defined_in_notebook,
    entity_kind,
)

__all__ = ["EntityKind", "container_images", "defined_in_notebook", "entity_kind"]
