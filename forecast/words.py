"""Counts in words, for messages from any module (it imports nothing of ours, so anything may import it)."""


def plural(n: int, noun: str) -> str:
    """'1 series chart', '12 series charts'."""
    return f"{n} {noun}{'s' if n != 1 else ''}"
