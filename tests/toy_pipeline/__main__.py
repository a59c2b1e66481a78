"""``python -m tests.toy_pipeline CONFIG RUN_DIR``: run the toy pipeline (used by the SIGKILL test)."""

import sys
from pathlib import Path

from pipeline.config import load_config
from pipeline.runner import run_pipeline
from tests.toy_pipeline import STAGES

config = load_config(Path(sys.argv[1]), stages=STAGES)
print(run_pipeline(config, Path(sys.argv[2]), ["squares"], quiet=True, stages=STAGES), flush=True)
