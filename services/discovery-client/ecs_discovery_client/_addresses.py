"""Addresses no service can have: a DNS answer (anyone who can write a record) must not point calls,
and the headers they carry, at them."""

from __future__ import annotations

import ipaddress

__all__ = ["refused_because"]


def refused_because(address: str, *, allow_loopback: bool) -> str | None:
    """Why ``address`` (an IP address) must not be called, or None when it may be.

    Refused: the unspecified address (``0.0.0.0`` and ``::`` reach the caller's own host), link-local
    addresses (``169.254.169.254`` instance metadata, ``169.254.170.2`` ECS task credentials,
    ``fe80::/10``), multicast, reserved ranges (``240.0.0.0/4`` with the broadcast address
    ``255.255.255.255``), and loopback unless ``allow_loopback``. An IPv4-mapped IPv6 address is
    judged as the IPv4 address it carries. Decided by :mod:`ipaddress`'s properties.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "the unspecified address (it reaches the caller's own host)"
    if ip.is_loopback:
        # Before is_reserved: ::1 lies in the reserved ::/8.
        return None if allow_loopback else "a loopback address (allowed only with UPSTREAM_ALLOW_LOOPBACK)"
    if ip.is_link_local:
        return "a link-local address (instance metadata, ECS task credentials)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved or broadcast address"
    return None
