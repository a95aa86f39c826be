"""Pieces for running the services on one machine: a loopback DNS server standing in for
Cloud Map and a runner for the apps' gunicorn processes.

Modules are imported explicitly (``from ecs_discovery_tools.local.dns_server import
LoopbackDnsServer``) so that importing the package needs no optional dependency: the DNS
server needs dnslib.
"""
