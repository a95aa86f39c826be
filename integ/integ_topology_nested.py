"""Integration test: a small ServiceTopology over a nested stack, with calls across templates and one
registry reader.

``reader`` (the flask-backend image: its /api/services page lists the namespace through the Cloud
Map API) calls ``worker``, ``auth`` and ``user`` (flask-worker images) and has ``discovery_read``.
Two services per template: reader and worker in the stack, auth and user in the nested stack
Group1, so reader's calls to them cross templates. One task each. See docs/integration-tests.md.
"""

from aws_cdk import aws_ec2 as ec2
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from harness import (
    REPO,
    DiscoveryProbe,
    LiteralResult,
    destroy_on_delete,
    expect_dns_instances,
    expect_rollout,
    integ_app,
    invoke_probe,
)

from ecs_service_discovery.constructs import ServiceSpec, ServiceTopology
from ecs_service_discovery.constructs.namespace import NAMESPACE_TAG
from stacks import DiscoveryPlatformStack

NAMESPACE = "corp-topology"
SERVICES = REPO / "services"
#: A namespace ID that is not the reader's: the grant must not reach it.
FOREIGN_NAMESPACE_ID = "ns-0000000000000000"

app = integ_app()
stack = DiscoveryPlatformStack(app, "EcsDiscoveryIntegTopology", namespace_name=NAMESPACE)
worker_image = {"source": SERVICES, "dockerfile": "flask-worker/Dockerfile", "desired_count": 1, "scaling": None}
topology = ServiceTopology(
    stack,
    "Topology",
    cluster=stack.cluster,
    namespace=stack.namespace,
    services_per_stack=2,
    log_encryption_key=stack.log_encryption_key,
    spec=[
        ServiceSpec(
            name="reader",
            source=SERVICES,
            dockerfile="flask-backend/Dockerfile",
            desired_count=1,
            scaling=None,
            calls=("worker", "auth", "user"),
            discovery_read=True,
        ),
        ServiceSpec(name="worker", **worker_image),
        ServiceSpec(name="auth", **worker_image),
        ServiceSpec(name="user", **worker_image),
    ],
)
reader = topology.services["reader"]
probe = DiscoveryProbe(stack, "Probe", vpc=stack.vpc)
reader.connections.allow_from(
    probe.function, ec2.Port.tcp(reader.container_port), "the integration test probe calls reader"
)
destroy_on_delete(stack, *topology.nested_stacks)
integ = IntegTest(app, "EcsDiscoveryIntegTopologyTest", test_cases=[stack], stack_update_workflow=False)

for service in topology.services.values():
    expect_rollout(integ, service, 1)
    expect_dns_instances(integ, service, 1)

# The reader's page reads the namespace with the reader's task role, through the library's grant:
# every service listed, each with its one healthy instance (ListServices, ListInstances and
# GetInstancesHealthStatus all allowed).
invoke_probe(
    integ,
    probe,
    {
        "url": f"http://{reader.dns_name}:{reader.container_port}/api/services",
        "pluck": ["namespace.name", "services.*.name", "services.*.instances.healthy"],
    },
    {
        "call": {
            "status": 200,
            "body": {
                "namespace.name": NAMESPACE,
                "services.*.name": sorted(topology.services),
                "services.*.instances.healthy": [1] * len(topology.services),
            },
        }
    },
)

# Every Cloud Map service carries the tag that scopes the grant, valued with this namespace's ID.
for service in topology.services.values():
    assert service.cloud_map_service is not None
    integ.assertions.aws_api_call(
        "ServiceDiscovery", "listTagsForResource", {"ResourceARN": service.cloud_map_service.service_arn}
    ).expect(
        ExpectedResult.object_like(
            {"Tags": Match.array_with([{"Key": NAMESPACE_TAG, "Value": stack.namespace.namespace_id}])}
        )
    )

# IAM's policy simulator evaluates the reader's task role as deployed: allowed inside its namespace,
# denied outside it. Instance reads are scoped by the service's tag, DiscoverInstances by the
# namespace ARN (see DiscoveryNamespaceBase.grant_discover_read).
role_arn = reader.task_definition.task_role.role_arn
any_service = stack.format_arn(service="servicediscovery", resource="service", resource_name="srv-0000000000000000")
foreign_namespace = stack.format_arn(
    service="servicediscovery", resource="namespace", resource_name=FOREIGN_NAMESPACE_ID
)


def tagged(namespace_id: str) -> list[dict[str, object]]:
    key = f"aws:ResourceTag/{NAMESPACE_TAG}"
    return [{"ContextKeyName": key, "ContextKeyValues": [namespace_id], "ContextKeyType": "string"}]


for action, resource, context, decision in (
    ("servicediscovery:ListInstances", any_service, tagged(stack.namespace.namespace_id), "allowed"),
    ("servicediscovery:GetInstancesHealthStatus", any_service, tagged(stack.namespace.namespace_id), "allowed"),
    ("servicediscovery:ListInstances", any_service, tagged(FOREIGN_NAMESPACE_ID), "implicitDeny"),
    ("servicediscovery:GetInstancesHealthStatus", any_service, tagged(FOREIGN_NAMESPACE_ID), "implicitDeny"),
    ("servicediscovery:DiscoverInstances", stack.namespace.namespace_arn, [], "allowed"),
    ("servicediscovery:DiscoverInstances", foreign_namespace, [], "implicitDeny"),
):
    parameters: dict[str, object] = {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]}
    if context:
        parameters["ContextEntries"] = context
    integ.assertions.aws_api_call("IAM", "simulatePrincipalPolicy", parameters).assert_at_path(
        "EvaluationResults.0.EvalDecision", LiteralResult(decision)
    )

app.synth()
