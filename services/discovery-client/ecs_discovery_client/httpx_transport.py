"""httpx integration: ``client.get("http://worker.corp:8080/x")`` resolved and called through the client.

Needs the ``httpx`` extra: ``pip install ecs-discovery-client[httpx]``.

    from ecs_discovery_client.httpx_transport import discovery_httpx_client, discovery_httpx_async_client

    with discovery_httpx_client() as client:
        client.get("http://worker.corp:8080/jobs")
    async with discovery_httpx_async_client() as client:
        await client.get("http://worker.corp/jobs")

The async transport runs the (blocking) client on a worker thread (``anyio.to_thread``, which
httpx already depends on): the event loop never blocks on DNS or on a slow task, and each call
keeps its deadline. A cancelled request's thread still ends by that deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
import httpx

from ecs_discovery_client._client import AttemptEvent, CallResult, DiscoveryClient, DiscoveryClients
from ecs_discovery_client._config import DiscoverySettings
from ecs_discovery_client._errors import DiscoveryError, ErrorCategory
from ecs_discovery_client._resolver import Deadline, Resolver

__all__ = [
    "AsyncDiscoveryTransport",
    "DiscoveryConnectError",
    "DiscoveryConnectTimeout",
    "DiscoveryHTTPXError",
    "DiscoveryReadError",
    "DiscoveryReadTimeout",
    "DiscoveryTransport",
    "discovery_httpx_async_client",
    "discovery_httpx_client",
]


class DiscoveryHTTPXError(httpx.TransportError):
    """The service could not be resolved or reached; ``discovery_error`` says which name and addresses
    failed. Raised as one of its subclasses, each also the httpx exception of the same meaning, as
    httpx's own ``HTTPTransport`` would raise it."""

    def __init__(self, error: DiscoveryError, request: httpx.Request) -> None:
        super().__init__(str(error), request=request)
        self.discovery_error = error


class DiscoveryConnectError(DiscoveryHTTPXError, httpx.ConnectError):
    """No address could be connected to (refused, unreachable, none usable in DNS): an ``httpx.ConnectError``."""


class DiscoveryConnectTimeout(DiscoveryHTTPXError, httpx.ConnectTimeout):
    """DNS or the connect ran out of time: an ``httpx.ConnectTimeout`` (an ``httpx.TimeoutException``)."""


class DiscoveryReadTimeout(DiscoveryHTTPXError, httpx.ReadTimeout):
    """The request was sent and no whole answer came before the deadline: an ``httpx.ReadTimeout``."""


class DiscoveryReadError(DiscoveryHTTPXError, httpx.ReadError):
    """The connection failed during the answer (reset, closed, cut short, too large): an ``httpx.ReadError``."""


_RAISED: dict[ErrorCategory, type[DiscoveryHTTPXError]] = {
    ErrorCategory.CONNECT: DiscoveryConnectError,
    ErrorCategory.CONNECT_TIMEOUT: DiscoveryConnectTimeout,
    ErrorCategory.READ_TIMEOUT: DiscoveryReadTimeout,
    ErrorCategory.READ: DiscoveryReadError,
}


