#!/usr/bin/env bash
# Distributed evaluation with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py options...]
# (docs/distributed.md). It runs in the environment `make setup` made (tools/dist_launch.sh;
# PY=... to choose another Python). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
exec bash "$(dirname "$0")/dist_launch.sh" tools/test.py "$3" "$1" "$2" "${@:4}"
