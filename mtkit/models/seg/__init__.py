from .data_preprocessor import MultiBranchSegDataPreProcessor
from .dual_teacher_student import DualTeacherStudentSegmentor
from .mean_teacher_segmentor import MeanTeacherSegmentor

__all__ = ["DualTeacherStudentSegmentor", "MeanTeacherSegmentor",
           "MultiBranchSegDataPreProcessor"]
