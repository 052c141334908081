#!/usr/bin/env bash
# The segmentation experiment on the lent GPU machine (see docs/gpu.md), as one prepared run:
#  1. GPU benchmark of the batched GMM fit (never measured before);
#  2. wall-clock per iteration of supervised-only, EMA mean teacher and dual teacher, each run
#     alone for TIME_ITERS iterations (DigitScenes-seg 1/8, FCN-R18-D8);
#  3. the comparison: {supervised, mean teacher, dual teacher} x {1/8, 1/16} x SEEDS, all at
#     once on the one GPU, ITERS iterations, validation every VAL; a run still going at DEADLINE
#     seconds is stopped, and results are compared at the last validation all runs reached.
# Outputs go to $OUT: device.txt, gmm_gpu.json, timing/*.log, summary.json, logs.tar.gz.
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
ITERS=${ITERS:-2000}; VAL=${VAL:-250}; DEADLINE=${DEADLINE:-370}; SEEDS=${SEEDS:-"0 1 2"}
TIME_ITERS=${TIME_ITERS:-50}; BENCH=${BENCH:-1}; FRACS=${FRACS:-"1_8 1_16"}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
source "$(dirname "$0")/device_env.sh"
{ nvidia-smi -L; nproc; $PY -c "import torch, mtkit, mmseg.models, albumentations; print('torch', torch.__version__, torch.cuda.is_available())"; } > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
$PY tools/make_digitscenes.py --out data/digitscenes > "$OUT/make_data.txt" 2>&1 || { cat "$OUT/make_data.txt"; exit 1; }
if [ "$BENCH" = 1 ]; then
  timeout 60 $PY benchmarks/gmm_threshold.py --device cuda --reps 10 --json "$OUT/gmm_gpu.json" > "$OUT/gmm_gpu.txt" 2>&1
  tail -8 "$OUT/gmm_gpu.txt"
fi
rm -rf wd; mkdir -p wd/timing "$OUT/timing"
fast="default_hooks.checkpoint.interval=100000 default_hooks.checkpoint.save_last=False default_hooks.checkpoint.save_best=None"
declare -A CFG=([sup]=configs/supervised/fcn-r18-d8_digitscenes-seg
                [mt]=configs/mean_teacher/mt_fcn-r18-d8_digitscenes-seg
                [dt]=configs/dual_teacher/dt_fcn-r18-d8_digitscenes-seg)
if [ "$TIME_ITERS" -gt 0 ]; then
  for m in sup mt dt; do
    timeout 120 $PY tools/train.py ${CFG[$m]}-1_8.py --work-dir wd/timing/$m --cfg-options \
      train_cfg.max_iters=$TIME_ITERS train_cfg.val_interval=100000 default_hooks.logger.interval=10 \
      $fast > "$OUT/timing/$m.log" 2>&1
    grep "Iter(train)" "$OUT/timing/$m.log" | tail -1 | cut -c1-150
  done
fi
common="train_cfg.max_iters=$ITERS train_cfg.val_interval=$VAL default_hooks.logger.interval=50 $fast"
for frac in $FRACS; do
  for seed in $SEEDS; do
    for m in sup mt dt; do
      timeout "$DEADLINE" $PY tools/train.py ${CFG[$m]}-$frac.py --work-dir wd/${m}_${frac}_s$seed \
        --cfg-options randomness.seed=$seed $common > wd/${m}_${frac}_s$seed.log 2>&1 &
    done
  done
done
wait
$PY tools/collect_results.py wd/*_s*/ --out "$OUT/summary.json" > "$OUT/summary.txt" 2>&1
tar czf "$OUT/logs.tar.gz" wd/*.log $(ls wd/*/*/vis_data/scalars.json) 2>/dev/null
grep -h "mIoU:" wd/*_s*.log | cut -c1-220 | tail -40
tail -30 "$OUT/summary.txt"
