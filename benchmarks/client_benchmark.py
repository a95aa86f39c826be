#!/usr/bin/env python3
"""The discovery client measured (issue 12): its overhead, failover when a task dies, and its DNS traffic.

Everything on loopback: the project's DNS server (dnslib) answering Cloud Map-style A records, and
the real flask-worker under gunicorn on 127.0.0.x, exactly as the images start it.

1. **Overhead.** The same calls (GET / on the workers, whole body read) at the same concurrency,
   in interleaved rounds: through ``DiscoveryClient.call`` against urllib3 pools to the same three
   addresses chosen at random per call with no DNS and no failover ("fixed"), and through
   ``discovery_session()`` against a plain ``requests.Session`` to the same fixed addresses.
   Ratio of the p50 latencies (target: at most 1.1).
2. **DNS traffic** during (1): the queries the DNS server received for the name, against the
   number of TTL windows the run spanned (target: at most one per name per TTL per process; the
   client and the session share one ``Resolver``, so one cache).
3. **Failover.** Three fresh workers behind one name; halfway through the calls one of them is
   SIGKILLed (a crashed task), and in a second run SIGTERMed (a task being stopped). The dead task
   stays in DNS all along (the worst case: a stale cached answer). Failed calls (target 0), calls
   that needed a second attempt, latencies of the calls after the stop, and the failover window:
   from the stop to the last call that needed more than one attempt.

Prints the machine, every round and the targets as PASS or MISS; exits 0 whatever the figures
(a measurement, not a test), 1 when the setup fails.

    .venv/bin/python benchmarks/client_benchmark.py [--calls 2000] [--concurrency 8] [--rounds 3]
        [--ttl 2] [--failover-calls 3000] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import requests.adapters
import urllib3

from ecs_discovery_client import AttemptEvent, DiscoveryClient, DiscoveryError, DiscoverySettings, Resolver
from ecs_discovery_client.requests_adapter import discovery_session
from ecs_discovery_tools.local.app_process import GunicornProcess, free_port
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_DIR = REPO_ROOT / "services" / "flask-worker"
OVERHEAD_HOSTS = ("127.0.2.2", "127.0.2.3", "127.0.2.4")
FAILOVER_HOSTS = {
    "kill": ("127.0.2.10", "127.0.2.11", "127.0.2.12"),
    "term": ("127.0.2.20", "127.0.2.21", "127.0.2.22"),
}
WORKER_ENV = {"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "8"}
# Every phase ends within this, whatever the system under test does.
PHASE_BUDGET_S = 180.0
# The baselines' per-call bounds: the client's production defaults.
BASELINE_TIMEOUT = urllib3.Timeout(connect=0.5, read=3.0)
TARGET_P50_RATIO = 1.1


@dataclass(frozen=True)
class Sample:
    started: float  # time.monotonic()
    latency_s: float
    ok: bool
    attempts: int
    error: str | None = None


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(percent / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run_calls(
    call: Callable[[], int], total: int, concurrency: int, on_halfway: Callable[[], None] | None = None
) -> list[Sample]:
    """``total`` calls over ``concurrency`` threads; ``call`` returns the attempts it took or raises."""
    samples: list[Sample] = []
    lock = threading.Lock()
    counter = iter(range(total))
    ends_at = time.monotonic() + PHASE_BUDGET_S

    def worker() -> None:
        while time.monotonic() < ends_at:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            if on_halfway is not None and number == total // 2:
                on_halfway()
            started = time.monotonic()
            try:
                attempts, error, ok = call(), None, True
            except Exception as exc:  # a failed call is a figure here, not a crash
                attempts, error, ok = 0, f"{type(exc).__name__}: {exc}"[:200], False
            sample = Sample(started, time.monotonic() - started, ok, attempts, error)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=PHASE_BUDGET_S + 30)
    return samples


@contextmanager
def workers(hosts: tuple[str, ...], log_dir: Path) -> Iterator[tuple[list[GunicornProcess], int]]:
    port = free_port(list(hosts))
    with ExitStack() as stack:
        processes: list[GunicornProcess] = []
        for host in hosts:
            with open(log_dir / f"worker-{host}.log", "ab") as output:
                process = GunicornProcess(WORKER_DIR, host=host, port=port, env=WORKER_ENV, output=output)
                stack.callback(process.kill)
                processes.append(process.start())
        for process in processes:
            process.wait_ready()
        yield processes, port


def overhead_modes(
    name: str, port: int, settings: DiscoverySettings, concurrency: int
) -> tuple[dict[str, Callable[[], int]], Resolver]:
    resolver = Resolver(settings)
    client = DiscoveryClient(name, port, settings, resolver)
    session = discovery_session(settings, resolver=resolver)
    pools = {
        host: urllib3.HTTPConnectionPool(host, port, maxsize=concurrency, block=False, retries=False)
        for host in OVERHEAD_HOSTS
    }
    plain = requests.Session()
    plain.trust_env = False
    plain.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency, max_retries=0))
    url = f"http://{name}:{port}/"

    def fixed_urllib3() -> int:
        response = pools[random.choice(OVERHEAD_HOSTS)].request("GET", "/", timeout=BASELINE_TIMEOUT)
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        return 1

    def through_client() -> int:
        result = client.call("/")
        if result.status != 200:
            raise RuntimeError(f"status {result.status}")
        return result.attempts

    def fixed_requests() -> int:
        response = plain.get(f"http://{random.choice(OVERHEAD_HOSTS)}:{port}/", timeout=(0.5, 3.0))
        response.raise_for_status()
        return 1

    def through_session() -> int:
        response = session.get(url)
        response.raise_for_status()
        return 1

    modes = {
        "fixed (urllib3)": fixed_urllib3,
        "DiscoveryClient": through_client,
        "fixed (requests)": fixed_requests,
        "discovery_session": through_session,
    }
    return modes, resolver


def measure_overhead(args: argparse.Namespace, dns: LoopbackDnsServer, log_dir: Path) -> dict[str, Any]:
    name = "worker.bench"
    with workers(OVERHEAD_HOSTS, log_dir) as (_, port):
        dns.set_records(name, a=OVERHEAD_HOSTS, ttl=args.ttl)
        settings = DiscoverySettings(nameservers=(("127.0.0.1", dns.port),))
        modes, _ = overhead_modes(name, port, settings, args.concurrency)
        for call in modes.values():  # warm-up: connections, caches, the interpreter
            run_calls(call, 50, args.concurrency)
        queries_before = len(dns.queries(name))
        phase_started = time.monotonic()
        rounds: list[dict[str, dict[str, float]]] = []
        order = list(modes)
        for round_number in range(args.rounds):
            figures: dict[str, dict[str, float]] = {}
            # Rotated each round, so a busy spell of the shared machine hits every mode alike.
            for mode in order[round_number % len(order) :] + order[: round_number % len(order)]:
                cpu_before = time.process_time()
                samples = run_calls(modes[mode], args.calls, args.concurrency)
                cpu_s = time.process_time() - cpu_before
                latencies = [sample.latency_s * 1000 for sample in samples if sample.ok]
                figures[mode] = {
                    "calls": len(samples),
                    "failed": sum(1 for sample in samples if not sample.ok),
                    "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99),
                    # This process's CPU per call (all its threads): steadier than latency when the
                    # machine is shared, and what the client adds on the caller's side.
                    "cpu_us_per_call": cpu_s / len(samples) * 1e6 if samples else float("nan"),
                }
            rounds.append(figures)
            print(f"round {round_number + 1}: " + "; ".join(
                f"{mode} p50 {f['p50_ms']:.2f} ms p99 {f['p99_ms']:.2f} ms cpu {f['cpu_us_per_call']:.0f} us "
                f"failed {f['failed']:.0f}"
                for mode, f in figures.items()
            ))  # fmt: skip
        phase_s = time.monotonic() - phase_started
        query_times = [query.received_at for query in dns.queries(name)[queries_before:]]
    medians = {mode: statistics.median(r[mode]["p50_ms"] for r in rounds) for mode in modes}
    cpu = {mode: statistics.median(r[mode]["cpu_us_per_call"] for r in rounds) for mode in modes}
    gaps = [later - earlier for earlier, later in itertools.pairwise(query_times)]
    windows = phase_s / args.ttl
    return {
        "rounds": rounds,
        "median_p50_ms": medians,
        "ratio_client": medians["DiscoveryClient"] / medians["fixed (urllib3)"],
        "ratio_session": medians["discovery_session"] / medians["fixed (requests)"],
        "median_cpu_us_per_call": cpu,
        "cpu_ratio_client": cpu["DiscoveryClient"] / cpu["fixed (urllib3)"],
        "cpu_ratio_session": cpu["discovery_session"] / cpu["fixed (requests)"],
        "dns_queries": len(query_times),
        "phase_s": phase_s,
        "ttl_s": args.ttl,
        "ttl_windows": windows,
        "queries_per_ttl": len(query_times) / windows if windows else float("nan"),
        "min_gap_between_queries_s": min(gaps) if gaps else None,
    }


def measure_failover(args: argparse.Namespace, dns: LoopbackDnsServer, log_dir: Path, mode: str) -> dict[str, Any]:
    name = f"worker-{mode}.bench"
    hosts = FAILOVER_HOSTS[mode]
    with workers(hosts, log_dir) as (processes, port):
        dns.set_records(name, a=hosts, ttl=args.ttl)
        events: list[AttemptEvent] = []
        # Production defaults (deadline 5 s, connect and first byte 0.5 s, read 3 s, 3 attempts).
        settings = DiscoverySettings(nameservers=(("127.0.0.1", dns.port),))
        client = DiscoveryClient(name, port, settings, on_attempt=events.append)
        victim = processes[0]
        stopped: list[float] = []

        def stop() -> None:
            stopped.append(time.monotonic())
            if mode == "kill":
                victim.kill()
            else:
                victim.terminate()

        def call() -> int:
            return client.call("/").attempts

        run_calls(call, 50, args.concurrency)  # warm-up
        samples = run_calls(call, args.failover_calls, args.concurrency, on_halfway=stop)
    stopped_at = stopped[0] if stopped else float("nan")
    after = [sample for sample in samples if sample.started >= stopped_at]
    retried = [sample for sample in samples if sample.attempts > 1]
    failed_attempts = [event for event in events if event.outcome != "ok"]
    last_retry = max((sample.started + sample.latency_s for sample in retried), default=stopped_at)
    return {
        "stop": mode,
        "calls": len(samples),
        "failed": sum(1 for sample in samples if not sample.ok),
        "errors": sorted({sample.error for sample in samples if sample.error})[:5],
        "retried_calls": len(retried),
        "failed_attempts_by_error": {
            error: sum(1 for event in failed_attempts if event.outcome == error)
            for error in sorted({event.outcome for event in failed_attempts})
        },
        "p50_ms": percentile([s.latency_s * 1000 for s in samples], 50),
        "p99_ms": percentile([s.latency_s * 1000 for s in samples], 99),
        "max_ms_after_stop": max((s.latency_s * 1000 for s in after), default=float("nan")),
        "failover_window_s": max(0.0, last_retry - stopped_at),
        "stopped_host": hosts[0],
    }


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load[0]:.2f}; "
        f"Python {platform.python_version()}, urllib3 {importlib.metadata.version('urllib3')}, "
        f"requests {importlib.metadata.version('requests')}, dnspython {importlib.metadata.version('dnspython')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="calls per mode and round (overhead)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=2, help="the DNS records' TTL in seconds")
    parser.add_argument("--failover-calls", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    for option in ("calls", "concurrency", "rounds", "ttl", "failover_calls"):
        if not 1 <= getattr(args, option) <= 100_000:
            parser.error(f"--{option.replace('_', '-')} must be 1-100000")

    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "|", machine())
    print(f"{args.calls} calls x {args.rounds} rounds per mode, {args.concurrency} threads, TTL {args.ttl} s")
    with tempfile.TemporaryDirectory(prefix="client-bench-") as tmp, LoopbackDnsServer() as dns:
        log_dir = Path(tmp)
        try:
            overhead = measure_overhead(args, dns, log_dir)
            failover = [measure_failover(args, dns, log_dir, mode) for mode in ("kill", "term")]
        except (RuntimeError, OSError, DiscoveryError) as error:
            print(f"benchmark setup failed: {error}", file=sys.stderr)
            for log in sorted(log_dir.glob("*.log")):
                print(f"----- {log.name}\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
            return 1

    print("\nOverhead (median over rounds of each round's p50, and of the caller's CPU per call):")
    for mode, value in overhead["median_p50_ms"].items():
        print(f"  {mode:<20} {value:7.2f} ms   {overhead['median_cpu_us_per_call'][mode]:6.0f} us CPU")
    for label, ratio in (("DiscoveryClient / fixed", "ratio_client"), ("discovery_session / fixed", "ratio_session")):
        verdict = "PASS" if overhead[ratio] <= TARGET_P50_RATIO else "MISS"
        cpu_ratio = overhead["cpu_" + ratio]
        print(f"  {label:<27} {overhead[ratio]:.3f}x  (target <= {TARGET_P50_RATIO}x) {verdict}; CPU {cpu_ratio:.3f}x")
    per_ttl = overhead["queries_per_ttl"]
    print(
        f"\nDNS: {overhead['dns_queries']} queries for the name in {overhead['phase_s']:.1f} s = "
        f"{overhead['ttl_windows']:.1f} TTL windows of {args.ttl} s: {per_ttl:.2f} per TTL "
        f"(target <= 1) {'PASS' if per_ttl <= 1 else 'MISS'}; shortest gap between two queries "
        f"{overhead['min_gap_between_queries_s'] or 0:.2f} s"
    )
    print("\nFailover (one of three workers stopped halfway, still in DNS):")
    for run in failover:
        print(
            f"  {run['stop']:<4}: {run['calls']} calls, failed {run['failed']} "
            f"(target 0) {'PASS' if run['failed'] == 0 else 'MISS'}; needed a 2nd attempt {run['retried_calls']}; "
            f"failed attempts {run['failed_attempts_by_error']}; p50 {run['p50_ms']:.2f} ms, "
            f"p99 {run['p99_ms']:.2f} ms, max after the stop {run['max_ms_after_stop']:.0f} ms; "
            f"window {run['failover_window_s']:.2f} s"
        )
        for error in run["errors"]:
            print(f"        {error}")
    if args.json:
        args.json.write_text(json.dumps({"overhead": overhead, "failover": failover}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
