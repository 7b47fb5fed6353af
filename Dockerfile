# The pipeline image: meltano and every plugin are installed at build time, so a run
# needs no network beyond the USAJobs API and the database. One image serves
# `docker compose`, a cron host and a Cloud Run Job; see README "Running with Docker".
#
#   docker build -t usajobs-elt .
#   docker run --rm --env-file usajobs.env usajobs-elt        # the usajobs-elt job
#   docker run --rm --env-file usajobs.env usajobs-elt tap-usajobs target-postgres
#
# usajobs.env holds TAP_USAJOBS_* and libpq's PG*; docker-compose.yml sets PG* itself.
#
# BASE_IMAGE needs python3 (3.10+) with venv, bash and CA certificates. Any Debian-based
# Python image will do; CI builds on a base it makes with debootstrap.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: meltano's venv and the plugin venvs ----------------------------------------
FROM ${BASE_IMAGE} AS build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
WORKDIR /project

# meltano itself, from its hashed lock (the project's pins, without the test tooling).
COPY requirements/container.txt requirements/
RUN python3 -m venv /opt/meltano \
    && /opt/meltano/bin/pip install --no-deps --require-hashes -r requirements/container.txt

# Every plugin, from the same inline definitions and locks as `make install`. The
# throwaway SQLite system DB keeps build-time bookkeeping out of the image. Bytecode is
# compiled here, since a non-root run cannot write __pycache__. The five venvs share
# many identical files (SQLAlchemy, singer-sdk, psycopg's libpq, ...): hardlink (from
# util-linux) stores each once.
COPY meltano.yml ./
COPY orchestrate/jobs.meltano.yml orchestrate/
COPY requirements/ requirements/
COPY tap-usajobs/ tap-usajobs/
RUN MELTANO_DATABASE_URI=sqlite:////tmp/build-meltano.db UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 \
        /opt/meltano/bin/meltano install \
    && rm -rf tap-usajobs /tmp/build-meltano.db* .meltano/run .meltano/logs .meltano/analytics.json \
    # uv only installs, and nothing installs at run time.
    && rm -f /opt/meltano/bin/uv /opt/meltano/bin/uvx \
    && hardlink --content --quiet /opt/meltano .meltano

COPY transform/ transform/
COPY orchestrate/run.py orchestrate/healthcheck.sh orchestrate/logging-json.yaml orchestrate/
COPY orchestrate/runtime/ orchestrate/runtime/
COPY orchestrate/migrations/ orchestrate/migrations/
COPY dashboard/ dashboard/

# --- runtime ----------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ARG APP_UID=10001
# Root owns the code and the venvs; the run user may write only its home, dbt's logs and
# /tmp, where each run keeps a private folder (meltano's run files, dbt's target), and
# .meltano/run, which only a `meltano invoke` by hand uses (e.g. --discover).
RUN groupadd --gid "${APP_UID}" app \
    && useradd --uid "${APP_UID}" --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

COPY --from=build /opt/meltano /opt/meltano
COPY --from=build /project /project
WORKDIR /project
RUN install -d -o "${APP_UID}" -g "${APP_UID}" transform/logs output .meltano/run

# Meltano's system database (state, run history) lives in the pipeline's own PostgreSQL,
# schema "meltano", reached through PG* like everything else (ADR 0008). The project is
# read-only: a run never edits meltano.yml or installs anything.
# The commit the image was built from, recorded with every run (pipeline_runs.versions):
# docker build --build-arg USAJOBS_REVISION="$(git rev-parse HEAD)" .
ARG USAJOBS_REVISION=""
ENV PATH=/opt/meltano/bin:$PATH \
    USAJOBS_REVISION=${USAJOBS_REVISION} \
    PYTHONUNBUFFERED=1 \
    MELTANO_PROJECT_READONLY=1 \
    MELTANO_ENVIRONMENT=prod \
    MELTANO_SEND_ANONYMOUS_USAGE_STATS=false \
    MELTANO_DATABASE_URI="postgresql+psycopg://?options=-csearch_path%3Dmeltano"

USER ${APP_UID}:${APP_UID}

# A batch job is healthy while it makes progress: meltano or dbt wrote a log line in the
# last HEALTHCHECK_STALL_SECONDS (600). See orchestrate/healthcheck.sh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["/project/orchestrate/healthcheck.sh"]

# Exec form: the runtime is PID 1, takes SIGTERM/SIGINT and passes them on to meltano.
ENTRYPOINT ["/opt/meltano/bin/python", "/project/orchestrate/run.py"]
CMD []
