"""Reading AWS Cloud Map through its API: namespaces, their services, and each service's instances.

One reader for every part of the project that asks the Cloud Map API what is registered (the
``ecs-discovery`` CLI and the backend's discovery page). Needs boto3: ``pip install
'ecs-discovery-client[cloudmap]'``.

    from ecs_discovery_client.cloudmap import CloudMapReader, make_client

    reader = CloudMapReader(make_client(region="eu-west-1"))
    namespace = reader.find_namespace("corp")
    for service in reader.list_services(namespace):
        listing = reader.list_instances(namespace, service)

Read as the API reference (botocore's service model) defines it, not as any one stand-in answers:

* **Services of a namespace** come from ``ListServices`` with the filter ``NAMESPACE_ID EQ <id>``, and
  the answer is trusted. ``ServiceSummary`` has no ``NamespaceId``; ``DnsConfig.NamespaceId`` is
  deprecated and absent from services created with the top-level ``NamespaceId`` (CloudFormation,
  the console, the API, Service Connect); services of HTTP namespaces and Service Connect's have no
  ``DnsConfig`` at all. None of these fields is used to filter. AWS filters after it took
  ``MaxResults`` services, so a page may be empty and still carry a ``NextToken``: every page is
  read, up to ``max_pages``.
* **Instances** come from ``DiscoverInstances`` with ``HealthStatus=ALL`` (one call per service, the
  health status of each instance included, up to 1,000 instances: the API's ``MaxResults`` ceiling)
  when ``instances_api="discover"`` (the default). AWS documents a request quota of its own for it
  (a bucket of 2,000 requests refilled at 1,000 per second per account and Region:
  https://docs.aws.amazon.com/cloud-map/latest/dg/throttling.html), separate from the control-plane
  operations' such as ``ListInstances``; the listing ``ListInstances`` + ``GetInstancesHealthStatus``
  needs two calls or more per service. ``DiscoverInstances`` is served by the data-plane endpoint
  (``data-servicediscovery.<region>.amazonaws.com``: botocore adds the ``data-`` host prefix from the
  model), needs the namespace's ``HttpName`` (``Properties.HttpProperties.HttpName``, which differs
  from ``Name`` when a name was reused) and the service's name, and the IAM action
  ``servicediscovery:DiscoverInstances``. When that action is denied, the reader falls back to
  ``ListInstances`` + ``GetInstancesHealthStatus`` for good (``instances_api="list"`` chooses them
  outright); when DiscoverInstances answers ServiceNotFound for a service ListServices just listed
  (the data plane has not caught up with a new service), for that one listing.
  ``DiscoverInstancesRevision`` is not used to skip unchanged listings: its revision "updates" when an
  instance is registered or deregistered, but "health status updates don't update InstancesRevision"
  (DiscoverInstancesRevisionResponse in botocore's model), and the listings show health.
  Sources: botocore/data/servicediscovery/2017-03-14/service-2.json (operations DiscoverInstances,
  DiscoverInstancesRevision, ListServices, ListInstances; shapes ServiceSummary, DnsConfig,
  ServiceFilter, HttpProperties) and the throttling page above.
* **Attributes** are kept as registered; the ones ECS writes have properties on :class:`Instance`
  (address, port, zone, task definition family, cluster, ECS service, Region). Values are parsed
  strictly: a port is ASCII digits 1-65535 or nothing, an address a valid IP address or nothing.

The package: ``_aws`` makes the boto3 client and maps botocore's errors, ``_model`` holds the values
and parses the API's shapes into them, ``_reader`` reads. Import from ``ecs_discovery_client.cloudmap``.

Everything the registry returns (names, attribute values) and every AWS error message is untrusted
text: show it through :func:`printable` on a terminal, and let an HTML template escape it.
"""

from ecs_discovery_client.cloudmap._aws import MAX_ATTEMPTS_LIMIT, CloudMapConfigError, CloudMapError, make_client
from ecs_discovery_client.cloudmap._model import (
    ATTR_AVAILABILITY_ZONE,
    ATTR_CLUSTER_NAME,
    ATTR_EC2_INSTANCE_ID,
    ATTR_ECS_SERVICE_NAME,
    ATTR_IPV4,
    ATTR_IPV6,
    ATTR_PORT,
    ATTR_REGION,
    ATTR_TASK_DEFINITION_FAMILY,
    ECS_ATTRIBUTES,
    DnsRecord,
    Instance,
    InstanceListing,
    Namespace,
    Service,
    is_dns_name,
    parse_port,
    printable,
)
from ecs_discovery_client.cloudmap._reader import DEFAULT_MAX_PAGES, DISCOVER_MAX_RESULTS, PAGE_SIZE, CloudMapReader

__all__ = [
    "ATTR_AVAILABILITY_ZONE",
    "ATTR_CLUSTER_NAME",
    "ATTR_EC2_INSTANCE_ID",
    "ATTR_ECS_SERVICE_NAME",
    "ATTR_IPV4",
    "ATTR_IPV6",
    "ATTR_PORT",
    "ATTR_REGION",
    "ATTR_TASK_DEFINITION_FAMILY",
    "DEFAULT_MAX_PAGES",
    "DISCOVER_MAX_RESULTS",
    "ECS_ATTRIBUTES",
    "MAX_ATTEMPTS_LIMIT",
    "PAGE_SIZE",
    "CloudMapConfigError",
    "CloudMapError",
    "CloudMapReader",
    "DnsRecord",
    "Instance",
    "InstanceListing",
    "Namespace",
    "Service",
    "is_dns_name",
    "make_client",
    "parse_port",
    "printable",
]
