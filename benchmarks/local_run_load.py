#!/usr/bin/env python3
"""Load through the backend while the local run replaces, scales and loses worker tasks (issue 13).

Starts the seed stack's local run (``python -m ecs_discovery_tools.local.demo``: backend x2 and
worker x3 as real gunicorn processes, the moto Cloud Map stand-in, the loopback DNS server) and
sends GET / to the backend tasks over --concurrency keep-alive connections, each request making
the backend call worker.corp through DNS. The phases run one after the other on the same run:

* baseline: no operation, --requests requests (the floor the others are compared with);
* rolling: ``deploy worker`` with a new environment (3 tasks, minimumHealthyPercent 100,
  maximumPercent 200 from the template): new tasks start, pass their health check, register;
  old ones are deregistered, drained for the DNS TTL + --drain, then get SIGTERM;
* scale: ``scale worker=6``, then back to ``worker=3`` once 6 are healthy (deregister, drain, stop);
* kill: SIGKILL to one worker task's process group; the scheduler replaces it.

Each operation phase keeps the load up until the operation is done (the worker service steady:
every task of the current revision healthy and registered, nothing stopping, DNS answering exactly
them) and at least --requests requests were sent. Timings are the template's (DNS TTL 10 s,
health check every 10 s with a 15 s start period, stop timeout 45 s) and the apps' own drain
after SIGTERM; --fast uses the test suite's short ones instead. Prints failed requests, p50/p99
latency and each operation's duration, with p99 as a ratio to the baseline's; exits 1 if a
request failed or an operation did not finish within its budget.

    .venv/bin/python benchmarks/local_run_load.py [--requests 3000] [--concurrency 16]
        [--assembly cdk.out-dir] [--fast] [--ecs-stop-order] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.resolver
import requests

from ecs_discovery_tools.local.assembly import synthesize
from ecs_discovery_tools.local.control import ControlClient

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKERS = 3
REQUEST_TIMEOUT_S = 15.0
START_TIMEOUT_S = 180.0
# Per operation phase: the phase ends even if the operation never completes.
PHASE_BUDGET_S = 240.0
FAST = (
    "--health-interval", "0.5", "--health-timeout", "2", "--health-start-period", "3",
    "--grace-period", "0", "--dns-ttl", "2", "--drain", "1", "--stop-timeout", "5",
    "--task-env", "STOP_DRAIN_SECONDS=3",
)  # fmt: skip


@dataclass
class Phase:
    name: str
    requests: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list[float], repr=False)
    errors: dict[str, int] = field(default_factory=dict[str, int])
    operation_s: float | None = None
    operation_done: bool = True
    workers_seen: int = 0

    def percentile(self, fraction: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]

    def summary(self) -> dict[str, Any]:
        document = asdict(self)
        del document["latencies_ms"]
        document.update(
            p50_ms=self.percentile(0.50),
            p99_ms=self.percentile(0.99),
            max_ms=max(self.latencies_ms, default=None),
            mean_ms=statistics.fmean(self.latencies_ms) if self.latencies_ms else None,
        )
        return document


class LocalRun:
    """The demo as a user starts it, in its own process group, with a control file of its own."""

    def __init__(self, assembly: Path, work_dir: Path, extra: list[str]) -> None:
        self.work_dir = work_dir
        self.state_path = work_dir / "state.json"
        self.control_file = work_dir / "control" / "control.json"
        command = [
            sys.executable, "-m", "ecs_discovery_tools.local.demo",
            "--assembly", str(assembly), "--stack", "ServiceDiscovery",
            "--workers", str(WORKERS), "--gunicorn-workers", "1",
            "--log-dir", str(work_dir / "logs"), "--state-file", str(self.state_path),
            "--control-file", str(self.control_file), *extra,
        ]  # fmt: skip
        self.output = open(work_dir / "local-run.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.state_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (work_dir / "local-run.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"the local run did not start:\n{tail}")
            time.sleep(0.2)
        self.state = json.loads(self.state_path.read_text())
        self.control = ControlClient(self.control_file)

    def status(self) -> dict[str, Any]:
        return self.control.request("GET", "/status")

    def dns_a(self, name: str) -> list[str]:
        host, port = self.state["dns_server"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 3.0
        try:
            return sorted(record.address for record in resolver.resolve(name, "A"))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def worker_steady(self, count: int, revision_suffix: str | None = None) -> bool:
        status = self.status()
        tasks = status["services"]["worker"]
        if not status["schedulers"]["worker"]["steady"] or len(tasks) != count:
            return False
        if revision_suffix and not all(task["revision"].endswith(revision_suffix) for task in tasks):
            return False
        return self.dns_a("worker.corp") == sorted(task["address"] for task in tasks)

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
        self.phase = Phase("idle")
        self.stop_event = threading.Event()
        self.workers_seen: set[str] = set()

    def run_phase(
        self, phase: Phase, minimum: int, operation: Callable[[], None] | None, done: Callable[[], bool]
    ) -> None:
        self.phase, self.workers_seen = phase, set()
        self.stop_event.clear()
        sent = [0]
        threads = [
            threading.Thread(target=self._client, args=(index, sent), daemon=True) for index in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        # A quarter of the requests before the operation, so it starts under load.
        while sent[0] < minimum // 4 and time.monotonic() - started < PHASE_BUDGET_S:
            time.sleep(0.02)
        operation_started = time.monotonic()
        if operation is not None:
            operation()
            phase.operation_done = False
            while time.monotonic() - operation_started < PHASE_BUDGET_S:
                if done():
                    phase.operation_done = True
                    break
                time.sleep(0.25)
            phase.operation_s = round(time.monotonic() - operation_started, 2)
        while sent[0] < minimum and time.monotonic() - started < PHASE_BUDGET_S:
            time.sleep(0.02)
        self.stop_event.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)
        phase.workers_seen = len(self.workers_seen)

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
                worker: object = None
                try:
                    answer = session.get(url, timeout=REQUEST_TIMEOUT_S)
                    if answer.status_code != 200:
                        error = f"HTTP {answer.status_code}: {answer.text[:120]}"
                    else:
                        worker = answer.json().get("worker", {}).get("address")
                except (requests.RequestException, ValueError) as failure:
                    error = type(failure).__name__
                elapsed_ms = (time.perf_counter() - began) * 1000
                with self.lock:
                    phase = self.phase
                    phase.requests += 1
                    phase.latencies_ms.append(elapsed_ms)
                    if error is None:
                        self.workers_seen.add(str(worker))
                    else:
                        phase.failed += 1
                        phase.errors[error] = phase.errors.get(error, 0) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="at least this many requests per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default: 16)")
    parser.add_argument("--assembly", type=Path, help="a synthesized cloud assembly (default: synthesize the app)")
    parser.add_argument("--fast", action="store_true", help="the test suite's short timings instead of the template's")
    parser.add_argument("--ecs-stop-order", action="store_true", help="SIGTERM right after deregistration (ECS today)")
    parser.add_argument("--json", type=Path, help="write every phase's figures here")
    args = parser.parse_args(argv)
    if not 100 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 64:
        parser.error("--requests must be 100-100000 and --concurrency 1-64")

    load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_average}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="local-run-load-") as temporary:
        work_dir = Path(temporary)
        assembly = args.assembly or synthesize(REPO_ROOT, work_dir / "cdk.out")
        extra = [*(FAST if args.fast else ()), *(["--ecs-stop-order"] if args.ecs_stop_order else [])]
        run = LocalRun(assembly, work_dir, extra)
        phases: list[Phase] = []
        try:
            backend_urls = [task["url"] + "/" for task in run.state["services"]["backend"]]
            load = Load(backend_urls, args.concurrency)
            if not _wait(lambda: run.worker_steady(WORKERS), 120):
                raise SystemExit("the worker service did not settle before the baseline")

            phases.append(Phase("baseline"))
            load.run_phase(phases[-1], args.requests, None, lambda: True)

            phases.append(Phase("rolling deploy (3 tasks)"))

            def deploy() -> None:
                run.control.request("POST", "/deploy", {"service": "worker", "environment": {"MESSAGE": "v2"}})

            load.run_phase(phases[-1], args.requests, deploy, lambda: run.worker_steady(WORKERS, ":2"))

            phases.append(Phase("scale 3 -> 6 -> 3"))
            scaled_up = threading.Event()

            def scale_up() -> None:
                run.control.request("POST", "/scale", {"counts": {"worker": 6}})

            def scaled_back() -> bool:
                if not scaled_up.is_set():
                    if run.worker_steady(6):
                        scaled_up.set()
                        run.control.request("POST", "/scale", {"counts": {"worker": WORKERS}})
                    return False
                return run.worker_steady(WORKERS)

            load.run_phase(phases[-1], args.requests, scale_up, scaled_back)

            phases.append(Phase("SIGKILL one worker"))
            victim = run.status()["services"]["worker"][0]

            def kill() -> None:
                os.killpg(victim["pid"], signal.SIGKILL)

            def replaced() -> bool:
                ids = {task["task_id"] for task in run.status()["services"]["worker"]}
                return victim["task_id"] not in ids and run.worker_steady(WORKERS)

            load.run_phase(phases[-1], args.requests, kill, replaced)
        finally:
            run.stop()

    baseline_p99 = phases[0].percentile(0.99) or 0.0
    timings = "test (--fast)" if args.fast else "the template"
    order = "ECS stop order" if args.ecs_stop_order else "deregister -> TTL + drain -> SIGTERM"
    print(f"\n{args.concurrency} connections; timings: {timings}; {order}")
    columns = ["requests", "failed", "p50 ms", "p99 ms", "max ms", "p99/base", "op s"]
    header = f"{'phase':<26} " + " ".join(f"{name:>8}" for name in columns)
    print(header)
    for phase in phases:
        p50, p99 = phase.percentile(0.5) or 0.0, phase.percentile(0.99) or 0.0
        ratio = p99 / baseline_p99 if baseline_p99 else float("nan")
        op = "-" if phase.operation_s is None else f"{phase.operation_s:.1f}" + ("" if phase.operation_done else "!")
        worst = max(phase.latencies_ms, default=0.0)
        cells = [
            str(phase.requests),
            str(phase.failed),
            f"{p50:.1f}",
            f"{p99:.1f}",
            f"{worst:.1f}",
            f"{ratio:.2f}x",
            op,
        ]
        print(f"{phase.name:<26} " + " ".join(f"{cell:>8}" for cell in cells))
        for error, count in phase.errors.items():
            print(f"    {count} x {error}")
    failed = sum(phase.failed for phase in phases)
    unfinished = [phase.name for phase in phases if not phase.operation_done]
    print(f"failed requests: {failed} (target 0)" + (f"; operations not finished: {unfinished}" if unfinished else ""))
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
