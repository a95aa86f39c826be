"""DNS lookups of Cloud Map names: the A records and the SRV records, with their TTLs.

This is what a task in the VPC sees when it resolves ``worker.corp``; run it from inside
the VPC (ECS Exec, a bastion) or against a local DNS server with ``--nameserver``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from ecs_discovery_tools.cli.errors import CliError, ExitCode


@dataclass(frozen=True)
class SrvTarget:
    priority: int
    weight: int
    port: int
    target: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    name: str
    nameserver: str  # "system" or host:port
    a_ttl: int | None
    addresses: tuple[str, ...]
    srv_ttl: int | None
    srv: tuple[SrvTarget, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nameserver": self.nameserver,
            "a": None if self.a_ttl is None else {"ttl": self.a_ttl, "addresses": list(self.addresses)},
            "srv": None
            if self.srv_ttl is None
            else {
                "ttl": self.srv_ttl,
                "records": [
                    {
                        "priority": record.priority,
                        "weight": record.weight,
                        "port": record.port,
                        "target": record.target,
                        "addresses": list(record.addresses),
                    }
                    for record in self.srv
                ],
            },
        }


def parse_nameserver(text: str) -> tuple[str, int]:
    """``10.0.0.2``, ``127.0.0.1:5353``, ``[::1]:5353`` or ``::1`` -> (address, port).

    Parsed by the discovery client's own parser (as it reads ``DNS_NAMESERVERS``), so the CLI and
    the apps accept the same forms.
    """
    from ecs_discovery_client import ConfigurationError, DiscoverySettings

    try:
        nameservers = DiscoverySettings.from_environ({"DNS_NAMESERVERS": text}).nameservers
    except ConfigurationError as error:
        detail = str(error).removeprefix(f"{error.variable}: ")
        raise CliError(f"--nameserver: {detail}", ExitCode.USAGE) from None
    if len(nameservers) != 1:
        raise CliError(
            f"--nameserver {text!r} is not valid: expected one IP address with an optional port, "
            "such as 10.0.0.2 or 127.0.0.1:5353",
            ExitCode.USAGE,
        )
    return nameservers[0]


def make_resolver(nameserver: str | None, timeout: float) -> tuple[dns.resolver.Resolver, str]:
    if nameserver is not None:
        host, port = parse_nameserver(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
        label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise CliError("no system DNS resolver configured; pass --nameserver", ExitCode.DNS) from None
        label = "system"
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver, label


def _query(resolver: dns.resolver.Resolver, qname: dns.name.Name, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, or None when the name exists without records of this type."""
    name = qname.to_text(omit_final_dot=True)
    try:
        return resolver.resolve(qname, rdtype, search=False)
    except dns.resolver.NoAnswer:
        return None
    except dns.resolver.NXDOMAIN:
        raise CliError(f"{name} does not exist (NXDOMAIN)", ExitCode.NOT_FOUND) from None
    except dns.exception.Timeout:
        raise CliError(f"DNS lookup of {name} {rdtype} timed out", ExitCode.DNS) from None
    except dns.resolver.NoNameservers as error:
        raise CliError(f"no nameserver answered {name} {rdtype}: {error}", ExitCode.DNS) from None
    except dns.exception.DNSException as error:
        raise CliError(f"DNS lookup of {name} {rdtype} failed: {error}", ExitCode.DNS) from None


def resolve(name: str, *, nameserver: str | None = None, timeout: float = 3.0) -> Resolution:
    """A and SRV records of ``name``; NOT_FOUND when it has neither."""
    text = name.strip().rstrip(".")
    try:
        qname = dns.name.from_text(text)  # absolute: never completed with a search domain
    except dns.exception.DNSException as error:
        raise CliError(f"{name!r} is not a valid DNS name: {error}", ExitCode.USAGE) from None
    resolver, label = make_resolver(nameserver, timeout)

    a_answer = _query(resolver, qname, "A")
    srv_answer = _query(resolver, qname, "SRV")
    if a_answer is None and srv_answer is None:
        raise CliError(f"{text} has no A or SRV records", ExitCode.NOT_FOUND)

    srv_targets: list[SrvTarget] = []
    if srv_answer is not None:
        additional: dict[dns.name.Name, list[str]] = {}
        for rrset in srv_answer.response.additional:
            if rrset.rdtype == dns.rdatatype.A:
                additional.setdefault(rrset.name, []).extend(rdata.address for rdata in rrset)
        for record in sorted(srv_answer, key=lambda rdata: (rdata.priority, -rdata.weight, str(rdata.target))):
            addresses = additional.get(record.target)
            if addresses is None:
                try:
                    target_answer = _query(resolver, record.target, "A")
                except CliError as error:
                    if error.exit_code is not ExitCode.NOT_FOUND:
                        raise
                    target_answer = None  # a task removed since the SRV answer
                addresses = [rdata.address for rdata in target_answer] if target_answer is not None else []
            srv_targets.append(
                SrvTarget(
                    priority=record.priority,
                    weight=record.weight,
                    port=record.port,
                    target=record.target.to_text(omit_final_dot=True),
                    addresses=tuple(addresses),
                )
            )
    return Resolution(
        name=text,
        nameserver=label,
        a_ttl=_ttl(a_answer),
        addresses=tuple(sorted((rdata.address for rdata in a_answer), key=_address_key)) if a_answer else (),
        srv_ttl=_ttl(srv_answer),
        srv=tuple(srv_targets),
    )


def _ttl(answer: dns.resolver.Answer | None) -> int | None:
    return None if answer is None or answer.rrset is None else answer.rrset.ttl


def _address_key(address: str) -> tuple[int, int]:
    parsed = ipaddress.ip_address(address)
    return parsed.version, int(parsed)
