# Two commands matter: `make demo` and `make test`. Both bootstrap .venv from uv.lock.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV_PY := .venv/bin/python

.PHONY: demo test lint clean stack-up stack-down test-stack bench

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: .venv/installed
	$(VENV_PY) demo/run.py

# Debian's chromium, for the browser tests of the Models page (Playwright drives it; its own
# browser download is never used). Installed with apt when missing (CI runs as root).
CHROMIUM ?= /usr/bin/chromium
APT := $(shell [ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.tools/chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		$(APT) install -y --no-install-recommends chromium || \
		{ $(APT) update && $(APT) install -y --no-install-recommends chromium; }; \
	fi
	@mkdir -p .tools && touch $@

test: .venv/installed .tools/chromium
	$(VENV_PY) -m pytest -m "not stack"

# The production-like stack (CeleryExecutor + PostgreSQL + Redis + an MLflow server), see
# README "Production-like setup". STACK_PG_URL / STACK_REDIS_URL point it at your own servers.
STACK := $(VENV_PY) stack/stack.py

stack-up: .venv/installed
	$(STACK) up

stack-down:
	@if [ -x $(VENV_PY) ]; then $(STACK) down; fi

test-stack: .venv/installed .tools/chromium
	STACK_TEST_DAGS=1 $(STACK) up || { $(STACK) down; exit 1; }
	$(VENV_PY) -m pytest -m stack tests/stack; status=$$?; $(STACK) down; exit $$status

# Benchmarks (BENCHMARKS.md). The `bench` dependency group adds the published GX provider to
# compare against; `make test` and `make demo` never need it.
bench: | $(UV)
	$(UV) sync --frozen --group bench --python $(PYTHON)
	$(VENV_PY) bench/validation.py
	$(VENV_PY) bench/drift.py

lint: .venv/installed
	.venv/bin/ruff check airflow_mlops dags demo tests

clean:
	rm -rf .demo .pytest_cache
