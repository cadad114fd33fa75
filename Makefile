# `make run` and `make test` set up .venv on first use (and again when setup.cfg changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

TEACHER := .venv-teacher
VIDEOS ?= ../shared/data/videos
LABELS ?= cache/teacher-labels

.PHONY: run test bench clean teacher-labels

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

# pseudo-labels for training on people in motion, in their own environment (see trainer/teacher_labels.py)
$(TEACHER)/.installed: trainer/teacher-requirements.txt
	test -x $(TEACHER)/bin/python || $(PYTHON) -m venv $(TEACHER)
	$(TEACHER)/bin/python -m pip install --quiet --disable-pip-version-check -r trainer/teacher-requirements.txt
	touch $@

teacher-labels: $(TEACHER)/.installed
	$(TEACHER)/bin/python -m trainer.teacher_labels $(VIDEOS) --out $(LABELS)

clean:
	rm -rf $(VENV) $(TEACHER) build *.egg-info
