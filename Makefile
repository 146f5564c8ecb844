# docflow: every target installs what it needs (uv, then the locked environment) first.
UV := scripts/uv
RUN := $(UV) run --frozen --no-sync
PYTEST_WORKERS ?= 4

.PHONY: help sync up down status logs test lint format typecheck bench clean demo

help:
	@echo "make up      start the local stack in the background and print its URLs"
	@echo "make down    stop what 'make up' started"
	@echo "make status  show which processes are running"
	@echo "make logs    follow the logs"
	@echo "make test    lint, type-check and run every test"
	@echo "make bench   run the benchmarks and append the results to docs/benchmarks.md"

sync:
	@$(UV) sync --all-packages --frozen --quiet

up: sync
	@$(RUN) docflow-stack up

down: sync
	@$(RUN) docflow-stack down

status: sync
	@$(RUN) docflow-stack status

logs:
	@mkdir -p .docflow/logs && tail -n 50 -F .docflow/logs/*.log

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: sync
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: sync
	$(RUN) mypy shared/src

test: lint typecheck
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadgroup

bench: sync
	$(RUN) python -m benchmarks.resonate_server
	$(RUN) python -m benchmarks.front_door

clean:
	rm -rf .docflow .pytest_cache .mypy_cache .ruff_cache .hypothesis

demo: sync
	@$(RUN) docflow-demo
