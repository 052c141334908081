# mtkit: the two commands of the README.
#   make demo   set up .venv, generate DigitScenes, train + evaluate a mean teacher (CPU, minutes)
#   make test   set up .venv, run the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CFG ?= configs/mean_teacher/mt_yolox-tiny_digitscenes-demo.py
DEMO_DIR ?= work_dirs/demo

.PHONY: setup demo test bench clean-demo

setup:
	@MTKIT_VENV=$(abspath $(VENV)) bash scripts/setup_env.sh

demo: setup
	$(PY) tools/make_digitscenes.py --out data/digitscenes
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) $$(ls -t $(DEMO_DIR)/best_*.pth | head -1) \
		--work-dir $(DEMO_DIR)/test --out $(DEMO_DIR)/test_metrics.json
	@echo "test-split metrics (teacher and student): $(DEMO_DIR)/test_metrics.json"
	@cat $(DEMO_DIR)/test_metrics.json

test: setup
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/ema_update.py

clean-demo:
	rm -rf $(DEMO_DIR)
