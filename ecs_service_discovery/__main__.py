"""``python -m ecs_service_discovery``: the ``ecs-discovery`` command line tool."""

from ecs_service_discovery.cli.main import run

if __name__ == "__main__":
    run()
