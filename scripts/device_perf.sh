#!/usr/bin/env bash
# The iteration-cost benchmark on the lent GPU machine (docs/gpu.md, "Iteration cost"): the semi-supervised
# iteration table (benchmarks/semi_iteration.py: supervised vs mtkit vs mmdet, fp32 and AMP),
# the GMM-threshold line (torch EM vs the one-kernel Triton path) and the EMA update.
# Rows are written as they are measured, so a run cut by LIMIT keeps what it measured.
# Defaults fit one command of the 600 s per-call limit: 300 + 60 + 40 + 100 s at most.
# Carry .devwheels (docs/gpu.md: the device-py312 wheels plus ftfy and regex for mmseg).
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
LIMIT=${LIMIT:-300}                      # seconds for the semi-iteration table
MODELS=${MODELS:-"faster_rcnn yolox_s deeplabv3plus rtmdet_s"}
REPS=${REPS:-15}; WARMUP=${WARMUP:-3}; IMAGES=${IMAGES:-8}
DEVICE=${DEVICE:-cuda}                   # cpu: a dry run of this script (CPU sizes)
FP16=${FP16:-1}                          # 1: also AMP in float16 (mmdet's default AMP; mmcv's
                                         # CUDA ops may lack bf16, e.g. for Faster R-CNN)
FP16_LIMIT=${FP16_LIMIT:-100}
export PYTHONUNBUFFERED=1
source "$(dirname "$0")/device_env.sh"
{ nvidia-smi -L; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
  $PY -c "import triton; print('triton', triton.__version__)"; nproc; } > "$OUT/device.txt" 2>&1
timeout "$LIMIT" $PY benchmarks/semi_iteration.py --device "$DEVICE" --models $MODELS --reps "$REPS" \
  --warmup "$WARMUP" --images "$IMAGES" --json "$OUT/semi_iteration_gpu.json" \
  --markdown "$OUT/semi_iteration_gpu.md" > "$OUT/semi_iteration_gpu.txt" 2>&1
timeout 60 $PY benchmarks/gmm_threshold.py --device "$DEVICE" --reps 100 \
  --json "$OUT/gmm_gpu.json" > "$OUT/gmm_gpu.txt" 2>&1
timeout 40 $PY benchmarks/ema_update.py --device "$DEVICE" --reps 100 \
  --json "$OUT/ema_gpu.json" > "$OUT/ema_gpu.txt" 2>&1
if [ "$FP16" = 1 ]; then
  timeout "$FP16_LIMIT" $PY benchmarks/semi_iteration.py --device "$DEVICE" --models faster_rcnn yolox_s \
    --precisions amp --amp-dtype float16 --reps "$REPS" --warmup "$WARMUP" --images "$IMAGES" \
    --json "$OUT/semi_iteration_gpu_fp16.json" > "$OUT/semi_iteration_gpu_fp16.txt" 2>&1
fi
cat "$OUT/device.txt"; grep -v Warning "$OUT/gmm_gpu.txt" | tail -6; tail -4 "$OUT/ema_gpu.txt"
cat "$OUT/semi_iteration_gpu.md" 2>/dev/null || tail -30 "$OUT/semi_iteration_gpu.txt"
