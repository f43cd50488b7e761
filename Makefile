# Two commands do all the set-up on a fresh machine:
#   make demo   - site + worker + seeded demo study on embedded defaults, and a scripted
#                 end-to-end pass with simulated raters that ends with exported labels
#   make test   - the test suite, against PostgreSQL, Redis, a real Celery worker and
#                 headless Chromium
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: requirements-dev.txt
	scripts/bootstrap $(VENV) requirements-dev.txt
	@touch $@

.PHONY: install demo demo-lineup test bench lock fuzz load

install: $(VENV)/.installed

# The demo runs with DJANGO_DEBUG off, like production: a throwaway secret key per run
# unless you set one (settings refuse the development key).
THROWAWAY_KEY = $$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')

demo: $(VENV)/.installed
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$(THROWAWAY_KEY)}" $(PY) manage.py demo $(DEMO_ARGS)

# The lineup (human-preference) study end to end with SIMULATED raters on a FABRICATED run.
demo-lineup: $(VENV)/.installed
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$(THROWAWAY_KEY)}" $(PY) manage.py demo_lineup $(DEMO_ARGS)

test: $(VENV)/.installed
	scripts/test $(TEST_ARGS)

bench: $(VENV)/.installed
	scripts/bench

# API fuzzing against the OpenAPI schema, as every role, with many more examples than CI's 3.
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} scripts/test tests/fuzz -q $(TEST_ARGS)

# Load on the rating endpoints against gunicorn.conf.py on PostgreSQL (127.0.0.1 only, bounded).
LOAD_ARGS ?= --raters 300 --seconds 60
load: $(VENV)/.installed
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ratings_bench} $(PY) bench/bench_load.py $(LOAD_ARGS)

# Regenerate the lock files from pyproject.toml (pip-tools; needs the package index).
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -c torch-cpu.txt
lock: $(VENV)/.installed
	$(VENV)/bin/pip install -q 'pip-tools>=7.4'
	$(PIP_COMPILE) -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra test --extra notebooks -o requirements-dev.txt pyproject.toml
