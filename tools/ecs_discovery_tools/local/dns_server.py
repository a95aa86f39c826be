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

It answers or drops every query and never stops serving because of one:

* a packet that is not a DNS query (too short, a response, garbage) is dropped; a query it cannot
  parse, with no question or several, or with a name DNS cannot carry (a label over 63 bytes, a
  name over 255 bytes on the wire) gets FORMERR; another opcode NOTIMP; anything that fails while
  answering SERVFAIL. ``errors`` counts what went wrong, ``last_error`` says what.
* running out of file descriptors stops accepting TCP connections for a moment, not the server;
  at most ``max_tcp_connections`` are served at once (more are closed on arrival), each closed
  after 5 s idle.
* :meth:`set_records` refuses what it could not encode (:class:`DnsRecordError`, naming the field
  and the value): names with labels over 63 bytes or over 253 characters, addresses that are not
  IPv4, ports and SRV priorities/weights outside 0-65535, TTLs outside 0 to 2^31-1 (RFC 2181).
  :func:`dns_label` makes a valid label of any text, such as a Cloud Map instance ID of 64
  characters, which AWS allows and one DNS label cannot hold.

Requires dnslib.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import random
import re
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Self, TypeVar

from dnslib import QTYPE, RCODE, RR, SRV, A, DNSRecord

_T = TypeVar("_T")

__all__ = ["DnsQuery", "DnsRecordError", "LoopbackDnsServer", "SrvRecord", "dns_label"]

# RFC 1035: without EDNS a UDP answer is limited to 512 bytes.
_CLASSIC_UDP_LIMIT = 512
# Cap what a client may ask for through EDNS, as common servers do.
_MAX_UDP_PAYLOAD = 4096
# A DNS message over TCP has a 2-byte length.
_MAX_TCP_MESSAGE = 65_535
_TCP_IDLE_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.2
# After accept() fails for lack of descriptors (or memory), stop accepting for this long.
_ACCEPT_BACKOFF_S = 0.1
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# RFC 1035 2.3.4: labels of 63 octets, names of 255 octets on the wire (253 characters as text).
_MAX_LABEL = 63
_MAX_NAME_TEXT = 253
_MAX_NAME_WIRE = 255
_MAX_TTL = 2**31 - 1  # RFC 2181 8: a TTL with the top bit set is read as 0
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_HEADER = struct.Struct("!HHHHHH")
_FLAG_QR = 0x8000
_FLAG_RD = 0x0100
_OPCODE_MASK = 0x7800


