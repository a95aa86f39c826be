"""Discovery across AWS accounts (issue 23): sharing a namespace through AWS RAM, importing a shared
one by ARN, registering and calling services in it, and reading it across accounts.

Every check is exercised with several bad inputs (ATTACKS.md) and shown to leave no construct behind.
"""

from __future__ import annotations

from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from ecs_service_discovery import (
    DiscoverableFargateService,
    Discovery,
    DiscoveryNamespace,
    NamespaceShare,
    SharedNamespace,
    SharePermission,
    ValidationError,
)
from ecs_service_discovery.constructs.sharing import (
    MAX_PRINCIPALS_PER_SHARE,
    SERVICE_CONNECT_PERMISSION_NAME,
    check_principals,
)
from tests.helpers import as_list, container_definition

OWNER, CONSUMER, REGION = "111111111111", "222222222222", "eu-west-1"
ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/ns-abcd1234efgh5678"
OU = "arn:aws:organizations::111111111111:ou/o-exampleorgid/ou-ab12-abcdefgh"
ORG = "arn:aws:organizations::111111111111:organization/o-exampleorgid"
IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim")


def _stack(account: str | None = OWNER, region: str | None = REGION, app: cdk.App | None = None) -> cdk.Stack:
    env = cdk.Environment(account=account, region=region) if account or region else None
    return cdk.Stack(app or cdk.App(), f"S{account}{region}", env=env)


def _owner() -> tuple[cdk.Stack, DiscoveryNamespace]:
    stack = _stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    return stack, DiscoveryNamespace(stack, "Corp", vpc=vpc, name="corp")


def _consumer(
    *, vpc_associated: bool = True, permission: str = "dns", with_vpc: bool = True
) -> tuple[cdk.Stack, ecs.Cluster, SharedNamespace]:
    stack = _stack(CONSUMER)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, ip_addresses=ec2.IpAddresses.cidr("10.2.0.0/16"))
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    shared = SharedNamespace.from_namespace_arn(
        stack,
        "Corp",
        namespace_arn=ARN,
        name="corp",
        vpc=vpc if with_vpc else None,
        vpc_associated=vpc_associated and with_vpc,
        permission=permission,
    )
    return stack, cluster, shared


def _service(
    stack: cdk.Stack, cluster: ecs.Cluster, namespace: Any, name: str, discovery: str = "dns", **kwargs: Any
) -> DiscoverableFargateService:
    return DiscoverableFargateService(
        stack, name.title(), cluster=cluster, namespace=namespace, name=name, image=IMAGE, discovery=discovery, **kwargs
    )


# --- Sharing -------------------------------------------------------------------------------------


def test_share_creates_one_resource_share_of_the_namespace_with_rams_default_permission() -> None:
    # GIVEN the owner's namespace WHEN it is shared with an account and an OU
    stack, namespace = _owner()
    share = namespace.share_with("Share", principals=[CONSUMER, OU])
    # THEN one share of its ARN, to those principals, inside the organization only, with RAM's default permission
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::RAM::ResourceShare", 1)
    template.has_resource_properties(
        "AWS::RAM::ResourceShare",
        {
            "Name": "cloud-map-corp-dns",
            "ResourceArns": [{"Fn::GetAtt": [Match.string_like_regexp("^CorpNamespace"), "Arn"]}],
            "Principals": [CONSUMER, OU],
            "AllowExternalPrincipals": False,
            "PermissionArns": Match.absent(),
        },
    )
    assert share.node.path == "S111111111111eu-west-1/Corp/Share"
    assert (share.principals, share.permission) == ((CONSUMER, OU), SharePermission.DNS)


def test_a_service_connect_share_names_the_ecs_full_permission() -> None:
    stack, namespace = _owner()
    NamespaceShare(stack, "Share", namespace=namespace, principals=[ORG], permission="service-connect")
    Template.from_stack(stack).has_resource_properties(
        "AWS::RAM::ResourceShare",
        {
            "Name": "cloud-map-corp-service-connect",
            "PermissionArns": [
                {
                    "Fn::Join": [
                        "",
                        ["arn:", {"Ref": "AWS::Partition"}, f":ram::aws:permission/{SERVICE_CONNECT_PERMISSION_NAME}"],
                    ]
                }
            ],
        },
    )


def test_external_principals_only_when_asked() -> None:
    stack, namespace = _owner()
    namespace.share_with("Share", principals=[CONSUMER], allow_external_principals=True, share_name="corp for B")
    Template.from_stack(stack).has_resource_properties(
        "AWS::RAM::ResourceShare", {"AllowExternalPrincipals": True, "Name": "corp for B"}
    )


