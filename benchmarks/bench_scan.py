"""Benchmarks of ``trigger-pipeline scan`` (results in ``benchmarks/results/scan_*.json``).

``--headline``: the scan of ``scan.yaml`` (60 optuna trials on the bundled sample, cheap trial budget,
Verilator + Yosys on the cheapest front points above the floor), judged against ``jet_dnn_q6_qap``
as ``default_run.json`` measured it, with the latency by both measures: cycles x clock period and
cycles x max(period, critical path of :mod:`pipeline.rtl.netlist_timing`). Writes ``scan_headline.json`` and
``scan_headline.parquet`` (the trials table). Resumable: rerun to finish a cut scan (trial keys).

``--confirm N``: the N cheapest synthesized front points retrained at the default run's full budget
by the same trial code, then Verilator + Yosys (``scan_confirm.json``).

``--throughput``: the same 4 trials (scan.yaml's space, a cheap budget) with 1 and with 2 local
workers, one after the other; trials per hour, their ratio, the per-trial time split (wall and CPU),
and a projection (stated as such) for 1,000 trials on a 100-core HTCondor pool
(``scan_throughput.json``).

``--pipelining TRIAL_DIR``: one trained design's firmware at several da4ml pipeline cutoffs (cycles
against Yosys ``sta`` critical path; ``scan_pipelining.json``).

``--time-split``: per-trial time split of the committed headline table (``scan_time_split.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_RUN = RESULTS / "default_run.json"


def _baseline() -> dict:
    """``jet_dnn_q6_qap`` and the float accuracy as the committed default run measured them
    (``default_run.json``, ``bench_default_run.py --fresh --readme``: same data, seed and firmware
    settings as the scan's points)."""
    run = json.loads(DEFAULT_RUN.read_text())
    rows = {row["model"]: row for row in run["models"]}
    reference = rows["jet_dnn_q6_qap"]
    return {
        "model": "jet_dnn_q6_qap",
        "yosys_luts": reference["luts"],
        "accuracy": reference["accuracy"],
        "latency_cycles": reference["latency_cycles"],
        "latency_ns": reference["latency_ns"],
        "float_accuracy": rows["jet_dnn_float"]["accuracy"],
        "source": f"benchmarks/results/default_run.json ({run['command']}, {run['date']})",
    }


PHASES = ("train_seconds", "prune_seconds", "constrain_seconds", "evaluate_seconds", "estimate_seconds")


def _cpu_seconds() -> float:
    """CPU time of this process and its (waited-for) children: the scan's cost."""
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


def headline(
    run_dir: Path,
    trials: int | None,
    firmware_points: int | None,
    floor: float | None,
    scan_config: Path = REPO / "scan.yaml",
    name: str = "scan_headline",
) -> dict:
    from pipeline.scan.config import load_scan
    from pipeline.scan.runner import run_scan
    from pipeline.scan.table import read_table

    loaded = load_scan(scan_config)
    planned = loaded.config.trials
    if trials is not None:  # stop early: finished trials are kept (by key), no new ones beyond `trials`
        loaded = replace(loaded, config=loaded.config.model_copy(update={"trials": trials}))
    if floor is not None:  # which points get the firmware flow and the best spec
        loaded = replace(loaded, config=loaded.config.model_copy(update={"accuracy_floor": floor}))
    if firmware_points is not None:
        firmware = loaded.config.firmware.model_copy(update={"max_points": firmware_points})
        loaded = replace(loaded, config=loaded.config.model_copy(update={"firmware": firmware}))
    start, cpu = time.time(), _cpu_seconds()
    summary = run_scan(loaded, run_dir)
    table = read_table(run_dir / "scan")
    shutil.copy(run_dir / "scan" / "trials.parquet", RESULTS / f"{name}.parquet")
    if (run_dir / "scan" / "accuracy_vs_luts.png").is_file():
        shutil.copy(run_dir / "scan" / "accuracy_vs_luts.png", RESULTS / f"{name}_accuracy_vs_luts.png")
    done = table[table["status"] == "done"]
    result = {
        "command": "benchmarks/bench_scan.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (nice -n 10)",
        "scan_config": str(scan_config.resolve().relative_to(REPO)),
        "trial_budget": summary["trial_budget"],
        "trials_planned_in_scan_yaml": planned,
        "trials": summary["trials"],
        "done": summary["done"],
        "failed": summary["failed"],
        "wall_seconds_this_invocation": round(time.time() - start, 1),
        "client_cpu_seconds_incl_local_workers": round(_cpu_seconds() - cpu, 1),
        "trial_seconds_sum": round(float(done["total_seconds"].sum()), 1),
        "mean_trial_split_wall_seconds": {phase: round(float(done[phase].mean()), 1) for phase in PHASES},
        "mean_trial_cpu_seconds": round(float(done["cpu_seconds"].mean()), 1),
        "projection_1000_trials_100_cores_hours": {
            "stated_as": "projection, not a measurement: 1,000 trials of this budget, one single-threaded "
            "worker per core, linear scaling, this scan's mean CPU time per trial",
            "hours": round(1000 * float(done["cpu_seconds"].mean()) / 100 / 3600, 2),
        },
        "baseline": _baseline(),
    }
    result.update(judge(summary["front"]))
    result.update(front=summary["front"], da4ml_vs_yosys=summary["da4ml_vs_yosys"], best_spec=summary["best"])
    return result


def judge(front: list[dict]) -> dict:
    """The headline criterion on the synthesized front points, with each latency measure separately.

    Latency by the scan's measure: da4ml pipeline stages x the 5 ns period (``latency_ns``). By the
    firmware stage's measure: stages x max(period, netlist critical path) (``latency_ns_sta``,
    :mod:`pipeline.rtl.netlist_timing`'s UltraScale+ -2 delays, an upper estimate: timing_calibration.json).
    """
    baseline = _baseline()
    floor = baseline["float_accuracy"] - 0.01
    budget = baseline["yosys_luts"] / 4.0
    checked = []
    for point in front:
        if point["yosys_luts"] is None:
            continue
        checks = {
            "accuracy_ge_float_minus_1": point["accuracy"] >= floor,
            "yosys_luts_le_baseline_over_4": point["yosys_luts"] <= budget,
            "latency_cycles_x_period_le_25ns": point["latency_ns"] <= 25.0,
            "latency_sta_le_25ns": point["latency_ns_sta"] is not None and point["latency_ns_sta"] <= 25.0,
            "verilator_exact": point["verilator_mismatched_jets"] == 0,
        }
        checked.append({"key": point["key"], **checks})
    by_period = [
        point
        for point, checks in zip([p for p in front if p["yosys_luts"] is not None], checked, strict=True)
        if all(value for name, value in checks.items() if name != "latency_sta_le_25ns")
    ]
    by_sta = [point for point in by_period if (point["latency_ns_sta"] or float("inf")) <= 25.0]
    best = min(by_period, key=lambda point: point["yosys_luts"]) if by_period else None
    reduction = None if best is None else round(baseline["yosys_luts"] / best["yosys_luts"], 2)
    return {
        "criterion": "front point with Yosys LUTs <= baseline / 4, accuracy (scan budget, integer emulator, "
        "10 000 test jets) >= float - 1 point, latency <= 25 ns, 0 Verilator mismatches; latency judged "
        "by two measures: cycles x 5 ns period (the scan's) and cycles x max(period, netlist critical "
        "path) (the firmware stage's, pipeline.rtl.netlist_timing delay model)",
        "synthesized_points_checked": checked,
        "headline_point": best,
        "lut_reduction_vs_baseline": reduction,
        "met_with_latency_cycles_x_period": best is not None,
        "met_with_latency_sta": bool(by_sta),
        "stretch_8x_met_with_latency_cycles_x_period": any(
            baseline["yosys_luts"] / point["yosys_luts"] >= 8.0 for point in by_period
        ),
    }


#: The throughput benchmark's cheap trial (the scan's code and space, a smaller budget).
THROUGHPUT_BUDGET = {"train_jets": 10000, "epochs": 3, "prune_epochs": 1, "patience": 2}


def _throughput_scan(loaded, directory: Path, workers: int, trials: int, reuse: bool) -> dict:
    """``trials`` random points of ``scan.yaml``'s space at :data:`THROUGHPUT_BUDGET`, on ``workers``
    local workers (``reuse``: summarise the finished run left in ``directory`` instead)."""
    from pipeline.scan.runner import run_scan
    from pipeline.scan.table import read_table

    firmware = loaded.config.firmware.model_copy(update={"max_points": 0})
    cluster = loaded.config.cluster.model_copy(update={"workers": workers})
    budget = loaded.config.trial.model_copy(update=THROUGHPUT_BUDGET)
    config = loaded.config.model_copy(
        update={
            "strategy": "random",
            "trials": trials,
            "seed": 5,
            "firmware": firmware,
            "cluster": cluster,
            "trial": budget,
        }
    )
    wall = None
    if not reuse:
        shutil.rmtree(directory, ignore_errors=True)
        start = time.time()
        run_scan(replace(loaded, config=config), directory, quiet=True)
        wall = round(time.time() - start, 1)
    table = read_table(directory / "scan").sort_values("number")
    # trials span: first trial start to last trial end (no cluster start-up, no data stage)
    span = float(table["finished_at"].max() - table["started_at"].min())
    return {
        "workers": workers,
        "trials": len(table),
        "done": int((table["status"] == "done").sum()),
        "keys": list(table["key"]),
        "wall_seconds_incl_cluster_start_and_data_stage": wall,
        "trials_span_seconds": round(span, 1),
        # CPU the workers obtained over the span (the niced workers' share of the shared machine)
        "cores_obtained": round(float(table["cpu_seconds"].sum()) / span, 2),
        "trials_per_hour": round(3600 * len(table) / span, 1),
        "mean_trial_split_seconds": {phase: round(float(table[phase].mean()), 2) for phase in PHASES},
        "mean_trial_seconds": round(float(table["total_seconds"].mean()), 2),
        "mean_trial_cpu_seconds": round(float(table["cpu_seconds"].mean()), 2),
        "workers_used": sorted(set(table["worker"])),
    }


def throughput(work: Path, trials: int, reuse: bool = False) -> dict:
    """The same ``trials`` trials with 1, then with 2 local workers; ratio and a stated projection."""
    from pipeline.scan.config import load_scan

    loaded = load_scan(REPO / "scan.yaml")  # once: both runs see the same space
    budget = loaded.config.trial.model_copy(update=THROUGHPUT_BUDGET).model_dump()
    load_before = os.getloadavg()
    runs = [
        _throughput_scan(loaded, work / f"workers_{workers}", workers, trials, reuse) for workers in (1, 2)
    ]
    ratio = runs[1]["trials_per_hour"] / runs[0]["trials_per_hour"]
    per_trial = runs[0]["mean_trial_cpu_seconds"]
    hours = 1000 * per_trial / 100 / 3600
    return {
        "command": "benchmarks/bench_scan.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (nice -n 10)",
        "load_average_before": None if reuse else [round(value, 2) for value in load_before],
        "load_average_after": None if reuse else [round(value, 2) for value in os.getloadavg()],
        "note": f"the same {trials} trials (random points of scan.yaml's space, seed 5, a cheap trial "
        "budget: THROUGHPUT_BUDGET over scan.yaml's, no firmware flow) with 1 and then with 2 local Dask "
        "workers (one TensorFlow thread each), one run after the other; trials per hour over the span "
        "first trial start -> last trial end",
        "trial_budget": budget,
        "same_trials_in_both_runs": runs[0]["keys"] == runs[1]["keys"],
        "runs": runs,
        "ratio_2_vs_1_workers": round(ratio, 2),
        "parallel_efficiency_2_workers": round(ratio / 2, 2),
        "projection": {
            "stated_as": "projection, not a measurement",
            "assumption": "1,000 trials of this budget on a 100-core HTCondor pool, one single-threaded "
            "worker per core (dask-jobqueue HTCondorCluster), independent trials (linear scaling), each "
            "taking the mean CPU time of a trial measured here (i.e. a core of its own); excludes job "
            "queueing, worker start-up and the front's firmware flow",
            "mean_trial_cpu_seconds": per_trial,
            "hours_for_1000_trials_on_100_cores": round(hours, 2),
        },
    }


def confirm(
    run_dir: Path,
    headline_result: dict,
    points: int,
    keys: tuple[str, ...] = (),
    scan_config: Path = REPO / "scan.yaml",
) -> dict:
    """Retrain the cheapest synthesized front points (or the trials ``keys``) at the default run's full
    budget, then build them.

    The scan's trials use a cheap budget (``scan.yaml: trial``); the design it ships is trained by
    ``trigger-pipeline run`` with the spec's own budget and ``pipeline.yaml``'s batch size. This runs
    the same trial code (:func:`pipeline.scan.trial.run_trial`) with that budget on the point's
    resolved spec, and the same firmware flow (:func:`pipeline.scan.firmware.run_firmware`), two
    points at a time on a local Dask cluster; the figures are those of the retrained model.
    """
    from pipeline.config import load_config
    from pipeline.engine import ClusterConfig, TaskStream, dask_client
    from pipeline.models.spec import parse_spec
    from pipeline.scan.config import load_scan
    from pipeline.scan.firmware import FirmwareTask, run_firmware
    from pipeline.scan.table import read_table
    from pipeline.scan.trial import TrialTask, run_trial

    loaded = load_scan(scan_config)
    pipeline_config = load_config(loaded.pipeline_config)
    table = read_table(run_dir / "scan").set_index("key")
    if keys:  # named trials of the scan's table, on the front or not
        missing = sorted(set(keys) - set(table.index))
        if missing:
            raise SystemExit(f"--confirm-keys: no such trial in {run_dir / 'scan'}: {missing}")
        columns = ("params", "accuracy", "luts", "latency_cycles", "adder_depth")
        chosen = [{"key": key, **{column: table.loc[key, column] for column in columns}} for key in keys]
    else:
        synthesized = [point for point in headline_result["front"] if point["yosys_luts"] is not None]
        chosen = sorted(synthesized, key=lambda point: point["yosys_luts"])[:points]
    data_dir = (run_dir / "data").resolve()
    tasks = []
    for index, point in enumerate(chosen):
        spec_dict = json.loads(table.loc[point["key"], "spec"])
        spec = parse_spec(spec_dict, "confirm")
        settings = {
            "train_jets": None,
            "epochs": spec.training.epochs,
            "prune_epochs": spec.pruning.epochs if spec.pruning is not None else 1,
            "constrain_epochs": 10,
            "batch_size": pipeline_config.section("train").batch_size_override or spec.training.batch_size,
            "learning_rate": spec.training.learning_rate,
            "patience": spec.training.patience,
            "test_jets": None,
        }
        tasks.append(
            TrialTask(
                key=point["key"],
                number=index,
                point=json.loads(point["params"]),
                spec=spec_dict,
                data_dir=str(data_dir),
                trial_dir=str((run_dir / "scan" / "confirm" / point["key"]).resolve()),
                settings=settings,
                firmware=loaded.config.firmware.model_dump(),
                seed=pipeline_config.seed,
            )
        )
    rows: dict[str, dict] = {}
    with dask_client(ClusterConfig(kind="local", workers=2)) as client:
        stream = TaskStream(client, run_trial)
        for task in tasks:
            stream.submit(task)
        builds = TaskStream(client, run_firmware)
        while len(stream):
            task, row, error = stream.next()
            rows[task.key] = {"scan_point": next(p for p in chosen if p["key"] == task.key), "retrained": row}
            if error is not None:
                rows[task.key]["error"] = f"worker lost: {error}"
            if row is not None and row["status"] == "done":
                firmware = loaded.config.firmware.model_dump()
                builds.submit(FirmwareTask(task.key, task.trial_dir, str(data_dir), firmware))
        while len(builds):
            task, record, error = builds.next()
            rows[task.key]["firmware"] = record if error is None else {"firmware_error": str(error)}
    baseline = _baseline()
    floor = baseline["float_accuracy"] - 0.01
    results = []
    for key, entry in rows.items():
        row, firmware = entry["retrained"] or {}, entry.get("firmware") or {}
        luts = firmware.get("yosys_luts")
        results.append(
            {
                **entry,
                "settings": next(task.settings for task in tasks if task.key == key),
                "accuracy_ge_float_minus_1": row.get("accuracy", 0.0) >= floor,
                "yosys_luts_le_baseline_over_4": luts is not None and luts <= baseline["yosys_luts"] / 4,
                "lut_reduction_vs_baseline": None if not luts else round(baseline["yosys_luts"] / luts, 2),
                "latency_cycles_x_period_le_25ns": row.get("latency_ns", 1e9) <= 25.0,
                "latency_sta_le_25ns": (firmware.get("latency_ns_sta") or 1e9) <= 25.0,
                "verilator_exact": firmware.get("verilator_mismatched_jets") == 0,
            }
        )
    return {
        "command": "benchmarks/bench_scan.py " + " ".join(sys.argv[1:]),
        "note": ("the trials " + ", ".join(keys) if keys else "the cheapest synthesized front points")
        + " of scan_headline.json retrained with the default "
        "run's budget (spec epochs, learning rate, patience, prune epochs; pipeline.yaml's batch size) by "
        "the scan's own trial code, then Verilator + Yosys; accuracy of the integer emulator on all "
        "10 000 test jets",
        "baseline": baseline,
        "points": results,
    }


def pipelining(trial_dir: Path, levels_per_ns: tuple[float, ...]) -> dict:
    """One trained design's firmware at several da4ml pipeline cutoffs (adder levels per stage).

    Fewer adder levels per stage (``latency_cutoff_for_clock``: period x ``adder_levels_per_ns``)
    means more stages (cycles) with a shorter register-to-register path; Yosys ``sta`` measures the
    path with :mod:`pipeline.rtl.timing`'s delay model (unchanged here). Verilator checks each
    variant bit-exact against the emulator.
    """
    from pipeline.scan.config import load_scan
    from pipeline.scan.firmware import FirmwareTask, run_firmware

    loaded = load_scan(REPO / "scan.yaml")
    base = loaded.config.firmware.model_dump()
    data_dir = trial_dir.parents[2] / "data"
    rows = []
    for value in levels_per_ns:
        firmware = {**base, "adder_levels_per_ns": value}
        started = time.time()
        record = run_firmware(FirmwareTask(trial_dir.name, str(trial_dir), str(data_dir), firmware))
        firmware_json = trial_dir / "firmware" / "firmware.json"
        design = json.loads(firmware_json.read_text())["design"] if firmware_json.is_file() else {}
        rows.append(
            {
                "adder_levels_per_ns": value,
                "adder_levels_per_stage": max(1.0, float(int(base["clock_period_ns"] * value))),
                "cycles": record.get("firmware_cycles"),
                "latency_ns_cycles_x_period": None
                if record.get("firmware_cycles") is None
                else record["firmware_cycles"] * base["clock_period_ns"],
                "sta_critical_path_ns": record.get("sta_critical_path_ns"),
                "sta_max_clock_mhz": record.get("sta_max_clock_mhz"),
                "sta_lut_levels": record.get("sta_lut_levels"),
                "latency_ns_sta": record.get("latency_ns_sta"),
                "yosys_luts": record.get("yosys_luts"),
                "yosys_flip_flops": record.get("yosys_flip_flops"),
                "verilator_jets": record.get("verilator_jets"),
                "verilator_mismatched_jets": record.get("verilator_mismatched_jets"),
                "firmware_error": record.get("firmware_error"),
                "design": design,
                "seconds": round(time.time() - started, 1),
            }
        )
        (RESULTS / "scan_pipelining.json").write_text(  # partial results as it goes
            json.dumps(_pipelining_result(trial_dir, rows), indent=2) + "\n"
        )
    return _pipelining_result(trial_dir, rows)


def _pipelining_result(trial_dir: Path, rows: list[dict]) -> dict:
    return {
        "command": "benchmarks/bench_scan.py " + " ".join(sys.argv[1:]),
        "design": trial_dir.name,
        "spec": (trial_dir / "spec.yaml").read_text() if (trial_dir / "spec.yaml").is_file() else None,
        "note": "the same trained model, da4ml pipelined at several cutoffs; latency_ns_sta = cycles x "
        "max(5 ns, Yosys sta critical path) with pipeline.rtl.timing's delay model (Artix-7 -1 cell "
        "arcs, routing as UG949's route-dominated share; unchanged)",
        "variants": rows,
    }


def time_split(name: str = "scan_headline") -> dict:
    """Per-trial time split of the committed headline table and a projection (stated as such)."""
    import pandas as pd

    table = pd.read_parquet(RESULTS / f"{name}.parquet")
    done = table[table["status"] == "done"]
    split = {phase: round(float(done[phase].mean()), 1) for phase in PHASES}
    mean = float(done["total_seconds"].mean())
    cpu = float(done["cpu_seconds"].mean()) if "cpu_seconds" in done else None
    firmware = table["firmware_seconds"].dropna() if "firmware_seconds" in table else pd.Series(dtype=float)
    return {
        "command": "benchmarks/bench_scan.py --time-split",
        "source": f"benchmarks/results/{name}.parquet (wall and CPU times measured inside each trial)",
        "conditions": "2 local workers (niced) on a 2-core machine shared with the other jobs of the "
        "session: wall times are several times the CPU time a trial needs on a core of its own",
        "trials": len(done),
        "mean_trial_split_wall_seconds": split,
        "mean_trial_wall_seconds": round(mean, 1),
        "mean_trial_cpu_seconds": None if cpu is None else round(cpu, 1),
        "mean_firmware_wall_seconds_per_point": round(float(firmware.mean()), 1) if len(firmware) else None,
        "projection": {
            "stated_as": "projection, not a measurement",
            "assumption": "1,000 trials of this budget on a 100-core HTCondor pool, one single-threaded "
            "worker per core, independent trials (linear scaling), each taking this scan's mean CPU time "
            "per trial (a core of its own); excludes queueing, worker start-up and the firmware flow",
            "hours": None if cpu is None else round(1000 * cpu / 100 / 3600, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--headline", action="store_true")
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--time-split", action="store_true")
    parser.add_argument("--throughput-trials", type=int, default=4)
    parser.add_argument("--reuse", action="store_true", help="--throughput: summarise the runs in --work")
    parser.add_argument("--confirm", type=int, default=0, help="retrain N front points at full budget")
    parser.add_argument("--confirm-keys", nargs="+", default=(), help="--confirm: these trials (keys)")
    parser.add_argument("--confirm-output", default="scan_confirm.json", help="--confirm: result file name")
    parser.add_argument("--pipelining", type=Path, default=None, help="<run>/scan/trials/<key>")
    parser.add_argument("--levels-per-ns", type=float, nargs="+", default=[1.0, 0.6, 0.4, 0.2])
    parser.add_argument("--trials", type=int, default=None, help="override scan.yaml's budget")
    parser.add_argument("--firmware-points", type=int, default=None, help="override firmware.max_points")
    parser.add_argument("--accuracy-floor", type=float, default=None, help="override accuracy_floor")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "default")
    parser.add_argument("--scan-config", type=Path, default=REPO / "scan.yaml", help="--headline/--confirm")
    parser.add_argument("--name", default="scan_headline", help="result files <name>.json/.parquet/...")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_scan"))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.headline:
        result = headline(
            args.run_dir, args.trials, args.firmware_points, args.accuracy_floor, args.scan_config, args.name
        )
        (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
        keys = ("trials", "done", "headline_point", "met_with_latency_cycles_x_period")
        keys += ("met_with_latency_sta",)
        print(json.dumps({key: result[key] for key in keys}, indent=2))
    if args.confirm:
        headline_result = json.loads((RESULTS / f"{args.name}.json").read_text())
        result = confirm(
            args.run_dir, headline_result, args.confirm, tuple(args.confirm_keys), args.scan_config
        )
        (RESULTS / args.confirm_output).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(json.dumps(result["points"], indent=2, default=str))
    if args.pipelining is not None:
        result = pipelining(args.pipelining.resolve(), tuple(args.levels_per_ns))
        (RESULTS / "scan_pipelining.json").write_text(json.dumps(result, indent=2) + "\n")
        rows = [{k: v for k, v in row.items() if k != "design"} for row in result["variants"]]
        print(json.dumps(rows, indent=2))
    if args.time_split:
        result = time_split(args.name)
        split_name = args.name.replace("scan_headline", "scan_time_split")
        (RESULTS / f"{split_name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    if args.throughput:
        previous_file = RESULTS / "scan_throughput.json"
        previous = json.loads(previous_file.read_text()) if previous_file.is_file() else {}
        result = throughput(args.work, args.throughput_trials, args.reuse)
        if args.reuse and previous:  # the measured run's own conditions and command
            result["measured_by"] = previous.get("measured_by", previous["command"])
            for key in ("load_average_before", "load_average_after"):
                result[key] = previous[key]
            for run, old in zip(result["runs"], previous["runs"], strict=True):
                run["wall_seconds_incl_cluster_start_and_data_stage"] = old[
                    "wall_seconds_incl_cluster_start_and_data_stage"
                ]
        (RESULTS / "scan_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
