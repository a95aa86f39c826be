"""Cloud Map names to addresses: A and SRV lookups, cached for their TTL (capped), shared between threads."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import cast

import dns.exception
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.rrset

from ecs_discovery_client._addresses import refused_because
from ecs_discovery_client._clock import SYSTEM_CLOCK, Clock
from ecs_discovery_client._config import DiscoverySettings
from ecs_discovery_client._errors import ResolutionError, ResolutionFailure
from ecs_discovery_client._hosts import HostsFile

__all__ = ["Deadline", "Endpoint", "Resolver"]

# Distinct (name, port) answers kept; beyond this the oldest go first. A service calls a handful of names.
_MAX_CACHED_NAMES = 1024


class Deadline:
    """A point in time on ``clock`` (default: ``time.monotonic``) by which something must be done."""

    __slots__ = ("clock", "expires_at", "seconds")

    def __init__(self, seconds: float, *, started_at: float | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.seconds = seconds
        self.clock = clock
        self.expires_at = (clock.monotonic() if started_at is None else started_at) + seconds

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock.monotonic())

    @property
    def expired(self) -> bool:
        return self.clock.monotonic() >= self.expires_at


@dataclass(frozen=True)
class Endpoint:
    """One address of a service: a task's IP and the port to call it on."""

    address: str
    port: int

    @property
    def netloc(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class _Answer:
    endpoints: tuple[Endpoint, ...]
    received_at: float  # on the resolver's clock
    expires_at: float


_Key = tuple[str, int | None]


class Resolver:
    """Resolves ``<service>.<namespace>`` to :class:`Endpoint` s; thread-safe, share one per process.

    The hosts file (``settings.hosts_file``, ``/etc/hosts``) comes first, as with the C library's
    ``hosts: files dns``: a name it lists is called on its addresses there, on ``port`` (or, without
    one, ``srv_fallback_port``; with neither, the hosts file cannot say where and DNS is asked), and
    DNS is not asked. That is where ECS Service Connect maps a client alias to the task's proxy.
    Loopback addresses are allowed from it (it is the task's configuration, not a DNS answer); the
    other addresses no service can have are refused, and a name left with none is
    ``no_usable_address`` without asking DNS. The file is read again when it changes (see
    :class:`~ecs_discovery_client._hosts.HostsFile`).

    With a port, the name's A records are used with that port. Without one, its SRV records are
    (Cloud Map writes ``1 1 <port> <instance>.<service>.<namespace>`` per task), their targets'
    addresses taken from the additional section or looked up; a name with no SRV records falls
    back to its A records on ``srv_fallback_port`` (80). An IP address is used as it is, without DNS.

    An answer is cached for its TTL, capped at ``settings.max_ttl``, and never served after that.
    Threads that need a name while it is being looked up wait for that one lookup, each no longer
    than its own deadline.

    Records that mean "no service" are not used: an SRV record with port 0 or the target ``.``
    (RFC 2782: "decidedly not available"), and addresses no service can have (see
    :func:`refused_because`; loopback only when ``settings.loopback_allowed``). An answer left with
    nothing usable is a :class:`ResolutionError` ``no_usable_address``. ``clock`` is for tests.
    """

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        *,
        dns_resolver: dns.resolver.Resolver | None = None,
        srv_fallback_port: int | None = 80,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings or DiscoverySettings()
        self.clock = clock
        if dns_resolver is None:
            if self.settings.nameservers:
                dns_resolver = dns.resolver.Resolver(configure=False)
                dns_resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(address, port) for address, port in self.settings.nameservers
                ]
            else:
                dns_resolver = dns.resolver.Resolver()  # /etc/resolv.conf: the VPC resolver in a task
            dns_resolver.timeout = self.settings.dns_timeout
            dns_resolver.lifetime = self.settings.dns_lifetime
        self._dns = dns_resolver
        self.hosts = HostsFile(self.settings.hosts_file, clock=clock) if self.settings.hosts_file else None
        # The answer made from the hosts file per (name, port), with the addresses it was made of.
        self._hosts_answers: dict[_Key, tuple[tuple[str, ...], _Answer]] = {}
        self.srv_fallback_port = srv_fallback_port
        self._lock = threading.Lock()
        self._answers: dict[_Key, _Answer] = {}
        self._in_flight: dict[_Key, Future[_Answer]] = {}

    # -- public ------------------------------------------------------------------

    def resolve(self, name: str, port: int | None = None, *, deadline: Deadline | None = None) -> tuple[Endpoint, ...]:
        """The current endpoints of ``name`` (from the cache while the TTL lasts), never empty.

        Raises :class:`ResolutionError` (``nxdomain``, ``no_records``, ``dns_timeout``, ``dns_error``,
        ``bad_name``) when DNS gives no usable answer within ``deadline`` (default: ``settings.deadline``).
        """
        return self._get(_normalize(name), port, deadline or self._deadline(), None).endpoints

    def refresh(
        self, name: str, port: int | None = None, *, deadline: Deadline | None = None, older_than: float = 0.0
    ) -> tuple[Endpoint, ...]:
        """Like :meth:`resolve`, but looks the name up again if the cached answer is ``older_than`` s or more."""
        return self._get(_normalize(name), port, deadline or self._deadline(), older_than).endpoints

    def _deadline(self) -> Deadline:
        return Deadline(self.settings.deadline, clock=self.clock)

    def answer_age(self, name: str, port: int | None = None) -> float | None:
        """Seconds since the cached answer for ``name`` arrived; None when nothing valid is cached."""
        with self._lock:
            answer = self._answers.get((_normalize(name), port))
        now = self.clock.monotonic()
        if answer is None or now >= answer.expires_at:
            return None
        return now - answer.received_at

    def invalidate(self, name: str, port: int | None = None) -> None:
        """Forget the cached answer for ``name``: the next call looks it up."""
        with self._lock:
            self._answers.pop((_normalize(name), port), None)

    # -- cache and shared lookups ---------------------------------------------------

    def _get(self, name: str, port: int | None, deadline: Deadline, older_than: float | None) -> _Answer:
        key: _Key = (name, port)
        if self.hosts is not None:
            listed = self._from_hosts_file(self.hosts, key)
            if listed is not None:
                return listed
        # The common case without the lock: a fresh answer in the cache (dict reads are atomic).
        answer = self._answers.get(key)
        if answer is not None and older_than is None and self.clock.monotonic() < answer.expires_at:
            return answer
        if _is_ip_address(name):
            # No DNS: the address itself, kept (it never expires) so the next call skips parsing it.
            # The same addresses are refused as in an answer: a URL's host may come from input.
            reason = refused_because(name, allow_loopback=self.settings.loopback_allowed)
            if reason is not None:
                raise ResolutionError(name, ResolutionFailure.NO_USABLE_ADDRESS, f"{name} is {reason}")
            now = self.clock.monotonic()
            answer = _Answer((Endpoint(name, port or self.srv_fallback_port or 80),), now, float("inf"))
            with self._lock:
                if len(self._answers) < _MAX_CACHED_NAMES:
                    self._answers[key] = answer
            return answer
        with self._lock:
            answer = self._answers.get(key)
            now = self.clock.monotonic()
            if (
                answer is not None
                and now < answer.expires_at
                and (older_than is None or now - answer.received_at < older_than)
            ):
                return answer
            lookup = self._in_flight.get(key)
            owner = lookup is None
            if lookup is None:
                lookup = self._in_flight[key] = Future()
        if not owner:
            # Another thread is looking the name up: wait for it, but only until our own deadline.
            try:
                return lookup.result(timeout=deadline.remaining())
            except TimeoutError:
                detail = f"deadline reached while waiting for the DNS lookup of {name}"
                raise ResolutionError(name, ResolutionFailure.DNS_TIMEOUT, detail) from None
            except ResolutionError as error:
                # A copy: one exception object raised in several threads would share its traceback.
                raise ResolutionError(error.dns_name, error.failure, error.detail) from None
        try:
            answer = self._lookup(name, port, deadline)
        except BaseException as error:
            with self._lock:
                del self._in_flight[key]
            lookup.set_exception(error)
            raise
        with self._lock:
            self._answers[key] = answer
            del self._in_flight[key]
            if len(self._answers) > _MAX_CACHED_NAMES:
                oldest = min(self._answers, key=lambda cached: self._answers[cached].received_at)
                del self._answers[oldest]
        lookup.set_result(answer)
        return answer

    def _from_hosts_file(self, hosts: HostsFile, key: _Key) -> _Answer | None:
        """The answer the hosts file gives for ``key``; None when it does not list the name (or cannot
        give a port)."""
        name, port = key
        addresses = hosts.addresses(name)
        if addresses is None:
            return None
        port = port or self.srv_fallback_port
        if port is None:
            return None
        made = self._hosts_answers.get(key)
        if made is not None and made[0] is addresses:
            return made[1]
        endpoints: list[Endpoint] = []
        refused: list[str] = []
        for address in addresses:
            reason = refused_because(address, allow_loopback=True)
            if reason is None:
                endpoints.append(Endpoint(address, port))
            else:
                refused.append(f"{address} is {reason}")
        if not endpoints:
            detail = f"{name} in the hosts file {hosts.path[:200]} has no usable address ({'; '.join(refused)})"
            raise ResolutionError(name, ResolutionFailure.NO_USABLE_ADDRESS, detail)
        answer = _Answer(tuple(endpoints), self.clock.monotonic(), float("inf"))
        with self._lock:
            if len(self._hosts_answers) >= _MAX_CACHED_NAMES:
                self._hosts_answers.clear()  # made again from the file on the next call
            self._hosts_answers[key] = (addresses, answer)
        return answer

    # -- DNS ---------------------------------------------------------------------

    def _lookup(self, name: str, port: int | None, deadline: Deadline) -> _Answer:
        try:
            qname = dns.name.from_text(name)  # absolute: no search domain from resolv.conf is ever appended
        except dns.exception.DNSException as error:
            raise ResolutionError(name, ResolutionFailure.BAD_NAME, f"{name!r} is not a DNS name: {error}") from None
        # The lookup may take the whole DNS lifetime, but never more than the call has left.
        lookup_deadline = min(deadline.expires_at, self.clock.monotonic() + self.settings.dns_lifetime)
        refused: list[str] = []
        if port is not None:
            rrset = self._query(name, qname, dns.rdatatype.A, lookup_deadline)
            endpoints = self._usable(_items(rrset), port, refused)
            ttl = rrset.ttl
        else:
            try:
                endpoints, ttl = self._lookup_srv(name, qname, lookup_deadline, refused)
            except ResolutionError as error:
                if error.failure is not ResolutionFailure.NO_RECORDS or self.srv_fallback_port is None:
                    raise
                rrset = self._query(name, qname, dns.rdatatype.A, lookup_deadline)
                endpoints = self._usable(_items(rrset), self.srv_fallback_port, refused)
                ttl = rrset.ttl
        if not endpoints:
            why = "; ".join(dict.fromkeys(refused)) or "no records"
            raise ResolutionError(name, ResolutionFailure.NO_USABLE_ADDRESS, f"{name} has no usable records ({why})")
        received_at = self.clock.monotonic()
        # The TTL counts from when the answer arrived, and is capped.
        return _Answer(endpoints, received_at, received_at + min(float(ttl), self.settings.max_ttl))

    def _usable(self, rdatas: list[dns.rdata.Rdata], port: int, refused: list[str]) -> tuple[Endpoint, ...]:
        """The A records' addresses that may be called, on ``port``; why the others may not, into ``refused``."""
        endpoints: list[Endpoint] = []
        for rdata in rdatas:
            address = _address(rdata)
            reason = refused_because(address, allow_loopback=self.settings.loopback_allowed)
            if reason is None:
                endpoints.append(Endpoint(address, port))
            else:
                refused.append(f"{address} is {reason}")
        return tuple(dict.fromkeys(endpoints))

    def _lookup_srv(
        self, name: str, qname: dns.name.Name, deadline: float, refused: list[str]
    ) -> tuple[tuple[Endpoint, ...], int]:
        answer = self._resolve(name, qname, dns.rdatatype.SRV, deadline)
        rrset = _rrset(name, answer, f"{name} SRV")
        ttl = rrset.ttl
        # Cloud Map's SRV targets are per-task names whose A records may come in the additional
        # section; the others are looked up.
        additional: dict[dns.name.Name, list[str]] = {}
        for extra in answer.response.additional:
            if extra.rdtype == dns.rdatatype.A:
                additional.setdefault(extra.name, []).extend(_address(rdata) for rdata in _items(extra))
                ttl = min(ttl, extra.ttl)
        # Priority and weight are not used: Cloud Map writes 1 and 1 for every task.
        endpoints: list[Endpoint] = []
        for srv in _items(rrset):
            target: dns.name.Name = getattr(srv, "target")  # noqa: B009 (dnspython's SRV rdata is untyped)
            srv_port: int = getattr(srv, "port")  # noqa: B009
            if target == dns.name.root:
                refused.append("SRV target '.' (RFC 2782: the service is decidedly not available)")
                continue
            if srv_port == 0:
                refused.append(f"SRV port 0 for {target.to_text(omit_final_dot=True)[:80]}")
                continue
            addresses = additional.get(target)
            if addresses is None:
                try:
                    target_rrset = self._query(name, target, dns.rdatatype.A, deadline)
                except ResolutionError as error:
                    if error.failure in (ResolutionFailure.DNS_TIMEOUT, ResolutionFailure.DNS_ERROR):
                        raise
                    continue  # a target removed since the SRV answer: skip that task
                addresses = [_address(rdata) for rdata in _items(target_rrset)]
                ttl = min(ttl, target_rrset.ttl)
            for address in addresses:
                reason = refused_because(address, allow_loopback=self.settings.loopback_allowed)
                if reason is None:
                    endpoints.append(Endpoint(address, srv_port))
                else:
                    refused.append(f"{address} is {reason}")
        return tuple(dict.fromkeys(endpoints)), ttl

    def _query(
        self, name: str, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, deadline: float
    ) -> dns.rrset.RRset:
        asked = f"{qname.to_text(omit_final_dot=True)} {rdtype.name}"
        return _rrset(name, self._resolve(name, qname, rdtype, deadline), asked)

    def _resolve(
        self, name: str, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, deadline: float
    ) -> dns.resolver.Answer:
        asked = f"{qname.to_text(omit_final_dot=True)} {rdtype.name}"
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            detail = f"DNS lookup of {asked} timed out (deadline reached)"
            raise ResolutionError(name, ResolutionFailure.DNS_TIMEOUT, detail)
        try:
            return self._dns.resolve(qname, rdtype, search=False, lifetime=remaining)
        except dns.resolver.NXDOMAIN:
            detail = f"{asked}: the name does not exist (NXDOMAIN)"
            raise ResolutionError(name, ResolutionFailure.NXDOMAIN, detail) from None
        except dns.resolver.NoAnswer:
            raise ResolutionError(name, ResolutionFailure.NO_RECORDS, f"{asked}: no records") from None
        except dns.exception.Timeout:
            detail = f"DNS lookup of {asked} timed out"
            raise ResolutionError(name, ResolutionFailure.DNS_TIMEOUT, detail) from None
        except dns.resolver.NoNameservers as error:
            detail = f"no nameserver answered {asked}: {error}"
            raise ResolutionError(name, ResolutionFailure.DNS_ERROR, detail) from None
        except dns.exception.DNSException as error:
            detail = f"DNS lookup of {asked} failed: {error}"
            raise ResolutionError(name, ResolutionFailure.DNS_ERROR, detail) from None


def _rrset(name: str, answer: dns.resolver.Answer, asked: str) -> dns.rrset.RRset:
    if answer.rrset is None:
        # resolve() raises NoAnswer first (raise_on_no_answer defaults to True).
        raise ResolutionError(name, ResolutionFailure.NO_RECORDS, f"{asked}: no records")
    return answer.rrset


def _items(rrset: dns.rrset.RRset) -> list[dns.rdata.Rdata]:
    return list(cast(Iterable[dns.rdata.Rdata], rrset))


def _address(rdata: dns.rdata.Rdata) -> str:
    return str(getattr(rdata, "address"))  # noqa: B009 (A rdata is untyped in dnspython)


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
