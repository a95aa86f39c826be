"""What the images are built from: Dockerfiles (read, no Docker engine here), one build context
(services/) with per-image ignore files, pins, gunicorn settings, and that the apps write no files."""

from __future__ import annotations

import importlib.metadata
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import aws_cdk as cdk
import pytest

from ecs_service_discovery.constructs.health_check import default_health_check_command
from requirements.lock import read_pins
from tests.apps.harness import BACKEND_DIR, COMMON_DIR, REPO_ROOT, SERVICES_DIR, SPARE_HOSTS, WORKER_DIR

APP_DIRS = pytest.mark.parametrize("app_dir", [BACKEND_DIR, WORKER_DIR], ids=["backend", "worker"])
CLIENT_DIR = SERVICES_DIR / "discovery-client"
# What each image is made of, relative to the build context (services/).
IMAGE_SOURCES = {
    "flask-backend": ("flask-backend", "common", "discovery-client"),
    "flask-worker": ("flask-worker", "common"),
}


def dockerfile_instructions(app_dir: Path) -> list[tuple[str, str]]:
    text = (app_dir / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def ignore_patterns(app_dir: Path) -> list[str]:
    """The per-Dockerfile ignore file (BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile)."""
    lines = (app_dir / "Dockerfile.dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def staged_files(context: Path, app_dir: Path, staging: Path) -> set[str]:
    """The files CDK stages (and hashes) for the image into ``staging``: the context minus the ignore
    file's patterns, matched by CDK's own Docker-style matcher, plus what DockerImageAsset always keeps."""
    exclude = [*ignore_patterns(app_dir), "!Dockerfile", "!.dockerignore"]
    cdk.FileSystem.copy_directory(
        str(context), str(staging), cdk.CopyOptions(exclude=exclude, ignore_mode=cdk.IgnoreMode.DOCKER)
    )
    return {path.relative_to(staging).as_posix() for path in staging.rglob("*") if path.is_file()}


def fingerprint(context: Path, app_dir: Path) -> str:
    exclude = [*ignore_patterns(app_dir), "!Dockerfile", "!.dockerignore"]
    return cdk.FileSystem.fingerprint(str(context), exclude=exclude, ignore_mode=cdk.IgnoreMode.DOCKER)


def source_files(folder: Path) -> set[str]:
    """The files of ``folder`` a build can use: what git would track (no caches or build output)."""
    skipped = {"__pycache__", "build", "dist"}
    return {
        path.relative_to(SERVICES_DIR).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and not skipped & set(path.relative_to(folder).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
        and path.suffix != ".pyc"
    }


@APP_DIRS
def test_dockerfile_is_pinned_non_root_and_self_checking(app_dir):
    instructions = dockerfile_instructions(app_dir)
    keywords = [keyword for keyword, _ in instructions]
    (base,) = [rest for keyword, rest in instructions if keyword == "FROM"]
    version = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-bookworm", base)
    assert version, base
    # The image runs a Python the project supports (requires-python >= 3.11; CI tests 3.11 and 3.12).
    assert (int(version[1]), int(version[2])) >= (3, 11)

    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1])
    assert keywords.index("USER") > max(i for i, keyword in enumerate(keywords) if keyword == "RUN")
    assert "ADD" not in keywords
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert not any("apt-get" in rest or "curl" in rest for rest in runs)
    assert any("pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt" in rest for rest in runs)
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    assert ("EXPOSE", "8080") in instructions
    # The repository's layout, so that the image and the local run start the app the same way.
    assert ("WORKDIR", f"/app/{app_dir.name}") in instructions
    assert instructions[-1] == ("CMD", '["gunicorn", "-c", "../common/gunicorn.conf.py", "app:app"]')
    # The construct mounts a volume on /tmp; declared here, Fargate gives it the image's 1777 /tmp.
    assert ("VOLUME", '["/tmp"]') in instructions


@APP_DIRS
def test_image_health_check_is_the_constructs_default_command(app_dir):
    # One probe: Docker runs a shell-form HEALTHCHECK CMD as ["CMD-SHELL", <text>], as ECS does the
    # task definition's; same text for the default port and path.
    (healthcheck,) = [rest for keyword, rest in dockerfile_instructions(app_dir) if keyword == "HEALTHCHECK"]
    options, _, command = healthcheck.partition(" CMD ")
    assert ["CMD-SHELL", command] == default_health_check_command(8080, "/health")
    # The construct's default timings (interval 10 s, timeout 5 s, start period 15 s, 3 retries).
    assert options.split() == ["--interval=10s", "--timeout=5s", "--start-period=15s", "--retries=3"]
    assert not (app_dir / "healthcheck.py").exists()  # the old second probe is gone


@APP_DIRS
def test_build_context_holds_exactly_what_the_dockerfile_copies(app_dir, tmp_path):
    staged = staged_files(SERVICES_DIR, app_dir, tmp_path / "staged")
    expected = {f"{app_dir.name}/Dockerfile", f"{app_dir.name}/Dockerfile.dockerignore"}
    for folder in IMAGE_SOURCES[app_dir.name]:
        expected |= {
            name
            for name in source_files(SERVICES_DIR / folder)
            if folder == "discovery-client" or name.endswith(".py") or name.endswith("/requirements.txt")
        }
    assert staged == expected
    # Every COPY source is in the context, and a glob matches something.
    copies = [rest.split() for keyword, rest in dockerfile_instructions(app_dir) if keyword == "COPY"]
    assert copies
    for *sources, _ in copies:
        for source in sources:
            pattern = re.compile(re.escape(source).replace(r"\*", "[^/]*") + "(/.*)?")
            assert any(pattern.fullmatch(name) for name in staged), f"COPY {source}: not in the build context"
    # The shared code is copied once per image, from common/, to /app/common.
    assert ["common/*.py", "/app/common/"] in copies
    assert not list(app_dir.glob("gunicorn.conf.py")) and not list(app_dir.glob("request_log.py"))


@pytest.fixture(scope="module")
def context_copy(tmp_path_factory) -> Path:
    """A copy of the build context's source files, to change without touching the repository."""
    context = tmp_path_factory.mktemp("context") / "services"
    for name in source_files(SERVICES_DIR):
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SERVICES_DIR / name, target)
    return context


