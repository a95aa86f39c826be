"""ecs-discovery-client: call services found by Cloud Map DNS, with what a service mesh proxy would add.

    from ecs_discovery_client import DiscoveryClient

    worker = DiscoveryClient.from_environ("worker")  # WORKER_HOST / WORKER_PORT, DNS_* and UPSTREAM_*
    result = worker.call("/jobs")                     # CallResult: status, body, address, attempts, ...

With requests (``pip install ecs-discovery-client[requests]``)::

    from ecs_discovery_client.requests_adapter import discovery_session

    session = discovery_session()
    session.get("http://worker.corp:8080/jobs")

With httpx (``[httpx]``): ``ecs_discovery_client.httpx_transport.discovery_httpx_client()`` and
``discovery_httpx_async_client()``.
"""

from ecs_discovery_client._client import IDEMPOTENT_METHODS, AttemptEvent, CallResult, DiscoveryClient
from ecs_discovery_client._clock import SYSTEM_CLOCK, Clock
from ecs_discovery_client._config import (
    TEST_TRAFFIC_HEADER,
    DiscoverySettings,
    ServiceTarget,
    dns_name_from_env,
    env_prefix,
    is_test_traffic_header,
    is_test_traffic_value,
)
from ecs_discovery_client._errors import (
    AttemptFailure,
    ConfigurationError,
    DiscoveryError,
    ErrorCategory,
    FailureKind,
    ResolutionError,
    ResolutionFailure,
    UnreachableError,
)
from ecs_discovery_client._resolver import Deadline, Endpoint, Resolver

__version__ = "0.1.0"

__all__ = [
    "IDEMPOTENT_METHODS",
    "SYSTEM_CLOCK",
    "TEST_TRAFFIC_HEADER",
    "AttemptEvent",
    "AttemptFailure",
    "CallResult",
    "Clock",
    "ConfigurationError",
    "Deadline",
    "DiscoveryClient",
    "DiscoveryError",
    "DiscoverySettings",
    "Endpoint",
    "ErrorCategory",
    "FailureKind",
    "ResolutionError",
    "ResolutionFailure",
    "Resolver",
    "ServiceTarget",
    "UnreachableError",
    "__version__",
    "dns_name_from_env",
    "env_prefix",
    "is_test_traffic_header",
    "is_test_traffic_value",
]
