from .checkpoint_match_hook import CheckpointMatchHook
from .classes_check_hook import ClassesCheckHook
from .dual_teacher_hook import DualTeacherHook
from .ema_teacher_hook import EMATeacherHook
from .periodic_exchange_hook import PeriodicExchangeHook
from .pseudo_label_diagnostics_hook import PseudoLabelDiagnosticsHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .stable_teacher_hook import StableTeacherHook
from .sync_norm_hook import SyncNormBuffersHook

__all__ = ['CheckpointMatchHook', 'ClassesCheckHook', 'DualTeacherHook', 'EMATeacherHook',
           'PeriodicExchangeHook', 'PseudoLabelDiagnosticsHook', 'SafeCheckpointHook',
           'StableTeacherHook', 'SyncNormBuffersHook']
