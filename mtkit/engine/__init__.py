from .teacher_student_loops import TeacherStudentEvalLoop, TeacherStudentTestLoop

__all__ = ['TeacherStudentEvalLoop', 'TeacherStudentTestLoop']
