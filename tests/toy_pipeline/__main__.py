"""``python -m tests.toy_pipeline CONFIG RUN_DIR [STAGE,...]``: run the toy pipeline (SIGKILL tests)."""

import sys
from pathlib import Path

from pipeline.config import load_config
from pipeline.runner import run_pipeline
from tests.toy_pipeline import STAGES

config = load_config(Path(sys.argv[1]), stages=STAGES)
targets = sys.argv[3].split(",") if len(sys.argv) > 3 else ["squares"]
print(run_pipeline(config, Path(sys.argv[2]), targets, quiet=True, stages=STAGES), flush=True)
