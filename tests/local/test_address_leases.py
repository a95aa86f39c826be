"""Two local runs on one machine never give one address:port to two tasks (a free port is not enough:
a run's gunicorn binds it only after the check, and another run could take it in between)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ecs_discovery_tools.local.deployment import AddressLeases, allocate_address

PORT = 18089


def test_a_second_run_skips_an_address_the_first_has_leased_though_nothing_listens(tmp_path: Path) -> None:
    first, second = AddressLeases(tmp_path), AddressLeases(tmp_path)
    mine = allocate_address(PORT, set(), first=200, leases=first)
    # Nothing is bound yet (gunicorn has not started): the port is free, and still not given out twice.
    theirs = allocate_address(PORT, set(), first=200, leases=second)
    assert mine != theirs
    first.release(mine)
    assert allocate_address(PORT, set(), first=200, leases=second) == mine


def test_without_leases_two_runs_get_the_same_address(tmp_path: Path) -> None:
    """What the leases prevent: the port check alone gives both runs one address."""
    assert allocate_address(PORT, set(), first=200) == allocate_address(PORT, set(), first=200)


def test_a_lease_ends_with_its_holder_however_it_exits(tmp_path: Path) -> None:
    code = (
        "import os, sys, signal; from pathlib import Path; "
        "from ecs_discovery_tools.local.deployment import AddressLeases; "
        f"AddressLeases(Path({str(tmp_path)!r})).take('127.0.0.201', {PORT}); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    holder = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert holder.returncode == -9
    assert AddressLeases(tmp_path).take("127.0.0.201", PORT)


def test_the_lease_files_are_private_and_not_followed(tmp_path: Path) -> None:
    leases = AddressLeases(tmp_path / "leases")
    assert leases.take("127.0.0.202", PORT)
    assert (tmp_path / "leases").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "leases" / f"127.0.0.202_{PORT}").stat().st_mode & 0o777 == 0o600
    os.symlink(tmp_path / "elsewhere", tmp_path / "leases" / f"127.0.0.203_{PORT}")
    assert leases.take("127.0.0.203", PORT) is False  # O_NOFOLLOW: a planted link is never written through
    assert not (tmp_path / "elsewhere").exists()