@pytest.mark.parametrize(
    ("changed_file", "changes"),
    [
        ("flask-worker/app.py", {"flask-worker"}),
        ("flask-worker/requirements.txt", {"flask-worker"}),
        ("flask-backend/discovery_page.py", {"flask-backend"}),
        ("flask-backend/Dockerfile", {"flask-backend"}),
        ("common/request_log.py", {"flask-backend", "flask-worker"}),
        ("discovery-client/pyproject.toml", {"flask-backend"}),
        # Files no image copies change no hash.
        ("flask-worker/NOTES.md", set()),
        ("common/__pycache__/request_log.cpython-311.pyc", set()),
        ("flask-backend/tests.txt", set()),
    ],
)
def test_each_image_hash_changes_only_with_its_own_files(context_copy, changed_file, changes):
    apps = {name: context_copy / name for name in IMAGE_SOURCES}
    before = {name: fingerprint(context_copy, app_dir) for name, app_dir in apps.items()}
    target = context_copy / changed_file
    original = target.read_bytes() if target.exists() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.write_bytes((original or b"") + b"\n# changed\n")
        after = {name: fingerprint(context_copy, app_dir) for name, app_dir in apps.items()}
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_bytes(original)
    assert {name for name in apps if before[name] != after[name]} == changes


def pinned(requirements: Path) -> dict[str, str]:
    """An image's pins (its requirements.txt is a lock written by requirements/lock.py), each hashed."""
    pins = {}
    for pin in read_pins(requirements):
        assert pin.hashes, f"{requirements}: {pin.name} has no hash (pip's hash-checking mode would refuse it)"
        assert not pin.marker, f"{requirements}: {pin.name} is pinned only where {pin.marker}"
        pins[pin.name] = pin.version
    return pins


def dev_lock() -> dict[str, str]:
    return {pin.name: pin.version for pin in read_pins(REPO_ROOT / "requirements" / "dev.txt") if not pin.marker}


