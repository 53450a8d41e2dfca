"""Recognise flytekit entities without importing flytekit when nothing could be one."""

from __future__ import annotations

import sys
from typing import Literal

EntityKind = Literal["task", "workflow", "launch plan"]


def entity_kind(obj: object) -> EntityKind | None:
    """``"task"``, ``"workflow"``, ``"launch plan"``, or None for anything else.

    If flytekit was never imported, no object can be a flytekit entity: answer without
    importing it (``%load_ext`` and ``%flyte_bundle`` on plain code stay fast).
    """
    if "flytekit" not in sys.modules:
        return None
    from flytekit.core.base_task import Task
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase

    if isinstance(obj, Task):
        return "task"
    if isinstance(obj, WorkflowBase):
        return "workflow"
    if isinstance(obj, LaunchPlan):
        return "launch plan"
    return None


def defined_in_notebook(obj: object) -> bool:
    """True when the entity's code lives in notebook cells (module ``__main__``)."""
    fn = getattr(obj, "task_function", None) or getattr(obj, "_workflow_function", None)
    module = getattr(fn, "__module__", None) or getattr(obj, "instantiated_in", None)
    return module in (None, "__main__", "")


def container_images(entity: object) -> list[str]:
    """The ``container_image`` strings of a task, or of every task a workflow runs."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(obj: object) -> None:
        if obj is None or id(obj) in seen:
            return
        seen.add(id(obj))
        image = getattr(obj, "container_image", None)
        if isinstance(image, str):
            found.append(image)
        for node in getattr(obj, "nodes", None) or ():
            visit(getattr(node, "flyte_entity", None))
        visit(getattr(obj, "workflow", None))  # a launch plan's workflow

    visit(entity)
    return found
