"""The loopback DNS server, queried with a real resolver (dnspython) over UDP and TCP, and attacked:
malformed and hostile packets, names DNS cannot carry, records it cannot encode, descriptor
exhaustion, TCP connection floods and random bytes. After each, it must still answer a good query."""

from __future__ import annotations

import os
import random
import select
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import pytest

from ecs_discovery_tools.local.dns_server import DnsRecordError, LoopbackDnsServer, SrvRecord, dns_label


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


# -- hostile queries: answered or dropped, never fatal -------------------------------------------------

RCODE_FORMERR, RCODE_NOTIMP = 1, 4


def header(*, questions: int = 1, flags: int = 0x0100, message_id: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", message_id, flags, questions, 0, 0, 0)


def question(*labels: bytes, qtype: int = 1) -> bytes:
    return b"".join(bytes([len(label) % 256]) + label for label in labels) + b"\0" + struct.pack("!HH", qtype, 1)


def udp_exchange(server: LoopbackDnsServer, packet: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, ("127.0.0.1", server.port))
        try:
            return sock.recv(65_535)
        except TimeoutError:
            return None


def assert_still_answers(server: LoopbackDnsServer) -> None:
    assert server.serving
    answer = resolver_for(server).resolve("worker.corp.", "A")
    assert [rdata.address for rdata in answer] == ["127.0.0.2"]
    response = dns.query.tcp(dns.message.make_query("worker.corp.", "A"), "127.0.0.1", port=server.port, timeout=2)
    assert [rdata.address for rdata in response.answer[0]] == ["127.0.0.2"]


@pytest.fixture
def hostile_target(server: LoopbackDnsServer) -> LoopbackDnsServer:
    server.set_records("worker.corp", a=["127.0.0.2"])
    return server


def rcode(reply: bytes) -> int:
    return struct.unpack("!H", reply[2:4])[0] & 0xF


HOSTILE_PACKETS: dict[str, tuple[bytes, int | None]] = {
    # name: (packet, expected rcode; None = dropped)
    "label of 64 bytes (0x40 length)": (header() + question(b"a" * 64, b"corp"), RCODE_FORMERR),
    "label of 127 bytes": (header() + question(b"b" * 127, b"corp"), RCODE_FORMERR),
    "name of 300 bytes": (header() + question(*[b"a" * 59] * 5), RCODE_FORMERR),
    "name of 256 bytes on the wire": (header() + question(*[b"c" * 63] * 4), RCODE_FORMERR),
    "compression pointer loop": (header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1), RCODE_FORMERR),
    "pointer past the end": (header() + b"\xc0\xff" + struct.pack("!HH", 1, 1), RCODE_FORMERR),
    "no question": (header(questions=0), RCODE_FORMERR),
    "three questions": (header(questions=3) + question(b"worker", b"corp") * 3, RCODE_FORMERR),
    "65535 questions, one present": (header(questions=65_535) + question(b"worker", b"corp"), RCODE_FORMERR),
    "question cut short": (header() + question(b"worker", b"corp")[:-3], RCODE_FORMERR),
    "opcode UPDATE": (header(flags=5 << 11) + question(b"worker", b"corp"), RCODE_NOTIMP),
    "a response, not a query": (header(flags=0x8180) + question(b"worker", b"corp"), None),
    "shorter than a header": (b"\x12\x34\x01", None),
    "empty datagram": (b"", None),
    "binary garbage with a readable header": (bytes(range(256)) * 4, RCODE_FORMERR),
    "binary garbage with the response bit": (bytes(range(128, 256)) * 8, None),
}


@pytest.mark.parametrize("case", list(HOSTILE_PACKETS), ids=list(HOSTILE_PACKETS))
def test_hostile_udp_packets_are_answered_with_an_error_or_dropped(hostile_target, case):
    packet, expected = HOSTILE_PACKETS[case]

    reply = udp_exchange(hostile_target, packet, timeout=0.3 if expected is None else 2.0)

    if expected is None:
        assert reply is None
    else:
        assert reply is not None and reply[:2] == packet[:2] and rcode(reply) == expected
    assert hostile_target.errors >= 1
    assert_still_answers(hostile_target)


def test_a_label_holding_a_dot_byte_is_not_confused_with_two_labels(hostile_target):
    reply = udp_exchange(hostile_target, header() + question(b"worker.corp"))

    assert reply is not None and rcode(reply) == 3  # NXDOMAIN: not worker.corp
    assert_still_answers(hostile_target)


