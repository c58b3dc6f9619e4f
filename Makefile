# make run   — start the app on the bundled demo checkpoint (creates .venv on first use)
# make test  — run the whole test suite, offline
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

$(STAMP): requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	@echo "Installing requirements-dev.txt into $(VENV): torch 2.11 with its CUDA libraries is several GB, expect minutes."
	$(VENV)/bin/pip install --progress-bar on -r requirements-dev.txt
	touch $(STAMP)

.PHONY: install run test lint bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# make bench  — the performance figures (benchmarks/RESULTS.md); BENCH_ARGS=--quick skips the full-size parts
BENCH_ARGS ?=
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m benchmarks.bench $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m benchmarks.gpu
