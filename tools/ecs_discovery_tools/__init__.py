"""Tools beside the ecs-service-discovery library: the ``ecs-discovery`` command line tool
(:mod:`ecs_discovery_tools.cli`) and the local run of a synthesized app
(:mod:`ecs_discovery_tools.local`). Neither imports aws-cdk-lib."""
