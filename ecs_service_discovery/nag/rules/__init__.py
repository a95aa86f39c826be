"""The rules of the ServiceDiscovery pack, one per module (``sdN_<what it checks>.py``).

Each module holds ``RULE`` (ID, info, explanation, reference) and a pure check function
of one :class:`~ecs_service_discovery.nag.template.TemplateResource`, re-exported here.
"""

from ecs_service_discovery.nag.rules.sd1_dns_record_ttl import dns_record_ttl
from ecs_service_discovery.nag.rules.sd2_ecs_registry_health_check import ecs_registry_health_check
from ecs_service_discovery.nag.rules.sd3_ecs_registry_srv_port import ecs_registry_srv_port
from ecs_service_discovery.nag.rules.sd4_instances_per_service_quota import instances_per_service_quota
from ecs_service_discovery.nag.rules.sd5_stop_timeout_covers_ttl import stop_timeout_covers_ttl
from ecs_service_discovery.nag.rules.sd6_service_connect_name_collision import service_connect_name_collision
from ecs_service_discovery.nag.rules.sd7_namespace_negative_cache_ttl import namespace_negative_cache_ttl

__all__ = [
    "dns_record_ttl",
    "ecs_registry_health_check",
    "ecs_registry_srv_port",
    "instances_per_service_quota",
    "namespace_negative_cache_ttl",
    "service_connect_name_collision",
    "stop_timeout_covers_ttl",
]
