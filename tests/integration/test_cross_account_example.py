"""examples/cross-account: the owner and consumer stacks built in-process in both discovery modes (the
app's own ``build``, with the context its README passes), the wiring its README promises checked on
the templates, and the gates every shipped stack passes run on both: cdk-nag (AwsSolutions and this
library's pack), cfn-lint and checkov."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from ecs_service_discovery import ValidationError
from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.helpers import container_definition
from tests.security.test_cfn_lint import cfn_lint
from tests.security.test_checkov import DOCUMENTED_SKIPS, run_checkov

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "cross-account" / "app.py"
OWNER, CONSUMER, REGION = "111111111111", "222222222222", "eu-west-1"
ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/ns-0123456789abcdef"
MODES = ("dns", "service-connect")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cross_account_example", EXAMPLE_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


EXAMPLE = _load_example()


@dataclass
class Synth:
    mode: str
    app: cdk.App
    owner: Template
    consumer: Template
    out_dir: Path


@pytest.fixture(scope="module", params=MODES)
def synth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    mode: str = request.param
    out_dir = tmp_path_factory.mktemp(mode)
    app = cdk.App(outdir=str(out_dir), context={"discovery": mode, "zone_associated": "true"})
    owner, consumer = EXAMPLE.build(app)
    app.synth()
    yield Synth(mode, app, Template.from_stack(owner), Template.from_stack(consumer), out_dir)


def _only(template: Template, kind: str) -> dict[str, Any]:
    (properties,) = [r["Properties"] for r in template.find_resources(kind).values()]
    return properties


def test_the_owner_shares_its_namespace_with_the_consumer_with_the_modes_permission(synth: Synth) -> None:
    share = _only(synth.owner, "AWS::RAM::ResourceShare")
    assert share["Principals"] == [CONSUMER] and share["AllowExternalPrincipals"] is False
    assert share["ResourceArns"] == [{"Fn::GetAtt": [_ns(synth), "Arn"]}]
    assert ("PermissionArns" in share) is (synth.mode == "service-connect")
    synth.owner.has_output("NamespaceArn", {"Value": {"Fn::GetAtt": [_ns(synth), "Arn"]}})
    synth.owner.has_output("HostedZoneId", {"Value": {"Fn::GetAtt": [_ns(synth), "HostedZoneId"]}})


def _ns(synth: Synth) -> str:
    (logical_id,) = synth.owner.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace")
    return logical_id


def test_the_consumer_creates_no_namespace_and_registers_backend_in_the_shared_one(synth: Synth) -> None:
    synth.consumer.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 0)
    synth.consumer.resource_count_is("AWS::RAM::ResourceShare", 0)
    ecs_service = _only(synth.consumer, "AWS::ECS::Service")
    if synth.mode == "dns":
        assert _only(synth.consumer, "AWS::ServiceDiscovery::Service")["NamespaceId"] == ARN
        assert "ServiceConnectConfiguration" not in ecs_service
    else:
        synth.consumer.resource_count_is("AWS::ServiceDiscovery::Service", 0)
        assert ecs_service["ServiceConnectConfiguration"]["Namespace"] == ARN


def test_backend_reaches_worker_by_name_and_worker_lets_the_consumer_vpc_in(synth: Synth) -> None:
    env = {v["Name"]: v["Value"] for v in container_definition(synth.consumer, "backend")["Environment"]}
    assert (env["WORKER_HOST"], env["WORKER_PORT"]) == ("worker.corp", "8080")
    assert (env["NAMESPACE_ID"], env["NAMESPACE_OWNER_ACCOUNT"]) == (ARN, OWNER)
    egress = [
        rule
        for group in synth.consumer.find_resources("AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupEgress", [])
        if rule.get("FromPort") == 8080
    ]
    assert [(rule["CidrIp"], rule["ToPort"]) for rule in egress] == [("10.1.0.0/16", 8080)]
    ingress = [
        rule
        for group in synth.owner.find_resources("AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    assert [(rule["CidrIp"], rule["FromPort"]) for rule in ingress] == [("10.2.0.0/16", 8080)]


def test_worker_is_in_the_modes_discovery(synth: Synth) -> None:
    worker = _only(synth.owner, "AWS::ECS::Service")
    assert ("ServiceRegistries" in worker) is (synth.mode == "dns")
    assert ("ServiceConnectConfiguration" in worker) is (synth.mode == "service-connect")


def _violations(plugin: Any, scope: cdk.App) -> list[str]:
    report = plugin.validate_scope(scope)
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def test_cdk_nag_aws_solutions_finds_nothing(synth: Synth) -> None:
    assert _violations(AwsSolutionsChecks(), synth.app) == []


def test_the_projects_rule_pack_finds_nothing(synth: Synth) -> None:
    assert _violations(ServiceDiscoveryChecks(), synth.app) == []


def test_cfn_lint_finds_nothing(synth: Synth) -> None:
    templates = sorted(synth.out_dir.glob("*.template.json"))
    assert [path.name for path in templates] == [
        "CrossAccountConsumer.template.json",
        "CrossAccountOwner.template.json",
    ]
    result = cfn_lint(*templates)
    # W3010 (hard-coded Availability Zones) aside: a stack with an account and Region gets its VPC's
    # zones from CDK's context lookup, written into the template by design.
    findings = [line for line in result.stdout.splitlines() if ":W3010:" not in line]
    assert findings == [], result.stdout + result.stderr


def test_checkov_finds_nothing_but_the_documented_skips(synth: Synth, tmp_path: Path) -> None:
    run = run_checkov(sorted(synth.out_dir.glob("*.template.json")), tmp_path)
    assert run.network_attempts == ""
    failed = [(check["check_id"], check["resource"]) for check in run.checks("failed_checks")]
    assert failed == [], failed
    assert {check["check_id"] for check in run.checks("skipped_checks")} <= DOCUMENTED_SKIPS


@pytest.mark.parametrize(
    ("context", "match"),
    [
        # DNS before the owner's zone is associated with the consumer's VPC
        ({"discovery": "dns"}, r"^vpc='CrossAccountConsumer/Vpc' is not valid: the VPC resolves namespace 'corp' only"),
        ({"discovery": "both"}, r"^discovery='both' is not valid: expected one of \['dns', 'service-connect'\]"),
        (
            {"discovery": "dns", "zone_associated": "true", "region": "us-east-1", "namespace_arn": ARN},
            r"^namespace_arn=.* in Region eu-west-1 and the stack in us-east-1",
        ),
        (
            {"discovery": "dns", "zone_associated": "true", "consumer_account": OWNER},
            r"^principals\[0\]='111111111111'",
        ),
    ],
)
def test_a_mistake_in_the_context_is_one_error(context: dict[str, str], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        EXAMPLE.build(cdk.App(context=context))
