"""The local run's Service Connect proxy (local/proxy.py) against real loopback servers: test traffic to
green, production weights, and every kind of bad caller and bad upstream, each answered or dropped
without a traceback while a normal caller is still served."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from ecs_discovery_tools.local.proxy import Routes, ServiceConnectProxy, WeightedChoice

HEADER = "x-amzn-ecs-blue-green-test"


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        name = self.server.name  # type: ignore[attr-defined]
        if self.path == "/slow-body":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            with contextlib.suppress(OSError):  # the proxy hangs up at its deadline
                for _ in range(100):  # one byte every 0.1 s: 10 s for the body
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            return
        body = f"{name} {self.headers.get(HEADER, '-')} {self.headers.get('Connection', '-')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=5")
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


def _upstream(host: str, name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), _Upstream)
    server.daemon_threads = True
    server.name = name  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


@pytest.fixture
def upstreams() -> Iterator[dict[str, tuple[str, int]]]:
    servers = {
        "blue-1": _upstream("127.0.0.1", "blue-1"),
        "blue-2": _upstream("127.0.0.1", "blue-2"),
        "green-1": _upstream("127.0.0.1", "green-1"),
    }
    yield {name: server.server_address[:2] for name, server in servers.items()}  # type: ignore[misc]
    for server in servers.values():
        server.shutdown()
        server.server_close()


class _Switch:
    """The routes the proxy asks for, changed by the test."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes

    def __call__(self) -> Routes:
        return self.routes


@contextlib.contextmanager
def _proxy(routes: _Switch, **options: Any) -> Iterator[ServiceConnectProxy]:
    proxy = ServiceConnectProxy("worker.corp", "127.0.0.1", 0, routes, test_header=HEADER, **options)
    with proxy:
        yield proxy


def _get(proxy: ServiceConnectProxy, path: str = "/", **headers: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"http://{proxy.address}{path}", headers=headers, timeout=10)


def _served_by(proxy: ServiceConnectProxy, count: int, **headers: str) -> Counter[str]:
    return Counter(_get(proxy, **headers).text.split()[0] for _ in range(count))


def _raw(proxy: ServiceConnectProxy, data: bytes, *, read: bool = True) -> bytes:
    chunks = []
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        # A proxy that answers at once (503 busy) may have closed before the request is sent.
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):
            while read and (chunk := sock.recv(65536)):
                chunks.append(chunk)
    return b"".join(chunks)


def _routes(upstreams, *, green_percent: float = 0.0, test_to_green: bool = False) -> _Switch:
    return _Switch(
        Routes(
            blue=(upstreams["blue-1"], upstreams["blue-2"]),
            green=(upstreams["green-1"],),
            green_percent=green_percent,
            test_to_green=test_to_green,
        )
    )


# -- routing -----------------------------------------------------------------------------


def test_requests_with_the_test_header_reach_green_only_and_the_others_blue(upstreams):
    with _proxy(_routes(upstreams, test_to_green=True)) as proxy:
        tested = _served_by(proxy, 10, **{HEADER: "1"})
        production = _served_by(proxy, 10)

    assert tested == {"green-1": 10}
    assert production == {"blue-1": 5, "blue-2": 5}
    assert proxy.counts["answered_green_test"] == 10 and proxy.counts["answered_blue"] == 10


def test_the_test_header_is_forwarded_and_hop_by_hop_fields_are_not(upstreams):
    with _proxy(_routes(upstreams, test_to_green=True)) as proxy:
        answer = _get(proxy, **{HEADER: "smoke"})

    assert answer.text == "green-1 smoke -"  # the caller's Connection: keep-alive stays on its hop
    assert "keep-alive" not in {name.lower() for name in answer.headers}


def test_before_test_traffic_is_shifted_the_header_reaches_blue(upstreams):
    with _proxy(_routes(upstreams, test_to_green=False)) as proxy:
        assert _served_by(proxy, 4, **{HEADER: "1"}) == {"blue-1": 2, "blue-2": 2}


def test_an_exact_header_value_is_matched_exactly(upstreams):
    routes = _routes(upstreams, test_to_green=True)
    proxy = ServiceConnectProxy("worker.corp", "127.0.0.1", 0, routes, test_header=HEADER, test_header_value="on")
    with proxy:
        assert _served_by(proxy, 2, **{HEADER: "on"}) == {"green-1": 2}
        assert set(_served_by(proxy, 2, **{HEADER: "off"})) <= {"blue-1", "blue-2"}


@pytest.mark.parametrize("percent", [10.0, 25.0, 50.0, 0.1, 33.3])
def test_production_weights_are_exact_over_each_run_of_requests(percent):
    choice = WeightedChoice()

    picks = [choice.green(percent) for _ in range(1000)]

    assert sum(picks) == round(percent * 10)  # 1000 requests: percent x 10 of them
    assert sum(picks[:100]) in (int(percent), int(percent) + 1) or percent < 1


