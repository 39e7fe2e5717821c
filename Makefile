PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := gateway workflow session executor
svc ?=
PYTEST_ARGS ?=
# Pinned, hashed dependencies: requirements.lock (everything, for development and CI) and one lock per image
# under deploy/requirements/, each constrained by requirements.lock so images run the versions the tests ran.
LOCK := requirements.lock
UV := $(VENV)/bin/uv
LOCK_FLAGS := --quiet --generate-hashes --universal --python-version 3.11 --no-emit-index-url \
	--custom-compile-command "make lock"

.PHONY: help install lock lock-upgrade run migrate test test-unit test-integration test-e2e lint typecheck bench clean

help:
	@echo "make run       start the whole platform (gateway on :8000)"
	@echo "make test      install and run the whole test suite"
	@echo "make migrate   run every service's migrations (svc=workflow for one)"
	@echo "make lint / typecheck / bench"
	@echo "make lock      refresh the lock files after changing dependencies in pyproject.toml"
	@echo "make lock-upgrade  move every pin to the newest version the ranges allow"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(LOCK) pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Keeps every pin that still fits pyproject.toml and resolves only what changed; lock-upgrade re-resolves all.
lock: | $(PY)
	@test -x $(UV) || $(PY) -m pip install --quiet "uv>=0.4"
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(LOCK_ARGS) -o $(LOCK)
	$(UV) pip compile pyproject.toml --extra gateway $(LOCK_FLAGS) -c $(LOCK) -o deploy/requirements/api.lock
	$(UV) pip compile pyproject.toml --extra executor $(LOCK_FLAGS) -c $(LOCK) -o deploy/requirements/executor.lock

lock-upgrade:
	@$(MAKE) --no-print-directory lock LOCK_ARGS=--upgrade

migrate: install
	@$(PY) -m shared.dbadmin
	@for s in $(if $(svc),$(svc),$(SERVICES)); do echo "migrating $$s"; $(PY) -m services.$$s migrate upgrade || exit 1; done

run: install
	@$(PY) -m tools.preflight
	@$(MAKE) --no-print-directory migrate
	@$(PY) -m tools.devrun

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: install
	$(PY) -m mypy shared services tools echoai_client echoai_cli

bench: install
	$(PY) bench/sessions.py
	$(PY) bench/runs.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
