# Two commands: `make run` starts the platform, `make test` runs the whole suite.
# Both create .venv and install on first use; a reinstall happens only when
# pyproject.toml or constraints.txt changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (tests/operations/infrastructure) lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_REQUIREMENTS := tests/operations/infrastructure/checkov-requirements.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r $(CHECKOV_REQUIREMENTS)
	touch $(CHECKOV_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/auterity migrate
	$(BIN)/auterity dev $(ARGS)

test: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache
