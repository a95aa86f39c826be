"""The requests integration: a plain ``session.get("http://worker.corp:8080/x")`` gets the client's behaviour."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
import requests.adapters

from ecs_discovery_client import AttemptEvent, CallResult
from ecs_discovery_client.requests_adapter import DiscoveryAdapter, DiscoveryRequestError, discovery_session
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.client.conftest import DEAD, MARGIN, TASK_HOSTS, Task, settings_for
from tests.fakes import HangingServer

Cluster = list[Task]


def test_get_by_name_and_port(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    task = cluster[0]
    dns.set_records(unique_name, a=[task.host])
    session = discovery_session(settings_for(dns))
    response = session.get(f"http://{unique_name}:{task.port}/jobs?limit=2", headers={"X-Request-Id": "r-1"})
    assert response.status_code == 200
    echo = response.json()
    assert (echo["address"], echo["path"], echo["query"]) == (task.host, "/jobs", "limit=2")
    assert echo["host"] == f"{unique_name}:{task.port}"  # the Host header names the service, not the IP
    assert echo["request_id"] == "r-1"
    discovery: CallResult = getattr(response, "discovery")  # noqa: B009
    assert (discovery.address, discovery.port, discovery.attempts) == (task.host, task.port, 1)
    assert response.url == f"http://{unique_name}:{task.port}/jobs?limit=2"


def test_no_port_in_the_url_means_the_srv_port(cluster: Cluster) -> None:
    task = cluster[1]
    with LoopbackDnsServer() as dns:
        dns.set_records("worker.corp", srv=[SrvRecord("t1.worker.corp", task.port)])
        dns.set_records("t1.worker.corp", a=[task.host])
        response = discovery_session(settings_for(dns)).get("http://worker.corp/")
        assert response.json()["address"] == task.host
        assert response.json()["host"] == "worker.corp"


def test_failover_and_every_attempt_reported(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    task = cluster[2]
    dns.set_records(unique_name, a=[DEAD[0], task.host])
    events: list[AttemptEvent] = []
    session = discovery_session(settings_for(dns), on_attempt=events.append)
    for _ in range(20):
        assert session.get(f"http://{unique_name}:{task.port}/").json()["address"] == task.host
    assert {event.address for event in events if event.outcome != "ok"} <= {DEAD[0]}
    assert sum(1 for event in events if event.outcome == "ok") == 20


def test_failures_are_requests_connection_errors_that_name_the_service(
    dns: LoopbackDnsServer, port: int, unique_name: str
) -> None:
    dns.set_records(unique_name, a=DEAD[:3])
    session = discovery_session(settings_for(dns))
    with pytest.raises(requests.ConnectionError) as raised:
        session.get(f"http://{unique_name}:{port}/")
    assert isinstance(raised.value, DiscoveryRequestError)
    assert raised.value.discovery_error.failure == "unreachable"
    assert unique_name in str(raised.value)
    assert all(address in str(raised.value) for address in DEAD[:3])
    with pytest.raises(DiscoveryRequestError) as raised:
        session.get(f"http://nothing.{unique_name}:{port}/")
    assert raised.value.discovery_error.failure == "nxdomain"


def test_bodies_methods_and_content_encoding(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    task = cluster[3]
    dns.set_records(unique_name, a=[task.host])
    session = discovery_session(settings_for(dns))
    base = f"http://{unique_name}:{task.port}"
    posted = session.post(f"{base}/orders", json={"n": 1}).json()
    assert (posted["method"], posted["body"]) == ("POST", '{"n": 1}')
    assert session.put(f"{base}/x", data="text body").json()["body"] == "text body"
    assert session.get(f"{base}/gzip").json() == {"address": task.host, "gzip": True}  # decoded by requests
    assert session.get(f"{base}/status/503").status_code == 503  # an answer, not a failure
    streamed = session.get(f"{base}/slow?bytes=3&interval=0.01", stream=True)
    assert b"".join(streamed.iter_content(1)) == b"xxx"


def test_the_call_deadline_holds_for_a_slow_body_and_timeout_shortens_it(
    dns: LoopbackDnsServer, cluster: Cluster, unique_name: str
) -> None:
    task = cluster[4]
    dns.set_records(unique_name, a=[task.host])
    session = discovery_session(settings_for(dns, deadline=3.0))
    url = f"http://{unique_name}:{task.port}/slow?bytes=60&interval=0.3"
    for timeout, deadline in ((None, 3.0), (1.5, 1.5), ((0.5, 1.0), 1.5)):
        started = time.monotonic()
        with pytest.raises(DiscoveryRequestError) as raised:
            session.get(url, timeout=timeout)
        assert time.monotonic() - started < deadline + MARGIN
        assert f"deadline of {deadline:g} s reached" in str(raised.value)


def test_a_hanging_task_costs_a_new_connection_only_the_first_byte_wait(
    dns: LoopbackDnsServer,
    cluster: Cluster,
    hanging: Callable[[str], HangingServer],
    unique_name: str,
) -> None:
    hanging(TASK_HOSTS[15])
    task = cluster[5]
    dns.set_records(unique_name, a=[TASK_HOSTS[15], task.host])
    settings = settings_for(dns, first_byte_timeout=0.3, read_timeout=10.0, deadline=12.0)
    events: list[AttemptEvent] = []
    session = discovery_session(settings, on_attempt=events.append)
    for _ in range(40):  # until a call starts at the hanging address (1/2 each; then it goes last)
        started = time.monotonic()
        response = session.get(f"http://{unique_name}:{task.port}/")
        elapsed = time.monotonic() - started
        if getattr(response, "discovery").failures:  # noqa: B009
            break
    else:
        pytest.fail("no call started at the hanging address")
    assert response.status_code == 200
    assert [(failure.address, failure.error) for failure in getattr(response, "discovery").failures] == [  # noqa: B009
        (TASK_HOSTS[15], "read timeout")
    ]
    assert elapsed < 10.0  # the read timeout; the first-byte wait is 0.3 s


def test_https_and_other_schemes_are_not_taken_over(dns: LoopbackDnsServer) -> None:
    session = discovery_session(settings_for(dns))
    assert isinstance(session.get_adapter("https://worker.corp/"), requests.adapters.HTTPAdapter)
    assert not isinstance(session.get_adapter("https://worker.corp/"), DiscoveryAdapter)
    adapter = DiscoveryAdapter(settings_for(dns))
    request = requests.Request("GET", "https://worker.corp/").prepare()
    with pytest.raises(requests.exceptions.InvalidURL):
        adapter.send(request)


def test_the_adapter_reads_its_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("DNS_NAMESERVERS", "127.0.0.1:5353")
    assert DiscoveryAdapter().settings.max_attempts == 7
    monkeypatch.setenv("DNS_LIFETIME", "30")
    with pytest.raises(ValueError, match="DNS_LIFETIME"):
        discovery_session()


def test_one_client_per_host_and_port_shared_by_threads(dns: LoopbackDnsServer, cluster: Cluster) -> None:
    adapter = DiscoveryAdapter(settings_for(dns))
    first = adapter.client_for("Worker.Corp", 8080)
    assert adapter.client_for("worker.corp", 8080) is first
    assert adapter.client_for("worker.corp", None) is not first
    assert first.resolver is adapter.resolver  # one DNS cache for every name the session calls
