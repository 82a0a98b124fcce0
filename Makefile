# One task runner for people and CI. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# Exact versions with hashes, resolved from pyproject.toml's ranges by `make lock`: the runtime lock
# is what the image installs; the dev lock is the runtime lock plus the dev extras.
LOCK     = requirements.lock
DEV_LOCK = requirements-dev.lock

.PHONY: install lock run sandbox test lint fmt mypy pytest i18n bench soak audit clean

# The locked dependencies (pip checks every hash), then the project itself without resolving
# anything again, so what is installed is exactly the lock.
$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Re-resolve after changing pyproject.toml's dependencies. Pins already in the locks are kept
# where they still fit; `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed.
# The dev lock is resolved first and constrains the runtime one, so the two never disagree.
LOCK_FLAGS = --universal --generate-hashes --custom-compile-command 'make lock' --quiet $(LOCK_ARGS)

# It needs only uv (at pyproject.toml's pin), not an installed venv, so it works with no lock.
lock:
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$$(grep -Eo 'uv==[0-9.]+' pyproject.toml)"
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) --output-file $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml --constraint $(DEV_LOCK) $(LOCK_FLAGS) --output-file $(LOCK)

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
