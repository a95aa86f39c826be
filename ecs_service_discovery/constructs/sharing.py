# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""Discovery across AWS accounts: sharing a namespace through AWS RAM, and using a shared one.

The owner account creates the :class:`~ecs_service_discovery.constructs.namespace.DiscoveryNamespace`
and shares it (:class:`NamespaceShare`, or ``namespace.share_with(...)``); each consumer account
imports it by ARN (:meth:`SharedNamespace.from_namespace_arn`) and registers its own
:class:`~ecs_service_discovery.constructs.fargate_service.DiscoverableFargateService` in it, by DNS,
through ECS Service Connect or both. Callers in one account reach services of another by name
(``service.connect_to_name(...)``): security group IDs do not cross accounts, so the rule names the
callee's network by CIDR or prefix list. docs/cross-account.md describes who does what in which
account, and the limits.

Cloud Map takes a shared namespace's ARN wherever it takes a namespace ID (CreateService's
``NamespaceId``, ListServices' ``NAMESPACE_ID`` filter, ECS Service Connect's namespace): so the
aws-cdk-lib namespace behind a :class:`SharedNamespace` has the ARN as its ``namespace_id``, and
everything built on it (Cloud Map services, Service Connect, a reader's ``NAMESPACE_ID``) gets the ARN.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import Acknowledgment, Aws, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ram as ram
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from ecs_service_discovery.constructs.namespace import (
    DISCOVER_ACTIONS,
    INSTANCE_READ_ACTIONS,
    NAMESPACE_TAG,
    DiscoveryNamespaceBase,
)
from ecs_service_discovery.validation import (
    check_dns_label,
    check_dns_name,
    check_port,
    env_prefix,
    invalid,
    is_token,
    peer_variables,
    require_type,
    short,
)

#: The AWS managed RAM permission ECS Service Connect needs on a shared namespace ("You must use the
#: AWSRAMPermissionCloudMapECSFullPermission managed permission to share the namespace for Service
#: Connect to work properly", ECS developer guide, "Amazon ECS Service Connect with shared AWS Cloud
#: Map namespaces").
SERVICE_CONNECT_PERMISSION_NAME = "AWSRAMPermissionCloudMapECSFullPermission"
#: RAM's default permission for Cloud Map namespaces, which RAM attaches when a share names no
#: permission ("If you do not specify an ARN for the permission, RAM automatically attaches the
#: default version of the permission for each resource type", RAM API, CreateResourceShare). The
#: library names no ARN for it (so it cannot name a wrong one); this name is the one the RAM console
#: lists, from the RAM naming scheme ``AWSRAMDefaultPermission<resource type>``: verify against the
#: RAM console (docs/cross-account.md).
DNS_PERMISSION_NAME = "AWSRAMDefaultPermissionCloudMapNamespace"

#: The most principals one :class:`NamespaceShare` takes. CloudFormation creates the share with one
#: CreateResourceShare call, and RAM associates at most 100 items per call (RAM API,
#: ResourceShareLimitExceededException: "You can associate up to 100 resources per call"). More
#: accounts: share with their OU or the organization instead.
MAX_PRINCIPALS_PER_SHARE = 100

#: The variable a reader of a shared namespace gets with the namespace owner's account ID: Cloud
#: Map's DiscoverInstances and DiscoverInstancesRevision require ``OwnerAccount`` "for instances
#: associated with namespaces that are shared with your account" (botocore's servicediscovery model).
OWNER_ACCOUNT_VARIABLE = "NAMESPACE_OWNER_ACCOUNT"

_ACCOUNT = re.compile(r"[0-9]{12}")
_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?"
_ORGANIZATION_ARN = re.compile(rf"arn:{_PARTITION}:organizations::[0-9]{{12}}:organization/o-[a-z0-9]{{10,32}}")
_OU_ARN = re.compile(
    rf"arn:{_PARTITION}:organizations::[0-9]{{12}}:ou/o-[a-z0-9]{{10,32}}/ou-[a-z0-9]{{4,32}}-[a-z0-9]{{8,32}}"
)
_NAMESPACE_ARN = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):servicediscovery:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-[0-9]{{1,2}}):"
    r"(?P<account>[0-9]{12}):namespace/(?P<id>ns-[a-z0-9]{16,64})"
)
_PRINCIPALS_ALLOWED = (
    "expected a 12-digit AWS account ID ('111122223333'), an OU ARN "
    "('arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-examplerootid-exampleouid') or an "
    "organization ARN ('arn:aws:organizations::111122223333:organization/o-exampleorgid')"
)