@APP_DIRS
def test_requirements_pin_the_tested_versions(app_dir):
    # Against the lock the tests are installed from, not against whatever happens to be installed:
    # a new release elsewhere can change neither.
    pins = pinned(app_dir / "requirements.txt")
    lock = dev_lock()
    assert {name: lock.get(name) for name in pins} == pins
    for distribution in ("flask", "gunicorn", "werkzeug"):
        assert distribution in pins
    # Every requirement's own dependencies are pinned too (the build resolves nothing itself). The
    # installed metadata is the lock's (make install syncs .venv to requirements/dev.txt).
    for name in pins:
        for requirement in importlib.metadata.requires(name) or []:
            if ";" in requirement:
                continue  # extras and platform markers
            project = re.match(r"[A-Za-z0-9_.-]+", requirement)
            assert project, f"{name} has a requirement without a project name: {requirement!r}"
            dependency = re.sub(r"[-_.]+", "-", project[0]).lower()
            assert dependency in pins, f"{name} needs {dependency}, not pinned in {app_dir.name}"


@APP_DIRS
def test_the_image_installs_only_from_its_lock(app_dir):
    runs = [rest for keyword, rest in dockerfile_instructions(app_dir) if keyword == "RUN"]
    (install,) = [rest for rest in runs if "pip install" in rest]
    # No version is written in the Dockerfile: every one comes from the hashed lock.
    assert not re.findall(r"\b[A-Za-z0-9_.-]+==[0-9]", " ".join(runs)), runs
    assert install.startswith("pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt ")
    assert install.endswith("&& pip check")
    installs = re.findall(r"pip install ([^&]*)", install)
    for install in installs:  # nothing is resolved: each install names what it installs and no more
        assert "--no-deps" in install.split(), install


def test_backend_pins_the_discovery_clients_dependencies():
    pins = pinned(BACKEND_DIR / "requirements.txt")
    project = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    # The client itself comes from the build context, built with the locked backend.
    assert project["name"] not in pins
    assert {"setuptools", "wheel"} <= set(pins)
    runs = " ".join(rest for keyword, rest in dockerfile_instructions(BACKEND_DIR) if keyword == "RUN")
    assert "pip install --no-cache-dir --no-build-isolation --no-deps /opt/discovery-client" in runs
    needed = [
        *project["dependencies"],
        *project["optional-dependencies"]["requests"],
        *project["optional-dependencies"]["cloudmap"],
    ]
    dependencies = [re.match(r"[A-Za-z0-9_.-]+", requirement)[0] for requirement in needed]  # type: ignore[index]
    assert len(dependencies) >= 3
    for dependency in dependencies:
        assert dependency.lower() in pins, f"the discovery client needs {dependency}, not pinned"


GUNICORN_VARIABLES = (
    "BIND_HOST",
    "PORT",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_LOG_LEVEL",
    "STOP_DRAIN_SECONDS",
)


def load_gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in GUNICORN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the config adds services/common
    return runpy.run_path(str(COMMON_DIR / "gunicorn.conf.py"))


def test_gunicorn_defaults(monkeypatch):
    settings = load_gunicorn_settings(monkeypatch)
    assert settings["bind"] == "0.0.0.0:8080"
    assert (settings["worker_class"], settings["workers"], settings["threads"]) == (
        "graceful_stop.DrainingThreadWorker",
        2,
        4,
    )
    # On SIGTERM: 15 s of serving (DNS TTL 10 s + 5 s), then 20 s for in-flight requests; the master
    # SIGKILLs workers after the sum, which stays below the construct's 45 s stop timeout.
    assert (settings["drain_seconds"], settings["finish_seconds"], settings["graceful_timeout"]) == (15, 20, 35)
    assert settings["timeout"] == 30 and settings["keepalive"] == 5
    assert settings["worker_tmp_dir"] == "/dev/shm"
    assert settings["control_socket_disable"] is True
    assert settings["accesslog"] is None
    assert str(COMMON_DIR) in sys.path  # graceful_stop and request_log importable by the apps