def test_a_parameter_principal_passes_unchecked() -> None:
    stack, namespace = _owner()
    accounts = cdk.CfnParameter(stack, "Consumer", type="String")
    namespace.share_with("Share", principals=[accounts.value_as_string, CONSUMER])
    Template.from_stack(stack).has_resource_properties(
        "AWS::RAM::ResourceShare", {"Principals": [{"Ref": "Consumer"}, CONSUMER]}
    )


@pytest.mark.parametrize(
    "principal",
    [
        "22222222222",  # 11 digits
        "2222222222222",  # 13 digits
        f"{CONSUMER}\n",
        f" {CONSUMER}",
        f"{CONSUMER};id",
        "٢٢٢٢٢٢٢٢٢٢٢٢",  # Arabic-Indic digits: str.isdigit() says yes, RAM says no
        int(CONSUMER),
        None,
        "",
        f"arn:aws:iam::{CONSUMER}:root",  # an account's root ARN, not an account ID
        "arn:aws:organizations::111111111111:ou/o-short/ou-ab12-abcdefgh",  # org ID under 10 characters
        "arn:aws:organizations::111111111111:ou/o-exampleorgid/ou-ab12-abc",  # OU suffix under 8
        f"{ORG}\n",
        ORG.replace("organizations", "Organizations"),
        ORG.replace("arn:aws:", "arn:aws-moon:"),
        "x" * 5000,
    ],
)
def test_a_principal_that_is_no_account_ou_or_organization_is_refused(principal: Any) -> None:
    _, namespace = _owner()
    with pytest.raises(ValidationError, match=r"^principals\[1\]=.* is not valid: expected a 12-digit AWS account ID"):
        namespace.share_with("Share", principals=[CONSUMER, principal])
    assert namespace.node.try_find_child("Share") is None


@pytest.mark.parametrize("principals", [CONSUMER, CONSUMER.encode(), None, {CONSUMER: 1}, 7, []])
def test_principals_must_be_a_non_empty_list(principals: Any) -> None:
    _, namespace = _owner()
    with pytest.raises(ValidationError, match=r"^principals=.* is not valid: expected"):
        namespace.share_with("Share", principals=principals)


@pytest.mark.parametrize("duplicate", [CONSUMER, OU, ORG])
def test_a_principal_given_twice_is_refused(duplicate: str) -> None:
    _, namespace = _owner()
    with pytest.raises(ValidationError, match=r"^principals\[2\]=.* it is also principals\[0\]"):
        namespace.share_with("Share", principals=[duplicate, "333333333333", duplicate])


def test_the_owners_own_account_is_refused() -> None:
    _, namespace = _owner()
    with pytest.raises(ValidationError, match=r"^principals\[0\]='111111111111' is not valid: it is the account"):
        namespace.share_with("Share", principals=[OWNER])


def test_the_owner_account_is_not_known_without_an_environment_so_it_passes() -> None:
    assert check_principals("principals", [OWNER], owner_account=None) == (OWNER,)


def test_at_most_the_principals_ram_takes_in_one_call() -> None:
    accounts = [f"{n:012d}" for n in range(300000000000, 300000000000 + MAX_PRINCIPALS_PER_SHARE + 1)]
    assert len(check_principals("principals", accounts[:-1], owner_account=OWNER)) == MAX_PRINCIPALS_PER_SHARE
    with pytest.raises(ValidationError, match=r"^principals='101 principals' is not valid: expected at most 100"):
        check_principals("principals", accounts, owner_account=OWNER)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("permission", "DNS"),
        ("permission", "service-connect\n"),
        ("permission", Discovery.SERVICE_CONNECT),
        ("permission", None),
        ("allow_external_principals", "false"),
        ("allow_external_principals", 0),
        ("allow_external_principals", None),
        ("share_name", ""),
        ("share_name", "a\nb"),
        ("share_name", "x" * 256),
        ("share_name", 5),
    ],
)
def test_a_bad_option_is_refused_by_name(parameter: str, value: Any) -> None:
    _, namespace = _owner()
    with pytest.raises(ValidationError, match=rf"^{parameter}=.* is not valid"):
        namespace.share_with("Share", principals=[CONSUMER], **{parameter: value})
    assert namespace.node.try_find_child("Share") is None


