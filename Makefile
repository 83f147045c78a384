# The two commands of the README:
#   make run    install what running needs into .venv (Syndicate and its runtime
#               dependencies, the PostgreSQL driver included) and run Syndicate on the bundled
#               content (embedded defaults)
#   make test   install the test tools too (pytest, ruff, mypy, ...) and run every check:
#               ruff, mypy, the import layers, the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PostgreSQL tests read this DSN; CI (.ci/run) makes sure the server is up.
SYNDICATE_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export SYNDICATE_TEST_POSTGRES_URL

.PHONY: run test install check clean

# Running needs the package and the postgres extra only; the test tools come with `test`.
$(BIN)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	touch $@

$(BIN)/.installed: $(BIN)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed-run
	$(BIN)/syndicate run

check: $(BIN)/.installed
	$(BIN)/ruff check syndicate tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) public state .pytest_cache .mypy_cache .ruff_cache
