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

.PHONY: help install demo run test test-tap test-project lint lock clean docs

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# --- environments -------------------------------------------------------------------

$(BIN)/.installed: requirements/project.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --require-hashes --no-deps -r requirements/project.txt
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
	$(BIN)/python orchestrate/local.py demo

run: install ## Whole pipeline against the real API; needs USAJOBS_API_KEY and USAJOBS_USER_AGENT
	$(BIN)/python orchestrate/local.py run

test: lint test-tap test-project ## The whole test suite: lint, the tap's tests, then end to end

test-tap: $(TAP_VENV)/.installed ## The tap's own tests, as its standalone package
	cd $(TAP) && .venv/bin/python -m pytest

test-project: install $(TAP_VENV)/.installed ## End-to-end tests: meltano, target-postgres, dbt
	$(BIN)/python -m pytest tests

lint: $(TAP_VENV)/.installed ## ruff and mypy on the tap
	cd $(TAP) && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy tap_usajobs

# --- maintenance ---------------------------------------------------------------------------

LOCKS := project tap-usajobs tap-usajobs-dev target-postgres target-jsonl dbt-postgres

lock: $(BIN)/.installed ## Re-pin every lock file in requirements/ from its .in file
	for name in $(LOCKS); do \
		extra=""; [ "$$name" = project ] && extra="--generate-hashes"; \
		$(UV) pip compile --quiet --python-version 3.11 --no-annotate $$extra \
			--custom-compile-command "make lock" \
			requirements/$$name.in -o requirements/$$name.txt; \
	done
	# The tap itself is installed from the repo, never from a pin.
	sed -i '/^-e /d' requirements/tap-usajobs.txt requirements/tap-usajobs-dev.txt

clean: ## Remove environments, installed plugins and local demo data
	rm -rf $(VENV) $(TAP_VENV) .meltano .demo transform/target transform/logs

docs: install ## Regenerate README's settings table from the tap's own schema
	$(BIN)/meltano invoke tap-usajobs --about --format=json 2>/dev/null | $(BIN)/python docs/settings_table.py

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

infra-test: $(INFRA_VENV)/.installed ## Structural tests of infra/ (python-hcl2), incl. README tables
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
