# ForexGPT: `make run` starts the platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install chromium migrate bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput -v0

## Command 1: install, migrate, load the demo data and users, serve web + workers (Ctrl-C stops all).
run: migrate
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py bootstrap_demo
	$(PY) manage.py run_platform

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Command 2: install what is missing and run every test (in TEST_WORKERS pytest-xdist processes).
TEST_WORKERS ?= 3
test: install chromium
	$(PY) -m pytest -n $(TEST_WORKERS)

bench: install
	$(PY) bench/import_speed.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
