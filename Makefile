# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Without DATABASE_URL, commands run from here use the embedded PostgreSQL (var/pgdata), with
# its owner and runtime roles; the settings refuse that outside the Makefile unless DEBUG=1 or
# EMBEDDED_DB=1 (production must name its database). DATABASE_URL wins when set.
export EMBEDDED_DB ?= 1

.PHONY: setup run demo test lint format diagram messages db-stop clean bench schema clients npm-tools browser nginx

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Install, start the database (embedded unless DATABASE_URL is set), migrate (as the owner
# role), load the demo register only into an empty database.
setup: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --domain django --directory locale --statistics
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_register --if-empty

# The background worker (webhook deliveries, DESIGN §8) runs beside the web server and stops
# with it.
run: setup
	$(PY) manage.py ensure_admin
	@echo "Serving on http://127.0.0.1:$(PORT)/admin/ (and the worker in the background)"
	DEBUG=1 $(PY) manage.py procrastinate worker --delete-jobs successful & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null; wait $$WORKER' EXIT INT TERM; \
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Load the demo register (Stockholm, Malmö, Linköping) on request, also into a used database:
# records someone else changed since the last load are reported and left alone.
demo: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_register

# The suite runs on TEST_WORKERS processes (pytest-xdist), each module whole on one worker
# (its module fixtures, such as a generated register, are built once) and each worker with a
# test database of its own (the whole suite: 13 minutes on two cores, 2026-12-01).
TEST_WORKERS ?= 2
test: setup browser nginx npm-tools
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null; }

# The slow-client tests (tests/test_abuse.py) put Debian's nginx in front of gunicorn, with the
# proxy configuration docker-compose uses (deploy/nginx/).
NGINX := /usr/sbin/nginx
nginx:
	@test -x $(NGINX) || { echo "Installing Debian's nginx for the proxy tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx \
		>/dev/null; }

lint:
	$(PY) -m ruff check .

format:
	$(PY) -m ruff format .

# Regenerate the data-model diagram in models_docs/README.md.
diagram: $(VENV)/.installed
	$(PY) manage.py model_diagram --write

# Update the Swedish translation catalogue after changing translatable strings.
messages: $(VENV)/.installed
	$(PY) manage.py makemessages --locale sv --ignore '.venv/*' --no-obsolete

# Benchmarks on a generated register in its own database (not part of `make test`).
BENCH_CASES ?= 1000000
bench: $(VENV)/.installed
	command -v wrk >/dev/null || apt-get install -y -qq wrk || echo "no wrk: HTTP part skipped"
	$(VENV)/bin/pybabel compile --domain django --directory locale >/dev/null
	$(PY) -m caseregister.embedded_db tune
	URL=$$($(PY) -m caseregister.embedded_db reset caseregister_bench) && \
	DATABASE_URL=$$URL $(PY) manage.py migrate --noinput -v0 && \
	START=$$(date +%s) && \
	DATABASE_URL=$$URL $(PY) manage.py generate_register --cases $(BENCH_CASES) && \
	DATABASE_URL=$$URL $(PY) manage.py bench --write --generated-in $$(( $$(date +%s) - START ))

db-stop:
	$(PY) -m caseregister.embedded_db stop

clean: db-stop
	rm -rf $(VENV) var build

# Regenerate the committed OpenAPI document from the code (tests check that it matches).
# Its labels come from the Swedish catalogue, so that is compiled first.
schema: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --domain django --directory locale
	$(PY) manage.py spectacular --validate --fail-on-warn --lang en --file openapi.yaml

# Generate API clients from openapi.yaml into build/clients/: a Python package
# (openapi-python-client, pinned in pyproject) and TypeScript with openapi-typescript (types),
# @hey-api/openapi-ts and orval (fetch clients). The npm tools are pinned exactly and installed
# once into build/npm (a stamp named for the pins: changing a pin reinstalls); tests/
# test_clients.py generates each from openapi.yaml and type-checks it (mypy, tsc).
NPM_TOOLS := openapi-typescript@7.13.0 @hey-api/openapi-ts@0.99.0 orval@8.38.0 typescript@5.9.3
NPM_STAMP := build/npm/.installed-$(shell echo '$(NPM_TOOLS)' | sha1sum | cut -c1-12)
NPM_BIN := build/npm/node_modules/.bin

$(NPM_STAMP):
	rm -rf build/npm && mkdir -p build/npm
	npm install --prefix build/npm --no-save --no-audit --no-fund --ignore-scripts $(NPM_TOOLS)
	touch $@

npm-tools: $(NPM_STAMP)

clients: $(VENV)/.installed $(NPM_STAMP)
	rm -rf build/clients
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/openapi-python-client generate \
		--path openapi.yaml --output-path build/clients/python --meta setup --fail-on-warning
	mkdir -p build/clients/openapi-typescript
	$(NPM_BIN)/openapi-typescript openapi.yaml --output build/clients/openapi-typescript/schema.d.ts
	$(NPM_BIN)/openapi-ts --input openapi.yaml --output build/clients/hey-api \
		--client @hey-api/client-fetch
	$(NPM_BIN)/orval --input openapi.yaml --output build/clients/orval/api.ts --client fetch
