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

.PHONY: install demo test bench
install: $(VENV)/.installed

# The demo runs with DJANGO_DEBUG off, like production: a throwaway secret key per run
# unless you set one (settings refuse the development key).
THROWAWAY_KEY = $$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')

demo: $(VENV)/.installed
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$(THROWAWAY_KEY)}" $(PY) manage.py demo $(DEMO_ARGS)

test: $(VENV)/.installed
	scripts/test $(TEST_ARGS)

bench: $(VENV)/.installed
	scripts/bench
