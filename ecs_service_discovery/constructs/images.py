"""Container images built from a Docker build context that several images share."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery.validation import invalid

# A relative POSIX path of plain names: no "..", no absolute path, no empty part.
_RELATIVE_FILE = re.compile(r"(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


def check_dockerfile(parameter: str, context: Path, dockerfile: object) -> None:
    """``dockerfile`` is a relative path to a file inside ``context``."""
    if not isinstance(dockerfile, str) or not _RELATIVE_FILE.fullmatch(dockerfile) or len(dockerfile) > 1024:
        raise invalid(
            parameter, dockerfile, "expected a relative path inside the build context, such as 'worker/Dockerfile'"
        )
    if not (context / dockerfile).is_file():
        raise invalid(parameter, dockerfile, f"expected a file of the build context {context}")


def docker_ignore_patterns(context: Path, dockerfile: str) -> list[str]:
    """The patterns of the build's ignore file, as BuildKit picks it: ``<dockerfile>.dockerignore``
    beside the Dockerfile when it exists, else ``.dockerignore`` at the top of the context."""
    per_dockerfile = context / (dockerfile + ".dockerignore")
    ignore_file = per_dockerfile if per_dockerfile.is_file() else context / ".dockerignore"
    if not ignore_file.is_file():
        return []
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def image_from_context(context: str | Path, *, dockerfile: str = "Dockerfile") -> ecs.ContainerImage:
    """An image built at ``cdk deploy`` from ``context`` with ``dockerfile`` (relative to it).

    ``ContainerImage.from_asset`` reads only ``<context>/.dockerignore``; BuildKit also reads a
    ``<dockerfile>.dockerignore`` beside the Dockerfile, which is how several images share one
    context and each still gets only its own files. This passes that file's patterns as the
    asset's exclude (Docker syntax), so the asset holds, and its hash follows, exactly the files
    the image gets: editing one image's files never rebuilds another's.
    """
    context = Path(context)
    check_dockerfile("dockerfile", context, dockerfile)
    patterns = docker_ignore_patterns(context, dockerfile)
    return ecs.ContainerImage.from_asset(
        str(context),
        file=str(PurePosixPath(dockerfile)),
        exclude=patterns or None,
        ignore_mode=IgnoreMode.DOCKER,
    )
