"""The local run's control channel as an attacker or a careless caller meets it: a real server on
loopback, real sockets, raw bytes. The run behind it is a real LocalDeployment that has not started
(as in the first second after the control file appears), so no task runs and every answer comes
from the channel itself.

Every request gets an HTTP answer (4xx when it is malformed, 401 before anything else without the
token) or is dropped; the server never prints a traceback and serves a normal caller afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecs_discovery_tools.cli.main import main as cli_main
from ecs_discovery_tools.local.assembly import StackSpec
from ecs_discovery_tools.local.control_server import ControlServer
from ecs_discovery_tools.local.deployment import LocalDeployment

# Short enough for a test, long enough for a loaded machine to send a whole request in one go.
TIME_LIMIT_S = 0.5
# Every wait below is bounded by this many rounds of this pause, not by a clock assertion.
ROUNDS = 200
PAUSE_S = 0.1


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the server closed the connection without an answer
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return json.loads(self.body)


@dataclass
class Channel:
    server: ControlServer
    deployment: LocalDeployment
    token: str
    port: int

    def raw(self, data: bytes, *, shut_write: bool = True) -> Answer:
        """Send ``data``, read the answer until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
            return read_answer(sock)

    def request(self, method: str, target: str, *, token: bool = True, headers: str = "", body: bytes = b"") -> Answer:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            head += f"Authorization: Bearer {self.token}\r\n"
        if body and "content-length" not in headers.lower():
            head += f"Content-Length: {len(body)}\r\n"
        return self.raw((head + headers + "\r\n").encode("latin-1") + body)

    def serves_a_normal_caller(self) -> bool:
        answer = self.request("GET", "/events?since=0")
        return answer.status == 200 and "events" in answer.json()


def read_answer(sock: socket.socket) -> Answer:
    chunks: list[bytes] = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > 1_000_000:
                break
    except ConnectionResetError:
        pass
    data = b"".join(chunks)
    if not data:
        return Answer(None, {}, b"")
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ")
    assert version in ("HTTP/1.0", "HTTP/1.1"), status_line
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return Answer(int(status), headers, body)


def handler_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "process_request_thread" in thread.name]


def wait_for_handlers_to_finish() -> None:
    for _ in range(ROUNDS):
        if not handler_threads():
            return
        time.sleep(PAUSE_S)
    raise AssertionError(f"handler threads still running: {handler_threads()}")


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Channel]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    deployment = LocalDeployment(StackSpec("Local", "corp", "Namespace", ()), log_dir)
    server = ControlServer(deployment, tmp_path / "control" / "control.json", request_time_limit=TIME_LIMIT_S)
    server.start()
    document = json.loads(server.control_file.read_text())
    try:
        yield Channel(server, deployment, document["token"], int(document["url"].rsplit(":", 1)[1]))
    finally:
        server.stop()
        wait_for_handlers_to_finish()


@pytest.fixture
def quiet(capfd):
    """Fails the test if anything (a traceback) reached stderr, once every handler has finished."""
    yield
    wait_for_handlers_to_finish()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err


# -- issue 19: a caller that goes away, a run that is not up yet ------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_a_long_poll_whose_caller_went_away_ends_without_a_traceback(channel, quiet, reset):
    # `ecs-discovery local events --follow` interrupted with Ctrl-C: its long poll is still waiting.
    sock = socket.create_connection(("127.0.0.1", channel.port), timeout=10)
    sock.sendall(f"GET /events?since=0&wait=30 HTTP/1.1\r\nAuthorization: Bearer {channel.token}\r\n\r\n".encode())
    for _ in range(ROUNDS):  # the handler is in the long poll once it holds its slot
        if len(handler_threads()) == 1 and channel.server.busy_slots() == 1:
            break
        time.sleep(PAUSE_S)
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()

    # The next events wake the poll, whose answer now goes to a closed socket.
    for number in range(3):
        channel.deployment.events.add("service_scaled", "worker", f"event {number}")

    wait_for_handlers_to_finish()
    assert channel.serves_a_normal_caller()


