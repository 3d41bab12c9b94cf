"""How large one input file may be once unpacked: a bound that refuses a zip or gzip bomb (a few megabytes that
expand to gigabytes) before it is read, not after it has filled the memory.

The largest real street file (the Metropolitan Police's, one month: some 100,000 rows at the 230 bytes a row
of the repository's City of London files) is about 25 MB; the default bound, 256 MB a file, is ten times that.
``FORECAST_MAX_FILE_MB`` raises (or lowers) it.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from forecast.errors import DataError

LIMIT_ENV = "FORECAST_MAX_FILE_MB"
DEFAULT_MB = 256


def max_file_bytes() -> int:
    """The bound in bytes: ``FORECAST_MAX_FILE_MB`` megabytes, else 256 MB."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_MB * 10**6
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb > 0 or mb != mb or mb == float("inf"):
        raise DataError(f"{LIMIT_ENV}={text!r} is not a positive number of megabytes")
    return int(mb * 10**6)


def check_size(size: int, path: Path, how: str = "is") -> None:
    """Refuse a file of ``size`` bytes over the bound, naming it and saying how to raise the bound."""
    limit = max_file_bytes()
    if size > limit:
        raise DataError(f"{path}: {how} {size / 1e6:,.0f} MB, over the {limit / 1e6:,.0f} MB limit of one input "
                        f"file (a street file is at most about 25 MB); set {LIMIT_ENV} to read larger files")


def gunzip(raw: bytes, path: Path) -> bytes:
    """A gzip file's content (every member of it), inflated no further than the bound."""
    limit = max_file_bytes()
    out, rest = [], raw
    size = 0
    while rest:
        inflate = zlib.decompressobj(wbits=31)
        try:
            part = inflate.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from None
        size += len(part)
        check_size(size, path, "expands to more than")
        if not inflate.eof:
            raise DataError(f"{path}: not a readable gzip file (it ends before its data does)")
        out.append(part)
        rest = inflate.unused_data
    return b"".join(out)
