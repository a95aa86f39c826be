"""A smaller run of benchmarks/load_backend.py: one worker stopped halfway, zero failed requests."""

from __future__ import annotations

import pytest

from tests.apps.harness import REPO_ROOT, load_module

load_backend = load_module(REPO_ROOT / "benchmarks" / "load_backend.py", "benchmarks_load_backend")


@pytest.mark.parametrize("stop_mode", ["kill", "term", "term-deregistered"])
def test_no_request_fails_when_a_worker_stops_under_load(tmp_path, stop_mode):
    report = load_backend.run_benchmark(total=300, concurrency=8, stop_mode=stop_mode, log_dir=tmp_path)

    assert report.not_sent == 0
    assert len(report.samples) == 300
    assert [(sample.status, sample.error) for sample in report.failures] == []
    # The stopped worker was really in rotation before, and the others carried on after.
    before = {sample.address for sample in report.samples if sample.started < report.stopped_at}
    after = {sample.address for sample in report.samples if sample.started > report.stopped_at}
    assert report.stopped_host in before
    assert after - {report.stopped_host} == set(load_backend.WORKER_HOSTS) - {report.stopped_host}
    if stop_mode == "kill":
        late = {sample.address for sample in report.samples if sample.started > report.stop_returned_at}
        assert late and report.stopped_host not in late
    else:
        # A stopping worker answers or refuses: no attempt on it ever waited for a timeout.
        assert not [attempt for attempt in report.failed_attempts if "timeout" in attempt]
