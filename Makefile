# mtkit: the two commands of the README.
#   make demo   set up .venv, generate DigitScenes, a supervised start, then supervised + EMA and a
#               mean teacher from it, side by side (CPU, minutes)
#   make test   set up .venv, run the whole test suite (CI), one pytest-xdist worker per core
#   make test-fast   the edit loop: the suite without the tests marked slow (minutes)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CFG ?= configs/mean_teacher/mt_yolox-tiny_digitscenes-demo.py
DEMO_DIR ?= work_dirs/demo

.PHONY: setup demo test test-fast bench clean-demo

setup:
	@MTKIT_VENV=$(abspath $(VENV)) bash scripts/setup_env.sh

demo: setup
	$(PY) tools/make_digitscenes.py --out data/digitscenes
	$(PY) tools/experiment.py experiments/demo.py --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) $(DEMO_DIR)/mt_s0/iter_300.pth \
		--work-dir $(DEMO_DIR)/test --out $(DEMO_DIR)/test_metrics.json
	@echo "test-split metrics of the mean teacher (teacher and student): $(DEMO_DIR)/test_metrics.json"
	@cat $(DEMO_DIR)/test_metrics.json
	@echo; echo "val, side by side from the same supervised start ($(DEMO_DIR)/table.md):"
	@cat $(DEMO_DIR)/table.md

TEST_WORKERS ?= auto
test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) tests $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow" tests $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/ema_update.py

clean-demo:
	rm -rf $(DEMO_DIR)
