# The two commands a newcomer needs: `make run` and `make test` (see README.md).
# Both bootstrap everything on a fresh Debian machine: apt packages, .venv, pinned Python packages.

SHELL := /bin/bash
PY := .venv/bin/python
RUN_STAMP := .venv/.run-stamp
STAMP := .venv/.installed-stamp
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-deps image lint typecheck imports pytest-both pytest-sqlite pytest-postgres apt-test apt-run bench clean lock messages

# The demo page and the printed links use the address the server really listens on.
run: export SAVEFLOW_PUBLIC_URL ?= http://$(HOST):$(PORT)

run: $(RUN_STAMP) apt-run
	$(PY) -m service migrate
	$(PY) -m service seed --sample-history
	$(PY) -m service serve --host $(HOST) --port $(PORT)

# The static checks run beside pytest (their output is printed after it): the budget is 10 minutes on 2 cores.
test: test-deps
	@start=$$(date +%s); mkdir -p var; \
	$(MAKE) --no-print-directory lint typecheck imports > var/static-checks.log 2>&1 & checks=$$!; \
	$(MAKE) --no-print-directory pytest-both; tests=$$?; \
	wait $$checks; static=$$?; \
	echo "== ruff, mypy, import-linter (exit $$static)"; cat var/static-checks.log; \
	[ $$static = 0 ] && [ $$tests = 0 ] || exit 1; \
	echo $$(( $$(date +%s) - start )) > var/make-test-seconds; \
	echo "== make test: all checks passed (ruff, mypy, import-linter, pytest on SQLite and on PostgreSQL) in $$(cat var/make-test-seconds) s"

# What the tests need, side by side: pip's packages while apt installs the browser, Postgres and the clients'
# toolchains (on a fresh machine each takes most of a minute, mostly waiting on downloads and dpkg).
test-deps:
	@$(MAKE) --no-print-directory -j3 --output-sync=target $(STAMP) apt-test $(CLIENT_NPM)

# The container image, an OCI archive (README, "Running in production"; container/build_image.py).
image: $(STAMP)
	@command -v mmdebstrap >/dev/null || { $(call APT_GET,mmdebstrap); }
	@mkdir -p dist
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .
	$(PY) container/build_image.py --wheel dist/saveflow-$$($(PY) -m service --version | cut -d' ' -f2)-py3-none-any.whl \
		--wheelhouse .venv/wheelhouse --out dist/saveflow-$$($(PY) -m service --version | cut -d' ' -f2).oci.tar

# Benchmarks (not part of make test): each figure beside its goal with PASS/FAIL, written to bench/results.json
# (bench/README.md). The flow load comes from wrk, installed here when missing; Postgres is a throwaway durable cluster.
bench: $(STAMP)
	@missing=""; $(BROWSER_AND_POSTGRES) [ -x /usr/bin/wrk ] || missing="$$missing wrk"; \
	[ -z "$$missing" ] || { $(call APT_GET,$$missing); }
	PG_DURABLE=1 tests/support/with-postgres.sh $(PY) -m bench.run

