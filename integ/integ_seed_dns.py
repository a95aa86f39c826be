"""Integration test: the seed system (app.py's ServiceDiscovery stack) with discovery "dns" (the
default): Cloud Map A and SRV records, TTL 10 s. See integ/seed.py and docs/integration-tests.md."""

from seed import build

from ecs_service_discovery.constructs import Discovery

build(Discovery.DNS, stack_name="EcsDiscoveryIntegDns", namespace="corp-dns")