class SharePermission(enum.Enum):
    """What a :class:`NamespaceShare` lets the accounts it shares with do, by discovery mode."""

    #: Registering and finding services by DNS and the Cloud Map API: RAM's default permission for
    #: namespaces (:data:`DNS_PERMISSION_NAME`). Not enough for ECS Service Connect.
    DNS = "dns"
    #: Everything ECS Service Connect needs, DNS included: :data:`SERVICE_CONNECT_PERMISSION_NAME`.
    SERVICE_CONNECT = "service-connect"

    @property
    def permission_name(self) -> str:
        """The RAM managed permission's name."""
        return SERVICE_CONNECT_PERMISSION_NAME if self is SharePermission.SERVICE_CONNECT else DNS_PERMISSION_NAME

    @property
    def allows_service_connect(self) -> bool:
        return self is SharePermission.SERVICE_CONNECT

    def permission_arns(self) -> list[str] | None:
        """``PermissionArns`` of the share: the Service Connect permission's ARN, or ``None`` (RAM's default)."""
        if self is SharePermission.DNS:
            return None
        return [f"arn:{Aws.PARTITION}:ram::aws:permission/{SERVICE_CONNECT_PERMISSION_NAME}"]

    @classmethod
    def parse(cls, parameter: str, value: Any) -> SharePermission:
        """A :class:`SharePermission`, or its value (``"dns"``, ``"service-connect"``)."""
        if isinstance(value, SharePermission):
            return value
        if isinstance(value, str):
            for permission in cls:
                if value == permission.value:
                    return permission
        raise invalid(parameter, value, f"expected one of {[p.value for p in cls]} or a SharePermission member")


# --- Sharing (the owner account) -----------------------------------------------------------------


def check_principals(parameter: str, principals: Any, *, owner_account: str | None) -> tuple[str, ...]:
    """The principals of a share, checked: each an account ID, an OU ARN or an organization ARN (or a
    token), none twice, not the owner's own account, at most :data:`MAX_PRINCIPALS_PER_SHARE`."""
    if isinstance(principals, (str, bytes)) or not isinstance(principals, Sequence):
        raise invalid(parameter, principals, f"expected a list of principals: {_PRINCIPALS_ALLOWED}")
    given: list[Any] = list(cast("Sequence[Any]", principals))
    if not given:
        raise invalid(parameter, given, "expected at least one principal")
    if len(given) > MAX_PRINCIPALS_PER_SHARE:
        raise invalid(
            parameter,
            f"{len(given)} principals",
            f"expected at most {MAX_PRINCIPALS_PER_SHARE} (RAM associates at most {MAX_PRINCIPALS_PER_SHARE} per "
            "call); share with an OU or the organization instead of that many accounts",
        )
    seen: dict[str, int] = {}
    for index, principal in enumerate(given):
        where = f"{parameter}[{index}]"
        if is_token(principal):
            continue
        if not isinstance(principal, str) or not (
            _ACCOUNT.fullmatch(principal) or _OU_ARN.fullmatch(principal) or _ORGANIZATION_ARN.fullmatch(principal)
        ):
            raise invalid(where, principal, _PRINCIPALS_ALLOWED)
        if principal in seen:
            raise invalid(where, principal, f"it is also {parameter}[{seen[principal]}]; expected each principal once")
        if principal == owner_account:
            raise invalid(
                where,
                principal,
                "it is the account that owns the namespace (the share's stack account), which has it already; "
                "expected other accounts, OUs or an organization",
            )
        seen[principal] = index
    return tuple(given)


