"""Two CPU processes on gloo: with either unsupervised-image policy (``'all'``, and the legacy
``'with_pseudo'``) every rank runs the student's unsupervised loss, and with it YOLOX's
all-reduce of the positive count, whatever its pseudo boxes. Rank 1's unlabeled images have
none here (oracle pseudo labels from empty ground truth), rank 0's have three; both finish and
then all-reduce their gradients as DDP would. The same with two teachers and
``ConsensusFilter(second_thr=0.5)``: the teachers' boxes are set per rank, and on rank 1 the
second teacher's partners score below ``second_thr``, so its consensus keeps nothing."""
import copy
import datetime
import json
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.structures import InstanceData


def _worker(rank: int, world: int, init_file: str, out_dir: str, policy: str) -> None:
    from mmengine.registry import DefaultScope

    from test_unsup_policies import _batch, build, sample, set_iter
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=90))
    try:
        with DefaultScope.overwrite_default_scope('mmdet'):
            torch.set_num_threads(1)
            x, gt = _batch()
            if policy == 'consensus':
                model = build(unsup_images='all', unsup_norm='pseudo_density',
                              pseudo_filters=[dict(type='ScoreThreshold', thr=0.5),
                                              dict(type='ConsensusFilter', second_thr=0.5)])
                second_score = 0.9 if rank == 0 else 0.3

                def boxes(name, inputs, samples):  # the teachers' boxes, fixed per rank
                    return [InstanceData(bboxes=g.gt_instances.bboxes.clone(),
                                         labels=g.gt_instances.labels.clone(),
                                         scores=torch.full((len(g.gt_instances), ),
                                                           0.9 if name == 'teacher'
                                                           else second_score))
                            for g in gt]
                model.teacher_boxes = boxes
                unlabeled = [sample(), sample()]
            else:
                model = build(oracle=dict(), unsup_images=policy, unsup_norm='pseudo_density')
                unlabeled = copy.deepcopy(gt) if rank == 0 else [sample(), sample()]
            set_iter(model, 10)
            inputs = dict(sup=x.clone(), unsup_teacher=x.clone(), unsup_student=x.clone())
            samples = dict(sup=copy.deepcopy(gt), unsup_teacher=copy.deepcopy(unlabeled),
                           unsup_student=copy.deepcopy(unlabeled))
            losses = model.loss(inputs, samples)
            total = sum(v if not isinstance(v, (list, tuple)) else sum(v)
                        for k, v in losses.items() if 'loss' in k)
            total.backward()
            grads = [p.grad for p in model.student.parameters() if p.grad is not None]
            for g in grads:  # DDP's gradient all-reduce, after the loss's own collectives
                dist.all_reduce(g)
            result = dict(pseudo=float(losses['unsup_pseudo_per_img']),
                          unsup=float(sum(v for k, v in losses.items()
                                          if k.startswith('unsup_loss'))),
                          grads=len(grads))
        with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize('policy', ['all', 'with_pseudo', 'consensus'])
def test_every_rank_runs_the_student_loss_whatever_its_pseudo_boxes(tmp_path, policy):
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), str(tmp_path), policy), nprocs=2,
             join=True)
    r0, r1 = (json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1))
    assert r0['pseudo'] == 1.5 and r1['pseudo'] == 0.0  # 3 boxes in 2 images vs none
    assert r0['unsup'] > 0.0 and r1['unsup'] == 0.0       # rank 1: weight 0, same collectives
    assert r0['grads'] == r1['grads'] > 0
