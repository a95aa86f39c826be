"""The CLI's side of the shared Cloud Map reader (:mod:`ecs_discovery_client.cloudmap`).

The reader does the reading, as the API reference defines it; this module builds it from the
command line's options and turns its errors into :class:`CliError` with the CLI's exit codes.
The client reads the usual AWS configuration: profile, region, credentials chain,
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` / ``AWS_ENDPOINT_URL``, ``AWS_MAX_ATTEMPTS`` (1-10; botocore's
standard retry mode, 3 attempts by default). A malformed setting is one line and exit code 3.

Shared namespaces (AWS RAM): for a namespace whose owner (``ResourceOwner``) is not the caller,
DiscoverInstances gets ``OwnerAccount``, and the namespace and its services are named by their ARNs
(ListServices' NAMESPACE_ID filter, ListInstances, GetInstancesHealthStatus), as the API reference
asks for shared namespaces. :class:`Owners` does that on the reader's client (botocore's
``provide-client-params`` events), and keeps the ``ResourceOwner`` and ``CreatedByAccount`` of the
answers (``after-call`` events), which the reader's values may not carry.
The caller's account comes from STS ``GetCallerIdentity`` (allowed to every identity, no IAM
permission needed), asked once and only when a namespace names its owner. STS is asked where Cloud
Map is when the Cloud Map endpoint is configured and is not AWS's (a local stand-in serves both),
else where the AWS configuration says. When STS does not answer, the account stays unknown and the
reader sends ``OwnerAccount`` for every namespace whose owner it knows: the API defines it as the
namespace's ``ResourceOwner``, so for the caller's own namespaces it names the same resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ecs_discovery_client.cloudmap import (
    CloudMapError,
    CloudMapReader,
    Instance,
    InstanceListing,
    Namespace,
    Service,
    make_client,
    printable,
)
from ecs_discovery_tools.cli.errors import CliError, ExitCode

__all__ = [
    "ACCOUNT_PATTERN",
    "Instance",
    "InstanceListing",
    "Namespace",
    "Owners",
    "Service",
    "call",
    "caller_account",
    "find_namespace",
    "namespace_owner",
    "open_reader",
    "printable",
]

_T = TypeVar("_T")

#: An AWS account ID, as ``ResourceOwner``, ``CreatedByAccount`` and ``OwnerAccount`` carry it
#: (botocore's model: AWSAccountId, fixed length 12; the account IDs AWS issues are digits).
ACCOUNT_PATTERN = re.compile(r"[0-9]{12}")
_NAMESPACE_ARN = re.compile(r"arn:[a-z-]{3,20}:servicediscovery:[a-z0-9-]{1,40}:(?P<account>[0-9]{12}):namespace/[^/]+")
# Hosts of AWS's own endpoints (every partition's DNS suffix ends with one of these).
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".c2s.ic.gov", ".sc2s.sgov.gov")

_EXIT_CODES = {
    "not_found": ExitCode.NOT_FOUND,
    "ambiguous": ExitCode.USAGE,
}


def cli_error(error: CloudMapError) -> CliError:
    return CliError(error.message, _EXIT_CODES.get(error.kind, ExitCode.AWS))


def call(function: Callable[[], _T]) -> _T:
    """``function()``, with a Cloud Map failure turned into a CliError (one line, an exit code)."""
    try:
        return function()
    except CloudMapError as error:
        raise cli_error(error) from None


def open_reader(*, region: str | None, profile: str | None, endpoint_url: str | None) -> CloudMapReader:
    """A reader over a client made from the options (``None`` falls back to the AWS configuration)."""
    client = call(
        lambda: make_client(
            region=region, profile=profile, endpoint_url=endpoint_url, user_agent_extra="ecs-discovery-cli"
        )
    )
    return CloudMapReader(client)


class Owners:
    """Who owns and who created what the reader's client reads, and the requests of a shared namespace.

    ``shared_with(namespace, owner)`` makes every later request about ``namespace`` one for a
    namespace ``owner`` shares with the caller: DiscoverInstances with ``OwnerAccount``, the
    namespace and its services by ARN. ``service(id)`` and ``instance(id)`` give the
    ``(ResourceOwner, CreatedByAccount)`` and ``CreatedByAccount`` the answers carried.
    """

    def __init__(self, client: Any) -> None:
        self.owner_account: str | None = None
        self._namespace: Namespace | None = None
        self._services: dict[str, dict[str, str | None]] = {}
        self._instances: dict[str, str | None] = {}
        events: Any = client.meta.events
        prefix = "servicediscovery"
        events.register(f"provide-client-params.{prefix}.DiscoverInstances", self._discover)
        events.register(f"provide-client-params.{prefix}.ListServices", self._list_services)
        for operation in ("ListInstances", "GetInstancesHealthStatus"):
            events.register(f"provide-client-params.{prefix}.{operation}", self._by_service_arn)
        events.register(f"after-call.{prefix}.ListServices", self._services_answered)
        events.register(f"after-call.{prefix}.ListInstances", self._instances_answered)

    def shared_with(self, namespace: Namespace, owner: str) -> None:
        self._namespace, self.owner_account = namespace, owner

    def service(self, service_id: str) -> tuple[str | None, str | None]:
        answered = self._services.get(service_id, {})
        return answered.get("owner"), answered.get("created_by")

    def instance(self, instance_id: str) -> str | None:
        return self._instances.get(instance_id)

    # -- requests ------------------------------------------------------------------

    def _discover(self, params: dict[str, Any], **_: Any) -> None:
        if self.owner_account is not None:
            params.setdefault("OwnerAccount", self.owner_account)

    def _list_services(self, params: dict[str, Any], **_: Any) -> None:
        namespace = self._namespace
        if namespace is None or not namespace.arn:
            return
        for item in params.get("Filters") or []:
            if item.get("Name") == "NAMESPACE_ID":
                item["Values"] = [namespace.arn if value == namespace.id else value for value in item["Values"]]

    def _by_service_arn(self, params: dict[str, Any], **_: Any) -> None:
        if self.owner_account is None:
            return
        arn = self._services.get(str(params.get("ServiceId")), {}).get("arn")
        if arn:
            params["ServiceId"] = arn

    # -- answers -------------------------------------------------------------------

    def _services_answered(self, parsed: Any, **_: Any) -> None:
        for item in parsed.get("Services") or [] if isinstance(parsed, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("Id"), str):
                self._services[item["Id"]] = {
                    "arn": _text(item.get("Arn")),
                    "owner": _account(item.get("ResourceOwner")),
                    "created_by": _account(item.get("CreatedByAccount")),
                }

    def _instances_answered(self, parsed: Any, **_: Any) -> None:
        for item in parsed.get("Instances") or [] if isinstance(parsed, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("Id"), str):
                self._instances[item["Id"]] = _account(item.get("CreatedByAccount"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _account(value: object) -> str | None:
    # Registry text: an account ID is 12 ASCII digits, anything else is not shown as one.
    return value if isinstance(value, str) and ACCOUNT_PATTERN.fullmatch(value) else None


def namespace_owner(namespace: Namespace) -> str | None:
    """The namespace's owner: ``ResourceOwner``, else the account in its ARN; None when neither says."""
    if namespace.resource_owner is not None and ACCOUNT_PATTERN.fullmatch(namespace.resource_owner):
        return namespace.resource_owner
    found = _NAMESPACE_ARN.fullmatch(namespace.arn)
    return found["account"] if found else None


