#!/usr/bin/env bash
# Issue 13's experiment: DigitScenes-det, YOLOX-tiny, semi-supervised phase from a converged
# supervised start (model_zoo/README.md, "DigitScenes-det from a converged start").
#
#   STAGE=sup   bash scripts/det_converged_experiment.sh   # headroom: supervised 1/10/100% labels
#   STAGE=semi  bash scripts/det_converged_experiment.sh   # the arms, from the 10% checkpoint
#
# Runs PARALLEL jobs at a time (OMP_NUM_THREADS=THREADS each; a 2-core CPU: PARALLEL=2
# THREADS=1), then prints the tables of model_zoo/det_converged_table.py (headroom; mean +- std
# over seeds of the last validation, gain over supervised + EMA, gap closed) into $WD/table.md.
# Environment: SEEDS ("0 1 2"), ARMS (names below), SUP_SEEDS ("0"), PCTS ("10 100 1"),
# ITERS (semi phase, 1000), LONG_ITERS (the *_long arms, 3000), SUP_ITERS (5000), WD
# (work_dirs/det_converged), CKPT / CKPT1 (the 10% / 1% supervised checkpoints; default
# $WD/sup10_s0/iter_$SUP_ITERS.pth, $WD/sup1_s0/...), PY (.venv/bin/python), WORKERS (1
# data-loading worker per run). The *_1pct arms start from CKPT1; mt_extra needs the data made
# with --extra-unlabeled 4000.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WD=${WD:-work_dirs/det_converged}
STAGE=${STAGE:-semi}
SEEDS=${SEEDS:-"0 1 2"}
SUP_SEEDS=${SUP_SEEDS:-0}
PCTS=${PCTS:-"10 100 1"}
ITERS=${ITERS:-1000}
LONG_ITERS=${LONG_ITERS:-3000}
SUP_ITERS=${SUP_ITERS:-5000}
PARALLEL=${PARALLEL:-2}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
ARMS=${ARMS:-"sup_ema mt oracle1.0 mt_legacy gmm consensus oracle0.6 oracle0.3"}
CKPT=${CKPT:-$WD/sup10_s0/iter_$SUP_ITERS.pth}
FULL_CKPT=${FULL_CKPT:-$WD/sup100_s0/iter_$SUP_ITERS.pth}   # for sup_ema_full
CKPT1=${CKPT1:-$WD/sup1_s0/iter_$SUP_ITERS.pth}               # for the *_1pct arms
mkdir -p "$WD"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

