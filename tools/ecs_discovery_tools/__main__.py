"""``python -m ecs_discovery_tools``: the ``ecs-discovery`` command line tool."""

from ecs_discovery_tools.cli.main import run

if __name__ == "__main__":
    run()
