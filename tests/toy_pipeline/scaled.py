"""Toy per-model stage 3: for each model, the numbers times the spec's ``factor``.

Appends each model it computes to the file named by ``$TOY_LOG`` (when set) so that a test can see
which models the runner made it redo.
"""

import os
from pathlib import Path

import yaml

from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "scaled"
REQUIRES: tuple[str, ...] = ("numbers",)
PER_MODEL = True
PACKAGES: tuple[str, ...] = ()


class Config(StrictModel):
    offset: int = 0


def log_computed(stage: str, model: str) -> None:
    if os.environ.get("TOY_LOG"):
        with Path(os.environ["TOY_LOG"]).open("a") as handle:
            handle.write(f"{stage}:{model}\n")


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    numbers = [int(line) for line in (inputs.upstream["numbers"] / "numbers.txt").read_text().split()]
    summary = {}
    for name in inputs.models:
        factor = yaml.safe_load(Path(inputs.model_specs[name]).read_text())["factor"]
        values = [value * factor + config.offset for value in numbers]
        (inputs.output_dir / name).mkdir()
        (inputs.output_dir / name / "values.txt").write_text("\n".join(map(str, values)) + "\n")
        summary[name] = {"sum": sum(values)}
        log_computed(NAME, name)
    return StageOutputs(summary=summary)
