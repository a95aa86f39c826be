"""Integration tests: check snapshots offline, write them, or deploy, assert and destroy.

    python integ/run.py check [TEST...]     compare each app's templates with its snapshot (no AWS, no network)
    python integ/run.py snapshot [TEST...]  write the snapshots (make integ-snapshot)
    python integ/run.py deploy [TEST...]    deploy, assert, destroy in an AWS account (make integ)

Each test is an app ``integ/integ_<name>.py`` built with aws_cdk.integ_tests_alpha.IntegTest; its
snapshot is the cloud assembly in ``integ/integ_<name>.py.snapshot/``, the layout integ-runner
uses. integ-runner itself (2.197.10, the newest release) reads cloud assembly schema 53 and
aws-cdk-lib 2.275.0 writes 55, so this script does its two jobs with the CDK CLI pinned in
package-lock.json (docs/integration-tests.md, "Why not integ-runner yet").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

INTEG_DIR = Path(__file__).resolve().parent
REPO = INTEG_DIR.parent
CDK = REPO / "node_modules" / ".bin" / "cdk"
UPDATE_HINT = "make integ-snapshot (python integ/run.py snapshot)"
#: Files of an assembly kept in a snapshot: what a comparison reads. Asset copies (the services/
#: build context, the probe's bundle, integ-tests-alpha's 6 MB handler) are left out.
_SNAPSHOT_FILES = re.compile(r"manifest\.json|integ\.json|cdk\.out|tree\.json|.+\.(?:template|assets)\.json")
_SYNTH_TIMEOUT_SECONDS = 600
_DEPLOY_TIMEOUT_SECONDS = 3 * 3600


class IntegError(Exception):
    """A failure reported as one line, without a traceback."""


def tests(names: list[str]) -> list[Path]:
    found = sorted(INTEG_DIR.glob("integ_*.py"))
    if not names:
        return found
    by_name = {path.name: path for path in found} | {path.stem: path for path in found}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise IntegError(f"no such test {unknown[0]!r}; expected one of {[path.stem for path in found]}")
    return [by_name[name] for name in names]


def synth(test: Path, outdir: Path) -> Path:
    """Run the app as integ-runner does (``python3 integ/<test>`` from the repository) into ``outdir``."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, str(test.relative_to(REPO))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=_SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise IntegError(f"{test.name}: synthesis failed: {last}")
    return outdir


def snapshot_dir(test: Path) -> Path:
    return test.with_name(test.name + ".snapshot")


def write_snapshot(test: Path) -> Path:
    target = snapshot_dir(test)
    with tempfile.TemporaryDirectory(prefix="integ-synth-") as tmp:
        assembly = synth(test, Path(tmp))
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        for path in sorted(assembly.iterdir()):
            if path.is_file() and _SNAPSHOT_FILES.fullmatch(path.name):
                shutil.copy2(path, target / path.name)
    return target


def compare(expected: Path, actual: Path) -> list[str]:
    """Differences between two assemblies' test-case templates, as integ-runner compares them: the
    assertion stack is left out (its calls carry a timestamp), and asset hashes are replaced by
    their position among the assembly's assets, so an edit of app code (a new image hash) is no
    difference while any other change of a template is."""
    if not (expected / "integ.json").is_file():
        return [f"no snapshot in {expected.relative_to(REPO) if expected.is_relative_to(REPO) else expected}"]
    theirs, ours = _templates(expected), _templates(actual)
    differences = [f"{name}: in the snapshot, not in the app" for name in sorted(set(theirs) - set(ours))]
    differences += [f"{name}: in the app, not in the snapshot" for name in sorted(set(ours) - set(theirs))]
    for name in sorted(set(theirs) & set(ours)):
        differences += [f"{name}: {line}" for line in _diff(theirs[name], ours[name], "")]
    return differences


def _templates(assembly: Path) -> dict[str, Any]:
    integ = json.loads((assembly / "integ.json").read_text(encoding="utf-8"))
    assertion_stacks = {case.get("assertionStackName") for case in integ["testCases"].values()}
    hashes: list[str] = []
    for assets in sorted(assembly.glob("*.assets.json")):
        document = json.loads(assets.read_text(encoding="utf-8"))
        for kind in ("files", "dockerImages"):
            hashes += [key for key in document.get(kind, {}) if key not in hashes]
    placeholders = {digest: f"Asset{index}" for index, digest in enumerate(hashes, start=1)}
    pattern = re.compile("|".join(map(re.escape, placeholders))) if placeholders else None
    templates: dict[str, Any] = {}
    for path in sorted(assembly.glob("*.template.json")):
        stack = path.name.removesuffix(".template.json").removesuffix(".nested")
        if stack in assertion_stacks:
            continue
        text = path.read_text(encoding="utf-8")
        if pattern is not None:
            text = pattern.sub(lambda match: placeholders[match.group(0)], text)
        templates[path.name] = json.loads(text)
    return templates


