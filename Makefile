# One task runner for people and CI. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install run sandbox test lint fmt mypy pytest i18n bench soak audit clean

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

# Translations: extract every template from the code (mapping and keywords in pyproject.toml's
# [tool.babel]) into a template that is not kept, then merge it into each catalog under
# bot/i18n/locales: new texts come in empty, changed ones fuzzy with the old translation, and
# texts the code no longer has are dropped. Translate the empty and fuzzy ones, then `make test`.
I18N_POT = build/messages.pot
i18n: $(STAMP)
	mkdir -p $(dir $(I18N_POT))
	$(BIN)/pybabel extract -F pyproject.toml --add-location file --project "ZStack Clone Bot" \
		--version 1 -o $(I18N_POT) bot handlers
	$(BIN)/pybabel update -i $(I18N_POT) -d bot/i18n/locales --ignore-obsolete

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