# --- environment -------------------------------------------------------------------------------
# `make run` installs what running needs (requirements.lock); checks and tests add requirements-dev.lock.
$(RUN_STAMP): pyproject.toml requirements.lock
	@command -v python3 >/dev/null || $(call APT_GET,python3 python3-venv)
	@[ -x $(PY) ] || python3 -m venv .venv || { $(call APT_GET,python3-venv) && python3 -m venv .venv; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(RUN_STAMP)

# The wheelhouse holds requirements.lock as wheels: the packaging test installs the built wheel from it into
# a fresh venv without the network (tests/integration/test_package.py).
$(STAMP): $(RUN_STAMP) requirements-dev.lock
	$(PY) -m pip install -q -r requirements-dev.lock
	$(PY) -m pip wheel -q -r requirements.lock -w .venv/wheelhouse
	@touch $(STAMP)

# test-deps runs apt beside pip, whose venv may need apt too: one apt at a time (apt-get update does not wait for
# the lists' lock, only install waits for dpkg's), and both wait for any other apt on the machine.
APT_LOCK := flock /var/lock/saveflow-apt.lock
APT_WAIT := -o DPkg::Lock::Timeout=600

# apt packages, installed only when missing (root on Debian; elsewhere install them yourself)
APT_GET = if [ "$$(id -u)" = 0 ]; then $(APT_LOCK) sh -c "apt-get $(APT_WAIT) update -qq && DEBIAN_FRONTEND=noninteractive apt-get $(APT_WAIT) install -y -qq --no-install-recommends $(1)"; \
	else echo "please install: $(1)" >&2; exit 1; fi

apt-run:
	@true

# Chromium and PostgreSQL for the tests; Node.js, Ruby, PHP and Go (with their JWT packages) run the
# integrators' snippets in clients/ (tests/e2e/test_clients.py); mmdebstrap builds the container image, which
# umoci unpacks and runc starts (tests/integration/test_package.py). One apt-get for whatever is missing.
# (bench needs only the first two, image only mmdebstrap.)
BROWSER_AND_POSTGRES = [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql";
apt-test:
	@missing=""; $(BROWSER_AND_POSTGRES) \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v ruby >/dev/null || missing="$$missing ruby"; \
	ruby -e 'require "jwt"' 2>/dev/null || missing="$$missing ruby-jwt"; \
	command -v php >/dev/null || missing="$$missing php-cli"; \
	command -v go >/dev/null || missing="$$missing golang-go"; \
	[ -d /usr/share/gocode/src/github.com/golang-jwt/jwt ] || missing="$$missing golang-github-golang-jwt-jwt-dev"; \
	for tool in mmdebstrap umoci runc; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	[ -z "$$missing" ] || { $(call APT_GET,$$missing); }

# The snippets' npm packages, as locked (clients/*/package-lock.json).
CLIENT_NPM := clients/node/node_modules/.package-lock.json clients/js/node_modules/.package-lock.json
clients/%/node_modules/.package-lock.json: clients/%/package-lock.json | apt-test
	cd clients/$* && npm ci --no-audit --no-fund --loglevel=error

# --- checks --------------------------------------------------------------------------------------
lint: $(STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: $(STAMP)
	.venv/bin/mypy

imports: $(STAMP)
	.venv/bin/lint-imports

# Both databases at once (one pytest per core); the two targets below run one database each.
pytest-both: $(STAMP) $(CLIENT_NPM)
	tests/support/pytest-both.sh $(PY) $(PYTEST_ARGS)

pytest-sqlite: $(STAMP)
	@echo "== pytest on SQLite"
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

pytest-postgres: $(STAMP)
	@echo "== pytest on PostgreSQL"
	tests/support/with-postgres.sh $(PY) -m pytest $(PYTEST_ARGS)

# --- maintenance ---------------------------------------------------------------------------------
# Re-extract the widget's strings, merge them into de/fr/es, compile. Translate the new msgstr lines,
# then run it again; tests/unit/service/test_i18n.py fails while any string is untranslated.
messages: $(STAMP)
	.venv/bin/pybabel extract -F service/locales/babel.cfg -k tr -k _mark --no-location --omit-header --no-wrap \
		-o service/locales/messages.pot .
	.venv/bin/pybabel update -i service/locales/messages.pot -d service/locales --no-wrap --no-fuzzy-matching
	.venv/bin/pybabel compile -d service/locales

# requirements.lock: what `pip install .` needs, pinned as installed; requirements-dev.lock: everything else.
lock: $(STAMP)
	@mkdir -p var
	$(PY) -m pip install -q --dry-run --ignore-installed --report var/install-report.json .
	$(PY) -m pip freeze --all --exclude-editable | grep -v '^saveflow\|^pip==' | $(PY) tests/support/split_lock.py var/install-report.json

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis clients/*/node_modules
