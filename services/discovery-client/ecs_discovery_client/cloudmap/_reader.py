# pyright: strict, reportMissingTypeStubs=false
"""The Cloud Map reader: namespaces, their services and each service's instances (see the package docs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, cast

from ecs_discovery_client.cloudmap._aws import CloudMapError, call_api
from ecs_discovery_client.cloudmap._model import (
    Instance,
    InstanceListing,
    Namespace,
    Service,
    attributes_of,
    health_of,
    items_of,
    mapping_of,
    namespace_of,
    optional_text_of,
    printable,
    service_of,
    sorted_instances,
    text_of,
)

#: ``MaxResults`` of ListNamespaces / ListServices / ListInstances / GetInstancesHealthStatus (the API's maximum).
PAGE_SIZE = 100
#: ``MaxResults`` of DiscoverInstances: the API's maximum, and Cloud Map's default quota of instances per service.
DISCOVER_MAX_RESULTS = 1000
#: Pages read per listing before it is reported as cut short (100 pages of 100: 10,000 items).
DEFAULT_MAX_PAGES = 100
_ACCOUNT = re.compile(r"[0-9]{12}")


# -- the reader ------------------------------------------------------------------------------


class CloudMapReader:
    """Reads namespaces, services and instances through one boto3 Cloud Map client.

    Not thread-safe, as boto3 clients are not shared safely: one reader per thread, or a lock.
    ``instances_api``: ``"discover"`` (DiscoverInstances, falling back to the listing when that
    action is denied) or ``"list"`` (ListInstances + GetInstancesHealthStatus).

    ``account_id``: the caller's AWS account, when known. A namespace owned by another account
    (shared through AWS RAM) is read as the API wants it: DiscoverInstances with ``OwnerAccount``,
    ListServices filtered by the namespace's ARN, ListInstances and GetInstancesHealthStatus by the
    service's ARN (see :meth:`owner_account` for how a shared namespace is recognised). Default:
    unknown; then only a namespace known by its ARN is read as shared.
    """

    def __init__(
        self,
        client: Any,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        instances_api: Literal["discover", "list"] = "discover",
        account_id: str | None = None,
    ) -> None:
        if account_id is not None and not (
            isinstance(cast(object, account_id), str) and _ACCOUNT.fullmatch(account_id)
        ):
            raise ValueError(f"account_id must be a 12-digit AWS account ID or None, got {printable(account_id, 40)!r}")
        if not 1 <= max_pages <= 10_000:
            raise ValueError(f"max_pages must be 1-10000, got {max_pages!r}")
        if instances_api not in ("discover", "list"):
            raise ValueError(f"instances_api must be 'discover' or 'list', got {instances_api!r}")
        self.client = client
        self.max_pages = max_pages
        self.instances_api: Literal["discover", "list"] = instances_api
        self.account_id = account_id

    def owner_account(self, namespace: Namespace) -> str | None:
        """The ``OwnerAccount`` DiscoverInstances is given for ``namespace``, or None: the namespace's
        owner (:attr:`Namespace.owner`) when it is shared with the caller, that is, when the owner
        differs from ``account_id``. With ``account_id`` unknown, a namespace counts as shared only
        when it is known by its ARN (``id`` is an ARN: how a shared namespace must be named, and how
        the CDK library hands one to its readers in ``NAMESPACE_ID``); no request (such as STS
        GetCallerIdentity) is made to learn the caller's account, and the caller's own namespaces
        are read with the same requests as before sharing existed."""
        owner = namespace.owner
        if owner is None:
            return None
        if self.account_id is not None:
            return None if owner == self.account_id else owner
        return owner if namespace.id.startswith("arn:") else None

    # -- pages ---------------------------------------------------------------------

    def _pages(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Iterator[Mapping[str, object]]:
        """Every page of a NextToken listing, at most ``max_pages``; then CloudMapError("truncated")."""
        token: str | None = None
        for _ in range(self.max_pages):
            request = dict(kwargs)
            if token:
                request["NextToken"] = token
            page = mapping_of(call_api(operation, method, **request))
            yield page
            token = optional_text_of(page.get("NextToken"))
            if not token:
                return
        raise CloudMapError(
            "truncated", f"{operation} returned more than {self.max_pages} pages; stopped there", operation=operation
        )

    # -- namespaces ----------------------------------------------------------------

    def list_namespaces(self) -> list[Namespace]:
        namespaces = [
            namespace_of(item)
            for page in self._pages("ListNamespaces", self.client.list_namespaces, MaxResults=PAGE_SIZE)
            for item in items_of(page.get("Namespaces"))
        ]
        return sorted(namespaces, key=lambda namespace: (namespace.name, namespace.id))

    def get_namespace(self, namespace_id: str) -> Namespace:
        answer = mapping_of(call_api("GetNamespace", self.client.get_namespace, Id=namespace_id))
        return namespace_of(mapping_of(answer.get("Namespace")))

    def find_namespace(self, name_or_id: str) -> Namespace:
        """The namespace called ``name_or_id`` (``corp``) or with that ID (``ns-...``)."""
        wanted = name_or_id.strip().rstrip(".")
        namespaces = self.list_namespaces()
        matches = [namespace for namespace in namespaces if namespace.id == wanted]
        if not matches:
            matches = [namespace for namespace in namespaces if namespace.name.lower() == wanted.lower()]
        if not matches:
            known = ", ".join(printable(namespace.name, 64) for namespace in namespaces) or "none"
            raise CloudMapError(
                "not_found",
                f"namespace {printable(wanted, 64)!r} not found (namespaces in this account and region: {known})",
            )
        if len(matches) > 1:
            ids = ", ".join(f"{namespace.id} ({namespace.type})" for namespace in matches)
            raise CloudMapError(
                "ambiguous",
                f"namespace name {printable(wanted, 64)!r} is ambiguous: {printable(ids)}; pass the ID instead",
            )
        return matches[0]

    # -- services ------------------------------------------------------------------

    def list_services(self, namespace: Namespace) -> list[Service]:
        """The services of ``namespace``, as ListServices filtered by NAMESPACE_ID answers them."""
        # A shared namespace by its ARN ("Specify the namespace ARN for namespaces that are shared with
        # your Amazon Web Services account", ServiceFilter.Values); an ID would match none of its services.
        shared = self.owner_account(namespace) is not None
        namespace_ref = (namespace.arn or namespace.id) if shared else namespace.id
        filters = [{"Name": "NAMESPACE_ID", "Values": [namespace_ref], "Condition": "EQ"}]
        services = [
            service_of(item)
            for page in self._pages("ListServices", self.client.list_services, Filters=filters, MaxResults=PAGE_SIZE)
            for item in items_of(page.get("Services"))
        ]
        return sorted(services, key=lambda service: (service.name, service.id))

    def find_service(self, namespace: Namespace, name_or_id: str) -> Service:
        """The service ``worker``, ``worker.corp`` or ``srv-...`` of ``namespace``."""
        wanted = name_or_id.strip().rstrip(".")
        suffix = "." + namespace.name
        if wanted.lower().endswith(suffix.lower()) and len(wanted) > len(suffix):
            wanted = wanted[: -len(suffix)]
        services = self.list_services(namespace)
        for service in services:
            if service.id == wanted or service.name.lower() == wanted.lower():
                return service
        known = ", ".join(printable(service.name, 64) for service in services) or "none"
        raise CloudMapError(
            "not_found",
            f"service {printable(name_or_id, 64)!r} not found in namespace {printable(namespace.name, 64)!r} "
            f"(services: {known})",
        )

    # -- instances -----------------------------------------------------------------

    def list_instances(self, namespace: Namespace, service: Service) -> InstanceListing:
        """Every registered instance of ``service`` with its health status (HealthStatus=ALL)."""
        if self.instances_api == "discover":
            try:
                return self._discover(namespace, service)
            except CloudMapError as error:
                if error.code == "ServiceNotFound":
                    # ListServices (the control plane) just named it; the data plane may not know it yet
                    # (a service created a moment ago). Ask the control plane, this time only.
                    return self._list(namespace, service)
                if error.kind != "access_denied":
                    raise
                # A role granted the listing actions only: use them from now on.
                self.instances_api = "list"
        return self._list(namespace, service)

    def _discover(self, namespace: Namespace, service: Service) -> InstanceListing:
        request: dict[str, Any] = {
            "NamespaceName": namespace.discovery_name,
            "ServiceName": service.name,
            "HealthStatus": "ALL",
            "MaxResults": DISCOVER_MAX_RESULTS,
        }
        owner = self.owner_account(namespace)
        if owner is not None:
            request["OwnerAccount"] = owner
        answer = mapping_of(call_api("DiscoverInstances", self.client.discover_instances, **request))
        items = items_of(answer.get("Instances"))
        instances = [
            Instance(
                id=text_of(item.get("InstanceId")),
                health=health_of(item.get("HealthStatus")),
                attributes=attributes_of(item.get("Attributes")),
            )
            for item in items
        ]
        return InstanceListing(
            sorted_instances(instances), "DiscoverInstances", truncated=len(items) >= DISCOVER_MAX_RESULTS
        )

    def _list(self, namespace: Namespace, service: Service) -> InstanceListing:
        # A service in a shared namespace by its ARN ("For services created in a shared namespace,
        # specify the service ARN", ListInstances and GetInstancesHealthStatus).
        service_id = service.arn if self.owner_account(namespace) is not None and service.arn else service.id
        pages = self._pages("ListInstances", self.client.list_instances, ServiceId=service_id, MaxResults=PAGE_SIZE)
        items = [item for page in pages for item in items_of(page.get("Instances"))]
        health: dict[str, object] = {}
        if items and service.health_check != "none":
            for page in self._pages(
                "GetInstancesHealthStatus",
                self.client.get_instances_health_status,
                ServiceId=service_id,
                MaxResults=PAGE_SIZE,
            ):
                health.update(mapping_of(page.get("Status")))
        instances = [
            Instance(
                id=text_of(item.get("Id")),
                health=health_of(health.get(text_of(item.get("Id")))),
                attributes=attributes_of(item.get("Attributes")),
            )
            for item in items
        ]
        return InstanceListing(sorted_instances(instances), "ListInstances")
