"""The loopback DNS server, queried with a real resolver (dnspython) over UDP and TCP."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import pytest

from ecs_discovery_tools.local.dns_server import LoopbackDnsServer


@pytest.fixture
def server():
    with LoopbackDnsServer(default_ttl=7) as dns_server:
        yield dns_server


def resolver_for(server: LoopbackDnsServer, lifetime: float = 2.0) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    resolver.timeout = 0.5
    resolver.lifetime = lifetime
    return resolver


def test_a_records_with_configured_and_default_ttl(server):
    server.set_records("worker.corp", a=["127.0.0.2", "127.0.0.3"], ttl=3)
    server.set_records("other.corp", a=["127.0.0.9"])
    resolver = resolver_for(server)

    answer = resolver.resolve("worker.corp.", "A")
    assert sorted(rdata.address for rdata in answer) == ["127.0.0.2", "127.0.0.3"]
    assert answer.rrset is not None
    assert answer.rrset.ttl == 3
    other = resolver.resolve("Other.CORP.", "A")  # names are case-insensitive
    assert other.rrset is not None
    assert other.rrset.ttl == 7


def test_srv_records_carry_target_addresses_in_additional_section(server):
    server.set_records("worker.corp", srv=[("t1.worker.corp", 8080), ("t2.worker.corp", 9090, 2, 5)])
    server.set_records("t1.worker.corp", a=["127.0.0.2"])
    server.set_records("t2.worker.corp", a=["127.0.0.3"])

    answer = resolver_for(server).resolve("worker.corp.", "SRV")
    records = sorted((r.target.to_text(), r.port, r.priority, r.weight) for r in answer)
    assert records == [("t1.worker.corp.", 8080, 1, 1), ("t2.worker.corp.", 9090, 2, 5)]
    additional = {rrset.name.to_text(): [r.address for r in rrset] for rrset in answer.response.additional}
    assert additional == {"t1.worker.corp.": ["127.0.0.2"], "t2.worker.corp.": ["127.0.0.3"]}


def test_srv_without_additional_section_when_disabled():
    with LoopbackDnsServer(srv_additional=False) as server:
        server.set_records("worker.corp", srv=[("t1.worker.corp", 8080)])
        server.set_records("t1.worker.corp", a=["127.0.0.2"])
        answer = resolver_for(server).resolve("worker.corp.", "SRV")
        assert len(answer) == 1
        assert answer.response.additional == []


def test_max_answers_gives_up_to_eight_records_chosen_at_random_like_route_53():
    addresses = [f"127.0.1.{i}" for i in range(1, 13)]
    targets = [(f"t{i}.worker.corp", 8080) for i in range(1, 13)]
    with LoopbackDnsServer(max_answers=8) as server:
        server.set_records("worker.corp", a=addresses, srv=targets)
        for (target, _), address in zip(targets, addresses, strict=True):
            server.set_records(target, a=[address])
        resolver = resolver_for(server)
        seen: set[str] = set()
        for _ in range(20):
            answer = [rdata.address for rdata in resolver.resolve("worker.corp.", "A")]
            assert len(answer) == len(set(answer)) == 8 and set(answer) <= set(addresses)
            seen.update(answer)
        srv = resolver.resolve("worker.corp.", "SRV")
        chosen = sorted(r.target.to_text() for r in srv)
        additional = sorted(rrset.name.to_text() for rrset in srv.response.additional)
    # Over 20 answers, more than 8 of the 12 addresses are handed out (1 in 495**19 that not).
    assert len(seen) > 8
    # The additional section carries the addresses of the chosen SRV targets only.
    assert len(chosen) == 8 and additional == chosen


def test_unknown_name_is_nxdomain_and_missing_type_is_nodata(server):
    server.set_records("task-1.worker.corp", a=["127.0.0.2"])
    resolver = resolver_for(server)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nothing.corp.", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("task-1.worker.corp.", "SRV")
    # A name with names below it exists even without records of its own.
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("worker.corp.", "A")


def test_records_change_at_run_time(server):
    resolver = resolver_for(server)
    server.set_records("worker.corp", a=["127.0.0.2"])
    assert [r.address for r in resolver.resolve("worker.corp.", "A")] == ["127.0.0.2"]
    server.set_records("worker.corp", a=["127.0.0.4"])
    assert [r.address for r in resolver.resolve("worker.corp.", "A")] == ["127.0.0.4"]
    server.remove("worker.corp")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("worker.corp.", "A")


def test_tcp_query(server):
    server.set_records("worker.corp", a=["127.0.0.2"])
    query = dns.message.make_query("worker.corp.", "A")
    response = dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=2)
    assert [r.address for r in response.answer[0]] == ["127.0.0.2"]
    assert server.queries("worker.corp")[-1].transport == "tcp"


def test_large_answer_is_truncated_over_udp_and_complete_over_tcp(server):
    many = [f"127.0.1.{last}" for last in range(1, 101)]  # about 1.6 kB: over the 512-byte UDP limit
    server.set_records("big.corp", a=many)
    query = dns.message.make_query("big.corp.", "A")
    udp_response = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    assert udp_response.flags & dns.flags.TC
    # The resolver retries over TCP when it sees TC.
    answer = resolver_for(server).resolve("big.corp.", "A")
    assert sorted(r.address for r in answer) == sorted(many)
    assert [q.transport for q in server.queries("big.corp")][-2:] == ["udp", "tcp"]


def test_silent_server_makes_resolver_time_out(server):
    server.set_records("worker.corp", a=["127.0.0.2"])
    server.silent = True
    with pytest.raises(dns.exception.Timeout):
        resolver_for(server, lifetime=1.0).resolve("worker.corp.", "A")
    logged = server.queries("worker.corp")
    assert logged and not any(query.answered for query in logged)
    server.silent = False
    assert [r.address for r in resolver_for(server).resolve("worker.corp.", "A")] == ["127.0.0.2"]


def test_query_log_filters_by_name_and_type(server):
    server.set_records("worker.corp", a=["127.0.0.2"], srv=[("t.worker.corp", 1)])
    resolver = resolver_for(server)
    resolver.resolve("worker.corp.", "A")
    resolver.resolve("worker.corp.", "SRV")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("x.corp.", "A")
    assert [q.qtype for q in server.queries("worker.corp")] == ["A", "SRV"]
    assert len(server.queries(qtype="A")) == 2
    assert [q.name for q in server.queries()] == ["worker.corp", "worker.corp", "x.corp"]


def test_rejects_non_loopback_address():
    with pytest.raises(ValueError):
        LoopbackDnsServer(host="0.0.0.0")
