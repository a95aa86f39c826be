"""Each example's install-and-synth block, as its README shows it, run as written in the
example's folder of a copy of the repository, offline (tests/docs/sandbox.py). consumer-app's
runs in tests/integration/test_consumer_app.py, with its template checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown import REPO_ROOT, Block, commands, fenced_blocks
from tests.docs.sandbox import JSII_NODE_WARNING, run_example

EXAMPLES = REPO_ROOT / "examples"
# Each example run here, with what runs after its README's block (nothing: each block ends in its synth;
# cross-account's placeholder accounts have their zones in its cdk.json, so it needs no credentials).
RUN_HERE = {"nag-any-app": "", "service-connect-migration": "", "cross-account": ""}
SYNTHESIZES = ("nag-any-app", "service-connect-migration", "cross-account")
RUN_ELSEWHERE = {"consumer-app": "tests/integration/test_consumer_app.py"}


def install_block(example: Path) -> Block:
    """The README's block that installs the requirements (and synthesizes)."""
    blocks = [b for b in fenced_blocks(example / "README.md") if commands(b)]
    (block,) = [b for b in blocks if any(c.endswith("pip install -r requirements.txt") for c in commands(b))]
    return block


def test_every_example_is_run_by_a_test() -> None:
    examples = sorted(p.name for p in EXAMPLES.iterdir() if (p / "README.md").exists())
    assert len(examples) == 4
    assert examples == sorted([*RUN_HERE, *RUN_ELSEWHERE])
    for example, test_file in RUN_ELSEWHERE.items():
        assert f'examples" / "{example}"' in (REPO_ROOT / test_file).read_text(), test_file


@pytest.mark.parametrize("name", RUN_HERE)
def test_the_readmes_commands_synthesize_with_the_venvs_own_node(tmp_path: Path, name: str) -> None:
    example = EXAMPLES / name
    block = install_block(example)
    # GIVEN a copy of the example's folder in a copy of the repository; WHEN its README's block runs as written
    run = run_example(tmp_path, example, block.text + RUN_HERE[name])
    # THEN every command succeeds, a synth writes the app's templates, and jsii ran no other Node.js
    assert run.result.returncode == 0, run.result.output
    assert JSII_NODE_WARNING not in run.result.output
    executed = [command for command, _ in run.result.outputs()]
    assert executed[-1] == RUN_HERE[name] or (not RUN_HERE[name] and commands(block)[-1].endswith(executed[-1]))
    templates = list((run.folder / "cdk.out").glob("*.template.json"))
    assert bool(templates) is (name in SYNTHESIZES), run.result.output
    node = run.shell.run("source .venv/bin/activate; command -v node; node --version", cwd=run.folder)
    location, version = node.outputs()[-2][1], node.outputs()[-1][1]
    assert Path(location).is_relative_to(run.folder / ".venv"), location
    assert version.startswith("v24."), version
