PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/baseline.yaml
# test processes (pytest-xdist): one per core; a test file runs whole in one process, so its shared runs stay shared;
# the longest files first (tests/file_order.py, tests/file_seconds.json), not xdist's most-tests-first
TEST_WORKERS ?= auto

.PHONY: run test test-slow test-browser bench notebooks lab clean

$(BIN)/fleetsim: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/fleetsim
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.notebook-deps: $(BIN)/fleetsim
	$(BIN)/pip install --quiet -e '.[notebooks]'
	touch $@

$(VENV)/.browser-deps: $(VENV)/.test-deps
	$(BIN)/pip install --quiet -e '.[browser]'
	touch $@

run: $(BIN)/fleetsim
	$(BIN)/fleetsim run $(SCENARIO) --out results/$(basename $(notdir $(SCENARIO)))

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-slow: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q -m slow

# report.html of a run and of a sweep in headless Chromium (Debian's package); screenshots in results/screenshots/
test-browser: $(VENV)/.browser-deps
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	FLEETSIM_SCREENSHOTS=results/screenshots $(BIN)/python -m pytest -q -m browser tests/test_report_browser.py

# run every notebook top to bottom; the executed copies (with outputs) go to results/notebooks/
notebooks: $(VENV)/.notebook-deps
	$(BIN)/jupyter nbconvert --to notebook --execute --output-dir results/notebooks notebooks/*.ipynb

# open the notebooks in JupyterLab
lab: $(VENV)/.notebook-deps
	$(BIN)/jupyter lab notebooks/

bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results build *.egg-info
