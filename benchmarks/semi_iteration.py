"""Cost of one semi-supervised training iteration against its supervised iteration.

One process, one model, the same number of student images per iteration, side by side:

* detection (Faster R-CNN R50-FPN as in mmdet's SoftTeacher config, YOLOX-s, RTMDet-s; mmdet's
  own configs):
  ``supervised`` -- the plain detector on ``--images`` labeled images;
  ``mtkit_mt``   -- mtkit's ``MeanTeacherDetector`` on ``--images / 2`` labeled and ``--images
  / 2`` unlabeled images (teacher pass on the weak view, student on the strong view), plus
  mtkit's EMA update (``ema_update_``, what ``EMATeacherHook`` runs);
  ``mtkit_joint`` -- the same with ``joint_student_forward=True`` (one backbone/neck pass over
  the labeled and unlabeled images; only listed where ``'auto'`` does not already do it, i.e.
  where the backbone or neck trains BatchNorm);
  ``mmdet_mt``   -- mmdet's ``SemiBaseDetector`` on the same batch, plus mmdet's
  ``MeanTeacherHook.momentum_update``;
* segmentation (DeepLabV3+-R50 512x1024; mmseg's config, SyncBN as BN in one process):
  ``supervised`` vs mtkit's ``MeanTeacherSegmentor`` (labeled + weak/strong unlabeled views).

Each arm runs in fp32 and under AMP (bf16 where the device supports it: MMEngine's
``AmpOptimWrapper`` on CUDA, ``torch.autocast`` on CPU), through ``model.train_step`` (the
data preprocessor, the forward passes, backward and the optimizer step, as MMEngine's loop
runs them). The arms of a model are built side by side and stepped in turns (the order rotating
each round), so a drift of the machine's speed falls on all of them. Timing: warm-up, then the
median of ``--reps`` steps (CUDA events on CUDA); memory: the peak of a step above what was
allocated before it (activations, gradients, temporaries; CUDA only). The teacher's pseudo
labels are its top ``--boxes`` predictions (score threshold 0,
:func:`cap_teacher_predictions`), so every arm trains on the same number of boxes per image as
the supervised one has ground-truth boxes, whatever the untrained weights predict.

After timing, one more iteration per arm counts the host reads (device synchronisations on
CUDA) made directly by mtkit's code: on CUDA with ``torch.cuda.set_sync_debug_mode('warn')``,
on CPU by counting the calls that would synchronise on a GPU (``.item()``, ``bool(t)``,
``.tolist()``, ``nonzero``, boolean-mask indexing, a host tensor copied to the device) whose
caller is a file of ``mtkit/``.

Ratios printed: each arm over ``supervised`` of the same precision, and AMP over fp32.

    python benchmarks/semi_iteration.py                      # CUDA if present, else CPU sizes
    python benchmarks/semi_iteration.py --device cpu --models yolox_s --size 96 --images 2
    python benchmarks/semi_iteration.py --json out.json --markdown out.md
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import statistics
import sys
import time
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

MTKIT_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mtkit') + os.sep

# name: (package, config under <package>/.mim/configs, task, full-size (h, w))
MODELS = {
    # mmdet's SoftTeacher base: Faster R-CNN R50-FPN with the caffe-style frozen-BN backbone
    'faster_rcnn': ('mmdet', 'soft_teacher/soft-teacher_faster-rcnn_r50-caffe_fpn_180k_semi-0.1-'
                             'coco.py', 'det', (640, 640)),
    'yolox_s': ('mmdet', 'yolox/yolox_s_8xb8-300e_coco.py', 'det', (640, 640)),
    'rtmdet_s': ('mmdet', 'rtmdet/rtmdet_s_8xb32-300e_coco.py', 'det', (640, 640)),
    'deeplabv3plus': ('mmseg', '_base_/models/deeplabv3plus_r50-d8.py', 'seg', (512, 1024)),
}
ARMS = {'det': ('supervised', 'mtkit_mt', 'mtkit_joint', 'mmdet_mt'),
        'seg': ('supervised', 'mtkit_mt')}


# ----------------------------------------------------------------------------- models
def _no_sync_bn(cfg):
    """SyncBN -> BN everywhere (one process), recursively."""
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k == 'type' and v == 'SyncBN':
                cfg[k] = 'BN'
            else:
                _no_sync_bn(v)
    elif isinstance(cfg, list):
        for v in cfg:
            _no_sync_bn(v)
    return cfg


def model_config(name: str, boxes: int, size) -> dict:
    """The model config of ``name`` from its package's own config file, without pretrained
    weights (nothing is downloaded), batch augments, or SyncBN, with a test_cfg that keeps
    the top ``boxes`` predictions whatever their score (the teacher's pseudo labels)."""
    from mmengine.config import Config
    package, rel, task, _ = MODELS[name]
    mod = __import__(package)
    cfg = Config.fromfile(osp.join(osp.dirname(mod.__file__), '.mim', 'configs', rel))
    # a semi-supervised config's detector (SoftTeacher's), else the config's model
    model = _no_sync_bn(copy.deepcopy(cfg.detector if 'detector' in cfg else cfg.model))
    model.get('backbone', {}).pop('init_cfg', None)
    model.pop('pretrained', None)
    model.get('data_preprocessor', {}).pop('batch_augments', None)
    if task == 'det':
        test = model['test_cfg']
        (test['rcnn'] if 'rcnn' in test else test).update(score_thr=0.0, max_per_img=boxes)
    else:
        model['data_preprocessor']['size'] = tuple(size)
        model['decode_head']['num_classes'] = model['auxiliary_head']['num_classes'] = 19
    return model


def build_arm(task: str, arm: str, model_cfg: dict, device):
    """The model of an arm and its EMA update (None for supervised)."""
    import mtkit  # noqa: F401  (registers mtkit's modules)
    from mmengine.config import ConfigDict
    from mmengine.registry import MODELS as ROOT
    cfg = copy.deepcopy(model_cfg)
    if arm == 'supervised':
        model = ROOT.build(cfg)
        model.init_weights()
        return model.to(device), None
    if arm in ('mtkit_mt', 'mtkit_joint'):
        from mtkit.teachers import build_ema_plan, ema_update_
        if task == 'det':
            joint = dict(joint_student_forward=True) if arm == 'mtkit_joint' else {}
            model = ROOT.build(dict(type='mtkit.MeanTeacherDetector', detector=cfg,
                                    semi_train_cfg=dict(pseudo_thr=0.0, **joint)))
        else:
            model = ROOT.build(dict(type='mtkit.MeanTeacherSegmentor', segmentor=cfg,
                                    semi_train_cfg=dict(pseudo_thr=0.0)))
        model.init_weights()
        model = model.to(device)
        plan = build_ema_plan(model.teacher, model.student)
        return model, lambda: ema_update_(plan, 0.001)
    if arm == 'mmdet_mt':
        from mmdet.engine.hooks import MeanTeacherHook
        model = ROOT.build(dict(
            type='mmdet.SemiBaseDetector', detector=cfg,
            data_preprocessor=dict(type='mmdet.MultiBranchDataPreprocessor',
                                   data_preprocessor=cfg['data_preprocessor']),
            semi_train_cfg=ConfigDict(freeze_teacher=True, sup_weight=1.0, unsup_weight=1.0,
                                      cls_pseudo_thr=0.0, min_pseudo_bbox_wh=(1e-2, 1e-2)),
            semi_test_cfg=ConfigDict(predict_on='teacher')))
        model.init_weights()
        model = model.to(device)
        hook = MeanTeacherHook(momentum=0.001)
        return model, lambda: hook.momentum_update(model, 0.001)
    raise ValueError(f'unknown arm {arm!r}')


def cap_teacher_predictions(model, boxes: int) -> None:
    """The teacher keeps its ``boxes`` best predictions per image (NMS output is sorted by
    score): an untrained teacher's pseudo labels then cost the student what a trained one's
    would. Applied alike to every arm's teacher; slicing costs no device sync."""
    teacher = getattr(model, 'teacher', None)
    if teacher is None or not hasattr(teacher, 'bbox_head') and not hasattr(teacher, 'roi_head'):
        return
    predict = teacher.predict

    def capped(*args, **kwargs):
        results = predict(*args, **kwargs)
        for r in results:
            r.pred_instances = r.pred_instances[:boxes]
        return results

    teacher.predict = capped


# ----------------------------------------------------------------------------- data
def _boxes(k: int, h: int, w: int, gen) -> torch.Tensor:
    xy = torch.rand(k, 2, generator=gen) * torch.tensor([w * 0.7, h * 0.7])
    wh = (0.1 + 0.2 * torch.rand(k, 2, generator=gen)) * torch.tensor([w, h])
    return torch.cat([xy, xy + wh], 1)


def det_batch(n: int, size, boxes: int, num_classes: int, gen, flip: bool = False,
              pin: bool = False):
    """``n`` uint8 images and DetDataSamples with ``boxes`` ground-truth boxes each; ``flip``
    gives the samples a horizontal-flip homography (a strong view)."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = size
    inputs, samples = [], []
    for i in range(n):
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen)
        inputs.append(img.pin_memory() if pin else img)
        hm = np.array([[-1, 0, w], [0, 1, 0], [0, 0, 1]] if flip else np.eye(3), np.float32)
        s = DetDataSample(metainfo=dict(img_path=f'synthetic/{i}.jpg', img_id=i, ori_shape=(h, w),
                                        img_shape=(h, w), scale_factor=(1.0, 1.0),
                                        homography_matrix=hm, flip=flip,
                                        flip_direction='horizontal' if flip else None))
        s.gt_instances = InstanceData(bboxes=_boxes(boxes, h, w, gen),
                                      labels=torch.randint(0, num_classes, (boxes, ),
                                                           generator=gen))
        s.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                           labels=torch.zeros(0, dtype=torch.long))
        samples.append(s)
    return inputs, samples


def seg_batch(n: int, size, num_classes: int, gen, pin: bool = False):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = size
    inputs, samples = [], []
    for i in range(n):
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen)
        inputs.append(img.pin_memory() if pin else img)
        s = SegDataSample(metainfo=dict(img_path=f'synthetic/{i}.png', ori_shape=(h, w),
                                        img_shape=(h, w), pad_shape=(h, w)))
        label = torch.randint(0, num_classes, (1, h, w), generator=gen)
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return inputs, samples


def make_batches(task: str, arm: str, images: int, size, boxes: int, num_classes: int,
                 count: int, pin: bool) -> list:
    """``count`` batches (fresh data samples each: the wrappers write pseudo labels into
    them) sharing one set of images. Supervised: ``images`` labeled images; semi-supervised:
    ``images // 2`` labeled + ``images // 2`` unlabeled (a weak and a strong view each)."""
    gen = torch.Generator().manual_seed(0)
    half = max(images // 2, 1)
    if task == 'det':
        sup = det_batch(images if arm == 'supervised' else half, size, boxes, num_classes, gen,
                        pin=pin)
        weak = det_batch(half, size, boxes, num_classes, gen, pin=pin)
        strong = det_batch(half, size, boxes, num_classes, gen, flip=True, pin=pin)
        names = ('sup', 'unsup_teacher', 'unsup_student')
    else:
        sup = seg_batch(images if arm == 'supervised' else half, size, num_classes, gen, pin)
        weak = seg_batch(half, size, num_classes, gen, pin)
        strong = (weak[0], copy.deepcopy(weak[1]))
        names = ('sup', 'weak', 'strong')
    out = []
    for _ in range(count):
        if arm == 'supervised':
            out.append(dict(inputs=list(sup[0]), data_samples=copy.deepcopy(sup[1])))
        else:
            views = (sup, weak, strong)
            out.append(dict(inputs={n: list(v[0]) for n, v in zip(names, views)},
                            data_samples={n: copy.deepcopy(v[1]) for n, v in zip(names, views)}))
    return out


# ----------------------------------------------------------------------------- timing
class _CpuAutocastOptimWrapper:
    """AMP on CPU: MMEngine's AmpOptimWrapper is CUDA/NPU-only; same optim_context contract."""

    def __new__(cls, optimizer):
        from mmengine.optim import OptimWrapper

        class Wrapper(OptimWrapper):
            @contextlib.contextmanager
            def optim_context(self, model):
                with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
                    yield

        return Wrapper(optimizer=optimizer)


def optim_wrapper_for(model, precision: str, device, amp_dtype: str = 'bfloat16'):
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=1e-4)
    if precision == 'fp32':
        return OptimWrapper(optimizer=opt)
    if device.type == 'cuda':
        return AmpOptimWrapper(optimizer=opt, dtype=amp_dtype)
    return _CpuAutocastOptimWrapper(opt)


def amp_skip_reason(task: str, device, amp_dtype: str):
    """Why AMP cannot run for ``task`` on ``device`` (None when it can)."""
    if device.type == 'cpu' and task == 'det':
        return ("mmdet's assigners turn off CUDA autocast only (e.g. SimOTA), so CPU autocast "
                'breaks their fp32 index writes')
    if device.type == 'cpu' and amp_dtype != 'bfloat16':
        return 'CPU autocast here runs bfloat16 only'
    if device.type == 'cuda' and amp_dtype == 'bfloat16' and not torch.cuda.is_bf16_supported():
        return 'no bfloat16 on this GPU (use --amp-dtype float16)'
    return None


def time_step(step, batch, device) -> tuple:
    """(milliseconds, peak MiB above what was allocated before) of one ``step(batch)``."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step(batch)
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end), (torch.cuda.max_memory_allocated() - base) / 2**20
    t = time.perf_counter()
    step(batch)
    return 1e3 * (time.perf_counter() - t), None


# ----------------------------------------------------------------------------- host reads
_READS = ('item', 'tolist', '__bool__', '__int__', '__float__', 'nonzero', 'numpy')
# frames of data containers and torch's own Python layers: a read made there is charged to
# the code that called them
_PASS_THROUGH = tuple(os.sep + p.replace('/', os.sep) + os.sep
                      for p in ('torch', 'mmengine/structures', 'mmdet/structures'))


def _passes(filename: str) -> bool:
    """Frames not charged: this file, the warnings machinery (on CUDA a read is reported as a
    warning), torch's Python layers and the data containers."""
    return (filename in (osp.abspath(__file__), warnings.__file__) or filename.startswith('<')
            or any(p in filename for p in _PASS_THROUGH))


def _owner(frame) -> str:
    """``file:line`` of the innermost frame outside the pass-through files."""
    while frame is not None and _passes(frame.f_code.co_filename):
        frame = frame.f_back
    return '?' if frame is None else f'{frame.f_code.co_filename}:{frame.f_lineno}'


def _count(counts: dict) -> None:
    f = _owner(sys._getframe(2))
    counts[f] = counts.get(f, 0) + 1


@contextlib.contextmanager
def count_host_reads_cpu(counts: dict):
    """Count, by the calling file, the tensor calls that would synchronise with a GPU: host
    reads of values, ``nonzero`` and boolean-mask indexing (their size is data-dependent), and
    host data made into a device tensor (``torch.tensor(x, device=...)``)."""
    saved = {n: torch.Tensor.__dict__.get(n) for n in _READS + ('__getitem__', )}
    factories = {n: getattr(torch, n) for n in ('tensor', 'as_tensor')}

    def wrap(orig):
        def fn(self, *a, **k):
            _count(counts)
            return orig(self, *a, **k)
        return fn

    orig_getitem = torch.Tensor.__getitem__

    def getitem(self, idx):
        parts = idx if isinstance(idx, tuple) else (idx, )
        if any(torch.is_tensor(p) and p.dtype == torch.bool for p in parts):
            _count(counts)
        return orig_getitem(self, idx)

    def factory(orig):
        def fn(data, *a, **k):
            if k.get('device') is not None and not torch.is_tensor(data):
                _count(counts)
            return orig(data, *a, **k)
        return fn

    try:
        for n in _READS:
            setattr(torch.Tensor, n, wrap(getattr(torch.Tensor, n)))
        torch.Tensor.__getitem__ = getitem
        for n, orig in factories.items():
            setattr(torch, n, factory(orig))
        yield counts
    finally:
        for n, v in saved.items():
            if v is None:
                if n in torch.Tensor.__dict__:
                    delattr(torch.Tensor, n)
            else:
                setattr(torch.Tensor, n, v)
        for n, orig in factories.items():
            setattr(torch, n, orig)


@contextlib.contextmanager
def count_host_reads_cuda(counts: dict, set_mode=None):
    """``torch.cuda.set_sync_debug_mode('warn')``: every synchronising CUDA call warns while
    the Python stack that made it is live; it is charged as on CPU. (``set_mode``: the mode
    setter, replaced in the CPU test of this counting.)"""
    set_mode = set_mode or torch.cuda.set_sync_debug_mode

    def show(message, *a, **k):
        if 'synchroniz' in str(message):
            _count(counts)

    with warnings.catch_warnings():
        warnings.simplefilter('always')
        warnings.showwarning = show
        set_mode('warn')
        try:
            yield counts
        finally:
            set_mode('default')


def mtkit_reads(counts: dict) -> int:
    return sum(n for f, n in counts.items() if f.startswith(MTKIT_DIR))


# ----------------------------------------------------------------------------- main
def run_model(name: str, task: str, precision: str, arms: list, args, device) -> list:
    """Rows of ``arms`` for one model and precision, in the task's default scope (the scope in
    effect before is restored)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet' if task == 'det' else 'mmseg'):
        return _run_model(name, task, precision, arms, args, device)


class _Arm:
    """One arm's model, optimizer wrapper, batches and measurements."""

    def __init__(self, name: str, task: str, arm: str, precision: str, args, device) -> None:
        self.arm, self.times, self.peaks, self.losses = arm, [], [], {}
        torch.manual_seed(0)
        model_cfg = model_config(name, args.boxes, args.size_hw)
        self.model, self.ema = build_arm(task, arm, model_cfg, device)
        cap_teacher_predictions(self.model, args.boxes)
        if hasattr(self.model, 'set_train_iter'):  # mtkit's: an iteration past any burn-in
            self.model.set_train_iter(10**6)
        self.model.train()
        joint = getattr(self.model, 'joint_student_forward', None)
        self.joint = bool(joint()) if joint is not None else None
        self.wrapper = optim_wrapper_for(self.model, precision, device, args.amp_dtype)
        teacher = getattr(self.model, 'teacher', None)
        self.teacher_param = None if teacher is None else next(teacher.parameters())
        self.teacher_before = None if teacher is None else self.teacher_param.detach().clone()
        self.batches = make_batches(task, arm, args.images, args.size_hw, args.boxes,
                                    80 if task == 'det' else 19,
                                    args.warmup + args.reps + 1, pin=device.type == 'cuda')

    def step(self, batch) -> None:
        out = self.model.train_step(batch, self.wrapper)
        if self.ema is not None:
            self.ema()
        self.losses.update(out)


def _run_model(name: str, task: str, precision: str, arms: list, args, device) -> list:
    """The arms are built side by side and measured in turns (one step each, the order
    rotating every round), so a drift of the machine's speed falls on every arm alike."""
    from mmengine.logging import MMLogger
    MMLogger.get_instance('semi_iteration', log_level='WARNING')  # no weight-init report
    rows, live = [], []

    def fail(arm, e):
        if args.strict:
            raise e
        rows.append(dict(model=name, arm=arm, precision=precision, images=args.images, ms=None,
                         peak_mib=None, mtkit_host_reads=None, host_reads=None,
                         error=f'{type(e).__name__}: {e}'[:300]))
        print(f"{name:14s} {arm:11s} {precision:5s} FAILED {rows[-1]['error']}")

    for arm in arms:
        if arm == 'mtkit_joint' and any(a.arm == 'mtkit_mt' and a.joint for a in live):
            continue  # 'auto' already shares the backbone pass: the same arm
        try:
            live.append(_Arm(name, task, arm, precision, args, device))
        except Exception as e:  # one arm failing (e.g. an op without bf16) is a row
            fail(arm, e)
    n = args.warmup + args.reps
    for i in range(n):
        for a in live[i % len(live):] + live[:i % len(live)] if live else []:
            if a.arm in {r['arm'] for r in rows}:
                continue  # failed earlier
            try:
                ms, peak = time_step(a.step, a.batches[i], device)
            except Exception as e:
                fail(a.arm, e)
                continue
            if i >= args.warmup:
                a.times.append(ms)
                a.peaks.append(peak)
    counter = count_host_reads_cuda if device.type == 'cuda' else count_host_reads_cpu
    for a in live:
        if a.arm in {r['arm'] for r in rows}:
            continue
        counts = {}
        with counter(counts):
            a.step(a.batches[n])
        if device.type == 'cuda':
            torch.cuda.synchronize()
        finite = all(bool(torch.isfinite(torch.as_tensor(v)).all()) for v in a.losses.values())
        rows.append(dict(
            model=name, arm=a.arm, precision=precision, images=args.images, joint=a.joint,
            ms=statistics.median(a.times), ms_all=a.times,
            peak_mib=None if device.type != 'cuda' else max(a.peaks),
            mtkit_host_reads=mtkit_reads(counts), host_reads=sum(counts.values()),
            losses_finite=finite, loss_keys=sorted(a.losses),
            teacher_updated=None if a.teacher_param is None else
            not torch.equal(a.teacher_before, a.teacher_param.detach())))
        print(f"{name:14s} {a.arm:11s} {precision:5s} {rows[-1]['ms']:9.1f} ms  "
              f"mtkit host reads {rows[-1]['mtkit_host_reads']}", flush=True)
    del live
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    order = {arm: k for k, arm in enumerate(arms)}
    return sorted(rows, key=lambda r: order[r['arm']])


def ratios(rows: list) -> list:
    """Each row over the supervised row of its model and precision; AMP over fp32."""
    ref = {(r['model'], r['precision']): r['ms'] for r in rows if r['arm'] == 'supervised'}
    fp32 = {(r['model'], r['arm']): r['ms'] for r in rows if r['precision'] == 'fp32'}
    for r in rows:
        sup = ref.get((r['model'], r['precision']))
        ok = r['ms'] is not None
        r['vs_supervised'] = r['ms'] / sup if ok and sup else None
        base = fp32.get((r['model'], r['arm']))
        r['amp_vs_fp32'] = r['ms'] / base if ok and base and r['precision'] != 'fp32' else None
    return rows


def markdown(rows: list, header: str) -> str:
    def f(x, fmt):
        return '-' if x is None else format(x, fmt)

    lines = [header, '',
             '| model | arm | precision | ms / iteration | x supervised | AMP / fp32 '
             '| step peak MiB | host reads (mtkit / all) |',
             '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in rows:
        ms = f(r['ms'], '.1f') if r['ms'] is not None else 'failed: ' + r['error'][:60]
        arm = r['arm'] + (' (joint pass)' if r.get('joint') and r['arm'] == 'mtkit_mt' else '')
        lines.append(f"| {r['model']} | {arm} | {r['precision']} | {ms} | "
                     f"{f(r['vs_supervised'], '.2f')} | {f(r['amp_vs_fp32'], '.2f')} | "
                     f"{f(r['peak_mib'], '.0f')} | {f(r['mtkit_host_reads'], 'd')} / "
                     f"{f(r['host_reads'], 'd')} |")
    return '\n'.join(lines)


def save(rows: list, args, device) -> str:
    """Ratios, then the rows to ``--json`` and the table to ``--markdown``; returns the table."""
    ratios(rows)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else \
        f'CPU ({torch.get_num_threads()} threads)'
    table = markdown(rows, f'{name}, torch {torch.__version__}, {args.images} student images '
                           f'per iteration, median of {args.reps} after {args.warmup} warm-up')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=name, torch=torch.__version__, args={
                k: v for k, v in vars(args).items() if k not in ('json', 'markdown')},
                rows=rows), f, indent=1)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(table + '\n')
    return table


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    p.add_argument('--arms', nargs='+', default=None,
                   help='subset of supervised mtkit_mt mtkit_joint mmdet_mt (default: all of the '
                        'task)')
    p.add_argument('--precisions', nargs='+', default=['fp32', 'amp'], choices=['fp32', 'amp'])
    p.add_argument('--images', type=int, default=None,
                   help='student images per iteration (default 8 on CUDA, 4 on CPU; DeepLabV3+ '
                        'needs 4: its image-pool BN needs 2 images per branch)')
    p.add_argument('--size', type=int, nargs='+', default=None,
                   help='image size h [w] (default: the model\'s full size on CUDA, 128 on CPU)')
    p.add_argument('--amp-dtype', default='bfloat16', choices=['bfloat16', 'float16'],
                   help='AMP precision (CUDA; CPU autocast runs bfloat16)')
    p.add_argument('--boxes', type=int, default=8, help='boxes per image (gt and pseudo)')
    p.add_argument('--reps', type=int, default=None, help='timed iterations (20 CUDA, 3 CPU)')
    p.add_argument('--warmup', type=int, default=None, help='untimed first iterations (5 / 1)')
    p.add_argument('--strict', action='store_true', help='stop at an arm that fails')
    p.add_argument('--json', help='write the rows here')
    p.add_argument('--markdown', help='write the table here')
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == 'cuda'
    args.images = args.images or (8 if cuda else 4)
    args.reps = args.reps if args.reps is not None else (20 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    if args.images < 2 or args.images % 2:
        p.error(f'--images must be even and >= 2 (half labeled, half unlabeled), got '
                f'{args.images}')
    rows = []
    for name in args.models:
        task = MODELS[name][2]
        size = args.size or ([MODELS[name][3][0], MODELS[name][3][1]] if cuda else [128])
        args.size_hw = (size[0], size[-1])
        for precision in args.precisions:
            reason = amp_skip_reason(task, device, args.amp_dtype) if precision == 'amp' \
                else None
            if reason:
                print(f'{name}: AMP skipped: {reason}')
                continue
            arms = [a for a in ARMS[task] if not args.arms or a in args.arms]
            rows.extend(run_model(name, task, precision, arms, args, device))
            save(rows, args, device)  # a run stopped by a time limit keeps its rows
    table = save(rows, args, device)
    print(table)
    return rows


if __name__ == '__main__':
    main()
