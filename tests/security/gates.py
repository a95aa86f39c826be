"""The security gates' tools, run as `make gates` runs them: cfn-lint (dev venv) and checkov (its own venv, offline).

Each takes many files in one process: startup (schemas, checks) is most of a run's CPU time, so the
session fixtures in conftest.py give every synthesized template of every mode to one run and each
test reads its own files' part of the result (:func:`lint_findings`, :meth:`CheckovRun.of_files`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT, VENV_BIN

# checkov lives in a virtual env of its own (its dependencies clash with ours): `make gates` makes it.
CHECKOV_PYTHON = REPO_ROOT / ".venv-checkov" / "bin" / "python"
OFFLINE_RUNNER = Path(__file__).with_name("checkov_offline.py")
TOOL_TIMEOUT_S = 600


def cfn_lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--format", "parseable", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
    )


def lint_findings(stdout: str, templates: Iterable[Path]) -> list[str]:
    """The lines of cfn-lint's parseable output (``<file>:<line>:...``) about ``templates``."""
    names = {str(path) for path in templates}
    return [line for line in stdout.splitlines() if line.split(":", 1)[0] in names]


@dataclass(frozen=True)
class CheckovRun:
    returncode: int
    reports: list[dict[str, Any]]
    network_attempts: str
    stderr: str

    def checks(self, kind: str) -> list[dict[str, Any]]:
        return [check for report in self.reports for check in report["results"][kind]]

    def of_files(self, files: Iterable[Path]) -> CheckovRun:
        """This run's results about ``files`` only (the return code, log and stderr stay the whole run's)."""
        wanted = {path.resolve() for path in files}
        kinds = ("passed_checks", "failed_checks", "skipped_checks")
        reports = [
            {
                **report,
                "results": {
                    kind: [c for c in report["results"][kind] if Path(c["file_abs_path"]).resolve() in wanted]
                    for kind in kinds
                },
            }
            for report in self.reports
        ]
        return replace(self, reports=reports)


def run_checkov(files: list[Path], work_dir: Path) -> CheckovRun:
    """checkov over ``files``, with no API key, no download, no update check and every socket refused."""
    assert CHECKOV_PYTHON.exists(), ".venv-checkov is missing: run `make gates` (or `make test`)"
    network_log = work_dir / "checkov-network.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BC_", "PRISMA_", "CKV_"))}
    env.update(
        CHECKOV_NETWORK_LOG=str(network_log),
        BC_SKIP_MAPPING="TRUE",
        CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE",
        CKV_IGNORE_HIDDEN_DIRECTORIES="TRUE",
        LOG_LEVEL="WARNING",
    )
    command = [
        str(CHECKOV_PYTHON),
        str(OFFLINE_RUNNER),
        "--skip-download",
        "--framework",
        "cloudformation",
        "dockerfile",
    ]
    for path in files:
        command += ["--file", str(path)]
    command += ["--output", "json"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    parsed = json.loads(result.stdout) if result.stdout.strip() else []
    reports = parsed if isinstance(parsed, list) else [parsed]
    attempts = network_log.read_text() if network_log.exists() else ""
    return CheckovRun(result.returncode, reports, attempts, result.stderr)
