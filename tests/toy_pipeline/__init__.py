"""A four-stage toy pipeline to test the runner's caching, invalidation and crash recovery:
``numbers`` (uses no models) -> ``squares`` (stage-wide), and ``numbers`` -> ``scaled`` -> ``totals``
(per-model stages).

The real stages are tested in ``tests/stages``; these exercise the runner alone, fast.
"""

from tests.toy_pipeline import numbers, scaled, squares, totals

STAGES = (numbers, squares, scaled, totals)
