#!/usr/bin/env python3
"""Draw docs/architecture.png from a synthesized CloudFormation template (``make diagram``).

Every box, label and arrow comes from the template that ``cdk synth`` wrote: the VPC and its
subnets, the ECS cluster, each Cloud Map namespace and service (record types, TTL, routing),
each Fargate service (container, port, task count and scaling, log group retention), the
security group rules between services and the Cloud Map read grants. Nothing is hard-coded
to the seed stack, so the picture changes when the stack does.

    python docs/generate_diagram.py --template cdk.out/ServiceDiscovery.template.json --output docs/architecture.png
"""

# diagrams ships no type information; the drawing code below types what it passes.
# pyright: reportMissingTypeStubs=false

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Resource = dict[str, Any]


@dataclass(frozen=True)
class Subnet:
    kind: str  # aws-cdk:subnet-type: Public, Private, Isolated
    cidr: str
    az_index: int


@dataclass(frozen=True)
class Namespace:
    logical_id: str
    name: str


@dataclass
class DiscoveredService:
    ecs_id: str
    name: str
    namespace: str
    records: list[str]
    ttl: int
    routing: str
    container: str
    port: int
    desired_count: int
    scaling: str
    security_group: str
    log_group_retention_days: int | None
    namespace_created: bool
    log_group_encrypted: bool = False
    reads_registry_of: list[str] = field(default_factory=list[str])

    @property
    def dns_name(self) -> str:
        # An imported namespace is known by its ID only; its DNS name is not in the template.
        return f"{self.name}.{self.namespace}" if self.namespace_created else f"{self.name} in {self.namespace}"


@dataclass(frozen=True)
class Connection:
    source: str  # ECS service logical IDs
    target: str
    protocol: str
    port: int


@dataclass
class Model:
    stack_name: str
    vpc_cidr: str
    subnets: list[Subnet]
    nat_gateways: int
    egress: str
    cluster_settings: dict[str, str]
    namespaces: list[Namespace]
    services: list[DiscoveredService]
    connections: list[Connection]
    # VPC flow logs to CloudWatch Logs: (traffic type, retention days, encrypted), or None.
    flow_log: tuple[str, int | None, bool] | None = None
    # Customer-managed KMS keys of the template: logical ID -> key rotation on.
    kms_keys: dict[str, bool] = field(default_factory=dict[str, bool])


def _resources(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, Resource]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] == resource_type:
            yield logical_id, resource.get("Properties", {})


