"""Counts in words, for messages from any module (it imports nothing of ours, so anything may import it)."""


def plural(n: int, noun: str) -> str:
    """'1 series chart', '12 series charts', '12 series'."""
    return f"{n} {noun}{'s' if n != 1 and not noun.endswith('series') else ''}"
