"""services/flask-backend/discovery.py in-process, against the real loopback DNS server and real workers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.apps.harness import (
    BACKEND_DIR,
    DEAD_HOSTS,
    WORKER_HOSTS,
    WORKER_NAME,
    load_module,
)

discovery = load_module(BACKEND_DIR / "discovery.py", "flask_backend_discovery")


def settings_for(dns_server: LoopbackDnsServer, **overrides: str):
    """The backend's DiscoverySettings (a class of a module loaded at run time) for the test DNS server."""
    environ = {
        "DNS_NAMESERVERS": f"127.0.0.1:{dns_server.port}",
        "DNS_TIMEOUT": "0.5",
        "DNS_LIFETIME": "1.0",
        "UPSTREAM_CONNECT_TIMEOUT": "0.5",
        "UPSTREAM_READ_TIMEOUT": "1.0",
        "UPSTREAM_DEADLINE": "3",
        **overrides,
    }
    return discovery.DiscoverySettings.from_environ(environ)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"NAMESPACE": "corp"}, ("worker.corp", None)),
        ({"NAMESPACE": "corp.", "WORKER_SERVICE": "jobs", "WORKER_PORT": "8080"}, ("jobs.corp", 8080)),
        # connect_to sets <NAME>_HOST; it wins over the namespace.
        ({"NAMESPACE": "corp", "WORKER_HOST": "worker.other.", "WORKER_PORT": "81"}, ("worker.other", 81)),
    ],
)
def test_dns_name_from_env(environ, expected):
    assert discovery.dns_name_from_env("WORKER", environ) == expected


@pytest.mark.parametrize(
    "environ", [{}, {"NAMESPACE": "corp", "WORKER_PORT": "0"}, {"WORKER_HOST": "w", "WORKER_PORT": "x"}]
)
def test_dns_name_from_env_rejects_incomplete_configuration(environ):
    with pytest.raises(ValueError):
        discovery.dns_name_from_env("WORKER", environ)


def test_nameservers_from_env():
    settings = discovery.DiscoverySettings.from_environ({"DNS_NAMESERVERS": "127.0.0.1:5353, 10.0.0.2,[::1]:53"})
    assert [(server.address, server.port) for server in settings.nameservers] == [
        ("127.0.0.1", 5353),
        ("10.0.0.2", 53),
        ("::1", 53),
    ]
    assert discovery.DiscoverySettings.from_environ({}).nameservers == ()
    for bad in ("resolver.internal", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            discovery.DiscoverySettings.from_environ({"DNS_NAMESERVERS": bad})


def test_bad_timeouts_are_rejected():
    with pytest.raises(ValueError):
        discovery.DiscoverySettings.from_environ({"UPSTREAM_CONNECT_TIMEOUT": "0"})
    with pytest.raises(ValueError):
        discovery.DiscoverySettings.from_environ({"UPSTREAM_MAX_ATTEMPTS": "-1"})


def test_concurrent_callers_share_one_lookup_while_the_ttl_lasts(dns_server, workers, worker_port):
    dns_server.set_records("shared.cache.test", a=WORKER_HOSTS, ttl=30)
    client = discovery.DiscoveryClient("shared.cache.test", worker_port, settings_for(dns_server))
    results = []

    def call(_):
        for _ in range(5):
            results.append(client.call("/").address)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 40
    assert set(results) <= set(WORKER_HOSTS)
    assert len(dns_server.queries("shared.cache.test")) == 1


def test_srv_targets_are_looked_up_when_not_in_the_additional_section(workers, worker_port):
    with LoopbackDnsServer(srv_additional=False) as dns_server:
        targets = [("t1.worker.srv.test", worker_port), ("gone.worker.srv.test", 1)]
        dns_server.set_records("worker.srv.test", srv=targets)
        dns_server.set_records("t1.worker.srv.test", a=[WORKER_HOSTS[0]])
        client = discovery.DiscoveryClient("worker.srv.test", None, settings_for(dns_server))

        # The target removed since the SRV answer is skipped, the live one is used.
        assert client.endpoints() == (discovery.Endpoint(WORKER_HOSTS[0], worker_port),)
        result = client.call("/")
        assert (result.address, result.port, result.status) == (WORKER_HOSTS[0], worker_port, 200)
        assert [(q.name, q.qtype) for q in dns_server.queries()] == [
            ("worker.srv.test", "SRV"),
            ("t1.worker.srv.test", "A"),
            ("gone.worker.srv.test", "A"),
        ]


def test_attempts_are_capped_when_every_address_is_dead(dns_server, worker_port):
    # Route 53 MULTIVALUE: up to 8 answers, here all of them stale.
    dns_server.set_records("dead.cap.test", a=DEAD_HOSTS)
    settings = settings_for(dns_server, UPSTREAM_MAX_ATTEMPTS="3")
    client = discovery.DiscoveryClient("dead.cap.test", worker_port, settings)
    with pytest.raises(discovery.UnreachableError) as raised:
        client.call("/")
    failures = raised.value.failures
    assert len(failures) == 3
    assert len({failure.address for failure in failures}) == 3
    assert {failure.error for failure in failures} == {"connection refused"}
    assert "dead.cap.test" in str(raised.value)


def test_recently_failed_address_is_tried_last(dns_server, workers, worker_port):
    dns_server.set_records("penalty.test", a=[DEAD_HOSTS[0], WORKER_HOSTS[0]])
    client = discovery.DiscoveryClient("penalty.test", worker_port, settings_for(dns_server))
    results = [client.call("/") for _ in range(12)]
    assert all(result.address == WORKER_HOSTS[0] for result in results)
    # Until the first request happens to start at the dead address it costs nothing; from
    # then on the dead address goes last, so exactly one request pays for it.
    assert sum(len(result.failures) for result in results) <= 1


def test_missing_worker_name_fails_fast(dns_server):
    client = discovery.DiscoveryClient(f"nothing.{WORKER_NAME}", 8080, settings_for(dns_server))
    with pytest.raises(discovery.ResolutionError) as raised:
        client.call("/")
    assert raised.value.failure == "nxdomain"


def test_calls_spread_evenly_over_the_survivors_of_a_dead_address(dns_server, workers, worker_port):
    # The dead address first in the answer: its share must not all go to the one after it.
    survivors = WORKER_HOSTS[:2]
    dns_server.set_records("spread.test", a=[DEAD_HOSTS[1], *survivors])
    client = discovery.DiscoveryClient("spread.test", worker_port, settings_for(dns_server))
    counts = Counter(client.call("/").address for _ in range(600))
    assert set(counts) == set(survivors)
    # Binomial(600, 1/2) leaves [240, 360] with probability about 1e-6; 2:1 would be 400:200.
    assert all(240 <= counts[host] <= 360 for host in survivors), counts