@pytest.mark.parametrize(
    ("account", "region", "what"), [("333333333333", REGION, "account"), (OWNER, "us-east-1", "Region")]
)
def test_the_share_is_made_in_the_namespaces_account_and_region(account: str, region: str, what: str) -> None:
    app = cdk.App()
    owner = _stack(app=app)
    namespace = DiscoveryNamespace(owner, "Corp", vpc=ec2.Vpc(owner, "Vpc", max_azs=2), name="corp")
    elsewhere = _stack(account, region, app=app)
    with pytest.raises(ValidationError, match=rf"^scope=.* is not valid: its {what} .* is not the namespace's"):
        NamespaceShare(elsewhere, "Share", namespace=namespace, principals=[CONSUMER])


def test_a_shared_namespace_cannot_be_shared_again() -> None:
    stack, _cluster, shared = _consumer()
    with pytest.raises(ValidationError, match=r"^namespace=.* only the owner shares a namespace"):
        NamespaceShare(stack, "Share", namespace=shared, principals=["333333333333"])


# --- Importing a shared namespace ----------------------------------------------------------------


def test_the_arn_gives_owner_region_and_id_and_cloud_map_gets_the_arn() -> None:
    _, _cluster, shared = _consumer()
    assert (shared.owner_account, shared.region, shared.partition, shared.short_id) == (
        OWNER,
        REGION,
        "aws",
        "ns-abcd1234efgh5678",
    )
    assert shared.namespace_id == shared.namespace_arn == ARN
    assert shared.permission is SharePermission.DNS and shared.resolves_by_dns


@pytest.mark.parametrize(
    "arn",
    [
        f"{ARN}\n",
        f" {ARN}",
        ARN.replace("servicediscovery", "route53"),
        ARN.replace(":namespace/", ":service/"),
        ARN.replace("ns-abcd1234efgh5678", "ns-"),
        ARN.replace("ns-abcd1234efgh5678", "ns-ABCD1234EFGH5678"),
        ARN.replace(OWNER, "11111111111"),
        ARN.replace(REGION, "EU-WEST-1"),
        ARN.replace(REGION, ""),
        "ns-abcd1234efgh5678",  # an ID, not an ARN
        f"{ARN}/x",
        f"{ARN};x",
        None,
        b"arn",
        "x" * 2000,
    ],
)
def test_a_value_that_is_no_namespace_arn_is_refused(arn: Any) -> None:
    stack = _stack(CONSUMER)
    with pytest.raises(ValidationError, match=r"^namespace_arn=.* is not valid: expected a Cloud Map namespace ARN"):
        SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=arn, name="corp")
    assert stack.node.try_find_child("Corp") is None


def test_an_arn_token_is_refused_since_its_owner_and_region_are_needed_at_synth_time() -> None:
    stack = _stack(CONSUMER)
    parameter = cdk.CfnParameter(stack, "Arn", type="String")
    with pytest.raises(ValidationError, match=r"^namespace_arn=.* a token cannot be read at synth time"):
        SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=parameter.value_as_string, name="corp")


def test_a_govcloud_arn_is_read() -> None:
    stack = _stack(CONSUMER, "us-gov-west-1")
    arn = f"arn:aws-us-gov:servicediscovery:us-gov-west-1:{OWNER}:namespace/ns-abcd1234efgh5678"
    shared = SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=arn, name="corp")
    assert (shared.partition, shared.region) == ("aws-us-gov", "us-gov-west-1")


def test_a_namespace_of_another_region_is_refused() -> None:
    stack = _stack(CONSUMER, "us-east-1")
    with pytest.raises(ValidationError, match=r"in Region eu-west-1 and the stack in us-east-1"):
        SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=ARN, name="corp")


def test_a_stack_without_environment_takes_any_region() -> None:
    shared = SharedNamespace.from_namespace_arn(_stack(None, None), "Corp", namespace_arn=ARN, name="corp")
    assert shared.region == REGION


def test_a_namespace_of_the_stacks_own_account_is_not_a_shared_one() -> None:
    with pytest.raises(ValidationError, match=r"belongs to this stack's account .* DiscoveryNamespace.from_attributes"):
        SharedNamespace.from_namespace_arn(_stack(OWNER), "Corp", namespace_arn=ARN, name="corp")


