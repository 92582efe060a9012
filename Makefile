# Two commands for a newcomer: `make serve` and `make test`.
# `make serve PORT=8081 HOST=0.0.0.0`; ARGS passes anything else (ARGS="--workers 2").
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint bench install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/switchboard serve --host $(HOST) --port $(PORT) $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/switchboard
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests

bench: $(VENV)/.installed
	bash bench/run.sh
