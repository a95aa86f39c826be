"""``ecs-discovery``: list what Cloud Map knows and what DNS answers.

    ecs-discovery namespaces [--owner-account 111122223333]
    ecs-discovery services --namespace corp [--owner-account 111122223333]
    ecs-discovery instances worker --namespace corp [--healthy] [--owner-account 111122223333]
    ecs-discovery resolve worker.corp [--nameserver 127.0.0.1:5353]

Tables for people, ``--json`` for programs. Exit codes (see :class:`ExitCode`): 0 ok,
1 not found, 2 usage, 3 AWS (credentials, region, access, throttling, endpoint),
4 DNS (timeout, no nameserver), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ecs_discovery_tools.cli.errors import CliError, ExitCode

PROG = "ecs-discovery"

_EPILOG = """\
exit codes: 0 ok, 1 namespace/service/name not found, 2 usage error (or an ambiguous name),
  3 AWS error (configuration: a malformed --endpoint-url, region, profile or AWS_* setting;
  no credentials or region, access denied, throttled, endpoint unreachable),
  4 DNS failure (timeout, no nameserver answered), 130 interrupted (Ctrl-C)
AWS configuration is the usual one: --profile/AWS_PROFILE, --region/AWS_REGION, the
credentials chain, AWS_ENDPOINT_URL_SERVICEDISCOVERY, AWS_MAX_ATTEMPTS (1-10, retries on throttling).
Instances come from DiscoverInstances (servicediscovery:DiscoverInstances), or from ListInstances
and GetInstancesHealthStatus when that is denied. Registry text is printed with control and escape
characters escaped.
Shared namespaces (AWS RAM): OWNER is the namespace's ResourceOwner, CREATED BY a service's or an
instance's CreatedByAccount. For a namespace another account owns, DiscoverInstances gets that
account as OwnerAccount; the caller's account comes from STS GetCallerIdentity.
"""


def build_parser() -> argparse.ArgumentParser:
    aws = argparse.ArgumentParser(add_help=False)
    aws_options = aws.add_argument_group("AWS")
    aws_options.add_argument("--region", help="AWS region (default: AWS_REGION or the profile's)")
    aws_options.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    aws_options.add_argument(
        "--endpoint-url", help="Cloud Map API endpoint (default: AWS_ENDPOINT_URL_SERVICEDISCOVERY or AWS's)"
    )
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    owner = argparse.ArgumentParser(add_help=False)
    owner.add_argument(
        "--owner-account",
        type=_account,
        metavar="ACCOUNT",
        help="the namespace's owner (12 digits): picks the namespace that account owns, shared with yours "
        "through AWS RAM or your own, and is DiscoverInstances' OwnerAccount (default: the namespace's ResourceOwner)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="List AWS Cloud Map namespaces, services and instances, and resolve their DNS names.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "namespaces",
        parents=[aws, output, owner],
        help="list the namespaces of the account and region, shared ones too",
    )

    services = commands.add_parser("services", parents=[aws, output, owner], help="list the services of a namespace")
    services.add_argument("--namespace", "-n", required=True, help="namespace name (corp) or ID (ns-...)")

    instances = commands.add_parser(
        "instances", parents=[aws, output, owner], help="list the registered instances (tasks) of a service"
    )
    instances.add_argument("service", help="service name (worker), DNS name (worker.corp) or ID (srv-...)")
    instances.add_argument("--namespace", "-n", required=True, help="namespace name (corp) or ID (ns-...)")
    instances.add_argument("--healthy", action="store_true", help="only instances whose health status is HEALTHY")

    resolve = commands.add_parser("resolve", parents=[output], help="look a name up in DNS: A and SRV records, TTLs")
    resolve.add_argument("name", help="DNS name, e.g. worker.corp")
    resolve.add_argument(
        "--nameserver", help="ask this server (IP[:port], e.g. 127.0.0.1:5353) instead of the system resolver"
    )
    resolve.add_argument("--timeout", type=_positive_float, default=3.0, help="seconds per lookup (default: 3)")
    # `ecs-discovery local ...`: the local run's control channel (tools/ecs_discovery_tools/local/control.py).
    from ecs_discovery_tools.local import control

    control.add_parser(commands)
    return parser


def _account(text: str) -> str:
    from ecs_discovery_tools.cli.cloudmap import ACCOUNT_PATTERN, printable

    if not ACCOUNT_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected an AWS account ID of 12 digits, got {printable(text, 40)!r}")
    return text


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"expected 0 < seconds <= 60, got {text!r}")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ecs-discovery-tools")
    except PackageNotFoundError:
        return "unknown"


# -- commands --------------------------------------------------------------------


def _reader(args: argparse.Namespace) -> Any:
    from ecs_discovery_tools.cli import cloudmap

    reader = cloudmap.open_reader(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    args.owners = cloudmap.Owners(reader.client)
    return reader


def _namespace(reader: Any, args: argparse.Namespace) -> Any:
    """``--namespace`` (of ``--owner-account``); when another account owns it (the caller's account
    from STS), later requests read it as a namespace shared with the caller."""
    from ecs_discovery_tools.cli import cloudmap

    namespace = cloudmap.find_namespace(reader, args.namespace, args.owner_account)
    owner = cloudmap.namespace_owner(namespace)
    if owner is not None and owner != cloudmap.caller_account(reader, profile=args.profile):
        args.owners.shared_with(namespace, owner)
    return namespace


def cmd_namespaces(args: argparse.Namespace, out: TextIO) -> None:
    from ecs_discovery_tools.cli.cloudmap import call, namespace_owner

    reader = _reader(args)
    namespaces = call(reader.list_namespaces)
    if args.owner_account is not None:
        namespaces = [n for n in namespaces if namespace_owner(n) == args.owner_account]
    if args.json:
        _print_json({"namespaces": [_namespace_dict(namespace) for namespace in namespaces]}, out)
        return
    # A namespace has no CreatedByAccount (NamespaceSummary): its owner is the account that created it.
    rows = [[n.name, n.id, n.type, _text(namespace_owner(n)), _text(n.service_count)] for n in namespaces]
    _print_table(["NAME", "ID", "TYPE", "OWNER", "SERVICES"], rows, out, empty="no namespaces")


def _namespace_dict(namespace: Any) -> dict[str, Any]:
    from ecs_discovery_tools.cli.cloudmap import namespace_owner

    # resource_owner as the API answered (None when it did not); owner also from the ARN.
    return {**namespace.as_dict(), "resource_owner": namespace.resource_owner, "owner": namespace_owner(namespace)}


def cmd_services(args: argparse.Namespace, out: TextIO) -> None:
    from ecs_discovery_tools.cli.cloudmap import call, printable

    reader = _reader(args)
    namespace = _namespace(reader, args)
    services = call(lambda: reader.list_services(namespace))
    if args.json:
        _print_json(
            {
                "namespace": _namespace_summary(namespace, type=namespace.type),
                "services": [_service_dict(args, service, namespace) for service in services],
            },
            out,
        )
        return
    rows = [
        [
            s.name,
            s.dns_name(namespace) or "- (API only)",
            _text(s.instance_count),
            ", ".join(f"{record.type} {_text(record.ttl)}s" for record in s.dns_records) or "-",
            s.health_check,
            _text(_owner(args, s, namespace)),
            _text(_created_by(args, s)),
            s.id,
        ]
        for s in services
    ]
    _print_table(
        ["NAME", "DNS NAME", "INSTANCES", "RECORDS", "HEALTH CHECK", "OWNER", "CREATED BY", "ID"],
        rows,
        out,
        empty=f"no services in namespace {printable(namespace.name)}",
    )


def cmd_instances(args: argparse.Namespace, out: TextIO) -> None:
    from ecs_discovery_tools.cli.cloudmap import call, printable

    reader = _reader(args)
    namespace = _namespace(reader, args)
    service = call(lambda: reader.find_service(namespace, args.service))
    listing = call(lambda: reader.list_instances(namespace, service))
    instances = list(listing.instances)
    if args.healthy:
        instances = [instance for instance in instances if instance.health == "HEALTHY"]
    dns_name = service.dns_name(namespace)
    if args.json:
        _print_json(
            {
                "namespace": _namespace_summary(namespace),
                "service": {
                    "id": service.id,
                    "name": service.name,
                    "dns_name": dns_name,
                    "resource_owner": _owner(args, service, namespace),
                    "created_by_account": _created_by(args, service),
                },
                "owner_account": args.owners.owner_account,
                "source": listing.source,
                "truncated": listing.truncated,
                "instances": [
                    {**instance.as_dict(), "created_by_account": args.owners.instance(instance.id)}
                    for instance in instances
                ],
            },
            out,
        )
        return
    rows = [
        [
            i.id,
            i.ipv4 or i.ipv6 or "-",
            _text(i.port),
            i.health,
            i.availability_zone or "-",
            i.task_definition_family or "-",
            _text(args.owners.instance(i.id)),
        ]
        for i in instances
    ]
    which = "healthy instances" if args.healthy else "instances"
    shown_name = dns_name or f"{service.name}.{namespace.name}"
    _print_table(
        ["ID", "ADDRESS", "PORT", "HEALTH", "ZONE", "TASK DEFINITION", "CREATED BY"],
        rows,
        out,
        empty=f"no {which} of {printable(shown_name)}",
    )
    if listing.truncated:
        print(f"(only the first {len(listing.instances)} instances: the API returns no more in one answer)", file=out)


def cmd_resolve(args: argparse.Namespace, out: TextIO) -> None:
    from ecs_discovery_tools.cli import dns_lookup

    resolution = dns_lookup.resolve(args.name, nameserver=args.nameserver, timeout=args.timeout)
    if args.json:
        _print_json(resolution.as_dict(), out)
        return
    rows = [["A", str(resolution.a_ttl), address] for address in resolution.addresses]
    for record in resolution.srv:
        addresses = ", ".join(record.addresses) or "no address"
        value = f"{record.priority} {record.weight} {record.port} {record.target} ({addresses})"
        rows.append(["SRV", str(resolution.srv_ttl), value])
    print(f"{resolution.name} (nameserver: {resolution.nameserver})", file=out)
    _print_table(["TYPE", "TTL", "VALUE"], rows, out, empty="no records")


_COMMANDS = {
    "namespaces": cmd_namespaces,
    "services": cmd_services,
    "instances": cmd_instances,
    "resolve": cmd_resolve,
    "local": lambda args, out: _local_command(args, out),
}


def _local_command(args: argparse.Namespace, out: TextIO) -> None:
    from ecs_discovery_tools.local.control import cmd_local

    cmd_local(args, out)


# -- owners ----------------------------------------------------------------------


def _namespace_summary(namespace: Any, **extra: Any) -> dict[str, Any]:
    from ecs_discovery_tools.cli.cloudmap import namespace_owner

    return {
        "id": namespace.id,
        "name": namespace.name,
        **extra,
        "arn": namespace.arn,
        "owner": namespace_owner(namespace),
    }


def _owner(args: argparse.Namespace, service: Any, namespace: Any) -> str | None:
    # ServiceSummary.ResourceOwner is the namespace's owner; a stand-in that leaves it out still has one.
    from ecs_discovery_tools.cli.cloudmap import namespace_owner

    return args.owners.service(service.id)[0] or namespace_owner(namespace)


def _created_by(args: argparse.Namespace, service: Any) -> str | None:
    # ServiceSummary.CreatedByAccount; None when the API did not say (moto). An instance's comes from
    # ListInstances only: DiscoverInstances' HttpInstanceSummary has none.
    return args.owners.service(service.id)[1]


def _service_dict(args: argparse.Namespace, service: Any, namespace: Any) -> dict[str, Any]:
    return {
        **service.as_dict(namespace),
        "resource_owner": _owner(args, service, namespace),
        "created_by_account": _created_by(args, service),
    }


# -- output ----------------------------------------------------------------------


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def _print_json(document: Any, out: TextIO) -> None:
    json.dump(document, out, indent=2, sort_keys=False)
    out.write("\n")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO, *, empty: str) -> None:
    if not rows:
        print(f"({empty})", file=out)
        return
    # Registry values are untrusted: escape and control characters are shown escaped, never sent raw.
    from ecs_discovery_client.cloudmap import printable

    cells = [[printable(cell, 256) for cell in row] for row in rows]
    widths = [max(len(header), *(len(row[index]) for row in cells)) for index, header in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def _one_line(message: str) -> str:
    # Messages are built from escaped parts; this is the last guard: no raw control character reaches
    # the terminal, whatever a message quotes (backslashes already escaped are left as they are).
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in message)


# -- entry point -----------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    stdout: TextIO = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    try:
        _COMMANDS[args.command](args, stdout)
    except CliError as error:
        print(f"{PROG}: error: {_one_line(error.message)}", file=err)
        return int(error.exit_code)
    except ModuleNotFoundError as error:
        if error.name not in ("boto3", "botocore", "dns", "ecs_discovery_client"):
            raise
        print(
            f"{PROG}: error: missing module {error.name!r}; install the CLI with its dependencies: "
            "pip install ecs-discovery-tools",
            file=err,
        )
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK)


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error worth a traceback. Python
        # would flush stdout again at exit and fail once more, so point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = int(ExitCode.OK)
    sys.exit(code)
