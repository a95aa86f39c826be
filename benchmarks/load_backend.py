#!/usr/bin/env python3
"""Bounded load run: the real backend and three real workers on loopback, one worker stopped halfway.

Starts a loopback DNS server answering worker.corp (A records, TTL 10 s, like Cloud Map),
three workers under gunicorn on 127.0.0.2-4 and the backend under gunicorn with its
production timeouts, then sends --requests GET / over --concurrency keep-alive connections.
When half of them have been sent, the first worker is killed (SIGKILL to its process
group: a crashed task) or, with --stop term, sent SIGTERM (a task being stopped).

Prints requests per second and p50/p99 latency; exits 1 if any request failed.

    .venv/bin/python benchmarks/load_backend.py [--requests 2000] [--concurrency 16] [--stop kill|term]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ecs_discovery_tools.local.app_process import GunicornProcess, free_port
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
NAMESPACE = "corp"
# Per request, and for the whole run: the run ends even if the system under test hangs.
REQUEST_TIMEOUT_S = 15.0
RUN_TIME_BUDGET_S = 300.0


@dataclass(frozen=True)
class Sample:
    started: float  # time.monotonic()
    latency_s: float
    status: int | None
    address: str | None  # the worker that answered, as the backend reports it
    attempts: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.address is not None


@dataclass
class LoadReport:
    samples: list[Sample]
    elapsed_s: float
    stopped_host: str | None = None
    stop_mode: str | None = None
    stopped_at: float | None = None  # time.monotonic() when the stop signal was sent
    stop_returned_at: float | None = None  # for kill: the process group is gone by then
    not_sent: int = 0  # requests the time budget left unsent
    log_dir: Path | None = None
    by_address: Counter = field(default_factory=Counter)

    @property
    def failures(self) -> list[Sample]:
        return [sample for sample in self.samples if not sample.ok]

    @property
    def failed_count(self) -> int:
        return len(self.failures) + self.not_sent

    @property
    def requests_per_second(self) -> float:
        return len(self.samples) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of all request latencies."""
        latencies = sorted(sample.latency_s for sample in self.samples)
        if not latencies:
            return float("nan")
        rank = max(1, -(-len(latencies) * percent // 100))  # ceil without floats
        return latencies[int(rank) - 1] * 1000


def _one_request(session: requests.Session, url: str) -> Sample:
    started = time.monotonic()
    try:
        response = session.get(url, timeout=REQUEST_TIMEOUT_S)
        latency = time.monotonic() - started
        worker = response.json().get("worker", {}) if response.status_code == 200 else {}
        error = None if response.status_code == 200 else response.text[:200]
        return Sample(started, latency, response.status_code, worker.get("address"), worker.get("attempts"), error)
    except (requests.RequestException, ValueError) as exc:
        return Sample(started, time.monotonic() - started, None, None, None, repr(exc)[:200])


def run_load(url: str, total: int, concurrency: int, on_halfway: Callable[[], None] | None = None) -> LoadReport:
    """Send ``total`` GETs to ``url`` over ``concurrency`` keep-alive connections, bounded in time."""
    next_index = iter(range(total))
    index_lock = threading.Lock()
    samples: list[Sample] = []
    samples_lock = threading.Lock()
    deadline = time.monotonic() + RUN_TIME_BUDGET_S

    def client() -> None:
        with requests.Session() as session:
            session.trust_env = False  # straight to loopback, whatever proxy the machine has
            while time.monotonic() < deadline:
                with index_lock:
                    index = next(next_index, None)
                if index is None:
                    return
                if index == total // 2 and on_halfway is not None:
                    on_halfway()
                sample = _one_request(session, url)
                with samples_lock:
                    samples.append(sample)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S)
    elapsed = time.monotonic() - started
    samples.sort(key=lambda sample: sample.started)
    report = LoadReport(samples, elapsed, not_sent=total - len(samples))
    report.by_address = Counter(sample.address for sample in samples if sample.ok)
    return report


@dataclass
class Topology:
    dns_server: LoopbackDnsServer
    workers: list[GunicornProcess]
    backend: GunicornProcess


@contextmanager
def local_topology(log_dir: Path) -> Iterator[Topology]:
    """DNS server, three workers and the backend on loopback; every process is killed on exit."""
    with ExitStack() as stack:
        dns_server = stack.enter_context(LoopbackDnsServer(default_ttl=10))
        worker_port = free_port(list(WORKER_HOSTS))
        dns_server.set_records(f"worker.{NAMESPACE}", a=WORKER_HOSTS, ttl=10)

        def start(app: str, host: str, port: int, env: dict[str, str]) -> GunicornProcess:
            with open(log_dir / f"{app}-{host}.log", "ab") as output:
                process = GunicornProcess(REPO_ROOT / "services" / app, host=host, port=port, env=env, output=output)
                stack.callback(process.kill)
                return process.start()

        workers = [
            start("flask-worker", host, worker_port, {"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "8"})
            for host in WORKER_HOSTS
        ]
        backend_env = {
            "NAMESPACE": NAMESPACE,
            "WORKER_PORT": str(worker_port),
            "DNS_NAMESERVERS": f"127.0.0.1:{dns_server.port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "8",
            # Everything else (timeouts, attempts, deadline) at the production defaults.
        }
        backend = start("flask-backend", "127.0.0.1", free_port(["127.0.0.1"]), backend_env)
        for process in [*workers, backend]:
            process.wait_ready()
        yield Topology(dns_server, workers, backend)


def run_benchmark(total: int, concurrency: int, stop_mode: str, log_dir: Path) -> LoadReport:
    with local_topology(log_dir) as topology:
        victim = topology.workers[0]
        stop_times: list[float] = []

        def stop_one_worker() -> None:
            stop_times.append(time.monotonic())
            if stop_mode == "kill":
                victim.kill()
            else:
                victim.terminate()
            stop_times.append(time.monotonic())

        report = run_load(topology.backend.base_url + "/", total, concurrency, stop_one_worker)
    report.stopped_host = victim.host
    report.stop_mode = stop_mode
    if stop_times:
        report.stopped_at, report.stop_returned_at = stop_times
    report.log_dir = log_dir
    return report


def print_report(report: LoadReport, total: int, concurrency: int) -> None:
    print(
        f"requests     {total} over {concurrency} connections; worker {report.stopped_host} "
        f"stopped ({report.stop_mode}) halfway"
    )
    print(f"failures     {report.failed_count}")
    print(
        f"throughput   {report.requests_per_second:.1f} requests/s ({len(report.samples)} in {report.elapsed_s:.2f} s)"
    )
    print(
        f"latency      p50 {report.percentile_ms(50):.1f} ms, p99 {report.percentile_ms(99):.1f} ms, "
        f"max {report.percentile_ms(100):.1f} ms"
    )
    print("answered by  " + ", ".join(f"{address} {count}" for address, count in sorted(report.by_address.items())))
    retried = sum(1 for sample in report.samples if sample.attempts and sample.attempts > 1)
    print(f"failover     {retried} requests needed more than one attempt")
    for sample in report.failures[:10]:
        print(f"  failed: status={sample.status} error={sample.error}")
    if report.failed_count:
        print(f"app logs in {report.log_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stop", choices=("kill", "term"), default="kill")
    args = parser.parse_args(argv)
    if args.requests < 2 or args.concurrency < 1:
        parser.error("need at least 2 requests and 1 connection")
    log_dir = Path(tempfile.mkdtemp(prefix="load-backend-"))
    report = run_benchmark(args.requests, args.concurrency, args.stop, log_dir)
    print_report(report, args.requests, args.concurrency)
    return 1 if report.failed_count else 0


if __name__ == "__main__":
    sys.exit(main())
