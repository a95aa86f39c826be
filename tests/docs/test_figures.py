"""Each measured figure is written in one place: a ratio such as ``1.04x`` appears only on the
page that holds its run (date, machine, how to repeat it); other pages link there. README.md,
benchmarks/README.md and docs/topologies.md once gave three different synth ratios."""

from __future__ import annotations

import re

import pytest

from tests.docs.markdown import REPO_ROOT, tracked_markdown

TIMES = "\u00d7"  # the multiplication sign, as docs/discovery-client.md writes its ratios
# A measured ratio: digits, a decimal part, then x or the multiplication sign ("1.04x").
RATIO = re.compile(rf"(?<![\w.])\d+\.\d+ ?[x{TIMES}](?!\w)")
SOURCES = {
    "benchmarks/README.md": "synth benchmark and backend load runs",
    "docs/discovery-client.md": "the discovery client's benchmark runs",
    "docs/local-run.md": "the local run's load runs",
}
# A page that must quote a figure names it here with the figure and the reason; none does today.
QUOTES: dict[str, set[str]] = {}


def ratios(text: str) -> list[tuple[int, str]]:
    return [(number, match) for number, line in enumerate(text.splitlines(), start=1) for match in RATIO.findall(line)]


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("synth 1.06x the peer, 200 services 4.00x", ["1.06x", "4.00x"]),
        (f"| p50 | **1.40{TIMES}** (1.20{TIMES}) | 0.96 {TIMES} |", [f"1.40{TIMES}", f"1.20{TIMES}", f"0.96 {TIMES}"]),
        ("target 3x; 2x2 grid; 0x1f; v1.2x; 1.5xl; 12.5 %", []),
    ],
)
def test_what_counts_as_a_ratio(line: str, found: list[str]) -> None:
    assert [match for _, match in ratios(line)] == found


def test_ratios_appear_only_on_their_source_page() -> None:
    files = tracked_markdown()
    assert len(files) >= 15
    misplaced = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {match}"
        for path in files
        if str(path.relative_to(REPO_ROOT)) not in SOURCES
        for number, match in ratios(path.read_text(encoding="utf-8"))
        if match not in QUOTES.get(str(path.relative_to(REPO_ROOT)), set())
    ]
    assert misplaced == [], "link to the figure's source page instead: " + ", ".join(SOURCES)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_source_page_holds_figures(source: str) -> None:
    assert ratios((REPO_ROOT / source).read_text(encoding="utf-8")), source


def test_the_readme_links_to_every_source_page() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Figures") :]
    section = section[: section.index("\n## ", 1)]
    for source in SOURCES:
        assert f"]({source}" in section, source
