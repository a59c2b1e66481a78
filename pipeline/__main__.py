"""``python -m pipeline``: the same as the ``trigger-pipeline`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
