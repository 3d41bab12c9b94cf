"""Hostile servers and folders for ``forecast fetch``: a server that does not speak HTTP, floods headers, stalls
or dribbles; an address that is not one; a cache or target folder that cannot be written; a ``.part`` symlink
planted to make the download write elsewhere. Each is one line and no traceback (each was a traceback, a
download without end, or a write through the link at ce3d484)."""

import contextlib
import socket
import threading
import time

import pytest

from test_street_zip import archive

from forecast.io.fetch import FetchError, fetch_month


@contextlib.contextmanager
def raw_server(answer):
    """A loopback TCP server that reads a request and calls ``answer(connection)``; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.recv(65536)
                with contextlib.suppress(OSError):
                    answer(connection, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("reply,problem", [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "no HTTP status line"),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n", "got more than 100 headers"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"y" * 70_000 + b"\r\n\r\n", "a header line over 64 KB"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nPK", "Content-Length 'lots'"),
])
def test_a_server_that_does_not_speak_http_is_one_line(tmp_path, invoke, reply, problem):
    with raw_server(lambda c, stop: c.sendall(reply)) as url:
        line = one_line(invoke("fetch", "2024-03", "--to", tmp_path, "--url", url), 1)
    assert line == f"Error: {url}2024-03.zip: the server does not answer as a web server should ({problem})"
    assert list(tmp_path.iterdir()) == []


def _dribble(body: bytes, pause: float, size: int = 1):
    def answer(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), size):
            if stop.is_set():
                return
            connection.sendall(body[i:i + size])
            time.sleep(pause)
    return answer


def test_a_server_sending_a_byte_at_a_time_stalls_out(tmp_path):
    with raw_server(_dribble(b"PK" + b"x" * 1000, 0.2)) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetch_month("2024-03", tmp_path, url, retries=1, stall=1.0)
    assert 2.0 <= time.monotonic() - started < 6
    assert str(caught.value).startswith(f"{url}2024-03.zip: the download broke off 2 times (last: less than 64 KB in "
                                        "1 s); run the command again to resume from ")


def test_a_download_not_whole_by_its_deadline_stops_and_can_be_resumed(tmp_path):
    with raw_server(_dribble(b"PK" + b"x" * (4 << 20), 0.05, 128 << 10)) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetch_month("2024-03", tmp_path, url, deadline=0.5)
    assert time.monotonic() - started < 2
    done = (tmp_path / "2024-03.zip.part").stat().st_size
    assert 0 < done < 4 << 20
    assert str(caught.value) == (f"{url}2024-03.zip: not whole after 0.5 s; run the command again to resume from "
                                 f"{done} bytes")


def test_an_address_that_is_not_one_is_refused(tmp_path, invoke):
    line = one_line(invoke("fetch", "2024-03", "--to", tmp_path, "--url", "not a url"), 2)
    assert line == "Error: --url 'not a url' is not an http:// or https:// address of a server"


def test_a_cache_folder_that_is_a_file_is_one_line(tmp_path, invoke, monkeypatch):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "cache"))
    line = one_line(invoke("fetch", "2024-03", "--url", "http://127.0.0.1:9/"), 1)
    assert line == f"Error: {tmp_path / 'cache' / 'archives'}: cannot keep the archives there (Not a directory)"


def test_a_target_that_cannot_be_written_is_one_line(tmp_path, invoke):
    body = archive(tmp_path / "built.zip").read_bytes()
    (tmp_path / "to").mkdir()
    (tmp_path / "to" / "2024-03.zip.part").mkdir()
    with raw_server(_dribble(body, 0, len(body))) as url:
        line = one_line(invoke("fetch", "2024-03", "--to", tmp_path / "to", "--url", url), 1)
    assert line == f"Error: {tmp_path / 'to' / '2024-03.zip.part'}: cannot be written (Is a directory)"


def test_a_planted_part_symlink_is_not_written_through(tmp_path, invoke):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "archives"
    folder.mkdir()
    (folder / "2024-03.zip.part").symlink_to(victim)
    body = archive(tmp_path / "built.zip").read_bytes()
    with raw_server(_dribble(body, 0, len(body))) as url:
        line = one_line(invoke("fetch", "2024-03", "--to", folder, "--url", url), 1)
    assert line == (f"Error: {folder / '2024-03.zip.part'}: is a symbolic link, not a download of ours; remove it and "
                    "fetch again")
    assert victim.read_text() == "keep me"
