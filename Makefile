# docflow: every target installs what it needs (uv, then the locked environment) first.
UV := scripts/uv
RUN := $(UV) run --frozen --no-sync
PYTEST_WORKERS ?= 4

LAMBDAS := trigger-lambda status-lambda
SERVICES := $(LAMBDAS) worker notifier devstack
STACK ?= docflow

.PHONY: help sync up down status logs test test-members lint format typecheck bench chaos clean \
	demo build openapi replay-check worker-versions-check \
	browser $(addprefix build-,$(SERVICES)) $(addprefix deploy-,$(SERVICES)) deploy-stack

help:
	@echo "make up      start the local stack in the background and print its URLs"
	@echo "make down    stop what 'make up' started"
	@echo "make status  show which processes are running"
	@echo "make logs    follow the logs"
	@echo "make test    lint, type-check and run every test"
	@echo "make bench   run the benchmarks and append the results to docs/benchmarks.md"
	@echo "make chaos   the reliability tests at full scale (results: docs/reliability.md)"
	@echo "make build   build every artifact this machine can (Lambda zips; images with Docker)"
	@echo "make openapi regenerate docs/openapi.yaml from the handlers"
	@echo "make replay-check  replay the recorded job histories against this code"
	@echo "make deploy-<service>  deploy one service (docs/deploy.md)"

sync:
	@$(UV) sync --all-packages --frozen --quiet

up: sync
	@$(RUN) docflow-stack up

down: sync
	@$(RUN) docflow-stack down

status: sync
	@$(RUN) docflow-stack status

logs:
	@logs="$${DOCFLOW_STATE_DIR:-.docflow}/logs"; mkdir -p "$$logs" && tail -n 50 -F "$$logs"/*.log

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: sync
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# mypy --strict (pyproject.toml) on every member of the workspace.
typecheck: sync
	$(RUN) mypy shared/src services/*/src devstack/src tools/*/src clients/*/src

test: lint typecheck browser test-members
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadgroup

# Members whose tests live beside them, each run alone in an environment of its own (nothing of
# the other members installed): they build, import and test on their own.
test-members:
	scripts/test-member docflow-shared shared/tests
	scripts/test-member docflow-trigger services/trigger-lambda/tests
	scripts/test-member docflow-status services/status-lambda/tests
	scripts/test-member docflow-worker services/worker/tests
	scripts/test-member docflow-notifier services/notifier/tests
	scripts/test-member docflow-cli clients/cli/tests
	scripts/test-member docflow-resonate-dev tools/resonate-devserver/tests
	scripts/test-member docflow-devstack devstack/tests

# The jobs page tests drive Debian's chromium (never a browser Playwright downloads).
browser:
	@scripts/ensure-chromium

bench:
	@$(UV) sync --all-packages --frozen --quiet --group bench
	$(RUN) python -m benchmarks.resonate_server
	$(RUN) python -m benchmarks.cold_start
	$(RUN) python -m benchmarks.front_door --against
	$(RUN) python -m benchmarks.step_overhead
	$(RUN) python -m benchmarks.scale
	$(RUN) python -m benchmarks.recovery
	$(RUN) python -m benchmarks.field_accuracy
	$(RUN) python -m benchmarks.real_accuracy
	$(RUN) python -m benchmarks.extraction

# The reliability tests at full scale (200 chaos jobs, 1,000 fuzzed requests, 2,000 POSTs);
# make test runs them small. Results: docs/reliability.md.
chaos: sync
	DOCFLOW_RELIABILITY_SCALE=full $(RUN) pytest -m reliability -n 0 -v --timeout 3600

build: sync
	@$(RUN) docflow-package

$(addprefix build-,$(SERVICES)): build-%: sync
	@$(RUN) docflow-package $*

openapi: sync
	@$(RUN) docflow-openapi

# Deploys (need AWS credentials and the sam/aws CLIs; docs/deploy.md). deploy-stack creates or
# updates the AWS side (API, functions, queues, bucket); after that each service deploys alone:
# a function gets its new zip, an image is pushed to $(REGISTRY) for your container host.
deploy-stack: build-trigger-lambda build-status-lambda
	sam deploy --template-file template.yaml --stack-name $(STACK) --resolve-s3 \
	  --capabilities CAPABILITY_IAM --parameter-overrides ResonateUrl=$(RESONATE_URL)

deploy-trigger-lambda: build-trigger-lambda
	for fn in $(STACK)-trigger $(STACK)-trigger-sqs; do \
	  aws lambda update-function-code --function-name $$fn \
	    --zip-file fileb://build/trigger-lambda.zip --publish || exit 1; done

deploy-status-lambda: build-status-lambda
	aws lambda update-function-code --function-name $(STACK)-status \
	  --zip-file fileb://build/status-lambda.zip --publish

# A worker that drops a workflow version with jobs in flight would strand them: the deployment
# (DOCFLOW_GATEWAY_URL, and its DOCFLOW_API_TOKEN) is asked first. FORCE=1 ships anyway. And the
# recorded histories must replay against the code about to ship (add yours: HISTORIES=dir).
deploy-worker: replay-check worker-versions-check
replay-check: sync
	$(RUN) docflow replay-check tests/replay $(HISTORIES)
worker-versions-check: sync
	@test "$(FORCE)" = 1 || $(RUN) docflow versions --shipping "$$($(RUN) python -c \
	  'from docflow_worker.workflows import VERSIONS; print(",".join(map(str, sorted(VERSIONS))))')"

deploy-worker deploy-notifier deploy-devstack: deploy-%: build-%
	@test -n "$(REGISTRY)" || { echo "set REGISTRY=<your registry>/docflow"; exit 2; }
	docker tag docflow/$*:latest $(REGISTRY)/$*:latest && docker push $(REGISTRY)/$*:latest

clean:
	rm -rf .docflow .pytest_cache .mypy_cache .ruff_cache .hypothesis build

demo: sync
	@$(RUN) docflow-demo
