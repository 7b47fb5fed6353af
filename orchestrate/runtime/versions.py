"""What a run ran: the project's revision and the versions of its parts.

Recorded with every run in usajobs_ops.pipeline_runs.versions, so a row of data can be
traced to the code that loaded it (its ``_sdc_batched_at`` falls within its run's
started_at and ended_at). Plugin versions are read from the dist-info folders of the
venvs meltano installed, without starting any plugin.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: (key in the record, plugin folder under .meltano, distribution in its venv)
PLUGINS = (
    ("tap_usajobs", "extractors/tap-usajobs", "tap-usajobs"),
    ("tap_singer_sdk", "extractors/tap-usajobs", "singer-sdk"),
    ("target_postgres", "loaders/target-postgres", "meltanolabs-target-postgres"),
    ("dbt_core", "utilities/dbt-postgres", "dbt-core"),
    ("dbt_postgres", "utilities/dbt-postgres", "dbt-postgres"),
)


def revision(root: Path) -> str | None:
    """USAJOBS_REVISION (the image's build argument), else the checkout's git commit."""
    if configured := os.environ.get("USAJOBS_REVISION"):
        return configured
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head


def _version(venv: Path, distribution: str) -> str | None:
    for site_packages in venv.glob("lib/python*/site-packages"):
        for dist in importlib.metadata.distributions(path=[str(site_packages)]):
            if dist.metadata["Name"].lower().replace("_", "-") == distribution:
                return dist.version
    return None


def collect(root: Path, plugins: Path) -> dict[str, str | None]:
    """The revision, the image, meltano's version and each plugin's (None where unknown)."""
    # The image, as the deployment names it (Terraform passes its `image`, by digest).
    found: dict[str, str | None] = {
        "revision": revision(root),
        "image": os.environ.get("USAJOBS_IMAGE") or None,
    }
    try:
        found["meltano"] = importlib.metadata.version("meltano")
    except importlib.metadata.PackageNotFoundError:
        found["meltano"] = None
    for key, folder, distribution in PLUGINS:
        found[key] = _version(plugins / folder / "venv", distribution)
    return found
