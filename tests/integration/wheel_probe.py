"""An app of its own, outside the repository, that synthesizes every construct the installed
library exports (run by test_distributions.py in a clean venv; ``nag`` as argument: the pack too).

Prints one JSON line: where the library was imported from, the exported constructs it did not
use (must be none: a new export needs a line here), and the number of resources written.
"""

import inspect
import json
import sys

import aws_cdk as cdk
import constructs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

import ecs_service_discovery as library
from ecs_service_discovery import (
    DiscoverableFargateService,
    DiscoveryNamespace,
    LogEncryptionKey,
    ServiceSpec,
    ServiceTopology,
    SharedNamespace,
    TopologySpec,
)

app = cdk.App()
if "nag" in sys.argv[1:]:
    from ecs_service_discovery.nag import ServiceDiscoveryChecks

    cdk.Validations.of(app).add_plugins(ServiceDiscoveryChecks(app))
stack = cdk.Stack(app, "Probe")
vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
used: set[type] = set()

namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="probe")
key = LogEncryptionKey(stack, "Key")
image = ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine")
cart = DiscoverableFargateService(
    stack, "Cart", cluster=cluster, namespace=namespace, name="cart", image=image, log_encryption_key=key
)
web = DiscoverableFargateService(stack, "Web", cluster=cluster, namespace=namespace, name="web", image=image)
web.connect_to(cart)
namespace.grant_discover_read(web)
imported = DiscoveryNamespace.from_attributes(
    stack,
    "Imported",
    name="shared",
    namespace_id="ns-0123456789abcdef0",
    namespace_arn=stack.format_arn(
        service="servicediscovery", resource="namespace", resource_name="ns-0123456789abcdef0"
    ),
)
DiscoverableFargateService(stack, "Audit", cluster=cluster, namespace=imported, name="audit", image=image)
# Cross-account: the namespace shared with another account (NamespaceShare), and a consumer's import
# of a namespace another account shares with it (SharedNamespace).
namespace.share_with("Share", principals=["123456789012"])
SharedNamespace.from_namespace_arn(
    stack,
    "Shared",
    namespace_arn="arn:aws:servicediscovery:eu-west-1:111122223333:namespace/ns-abcd1234efgh5678",
    name="corp",
)
topology_stack = cdk.Stack(app, "ProbeTopology")
topology_vpc = ec2.Vpc(topology_stack, "Vpc", max_azs=2)
topology_namespace = DiscoveryNamespace(topology_stack, "Namespace", vpc=topology_vpc, name="topology")
ServiceTopology(
    topology_stack,
    "Topology",
    cluster=ecs.Cluster(topology_stack, "Cluster", vpc=topology_vpc),
    namespace=topology_namespace,
    spec=TopologySpec(
        services=(
            ServiceSpec(name="front", image="public.ecr.aws/nginx/nginx:1.27", calls=("back",)),
            ServiceSpec(name="back", image="public.ecr.aws/nginx/nginx:1.27"),
        )
    ),
)
for construct in (*stack.node.find_all(), *topology_stack.node.find_all()):
    used.add(type(construct))

exported = {
    value
    for name in library.__all__
    if inspect.isclass(value := getattr(library, name))
    and issubclass(value, constructs.Construct)
    and not inspect.isabstract(value)
    and not name.endswith("Base")
}
assembly = app.synth()
resources = sum(len(artifact.template.get("Resources", {})) for artifact in assembly.stacks)
print(
    json.dumps(
        {
            "module": library.__file__,
            "missing": sorted(c.__name__ for c in exported if not any(issubclass(u, c) for u in used)),
            "resources": resources,
        }
    )
)
