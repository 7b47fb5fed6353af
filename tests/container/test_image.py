"""The image itself: how it is configured, who runs it, what it carries and what it must not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import containers

from .conftest import PLANTED, SECRET, podman


def _inspect(image: str) -> dict[str, Any]:
    (inspected,) = json.loads(podman("image", "inspect", image).stdout)
    return dict(inspected)


def test_image_runs_the_runtime_as_a_numeric_non_root_user(image: str) -> None:
    inspected = _inspect(image)
    config = inspected["Config"]

    assert config["User"] == "10001:10001"
    # Exec form: the runtime itself is PID 1 and receives SIGTERM (no /bin/sh -c).
    assert config["Entrypoint"] == ["/opt/meltano/bin/python", "/project/orchestrate/run.py"]
    assert not config.get("Cmd"), "no arguments: the runtime runs the usajobs-elt job"
    assert inspected["Healthcheck"]["Test"] == ["CMD", "/project/orchestrate/healthcheck.sh"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["MELTANO_PROJECT_READONLY"] == "1"
    assert env["MELTANO_ENVIRONMENT"] == "prod"
    assert env["MELTANO_DATABASE_URI"] == "postgresql+psycopg://?options=-csearch_path%3Dmeltano"


def test_run_user_can_write_run_files_but_not_the_installed_code(image: str) -> None:
    script = """
        set -u
        for path in /project/meltano.yml /project/.meltano/extractors/tap-usajobs/venv/x \
                    /opt/meltano/bin/x /project/orchestrate/x; do
          if touch "$path" 2>/dev/null; then echo "writable: $path"; fi
        done
        for dir in /project/transform/logs /tmp "$HOME"; do
          touch "$dir/x" || echo "not writable: $dir"
        done
        id -u
    """
    result = podman(
        "run",
        "--rm",
        *containers.PODMAN_RUN_FLAGS,
        "--entrypoint",
        "/bin/bash",
        image,
        "-c",
        script,
    )

    assert result.stdout.split() == ["10001"], result.stdout


def test_every_plugin_is_installed_and_runs_without_network(image: str) -> None:
    # --network none: nothing may be installed or fetched when the image runs. A local
    # SQLite system DB stands in for PostgreSQL, which is not reachable without a network.
    script = """
        set -e
        export MELTANO_DATABASE_URI=sqlite:////tmp/meltano.db
        meltano invoke tap-usajobs --about --format=json > /tmp/about.json
        meltano invoke target-postgres --version
        meltano invoke target-jsonl --help > /dev/null
        meltano invoke dbt-postgres --version
        # The dashboard's build and publish scripts import in the image's own venv.
        python /project/dashboard/publish.py --help > /dev/null
        python -c 'import json; print(json.load(open("/tmp/about.json"))["name"])'
    """
    offline = ("--network", "none", "--entrypoint", "/bin/bash")
    result = podman(
        "run", "--rm", *containers.PODMAN_RUN_FLAGS, *offline, image, "-c", script, check=False
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("tap-usajobs")
    assert "Core:" in result.stdout  # dbt --version


def test_no_secret_from_the_build_context_reaches_the_image(image: str) -> None:
    # The build context held SECRET in .env files, venvs, .meltano/ and dbt output
    # (conftest.PLANTED); .dockerignore must have kept every one of them out.
    assert PLANTED
    assert SECRET not in podman("image", "inspect", image).stdout
    assert SECRET not in podman("history", "--no-trunc", "--format", "json", image).stdout

    mountpoint = podman("image", "mount", image).stdout.strip()
    try:
        grep = ["grep", "-rlF", "--binary-files=text", "--no-messages", SECRET, mountpoint]
        found = subprocess.run(grep, capture_output=True, text=True, check=False)  # noqa: S603
        # What .dockerignore exists to keep out, wherever it sits in the project.
        leaked = [
            str(path.relative_to(mountpoint))
            for path in Path(mountpoint, "project").rglob("*")
            if path.name.startswith(".env") or path.name in {".venv", ".venv-ops", ".demo"}
        ]
    finally:
        podman("image", "unmount", image, check=False)
    assert found.returncode == 1, f"SECRET found in the image: {found.stdout}"
    assert leaked == [], "files a build must leave out"
