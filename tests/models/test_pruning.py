"""Pruning schedule arithmetic (pure)."""

from pipeline.models.pruning import polynomial_schedule_steps
from pipeline.models.spec import PruningSpec


def test_polynomial_ramp_ends_on_a_pruning_step():
    spec = PruningSpec(target_sparsity=0.75, epochs=10, ramp_fraction=0.5, frequency=100)
    # 10 epochs * 300 steps = 3000 steps, ramp over 1500 -> last pruning update at step 1500
    assert polynomial_schedule_steps(spec, steps_per_epoch=300) == (1500, 100)
    # 500 steps, ramp 250: frequency lowered to 25 for >= 10 updates in the ramp
    assert polynomial_schedule_steps(spec, steps_per_epoch=50) == (250, 25)
    # ramp of 25 steps: frequency 2, ends on the multiple 24
    assert polynomial_schedule_steps(spec, steps_per_epoch=5) == (24, 2)
    whole = PruningSpec(target_sparsity=0.5, epochs=1, ramp_fraction=1.0, frequency=3)
    # ramp capped at the last step (9): frequency min(3, 9 // 10 -> 1) = 1
    assert polynomial_schedule_steps(whole, steps_per_epoch=10) == (9, 1)
