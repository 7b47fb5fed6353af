"""Every install is pinned and hash-checked: the project's venvs and each Meltano plugin.

uv checks the hashes of a constraints file on every install (meltano installs plugins
with uv, as `make install` and the image's build do), so a lock with a hash on every
pin means a tampered or substituted package fails the install instead of running.
"""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT

REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==\S+")


def _pins(lock: str) -> dict[str, int]:
    """Each pinned package of a lock, with how many hashes it carries."""
    pins: dict[str, int] = {}
    current = None
    for line in (REQUIREMENTS / f"{lock}.txt").read_text().splitlines():
        if match := PIN.match(line):
            current = match[1]
            pins[current] = 0
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current] += 1
    return pins


def _plugins() -> dict[str, str]:
    """pip_url of every plugin meltano.yml defines."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {
        plugin["name"]: plugin["pip_url"] for kind in project["plugins"].values() for plugin in kind
    }


@pytest.mark.parametrize("name", sorted(_plugins()))
def test_every_plugin_installs_against_a_hashed_lock(name: str) -> None:
    pip_url = _plugins()[name]
    (lock,) = re.findall(r"-c \$\{MELTANO_PROJECT_ROOT\}/requirements/([\w-]+)\.txt", pip_url)
    pins = _pins(lock)

    assert pins, f"{lock}.txt pins nothing"
    assert {package for package, hashes in pins.items() if not hashes} == set()


@pytest.mark.parametrize("lock", ["project", "container", "ops"])
def test_the_project_venvs_install_from_hashed_locks(lock: str) -> None:
    assert {package for package, hashes in _pins(lock).items() if not hashes} == set()