def _diff(old: Any, new: Any, where: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{where}/{key}"
            if key not in new:
                lines.append(f"{path} removed")
            elif key not in old:
                lines.append(f"{path} added")
            else:
                lines += _diff(old[key], new[key], path)
        return lines
    if old != new:
        return [f"{where or '/'}: {_short(old)} -> {_short(new)}"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


# --- Deploy, assert, destroy ------------------------------------------------------------------------


def check_credentials(region: str | None) -> tuple[str, str]:
    """The account and region to deploy to, or an IntegError. Without credentials boto3 fails here,
    on this machine, before any request (so this check needs no network to say so)."""
    from boto3.session import Session
    from botocore.exceptions import BotoCoreError, ClientError

    session = Session(region_name=region) if region else Session()
    if session.get_credentials() is None:
        raise IntegError("no AWS credentials: make integ deploys to an AWS account (see docs/integration-tests.md)")
    if not session.region_name:
        raise IntegError("no AWS region: set AWS_REGION or pass --region")
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise IntegError(f"AWS credentials do not work: {error}") from None
    return identity["Account"], session.region_name


def deploy(test: Path, account: str, region: str, *, keep: bool) -> list[str]:
    """Deploy the test's stacks, then its assertion stack; the failed assertions (empty: passed).
    The stacks are destroyed afterwards unless ``keep``, also when deploying failed."""
    env = {
        **os.environ,
        "CDK_DEFAULT_ACCOUNT": account,
        "CDK_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    with tempfile.TemporaryDirectory(prefix="integ-deploy-") as tmp:
        assembly = synth(test, Path(tmp) / "cdk.out")
        integ = json.loads((assembly / "integ.json").read_text(encoding="utf-8"))
        (case,) = integ["testCases"].values()
        outputs = Path(tmp) / "assertion-results.json"
        app = ["--app", str(assembly)]
        try:
            _cdk(["deploy", *app, *case["stacks"], "--require-approval", "never", "--progress", "events"], env)
            # No rollback: every assertion reports, not only the first that fails.
            _cdk(
                [
                    *("deploy", *app, case["assertionStackName"], "--require-approval", "never", "--no-rollback"),
                    *("--outputs-file", str(outputs)),
                ],
                env,
            )
            results = json.loads(outputs.read_text(encoding="utf-8")).get(case["assertionStackName"], {})
            failed = [
                f"{name}: {json.loads(value).get('message', value)}"
                for name, value in results.items()
                if name.startswith("AssertionResults") and json.loads(value).get("status") != "success"
            ]
            if not any(name.startswith("AssertionResults") for name in results):
                failed.append("the assertion stack reported no assertion results")
            return failed
        except IntegError as error:
            return [str(error)]
        finally:
            if not keep:
                _cdk(["destroy", *app, "--all", "--force"], env)


def _cdk(arguments: list[str], env: dict[str, str]) -> None:
    print(f"  $ cdk {' '.join(arguments[:1] + arguments[3:])}", flush=True)
    result = subprocess.run([str(CDK), *arguments], cwd=REPO, env=env, timeout=_DEPLOY_TIMEOUT_SECONDS, check=False)
    if result.returncode != 0:
        raise IntegError(f"cdk {arguments[0]} failed (exit code {result.returncode})")


# --- Commands -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "snapshot", "deploy"])
    parser.add_argument("tests", nargs="*", help="test names (integ_seed_dns); default: all")
    parser.add_argument("--region", help="deploy: AWS region (default: AWS_REGION or the profile's)")
    parser.add_argument("--keep", action="store_true", help="deploy: leave the stacks deployed (to look at them)")
    options = parser.parse_args(argv)
    try:
        selected = tests(options.tests)
        if options.command == "snapshot":
            for test in selected:
                print(f"wrote {write_snapshot(test).relative_to(REPO)}")
            return 0
        if options.command == "check":
            return _check(selected)
        account, region = check_credentials(options.region)
        return _deploy_all(selected, account, region, keep=options.keep)
    except IntegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _check(selected: list[Path]) -> int:
    changed = 0
    for test in selected:
        with tempfile.TemporaryDirectory(prefix="integ-check-") as tmp:
            differences = compare(snapshot_dir(test), synth(test, Path(tmp)))
        print(f"{'CHANGED' if differences else 'ok':8} {test.stem}")
        for line in differences[:40]:
            print(f"    {line}")
        if len(differences) > 40:
            print(f"    ... and {len(differences) - 40} more")
        changed += bool(differences)
    if changed:
        print(f"{changed} of {len(selected)} snapshots differ; if the change is intended: {UPDATE_HINT}")
        return 1
    return 0


def _deploy_all(selected: list[Path], account: str, region: str, *, keep: bool) -> int:
    print(f"Deploying {len(selected)} integration tests to account {account}, {region}, one after another")
    failures: dict[str, list[str]] = {}
    for index, test in enumerate(selected, start=1):
        started = time.monotonic()
        print(f"[{index}/{len(selected)}] {test.stem}: deploy, assert{'' if keep else ', destroy'}", flush=True)
        failures[test.stem] = deploy(test, account, region, keep=keep)
        verdict = "passed" if not failures[test.stem] else "FAILED"
        print(f"[{index}/{len(selected)}] {test.stem}: {verdict} in {time.monotonic() - started:.0f} s", flush=True)
    print("\nSummary")
    for name, problems in failures.items():
        print(f"  {'PASS' if not problems else 'FAIL'}  {name}")
        for problem in problems:
            print(f"        {problem}")
    failed = sum(bool(problems) for problems in failures.values())
    print(f"{len(selected) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