class NamespaceShare(Construct):
    """An AWS RAM resource share (``AWS::RAM::ResourceShare``) of a namespace with other accounts,
    OUs or an organization, so that they register and find services in it.

    Created in the owner account (the namespace's): "To share a namespace, you must own it" (Cloud
    Map developer guide, "Shared AWS Cloud Map namespaces"). One share carries one permission per
    resource type (RAM API, CreateResourceShare): to give some accounts Service Connect and others DNS
    only, make two shares. Sharing with an OU or the organization needs RAM's sharing with AWS
    Organizations enabled in the management account; accounts outside the organization are refused
    unless ``allow_external_principals`` (they then receive an invitation to accept).

    :func:`DiscoveryNamespace.share_with` creates one under the namespace, as aws-cdk-lib's
    ``vpc.add_gateway_endpoint`` does for ``GatewayVpcEndpoint``.

    :param scope: parent construct, in the stack (account and Region) of the namespace.
    :param construct_id: construct ID (public API: renaming it replaces the share).
    :param namespace: the namespace to share: one this app creates (or imports) in the owner account.
        A :class:`SharedNamespace` of another account cannot be shared again.
    :param principals: 1 to 100 of: 12-digit account IDs, OU ARNs
        (``arn:aws:organizations::<management account>:ou/o-<org>/ou-<root>-<ou>``), organization ARNs
        (``arn:aws:organizations::<management account>:organization/o-<org>``); each once, not the
        owner's own account.
    :param permission: what the principals may do: :attr:`SharePermission.DNS` (RAM's default Cloud
        Map permission) or :attr:`SharePermission.SERVICE_CONNECT`
        (``AWSRAMPermissionCloudMapECSFullPermission``, needed by any consumer service with
        ``discovery`` ``SERVICE_CONNECT`` or ``BOTH``). Default: ``SharePermission.DNS``.
    :param allow_external_principals: let accounts outside the owner's organization join (by
        invitation). Default: ``False``.
    :param share_name: the share's name in RAM. Default: ``"cloud-map-<namespace name>-<permission>"``.

    Attributes: ``namespace``, ``principals`` (a tuple), ``permission``, ``resource_share``
    (the ``aws_ram.CfnResourceShare``) and ``resource_share_arn``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: DiscoveryNamespaceBase,
        principals: Sequence[str],
        permission: SharePermission | str = SharePermission.DNS,
        allow_external_principals: bool = False,
        share_name: str | None = None,
    ) -> None:
        if not isinstance(namespace, DiscoveryNamespaceBase):
            raise invalid("namespace", namespace, "expected a DiscoveryNamespace of this app")
        if isinstance(namespace, SharedNamespace):
            raise invalid(
                "namespace",
                namespace.namespace_arn,
                f"it is shared with this account by {namespace.owner_account}; only the owner shares a namespace",
            )
        chosen = SharePermission.parse("permission", permission)
        if not isinstance(allow_external_principals, bool):
            raise invalid("allow_external_principals", allow_external_principals, "expected True or False")
        if (
            share_name is not None
            and not is_token(share_name)
            and (not isinstance(share_name, str) or not share_name.isprintable() or not 1 <= len(share_name) <= 255)
        ):
            raise invalid("share_name", share_name, "expected 1-255 printable characters, or None")
        if not isinstance(scope, Construct):
            raise invalid("scope", scope, "expected a construct (a Stack or a construct in one)")
        stack = Stack.of(scope)
        owner = None if is_token(stack.account) else stack.account
        shared = check_principals("principals", principals, owner_account=owner)
        _check_same_environment(stack, namespace)
        super().__init__(scope, construct_id)
        self.namespace = namespace
        self.principals = shared
        self.permission = chosen
        self.resource_share = ram.CfnResourceShare(
            self,
            "Resource",
            name=share_name or f"cloud-map-{namespace.name}-{chosen.value}",
            resource_arns=[namespace.namespace_arn],
            principals=list(shared),
            permission_arns=chosen.permission_arns(),
            allow_external_principals=allow_external_principals,
        )
        self.resource_share_arn = self.resource_share.attr_arn


def _check_same_environment(stack: Stack, namespace: DiscoveryNamespaceBase) -> None:
    """The share's stack is in the namespace's account and Region, when both are known at synth time."""
    theirs = Stack.of(namespace)
    for what, mine, other in (("account", stack.account, theirs.account), ("Region", stack.region, theirs.region)):
        if not is_token(mine) and not is_token(other) and mine != other:
            raise invalid(
                "scope",
                stack.node.path,
                f"its {what} {mine} is not the namespace's ({other}); RAM shares a resource from its owner's "
                f"account and Region: create the share in the namespace's stack ({theirs.node.path})",
            )


# --- Using a shared namespace (a consumer account) -----------------------------------------------


@dataclass(frozen=True)
class NamespaceArn:
    """The parts of a Cloud Map namespace ARN
    (``arn:<partition>:servicediscovery:<region>:<account>:namespace/ns-<id>``)."""

    partition: str
    region: str
    account: str
    namespace_id: str

    @classmethod
    def parse(cls, parameter: str, value: Any) -> NamespaceArn:
        match = _NAMESPACE_ARN.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise invalid(
                parameter,
                value,
                "expected a Cloud Map namespace ARN such as "
                "'arn:aws:servicediscovery:eu-west-1:111122223333:namespace/ns-abcd1234efgh5678' (the owner "
                "account's namespace, as its stack outputs it; a token cannot be read at synth time)",
            )
        return cls(match["partition"], match["region"], match["account"], match["id"])


class SharedNamespace(DiscoveryNamespaceBase):
    """A private DNS namespace another account owns and shares with this one through AWS RAM.

    Made by :meth:`from_namespace_arn`; usable wherever a :class:`DiscoveryNamespace` is:
    :class:`DiscoverableFargateService` registers in it by DNS (A and SRV records, ECS-managed health)
    or through Service Connect, and its ``grant_discover_read`` reads it across accounts.

    Attributes: those of :class:`DiscoveryNamespaceBase` (``namespace_id`` and ``namespace_arn`` are
    both the ARN, which Cloud Map asks for a shared namespace), ``owner_account``, ``region``,
    ``partition``, ``short_id`` (``ns-...``), ``permission`` (what the owner's share grants) and
    ``vpc_associated``.
    """

    owner_account: str
    region: str
    partition: str
    short_id: str
    permission: SharePermission
    vpc_associated: bool

    @classmethod
    def from_namespace_arn(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        namespace_arn: str,
        name: str,
        vpc: ec2.IVpc | None = None,
        vpc_associated: bool = False,
        permission: SharePermission | str = SharePermission.DNS,
    ) -> SharedNamespace:
        """Import a namespace shared with this account; creates nothing.

        :param namespace_arn: the namespace's ARN, from the owner account (its stack's output), for
            example ``"arn:aws:servicediscovery:eu-west-1:111122223333:namespace/ns-abcd1234efgh5678"``.
            Its Region must be the stack's (RAM shares within a Region; Service Connect uses a shared
            namespace only in its Region) and its account another account than the stack's.
        :param name: the namespace's DNS name, for example ``"corp"``.
        :param vpc: the VPC in this account whose tasks resolve the namespace by DNS; services of a
            cluster in another VPC are then refused. Its resolver answers for the namespace only once
            the owner's private hosted zone is associated with it (docs/cross-account.md, "DNS across
            accounts"), so ``vpc_associated=True`` must say that is done. Default: none (no DNS
            resolution in this account: Service Connect, or records only the owner's VPC resolves).
        :param vpc_associated: ``True`` once the owner's hosted zone is associated with ``vpc``
            (``aws route53 create-vpc-association-authorization`` in the owner account, then
            ``associate-vpc-with-hosted-zone`` in this one). Default: ``False``.
        :param permission: the permission the owner's :class:`NamespaceShare` grants this account;
            services with ``discovery`` ``SERVICE_CONNECT`` or ``BOTH`` need
            ``SharePermission.SERVICE_CONNECT``. Default: ``SharePermission.DNS``.
        """
        arn = NamespaceArn.parse("namespace_arn", namespace_arn)
        check_dns_name("name", name)
        if not isinstance(vpc_associated, bool):
            raise invalid("vpc_associated", vpc_associated, "expected True or False")
        chosen = SharePermission.parse("permission", permission)
        if vpc is not None:
            require_type("vpc", vpc, ec2.IVpc, "expected an aws_ec2.IVpc, or None")
            if not vpc_associated:
                raise invalid(
                    "vpc",
                    vpc.node.path,
                    f"the VPC resolves namespace {short(name)} only once the owner's private hosted zone is "
                    "associated with it (Route 53 CreateVPCAssociationAuthorization in the owner account "
                    f"{arn.account}, then AssociateVPCWithHostedZone in this one; docs/cross-account.md): do "
                    "that, then pass vpc_associated=True; or pass no vpc when this account does not resolve "
                    "the namespace by DNS (Service Connect)",
                )
        elif vpc_associated:
            raise invalid("vpc_associated", vpc_associated, "expected False without a vpc (which VPC is associated?)")
        if not isinstance(scope, Construct):
            raise invalid("scope", scope, "expected a construct (a Stack or a construct in one)")
        stack = Stack.of(scope)
        if not is_token(stack.region) and stack.region != arn.region:
            raise invalid(
                "namespace_arn",
                namespace_arn,
                f"the namespace is in Region {arn.region} and the stack in {stack.region}; a shared namespace "
                "is used only in its own Region (RAM is Regional): expected a namespace of the stack's Region",
            )
        if not is_token(stack.account) and stack.account == arn.account:
            raise invalid(
                "namespace_arn",
                namespace_arn,
                f"the namespace belongs to this stack's account {arn.account}, so it is not shared with it; "
                "import it with DiscoveryNamespace.from_attributes",
            )
        shared = cls(scope, construct_id, name=name, vpc=vpc)
        shared.owner_account, shared.region, shared.partition = arn.account, arn.region, arn.partition
        shared.short_id = arn.namespace_id
        shared.permission = chosen
        shared.vpc_associated = vpc_associated
        shared.namespace = servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
            shared,
            "Namespace",
            namespace_name=name,
            # Cloud Map's APIs take the ARN for a shared namespace wherever they take an ID (module docstring).
            namespace_id=namespace_arn,
            namespace_arn=namespace_arn,
        )
        return shared

    @property
    def resolves_by_dns(self) -> bool:
        """Whether tasks of this account resolve the namespace by DNS (a ``vpc``, associated)."""
        return self.vpc is not None and self.vpc_associated

    def grant_discover_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list this shared namespace's services and read their instances, across accounts.

        Cloud Map authorizes a read of a shared resource twice: the owner's RAM share (which scopes it
        to the shared namespace) and the reader's own IAM policy, which this grant writes:

        * ``servicediscovery:ListServices`` on ``*`` (no resource type exists for it); the client
          filters by ``NAMESPACE_ID``, the namespace's ARN ("Specify the namespace ARN for namespaces
          that are shared with your Amazon Web Services account", ListServices).
        * ``ListInstances`` and ``GetInstancesHealthStatus`` on Cloud Map services of the owner account
          (reachable only through the share) and, tagged with this namespace, of this account.
        * ``DiscoverInstances`` and ``DiscoverInstancesRevision`` on the namespace's ARN and those services.

        A :class:`DiscoverableFargateService` grantee of this namespace also gets ``NAMESPACE_ID`` (the
        ARN), ``AWS_REGION`` and ``NAMESPACE_OWNER_ACCOUNT``, the ``OwnerAccount`` that DiscoverInstances
        requires for a shared namespace.

        :param grantee: any ``aws_iam.IGrantable``, a :class:`DiscoverableFargateService` among them.
        :returns: the grant of the instance reads.
        """
        service = _as_member_service(grantee, self)
        if service is not None:
            _check_variable_unset(service, OWNER_ACCOUNT_VARIABLE)
            principal: iam.IGrantable = service.task_definition.task_role
        else:
            require_type(
                "grantee", grantee, iam.IGrantable, "expected a DiscoverableFargateService or an aws_iam.IGrantable"
            )
            principal = grantee
        stack = Stack.of(self)
        owner_services = f"arn:{Aws.PARTITION}:servicediscovery:{self.region}:{self.owner_account}:service/*"
        own_services = f"arn:{Aws.PARTITION}:servicediscovery:{stack.region}:{stack.account}:service/*"
        iam.Grant.add_to_principal(grantee=principal, actions=["servicediscovery:ListServices"], resource_arns=["*"])
        grant = iam.Grant.add_to_principal(
            grantee=principal, actions=INSTANCE_READ_ACTIONS, resource_arns=[owner_services]
        )
        iam.Grant.add_to_principal(
            grantee=principal,
            actions=INSTANCE_READ_ACTIONS,
            resource_arns=[own_services],
            # This account's services in the namespace carry the tag the library gives every Cloud Map
            # service it creates: the namespace's ARN here (its ID in the owner's account).
            conditions={"StringEquals": {f"aws:ResourceTag/{NAMESPACE_TAG}": [self.namespace_arn, self.short_id]}},
        )
        iam.Grant.add_to_principal(
            grantee=principal,
            actions=DISCOVER_ACTIONS,
            resource_arns=[self.namespace_arn, owner_services, own_services],
        )
        _acknowledge_shared_read_wildcards(principal, stack, self)
        if service is not None:
            service.add_discovery_environment(self.namespace_arn)
            service.container.add_environment(OWNER_ACCOUNT_VARIABLE, self.owner_account)
        return grant


