"""A local module the v2 quickstart notebook imports: it ships in the bundle with the tasks."""


def double(value: int) -> int:
    """Twice the value."""
    return 2 * value
