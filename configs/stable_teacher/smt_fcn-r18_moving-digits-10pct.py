# Stable mean teacher (Kumar et al., AAAI 2025): EoR + DoP, as published (weight 0.1, ramp
# exp(-5 (1 - e/R)^2), EMA alpha = min(1 - 1/(step + 1), 0.99) for student and EoR).
_base_ = ['../_base_/stable_teacher_moving_digits.py']
