"""The WSGI app every "task" of the client tests runs under real gunicorn (gthread, keep-alive).

It answers by path, so one set of long-lived tasks serves every test:

- ``/health``: ``ok``;
- ``/slow?bytes=N&interval=S[&chunked=1]``: N bytes, one every S seconds (Content-Length unless chunked);
- ``/big?bytes=N``: N bytes at once;
- ``/status/CODE``: that status with a short text body;
- ``/gzip``: a gzip-encoded JSON body;
- anything else: JSON echoing what the task received (address, port, method, path, query, Host, body).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_MAX_SLOW_BYTES = 1000
_MAX_BIG_BYTES = 16 * 1024 * 1024


def _trickle(count: int, interval: float) -> Iterator[bytes]:
    for _ in range(count):
        time.sleep(interval)
        yield b"x"


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path: str = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    # Set by the fixture that starts this task: SERVER_NAME would be the Host header's name.
    address, port = os.environ.get("TASK_ADDRESS", ""), os.environ.get("TASK_PORT", "0")
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    if path == "/slow":
        count = min(int(query.get("bytes", ["10"])[0]), _MAX_SLOW_BYTES)
        interval = min(float(query.get("interval", ["0.3"])[0]), 5.0)
        headers = [("Content-Type", "text/plain")]
        if "chunked" not in query:
            headers.append(("Content-Length", str(count)))
        start_response("200 OK", headers)
        return _trickle(count, interval)
    if path == "/big":
        size = min(int(query.get("bytes", ["1048577"])[0]), _MAX_BIG_BYTES)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))])
        return [b"x" * size]
    if path.startswith("/status/"):
        code = int(path.removeprefix("/status/"))
        body = f"status {code} from {address}".encode()
        start_response(f"{code} Whatever", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/gzip":
        body = gzip.compress(json.dumps({"address": address, "gzip": True}).encode())
        headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    received = environ["wsgi.input"].read(length) if length else b""
    echo = {
        "address": address,
        "port": int(port or 0),
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": environ.get("QUERY_STRING", ""),
        "host": environ.get("HTTP_HOST", ""),
        "request_id": environ.get("HTTP_X_REQUEST_ID", ""),
        "body": received.decode("utf-8", "replace"),
    }
    body = json.dumps(echo).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
