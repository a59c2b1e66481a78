"""The ``report`` stage: one document and one page from every stored record of the run.

Reads the earlier stages' stored outputs only (metrics, accumulators, bit-exact checks, firmware
figures, manifests) and the stored models, which it evaluates on the stored test split to give
per-jet scores (float and firmware-exact), ROC curves and working points. Writes ``metrics.json``,
``index.html`` (PNGs embedded), ``*.png``, ``working_points.json``, ``scores.h5`` and ``scores.root``.
Also shows the checks' results (``<run-dir>/checks/checks.json``) and, when a scan ran, its trials
(``<run-dir>/scan/*.parquet``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "report"
REQUIRES: tuple[str, ...] = ("data", "train", "prune", "constrain", "export", "convert", "firmware")
PACKAGES: tuple[str, ...] = ("tensorflow-cpu", "qkeras", "h5py", "uproot", "matplotlib", "mplhep")
RUN_FILES: tuple[str, ...] = ("checks/checks.json", "scan")
"""Files and folders of the run directory outside the stages that the report shows (their hashes enter
its cache key): the checks' results (:class:`pipeline.checks.hook.ChecksHook`) and a scan's trials."""


class Config(StrictModel):
    """Config section ``report:`` of the pipeline YAML.

    Attributes:
        title: heading of ``index.html``.
        signal_efficiencies: signal efficiencies of the working points, each in (0, 1].
        max_jets: score only the first ``max_jets`` test jets (``null``: the whole test split).
    """

    title: str = "trigger-pipeline report"
    signal_efficiencies: tuple[float, ...] = (0.3, 0.5, 0.7)
    max_jets: int | None = Field(default=None, ge=1)

    @field_validator("signal_efficiencies")
    @classmethod
    def _in_unit_interval(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if not values or any(not 0.0 < value <= 1.0 for value in values):
            raise ValueError("signal_efficiencies must be a non-empty list of numbers in (0, 1]")
        return values


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Build the report into ``inputs.output_dir`` (see :func:`pipeline.report.build.build_report`)."""
    from pipeline.report.build import build_report
    from pipeline.report.collect import with_external_models

    run_dir = Path(inputs.upstream["data"]).parent
    summary = build_report(
        dict(inputs.upstream),
        with_external_models(inputs.upstream, inputs.models),
        inputs.output_dir,
        title=config.title,
        targets=config.signal_efficiencies,
        max_jets=config.max_jets,
        progress=inputs.progress,
        checks_file=run_dir / RUN_FILES[0],
        scan_dir=run_dir / RUN_FILES[1],
        work=inputs.work,  # each model's scores: on the run's workers (pipeline.model_work)
    )
    return StageOutputs(summary=summary)