def test_a_vpc_that_cannot_resolve_the_owners_zone_is_refused() -> None:
    # GIVEN a consumer VPC with no association to the owner's private hosted zone
    with pytest.raises(ValidationError, match=r"^vpc=.* only once the owner's private hosted zone is associated"):
        _consumer(vpc_associated=False)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_vpc_associated_is_a_bool_and_needs_a_vpc(value: Any) -> None:
    stack = _stack(CONSUMER)
    with pytest.raises(ValidationError, match=r"^vpc_associated=.* is not valid: expected True or False"):
        SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=ARN, name="corp", vpc_associated=value)
    with pytest.raises(ValidationError, match=r"^vpc_associated=True is not valid: expected False without a vpc"):
        SharedNamespace.from_namespace_arn(stack, "Corp", namespace_arn=ARN, name="corp", vpc_associated=True)


@pytest.mark.parametrize("name", ["Corp", "corp.", "corp\n", "", "a" * 64])
def test_a_bad_namespace_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=r"^name=.* is not valid"):
        SharedNamespace.from_namespace_arn(_stack(CONSUMER), "Corp", namespace_arn=ARN, name=name)


# --- Registering in a shared namespace -----------------------------------------------------------


def test_a_dns_service_registers_in_the_shared_namespace_by_its_arn() -> None:
    # GIVEN a consumer's service in the namespace shared with its account
    stack, cluster, shared = _consumer()
    _service(stack, cluster, shared, "backend")
    # THEN its Cloud Map service names the namespace by ARN (CreateService asks for it) with A+SRV records
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ServiceDiscovery::Service",
        {
            "NamespaceId": ARN,
            "DnsConfig": {
                "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
                "RoutingPolicy": "MULTIVALUE",
            },
            "HealthCheckCustomConfig": {"FailureThreshold": 1},
            "Tags": [{"Key": "ecs-service-discovery:namespace-id", "Value": ARN}],
        },
    )
    # AND only there: CloudFormation's deprecated DnsConfig.NamespaceId holds at most 64 characters (cfn-lint F3033)
    (properties,) = [r["Properties"] for r in template.find_resources("AWS::ServiceDiscovery::Service").values()]
    assert "NamespaceId" not in properties["DnsConfig"]
    template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 0)


@pytest.mark.parametrize("discovery", ["service-connect", "both", Discovery.SERVICE_CONNECT])
def test_service_connect_needs_the_service_connect_permission(discovery: Any) -> None:
    stack, cluster, shared = _consumer()
    with pytest.raises(
        ValidationError, match=rf"^discovery='Service Connect' is not valid: .*{SERVICE_CONNECT_PERMISSION_NAME}"
    ):
        _service(stack, cluster, shared, "backend", discovery)
    assert stack.node.try_find_child("Backend") is None


def test_service_connect_in_a_namespace_shared_for_it_uses_the_arn() -> None:
    stack, cluster, shared = _consumer(permission="service-connect", with_vpc=False)
    _service(stack, cluster, shared, "backend", "service-connect")
    Template.from_stack(stack).has_resource_properties(
        "AWS::ECS::Service", {"ServiceConnectConfiguration": Match.object_like({"Enabled": True, "Namespace": ARN})}
    )


def test_a_cluster_outside_the_namespaces_vpc_is_refused() -> None:
    stack, _cluster, shared = _consumer()
    other = ecs.Cluster(stack, "Other", vpc=ec2.Vpc(stack, "OtherVpc", max_azs=2))
    with pytest.raises(ValidationError, match=r"^cluster=.* is not the VPC of namespace 'corp'"):
        _service(stack, other, shared, "backend")


# --- Calling a service of another account by name -------------------------------------------------


def _egress(template: Template) -> list[dict[str, Any]]:
    """Egress rules other than HTTPS, inline or separate (a prefix list rule cannot be inlined)."""
    rules = []
    for group in template.find_resources("AWS::EC2::SecurityGroup").values():
        rules.extend(group["Properties"].get("SecurityGroupEgress", []))
    rules.extend(rule["Properties"] for rule in template.find_resources("AWS::EC2::SecurityGroupEgress").values())
    return [rule for rule in rules if rule.get("FromPort") != 443]


def test_connect_to_name_gives_the_variables_and_an_egress_rule_by_cidr() -> None:
    # GIVEN the consumer's backend WHEN it calls the owner's worker by name
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend")
    backend.connect_to_name("flask-worker", port=8080, peer=ec2.Peer.ipv4("10.1.0.0/16"))
    # THEN its code gets worker's address, and its security group lets it out to worker's VPC on 8080 only
    template = Template.from_stack(stack)
    env = {v["Name"]: v["Value"] for v in container_definition(template, "backend")["Environment"]}
    assert (env["FLASK_WORKER_HOST"], env["FLASK_WORKER_SERVICE"], env["FLASK_WORKER_PORT"]) == (
        "flask-worker.corp",
        "flask-worker",
        "8080",
    )
    assert _egress(template) == [
        {
            "CidrIp": "10.1.0.0/16",
            "Description": "calls flask-worker in another account",
            "FromPort": 8080,
            "IpProtocol": "tcp",
            "ToPort": 8080,
        }
    ]