def _acknowledge_shared_read_wildcards(principal: iam.IGrantable, stack: Stack, namespace: SharedNamespace) -> None:
    """Acknowledge, on the grantee's default policy, the wildcards a shared namespace's read needs."""
    policy = principal.node.try_find_child("DefaultPolicy") if isinstance(principal, Construct) else None
    if policy is None:
        return
    # cdk-nag names a finding by the resource as CloudFormation would render it, pseudo parameters in <>.
    region = "<AWS::Region>" if is_token(stack.region) else stack.region
    account = "<AWS::AccountId>" if is_token(stack.account) else stack.account
    owner = f"arn:<AWS::Partition>:servicediscovery:{namespace.region}:{namespace.owner_account}:service/*"
    own = f"arn:<AWS::Partition>:servicediscovery:{region}:{account}:service/*"
    validations = Validations.of(policy)
    validations.acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="servicediscovery:ListServices (discovery read) supports no resource-level permission or "
            "condition key; the client filters the answer by NAMESPACE_ID (the shared namespace's ARN)",
        )
    )
    validations.acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{owner}]",
            reason="discovery read of a shared namespace: the owner account's Cloud Map services are reachable "
            "from this account only through the owner's RAM share of the namespace, which scopes the statement",
        )
    )
    validations.acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{own}]",
            reason="discovery read of a shared namespace: this account's Cloud Map services, limited by the "
            "namespace tag (aws:ResourceTag), and DiscoverInstances by the namespace ARN",
        )
    )


