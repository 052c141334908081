#!/usr/bin/env bash
# The test-time adaptation GPU experiments as one prepared run (see docs/gpu.md):
#  1. data: DigitScenes, DigitScenes-C (severity 5) and DigitsC at severities 1-5 (gradual);
#  2. the DigitScenes-C source segmentor: configs/tta/source_fcn-r18-d8_digitscenes-seg.py,
#     SRC_ITERS iterations, seed 0, validated on the clean val split;
#  3. DigitScenes-C continual TTA with every configured method, one process per seed in SEEDS;
#  4. DigitsC gradual TTA (GRAD_MAX crops per step) with every method, one process per seed,
#     from the CPU-trained SmallResNet source checkpoint (carried: work_dirs/tta/source).
# Outputs in $OUT: seg_s{seed}.json, gradual_s{seed}.json, logs.tar.gz.
set -u
OUT=${OUT:-/tmp/mtkit_out}; mkdir -p "$OUT"
SRC_ITERS=${SRC_ITERS:-3000}; SEEDS=${SEEDS:-"0 1 2"}; SEG_MAXD=${SEG_MAXD:-}
GRAD_MAX=${GRAD_MAX:-256}; JOBS=${JOBS:-6}; TTA_LIMIT=${TTA_LIMIT:-300}
DEVICE=${DEVICE:-cuda}; SEG_METHODS=${SEG_METHODS:-"source bn tent cotta rmt rmt_replay"}
GRAD_METHODS=${GRAD_METHODS:-"source bn tent cotta rmt rmt_replay"}
DIGITSCENES_ARGS=${DIGITSCENES_ARGS:-}
SRC_CKPT=${SRC_CKPT:-work_dirs/tta/source/iter_1500.pth}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
source "$(dirname "$0")/device_env.sh"
mkdir -p wd
{ nvidia-smi -L; $PY -c "import torch, mtkit, mmseg.models; print('torch', torch.__version__, torch.cuda.is_available())"; } 2>&1 | grep -v -i warn
t0=$(date +%s)
$PY tools/make_digitscenes.py --out data/digitscenes $DIGITSCENES_ARGS > wd/make_digitscenes.log 2>&1 \
  || { tail -20 wd/make_digitscenes.log; exit 1; }
echo "data: DigitScenes after $(( $(date +%s) - t0 )) s"
$PY tools/make_digitscenes_c.py --jobs $JOBS > wd/make_digitscenes_c.log 2>&1 &
p1=$!
$PY tools/make_digitsc.py --out data/digitsc_all --severities 1 2 3 4 5 --jobs $JOBS \
  > wd/make_digitsc.log 2>&1 &
p2=$!
SEG_CFG=configs/tta/source_fcn-r18-d8_digitscenes-seg.py
$PY tools/train.py $SEG_CFG --work-dir wd/seg_source --cfg-options train_cfg.max_iters=$SRC_ITERS \
  train_cfg.val_interval=$SRC_ITERS default_hooks.checkpoint.interval=$SRC_ITERS \
  default_hooks.logger.interval=100 train_dataloader.num_workers=4 > wd/seg_source.log 2>&1 &
p3=$!
wait $p2 || { tail -20 wd/make_digitsc.log; exit 1; }
echo "data: DigitsC 1-5 after $(( $(date +%s) - t0 )) s"
for seed in $SEEDS; do  # the gradual DigitsC runs need no segmentor: start them now
  timeout $TTA_LIMIT $PY tools/tta.py configs/tta/source_smallresnet_digitsc.py $SRC_CKPT \
    --method $GRAD_METHODS --setting gradual --max-per-domain $GRAD_MAX --seed $seed --device $DEVICE \
    --cfg-options tta.data_root=data/digitsc_all --out "$OUT/gradual_s$seed.json" \
    > wd/gradual_s$seed.log 2>&1 &
done
wait $p1 || { tail -20 wd/make_digitscenes_c.log; exit 1; }
wait $p3 || { tail -30 wd/seg_source.log; exit 1; }
echo "source segmentor and DigitScenes-C after $(( $(date +%s) - t0 )) s:"
grep "mIoU:" wd/seg_source.log | tail -1 | cut -c1-200
extra=""; [ -n "$SEG_MAXD" ] && extra="--max-per-domain $SEG_MAXD"
for seed in $SEEDS; do
  timeout $TTA_LIMIT $PY tools/tta.py $SEG_CFG wd/seg_source/iter_$SRC_ITERS.pth --method $SEG_METHODS \
    --seed $seed --device $DEVICE --out "$OUT/seg_s$seed.json" $extra > wd/seg_tta_s$seed.log 2>&1 &
done
wait
echo "TTA done after $(( $(date +%s) - t0 )) s"
cp wd/seg_source/*/vis_data/scalars.json wd/seg_source_scalars.json 2>/dev/null
tar czf "$OUT/logs.tar.gz" wd/*.log wd/seg_source_scalars.json 2>/dev/null
grep -h "mean mIoU\|mean error\|Error\|error:" wd/seg_tta_s*.log wd/gradual_s*.log | cut -c1-200
