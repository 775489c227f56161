# stepqueue: two commands matter on a fresh machine, `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= aws
N ?= 200
STAGE ?=
BACKEND_CONFIG ?=
YES ?=
DEPLOY_FLAGS = --env $(ENV) $(if $(STAGE),--stage $(STAGE)) $(if $(BACKEND_CONFIG),--backend-config $(BACKEND_CONFIG))
GENERATED := build/generated
WORKFLOWS := $(sort $(wildcard workflows/*.yaml))

# A missing Terraform CLI config only produces a warning; silence it unless the user has one
# (the one TF_CLI_CONFIG_FILE names, else ~/.terraformrc).
ifeq ($(wildcard $(or $(TF_CLI_CONFIG_FILE),$(HOME)/.terraformrc)),)
export TF_CLI_CONFIG_FILE := /dev/null
endif
export BC_SKIP_MAPPING := TRUE
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install generate regen lambda diagram plan apply destroy emulator demo lint test test-fast test-deep bench bench-stress clean lock

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed node_modules/.installed ## create .venv and node_modules (idempotent)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lock: ## re-resolve requirements.in into requirements.txt
	rm -rf build/lockvenv && $(PYTHON_BOOTSTRAP) -m venv build/lockvenv
	build/lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Pinned, resolved from requirements.in (make lock). Install with: pip install -r requirements.txt"; \
	  build/lockvenv/bin/pip freeze --exclude-editable; } > requirements.txt

generate: install ## render workflows/*.yaml into build/generated (all or nothing)
	$(PY) -m stepqueue generate $(WORKFLOWS) --out $(GENERATED)

regen: install ## rewrite the golden files of the generator tests
	$(PY) -m tests.unit.generator.regen_golden
	$(PY) -m tests.unit.deploy.test_worker_zip

diagram: install ## print a Mermaid diagram: make diagram SPEC=workflows/orders.yaml
	$(PY) -m stepqueue diagram $(SPEC)

lambda: install ## build the Lambda zip and the worker artifacts of build/generated into build/lambda (PYTHON=3.12)
	$(PY) -m stepqueue.deploy.lambda_zip --out build/lambda --generated $(GENERATED) --python-version $(or $(PYTHON),3.12)

plan: install ## generate, build the zip, save a plan and print it (ENV=aws|local STAGE= BACKEND_CONFIG=)
	$(PY) -m stepqueue plan $(DEPLOY_FLAGS)

apply: install ## apply exactly the saved plan of `make plan` (ENV=local: plans for itself)
	$(PY) -m stepqueue apply $(DEPLOY_FLAGS)

destroy: install ## destroy (asks for the stage's name on AWS; YES=1 does not ask)
	$(PY) -m stepqueue destroy $(DEPLOY_FLAGS) $(if $(YES),--yes)

emulator: install ## the local AWS emulator and the workers of whatever is deployed on it (foreground)
	$(PY) -m stepqueue emulator

demo: install ## emulator + generate + apply + a burst of N executions (default 200) + report
	$(PY) -m stepqueue demo --executions $(N)

lint: install ## ruff, mypy, terraform fmt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	terraform fmt -check -recursive terraform modules

# Two workers: one takes the deployed stack (tests/system/stack), the other Terraform's own tests
# (tests/system/terraform); the rest goes to whichever is free (tests/scheduling.py).
test: lint ## lint, then every tier: unit, emulator, system (Terraform and end to end)
	$(PY) -m pytest -n 2

test-fast: install ## the unit tier: no emulator, no Terraform (a test that starts either fails)
	$(PY) -m pytest tests/unit -n 2

# The property tests with hypothesis's "deep" profile (tests/support/hypothesis_profiles.py):
# five times the examples, longer sequences, a fresh seed each run (CI runs the fixed-seed "ci");
# shrinking a failure can take long, hence the timeout.
test-deep: install ## the gatekeeper's property tests, explored deeper (about 10 minutes)
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -p no:cacheprovider --timeout=3600 tests/unit/semaphore/test_messages_properties.py tests/emulator/semaphore/test_gatekeeper_properties.py

bench: install ## every benchmark, about 17 minutes (each prints one JSON object last)
	$(PY) -m bench.generator
	$(PY) -m bench.runtime --records 2000
	$(PY) -m bench.scale
	$(PY) -m bench.scale_proof
	$(PY) -m bench.semaphore --threads 32 --cycles 20
	$(PY) -m bench.burst --executions 50 --limit 5 --work-seconds 2
	$(PY) -m bench.admission
	$(PY) -m bench.e2e --executions 200
	$(PY) -m bench.terraform
	$(PY) -m bench.worker_zip

bench-stress: install ## the long semaphore stress: the waiting room, 32 x 50
	$(PY) -m bench.semaphore --threads 32 --cycles 50

clean: ## remove build outputs (keeps .venv and node_modules)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
