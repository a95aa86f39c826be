"""Every relative link and anchor in every Markdown file of the repository resolves, by GitHub's
rules for heading anchors; the checker itself is shown to find each kind of broken link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.markdown import anchors, broken_links, github_slug, tracked_markdown


def test_every_relative_link_and_anchor_resolves() -> None:
    files = tracked_markdown()
    assert len(files) >= 15, [str(f) for f in files]
    assert broken_links(files) == []


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Load (backend): stopping a worker", "load-backend-stopping-a-worker"),
        ("Changing a running local run: `ecs-discovery local`", "changing-a-running-local-run-ecs-discovery-local"),
        ("Measured: load during operations", "measured-load-during-operations"),
        ("What the image needs", "what-the-image-needs"),
        ("snake_case and **bold** [a link](x.md)", "snake_case-and-bold-a-link"),
        ("Scale 3 → 6 → 3", "scale-3--6--3"),
        ("Café, 2 ± 1!", "café-2--1"),
    ],
)
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_duplicate_headings_are_numbered_and_code_blocks_hold_no_headings() -> None:
    text = "# Results\n\n## Results\n\n```\n# Results\n```\n\n### Results\n"
    assert anchors(text) == {"results", "results-1", "results-2"}


def test_the_checker_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    # GIVEN a small tree with one good link of each kind and one broken link of each kind
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## How to run\n\n## How to run\n")
    (tmp_path / "tool.yml").write_text("")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Top\n\n## See it running\n\n"
        "[ok](docs/page.md) [ok](docs/page.md#how-to-run) [ok](docs/page.md#how-to-run-1) [ok](#see-it-running)\n"
        "[ok](tool.yml) [ok](https://example.com/x#y) ![ok](docs/) `[in code](missing.md)`\n"
        "[missing file](docs/nope.md)\n"
        "[missing anchor](docs/page.md#how-to-run-2)\n"
        "[missing own anchor](#synth-time-and-memory)\n"
        "[outside](../elsewhere.md)\n"
        "[ref]: ./gone.yml\n"
        "```\n[in a block](missing.md)\n```\n"
    )
    # WHEN it checks the file
    problems = broken_links([readme], root=tmp_path)
    # THEN exactly the five broken links are reported, with their line and target
    assert problems == [
        "README.md:7: 'docs/nope.md': no such file",
        "README.md:8: 'docs/page.md#how-to-run-2': no heading with anchor #how-to-run-2 in docs/page.md",
        "README.md:9: '#synth-time-and-memory': no heading with anchor #synth-time-and-memory in README.md",
        "README.md:10: '../elsewhere.md': outside the repository",
        "README.md:11: './gone.yml': no such file",
    ]
