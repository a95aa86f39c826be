"""docs/generate_diagram.py reads the picture's facts from the synthesized template (drawing needs
Graphviz and is `make diagram`'s job; what is drawn is checked here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from aws_cdk.assertions import Template

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "generate_diagram.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_diagram", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_model_holds_the_seed_stacks_services_and_their_wiring(generator: ModuleType, seed_template: Template):
    model = generator.read_model(seed_template.to_json(), stack_name="ServiceDiscovery")

    services = {service.name: service for service in model.services}
    assert sorted(services) == ["backend", "worker"]
    worker = services["worker"]
    assert (worker.dns_name, worker.records, worker.ttl, worker.routing) == (
        "worker.corp",
        ["A", "SRV"],
        10,
        "MULTIVALUE",
    )
    assert worker.log_group_retention_days == 30 and worker.log_group_encrypted
    assert [(c.source, c.target, c.port) for c in model.connections] == [
        (services["backend"].ecs_id, worker.ecs_id, 8080)
    ]
    assert services["backend"].reads_registry_of == ["worker"]


def test_the_model_shows_flow_logs_and_the_log_encryption_key(generator: ModuleType, seed_template: Template):
    model = generator.read_model(seed_template.to_json(), stack_name="ServiceDiscovery")

    assert model.flow_log == ("ALL", 30, True)
    assert list(model.kms_keys.values()) == [True]
    assert model.cluster_settings == {"containerInsights": "enabled"}
