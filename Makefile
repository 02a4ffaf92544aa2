# Portolan: `make run` serves the portal on the embedded default (SQLite, in-process
# background work); `make test` installs what the tests need and runs them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Django 6.1 needs Python 3.12 or newer: take the first one found.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 \
	$$HOME/.pyenv/versions/3.14*/bin/python3 $$HOME/.pyenv/versions/3.13*/bin/python3 \
	$$HOME/.pyenv/versions/3.12*/bin/python3 /usr/local/bin/python3 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
	>/dev/null 2>&1 && { command -v $$p; break; }; done)
DEBIAN_TEST_PACKAGES := docker-registry skopeo chromium

.PHONY: run test bench lint worker clean system-packages

$(VENV)/.runtime: pyproject.toml
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		test -n "$(PYTHON)" || { echo "Portolan needs Python 3.12 or newer (Django 6.1); none was found on PATH or in ~/.pyenv." >&2; exit 1; }; \
		echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv --clear $(VENV); \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --no-input
	$(PY) manage.py ensure_admin
	@echo "Portolan is at http://$(HOST):$(PORT)/"
	@# The built-in registry runs beside the portal when docker-registry is installed.
	@export PORTAL_URL="$${PORTAL_URL:-http://$(HOST):$(PORT)}"; \
	if command -v docker-registry >/dev/null 2>&1; then \
		log="$${PORTAL_DATA_DIR:-var}/builtin-registry.log"; mkdir -p "$$(dirname "$$log")"; \
		$(PY) manage.py builtin_registry serve >>"$$log" 2>&1 & registry=$$!; \
		trap 'kill $$registry 2>/dev/null' EXIT INT TERM; \
		echo "The built-in registry runs beside it (log: $$log; see /builtin-registry/)."; \
	else \
		echo "The built-in registry is off: install docker-registry to run it" \
			"(Debian/Ubuntu: sudo apt-get install docker-registry)."; \
	fi; \
	log="$${PORTAL_DATA_DIR:-var}/scheduler.log"; mkdir -p "$$(dirname "$$log")"; \
	$(PY) manage.py run_scheduler >>"$$log" 2>&1 & scheduler=$$!; \
	trap 'kill $$scheduler $${registry:-} 2>/dev/null' EXIT INT TERM; \
	echo "Registries are crawled on schedule in the background (log: $$log)."; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

system-packages:
	@missing=""; for pkg in $(DEBIAN_TEST_PACKAGES); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "Missing Debian packages:$$missing (their tests will be skipped)"; fi; \
	fi

test: $(VENV)/.test system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

# Figures, not tests: crawl vs its floor, push-to-searchable, search at 100k
# repositories (needs PostgreSQL and Redis on loopback; knobs in bench/__main__.py).
bench: $(VENV)/.test system-packages
	$(PY) -m bench

worker: $(VENV)/.runtime
	$(VENV)/bin/celery -A portal worker -B --loglevel INFO

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var
