# pyflow developer targets. `make test` is what CI runs (through .ci/run).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install test build clean demo

install:
	$(PIP) install -q -e '.[test]'

build:
	$(PYTHON) setup.py build_ext --inplace -q

test: install
	$(PYTHON) -m pytest -q tests

demo: install
	pyflow replay pcaps/demo-home.pcap --mode sw

clean:
	rm -rf build *.egg-info pyflow/_core*.so pyflow/_core.c .pytest_cache
