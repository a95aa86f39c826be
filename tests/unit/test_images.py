"""image_from_context and the topology file's ``dockerfile``: one build context, one image's files each."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import ServiceSpec, ValidationError
from ecs_service_discovery.constructs import image_from_context
from ecs_service_discovery.constructs.images import docker_ignore_patterns


@pytest.fixture
def context(tmp_path: Path) -> Path:
    for app in ("one", "two"):
        (tmp_path / app).mkdir()
        (tmp_path / app / "Dockerfile").write_text(f"FROM scratch\nCOPY {app}/app.py common/ /\n")
        (tmp_path / app / "app.py").write_text(f"print('{app}')\n")
        (tmp_path / app / "Dockerfile.dockerignore").write_text(
            f"# only {app}'s files\n*\n!{app}/Dockerfile\n!{app}/app.py\n!common\n"
        )
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "lib.py").write_text("x = 1\n")
    return tmp_path


def _staged(context: Path, dockerfile: str) -> tuple[str, set[str]]:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("C", image=image_from_context(context, dockerfile=dockerfile))
    assembly = app.synth()
    (asset,) = json.loads((Path(assembly.directory) / "S.assets.json").read_text())["dockerImages"].values()
    staged = Path(assembly.directory) / asset["source"]["directory"]
    return asset["source"]["dockerFile"], {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}


def test_each_image_gets_only_the_files_its_ignore_file_lets_in(context: Path) -> None:
    dockerfile, files = _staged(context, "one/Dockerfile")
    assert dockerfile == "one/Dockerfile"
    assert files == {"one/Dockerfile", "one/app.py", "common/lib.py"}


def test_editing_one_image_does_not_change_the_others_hash(context: Path) -> None:
    before = cdk.FileSystem.fingerprint(
        str(context), exclude=docker_ignore_patterns(context, "two/Dockerfile"), ignore_mode=cdk.IgnoreMode.DOCKER
    )
    (context / "one" / "app.py").write_text("print('changed')\n")
    after = cdk.FileSystem.fingerprint(
        str(context), exclude=docker_ignore_patterns(context, "two/Dockerfile"), ignore_mode=cdk.IgnoreMode.DOCKER
    )
    assert before == after
    (context / "common" / "lib.py").write_text("x = 2\n")
    shared_changed = cdk.FileSystem.fingerprint(
        str(context), exclude=docker_ignore_patterns(context, "two/Dockerfile"), ignore_mode=cdk.IgnoreMode.DOCKER
    )
    assert shared_changed != after


def test_without_a_per_dockerfile_ignore_file_the_contexts_dockerignore_applies(context: Path) -> None:
    (context / "one" / "Dockerfile.dockerignore").unlink()
    (context / ".dockerignore").write_text("two\n")
    assert docker_ignore_patterns(context, "one/Dockerfile") == ["two"]
    (context / ".dockerignore").unlink()
    assert docker_ignore_patterns(context, "one/Dockerfile") == []


@pytest.mark.parametrize(
    "dockerfile",
    ["../one/Dockerfile", "/etc/passwd", "one/../one/Dockerfile", "one/Dockerfile\n", "", "one//Dockerfile",
     "one/Dockerfile;true", "missing/Dockerfile", "one", 3, None],
)  # fmt: skip
def test_a_dockerfile_outside_the_context_or_missing_is_refused(context: Path, dockerfile: object) -> None:
    with pytest.raises(ValidationError, match=r"^dockerfile=.* is not valid: expected"):
        image_from_context(context, dockerfile=dockerfile)  # type: ignore[arg-type]


def test_a_topology_entry_names_its_dockerfile_in_a_shared_context(context: Path) -> None:
    spec = ServiceSpec(name="one", source=context, dockerfile="one/Dockerfile")
    assert spec.dockerfile == "one/Dockerfile"
    with pytest.raises(ValidationError, match=r"dockerfile='\.\./x' is not valid"):
        ServiceSpec(name="one", source=context, dockerfile="../x")
    with pytest.raises(ValidationError, match=r"dockerfile='one/Dockerfile' is not valid: expected only with source"):
        ServiceSpec(name="one", image="nginx:1.27", dockerfile="one/Dockerfile")
