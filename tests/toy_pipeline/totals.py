"""Toy per-model stage 4: each model's sum of ``scaled`` values (reads only its own subdirectory),
and a stage-wide ``index.txt`` over every model subdirectory present (carried-over ones included)."""

from pipeline.stage_api import StageInputs, StageOutputs, StrictModel, iter_model_dirs
from tests.toy_pipeline.scaled import log_computed

NAME = "totals"
REQUIRES: tuple[str, ...] = ("scaled",)
PER_MODEL = True
PACKAGES: tuple[str, ...] = ()


class Config(StrictModel):
    pass


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    summary = {}
    for name, directory in iter_model_dirs(inputs.upstream["scaled"]):
        if name in inputs.carried_over:
            continue
        total = sum(int(line) for line in (directory / "values.txt").read_text().split())
        (inputs.output_dir / name).mkdir()
        (inputs.output_dir / name / "total.txt").write_text(f"{total}\n")
        summary[name] = {"total": total}
        log_computed(NAME, name)
    index = [
        f"{name} {(path / 'total.txt').read_text().strip()}"
        for name, path in iter_model_dirs(inputs.output_dir)
    ]
    (inputs.output_dir / "index.txt").write_text("\n".join(index) + "\n")
    return StageOutputs(summary=summary)
