"""Build and run the pipeline image without a Docker engine: debootstrap, buildah, podman.

CI uses this, and so can anyone whose machine has no Docker engine. With Docker,
`docker build .` and `docker compose` need none of it. Only `measure` needs the project
venv; the rest runs on the standard library, under any Python 3.10+:

    .venv/bin/python .ci/containers.py check     # can buildah/podman work here?
    .venv/bin/python .ci/containers.py base      # only the base image (cached)
    .venv/bin/python .ci/containers.py build     # base image (cached), then the image
    .venv/bin/python .ci/containers.py measure   # size, run time, peak memory
    .venv/bin/python .ci/containers.py clean     # drop the cache and the storage

Images and layers live in their own container storage under the cache directory
(``$USAJOBS_CONTAINER_CACHE``, default ``~/.cache/usajobs-elt/containers``), never in
the machine's default store. No registry is reachable here, so the base image is made
locally: a minimal Debian (python3, venv, CA certificates) from debootstrap, cached as a
tarball keyed by its inputs and remade once it is a week old.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/usajobs-elt:dev"
TOOLS = ("buildah", "podman", "runc", "debootstrap")

# The base image: what the Dockerfile needs from BASE_IMAGE, and nothing else.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Left out of the tarball: package caches and lists, docs, man pages, translations.
BASE_TRIM = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
BASE_RECIPE_VERSION = 1  # bump when the recipe changes in a way the inputs above miss
BASE_MAX_AGE_DAYS = 7  # then remade, to pick up Debian's security updates

# What `podman run` needs on these machines (no systemd, runc, low default ulimits).
PODMAN_RUN_FLAGS = (
    "--runtime", "runc",
    "--ulimit", "nofile=1024:1024",
    "--ulimit", "nproc=1024:1024",
)  # fmt: skip
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def cache_dir() -> Path:
    """Where the base tarball and the container storage live (outside the repo)."""
    configured = os.environ.get("USAJOBS_CONTAINER_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "usajobs-elt" / "containers"


def _storage_env() -> dict[str, str]:
    """Point buildah and podman at this project's own container storage."""
    cache = cache_dir()
    conf = cache / "storage.conf"
    graph, run = cache / "storage", cache / "runroot"
    text = f'[storage]\ndriver = "overlay"\ngraphroot = "{graph}"\nrunroot = "{run}"\n'
    if not conf.exists() or conf.read_text() != text:
        cache.mkdir(parents=True, exist_ok=True)
        conf.write_text(text)
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}


