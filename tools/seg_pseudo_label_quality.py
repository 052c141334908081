"""Quality of a segmentation teacher's pixel pseudo labels on unlabeled images, background and
digits apart (model_zoo/README.md, "DigitScenes-seg from a converged start").

    python tools/seg_pseudo_label_quality.py CONFIG CHECKPOINT [--model teacher] \
        [--thr 0.95] [--num 200] [--json OUT]

Runs ``--model`` of a checkpoint of CONFIG (a ``MeanTeacherSegmentor`` config; ``student`` or
a teacher name) on the first ``--num`` images of the config's unlabeled split, at the test
pipeline's scale, and prints, for the pixels the ground truth labels as background and as a
digit: the share kept at confidence ``--thr`` (recall of the pseudo labels) and the accuracy
of the kept ones (precision). A fixed threshold that keeps nearly all background and few digit
pixels gives a student almost nothing new to learn about digits.
"""
import argparse
import copy
import json
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # mtkit


def pixel_quality(conf, pred, gt, thr: float, ignore_index: int = 255) -> dict:
    """Recall (kept share) and precision (kept and right) of pseudo labels ``pred`` kept where
    ``conf >= thr``, over ground-truth background (class 0) and digit (> 0) pixels."""
    valid = gt != ignore_index
    keep = conf >= thr
    out = {}
    for name, where in (('background', valid & (gt == 0)), ('digits', valid & (gt > 0))):
        n, kept = int(where.sum()), keep & where
        out[name] = dict(pixels=n, kept=int(kept.sum()) / max(n, 1),
                         precision=int((kept & (pred == gt)).sum()) / max(int(kept.sum()), 1))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--model', default='teacher')
    p.add_argument('--thr', type=float, default=0.95)
    p.add_argument('--num', type=int, default=200)
    p.add_argument('--json')
    args = p.parse_args(argv)
    import mtkit  # noqa: F401
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    from mtkit.models.seg.mean_teacher_segmentor import full_image_metas
    from mtkit.registry import DATASETS, MODELS
    cfg = Config.fromfile(args.config)
    unl = copy.deepcopy(cfg.train_dataloader.dataset.unlabeled)
    unl.pipeline = cfg.test_dataloader.dataset.pipeline
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
        ds = DATASETS.build(unl)
    net = getattr(model, args.model).eval()
    confs, preds, gts = [], [], []
    with torch.no_grad():
        for start in range(0, min(args.num, len(ds)), 8):
            idx = range(start, min(start + 8, args.num, len(ds)))
            batch = model.data_preprocessor.data_preprocessor(
                pseudo_collate([ds[i] for i in idx]), False)
            x = batch['inputs']
            c, pr = net.encode_decode(x, full_image_metas(x)).softmax(1).max(1)
            confs.append(c)
            preds.append(pr)
            gts.append(torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']]).long())
    result = pixel_quality(torch.cat(confs), torch.cat(preds), torch.cat(gts), args.thr)
    result.update(model=args.model, thr=args.thr, images=min(args.num, len(ds)),
                  checkpoint=args.checkpoint)
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
