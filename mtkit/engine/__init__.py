from .teacher_student_val_loop import TeacherStudentEvalLoop, TeacherStudentTestLoop

__all__ = ['TeacherStudentEvalLoop', 'TeacherStudentTestLoop']
