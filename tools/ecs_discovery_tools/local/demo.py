"""Run a stack's services on this machine, with no AWS account and no Docker: ``make demo``.

    python -m ecs_discovery_tools.local.demo [--stack ServiceDiscovery] [--workers 3]
    python -m ecs_discovery_tools.local.demo --stack Owner --stack Consumer   # one namespace, two accounts

The CDK app is synthesized (as ``cdk synth`` would) and the stack's template read: every
discoverable ECS service (Cloud Map DNS, Service Connect or both) runs ``DesiredCount``
tasks, real gunicorn processes of its image's folder, each on its own loopback address
(127.0.0.x) and its container port, with the container environment the template gives it.
The run is a :class:`~ecs_discovery_tools.local.deployment.LocalDeployment`; ECS's service
scheduler is played by :mod:`ecs_discovery_tools.local.scheduler`: the task
definition's health check decides when a task enters Cloud Map (moto's API on loopback)
and so the loopback DNS server, dead or unhealthy tasks are replaced, and while the run is
up ``ecs-discovery local deploy|scale|stop-task|events|status`` (:mod:`.control_server`) rolls out
new revisions and scales within the service's deployment configuration. The apps are
pointed at the local registry and DNS by ``DNS_NAMESERVERS`` and
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` (with dummy credentials), so they run the code paths
they run in AWS. Reference: docs/local-run.md.

Several ``--stack`` options run stacks of several accounts against one namespace (AWS RAM sharing,
docs/cross-account.md): one stack creates the namespace, the others name it by its ARN; each stack's
tasks sign as its environment's account.

Ctrl-C (SIGINT) or SIGTERM stops every process it started. Exit codes: 0 stopped by a
signal or after ``--duration``, 1 the stack cannot run locally or did not start, 2 usage.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ecs_discovery_tools.local.assembly import AssemblyError, StackSpec, read_stack, synthesize
from ecs_discovery_tools.local.control_api import ControlError, default_control_file
from ecs_discovery_tools.local.control_server import ControlServer
from ecs_discovery_tools.local.deployment import REGION, DemoError, LocalDeployment
from ecs_discovery_tools.local.limits import MAX_GUNICORN_WORKERS, MAX_TASKS_PER_SERVICE
from ecs_discovery_tools.local.scheduler import Timings
from ecs_discovery_tools.local.task_environment import check_environment

__all__ = ["DemoError", "LocalDeployment", "build_parser", "cli_command", "main", "try_lines"]


_COUNT = re.compile(r"[0-9]{1,4}")
_DEFAULT_STACK = "ServiceDiscovery"


# -- what the banner tells a user to try -------------------------------------------------------


def cli_command() -> list[str]:
    """``ecs-discovery`` as another shell runs it: this interpreter's console script by its absolute
    path (the venv's bin folder is not on that shell's PATH), else ``python -m ecs_discovery_tools``."""
    bin_dir = Path(os.path.abspath(sys.executable)).parent
    script = bin_dir / "ecs-discovery"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [os.path.abspath(sys.executable), "-m", "ecs_discovery_tools"]


def _signed(credentials: Mapping[str, str]) -> str:
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in credentials.items())


def try_lines(deployment: LocalDeployment, control_file: Path | None) -> list[str]:
    """Commands to paste into another shell while the run is up; each works there as printed.
    ``control_file``: the run's --control-file (None: the default one, or no control channel when
    the deployment has no control URL)."""
    cli = cli_command()
    namespace = deployment.namespace.name
    names = list(deployment.schedulers)
    # The seed's worker when there is one, else the first service of the stack.
    example = "worker" if "worker" in names else names[0]
    registry = deployment.cloud_map.endpoint_url
    nameserver = f"{deployment.dns_server.host}:{deployment.dns_server.port}"
    services = [*cli, "services", "-n", namespace, "--region", deployment.region, "--endpoint-url", registry]
    lines = [
        "Try (from any shell):",
        # The namespace owner's credentials (the local registry tells accounts apart by their key).
        f"  {_signed(deployment.cloud_map.credentials)} {shlex.join(services)}",
    ]
    # Each other account reads the namespace shared with it by naming its owner.
    for account in sorted({deployment.account_of(stack) for stack in deployment.joining_stacks} - {deployment.account}):
        shared = [*services, "--owner-account", deployment.account]
        lines.append(f"  {_signed(deployment.cloud_map.credentials_for(account))} {shlex.join(shared)}")
    lines.append("  " + shlex.join([*cli, "resolve", f"{example}.{namespace}", "--nameserver", nameserver]))
    if deployment.control_url is not None:
        local = [*cli, "local"]
        if control_file is not None:
            local += ["--control-file", os.path.abspath(control_file)]
        lines += [
            "  " + shlex.join([*local, "status"]),
            "  " + shlex.join([*local, "events", "--follow"]),
            "  " + shlex.join([*local, "scale", f"{example}=5"]),
            "  " + shlex.join([*local, "deploy", example, "--env", "MESSAGE=v2"]),
        ]
    return lines


# -- command line --------------------------------------------------------------------------


def _task_counts(pairs: Sequence[str], workers: int | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        name, _, count = pair.partition("=")
        if not name or not _COUNT.fullmatch(count) or not 0 < int(count) <= MAX_TASKS_PER_SERVICE:
            raise DemoError(
                f"--tasks {pair[:60]!r} is not valid: expected NAME=COUNT with 1 <= COUNT <= {MAX_TASKS_PER_SERVICE}"
            )
        counts[name] = int(count)
    if workers is not None:
        if not 0 < workers <= MAX_TASKS_PER_SERVICE:
            raise DemoError(f"--workers {workers} is not valid: expected 1-{MAX_TASKS_PER_SERVICE}")
        counts["worker"] = workers
    return counts


def _task_environment(pairs: Sequence[str]) -> dict[str, str]:
    environment: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise DemoError(f"--task-env {pair[:60]!r} is not NAME=VALUE")
        environment[name] = value
    try:
        return check_environment(environment)
    except ValueError as error:
        raise DemoError(f"--task-env: {error}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0-3600 seconds, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value < 0.05:
        raise argparse.ArgumentTypeError(f"expected at least 0.05 seconds, got {text!r}")
    return value


def _gunicorn_workers(text: str) -> int:
    if not _COUNT.fullmatch(text) or not 0 < int(text) <= MAX_GUNICORN_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 1-{MAX_GUNICORN_WORKERS}, got {text[:20]!r}")
    return int(text)


def _small_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 100:
        raise argparse.ArgumentTypeError(f"expected 1-100, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecs_discovery_tools.local.demo",
        description="Run a CDK stack's discoverable services on this machine, as ECS would: no AWS account, no Docker.",
        epilog=f"While it runs, from another shell: {shlex.join(cli_command())} local "
        "status|events|deploy|rollback|scale|stop-task (docs/local-run.md).",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="folder with cdk.json (default: .)")
    parser.add_argument("--app", help='CDK app command (default: cdk.json\'s "app")')
    parser.add_argument("--assembly", type=Path, help="read this cloud assembly (cdk.out) instead of synthesizing")
    parser.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help=f"stack to run (default: {_DEFAULT_STACK}); repeat it to run the stack that creates a namespace with "
        "stacks of other accounts that name it by ARN, each as its account",
    )
    parser.add_argument("--workers", type=int, help="tasks of the 'worker' service (default: its DesiredCount)")
    parser.add_argument(
        "--tasks", action="append", default=[], metavar="NAME=COUNT", help="tasks of a service (repeatable)"
    )
    parser.add_argument(
        "--gunicorn-workers",
        type=_gunicorn_workers,
        default=1,
        help=f"gunicorn processes per task, 1-{MAX_GUNICORN_WORKERS} (default: 1)",
    )
    parser.add_argument("--log-dir", type=Path, help="where task logs go (default: a new temporary folder)")
    parser.add_argument("--state-file", type=Path, help="keep URLs, addresses, PIDs and task states here as JSON")
    parser.add_argument(
        "--control-file",
        type=Path,
        help=f"where the control channel's address and token go (default: {default_control_file()})",
    )
    parser.add_argument("--no-control", action="store_true", help="no control channel (no ecs-discovery local ...)")
    parser.add_argument(
        "--task-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a container variable for every task, over the template's (repeatable)",
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument(
        "--drain",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="after deregistering a task, wait the DNS TTL plus this long before SIGTERM (default: 2)",
    )
    parser.add_argument(
        "--ecs-stop-order",
        action="store_true",
        help="SIGTERM right after deregistration, as ECS does today (no TTL wait): rehearse the failure mode",
    )
    knobs = parser.add_argument_group(
        "timing overrides (test-only: tests and benchmarks shorten the template's values; a real run keeps them)"
    )
    knobs.add_argument("--health-interval", type=_positive_seconds, metavar="S", help="HealthCheck.Interval")
    knobs.add_argument("--health-timeout", type=_positive_seconds, metavar="S", help="HealthCheck.Timeout")
    knobs.add_argument("--health-start-period", type=_seconds, metavar="S", help="HealthCheck.StartPeriod")
    knobs.add_argument("--health-retries", type=_small_int, metavar="N", help="HealthCheck.Retries")
    knobs.add_argument("--grace-period", type=_seconds, metavar="S", help="HealthCheckGracePeriodSeconds")
    knobs.add_argument("--dns-ttl", type=_small_int, metavar="S", help="the Cloud Map services' DNS TTL")
    knobs.add_argument("--stop-timeout", type=_positive_seconds, metavar="S", help="the containers' StopTimeout")
    knobs.add_argument(
        "--restart-backoff-max", type=_positive_seconds, metavar="S", help="longest restart backoff (default: 60)"
    )
    knobs.add_argument(
        "--minute-seconds",
        type=_seconds,
        metavar="S",
        help="how long a minute of the template's bake and step times lasts (default: 60)",
    )
    parser.add_argument(
        "--test-traffic-seconds",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="blue/green, linear, canary: how long green gets test traffic only before production traffic "
        "moves (ECS: until the lifecycle hooks agree; default: 0, as ECS without hooks)",
    )
    return parser


def _timings(args: argparse.Namespace) -> Timings:
    return Timings(
        health_interval=args.health_interval,
        health_timeout=args.health_timeout,
        health_start_period=args.health_start_period,
        health_retries=args.health_retries,
        grace_period=args.grace_period,
        dns_ttl=args.dns_ttl,
        stop_timeout=args.stop_timeout,
        drain_seconds=None if args.ecs_stop_order else args.drain,
        restart_backoff_max=args.restart_backoff_max or 60.0,
        minute_seconds=60.0 if args.minute_seconds is None else args.minute_seconds,
        test_traffic_seconds=args.test_traffic_seconds,
    )


def _stack_names(given: Sequence[str] | None) -> list[str]:
    names = list(given or [_DEFAULT_STACK])
    for index, name in enumerate(names):
        if name in names[:index]:
            raise DemoError(f"--stack {name[:80]} is given twice")
    return names


def _arrange(stacks: Sequence[StackSpec]) -> tuple[StackSpec, tuple[StackSpec, ...]]:
    """The stack that creates the namespace (the first, when several do: the run refuses them) and the others."""
    owners = [stack for stack in stacks if stack.namespace_arn is None]
    if not owners:
        first = stacks[0]
        raise DemoError(
            f"stack {first.stack_name} creates no namespace: it registers in {first.namespace_arn}, which another "
            f"stack creates; run that stack with it (--stack <owner's stack> --stack {first.stack_name})"
        )
    return owners[0], tuple(stack for stack in stacks if stack is not owners[0])


class _Stopped(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM, so any wait in progress ends at once."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Only the local API may ever be called: no profile or key of the user's reaches the apps.
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    deployment: LocalDeployment | None = None
    server: ControlServer | None = None
    try:
        # Every option is checked before anything is synthesized or started.
        counts = _task_counts(args.tasks, args.workers)
        names = _stack_names(args.stack)
        extra_environment = _task_environment(args.task_env)
        log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="ecs-discovery-demo-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        project_dir: Path | None = None
        if args.assembly is not None:
            assembly_dir = args.assembly
        else:
            project_dir = Path(args.project_dir).resolve()
            print(f"Synthesizing the CDK app in {project_dir} ...", flush=True)
            assembly_dir = synthesize(project_dir, log_dir / "cdk.out", app=args.app)
        stack, joining = _arrange([read_stack(assembly_dir, name) for name in names])
        deployment = LocalDeployment(
            stack,
            log_dir,
            counts,
            region=stack.region or REGION,
            joining_stacks=joining,
            gunicorn_workers=args.gunicorn_workers,
            timings=_timings(args),
            state_file=args.state_file,
            assembly_dir=assembly_dir,
            project_dir=project_dir,
            app=args.app,
            extra_environment=extra_environment,
        )
        control_file = args.control_file or default_control_file()
        if not args.no_control:
            server = ControlServer(deployment, control_file)
            deployment.control_url = server.start()
        total = sum(
            counts.get(service.name, service.desired_count) for spec in deployment.stacks for service in spec.services
        )
        print(f"Starting {total} tasks; each joins Cloud Map and DNS once its health check passes ...", flush=True)
        deployment.start()
        print(deployment.summary(), flush=True)
        print("\n".join(try_lines(deployment, None if args.no_control else args.control_file)), flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5 if deadline is None else min(0.5, max(deadline - time.monotonic(), 0)))
        return 0
    except _Stopped:
        return 0
    except (AssemblyError, DemoError, ControlError) as error:
        print(f"local run: error: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if server is not None:
            server.stop()
        if deployment is not None:
            print("Stopping ...", flush=True)
            deployment.stop()
            print("Stopped: every task, the DNS server and the Cloud Map API.", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
