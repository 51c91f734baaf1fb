# Mirrors what CI runs; every target uses the project venv made by `make setup`.
PY := .venv/bin/python

.PHONY: setup demo test lint typecheck bench ci

setup:
	python3 -m venv .venv && .venv/bin/pip install -e ".[server,llm,studio,dev]"

demo:
	.venv/bin/amcs run examples/sds/pop_complexity_1.json --out out/demo

test:
	$(PY) -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy

bench:
	$(PY) bench/fixtures.py

ci:
	bash .ci/run