def _as_member_service(grantee: Any, namespace: SharedNamespace) -> Any:
    """``grantee`` when it is a DiscoverableFargateService of ``namespace`` (checked), else ``None``."""
    # Imported here: fargate_service imports this module's namespace module, and may import this one.
    from ecs_service_discovery.constructs.fargate_service import DiscoverableFargateService

    if not isinstance(grantee, DiscoverableFargateService):
        return None
    if grantee.namespace is not namespace and not (
        isinstance(grantee.namespace, SharedNamespace) and grantee.namespace.namespace_arn == namespace.namespace_arn
    ):
        raise invalid(
            "grantee",
            grantee.name,
            f"it is a service of another namespace, not of the shared namespace {short(namespace.name)}; a service "
            "reads its own namespace (its NAMESPACE_ID)",
        )
    return grantee


def _check_variable_unset(service: Any, variable: str) -> None:
    if variable in service.props.environment or (service.props.secrets and variable in service.props.secrets):
        raise invalid(
            "grantee",
            service.name,
            f"its environment or secrets set {variable}, which a discovery read of a shared namespace sets to the "
            "namespace owner's account; expected another variable name",
        )


# --- Checks of a service in a shared namespace, and calls by name --------------------------------


def check_namespace_use(namespace: Any, *, uses_service_connect: bool, parameter: str = "discovery") -> None:
    """Raise when a service would use ``namespace`` in a way its share does not allow: Service Connect
    in a :class:`SharedNamespace` shared with the DNS permission only. Any other namespace passes."""
    if not isinstance(namespace, SharedNamespace) or not uses_service_connect:
        return
    if not namespace.permission.allows_service_connect:
        raise invalid(
            parameter,
            "Service Connect",
            f"namespace {short(namespace.name)} is shared with this account with "
            f"{namespace.permission.permission_name} (SharedNamespace permission={namespace.permission.value!r}), "
            "and ECS Service Connect needs "
            f"{SERVICE_CONNECT_PERMISSION_NAME}: the owner shares it with SharePermission.SERVICE_CONNECT, then "
            "import it with permission='service-connect'; or use discovery 'dns'",
        )


