"""EMA teacher update: mtkit vs mmdet MeanTeacherHook vs MMEngine ExponentialMovingAverage.

All three update the same RetinaNet-R50-FPN teacher from its student, measured side by side
in one run; the script prints times and ratios, and on CUDA also the memory-bandwidth bound
(3 x parameter bytes per update: read teacher, read student, write teacher, at the
device-to-device copy bandwidth measured in the same run).

    python benchmarks/ema_update.py [--device cpu|cuda] [--reps 50]
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from torch import nn  # noqa: E402


def build_retinanet(device):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    import mmdet
    # mmdet's own RetinaNet-R50-FPN config, read by path (no `mmdet::` lookup, which needs
    # pkg_resources), without its pretrained-weights init (nothing is downloaded).
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', '_base_', 'models',
                    'retinanet_r50_fpn.py')
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model).to(device)


class Pair(nn.Module):
    def __init__(self, student):
        super().__init__()
        self.student = student
        self.teacher = copy.deepcopy(student)
        for p in self.teacher.parameters():
            p.requires_grad_(False)


def timed(fn, device, reps, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def copy_bandwidth(device, nbytes=1 << 30):
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src), device, reps=10, warmup=3)
    return 2 * nbytes / t  # read + write


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--reps', type=int, default=50)
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)
    device = torch.device(args.device)
    import mtkit  # noqa: F401
    from mmdet.engine.hooks import MeanTeacherHook
    from mmengine.model import ExponentialMovingAverage
    from mtkit.teachers import build_ema_plan, ema_update_

    torch.manual_seed(0)
    pair = Pair(build_retinanet(device))
    with torch.no_grad():
        for p_ in pair.student.parameters():
            p_.add_(torch.randn_like(p_) * 0.01)
    n_params = sum(p_.numel() for p_ in pair.student.parameters())
    param_bytes = sum(p_.numel() * p_.element_size() for p_ in pair.student.parameters())
    m = 0.001
    mmdet_hook = MeanTeacherHook(momentum=m, skip_buffer=True)
    mmdet_hook_buf = MeanTeacherHook(momentum=m, skip_buffer=False)
    plan_keep = build_ema_plan(pair.teacher, pair.student, 'keep')
    plan_copy = build_ema_plan(pair.teacher, pair.student, 'copy')
    engine_ema = ExponentialMovingAverage(pair.student, momentum=m)

    # correctness: one step of each from the same teacher agrees
    start = copy.deepcopy(pair.teacher.state_dict())
    mmdet_hook.momentum_update(pair, m)
    ref = [t.clone() for t in pair.teacher.parameters()]
    pair.teacher.load_state_dict(start)
    ema_update_(plan_keep, m)
    max_diff = max((a - b).abs().max().item() for a, b in zip(pair.teacher.parameters(), ref))

    sync_free = None
    if device.type == 'cuda':
        torch.cuda.set_sync_debug_mode('error')
        try:
            ema_update_(plan_copy, m)
            sync_free = True
        except RuntimeError:
            sync_free = False
        finally:
            torch.cuda.set_sync_debug_mode(0)

    results = dict(device=str(device), device_name=torch.cuda.get_device_name(device)
                   if device.type == 'cuda' else 'cpu', torch=torch.__version__,
                   threads=torch.get_num_threads(), params=n_params, param_bytes=param_bytes,
                   max_abs_diff_vs_mmdet=max_diff, no_host_sync=sync_free)
    t = dict(
        mtkit_params=timed(lambda: ema_update_(plan_keep, m), device, args.reps),
        mmdet_params=timed(lambda: mmdet_hook.momentum_update(pair, m), device, args.reps),
        mtkit_with_buffers=timed(lambda: ema_update_(plan_copy, m), device, args.reps),
        mmdet_with_buffers=timed(lambda: mmdet_hook_buf.momentum_update(pair, m), device,
                                 args.reps),
        mmengine_ema=timed(lambda: engine_ema.update_parameters(pair.student), device,
                           args.reps),
    )
    results['seconds'] = t
    results['speedup_vs_mmdet'] = t['mmdet_params'] / t['mtkit_params']
    results['speedup_vs_mmdet_with_buffers'] = t['mmdet_with_buffers'] / t['mtkit_with_buffers']
    results['speedup_vs_mmengine'] = t['mmengine_ema'] / t['mtkit_params']
    if device.type == 'cuda':
        bw = copy_bandwidth(device)
        bound = 3 * param_bytes / bw
        results['copy_bandwidth_GBps'] = bw / 1e9
        results['bandwidth_bound_s'] = bound
        results['mtkit_over_bound'] = t['mtkit_params'] / bound
    for k, v in t.items():
        print(f'{k:22s} {v * 1e3:9.3f} ms')
    for k in ('speedup_vs_mmdet', 'speedup_vs_mmdet_with_buffers', 'speedup_vs_mmengine',
              'mtkit_over_bound', 'copy_bandwidth_GBps', 'max_abs_diff_vs_mmdet',
              'no_host_sync'):
        if k in results:
            print(f'{k:30s} {results[k]}')
    print(f'{n_params / 1e6:.1f}M parameters on {results["device_name"]}, torch {torch.__version__}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
