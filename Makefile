# The two commands a new user needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
UV_VERSION ?= 0.13.8
# uv on PATH if there is one; else the copy `make deps` installs with pip.
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
OMS := $(UV) run --no-sync oms

.PHONY: run test bench deps chromium lint typecheck pytest up down status clean

## Install Python deps (uv itself first, if missing), bring the stack and the services up,
## place demo orders and show what happened, then show the stack's health. It stays up.
run: deps
	$(OMS) up
	$(OMS) demo
	$(OMS) status

## Everything CI checks, from a clean clone: deps, lint, types, all test tiers against
## real PostgreSQL and Kafka. Starts the stack if it is not running and stops it after.
## OMS_TEST_STACK=containers: PostgreSQL and Kafka in Docker containers instead (testcontainers,
## oms_cli.containers), removed after; an error, never the local stack, if there is no engine.
test: deps chromium lint typecheck
	@if [ -n "$${OMS_TEST_STACK:-}" ] && [ "$$OMS_TEST_STACK" != local ]; then \
		exec $(UV) run --no-sync python -m oms_cli.containers run -- \
			$(UV) run --no-sync pytest -q --durations=10; \
	fi; \
	if $(OMS) status --json >/dev/null 2>&1; then started=0; else started=1; $(OMS) up; fi; \
	rc=0; $(UV) run --no-sync pytest -q --durations=10 || rc=$$?; \
	if [ "$$started" = 1 ]; then $(OMS) down; fi; \
	exit $$rc

## Benchmarks (results in bench/results/); starts PostgreSQL and Kafka if needed (not the
## services: their idle polling would share the two cores with the measurements).
bench: deps
	$(OMS) up --no-services
	$(UV) run --no-sync python bench/run.py

deps:
	@if ! $(UV) --version >/dev/null 2>&1; then \
		echo "installing uv $(UV_VERSION) with pip"; \
		python3 -m pip install --quiet "uv==$(UV_VERSION)"; \
	fi
	$(UV) sync --all-packages --locked
	@# From the npm registry, again whenever a lock file is newer than what npm last
	@# installed: the operations web pages' libraries (htmx, Chart.js) and the AsyncAPI
	@# parser the tests check docs/asyncapi.json with.
	@for dir in services/operations tools/asyncapi; do \
		if [ ! -f $$dir/node_modules/.package-lock.json ] || \
			[ $$dir/package-lock.json -nt $$dir/node_modules/.package-lock.json ]; then \
			echo "installing the npm packages of $$dir (npm ci)"; \
			command -v npm >/dev/null || { echo "npm is missing (apt-get install npm)"; exit 1; }; \
			(cd $$dir && npm ci --no-audit --no-fund); \
		fi; \
	done

## Debian's Chromium for the browser tests (never a browser download by Playwright).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium with apt-get (the browser tests drive /usr/bin/chromium)"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update && $$sudo apt-get install -y chromium; \
	fi

lint:
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

typecheck:
	$(UV) run --no-sync mypy

pytest:
	$(UV) run --no-sync pytest -q

up:
	$(OMS) up

down:
	$(OMS) down

status:
	$(OMS) status

## Stop the stack and delete its state (databases, Kafka logs). Jars stay cached.
clean: down
	rm -rf .oms
