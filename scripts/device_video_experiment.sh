#!/usr/bin/env bash
# The MovingDigits experiment on the lent GPU machine, as one prepared run (see docs/video.md):
# MovingDigits with 10% labeled clips; supervised-only, EMA mean teacher, +DoP, +EoR, +both
# (configs/stable_teacher/*), SEEDS each, all at once on the one GPU. Validation every VAL
# iterations; a run still going at DEADLINE seconds is stopped. Outputs in $OUT: summary.json
# (tools/collect_results.py), probe.txt and logs.tar.gz.
#
# The iteration count is fitted to the time: with BUDGET > 0 (seconds for the whole script),
# every run first trains PROBE iterations at once, under the same load as the real runs; the
# slowest seconds per iteration then set ITERS (rounded down to ROUND, at most ITERS) so that
# all runs finish in what is left. Every variant of a seed gets the same ITERS.
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
ITERS=${ITERS:-6000}; VAL=${VAL:-1000}; DEADLINE=${DEADLINE:-480}; SEEDS=${SEEDS:-"0 1 2"}
VARIANTS=${VARIANTS:-"sup mt smt-dop smt-eor smt"}; DATA_ARGS=${DATA_ARGS:-}
WORKERS=${WORKERS:-1}; BUDGET=${BUDGET:-0}; PROBE=${PROBE:-60}; ROUND=${ROUND:-100}
T0=$(date +%s)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
source "$(dirname "$0")/device_env.sh"
{ nvidia-smi -L; $PY -c "import torch, mtkit, mmseg.models; print('torch', torch.__version__, torch.cuda.is_available())"; } 2>&1 | grep -v -i warn
$PY tools/make_moving_digits.py --out data/moving_digits $DATA_ARGS > /tmp/make_md.log 2>&1 \
  || { tail -20 /tmp/make_md.log; exit 1; }
rm -rf wd; mkdir -p wd
fast="default_hooks.checkpoint.interval=100000 default_hooks.checkpoint.save_best=None"
[ "$WORKERS" = 0 ] && fast="$fast train_dataloader.persistent_workers=False"

launch() {  # launch DIR_SUFFIX MAX_ITERS VAL_INTERVAL LOG_INTERVAL TIMEOUT: every run at once
  for seed in $SEEDS; do
    for v in $VARIANTS; do
      timeout "$5" $PY tools/train.py configs/stable_teacher/${v}_fcn-r18_moving-digits-10pct.py \
        --work-dir wd/${v}_s$seed$1 --cfg-options randomness.seed=$seed train_cfg.max_iters=$2 \
        train_cfg.val_interval=$3 default_hooks.logger.interval=$4 $fast \
        default_hooks.checkpoint.save_last=False \
        train_dataloader.num_workers=$WORKERS val_dataloader.num_workers=1 \
        > wd/${v}_s$seed$1.log 2>&1 &
    done
  done
  wait
}

if [ "$BUDGET" -gt 0 ]; then
  launch _probe "$PROBE" 100000 $((PROBE / 3)) 120
  # seconds per iteration: the last logged 'time' of every probe run; the slowest one counts
  spi=$(grep -h "Iter(train)" wd/*_probe.log | sed -n 's/.* time: \([0-9.]*\) .*/\1/p' \
        | sort -g | tail -1)
  left=$(( BUDGET - ($(date +%s) - T0) - 45 ))  # 45 s: start-up, validations, collection
  fit=$($PY -c "print(max($ROUND, min($ITERS, int($left / ($spi * 1.15)) // $ROUND * $ROUND)))")
  echo "probe: slowest ${spi} s/iter, ${left} s left -> ITERS=$fit (asked $ITERS)" \
    | tee "$OUT/probe.txt"
  ITERS=$fit; DEADLINE=$(( left + 30 ))
  [ "$VAL" -gt "$ITERS" ] && VAL=$ITERS
fi
launch "" "$ITERS" "$VAL" 50 "$DEADLINE"
$PY tools/collect_results.py $(ls -d wd/*_s*/ | grep -v _probe) --out "$OUT/summary.json" \
  > "$OUT/summary.txt" 2>&1
tar czf "$OUT/logs.tar.gz" wd/*.log $(ls wd/*/*/vis_data/scalars.json) 2>/dev/null
grep -h "clip/mIoU" $(ls wd/*.log | grep -v _probe) | grep "Iter(val)" | cut -c1-260 | tail -30
$PY tools/seed_table.py "$OUT/summary.json" --order $VARIANTS --json "$OUT/table.json" \
  | tee "$OUT/table.md"
