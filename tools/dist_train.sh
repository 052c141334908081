#!/usr/bin/env bash
# Distributed training with torchrun (OpenMMLab's usual interface):
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options...]
# One process per GPU; on a machine without CUDA the processes train on the CPU with gloo
# (docs/distributed.md). Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PY=${PY:-python}
cd "$(dirname "$0")/.."
exec $PY -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROC" \
    tools/train.py "$CONFIG" --launcher pytorch "${@:3}"