def test_status_answers_503_starting_until_the_run_is_up(channel, quiet):
    for method, target, body in [
        ("GET", "/status", b""),
        ("POST", "/scale", b'{"counts": {"worker": 2}}'),
        ("POST", "/stop-task", b'{"task_id": "' + b"0" * 32 + b'"}'),
        ("POST", "/deploy", b'{"service": "worker"}'),
    ]:
        answer = channel.request(method, target, body=body)
        assert (answer.status, answer.json()["error"]) == (503, "starting: the local run is not up yet"), target
    # The event log is there from the first moment: `events --follow` can watch the start.
    assert channel.serves_a_normal_caller()


# -- issue 20: the token file ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.parametrize("stale", ["temporary 0644", "temporary 0666", "control file 0644", "temporary symlink"])
def test_the_control_file_is_0600_whatever_was_on_disk(tmp_path, stale):
    control_file = tmp_path / "control" / "control.json"
    control_file.parent.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the token")
    temporary = control_file.with_name(control_file.name + ".tmp")  # the name earlier versions used
    if stale == "temporary 0644":
        temporary.write_text("{}")
        temporary.chmod(0o644)
    elif stale == "temporary 0666":
        temporary.write_text("{}")
        temporary.chmod(0o666)
    elif stale == "control file 0644":
        control_file.write_text("{}")
        control_file.chmod(0o644)
    else:
        temporary.symlink_to(elsewhere)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    server = ControlServer(LocalDeployment(StackSpec("Local", "corp", "Namespace", ()), log_dir), control_file)

    server.start()
    try:
        assert not control_file.is_symlink()
        assert _mode(control_file) == 0o600
        assert json.loads(control_file.read_text())["token"] == server.token
        assert elsewhere.read_text() == "not the token"
        assert not [path for path in control_file.parent.iterdir() if path.name.endswith(".tmp") and path != temporary]
    finally:
        server.stop()
    assert not control_file.exists()


# -- issue 20: every request gets an answer ---------------------------------------------------------

MANY_FIELDS = "/events?a&b&c&d&e&f"


@pytest.mark.parametrize(
    "target",
    [
        MANY_FIELDS,
        "/events?" + "&".join(f"x{n}=1" for n in range(500)),
        "/events?since=%zz",
        "/events?service=%ff%fe",
        "/events?since=1&since=2",
        "/events?service=%00worker",
        "/status?x=\x01",
        "/st%C3%A4tus",
        "/nope",
    ],
)
def test_without_the_token_every_request_is_401_first(channel, quiet, target):
    answer = channel.request("GET", target, token=False)

    assert answer.status == 401, answer
    assert "token" in answer.json()["error"]
    assert channel.serves_a_normal_caller()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (MANY_FIELDS, "at most 3 query parameters"),
        ("/events?" + "&".join(f"x{n}=1" for n in range(500)), "at most 3 query parameters"),
        ("/events?since=%zz", "since="),
        ("/events?service=%ff%fe", "not UTF-8"),
        ("/events?since=1&since=2", "given twice"),
        ("/events?service=%00worker", "service="),
        ("/events?service=w%C3%B6rker", "service="),
        ("/events?wait=31", "wait="),
        ("/events?since=99999999999999999999999", "since="),
        ("/events?nope=1", "unknown query parameter"),
        ("/events?since", "since="),
        ("/status?since=1", "takes no query"),
        ("/events#fragment", "fragment"),
    ],
)
def test_a_bad_query_is_400_with_the_reason(channel, quiet, target, message):
    answer = channel.request("GET", target)

    assert answer.status == 400, answer
    assert message in answer.json()["error"]
    assert channel.serves_a_normal_caller()


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /status\r\n\r\n",  # HTTP/0.9
        b"GET /status HTTP/9.9\r\n\r\n",
        b"GET /status HTTP/1.1 extra\r\n\r\n",
        b"GET /status HTTX/1.1\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello
        b"GET /st\x00atus HTTP/1.1\r\n\r\n",
        b"GET /st\xc3\xa4tus HTTP/1.1\r\n\r\n",  # raw UTF-8 in the target
        b"GET /status HTTP/1.1\r\nX-\xff: \xfe\x00\x1b[31m\r\n\r\n",
        b"GET " + b"/" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"GET /status HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GET /status HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n",
        b"GET /status HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (n, b"a" * 400) for n in range(60)) + b"\r\n",
        b"GET /status HTTP/1.1\r\nno colon here\r\n\r\n",
        b"BREW /status HTTP/1.1\r\n\r\n",
        b"GET http://[/status HTTP/1.1\r\n\r\n",
    ],
    ids=lambda data: repr(data[:24]),
)
def test_a_malformed_request_gets_a_4xx(channel, quiet, data):
    answer = channel.raw(data)

    assert answer.status is not None and 400 <= answer.status < 500, answer
    assert json.loads(answer.body)["error"]
    assert channel.serves_a_normal_caller()


