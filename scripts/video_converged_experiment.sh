#!/usr/bin/env bash
# Issue 14's MovingDigits experiment (model_zoo/README.md, "MovingDigits from a converged
# start"): the per-frame FCN-R18w16 of configs/stable_teacher/, 10% labeled clips.
#
#   STAGE=sup   bash scripts/video_converged_experiment.sh   # supervised to its plateau
#   STAGE=semi  bash scripts/video_converged_experiment.sh   # the five variants from it
#
# STAGE=sup trains configs/stable_teacher/sup_fcn-r18_moving-digits-10pct.py for SUP_ITERS
# iterations (validation every 1,000: the plateau is read off that curve) into $WD/plateau_s0.
# STAGE=semi trains every VARIANT (sup = supervised continued, its teacher = supervised + EMA;
# mt; smt-dop; smt-eor; smt = both) for ITERS iterations from CKPT, SEEDS each, PARALLEL at a
# time (OMP_NUM_THREADS=THREADS each), then writes $WD/summary.json (tools/collect_results.py)
# and the mean +- std table $WD/table.md / table.json (tools/seed_table.py; last validation).
# Environment: SEEDS ("0 1 2"), VARIANTS, ITERS (1000), VAL (250), SUP_ITERS (8000), CKPT
# ($WD/plateau_s0/iter_$SUP_ITERS.pth), WD (work_dirs/video_converged), PY (.venv/bin/python).
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WD=${WD:-work_dirs/video_converged}
STAGE=${STAGE:-semi}
SEEDS=${SEEDS:-"0 1 2"}
VARIANTS=${VARIANTS:-"sup mt smt-dop smt-eor smt"}
ITERS=${ITERS:-1000}
VAL=${VAL:-250}
SUP_ITERS=${SUP_ITERS:-8000}
PARALLEL=${PARALLEL:-2}
THREADS=${THREADS:-1}
CKPT=${CKPT:-$WD/plateau_s0/iter_$SUP_ITERS.pth}
mkdir -p "$WD"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
[ -d data/moving_digits ] || $PY tools/make_moving_digits.py --out data/moving_digits
ST=configs/stable_teacher

jobs_file=$WD/jobs_$STAGE.txt
: > "$jobs_file"
if [ "$STAGE" = sup ]; then
  # keep every 1,000-iteration checkpoint: the semi phase starts from the plateau's
  echo "$PY tools/train.py $ST/sup_fcn-r18_moving-digits-10pct.py --work-dir $WD/plateau_s0 --cfg-options train_cfg.max_iters=$SUP_ITERS default_hooks.checkpoint.max_keep_ckpts=-1 > $WD/plateau_s0.log 2>&1" >> "$jobs_file"
else
  [ -f "$CKPT" ] || { echo "no supervised checkpoint $CKPT: run STAGE=sup first" >&2; exit 1; }
  for seed in $SEEDS; do
    for v in $VARIANTS; do
      cfg=$ST/${v}_fcn-r18_moving-digits-10pct-converged.py
      [ -f "$cfg" ] || { echo "unknown variant $v: no $cfg" >&2; exit 1; }
      echo "$PY tools/train.py $cfg --work-dir $WD/${v}_s$seed --cfg-options load_from=$CKPT randomness.seed=$seed train_cfg.max_iters=$ITERS train_cfg.val_interval=$VAL > $WD/${v}_s$seed.log 2>&1" >> "$jobs_file"
    done
  done
fi
echo "$(wc -l < "$jobs_file") runs, $PARALLEL at a time: $jobs_file"
tr '\n' '\0' < "$jobs_file" | xargs -0 -P "$PARALLEL" -I{} bash -c '{}'
[ "$STAGE" = sup ] && { grep "Iter(val)" "$WD/plateau_s0.log" | sed 's/.*Iter(val)/Iter(val)/' | cut -c1-400; exit 0; }
runs=$(for seed in $SEEDS; do for v in $VARIANTS; do echo "$WD/${v}_s$seed"; done; done)
$PY tools/collect_results.py $runs --out "$WD/summary.json" > "$WD/summary.txt" 2>&1
$PY tools/seed_table.py "$WD/summary.json" --order $VARIANTS --json "$WD/table.json" \
  --metrics teacher/clip/fg_mIoU student/clip/fg_mIoU teacher/clip/mIoU \
            teacher/clip/fg_flicker student/clip/fg_flicker teacher/clip/flicker \
  | tee "$WD/table.md"
