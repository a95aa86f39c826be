"""Every safety promise of the constructs' defaults, one assertion each, on the session templates.

``library_defaults_template``: two services with every default (api connects to db, public
image). ``seed_template``: the shipped stack (shared log key, flow logs, ECR images,
discovery read grant).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from constructs import IConstruct

from stacks import ServiceDiscoveryStack
from tests.helpers import LibraryDefaultsStack, as_list

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_STOP_DEFAULT = re.compile(r"^DEFAULT_(DRAIN|FINISH)_SECONDS = (\d+)$", re.MULTILINE)
DEFAULT_DNS_TTL = 10
ECS_MAX_STOP_TIMEOUT = 120


def resources(template: Template, kind: str) -> Mapping[str, Mapping[str, Any]]:
    return template.find_resources(kind)


def containers(template: Template) -> list[dict[str, Any]]:
    return [
        container
        for task in resources(template, "AWS::ECS::TaskDefinition").values()
        for container in task["Properties"]["ContainerDefinitions"]
    ]


def statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def ref_of(construct: IConstruct) -> str:
    """The logical ID of ``construct``'s CloudFormation resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    return Stack.of(construct).get_logical_id(resource)


# --- Deployments -------------------------------------------------------------------------------


SERVICES_IN_LIBRARY_DEFAULTS = 2


def ecs_services(template: Template) -> list[Mapping[str, Any]]:
    """The ECS services of ``library_defaults_template``: two, so that no loop over them passes empty."""
    found = list(resources(template, "AWS::ECS::Service").values())
    assert len(found) == SERVICES_IN_LIBRARY_DEFAULTS
    return found


def test_deployments_roll_back_on_failure(library_defaults_template: Template) -> None:
    for service in ecs_services(library_defaults_template):
        config = service["Properties"]["DeploymentConfiguration"]
        assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_deployments_keep_full_capacity_while_replacing(library_defaults_template: Template) -> None:
    for service in ecs_services(library_defaults_template):
        config = service["Properties"]["DeploymentConfiguration"]
        assert (config["MinimumHealthyPercent"], config["MaximumPercent"]) == (100, 200)


def test_new_tasks_get_a_health_check_grace_period(library_defaults_template: Template) -> None:
    for service in ecs_services(library_defaults_template):
        assert service["Properties"]["HealthCheckGracePeriodSeconds"] == 60


def test_stop_timeout_outlasts_the_apps_drain_and_finish(library_defaults_template: Template) -> None:
    # The apps' own stop sequence (services/common/graceful_stop.py), read rather than restated:
    # they keep serving for the drain (at least the DNS TTL, while callers still hold the address),
    # then finish in-flight requests; the container's stop timeout must outlast both.
    defaults = dict(APP_STOP_DEFAULT.findall((REPO_ROOT / "services/common/graceful_stop.py").read_text()))
    assert set(defaults) == {"DRAIN", "FINISH"}
    drain, finish = int(defaults["DRAIN"]), int(defaults["FINISH"])
    assert drain >= DEFAULT_DNS_TTL
    stop_timeouts = [container["StopTimeout"] for container in containers(library_defaults_template)]
    assert len(stop_timeouts) == 2
    for stop_timeout in stop_timeouts:
        assert drain + finish < stop_timeout <= ECS_MAX_STOP_TIMEOUT


# --- Scaling -----------------------------------------------------------------------------------


def test_services_scale_on_cpu_from_desired_count(library_defaults_template: Template) -> None:
    targets = resources(library_defaults_template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert [(t["Properties"]["MinCapacity"], t["Properties"]["MaxCapacity"]) for t in targets.values()] == [(2, 10)] * 2
    library_defaults_template.resource_properties_count_is(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "TargetValue": 70,
                }
            ),
        },
        2,
    )


# --- Containers --------------------------------------------------------------------------------


def test_containers_run_as_a_non_root_user(library_defaults_template: Template) -> None:
    assert [c["User"] for c in containers(library_defaults_template)] == ["10001", "10001"]


