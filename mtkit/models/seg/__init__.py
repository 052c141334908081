from .data_preprocessor import MultiBranchSegDataPreProcessor
from .mean_teacher_segmentor import MeanTeacherSegmentor

__all__ = ["MeanTeacherSegmentor", "MultiBranchSegDataPreProcessor"]
