PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := gateway workflow session executor
svc ?=
PYTEST_ARGS ?=

.PHONY: help install run migrate test test-unit test-integration test-e2e lint typecheck bench clean

help:
	@echo "make run       start the whole platform (gateway on :8000)"
	@echo "make test      install and run the whole test suite"
	@echo "make migrate   run every service's migrations (svc=workflow for one)"
	@echo "make lint / typecheck / bench"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

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
