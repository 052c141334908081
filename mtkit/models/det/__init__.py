from .mean_teacher_detector import MeanTeacherDetector
from .pseudo_labels import BoxPseudoLabeler, PseudoLabels

__all__ = ['BoxPseudoLabeler', 'MeanTeacherDetector', 'PseudoLabels']
