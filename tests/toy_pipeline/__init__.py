"""A two-stage toy pipeline to test the runner's caching, invalidation and crash recovery.

The real stages are tested in ``tests/stages``; these exercise the runner alone, fast.
"""

from tests.toy_pipeline import numbers, squares

STAGES = (numbers, squares)