def caller_account(reader: CloudMapReader, *, profile: str | None) -> str | None:
    """The caller's AWS account from STS GetCallerIdentity through the reader's client's session and
    Region; None when STS does not answer with an account (see the module docstring)."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    client: Any = reader.client
    endpoint = str(client.meta.endpoint_url)
    host = (urlsplit(endpoint).hostname or "").lower()
    stand_in = not host.endswith(_AWS_SUFFIXES)
    try:
        sts: Any = boto3.Session(profile_name=profile).client(
            "sts",
            region_name=client.meta.region_name,
            endpoint_url=endpoint if stand_in else None,
            config=Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2}),
        )
        answer: Any = sts.get_caller_identity()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError):
        return None
    account = answer.get("Account") if isinstance(answer, dict) else None
    return account if isinstance(account, str) and ACCOUNT_PATTERN.fullmatch(account) else None


def find_namespace(reader: CloudMapReader, name_or_id: str, owner_account: str | None) -> Namespace:
    """The namespace ``name_or_id``; with ``owner_account``, the one that account owns (a name may be
    both one of the caller's namespaces and one shared with it). A namespace whose owner the API did
    not say (a stand-in without ``ResourceOwner``) is taken as ``owner_account``'s."""
    if owner_account is None:
        return call(lambda: reader.find_namespace(name_or_id))
    wanted = name_or_id.strip().rstrip(".")
    namespaces = call(reader.list_namespaces)
    matches = [n for n in namespaces if n.id == wanted or n.arn == wanted] or [
        n for n in namespaces if n.name.lower() == wanted.lower()
    ]
    owned = [n for n in matches if namespace_owner(n) in (owner_account, None)]
    if not owned:
        owners = ", ".join(sorted({printable(namespace_owner(n) or "unknown", 20) for n in matches}))
        detail = f"owned by {owners}" if matches else "no namespace of that name or ID"
        raise CliError(
            f"namespace {printable(wanted, 64)!r} owned by account {owner_account} not found ({detail})",
            ExitCode.NOT_FOUND,
        )
    if len(owned) > 1:
        ids = ", ".join(f"{n.id} ({n.type})" for n in owned)
        raise CliError(
            f"namespace name {printable(wanted, 64)!r} of account {owner_account} is ambiguous: "
            f"{printable(ids)}; pass the ID instead",
            ExitCode.USAGE,
        )
    (namespace,) = owned
    return namespace if namespace_owner(namespace) is not None else replace(namespace, resource_owner=owner_account)
