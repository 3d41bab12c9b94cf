"""Hostile requests to ``forecast serve`` (MLflow's scoring server behind :class:`forecast.record.serving.Guard`):
each gets a 4xx and one line naming what is wrong, never the Python stack trace, the server's paths or the
request's own data; a body over the limit is not read; a horizon of 2.7 is refused, not cut to 2. At ce3d484
these were a 400 holding the stack trace, 500s, and a 200 MB body echoed back."""

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from forecast.cli import cli
from forecast.record import serving, tracking
from forecast.io import datasets
from click.testing import CliRunner


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An exported seasonal-naive Robbery model of two boroughs (a real run, recorded in a temporary store)."""
    root = tmp_path_factory.mktemp("served")
    frame = datasets.load("met-major").frame
    frame = frame[(frame["crime_type"] == "Robbery") & frame["area"].isin(["Camden", "Westminster"])]
    own = root / "own.csv"
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(own, index=False)
    with contextlib.chdir(root):
        run = CliRunner().invoke(cli, ["run", "--data", own, "--crime", "robbery", "--model", "snaive", "--jobs", "1",
                                       "--export", "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}",
                                       "--out", root / "out"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    run_id = run.stdout.split("recorded MLflow run ")[1].split()[0]
    return root / "models" / "robbery" / run_id


@pytest.fixture(scope="module")
def url(model_dir):
    """The guarded scoring server of that model, on a free loopback port, in this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tracking.verify_checksums(model_dir)
    server = uvicorn.Server(uvicorn.Config(serving.app(str(model_dir)), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/invocations"
    server.should_exit = True
    thread.join(10)


def raw_post(url, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """A request written by hand (headers urllib would add or fix are left out); the status and body answered."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head + b"\r\n" + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n\r\n")
    return int(status.split()[1]), rest


def post(url, body: bytes, content_type: str = "application/json"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def refused(answer) -> tuple[int, str]:
    """The status and message of a refusal, checking it is the one-line JSON and nothing more."""
    status, raw = answer
    body = json.loads(raw)
    assert set(body) == {"error_code", "message"}, body
    assert "\n" not in body["message"] and "Traceback" not in body["message"] and "/" not in body["message"][:1]
    assert len(body["message"]) <= 300
    return status, body["message"]


def records(*rows) -> bytes:
    return json.dumps({"dataframe_records": list(rows)}).encode()


def test_a_good_request_is_answered(url):
    status, raw = post(url, records({"area": "Camden", "horizon": 2}))
    assert status == 200
    assert [(p["area"], p["month"]) for p in json.loads(raw)["predictions"]] == [("Camden", "2019-01"),
                                                                                 ("Camden", "2019-02")]


AREAS = "All areas, Camden, Westminster"


@pytest.mark.parametrize("row,message", [
    ({"area": "", "horizon": 3}, f"area '': give an area's name (one of {AREAS}) or 'all'"),
    ({"area": "Camden"}, "Model is missing inputs ['horizon']."),
    ({"area": "Camden", "horizon": 2.7}, "horizon 2.7 is not a whole number of months"),
    ({"area": "Camden", "horizon": "3 months"}, "horizon '3 months' is not a whole number of months"),
    ({"area": "Camden", "horizon": 99}, "horizon 99: give 1 to 24 months"),
    ({"area": "Nowhere\x1b]0;pwned\x07", "horizon": 3}, f"area 'Nowhere\\x1b]0;pwned\\x07' matches no areas; valid: "
                                                        f"{AREAS}"),
])
def test_a_request_the_model_cannot_answer_is_a_400_in_one_line(url, row, message):
    assert refused(post(url, records(row))) == (400, message)


def test_a_fractional_horizon_is_refused_in_every_layout(url):
    message = (400, "horizon 2.5 is not a whole number of months")
    assert refused(post(url, json.dumps({"dataframe_split": {"columns": ["area", "horizon"],
                                                             "data": [["Camden", 2.5]]}}).encode())) == message
    assert refused(post(url, json.dumps({"inputs": {"area": ["Camden"], "horizon": [2.5]}}).encode())) == message
    assert refused(post(url, b"area,horizon\nCamden,2.5\n", "text/csv")) == (
        400, "horizon '2.5' is not a whole number of months")
    status, raw = post(url, b"area,horizon\nCamden,2\n", "text/csv")
    assert status == 200 and len(json.loads(raw)["predictions"]) == 2


def test_a_request_without_a_content_type_is_a_415(url):
    body = records({"area": "Camden", "horizon": 3})
    status, message = refused(raw_post(url, b"Content-Length: %d\r\n" % len(body), body))
    assert (status, message) == (415, "no Content-Type: send application/json (or text/csv)")
    assert refused(post(url, b"area=Camden", "application/x-www-form-urlencoded")) == (
        415, "Content-Type 'application/x-www-form-urlencoded': send application/json (or text/csv)")


def test_very_deep_json_is_a_400(url):
    for depth in (40, 200_000):
        body = b'{"dataframe_records": ' + b"[" * depth + b"]" * depth + b"}"
        assert refused(post(url, body)) == (400, 'the JSON nests deeper than 32 levels; send {"dataframe_records": '
                                                 '[{"area": ..., "horizon": ...}]}')


def test_a_body_over_the_limit_is_refused_unread_and_not_echoed(url):
    status, raw = raw_post(url, b"Content-Type: application/json\r\nContent-Length: 209715200\r\n", b"[" * 1000)
    assert status == 413 and len(raw) < 200
    assert json.loads(raw)["message"] == "the request is over 1,048,576 bytes; ask for fewer areas at a time"
    chunked = b'{"dataframe_records": [{"area": "' + b"x" * (2 << 20) + b'"}]}'
    request = urllib.request.Request(url, data=iter([chunked[:1 << 20], chunked[1 << 20:]]),
                                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with pytest.raises((urllib.error.HTTPError, ConnectionError, urllib.error.URLError)) as caught:
        urllib.request.urlopen(request, timeout=30)
    if isinstance(caught.value, urllib.error.HTTPError):
        assert caught.value.code == 413


def test_a_bad_body_under_the_limit_is_not_echoed(url):
    status, message = refused(post(url, b'{"dataframe_records": [{"area": "' + b"x" * 500_000 + b'"}'))
    assert status == 400 and message.startswith("the body is not JSON (") and len(message) < 200


def test_an_unexpected_failure_says_so_without_its_stack_trace(url):
    status, message = refused(post(url, json.dumps({"dataframe_split": {"columns": ["area"], "data": [[1, 2]]}})
                                   .encode()))
    assert 400 <= status < 500
    assert "File " not in message and "line " not in message


def test_one_line_keeps_the_reason_and_drops_the_data():
    wrapped = "Failed to predict data '   area\n0  secret'. \nError: area 'x' matches no areas"
    assert serving.one_line(wrapped) == "area 'x' matches no areas"
    assert serving.one_line("a\x1b[2Jb\nTraceback (most recent call last):") == "a\\x1b[2Jb"


def test_predict_refuses_a_horizon_that_is_not_whole(model_dir):
    import forecast as fc
    from forecast.errors import SelectionError

    with pytest.raises(SelectionError, match=r"^horizon 2.7 is not a whole number of months$"):
        fc.predict(model_dir=model_dir, areas="Camden", horizon=2.7)
    assert len(fc.predict(model_dir=model_dir, areas="Camden", horizon=2.0)) == 2
    assert [tracking.whole_months(v) for v in (None, "", "4", 5, 6.0)] == [3, 3, 4, 5, 6]
    for bad in (2.7, "two", True, "2.5", [3]):
        with pytest.raises(SelectionError, match="is not a whole number of months"):
            tracking.whole_months(bad)
