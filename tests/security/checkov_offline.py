"""Run checkov with every network connection and name lookup refused and recorded.

Started with .venv-checkov's Python (checkov's dependencies clash with the project's):
``.venv-checkov/bin/python tests/security/checkov_offline.py <checkov arguments>``.
Each attempt is appended to the file named by ``CHECKOV_NETWORK_LOG`` and fails with
PermissionError, so the gate proves checkov ran without leaving the machine.
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from typing import Any

_LOG = os.environ["CHECKOV_NETWORK_LOG"]
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}
_SENDS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


def _refuse_network(event: str, args: tuple[Any, ...]) -> None:
    if event in _SENDS:
        sock = args[0]
        # Local IPC (multiprocessing over AF_UNIX) stays allowed; only IP traffic is refused.
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
    elif event not in _LOOKUPS:
        return
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"pid {os.getpid()}: {event} {args!r}\n")
    raise PermissionError(f"the checkov gate runs offline: {event} refused")


sys.addaudithook(_refuse_network)

# The hook must be in place before checkov loads; checkov is installed in .venv-checkov only.
from checkov.main import Checkov  # noqa: E402  # pyright: ignore[reportMissingImports]

if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())
