"""Run one of the service apps under a real gunicorn on a loopback address.

Each app runs in its own process group so that stopping it (or simulating a task
crash) reaches the gunicorn master and all its workers, and nothing outlives the
caller: every process started here is also killed at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

__all__ = ["GunicornProcess", "free_port"]

_running: weakref.WeakSet[GunicornProcess] = weakref.WeakSet()
# Readiness checks go straight to loopback even when HTTP(S)_PROXY is set.
_direct_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(hosts: Sequence[str]) -> int:
    """A TCP port that is free on every one of ``hosts`` right now (several "tasks" share one port)."""
    for _ in range(50):
        probes = []
        try:
            first = socket.socket()
            probes.append(first)
            first.bind((hosts[0], 0))
            port = first.getsockname()[1]
            for host in hosts[1:]:
                probe = socket.socket()
                probes.append(probe)
                probe.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise OSError(f"no common free port on {', '.join(hosts)}")


class GunicornProcess:
    """``gunicorn -c ../common/gunicorn.conf.py app:app`` started in ``app_dir`` with BIND_HOST/PORT set
    (``-c gunicorn.conf.py`` for an app folder without a ``common`` folder beside it)."""

    def __init__(
        self,
        app_dir: str | os.PathLike[str],
        *,
        host: str,
        port: int,
        env: Mapping[str, str] | None = None,
        output: IO[bytes] | None = None,
        python: str = sys.executable,
        die_with_parent: bool = False,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host} is not a loopback address")
        self.app_dir = Path(app_dir)
        self.host = host
        self.port = port
        self.env = {
            **os.environ,
            # Keep the source tree clean; the images run the same way.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
            "BIND_HOST": host,
            "PORT": str(port),
        }
        self.output = output
        self.python = python
        # Linux: the kernel SIGKILLs the server when the thread that started it ends, so a
        # local run killed with SIGKILL leaves no task behind. Start it from a long-lived thread.
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self.process: subprocess.Popen[bytes] | None = None

    def config_file(self) -> str:
        """The shared gunicorn.conf.py the images run (``../common/``), else one in the app's folder."""
        if (self.app_dir.parent / "common" / "gunicorn.conf.py").is_file():
            return "../common/gunicorn.conf.py"
        return "gunicorn.conf.py"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.pid

    def start(self) -> Self:
        global _LIBC_FOR_CHILD
        if self.die_with_parent and _LIBC_FOR_CHILD is None:
            _LIBC_FOR_CHILD = _libc()  # loaded here, never in the forked child
        self.process = subprocess.Popen(
            [self.python, "-m", "gunicorn", "-c", self.config_file(), "app:app"],
            cwd=self.app_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.output if self.output is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.output is not None else subprocess.DEVNULL,
            start_new_session=True,  # own process group: signals reach the master and its workers
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        _running.add(self)
        return self

    def wait_ready(self, path: str = "/health", timeout: float = 20.0) -> Self:
        """Poll ``path`` until it answers 200; fail early if gunicorn exits."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"gunicorn for {self.app_dir.name} on {self.base_url} exited with {code}")
            try:
                with _direct_opener.open(self.base_url + path, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError) as error:
                last_error = error
            time.sleep(0.05)
        raise TimeoutError(f"{self.app_dir.name} on {self.base_url} not ready after {timeout}s: {last_error}")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the gunicorn master: graceful stop, in-flight requests finish (ECS StopTask)."""
        if self.is_running():
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crashed task, connections reset mid-request."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.wait(timeout=timeout)

    def stop(self, grace: float = 5.0) -> None:
        """Graceful stop, then SIGKILL to the group for anything left."""
        if self.process is None:
            return
        if self.is_running():
            self.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        # Workers may outlive a master killed earlier; the group reaches them too.
        self.kill()
        _running.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: no imports, no locks, one system call.
    _LIBC_FOR_CHILD.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_LIBC_FOR_CHILD: Any = None


@atexit.register
def _kill_leftovers() -> None:
    for app in list(_running):
        app.kill()
