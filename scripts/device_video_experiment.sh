#!/usr/bin/env bash
# Issue 6's experiment on the lent GPU machine, as one prepared run (see docs/video.md):
# MovingDigits with 10% labeled clips; supervised-only, EMA mean teacher, +DoP, +EoR, +both
# (configs/stable_teacher/*), SEEDS each, all at once on the one GPU, ITERS iterations,
# validation every VAL; a run still going at DEADLINE seconds is stopped. Outputs in $OUT:
# summary.json (tools/collect_results.py) and logs.tar.gz.
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
ITERS=${ITERS:-2000}; VAL=${VAL:-500}; DEADLINE=${DEADLINE:-420}; SEEDS=${SEEDS:-"0 1 2"}
VARIANTS=${VARIANTS:-"sup mt smt-dop smt-eor smt"}; DATA_ARGS=${DATA_ARGS:-}
WORKERS=${WORKERS:-2}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
source "$(dirname "$0")/device_env.sh"
{ nvidia-smi -L; $PY -c "import torch, mtkit, mmseg.models; print('torch', torch.__version__, torch.cuda.is_available())"; } 2>&1 | grep -v -i warn
$PY tools/make_moving_digits.py --out data/moving_digits $DATA_ARGS > /tmp/make_md.log 2>&1 \
  || { tail -20 /tmp/make_md.log; exit 1; }
rm -rf wd; mkdir -p wd
fast="default_hooks.checkpoint.interval=100000 default_hooks.checkpoint.save_best=None"
[ "$WORKERS" = 0 ] && fast="$fast train_dataloader.persistent_workers=False"
for seed in $SEEDS; do
  for v in $VARIANTS; do
    timeout "$DEADLINE" $PY tools/train.py configs/stable_teacher/${v}_fcn-r18_moving-digits-10pct.py \
      --work-dir wd/${v}_s$seed --cfg-options randomness.seed=$seed train_cfg.max_iters=$ITERS \
      train_cfg.val_interval=$VAL default_hooks.logger.interval=50 $fast \
      train_dataloader.num_workers=$WORKERS val_dataloader.num_workers=1 \
      > wd/${v}_s$seed.log 2>&1 &
  done
done
wait
$PY tools/collect_results.py wd/*_s*/ --out "$OUT/summary.json" > "$OUT/summary.txt" 2>&1
tar czf "$OUT/logs.tar.gz" wd/*.log $(ls wd/*/*/vis_data/scalars.json) 2>/dev/null
grep -h "clip/mIoU" wd/*_s*.log | grep "Iter(val)" | cut -c1-260 | tail -30
tail -40 "$OUT/summary.txt"