class DnsRecordError(ValueError):
    """A record :meth:`LoopbackDnsServer.set_records` cannot serve; the message names the field."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _normalize(name: str) -> str:
    # DNS names compare case-insensitively and the trailing root dot is optional here.
    return name.strip().rstrip(".").lower()


def _checked_name(name: object, field: str) -> str:
    if not isinstance(name, str):
        raise DnsRecordError(f"{field}: expected a DNS name (str), got {_shown(name)}")
    text = _normalize(name)
    if not text or len(text) > _MAX_NAME_TEXT or not all(_LABEL.fullmatch(label) for label in text.split(".")):
        raise DnsRecordError(
            f"{field}: {_shown(name)} is not a DNS name this server can encode: labels of 1-{_MAX_LABEL} "
            f"letters, digits, '-' or '_', at most {_MAX_NAME_TEXT} characters in all (use dns_label() for IDs)"
        )
    return text


def _checked_number(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DnsRecordError(f"{field}: expected a whole number {low}-{high}, got {_shown(value)}")
    return value


def dns_label(text: str) -> str:
    """A valid DNS label for ``text``: ``text`` itself (lower case) when it is one, else its letters and
    digits (others become ``-``), cut to 54 characters, then ``-`` and 8 hex digits of its SHA-256.

    Cloud Map instance IDs may be 64 characters of ``[0-9a-zA-Z_/:.@-]``; the SRV target of an
    instance is ``<label>.<service>.<namespace>``, and one DNS label holds 63 bytes. Distinct IDs
    give distinct labels (but for a SHA-256 collision in 32 bits of a long ID's digest).
    """
    lowered = text.lower()
    if _LABEL.fullmatch(lowered):
        return lowered
    readable = re.sub(r"[^a-z0-9]+", "-", lowered).strip("-")[:54].strip("-")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else f"x-{digest}"


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
        max_tcp_connections: int = 64,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host} is not a loopback address; this server is for local runs only")
        self.host = host
        self._requested_port = _checked_number(port, "port", 0, 65535)
        self.default_ttl = _checked_number(default_ttl, "default_ttl", 0, _MAX_TTL)
        # Whether SRV answers carry the targets' A records in the additional section.
        # Off, clients must look every target up themselves.
        self.srv_additional = srv_additional
        # Route 53 answers a MULTIVALUE name with up to 8 records chosen at random; with
        # max_answers=8 this server does the same. None answers with every record.
        if max_answers is not None and max_answers < 1:
            raise ValueError("max_answers must be >= 1 or None")
        self.max_answers = max_answers
        self.max_tcp_connections = _checked_number(max_tcp_connections, "max_tcp_connections", 1, 10_000)
        # When True, queries are read and logged but never answered (a DNS outage).
        self.silent = False
        #: Packets dropped or answered with an error code, and failures while serving; never fatal.
        self.errors = 0
        self.last_error: str | None = None
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
        srv: Iterable[SrvRecord | Sequence[object]] = (),
        ttl: int | None = None,
    ) -> None:
        """Replace every record of ``name``. ``srv`` items are SrvRecord or (target, port[, priority, weight]).

        Raises :class:`DnsRecordError` (a ValueError) for anything it could not encode; the records of
        ``name`` are then left as they were.
        """
        key = _checked_name(name, "name")
        addresses = tuple(self._checked_address(address) for address in a)
        srv_records = tuple(self._checked_srv(item) for item in srv)
        record_ttl = self.default_ttl if ttl is None else _checked_number(ttl, "ttl", 0, _MAX_TTL)
        with self._lock:
            self._records[key] = _RecordSet(addresses, srv_records, record_ttl)

    @staticmethod
    def _checked_address(address: object) -> str:
        if not isinstance(address, str):
            raise DnsRecordError(f"a: expected an IPv4 address (str), got {_shown(address)}")
        try:
            return str(ipaddress.IPv4Address(address))
        except ValueError:
            raise DnsRecordError(
                f"a: {_shown(address)} is not an IPv4 address (this server serves A records only)"
            ) from None

    @staticmethod
    def _checked_srv(item: SrvRecord | Sequence[object]) -> SrvRecord:
        if isinstance(item, SrvRecord):
            fields: Sequence[object] = (item.target, item.port, item.priority, item.weight)
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and 2 <= len(item) <= 4:
            fields = tuple(item) + (1, 1)[len(item) - 2 :]
        else:
            raise DnsRecordError(f"srv: expected SrvRecord or (target, port[, priority, weight]), got {_shown(item)}")
        return SrvRecord(
            target=_checked_name(fields[0], "srv target"),
            port=_checked_number(fields[1], "srv port", 0, 65535),
            priority=_checked_number(fields[2], "srv priority", 0, 65535),
            weight=_checked_number(fields[3], "srv weight", 0, 65535),
        )

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

    @property
    def serving(self) -> bool:
        """Whether the serving thread runs (it only stops with :meth:`stop`)."""
        return self._serve_thread is not None and self._serve_thread.is_alive()

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

    def _failed(self, what: str) -> None:
        self.errors += 1
        self.last_error = what

    def _serve(self) -> None:
        udp, tcp = self._udp, self._tcp
        assert udp is not None and tcp is not None
        accepting_again_at: float | None = None
        with selectors.DefaultSelector() as selector:
            selector.register(udp, selectors.EVENT_READ, "udp")
            selector.register(tcp, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                if accepting_again_at is not None and time.monotonic() >= accepting_again_at:
                    selector.register(tcp, selectors.EVENT_READ, "tcp")
                    accepting_again_at = None
                try:
                    ready = selector.select(timeout=_POLL_INTERVAL_S)
                except (InterruptedError, OSError) as error:  # a signal; never expected otherwise
                    self._failed(f"select: {error}")
                    time.sleep(_ACCEPT_BACKOFF_S)
                    continue
                for key, _ in ready:
                    try:
                        if key.data == "udp":
                            self._on_udp(udp)
                        elif not self._on_tcp_accept(tcp):
                            # No descriptor (or memory) for a connection: pause accepting, keep answering UDP.
                            selector.unregister(tcp)
                            accepting_again_at = time.monotonic() + _ACCEPT_BACKOFF_S
                    except Exception as error:  # one packet or connection must never end the server
                        self._failed(f"{type(error).__name__}: {error}")

    def _on_udp(self, sock: socket.socket) -> None:
        try:
            data, client = sock.recvfrom(_MAX_UDP_PAYLOAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # e.g. ECONNREFUSED from an earlier answer's ICMP
            self._failed(f"recvfrom: {error}")
            return
        reply = self._answer(data, "udp")
        if reply is not None:
            try:
                sock.sendto(reply, client)
            except OSError as error:
                self._failed(f"sendto: {error}")

    def _on_tcp_accept(self, sock: socket.socket) -> bool:
        """Accept one connection; False when the process is out of descriptors or memory."""
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            self._failed(f"accept: {error}")
            return error.errno not in _RESOURCE_ERRNOS
        self._connection_threads = [thread for thread in self._connection_threads if thread.is_alive()]
        if len(self._connection_threads) >= self.max_tcp_connections:
            self._failed("too many TCP connections: closed a new one")
            conn.close()
            return True
        handler = threading.Thread(target=self._serve_tcp_connection, args=(conn,), daemon=True)
        try:
            handler.start()
        except RuntimeError as error:  # can't start new thread
            self._failed(f"TCP connection thread: {error}")
            conn.close()
            return False
        self._connection_threads.append(handler)
        return True

    def _serve_tcp_connection(self, conn: socket.socket) -> None:
        try:
            self._read_tcp_messages(conn)
        except Exception as error:
            self._failed(f"TCP connection: {type(error).__name__}: {error}")
        finally:
            conn.close()

    def _read_tcp_messages(self, conn: socket.socket) -> None:
        # DNS over TCP: each message is prefixed by its 2-byte length; a client may send several.
        conn.settimeout(_POLL_INTERVAL_S)
        idle_since = time.monotonic()
        buffer = b""
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
                if reply is None:
                    continue
                try:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

    # -- answering ------------------------------------------------------------

    def _answer(self, data: bytes, transport: str) -> bytes | None:
        """The reply to one message, or None to drop it. Never raises."""
        if len(data) < _HEADER.size:
            self._failed("dropped a message shorter than a DNS header")
            return None
        message_id, flags, questions, *_ = _HEADER.unpack_from(data)
        if flags & _FLAG_QR:
            self._failed("dropped a DNS response sent as a query")
            return None
        if flags & _OPCODE_MASK:
            return self._error_reply(message_id, flags, RCODE.NOTIMP, "opcode other than QUERY")
        if questions != 1:
            return self._error_reply(message_id, flags, RCODE.FORMERR, f"{questions} questions")
        try:
            request = DNSRecord.parse(data)
            qname = request.questions[0].qname
            labels: tuple[bytes, ...] = tuple(qname.label)
        except Exception as error:  # dnslib raises several types on malformed input
            return self._error_reply(message_id, flags, RCODE.FORMERR, f"unparsable query: {type(error).__name__}")
        if any(not label or len(label) > _MAX_LABEL for label in labels) or (
            sum(len(label) + 1 for label in labels) + 1 > _MAX_NAME_WIRE
        ):
            return self._error_reply(message_id, flags, RCODE.FORMERR, "a name DNS cannot carry")
        try:
            return self._reply(request, labels, transport)
        except Exception as error:
            return self._error_reply(message_id, flags, RCODE.SERVFAIL, f"{type(error).__name__}: {error}")

    def _error_reply(self, message_id: int, flags: int, rcode: int, why: str) -> bytes:
        # Header only: the question may be what could not be read or written.
        self._failed(f"answered {RCODE.get(rcode)}: {why}")
        reply_flags = _FLAG_QR | (flags & (_OPCODE_MASK | _FLAG_RD)) | rcode
        return _HEADER.pack(message_id, reply_flags, 0, 0, 0, 0)

    def _reply(self, request: DNSRecord, labels: tuple[bytes, ...], transport: str) -> bytes | None:
        question = request.questions[0]
        # A label may hold any byte, "." included; no name of this server has such a label (NXDOMAIN).
        dotted = any(b"." in label for label in labels)
        name = "" if dotted else b".".join(labels).decode("ascii", "replace").lower()
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

        packed = bytes(reply.pack())
        limit = self._udp_limit(request) if transport == "udp" else _MAX_TCP_MESSAGE
        if len(packed) > limit:
            truncated = request.reply()
            truncated.header.tc = 1
            packed = bytes(truncated.pack())
        return packed

    def _srv_additional_records(self, records: _RecordSet) -> list[tuple[str, str, int]]:
        # Called with the lock held.
        if not self.srv_additional:
            return []
        found: list[tuple[str, str, int]] = []
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
