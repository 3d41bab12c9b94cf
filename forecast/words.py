"""Words for messages from any module (it imports nothing of ours, so anything may import it)."""

import re

#: C0 and C1 control characters, DEL, and the bidirectional overrides that reorder what a terminal shows
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plural(n: int, noun: str) -> str:
    """'1 series chart', '12 series charts', '12 series'."""
    return f"{n} {noun}{'s' if n != 1 and not noun.endswith('series') else ''}"


def printable(text: str) -> str:
    """Text safe to show in a terminal or a log line: every control character written as its escape (``\\x1b``,
    ``\\n``), so that a crafted name cannot retitle the terminal, move the cursor or add a line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def possessive(name: str) -> str:
    """"West Midlands'", "Merseyside's"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def duration(months: int) -> str:
    """A length of time as a board paper says it: '7 months', '2 years', 'almost 2 years', 'over 3 years'."""
    if months < 12:
        return f"{months} month{'s' if months != 1 else ''}"
    years, rest = divmod(months, 12)
    if rest == 0:
        return f"{years} year{'s' if years > 1 else ''}"
    if rest >= 9:
        return f"almost {years + 1} years"
    return f"over {years} years" if years > 1 else "over a year"
