"""Toy stage 2: squares each number into its own file, slowly (``delay_seconds`` per file), so that
a test can kill it halfway."""

import time

from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "squares"
REQUIRES: tuple[str, ...] = ("numbers",)
PACKAGES: tuple[str, ...] = ()


class Config(StrictModel):
    delay_seconds: float = 0.0
    fail: bool = False


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    numbers = [int(line) for line in (inputs.upstream["numbers"] / "numbers.txt").read_text().split()]
    for index, value in enumerate(numbers):
        (inputs.output_dir / f"square_{index:03d}.txt").write_text(f"{value * value}\n")
        time.sleep(config.delay_seconds)
        if config.fail and index == 1:
            raise RuntimeError("toy failure halfway")
    return StageOutputs(summary={"total": sum(value * value for value in numbers)})
