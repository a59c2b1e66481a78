"""Quiet third-party output inside the CLI (``--debug`` keeps all of it).

TensorFlow's C++ notices (oneDNN, CPU features), its Python logger (retracing warnings), absl,
Keras' serialization warnings, matplotlib's ``findfont`` messages and Python warnings from the
libraries are noise for a user of the pipeline: the CLI silences them before any of those libraries
is imported. Errors still surface (as :class:`pipeline.errors.PipelineError` or a traceback).
"""

from __future__ import annotations

import logging
import os
import warnings

#: Python loggers of the libraries the stages import, raised to ERROR.
NOISY_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "matplotlib", "numba", "qonnx", "hls4ml", "jax")

#: Set in the environment by :func:`quiet_third_party_output`; processes started afterwards (Dask
#: workers) call it again for their own loggers (:mod:`pipeline.model_work`).
QUIET_VARIABLE = "TRIGGER_PIPELINE_QUIET"


def quiet_third_party_output() -> None:
    """Silence the libraries' notices and warnings for this process and the processes it starts.

    Must run before TensorFlow is imported (its C++ log level is read at import). Does not change
    any computation: oneDNN stays as it is, only its notice is hidden.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # C++ INFO/WARNING/ERROR notices (oneDNN, CPU features)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # child processes (data workers, Dask)
    os.environ[QUIET_VARIABLE] = "1"  # Dask workers of the model stages quiet their loggers too
    warnings.filterwarnings("ignore")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        absl.logging.set_stderrthreshold("error")
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to silence
        pass
