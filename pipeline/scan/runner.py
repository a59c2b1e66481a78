"""Run a scan: data stage, strategy (grid / random / optuna), trials on Dask, front, firmware, outputs.

Everything is written under ``<run-dir>/scan/``: ``trials.parquet`` (one row per trial key, see
:mod:`pipeline.scan.table`), ``trials/<key>/`` (the trained model of each trial), ``running.json``
(trials in flight, for ``scan-status``), ``summary.json``, ``front.md``, the plots and the best
point's model spec ``<best_model_name>.yaml``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.engine import TaskStream, dask_client, parallelism
from pipeline.errors import PipelineError
from pipeline.manifest import Manifest, canonical_hash, package_versions, sha256_file, write_text_atomic
from pipeline.scan.config import STAGE, LoadedScan
from pipeline.scan.space import grid_points, random_points, resolve_spec
from pipeline.scan.table import append_row, param_value, read_table, write_table
from pipeline.scan.trial import TrialTask, run_trial

#: Sources a trial runs: a change there changes every trial key. The resolved spec, which the search
#: space code makes, is hashed itself; the scan's orchestration (runner, front, outputs) is not part of
#: a trial, so editing it keeps finished trials.
CODE_PATHS = (
    "models",
    "a2q",
    "deploy",
    "rtl/trace.py",
    "data/io.py",
    "stages/constrain.py",
    "scan/trial.py",
)
CODE_PACKAGES = ("tensorflow-cpu", "qkeras", "tensorflow-model-optimization", "da4ml", "numpy")
TRIAL_NAME = "scan_trial"


def code_version() -> str:
    """Hash of the pipeline sources a trial runs and the versions of the packages it uses."""
    root = Path(__file__).resolve().parent.parent
    files = []
    for entry in CODE_PATHS:
        path = root / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    hashes = {str(path.relative_to(root)): sha256_file(path) for path in files}
    return canonical_hash({"files": hashes, "packages": package_versions(CODE_PACKAGES)})[:16]


def scan_directory(run_dir: Path) -> Path:
    """``<run-dir>/scan``."""
    return Path(run_dir) / "scan"


def prepare_data(loaded: LoadedScan, run_dir: Path | None, quiet: bool) -> tuple[Path, Path, Any]:
    """Bring the pipeline's data stage up to date; return ``(run_dir, data_dir, pipeline config)``."""
    from pipeline.config import load_config
    from pipeline.runner import run_pipeline

    pipeline_config = load_config(loaded.pipeline_config)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / pipeline_config.name
    run_pipeline(pipeline_config, run_dir, ["data"], quiet=True)
    return run_dir, run_dir / "data", pipeline_config


