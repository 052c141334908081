"""Names of the EMA teachers a task wrapper holds."""
from typing import Tuple


def teacher_names(num_teachers: int) -> Tuple[str, ...]:
    """``('teacher', 'teacher2', 'teacher3', ...)``: the attribute names of ``num_teachers``
    teachers (mmdet's SemiBaseDetector already calls the first one ``teacher``)."""
    if num_teachers < 1:
        raise ValueError(f'num_teachers must be >= 1, got {num_teachers}')
    return ('teacher', ) + tuple(f'teacher{i}' for i in range(2, num_teachers + 1))
