"""A small authoritative DNS server on loopback whose records change at run time.

It stands in for the VPC resolver answering AWS Cloud Map names: A records per
task, SRV records per task pointing at a per-task name, a TTL, NXDOMAIN for
unknown names. It answers over UDP and TCP on the same port (clients retry over
TCP when a UDP answer is truncated), can be told to go silent to simulate a DNS
outage, and keeps a log of the queries it received so callers can see when a
client really looked a name up.

    with LoopbackDnsServer() as dns_server:
        dns_server.set_records("worker.corp", a=["127.0.0.2"], srv=[("t1.worker.corp", 8080)], ttl=10)
        dns_server.set_records("t1.worker.corp", a=["127.0.0.2"])
        ...  # point a resolver at 127.0.0.1:dns_server.port

Requires dnslib.
"""

from __future__ import annotations

import ipaddress
import random
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Self, TypeVar

from dnslib import QTYPE, RCODE, RR, SRV, A, DNSError, DNSRecord

_T = TypeVar("_T")

__all__ = ["DnsQuery", "LoopbackDnsServer", "SrvRecord"]

# RFC 1035: without EDNS a UDP answer is limited to 512 bytes.
_CLASSIC_UDP_LIMIT = 512
# Cap what a client may ask for through EDNS, as common servers do.
_MAX_UDP_PAYLOAD = 4096
_TCP_IDLE_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.2


def _normalize(name: str) -> str:
    # DNS names compare case-insensitively and the trailing root dot is optional here.
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class SrvRecord:
    target: str
    port: int
    # Cloud Map writes priority 1 and weight 1 for every instance.
    priority: int = 1
    weight: int = 1


@dataclass(frozen=True)
class DnsQuery:
    name: str
    qtype: str
    transport: str  # "udp" or "tcp"
    received_at: float  # time.monotonic()
    answered: bool


@dataclass(frozen=True)
class _RecordSet:
    a: tuple[str, ...]
    srv: tuple[SrvRecord, ...]
    ttl: int


