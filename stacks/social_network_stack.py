"""SocialNetworkStack: the seed demo's social network, from topologies/social-network.yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from constructs import Construct

from ecs_service_discovery.constructs import (
    DiscoverableFargateService,
    Discovery,
    ServiceSpec,
    ServiceTopology,
    load_topology,
)
from stacks.service_discovery_stack import DiscoveryPlatformStack

#: The topology file the stack deploys by default (in the repository, next to services/).
SOCIAL_NETWORK_TOPOLOGY = Path(__file__).resolve().parents[1] / "topologies" / "social-network.yaml"


class SocialNetworkStack(DiscoveryPlatformStack):
    """The social network of the seed demo: a :class:`DiscoveryPlatformStack` (VPC over 2 AZs,
    ECS cluster, namespace) and a :class:`ServiceTopology` read from a topology file.

    The default file has ``backend`` (``services/flask-backend``: the page that lists every
    service and calls each one) calling ``auth``, ``user``, ``timeline``, ``feed``,
    ``messenger`` and ``worker``, all six from the one generic ``services/flask-worker`` image,
    told apart by ``SERVICE_NAME`` and ``MESSAGE``.

    :param namespace_name: the Cloud Map namespace. Default: ``"social"``, so that this stack
        and :class:`ServiceDiscoveryStack` (``"corp"``) can live in one account side by side.
    :param topology_file: the YAML or JSON topology. Default: ``topologies/social-network.yaml``
        of the repository.
    :param discovery: how every service is found (``"dns"``, ``"service-connect"``, ``"both"``, or a
        :class:`Discovery`), replacing each service's ``discovery`` in the file. Default: ``None``
        (the file's own values).
    :param stack_kwargs: passed to ``aws_cdk.Stack`` (``env``, ``description``, ...).

    Attributes: ``topology`` (the :class:`ServiceTopology`; ``topology.services["auth"]``),
    ``backend``, and those of :class:`DiscoveryPlatformStack`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace_name: str = "social",
        topology_file: str | Path = SOCIAL_NETWORK_TOPOLOGY,
        discovery: Discovery | str | None = None,
        **stack_kwargs: Any,
    ) -> None:
        # Read before the stack exists: a mistake in the file leaves no half-built stack.
        spec = load_topology(topology_file)
        if discovery is not None:
            mode = Discovery.parse("discovery", discovery)
            spec = dataclasses.replace(
                spec, services=tuple(_with_discovery(service, mode) for service in spec.services)
            )
        super().__init__(scope, construct_id, namespace_name=namespace_name, **stack_kwargs)
        self.topology = ServiceTopology(
            self,
            "Topology",
            cluster=self.cluster,
            namespace=self.namespace,
            spec=spec,
            log_encryption_key=self.log_encryption_key,
        )
        self.backend: DiscoverableFargateService | None = self.topology.services.get("backend")


def _with_discovery(service: ServiceSpec, discovery: Discovery) -> ServiceSpec:
    """``service`` in another discovery mode (its fields only: dataclasses.replace would also read the
    deprecated ``port``/``memory`` aliases and warn)."""
    fields: dict[str, Any] = {
        field.name: getattr(service, field.name) for field in dataclasses.fields(service) if field.init
    }
    fields["discovery"] = discovery
    return ServiceSpec(**fields)
