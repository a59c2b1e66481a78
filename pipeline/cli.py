"""The ``trigger-pipeline`` command line: one subcommand per stage, plus ``run`` and ``status``.

Thin by design: it parses arguments, loads the config and calls :mod:`pipeline.runner`.
Errors a user can fix exit with status 2 and one line (a traceback only with ``--debug``); a failing
``gate`` check (``checks:`` section) exits with status 3 and one line naming model, stage, figure,
value and limit. The libraries' warnings and notices are silenced unless ``--debug``
(:mod:`pipeline.quiet`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.checks.hook import ChecksFailedError
from pipeline.config import DEFAULT_CONFIG_NAME, LoadedConfig, load_config, with_engine_workers
from pipeline.errors import PipelineError
from pipeline.quiet import quiet_third_party_output

EXIT_USER_ERROR = 2
EXIT_CHECKS_FAILED = 3

STAGE_HELP = {
    "data": "simulate (Pythia 8 + FastJet) or load jets, split and standardise",
    "train": "quantization-aware training of the QKeras jet taggers",
    "prune": "quantization-aware pruning (tensorflow-model-optimization) to the target sparsity",
    "constrain": "accumulator-aware quantization (A2Q / A2Q+) with the overflow proof",
    "export": "QKeras -> QONNX, checked with qonnx's executor",
    "convert": "QONNX -> hls4ml project, C simulation bit-exact against the model",
    "firmware": "RTL (da4ml), Verilator simulation, Yosys synthesis: latency and resources",
    "report": "metrics.json, HTML report with plots, working points, score export",
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path(DEFAULT_CONFIG_NAME), help="pipeline YAML (default: %(default)s)"
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="run directory (default: runs/<config name>)"
    )
    parser.add_argument(
        "--force", action="append", default=[], metavar="STAGE", help="rerun STAGE even if cached"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes for the model stages' per-model work (overrides engine.workers; 1: serial)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and the libraries' warnings and notices"
    )


def build_parser() -> argparse.ArgumentParser:
    from pipeline.stages import STAGES

    parser = argparse.ArgumentParser(
        prog="trigger-pipeline",
        description="Jet-tagging neural networks from data to bit-exact FPGA trigger firmware.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in STAGES:
        _common(
            commands.add_parser(
                module.NAME, help=STAGE_HELP.get(module.NAME, ""), description=STAGE_HELP.get(module.NAME)
            )
        )
    run = commands.add_parser("run", help="run all stages in order (cached stages are skipped)")
    _common(run)
    run.add_argument("--until", metavar="STAGE", default=None, help="stop after STAGE")
    _common(
        commands.add_parser("status", help="show what is done, stale, failed or missing in a run directory")
    )
    from pipeline.scan.cli import add_scan_commands

    add_scan_commands(commands)
    return parser


def _run_dir(args: argparse.Namespace, config: LoadedConfig) -> Path:
    return args.run_dir if args.run_dir is not None else Path("runs") / config.name


def _print_event(stage: str, event: str) -> None:
    symbols = {"cached": "cached ", "running": "running", "done": "done   "}
    print(f"[{symbols.get(event, event)}] {stage}", file=sys.stderr, flush=True)


def _dispatch(args: argparse.Namespace) -> int:
    from pipeline.checks.hook import ChecksHook, has_budgets, validate_checks
    from pipeline.checks.table import current_results, render_table
    from pipeline.runner import pipeline_status, run_pipeline
    from pipeline.scan.cli import SCAN_COMMANDS, dispatch_scan
    from pipeline.stages import STAGES

    if args.command in SCAN_COMMANDS:
        return dispatch_scan(args)

    config = load_config(args.config)
    if args.workers is not None:
        config = with_engine_workers(config, args.workers)
    run_dir = _run_dir(args, config)
    checks = config.values.checks  # type: ignore[attr-defined]
    validate_checks(checks, config.models)
    if args.command == "status":
        states = pipeline_status(config, run_dir)
        for status in states:
            print(f"{status.stage:<10} {status.state:<8} {status.detail}")
        done = [status.stage for status in states if status.state == "done"]
        results = current_results(checks, run_dir, config.models, done) if has_budgets(checks) else {}
        if results:  # a table once a checked stage is done
            print("\n".join(render_table(results, config.models, checks.mode)))
        return 0
    if args.command == "run":
        names = [module.NAME for module in STAGES]
        targets = names if args.until is None else names[: names.index(_check_stage(args.until, names)) + 1]
    else:
        targets = [args.command]
    hook = ChecksHook(checks, run_dir, config.models) if has_budgets(checks) else None
    try:
        run_pipeline(
            config,
            run_dir,
            targets,
            force=args.force,
            quiet=args.quiet,
            on_event=None if args.quiet else _print_event,
            on_stage_done=hook,
        )
    finally:
        if hook is not None and hook.document is not None:  # the closing summary, also with --quiet
            results = {stage: entry["results"] for stage, entry in hook.document["stages"].items()}
            print("\n".join(render_table(results, config.models, checks.mode)), file=sys.stderr)
    print(f"run directory: {run_dir}", file=sys.stderr)
    if hook is not None and hook.first_failure is not None:
        print(f"check failed: {hook.first_failure.line()}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return 0


def _check_stage(name: str, names: list[str]) -> str:
    if name not in names:
        raise PipelineError("cli", f"--until names unknown stage '{name}'", fix=f"one of {names}")
    return name


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trigger-pipeline`` console script."""
    args = build_parser().parse_args(argv)
    if not args.debug:
        quiet_third_party_output()
    try:
        return _dispatch(args)
    except PipelineError as error:
        if args.debug:
            raise
        print(f"error: {error.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ChecksFailedError as failure:
        print(failure.message, file=sys.stderr)
        return EXIT_CHECKS_FAILED
    except KeyboardInterrupt:
        print("interrupted: finished stages are kept; rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
