# orgconfig — every setup step lives here, so a fresh clone needs only Python 3.11 and
# Node.js with npm (for Azurite, the local table service).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# checkov and azure-functions-doctor get their own venv: their pins clash with the app's.
INFRA_VENV := .venv-checkov
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: install test lint typecheck imports pytest demo dev serve bench bench-shards bench-bookkeeping bench-revalidation bench-telemetry bench-fleet fuzz soak clean checkov doctor chromium

# npm first: a missing Node.js is said at once, not after the pip install
install: $(NPM_STAMP) $(PIP_STAMP)

$(PIP_STAMP): requirements.txt requirements-dev.txt
	@echo "installing Python packages into $(VENV) (first run: about 1-2 minutes) ..."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(INFRA_STAMP): requirements-infra.txt
	@echo "installing checkov and azure-functions-doctor into $(INFRA_VENV) (first run: about a minute) ..."
	test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

# Azurite 3.37 (package.json) declares Node.js >= 22; it also runs on 20 (tested), so an
# older Node.js only warns. A missing node or npm stops here, saying what to install.
NODE_MIN := 22
NODE_HELP := install Node.js $(NODE_MIN) LTS or newer, which includes npm, from https://nodejs.org/en/download (or with nvm, or your package manager if it has that version), then run make again
$(NPM_STAMP): package.json package-lock.json
	@command -v node >/dev/null 2>&1 || { echo "Node.js is missing (Azurite, the local table service, is an npm package): $(NODE_HELP)" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing (Node.js $$(node --version) is there): $(NODE_HELP)" >&2; exit 1; }
	@major=$$(node -p 'process.versions.node.split(".")[0]'); \
	  if [ "$$major" -lt $(NODE_MIN) ]; then \
	    echo "warning: Node.js $$(node --version) is older than Azurite supports (>= $(NODE_MIN)); if Azurite fails to start, $(NODE_HELP)" >&2; \
	  fi
	@echo "installing Azurite into node_modules with npm ci (first run: under a minute) ..."
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's chromium (Playwright's own download cannot work here).
# As root (CI) it is installed when missing; otherwise make stops with the command to run.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "Chromium is missing (the browser tests need it): run" >&2; \
	    echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	    exit 1; \
	  fi; \
	fi

lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(PIP_STAMP)
	$(VENV)/bin/mypy

# The floors of shared/ and what may import what (pyproject.toml, [tool.importlinter]).
imports: $(PIP_STAMP)
	$(VENV)/bin/lint-imports

pytest: install
	ORGCONFIG_CHROMIUM=$(CHROMIUM) $(PY) -m pytest $(PYTEST_ARGS)

# checkov over infra/ (Bicep): zero failed checks, skips only inline with their reason.
checkov: $(PIP_STAMP) $(INFRA_STAMP)
	$(PY) -m tools.checkov_gate

# azure-functions-doctor over the project (informational: see README "Deploy to Azure").
doctor: $(INFRA_STAMP)
	$(INFRA_VENV)/bin/azure-functions-doctor doctor --path . --profile full

test: install chromium lint typecheck imports checkov pytest

demo: install
	$(PY) -m tools.demo

dev: install
	$(PY) -m tools.devservices $(if $(SHARDS),--shards $(SHARDS),)

# The API (and the admin page) on localhost without Core Tools; ports overridable:
# make serve PORT=7072 TABLE_PORT=0 VAULT_PORT=0 CONTROL_PORT=0 (0 = a free port).
PORT ?= 7071
TABLE_PORT ?= 10002
VAULT_PORT ?= 8443
CONTROL_PORT ?= 8444
serve: install
	$(PY) -m tools.serve --port $(PORT) --table-port $(TABLE_PORT) --vault-port $(VAULT_PORT) --control-port $(CONTROL_PORT)

# Schemathesis over real HTTP, >= 10,000 requests (make test runs a short deterministic slice
# of the same tests). FUZZ_EXAMPLES per operation, FUZZ_SCENARIOS stateful scenarios.
FUZZ_EXAMPLES ?= 800
FUZZ_SCENARIOS ?= 300
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SCENARIOS=$(FUZZ_SCENARIOS) FUZZ_STEPS=8 FUZZ_EXPLORE=1 \
		FUZZ_MIN_REQUESTS=10000 FUZZ_REPORT=1 \
		$(PY) -m pytest tests/fuzz -q -p no:cacheprovider $(PYTEST_ARGS)

# Load and faults against two local instances (a few minutes, loopback, free ports): prints a
# table, fails on a 500, a lost update, an unrecorded change, a breaker-lengthened outage, a
# stale read on the second instance or a secret in a log. make test runs a short slice.
soak: install
	$(PY) -m tools.soak

bench: install
	$(PY) -m bench $(if $(QUICK),--quick,)

# the scale model's several-vaults comparison only (a model: seconds, no servers)
bench-shards: install
	$(PY) -m bench.shards

# what history rows and the org registry add to a snapshot reload (Azurite; a minute)
bench-bookkeeping: install
	$(PY) -m bench.bookkeeping

# vault GETs of a warm instance over simulated hours, with and without revalidation
bench-revalidation: install
	$(PY) -m bench.revalidation

# the micro benchmark without and with the OpenTelemetry SDK and a real exporter
bench-telemetry: install
	$(PY) -m bench.telemetry

# K=16 resolver processes against one emulator vault vs the scale model, then throttled
# (about 10 minutes; QUICK=1: K=2 for 20 s, bench/.work/fleet-quick/, RESULTS.md untouched)
bench-fleet: install
	$(PY) -m bench.fleet $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .local .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