@pytest.mark.parametrize("case", ["label of 64 bytes (0x40 length)", "name of 300 bytes", "three questions"])
def test_hostile_tcp_messages_are_answered_and_the_connection_stays_usable(hostile_target, case):
    packet, expected = HOSTILE_PACKETS[case]
    good = dns.message.make_query("worker.corp.", "A").to_wire()
    with socket.create_connection(("127.0.0.1", hostile_target.port), timeout=2) as conn:
        conn.sendall(struct.pack("!H", len(packet)) + packet + struct.pack("!H", len(good)) + good)
        replies = read_tcp_messages(conn, 2)
    assert rcode(replies[0]) == expected
    assert [rdata.address for rdata in dns.message.from_wire(replies[1]).answer[0]] == ["127.0.0.2"]


def read_tcp_messages(conn: socket.socket, count: int) -> list[bytes]:
    data, messages = b"", []
    while len(messages) < count:
        while len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
            length = struct.unpack("!H", data[:2])[0]
            messages.append(data[2 : 2 + length])
            data = data[2 + length :]
        if len(messages) < count:
            chunk = conn.recv(65_537)
            assert chunk, "connection closed before the messages arrived"
            data += chunk
    return messages[:count]


def test_tcp_garbage_and_half_messages_end_only_that_connection(hostile_target):
    with socket.create_connection(("127.0.0.1", hostile_target.port), timeout=2) as conn:
        conn.sendall(b"\x00\x05\xff\xff\xff\xff\xff" + b"\xff\xff" + b"\x00" * 10)  # garbage, then a huge length
    with socket.create_connection(("127.0.0.1", hostile_target.port), timeout=2) as conn:
        conn.sendall(b"\x00")  # half a length, then gone
    assert_still_answers(hostile_target)


def test_tcp_connections_beyond_the_limit_are_closed_and_the_server_keeps_answering():
    with LoopbackDnsServer(max_tcp_connections=4) as server:
        server.set_records("worker.corp", a=["127.0.0.2"])
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=2) for _ in range(10)]
        try:
            # The 5th and later are closed by the server on arrival: recv sees the end.
            closed = 0
            for conn in held[4:]:
                try:
                    closed += conn.recv(1) == b""
                except ConnectionResetError:
                    closed += 1
            assert closed == 6
            assert [r.address for r in resolver_for(server).resolve("worker.corp.", "A")] == ["127.0.0.2"]
        finally:
            for conn in held:
                conn.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the held connections' threads end once their clients left
            try:
                assert_still_answers(server)
                break
            except (AssertionError, OSError, dns.exception.DNSException):
                time.sleep(0.2)
        assert_still_answers(server)


def test_random_bytes_never_stop_the_server(hostile_target):
    generator = random.Random(20261203)  # fixed seed: a failure can be replayed
    good = dns.message.make_query("worker.corp.", "SRV").to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for index in range(3000):
            if index % 2:
                packet = bytes(generator.getrandbits(8) for _ in range(generator.randrange(0, 600)))
            else:  # a valid query with a few bytes changed: gets past the first checks
                packet = bytearray(good)
                for _ in range(generator.randrange(1, 6)):
                    packet[generator.randrange(len(packet))] = generator.getrandbits(8)
                packet = bytes(packet)
            sock.sendto(packet, ("127.0.0.1", hostile_target.port))
            if index % 50 == 0:
                time.sleep(0.01)  # let the server keep up (the socket buffer would drop the rest)
                while True:
                    try:
                        sock.recv(65_535)
                    except BlockingIOError:
                        break
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", hostile_target.port), timeout=2) as conn:
            conn.sendall(bytes(generator.getrandbits(8) for _ in range(generator.randrange(2, 2000))))
    assert hostile_target.errors > 100
    assert_still_answers(hostile_target)


