"""The images of the repository's container apps, built from one Docker build context."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecs as ecs

from ecs_service_discovery.constructs import image_from_context

#: The build context of every app image: the repository's services/ folder. Each app's Dockerfile
#: copies its own folder and services/common/; the backend also services/discovery-client/.
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


def service_image(app: str) -> ecs.ContainerImage:
    """The image of ``services/<app>``, built from the services/ context at ``cdk deploy`` with
    ``<app>/Dockerfile`` and only the files its ``Dockerfile.dockerignore`` lets in."""
    return image_from_context(SERVICES_DIR, dockerfile=f"{app}/Dockerfile")
