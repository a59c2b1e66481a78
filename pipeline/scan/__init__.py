"""Design-space exploration (``trigger-pipeline scan``): many cheap trials on a Dask cluster.

Modules: :mod:`config` (``scan.yaml``), :mod:`space` (search space -> model specs), :mod:`trial` (one
trial: train -> prune -> constrain -> emulator accuracy -> da4ml estimate), :mod:`table` (the parquet
table of finished trials), :mod:`front` (Pareto front, best point), :mod:`firmware` (full RTL flow of
front points), :mod:`plots`, :mod:`runner` (strategies and the Dask loop).
"""
