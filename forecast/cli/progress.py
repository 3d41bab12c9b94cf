"""Progress on stderr: a bar on a terminal, one line at the end in a log (files read, bytes fetched, series
done)."""

from __future__ import annotations

import sys
import time

import click

from forecast.words import plural


class FileProgress:
    """A progress bar on stderr over the files being read, shown once the first is done (a bundled or tidy input
    reads no street files and shows nothing). Off a terminal, one line at the end when the read took a while."""

    def __init__(self, label: str, quiet_seconds: float = 1.0):
        self.label, self.quiet_seconds = label, quiet_seconds
        self.bar, self.done, self.total = None, 0, 0

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done, self.total = done, total

    def __exit__(self, *exc):
        if self.bar is not None:
            return self.bar.__exit__(*exc)
        took = time.perf_counter() - self.started
        if exc[0] is None and self.done and took >= self.quiet_seconds:
            click.echo(f"{self.label}: {plural(self.done, 'street file')} in {took:.1f} s", err=True)
        return None


class ByteProgress(FileProgress):
    """A progress bar on stderr over the bytes of a download (a terminal only: a log gets the result line)."""

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and sys.stderr.isatty() and total:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_percent=True)
            self.bar.__enter__()
            self.bar.update(done)
        elif self.bar is not None:
            self.bar.update(done - self.done)
        self.done, self.total = done, total

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc) if self.bar is not None else None


class Progress:
    """A progress bar on stderr, advanced once per finished series. When stderr is not a terminal (a log file,
    a pipe) there is no bar, only one line at the end: what was done, for how many series, in how long."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.live = sys.stderr.isatty()
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True,
                                     item_show_func=lambda f: None if f is None else f"{f.crime_type} / {f.area}") \
            if self.live else None

    def __enter__(self):
        self.started = time.perf_counter()
        if self.bar:
            self.bar.__enter__()
        return self

    def __call__(self, item) -> None:
        self.done += 1
        if self.bar:
            self.bar.update(1, item)

    def __exit__(self, *exc):
        if self.bar:
            return self.bar.__exit__(*exc)
        if exc[0] is None:
            click.echo(f"{self.label}: {self.done} of {self.total} series in {time.perf_counter() - self.started:.1f} s",
                       err=True)
        return None

