from .mean_teacher_detector import MeanTeacherDetector

__all__ = ['MeanTeacherDetector']