def test_root_filesystem_is_read_only_with_a_scratch_tmp(library_defaults_template: Template) -> None:
    assert len(containers(library_defaults_template)) == SERVICES_IN_LIBRARY_DEFAULTS
    for container in containers(library_defaults_template):
        assert container["ReadonlyRootFilesystem"] is True
        assert container["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]


def test_containers_are_not_privileged(library_defaults_template: Template) -> None:
    assert [c["Privileged"] for c in containers(library_defaults_template)] == [False, False]


def test_every_linux_capability_is_dropped_none_added(library_defaults_template: Template) -> None:
    assert len(containers(library_defaults_template)) == SERVICES_IN_LIBRARY_DEFAULTS
    for container in containers(library_defaults_template):
        assert container["LinuxParameters"]["Capabilities"] == {"Drop": ["ALL"]}


def test_tasks_get_no_public_ip_and_run_in_private_subnets(
    library_defaults_stack: LibraryDefaultsStack, library_defaults_template: Template
) -> None:
    vpc = library_defaults_stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    private_subnets = {ref_of(subnet) for subnet in vpc.private_subnets}
    assert len(private_subnets) == 2
    for service in ecs_services(library_defaults_template):
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert {subnet["Ref"] for subnet in network["Subnets"]} == private_subnets


def test_ecs_exec_is_off(library_defaults_template: Template) -> None:
    for service in ecs_services(library_defaults_template):
        assert service["Properties"]["EnableExecuteCommand"] is False


# --- Network -----------------------------------------------------------------------------------


def test_each_service_has_its_own_security_group(library_defaults_template: Template) -> None:
    groups = [
        service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        for service in resources(library_defaults_template, "AWS::ECS::Service").values()
    ]
    assert len(groups) == 2 and all(len(g) == 1 for g in groups) and groups[0] != groups[1]


def test_ingress_only_from_connect_to_callers_on_the_callee_port(
    library_defaults_stack: LibraryDefaultsStack, library_defaults_template: Template
) -> None:
    api_group = ref_of(library_defaults_stack.api.security_group)
    db_group = ref_of(library_defaults_stack.db.security_group)
    groups = resources(library_defaults_template, "AWS::EC2::SecurityGroup").values()
    assert len(groups) == SERVICES_IN_LIBRARY_DEFAULTS
    for group in groups:
        assert "SecurityGroupIngress" not in group["Properties"]
    ingress = [
        rule["Properties"] for rule in resources(library_defaults_template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    assert ingress == [
        {
            "Description": "api calls db",
            "GroupId": {"Fn::GetAtt": [db_group, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [api_group, "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 8080,
            "ToPort": 8080,
        }
    ]


def test_nothing_is_open_to_the_internet(seed_template: Template, library_defaults_template: Template) -> None:
    for template in (seed_template, library_defaults_template):
        # Each template has at least the one connect_to ingress rule, so the check below sees rules.
        assert resources(template, "AWS::EC2::SecurityGroupIngress")
        rules = [
            rule
            for group in resources(template, "AWS::EC2::SecurityGroup").values()
            for rule in group["Properties"].get("SecurityGroupIngress", [])
        ] + [rule["Properties"] for rule in resources(template, "AWS::EC2::SecurityGroupIngress").values()]
        assert all("CidrIp" not in rule and "CidrIpv6" not in rule for rule in rules), rules


def test_egress_is_https_plus_the_callee_port(
    library_defaults_stack: LibraryDefaultsStack, library_defaults_template: Template
) -> None:
    # HTTPS egress is inline on each group (test_constructs); connect_to adds exactly one rule to the callee.
    db_group = ref_of(library_defaults_stack.db.security_group)
    egress = [
        rule["Properties"] for rule in resources(library_defaults_template, "AWS::EC2::SecurityGroupEgress").values()
    ]
    assert [(e["DestinationSecurityGroupId"], e["FromPort"], e["ToPort"]) for e in egress] == [
        ({"Fn::GetAtt": [db_group, "GroupId"]}, 8080, 8080)
    ]


# --- IAM ---------------------------------------------------------------------------------------


def test_task_roles_get_no_permission_by_default(
    library_defaults_stack: LibraryDefaultsStack, library_defaults_template: Template
) -> None:
    services = (library_defaults_stack.api, library_defaults_stack.db)
    task_roles = {ref_of(service.task_definition.task_role) for service in services}
    assert len(task_roles) == SERVICES_IN_LIBRARY_DEFAULTS
    attached = {
        role["Ref"]
        for policy in resources(library_defaults_template, "AWS::IAM::Policy").values()
        for role in policy["Properties"]["Roles"]
    }
    assert task_roles.isdisjoint(attached)
    for role in task_roles:
        assert "ManagedPolicyArns" not in resources(library_defaults_template, "AWS::IAM::Role")[role]["Properties"]


def test_execution_roles_only_write_their_own_log_group(
    library_defaults_stack: LibraryDefaultsStack, library_defaults_template: Template
) -> None:
    log_groups = {ref_of(service.log_group) for service in (library_defaults_stack.api, library_defaults_stack.db)}
    granted = []
    assert len(statements(library_defaults_template)) == SERVICES_IN_LIBRARY_DEFAULTS
    for statement in statements(library_defaults_template):
        assert sorted(as_list(statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        granted.append(statement["Resource"]["Fn::GetAtt"][0])
    assert sorted(granted) == sorted(log_groups)


def test_no_wildcard_action_and_only_unavoidable_wildcard_resources(seed_template: Template) -> None:
    wildcard_resource_actions = set()
    assert statements(seed_template)
    for statement in statements(seed_template):
        assert all("*" not in action for action in as_list(statement["Action"])), statement
        if "*" in as_list(statement["Resource"]):
            wildcard_resource_actions.update(as_list(statement["Action"]))
    # IAM offers no resource-level permission for these two actions.
    assert wildcard_resource_actions == {"ecr:GetAuthorizationToken", "servicediscovery:ListServices"}


# --- Logs --------------------------------------------------------------------------------------


def test_container_logs_go_to_the_services_own_log_group_kept_one_month(library_defaults_template: Template) -> None:
    assert len(containers(library_defaults_template)) == SERVICES_IN_LIBRARY_DEFAULTS
    for container in containers(library_defaults_template):
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert len(resources(library_defaults_template, "AWS::Logs::LogGroup")) == SERVICES_IN_LIBRARY_DEFAULTS
    for group in resources(library_defaults_template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 30


def test_without_a_key_the_log_group_records_why_it_has_no_cmk(library_defaults_template: Template) -> None:
    assert len(resources(library_defaults_template, "AWS::Logs::LogGroup")) == SERVICES_IN_LIBRARY_DEFAULTS
    for group in resources(library_defaults_template, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" not in group["Properties"]
        [skip] = group["Metadata"]["checkov"]["skip"]
        assert skip["id"] == "CKV_AWS_158" and "log_encryption_key" in skip["comment"]


def test_seed_encrypts_every_log_group_with_one_shared_rotated_key(seed_template: Template) -> None:
    [key_id] = resources(seed_template, "AWS::KMS::Key")
    assert resources(seed_template, "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    groups = resources(seed_template, "AWS::Logs::LogGroup").values()
    assert len(groups) == 3  # worker, backend, VPC flow logs
    for group in groups:
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert group["Properties"]["RetentionInDays"] == 30
        assert "checkov" not in group.get("Metadata", {})


def test_log_key_lets_only_cloudwatch_logs_of_this_account_and_region_use_it(seed_template: Template) -> None:
    [key] = resources(seed_template, "AWS::KMS::Key").values()
    [logs_statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert all("*" not in action for action in logs_statement["Action"])
    condition = logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition["Fn::Join"][1][-1] == ":log-group:*"
    assert {"Ref": "AWS::AccountId"} in condition["Fn::Join"][1]


def test_seed_vpc_logs_all_flows(seed_stack: ServiceDiscoveryStack, seed_template: Template) -> None:
    flow_group = ref_of(seed_stack.flow_log_group)
    seed_template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogGroupName": {"Ref": flow_group}},
    )


def test_seed_cluster_has_container_insights(seed_template: Template) -> None:
    seed_template.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )
