"""Imported at the top of the notebook: loaded in the kernel, so it ships."""


def area(width: float, depth: float) -> float:
    """Floor area of a rectangular room, in square metres."""
    return round(width * depth, 2)
