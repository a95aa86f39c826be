"""The seed stack with its worker deploying blue/green, linear or canary through Service Connect, as a
cloud assembly for the local run (issue 24).

The worker is a Service Connect service (client alias ``worker.corp:8080``, no DNS discovery) whose
``DeploymentConfiguration`` and test traffic rule are written as aws-cdk-lib writes them for
``DeploymentOptions`` (tests/unit/__snapshots__/test_blue_green_snapshot: ``Strategy``,
``BakeTimeInMinutes``, ``LinearConfiguration``/``CanaryConfiguration``, ``TestTrafficRules`` on the
alias); the backend is a Service Connect client (``Enabled`` with no services of its own) that keeps
its DNS discovery, so ECS would map ``worker.corp`` to its proxy in its ``/etc/hosts``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.local.test_service_connect_run import service_connect_assembly


def blue_green_assembly(
    assembly_dir: Path, target: Path, deployment: dict[str, Any], *, test_header: dict[str, Any] | None = None
) -> Path:
    """A copy of the seed assembly whose worker deploys with ``deployment`` (the template's
    ``DeploymentConfiguration`` keys to set) through Service Connect."""
    service_connect_assembly(assembly_dir, target, keep_dns=False)
    template_path = target / "ServiceDiscovery.template.json"
    template = json.loads(template_path.read_text())
    resources: dict[str, Any] = template["Resources"]
    services = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::ECS::Service"}
    (worker,) = [p for p in services.values() if p.get("ServiceConnectConfiguration")]
    (backend,) = [p for p in services.values() if p.get("ServiceRegistries")]
    worker["DeploymentConfiguration"].update(deployment)
    (alias,) = worker["ServiceConnectConfiguration"]["Services"][0]["ClientAliases"]
    alias["TestTrafficRules"] = {"Header": test_header or {"Name": "x-amzn-ecs-blue-green-test"}}
    backend["ServiceConnectConfiguration"] = {
        "Enabled": True,
        "Namespace": worker["ServiceConnectConfiguration"]["Namespace"],
    }
    template_path.write_text(json.dumps(template))
    return target
