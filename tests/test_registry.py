"""mtkit's registries reached from mmdet / mmseg default scopes, scoped and plain."""
import subprocess
import sys
import textwrap

import pytest
from mmengine.registry import init_default_scope

import mtkit.registry as R
from mtkit.engine import TeacherStudentEvalLoop
from mtkit.hooks import EMATeacherHook
from mtkit.models.det import MeanTeacherDetector


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_scoped_and_plain_names(scope):
    import importlib
    reg = importlib.import_module(f'{scope}.registry')
    init_default_scope(scope)
    for name in ('mtkit.EMATeacherHook', 'EMATeacherHook'):
        assert reg.HOOKS.get(name) is EMATeacherHook
        assert isinstance(reg.HOOKS.build(dict(type=name, momentum=0.01)), EMATeacherHook)
    for name in ('mtkit.MeanTeacherDetector', 'MeanTeacherDetector'):
        assert reg.MODELS.get(name) is MeanTeacherDetector
    assert reg.LOOPS.get('mtkit.TeacherStudentEvalLoop') is TeacherStudentEvalLoop


def test_names_do_not_collide_with_mmdet_or_mmseg():
    from mmdet.utils import register_all_modules as det_all
    from mmseg.utils import register_all_modules as seg_all
    det_all(init_default_scope=False)
    seg_all(init_default_scope=False)
    import mmdet.registry as D
    import mmseg.registry as S
    for kind in ('HOOKS', 'MODELS', 'LOOPS', 'TRANSFORMS', 'DATASETS', 'DATA_SAMPLERS',
                 'METRICS'):
        ours = set(getattr(R, kind).module_dict)
        for other in (D, S):
            clash = ours & set(getattr(other, kind).module_dict)
            assert not clash, f'{kind}: {clash} also registered by {other.__name__}'
        root = getattr(R, kind).parent
        for name in ours:
            assert root.module_dict[name] is getattr(R, kind).module_dict[name]


@pytest.mark.slow
def test_custom_imports_from_a_plain_mm_config(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(textwrap.dedent("""
        default_scope = 'mmdet'
        custom_imports = dict(imports=['mtkit'], allow_failed_imports=False)
        custom_hooks = [dict(type='mtkit.EMATeacherHook', momentum=0.002),
                        dict(type='EMATeacherHook', schedule=dict(type='warmup', momentum=0.01,
                                                                 gamma=50))]
    """))
    code = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        assert 'mtkit' not in sys.modules
        cfg = Config.fromfile({str(cfg)!r})
        from mmdet.registry import HOOKS
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.default_scope)
        hooks = [HOOKS.build(h) for h in cfg.custom_hooks]
        print([type(h).__module__ for h in hooks], hooks[1].schedule(0))
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=str(tmp_path), check=True).stdout
    assert "['mtkit.hooks.ema_teacher_hook', 'mtkit.hooks.ema_teacher_hook'] 1.0" in out