def _ref(value: Any) -> str | None:
    """The logical ID that a ``Ref`` or ``Fn::GetAtt`` points at, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])  # pyright: ignore[reportUnknownArgumentType]
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])  # pyright: ignore[reportUnknownArgumentType]
    return None


def _refs_within(value: Any) -> set[str]:
    """Every logical ID referenced anywhere inside ``value`` (through Fn::Join and the like)."""
    found: set[str] = set()
    if isinstance(value, dict):
        ref = _ref(value)
        if ref is not None:
            found.add(ref)
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            found |= _refs_within(item)
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            found |= _refs_within(item)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]  # pyright: ignore[reportUnknownVariableType]


def _tagged_services(cloud_map: dict[str, Any], condition: dict[str, Any]) -> set[str]:
    """The Cloud Map services whose tags match every ``aws:ResourceTag/<key>`` of ``condition``."""
    equals: dict[str, Any] = condition.get("StringEquals", {})
    wanted: list[dict[str, Any]] = [
        {"Key": key.removeprefix("aws:ResourceTag/"), "Value": value}
        for key, value in equals.items()
        if key.startswith("aws:ResourceTag/")
    ]
    if not wanted:
        return set()
    return {
        service_id for service_id, props in cloud_map.items() if all(tag in props.get("Tags", []) for tag in wanted)
    }


def read_model(template: dict[str, Any], stack_name: str) -> Model:
    """The parts of the template the diagram shows."""
    (vpc_props,) = [props for _, props in _resources(template, "AWS::EC2::VPC")]
    subnets = [
        Subnet(
            kind=next(t["Value"] for t in props.get("Tags", []) if t["Key"] == "aws-cdk:subnet-type"),
            cidr=props["CidrBlock"],
            az_index=int(props["AvailabilityZone"]["Fn::Select"][0]),
        )
        for _, props in _resources(template, "AWS::EC2::Subnet")
    ]
    (cluster_props,) = [props for _, props in _resources(template, "AWS::ECS::Cluster")]
    namespaces = {
        lid: Namespace(lid, props["Name"])
        for lid, props in _resources(template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    }
    log_group_props = dict(_resources(template, "AWS::Logs::LogGroup"))
    log_groups = {lid: props.get("RetentionInDays") for lid, props in log_group_props.items()}
    encrypted = {lid for lid, props in log_group_props.items() if "KmsKeyId" in props}
    flow_log = None
    for _, props in _resources(template, "AWS::EC2::FlowLog"):
        group = _ref(props.get("LogGroupName"))
        if group in log_groups:
            flow_log = (str(props.get("TrafficType", "ALL")), log_groups[group], group in encrypted)
    task_definitions = dict(_resources(template, "AWS::ECS::TaskDefinition"))
    cloud_map = dict(_resources(template, "AWS::ServiceDiscovery::Service"))

    scaling: dict[str, str] = {}
    targets = dict(_resources(template, "AWS::ApplicationAutoScaling::ScalableTarget"))
    for target_id, target in targets.items():
        policies = [
            props["TargetTrackingScalingPolicyConfiguration"]
            for _, props in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
            if _ref(props.get("ScalingTargetId")) == target_id
        ]
        metrics = [p["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies]
        goals = ", ".join(
            f"{p['TargetValue']:g} % {'CPU' if 'CPU' in metric else 'memory'}"
            for p, metric in zip(policies, metrics, strict=True)
        )
        for service_id in _refs_within(target["ResourceId"]):
            scaling[service_id] = f"{target['MinCapacity']} to {target['MaxCapacity']} tasks at {goals}"

    # Task role -> Cloud Map services whose instances it may list (grant_discover_read).
    readable: dict[str, set[str]] = {}
    for _, policy in _resources(template, "AWS::IAM::Policy"):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = _as_list(statement["Action"])
            if "servicediscovery:ListInstances" in actions:
                # A namespace-wide grant names no service: it covers the services tagged with its namespace.
                tagged = _tagged_services(cloud_map, statement.get("Condition", {}))
                for role in policy.get("Roles", []):
                    readable.setdefault(str(_ref(role)), set()).update(
                        ref for ref in _refs_within(statement["Resource"]) if ref in cloud_map
                    )
                    readable[str(_ref(role))].update(tagged)

    services: list[DiscoveredService] = []
    for ecs_id, props in _resources(template, "AWS::ECS::Service"):
        cloud_map_id = _ref(props["ServiceRegistries"][0]["RegistryArn"])
        if cloud_map_id not in cloud_map:
            continue
        registry = cloud_map[cloud_map_id]
        task = task_definitions[str(_ref(props["TaskDefinition"]))]
        (container,) = task["ContainerDefinitions"]
        (group,) = props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        log_group = _ref(container["LogConfiguration"]["Options"]["awslogs-group"])
        dns = registry["DnsConfig"]
        namespace_id = _ref(dns["NamespaceId"])
        services.append(
            DiscoveredService(
                ecs_id=ecs_id,
                name=registry["Name"],
                namespace=namespaces[namespace_id].name if namespace_id in namespaces else str(dns["NamespaceId"]),
                namespace_created=namespace_id in namespaces,
                records=[record["Type"] for record in dns["DnsRecords"]],
                ttl=int(dns["DnsRecords"][0]["TTL"]),
                routing=dns.get("RoutingPolicy", "MULTIVALUE"),
                container=container["Name"],
                port=int(container["PortMappings"][0]["ContainerPort"]),
                desired_count=int(props.get("DesiredCount", 1)),
                scaling=scaling.get(ecs_id, "fixed count"),
                security_group=str(_ref(group)),
                log_group_retention_days=log_groups.get(str(log_group)),
                log_group_encrypted=str(log_group) in encrypted,
                reads_registry_of=sorted(
                    cloud_map[c]["Name"]
                    for c in readable.get(str(_ref(task.get("TaskRoleArn"))), ())
                    if c != cloud_map_id
                ),
            )
        )

    by_group = {service.security_group: service.ecs_id for service in services}
    groups = dict(_resources(template, "AWS::EC2::SecurityGroup"))
    internet_ports = sorted(
        {
            f"{rule['IpProtocol']}/{rule['FromPort']}"
            for group_id in by_group
            for rule in groups[group_id].get("SecurityGroupEgress", [])
            if "CidrIp" in rule
        }
    )
    connections = [
        Connection(
            source=by_group[str(_ref(props["SourceSecurityGroupId"]))],
            target=by_group[str(_ref(props["GroupId"]))],
            protocol=props["IpProtocol"],
            port=int(props["FromPort"]),
        )
        for _, props in _resources(template, "AWS::EC2::SecurityGroupIngress")
        if _ref(props.get("SourceSecurityGroupId")) in by_group and _ref(props["GroupId"]) in by_group
    ]
    return Model(
        stack_name=stack_name,
        vpc_cidr=vpc_props["CidrBlock"],
        subnets=subnets,
        nat_gateways=sum(1 for _ in _resources(template, "AWS::EC2::NatGateway")),
        egress=f"tasks' internet egress: {', '.join(internet_ports)} only" if internet_ports else "no task egress",
        cluster_settings={s["Name"]: s["Value"] for s in cluster_props.get("ClusterSettings", [])},
        namespaces=list(namespaces.values()),
        services=services,
        connections=connections,
        flow_log=flow_log,
        kms_keys={lid: bool(props.get("EnableKeyRotation")) for lid, props in _resources(template, "AWS::KMS::Key")},
    )


def _subnet_label(subnets: list[Subnet], kind: str) -> str:
    chosen = sorted((s for s in subnets if s.kind == kind), key=lambda s: s.az_index)
    per_az = "  ".join(f"AZ {chr(ord('a') + s.az_index)}: {s.cidr}" for s in chosen)
    return f"{kind} subnets ({len(chosen)} AZs)\n{per_az}"


def draw(model: Model, output: Path) -> None:
    """Render ``model`` as a PNG at ``output`` with the ``diagrams`` package (Graphviz's dot)."""
    from diagrams import Cluster, Diagram, Edge
    from diagrams.aws.compute import Fargate
    from diagrams.aws.management import CloudwatchLogs
    from diagrams.aws.network import CloudMap, NATGateway
    from diagrams.aws.security import KMS

    font = {"fontname": "DejaVu Sans"}
    graph_attr = {
        **font,
        "fontsize": "20",
        "pad": "0.4",
        "nodesep": "0.8",
        "ranksep": "1.6",
        "labelloc": "t",
        # Curved edges keep each label beside its own arrow (diagrams' default, ortho, does not).
        "splines": "spline",
    }
    node_attr = {**font, "fontsize": "13"}
    edge_attr = {**font, "fontsize": "12"}
    outer = {**font, "fontsize": "16", "margin": "24"}
    inner = {**font, "fontsize": "13", "margin": "20"}
    title = f"{model.stack_name}: Fargate services that find each other through AWS Cloud Map"
    with Diagram(
        title,
        filename=str(output.with_suffix("")),
        outformat="png",
        show=False,
        direction="LR",
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
    ):
        azs = len({s.az_index for s in model.subnets})
        fargate: dict[str, Any] = {}
        registered: dict[str, Any] = {}
        with Cluster(f"VPC {model.vpc_cidr} · {azs} AZs", graph_attr=outer):
            with Cluster(_subnet_label(model.subnets, "Private"), graph_attr=inner):
                insights = model.cluster_settings.get("containerInsights", "disabled")
                with Cluster(f"ECS cluster · Container Insights {insights}", graph_attr=inner):
                    for service in model.services:
                        fargate[service.ecs_id] = Fargate(
                            f"{service.name} ({service.container})\n"
                            f"port {service.port} · {service.desired_count} tasks\n{service.scaling}"
                        )
            if model.nat_gateways:
                with Cluster(_subnet_label(model.subnets, "Public"), graph_attr=inner):
                    NATGateway(f"{model.nat_gateways} NAT gateways\n{model.egress}")
        for namespace in sorted({s.namespace for s in model.services}):
            created = any(n.name == namespace for n in model.namespaces)
            kind = "private DNS namespace" if created else "imported namespace"
            with Cluster(f"Cloud Map {kind} {namespace}", graph_attr=outer):
                for service in (s for s in model.services if s.namespace == namespace):
                    registered[service.ecs_id] = CloudMap(
                        f"{service.dns_name}\n{' + '.join(service.records)} · TTL {service.ttl} s\n"
                        f"{service.routing.lower()} answers"
                    )
        with Cluster("CloudWatch Logs", graph_attr=outer):
            logs = {
                s.ecs_id: CloudwatchLogs(
                    f"{s.name} log group\nretention {s.log_group_retention_days} days"
                    if s.log_group_retention_days
                    else f"{s.name} log group"
                )
                for s in model.services
            }
            flow_logs = None
            if model.flow_log is not None:
                traffic, retention, _ = model.flow_log
                kept = f"\nretention {retention} days" if retention else ""
                flow_logs = CloudwatchLogs(f"VPC flow logs\n({traffic.lower()} traffic){kept}")
        keys = [KMS(f"KMS key for logs\nrotation {'on' if rotated else 'off'}") for rotated in model.kms_keys.values()]

        def link(source: Any, target: Any, *, label: str, color: str, style: str = "solid", width: str = "1") -> None:
            # Edge's **attrs are annotated as dicts; Graphviz attributes are strings.
            extra: dict[str, Any] = {"penwidth": width}
            _ = source >> Edge(label=label, color=color, style=style, **extra) >> target

        if len(keys) == 1:
            for service in model.services:
                if service.log_group_encrypted:
                    link(keys[0], logs[service.ecs_id], label="encrypts", color="gray40", style="dotted")
            if flow_logs is not None and model.flow_log is not None and model.flow_log[2]:
                link(keys[0], flow_logs, label="encrypts", color="gray40", style="dotted")
        by_id = {s.ecs_id: s for s in model.services}
        by_name = {s.name: s for s in model.services}
        for connection in model.connections:
            source, target = fargate[connection.source], fargate[connection.target]
            rule = f"HTTP {connection.protocol}/{connection.port}\n(security group rule)"
            link(source, target, label=rule, color="darkgreen", width="2.5")
            lookup = f"DNS: {by_id[connection.target].dns_name}"
            link(source, registered[connection.target], label=lookup, style="dashed", color="royalblue")
        for service in model.services:
            link(fargate[service.ecs_id], registered[service.ecs_id], label="ECS registers task IPs", color="royalblue")
            link(fargate[service.ecs_id], logs[service.ecs_id], label="awslogs", color="gray40")
            for name in service.reads_registry_of:
                grant = "Cloud Map API (IAM): ListInstances"
                link(
                    fargate[service.ecs_id],
                    registered[by_name[name].ecs_id],
                    label=grant,
                    style="dotted",
                    color="darkorange3",
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, default=Path("cdk.out/ServiceDiscovery.template.json"))
    parser.add_argument("--output", type=Path, default=Path("docs/architecture.png"))
    args = parser.parse_args(argv)
    template_path: Path = args.template
    if not template_path.is_file():
        print(f"error: {template_path} not found: run `make synth` first", file=sys.stderr)
        return 1
    template = json.loads(template_path.read_text())
    model = read_model(template, stack_name=template_path.name.removesuffix(".template.json"))
    if not model.services:
        print(f"error: {template_path} has no ECS service registered in Cloud Map", file=sys.stderr)
        return 1
    draw(model, args.output)
    print(f"wrote {args.output}: {len(model.services)} services, {len(model.connections)} connections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