class Scan:
    """One scan's state: config, keys, table; :meth:`run` drives it on a Dask client."""

    def __init__(self, loaded: LoadedScan, run_dir: Path, data_dir: Path, seed: int) -> None:
        from pipeline.models.spec import load_spec

        self.loaded = loaded
        self.config = loaded.config
        self.run_dir = run_dir
        self.data_dir = data_dir
        self.seed = seed
        self.scan_dir = scan_directory(run_dir)
        self.base = load_spec(loaded.base_model)
        manifest = Manifest.read(data_dir / "manifest.json")
        self.data_hash = manifest.outputs_hash if manifest is not None else "unknown"
        self.code = code_version()
        self.running: dict[str, int] = {}

    def task(self, point: dict[str, Any], number: int) -> TrialTask:
        """The trial of ``point`` with its key (hash of resolved spec, data, code, budget, seed)."""
        from pipeline.models.spec import parse_spec

        try:
            spec = resolve_spec(self.base, point, self.config.space, TRIAL_NAME)
            parse_spec(spec, f"{self.loaded.path}: space")
        except (ValueError, PipelineError) as error:
            message = error.problem if isinstance(error, PipelineError) else str(error)
            raise PipelineError(
                STAGE, f"point {point} gives no valid model: {message}", input=f"{self.loaded.path}: space"
            ) from None
        firmware = self.config.firmware.for_point(point)  # the point's hard_dc, if the space scans it
        estimate = {key: firmware[key] for key in ("clock_period_ns", "adder_levels_per_ns", "hard_dc")}
        key = canonical_hash(
            {
                "spec": spec,
                "data": self.data_hash,
                "code": self.code,
                "trial": self.config.trial.model_dump(),
                "estimate": estimate,
                "seed": self.seed,
            }
        )[:20]
        return TrialTask(
            key=key,
            number=number,
            point=point,
            spec=spec,
            data_dir=str(self.data_dir.resolve()),
            trial_dir=str((self.scan_dir / "trials" / key).resolve()),
            settings=self.config.trial.model_dump(),
            firmware=firmware,
            seed=self.seed,
        )

    def record(self, task: TrialTask, row: dict[str, Any]) -> pd.DataFrame:
        """Append a finished trial's row (params, key, metrics, timings, worker, status, error)."""
        row = dict(row)
        row.update({f"param.{name}": param_value(value) for name, value in task.point.items()})
        row.update(
            params=json.dumps(task.point, sort_keys=True),
            spec=json.dumps(task.spec, sort_keys=True),
            code_version=self.code,
            data_hash=self.data_hash,
            finished_at=time.time(),
            hard_dc=int(task.firmware["hard_dc"]),
        )
        for column in ("accuracy", "luts", "adder_depth", "latency_ns"):
            row.setdefault(column, float("nan"))
        row.setdefault("latency_cycles", -1)
        return append_row(self.scan_dir, row)

    def current(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows of this code version and data (the others are dropped when the scan finishes)."""
        if table.empty or "code_version" not in table:
            return table.iloc[0:0]
        return table[(table["code_version"] == self.code) & (table["data_hash"] == self.data_hash)]

    def write_running(self) -> None:
        payload = {"updated_at": time.time(), "running": sorted(self.running.values())}
        write_text_atomic(self.scan_dir / "running.json", json.dumps(payload) + "\n")


def _points(config) -> list[dict[str, Any]]:
    if config.strategy == "grid":
        return grid_points(config.space, config.trials, config.seed)
    return random_points(config.space, config.trials, config.seed)


def run_trials(scan: Scan, client: Any, progress: Callable, log: Callable[[str], None]) -> None:
    """Run every trial the strategy asks for that has no row yet; one row per finished trial."""
    config = scan.config
    done = (
        set(scan.current(read_table(scan.scan_dir))["key"])
        if (scan.scan_dir / "trials.parquet").is_file()
        else set()
    )
    stream = TaskStream(client, run_trial, resubmissions=config.cluster.retries)
    if config.strategy == "optuna":
        from pipeline.scan.optuna_strategy import run_optuna

        run_optuna(scan, stream, done, progress, log)
        return
    tasks = [scan.task(point, number) for number, point in enumerate(_points(config))]
    todo = [task for task in tasks if task.key not in done]
    log(f"{len(tasks)} trials: {len(tasks) - len(todo)} already finished (skipped), {len(todo)} to run")
    with progress("scan trials", len(tasks)) as bar:
        bar.advance(len(tasks) - len(todo))
        for task in todo:
            stream.submit(task)
            scan.running[task.key] = task.number
        scan.write_running()
        while len(stream):
            task, row, error = stream.next()
            if error is not None:
                row = {
                    "key": task.key,
                    "number": task.number,
                    "status": "failed",
                    "error": f"worker lost: {error}",
                }
            scan.record(task, row)
            scan.running.pop(task.key, None)
            scan.write_running()
            bar.advance()


def firmware_task(scan: Scan, row: pd.Series) -> Any:
    """The firmware job of a front point (table row): the trial's model with the point's own settings
    (its ``hard_dc`` when the space scans it, as its trial's estimate had)."""
    from pipeline.scan.firmware import FirmwareTask

    settings = scan.config.firmware.for_point(json.loads(row["params"]))
    key = str(row["key"])
    return FirmwareTask(key, str(scan.scan_dir / "trials" / key), str(scan.data_dir.resolve()), settings)


def run_front_firmware(
    scan: Scan, client: Any, table: pd.DataFrame, log: Callable[[str], None]
) -> pd.DataFrame:
    """Full firmware flow of the chosen front points, in parallel; merge the records into the table."""
    from pipeline.scan.firmware import run_firmware
    from pipeline.scan.front import firmware_candidates

    settings = scan.config.firmware
    candidates = firmware_candidates(table, scan.config.accuracy_floor, settings.max_points)
    if "firmware_error" in table:
        candidates = candidates[candidates["firmware_error"].isna()]
    if candidates.empty:
        return table
    log(f"firmware flow (Verilator + Yosys) for {len(candidates)} front points")
    stream = TaskStream(client, run_firmware, resubmissions=scan.config.cluster.retries)
    for _, row in candidates.iterrows():
        stream.submit(firmware_task(scan, row))
    while len(stream):
        task, record, error = stream.next()
        if error is not None:
            record = {"key": task.key, "firmware_error": f"worker lost: {error}"}
        index = table.index[table["key"] == task.key]
        for column, value in record.items():
            if column != "key":
                table.loc[index, column] = value
        write_table(scan.scan_dir, table)
    return table


def run_scan(
    loaded: LoadedScan, run_dir: Path | None = None, *, quiet: bool = False, client: Any = None
) -> dict[str, Any]:
    """Run (or resume) the scan; return its summary (also in ``<run-dir>/scan/summary.json``)."""
    from pipeline.progress import make_progress
    from pipeline.scan.outputs import write_outputs

    def log(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    run_dir, data_dir, pipeline_config = prepare_data(loaded, run_dir, quiet)
    scan = Scan(loaded, run_dir, data_dir, pipeline_config.seed)
    scan.scan_dir.mkdir(parents=True, exist_ok=True)
    (scan.scan_dir / "scan.yaml").write_text(loaded.path.read_text())
    progress = make_progress(quiet)
    if client is not None:
        return _run(scan, client, progress, log, write_outputs)
    with dask_client(
        loaded.config.cluster, announce=lambda line: print(line, file=sys.stderr, flush=True)
    ) as own:
        log(f"{parallelism(loaded.config.cluster)} trials at a time")
        return _run(scan, own, progress, log, write_outputs)


def _run(
    scan: Scan, client: Any, progress: Callable, log: Callable[[str], None], write_outputs: Callable
) -> dict[str, Any]:
    from pipeline.scan.front import mark_front

    run_trials(scan, client, progress, log)
    scan.running.clear()
    scan.write_running()
    table = read_table(scan.scan_dir)
    current = mark_front(scan.current(table))
    write_table(scan.scan_dir, current)
    current = run_front_firmware(scan, client, current, log)
    return write_outputs(scan, current, log)
