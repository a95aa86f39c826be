"""The shared loopback fakes (tests/fakes.py) do what the tests rely on."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.fakes import HangingServer, LoopbackHttpServer, Request, Response


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # straight to loopback, whatever proxy the machine has set
    return session


def test_answers_with_the_responder_and_records_each_request() -> None:
    def respond(request: Request) -> Response:
        return Response(201, request.body[::-1], "application/json", {"X-Seen": request.method})

    with LoopbackHttpServer(respond, host="127.0.0.9") as server, _session() as session:
        assert server.url.startswith("http://127.0.0.9:")
        answer = session.post(server.url + "/a?b=%20c", data=b"abc", timeout=5)
        head = session.head(server.url + "/h", timeout=5)

    assert (answer.status_code, answer.content, answer.headers["X-Seen"]) == (201, b"cba", "POST")
    assert answer.headers["Content-Type"] == "application/json"
    assert (head.status_code, head.content) == (201, b"")
    assert [(r.method, r.target, r.body) for r in server.requests] == [
        ("POST", "/a?b=%20c", b"abc"),
        ("HEAD", "/h", b""),
    ]
    assert server.paths == ["/a?b=%20c", "/h"]


def test_a_responder_that_raises_gives_500_and_fails_close() -> None:
    def respond(request: Request) -> Response:
        raise LookupError("no such fixture")

    server = LoopbackHttpServer(respond).start()
    with _session() as session:
        assert session.get(server.url, timeout=5).status_code == 500
    with pytest.raises(LookupError, match="no such fixture"):
        server.close()


def test_close_stops_serving_and_frees_the_port() -> None:
    server = LoopbackHttpServer(lambda request: Response()).start()
    port = server.port
    server.close()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.settimeout(5)
        probe.connect(("127.0.0.1", port))


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::1", "localhost"])
def test_only_127_0_0_0_8_is_accepted(host: str) -> None:
    with pytest.raises(ValueError):
        LoopbackHttpServer(lambda request: Response(), host=host)
    with pytest.raises(ValueError):
        HangingServer(host, 0)


def test_the_hanging_server_accepts_connections_and_never_answers() -> None:
    with HangingServer("127.0.0.9", 0) as server, socket.create_connection(("127.0.0.9", server.port), 5) as client:
        client.sendall(b"GET / HTTP/1.0\r\n\r\n")
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            client.recv(1)