def fit_cloud_map_service(namespace: Any, resource: servicediscovery.CfnService) -> None:
    """Make the L1 Cloud Map service that aws-cdk-lib's ``Service`` wrote valid in a shared namespace.

    The L2 names the namespace twice: ``NamespaceId`` and the deprecated ``DnsConfig.NamespaceId``,
    which CloudFormation limits to 64 characters, too few for an ARN (cfn-lint F3033). The
    top-level ``NamespaceId`` alone names it ("it can be specified either here or in the DnsConfig
    object", CloudFormation, AWS::ServiceDiscovery::Service): the copy is removed. Other namespaces
    are left alone (their templates do not change).
    """
    if isinstance(namespace, SharedNamespace):
        resource.add_property_deletion_override("DnsConfig.NamespaceId")


@dataclass(frozen=True)
class NamedCallee:
    """A service a caller reaches by name, registered in the caller's namespace by another account (or
    app): what ``connect_to_name`` gives the caller.

    Attributes: ``name``, ``host`` and ``port`` (where the caller's code connects), ``peer`` (the
    callee's network, by CIDR or prefix list), ``variables`` (``<NAME>_HOST``, ``_SERVICE``,
    ``_PORT``) and ``environment`` (those variables with their values).
    """

    name: str
    host: str
    port: int
    peer: ec2.IPeer

    @property
    def variables(self) -> list[str]:
        return peer_variables(env_prefix(self.name))

    @property
    def environment(self) -> dict[str, str]:
        host, service, port = self.variables
        return {host: self.host, service: self.name, port: str(self.port)}

    def allow_calls(self, connections: ec2.Connections) -> None:
        """The caller's egress rule to the callee's network on the callee's port."""
        connections.allow_to(self.peer, ec2.Port.tcp(self.port), f"calls {self.name} in another account")


