# `make run` and `make test` set up .venv on first use (and again when setup.cfg changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/humanmatting gui

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=3 $(VENV)/bin/python -m pytest

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(VENV)/bin/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info
