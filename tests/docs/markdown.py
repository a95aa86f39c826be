"""What the docs tests read from Markdown: fenced code blocks, the shell commands in them,
headings as GitHub anchors, and relative links.

Only the parts of CommonMark these files use: fences of three or more backticks or tildes
indented at most three spaces, ATX headings (``#`` to ``######``) outside fences, inline links,
images, reference definitions and HTML ``href``/``src`` attributes outside code.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)")
HEADING = re.compile(r" {0,3}(?P<level>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*")
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "zsh"})
CONSOLE_LANGUAGES = frozenset({"console", "shell-session"})
# An unlabelled block is read as commands when its first line starts with one of these programs
# (or a block holds `$ ` prompts): a directory tree or an error message is not a command.
COMMAND_WORDS = frozenset(
    {"make", "pip", "pip3", "python", "python3", "npx", "npm", "cdk", "ecs-discovery", "cd", "source", "git", "curl"}
)
PROMPT = "$ "


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str

    @property
    def first_line(self) -> str:
        return next((line for line in self.text.splitlines() if line.strip()), "")


def tracked_markdown(root: Path = REPO_ROOT) -> list[Path]:
    """Every Markdown file git knows of or would add (tracked, or new and not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.md"],
        cwd=root, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    return sorted({root / name for name in listed if (root / name).is_file()})


def fenced_blocks(path: Path, text: str | None = None) -> list[Block]:
    text = path.read_text(encoding="utf-8") if text is None else text
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.fullmatch(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = re.fullmatch(r" {0,3}(`{3,}|~{3,})[ \t]*", lines[index])
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                break
            body.append(lines[index])
            index += 1
        info = opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        blocks.append(Block(path, start + 1, language, "\n".join(body) + "\n"))
        index += 1
    return blocks


LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")


def indented_blocks(path: Path, text: str | None = None) -> list[Block]:
    """Indented code blocks (four spaces, after a blank line, not inside a list item), language ``""``."""
    text = path.read_text(encoding="utf-8") if text is None else text
    blocks: list[Block] = []
    in_list = False
    previous_blank = True
    current: list[str] = []
    start = 0

    def close() -> None:
        while current and not current[-1].strip():
            current.pop()
        if current:
            blocks.append(Block(path, start, "", "\n".join(current) + "\n"))
        current.clear()

    for number, line in prose_lines(text):
        indented = line.startswith(("    ", "\t"))
        if current and (indented or not line.strip()):
            current.append(line[4:] if line.startswith("    ") else line.lstrip("\t"))
            continue
        close()
        if indented and previous_blank and not in_list:
            start = number
            current.append(line[4:] if line.startswith("    ") else line.lstrip("\t"))
            continue
        if LIST_ITEM.match(line):
            in_list = True
        elif line.strip() and not line.startswith((" ", "\t")):
            in_list = False
        previous_blank = not line.strip()
    close()
    return blocks


def code_blocks(path: Path) -> list[Block]:
    """Fenced and indented code blocks, in the order of the file."""
    text = path.read_text(encoding="utf-8")
    return sorted([*fenced_blocks(path, text), *indented_blocks(path, text)], key=lambda block: block.line)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(1-based number, line) of every line outside fenced code blocks."""
    kept: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None:
            opening = FENCE.fullmatch(line)
            if opening:
                fence = opening["fence"]
                continue
            kept.append((number, line))
        else:
            closing = re.fullmatch(r" {0,3}(`{3,}|~{3,})[ \t]*", line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = None
    return kept


def strip_code_spans(line: str) -> str:
    """The line with every inline code span (`...`, ``...``) replaced by spaces."""
    return re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m[0]), line)


# Commands


def strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment: ``#`` at a word start, outside quotes."""
    quote: str | None = None
    escaped = False
    for position, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1] in " \t"):
            return line[:position].rstrip()
    return line.rstrip()


