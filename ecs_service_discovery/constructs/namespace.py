# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""DiscoveryNamespace: the Cloud Map private DNS namespace services register in, and its identity.

A namespace has one identity, whichever object stands for it: the namespace ID when it is known
at synth time (an imported namespace, twice imported with the same ID, is one namespace), else
the construct that creates it (a :class:`DiscoveryNamespace` and its ``namespace`` attribute are
one namespace). Two namespaces that merely share a name are two namespaces.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct, IConstruct

from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.validation import (
    MAX_INT32,
    check_dns_name,
    duration_seconds,
    implements,
    invalid,
    is_token,
    names_construct,
    require_type,
    short,
)

if TYPE_CHECKING:
    from ecs_service_discovery.constructs.sharing import NamespaceShare, SharePermission

#: Negative-caching TTL this library gives a namespace it creates. CloudFormation leaves
#: ``DnsProperties.SOA.TTL`` unset by default, so the hosted zone keeps Route 53's SOA record (TTL
#: 900 s, "ns-2048.awsdns-64.net. hostmaster.example.com. 1 7200 900 1209600 86400", Route 53
#: Developer Guide, "NS and SOA records that Amazon Route 53 creates"), and resolvers cache "no such
#: name" for min(SOA TTL, SOA minimum) = 15 minutes (RFC 2308, section 5): a service looked up just
#: before its first task registered would stay missing that long. 15 s is about the records' own
#: TTL (10 s by default), so a new service is found as soon as its first task is.
DEFAULT_SOA_TTL_SECONDS = 15
MAX_SOA_TTL_SECONDS = MAX_INT32

#: Tag the library puts on each Cloud Map service it creates, valued with the namespace ID, so that
#: one IAM statement can scope instance reads to a namespace (ListInstances and
#: GetInstancesHealthStatus support no namespace condition key, only ``aws:ResourceTag``).
NAMESPACE_TAG = "ecs-service-discovery:namespace-id"

#: Read actions on a namespace's instances (resource type ``service``).
INSTANCE_READ_ACTIONS = ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"]
#: The API a client may use instead, throttled less (resource types ``namespace`` and ``service``).
DISCOVER_ACTIONS = ["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"]

_NAMESPACE_TYPES = (
    "expected a DiscoveryNamespace (created, or imported with DiscoveryNamespace.from_attributes) "
    "or an aws_servicediscovery.IPrivateDnsNamespace"
)


