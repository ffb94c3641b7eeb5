# paarec developer entry points. `make demo` and `make test` are the quick start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel for local work and CI; GPU users install their own CUDA build of torch.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
EXTRAS ?= train,export,serve,dev
comma := ,
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)-$(subst $(comma),_,$(EXTRAS))
PYTEST_ARGS ?=

.PHONY: help install lint test test-fast demo demo-full fuzz loadtest bench clean

help:
	@echo "make demo       prepare ML-100K, train PAA, export, serve it and show recommendations"
	@echo "make test       lint, type-check and run the test suite"
	@echo "make lint       ruff, ruff format --check, hadolint"
	@echo "make fuzz       schema-driven fuzzing of the running API (schemathesis)"
	@echo "make loadtest   headless locust run with latency / failure gates"
	@echo "make bench      training-speed, export-latency and serving benchmarks"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" --extra-index-url $(TORCH_INDEX) --retries 1 --timeout 20
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy training export service benchmarks scripts load_tests
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck scripts/*.sh .ci/run

test: lint
	bash scripts/ensure-redis.sh
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -x -q -m "not slow" $(PYTEST_ARGS)

demo: install
	$(BIN)/python scripts/demo.py

demo-full: install
	PAAREC_DEMO_CONFIG=configs/paa-ml100k-full.yaml $(BIN)/python scripts/demo.py

LOADTEST_BUNDLE ?= artifacts/bundle
loadtest: install
	$(BIN)/python -m load_tests.run --bundle $(LOADTEST_BUNDLE) --users 20 --duration 60 --max-p99-ms 250 --max-failure-ratio 0.001

bench: install
	$(BIN)/python -m benchmarks.train_speed
	$(BIN)/python -m benchmarks.export_latency
	$(BIN)/python -m benchmarks.serving

fuzz: install
	$(BIN)/python scripts/fuzz.py

clean:
	rm -rf runs artifacts .pytest_cache .mypy_cache .ruff_cache
