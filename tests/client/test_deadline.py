"""Issue 20: one deadline covers the whole call, the status line and headers included, in the client and
in both adapters; failures come out as typed kinds and as each HTTP library's own exception types.

The peers are real loopback servers (tests/client/peers.py, tests/fakes.py); the outcome is asserted
(which error, that the server saw the connection closed before its answer was out), never elapsed time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import requests

from ecs_discovery_client import (
    Deadline,
    DiscoveryClient,
    DiscoverySettings,
    ErrorCategory,
    FailureKind,
    ResolutionError,
    ResolutionFailure,
    UnreachableError,
)
from ecs_discovery_client._client import attempt_timeout
from ecs_discovery_client.httpx_transport import discovery_httpx_client
from ecs_discovery_client.requests_adapter import DiscoveryRequestError, discovery_session
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.client.conftest import DEAD, MARGIN, TASK_HOSTS, FakeClock, settings_for
from tests.client.peers import TricklingServer
from tests.fakes import HangingServer

# A status line and headers of 60 bytes, then a 2-byte body: at 0.2 s a byte, 12.4 s in all.
TRICKLED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: " + b"a" * 18 + b"\r\n\r\nok"
BYTE_INTERVAL = 0.2


# -- what urllib3 is given --------------------------------------------------------------


def test_urllib3_gets_what_is_left_of_the_deadline_as_its_total() -> None:
    # Before: connect and read were each capped at the remaining time, so connect plus the first
    # byte could take twice what was left.
    clock = FakeClock()
    settings = DiscoverySettings(connect_timeout=0.5, read_timeout=3.0, deadline=5.0)
    deadline = Deadline(5.0, clock=clock)
    timeout = attempt_timeout(settings, deadline)
    assert (timeout.total, timeout.connect_timeout, timeout.read_timeout) == (5.0, 0.5, 3.0)
    clock.advance(4.6)
    timeout = attempt_timeout(settings, deadline)
    assert timeout.total == pytest.approx(0.4)
    assert timeout.connect_timeout == pytest.approx(0.4)
    # urllib3 takes the read time from the same total once the connect starts: what the connect
    # used is not given again.
    timeout.start_connect()
    read_timeout = timeout.read_timeout
    assert read_timeout is not None and read_timeout <= 0.4


# -- a peer that trickles its status line and headers -----------------------------------------


@pytest.fixture
def trickling() -> Iterator[Callable[..., TricklingServer]]:
    servers: list[TricklingServer] = []

    def start(answer: bytes = TRICKLED_ANSWER, burst: int = 0) -> TricklingServer:
        server = TricklingServer(answer, BYTE_INTERVAL, burst=burst).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _short_deadline(dns: LoopbackDnsServer, **overrides: object) -> DiscoverySettings:
    # Every byte comes well within the read timeout (0.2 s of 1 s): only the deadline can stop it.
    return settings_for(dns, deadline=1.5, read_timeout=1.0, max_attempts=1, **overrides)


def test_a_trickled_status_line_ends_at_the_deadline(
    dns: LoopbackDnsServer, trickling: Callable[..., TricklingServer], unique_name: str
) -> None:
    server = trickling(TRICKLED_ANSWER)
    dns.set_records(unique_name, a=[server.host])
    client = DiscoveryClient(unique_name, server.port, _short_deadline(dns))
    with pytest.raises(UnreachableError) as raised:
        client.call("/")
    assert raised.value.deadline_reached
    [failure] = raised.value.failures
    assert (failure.kind, failure.error) == (FailureKind.READ_TIMEOUT, "read timeout")
    assert raised.value.category is ErrorCategory.READ_TIMEOUT
    [served] = server.wait_done(1, timeout=MARGIN)
    assert served.closed_by_client  # the client hung up; the server did not finish
    assert served.sent < len(TRICKLED_ANSWER) - 2  # not even the headers were out


def test_a_trickled_body_without_a_length_is_not_taken_as_complete(
    dns: LoopbackDnsServer, trickling: Callable[..., TricklingServer], unique_name: str
) -> None:
    # A body delimited by the connection's end: the deadline's shutdown must not pass for that end.
    head = b"HTTP/1.0 200 OK\r\n\r\n"
    server = trickling(head + b"x" * 40, burst=len(head))  # the head at once, then the body by the byte
    dns.set_records(unique_name, a=[server.host])
    client = DiscoveryClient(unique_name, server.port, _short_deadline(dns))
    with pytest.raises(UnreachableError) as raised:
        client.call("/")
    assert raised.value.failures[0].kind is FailureKind.READ_TIMEOUT
    assert raised.value.failures[0].error == "deadline reached while reading the body"
    assert server.wait_done(1, timeout=MARGIN)[0].closed_by_client


def test_requests_raises_read_timeout_for_trickled_headers(
    dns: LoopbackDnsServer, trickling: Callable[..., TricklingServer], unique_name: str
) -> None:
    server = trickling(TRICKLED_ANSWER)
    dns.set_records(unique_name, a=[server.host])
    session = discovery_session(settings_for(dns, max_attempts=1))
    url = f"http://{unique_name}:{server.port}/"
    try:
        session.get(url, timeout=(0.3, 1.0))  # one deadline of 1.3 s for the whole call
    except requests.exceptions.ReadTimeout as error:
        assert isinstance(error, DiscoveryRequestError)
        assert "deadline of 1.3 s reached" in str(error)
    else:
        pytest.fail("no ReadTimeout")
    assert server.wait_done(1, timeout=MARGIN)[0].closed_by_client


def test_httpx_raises_read_timeout_for_trickled_headers(
    dns: LoopbackDnsServer, trickling: Callable[..., TricklingServer], unique_name: str
) -> None:
    server = trickling(TRICKLED_ANSWER)
    dns.set_records(unique_name, a=[server.host])
    with discovery_httpx_client(settings_for(dns, max_attempts=1)) as client:
        try:
            client.get(f"http://{unique_name}:{server.port}/", timeout=httpx.Timeout(0.65))
        except httpx.TimeoutException as error:
            assert isinstance(error, httpx.ReadTimeout)
            assert "deadline of 1.3 s reached" in str(error)
        else:
            pytest.fail("no TimeoutException")
    assert server.wait_done(1, timeout=MARGIN)[0].closed_by_client


# -- each failure as the library's own exception ---------------------------------------------


def test_refused_is_a_connect_error_in_each_library(dns: LoopbackDnsServer, port: int, unique_name: str) -> None:
    dns.set_records(unique_name, a=DEAD[:2])
    url = f"http://{unique_name}:{port}/"
    with pytest.raises(UnreachableError) as raised:
        DiscoveryClient(unique_name, port, settings_for(dns)).call("/")
    assert {failure.kind for failure in raised.value.failures} == {FailureKind.CONNECTION_REFUSED}
    assert raised.value.category is ErrorCategory.CONNECT

    try:
        discovery_session(settings_for(dns)).get(url)
    except requests.exceptions.Timeout:
        pytest.fail("a refused connection is not a timeout")
    except requests.exceptions.ConnectionError as error:
        assert isinstance(error, DiscoveryRequestError)
    with discovery_httpx_client(settings_for(dns)) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            client.get(url)
        assert not isinstance(caught.value, httpx.TimeoutException)


def test_a_silent_dns_server_is_a_connect_timeout_in_each_library() -> None:
    with LoopbackDnsServer() as silent:
        silent.silent = True
        settings = settings_for(silent, dns_timeout=0.3, dns_lifetime=0.6, deadline=1.5)
        with pytest.raises(ResolutionError) as raised:
            DiscoveryClient("worker.corp", 8080, settings).call("/")
        assert raised.value.failure is ResolutionFailure.DNS_TIMEOUT
        with pytest.raises(requests.exceptions.ConnectTimeout):
            discovery_session(settings).get("http://worker.corp:8080/")
        with discovery_httpx_client(settings) as client, pytest.raises(httpx.ConnectTimeout):
            client.get("http://worker.corp:8080/")


def test_nxdomain_is_a_connect_error_in_each_library(dns: LoopbackDnsServer) -> None:
    url = "http://missing.client.test:8080/"
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        discovery_session(settings_for(dns)).get(url)
    assert not isinstance(caught.value, requests.exceptions.Timeout)
    with discovery_httpx_client(settings_for(dns)) as client, pytest.raises(httpx.ConnectError):
        client.get(url)


def test_a_task_that_never_answers_is_a_read_timeout_in_each_library(
    dns: LoopbackDnsServer, hanging: Callable[[str], HangingServer], port: int, unique_name: str
) -> None:
    hanging(TASK_HOSTS[16])
    dns.set_records(unique_name, a=[TASK_HOSTS[16]])
    settings = settings_for(dns, max_attempts=1, first_byte_timeout=0.3)
    with pytest.raises(UnreachableError) as raised:
        DiscoveryClient(unique_name, port, settings).call("/")
    assert raised.value.failures[0].kind is FailureKind.READ_TIMEOUT
    url = f"http://{unique_name}:{port}/"
    with pytest.raises(requests.exceptions.ReadTimeout):
        discovery_session(settings).get(url)
    with discovery_httpx_client(settings) as client, pytest.raises(httpx.ReadTimeout):
        client.get(url)


def test_an_answer_cut_short_is_a_read_error_in_each_library(dns: LoopbackDnsServer, unique_name: str) -> None:
    # 20 of the 100 bytes promised, then the connection closes.
    server = TricklingServer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 20, 0.0).__enter__()
    try:
        dns.set_records(unique_name, a=[server.host])
        settings = settings_for(dns, max_attempts=1)
        with pytest.raises(UnreachableError) as raised:
            DiscoveryClient(unique_name, server.port, settings).call("/")
        assert raised.value.failures[0].kind is FailureKind.CONNECTION_BROKEN
        assert raised.value.category is ErrorCategory.READ
        url = f"http://{unique_name}:{server.port}/"
        with pytest.raises(requests.exceptions.ConnectionError) as caught:
            discovery_session(settings).get(url)
        assert not isinstance(caught.value, requests.exceptions.Timeout)
        with discovery_httpx_client(settings) as client, pytest.raises(httpx.ReadError):
            client.get(url)
    finally:
        server.__exit__(None, None, None)