def test_the_weights_through_the_proxy(upstreams):
    routes = _routes(upstreams, green_percent=25.0)
    with _proxy(routes) as proxy:
        counts = _served_by(proxy, 40)
        routes.routes = Routes(blue=routes.routes.blue, green=routes.routes.green, green_percent=100.0)
        after = _served_by(proxy, 5)

    assert counts["green-1"] == 10 and counts["blue-1"] + counts["blue-2"] == 30
    assert after == {"green-1": 5}


def test_a_revision_without_healthy_tasks_gives_its_share_to_the_other(upstreams):
    routes = _Switch(Routes(blue=(), green=(upstreams["green-1"],), green_percent=0.0))
    with _proxy(routes) as proxy:
        assert _served_by(proxy, 3) == {"green-1": 3}
        routes.routes = Routes(blue=())
        answer = _get(proxy)

    assert answer.status_code == 503 and answer.json()["error"] == "no healthy upstream"


def test_a_refused_connect_moves_to_the_next_task(upstreams):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()  # nothing listens there once closed
    routes = _Switch(Routes(blue=(dead, upstreams["blue-2"])))
    with _proxy(routes) as proxy:
        assert _served_by(proxy, 4) == {"blue-2": 4}


# -- bad callers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"garbage\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", b"431"),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/9.9\r\n\r\n", b"400"),
    ],
)
def test_a_malformed_request_gets_a_4xx_and_the_proxy_serves_on(upstreams, capfd, data, status):
    with _proxy(_routes(upstreams)) as proxy:
        answer = _raw(proxy, data)
        assert answer.split(b" ")[1] == status, answer[:200]
        assert _get(proxy).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_request_over_its_size_limit_is_dropped(upstreams, capfd):
    with _proxy(_routes(upstreams), max_body_bytes=1000) as proxy:
        with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock, contextlib.suppress(OSError):
            # The proxy stops reading: a reset is fine.
            sock.sendall(b"GET / HTTP/1.1\r\n" + b"X-A: " + b"b" * 60000 + b"\r\n" + b"X-B: c\r\n" * 10)
            sock.sendall(b"X-C: " + b"d" * 60000 + b"\r\n\r\n")
            sock.recv(100)
        assert _get(proxy).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_request_trickled_one_byte_at_a_time_is_cut_at_its_deadline(upstreams, capfd):
    with _proxy(_routes(upstreams), request_deadline=0.5) as proxy:
        with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
            sent = 0
            started = time.monotonic()
            with contextlib.suppress(OSError):
                for byte in b"GET / HTTP/1.1\r\nHost: worker.corp\r\n" + b"X-Slow: y\r\n" * 100:
                    sock.sendall(bytes([byte]))
                    sent += 1
                    time.sleep(0.02)
                    if time.monotonic() - started > 20:
                        break
            closed = sock.recv(100) == b""
        assert closed and sent < 1000  # cut long before the request was complete
        assert _get(proxy).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_caller_that_goes_away_mid_answer_is_let_go_quietly(upstreams, capfd):
    with _proxy(_routes(upstreams)) as proxy:
        for _ in range(20):
            with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.sendall(b"GET / HTTP/1.1\r\nHost: worker.corp\r\n\r\n")
            # closed at once with a reset, before the answer
        assert _get(proxy).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_more_connections_than_the_cap_get_503_and_a_normal_caller_is_served_after(upstreams):
    with _proxy(_routes(upstreams), max_connections=4) as proxy:
        idle = [socket.create_connection((proxy.host, proxy.port), timeout=10) for _ in range(4)]
        try:
            time.sleep(0.2)  # accepted
            answer = _raw(proxy, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503")
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 10
        while _raw(proxy, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 503"):
            assert time.monotonic() < deadline, "the slots were never given back"
            time.sleep(0.1)


# -- bad upstreams ---------------------------------------------------------------------------


def test_an_upstream_that_trickles_its_answer_gets_504_at_the_deadline(upstreams, capfd):
    with _proxy(_Switch(Routes(blue=(upstreams["blue-1"],))), request_deadline=1.0) as proxy:
        answer = _get(proxy, "/slow-body")
        assert answer.status_code == 504 and answer.json()["error"] == "upstream request timeout"
        assert _get(proxy).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_an_upstream_that_answers_garbage_gets_502(capfd):
    listener = socket.create_server(("127.0.0.1", 0))

    def garbage() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"\x00\xffnot http at all\r\n\r\n")

    threading.Thread(target=garbage, daemon=True).start()
    try:
        with _proxy(_Switch(Routes(blue=(listener.getsockname()[:2],)))) as proxy:
            answer = _get(proxy)
        assert answer.status_code == 502
    finally:
        listener.close()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "localhost", "127.0.0.1\n", "::1"])
def test_the_proxy_binds_loopback_only(host):
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        ServiceConnectProxy("worker.corp", host, 0, _Switch(Routes(blue=())), test_header=HEADER)
