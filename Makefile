# Two commands: `make run` starts the platform, `make test` runs the whole suite.
# Both create .venv and install on first use; a reinstall happens only when
# pyproject.toml or constraints.txt changed. The web builder (web/) is built the
# same way: `npm ci` when package-lock.json changed, `vite build` when a source did.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (tests/operations/infrastructure) lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_REQUIREMENTS := tests/operations/infrastructure/checkov-requirements.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NPM_STAMP := web/node_modules/.installed
WEB_STAMP := web/dist/.built
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) \
	web/index.html web/package.json web/tsconfig.json web/vite.config.ts

.PHONY: run test lint install clean web web-types

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r $(CHECKOV_REQUIREMENTS)
	touch $(CHECKOV_STAMP)

$(NPM_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(WEB_STAMP): $(NPM_STAMP) $(WEB_SOURCES)
	cd web && npm run --silent build
	touch $(WEB_STAMP)

install: $(STAMP) $(NPM_STAMP)

web: $(WEB_STAMP)

# Regenerate web/src/api/schema.d.ts from the app's OpenAPI document (after an API change).
web-types: $(STAMP) $(NPM_STAMP)
	$(BIN)/python web/scripts/openapi.py > web/.openapi.json
	cd web && npx openapi-typescript .openapi.json -o src/api/schema.d.ts

# Bytecode for our packages: the workflow sandbox re-imports graph_workflow.py for every run,
# and with PYTHONDONTWRITEBYTECODE set (or a read-only tree) it would compile the source each time.
BYTECODE = $(BIN)/python -m compileall -q auterity api workers workflows activities

run: $(STAMP) $(WEB_STAMP)
	$(BYTECODE)
	$(BIN)/auterity migrate
	$(BIN)/auterity dev $(ARGS)

test: $(STAMP) $(CHECKOV_STAMP) $(WEB_STAMP)
	cd web && npx vitest run
	$(BYTECODE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) $(NPM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd web && npx tsc -b

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache web/node_modules web/dist
