"""Integration test: the seed system (app.py's ServiceDiscovery stack) with discovery
"service-connect": no DNS records; the probe calls a backend task at the address ECS registered for
it, and the backend calls the worker through its Service Connect proxy. See integ/seed.py and
docs/integration-tests.md."""

from seed import build

from ecs_service_discovery.constructs import Discovery

build(Discovery.SERVICE_CONNECT, stack_name="EcsDiscoveryIntegServiceConnect", namespace="corp-sc")
