#!/usr/bin/env bash
# The re-probe of docs/checks.md, as a user runs it: seven silent-failure cases from the command
# line on the generated DigitScenes (python tools/make_digitscenes.py --out data/digitscenes),
# 2 gloo processes where it applies, one thread each. Prints what each case does now; about
# 7 minutes on a 2-core CPU (most of it a 300-iteration supervised start for case 1).
#   bash scripts/reprobe_checks.sh            # WD (work_dirs/reprobe), PY (.venv/bin/python)
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WD=${WD:-work_dirs/reprobe}
export OMP_NUM_THREADS=1
rm -rf "$WD"; mkdir -p "$WD"
WD=$(cd "$WD" && pwd)
MT=configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py
DATA=data/digitscenes/coco

echo "== 1 GMM queues under DDP (Consistent Teacher, 2 processes, 1 iteration)"
$PY tools/train.py configs/supervised/yolox-tiny_digitscenes-10pct.py --work-dir "$WD/sup" \
  --cfg-options train_cfg.max_iters=300 train_cfg.val_interval=1000 \
  default_hooks.checkpoint.interval=300 > "$WD/sup.log" 2>&1 || echo "supervised start failed"
cat > "$WD/probe_hooks.py" <<'P'
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ProbeDumpGMMHook(Hook):
    """Each rank's GMM queues after the iteration (after the norm-statistics sync)."""
    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = getattr(runner.model, 'module', runner.model)
        queues = {n: b.tolist() for n, b in model.named_buffers() if n.endswith('.queue')}
        with open(osp.join(runner.work_dir, f'gmm_rank{get_rank()}.json'), 'w') as f:
            json.dump(queues, f)
P
cat > "$WD/ct_probe.py" <<P
_base_ = ['$PWD/configs/consistent_teacher/ct_yolox-tiny_digitscenes-10pct-converged.py']
custom_imports = dict(imports=['mtkit', 'probe_hooks'], allow_failed_imports=False)
load_from = '$WD/sup/iter_300.pth'
model = dict(semi_train_cfg=dict(burn_in_iters=0, ramp_iters=0))
train_cfg = dict(max_iters=1, val_interval=100)
custom_hooks = [dict(type='ProbeDumpGMMHook'), dict(type='mtkit.EMATeacherHook', momentum=0.001)]
P
PYTHONPATH="$WD" PY=$PY PORT=${PORT:-29613} bash tools/dist_train.sh "$WD/ct_probe.py" 2 \
  --work-dir "$WD/gmm" > "$WD/gmm.log" 2>&1; echo "rc=$?"
$PY - "$WD/gmm" <<'P'
import json, sys
r = [json.load(open(f'{sys.argv[1]}/gmm_rank{i}.json')) for i in (0, 1)]
for name, a in r[0].items():
    b = r[1][name]
    for c in range(len(a)):
        qa = [round(v, 3) for v in a[c] if v > 0]
        qb = [round(v, 3) for v in b[c] if v > 0]
        if qa or qb:
            print(f'class {c}: rank 0 {qa[:4]}, rank 1 {qb[:4]}')
    print('the ranks keep their own queues:', a != b)
P

echo "== 2 SIGKILL while a checkpoint is written, max_keep_ckpts=1"
$PY tools/train.py $MT --work-dir "$WD/kill" --cfg-options load_from=None \
  default_hooks.checkpoint.interval=1 train_cfg.max_iters=20 train_cfg.val_interval=100 \
  > "$WD/kill.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
  if ls "$WD"/kill/.iter_3.pth.*.tmp >/dev/null 2>&1; then
    kill -9 $pid; echo "killed while iter_3.pth was being written"; break
  fi
  sleep 0.005
done
wait $pid 2>/dev/null
echo "left: $(cd "$WD/kill" && ls *.pth); last_checkpoint -> $(cat "$WD/kill/last_checkpoint")"
stat -c 'mode %a %n' "$WD"/kill/*.pth
$PY tools/train.py $MT --work-dir "$WD/kill" --resume --cfg-options load_from=None \
  default_hooks.checkpoint.interval=1 train_cfg.max_iters=4 train_cfg.val_interval=100 \
  > "$WD/resume.log" 2>&1; echo "--resume rc=$?"
grep -o "resumed from.*" "$WD/resume.log" | head -1

echo "== 3 the labeled ann_file overridden"
$PY tools/train.py $MT --work-dir "$WD/leak" --cfg-options load_from=None \
  train_dataloader.dataset.datasets.0.ann_file=annotations/instances_train.json \
  > "$WD/leak.log" 2>&1; echo "rc=$?"; grep -o "ConfigKeyError: .\{0,200\}" "$WD/leak.log" | head -1

echo "== 4 3 of the 10 class names"
C="['zero','one','two']"
$PY tools/train.py $MT --work-dir "$WD/cls" --cfg-options load_from=None \
  "train_dataloader.dataset.datasets.0.metainfo.classes=$C" \
  "train_dataloader.dataset.datasets.1.metainfo.classes=$C" \
  "val_dataloader.dataset.metainfo.classes=$C" > "$WD/cls.log" 2>&1; echo "rc=$?"
grep -o "ConfigKeyError: .\{0,250\}" "$WD/cls.log" | head -1

echo "== 5 40 labeled boxes with a negative width"
$PY - "$DATA/annotations" "$WD/negative.json" <<'P'
import json, sys
d = json.load(open(f'{sys.argv[1]}/instances_train.1@10.json'))
for a in d['annotations'][:40]:
    x, y, w, h = a['bbox']
    a['bbox'] = [x + w, y, -w, h]
json.dump(d, open(sys.argv[2], 'w'))
P
$PY tools/train.py $MT --work-dir "$WD/neg" --cfg-options load_from=None \
  "train_dataloader.dataset.datasets.0.ann_file=$WD/negative.json" train_cfg.max_iters=1 \
  train_cfg.val_interval=100 > "$WD/neg.log" 2>&1; echo "rc=$?"
grep -h -o "CheckedCocoDataset.*invalid and are dropped.\{0,120\}" "$WD"/neg/*/*.log | head -1

echo "== 6 a segmentation checkpoint on the detection config"
$PY - "$WD/seg.pth" <<'P' 2>/dev/null
import sys
import torch
import mtkit  # noqa: F401
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
with DefaultScope.overwrite_default_scope('mmseg'):
    m = MODELS.build(Config.fromfile('configs/supervised/fcn-r18-d8_digitscenes-seg.py').model)
torch.save(dict(state_dict=m.state_dict(), meta={}), sys.argv[1])
P
$PY tools/test.py $MT "$WD/seg.pth" --work-dir "$WD/t6" > "$WD/t6.log" 2>&1; echo "rc=$?"
grep -o "ConfigKeyError: .\{0,250\}" "$WD/t6.log" | head -1

echo "== 7 a truncated training image"
mkdir -p "$WD/coco" && cp -r "$DATA/annotations" "$DATA/train" "$DATA/val" "$DATA/test" "$WD/coco/"
f=$(ls "$WD/coco/train" | sed -n 500p)
head -c 100 "$WD/coco/train/$f" > "$WD/x" && mv "$WD/x" "$WD/coco/train/$f"
$PY tools/check_data.py $MT --workers 2 --cfg-options \
  "train_dataloader.dataset.datasets.0.data_root=$WD/coco/" \
  "train_dataloader.dataset.datasets.1.data_root=$WD/coco/" 2>/dev/null | grep -v "task/s" \
  | tail -3; echo "rc=${PIPESTATUS[0]}"
