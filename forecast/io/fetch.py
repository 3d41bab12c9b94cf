"""Download data.police.uk's monthly archives (``<base>/YYYY-MM.zip``, every force, the last 36 months) to a
folder, resuming what a dropped connection left behind.

A download is written to ``YYYY-MM.zip.part`` and renamed to ``YYYY-MM.zip`` only once it is whole and is a
zip, so that the folder never holds half a file under the final name; an archive already there is skipped.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
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


#: seconds to connect, seconds in which at least STALL_BYTES must arrive, seconds for a whole archive
CONNECT_SECONDS, STALL_SECONDS, DEADLINE_SECONDS = 30.0, 60.0, 3600.0
STALL_BYTES = 64 << 10


def archive_url(month: str, base: str = ARCHIVE_URL) -> str:
    return base.rstrip("/") + f"/{month}.zip"


def check_base(base: str) -> str:
    """An archive address that can be fetched: http(s) with a host; anything else is refused in one line."""
    parts = urllib.parse.urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataError(f"--url {base!r} is not an http:// or https:// address of a server")
    return base.strip()


def fetch_month(month: str, folder: str | Path, base: str = ARCHIVE_URL, retries: int = 3,
                timeout: float = CONNECT_SECONDS, progress: Callable[[int, int], None] | None = None,
                stall: float = STALL_SECONDS, deadline: float = DEADLINE_SECONDS) -> tuple[Path, bool]:
    """The archive of ``month`` in ``folder`` (downloaded, or already there: the flag says which).
    ``progress(done, total)`` is called as bytes arrive; a dropped or stalled connection is resumed from where it
    broke, up to ``retries`` times, and a ``.part`` file left by an earlier command is resumed too.

    Deadlines: ``timeout`` seconds to connect (and for any one read), a stall when fewer than 64 KB arrive in
    ``stall`` seconds, and ``deadline`` seconds for the whole archive, retries included."""
    if not MONTH.match(month):
        raise DataError(f"{month!r} is not a month written YYYY-MM")
    base = check_base(base)
    folder = Path(folder)
    target, part = folder / f"{month}.zip", folder / f"{month}.zip.part"
    if target.is_file() and zipfile.is_zipfile(target):
        return target, False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"{folder}: cannot keep the archives there ({exc.strerror or exc})") from None
    url = archive_url(month, base)
    ends = time.monotonic() + deadline
    for attempt in range(retries + 1):
        try:
            _download(url, part, timeout, progress, stall, ends)
            break
        except _Late as late:
            raise FetchError(f"{url}: not whole after {deadline:g} s; run the command again to resume from "
                             f"{late.args[0]} bytes") from None
        except (ConnectionError, TimeoutError, socket.timeout, http.client.IncompleteRead, _Short) as exc:
            if attempt == retries or time.monotonic() >= ends:
                times = "once" if attempt == 0 else f"{attempt + 1} times"
                raise FetchError(f"{url}: the download broke off {times} (last: {exc}); run the command again to "
                                 f"resume from {_size(part)} bytes") from None
    if not zipfile.is_zipfile(part):
        with part.open("rb") as handle:
            head = handle.read(40)
        part.unlink()
        raise FetchError(f"{url}: the server sent a file that is not a zip (it begins {head!r})")
    part.replace(target)
    return target, True


class _Short(Exception):
    """The server closed the connection before the length it announced, or sent too little for too long."""


class _Late(Exception):
    """The whole download's deadline passed; holds the bytes done."""


def _size(part: Path) -> int:
    return part.lstat().st_size if part.is_file() and not part.is_symlink() else 0


def _open_part(part: Path, append: bool):
    """The ``.part`` file for writing, never through a symbolic link planted in its place."""
    if part.is_symlink():
        raise FetchError(f"{part}: is a symbolic link, not a download of ours; remove it and fetch again")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if append else os.O_TRUNC)
    try:
        return os.fdopen(os.open(part, flags, 0o644), "ab" if append else "wb")
    except OSError as exc:
        raise FetchError(f"{part}: cannot be written ({exc.strerror or exc})") from None


def _download(url: str, part: Path, timeout: float, progress: Callable[[int, int], None] | None,
              stall: float = STALL_SECONDS, ends: float = float("inf")) -> None:
    have = _size(part)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=min(timeout, stall))
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
    except http.client.HTTPException as exc:
        if isinstance(exc, (http.client.IncompleteRead, ConnectionError)):
            raise
        raise FetchError(f"{url}: the server does not answer as a web server should ({_protocol(exc)})") from None
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        try:
            total = (have if resumed else 0) + int(length) if length else 0
        except ValueError:
            raise FetchError(f"{url}: the server does not answer as a web server should (Content-Length "
                             f"{length[:40]!r})") from None
        done = have if resumed else 0
        mark, marked = time.monotonic(), done
        with _open_part(part, resumed) as out:
            while chunk := response.read1(CHUNK):
                out.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if done - marked >= STALL_BYTES:
                    mark, marked = now, done
                elif now - mark > stall:
                    raise _Short(f"less than {STALL_BYTES >> 10} KB in {stall:g} s")
                if now > ends:
                    raise _Late(done)
                if progress:
                    progress(done, total)
    if total and done < total:
        raise _Short(f"{done} of {total} bytes")


def _protocol(exc: http.client.HTTPException) -> str:
    """What was wrong with a server's answer, in a few words."""
    if isinstance(exc, http.client.LineTooLong):
        return "a header line over 64 KB"
    if isinstance(exc, http.client.BadStatusLine):
        return "no HTTP status line"
    text = str(exc) or type(exc).__name__
    return text[:80]
