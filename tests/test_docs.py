"""The README's settings table is generated from the tap's schema and must not drift."""

from __future__ import annotations

import subprocess
import sys

from conftest import MELTANO, ROOT


def test_readme_settings_table_matches_the_tap_schema() -> None:
    about = subprocess.run(  # noqa: S603
        [MELTANO, "invoke", "tap-usajobs", "--about", "--format=json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    check = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "docs" / "settings_table.py"), "--check"],
        input=about.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
