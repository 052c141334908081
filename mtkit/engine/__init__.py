from .burn_in_loop import BurnInIterBasedTrainLoop
from .teacher_student_loops import TeacherStudentEvalLoop, TeacherStudentTestLoop

__all__ = ['BurnInIterBasedTrainLoop', 'TeacherStudentEvalLoop', 'TeacherStudentTestLoop']
