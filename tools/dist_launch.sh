#!/usr/bin/env bash
# Shared by tools/dist_train.sh and tools/dist_test.sh: torchrun over SCRIPT with the
# OpenMMLab launcher options.
#   bash tools/dist_launch.sh SCRIPT NUM_PROCESSES [SCRIPT arguments...]
# The Python: $PY if set, else the environment `make setup` made ($MTKIT_VENV, else .venv of
# this repository), else `python` on the PATH. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
SCRIPT=$1
NPROC=$2
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PY:-}" ]; then
  for candidate in "${MTKIT_VENV:-}/bin/python" "$REPO/.venv/bin/python"; do
    if [ -x "$candidate" ] && [ "$candidate" != "/bin/python" ]; then PY=$candidate; break; fi
  done
  PY=${PY:-python}
fi
cd "$REPO"
exec "$PY" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" "$SCRIPT" "${@:3}" --launcher pytorch
