#!/usr/bin/env bash
# Issue 14's experiment: DigitScenes-seg, FCN-R18w16-D8 (CPU-sized), semi-supervised phase from
# a converged supervised start (model_zoo/README.md, "DigitScenes-seg from a converged start").
#
#   STAGE=sup   bash scripts/seg_converged_experiment.sh   # headroom: supervised 1/16, 1/8, all
#   STAGE=semi  bash scripts/seg_converged_experiment.sh   # the arms, from the 1/8 checkpoint
#
# Runs PARALLEL jobs at a time (OMP_NUM_THREADS=THREADS each; a 2-core CPU: PARALLEL=2
# THREADS=1), then prints the tables of model_zoo/seg_converged_table.py into $WD/table.md.
# Environment: SEEDS ("0 1 2"), ARMS (names below), SUP_SEEDS ("0"), FRACS ("1_8 full 1_16"),
# ITERS (semi phase, 1000), SUP_ITERS (8000), WD (work_dirs/seg_converged), CKPT / FULL_CKPT
# (the 1/8 and all-label supervised checkpoints, default $WD/sup{1_8,full}_s0/iter_$SUP_ITERS.pth),
# PY (.venv/bin/python), TAG (a name for queues run side by side).
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WD=${WD:-work_dirs/seg_converged}
STAGE=${STAGE:-semi}
SEEDS=${SEEDS:-"0 1 2"}
SUP_SEEDS=${SUP_SEEDS:-0}
FRACS=${FRACS:-"1_8 full 1_16"}
ITERS=${ITERS:-1000}
SUP_ITERS=${SUP_ITERS:-8000}
PARALLEL=${PARALLEL:-2}
THREADS=${THREADS:-1}
ARMS=${ARMS:-"sup_ema mt dt"}
CKPT=${CKPT:-$WD/sup1_8_s0/iter_$SUP_ITERS.pth}
FULL_CKPT=${FULL_CKPT:-$WD/supfull_s0/iter_$SUP_ITERS.pth}   # for sup_ema_full
mkdir -p "$WD"
# every train image, as a list (the labeled split of sup_ema_full)
SPLITS=data/digitscenes/cityscapes/splits
ALL=$(cd "$WD" && pwd)/train_all.txt
cat $SPLITS/train.1@1_2.txt $SPLITS/train.1@1_2-unlabeled.txt | sort > "$ALL"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

NAME=fcn-r18w16-d8_digitscenes-seg-1_8-converged.py
MT=configs/mean_teacher
declare -A CFG=(
  [sup_ema]=$MT/sup-ema_$NAME
  [mt]=$MT/mt_$NAME
  [mt_classaware]=$MT/mt-classaware_$NAME
  [consensus]=$MT/mt-consensus_$NAME
  [oracle]=$MT/mt-oracle_$NAME
  [dt]=configs/dual_teacher/dt_$NAME
  [dt_epoch]=configs/dual_teacher/dt_$NAME
  [sup_ema_full]=$MT/sup-ema_$NAME
  [mt_thr0.8]=$MT/mt-thr0.8_$NAME
  [mt_classaware_mask]=$MT/mt-classaware_$NAME
)
declare -A OPTS=(
  # the full-label reference from the same protocol: all-label supervised checkpoint, then
  # supervised continued + EMA on all 2,000 labeled images
  [sup_ema_full]="load_from=$FULL_CKPT train_dataloader.dataset.labeled.ann_file=$ALL train_dataloader.dataset.allow_overlap=True"
  # Dual Teacher with mtkit's previous turn length: one epoch of the unlabeled set (219
  # iterations at 1/8) instead of the reference code's 200 turns over the run
  [dt_epoch]="custom_hooks.0.turns=None"
  # lever: the class-aware thresholds with the plain 'mask' loss (the other lever, threshold
  # 0.8, is its own config: mt-thr0.8_*)
  [mt_classaware_mask]=model.semi_train_cfg.weighting=mask
)

jobs_file=$WD/jobs_$STAGE${TAG:+_$TAG}.txt
: > "$jobs_file"
if [ "$STAGE" = sup ]; then
  for seed in $SUP_SEEDS; do
    for frac in $FRACS; do
      echo "$PY tools/train.py configs/supervised/fcn-r18w16-d8_digitscenes-seg-$frac-plateau.py --work-dir $WD/sup${frac}_s$seed --cfg-options randomness.seed=$seed train_cfg.max_iters=$SUP_ITERS > $WD/sup${frac}_s$seed.log 2>&1" >> "$jobs_file"
    done
  done
else
  [ -f "$CKPT" ] || { echo "no supervised checkpoint $CKPT: run STAGE=sup first" >&2; exit 1; }
  for seed in $SEEDS; do
    for arm in $ARMS; do
      [ -n "${CFG[$arm]:-}" ] || { echo "unknown arm $arm (know: ${!CFG[*]})" >&2; exit 1; }
      echo "$PY tools/train.py ${CFG[$arm]} --work-dir $WD/${arm}_s$seed --cfg-options load_from=$CKPT randomness.seed=$seed train_cfg.max_iters=$ITERS ${OPTS[$arm]:-} > $WD/${arm}_s$seed.log 2>&1" >> "$jobs_file"
    done
  done
fi
echo "$(wc -l < "$jobs_file") runs, $PARALLEL at a time: $jobs_file"
tr '\n' '\0' < "$jobs_file" | xargs -0 -P "$PARALLEL" -I{} bash -c '{}'
$PY model_zoo/seg_converged_table.py "$WD" --json "$WD/table.json" | tee "$WD/table.md"
