# Two commands set up a fresh machine that has only Python 3.11+ and make:
#   make run   - the web app, a Celery worker, Celery beat and the demo data
#   make test  - linters and the whole test suite
# Without DATABASE_URL both use the embedded PostgreSQL under var/postgres (config/embedded_postgres.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two processes on a two-core machine; tests that share one expensive fixture stay together.
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: run test lint pytest messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime messages
	$(BIN)/python -m config.devrun

messages: $(VENV)/.runtime
	$(BIN)/python -m config.i18n

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m config.embedded_postgres run -- \
		$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

# axe-core for the browser tests' accessibility check, from the npm package pinned in package.json.
# Without npm the check is skipped (and says so); everything else runs the same.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@(command -v npm >/dev/null 2>&1 && npm ci --no-audit --no-fund --silent && touch $@) \
	|| echo "axe-core not installed (no npm or no registry): the browser tests' accessibility check is skipped"

pytest: $(VENV)/.dev messages $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

clean:
	-[ -x $(BIN)/python ] && $(BIN)/python -m config.embedded_postgres stop
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache node_modules

# Shift sign-ups over HTTP (gunicorn, PostgreSQL at DATABASE_URL, default vmbench_signup) next to
# pgbench; writes its section of docs/performance.md. Options: BENCH_SIGNUP_ARGS="--requests 3000".
.PHONY: bench-signup
bench-signup: $(VENV)/.runtime messages
	$(BIN)/python bench/signup_http.py $(BENCH_SIGNUP_ARGS)

# 100,000 due reminders sent by one Celery worker to the file SMS backend (bench/reminders.py);
# writes its section of docs/performance.md. Options: BENCH_REMINDERS_ARGS="--count 20000";
# PostgreSQL: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vmbench_reminders (dropped first).
.PHONY: bench-reminders
bench-reminders: $(VENV)/.runtime
	$(BIN)/python bench/reminders.py $(BENCH_REMINDERS_ARGS)

# Every benchmark at demo scale and at city scale (seed_demo --scale 30 on PostgreSQL, kept as
# vmbench_city), one after another, stopping at the first failure; refreshes the summary at the top
# of docs/performance.md. An hour or more. Options: BENCH_ARGS="--dry-run" or "--only endpoints-s30".
bench: $(VENV)/.runtime messages
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# The pages a volunteer or coordinator opens during a shift next to the API call reading the same
# rows, CPU per request side by side on one gunicorn (bench/pages.py); writes its section of
# docs/performance.md. Options: BENCH_PAGES_ARGS="--reuse-db --requests 200".
.PHONY: bench-pages
bench-pages: $(VENV)/.runtime messages
	$(BIN)/python bench/pages.py $(BENCH_PAGES_ARGS)
