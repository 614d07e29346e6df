# stories: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PYTHON  := $(VENV)/bin/python
STORIES := $(VENV)/bin/stories
PYTEST  := $(VENV)/bin/pytest
STAMP   := $(VENV)/.installed
PROMTOOL := .state/tools/bin/promtool
# The hashed locks: what the product runs on, and that plus the development tools.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK     := requirements/dev.txt
# `make lock` compiles them with uv, kept in a folder of its own, out of the project's environment:
# for every platform and Python the project supports, with every file's hash, so they install anywhere.
UV_VERSION := 0.13.9
UV_ENV     := .state/tools/uv
UV         := $(UV_ENV)/bin/uv
LOCK_FLAGS := --universal --generate-hashes --quiet --custom-compile-command 'make lock'

.PHONY: help install lock up down status init test test-unit test-integration demo reliability lint clean bench wrk promtool simulate cluster test-cluster

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(RUNTIME_LOCK) $(DEV_LOCK)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q --require-hashes -r $(DEV_LOCK)
	$(PYTHON) -m pip install -q --no-deps -e . --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies (checked against their hashes)

# The development lock is compiled under the runtime one, so both pin a shared package alike.
lock: $(UV) ## Regenerate the hashed locks from pyproject.toml (ARGS=--upgrade, or --upgrade-package NAME)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(ARGS) -o $(RUNTIME_LOCK)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(ARGS) --extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK)

$(UV):
	python3 -m venv $(UV_ENV)
	$(UV_ENV)/bin/pip install -q uv==$(UV_VERSION)

up: install ## Start the local stack (fetching jars and Redis if missing), then create topics and schema
	$(STORIES) up

down: install ## Stop the processes the local stack started
	$(STORIES) down

status: install ## Show each service, its address and health
	$(STORIES) status

init: install ## Create topics, CQL schema and bucket (idempotent)
	$(STORIES) init

test-unit: install promtool ## Unit tests only (no services)
	$(PYTEST) tests/unit -q

test-integration: up promtool ## Integration tests against the running stack
	$(PYTEST) tests/integration -q

test: install lint wrk promtool ## Install, lint, start the stack, run every test (a small benchmark too), stop the stack
	@$(STORIES) up || { $(STORIES) down; exit 1; }; \
	$(PYTEST) -q --timeout=600; rc=$$?; \
	$(STORIES) down; exit $$rc

demo: up ## Bring the stack up and show the pipeline running on realistic data
	$(PYTHON) -m stories.demo

simulate: up ## Send a simulated world and its activity to the stack (ARGS='--rate 2000 --duration 60')
	$(STORIES) simulate $(ARGS)

bench: install wrk ## Full benchmark on the running stack (ARGS=--record logs it in docs/benchmarks.md)
	$(STORIES) up
	$(STORIES) bench --size full $(ARGS)

wrk: ## Install wrk, the HTTP load tool of the benchmark, from Debian when missing
	@command -v wrk >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk || \
		{ $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }; }

promtool: $(PROMTOOL) ## Fetch promtool (checks infra/observability's alert rules) from Debian's prometheus package, without the daemon

# apt-get download needs no root; only a missing package list does (apt-get update), as for wrk.
$(PROMTOOL):
	@set -eo pipefail; mkdir -p $(@D); tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	chmod 755 "$$tmp"; cd "$$tmp"; \
	apt-get download -q prometheus 2>/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
		$$SUDO apt-get update -q >/dev/null && apt-get download -q prometheus; }; \
	dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool; \
	cd - >/dev/null; mv "$$tmp/usr/bin/promtool" $@; $@ --version | head -1

cluster: install ## Start the local cluster: 3 Kafka brokers, 3 Cassandra nodes, a Redis Cluster of 6, S3
	$(STORIES) up --cluster

test-cluster: cluster ## Contract and integration suites on the local cluster, then the node-loss scenarios
	export STORIES_ENV_FILE=infra/cluster.env; \
	$(PYTEST) -q --timeout=900 tests/contract tests/integration && \
	$(PYTHON) -m reliability --cluster $(ARGS)

reliability: up ## Full-size fault scenarios (kill -9, restarts, outages); prints the table
	$(PYTHON) -m reliability --size full

lint: install ## ruff, the layer contract (import-linter) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean: down ## Stop the stack and delete its data and logs
	rm -rf .state
