"""Make infra/tools importable and share the parsed Terraform with every test."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

INFRA = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(INFRA / "tools"))

from tfload import load_dir  # noqa: E402


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    """The infra/ directory."""
    return INFRA


@pytest.fixture(scope="session")
def terraform() -> dict[str, Any]:
    """Every infra/*.tf file, merged by block type and label."""
    return load_dir(INFRA)