class LoopbackDnsServer:
    """Authoritative DNS over UDP and TCP on one loopback port, records editable while running."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_ttl: int = 10,
        srv_additional: bool = True,
        query_log_size: int = 10_000,
        max_answers: int | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host} is not a loopback address; this server is for local runs only")
        self.host = host
        self._requested_port = port
        self.default_ttl = default_ttl
        # Whether SRV answers carry the targets' A records in the additional section.
        # Off, clients must look every target up themselves.
        self.srv_additional = srv_additional
        # Route 53 answers a MULTIVALUE name with up to 8 records chosen at random; with
        # max_answers=8 this server does the same. None answers with every record.
        if max_answers is not None and max_answers < 1:
            raise ValueError("max_answers must be >= 1 or None")
        self.max_answers = max_answers
        # When True, queries are read and logged but never answered (a DNS outage).
        self.silent = False
        self._records: dict[str, _RecordSet] = {}
        self._lock = threading.Lock()
        self._queries: deque[DnsQuery] = deque(maxlen=query_log_size)
        self._stop = threading.Event()
        self._serve_thread: threading.Thread | None = None
        self._connection_threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self.port = 0

    # -- records -------------------------------------------------------------

    def set_records(
        self,
        name: str,
        *,
        a: Iterable[str] = (),
        srv: Iterable[SrvRecord | Sequence] = (),
        ttl: int | None = None,
    ) -> None:
        """Replace every record of ``name``. ``srv`` items are SrvRecord or (target, port[, priority, weight])."""
        addresses = tuple(str(ipaddress.IPv4Address(address)) for address in a)
        srv_records = tuple(item if isinstance(item, SrvRecord) else SrvRecord(*item) for item in srv)
        record_ttl = self.default_ttl if ttl is None else int(ttl)
        if record_ttl < 0:
            raise ValueError("ttl must be >= 0")
        with self._lock:
            self._records[_normalize(name)] = _RecordSet(addresses, srv_records, record_ttl)

    def remove(self, name: str) -> None:
        """Forget ``name``: it answers NXDOMAIN afterwards (unless a name below it exists)."""
        with self._lock:
            self._records.pop(_normalize(name), None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def queries(self, name: str | None = None, qtype: str | None = None) -> list[DnsQuery]:
        """Queries received so far, oldest first, optionally only those for ``name`` / ``qtype``."""
        wanted = None if name is None else _normalize(name)
        with self._lock:
            logged = list(self._queries)
        return [
            query
            for query in logged
            if (wanted is None or query.name == wanted) and (qtype is None or query.qtype == qtype)
        ]

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        if self._udp is not None:
            raise RuntimeError("already started")
        self._udp, self._tcp = self._bind_same_port()
        self.port = self._udp.getsockname()[1]
        self._stop.clear()
        self._serve_thread = threading.Thread(target=self._serve, name=f"dns-{self.host}:{self.port}", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        # The serve thread is the only one starting connection threads, so join it first.
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5)
            self._serve_thread = None
        for thread in self._connection_threads:
            thread.join(timeout=5)
        self._connection_threads.clear()
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind_same_port(self) -> tuple[socket.socket, socket.socket]:
        # With port 0 the kernel picks a free UDP port; the TCP socket must then get the
        # same number, which another process may hold, so try a bounded number of times.
        attempts = 1 if self._requested_port else 50
        last_error: OSError | None = None
        for _ in range(attempts):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((self.host, self._requested_port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, udp.getsockname()[1]))
                tcp.listen(64)
            except OSError as error:
                last_error = error
                udp.close()
                tcp.close()
                continue
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        raise OSError(f"could not bind UDP and TCP on one port on {self.host}: {last_error}")

    # -- serving -------------------------------------------------------------

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, self._on_udp)
            selector.register(self._tcp, selectors.EVENT_READ, self._on_tcp_accept)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=_POLL_INTERVAL_S):
                    key.data(key.fileobj)

    def _on_udp(self, sock: socket.socket) -> None:
        try:
            data, client = sock.recvfrom(_MAX_UDP_PAYLOAD)
        except (BlockingIOError, InterruptedError):
            return
        reply = self._answer(data, "udp")
        if reply is not None:
            sock.sendto(reply, client)

    def _on_tcp_accept(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        handler = threading.Thread(target=self._serve_tcp_connection, args=(conn,), daemon=True)
        handler.start()
        self._connection_threads = [thread for thread in self._connection_threads if thread.is_alive()]
        self._connection_threads.append(handler)

    def _serve_tcp_connection(self, conn: socket.socket) -> None:
        # DNS over TCP: each message is prefixed by its 2-byte length; a client may send several.
        conn.settimeout(_POLL_INTERVAL_S)
        idle_since = time.monotonic()
        buffer = b""
        with conn:
            while not self._stop.is_set() and time.monotonic() - idle_since < _TCP_IDLE_TIMEOUT_S:
                try:
                    chunk = conn.recv(65_537)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                idle_since = time.monotonic()
                buffer += chunk
                while len(buffer) >= 2:
                    (length,) = struct.unpack("!H", buffer[:2])
                    if len(buffer) < 2 + length:
                        break
                    message, buffer = buffer[2 : 2 + length], buffer[2 + length :]
                    reply = self._answer(message, "tcp")
                    if reply is not None:
                        try:
                            conn.sendall(struct.pack("!H", len(reply)) + reply)
                        except OSError:
                            return

    # A bytearray: that is what dnslib's DNSRecord.pack() returns.
    def _answer(self, data: bytes, transport: str) -> bytearray | None:
        try:
            request = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            return None  # not DNS; a real server would answer FORMERR, dropping is enough here
        if not request.questions:
            return None
        question = request.questions[0]
        name = _normalize(str(question.qname))
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        silent = self.silent
        with self._lock:
            self._queries.append(DnsQuery(name, qtype, transport, time.monotonic(), not silent))
            records = self._records.get(name)
            name_exists = records is not None or any(known.endswith("." + name) for known in self._records)
            if records is not None and self.max_answers is not None:
                records = _RecordSet(
                    _pick(records.a, self.max_answers), _pick(records.srv, self.max_answers), records.ttl
                )
            additional = self._srv_additional_records(records) if records and qtype == "SRV" else []
        if silent:
            return None

        reply = request.reply()  # copies id and question, sets QR and AA
        if not name_exists:
            reply.header.rcode = RCODE.NXDOMAIN
        elif records is not None and qtype == "A":
            for address in records.a:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=records.ttl))
        elif records is not None and qtype == "SRV":
            for srv in records.srv:
                rdata = SRV(priority=srv.priority, weight=srv.weight, port=srv.port, target=srv.target)
                reply.add_answer(RR(question.qname, QTYPE.SRV, rdata=rdata, ttl=records.ttl))
            for target, address, ttl in additional:
                reply.add_ar(RR(target, QTYPE.A, rdata=A(address), ttl=ttl))
        # Any other type of an existing name: NOERROR with no answer (NODATA).

        packed = reply.pack()
        if transport == "udp" and len(packed) > self._udp_limit(request):
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed

    def _srv_additional_records(self, records: _RecordSet) -> list[tuple[str, str, int]]:
        # Called with the lock held.
        if not self.srv_additional:
            return []
        found = []
        for srv in records.srv:
            target_records = self._records.get(_normalize(srv.target))
            if target_records is not None:
                found.extend((srv.target, address, target_records.ttl) for address in target_records.a)
        return found

    @staticmethod
    def _udp_limit(request: DNSRecord) -> int:
        for record in request.ar:
            if record.rtype == QTYPE.OPT:
                # In an OPT record the class field carries the client's UDP payload size.
                return max(_CLASSIC_UDP_LIMIT, min(int(record.rclass), _MAX_UDP_PAYLOAD))
        return _CLASSIC_UDP_LIMIT


def _pick(items: tuple[_T, ...], limit: int) -> tuple[_T, ...]:
    """At most ``limit`` of ``items``, chosen at random when there are more."""
    return items if len(items) <= limit else tuple(random.sample(items, limit))
