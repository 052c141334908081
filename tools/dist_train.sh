#!/usr/bin/env bash
# Distributed training with torchrun (OpenMMLab's usual interface):
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options...]
# One process per GPU; on a machine without CUDA the processes train on the CPU with gloo
# (docs/distributed.md). It runs in the environment `make setup` made (tools/dist_launch.sh;
# PY=... to choose another Python). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
exec bash "$(dirname "$0")/dist_launch.sh" tools/train.py "$2" "$1" "${@:3}"