def engine(
    *args: str, check: bool = True, output: IO[str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run buildah or podman (``args[0]``) on the project's storage.

    Output is captured, or written to ``output`` (stdout and stderr together) when given.
    """
    if output is None:
        redirect: dict[str, Any] = {"capture_output": True}
    else:
        redirect = {"stdout": output, "stderr": subprocess.STDOUT}
    return subprocess.run(  # noqa: S603
        list(args), env=_storage_env(), check=check, text=True, timeout=timeout, **redirect
    )


def unavailable_reason() -> str | None:
    """Why buildah/podman cannot build and run images here, or None when they can."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        install = "apt-get install buildah podman runc debootstrap"
        return f"{', '.join(missing)} not installed (on Debian: {install})"
    if os.geteuid() != 0:
        return "building with buildah's chroot isolation on overlay storage needs root"
    probe = engine("podman", "info", "--format", "{{.Store.GraphDriverName}}", check=False)
    if probe.returncode != 0:
        return f"podman does not work here: {probe.stderr.strip()[-500:]}"
    return None


# --- the base image ------------------------------------------------------------------------


def _base_key() -> str:
    inputs = {
        "suite": DEBIAN_SUITE,
        "mirror": DEBIAN_MIRROR,
        "packages": BASE_PACKAGES,
        "trim": BASE_TRIM,
        "recipe": BASE_RECIPE_VERSION,
        "arch": os.uname().machine,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]


def _make_base_tarball(tarball: Path) -> None:
    """Debootstrap a minimal Debian, trim it and write it as a tarball (atomically)."""
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        print(f"debootstrap {DEBIAN_SUITE} (minbase + {', '.join(BASE_PACKAGES)}) ...", flush=True)
        started = time.monotonic()
        include = f"--include={','.join(BASE_PACKAGES)}"
        debootstrap = [
            "debootstrap",
            "--variant=minbase",
            include,
            DEBIAN_SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ]
        subprocess.run(debootstrap, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        for relative in BASE_TRIM:
            target = rootfs / relative
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        partial = tarball.with_suffix(".partial")
        tar = ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."]
        subprocess.run(tar, check=True)  # noqa: S603
        partial.replace(tarball)
        print(f"base rootfs ready in {time.monotonic() - started:.0f} s: {tarball}", flush=True)


def revision() -> str:
    """The commit being built, for pipeline_runs.versions; "" outside a git checkout."""
    result = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def base_image() -> str:
    """The local base image tag; made from the cached tarball, or a fresh one when needed."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"base-{DEBIAN_SUITE}-{_base_key()}.tar"
    max_age = BASE_MAX_AGE_DAYS * 86400
    if tarball.exists() and time.time() - tarball.stat().st_mtime < max_age:
        print(f"base rootfs: cached {tarball}", flush=True)
    else:
        _make_base_tarball(tarball)
    tag = f"localhost/usajobs-base:{_base_key()}-{int(tarball.stat().st_mtime)}"
    if engine("podman", "image", "exists", tag, check=False).returncode != 0:
        engine("podman", "import", "--quiet", str(tarball), tag)
    return tag


# --- build ---------------------------------------------------------------------------------


def build(
    context: Path = ROOT, tag: str = IMAGE, log: Path | None = None, file: str = "Dockerfile"
) -> str:
    """Build ``file`` in ``context`` on the local base; return the image tag.

    Output goes to ``log`` when given, else to this process's stdout.
    """
    base = base_image()
    # HTTPS from inside the build needs this machine's CA bundle (package indexes are
    # reached through it); uv reads system certificates only when told to. Both are
    # build-time mounts, so neither lands in the image.
    uv_toml = cache_dir() / "uv-system-certs.toml"
    uv_toml.write_text("system-certs = true\n")
    command = [
        "buildah", "build", "--isolation", "chroot", "--layers", "--format", "docker",
        "--build-arg", f"BASE_IMAGE={base}",
        "--build-arg", f"USAJOBS_REVISION={revision()}",
        "--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
        "--volume", f"{uv_toml}:/etc/uv/uv.toml:ro",
        "--file", str(context / file), "--tag", tag, str(context),
    ]  # fmt: skip
    print(f"$ {' '.join(command)}", flush=True)
    started = time.monotonic()
    with log.open("w") if log else contextlib.nullcontext(sys.stdout) as output:
        result = engine(*command, check=False, output=output)
    if result.returncode != 0:
        where = f"; see {log}" if log else ""
        msg = f"buildah build failed with exit code {result.returncode}{where}"
        raise RuntimeError(msg)
    # Untagged layers of earlier builds are the build cache: keep two days of them.
    engine("podman", "image", "prune", "--force", "--filter", "until=48h", check=False)
    print(f"built {tag} in {time.monotonic() - started:.0f} s", flush=True)
    return tag


# --- compose: the stack brought up for real, without a Docker engine ----------------------

#: Local stand-ins for the Docker Hub images docker-compose.yml names (.ci/compose/), as
#: the variables .ci/compose.ci.yml reads.
STAND_INS = {
    "CI_POSTGRES_IMAGE": ("postgres.Containerfile", "localhost/ci-postgres:16-bookworm"),
    "CI_PYTHON_IMAGE": ("python.Containerfile", "localhost/ci-python:3.11-slim-bookworm"),
}
#: Seconds between healthchecks where podman cannot schedule them (no systemd).
HEALTHCHECK_INTERVAL = 2
#: podman's settings for containers it starts for the Docker API (what PODMAN_RUN_FLAGS
#: says on a command line).
PODMAN_CONF = (
    '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
    '[engine]\nruntime = "runc"\n'
)


def stand_ins(log: Path | None = None) -> dict[str, str]:
    """Build the stand-in images; their tags by the variable compose.ci.yml reads."""
    folder = ROOT / ".ci" / "compose"
    return {name: build(folder, tag, log, file) for name, (file, tag) in STAND_INS.items()}


@contextlib.contextmanager
def docker_api(folder: Path) -> Iterator[dict[str, str]]:
    """A podman service answering the Docker API on a socket in ``folder``, on our storage.

    Yields the environment for a Docker client (``DOCKER_HOST``) such as docker compose.
    """
    conf = cache_dir() / "containers.conf"
    conf.write_text(PODMAN_CONF)
    env = {**_storage_env(), "CONTAINERS_CONF": str(conf)}
    socket = folder / "podman.sock"
    service = subprocess.Popen(  # noqa: S603
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],  # noqa: S607
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Event()
    checks = threading.Thread(target=_run_healthchecks, args=(env, stop), daemon=True)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                msg = f"podman system service did not start (exit code {service.poll()})"
                raise RuntimeError(msg)
            time.sleep(0.1)
        checks.start()
        yield {**env, "DOCKER_HOST": f"unix://{socket}"}
    finally:
        stop.set()
        service.terminate()
        service.wait(timeout=30)


def _run_healthchecks(env: dict[str, str], stop: threading.Event) -> None:
    """Run every running container's healthcheck every 2 s, as a Docker engine would.

    podman schedules healthchecks with systemd timers, and these machines have no systemd:
    without this, no container ever turns healthy and `depends_on` waits forever.
    """
    while not stop.wait(HEALTHCHECK_INTERVAL):
        listed = subprocess.run(
            ["podman", "ps", "--format", "{{.ID}} {{.Status}}"],  # noqa: S607
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in listed.stdout.splitlines():
            container, _, status = line.partition(" ")
            if status.endswith(("(starting)", "(healthy)", "(unhealthy)")):
                subprocess.run(  # noqa: S603
                    ["podman", "healthcheck", "run", container],  # noqa: S607
                    env=env,
                    capture_output=True,
                    check=False,
                )


def image_size(tag: str) -> int:
    """Uncompressed size of an image, in bytes, as podman reports it."""
    return int(engine("podman", "image", "inspect", "--format", "{{.Size}}", tag).stdout)


def compressed_size(tag: str) -> int:
    """Bytes of the image saved as a docker archive and gzipped (what a pull moves, about)."""
    with tempfile.TemporaryDirectory(dir=cache_dir()) as work:
        archive = Path(work) / "image.tar"
        engine(
            "podman", "save", "--quiet", "--format", "docker-archive", "--output", str(archive), tag
        )
        subprocess.run(["gzip", "-6", str(archive)], check=True)  # noqa: S603, S607
        return archive.with_name("image.tar.gz").stat().st_size


def run_command(tag: str, env: dict[str, str], *args: str, extra: Sequence[str] = ()) -> list[str]:
    """``podman run`` of the image on the host network, with ``env`` passed by name only.

    Values travel in podman's environment, never on its command line, so a secret in
    ``env`` cannot show up in ``ps`` or a log of the command.
    """
    names = [flag for name in env for flag in ("--env", name)]
    return ["podman", "run", *PODMAN_RUN_FLAGS, "--network", "host", *extra, *names, tag, *args]


def run_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for a ``podman run`` built by ``run_command``."""
    return {**_storage_env(), **env}


def clean() -> None:
    """Remove this project's containers, images, base tarball and container storage."""
    cache = cache_dir()
    if not cache.exists():
        return
    if shutil.which("podman"):
        engine("podman", "rm", "--all", "--force", check=False)
        engine("podman", "rmi", "--all", "--force", check=False)
    if shutil.which("buildah"):
        engine("buildah", "rm", "--all", check=False)
    shutil.rmtree(cache)
    print(f"removed {cache}")


# --- measure -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunMeasurement:
    """One container run: wall time and memory of the whole container."""

    exit_code: int
    seconds: float
    cpu_seconds: float  # user + system time of every process in the container
    peak_bytes: int  # the cgroup's peak, page cache included
    peak_rss_bytes: int  # sampled every 50 ms: the processes' own memory


def _memory_cgroup(parent: str) -> tuple[Path, str, str]:
    """(directory, peak file, rss key of memory.stat) for a cgroup parent, v1 or v2."""
    if Path("/sys/fs/cgroup/memory").is_dir():
        return Path("/sys/fs/cgroup/memory") / parent, "memory.max_usage_in_bytes", "total_rss"
    return Path("/sys/fs/cgroup") / parent, "memory.peak", "anon"


def _cpu_seconds(parent: str) -> float:
    """CPU time used so far by every process under a cgroup parent, v1 or v2."""
    v1 = Path("/sys/fs/cgroup/cpuacct") / parent / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for line in (Path("/sys/fs/cgroup") / parent / "cpu.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return float("nan")


def _remove_cgroups(parent: str) -> None:
    for root in (Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").glob("*")):
        directory = root / parent
        with contextlib.suppress(OSError):
            for child in sorted(directory.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
            directory.rmdir()


def measure_run(tag: str, env: dict[str, str], memory: str | None = None) -> RunMeasurement:
    """Run the image once under a cgroup of its own and record time and peak memory.

    ``memory`` (e.g. "256m") caps the container's memory, swap included.
    """
    parent = f"usajobs-measure-{uuid.uuid4().hex[:8]}"
    directory, peak_file, rss_key = _memory_cgroup(parent)
    limit = ["--memory", memory, "--memory-swap", memory] if memory else []
    command = run_command(tag, env, extra=["--rm", "--cgroup-parent", f"/{parent}", *limit])
    peak_rss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss
        while not done.wait(0.05):
            with contextlib.suppress(OSError):
                for line in (directory / "memory.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == rss_key:
                        peak_rss = max(peak_rss, int(value))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    result = subprocess.run(command, env=run_env(env), capture_output=True, text=True, check=False)  # noqa: S603
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    try:
        peak = int((directory / peak_file).read_text())
        cpu = _cpu_seconds(parent)
    finally:
        _remove_cgroups(parent)
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
    return RunMeasurement(result.returncode, seconds, cpu, peak, peak_rss)


def measure(tag: str, postings: int, memory: str | None) -> int:
    """Print size, and time and memory of a first and a second run against the fake API."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import devenv  # noqa: PLC0415

    mib = 1024 * 1024
    unpacked, gzipped = image_size(tag) / mib, compressed_size(tag) / mib
    print(f"image {tag}: {unpacked:.0f} MiB unpacked, {gzipped:.0f} MiB gzipped")
    load = os.getloadavg()[0]
    print(f"fake API: {postings} postings; memory limit: {memory or 'none'}; load: {load:.1f}")
    database = f"usajobs_measure_{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="pgdata-") as pgdata,
        devenv.postgres(Path(pgdata)) as server,
        devenv.fake_api("--postings", str(postings)) as api,
    ):
        server.create_database(database)
        env = {
            **server.env(database),
            "TAP_USAJOBS_BASE_URL": api.url,
            "TAP_USAJOBS_API_KEY": api.api_key,
            "TAP_USAJOBS_USER_AGENT": "measure@example.com",
        }
        try:
            for label in ("first run (full)", "second run (incremental)"):
                run = measure_run(tag, env, memory)
                rows = server.value(database, "select count(*) from job_listings")
                print(
                    f"{label}: exit {run.exit_code}, "
                    f"{run.seconds:.1f} s wall, {run.cpu_seconds:.1f} s CPU, "
                    f"peak memory {run.peak_bytes / mib:.0f} MiB (page cache included), "
                    f"peak RSS {run.peak_rss_bytes / mib:.0f} MiB, job_listings {rows} rows",
                    flush=True,
                )
                if run.exit_code != 0:
                    return run.exit_code
        finally:
            server.drop_database(database)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: check, build or measure."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="exit 0 if buildah/podman can build and run here, else say why")
    sub.add_parser("clean", help="remove the base tarball, images and the container storage")
    sub.add_parser("base", help="make (or reuse) the debootstrap base image")
    build_parser = sub.add_parser("build", help="build the image (and the base it needs)")
    build_parser.add_argument("--tag", default=IMAGE)
    build_parser.add_argument("--context", type=Path, default=ROOT)
    measure_parser = sub.add_parser("measure", help="image size, run time and peak memory")
    measure_parser.add_argument("--tag", default=IMAGE)
    measure_parser.add_argument(
        "--postings", type=int, default=1500, help="fake API size (make demo's)"
    )
    measure_parser.add_argument("--memory", help="run under this memory limit, e.g. 256m")
    args = parser.parse_args(argv)

    if args.command == "clean":
        clean()
        return 0
    reason = unavailable_reason()
    if args.command == "check":
        print(reason or "buildah and podman can build and run images here")
        return 0 if reason is None else 1
    if reason is not None:
        print(f"cannot {args.command}: {reason}", file=sys.stderr)
        return 1
    if args.command == "base":
        print(base_image())
        return 0
    if args.command == "build":
        build(args.context, args.tag)
        return 0
    return measure(args.tag, args.postings, args.memory)


if __name__ == "__main__":
    sys.exit(main())
