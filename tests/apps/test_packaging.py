"""What the images are built from: Dockerfiles (read, no Docker engine here), pins, gunicorn
settings, the health check command, and that the apps write no files."""

from __future__ import annotations

import importlib.metadata
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apps.harness import BACKEND_DIR, SPARE_HOSTS, WORKER_DIR, free_port

APP_DIRS = pytest.mark.parametrize("app_dir", [BACKEND_DIR, WORKER_DIR], ids=["backend", "worker"])
# Copied into every image rather than shared (each image is built from its own directory).
SHARED_FILES = ("request_log.py", "gunicorn.conf.py", "healthcheck.py")


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
    assert not any("apt-get" in rest or "curl" in rest for _, rest in instructions)
    assert ("RUN", "pip install --no-cache-dir -r requirements.txt") in instructions
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    assert ("EXPOSE", "8080") in instructions
    (healthcheck,) = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["python", "healthcheck.py"]')
    assert instructions[-1] == ("CMD", '["gunicorn", "-c", "gunicorn.conf.py", "app:app"]')
    # The construct mounts a volume on /tmp; declared here, Fargate gives it the image's 1777 /tmp.
    assert ("VOLUME", '["/tmp"]') in instructions


@APP_DIRS
def test_image_copies_every_module_and_dockerignore_lets_exactly_those_through(app_dir):
    copied = set()
    for keyword, rest in dockerfile_instructions(app_dir):
        if keyword == "COPY":
            copied.update(rest.split()[:-1])
    modules = {path.name for path in app_dir.glob("*.py")}
    assert copied == modules | {"requirements.txt"}
    ignore = [line for line in (app_dir / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignore[0] == "*"
    assert {line.removeprefix("!") for line in ignore[1:]} == copied


@APP_DIRS
def test_requirements_pin_the_tested_versions(app_dir):
    pins = {}
    for line in (app_dir / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"unpinned: {line}"
            pins[name] = version
    assert {name: importlib.metadata.version(name) for name in pins} == pins
    for distribution in ("flask", "gunicorn", "werkzeug"):
        assert distribution in pins
    # Every requirement's own dependencies are pinned too (the build resolves nothing itself).
    for name in pins:
        for requirement in importlib.metadata.requires(name) or []:
            if ";" in requirement:
                continue  # extras and platform markers
            project = re.match(r"[A-Za-z0-9_.-]+", requirement)
            assert project, f"{name} has a requirement without a project name: {requirement!r}"
            dependency = project[0].lower().replace("_", "-")
            assert dependency in pins, f"{name} needs {dependency}, not pinned in {app_dir.name}"


def test_backend_pins_its_discovery_dependencies():
    pins = (BACKEND_DIR / "requirements.txt").read_text()
    assert "dnspython==" in pins and "requests==" in pins


@pytest.mark.parametrize("shared_file", SHARED_FILES)
def test_shared_files_are_identical_in_every_image(shared_file):
    assert (BACKEND_DIR / shared_file).read_bytes() == (WORKER_DIR / shared_file).read_bytes()


def load_gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in (
        "BIND_HOST",
        "PORT",
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_GRACEFUL_TIMEOUT",
        "GUNICORN_KEEPALIVE",
        "GUNICORN_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BACKEND_DIR / "gunicorn.conf.py"))


def test_gunicorn_defaults(monkeypatch):
    settings = load_gunicorn_settings(monkeypatch)
    assert settings["bind"] == "0.0.0.0:8080"
    assert (settings["worker_class"], settings["workers"], settings["threads"]) == ("gthread", 2, 4)
    assert (settings["timeout"], settings["graceful_timeout"]) == (30, 20)
    assert settings["worker_tmp_dir"] == "/dev/shm"
    assert settings["control_socket_disable"] is True
    assert settings["accesslog"] is None


def test_gunicorn_settings_from_environment(monkeypatch):
    settings = load_gunicorn_settings(
        monkeypatch,
        BIND_HOST="127.0.0.9",
        PORT="9001",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="16",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="5",
    )
    assert settings["bind"] == "127.0.0.9:9001"
    assert (settings["workers"], settings["threads"]) == (3, 16)
    assert (settings["timeout"], settings["graceful_timeout"]) == (60, 5)


def run_healthcheck(port: int, host: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "healthcheck.py"],
        cwd=WORKER_DIR,
        env={"PORT": str(port), "BIND_HOST": host, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        timeout=15,
        check=False,
    )


def test_healthcheck_command(workers, worker_port):
    assert run_healthcheck(worker_port, workers[0].host).returncode == 0
    nothing_there = run_healthcheck(free_port(["127.0.0.1"]), "0.0.0.0")  # 0.0.0.0 means: ask 127.0.0.1
    assert nothing_there.returncode == 1
    assert b"health check" in nothing_there.stderr


@pytest.mark.parametrize("app_dir", [BACKEND_DIR, WORKER_DIR], ids=["backend", "worker"])
def test_apps_write_no_files(launcher, tmp_path, worker_port, app_dir):
    # A read-only root filesystem in the task: nothing may be written but gunicorn's
    # heartbeat files in /dev/shm. HOME is where gunicorn's control socket would go.
    home = tmp_path / "home"
    home.mkdir()
    before = sorted(path.name for path in app_dir.iterdir())
    env = {"HOME": str(home), "NAMESPACE": "corp", "WORKER_PORT": str(worker_port), "DNS_NAMESERVERS": "127.0.0.1:9"}
    app = launcher.start_ready(app_dir, SPARE_HOSTS[12], worker_port, env, app_dir.name)
    assert app.get("/health").status_code == 200
    app.get("/")  # the backend answers 503 here (no DNS server on port 9); it must still write nothing
    app.process.stop(grace=10)
    assert list(home.iterdir()) == []
    assert sorted(path.name for path in app_dir.iterdir()) == before