def test_connect_to_name_by_prefix_list_and_service_connect_alias() -> None:
    stack, cluster, shared = _consumer(permission="service-connect", with_vpc=False)
    backend = _service(stack, cluster, shared, "backend", "service-connect")
    backend.connect_to_name(
        "worker", port=9090, peer=ec2.Peer.prefix_list("pl-0123abcd"), service_connect=True, client_alias="w.corp"
    )
    template = Template.from_stack(stack)
    env = {v["Name"]: v["Value"] for v in container_definition(template, "backend")["Environment"]}
    assert (env["WORKER_HOST"], env["WORKER_PORT"]) == ("w.corp", "9090")
    assert [rule["DestinationPrefixListId"] for rule in _egress(template)] == ["pl-0123abcd"]


def test_a_dns_call_needs_a_vpc_that_resolves_the_shared_namespace() -> None:
    stack, cluster, shared = _consumer(permission="service-connect", with_vpc=False)
    backend = _service(stack, cluster, shared, "backend", "both")
    with pytest.raises(
        ValidationError, match=r"^name='worker' is not valid: 'backend''s tasks cannot resolve worker.corp"
    ):
        backend.connect_to_name("worker", port=8080, peer=ec2.Peer.ipv4("10.1.0.0/16"))


def test_a_service_connect_call_needs_a_caller_with_service_connect() -> None:
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend")
    with pytest.raises(ValidationError, match=r"^service_connect=True is not valid: 'backend' does not use Service"):
        backend.connect_to_name("worker", port=8080, peer=ec2.Peer.ipv4("10.1.0.0/16"), service_connect=True)


@pytest.mark.parametrize(
    ("peer", "match"),
    [
        (lambda stack: ec2.Peer.any_ipv4(), "a rule to every address"),
        (lambda stack: ec2.Peer.any_ipv6(), "a rule to every address"),
        (lambda stack: ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0"), "do not cross"),
        (lambda stack: "10.1.0.0/16", "do not cross accounts"),
        (lambda stack: None, "do not cross accounts"),
    ],
)
def test_the_peer_is_a_network_not_a_security_group(peer: Any, match: str) -> None:
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend")
    with pytest.raises(ValidationError, match=rf"^peer=.* is not valid: .*{match}"):
        backend.connect_to_name("worker", port=8080, peer=peer(stack))


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"name": "Worker"}, r"^name='Worker' is not valid: expected a DNS label"),
        ({"name": "worker\n"}, r"^name='worker\\n' is not valid: expected a DNS label"),
        ({"name": "a" * 64}, r"^name=.* is not valid: expected a DNS label"),
        ({"name": "backend"}, r"^name='backend' is not valid: it is the caller's own name"),
        ({"name": "bind"}, r"^name='bind' is not valid: it would set the variable BIND_HOST"),
        ({"name": "stop-drain"}, None),  # STOP_DRAIN_SECONDS is not among its variables: accepted
        ({"port": 0}, r"^port=0 is not valid"),
        ({"port": 65536}, r"^port=65536 is not valid"),
        ({"port": "8080"}, r"^port='8080' is not valid"),
        ({"port": True}, r"^port=True is not valid"),
        ({"port": 2**63}, r"^port=9223372036854775808 is not valid"),
        ({"service_connect": "yes"}, r"^service_connect='yes' is not valid"),
        ({"client_alias": "w.corp"}, r"^client_alias='w.corp' is not valid: expected None with service_connect=False"),
    ],
)
def test_bad_call_arguments_are_refused_before_any_change(arguments: dict[str, Any], match: str | None) -> None:
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend", environment={"KEEP": "1"})
    call = {"name": "worker", "port": 8080, "peer": ec2.Peer.ipv4("10.1.0.0/16"), **arguments}
    if match is None:
        backend.connect_to_name(**call)
        return
    with pytest.raises(ValidationError, match=match):
        backend.connect_to_name(**call)
    template = Template.from_stack(stack)
    assert _egress(template) == []
    assert [v["Name"] for v in container_definition(template, "backend")["Environment"]] == [
        "SERVICE_NAME",
        "NAMESPACE",
        "KEEP",
        "STOP_DRAIN_SECONDS",
    ]


