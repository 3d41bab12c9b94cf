"""Download data.police.uk's monthly archives (``<base>/YYYY-MM.zip``, every force, the last 36 months) to a
folder, resuming what a dropped connection left behind.

A download is written to ``YYYY-MM.zip.part`` and renamed to ``YYYY-MM.zip`` only once it is whole and is a
zip, so that the folder never holds half a file under the final name; an archive already there is skipped.
"""

from __future__ import annotations

import http.client
import re
import socket
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from forecast.errors import DataError, ForecastError

ARCHIVE_URL = "https://data.police.uk/data/archive/"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CHUNK = 1 << 20


class FetchError(ForecastError):
    """A download that could not be made: the server is unreachable, has no such month, or sent no zip."""


def archive_url(month: str, base: str = ARCHIVE_URL) -> str:
    return base.rstrip("/") + f"/{month}.zip"


def fetch_month(month: str, folder: str | Path, base: str = ARCHIVE_URL, retries: int = 3, timeout: float = 60,
                progress: Callable[[int, int], None] | None = None) -> tuple[Path, bool]:
    """The archive of ``month`` in ``folder`` (downloaded, or already there: the flag says which).
    ``progress(done, total)`` is called as bytes arrive; a dropped connection is resumed from where it broke,
    up to ``retries`` times, and a ``.part`` file left by an earlier command is resumed too."""
    if not MONTH.match(month):
        raise DataError(f"{month!r} is not a month written YYYY-MM")
    folder = Path(folder)
    target, part = folder / f"{month}.zip", folder / f"{month}.zip.part"
    if target.exists() and zipfile.is_zipfile(target):
        return target, False
    folder.mkdir(parents=True, exist_ok=True)
    url = archive_url(month, base)
    for attempt in range(retries + 1):
        try:
            _download(url, part, timeout, progress)
            break
        except (ConnectionError, TimeoutError, socket.timeout, http.client.IncompleteRead, _Short) as exc:
            if attempt == retries:
                raise FetchError(f"{url}: the connection broke {retries + 1} times ({exc}); run the command again "
                                 f"to resume from {part.stat().st_size if part.exists() else 0} bytes") from None
    if not zipfile.is_zipfile(part):
        with part.open("rb") as handle:
            head = handle.read(40)
        part.unlink()
        raise FetchError(f"{url}: the server sent a file that is not a zip (it begins {head!r})")
    part.replace(target)
    return target, True


class _Short(Exception):
    """The server closed the connection before the length it announced."""


def _download(url: str, part: Path, timeout: float, progress: Callable[[int, int], None] | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return
        if exc.code == 404:
            raise FetchError(f"{url}: no such archive (HTTP 404); data.police.uk keeps the last 36 months, and "
                             "publishes a month about two months after it ends") from None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        raise FetchError(f"{url}: cannot reach the server ({reason}); are you offline?") from None
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = (have if resumed else 0) + int(length) if length else 0
        done = have if resumed else 0
        with part.open("ab" if resumed else "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    if total and done < total:
        raise _Short(f"{done} of {total} bytes")
