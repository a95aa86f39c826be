"""Integration test: the seed system (app.py's ServiceDiscovery stack) with discovery "both": Cloud
Map DNS and ECS Service Connect. The probe calls the backend by DNS; the backend calls the worker
through its Service Connect proxy. See integ/seed.py and docs/integration-tests.md."""

from seed import build

from ecs_service_discovery.constructs import Discovery

build(Discovery.BOTH, stack_name="EcsDiscoveryIntegBoth", namespace="corp-both")
