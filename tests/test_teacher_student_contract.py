"""The teacher-student contract (mtkit.models.teacher_student): every wrapper stands on it,
and hooks take pairs, teacher names and burn-in from it; what a config gives twice must agree."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mtkit.hooks import (DualTeacherHook, EMATeacherHook, PseudoLabelDiagnosticsHook,
                         StableTeacherHook, SyncNormBuffersHook)
from mtkit.models.teacher_student import TeacherStudentModel
from mtkit.registry import MODELS
from mtkit.utils.errors import ConfigKeyError

from conftest import REPO

DET = 'configs/mean_teacher/mt-consensus_yolox-tiny_digitscenes-10pct-converged.py'
SEG = 'configs/mean_teacher/mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py'
VIDEO = 'configs/stable_teacher/smt_fcn-r18_moving-digits-10pct.py'


def build(path, scope, **train_cfg):
    cfg = Config.fromfile(osp.join(REPO, path)).model
    cfg.semi_train_cfg.update(train_cfg)
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def models():
    return dict(det=build(DET, 'mmdet'), seg=build(SEG, 'mmseg'), video=build(VIDEO, 'mmseg'))


def test_every_wrapper_declares_its_pairs(models):
    assert all(isinstance(m, TeacherStudentModel) for m in models.values())
    assert models['det'].teacher_pairs == dict(teacher='student', teacher2='student')
    assert models['seg'].teacher_pairs == dict(teacher='student')
    assert models['video'].teacher_pairs == dict(teacher='student', eor_teacher='eor')
    assert models['video'].predictors() == ('student', 'teacher')  # not the EoR modules
    assert build(VIDEO, 'mmseg', use_eor=False).teacher_pairs == dict(teacher='student')
    for m in models.values():
        assert m.active_teacher == 'teacher'
        assert not any(p.requires_grad for t in m.ema_teachers
                       for p in getattr(m, t).parameters())
    with pytest.raises(ConfigKeyError, match="active_teacher must be one of .*'teacher3'"):
        models['det'].set_active_teacher('teacher3')
    with pytest.raises(ConfigKeyError, match='semi_train_cfg.weighting must be one of'):
        models['seg'].update_train_cfg(weighting='sometimes')
    # the detector's loss policies are checked on update too, and nothing is changed
    before = dict(models['det'].semi_train_cfg)
    with pytest.raises(ConfigKeyError, match='semi_train_cfg.unsup_images must be one of'):
        models['det'].update_train_cfg(unsup_images='some')
    assert models['det'].semi_train_cfg == before
    cfg = Config.fromfile(osp.join(REPO, VIDEO)).model
    cfg.semi_test_cfg = dict(predict_on='eor')
    with pytest.raises(ConfigKeyError, match="predict_on must be one of .*'eor'"):
        with DefaultScope.overwrite_default_scope('mmseg'):
            MODELS.build(cfg)


def test_the_iteration_reaches_the_model_one_way(models):
    """Burn-in and ramp read the iteration the teacher hooks set; the zero loss of a step
    without unsupervised term is connected to every student."""
    model = build(SEG, 'mmseg', burn_in_iters=5, ramp_iters=10, ramp='linear', unsup_weight=4.0)
    assert model.unsup_weight() == 0.0  # iteration 0 until told otherwise
    model.set_train_iter(10)
    assert model.unsup_weight() == pytest.approx(2.0)
    video = models['video']
    zero = video.zero_loss()
    assert float(zero) == 0.0
    zero.backward()
    for name in video.students:
        assert all(p.grad is not None for p in getattr(video, name).parameters())


def test_training_without_a_teacher_hook_is_refused():
    model = build(SEG, 'mmseg')
    with pytest.raises(ConfigKeyError, match=r"trains without a teacher hook.*\{'teacher': "
                                             r"'student'\}.*EMATeacherHook"):
        model.train_step({}, None)


def test_hooks_take_pairs_and_burn_in_from_the_model(models):
    det, video = models['det'], models['video']
    assert EMATeacherHook().pairs_for(det) == dict(teacher='student')
    assert EMATeacherHook(teacher_name='teacher2').pairs_for(det) == dict(teacher2='student')
    assert StableTeacherHook().pairs_for(video) == video.teacher_pairs
    dual = DualTeacherHook()
    assert dual.pairs_for(det) == dict(teacher='student', teacher2='student')
    assert dual.teacher_names == ('teacher', 'teacher2')
    hook = EMATeacherHook()
    hook.model = build(SEG, 'mmseg', burn_in_iters=7)
    hook.setup(None)
    assert hook.begin_iter == 7 and hook.schedule(6) == 1.0  # a copy during the burn-in


def test_a_value_given_twice_must_agree(models):
    det, seg = models['det'], models['seg']
    with pytest.raises(ConfigKeyError, match=r"EMATeacherHook.teacher_name='teacher3', but "
                                             r"MeanTeacherDetector declares the teachers "
                                             r"\('teacher', 'teacher2'\)"):
        EMATeacherHook(teacher_name='teacher3').pairs_for(det)
    with pytest.raises(ConfigKeyError, match=r"EMATeacherHook.student_name gives \{'teacher': "
                                             r"'teacher2'\}"):
        EMATeacherHook(student_name='teacher2').pairs_for(det)
    hook = EMATeacherHook(begin_iter=3)
    hook.model = seg
    with pytest.raises(ConfigKeyError, match=r'EMATeacherHook.begin_iter=3 differs from the '
                                             r"model's semi_train_cfg.burn_in_iters=0"):
        hook.setup(None)
    no_eor = build(VIDEO, 'mmseg', use_eor=False)
    with pytest.raises(ConfigKeyError, match=r"StableTeacherHook.pairs gives \{'eor_teacher': "
                                             r"'eor'\}, but StableMeanTeacherSegmentor declares "
                                             r"the pairs \{'teacher': 'student'\}.*use_eor"):
        StableTeacherHook(pairs=dict(teacher='student', eor_teacher='eor')).pairs_for(no_eor)
    with pytest.raises(ConfigKeyError, match=r"DualTeacherHook.teacher_names names "
                                             r"\['teacher3'\].*num_teachers"):
        DualTeacherHook(teacher_names=('teacher', 'teacher3')).pairs_for(det)
    with pytest.raises(ConfigKeyError, match=r'teacher_train_cfgs needs one dict per teacher '
                                             r'\(2'):
        DualTeacherHook(teacher_train_cfgs=[dict(mix='cutmix')]).pairs_for(det)


@pytest.mark.parametrize('make', [
    lambda: EMATeacherHook(interval=0), lambda: PseudoLabelDiagnosticsHook(interval=0),
    lambda: DualTeacherHook(interval=0), lambda: SyncNormBuffersHook(interval=0)],
    ids=['ema', 'diagnostics', 'dual', 'sync_norm'])
def test_interval_mistakes_are_config_errors(make):
    with pytest.raises(ConfigKeyError, match='interval must be an int >= 1'):
        make()


def test_one_diagnostics_channel_for_boxes_and_pixels(models):
    """Detection, segmentation and video summarise their pseudo labels the same way."""
    det, seg, video = models['det'], models['seg'], models['video']
    det.pseudo_stats.add(dict(images=torch.tensor(2.), raw=torch.tensor(8.),
                              pseudo=torch.tensor(4.), pseudo_correct=torch.tensor(3.),
                              gt=torch.tensor(6.), gt_found=torch.tensor(3.),
                              gt_images=torch.tensor(2.)))
    assert det.pseudo_label_scalars() == {
        'pseudo/boxes_per_img': 2.0, 'pseudo/raw_per_img': 4.0, 'pseudo/kept_share': 0.5,
        'pseudo/precision': 0.75, 'pseudo/recall': 0.5}
    assert det.pseudo_label_scalars() == {}  # read once per interval
    pixels = dict(images=torch.tensor(1.), raw=torch.tensor(100.), pseudo=torch.tensor(80.),
                  checked=torch.tensor(50.), pseudo_correct=torch.tensor(45.))
    # the segmentation wrapper also counts teacher-student agreement; video does not
    seg.pseudo_stats.add(dict(pixels, agree=torch.tensor(60.)))
    assert seg.pseudo_label_scalars() == {'pseudo/kept_share': 0.8, 'pseudo/accuracy': 0.9,
                                          'pseudo/agreement': 0.6}
    video.pseudo_stats.add(pixels)
    assert video.pseudo_label_scalars() == {'pseudo/kept_share': 0.8, 'pseudo/accuracy': 0.9}
