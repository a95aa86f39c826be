"""benchmarks/local_run_load.py run as a user runs it, made tiny: its rolled-back phase (issue 24: a
blue/green deploy of the worker on Service Connect, rolled back with ``ecs-discovery local rollback``
during the bake) with the short timings (--fast, a template minute of 3 s, 100 requests a phase over 4
connections). Counts only: no request may fail and the operation must finish (the worker steady on
blue again, which only the rollback gives). No latency or duration is asserted; the benchmark prints
those. The other phases take longer and are left to the benchmark's own runs (docs/local-run.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.local.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "local_run_load.py"
# The script bounds each phase itself (PHASE_BUDGET_S); this only stops a hung interpreter.
RUN_TIMEOUT_S = 600


def test_the_rolled_back_phase_fails_no_request_and_finishes(assembly_dir: Path, tmp_path: Path) -> None:
    figures, kept = tmp_path / "figures.json", tmp_path / "runs"
    command = [
        sys.executable, str(SCRIPT), "--assembly", str(assembly_dir), "--fast", "--requests", "100",
        "--concurrency", "4", "--phases", "rollback", "--minute-seconds", "3",
        "--json", str(figures), "--keep", str(kept),
    ]  # fmt: skip

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)

    where = f"\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n(local run logs in {kept})"
    assert result.returncode == 0, where
    phases = {phase["kind"]: phase for phase in json.loads(figures.read_text())}
    assert list(phases) == ["baseline-sc", "rollback"], where
    for phase in phases.values():
        assert phase["requests"] >= 100 and phase["failed"] == 0 and phase["errors"] == {}, where
        assert phase["operation_done"] and phase["note"] is None, where
    # Only the worker answered: blue (the template's message) throughout, green only between the
    # shift and the rollback.
    assert set(phases["baseline-sc"]["messages"]) == {"Hello from worker"}, where
    assert set(phases["rollback"]["messages"]) <= {"Hello from worker", "rollback-r1"}, where
    assert phases["rollback"]["messages"]["Hello from worker"] > 0, where
