"""What the docs tests read from Markdown: commands from each kind of block, and no more."""

from __future__ import annotations

from pathlib import Path

from tests.docs.markdown import code_blocks, commands, strip_comment


def _commands(tmp_path: Path, text: str) -> list[str]:
    page = tmp_path / "page.md"
    page.write_text(text)
    return [command for block in code_blocks(page) for command in commands(block)]


def test_shell_blocks_give_one_command_per_logical_line_without_comments(tmp_path: Path) -> None:
    text = (
        "```bash\n# a comment line\nmake synth   # a trailing comment\n"
        "aws ecs run --a 1 \\\n  --b '#not a comment'\n\necho \"#\" done\n```\n"
    )
    assert _commands(tmp_path, text) == ["make synth", "aws ecs run --a 1 --b '#not a comment'", 'echo "#" done']


def test_console_blocks_give_only_the_prompted_lines(tmp_path: Path) -> None:
    text = "```console\n$ ecs-discovery resolve worker.corp\nworker.corp\nA  10  127.0.0.4\n```\n"
    assert _commands(tmp_path, text) == ["ecs-discovery resolve worker.corp"]


def test_unlabelled_blocks_give_commands_only_when_they_are_commands(tmp_path: Path) -> None:
    text = (
        "```\nmake demo   # runs\npython -m x --help\n```\n\n"
        "```\nerror: name='Web' is not valid\n```\n\n"
        "```\nservices/\n  common/\n```\n\n"
        "```python\nimport os\n```\n"
    )
    assert _commands(tmp_path, text) == ["make demo", "python -m x --help"]


def test_indented_blocks_count_but_list_continuations_do_not(tmp_path: Path) -> None:
    text = (
        "Run:\n\n    make bench   # minutes\n    .venv/bin/python b.py --runs 3\n\n"
        "- an item\n\n    make not-a-block   (a continuation paragraph of the item)\n\n"
        "Back to prose.\n\n    pip install ./tools\n"
    )
    assert _commands(tmp_path, text) == ["make bench", ".venv/bin/python b.py --runs 3", "pip install ./tools"]


def test_strip_comment_keeps_quoted_and_glued_hashes() -> None:
    assert strip_comment("curl 'http://x/#a' # why") == "curl 'http://x/#a'"
    assert strip_comment("echo a#b") == "echo a#b"
