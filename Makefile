# pyflow developer targets. `make test` is what CI runs (through .ci/run).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install test build clean demo golden fuzz-diff bench

install:
	$(PIP) install -q -e '.[test,plot,dask]'

build:
	$(PYTHON) setup.py build_ext --inplace -q

test: install
	$(PYTHON) -m pytest -q tests

demo: install
	pyflow replay pcaps/demo-home.pcap --mode sw

clean:
	rm -rf build *.egg-info pyflow/_core*.so pyflow/_core.c .pytest_cache

# regenerate tests/golden/ (commit a changed golden only with a message saying why it is right)
golden: install
	$(PYTHON) tools/golden.py

# C core vs the pure-Python reference model on many generated traces
fuzz-diff: install
	PYFLOW_DIFF_EXAMPLES=5000 PYFLOW_DIFF_RANDOM=1 $(PYTHON) -m pytest -q tests/test_differential.py -k generated

# throughput and memory against the peers and the header-walk limit (writes bench/results.json)
bench: install
	$(PYTHON) bench/run.py

-include oracle/oracle.mk
-include tests/fuzz/fuzz.mk
