"""The hosts file, read as the C library reads it for ``hosts: files dns``: consulted before DNS.

ECS Service Connect maps each client alias (``worker.corp``) to an address of the task's own proxy
by writing it into the task's ``/etc/hosts`` (the ECS agent adds Docker ``ExtraHosts`` entries from
the task's Service Connect DNS configuration); the name has no DNS record of that meaning. A client
that asked DNS only would miss the alias (NXDOMAIN in ``service-connect`` mode) or call the tasks
directly past the proxy (in ``both``).

The format is hosts(5): an IP address, then one or more names, separated by blanks or tabs; ``#``
starts a comment anywhere on a line. Names are compared in lower case without a trailing dot. A
name on several lines gets every address, in file order. Lines that are not that (no name, an
address :mod:`ipaddress` does not take, bytes that are not UTF-8, a NUL) are skipped, one at a
time, and so is a name that is an IP address (an address is called as it is, never looked up). At
most :data:`MAX_HOSTS_FILE_BYTES` are read; what is beyond, and a line cut there, is
ignored. Only a regular file is read: a FIFO or a device at the path is treated as an empty file
(reading them could block or never end).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import threading

from ecs_discovery_client._clock import SYSTEM_CLOCK, Clock
from ecs_discovery_client._config import DEFAULT_HOSTS_FILE, is_dns_name

__all__ = ["DEFAULT_HOSTS_FILE", "HOSTS_RECHECK_SECONDS", "MAX_HOSTS_FILE_BYTES", "HostsFile"]

logger = logging.getLogger("ecs_discovery_client")

#: A task's hosts file is a few hundred bytes; this bounds the memory and time a hostile or broken
#: one can cost (read once per change, not per call).
MAX_HOSTS_FILE_BYTES = 1024 * 1024
#: The file's size, modification time and inode are checked at most this often (on the resolver's
#: clock); it is read again only when one of them changed.
HOSTS_RECHECK_SECONDS = 1.0

# What identifies one version of the file without reading it; None: nothing readable there.
_Signature = tuple[int, int, int, int] | None
_Table = dict[str, tuple[str, ...]]


def parse_hosts(data: bytes) -> _Table:
    """Names (lower case, no trailing dot) to their addresses, in file order, from hosts(5) text."""
    if len(data) > MAX_HOSTS_FILE_BYTES:
        # A line cut at the limit could name a shorter name or a different address: drop it too.
        data = data[:MAX_HOSTS_FILE_BYTES].rpartition(b"\n")[0]
    table: dict[str, list[str]] = {}
    for raw in data.split(b"\n"):
        line = raw.partition(b"#")[0]
        if b"\0" in line:
            continue
        # bytes.split() splits on ASCII whitespace only: blanks and tabs, and a CR of a CRLF file.
        fields = line.split()
        if len(fields) < 2:
            continue
        try:
            address_text = fields[0].decode("ascii")
            address = str(ipaddress.ip_address(address_text))
            names = [field.decode("utf-8") for field in fields[1:]]
        except (UnicodeDecodeError, ValueError):
            continue
        for name in names:
            key = name.rstrip(".").lower()
            # An IP address is called as it is, never looked up, so a line cannot rename one.
            if not is_dns_name(key) or _is_ip_address(key):
                continue
            addresses = table.setdefault(key, [])
            if address not in addresses:
                addresses.append(address)
    return {name: tuple(addresses) for name, addresses in table.items()}


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class HostsFile:
    """One hosts file, kept in memory and read again when it changes; thread-safe.

    :meth:`addresses` costs a clock reading and a dictionary lookup; at most every
    ``recheck_interval`` seconds one caller also checks the file's size, modification time and
    inode, and reads it again (at most :data:`MAX_HOSTS_FILE_BYTES`) when they changed.
    """

    def __init__(
        self,
        path: str = DEFAULT_HOSTS_FILE,
        *,
        clock: Clock = SYSTEM_CLOCK,
        recheck_interval: float = HOSTS_RECHECK_SECONDS,
    ) -> None:
        self.path = path
        self.clock = clock
        self.recheck_interval = recheck_interval
        self._lock = threading.Lock()
        self._table: _Table = {}
        self._signature: _Signature = None
        self._next_check = float("-inf")

    def addresses(self, name: str) -> tuple[str, ...] | None:
        """The addresses ``name`` (normalized: lower case, no trailing dot) has in the file; None
        when the file does not name it. The same tuple object until the file changes."""
        if self.clock.monotonic() >= self._next_check:
            self._check()
        return self._table.get(name)

    def _check(self) -> None:
        with self._lock:
            now = self.clock.monotonic()
            if now < self._next_check:
                return  # another thread checked meanwhile
            self._next_check = now + self.recheck_interval
            try:
                found = os.stat(self.path)
            except OSError:
                found = None
            signature: _Signature = None
            if found is not None:
                signature = (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)
            if signature == self._signature:
                return
            self._signature = signature
            self._table = parse_hosts(self._read()) if found is not None else {}

    def _read(self) -> bytes:
        # O_NONBLOCK: a FIFO swapped in after the stat must not block the open; fstat then refuses it.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
        try:
            descriptor = os.open(self.path, flags)
        except OSError as error:
            logger.warning("hosts file %s cannot be opened (%s); using DNS only", self.path[:200], error.strerror)
            return b""
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                logger.warning("hosts file %s is not a regular file; using DNS only", self.path[:200])
                return b""
            chunks: list[bytes] = []
            size = 0
            # One byte past the limit says whether the file goes on (the last line may be cut).
            while size <= MAX_HOSTS_FILE_BYTES:
                chunk = os.read(descriptor, MAX_HOSTS_FILE_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        except OSError as error:
            logger.warning("hosts file %s cannot be read (%s); using DNS only", self.path[:200], error.strerror)
            return b""
        finally:
            os.close(descriptor)
