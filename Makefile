# Sparkify warehouse: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv prereqs browser test unit lint demo airflow down lock bench clean base-images compose-test

# The venv is rebuilt whenever the lock changes. uv is ~6x faster than pip; pip is the fallback.
$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	  || { echo "Python 3.11 is required (found $$($(PYTHON) --version)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements.lock into $(VENV) ..."
	@( $(VENV)/bin/pip install -q uv==0.13.9 && $(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock ) \
	  || ( echo "uv failed; falling back to pip" && $(VENV)/bin/pip install -q -r requirements.lock )
	@touch $(STAMP)

venv: $(STAMP)

# PostgreSQL server binaries (initdb, postgres) for the local stack and the integration tests.
prereqs:
	@bash devstack/ensure_postgres.sh

# Debian's chromium for the browser smoke test (playwright itself comes from requirements.lock).
browser:
	@bash devstack/ensure_chromium.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff check --select AIR dags plugins

test: venv prereqs browser lint
	$(VENV)/bin/pytest tests

unit: venv
	$(VENV)/bin/pytest tests/unit tests/endpoint -m "not integration"

demo: venv prereqs
	$(PY) -m devstack demo

airflow: venv prereqs
	$(PY) -m devstack airflow

down:
	@test -x $(PY) && $(PY) -m devstack down || true

bench: venv prereqs
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Docker: the local stand-ins for the public images (no registry needed; cached by input hash),
# then docker-compose.yaml end to end on them (tests/compose/, not part of `make test`).
base-images: venv
	@bash docker/base/build-images.sh

compose-test: base-images
	SPARKIFY_COMPOSE_TEST=1 $(VENV)/bin/pytest tests/compose -x -v --timeout 5400 --durations=0

# Regenerate the full lock from the pinned direct dependencies.
lock:
	uv pip compile --python-version 3.11 requirements.txt -o requirements.lock

clean: down
	rm -rf $(VENV) .devstack .airflow