MT=configs/mean_teacher
declare -A CFG=(
  [sup_ema]=$MT/sup-ema_yolox-tiny_digitscenes-10pct-converged.py
  [mt]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [mt_legacy]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [gmm]=configs/consistent_teacher/ct_yolox-tiny_digitscenes-10pct-converged.py
  [consensus]=$MT/mt-consensus_yolox-tiny_digitscenes-10pct-converged.py
  [oracle1.0]=$MT/mt-oracle_yolox-tiny_digitscenes-10pct-converged.py
  [oracle0.6]=$MT/mt-oracle_yolox-tiny_digitscenes-10pct-converged.py
  [oracle0.3]=$MT/mt-oracle_yolox-tiny_digitscenes-10pct-converged.py
  [sup_ema_full]=$MT/sup-ema_yolox-tiny_digitscenes-10pct-converged.py
  [mt_w2]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [mt_soft]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [mt_thr0.7]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [mt_cls]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [mt_long]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [sup_ema_long]=$MT/sup-ema_yolox-tiny_digitscenes-10pct-converged.py
  [sup_ema_full_long]=$MT/sup-ema_yolox-tiny_digitscenes-10pct-converged.py
  [mt_extra]=$MT/mt_yolox-tiny_digitscenes-10pct-converged-extra.py
  [mt_1pct]=$MT/mt_yolox-tiny_digitscenes-1pct-converged.py
  [mt_joint]=$MT/mt_yolox-tiny_digitscenes-10pct-converged.py
  [sup_ema_1pct]=$MT/sup-ema_yolox-tiny_digitscenes-1pct-converged.py
)
# the previous release's unsupervised loss: only images with a pseudo box, the head's own
# normalisation, no ignore regions
LEGACY="model.semi_train_cfg.unsup_images=with_pseudo model.semi_train_cfg.unsup_norm=head model.semi_train_cfg.uncertain_thr=None"
declare -A OPTS=(
  [mt_legacy]=$LEGACY
  [oracle0.6]=model.semi_train_cfg.oracle.recall=0.6
  [oracle0.3]=model.semi_train_cfg.oracle.recall=0.3
  # the full-label reference from the same protocol: 100% supervised checkpoint, then
  # supervised continued + EMA on all 2,000 labeled images
  [sup_ema_full]="load_from=$FULL_CKPT train_dataloader.dataset.datasets.0.ann_file=annotations/instances_train.json"
  # levers: a larger unsupervised weight; soft (1 - score) instead of ignore regions; a
  # stricter threshold
  [mt_w2]=model.semi_train_cfg.unsup_weight=2.0
  [mt_soft]=model.semi_train_cfg.uncertain_weight=soft
  [mt_thr0.7]=model.semi_train_cfg.pseudo_filters.0.thr=0.7
  # Unbiased Teacher's classification-only unsupervised loss (no box regression on pseudo
  # boxes); a longer semi-supervised phase (with its supervised + EMA reference)
  [mt_cls]="'model.semi_train_cfg.unsup_loss_terms=[loss_cls,loss_obj]'"
  [mt_long]=train_cfg.max_iters=$LONG_ITERS
  [sup_ema_long]=train_cfg.max_iters=$LONG_ITERS
  [sup_ema_full_long]="load_from=$FULL_CKPT train_dataloader.dataset.datasets.0.ann_file=annotations/instances_train.json train_cfg.max_iters=$LONG_ITERS"
  # the 1% labels arm: from the 1% supervised checkpoint
  [mt_1pct]=load_from=$CKPT1
  # issue 17's shared student pass on a BN detector: one backbone + neck pass over the labeled
  # and unlabeled images together (BatchNorm statistics of both branches at once)
  [mt_joint]=model.semi_train_cfg.joint_student_forward=True
  [sup_ema_1pct]=load_from=$CKPT1
)
LOADER="train_dataloader.num_workers=$WORKERS val_dataloader.num_workers=$WORKERS"

jobs_file=$WD/jobs_$STAGE${TAG:+_$TAG}.txt   # TAG: for queues run side by side
: > "$jobs_file"
if [ "$STAGE" = sup ]; then
  for seed in $SUP_SEEDS; do
    for pct in $PCTS; do
      echo "$PY tools/train.py configs/supervised/yolox-tiny_digitscenes-${pct}pct-plateau.py --work-dir $WD/sup${pct}_s$seed --cfg-options randomness.seed=$seed train_cfg.max_iters=$SUP_ITERS $LOADER > $WD/sup${pct}_s$seed.log 2>&1" >> "$jobs_file"
    done
  done
else
  [ -f "$CKPT" ] || { echo "no supervised checkpoint $CKPT: run STAGE=sup first" >&2; exit 1; }
  case " $ARMS " in *_1pct*) [ -f "$CKPT1" ] || { echo "no 1% supervised checkpoint $CKPT1: run STAGE=sup PCTS=1 first" >&2; exit 1; } ;; esac
  for seed in $SEEDS; do
    for arm in $ARMS; do
      [ -n "${CFG[$arm]:-}" ] || { echo "unknown arm $arm (know: ${!CFG[*]})" >&2; exit 1; }
      echo "$PY tools/train.py ${CFG[$arm]} --work-dir $WD/${arm}_s$seed --cfg-options load_from=$CKPT randomness.seed=$seed train_cfg.max_iters=$ITERS $LOADER ${OPTS[$arm]:-} > $WD/${arm}_s$seed.log 2>&1" >> "$jobs_file"
    done
  done
fi
echo "$(wc -l < "$jobs_file") runs, $PARALLEL at a time: $jobs_file"
tr '\n' '\0' < "$jobs_file" | xargs -0 -P "$PARALLEL" -I{} bash -c '{}'
$PY model_zoo/det_converged_table.py "$WD" --json "$WD/table.json" | tee "$WD/table.md"
