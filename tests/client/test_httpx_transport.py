"""The httpx integration, sync and async: ``client.get("http://worker.corp:8080/x")`` through the discovery client."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ecs_discovery_client import AttemptEvent, CallResult
from ecs_discovery_client.httpx_transport import (
    DiscoveryHTTPXError,
    DiscoveryTransport,
    discovery_httpx_async_client,
    discovery_httpx_client,
)
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.client.conftest import DEAD, MARGIN, Task, settings_for

Cluster = list[Task]


def test_get_by_name_and_port(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    task = cluster[0]
    dns.set_records(unique_name, a=[task.host])
    with discovery_httpx_client(settings_for(dns)) as client:
        response = client.get(f"http://{unique_name}:{task.port}/jobs?limit=2", headers={"X-Request-Id": "r-2"})
    assert response.status_code == 200
    echo = response.json()
    assert (echo["address"], echo["path"], echo["query"]) == (task.host, "/jobs", "limit=2")
    assert echo["host"] == f"{unique_name}:{task.port}"
    assert echo["request_id"] == "r-2"
    discovery: CallResult = response.extensions["discovery"]
    assert (discovery.address, discovery.attempts) == (task.host, 1)


def test_no_port_means_the_srv_port_and_bodies_and_encodings_pass(cluster: Cluster) -> None:
    task = cluster[1]
    with LoopbackDnsServer() as dns:
        dns.set_records("worker.corp", srv=[SrvRecord("t1.worker.corp", task.port)])
        dns.set_records("t1.worker.corp", a=[task.host])
        with discovery_httpx_client(settings_for(dns)) as client:
            assert client.get("http://worker.corp/").json()["address"] == task.host
            posted = client.post("http://worker.corp/orders", json={"n": 1}).json()
            assert (posted["method"], posted["body"]) == ("POST", '{"n":1}')  # httpx writes compact JSON
            assert client.get("http://worker.corp/gzip").json() == {"address": task.host, "gzip": True}
            assert client.get("http://worker.corp/status/502").status_code == 502


def test_failures_are_httpx_transport_errors_naming_the_service(
    dns: LoopbackDnsServer, port: int, unique_name: str
) -> None:
    dns.set_records(unique_name, a=DEAD[:2])
    with discovery_httpx_client(settings_for(dns)) as client:
        with pytest.raises(httpx.TransportError) as raised:
            client.get(f"http://{unique_name}:{port}/")
        assert isinstance(raised.value, DiscoveryHTTPXError)
        assert raised.value.discovery_error.failure == "unreachable"
        assert unique_name in str(raised.value) and DEAD[0] in str(raised.value)
        with pytest.raises(DiscoveryHTTPXError) as raised:
            client.get(f"http://nothing.{unique_name}:{port}/")
        assert raised.value.discovery_error.failure == "nxdomain"


def test_the_deadline_holds_for_a_slow_body(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    task = cluster[2]
    dns.set_records(unique_name, a=[task.host])
    with discovery_httpx_client(settings_for(dns, deadline=2.0)) as client:
        started = time.monotonic()
        with pytest.raises(DiscoveryHTTPXError) as raised:
            client.get(f"http://{unique_name}:{task.port}/slow?bytes=60&interval=0.3")
        assert time.monotonic() - started < 2.0 + MARGIN
        assert "deadline of 2 s reached" in str(raised.value)
        # httpx's own timeout, connect + read, shortens the call's deadline.
        with pytest.raises(DiscoveryHTTPXError) as raised:
            client.get(f"http://{unique_name}:{task.port}/slow?bytes=60&interval=0.3", timeout=httpx.Timeout(0.5))
        assert "deadline of 1 s reached" in str(raised.value)


def test_async_calls_run_concurrently_with_failover(dns: LoopbackDnsServer, cluster: Cluster, unique_name: str) -> None:
    live = cluster[3:6]
    dns.set_records(unique_name, a=[DEAD[3], *(task.host for task in live)])
    events: list[AttemptEvent] = []

    async def main() -> tuple[list[str], float]:
        # The slow answer's status line comes with its first byte, 0.5 s in: a first-byte wait of 1 s
        # keeps that from racing the default 0.5 s one.
        settings = settings_for(dns, first_byte_timeout=1.0)
        async with discovery_httpx_async_client(settings, on_attempt=events.append) as client:
            # A slow call must not block the event loop: the others finish while it runs.
            slow = asyncio.create_task(client.get(f"http://{unique_name}:{live[0].port}/slow?bytes=4&interval=0.5"))
            responses = await asyncio.gather(*(client.get(f"http://{unique_name}:{live[0].port}/") for _ in range(30)))
            slow_running_after_the_rest = not slow.done()
            await slow
            return [response.json()["address"] for response in responses], float(slow_running_after_the_rest)

    addresses, slow_was_running = asyncio.run(main())
    assert len(addresses) == 30 and set(addresses) <= {task.host for task in live}
    assert slow_was_running == 1.0
    assert sum(1 for event in events if event.outcome == "ok") == 31


def test_https_stays_with_httpx_and_the_transport_refuses_it(dns: LoopbackDnsServer) -> None:
    with discovery_httpx_client(settings_for(dns)) as client:
        transport = client._transport_for_url(httpx.URL("https://worker.corp/"))  # pyright: ignore[reportPrivateUsage]
        assert not isinstance(transport, DiscoveryTransport)
        assert isinstance(client._transport_for_url(httpx.URL("http://worker.corp/")), DiscoveryTransport)  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(httpx.UnsupportedProtocol):
        DiscoveryTransport(settings_for(dns)).handle_request(httpx.Request("GET", "https://worker.corp/"))
