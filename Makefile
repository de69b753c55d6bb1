# Developer entry points. `make check` is the whole suite and what CI runs (.ci/run).
# It starts with `make setup` (tools/devsetup.py): what is present is used as is; what is
# missing is installed when this user may (pip into a writable environment, npm peers; Debian
# packages only as root), otherwise named with the command that installs it.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
PEERS := tests/peers

.PHONY: install setup test-deps bench-tools peers build proto proto-check docs lint type test test-pure check bench bench-quick bench-profile clean

install:            ## install the node (compiles the Cython extensions)
	$(PIP) install .

setup:              ## check what `make check` needs; install what may be installed, name the rest
	$(PYTHON) tools/devsetup.py

test-deps:          ## editable install with test extras + the real npm test peers + nginx/wrk
	OCN_CORE_REQUIRE_EXTENSIONS=1 $(PIP) install -e '.[test,bench]'
	$(MAKE) peers
	$(MAKE) bench-tools

bench-tools:        ## nginx and wrk (Debian) for the HTTP hop baselines; installs only as root
	@command -v nginx >/dev/null && command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null; \
	  else echo "missing nginx and/or wrk: sudo apt-get install nginx-light wrk" >&2; exit 1; fi; }

peers:
	cd $(PEERS) && npm install --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error

build:              ## rebuild the extensions in place (fast edit loop)
	$(PYTHON) setup.py build_ext --inplace

proto:
	$(PYTHON) tools/gen_protos.py

proto-check:
	$(PYTHON) tools/gen_protos.py --check

docs:               ## regenerate docs/configuration.md from the Settings fields
	$(PYTHON) -m ocpi_gateway config reference > docs/configuration.md

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

type:
	$(PYTHON) -m mypy

test:
	OCN_CORE_REQUIRE_EXTENSIONS=1 $(PYTHON) -m pytest -q

test-pure:          ## the same suite's unit tests on the pure-Python twins
	OCN_CORE_NO_EXTENSIONS=1 $(PYTHON) -m pytest -q -m "not chain and not slow" tests/unit

check: setup lint type proto-check test test-pure bench-quick

bench:
	$(PYTHON) -m benchmarks --mode full

bench-quick:
	$(PYTHON) -m benchmarks --mode quick

bench-profile:      ## py-spy profile of the node under wrk load (2 workers)
	$(PYTHON) -m benchmarks.profile http --workers 2

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find ocn_core -name '*.so' -delete -o -name '*.c' -delete
