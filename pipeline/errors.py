"""User-facing errors.

Every error a user can fix is a :class:`PipelineError`: it names the stage, the input at fault and a
fix. The CLI prints its message on one line and exits with status 2 (a traceback only with --debug).
"""

from __future__ import annotations


class PipelineError(Exception):
    """An error the user can fix: bad config, missing or corrupt data, impossible bit widths.

    Args:
        stage: the stage that found the problem (``"config"`` for config loading).
        problem: what is wrong, in one sentence.
        input: the file, config key or model the problem is in.
        fix: what the user should do about it.
    """

    def __init__(self, stage: str, problem: str, *, input: str | None = None, fix: str | None = None):
        self.stage = stage
        self.problem = problem
        self.input = input
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"[{self.stage}] {self.problem}"
        if self.input:
            text += f" (input: {self.input})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class NotImplementedStageError(PipelineError):
    """Raised by a stage whose implementation has not been delivered yet (never a fake result)."""

    def __init__(self, stage: str):
        super().__init__(
            stage,
            "this stage is not implemented yet",
            fix="run the earlier stages only, e.g. `trigger-pipeline run --until <stage>`",
        )