def named_callee(
    caller: Any,
    name: Any,
    *,
    port: Any,
    peer: Any,
    service_connect: Any = False,
    client_alias: Any = None,
) -> NamedCallee:
    """Check a call by name from ``caller`` (a DiscoverableFargateService) and say where it goes.

    See ``DiscoverableFargateService.connect_to_name`` for the parameters. Raises before any change.
    """
    check_dns_label("name", name)
    if name == caller.name:
        raise invalid("name", name, f"it is the caller's own name; a service never calls itself ({caller.dns_name})")
    check_port("port", port)
    if is_token(port):
        raise invalid("port", port, "expected a port known at synth time (it is written into the caller's variables)")
    if not isinstance(service_connect, bool):
        raise invalid("service_connect", service_connect, "expected True or False")
    _check_peer(peer)
    namespace = caller.namespace
    namespace_name = namespace.name if isinstance(namespace, DiscoveryNamespaceBase) else namespace.namespace_name
    if service_connect:
        if not caller.discovery.uses_service_connect:
            raise invalid(
                "service_connect",
                True,
                f"{short(caller.name)} does not use Service Connect (discovery {caller.discovery.value!r}): its tasks "
                "have no proxy to reach a Service Connect endpoint; expected service_connect=False (DNS), or a "
                "caller with discovery 'service-connect' or 'both'",
            )
        host = f"{name}.{namespace_name}" if client_alias is None else client_alias
        if not isinstance(host, str) or is_token(host) or len(host) > 127 or not host.isascii():
            raise invalid("client_alias", client_alias, "expected the callee's client alias DNS name, or None")
    else:
        if client_alias is not None:
            raise invalid("client_alias", client_alias, "expected None with service_connect=False (DNS)")
        if isinstance(namespace, SharedNamespace) and not namespace.resolves_by_dns:
            raise invalid(
                "name",
                name,
                f"{short(caller.name)}'s tasks cannot resolve {name}.{namespace_name}: namespace "
                f"{short(namespace_name)} is shared from account {namespace.owner_account} and was imported without "
                "an associated vpc; associate the owner's hosted zone with this account's VPC and import it with "
                "vpc=..., vpc_associated=True (docs/cross-account.md), or call through Service Connect",
            )
        host = f"{name}.{namespace_name}"
    return NamedCallee(name=name, host=host, port=port, peer=peer)


def _check_peer(peer: Any) -> None:
    allowed = (
        "expected the callee's network as aws_ec2.Peer.ipv4('10.1.0.0/16'), Peer.ipv6(...) or "
        "Peer.prefix_list('pl-...'): security group IDs do not cross accounts"
    )
    require_type("peer", peer, ec2.IPeer, allowed)
    if isinstance(peer, ec2.SecurityGroup) or getattr(peer, "security_group_id", None) is not None:
        raise invalid("peer", getattr(peer, "security_group_id", peer), allowed)
    config = peer.to_egress_rule_config()
    cidr = config.cidr_ip or config.cidr_ipv6
    if cidr is None and config.destination_prefix_list_id is None:
        raise invalid("peer", peer.unique_id, allowed)
    if cidr in ("0.0.0.0/0", "::/0"):
        raise invalid("peer", cidr, f"{allowed}; a rule to every address is not a call to one service")
