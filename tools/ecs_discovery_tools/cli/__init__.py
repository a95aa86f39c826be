"""The ``ecs-discovery`` command line tool (``python -m ecs_service_discovery``).

Needs the ``cli`` extra: ``pip install 'ecs-service-discovery[cli]'`` (boto3, dnspython).
"""

from ecs_discovery_tools.cli.errors import CliError, ExitCode
from ecs_discovery_tools.cli.main import main, run

__all__ = ["CliError", "ExitCode", "main", "run"]
