"""What the integration test apps (``integ/integ_*.py``, run by integ-runner) share: the app with
the project's feature flags, the probe function inside the VPC, and the assertions on the deployed
system (Cloud Map, ECS, the probe's view). docs/integration-tests.md says what each one proves.

integ-runner runs each app as ``python3 integ/integ_<name>.py`` from the repository, so this
module puts the repository on ``sys.path`` for ``stacks`` (not an installed package).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk.integ_tests_alpha import AwsApiCall, ExpectedResult, IApiCall, IntegTest, Match  # noqa: E402
from constructs import Construct  # noqa: E402

from ecs_service_discovery.constructs import DiscoverableFargateService  # noqa: E402

#: How long each assertion may wait for the system to settle, and how often it looks again. ECS
#: marks a deployment COMPLETED only after its tasks passed their health checks (start period 15 s,
#: then every 10 s) and Cloud Map DNS answers follow within the records' TTL (10 s).
WAIT_TOTAL = cdk.Duration.minutes(15)
WAIT_INTERVAL = cdk.Duration.seconds(20)

#: Addresses of tasks in the seed VPC (aws_ec2.Vpc's default CIDR 10.0.0.0/16).
TASK_IPV4 = r"10\.0\.[0-9]{1,3}\.[0-9]{1,3}"
#: What a Service Connect client connects to: its own proxy, on a loopback address in the task.
LOOPBACK_IPV4 = r"127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
#: A task ARN as the worker reads it from the ECS task metadata endpoint (v4, "TaskARN").
TASK_ARN = r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task/[A-Za-z0-9_-]+/[0-9a-f]{32}"
#: A TTL the VPC resolver may show for a 10 s record: 10 when fresh, counting down while cached.
TTL_UP_TO_10 = r"(?:[0-9]|10)"


def integ_app() -> cdk.App:
    """An App with the feature flags of the project's cdk.json, which win over integ-runner's own
    recommended flags, so each test deploys the templates ``cdk deploy`` of app.py would."""
    flags = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    return cdk.App(post_cli_context=flags)


def destroy_on_delete(*stacks: cdk.Stack) -> None:
    """Delete the KMS key and log groups with the stack (the library keeps them by default), so a
    test run leaves nothing that costs money. The only template change from what users deploy."""
    for stack in stacks:
        cdk.RemovalPolicies.of(stack).destroy()


class LiteralResult(ExpectedResult):
    """An expected number or string compared exactly.

    ``ExpectedResult.exact(2)`` encodes ``{"$Exact": 2}``, which the assertion handler of
    integ-tests-alpha 2.275.0 does not decode: it compares the actual value with that object and
    fails (tests/integration/test_integ_snapshots.py runs the handler to show it). A plain JSON
    value is what the handler compares exactly.
    """

    def __init__(self, value: int | str) -> None:
        super().__init__()
        self._value = value

    @property
    def result(self) -> str:  # pyright: ignore[reportIncompatibleMethodOverride]
        return json.dumps(self._value)


class DiscoveryProbe(Construct):
    """The probe (integ/probe/probe.py): a Python Lambda function in the VPC's private subnets, with
    dnspython, no route to anything but what it is admitted to.

    Its security group allows no egress but DNS to the VPC resolver's network; a service admits it
    with ``service.connections.allow_from(probe.function, port)``, as any caller would be.

    Attributes: ``function``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="probe.handler",
            code=lambda_.Code.from_asset(str(_probe_bundle())),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            allow_all_outbound=False,
            timeout=cdk.Duration.seconds(30),
            memory_size=256,
            description="Integration test probe: resolves Cloud Map names and calls services from inside the VPC",
            log_group=logs.LogGroup(self, "LogGroup", retention=logs.RetentionDays.ONE_WEEK),
        )
        # The VPC resolver is the VPC's base address + 2; security groups do not filter traffic to it,
        # but the rules say what the function does, and nothing else leaves it.
        for port in (ec2.Port.udp(53), ec2.Port.tcp(53)):
            self.function.connections.allow_to(ec2.Peer.ipv4(vpc.vpc_cidr_block), port, "DNS to the VPC resolver")


_BUNDLE: tempfile.TemporaryDirectory[str] | None = None


