"""The documentation cannot drift: settings come from the tap's schema, and links resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from conftest import MELTANO, ROOT

if TYPE_CHECKING:
    from pathlib import Path

DOCS = sorted(
    [
        *ROOT.glob("*.md"),
        *ROOT.glob("docs/**/*.md"),
        *ROOT.glob("tap-usajobs/*.md"),
        *ROOT.glob("infra/*.md"),
        *ROOT.glob("bench/*.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _about(form: str) -> str:
    """``tap-usajobs --about`` in ``form`` (json, markdown), through meltano."""
    return subprocess.run(  # noqa: S603
        [MELTANO, "invoke", "tap-usajobs", "--about", f"--format={form}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def test_every_copy_of_the_settings_matches_the_tap_schema() -> None:
    # The settings tables, meltano.yml's settings block and the Hub definition...
    check = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "settings_docs.py"), "--check"],
        input=_about("json"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    # ...and ABOUT.md, the tap's own description of itself.
    assert (ROOT / "tap-usajobs" / "ABOUT.md").read_text() == _about("markdown"), (
        "tap-usajobs/ABOUT.md is out of date: run `make settings-docs`"
    )


def _anchor(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", DOCS, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", dest.read_text(), re.MULTILINE)
            if anchor not in {_anchor(heading) for heading in headings}:
                broken.append(f"{target}: no such heading")
    assert broken == []


def test_every_feature_flag_names_a_test_that_exists() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    table = page.split("## Feature flags", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`((?:tap-usajobs/)?tests/[\w/]+\.py)(?:::(\w+))?`", table)
    assert len(named) >= 8
    for path, name in named:
        source = (ROOT / path).read_text()
        assert not name or f"def {name}(" in source, f"{path}::{name} is not a test"


def test_the_readme_lists_every_adr() -> None:
    readme = (ROOT / "README.md").read_text()
    for adr in sorted((ROOT / "docs" / "adr").glob("[0-9]*.md")):
        assert f"(docs/adr/{adr.name})" in readme, adr.name
