# Two commands do all the set-up on a fresh machine:
#   make demo   - site + worker + seeded demo study on embedded defaults, and a scripted
#                 end-to-end pass with simulated raters that ends with exported labels
#   make test   - the test suite, against PostgreSQL, Redis, a real Celery worker and
#                 headless Chromium
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: requirements.txt
	scripts/bootstrap $(VENV)
	@touch $@

.PHONY: install demo test bench fuzz load
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) manage.py demo $(DEMO_ARGS)

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
