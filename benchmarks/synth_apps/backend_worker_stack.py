"""This project's backend/worker system: ecs_service_discovery.ServiceDiscoveryStack.

The stack app.py deploys as "ServiceDiscovery", without app.py's cdk-nag plugin (policy
validation is a gate of its own, not part of what the library costs).
"""

import aws_cdk as cdk

from stacks import ServiceDiscoveryStack

app = cdk.App()
ServiceDiscoveryStack(app, "ServiceDiscovery")
app.synth()
