PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/baseline.yaml

.PHONY: run test test-slow bench clean

$(BIN)/fleetsim: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/fleetsim
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/fleetsim
	$(BIN)/fleetsim run $(SCENARIO) --out results/$(basename $(notdir $(SCENARIO)))

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q

test-slow: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q -m slow

bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results build *.egg-info
