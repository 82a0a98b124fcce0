# One task runner for people and CI. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install run sandbox test lint fmt mypy pytest bench soak audit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The bot; with no Slack credentials in the environment or .env, the local sandbox.
run: $(STAMP)
	@if [ -n "$$SLACK_BOT_TOKEN" ] || { [ -f .env ] && grep -Eq '^SLACK_BOT_TOKEN=.+' .env; }; then \
		$(BIN)/clone-bot run; \
	else \
		$(BIN)/clone-bot sandbox; \
	fi

sandbox: $(STAMP)
	$(BIN)/clone-bot sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

mypy: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term --durations=10 $(PYTEST_ARGS)

test: lint mypy pytest

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

soak: $(STAMP)
	$(BIN)/python -m tests.soak $(SOAK_ARGS)

# Known vulnerabilities in the installed dependencies. It needs the vulnerability database from
# the network, so it runs where that is reachable (not in the offline CI); --strict fails when the
# database cannot be read instead of reporting "no vulnerabilities".
audit: $(STAMP)
	$(BIN)/pip install -q 'pip-audit>=2.7,<3'
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