class DiscoveryNamespaceBase(Construct):
    """What created and imported namespaces share: their names, identity and grants.

    Attributes: ``namespace`` (the ``aws_servicediscovery.IPrivateDnsNamespace``), ``name``,
    ``namespace_id``, ``namespace_arn`` and ``vpc`` (``None`` when not known).
    """

    namespace: servicediscovery.IPrivateDnsNamespace
    name: str
    vpc: ec2.IVpc | None

    def __init__(self, scope: Construct, construct_id: str, *, name: str, vpc: ec2.IVpc | None = None) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.vpc = vpc

    @property
    def namespace_id(self) -> str:
        """The namespace's ID (``ns-...``; a token for a namespace created in this app)."""
        return self.namespace.namespace_id

    @property
    def namespace_arn(self) -> str:
        """The namespace's ARN (a token for a namespace created in this app)."""
        return self.namespace.namespace_arn

    @names_construct
    def grant_discover_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list this namespace's services and read their instances through the Cloud Map API.

        For a page or tool that shows what is registered (the backend's ``/services`` page,
        ``ecs-discovery``). The grant's size is the same for any number of services and readers:

        * ``servicediscovery:ListServices`` on ``*``: IAM offers no resource type or condition key
          for it; the client filters by ``NAMESPACE_ID``.
        * ``servicediscovery:ListInstances`` and ``GetInstancesHealthStatus`` on Cloud Map services
          (``arn:<partition>:servicediscovery:<region>:<account>:service/*``) whose tag
          ``ecs-service-discovery:namespace-id`` is this namespace's ID. These actions take only
          service ARNs and the ``aws:ResourceTag`` and ``servicediscovery:ServiceArn`` condition keys
          (Service Authorization Reference, AWS Cloud Map), and a service ARN does not name its
          namespace: the tag, which every :class:`DiscoverableFargateService` puts on its Cloud
          Map service, is what scopes them. Services made by other tools carry no such tag.
        * ``servicediscovery:DiscoverInstances`` and ``DiscoverInstancesRevision`` on this
          namespace's ARN and ``service/*``: they are authorized on both the namespace and the
          service, so the namespace ARN scopes them.

        A :class:`DiscoverableFargateService` grantee's task role gets the grant and its container
        ``NAMESPACE_ID`` and ``AWS_REGION`` (``NAMESPACE`` is always set); any other grantee (a
        role, a function) gets the statements only.

        :param grantee: any ``aws_iam.IGrantable``, a :class:`DiscoverableFargateService` among them.
        :returns: the grant of the instance reads.
        """
        return grant_namespace_read(self, grantee)


class DiscoveryNamespace(DiscoveryNamespaceBase):
    """An AWS Cloud Map private DNS namespace (``AWS::ServiceDiscovery::PrivateDnsNamespace``).

    Route 53 creates a private hosted zone named ``name`` in ``vpc``; every
    :class:`DiscoverableFargateService` registered in it answers as ``<service>.<name>`` from
    inside that VPC. Private DNS needs the VPC's DNS support and DNS hostnames: for an
    ``aws_ec2.Vpc`` of this app both are checked here; for an imported VPC (``Vpc.from_lookup``,
    ``from_vpc_attributes``) they cannot be seen at synth time, and the namespace answers nothing
    until both are enabled on the VPC.

    :param scope: parent construct.
    :param construct_id: construct ID (public API: renaming it replaces the namespace).
    :param vpc: the VPC whose resolver answers for the namespace.
    :param name: the DNS name of the namespace. Default: ``"corp"``.
    :param description: free text shown in the Cloud Map console, at most 1024 characters.
        Default: ``"Service discovery namespace <name>"``.
    :param soa_ttl: TTL of the hosted zone's SOA record, which bounds how long resolvers cache
        "no such name" (negative caching), whole seconds from 0 to 2147483647. Default: 15 seconds
        (``DEFAULT_SOA_TTL_SECONDS``; Route 53's own default would cache a missing name for 15 minutes).

    Attributes: those of :class:`DiscoveryNamespaceBase`; ``vpc`` is the given VPC.
    """

    @names_construct
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        name: str = "corp",
        description: str | None = None,
        soa_ttl: Duration | None = None,
    ) -> None:
        check_dns_name("name", name)
        require_type("vpc", vpc, ec2.IVpc, "expected an aws_ec2.IVpc (for example aws_ec2.Vpc)")
        _check_vpc_dns(vpc)
        if description is not None and not isinstance(description, str):
            raise invalid("description", description, "expected a string of at most 1024 characters")
        if description is not None and not is_token(description) and len(description) > 1024:
            raise invalid("description", description, "expected at most 1024 characters")
        if soa_ttl is not None:
            duration_seconds("soa_ttl", soa_ttl, 0, MAX_SOA_TTL_SECONDS)
        check_same_app("vpc", vpc, scope)
        super().__init__(scope, construct_id, name=name, vpc=vpc)
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=name,
            vpc=vpc,
            description=description or f"Service discovery namespace {name}",
        )
        # The L2 has no SOA option; the L1 property is typed, so set it there.
        resource = self.namespace.node.default_child
        assert isinstance(resource, servicediscovery.CfnPrivateDnsNamespace)
        resource.properties = servicediscovery.CfnPrivateDnsNamespace.PropertiesProperty(
            dns_properties=servicediscovery.CfnPrivateDnsNamespace.PrivateDnsPropertiesMutableProperty(
                soa=servicediscovery.CfnPrivateDnsNamespace.SOAProperty(
                    ttl=DEFAULT_SOA_TTL_SECONDS if soa_ttl is None else soa_ttl.to_seconds()
                )
            )
        )

    def share_with(
        self,
        construct_id: str,
        *,
        principals: Sequence[str],
        permission: SharePermission | str = "dns",
        allow_external_principals: bool = False,
        share_name: str | None = None,
    ) -> NamespaceShare:
        """Share this namespace with other accounts, OUs or an organization through AWS RAM: a
        :class:`~ecs_service_discovery.constructs.sharing.NamespaceShare` under this namespace,
        whose docstring documents the parameters and their defaults (docs/cross-account.md)."""
        # Imported here: the sharing module imports this one.
        from ecs_service_discovery.constructs.sharing import NamespaceShare

        return NamespaceShare(
            self,
            construct_id,
            namespace=self,
            principals=principals,
            permission=permission,
            allow_external_principals=allow_external_principals,
            share_name=share_name,
        )

    @classmethod
    @names_construct
    def from_attributes(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        namespace_id: str,
        namespace_arn: str,
        vpc: ec2.IVpc | None = None,
    ) -> DiscoveryNamespaceBase:
        """Import an existing private DNS namespace; creates nothing.

        The result can be used wherever a created :class:`DiscoveryNamespace` can. Importing the
        same ``namespace_id`` twice gives one namespace (one set of service names).

        :param name: the namespace's DNS name, for example ``"corp"``.
        :param namespace_id: its ID, for example ``"ns-abcd1234efgh5678"``.
        :param namespace_arn: its ARN.
        :param vpc: the VPC the namespace answers in, so that a cluster in another VPC is refused.
            Default: not known (not checked).
        """
        check_dns_name("name", name)
        for parameter, value in (("namespace_id", namespace_id), ("namespace_arn", namespace_arn)):
            if not isinstance(value, str) or not value:
                raise invalid(parameter, value, "expected a non-empty string")
        if not is_token(namespace_id) and not _is_namespace_id(namespace_id):
            raise invalid(
                "namespace_id", namespace_id, "expected a Cloud Map namespace ID such as 'ns-abcd1234efgh5678'"
            )
        if not is_token(namespace_arn) and not _is_namespace_arn(namespace_arn):
            raise invalid(
                "namespace_arn",
                namespace_arn,
                "expected an ARN such as 'arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-...'",
            )
        if vpc is not None:
            require_type("vpc", vpc, ec2.IVpc, "expected an aws_ec2.IVpc, or None")
        return _ImportedDiscoveryNamespace(
            scope, construct_id, name=name, namespace_id=namespace_id, namespace_arn=namespace_arn, vpc=vpc
        )


class _ImportedDiscoveryNamespace(DiscoveryNamespaceBase):
    """A namespace that exists outside this app (see :meth:`DiscoveryNamespace.from_attributes`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        namespace_id: str,
        namespace_arn: str,
        vpc: ec2.IVpc | None,
    ) -> None:
        super().__init__(scope, construct_id, name=name, vpc=vpc)
        self.namespace = servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
            self,
            "Namespace",
            namespace_name=name,
            namespace_id=namespace_id,
            namespace_arn=namespace_arn,
        )


# --- Identity ------------------------------------------------------------------------------------


def check_namespace(parameter: str, value: Any) -> None:
    if isinstance(value, DiscoveryNamespaceBase):
        return
    if not implements(value, servicediscovery.IPrivateDnsNamespace):
        raise invalid(parameter, value, _NAMESPACE_TYPES)


class NamespaceRef:
    """What the library asks of a namespace, asked of Node.js once: the aws-cdk-lib namespace behind
    it, its name, its App, its VPC (when known) and its identity ``key``.

    Every namespace object, a :class:`DiscoveryNamespaceBase` or an aws-cdk-lib
    ``IPrivateDnsNamespace``, becomes one of these where it enters the library (the props); the
    code behind works with this one type. One key per namespace, whichever object stands for it
    (see the module's docstring): ``id:<ID>`` when the ID is known at synth time, else
    ``created:<path>`` for a namespace this app creates, else ``token:<ID token>`` for one imported
    by a deploy-time ID (two imports of the same token are one namespace, whatever their ARNs).
    """

    __slots__ = ("given", "key", "name", "namespace_id", "resource", "root", "vpc")

    resource: servicediscovery.INamespace

    def __init__(self, namespace: DiscoveryNamespaceBase | servicediscovery.INamespace) -> None:
        self.given = namespace
        if isinstance(namespace, DiscoveryNamespaceBase):
            self.resource, self.name, self.vpc = namespace.namespace, namespace.name, namespace.vpc
        else:
            self.resource, self.name, self.vpc = namespace, namespace.namespace_name, None
        self.root = app_root(self.resource)
        self.namespace_id = self.resource.namespace_id
        if not is_token(self.namespace_id):
            self.key = f"id:{self.namespace_id}"
        elif isinstance(self.resource, Construct):  # created in this app (an import is a jsii proxy)
            self.key = f"created:{construct_path(self.resource)}"
        else:
            self.key = f"token:{self.namespace_id}"

    def is_same(self, other: NamespaceRef) -> bool:
        return self is other or self.key == other.key


def namespace_ref(namespace: DiscoveryNamespaceBase | servicediscovery.INamespace | NamespaceRef) -> NamespaceRef:
    """The :class:`NamespaceRef` of ``namespace``, made on first use and kept on the object."""
    if isinstance(namespace, NamespaceRef):
        return namespace
    ref = getattr(namespace, _REF_ATTRIBUTE, None)
    if not isinstance(ref, NamespaceRef):
        ref = NamespaceRef(namespace)
        # An object that takes no attributes is asked again next time.
        with contextlib.suppress(AttributeError):
            setattr(namespace, _REF_ATTRIBUTE, ref)
    return ref


_REF_ATTRIBUTE = "_ecs_service_discovery_namespace_ref"


# Constructs never change App, path or stack: each is asked of Node.js once per Python object.
_ROOTS: weakref.WeakKeyDictionary[Any, IConstruct] = weakref.WeakKeyDictionary()
_PATHS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_STACKS: weakref.WeakKeyDictionary[Any, Stack] = weakref.WeakKeyDictionary()


def app_root(construct: IConstruct) -> IConstruct:
    """``construct.node.root``, kept (see :data:`_ROOTS`)."""
    root = _ROOTS.get(construct)
    if root is None:
        root = _ROOTS[construct] = construct.node.root
    return root


def construct_path(construct: IConstruct) -> str:
    """``construct.node.path``, kept."""
    path = _PATHS.get(construct)
    if path is None:
        path = _PATHS[construct] = construct.node.path
    return path


def stack_of(construct: IConstruct) -> Stack:
    """``Stack.of(construct)``, kept; a stack is its own (a Python isinstance, no request)."""
    if isinstance(construct, Stack):
        return construct
    stack = _STACKS.get(construct)
    if stack is None:
        stack = _STACKS[construct] = Stack.of(construct)
    return stack


def remember_construct(construct: IConstruct, *, root: IConstruct, path: str) -> None:
    """Record what a construct made by this library already knows (from its scope) about itself."""
    _ROOTS[construct] = root
    _PATHS[construct] = path


def cluster_vpc(cluster: ecs.ICluster) -> ec2.IVpc:
    """``cluster.vpc``, kept."""
    vpc = _VPCS.get(cluster)
    if vpc is None:
        vpc = _VPCS[cluster] = cluster.vpc
    return vpc


_VPCS: weakref.WeakKeyDictionary[Any, ec2.IVpc] = weakref.WeakKeyDictionary()


def check_same_app(parameter: str, value: IConstruct, scope: IConstruct) -> None:
    """``value`` must belong to the same ``App`` as ``scope`` (aws-cdk-lib would fail later, in Node.js)."""
    if app_root(value) is not app_root(scope):
        raise invalid(
            parameter,
            construct_path(value),
            f"it belongs to another App than {construct_path(scope) or 'the scope'}; expected one of the same App",
        )


def same_vpc(first: ec2.IVpc, second: ec2.IVpc) -> bool | None:
    """Whether two VPCs are one, or ``None`` when that cannot be known at synth time."""
    if first is second:
        return True
    first_id, second_id = first.vpc_id, second.vpc_id
    if not is_token(first_id) and not is_token(second_id):
        return first_id == second_id
    if isinstance(first, ec2.Vpc) and isinstance(second, ec2.Vpc):
        return False  # two VPCs created in this app
    return None


# --- The names taken in a namespace ----------------------------------------------------------------


class NamespaceNames:
    """The names taken in one namespace of one App, each with its owner's construct path: services
    (a :class:`DiscoverableFargateService` name answers once per namespace), Cloud Map services (DNS
    names and Service Connect discovery names), client aliases and the DNS host names."""

    def __init__(self, namespace: NamespaceRef) -> None:
        self.namespace_name = namespace.name
        self.services: dict[str, str] = {}
        self.cloud_map: dict[str, str] = {}
        self.aliases: dict[tuple[str, int], str] = {}
        self.alias_hosts: dict[str, str] = {}
        self.dns_hosts: dict[str, str] = {}

    @classmethod
    def of(cls, namespace: NamespaceRef) -> NamespaceNames:
        """The names of ``namespace`` in its App (one registry per App, keyed by namespace identity)."""
        per_app = _NAMES.setdefault(namespace.root, {})
        names = per_app.get(namespace.key)
        if names is None:
            names = per_app[namespace.key] = cls(namespace)
        return names

    def check_service_free(self, name: str, path: str, *, dns: bool) -> None:
        """Raise (on ``name``) if the service at ``path`` may not take ``name``: another service has it,
        or (with DNS records) a Service Connect discovery name or client alias host is that name."""
        owner = self.services.get(name)
        if owner is None and dns:
            owner = self.cloud_map.get(name)
        if owner is not None and owner != path:
            raise self.taken("name", name, "a service" if name in self.services else "a Cloud Map service", owner)
        host = f"{name}.{self.namespace_name}"
        owner = self.alias_hosts.get(host) if dns else None
        if owner is not None and owner != path:
            raise invalid(
                "name",
                name,
                f"{host!r} is already a Service Connect client alias of {owner}: Service Connect "
                "callers would reach that service and DNS callers this one; expected another name",
            )

    def taken(self, parameter: str, name: str, what: str, owner: str) -> ValidationError:
        """The one error for a name already taken in the namespace, to raise."""
        return invalid(
            parameter,
            name,
            f"namespace {short(self.namespace_name)} already has {what} named {short(name)} ({owner}); "
            "expected a name unique within the namespace",
        )

    def take_service(self, name: str, path: str, *, dns: bool) -> None:
        self.check_service_free(name, path, dns=dns)
        self.services[name] = path
        if dns:
            self.cloud_map[name] = path
            self.dns_hosts[f"{name}.{self.namespace_name}"] = path


# App root -> namespace key -> names (weakly: a finished App is forgotten).
_NAMES: weakref.WeakKeyDictionary[IConstruct, dict[str, NamespaceNames]] = weakref.WeakKeyDictionary()


# --- Reading a namespace through the Cloud Map API -------------------------------------------------


class DiscoveryReader:
    """A grantee that is a member of a namespace (a :class:`DiscoverableFargateService`): a discovery
    read grant checks it, grants its role and tells it where to read. This module knows only this
    interface, so that it never imports the service's module."""

    def check_reads(self, parameter: str, namespace: NamespaceRef) -> None:
        """Raise unless this member may read ``namespace`` (same App, same namespace)."""
        raise NotImplementedError

    def reader_role(self) -> iam.IGrantable:
        """What gets the statements (a task role)."""
        raise NotImplementedError

    def add_discovery_environment(self, namespace_id: str) -> None:
        """Tell the member's code which namespace to read (``NAMESPACE_ID``, ``AWS_REGION``)."""
        raise NotImplementedError


def grant_namespace_read(
    namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace | NamespaceRef,
    grantee: iam.IGrantable,
) -> iam.Grant:
    """:meth:`DiscoveryNamespaceBase.grant_discover_read`, for an aws-cdk-lib namespace too."""
    ref = namespace if isinstance(namespace, NamespaceRef) else namespace_ref(namespace)
    resource = ref.resource
    if isinstance(grantee, DiscoveryReader):
        grantee.check_reads("grantee", ref)
        principal = grantee.reader_role()
    else:
        require_type(
            "grantee", grantee, iam.IGrantable, "expected a DiscoverableFargateService or an aws_iam.IGrantable"
        )
        principal = grantee
    namespace_id = ref.namespace_id
    any_service = stack_of(resource).format_arn(service="servicediscovery", resource="service", resource_name="*")
    iam.Grant.add_to_principal(grantee=principal, actions=["servicediscovery:ListServices"], resource_arns=["*"])
    grant = iam.Grant.add_to_principal(
        grantee=principal,
        actions=INSTANCE_READ_ACTIONS,
        resource_arns=[any_service],
        conditions={"StringEquals": {f"aws:ResourceTag/{NAMESPACE_TAG}": namespace_id}},
    )
    iam.Grant.add_to_principal(
        grantee=principal, actions=DISCOVER_ACTIONS, resource_arns=[resource.namespace_arn, any_service]
    )
    _acknowledge_read_wildcards(principal)
    if isinstance(grantee, DiscoveryReader):
        grantee.add_discovery_environment(namespace_id)
    return grant


# --- Helpers -------------------------------------------------------------------------------------


def _check_vpc_dns(vpc: ec2.IVpc) -> None:
    if not isinstance(vpc, ec2.Vpc):
        return  # imported: its settings are not known at synth time (see the class docstring)
    for enabled, option in (
        (vpc.dns_support_enabled, "enable_dns_support"),
        (vpc.dns_hostnames_enabled, "enable_dns_hostnames"),
    ):
        if enabled is False:
            raise invalid(
                "vpc",
                vpc.node.path,
                f"the VPC has {option}=False; a private DNS namespace answers only in a VPC with DNS support "
                "and DNS hostnames enabled",
            )


def _is_namespace_id(value: str) -> bool:
    return value.startswith("ns-") and len(value) <= 64 and value[3:].isalnum() and value.isascii()


def _is_namespace_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "servicediscovery"
        and parts[5].startswith("namespace/")
        and value.isprintable()
        and len(value) <= 1024
    )


def _acknowledge_read_wildcards(principal: iam.IGrantable) -> None:
    """Acknowledge, on the grantee's default policy, the wildcards the discovery read needs."""
    policy = principal.node.try_find_child("DefaultPolicy") if isinstance(principal, Construct) else None
    if policy is None:
        return
    validations = Validations.of(policy)
    validations.acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="servicediscovery:ListServices (discovery read) supports no resource-level permission or "
            "condition key; the client filters the answer by NAMESPACE_ID",
        )
    )
    validations.acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:servicediscovery:<AWS::Region>:<AWS::AccountId>"
            ":service/*]",
            reason="discovery read: ListInstances and GetInstancesHealthStatus take only service ARNs, which do "
            "not name the namespace; the statement is limited by the namespace ID tag (aws:ResourceTag), and "
            "DiscoverInstances by the namespace ARN, so its size does not grow with the number of services",
        )
    )