def test_gunicorn_settings_from_environment(monkeypatch):
    settings = load_gunicorn_settings(
        monkeypatch,
        BIND_HOST="127.0.0.9",
        PORT="9001",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="16",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="5",
        GUNICORN_KEEPALIVE="0",
        STOP_DRAIN_SECONDS="0",
    )
    assert settings["bind"] == "127.0.0.9:9001"
    assert (settings["workers"], settings["threads"], settings["keepalive"]) == (3, 16, 0)
    assert (settings["timeout"], settings["graceful_timeout"]) == (60, 5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STOP_DRAIN_SECONDS": "-1"}, "STOP_DRAIN_SECONDS='-1' is not valid: expected whole seconds from 0 to 119"),
        ({"STOP_DRAIN_SECONDS": "1.5"}, "STOP_DRAIN_SECONDS='1.5' is not valid"),
        ({"STOP_DRAIN_SECONDS": "15s"}, "STOP_DRAIN_SECONDS='15s' is not valid"),
        ({"STOP_DRAIN_SECONDS": "\u0661\u0665"}, "STOP_DRAIN_SECONDS='\u0661\u0665' is not valid"),  # Arabic-Indic 15
        ({"STOP_DRAIN_SECONDS": "120"}, "STOP_DRAIN_SECONDS='120' is not valid"),
        ({"STOP_DRAIN_SECONDS": "9" * 500}, "STOP_DRAIN_SECONDS='99999999999999999999...' is not valid"),
        (
            {"GUNICORN_GRACEFUL_TIMEOUT": "0"},
            "GUNICORN_GRACEFUL_TIMEOUT='0' is not valid: expected whole seconds from 1",
        ),
        (
            {"STOP_DRAIN_SECONDS": "100", "GUNICORN_GRACEFUL_TIMEOUT": "20"},
            "STOP_DRAIN_SECONDS=100 plus GUNICORN_GRACEFUL_TIMEOUT=20 is not valid",
        ),
        ({"PORT": "80x"}, "PORT='80x' is not valid: expected a whole number from 1 to 65535"),
        ({"PORT": "65536"}, "PORT='65536' is not valid"),
        ({"PORT": "0"}, "PORT='0' is not valid"),
        ({"GUNICORN_WORKERS": "0"}, "GUNICORN_WORKERS='0' is not valid"),
        ({"GUNICORN_THREADS": "4\n4"}, "GUNICORN_THREADS='4\\n4' is not valid"),
    ],
)
def test_bad_gunicorn_settings_stop_with_one_line_naming_the_variable(monkeypatch, env, message):
    with pytest.raises(SystemExit) as stopped:
        load_gunicorn_settings(monkeypatch, **env)
    text = str(stopped.value.code)
    assert text.startswith(message)
    assert "\n" not in text and len(text) < 300


def test_gunicorn_refuses_a_bad_setting_before_it_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "../common/gunicorn.conf.py", "app:app"],
        cwd=WORKER_DIR,
        env={"PATH": str(Path(sys.executable).parent), "STOP_DRAIN_SECONDS": "soon", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "STOP_DRAIN_SECONDS='soon' is not valid: expected whole seconds from 0 to 119"
    )


@pytest.mark.parametrize("app_dir", [BACKEND_DIR, WORKER_DIR], ids=["backend", "worker"])
def test_apps_write_no_files(launcher, tmp_path, worker_port, app_dir):
    # A read-only root filesystem in the task: nothing may be written but gunicorn's
    # heartbeat files in /dev/shm. HOME is where gunicorn's control socket would go.
    home = tmp_path / "home"
    home.mkdir()
    before = {folder: sorted(path.name for path in folder.iterdir()) for folder in (app_dir, COMMON_DIR)}
    env = {"HOME": str(home), "NAMESPACE": "corp", "WORKER_PORT": str(worker_port), "DNS_NAMESERVERS": "127.0.0.1:9"}
    app = launcher.start_ready(app_dir, SPARE_HOSTS[12], worker_port, {"STOP_DRAIN_SECONDS": "0", **env}, app_dir.name)
    assert app.get("/health").status_code == 200
    app.get("/")  # the backend answers 503 here (no DNS server on port 9); it must still write nothing
    app.process.stop(grace=10)
    assert list(home.iterdir()) == []
    assert {folder: sorted(path.name for path in folder.iterdir()) for folder in before} == before