def is_command_block(block: Block) -> bool:
    if block.language in SHELL_LANGUAGES or block.language in CONSOLE_LANGUAGES:
        return True
    if block.language:
        return False
    lines = [line for line in block.text.splitlines() if line.strip()]
    if any(line.startswith(PROMPT) for line in lines):
        return True
    first = shlex.split(strip_comment(lines[0]), comments=False)[:1] if lines else []
    return bool(first) and first[0].rsplit("/", 1)[-1] in COMMAND_WORDS


def commands(block: Block) -> list[str]:
    """The commands of a shell or console block, one per logical line, comments removed.

    Console blocks (and unlabelled ones with prompts) hold a session: only the lines after a
    ``$`` prompt are commands, the rest is output. A line ending in ``\\`` continues on the next.
    """
    if not is_command_block(block):
        return []
    lines = block.text.splitlines()
    prompted = block.language in CONSOLE_LANGUAGES or any(line.startswith(PROMPT) for line in lines)
    found: list[str] = []
    pending = ""
    for line in lines:
        if prompted and not pending:
            if not line.startswith(PROMPT):
                continue
            line = line[len(PROMPT) :]
        text = strip_comment(line) if not pending else line.rstrip()
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        text = (pending + text.strip()).strip()
        pending = ""
        if text:
            found.append(text)
    if pending.strip():
        found.append(pending.strip())
    return found


# Headings, anchors and links


def heading_text(markdown: str) -> str:
    """The text GitHub shows for a heading: links as their text, code and emphasis markers gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"!?\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    return re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)


def github_slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation gone but ``-`` and ``_``, spaces to ``-``."""
    lowered = heading_text(text).strip().lower()
    kept = "".join(
        char
        for char in lowered
        if char in "-_ " or unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Mn"
    )
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a file offers: its headings' slugs (duplicates numbered -1, -2, ...) and HTML ids."""
    seen: Counter[str] = Counter()
    found: set[str] = set()
    for _, line in prose_lines(text):
        heading = HEADING.fullmatch(line)
        if heading:
            slug = github_slug(heading["text"] or "")
            found.add(slug if seen[slug] == 0 else f"{slug}-{seen[slug]}")
            seen[slug] += 1
        for html_id in re.findall(r"""<a\s+(?:name|id)=["']([^"']+)["']""", line):
            found.add(html_id)
    return found


INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?")
HTML_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


@dataclass(frozen=True)
class Link:
    path: Path
    line: int
    target: str


def links(path: Path, text: str | None = None) -> list[Link]:
    text = path.read_text(encoding="utf-8") if text is None else text
    found: list[Link] = []
    for number, line in prose_lines(text):
        prose = strip_code_spans(line)
        definition = REFERENCE_DEFINITION.fullmatch(prose)
        targets = [definition[1]] if definition else INLINE_LINK.findall(prose)
        targets += HTML_LINK.findall(prose)
        found += [Link(path, number, target) for target in targets]
    return found


def is_external(target: str) -> bool:
    return re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) is not None


def broken_links(files: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """One line per relative link or anchor among ``files`` that does not resolve."""
    root = root.resolve()
    problems: list[str] = []
    anchor_cache: dict[Path, set[str]] = {}

    def anchors_of(target: Path) -> set[str]:
        if target not in anchor_cache:
            anchor_cache[target] = anchors(target.read_text(encoding="utf-8"))
        return anchor_cache[target]

    for path in files:
        for link in links(path):
            if is_external(link.target) or not link.target:
                continue
            where = f"{path.relative_to(root)}:{link.line}: {link.target!r}"
            file_part, _, anchor = link.target.partition("#")
            target = (path.parent / file_part).resolve() if file_part else path
            if not target.is_relative_to(root.resolve()):
                problems.append(f"{where}: outside the repository")
            elif not target.exists():
                problems.append(f"{where}: no such file")
            elif anchor and target.suffix == ".md" and anchor not in anchors_of(target):
                problems.append(f"{where}: no heading with anchor #{anchor} in {target.relative_to(root)}")
    return problems
