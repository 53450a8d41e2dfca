"""Imported only inside a task body: never loaded in the kernel, found in the code, ships."""


def summary(areas: list[float]) -> str:
    """One line about a list of floor areas."""
    return f"{len(areas)} rooms, {sum(areas):.1f} m² in total"
