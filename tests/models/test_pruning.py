"""Pruning schedule arithmetic (pure)."""

from pipeline.models.pruning import polynomial_schedule_steps
from pipeline.models.spec import PruningSpec


def test_polynomial_ramp_ends_on_a_pruning_step():
    spec = PruningSpec(target_sparsity=0.75, epochs=10, ramp_fraction=0.5, frequency=100)
    # 10 epochs * 50 steps = 500 steps, ramp over 250 -> last pruning update at step 200
    assert polynomial_schedule_steps(spec, steps_per_epoch=50) == (200, 100)
    # ramp shorter than the frequency: frequency shrinks to the ramp
    assert polynomial_schedule_steps(spec, steps_per_epoch=4) == (20, 20)
    whole = PruningSpec(target_sparsity=0.5, epochs=1, ramp_fraction=1.0, frequency=3)
    assert polynomial_schedule_steps(whole, steps_per_epoch=10) == (9, 3)
