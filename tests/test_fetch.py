"""forecast fetch against a real HTTP server on the loopback interface, serving an archive this test builds."""

import contextlib
import http.server
import socket
import threading
import zipfile

import pytest

from test_street_zip import archive, expected

from forecast.io.load import load_panel


class Archives(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (name -> bytes) with byte ranges; ``drop`` names files whose first response breaks off
    half-way; ``log`` keeps each request's path and Range header."""

    files: dict = {}
    drop: set = set()
    log: list = []

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.log.append((self.path, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if name in self.drop:
            self.drop.discard(name)
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(files: dict):
    """A loopback HTTP server of ``files``; yields its archive URL."""
    Archives.files, Archives.drop, Archives.log = files, set(), []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archives)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/data/archive/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(tmp_path):
    zipped = archive(tmp_path / "built.zip").read_bytes()
    with serving({"2024-03.zip": zipped, "2024-04.zip": b"<html>Temporarily unavailable</html>" * 10}) as url:
        yield url


def test_fetch_downloads_then_skips(server, tmp_path, invoke):
    folder = tmp_path / "archives"
    result = invoke("fetch", "2024-03", "--to", folder, "--url", server)
    assert result.exit_code == 0, result.output
    size = len(Archives.files["2024-03.zip"])
    assert result.stdout == f"{folder / '2024-03.zip'}: downloaded, {size / 1e6:.1f} MB\n"
    assert (folder / "2024-03.zip").read_bytes() == Archives.files["2024-03.zip"]
    assert list(folder.iterdir()) == [folder / "2024-03.zip"]
    again = invoke("fetch", "2024-03", "--to", folder, "--url", server)
    assert again.stdout == f"{folder / '2024-03.zip'}: already there, {size / 1e6:.1f} MB\n"
    assert len(Archives.log) == 1
    panel = load_panel(folder / "2024-03.zip", forces="merseyside")
    assert panel.frame["count"].sum() == sum(expected(["merseyside"]).values())


def test_a_dropped_connection_is_resumed_with_a_range(server, tmp_path, invoke):
    Archives.drop = {"2024-03.zip"}
    folder = tmp_path / "archives"
    result = invoke("fetch", "2024-03", "--to", folder, "--url", server)
    assert result.exit_code == 0, result.output
    body = Archives.files["2024-03.zip"]
    assert (folder / "2024-03.zip").read_bytes() == body
    assert Archives.log == [("/data/archive/2024-03.zip", None),
                            ("/data/archive/2024-03.zip", f"bytes={len(body) // 2}-")]
    assert not (folder / "2024-03.zip.part").exists()


def test_a_part_left_by_an_earlier_command_is_resumed(server, tmp_path, invoke):
    folder = tmp_path / "archives"
    folder.mkdir()
    body = Archives.files["2024-03.zip"]
    (folder / "2024-03.zip.part").write_bytes(body[:1000])
    assert invoke("fetch", "2024-03", "--to", folder, "--url", server).exit_code == 0
    assert Archives.log == [("/data/archive/2024-03.zip", "bytes=1000-")]
    assert (folder / "2024-03.zip").read_bytes() == body


@pytest.mark.parametrize("month, message", [
    ("2031-01", "no such archive (HTTP 404); data.police.uk keeps the last 36 months, and publishes a month about "
                "two months after it ends"),
    ("2024-04", "the server sent a file that is not a zip (it begins b'<html>Temporarily unavailable</html><htm')"),
])
def test_404_or_not_a_zip_is_one_line_and_leaves_nothing(server, tmp_path, invoke, month, message):
    folder = tmp_path / "archives"
    result = invoke("fetch", month, "--to", folder, "--url", server)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {server}{month}.zip: {message}\n"
    assert list(folder.iterdir()) == []


def test_offline_is_one_line(tmp_path, invoke):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("fetch", "2024-03", "--to", tmp_path / "a", "--url", f"http://127.0.0.1:{port}/")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: http://127.0.0.1:{port}/2024-03.zip: cannot reach the server (Connection "
                             "refused); are you offline?\n")


def test_a_month_not_written_yyyy_mm_is_refused(tmp_path, invoke):
    result = invoke("fetch", "Sept 2024", "--to", tmp_path)
    assert result.exit_code == 2
    assert result.stderr == "Error: 'Sept 2024' is not a month written YYYY-MM\n"


def test_the_fetched_archive_is_a_zip(server, tmp_path, invoke):
    invoke("fetch", "2024-03", "--to", tmp_path, "--url", server)
    with zipfile.ZipFile(tmp_path / "2024-03.zip") as z:
        assert "2024-03/2024-03-merseyside-street.csv" in z.namelist()