@pytest.mark.parametrize(
    ("method", "target", "headers", "body", "status"),
    [
        ("POST", "/scale", "Content-Length: 99999999999999999999999999\r\n", b"", 413),
        ("POST", "/scale", "Content-Length: 16385\r\n", b"", 413),
        ("POST", "/scale", "Content-Length: -1\r\n", b"", 400),
        ("POST", "/scale", "Content-Length: 1e3\r\n", b"", 400),
        ("POST", "/scale", "Content-Length: 0x10\r\n", b"", 400),
        ("POST", "/scale", "Content-Length: \xb9\r\n", b"", 400),  # a superscript one: isdigit() says yes
        ("POST", "/scale", "Content-Length: 2\r\nContent-Length: 3\r\n", b"{}", 400),
        ("POST", "/scale", "Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n", 411),
        ("POST", "/scale", "", b"", 411),
        ("POST", "/scale", "Content-Length: 10\r\n", b"{}", 400),  # shorter than announced, then EOF
        ("POST", "/scale", "", b'{"counts": NaN}', 400),
        ("POST", "/scale", "", b'{"counts": {"worker": 1e999}}', 400),
        ("POST", "/scale", "", b"\xff\xfe{}", 400),
        ("POST", "/scale", "", b"[" * 5000 + b"]" * 5000, 400),
        ("POST", "/deploy", "", b'{"service": "worker", "environment": {"A": "\\ud800"}}', 400),
        ("POST", "/scale", "", b'{"counts": {"worker": 1}, "counts": {"worker": 50}}', 400),
        ("GET", "/status", "", b"hello", 400),
        ("GET", "/status", "Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", 400),
        ("POST", "/status", "", b"{}", 405),
        ("GET", "/scale", "", b"", 405),
        ("DELETE", "/status", "", b"", 405),
        ("GET", "/nope", "", b"", 404),
        ("GET", "/status/../status", "", b"", 404),
    ],
)
def test_bad_bodies_and_methods_get_a_4xx(channel, quiet, method, target, headers, body, status):
    answer = channel.request(method, target, headers=headers, body=body)

    assert answer.status == status, answer
    assert json.loads(answer.body)["error"]
    assert channel.serves_a_normal_caller()


@pytest.mark.parametrize(
    "authorization",
    [
        "Authorization: Bearer wrong\r\n",
        "Authorization: bearer {token}\r\n",
        "Authorization: Basic {token}\r\n",
        "Authorization: Bearer {token}x\r\n",
        "Authorization: Bearer {token}\x00\r\n",
        "Authorization: Bearer {token}\r\nAuthorization: Bearer wrong\r\n",
        "Authorization: Bearer wrong\r\nAuthorization: Bearer {token}\r\n",
        "Authorization: Bearer \xe9{token}\r\n",
        "Authorization: {token}\r\n",
    ],
)
def test_only_exactly_the_token_is_accepted(channel, quiet, authorization):
    answer = channel.request("GET", "/events", token=False, headers=authorization.format(token=channel.token))

    assert answer.status == 401, answer


