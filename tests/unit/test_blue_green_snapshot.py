"""A blue/green seed stack (issue 24): the seed's platform (VPC, cluster, namespace, one log key) with
flask-worker deploying blue/green and flask-backend canary, both through Service Connect. Its template
is a committed snapshot, and it passes cdk-nag (AwsSolutions and this library's ServiceDiscovery pack,
SD8 included), cfn-lint and checkov as the shipped stacks do.

Update with ``pytest tests/unit/test_blue_green_snapshot.py --snapshot-update`` after reading the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ecs_service_discovery import DiscoverableFargateService
from ecs_service_discovery.constructs.deployment import TEST_TRAFFIC_HEADER, DeploymentOptions, DeploymentStrategy
from ecs_service_discovery.nag import ServiceDiscoveryChecks
from stacks.images import service_image
from stacks.service_discovery_stack import DiscoveryPlatformStack
from tests.helpers import normalize_template
from tests.security.test_cfn_lint import cfn_lint
from tests.security.test_checkov import DOCUMENTED_SKIPS, run_checkov


class BlueGreenSeedStack(DiscoveryPlatformStack):
    """The seed's two services in Service Connect, the worker blue/green and the backend canary."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.worker = DiscoverableFargateService(
            self,
            "Worker",
            cluster=self.cluster,
            namespace=self.namespace,
            name="worker",
            container_name="flask-worker",
            image=service_image("flask-worker"),
            log_encryption_key=self.log_encryption_key,
            discovery="service-connect",
            deployment=DeploymentOptions(strategy=DeploymentStrategy.BLUE_GREEN),
        )
        self.backend = DiscoverableFargateService(
            self,
            "Backend",
            cluster=self.cluster,
            namespace=self.namespace,
            name="backend",
            container_name="flask-backend",
            image=service_image("flask-backend"),
            log_encryption_key=self.log_encryption_key,
            discovery="service-connect",
            deployment=DeploymentOptions(strategy=DeploymentStrategy.CANARY, step_percent=10),
        )
        self.backend.connect_to(self.worker)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[BlueGreenSeedStack, Path]:
    """The stack synthesized once, with both packs as policy validation plugins (as app.py adds them)."""
    out_dir = tmp_path_factory.mktemp("blue-green") / "cdk.out"
    app = cdk.App(outdir=str(out_dir))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServiceDiscoveryChecks(app))
    stack = BlueGreenSeedStack(app, "BlueGreenSeed")
    app.synth()
    return stack, out_dir


def _template(synthesized: tuple[BlueGreenSeedStack, Path]) -> dict[str, Any]:
    stack, out_dir = synthesized
    return json.loads((out_dir / stack.template_file).read_text())


def test_blue_green_seed_stack_snapshot(synthesized: tuple[BlueGreenSeedStack, Path], snapshot_json: Any) -> None:
    assert normalize_template(_template(synthesized)) == snapshot_json


def test_both_services_shift_traffic_with_test_traffic_a_bake_time_and_a_rollback_alarm(
    synthesized: tuple[BlueGreenSeedStack, Path],
) -> None:
    template = _template(synthesized)
    services = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(services) == 2 and len(alarms) == 2
    assert {service["DeploymentConfiguration"]["Strategy"] for service in services} == {"BLUE_GREEN", "CANARY"}
    for service in services:
        config = service["DeploymentConfiguration"]
        assert config["BakeTimeInMinutes"] == 5
        (alarm_name,) = config["Alarms"]["AlarmNames"]
        assert alarm_name in {alarm["AlarmName"] for alarm in alarms}
        (alias,) = service["ServiceConnectConfiguration"]["Services"][0]["ClientAliases"]
        assert alias["TestTrafficRules"] == {"Header": {"Name": TEST_TRAFFIC_HEADER}}
    # The CLI-free template check: no cycle between a service and its alarm.
    Template.from_json(template)


def test_cdk_nag_passes_with_both_packs(synthesized: tuple[BlueGreenSeedStack, Path]) -> None:
    _, out_dir = synthesized
    report = json.loads((out_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == [] or all(
        plugin["conclusion"] == "success" for plugin in report["pluginReports"]
    ), json.dumps(report)[:4000]


def test_cfn_lint_passes(synthesized: tuple[BlueGreenSeedStack, Path]) -> None:
    stack, out_dir = synthesized
    result = cfn_lint(out_dir / stack.template_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_checkov_passes_with_documented_skips_only(
    synthesized: tuple[BlueGreenSeedStack, Path], tmp_path: Path
) -> None:
    stack, out_dir = synthesized
    run = run_checkov([out_dir / stack.template_file], tmp_path)
    failed = [f"{c['check_id']} {c['resource']}" for c in run.checks("failed_checks")]
    assert failed == []
    assert run.returncode == 0, run.stderr
    assert run.network_attempts == ""
    assert {check["check_id"] for check in run.checks("skipped_checks")} <= DOCUMENTED_SKIPS
