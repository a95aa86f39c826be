"""DiscoveryClient and Resolver against the real loopback DNS server (dnslib) and real HTTP servers.

No timing assertions: a call must end within its deadline plus a generous MARGIN, and everything
else is checked by cause (which address answered, which queries DNS received, which attempts failed).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ecs_discovery_client import (
    AttemptEvent,
    CallResult,
    Deadline,
    DiscoveryClient,
    DiscoveryError,
    DiscoverySettings,
    Endpoint,
    ResolutionError,
    Resolver,
    UnreachableError,
)
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.apps.harness import run_threads
from tests.client.conftest import DEAD, MARGIN, TASK_HOSTS, FakeClock, Task, settings_for
from tests.fakes import HangingServer

Cluster = list[Task]


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result = function()
    except Exception as error:
        result = error
    return time.monotonic() - started, result


# -- resolution ---------------------------------------------------------------------


def test_a_records_with_the_configured_port(dns: LoopbackDnsServer, unique_name: str) -> None:
    dns.set_records(unique_name, a=["127.0.1.2", "127.0.1.3", "127.0.1.2"])
    resolver = Resolver(settings_for(dns))
    assert resolver.resolve(unique_name, 8080) == (Endpoint("127.0.1.2", 8080), Endpoint("127.0.1.3", 8080))
    assert resolver.resolve(unique_name.upper() + ".", 8080) == resolver.resolve(unique_name, 8080)
    assert len(dns.queries(unique_name)) == 1  # the second and third came from the cache


@pytest.mark.parametrize("srv_additional", [True, False], ids=["targets-in-additional", "targets-looked-up"])
def test_srv_records_give_each_task_its_port(srv_additional: bool) -> None:
    with LoopbackDnsServer(srv_additional=srv_additional) as dns:
        dns.set_records(
            "worker.corp",
            a=["127.0.1.2", "127.0.1.3"],
            srv=[
                SrvRecord("t1.worker.corp", 8001),
                SrvRecord("t2.worker.corp", 8002),
                SrvRecord("gone.worker.corp", 8003),  # a task removed since the SRV answer
            ],
        )
        dns.set_records("t1.worker.corp", a=["127.0.1.2"])
        dns.set_records("t2.worker.corp", a=["127.0.1.3"])
        resolver = Resolver(settings_for(dns))
        assert set(resolver.resolve("worker.corp")) == {Endpoint("127.0.1.2", 8001), Endpoint("127.0.1.3", 8002)}
        assert not dns.queries("worker.corp", "A")  # addresses come from the SRV targets
        assert bool(dns.queries("t1.worker.corp", "A")) is (not srv_additional)


def test_a_name_without_srv_records_falls_back_to_its_a_records_on_port_80(dns: LoopbackDnsServer) -> None:
    dns.set_records("asonly.client.test", a=["127.0.1.2"])
    assert Resolver(settings_for(dns)).resolve("asonly.client.test") == (Endpoint("127.0.1.2", 80),)
    no_fallback = Resolver(settings_for(dns), srv_fallback_port=None)
    with pytest.raises(ResolutionError) as raised:
        no_fallback.resolve("asonly.client.test")
    assert raised.value.failure == "no_records"


def test_ip_addresses_need_no_dns(dns: LoopbackDnsServer) -> None:
    before = len(dns.queries())
    assert Resolver(settings_for(dns)).resolve("127.0.1.9", 81) == (Endpoint("127.0.1.9", 81),)
    assert len(dns.queries()) == before


@pytest.mark.parametrize("name", ["bad..name", "a" * 64 + ".test", "x" * 300])
def test_a_name_dns_cannot_carry_is_an_error_not_a_crash(dns: LoopbackDnsServer, name: str) -> None:
    with pytest.raises(ResolutionError) as raised:
        Resolver(settings_for(dns)).resolve(name, 80)
    assert raised.value.failure == "bad_name"


def test_nxdomain_fails_fast_without_any_attempt(dns: LoopbackDnsServer) -> None:
    events: list[AttemptEvent] = []
    client = DiscoveryClient("missing.client.test", 8080, settings_for(dns), on_attempt=events.append)
    with pytest.raises(ResolutionError) as raised:
        client.call("/")
    assert raised.value.failure == "nxdomain"
    assert raised.value.dns_name == "missing.client.test"
    assert "missing.client.test" in str(raised.value)
    assert events == []


def test_changed_answer_is_used_after_the_ttl_and_not_before(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    old, new = cluster[0], cluster[1]
    clock = FakeClock()
    dns.set_records(unique_name, a=[old.host], ttl=10)
    client = DiscoveryClient(unique_name, old.port, settings_for(dns), clock=clock)
    assert client.call("/").address == old.host
    dns.set_records(unique_name, a=[new.host], ttl=10)
    clock.advance(9.9)  # the TTL has not run out: the cached answer, no lookup
    assert [client.call("/").address for _ in range(3)] == [old.host] * 3
    assert len(dns.queries(unique_name)) == 1
    clock.advance(0.2)  # now it has: one lookup, then its answer from the cache
    assert [client.call("/").address for _ in range(3)] == [new.host] * 3
    assert len(dns.queries(unique_name)) == 2


def test_records_appearing_and_disappearing(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    first, second = cluster[2], cluster[3]
    client = DiscoveryClient(unique_name, first.port, settings_for(dns))
    with pytest.raises(ResolutionError):  # not registered yet
        client.call("/")
    dns.set_records(unique_name, a=[first.host], ttl=0)  # TTL 0: never cached
    assert client.call("/").address == first.host
    dns.set_records(unique_name, a=[first.host, second.host], ttl=0)
    seen = {client.call("/").address for _ in range(40)}
    assert seen == {first.host, second.host}  # each missed 40 times with probability 2**-40
    dns.remove(unique_name)
    with pytest.raises(ResolutionError) as raised:
        client.call("/")
    assert raised.value.failure == "nxdomain"


def test_a_huge_ttl_is_capped(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    old, new = cluster[4], cluster[5]
    clock = FakeClock()
    dns.set_records(unique_name, a=[old.host], ttl=2**31 - 1)
    client = DiscoveryClient(unique_name, old.port, settings_for(dns, max_ttl=60.0), clock=clock)
    assert client.call("/").address == old.host
    dns.set_records(unique_name, a=[new.host], ttl=2**31 - 1)
    clock.advance(59.9)
    assert client.call("/").address == old.host
    clock.advance(0.2)  # past the 60 s cap, far short of the TTL
    assert client.call("/").address == new.host
    assert len(dns.queries(unique_name)) == 2


def test_the_name_is_looked_up_again_when_every_cached_address_failed(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    # Issue 10: a huge TTL (capped at the default 60 s) pins two addresses that die; DNS already
    # names a live task.
    live = cluster[0]
    clock = FakeClock()
    dns.set_records(unique_name, a=DEAD[:2], ttl=2**31 - 1)
    client = DiscoveryClient(unique_name, live.port, settings_for(dns, relookup_interval=0.2), clock=clock)
    client.endpoints()  # cached
    dns.set_records(unique_name, a=[live.host], ttl=2**31 - 1)
    # Younger than relookup_interval: every address fails and the name is not looked up again.
    with pytest.raises(UnreachableError):
        client.call("/")
    assert len(dns.queries(unique_name)) == 1
    clock.advance(0.3)
    assert client.call("/").address == live.host
    # One more lookup, not one per call, and the TTL cap had not run out.
    assert len(dns.queries(unique_name)) == 2
    assert client.call("/").address == live.host


def test_no_relookup_while_some_cached_address_still_answers(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    live = cluster[1]
    dns.set_records(unique_name, a=[DEAD[2], live.host], ttl=60)
    client = DiscoveryClient(unique_name, live.port, settings_for(dns, relookup_interval=0.01))
    for _ in range(30):
        assert client.call("/").address == live.host
    assert len(dns.queries(unique_name)) == 1


# -- DNS trouble ----------------------------------------------------------------


def test_silent_dns_gives_dns_timeout_within_the_deadline() -> None:
    with LoopbackDnsServer() as silent:
        silent.set_records("worker.corp", a=["127.0.1.2"])
        silent.silent = True
        client = DiscoveryClient("worker.corp", 8080, settings_for(silent, dns_lifetime=1.0, deadline=2.0))
        elapsed, error = timed(lambda: client.call("/"))
        assert isinstance(error, ResolutionError) and error.failure == "dns_timeout"
        assert silent.queries("worker.corp")  # it did ask; nobody answered
        assert elapsed < 2.0 + MARGIN


def test_dns_down_with_a_long_lifetime_ends_every_waiting_call_within_its_deadline() -> None:
    # Issue 16: the lookup is inside the call's deadline, and so is the wait for a lookup another
    # thread started. Lifetime 2.4 s of a 3 s deadline; 12 threads at once.
    with LoopbackDnsServer() as silent:
        silent.silent = True
        settings = settings_for(silent, dns_timeout=0.8, dns_lifetime=2.4, deadline=3.0)
        client = DiscoveryClient("worker.corp", 8080, settings)
        results: list[tuple[float, object]] = []
        lock = threading.Lock()

        def call(_: int) -> None:
            outcome = timed(lambda: client.call("/"))
            with lock:
                results.append(outcome)

        run_threads(12, call, timeout=30)
        assert len(results) == 12
        assert all(isinstance(error, ResolutionError) and error.failure == "dns_timeout" for _, error in results)
        assert max(elapsed for elapsed, _ in results) < 3.0 + MARGIN
        # One shared lookup (the resolver retries each 0.8 s): not one per thread.
        assert len(silent.queries("worker.corp")) <= 4


def test_a_waiter_gives_up_at_its_own_deadline_while_the_shared_lookup_goes_on() -> None:
    with LoopbackDnsServer() as silent:
        silent.silent = True
        resolver = Resolver(settings_for(silent, dns_timeout=1.0, dns_lifetime=4.0, deadline=5.0))
        owner_done = threading.Event()

        def owner() -> None:
            with contextlib.suppress(ResolutionError):
                resolver.resolve("worker.corp", 8080)
            owner_done.set()

        thread = threading.Thread(target=owner, daemon=True)
        thread.start()
        for _ in range(100):  # until the owner's first query reached the server
            if silent.queries("worker.corp"):
                break
            time.sleep(0.02)
        with pytest.raises(ResolutionError) as raised:
            resolver.resolve("worker.corp", 8080, deadline=Deadline(0.3))
        assert raised.value.failure == "dns_timeout"
        assert "waiting" in raised.value.detail
        # Causal: the waiter came back while the lookup it waited for was still running.
        assert not owner_done.is_set()
        thread.join(timeout=4.0 + MARGIN)
        assert owner_done.is_set()


def test_the_lookup_is_inside_the_calls_deadline(dns: LoopbackDnsServer, unique_name: str) -> None:
    # Issue 16: the deadline starts with the call, before the lookup, and the lookup gets only
    # what is left of it: a call whose deadline has run out does not even ask DNS.
    dns.set_records(unique_name, a=[DEAD[0]])
    client = DiscoveryClient(unique_name, 8080, settings_for(dns))
    with pytest.raises(ResolutionError) as raised:
        client.request("GET", "/", deadline=Deadline(0.0))
    assert raised.value.failure == "dns_timeout"
    assert dns.queries(unique_name) == []


def test_dns_failing_on_a_relookup_keeps_the_cached_answer(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    live = cluster[2]
    dns.set_records(unique_name, a=[live.host], ttl=60)
    resolver = Resolver(settings_for(dns))
    assert resolver.resolve(unique_name, live.port)
    dns.remove(unique_name)
    # A forced re-lookup that fails leaves the answer in the cache.
    with pytest.raises(ResolutionError):
        resolver.refresh(unique_name, live.port)
    assert resolver.resolve(unique_name, live.port) == (Endpoint(live.host, live.port),)


# -- addresses that do not answer -----------------------------------------------


def test_a_dead_address_is_skipped_and_then_tried_last(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    live = cluster[3]
    dns.set_records(unique_name, a=[DEAD[3], live.host])
    client = DiscoveryClient(unique_name, live.port, settings_for(dns))
    results = [client.call("/") for _ in range(12)]
    assert all(result.address == live.host and result.status == 200 for result in results)
    failures = [failure for result in results for failure in result.failures]
    # Until a call happens to start at the dead address it costs nothing; then it goes last.
    assert len(failures) <= 1
    assert all((failure.address, failure.error) == (DEAD[3], "connection refused") for failure in failures)


def test_calls_spread_evenly_over_the_survivors_of_a_dead_address(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    survivors = [cluster[4], cluster[5]]
    dns.set_records(unique_name, a=[DEAD[4], *(task.host for task in survivors)])
    client = DiscoveryClient(unique_name, survivors[0].port, settings_for(dns))
    counts = Counter(client.call("/").address for _ in range(400))
    assert set(counts) == {task.host for task in survivors}
    # Binomial(400, 1/2) leaves [150, 250] with probability about 1e-6; 2:1 would be 267:133.
    assert all(150 <= counts[task.host] <= 250 for task in survivors), counts


def test_all_addresses_dead_names_the_name_and_every_failed_address(
    dns: LoopbackDnsServer, port: int, unique_name: str
) -> None:
    # Route 53 MULTIVALUE with no healthy task answers up to 8 unhealthy ones.
    dns.set_records(unique_name, a=DEAD)
    client = DiscoveryClient(unique_name, port, settings_for(dns, max_attempts=3))
    elapsed, error = timed(lambda: client.call("/"))
    assert isinstance(error, UnreachableError)
    assert error.failure == "unreachable"
    assert len(error.failures) == 3 and len({failure.address for failure in error.failures}) == 3
    assert {failure.error for failure in error.failures} == {"connection refused"}
    assert unique_name in str(error)
    for failure in error.failures:
        assert f"{failure.address}:{port} connection refused" in str(error)
    assert elapsed < 3.0 + MARGIN


def test_one_address_is_tried_again_after_a_jittered_backoff(dns: LoopbackDnsServer, port: int) -> None:
    dns.set_records("one-dead.client.test", a=[DEAD[5]])
    events: list[AttemptEvent] = []
    client = DiscoveryClient(
        "one-dead.client.test",
        port,
        settings_for(dns, max_attempts=4, backoff_base=0.05, backoff_max=0.2),
        on_attempt=events.append,
    )
    with pytest.raises(UnreachableError) as raised:
        client.call("/")
    assert [event.attempt for event in events] == [1, 2, 3, 4]
    assert len(raised.value.failures) == 4  # bounded by max_attempts, not by the number of addresses


def test_a_slow_body_cannot_hold_the_call_past_its_deadline(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    # Issue 10: one byte every 0.3 s never trips a per-read timeout; only the deadline stops it.
    slow = cluster[0]
    dns.set_records(unique_name, a=[slow.host])
    client = DiscoveryClient(unique_name, slow.port, settings_for(dns, deadline=2.0, read_timeout=1.0))
    elapsed, error = timed(lambda: client.call("/slow?bytes=60&interval=0.3"))  # 18 s in all
    assert isinstance(error, UnreachableError), error
    assert error.failures[0].error == "deadline reached while reading the body"
    assert "deadline of 2 s reached" in error.detail
    assert elapsed < 2.0 + MARGIN


def test_a_slow_chunked_body_cannot_either(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    slow = cluster[1]
    dns.set_records(unique_name, a=[slow.host])
    client = DiscoveryClient(unique_name, slow.port, settings_for(dns, deadline=2.0, read_timeout=1.0))
    elapsed, error = timed(lambda: client.call("/slow?bytes=60&interval=0.3&chunked=1"))
    assert isinstance(error, UnreachableError), error
    assert elapsed < 2.0 + MARGIN


def test_a_slow_but_finished_body_within_the_deadline_is_read_whole(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    slow = cluster[2]
    dns.set_records(unique_name, a=[slow.host])
    result = DiscoveryClient(unique_name, slow.port, settings_for(dns)).call("/slow?bytes=5&interval=0.05")
    assert (result.status, result.body) == (200, b"xxxxx")


def test_a_task_that_accepts_but_never_answers_costs_only_the_first_byte_timeout(
    dns: LoopbackDnsServer,
    cluster: Cluster,
    hanging: Callable[[str], HangingServer],
    unique_name: str,
) -> None:
    # Issue 16, caller side: a stopping gunicorn worker completes new connections and never
    # answers them. A new connection's first byte is awaited only first_byte_timeout (0.3 s),
    # not read_timeout (10 s), so the call moves on at once.
    hanging(TASK_HOSTS[15])
    live = cluster[4]
    dns.set_records(unique_name, a=[TASK_HOSTS[15], live.host])
    settings = settings_for(dns, first_byte_timeout=0.3, read_timeout=10.0, deadline=12.0)
    for _ in range(30):  # until a call happens to start at the hanging address (probability 1/2 each)
        events: list[AttemptEvent] = []
        client = DiscoveryClient(unique_name, live.port, settings, on_attempt=events.append)
        elapsed, result = timed(lambda client=client: client.call("/"))
        if len(events) == 2:
            break
    else:
        pytest.fail("no call started at the hanging address")
    assert not isinstance(result, Exception), result
    assert (events[0].address, events[0].outcome, events[0].fresh_connection) == (TASK_HOSTS[15], "read timeout", True)
    assert (events[1].address, events[1].outcome) == (live.host, "ok")
    assert elapsed < 10.0  # without the short first-byte wait this call takes the 10 s read timeout


def test_a_service_slow_everywhere_is_still_reached_after_one_first_byte_timeout(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    slow = cluster[3]
    dns.set_records(unique_name, a=[slow.host])
    events: list[AttemptEvent] = []
    settings = settings_for(dns, first_byte_timeout=0.3, read_timeout=2.0, deadline=5.0)
    client = DiscoveryClient(unique_name, slow.port, settings, on_attempt=events.append)
    # gunicorn sends the status line only with the first body byte: 0.6 s, past the 0.3 s first-byte wait.
    result = client.call("/slow?bytes=1&interval=0.6")
    assert result.status == 200 and result.body == b"x"
    assert [event.outcome for event in events] == ["read timeout", "ok"]


def test_post_is_not_sent_twice_after_it_may_have_arrived(
    dns: LoopbackDnsServer,
    cluster: Cluster,
    hanging: Callable[[str], HangingServer],
    unique_name: str,
) -> None:
    hanging(TASK_HOSTS[15])
    dns.set_records(unique_name, a=[TASK_HOSTS[15]])
    client = DiscoveryClient(unique_name, cluster[4].port, settings_for(dns, max_attempts=3))
    with pytest.raises(UnreachableError) as raised:
        client.request("POST", "/orders", body=b"{}")
    assert [failure.error for failure in raised.value.failures] == ["read timeout"]
    # A refused connection sent nothing: a POST moves on to the next address.
    live = cluster[2]
    dns.set_records(f"post.{unique_name}", a=[DEAD[6], live.host])
    poster = DiscoveryClient(f"post.{unique_name}", live.port, settings_for(dns))
    for _ in range(10):
        result = poster.request("POST", "/orders", body=b'{"n": 1}', headers={"Content-Type": "application/json"})
        assert result.address == live.host
        assert (result.json()["method"], result.json()["body"]) == ("POST", '{"n": 1}')


def test_oversized_answer_fails_the_attempt(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    big = cluster[3]
    dns.set_records(unique_name, a=[big.host])
    client = DiscoveryClient(unique_name, big.port, settings_for(dns, max_body_bytes=1024 * 1024))
    assert len(client.call("/big?bytes=1048576").body) == 1024 * 1024  # the limit itself is fine
    with pytest.raises(UnreachableError) as raised:
        client.call("/big?bytes=1048577")
    assert {failure.error for failure in raised.value.failures} == {"response larger than 1048576 bytes"}


def test_an_error_status_is_an_answer_not_a_failover(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    broken = cluster[4]
    dns.set_records(unique_name, a=[broken.host])
    result = DiscoveryClient(unique_name, broken.port, settings_for(dns)).call("/status/500")
    assert (result.status, result.attempts, result.reason) == (500, 1, "Whatever")
    assert result.body == f"status 500 from {broken.host}".encode()


# -- keep-alive connections -------------------------------------------------------


def _connections_to(host: str, port: int) -> int:
    return sum(
        1
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and (connection.raddr.ip, connection.raddr.port) == (host, port)
        and connection.status == psutil.CONN_ESTABLISHED
    )  # fmt: skip


def test_keep_alive_connections_to_a_task_that_left_dns_are_closed(
    dns: LoopbackDnsServer, port: int, unique_name: str, tmp_path: Path
) -> None:
    # Tasks of this test alone: the connections counted are this client's, no other test's.
    leaving = Task(TASK_HOSTS[12], port, tmp_path / "leaving.log")
    staying = Task(TASK_HOSTS[13], port, tmp_path / "staying.log")
    try:
        leaving.wait_ready()
        staying.wait_ready()
        dns.set_records(unique_name, a=[leaving.host], ttl=1)
        events: list[AttemptEvent] = []
        clock = FakeClock()
        client = DiscoveryClient(unique_name, port, settings_for(dns), on_attempt=events.append, clock=clock)
        client.call("/")
        client.call("/")
        assert [event.fresh_connection for event in events] == [True, False]  # kept alive and reused
        assert _connections_to(leaving.host, port) == 1
        # The task is deregistered but still running (draining), as on ECS before it stops.
        dns.set_records(unique_name, a=[staying.host], ttl=1)
        clock.advance(1.1)  # the TTL ran out: the next call looks the name up
        assert client.call("/").address == staying.host
        assert _connections_to(leaving.host, port) == 0
        assert _connections_to(staying.host, port) == 1
    finally:
        leaving.kill()
        staying.kill()


def test_pooled_connections_older_than_the_maximum_age_are_not_reused(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    task = cluster[1]
    dns.set_records(unique_name, a=[task.host], ttl=60)
    outcomes: dict[float, list[bool]] = {}
    for max_age in (0.3, 60.0):  # 60 s: the control, the same calls reuse the connection
        clock = FakeClock()
        events: list[AttemptEvent] = []
        client = DiscoveryClient(
            unique_name, task.port, settings_for(dns, pool_max_age=max_age), on_attempt=events.append, clock=clock
        )
        client.call("/")
        client.call("/")
        clock.advance(0.5)  # longer than 0.3 s
        client.call("/")
        outcomes[max_age] = [event.fresh_connection for event in events]
        client.close()
    assert outcomes == {0.3: [True, False, True], 60.0: [True, False, False]}


# -- many threads -------------------------------------------------------------------


def test_many_threads_share_one_lookup_and_all_calls_succeed(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    live = cluster[2:5]
    dns.set_records(unique_name, a=[DEAD[7], *(task.host for task in live)], ttl=60)
    client = DiscoveryClient(unique_name, live[0].port, settings_for(dns, deadline=10.0, read_timeout=5.0))
    addresses: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def call(_: int) -> None:
        for _ in range(15):
            try:
                result = client.call("/")
            except Exception as error:
                with lock:
                    errors.append(error)
                continue
            with lock:
                addresses.append(result.address)

    run_threads(16, call, timeout=60)
    assert errors == []
    assert len(addresses) == 240
    assert set(addresses) == {task.host for task in live}
    assert len(dns.queries(unique_name)) == 1


# -- hooks and headers --------------------------------------------------------------


def test_every_attempt_reaches_the_hook_and_a_failing_hook_breaks_nothing(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    live = cluster[3]
    dns.set_records(unique_name, a=[DEAD[0]])
    events: list[AttemptEvent] = []
    client = DiscoveryClient(unique_name, live.port, settings_for(dns, max_attempts=2), on_attempt=events.append)
    with pytest.raises(UnreachableError):
        client.call("/")
    assert [(event.dns_name, event.address, event.port, event.attempt, event.outcome) for event in events] == [
        (unique_name, DEAD[0], live.port, 1, "connection refused"),
        (unique_name, DEAD[0], live.port, 2, "connection refused"),
    ]
    assert all(event.elapsed >= 0 and event.status is None for event in events)

    def broken_hook(event: AttemptEvent) -> None:
        raise RuntimeError("metrics backend down")

    dns.set_records(f"ok.{unique_name}", a=[live.host])
    client = DiscoveryClient(f"ok.{unique_name}", live.port, settings_for(dns), on_attempt=broken_hook)
    assert client.call("/").status == 200
    assert "on_attempt hook raised" in caplog.text


def test_host_header_path_and_request_headers_reach_the_task(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    live = cluster[4]
    dns.set_records(unique_name, a=[live.host])
    client = DiscoveryClient(unique_name, live.port, settings_for(dns))
    answer = client.call("jobs?limit=2", headers={"X-Request-Id": "abc"}).json()
    assert (answer["path"], answer["query"], answer["host"]) == ("/jobs", "limit=2", f"{unique_name}:{live.port}")
    assert client.request("GET", "/", headers={"host": "custom"}).json()["host"] == "custom"


# -- a real gunicorn task being stopped ----------------------------------------------


def test_a_gunicorn_task_stopping_with_sigterm_costs_callers_only_the_first_byte_wait(
    dns: LoopbackDnsServer, cluster: Cluster, port: int, unique_name: str, tmp_path: Path
) -> None:
    # Issue 16, caller side, with real gunicorn 27 (gthread) and none of the apps' own stop
    # handling: after SIGTERM the worker stops accepting but keeps its listening socket open
    # while a request is in flight, so new connections complete and hang. The client gives up
    # on such a connection after the first-byte wait, while the task is still there, and no
    # call fails.
    stopping = Task(TASK_HOSTS[14], port, tmp_path / "stopping.log")
    try:
        stopping.wait_ready()
        live = cluster[0]
        dns.set_records(unique_name, a=[stopping.host, live.host])
        hung_while_alive: list[AttemptEvent] = []
        other_outcomes: list[str] = []

        def observe(event: AttemptEvent) -> None:
            if event.address != stopping.host or event.outcome == "ok":
                return
            if event.outcome == "read timeout" and event.fresh_connection and stopping.process.poll() is None:
                hung_while_alive.append(event)
            else:
                other_outcomes.append(event.outcome)

        # Without the first-byte wait, the 3 s read timeout would outlast the stopping worker.
        settings = settings_for(dns, failure_penalty=0.2, first_byte_timeout=0.3, read_timeout=3.0, deadline=5.0)
        client = DiscoveryClient(unique_name, port, settings, on_attempt=observe)
        patient = DiscoverySettings(first_byte_timeout=3.0, read_timeout=3.0, allow_loopback=True)

        def slow_call() -> None:
            with contextlib.suppress(DiscoveryError):  # the server's business, not this test's
                DiscoveryClient(stopping.host, port, patient).call("/slow?bytes=3&interval=0.5")

        in_flight = threading.Thread(target=slow_call, daemon=True)
        in_flight.start()  # keeps the stopping worker busy (and its socket open) for 1.5 s
        time.sleep(0.5)
        stopping.process.send_signal(signal.SIGTERM)
        results: list[CallResult] = []
        stop_by = time.monotonic() + 3.0
        while time.monotonic() < stop_by and stopping.process.poll() is None:
            results.append(client.call("/"))  # raises if a call fails
        assert hung_while_alive, f"no attempt gave up on the stopping task in time ({other_outcomes})"
        retried = [result for result in results if result.failures]
        assert retried and all(result.status == 200 and result.address == live.host for result in retried)
        in_flight.join(timeout=10)
    finally:
        stopping.kill()


def test_an_ipv6_address_needs_no_dns_and_gets_a_bracketed_host_header(cluster: Cluster) -> None:
    # No server binds outside 127.0.0.0/8 in these tests: nothing listens on ::1, so the attempt is
    # refused (or the address unreachable), and it says where it went.
    with LoopbackDnsServer() as dns:
        client = DiscoveryClient("::1", cluster[5].port, settings_for(dns, max_attempts=1))
        assert client.endpoints() == (Endpoint("::1", cluster[5].port),)
        with pytest.raises(UnreachableError) as raised:
            client.call("/")
        assert raised.value.failures[0].address == "::1"
        assert dns.queries() == []
    assert client._host_name == "[::1]"  # pyright: ignore[reportPrivateUsage]