# -- issue 20: slow callers --------------------------------------------------------------------------


def _trickle(port: int, data: bytes) -> tuple[int, Answer]:
    """Send ``data`` one byte every PAUSE_S; returns how many bytes went out before the server answered
    or closed, and what it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for sent, byte in enumerate(data):
            readable, _, _ = select.select([sock], [], [], PAUSE_S)
            if readable:
                return sent, read_answer(sock)
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed by the server
                return sent, read_answer(sock)
        return len(data), read_answer(sock)


@pytest.mark.parametrize(
    "data",
    [
        b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n",
        b"POST /scale HTTP/1.1\r\nContent-Length: 150\r\n\r\n" + b" " * 150,
    ],
    ids=["head", "body"],
)
def test_a_request_sent_one_byte_at_a_time_is_cut_at_the_time_limit(channel, quiet, data):
    # At PAUSE_S a byte, the whole request would take far longer than TIME_LIMIT_S.
    sent, answer = _trickle(channel.port, data)

    assert sent < len(data)
    assert answer.status in (None, 408), answer
    assert channel.serves_a_normal_caller()


def test_slow_callers_holding_every_connection_go_and_a_normal_caller_is_served(channel, quiet):
    slow = [socket.create_connection(("127.0.0.1", channel.port), timeout=10) for _ in range(40)]
    try:
        for sock in slow:
            with contextlib.suppress(OSError):  # one over the cap may be closed already
                sock.sendall(b"G")
        # Those over the cap are answered 503 at once; the others are cut at the time limit.
        answers = [read_answer(sock) for sock in slow]
        assert all(answer.status in (None, 408, 503) for answer in answers), answers
        assert sum(answer.status == 503 for answer in answers) >= 40 - 32, [a.status for a in answers]
    finally:
        for sock in slow:
            sock.close()
    assert channel.serves_a_normal_caller()


# -- issue 20: what deploy may change ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GUNICORN_CMD_ARGS", "--bind 0.0.0.0:8080"),
        ("GUNICORN_WORKERS", "100000"),
        ("GUNICORN_THREADS", "100000"),
        ("GUNICORN_FD", "3"),
        ("GUNICORN_SOMETHING_NEW", "1"),
        ("WEB_CONCURRENCY", "100000"),
        ("BIND_HOST", "0.0.0.0"),
        ("PORT", "80"),
        ("LISTEN_FDS", "1"),
        ("LISTEN_PID", "1"),
    ],
)
def test_deploy_refuses_variables_that_change_how_a_task_binds_or_how_many_processes_it_runs(
    channel, quiet, name, value
):
    body = json.dumps({"service": "worker", "environment": {"MESSAGE": "v2", name: value}}).encode()

    answer = channel.request("POST", "/deploy", body=body)

    assert answer.status == 400, answer
    error = answer.json()["error"]
    assert name in error and "the local run controls" in error and "\n" not in error


def test_the_control_file_directory_stays_private(channel):
    assert _mode(channel.server.control_file.parent) & 0o077 == 0
    assert os.stat(channel.server.control_file).st_uid == os.getuid()


def test_the_cli_during_start_up_says_starting_with_exit_1(channel):
    out, err = io.StringIO(), io.StringIO()

    code = cli_main(["local", "--control-file", str(channel.server.control_file), "status"], out=out, err=err)

    # Like 'no local run is up' (1), not a usage error (2): the same command works a moment later.
    assert code == 1
    assert err.getvalue() == "ecs-discovery: error: local run: starting: the local run is not up yet\n"
