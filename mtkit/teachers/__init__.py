from .ema import (BUFFER_POLICIES, EMAPlan, build_ema_plan, copy_student_to_teacher_,
                  ema_update_, swap_teacher_and_student_)
from .momentum import SCHEDULES, build_momentum_schedule, with_burn_in

__all__ = ['BUFFER_POLICIES', 'EMAPlan', 'build_ema_plan', 'copy_student_to_teacher_',
           'ema_update_', 'swap_teacher_and_student_', 'SCHEDULES', 'build_momentum_schedule',
           'with_burn_in']
