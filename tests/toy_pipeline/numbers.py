"""Toy stage 1: writes the integers 0..count-1."""

from pathlib import Path

from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "numbers"
REQUIRES: tuple[str, ...] = ()
USES_MODELS = False
PACKAGES: tuple[str, ...] = ("pyyaml",)


class Config(StrictModel):
    count: int = 5
    source_file: str | None = None


def input_files(config: Config, repo_root: Path) -> list[Path]:
    return [Path(config.source_file)] if config.source_file else []


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    values = [(index * 7 + inputs.seed) % 101 for index in range(config.count)]
    (inputs.output_dir / "numbers.txt").write_text("\n".join(map(str, values)) + "\n")
    return StageOutputs(summary={"count": config.count})
