#!/usr/bin/env bash
# One prepared run for the lent GPU machine (see docs/gpu.md): the GPU EMA and GMM benchmarks, then
# DigitScenes-det 10% labels, supervised-only vs EMA mean teacher, seeds in parallel.
# Every training stops at DEADLINE seconds; results are compared at the last validation step
# that all runs reached. Outputs go to $OUT (summary.json, ema_gpu.*, logs.tar.gz).
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
ITERS=${ITERS:-4000}; VAL=${VAL:-500}; DEADLINE=${DEADLINE:-380}; SEEDS=${SEEDS:-"0 1 2"}
BENCH=${BENCH:-1}; KEEPBN=${KEEPBN:-1}
export PYTHONUNBUFFERED=1
source "$(dirname "$0")/device_env.sh"
{ nvidia-smi -L; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"; nproc; } > "$OUT/device.txt" 2>&1
if [ "$BENCH" = 1 ] && $PY -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  $PY benchmarks/ema_update.py --device cuda --reps 100 --json "$OUT/ema_gpu.json" > "$OUT/ema_gpu.txt" 2>&1
  $PY benchmarks/gmm_threshold.py --device cuda --reps 100 --json "$OUT/gmm_gpu.json" > "$OUT/gmm_gpu.txt" 2>&1 || true
  tail -12 "$OUT/ema_gpu.txt"
fi
$PY tools/make_digitscenes.py --out data/digitscenes || exit 1
rm -rf wd; mkdir -p wd
common="train_cfg.max_iters=$ITERS train_cfg.val_interval=$VAL default_hooks.logger.interval=50"
for seed in $SEEDS; do
  timeout "$DEADLINE" $PY tools/train.py configs/supervised/yolox-tiny_digitscenes-10pct.py \
    --work-dir wd/sup_s$seed --cfg-options randomness.seed=$seed $common > wd/sup_s$seed.log 2>&1 &
  timeout "$DEADLINE" $PY tools/train.py configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct.py \
    --work-dir wd/mt_s$seed --cfg-options randomness.seed=$seed $common > wd/mt_s$seed.log 2>&1 &
done
first=$(echo $SEEDS | cut -d' ' -f1)
[ "$KEEPBN" = 1 ] && timeout "$DEADLINE" $PY tools/train.py configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct.py \
  --work-dir wd/mt-keepbn_s$first --cfg-options randomness.seed=$first $common \
  custom_hooks.0.buffer_policy=keep > wd/mt-keepbn_s$first.log 2>&1 &
wait
$PY tools/collect_results.py wd/*/ --out "$OUT/summary.json" > /dev/null
tar czf "$OUT/logs.tar.gz" wd/*.log $(ls wd/*/*/vis_data/scalars.json) 2>/dev/null
grep -h "bbox_mAP:" wd/*.log | cut -c1-160 | tail -30
