"""The seed system's integration test, in one discovery mode: app.py's ServiceDiscoveryStack
(flask-backend calling flask-worker, 2 tasks each) deployed with a probe function in its VPC, and
what must hold once it runs. integ_seed_dns.py, integ_seed_both.py and integ_seed_service_connect.py
each build one mode."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk.integ_tests_alpha import ExpectedResult, IntegTest, Match
from harness import (
    LOOPBACK_IPV4,
    TASK_ARN,
    TASK_IPV4,
    DiscoveryProbe,
    destroy_on_delete,
    expect_dns_instances,
    expect_rollout,
    integ_app,
    invoke_probe,
    namespace_of,
    records,
    wait,
)

from ecs_service_discovery.constructs import DiscoverableFargateService, Discovery
from stacks import ServiceDiscoveryStack

#: Tasks per service: ServiceDiscoveryStack keeps the library's default desired_count.
TASKS = 2


def build(mode: Discovery, *, stack_name: str, namespace: str) -> None:
    """Synthesize the test app of ``mode``. ``namespace`` differs per mode: DiscoverInstances finds a
    namespace by name, and a deployed seed app (``corp``) may share the account."""
    app = integ_app()
    stack = ServiceDiscoveryStack(app, stack_name, namespace_name=namespace, discovery=mode)
    probe = DiscoveryProbe(stack, "Probe", vpc=stack.vpc)
    # Admitted as a caller of the backend on its port, as connect_to admits the backend to the worker.
    stack.backend.connections.allow_from(
        probe.function, ec2.Port.tcp(stack.backend.container_port), "the integration test probe calls backend"
    )
    destroy_on_delete(stack)
    integ = IntegTest(app, f"{stack_name}Test", test_cases=[stack], stack_update_workflow=False)

    for service in (stack.worker, stack.backend):
        expect_rollout(integ, service, TASKS)
        if mode.uses_dns:
            expect_dns_instances(integ, service, TASKS)
    worker, backend = stack.worker, stack.backend
    if mode is Discovery.SERVICE_CONNECT:
        # No DNS name answers: the probe calls a backend task by the address ECS registered for it.
        backend_url = f"http://{_service_connect_address(integ, backend)}:{backend.container_port}/"
        dns_view: dict[str, Any] = {worker.dns_name: {"A": "NXDOMAIN", "SRV": "NXDOMAIN"}}
    else:
        backend_url = f"http://{backend.dns_name}:{backend.container_port}/"
        dns_view = {
            worker.dns_name: {
                "A": records(worker.dns_name, "A", TASK_IPV4, TASKS),
                "SRV": records(
                    worker.dns_name,
                    "SRV",
                    rf"[0-9]+ [0-9]+ {worker.container_port} [0-9a-f]{{32}}\.{re.escape(worker.dns_name)}\.",
                    TASKS,
                ),
            }
        }
    # Through Service Connect the backend's call goes to its own proxy, on a loopback address.
    worker_address = LOOPBACK_IPV4 if mode.uses_service_connect else TASK_IPV4
    invoke_probe(
        integ,
        probe,
        {"resolve": [worker.dns_name], "url": backend_url},
        {
            "dns": dns_view,
            "call": {
                "status": 200,
                "body": {
                    "service": backend.name,
                    "worker": {
                        "dns_name": worker.dns_name,
                        "status": 200,
                        "address": Match.string_like_regexp(f"^{worker_address}$"),
                        "port": worker.container_port,
                        "response": {
                            "service": worker.name,
                            "identity": {
                                "source": "ecs-task-metadata",
                                "task_arn": Match.string_like_regexp(f"^{TASK_ARN}$"),
                            },
                        },
                    },
                },
            },
        },
    )
    app.synth()


def _service_connect_address(integ: IntegTest, service: DiscoverableFargateService) -> str:
    """The IPv4 address of one of ``service``'s tasks, from its Service Connect registration in Cloud
    Map (discoverable by API only), after checking that all its tasks are registered."""
    endpoint = service.service_connect_endpoint
    assert endpoint is not None
    parameters = {
        "NamespaceName": namespace_of(service),
        "ServiceName": endpoint.discovery_name,
        # ECS's health reporting for Service Connect registrations is not documented: healthy ones
        # when there are any, else all (the rollout check already waited for running tasks).
        "HealthStatus": "HEALTHY_OR_ELSE_ALL",
        "MaxResults": 100,
    }
    instance = {"Attributes": {"AWS_INSTANCE_IPV4": Match.string_like_regexp(f"^{TASK_IPV4}$")}}
    registered = integ.assertions.aws_api_call("ServiceDiscovery", "discoverInstances", parameters)
    wait(registered.expect(ExpectedResult.object_like({"Instances": [instance] * TASKS})))
    # A second, identical call reads the address: a call that returns attributes (flattened) cannot
    # also be matched as a whole (its expectation would see no "apiCallResponse").
    lookup = integ.assertions.aws_api_call("ServiceDiscovery", "discoverInstances", {**parameters, "MaxResults": 1})
    registered.next(lookup)
    return lookup.get_att_string("Instances.0.Attributes.AWS_INSTANCE_IPV4")
