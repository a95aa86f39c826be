# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""DiscoveryNamespace: the Cloud Map private DNS namespace services register in."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.validation import check_dns_label, check_dns_name, fail, is_token, require_type


class DiscoveryNamespace(Construct):
    """An AWS Cloud Map private DNS namespace (``AWS::ServiceDiscovery::PrivateDnsNamespace``).

    Route 53 creates a private hosted zone named ``name`` in ``vpc``; every
    :class:`DiscoverableFargateService` registered in it answers as
    ``<service>.<name>`` from inside that VPC.

    :param scope: parent construct.
    :param construct_id: construct ID (public API: renaming it replaces the namespace).
    :param vpc: the VPC whose resolver answers for the namespace.
    :param name: the DNS name of the namespace. Default: ``"corp"``.
    :param description: free text shown in the Cloud Map console.
        Default: ``"Service discovery namespace <name>"``.

    Attributes: ``namespace`` (the ``aws_servicediscovery`` namespace object) and ``name``.
    """

    namespace: servicediscovery.IPrivateDnsNamespace
    name: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        name: str = "corp",
        description: str | None = None,
    ) -> None:
        check_dns_name("name", name)
        require_type("vpc", vpc, ec2.IVpc, "expected an aws_ec2.IVpc (for example aws_ec2.Vpc)")
        if description is not None and not isinstance(description, str):
            raise fail("description", description, "expected a string of at most 1024 characters")
        if description is not None and not is_token(description) and len(description) > 1024:
            raise fail("description", description[:40] + "...", "expected at most 1024 characters")
        super().__init__(scope, construct_id)
        self.name = name
        self._registered: dict[str, Construct] = {}
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=name,
            vpc=vpc,
            description=description or f"Service discovery namespace {name}",
        )

    @classmethod
    def from_attributes(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        namespace_id: str,
        namespace_arn: str,
    ) -> DiscoveryNamespace:
        """Import an existing private DNS namespace; creates nothing.

        The result can be used wherever a created :class:`DiscoveryNamespace` can.

        :param name: the namespace's DNS name, for example ``"corp"``.
        :param namespace_id: its ID, for example ``"ns-abcd1234efgh5678"``.
        :param namespace_arn: its ARN.
        """
        check_dns_name("name", name)
        for parameter, value in (("namespace_id", namespace_id), ("namespace_arn", namespace_arn)):
            if not isinstance(value, str) or not value:
                raise fail(parameter, value, "expected a non-empty string")
        if not is_token(namespace_id) and not namespace_id.startswith("ns-"):
            raise fail("namespace_id", namespace_id, "expected a Cloud Map namespace ID such as 'ns-abcd1234efgh5678'")
        if not is_token(namespace_arn) and not namespace_arn.startswith("arn:"):
            raise fail(
                "namespace_arn",
                namespace_arn,
                "expected an ARN such as 'arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-...'",
            )
        return _ImportedDiscoveryNamespace(
            scope, construct_id, name=name, namespace_id=namespace_id, namespace_arn=namespace_arn
        )

    def register_service_name(self, service_name: str, owner: Construct) -> None:
        """Reserve ``service_name`` in this namespace; a second service with the same name is an error."""
        self.check_service_name_free(service_name)
        self._registered[service_name] = owner

    def check_service_name_free(self, service_name: str) -> None:
        """Raise :class:`ValidationError` if a service of this namespace already has ``service_name``.

        Called before a service creates anything, so that a duplicate leaves no construct behind.
        """
        check_dns_label("name", service_name)
        if service_name in self._registered:
            raise ValidationError(
                f"name={service_name!r} is not valid: namespace {self.name!r} already has a service named "
                f"{service_name!r} ({self._registered[service_name].node.path}); expected a name unique "
                "within the namespace"
            )


class _ImportedDiscoveryNamespace(DiscoveryNamespace):
    """A namespace that exists outside this app (see :meth:`DiscoveryNamespace.from_attributes`)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, namespace_id: str, namespace_arn: str
    ) -> None:
        Construct.__init__(self, scope, construct_id)
        self.name = name
        self._registered = {}
        self.namespace = servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
            self,
            "Namespace",
            namespace_name=name,
            namespace_id=namespace_id,
            namespace_arn=namespace_arn,
        )