def test_a_name_called_twice_or_set_by_the_user_is_refused() -> None:
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend", environment={"AUDIT_PORT": "1"})
    backend.connect_to_name("worker", port=8080, peer=ec2.Peer.ipv4("10.1.0.0/16"))
    with pytest.raises(ValidationError, match=r"^name='worker' is not valid: it would set the variable WORKER_HOST"):
        backend.connect_to_name("worker", port=8081, peer=ec2.Peer.ipv4("10.1.0.0/16"))
    with pytest.raises(ValidationError, match=r"AUDIT_PORT, which is in 'backend''s environment"):
        backend.connect_to_name("audit", port=8080, peer=ec2.Peer.ipv4("10.1.0.0/16"))


# --- Reading a shared namespace across accounts ---------------------------------------------------


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("servicediscovery:") for action in as_list(statement["Action"]))
    ]


def test_a_shared_namespace_read_names_the_owners_resources_and_the_owner_account() -> None:
    # GIVEN the consumer's backend WHEN it is granted a read of the shared namespace
    stack, cluster, shared = _consumer()
    backend = _service(stack, cluster, shared, "backend")
    shared.grant_discover_read(backend)
    template = Template.from_stack(stack)
    owner_services = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":servicediscovery:{REGION}:{OWNER}:service/*"]]
    }
    own_services = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":servicediscovery:{REGION}:{CONSUMER}:service/*"]]
    }
    # THEN the owner's services (scoped by the RAM share), this account's tagged ones, and the namespace ARN
    statements = _statements(template)
    assert {"Action": "servicediscovery:ListServices", "Effect": "Allow", "Resource": "*"} in statements
    reads = ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"]
    assert {"Action": reads, "Effect": "Allow", "Resource": owner_services} in statements
    assert {
        "Action": reads,
        "Condition": {
            "StringEquals": {"aws:ResourceTag/ecs-service-discovery:namespace-id": [ARN, "ns-abcd1234efgh5678"]}
        },
        "Effect": "Allow",
        "Resource": own_services,
    } in statements
    assert {
        "Action": ["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"],
        "Effect": "Allow",
        "Resource": [ARN, owner_services, own_services],
    } in statements
    # AND its code knows the namespace by ARN and the OwnerAccount that DiscoverInstances requires
    env = {v["Name"]: v["Value"] for v in container_definition(template, "backend")["Environment"]}
    assert (env["NAMESPACE_ID"], env["AWS_REGION"], env["NAMESPACE_OWNER_ACCOUNT"]) == (ARN, REGION, OWNER)


def test_a_role_gets_the_statements_only() -> None:
    stack, _cluster, shared = _consumer()
    principal = cast("iam.IPrincipal", iam.ServicePrincipal("lambda.amazonaws.com"))  # jsii stubs: see pyright
    role = iam.Role(stack, "Reader", assumed_by=principal)
    grant = shared.grant_discover_read(role)
    assert grant.success
    assert len(_statements(Template.from_stack(stack))) == 4


def test_a_service_of_another_namespace_is_refused_as_grantee() -> None:
    stack, cluster, shared = _consumer()
    own = DiscoveryNamespace(stack, "Own", vpc=cluster.vpc, name="own")
    backend = _service(stack, cluster, own, "backend")
    with pytest.raises(ValidationError, match=r"^grantee='backend' is not valid: it is a service of another namespace"):
        shared.grant_discover_read(backend)


def test_a_service_that_sets_the_owner_variable_itself_is_refused() -> None:
    """NAMESPACE_OWNER_ACCOUNT is reserved (validation.RESERVED_VARIABLES): refused where it is given,
    before the service exists, so no grant can meet a user's value."""
    stack, cluster, shared = _consumer()
    with pytest.raises(ValidationError, match=r"key='NAMESPACE_OWNER_ACCOUNT' is not valid: the variable is set"):
        _service(stack, cluster, shared, "backend", environment={"NAMESPACE_OWNER_ACCOUNT": "x"})


@pytest.mark.parametrize("grantee", [None, "role", 5])
def test_a_grantee_that_is_not_grantable_is_refused(grantee: Any) -> None:
    _, _cluster, shared = _consumer()
    with pytest.raises(ValidationError, match=r"^grantee=.* is not valid: expected a DiscoverableFargateService"):
        shared.grant_discover_read(grantee)
