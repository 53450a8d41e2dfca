"""A local module the quickstart notebook imports: it ships in the bundle with the tasks."""


def double(value: int) -> int:
    """Twice the value."""
    return 2 * value
