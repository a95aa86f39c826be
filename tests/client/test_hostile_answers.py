"""Issue 20: DNS answers that mean "no service", or point at addresses no service can have, are not called.

Anyone who can write a record controls the answer. The project's loopback DNS server serves most of
them; SRV target ``.`` it cannot encode, so those answers come from dnslib's own ZoneResolver on
loopback. Each test would have failed before the fix: the client connected (port 0), looked the root
up and called what came back, or sent the request (with its headers) to the address it was given.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

from ecs_discovery_client import (
    AttemptEvent,
    ConfigurationError,
    DiscoveryClient,
    DiscoverySettings,
    Endpoint,
    ResolutionError,
    ResolutionFailure,
    Resolver,
)
from ecs_discovery_client.requests_adapter import discovery_session
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.client.conftest import Task, settings_for
from tests.fakes import LoopbackHttpServer, Response

Cluster = list[Task]

# Addresses no service can have, each a class of its own.
NO_SERVICE_ADDRESSES = [
    "0.0.0.0",  # unspecified: on Linux it reaches the caller's own host
    "169.254.169.254",  # EC2 instance metadata
    "169.254.170.2",  # ECS task credentials
    "169.254.1.1",  # link-local in general
    "224.0.0.1",  # multicast
    "239.255.255.250",  # multicast (SSDP)
    "255.255.255.255",  # broadcast
    "240.0.0.1",  # reserved
]


def _refused(dns_name: str, raised: pytest.ExceptionInfo[ResolutionError]) -> None:
    assert raised.value.failure is ResolutionFailure.NO_USABLE_ADDRESS
    assert raised.value.dns_name == dns_name


# -- SRV records meaning "no service" ------------------------------------------------------


@pytest.fixture
def zone_dns() -> Iterator[tuple[int, DNSServer]]:
    """A dnslib DNS server on 127.0.0.1 answering from a zone text (set ``.resolver`` per test)."""
    quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-data,-error", prefix=False)
    server = DNSServer(ZoneResolver(""), address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        yield int(server.server.server_address[1]), server
    finally:
        server.stop()


def _zone_settings(port: int) -> DiscoverySettings:
    return DiscoverySettings(nameservers=(("127.0.0.1", port),), dns_timeout=0.5, dns_lifetime=1.0, deadline=3.0)


@pytest.mark.parametrize(
    "zone",
    [
        "svc.test. 10 IN SRV 1 1 8080 .",
        # Several records, each "not available": still nothing.
        "svc.test. 10 IN SRV 1 1 8080 .\nsvc.test. 10 IN SRV 2 1 8081 .",
        # The root has an A record in this zone: before the fix the client looked '.' up and called it.
        "svc.test. 10 IN SRV 1 1 8080 .\n. 10 IN A 127.0.0.1",
    ],
    ids=["one", "two", "root-has-an-address"],
)
def test_srv_target_root_means_not_available(zone_dns: tuple[int, DNSServer], zone: str) -> None:
    port, server = zone_dns
    server.server.resolver = ZoneResolver(zone)  # pyright: ignore[reportAttributeAccessIssue]
    resolver = Resolver(_zone_settings(port))
    with pytest.raises(ResolutionError) as raised:
        resolver.resolve("svc.test")
    _refused("svc.test", raised)
    assert "decidedly not available" in raised.value.detail


def test_srv_target_root_does_not_fall_back_to_a_records(zone_dns: tuple[int, DNSServer]) -> None:
    # The name has A records too: an SRV answer saying "not available" must not become port 80 on them.
    port, server = zone_dns
    server.server.resolver = ZoneResolver(  # pyright: ignore[reportAttributeAccessIssue]
        "svc.test. 10 IN SRV 1 1 8080 .\nsvc.test. 10 IN A 127.0.1.2"
    )
    with pytest.raises(ResolutionError) as raised:
        Resolver(_zone_settings(port)).resolve("svc.test")
    _refused("svc.test", raised)


@pytest.mark.parametrize(
    "records",
    [
        [SrvRecord("t1.srv0.client.test", 0)],
        [SrvRecord("t1.srv0.client.test", 0), SrvRecord("t2.srv0.client.test", 0)],
    ],
    ids=["one", "all"],
)
def test_srv_port_zero_is_not_an_endpoint(dns: LoopbackDnsServer, records: list[SrvRecord]) -> None:
    dns.set_records("srv0.client.test", srv=records)
    dns.set_records("t1.srv0.client.test", a=["127.0.1.2"])
    dns.set_records("t2.srv0.client.test", a=["127.0.1.3"])
    events: list[AttemptEvent] = []
    client = DiscoveryClient("srv0.client.test", None, settings_for(dns), on_attempt=events.append)
    with pytest.raises(ResolutionError) as raised:
        client.call("/")
    _refused("srv0.client.test", raised)
    assert "SRV port 0" in raised.value.detail
    assert events == []  # nothing was connected to


def test_srv_port_zero_beside_a_good_record_leaves_the_good_one(dns: LoopbackDnsServer, cluster: Cluster) -> None:
    task = cluster[0]
    dns.set_records(
        "mixed-srv.client.test",
        srv=[SrvRecord("bad.mixed-srv.client.test", 0), ("good.mixed-srv.client.test", task.port)],
    )
    dns.set_records("bad.mixed-srv.client.test", a=[cluster[1].host])
    dns.set_records("good.mixed-srv.client.test", a=[task.host])
    assert Resolver(settings_for(dns)).resolve("mixed-srv.client.test") == (Endpoint(task.host, task.port),)


# -- addresses no service can have -------------------------------------------------------------


def test_the_unspecified_address_does_not_reach_a_server_on_loopback(dns: LoopbackDnsServer) -> None:
    # Before: an A answer 0.0.0.0 connected to this server on 127.0.0.1 and returned its body.
    with LoopbackHttpServer(lambda request: Response(body=b"secret")) as server:
        dns.set_records("zero.client.test", a=["0.0.0.0"])
        client = DiscoveryClient("zero.client.test", server.port, settings_for(dns, allow_loopback=True))
        with pytest.raises(ResolutionError) as raised:
            client.call("/")
        _refused("zero.client.test", raised)
        assert "0.0.0.0" in raised.value.detail
        assert server.requests == []


@pytest.mark.parametrize("address", NO_SERVICE_ADDRESSES)
def test_an_address_no_service_can_have_is_never_called(dns: LoopbackDnsServer, address: str) -> None:
    name = f"bad-{address.replace('.', '-')}.client.test"
    dns.set_records(name, a=[address])
    events: list[AttemptEvent] = []
    client = DiscoveryClient(name, 80, settings_for(dns, allow_loopback=True), on_attempt=events.append)
    with pytest.raises(ResolutionError) as raised:
        client.call("/", headers={"Authorization": "Bearer token-of-the-caller"})
    _refused(name, raised)
    assert events == []  # not even a connect


@pytest.mark.parametrize("address", ["169.254.170.2", "255.255.255.255", "224.0.0.251"])
def test_an_srv_target_at_such_an_address_is_never_called(dns: LoopbackDnsServer, address: str) -> None:
    dns.set_records("creds.client.test", srv=[SrvRecord("t1.creds.client.test", 80)])
    dns.set_records("t1.creds.client.test", a=[address])
    with pytest.raises(ResolutionError) as raised:
        Resolver(settings_for(dns)).resolve("creds.client.test")
    _refused("creds.client.test", raised)


def test_a_refused_address_beside_a_live_task_costs_nothing(dns: LoopbackDnsServer, cluster: Cluster) -> None:
    task = cluster[2]
    dns.set_records("mixed.client.test", a=["169.254.170.2", task.host, "0.0.0.0"])
    events: list[AttemptEvent] = []
    client = DiscoveryClient("mixed.client.test", task.port, settings_for(dns), on_attempt=events.append)
    assert client.endpoints() == (Endpoint(task.host, task.port),)
    assert {client.call("/").address for _ in range(10)} == {task.host}
    assert {event.address for event in events} == {task.host}


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/v2/credentials", "http://0.0.0.0:80/"]
)
def test_an_ip_address_in_a_url_is_judged_the_same_way(dns: LoopbackDnsServer, url: str) -> None:
    # The URL's host may come from input: the adapter must not become a way to the credentials.
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        discovery_session(settings_for(dns, allow_loopback=True)).get(url)
    assert getattr(raised.value, "discovery_error").failure is ResolutionFailure.NO_USABLE_ADDRESS  # noqa: B009


def test_an_ipv4_mapped_ipv6_address_is_judged_as_its_ipv4_address(dns: LoopbackDnsServer) -> None:
    with pytest.raises(ResolutionError) as raised:
        Resolver(settings_for(dns)).resolve("::ffff:169.254.169.254", 80)
    _refused("::ffff:169.254.169.254", raised)


# -- loopback is a setting ---------------------------------------------------------------------


def test_loopback_is_refused_when_the_setting_says_so(dns: LoopbackDnsServer, cluster: Cluster) -> None:
    task = cluster[3]
    dns.set_records("lo.client.test", a=[task.host])
    with pytest.raises(ResolutionError) as raised:
        DiscoveryClient("lo.client.test", task.port, settings_for(dns, allow_loopback=False)).call("/")
    _refused("lo.client.test", raised)
    assert "UPSTREAM_ALLOW_LOOPBACK" in raised.value.detail
    assert DiscoveryClient("lo.client.test", task.port, settings_for(dns, allow_loopback=True)).call("/").status == 200


def test_loopback_by_default_only_with_loopback_nameservers() -> None:
    # The local run and the tests serve DNS on loopback; a task's resolver is the VPC's.
    assert DiscoverySettings(nameservers=(("127.0.0.1", 5353),)).loopback_allowed
    assert DiscoverySettings(nameservers=(("::1", 5353),)).loopback_allowed
    assert not DiscoverySettings(nameservers=(("10.0.0.2", 53),)).loopback_allowed
    assert not DiscoverySettings(nameservers=(("127.0.0.1", 53), ("10.0.0.2", 53))).loopback_allowed
    assert not DiscoverySettings().loopback_allowed  # the system resolver
    assert DiscoverySettings(allow_loopback=True).loopback_allowed
    assert not DiscoverySettings(nameservers=(("127.0.0.1", 53),), allow_loopback=False).loopback_allowed


@pytest.mark.parametrize(
    ("text", "expected"), [("1", True), ("true", True), (" Yes\n", True), ("off", False), ("0", False)]
)
def test_upstream_allow_loopback_from_the_environment(text: str, expected: bool) -> None:
    assert DiscoverySettings.from_environ({"UPSTREAM_ALLOW_LOOPBACK": text}).allow_loopback is expected


@pytest.mark.parametrize("text", ["2", "tru", "true\nfalse", "ja", "1.0", "\u0661"])
def test_a_bad_upstream_allow_loopback_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({"UPSTREAM_ALLOW_LOOPBACK": text})
    assert raised.value.variable == "UPSTREAM_ALLOW_LOOPBACK"
