# The two commands a newcomer needs: `make run` and `make test`. Both set up everything first:
# a .venv with the project and its Python dependencies, the front-end packages from package-lock.json, and
# (for the browser tests) Debian's Chromium, and (for the broker's tests) Debian's redis-server.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8888
CHROMIUM := /usr/bin/chromium
STAMP := $(VENV)/.installed

.PHONY: run cluster test check bench bench-attack bench-page screenshot setup chromium redis clean

run: setup
	$(BIN)/python server.py --host $(HOST) --port $(PORT)

# The cluster on one machine: a private redis-server on a free port, and server.py --processes 2 --broker on it;
# Ctrl-C stops both. Arguments for the server: make cluster ARGS='--option stocks.interval=0.1'.
cluster: setup redis
	$(BIN)/python -m tools.cluster --host $(HOST) --port $(PORT) $(ARGS)

test: setup chromium redis
	npm test
	$(BIN)/python -m pytest

check: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	npm run lint
	npm run format:check

# Our server against its peers, each run with the server and the load generator on different cores; then the server
# as a node of a cluster on a private redis-server (bench/cluster.py): Redis's work per tick, the broker path's latency
# and CPU, failover times.
bench: setup redis
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python -m bench.cluster

# The red team's attacks of issue 18, each beside 1,000 well-behaved clients (server and clients on different cores):
# what the bystanders keep, and what parsing the worst messages costs; about 5 minutes.
bench-attack: setup
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]'
	$(BIN)/python -m bench.attack

# The page in headless Chromium: fps, main-thread time, memory and tick-to-pixel latency (server and browser on
# different cores); about 15 minutes.
bench-page: setup chromium
	$(BIN)/python bench/page.py

screenshot: setup chromium redis
	$(BIN)/python tools/screenshot.py docs

setup: $(STAMP) node_modules/.package-lock.json

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
		|| { echo "Python 3.10 or newer is needed (found $$($(PYTHON) --version 2>&1)); try make PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the chart library: install Node.js 18+ and npm"; exit 1; }
	npm ci --no-audit --no-fund

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else \
			echo "The browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium'"; exit 1; \
		fi; \
	fi

# The tests start private redis-servers of their own on free ports; the machine's own Redis is never used.
redis:
	@if ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; \
		else \
			echo "The broker tests need redis-server on PATH: run 'sudo apt-get install redis-server'"; exit 1; \
		fi; \
	fi

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache *.egg-info
