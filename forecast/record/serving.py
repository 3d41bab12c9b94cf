"""``forecast serve``: MLflow's scoring server for a registered model, behind a guard that answers every request
it cannot serve with a 4xx and one line.

MLflow's server (:func:`mlflow.pyfunc.scoring_server.init`) speaks the protocol clients know (POST /invocations
with ``dataframe_records``, GET /ping). Left to itself it answers a request without a Content-Type or with very
deep JSON with a 500, puts the request's data and, for an unexpected error, the Python stack trace and server
paths in its error body, and reads a body of any size. :class:`Guard` sits in front of it as ASGI middleware:
- ``/invocations`` takes ``application/json`` or ``text/csv`` (415 otherwise), at most :data:`MAX_BODY`
  bytes (413, read no further), JSON nested at most :data:`MAX_DEPTH` deep (400);
- every error the server answers is rewritten to ``{"error_code": ..., "message": one line}``: the reason alone,
  control characters escaped, at most 300 characters, never the request's data or a stack trace (that goes to
  the server's log).
"""

from __future__ import annotations

import json
import logging
import re
import sys

#: a request is a list of areas and horizons: a megabyte is thousands of them
MAX_BODY = 1 << 20
MAX_DEPTH = 32
MAX_MESSAGE = 300
TYPES = ("application/json", "text/csv")

log = logging.getLogger("forecast.serve")
#: how MLflow wraps a model's error with the request's data: "Failed to predict data '...'. Error: ..."
_WRAPPED = re.compile(r"Failed to [a-z ]+ data '")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message on one line: MLflow's "Failed to predict data '...'. Error:" wrapper (which holds the request's
    data; the reason is after its last "Error:") and any stack trace dropped, control characters escaped, cut at ``limit`` characters."""
    from forecast.words import printable

    reason = re.split(r"Error:\s*", text)[-1] if _WRAPPED.match(text) else text
    reason = reason.strip().splitlines()[0] if reason.strip() else "the request could not be answered"
    reason = printable(reason)
    return reason if len(reason) <= limit else reason[:limit - 1] + "…"


def _depth(value, limit: int) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` (iteratively: no recursion of its own to overflow)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _json_horizons(parsed) -> list:
    """The horizons a JSON request asks for, in any of the scoring protocol's layouts."""
    if not isinstance(parsed, dict):
        return []
    rows = parsed.get("dataframe_records") or parsed.get("instances")
    if isinstance(rows, list):
        return [r.get("horizon") for r in rows if isinstance(r, dict)]
    split = parsed.get("dataframe_split")
    if isinstance(split, dict) and isinstance(split.get("columns"), list) and "horizon" in split["columns"]:
        at = split["columns"].index("horizon")
        return [r[at] for r in split.get("data") or [] if isinstance(r, list) and len(r) > at]
    inputs = parsed.get("inputs")
    if isinstance(inputs, dict):
        value = inputs.get("horizon")
        return value if isinstance(value, list) else [value]
    if isinstance(inputs, list):
        return [r.get("horizon") for r in inputs if isinstance(r, dict)]
    return []


def _csv_horizons(body: bytes) -> list:
    """The horizons of a CSV request, as text (MLflow's own parser refuses what is not CSV)."""
    import csv
    import io

    try:
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    except (csv.Error, UnicodeDecodeError):
        return []
    return [r.get("horizon") for r in rows]


def _not_whole(horizons: list) -> str | None:
    """Why one of the horizons asked for is not a whole number of months (MLflow's schema would cut 2.7 to 2)."""
    from forecast.errors import SelectionError
    from forecast.record.tracking import whole_months

    for value in horizons:
        if value is None:
            continue
        try:
            whole_months(value.strip() if isinstance(value, str) else value)
        except SelectionError as exc:
            return one_line(str(exc))
    return None


class Guard:
    """ASGI middleware in front of MLflow's scoring app: bounded, typed requests and one-line errors."""

    def __init__(self, app, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"].rstrip("/") == "/invocations" and scope["method"] == "POST":
            body = await self._body(scope, receive, send)
            if body is None:
                return
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        await self.app(scope, receive, _OneLineErrors(send))

    async def _body(self, scope, receive, send) -> bytes | None:
        """The request's body if it may be served, else None with the 4xx already answered."""
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get(b"content-type", "")
        if given.split(";")[0].strip().lower() not in TYPES:
            said = f"Content-Type {given!r}" if given else "no Content-Type"
            await send_json(send, 415, "UNSUPPORTED_MEDIA_TYPE", f"{said}: send application/json (or text/csv)")
            return None
        length = headers.get(b"content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await send_json(send, 413, "REQUEST_TOO_LARGE", self._too_large())
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await send_json(send, 413, "REQUEST_TOO_LARGE", self._too_large())
                return None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if given.split(";")[0].strip().lower() == "application/json":
            try:
                parsed = json.loads(body)
            except RecursionError:
                parsed = None
                deep = True
            except (ValueError, UnicodeDecodeError) as exc:
                await send_json(send, 400, "BAD_REQUEST", f"the body is not JSON ({one_line(str(exc), 120)})")
                return None
            else:
                deep = _depth(parsed, MAX_DEPTH)
            if deep:
                await send_json(send, 400, "BAD_REQUEST", f"the JSON nests deeper than {MAX_DEPTH} levels; send "
                                '{"dataframe_records": [{"area": ..., "horizon": ...}]}')
                return None
            horizons = _json_horizons(parsed)
        else:
            horizons = _csv_horizons(body)
        problem = _not_whole(horizons)
        if problem:
            await send_json(send, 400, "BAD_REQUEST", problem)
            return None
        return body

    def _too_large(self) -> str:
        return f"the request is over {self.max_body:,} bytes; ask for fewer areas at a time"


class _OneLineErrors:
    """A ``send`` that passes successful responses through and rewrites error responses to one line."""

    def __init__(self, send):
        self.send = send
        self.start = None
        self.body: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            if message["status"] < 400:
                return await self.send(message)
            self.start = message
            return None
        if self.start is None or message["type"] != "http.response.body":
            return await self.send(message)
        self.body.append(message.get("body", b""))
        if message.get("more_body", False):
            return None
        raw = b"".join(self.body)
        status = self.start["status"]
        try:
            answer = json.loads(raw)
            code, text = answer.get("error_code", "BAD_REQUEST"), str(answer.get("message", ""))
        except (ValueError, UnicodeDecodeError, AttributeError):
            code, text = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR", raw.decode("utf-8", "replace")
        if "stack_trace" in raw.decode("utf-8", "replace") or status >= 500:
            log.error("request failed (%s): %s", status, raw.decode("utf-8", "replace")[-4000:])
        if "unexpected error while evaluating the model" in text:
            text = "the model could not answer this request (its details are in the server's log)"
        await send_json(self.send, status, code, one_line(text))


async def send_json(send, status: int, code: str, message: str) -> None:
    """Answer with ``{"error_code": code, "message": message}``."""
    body = json.dumps({"error_code": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def app(model_uri: str, max_body: int = MAX_BODY):
    """The guarded scoring app of a model (``models:/...`` or a folder)."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    return Guard(scoring_server.init(mlflow.pyfunc.load_model(model_uri)), max_body)


def main(argv: list[str] | None = None) -> None:
    """``python -m forecast.record.serving MODEL_URI HOST PORT``: what ``forecast serve`` starts."""
    import uvicorn

    model_uri, host, port = argv or sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(app(model_uri), host=host, port=int(port), log_level="info", h11_max_incomplete_event_size=65536)


if __name__ == "__main__":
    main()