def _probe_bundle() -> Path:
    """A folder with probe.py and the installed dnspython (pure Python), staged once per app run.

    Built from the virtual environment rather than downloaded, so synthesis needs no network; the
    asset's hash follows dnspython's version, and integ-runner ignores asset hashes when it compares
    snapshots. The folder lives until the process ends; synthesis has copied it by then.
    """
    global _BUNDLE
    if _BUNDLE is None:
        _BUNDLE = tempfile.TemporaryDirectory(prefix="integ-probe-")
        target = Path(_BUNDLE.name)
        shutil.copy2(Path(__file__).with_name("probe") / "probe.py", target / "probe.py")
        spec = importlib.util.find_spec("dns")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("dnspython is not installed in this environment (requirements-dev.txt pins it)")
        shutil.copytree(
            next(iter(spec.submodule_search_locations)),
            target / "dns",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return Path(_BUNDLE.name)


# --- Assertions ------------------------------------------------------------------------------------


def namespace_of(service: DiscoverableFargateService) -> str:
    """The name of the service's namespace (its DNS name is ``<name>.<namespace>``)."""
    return service.dns_name.removeprefix(f"{service.name}.")


def wait(call: IApiCall) -> IApiCall:
    """``call.wait_for_assertions`` with the tests' :data:`WAIT_TOTAL` and :data:`WAIT_INTERVAL`."""
    return call.wait_for_assertions(total_timeout=WAIT_TOTAL, interval=WAIT_INTERVAL)


def expect_rollout(integ: IntegTest, service: DiscoverableFargateService, count: int) -> list[IApiCall]:
    """ECS DescribeServices: the deployment is COMPLETED and ``count`` tasks are desired and running.

    One call per value: the response is larger than the 4,096 bytes a custom resource may answer,
    so each call keeps one leaf (``assert_at_path`` sets ``outputPaths`` to it).
    """
    parameters = {"cluster": service.props.cluster.cluster_arn, "services": [service.service.service_arn]}
    checks: list[tuple[str, ExpectedResult]] = [
        ("services.0.deployments.0.rolloutState", ExpectedResult.string_like_regexp("^COMPLETED$")),
        ("services.0.desiredCount", LiteralResult(count)),
        ("services.0.runningCount", LiteralResult(count)),
    ]
    return [
        wait(integ.assertions.aws_api_call("ECS", "describeServices", parameters).assert_at_path(path, expected))
        for path, expected in checks
    ]


def expect_dns_instances(integ: IntegTest, service: DiscoverableFargateService, count: int) -> IApiCall:
    """Cloud Map DiscoverInstances: exactly ``count`` HEALTHY instances of the service's DNS service,
    each with the task's IPv4 address and container port, the attributes ECS registers."""
    namespace = namespace_of(service)
    instance = {
        "NamespaceName": namespace,
        "ServiceName": service.name,
        "HealthStatus": "HEALTHY",
        "Attributes": {
            "AWS_INSTANCE_IPV4": Match.string_like_regexp(f"^{TASK_IPV4}$"),
            "AWS_INSTANCE_PORT": str(service.container_port),
        },
    }
    call = integ.assertions.aws_api_call(
        "ServiceDiscovery",
        "discoverInstances",
        {"NamespaceName": namespace, "ServiceName": service.name, "HealthStatus": "HEALTHY", "MaxResults": 100},
    )
    # A list in the pattern matches only a list of the same length: count instances, no more.
    return wait(call.expect(ExpectedResult.object_like({"Instances": [instance] * count})))


def invoke_probe(integ: IntegTest, probe: DiscoveryProbe, event: dict[str, Any], expected: dict[str, Any]) -> IApiCall:
    """Invoke the probe with ``event`` and wait until its answer matches ``expected`` (object-like)."""
    call = integ.assertions.invoke_function(function_name=probe.function.function_name, payload=json.dumps(event))
    call.expect(
        ExpectedResult.object_like({"StatusCode": 200, "Payload": Match.serialized_json(Match.object_like(expected))})
    )
    wait(call)
    # The waiter's own function calls Invoke too; integ-tests-alpha grants that only to the first call.
    assert isinstance(call, AwsApiCall) and call.waiter_provider is not None
    call.waiter_provider.add_to_role_policy(
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [probe.function.function_arn]}
    )
    return call


def records(name: str, rdtype: str, data: str, count: int) -> list[Any]:
    """``count`` records of ``name`` in presentation format, TTL at most 10 s, data matching ``data``."""
    line = rf"^{re.escape(name)}\. {TTL_UP_TO_10} IN {rdtype} {data}$"
    return [Match.string_like_regexp(line)] * count
