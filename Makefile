# Two commands matter: `make demo` and `make test`. Both bootstrap .venv from uv.lock.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV_PY := .venv/bin/python

.PHONY: demo test lint clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: .venv/installed
	$(VENV_PY) demo/run.py

test: .venv/installed
	$(VENV_PY) -m pytest

lint: .venv/installed
	.venv/bin/ruff check airflow_mlops dags demo tests

clean:
	rm -rf .demo .pytest_cache
