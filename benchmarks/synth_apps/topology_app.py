"""A generated topology of N services: ServiceTopology on a DiscoveryPlatformStack.

    python topology_app.py 200

Service 0 (``gateway``) is built from services/flask-backend; the others run a registry image.
Every tenth service (``gateway`` among them) may list the namespace (``discovery_read``): 20
readers of 200 services, as tests/integration/test_scale.py has them. Service ``i`` calls ``i+1`` and
``i+3`` (modulo N), so every service has two callees and, past 25 services, some calls cross
from one CloudFormation template to another.
"""

import sys
from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms

from ecs_service_discovery import ServiceSpec, ServiceTopology, TopologySpec
from stacks import DiscoveryPlatformStack

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
REGISTRY_IMAGE = "public.ecr.aws/docker/library/nginx:1.27"
CALL_OFFSETS = (1, 3)
READER_EVERY = 10


def topology(count: int) -> TopologySpec:
    names = ["gateway", *(f"svc-{index:03d}" for index in range(1, count))]
    services = []
    for index, name in enumerate(names):
        calls = tuple(dict.fromkeys(names[(index + offset) % count] for offset in CALL_OFFSETS if offset % count))
        if index == 0:
            services.append(
                ServiceSpec(name=name, source=SERVICES_DIR / "flask-backend", calls=calls, discovery_read=True)
            )
        else:
            services.append(
                ServiceSpec(
                    name=name,
                    image=REGISTRY_IMAGE,
                    container_port=80,
                    health_check_path="/",
                    calls=calls,
                    discovery_read=index % READER_EVERY == 0,
                )
            )
    return TopologySpec(services=tuple(services), origin=f"{count} generated services")


def main() -> None:
    count = int(sys.argv[1])
    app = cdk.App()
    stack = DiscoveryPlatformStack(app, f"Topology{count}")
    ServiceTopology(
        stack,
        "Topology",
        cluster=stack.cluster,
        namespace=stack.namespace,
        spec=topology(count),
        # cast: jsii's stubs name Key.add_alias's parameter differently from IKey's.
        log_encryption_key=cast(kms.IKey, stack.log_encryption_key),
    )
    app.synth()


if __name__ == "__main__":
    main()