class DiscoveryTransport(httpx.BaseTransport):
    """An httpx transport for ``http://`` URLs that sends each request through a :class:`DiscoveryClient`.

    The same rules as the requests adapter: the URL's host is a Cloud Map name (an IP address is
    used as it is), its port means A records on that port, no port means SRV; one deadline per
    call (``settings.deadline``, or less when the request's timeout has both a connect and a read
    part: their sum); the body is read whole within it. httpx decodes gzip/deflate itself, so
    ``max_body_bytes`` applies to the encoded body here. ``response.extensions["discovery"]`` is
    the :class:`CallResult`. Failures raise httpx's own exception types (``ConnectError``,
    ``ConnectTimeout``, ``ReadTimeout``, ``ReadError``), as the subclasses of :class:`DiscoveryHTTPXError`.
    """

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        resolver: Resolver | None = None,
        *,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
    ) -> None:
        self._clients = DiscoveryClients(settings, resolver, on_attempt=on_attempt)
        self.settings = self._clients.settings
        self.resolver = self._clients.resolver
        self.on_attempt = on_attempt

    def client_for(self, host: str, port: int | None) -> DiscoveryClient:
        """The (shared) client for one host and port; port None: from SRV."""
        return self._clients.client_for(host, port)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.send(request, request.read())

    def send(self, request: httpx.Request, body: bytes) -> httpx.Response:
        """Send ``request`` with its already-read ``body`` (the async transport calls this on a thread)."""
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"DiscoveryTransport calls http:// URLs only, got {url}", request=request)
        if not url.host:
            raise httpx.UnsupportedProtocol(f"no host in {url}", request=request)
        client = self.client_for(url.host, url.port)
        headers = {name: value for name, value in request.headers.items() if name.lower() != "host"}
        headers["Host"] = request.headers.get("host", url.netloc.decode("ascii"))
        timeout_total = _timeout_total(request.extensions.get("timeout"))
        deadline = Deadline(min(self.settings.deadline, timeout_total), clock=client.clock)
        try:
            result = client.request(
                request.method,
                url.raw_path.decode("ascii"),
                headers=headers,
                body=body or None,
                deadline=deadline,
                decode_content=False,  # httpx decodes gzip, deflate (and br, zstd when it can) itself
            )
        except DiscoveryError as error:
            raise _RAISED[error.category](error, request) from error
        return _response(result)

    def close(self) -> None:
        self._clients.close()


class AsyncDiscoveryTransport(httpx.AsyncBaseTransport):
    """The async form of :class:`DiscoveryTransport`: each call runs on a worker thread."""

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        resolver: Resolver | None = None,
        *,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
    ) -> None:
        self.sync = DiscoveryTransport(settings, resolver, on_attempt=on_attempt)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return await anyio.to_thread.run_sync(self.sync.send, request, body)

    async def aclose(self) -> None:
        self.sync.close()


def _response(result: CallResult) -> httpx.Response:
    return httpx.Response(
        status_code=result.status,
        headers=list(result.headers.items()),
        stream=httpx.ByteStream(result.body),
        extensions={"reason_phrase": result.reason.encode("latin-1", "replace"), "discovery": result},
    )


def _timeout_total(timeout: object) -> float:
    if not isinstance(timeout, Mapping):
        return float("inf")
    parts: Mapping[str, Any] = timeout  # pyright: ignore[reportUnknownVariableType]
    connect, read = parts.get("connect"), parts.get("read")
    if isinstance(connect, int | float) and isinstance(read, int | float):
        return float(connect) + float(read)
    return float("inf")


def discovery_httpx_client(
    settings: DiscoverySettings | None = None,
    *,
    resolver: Resolver | None = None,
    on_attempt: Callable[[AttemptEvent], None] | None = None,
    **client_options: Any,
) -> httpx.Client:
    """An ``httpx.Client`` whose ``http://`` URLs go through a :class:`DiscoveryTransport` (``https://``
    keeps httpx's own transport). ``settings`` default: from ``os.environ``. Proxies from the
    environment are not used (``trust_env=False``)."""
    transport = DiscoveryTransport(settings, resolver, on_attempt=on_attempt)
    return httpx.Client(mounts={"http://": transport}, trust_env=False, **client_options)


def discovery_httpx_async_client(
    settings: DiscoverySettings | None = None,
    *,
    resolver: Resolver | None = None,
    on_attempt: Callable[[AttemptEvent], None] | None = None,
    **client_options: Any,
) -> httpx.AsyncClient:
    """The async form of :func:`discovery_httpx_client`."""
    transport = AsyncDiscoveryTransport(settings, resolver, on_attempt=on_attempt)
    return httpx.AsyncClient(mounts={"http://": transport}, trust_env=False, **client_options)
