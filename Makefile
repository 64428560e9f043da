# orgconfig — every setup step lives here, so a fresh clone needs only Python and npm.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: install test lint typecheck pytest demo dev serve bench clean

install: $(PIP_STAMP) $(NPM_STAMP)

$(PIP_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(PIP_STAMP)
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

test: install lint typecheck pytest

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

bench: install
	$(PY) -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) node_modules .local .mypy_cache .ruff_cache .pytest_cache