# -- descriptor exhaustion -----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, resource, sys, time
    from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

    server = LoopbackDnsServer(max_tcp_connections=1000).start()
    server.set_records("worker.corp", a=["127.0.0.2"])
    # Leave room for 3 more descriptors: TCP connections beyond that make accept() fail with EMFILE.
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 3, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print(server.port, flush=True)
    told = False
    for _ in range(600):  # at most 60 s; the test kills it sooner
        time.sleep(0.1)
        if not server.serving:
            print("DIED", flush=True)
            sys.exit(1)
        if not told and "accept:" in (server.last_error or "") and "Too many open files" in server.last_error:
            print("ACCEPT-EMFILE", flush=True)
            told = True
    """
)


def test_running_out_of_file_descriptors_pauses_tcp_and_never_stops_the_server(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        server = _RemoteServer(port)
        held = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(20)]
        try:
            # The child hits EMFILE on the connections beyond its limit, and says so.
            ready, _, _ = select.select([child.stdout], [], [], 15)
            assert ready and child.stdout.readline().strip() == "ACCEPT-EMFILE"
            answer = dns.query.udp(dns.message.make_query("worker.corp.", "A"), "127.0.0.1", port=port, timeout=2)
            assert [rdata.address for rdata in answer.answer[0]] == ["127.0.0.2"]  # UDP needs no new descriptor
        finally:
            for conn in held:
                conn.close()
        _eventually(lambda: server.tcp_answers(), timeout=15)
        assert child.poll() is None, "the DNS server process ended"
    finally:
        child.kill()
        child.wait(timeout=10)


class _RemoteServer:
    def __init__(self, port: int) -> None:
        self.port = port

    def tcp_answers(self) -> bool:
        response = dns.query.tcp(dns.message.make_query("worker.corp.", "A"), "127.0.0.1", port=self.port, timeout=1)
        return [rdata.address for rdata in response.answer[0]] == ["127.0.0.2"]


def _eventually(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, dns.exception.DNSException, EOFError) as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout} s (last error: {last!r})")


# -- records it cannot encode are refused --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"srv": [("t.worker.corp", 70000)]}, "srv port"),
        ({"srv": [("t.worker.corp", -1)]}, "srv port"),
        ({"srv": [("t.worker.corp", "8080")]}, "srv port"),
        ({"srv": [("t.worker.corp", True)]}, "srv port"),
        ({"srv": [("t.worker.corp", 80, 65536, 1)]}, "srv priority"),
        ({"srv": [("t.worker.corp", 80, 1, -5)]}, "srv weight"),
        ({"srv": [("t.worker.corp",)]}, "srv"),
        ({"srv": ["t.worker.corp"]}, "srv"),
        ({"srv": [SrvRecord("a" * 64 + ".worker.corp", 8080)]}, "srv target"),
        ({"srv": [("bad name.corp", 8080)]}, "srv target"),
        ({"ttl": 2**32}, "ttl"),
        ({"ttl": 2**31}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": 1.5}, "ttl"),
        ({"a": ["256.1.1.1"]}, "a"),
        ({"a": ["10.0.0.1\n"]}, "a"),
        ({"a": ["::1"]}, "a"),
        ({"a": [167772161]}, "a"),
        ({"a": ["10.0.0.1/32"]}, "a"),
    ],
)
def test_set_records_refuses_what_it_cannot_encode(server, kwargs, field):
    server.set_records("worker.corp", a=["127.0.0.2"])
    with pytest.raises(DnsRecordError) as refused:
        server.set_records("worker.corp", **kwargs)
    assert str(refused.value).startswith(f"{field}:")
    assert isinstance(refused.value, ValueError)
    assert_still_answers(server)  # the old records stay, the server serves


@pytest.mark.parametrize(
    "name", ["a" * 64 + ".corp", ".".join(["a" * 63] * 4), "bad name.corp", "", ".", "x..corp", "ü.corp"]
)
def test_set_records_refuses_names_it_cannot_encode(server, name):
    with pytest.raises(DnsRecordError, match=r"^name:"):
        server.set_records(name, a=["127.0.0.2"])


def test_the_largest_valid_names_and_values_are_served(server):
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
    server.set_records(longest, a=["127.0.0.9"], srv=[("t" * 63 + ".corp", 65535, 65535, 0)], ttl=2**31 - 1)
    server.set_records("t" * 63 + ".corp", a=["127.0.0.9"], ttl=0)

    a = resolver_for(server).resolve(longest + ".", "A")
    srv = resolver_for(server).resolve(longest + ".", "SRV")

    assert a.rrset is not None and a.rrset.ttl == 2**31 - 1
    assert [(r.port, r.priority, r.weight) for r in srv] == [(65535, 65535, 0)]


@pytest.mark.parametrize(
    "instance_id",
    [
        "a" * 64,  # the longest ID Cloud Map allows
        "0123456789abcdef0123456789abcdef",  # an ECS task ID
        "arn:aws:ecs:eu-west-1:123456789012:task/corp/0123456789abcdef",
        "i-0abc.def@host/x:1",
        "UPPER_and_under",
        "----",
    ],
)
def test_dns_label_makes_a_servable_srv_target_of_any_instance_id(server, instance_id):
    label = dns_label(instance_id)
    target = f"{label}.worker.corp"
    server.set_records("worker.corp", srv=[(target, 8080)])
    server.set_records(target, a=["127.0.0.2"])

    srv = resolver_for(server).resolve("worker.corp.", "SRV")

    assert 0 < len(label) <= 63 and [r.target.to_text() for r in srv] == [target + "."]
    assert dns_label(instance_id) == label  # stable


def test_dns_label_keeps_a_valid_id_and_keeps_long_ids_apart():
    assert dns_label("0123456789ABCDEF0123456789abcdef") == "0123456789abcdef0123456789abcdef"
    assert dns_label("a" * 64) != dns_label("a" * 63 + "b")
    assert len({dns_label(f"{'x' * 60}-{index}") for index in range(1000)}) == 1000
