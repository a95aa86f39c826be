"""The images of the repository's container apps, built from one Docker build context."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecs as ecs

#: The build context of every app image: the repository's services/ folder. Each app's Dockerfile
#: copies its own folder and services/common/; the backend also services/discovery-client/.
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


def docker_ignore_patterns(dockerfile: Path) -> list[str]:
    """The patterns of ``<dockerfile>.dockerignore``, the per-Dockerfile ignore file BuildKit reads."""
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def service_image(app: str) -> ecs.ContainerImage:
    """The image of ``services/<app>``, built from the services/ context at ``cdk deploy``.

    Synth only hashes the files; the per-Dockerfile ignore file is passed as the asset's exclude
    (Docker syntax), so the asset holds, and its hash follows, exactly the files the image gets:
    editing one app never rebuilds the other's image.
    """
    dockerfile = SERVICES_DIR / app / "Dockerfile"
    return ecs.ContainerImage.from_asset(
        str(SERVICES_DIR),
        file=f"{app}/Dockerfile",
        exclude=docker_ignore_patterns(dockerfile),
        ignore_mode=IgnoreMode.DOCKER,
    )
