"""Small option types for DiscoverableFargateService."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DnsRecords(enum.Enum):
    """Which DNS records Cloud Map keeps for each task."""

    #: An A record per task IP and an SRV record per task IP and container port (the default).
    A_AND_SRV = "A_AND_SRV"
    #: An A record per task IP only: callers must know the port.
    A = "A"
    #: An SRV record per task IP and port only (plus the A record Route 53 needs behind it).
    SRV = "SRV"


@dataclass(frozen=True)
class ServiceScaling:
    """Target-tracking scaling of a service's task count.

    Tasks that scale in stop like any other: ECS marks them unhealthy in Cloud Map
    and deregisters them, so they leave DNS through the same managed health path.

    :param min_capacity: fewest tasks. Default: the service's ``desired_count``.
    :param max_capacity: most tasks (at most 1000). Default: ``10``.
    :param cpu_target_percent: average CPU utilization to hold (1-100). Default: ``70``.
    :param memory_target_percent: average memory utilization to hold (1-100).
        Default: no memory-based scaling.
    :param scale_in_cooldown_seconds: wait after a scale-in. Default: ``120``.
    :param scale_out_cooldown_seconds: wait after a scale-out. Default: ``60``.
    """

    min_capacity: int | None = None
    max_capacity: int = 10
    cpu_target_percent: int = 70
    memory_target_percent: int | None = None
    scale_in_cooldown_seconds: int = 120
    scale_out_cooldown_seconds: int = 60
