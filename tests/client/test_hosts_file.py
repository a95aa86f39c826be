"""The hosts file before DNS, as the C library's ``hosts: files dns``: how Service Connect's aliases resolve.

ECS writes each Service Connect client alias into the task's /etc/hosts, mapped to an address of the
task's own proxy on loopback (the ECS agent's Docker ``ExtraHosts``). Here a temporary hosts file maps
a name to 127.255.0.x, where a real loopback server plays the proxy (Linux routes all of 127/8 to lo),
and the project's DNS server answers NXDOMAIN, nothing, or the tasks' own addresses. Before the hosts
file was read, every call here either failed with NXDOMAIN / a DNS timeout or went past the proxy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_discovery_client import (
    ConfigurationError,
    DiscoveryClient,
    DiscoverySettings,
    Endpoint,
    ResolutionError,
    ResolutionFailure,
    Resolver,
)
from ecs_discovery_client._hosts import MAX_HOSTS_FILE_BYTES, HostsFile, parse_hosts
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.client.conftest import FakeClock, settings_for
from tests.fakes import LoopbackHttpServer, Request, Response

# Where the "proxy" listens: the range Service Connect is believed to use for its aliases.
PROXY_HOSTS = ("127.255.0.1", "127.255.0.2")
# A "task" of the service, as DNS names it (outside the ranges conftest and tests/apps use).
TASK_HOST = "127.0.3.2"


def _identify(name: str):
    def respond(request: Request) -> Response:
        return Response(200, name.encode(), "text/plain")

    return respond


@pytest.fixture
def proxy() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer(_identify("proxy"), host=PROXY_HOSTS[0]) as server:
        yield server


@pytest.fixture
def task(proxy: LoopbackHttpServer) -> Iterator[LoopbackHttpServer]:
    """A task of the service on the proxy's port (a client alias keeps the service's port)."""
    with LoopbackHttpServer(_identify("task"), host=TASK_HOST, port=proxy.port) as server:
        yield server


@pytest.fixture
def hosts_path(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1\tlocalhost\n::1 localhost ip6-localhost ip6-loopback\n")
    return path


def _write(path: Path, text: str) -> None:
    # A new inode each time (as `docker run --add-host` and editors that rename do), so the change
    # is seen even within one mtime tick.
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(text)
    os.replace(fresh, path)


def _settings(dns: LoopbackDnsServer, hosts_path: Path | None, **overrides: object) -> DiscoverySettings:
    # Loopback refused from DNS by default: what a task with the VPC resolver gets. The hosts file
    # must still work.
    values: dict[str, object] = {"allow_loopback": False, **overrides}
    return settings_for(dns, hosts_file=None if hosts_path is None else str(hosts_path), **values)


# -- Service Connect: the alias is only in the hosts file ------------------------------------------


def test_service_connect_alias_resolves_through_the_hosts_file_when_dns_says_nxdomain(
    dns: LoopbackDnsServer, proxy: LoopbackHttpServer, hosts_path: Path, unique_name: str
):
    # GIVEN the alias in the hosts file only (Service Connect mode: no DNS record of that name)
    _write(hosts_path, f"127.0.0.1 localhost\n{PROXY_HOSTS[0]} {unique_name}\n")
    dns.remove(unique_name)
    client = DiscoveryClient(unique_name, proxy.port, _settings(dns, hosts_path))

    # WHEN the service is called
    result = client.call("/jobs")

    # THEN the proxy answered, and DNS was never asked
    assert (result.status, result.body, result.address) == (200, b"proxy", PROXY_HOSTS[0])
    assert proxy.paths == ["/jobs"]
    assert dns.queries(unique_name) == []


def test_without_the_hosts_file_the_same_call_is_nxdomain(
    dns: LoopbackDnsServer, proxy: LoopbackHttpServer, unique_name: str
):
    # The defect the hosts file fixes, kept visible: DNS alone has no such name.
    client = DiscoveryClient(unique_name, proxy.port, _settings(dns, None))

    with pytest.raises(ResolutionError) as raised:
        client.call("/")

    assert raised.value.failure is ResolutionFailure.NXDOMAIN
    assert proxy.paths == []


def test_hosts_file_answers_while_dns_is_down(proxy: LoopbackHttpServer, hosts_path: Path, unique_name: str):
    # GIVEN a nameserver where nothing answers (a UDP port bound and never read)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        settings = DiscoverySettings(
            nameservers=(("127.0.0.1", silent.getsockname()[1]),),
            dns_timeout=0.5,
            dns_lifetime=1.0,
            deadline=3.0,
            hosts_file=str(hosts_path),
            allow_loopback=False,
        )
        _write(hosts_path, f"{PROXY_HOSTS[0]} {unique_name}\n")

        result = DiscoveryClient(unique_name, proxy.port, settings).call("/")

        assert (result.status, result.address, result.attempts) == (200, PROXY_HOSTS[0], 1)
    finally:
        silent.close()


def test_in_both_modes_the_call_goes_to_the_proxy_not_past_it(
    dns: LoopbackDnsServer, proxy: LoopbackHttpServer, task: LoopbackHttpServer, hosts_path: Path, unique_name: str
):
    # GIVEN "both": Cloud Map DNS names the task, the hosts file maps the same name to the proxy
    dns.set_records(unique_name, a=[TASK_HOST], ttl=30)
    _write(hosts_path, f"{PROXY_HOSTS[0]}  {unique_name}\n")
    client = DiscoveryClient(unique_name, proxy.port, _settings(dns, hosts_path, allow_loopback=True))

    answers = {client.call("/").body for _ in range(10)}

    # THEN every call went through the proxy (before: straight to the task, past the proxy)
    assert answers == {b"proxy"}
    assert task.paths == []


def test_an_entry_removed_falls_back_to_dns_and_one_added_wins_over_a_cached_dns_answer(
    dns: LoopbackDnsServer, proxy: LoopbackHttpServer, task: LoopbackHttpServer, hosts_path: Path, unique_name: str
):
    clock = FakeClock()
    dns.set_records(unique_name, a=[TASK_HOST], ttl=30)
    _write(hosts_path, f"{PROXY_HOSTS[0]} {unique_name}\n")
    settings = _settings(dns, hosts_path, allow_loopback=True)
    client = DiscoveryClient(unique_name, proxy.port, settings, Resolver(settings, clock=clock))
    assert client.call("/").body == b"proxy"

    # WHEN the entry is removed, THEN the file is not checked again within a second (no stat per call) ...
    _write(hosts_path, "127.0.0.1 localhost\n")
    assert client.call("/").body == b"proxy"
    # ... and after it, DNS is asked and its answer used
    clock.advance(1.0)
    assert client.call("/").body == b"task"
    assert len(dns.queries(unique_name, "A")) == 1

    # WHEN the entry comes back while the DNS answer is still cached (TTL 30 s), THEN the hosts file wins
    _write(hosts_path, f"{PROXY_HOSTS[0]} {unique_name}\n")
    clock.advance(1.0)
    assert client.call("/").body == b"proxy"
    assert len(dns.queries(unique_name, "A")) == 1


def test_a_missing_hosts_file_means_dns_only(
    dns: LoopbackDnsServer, task: LoopbackHttpServer, tmp_path: Path, unique_name: str
):
    dns.set_records(unique_name, a=[TASK_HOST], ttl=30)
    client = DiscoveryClient(unique_name, task.port, _settings(dns, tmp_path / "absent", allow_loopback=True))

    assert client.call("/").body == b"task"


# -- trusted, but not blindly ---------------------------------------------------------------------


def test_loopback_from_the_hosts_file_is_allowed_where_loopback_from_dns_is_refused(
    dns: LoopbackDnsServer, hosts_path: Path, unique_name: str
):
    dns.set_records(f"dns-{unique_name}", a=[PROXY_HOSTS[0]], ttl=30)
    _write(hosts_path, f"{PROXY_HOSTS[0]} {unique_name}\n")
    resolver = Resolver(_settings(dns, hosts_path))

    assert resolver.resolve(unique_name, 8080) == (Endpoint(PROXY_HOSTS[0], 8080),)
    with pytest.raises(ResolutionError) as raised:
        resolver.resolve(f"dns-{unique_name}", 8080)
    assert raised.value.failure is ResolutionFailure.NO_USABLE_ADDRESS


@pytest.mark.parametrize(
    "address",
    ["0.0.0.0", "::", "169.254.169.254", "169.254.170.2", "fe80::1", "224.0.0.1", "255.255.255.255", "240.0.0.1"],
)
def test_addresses_no_service_can_have_are_refused_from_the_hosts_file_too_and_dns_is_not_asked(
    dns: LoopbackDnsServer, hosts_path: Path, unique_name: str, address: str
):
    # A usable DNS record exists: a hosts entry is final, as in the C library, so it must not be used.
    dns.set_records(unique_name, a=["10.9.8.7"], ttl=30)
    _write(hosts_path, f"{address} {unique_name}\n")
    resolver = Resolver(_settings(dns, hosts_path))

    with pytest.raises(ResolutionError) as raised:
        resolver.resolve(unique_name, 8080)

    assert raised.value.failure is ResolutionFailure.NO_USABLE_ADDRESS
    assert "hosts file" in raised.value.detail and address in raised.value.detail
    assert dns.queries(unique_name) == []


def test_usable_addresses_of_a_name_are_kept_when_others_on_its_lines_are_refused(
    dns: LoopbackDnsServer, hosts_path: Path, unique_name: str
):
    _write(hosts_path, f"0.0.0.0 {unique_name}\n{PROXY_HOSTS[1]} {unique_name}\n169.254.169.254 {unique_name}\n")

    assert Resolver(_settings(dns, hosts_path)).resolve(unique_name, 80) == (Endpoint(PROXY_HOSTS[1], 80),)


def test_without_a_port_the_hosts_entry_is_called_on_the_fallback_port_or_dns_asked_for_srv(
    dns: LoopbackDnsServer, hosts_path: Path, unique_name: str
):
    # A hosts entry has no port: with none given, the SRV fallback port (80), as for A records without SRV.
    _write(hosts_path, f"{PROXY_HOSTS[0]} {unique_name}\n")
    dns.set_records(unique_name, a=["10.9.8.7"], srv=[(f"t1.{unique_name}", 9000)], ttl=30)
    dns.set_records(f"t1.{unique_name}", a=["10.9.8.7"], ttl=30)

    assert Resolver(_settings(dns, hosts_path)).resolve(unique_name) == (Endpoint(PROXY_HOSTS[0], 80),)
    srv_only = Resolver(_settings(dns, hosts_path), srv_fallback_port=None)
    assert srv_only.resolve(unique_name) == (Endpoint("10.9.8.7", 9000),)


def test_an_ip_address_as_the_host_is_never_renamed_by_a_hosts_line(dns: LoopbackDnsServer, hosts_path: Path):
    _write(hosts_path, f"{PROXY_HOSTS[0]} 10.1.2.3 169.254.169.254\n")
    resolver = Resolver(_settings(dns, hosts_path))

    assert resolver.resolve("10.1.2.3", 80) == (Endpoint("10.1.2.3", 80),)
    with pytest.raises(ResolutionError):
        resolver.resolve("169.254.169.254", 80)


# -- the file's format, hostile lines and bounds ----------------------------------------------------


def test_hosts_lines_as_hosts_5_defines_them():
    text = (
        b"# a comment line\n"
        b"127.0.0.1\tlocalhost   localhost.localdomain # trailing comment\n"
        b"127.255.0.1 Worker.Corp. worker   # the alias, a trailing dot and upper case\n"
        b"127.255.0.2\t\tworker.corp\r\n"  # CRLF; the same name again: both addresses, in file order
        b"127.255.0.1 worker.corp\n"  # a repeated address is kept once
        b"fd00:ec2::254 worker.corp v6only.corp\n"
        b"   \t  \n"
        b"\n"
        b"10.0.0.9\n"  # no name
        b"#127.0.0.9 commented.corp\n"
        b"127.0.0.8 after#comment.corp\n"  # '#' starts a comment anywhere
        b"127.0.0.7\tTab.Only.corp\n"
    )
    table = parse_hosts(text)

    assert table["localhost"] == ("127.0.0.1",)
    assert table["localhost.localdomain"] == ("127.0.0.1",)
    assert table["worker.corp"] == ("127.255.0.1", "127.255.0.2", "fd00:ec2::254")
    assert table["worker"] == ("127.255.0.1",)
    assert table["v6only.corp"] == ("fd00:ec2::254",)
    assert table["after"] == ("127.0.0.8",)
    assert table["tab.only.corp"] == ("127.0.0.7",)
    assert "commented.corp" not in table and "10.0.0.9" not in table


@pytest.mark.parametrize(
    "line",
    [
        b"999.1.1.1 hostile.corp",  # not an address
        b"127.1 hostile.corp",  # inet_aton shorthand: not in hosts(5)
        b"0x7f.0.0.1 hostile.corp",
        b"127.000.000.001 hostile.corp",  # leading zeros (octal in some parsers)
        b"127.0.0.1\x00 hostile.corp",  # NUL
        b"127.0.0.1 hostile.corp\x00evil",
        b"127.0.0.1 hostile.corp \x00",  # a NUL anywhere: the line is garbage, not cut there
        b"127.0.0.1 hostile\xff.corp",  # not UTF-8
        b"\xef\xbb\xbf127.0.0.1 hostile.corp",  # a BOM glued to the address
        b"127.0.0.1 $(reboot).corp",  # shell syntax is no DNS name
        b"127.0.0.1 hostile\xe2\x80\xae.corp",  # bidi override
        b"127.0.0.1 " + b"a" * 64 + b".corp",  # a label of 64
        b"127.0.0.1 " + (b"a" * 63 + b".") * 4 + b"corp",  # a name over 253
        b"127.0.0.1 hostile..corp",
        b"hostile.corp 127.0.0.1",  # fields the wrong way round
        b"127.0.0.1",
    ],
)
def test_hostile_lines_are_skipped_alone(line: bytes):
    table = parse_hosts(b"127.0.0.2 before.corp\n" + line + b"\n127.0.0.3 after.corp\n")

    assert table == {"before.corp": ("127.0.0.2",), "after.corp": ("127.0.0.3",)}


def test_only_the_first_mebibyte_is_read_and_a_line_cut_there_is_dropped(tmp_path: Path):
    head = b"127.255.0.1 early.corp\n"
    # The limit falls right after "cut.corp" of the line naming cut.corpus.example: read up to the
    # limit and parsed, that line would name cut.corp.
    prefix = b"127.255.0.3 cut.corp"
    needed = MAX_HOSTS_FILE_BYTES - len(prefix) - len(head)
    filler = b"# " + b"x" * 98 + b"\n"  # 101 bytes a line
    fill = filler * (needed // len(filler))
    rest = needed - len(fill)
    pad = b"#" * (rest - 1) + b"\n" if rest else b""
    beyond = b"us.example\n127.255.0.2 late.corp\n" + filler * 20_000
    path = tmp_path / "hosts"
    path.write_bytes(head + fill + pad + prefix + beyond)
    assert len(head + fill + pad + prefix) == MAX_HOSTS_FILE_BYTES
    hosts = HostsFile(str(path), clock=FakeClock())

    assert hosts.addresses("early.corp") == ("127.255.0.1",)
    assert hosts.addresses("cut.corp") is None
    assert hosts.addresses("cut.corpus.example") is None
    assert hosts.addresses("late.corp") is None


def test_a_fifo_or_a_device_at_the_path_is_not_read(tmp_path: Path):
    # Reading either could block forever or never end: treated as an empty file, DNS only.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert HostsFile(str(fifo), clock=FakeClock()).addresses("localhost") is None
    assert HostsFile("/dev/zero", clock=FakeClock()).addresses("localhost") is None


def test_a_directory_at_the_path_is_dns_only_and_the_file_is_read_once_it_is_there(tmp_path: Path):
    clock = FakeClock()
    path = tmp_path / "hosts"
    path.mkdir()
    hosts = HostsFile(str(path), clock=clock)
    assert hosts.addresses("fixed.corp") is None

    path.rmdir()
    path.write_text("127.255.0.1 fixed.corp\n")
    clock.advance(1.0)
    assert hosts.addresses("fixed.corp") == ("127.255.0.1",)


# -- configuration ----------------------------------------------------------------------------------


def test_dns_hosts_file_is_read_from_the_environment(tmp_path: Path):
    settings = DiscoverySettings.from_environ({"DNS_HOSTS_FILE": f"  {tmp_path}/hosts\n"})
    assert settings.hosts_file == f"{tmp_path}/hosts"
    assert DiscoverySettings.from_environ({}).hosts_file == "/etc/hosts"
    assert DiscoverySettings(hosts_file=None).hosts_file is None


@pytest.mark.parametrize(
    "value", ["hosts", "./hosts", "~/hosts", "/etc/ho\x00sts", "/etc/hosts\nx", "/etc/\x1bhosts", "/" + "a" * 4096]
)
def test_a_bad_dns_hosts_file_is_refused_naming_the_variable(value: str):
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({"DNS_HOSTS_FILE": value})
    assert raised.value.variable == "DNS_HOSTS_FILE"
    assert "absolute path" in str(raised.value)


@pytest.mark.parametrize("value", [b"/etc/hosts", 42, True])
def test_a_hosts_file_that_is_not_a_string_is_refused(value: object):
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings(hosts_file=value)  # pyright: ignore[reportArgumentType]
    assert raised.value.variable == "hosts_file"
