# Developer entry points. `make check` is the whole suite and what CI runs (.ci/run).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
PEERS := tests/peers

.PHONY: install test-deps bench-tools peers build proto proto-check lint type test test-pure check bench bench-quick bench-profile clean

install:            ## install the node (compiles the Cython extensions)
	$(PIP) install .

test-deps:          ## editable install with test extras + the real npm test peers + nginx/wrk
	OCN_CORE_REQUIRE_EXTENSIONS=1 $(PIP) install -e '.[test,bench]'
	$(MAKE) peers
	$(MAKE) bench-tools

bench-tools:        ## nginx and wrk (Debian) for the HTTP hop baselines
	@command -v nginx >/dev/null && command -v wrk >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null; }

peers:
	cd $(PEERS) && npm install --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error

build:              ## rebuild the extensions in place (fast edit loop)
	$(PYTHON) setup.py build_ext --inplace

proto:
	$(PYTHON) tools/gen_protos.py

proto-check:
	$(PYTHON) tools/gen_protos.py --check

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

type:
	$(PYTHON) -m mypy

test:
	OCN_CORE_REQUIRE_EXTENSIONS=1 $(PYTHON) -m pytest -q

test-pure:          ## the same suite's unit tests on the pure-Python twins
	OCN_CORE_NO_EXTENSIONS=1 $(PYTHON) -m pytest -q -m "not chain and not slow" tests/unit

check: test-deps lint type proto-check test test-pure bench-quick

bench:
	$(PYTHON) -m benchmarks --mode full

bench-quick:
	$(PYTHON) -m benchmarks --mode quick

bench-profile:      ## py-spy profile of the node under wrk load (2 workers)
	$(PYTHON) -m benchmarks.profile http --workers 2

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find ocn_core -name '*.so' -delete -o -name '*.c' -delete
