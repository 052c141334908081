"""Write a detector's boxes on a COCO-format image set: Grounded Teacher's expert branch read
from a file (``semi_train_cfg.expert=dict(predictions=...)``), or the scores that
``tools/score_pr_curve.py`` rates against held-out labels.

    python tools/expert_predictions.py CONFIG CHECKPOINT --ann-file ANN.json --img-dir DIR \
        --out expert.json [--score-thr 0.05] [--device cpu]

Runs any mmdet detector (``mmdet.apis.init_detector`` / ``inference_detector``) on every image
of the annotation file (annotations are not read) and writes
``{"classes": [...], "predictions": {img_id: {"bboxes", "scores", "labels"}}}`` with boxes in
the original image frame. The classes are the checkpoint's (``meta.dataset_meta``), else the
config's test (val, train) dataset's ``metainfo.classes``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--ann-file', required=True)
    p.add_argument('--img-dir', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--score-thr', type=float, default=0.05)
    p.add_argument('--device', default='cpu')
    p.add_argument('--batch-size', type=int, default=16)
    args = p.parse_args(argv)
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint'),
                       (args.ann_file, 'annotation file')):
        if not osp.isfile(path):
            sys.exit(f'expert_predictions: {what} {path} not found')
    import mtkit  # noqa: F401
    import torch
    from mmdet.apis import inference_detector, init_detector
    with open(args.ann_file) as f:
        images = json.load(f)['images']
    import warnings

    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "class names are not saved in the checkpoint"
        model = init_detector(args.config, None, device=args.device)
    # the weights read once, here: its meta names the classes (where mmdet would fall back
    # to COCO's 80 names, the config's dataset names them)
    meta = load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent').get(
        'meta') or {}
    classes = list((meta.get('dataset_meta') or {}).get('classes') or [])
    if not classes:
        cfg = Config.fromfile(args.config)
        for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
            ds = (cfg.get(loader) or {}).get('dataset') or {}
            classes = list((ds.get('metainfo') or {}).get('classes') or [])
            if classes:
                break
    if not classes:
        sys.exit(f'expert_predictions: neither {args.checkpoint} nor {args.config} names the '
                 f'classes (dataset_meta)')
    out = {}
    for start in range(0, len(images), args.batch_size):
        chunk = images[start:start + args.batch_size]
        paths = [osp.join(args.img_dir, im['file_name']) for im in chunk]
        missing = [q for q in paths if not osp.isfile(q)]
        if missing:
            sys.exit(f'expert_predictions: image {missing[0]} not found')
        for im, res in zip(chunk, inference_detector(model, paths)):
            pred = res.pred_instances
            keep = pred.scores >= args.score_thr
            finite = torch.isfinite(pred.bboxes[keep]).all() and torch.isfinite(
                pred.scores[keep]).all()
            if not finite:  # a broken expert would teach the student NaN / inf boxes
                sys.exit(f'expert_predictions: the expert predicts non-finite boxes or scores '
                         f'on {osp.join(args.img_dir, im["file_name"])}; check its checkpoint')
            out[str(im['id'])] = dict(bboxes=pred.bboxes[keep].tolist(),
                                      scores=pred.scores[keep].tolist(),
                                      labels=pred.labels[keep].tolist())
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(classes=classes, predictions=out), f)
    os.replace(tmp, args.out)
    n = sum(len(v['scores']) for v in out.values())
    print(f'{args.out}: {n} boxes on {len(out)} images, classes {classes}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
