#!/usr/bin/env python3
"""Load through the backend while the local run deploys, scales and loses worker tasks (issues 13, 24).

Starts the seed stack's local run (``python -m ecs_discovery_tools.local.demo``: backend x2 and
worker x3 as real gunicorn processes, the moto Cloud Map stand-in, the loopback DNS server) and
sends GET / to the backend tasks over --concurrency keep-alive connections, each request making
the backend call the worker. Two local runs, one after the other, each with its own baseline:

The seed stack as synthesized (the backend finds ``worker.corp`` through Cloud Map DNS):

* baseline: no operation, --requests requests (the floor its phases are compared with);
* rolling: ``deploy worker`` with a new environment (3 tasks, minimumHealthyPercent 100,
  maximumPercent 200 from the template): new tasks start, pass their health check, register;
  old ones are deregistered, drained for the DNS TTL + --drain, then get SIGTERM;
* scale: ``scale worker=6``, then back to ``worker=3`` once 6 are healthy and in DNS for a TTL + 1 s,
  so that the backend's cached answers include the new tasks (deregister, drain, stop);
* kill: SIGKILL to one worker task's process group; the scheduler replaces it.

The same app with the worker on Service Connect (tests/local/blue_green_assembly.py: the backend
reaches ``worker.corp`` through the local Service Connect proxy, as ECS maps it in /etc/hosts):

* baseline: as above, through the proxy;
* blue-green: ``deploy worker`` with BLUE_GREEN, a bake time of 2 template minutes: green starts
  beside blue, all production traffic moves at once, blue stops (with its drain) after the bake;
* linear: the template changed to LINEAR (25 % every template minute, bake 2 minutes) and the
  worker deployed with ``reread``, as a user switches strategy: 4 shifts, the bake, blue stops;
* rollback: a blue/green deploy rolled back with ``ecs-discovery local rollback worker`` during
  its bake (all traffic on green): traffic back on blue at once, green stops with its drain.

A template minute lasts --minute-seconds (default 10 s). Each operation phase keeps the load up
until the operation is done (the worker steady: every task of the expected revision healthy and
registered, nothing stopping, no shift in progress, and in the DNS run DNS answering exactly
them) and at least --requests requests were sent. --runs repeats each run's phases in rounds
(baseline, then its operations) on the same local run; each phase's p99 is divided by the p99
of its own round's baseline, and the medians over the rounds are printed with their range.
Timings are the template's (DNS TTL 10 s, health check every 10 s with a 15 s start period, stop
timeout 45 s) and the apps' own drain after SIGTERM; --fast uses short ones instead. Prints the
load average (``os.getloadavg``) with every phase, failed requests, p50/p99 latency, each
operation's duration and which worker revisions answered; exits 1 if a request failed or an
operation did not finish within its budget.

    .venv/bin/python benchmarks/local_run_load.py [--requests 3000] [--concurrency 16] [--runs 1]
        [--phases rolling,scale,kill,blue-green,linear,rollback] [--minute-seconds 10]
        [--assembly cdk.out-dir] [--fast] [--ecs-stop-order] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.resolver
import requests

from ecs_discovery_tools.local.assembly import synthesize
from ecs_discovery_tools.local.control import ControlClient

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK = "ServiceDiscovery"
WORKERS = 3
REQUEST_TIMEOUT_S = 15.0
START_TIMEOUT_S = 180.0
# Per operation phase: the phase ends even if the operation never completes.
PHASE_BUDGET_S = 240.0
CLI_TIMEOUT_S = 60.0
# The worker's DNS TTL: the template's, and --fast's.
TEMPLATE_DNS_TTL_S = 10
FAST_DNS_TTL_S = 2
FAST = (
    "--health-interval", "0.5", "--health-timeout", "2", "--health-start-period", "3",
    "--grace-period", "0", "--dns-ttl", str(FAST_DNS_TTL_S), "--drain", "1", "--stop-timeout", "5",
    "--task-env", "STOP_DRAIN_SECONDS=3",
)  # fmt: skip

DNS_PHASES = ("rolling", "scale", "kill")
SHIFT_PHASES = ("blue-green", "linear", "rollback")
TITLES = {
    "baseline-dns": "baseline (Cloud Map DNS)",
    "rolling": "rolling deploy (3 tasks)",
    "scale": "scale 3 -> 6 -> 3",
    "kill": "SIGKILL one worker",
    "baseline-sc": "baseline (Service Connect)",
    "blue-green": "blue/green deploy",
    "linear": "linear deploy (4 x 25%)",
    "rollback": "blue/green, rolled back",
}
# The worker's DeploymentConfiguration in the Service Connect run, as DeploymentOptions writes it.
# A bake of 2 template minutes leaves the rollback phase a window of 2 x --minute-seconds.
BLUE_GREEN = {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 2}
LINEAR = {
    "Strategy": "LINEAR",
    "BakeTimeInMinutes": 2,
    "LinearConfiguration": {"StepPercent": 25, "StepBakeTimeInMinutes": 1},
}
SHIFT_DONE = ("COMPLETED", "ROLLED_BACK")
# The worker's SERVICE_NAME in the seed template: an answer from any other service is a failure
# (another local run on this machine can hold a task's 127.0.0.x and port; see docs/local-run.md).
WORKER_SERVICE_NAME = "worker"


@dataclass
class Phase:
    kind: str
    round: int
    requests: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list[float], repr=False)
    errors: dict[str, int] = field(default_factory=dict[str, int])
    operation_s: float | None = None
    operation_done: bool = True
    note: str | None = None
    workers_seen: int = 0
    # The worker's MESSAGE in each answer: which revisions served the phase.
    messages: dict[str, int] = field(default_factory=dict[str, int])
    # os.getloadavg()[0] when the phase started and ended.
    load_start: float = 0.0
    load_end: float = 0.0

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    def percentile(self, fraction: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]

    def summary(self) -> dict[str, Any]:
        document = asdict(self)
        del document["latencies_ms"]
        document.update(
            title=self.title,
            p50_ms=self.percentile(0.50),
            p99_ms=self.percentile(0.99),
            max_ms=max(self.latencies_ms, default=None),
            mean_ms=statistics.fmean(self.latencies_ms) if self.latencies_ms else None,
        )
        return document


class LocalRun:
    """The demo as a user starts it, in its own process group, with a control file of its own."""

    def __init__(self, assembly: Path, work_dir: Path, extra: Sequence[str]) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = work_dir
        self.state_path = work_dir / "state.json"
        self.control_file = work_dir / "control" / "control.json"
        self.log_path = work_dir / "local-run.log"
        command = [
            sys.executable, "-m", "ecs_discovery_tools.local.demo",
            "--assembly", str(assembly), "--stack", STACK,
            "--workers", str(WORKERS), "--gunicorn-workers", "1",
            "--log-dir", str(work_dir / "logs"), "--state-file", str(self.state_path),
            "--control-file", str(self.control_file), *extra,
        ]  # fmt: skip
        self.output = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.state_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the local run did not start:\n{tail}")
            time.sleep(0.2)
        self.state = json.loads(self.state_path.read_text())
        self.control = ControlClient(self.control_file)

    def status(self) -> dict[str, Any]:
        return self.control.request("GET", "/status")

    def deploy(self, environment: dict[str, str], *, reread: bool = False) -> str:
        """``POST /deploy`` of the worker: the new revision's label."""
        body: dict[str, Any] = {"service": "worker", "environment": environment}
        if reread:
            body["reread"] = True
        return self.control.request("POST", "/deploy", body)["revision"]

    def rollback_with_cli(self) -> None:
        """``ecs-discovery local rollback worker``, as a user types it in another shell."""
        cli = Path(sys.executable).with_name("ecs-discovery")
        program = [str(cli)] if cli.exists() else [sys.executable, "-m", "ecs_discovery_tools.local.control"]
        command = [*program, "local", "--control-file", str(self.control_file), "rollback", "worker"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"rollback exited {done.returncode}: {(done.stderr or done.stdout).strip()[:300]}")

    def dns_a(self, name: str) -> list[str]:
        host, port = self.state["dns_server"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 3.0
        try:
            return sorted(record.address for record in resolver.resolve(name, "A"))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def worker_steady(self, count: int, revision: str | None = None, *, in_dns: bool = True) -> bool:
        """The worker runs ``count`` healthy, registered tasks (of ``revision``), nothing else, no
        traffic shift in progress; ``in_dns``: DNS answers ``worker.corp`` with exactly them."""
        status = self.status()
        tasks = status["services"]["worker"]
        scheduler = status["schedulers"]["worker"]
        shift = scheduler.get("deployment")
        if not scheduler["steady"] or len(tasks) != count or (shift is not None and shift["phase"] not in SHIFT_DONE):
            return False
        if revision is not None and any(task["revision"] != revision for task in tasks):
            return False
        return not in_dns or self.dns_a("worker.corp") == sorted(task["address"] for task in tasks)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.output.close()


class Load:
    """--concurrency threads, each with its own keep-alive session, alternating over the backend tasks."""

    def __init__(self, urls: list[str], concurrency: int) -> None:
        self.urls = urls
        self.concurrency = concurrency
        self.lock = threading.Lock()
        self.phase = Phase("baseline-dns", 0)
        self.stop_event = threading.Event()
        self.workers_seen: set[str] = set()

    def run_phase(
        self, phase: Phase, minimum: int, operation: Callable[[], None] | None, done: Callable[[], bool]
    ) -> None:
        """Load until ``minimum`` requests were sent and, after ``operation``, ``done()`` holds (both
        within PHASE_BUDGET_S). An operation or check that raises ends the phase as not done."""
        self.phase, self.workers_seen = phase, set()
        phase.load_start = os.getloadavg()[0]
        self.stop_event.clear()
        sent = [0]
        threads = [
            threading.Thread(target=self._client, args=(index, sent), daemon=True) for index in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        try:
            # A quarter of the requests before the operation, so it starts under load.
            while sent[0] < minimum // 4 and time.monotonic() - started < PHASE_BUDGET_S:
                time.sleep(0.02)
            if operation is not None:
                self._operate(phase, operation, done)
            while sent[0] < minimum and time.monotonic() - started < PHASE_BUDGET_S:
                time.sleep(0.02)
        finally:
            self.stop_event.set()
            for thread in threads:
                thread.join(timeout=REQUEST_TIMEOUT_S + 5)
        phase.workers_seen = len(self.workers_seen)
        phase.load_end = os.getloadavg()[0]

    @staticmethod
    def _operate(phase: Phase, operation: Callable[[], None], done: Callable[[], bool]) -> None:
        operation_started = time.monotonic()
        phase.operation_done = False
        try:
            operation()
            while time.monotonic() - operation_started < PHASE_BUDGET_S:
                if done():
                    phase.operation_done = True
                    break
                time.sleep(0.25)
        except Exception as error:  # reported in the phase's row: the other phases still run and report
            phase.note = f"{type(error).__name__}: {str(error)[:300]}"
        phase.operation_s = round(time.monotonic() - operation_started, 2)

    def _client(self, index: int, sent: list[int]) -> None:
        with requests.Session() as session:
            session.trust_env = False  # straight to loopback, whatever proxy the machine has
            turn = index
            while not self.stop_event.is_set():
                url = self.urls[turn % len(self.urls)]
                turn += 1
                with self.lock:
                    sent[0] += 1
                began = time.perf_counter()
                error: str | None = None
                worker: dict[str, Any] = {}
                try:
                    answer = session.get(url, timeout=REQUEST_TIMEOUT_S)
                    if answer.status_code != 200:
                        error = f"HTTP {answer.status_code}: {answer.text[:120]}"
                    else:
                        worker = _worker_answer(answer.json())
                        if worker.get("service") != WORKER_SERVICE_NAME:
                            error = f"answered by service {str(worker.get('service'))[:40]!r}, not the worker"
                except (requests.RequestException, ValueError) as failure:
                    error = type(failure).__name__
                elapsed_ms = (time.perf_counter() - began) * 1000
                with self.lock:
                    phase = self.phase
                    phase.requests += 1
                    phase.latencies_ms.append(elapsed_ms)
                    if error is None:
                        # The task's own address: through the Service Connect proxy the backend
                        # only sees the proxy's.
                        self.workers_seen.add(str(worker.get("address")))
                        message = str(worker.get("message"))[:60]
                        phase.messages[message] = phase.messages.get(message, 0) + 1
                    else:
                        phase.failed += 1
                        phase.errors[error] = phase.errors.get(error, 0) + 1


def _worker_answer(document: Any) -> dict[str, Any]:
    """The worker's service name, message and task address from the backend's answer (``worker.response``)."""
    worker = document.get("worker") if isinstance(document, dict) else None
    response = worker.get("response") if isinstance(worker, dict) else None
    if not isinstance(response, dict):
        return {}
    identity = response.get("identity")
    address = identity.get("address") if isinstance(identity, dict) else None
    return {"service": response.get("service"), "message": response.get("message"), "address": address}


# -- the two local runs ---------------------------------------------------------------------


def dns_run(assembly: Path, work_dir: Path, args: argparse.Namespace, kinds: Sequence[str]) -> list[Phase]:
    """The seed stack: rolling deploy, scale and kill, the worker found through Cloud Map DNS."""
    run = LocalRun(assembly, work_dir, _timings(args))
    ttl = FAST_DNS_TTL_S if args.fast else TEMPLATE_DNS_TTL_S
    phases: list[Phase] = []
    try:
        load = Load([task["url"] + "/" for task in run.state["services"]["backend"]], args.concurrency)
        if not _wait(lambda: run.worker_steady(WORKERS), 120):
            raise SystemExit("the worker service did not settle before the baseline")
        for number in range(1, args.runs + 1):
            phases.append(_measure(load, Phase("baseline-dns", number), args.requests, None, lambda: True))
            for kind in kinds:
                phase = Phase(kind, number)
                operation, done = _dns_operation(run, kind, f"{kind}-r{number}", ttl)
                phases.append(_measure(load, phase, args.requests, operation, done))
    finally:
        run.stop()
    return phases


def _dns_operation(run: LocalRun, kind: str, message: str, ttl: float) -> tuple[Callable[[], None], Callable[[], bool]]:
    if kind == "rolling":
        revision: list[str] = []

        def deploy() -> None:
            revision.append(run.deploy({"MESSAGE": message}))

        return deploy, lambda: run.worker_steady(WORKERS, revision[0])
    if kind == "scale":
        steady_at: list[float] = []
        scaled_in = threading.Event()

        def scale_up() -> None:
            run.control.request("POST", "/scale", {"counts": {"worker": 6}})

        def scaled_back() -> bool:
            if not steady_at:
                if run.worker_steady(6):
                    steady_at.append(time.monotonic())
                return False
            if not scaled_in.is_set():
                # Callers cache DNS answers for a TTL: scaled in at once, the new tasks would leave
                # before any caller used them.
                if time.monotonic() - steady_at[0] >= ttl + 1:
                    scaled_in.set()
                    run.control.request("POST", "/scale", {"counts": {"worker": WORKERS}})
                return False
            return run.worker_steady(WORKERS)

        return scale_up, scaled_back
    victim = run.status()["services"]["worker"][0]

    def kill() -> None:
        os.killpg(victim["pid"], signal.SIGKILL)

    def replaced() -> bool:
        ids = {task["task_id"] for task in run.status()["services"]["worker"]}
        return victim["task_id"] not in ids and run.worker_steady(WORKERS)

    return kill, replaced


def shift_run(assembly: Path, work_dir: Path, args: argparse.Namespace, kinds: Sequence[str]) -> list[Phase]:
    """The worker on Service Connect: blue/green, linear and a rolled-back blue/green deploy."""
    # The tests' assembly, reused rather than written twice; the benchmark runs from benchmarks/.
    sys.path.insert(0, str(REPO_ROOT))
    from tests.local.blue_green_assembly import blue_green_assembly

    # One template per strategy; the live assembly gets the one the next deploy uses (deploy
    # with reread), as a user changes DeploymentOptions and deploys.
    templates = {
        name: blue_green_assembly(assembly, work_dir / f"cdk.out.{name}", deployment) / f"{STACK}.template.json"
        for name, deployment in (("blue-green", BLUE_GREEN), ("linear", LINEAR))
    }
    live = work_dir / "cdk.out"
    shutil.copytree(templates["blue-green"].parent, live)
    run = LocalRun(live, work_dir / "run", [*_timings(args), "--minute-seconds", f"{args.minute_seconds:g}"])
    phases: list[Phase] = []
    try:
        load = Load([task["url"] + "/" for task in run.state["services"]["backend"]], args.concurrency)
        if not _wait(lambda: run.worker_steady(WORKERS, in_dns=False), 120):
            raise SystemExit("the worker service did not settle before the baseline")
        for number in range(1, args.runs + 1):
            phases.append(_measure(load, Phase("baseline-sc", number), args.requests, None, lambda: True))
            for kind in kinds:
                template = templates["linear" if kind == "linear" else "blue-green"]
                shutil.copyfile(template, live / template.name)
                operation, done = _shift_operation(run, kind, f"{kind}-r{number}")
                phases.append(_measure(load, Phase(kind, number), args.requests, operation, done))
    finally:
        run.stop()
    return phases


def _shift_operation(run: LocalRun, kind: str, message: str) -> tuple[Callable[[], None], Callable[[], bool]]:
    blue = run.status()["schedulers"]["worker"]["primary_revision"]
    green: list[str] = []
    rolled_back = threading.Event()

    def deploy() -> None:
        green.append(run.deploy({"MESSAGE": message}, reread=True))

    def completed() -> bool:
        shift = run.status()["schedulers"]["worker"]["deployment"]
        if shift["phase"] == "ROLLED_BACK":
            raise RuntimeError(f"the deployment rolled back by itself: {shift['rollback_reason']}")
        return run.worker_steady(WORKERS, green[0], in_dns=False)

    def rolled_back_in_bake() -> bool:
        if not rolled_back.is_set():
            shift = run.status()["schedulers"]["worker"]["deployment"]
            phase = shift["phase"]
            if phase == "ROLLED_BACK":
                raise RuntimeError(f"the deployment rolled back by itself: {shift['rollback_reason']}")
            if phase == "COMPLETED":
                raise RuntimeError("the bake ended before the rollback was sent: raise --minute-seconds")
            if phase == "BAKE":
                run.rollback_with_cli()
                rolled_back.set()
            return False
        return run.worker_steady(WORKERS, blue, in_dns=False)

    return deploy, rolled_back_in_bake if kind == "rollback" else completed


def _measure(
    load: Load, phase: Phase, minimum: int, operation: Callable[[], None] | None, done: Callable[[], bool]
) -> Phase:
    load.run_phase(phase, minimum, operation, done)
    op = "" if phase.operation_s is None else f", operation {phase.operation_s:.1f} s"
    op += "" if phase.operation_done else " (NOT DONE)"
    print(
        f"  round {phase.round} {phase.title}: {phase.requests} requests, {phase.failed} failed, "
        f"p99 {phase.percentile(0.99) or 0.0:.1f} ms{op}, load {phase.load_start:.1f}-{phase.load_end:.1f}",
        flush=True,
    )
    return phase


def _timings(args: argparse.Namespace) -> list[str]:
    return [*(FAST if args.fast else ()), *(["--ecs-stop-order"] if args.ecs_stop_order else [])]


# -- the report ---------------------------------------------------------------------------


def report(phases: list[Phase], args: argparse.Namespace) -> None:
    """One row per kind of phase: medians over the rounds, p99 ratios against each round's baseline."""
    baselines = {(phase.kind, phase.round): phase for phase in phases if phase.kind.startswith("baseline")}
    timings = "short (--fast)" if args.fast else "the template's"
    order = "ECS stop order" if args.ecs_stop_order else "deregister -> TTL + drain -> SIGTERM"
    print(
        f"\n{args.concurrency} connections, >= {args.requests} requests a phase, {args.runs} round(s); "
        f"timings: {timings}; {order}; a template minute = {args.minute_seconds:g} s"
    )
    columns = ["phase", "runs", "requests", "failed", "p50 ms", "p99 ms", "max ms", "p99/base", "op s", "load 1m"]
    rows: list[list[str]] = []
    kinds = list(dict.fromkeys(phase.kind for phase in phases))
    for kind in kinds:
        group = [phase for phase in phases if phase.kind == kind]
        ratios = []
        for phase in group:
            baseline = baselines[
                ("baseline-dns" if kind in ("baseline-dns", *DNS_PHASES) else "baseline-sc", phase.round)
            ]
            base_p99 = baseline.percentile(0.99)
            if base_p99:
                ratios.append((phase.percentile(0.99) or 0.0) / base_p99)
        p99s = [phase.percentile(0.99) or 0.0 for phase in group]
        operations = [phase.operation_s for phase in group if phase.operation_s is not None]
        loads = [value for phase in group for value in (phase.load_start, phase.load_end)]
        cells = [
            TITLES[kind],
            str(len(group)),
            str(sum(phase.requests for phase in group)),
            str(sum(phase.failed for phase in group)),
            f"{statistics.median(phase.percentile(0.5) or 0.0 for phase in group):.1f}",
            _median_range(p99s, "{:.0f}"),
            f"{max(max(phase.latencies_ms, default=0.0) for phase in group):.0f}",
            _median_range(ratios, "{:.2f}x"),
            (_median_range(operations, "{:.1f}") if operations else "-")
            + ("" if all(phase.operation_done for phase in group) else "!"),
            f"{min(loads):.1f}-{max(loads):.1f}",
        ]
        rows.append(cells)
    widths = [max(len(row[index]) for row in [columns, *rows]) for index in range(len(columns))]
    for row in [columns, *rows]:
        print(
            f"{row[0]:<{widths[0]}}  "
            + "  ".join(f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True))
        )
    print("\nper phase (round: worker messages answered; errors; notes):")
    for phase in phases:
        messages = ", ".join(f"{name} {count}" for name, count in sorted(phase.messages.items()))
        print(f"  {phase.round} {phase.title}: {messages}; {phase.workers_seen} worker tasks answered")
        for error, count in phase.errors.items():
            print(f"      {count} x {error}")
        if phase.note:
            print(f"      {phase.note}")


def _median_range(values: list[float], form: str) -> str:
    if not values:
        return "-"
    middle = form.format(statistics.median(values))
    if len(values) == 1:
        return middle
    return f"{middle} ({form.format(min(values))}-{form.format(max(values))})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="at least this many requests per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default: 16)")
    parser.add_argument("--runs", type=int, default=1, help="rounds of each local run's phases (default: 1)")
    parser.add_argument(
        "--phases",
        default=",".join((*DNS_PHASES, *SHIFT_PHASES)),
        help="comma-separated operations to measure (default: all): " + ", ".join((*DNS_PHASES, *SHIFT_PHASES)),
    )
    parser.add_argument(
        "--minute-seconds", type=float, default=10.0, help="how long a template minute lasts (default: 10)"
    )
    parser.add_argument("--assembly", type=Path, help="a synthesized cloud assembly (default: synthesize the app)")
    parser.add_argument(
        "--fast", action="store_true", help="short health check, TTL and drain instead of the template's"
    )
    parser.add_argument("--ecs-stop-order", action="store_true", help="SIGTERM right after deregistration (ECS today)")
    parser.add_argument("--json", type=Path, help="write every phase's figures here")
    parser.add_argument(
        "--keep", type=Path, help="keep the local runs' folders (logs, events.jsonl) here (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    kinds = args.phases.split(",")
    unknown = [kind for kind in kinds if kind not in (*DNS_PHASES, *SHIFT_PHASES)]
    if unknown or len(set(kinds)) != len(kinds):
        allowed = ", ".join((*DNS_PHASES, *SHIFT_PHASES))
        parser.error(f"--phases {args.phases[:80]!r}: expected distinct names among {allowed}")
    if not 100 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 64 or not 1 <= args.runs <= 20:
        parser.error("--requests must be 100-100000, --concurrency 1-64 and --runs 1-20")
    if not 0.5 <= args.minute_seconds <= 60:
        parser.error("--minute-seconds must be 0.5-60")

    load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_average}, Python {platform.python_version()}",
        flush=True,
    )
    with contextlib.ExitStack() as cleanup:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=False)
            work_dir = args.keep
        else:
            work_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="local-run-load-")))
        assembly = args.assembly or synthesize(REPO_ROOT, work_dir / "cdk.out")
        phases: list[Phase] = []
        dns_kinds = [kind for kind in DNS_PHASES if kind in kinds]
        shift_kinds = [kind for kind in SHIFT_PHASES if kind in kinds]
        if dns_kinds:
            phases += dns_run(assembly, work_dir / "dns", args, dns_kinds)
        if shift_kinds:
            phases += shift_run(assembly, work_dir / "service-connect", args, shift_kinds)

    report(phases, args)
    load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
    failed = sum(phase.failed for phase in phases)
    unfinished = [f"{phase.title} (round {phase.round})" for phase in phases if not phase.operation_done]
    print(
        f"failed requests: {failed} (target 0); load average at the end {load_average}"
        + (f"; operations not finished: {unfinished}" if unfinished else "")
    )
    if args.json is not None:
        args.json.write_text(json.dumps([phase.summary() for phase in phases], indent=2))
    return 1 if failed or unfinished else 0


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


if __name__ == "__main__":
    sys.exit(main())
